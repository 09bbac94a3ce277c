"""``/api/v1/timeline``: every active image, newest capture first, a page at a time by keyset
cursor (``after``), with the catalog filters and a jump to a date. The rule (order, cursor,
grouping by month) lives in :func:`daguerre.platform.services.timeline.timeline_page`; this
view only adds the URLs of each image's files.
"""

from __future__ import annotations

from flask import Blueprint, Response, jsonify, request

from daguerre.platform.services import timeline as svc
from daguerre.platform.web import get_context
from daguerre.platform.web.api.serialize import image_urls
from daguerre.platform.web.auth import requires

bp = Blueprint("timeline", __name__, url_prefix="/timeline")


@bp.get("")
@requires("viewer")
def timeline() -> Response:
    page = svc.timeline_page(get_context(), request.args)
    return jsonify({**page, "items": [{**r, **image_urls(r["id"])} for r in page["items"]]})


def init_app(api: Blueprint) -> None:
    api.register_blueprint(bp)
