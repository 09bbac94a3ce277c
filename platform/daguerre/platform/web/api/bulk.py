"""``POST /api/v1/images/bulk``: one change applied to a selection of images, all or none.

Thin: the rules (what may change, every id an active image, tag rules) are
:func:`daguerre.platform.services.curation.curate_many`, shared with ``daguerre images bulk``.
"""

from __future__ import annotations

from flask import Blueprint, Response, jsonify

from daguerre.platform.services.curation import curate_many
from daguerre.platform.web import get_context
from daguerre.platform.web.auth import requires
from daguerre.platform.web.params import json_body

bp = Blueprint("bulk", __name__, url_prefix="/images")


@bp.post("/bulk")
@requires("curator")
def bulk_curate() -> Response:
    """Body ``{"ids": [...], "rating"?, "review_state"?, "add_tags"?, "remove_tags"?}``;
    answers ``{"updated": n, "ids": [...]}``."""
    body = json_body()
    changes = {k: v for k, v in body.items() if k != "ids"}
    return jsonify(curate_many(get_context(), body.get("ids"), changes))


def init_app(api: Blueprint) -> None:
    api.register_blueprint(bp)
