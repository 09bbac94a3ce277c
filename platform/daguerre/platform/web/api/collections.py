"""``/api/v1/collections``: create, list, rename and delete collections; add, remove and list
their images.

Thin: the rules (unique names, images that must exist, active-image counts) are
:mod:`daguerre.platform.services.collections`, shared with ``daguerre collections``. The only
addition here is each listed image's file URLs.
"""

from __future__ import annotations

from flask import Blueprint, Response, jsonify, request

from daguerre.platform.services import collections as service
from daguerre.platform.web import get_context
from daguerre.platform.web.api.serialize import image_urls
from daguerre.platform.web.auth import requires
from daguerre.platform.web.params import json_body

bp = Blueprint("collections", __name__, url_prefix="/collections")


@bp.get("")
@requires("viewer")
def list_collections() -> Response:
    return jsonify({"items": service.list_collections(get_context())})


@bp.post("")
@requires("curator")
def create_collection() -> tuple[Response, int]:
    return jsonify(service.create_collection(get_context(), json_body().get("name"))), 201


@bp.get("/<int:collection_id>")
@requires("viewer")
def show_collection(collection_id: int) -> Response:
    return jsonify(service.get_collection(get_context(), collection_id))


@bp.patch("/<int:collection_id>")
@requires("curator")
def rename_collection(collection_id: int) -> Response:
    return jsonify(service.rename_collection(get_context(), collection_id,
                                             json_body().get("name")))


@bp.delete("/<int:collection_id>")
@requires("curator")
def delete_collection(collection_id: int) -> tuple[str, int]:
    service.delete_collection(get_context(), collection_id)
    return "", 204


@bp.get("/<int:collection_id>/images")
@requires("viewer")
def collection_images(collection_id: int) -> Response:
    page = service.collection_images(get_context(), collection_id, request.args)
    page["items"] = [{**item, **image_urls(item["id"])} for item in page["items"]]
    return jsonify(page)


@bp.post("/<int:collection_id>/images")
@requires("curator")
def add_images(collection_id: int) -> Response:
    return jsonify(service.add_images(get_context(), collection_id,
                                      json_body().get("image_ids")))


@bp.delete("/<int:collection_id>/images")
@requires("curator")
def remove_images(collection_id: int) -> Response:
    return jsonify(service.remove_images(get_context(), collection_id,
                                         json_body().get("image_ids")))


def init_app(api: Blueprint) -> None:
    api.register_blueprint(bp)
