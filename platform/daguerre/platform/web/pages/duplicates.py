"""The duplicates screen, ``/duplicates`` (any signed-in person may look; resolving needs a
curator): the duplicate groups of one tier (``?tier=exact|near|similar``, default exact and
near), each group's images side by side with thumbnail, size, dimensions, date and path, the
suggested keeper marked.

Groups come from :func:`daguerre.platform.services.duplicates.find_duplicates` (the same as
``daguerre duplicates``); its ES module ``static/duplicates.js`` resolves them through the JSON
API (``POST /api/v1/duplicates/<group>/resolve``), so the service's rule (only exact and near
groups, the keeper must be a member) applies and a viewer is refused there (403).
"""

from __future__ import annotations

from typing import Any

from flask import Blueprint, Flask, render_template, request

from daguerre.indexer.duplicates import TIERS
from daguerre.platform.services import duplicates as service
from daguerre.platform.web import get_context
from daguerre.platform.web.api import PREFIX
from daguerre.platform.web.auth import caller_may, requires

bp = Blueprint("duplicates_page", __name__)

PAGE_SIZE = 50  # groups per page: "resolve every group on this page" acts on these
RESOLVABLE = ("exact", "near")  # similar groups are different pictures (the service refuses)


def human_size(n: int) -> str:
    """Bytes as a person reads them (``1.2 MB``)."""
    size = float(n)
    for unit in ("B", "KB", "MB", "GB"):
        if size < 1024 or unit == "GB":
            return f"{size:.0f} {unit}" if unit == "B" else f"{size:.1f} {unit}"
        size /= 1024
    return f"{n} B"


@bp.get("/duplicates")
@requires("viewer")
def duplicates() -> str:
    tier = request.args.get("tier", "")
    tier = tier if tier in TIERS else ""  # an unknown tier shows the default, not an error
    try:
        page = max(1, int(request.args.get("page", "1")))
    except ValueError:
        page = 1
    groups = service.find_duplicates(get_context(), tiers=(tier,) if tier else RESOLVABLE)
    pages = max(1, -(-len(groups) // PAGE_SIZE))
    page = min(page, pages)
    shown: list[dict[str, Any]] = []
    for g in groups[(page - 1) * PAGE_SIZE: page * PAGE_SIZE]:
        d = g.as_dict()
        for m in d["members"]:
            m["size_text"] = human_size(m["size"])
            m["date"] = (m["captured_at"] or "")[:10] or "unknown"
        d["resolvable"] = g.tier in RESOLVABLE
        shown.append(d)
    can_resolve = caller_may("curator")
    return render_template("duplicates.html", groups=shown, tier=tier, tiers=TIERS,
                           total=len(groups), page=page, pages=pages,
                           can_resolve=can_resolve, api_prefix=PREFIX)


def init_app(app: Flask) -> None:
    app.register_blueprint(bp)
