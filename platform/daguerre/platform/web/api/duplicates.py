"""``/api/v1/duplicates/<group>/resolve``: keep one image of a duplicate group.

Thin: which groups exist, which can be resolved (exact and near, never similar) and what
resolving does (the others marked ``duplicate``, their tags and rating merged into the keeper,
files untouched) is :func:`daguerre.platform.services.duplicates.resolve`, shared with
``daguerre duplicates resolve``. The dashboard's duplicates screen calls it.
"""

from __future__ import annotations

from flask import Blueprint, Response, jsonify

from daguerre.platform.services import duplicates as service
from daguerre.platform.web import get_context
from daguerre.platform.web.auth import requires
from daguerre.platform.web.params import json_body

bp = Blueprint("duplicates", __name__)


# ``path:`` so the documented template matches (a group id never holds a slash: 404).
@bp.post("/duplicates/<path:group>/resolve")
@requires("curator")
def resolve(group: str) -> Response:
    return jsonify(service.resolve(get_context(), group, json_body().get("keep")))


def init_app(api: Blueprint) -> None:
    api.register_blueprint(bp)
