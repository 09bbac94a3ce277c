"""The boards screens: ``/boards``, every board (a collection) as a card with its cover, name
and count, and ``/boards/<id>``, one board's images as the shared photo grid, a page at a time
(``?offset=``; ``static/pager.js`` loads the next page as the "More" link comes into view).

Anyone signed in may look and export a board as a zip; making, renaming and deleting boards and
putting images in or taking them out need a curator, so those controls (and the drop zone that
takes cards dragged onto a board, ``templates/_board_drop.html``) are only given to one, and the
API refuses anyone else all the same. The rules (unique names, active-image counts, the cover)
live in :mod:`daguerre.platform.services.collections`; this module only renders them.
"""

from __future__ import annotations

from typing import Any

from flask import Blueprint, Flask, abort, render_template, request, url_for

from daguerre.platform.errors import BadInput, NotFound
from daguerre.platform.services import collections as service
from daguerre.platform.web import get_context
from daguerre.platform.web.api import PREFIX
from daguerre.platform.web.auth import caller_may, requires

bp = Blueprint("boards_page", __name__)

# Images per page of a board (a module constant, so a test can make pages small).
PAGE_SIZE = 48


@bp.get("/boards")
@requires("viewer")
def boards() -> str:
    return render_template("boards.html", api_prefix=PREFIX,
                           boards=service.list_collections(get_context()),
                           can_curate=caller_may("curator"))


def _page_url(board_id: int, offset: int) -> str:
    return url_for("boards_page.board", board_id=board_id, offset=offset or None)


@bp.get("/boards/<int:board_id>")
@requires("viewer")
def board(board_id: int) -> str:
    ctx = get_context()
    try:
        found = service.get_collection(ctx, board_id)
        page: dict[str, Any] = service.collection_images(
            ctx, board_id, {"limit": PAGE_SIZE, "offset": request.args.get("offset", "0")})
    except NotFound:
        abort(404)
    except BadInput as exc:
        abort(400, str(exc))
    can_curate = caller_may("curator")
    shown = page["offset"] + len(page["items"])
    next_url = _page_url(board_id, shown) if shown < page["total"] else None
    others = ([b for b in service.list_collections(ctx) if b["id"] != board_id]
              if can_curate else [])
    return render_template("board.html", api_prefix=PREFIX, board=found, page=page,
                           this_url=_page_url(board_id, page["offset"]), next_url=next_url,
                           can_curate=can_curate, other_boards=others)


def init_app(app: Flask) -> None:
    app.register_blueprint(bp)
