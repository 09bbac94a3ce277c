"""``/api/v1/libraries``: list, add, show, rename, move, remove, scan (an ``index`` job), and
the last scan's failures.

Thin views over :mod:`daguerre.platform.services.libraries`, which holds every rule (the same
ones ``daguerre library`` follows). Adding and moving a library are the only places the API takes
a path from the client: an existing folder on the server, which becomes a read-only root.
"""

from __future__ import annotations

from flask import Blueprint, Response, jsonify

from daguerre.platform.constants import MAX_NAME_CHARS, MAX_PATH_CHARS
from daguerre.platform.services import libraries as service
from daguerre.platform.web import get_context
from daguerre.platform.web.api.jobs import jobs_service
from daguerre.platform.web.auth import requires
from daguerre.platform.web.params import Params, json_body

bp = Blueprint("libraries", __name__, url_prefix="/libraries")


def _body() -> Params:
    return Params(json_body(), from_json=True)


@bp.get("")
@requires("viewer")
def list_libraries() -> Response:
    return jsonify({"items": service.list_libraries(get_context())})


@bp.post("")
@requires("admin")
def add_library() -> tuple[Response, int]:
    params = _body()
    path = params.string("path", required=True, max_len=MAX_PATH_CHARS)
    name = params.string("name", max_len=MAX_NAME_CHARS)
    assert path is not None
    return jsonify(service.add_library(get_context(), path, name)), 201


@bp.get("/<int:library_id>")
@requires("viewer")
def get_library(library_id: int) -> Response:
    return jsonify(service.get_library(get_context(), library_id))


@bp.patch("/<int:library_id>")
@requires("admin")
def rename_library(library_id: int) -> Response:
    name = _body().string("name", required=True, max_len=MAX_NAME_CHARS)
    assert name is not None
    return jsonify(service.rename_library(get_context(), library_id, name))


@bp.delete("/<int:library_id>")
@requires("admin")
def remove_library(library_id: int) -> Response:
    return jsonify(service.remove_library(get_context(), library_id))


@bp.post("/<int:library_id>/move")
@requires("admin")
def move_library(library_id: int) -> Response:
    path = _body().string("path", required=True, max_len=MAX_PATH_CHARS)
    assert path is not None
    return jsonify(service.move_library(get_context(), library_id, path))


@bp.post("/<int:library_id>/scan")
@requires("curator")
def scan_library(library_id: int) -> tuple[Response, int]:
    """Queue an ``index`` job for the library; its progress is on ``/jobs/<id>``."""
    service.get_library(get_context(), library_id, available=True)
    job = jobs_service().create("index", {"library": library_id})
    return jsonify(job), 202


@bp.get("/<int:library_id>/failures")
@requires("viewer")
def library_failures(library_id: int) -> Response:
    """The files the library's last index run could not index, with their reasons."""
    limit, offset = Params.from_args().page()
    return jsonify(service.library_failures(get_context(), library_id, limit=limit,
                                            offset=offset))


def init_app(api: Blueprint) -> None:
    api.register_blueprint(bp)
