"""The libraries screen, ``/libraries`` (admin only): every library as a table (name, root,
active images, last indexed, the last index run's failures), and the forms that add, rename,
remove and scan one.

The page is rendered here from :mod:`daguerre.platform.services.libraries` (the rules live
there, as for the CLI and the API); its ES module ``static/libraries.js`` makes the changes
through the JSON API (``/api/v1/libraries``), follows a scan's ``index`` job live and shows a
library's failures with their reasons when asked.
"""

from __future__ import annotations

from typing import Any

from flask import Blueprint, Flask, render_template

from daguerre.platform.services import libraries as service
from daguerre.platform.web import get_context
from daguerre.platform.web.api import PREFIX
from daguerre.platform.web.auth import requires

bp = Blueprint("libraries_page", __name__)


def stamp(value: str | None) -> str:
    """An ISO time as the table shows it (``2026-11-29 17:58 UTC``), or ``never``; the page's
    script formats the times it refreshes the same way (``libraries.js``: ``stamp``)."""
    if not value:
        return "never"
    return value[:16].replace("T", " ") + " UTC"


@bp.get("/libraries")
@requires("admin")
def libraries() -> str:
    ctx = get_context()
    failures = service.failure_counts(ctx)
    rows: list[dict[str, Any]] = [
        {**lib, "failures": failures.get(lib["id"], 0), "last_indexed": stamp(
            lib["last_indexed_at"])}
        for lib in service.list_libraries(ctx)]
    return render_template("libraries.html", libraries=rows, api_prefix=PREFIX)


def init_app(app: Flask) -> None:
    app.register_blueprint(bp)
