"""The dashboard at ``/``: one server-rendered page whose script calls the same JSON API.

The page needs a signed-in person (any role; :mod:`.auth` sends everyone else to the sign-in page,
or to the first-admin page while nobody has an account). Its script calls ``/api/v1`` on the
session cookie with the page's CSRF token on changes, and the server refuses what the person's
role does not allow; thumbnails and originals load on the same cookie, so no credential is ever
put in a URL.
"""

from __future__ import annotations

from flask import Blueprint, Flask, render_template

from daguerre.platform.web.api import PREFIX
from daguerre.platform.web.auth import requires

# Templates and static files are the app's own (web/templates, web/static).
bp = Blueprint("dashboard", __name__)


@bp.get("/")
@requires("viewer")
def index() -> str:
    return render_template("dashboard.html", api_prefix=PREFIX)


def init_app(app: Flask) -> None:
    app.register_blueprint(bp)
