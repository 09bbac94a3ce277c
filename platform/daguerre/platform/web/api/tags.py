"""``/api/v1/tags`` and ``/api/v1/images/<id>/tags``: list tags, add a person's tag, remove a tag.

Thin: the rules (names, who may remove what, which images count) are
:mod:`daguerre.platform.services.tags`, shared with ``daguerre tags``. Removing a tag here removes
it whoever set it, a person or the model, as the command line does.
"""

from __future__ import annotations

from flask import Blueprint, Response, jsonify, request

from daguerre.platform.services import tags as service
from daguerre.platform.web import get_context
from daguerre.platform.web.auth import requires
from daguerre.platform.web.params import json_body

bp = Blueprint("tags", __name__)


@bp.get("/tags")
@requires("viewer")
def list_tags() -> Response:
    return jsonify(service.tag_page(get_context(), request.args))


@bp.get("/images/<int:image_id>/tags")
@requires("viewer")
def image_tags(image_id: int) -> Response:
    return jsonify({"items": service.image_tags(get_context(), image_id)})


@bp.post("/images/<int:image_id>/tags")
@requires("curator")
def add_tag(image_id: int) -> tuple[Response, int]:
    change = service.add_tag(get_context(), json_body().get("name"), [image_id])
    return jsonify({"items": change.images[image_id]}), 201 if change.changed else 200


@bp.delete("/images/<int:image_id>/tags/<path:name>")
@requires("curator")
def remove_tag(image_id: int, name: str) -> Response:
    change = service.remove_tag(get_context(), name, [image_id])
    return jsonify({"items": change.images[image_id]})


def init_app(api: Blueprint) -> None:
    api.register_blueprint(bp)
