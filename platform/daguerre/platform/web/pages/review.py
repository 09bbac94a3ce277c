"""The review screen, ``/review``: generated and restored images still awaiting review, newest
first or best prompt adherence first (``?sort=adherence``), as a grid of cards (thumbnail, the
operation that made it, its adherence, a link to its parent's original), a page at a time
(``?before=<id>``, a keyset on the order shown).

Any signed-in person may look; curating (approve, reject, back to unreviewed, rating) needs a
curator, so the buttons and the keys (``static/review.js`` over ``static/keys.js``) are only
given to one, and the server refuses anyone else all the same (``PATCH /api/v1/images/<id>``).
The queue's rule (which images, in which order) lives in
:func:`daguerre.platform.services.images.review_queue`; this module only renders it.
"""

from __future__ import annotations

from flask import Blueprint, Flask, abort, render_template, request, url_for

from daguerre.platform.errors import BadInput
from daguerre.platform.services import images as images_svc
from daguerre.platform.web import get_context
from daguerre.platform.web.api import PREFIX
from daguerre.platform.web.auth import caller_may, requires

bp = Blueprint("review_page", __name__)

PAGE_SIZE = 24
# What each key does, shown by `?` and beside the buttons (Lightroom's conventions).
KEYS: tuple[tuple[str, str], ...] = (
    ("P", "approve (pick)"), ("X", "reject"), ("U", "back to unreviewed"),
    ("T", "add a tag"), ("B", "add to a board"),
    ("0–5", "rating (0 clears it)"), ("← / →", "previous / next card"), ("?", "show the keys"),
)
# The queue's orders (services/images.py IMAGE_SORTS), as the screen names them.
SORT_LABELS: tuple[tuple[str, str], ...] = (("id", "Newest first"),
                                            ("adherence", "Best prompt adherence first"))


@bp.get("/review")
@requires("viewer")
def review() -> str:
    try:
        queue = images_svc.review_queue(get_context(), {"limit": PAGE_SIZE,
                                                        "before": request.args.get("before"),
                                                        "sort": request.args.get("sort")})
    except BadInput as exc:
        abort(400, str(exc))
    # The default order stays out of the URL, so the screen's address is what it always was.
    sort_arg = {"sort": queue["sort"]} if queue["sort"] != "id" else {}
    more_url = (url_for("review_page.review", before=queue["next_before"], **sort_arg)
                if queue["next_before"] is not None else None)
    orders = [(label, url_for("review_page.review", **({"sort": key} if key != "id" else {})),
               key == queue["sort"]) for key, label in SORT_LABELS]
    return render_template("review.html", api_prefix=PREFIX, queue=queue, more_url=more_url,
                           can_curate=caller_may("curator"), keys=KEYS, orders=orders,
                           first_page=request.args.get("before") in (None, ""))


def init_app(app: Flask) -> None:
    app.register_blueprint(bp)
