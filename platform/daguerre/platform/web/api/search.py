"""``/api/v1/search``: by text (with the query syntax), by an uploaded image, by an indexed image.

The rules (filters, paging, the query syntax, which uploads are images) are
:mod:`daguerre.platform.services.search`'s and :mod:`daguerre.platform.catalog.filters`'s; this
module reads the request and serialises the hits. The vector store and the torch model are not
thread-safe and waitress serves from threads, so every search runs under the app's search lock
(FAISS parallelises inside a query, so little is lost). ``sort`` and ``cutoff`` (a relevance
cut-off: ``auto`` or a minimum score) order and cut the hits as the service's ``results`` does;
the answer's ``cutoff`` says where it stopped and why.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from functools import partial
from typing import Any

from flask import Blueprint, Response, jsonify, request

from daguerre.platform.errors import BadInput
from daguerre.platform.services import search as svc
from daguerre.platform.web import get_context, state
from daguerre.platform.web.api.serialize import image_urls
from daguerre.platform.web.auth import requires
from daguerre.platform.web.errors import WrongContentType
from daguerre.platform.web.params import Params, json_body

bp = Blueprint("search", __name__, url_prefix="/search")

DEFAULT_LIMIT = 20
MAX_QUERY_CHARS = 2000


def _answer(page: svc.Results, opts: dict[str, Any], order: dict[str, Any], **extra: Any
            ) -> Response:
    items = [{**hit.as_dict(), **image_urls(hit.id)} for hit in page.hits]
    return jsonify({**extra, "items": items, "limit": opts["limit"], "offset": opts["offset"],
                    "min_score": opts["min_score"], "filters": opts["filters"].as_params(),
                    "sort": order["sort"],
                    # Where a cut-off stopped and why (null without one).
                    "cutoff": page.cutoff.as_dict() if page.cutoff else None})


def _run(search: Callable[..., list[svc.Hit]], opts: dict[str, Any], order: dict[str, Any]
         ) -> svc.Results:
    """The page ``opts`` asks for, in the order and with the cut-off ``order`` asks for, of
    ``search(limit=, offset=, filters=, min_score=)``."""

    def fetch(limit: int, offset: int) -> list[svc.Hit]:
        return search(limit=limit, offset=offset, filters=opts["filters"],
                      min_score=opts["min_score"])

    with state().search_lock:
        return svc.results(fetch, limit=opts["limit"], offset=opts["offset"], **order)


def _text_search(source: Mapping[str, Any], *, typed: bool = False) -> Response:
    q = Params(source, from_json=typed).string("q", required=True, max_len=MAX_QUERY_CHARS)
    assert q is not None
    opts = svc.options(source, default_limit=DEFAULT_LIMIT, typed=typed)
    order = svc.order_options(source, typed=typed)
    # The query syntax: "a beach" + "sunset" - "people", weights, #ID image terms.
    page = _run(partial(svc.search, get_context(), q, files=False), opts, order)
    return _answer(page, opts, order, query=q)


@bp.get("")
@requires("viewer")
def search_get() -> Response:
    return _text_search(request.args)


@bp.post("")
@requires("viewer")
def search_post() -> Response:
    return _text_search(json_body(), typed=True)


@bp.post("/image")
@requires("viewer")
def search_upload() -> Response:
    """Search by an uploaded example image (``multipart/form-data``, file field ``image``)."""
    if not request.mimetype.startswith("multipart/form-data"):
        raise WrongContentType("send the image as multipart/form-data with a file field named "
                               "image", field="image")
    opts = svc.options(request.form, default_limit=DEFAULT_LIMIT)
    order = svc.order_options(request.form)
    upload = request.files.get("image")
    if upload is None:
        raise BadInput("image is required: a file field named image", field="image")
    data = upload.read()
    page = _run(partial(svc.search_upload, get_context(), data, upload.filename or "upload"),
                opts, order)
    return _answer(page, opts, order, filename=upload.filename or None)


@bp.get("/similar/<int:image_id>")
@requires("viewer")
def search_similar(image_id: int) -> Response:
    """Images most like the indexed image ``image_id`` (itself excluded)."""
    opts = svc.options(request.args, default_limit=DEFAULT_LIMIT)
    order = svc.order_options(request.args)
    page = _run(partial(svc.similar, get_context(), image_id), opts, order)
    return _answer(page, opts, order, image_id=image_id)


def init_app(api: Blueprint) -> None:
    api.register_blueprint(bp)
