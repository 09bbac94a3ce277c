"""The timeline screen, ``/``: every active image, newest capture first, under a heading per
month, loaded a page at a time as the person scrolls, with a jump to a date and the filter
panel (its values live in the URL, so a filtered timeline can be bookmarked and reloaded).

Each page is a ``.page-chunk`` with the URL that renders it again, followed by a "More" link to
the next page (keyset cursor ``after``): without scripts the link pages on; with them
``static/pager.js`` appends the next chunk as the link comes into view and empties chunks far
from the viewport, so a long scroll keeps a bounded DOM. A request marked ``X-Pager: 1`` (the
pager's) gets just the chunk and the link. The rule (order, cursor, filters, months) lives in
:func:`daguerre.platform.services.timeline.timeline_page`; this module only renders it.
"""

from __future__ import annotations

from typing import Any

from flask import Blueprint, Flask, Response, make_response, render_template, request, url_for

from daguerre.platform.catalog.filters import FILTER_NAMES
from daguerre.platform.errors import BadInput, NotFound
from daguerre.platform.services import timeline as timeline_svc
from daguerre.platform.web import get_context
from daguerre.platform.web.api import PREFIX
from daguerre.platform.web.auth import caller_may, requires
from daguerre.platform.web.pages._filter_panel import drop_boards, filter_values, panel_context

bp = Blueprint("timeline_page", __name__)

# Images per page (a module constant, so the browser tests can make pages small).
PAGE_SIZE = 60


def _query(**extra: str | None) -> dict[str, str]:
    """The filters and jump date of this request, with ``extra`` set (``None`` drops one)."""
    out = filter_values(request.args)
    if request.args.get("date"):
        out["date"] = request.args["date"]
    out.update(extra)
    return {k: v for k, v in out.items() if v not in (None, "")}


def _this_url() -> str:
    return url_for("timeline_page.timeline", **_query(after=request.args.get("after")))


@bp.get("/")
@requires("viewer")
def timeline() -> Response:
    ctx = get_context()
    fragment = request.headers.get("X-Pager") == "1"
    error: str | None = None
    status = 200
    try:
        # The panel's form sends every field, empty ones too: an empty one is "any" here.
        page = timeline_svc.timeline_page(ctx, {**filter_values(request.args), "limit": PAGE_SIZE,
                                                "after": request.args.get("after"),
                                                "date": request.args.get("date")})
    except (BadInput, NotFound) as exc:
        # Shown on the page, with the filters as typed, so the person can put them right.
        error, status = str(exc), (400 if isinstance(exc, BadInput) else 404)
        page = {"items": [], "months": [], "next": None, "limit": PAGE_SIZE}
    next_url = (url_for("timeline_page.timeline", **_query(after=page["next"], date=None))
                if page["next"] else None)
    values: dict[str, Any] = {
        "api_prefix": PREFIX, "groups": timeline_svc.grouped(page), "next_url": next_url,
        "chunk_url": _this_url(),
    }
    if fragment:
        resp = make_response(render_template("_timeline_chunk.html", **values), status)
    else:
        filtered = any(request.args.get(n) for n in FILTER_NAMES)
        resp = make_response(render_template(
            "timeline.html", **values, error=error, filtered=filtered,
            jump=request.args.get("date", ""), first_page=not request.args.get("after"),
            panel=panel_context(ctx, request.args), filters=filter_values(request.args),
            can_curate=caller_may("curator"), is_admin=caller_may("admin"),
            drop_boards=drop_boards(ctx, caller_may("curator")),
            newest_url=url_for("timeline_page.timeline", **filter_values(request.args))),
            status)
    # The pager's answer is a fragment of the same URL: a cache must keep the two apart.
    resp.vary.add("X-Pager")
    return resp


def init_app(app: Flask) -> None:
    app.register_blueprint(bp)
