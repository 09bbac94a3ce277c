"""``/api/v1/libraries``: list, add, show, and scan (an ``index`` job).

Adding a library is the one place the API takes a path from the client: an existing folder on
the server, which becomes a read-only root. Every other file the API touches is found through the
catalog.
"""

from __future__ import annotations

from pathlib import Path

from flask import Blueprint, Response, jsonify
from sqlalchemy import func, select

from daguerre.platform.catalog.models import Image, ImageStatus, Library
from daguerre.platform.web import get_context
from daguerre.platform.web.api.jobs import jobs_service
from daguerre.platform.web.api.serialize import library_dict
from daguerre.platform.web.errors import ApiError
from daguerre.platform.web.params import MAX_ID, Params, json_body

bp = Blueprint("libraries", __name__, url_prefix="/libraries")


def _counts(session) -> dict[int, int]:  # noqa: ANN001 - a SQLAlchemy session
    return dict(session.execute(
        select(Image.library_id, func.count()).where(Image.status == ImageStatus.ACTIVE)
        .group_by(Image.library_id)).all())


def load_library(session, library_id: int) -> Library:  # noqa: ANN001
    lib = session.get(Library, library_id) if library_id <= MAX_ID else None
    if lib is None:
        raise ApiError(f"no library with id {library_id}", field="library_id", status=404)
    return lib


@bp.get("")
def list_libraries() -> Response:
    with get_context().catalog.session() as s:
        counts = _counts(s)
        items = [library_dict(lib, counts.get(lib.id, 0))
                 for lib in s.scalars(select(Library).order_by(Library.id))]
    return jsonify({"items": items})


@bp.post("")
def add_library() -> tuple[Response, int]:
    params = Params(json_body(), from_json=True)
    path = params.string("path", required=True, max_len=4096)
    name = params.string("name", max_len=200)
    assert path is not None
    raw = Path(path).expanduser()
    if not raw.is_absolute():
        raise ApiError(f"path must be an absolute path on the server, got {path!r}", field="path")
    try:
        root = raw.resolve(strict=True)
    except (OSError, RuntimeError):
        raise ApiError(f"path {path!r} does not exist on the server", field="path") from None
    if not root.is_dir():
        raise ApiError(f"path {path!r} is not a folder", field="path")
    name = (name or root.name or str(root)).strip()
    if not name:
        raise ApiError("name must not be empty", field="name")
    with get_context().catalog.session() as s:
        clash = s.scalar(select(Library).where((Library.root == str(root)) | (Library.name == name)))
        if clash is not None:
            field = "path" if clash.root == str(root) else "name"
            raise ApiError(f"a library with that {field} exists already: {clash.name} "
                           f"({clash.root})", field=field, status=409)
        lib = Library(name=name, root=str(root))
        s.add(lib)
        s.flush()
        body = library_dict(lib, 0)
    return jsonify(body), 201


@bp.get("/<int:library_id>")
def get_library(library_id: int) -> Response:
    with get_context().catalog.session() as s:
        lib = load_library(s, library_id)
        return jsonify(library_dict(lib, _counts(s).get(lib.id, 0)))


@bp.post("/<int:library_id>/scan")
def scan_library(library_id: int) -> tuple[Response, int]:
    """Queue an ``index`` job for the library; its progress is on ``/jobs/<id>``."""
    with get_context().catalog.session() as s:
        lib = load_library(s, library_id)
        if not Path(lib.root).is_dir():
            raise ApiError(f"library {lib.name!r}: root folder {lib.root} is not available",
                           field="library_id", status=409)
    job = jobs_service().create("index", {"library": library_id})
    return jsonify(job), 202


def init_app(api: Blueprint) -> None:
    api.register_blueprint(bp)
