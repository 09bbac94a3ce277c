"""``/api/v1/search``: by text (with the query syntax), by an uploaded image, by an indexed image.

The ranking itself is :mod:`daguerre.platform.search`'s; this module reads and checks the request
and serialises the hits. The vector store and the torch model are not thread-safe and waitress
serves from threads, so every search runs under the app's search lock (FAISS parallelises inside
a query, so little is lost).
"""

from __future__ import annotations

from typing import Any

from flask import Blueprint, Response, jsonify, request

from daguerre.platform import search as svc
from daguerre.platform.web import get_context, state
from daguerre.platform.web.api.filters import filters_as_params, parse_filters
from daguerre.platform.web.api.serialize import image_urls
from daguerre.platform.web.errors import ApiError
from daguerre.platform.web.params import MAX_ID, Params, json_body

bp = Blueprint("search", __name__, url_prefix="/search")

DEFAULT_LIMIT = 20
MAX_QUERY_CHARS = 2000


def _common(params: Params) -> dict[str, Any]:
    limit, offset = params.page(default_limit=DEFAULT_LIMIT)
    min_score = params.number("min_score", minimum=-1.0, maximum=1.0)
    return {"limit": limit, "offset": offset, "min_score": min_score,
            "filters": parse_filters(params)}


def _answer(hits: list[Any], opts: dict[str, Any], **extra: Any) -> Response:
    items = []
    for hit in hits:
        item = hit.as_dict() if hasattr(hit, "as_dict") else dict(hit)
        item.update(image_urls(int(item["id"])))
        items.append(item)
    body = {**extra, "items": items, "limit": opts["limit"], "offset": opts["offset"],
            "min_score": opts["min_score"], "filters": filters_as_params(opts["filters"])}
    return jsonify(body)


def _rank(ctx: Any, vector: Any, opts: dict[str, Any], exclude: set[int] | None = None
          ) -> list[Any]:
    """The page of hits for a query vector: filters, paging and the score cut-off are the
    search service's (a filtered page is still full whenever enough images match)."""
    return svc.rank(ctx, vector, opts["limit"], offset=opts["offset"], exclude=exclude,
                    filters=opts["filters"], min_score=opts["min_score"])


def _text_search(params: Params) -> Response:
    q = params.string("q", required=True, max_len=MAX_QUERY_CHARS)
    assert q is not None
    opts = _common(params)
    if not q.strip():
        raise ApiError("q must not be empty", field="q")
    ctx = get_context()
    with state().search_lock:
        # The query syntax: "a beach" + "sunset" - "people", weights, #ID image terms.
        hits = svc.search(ctx, q, limit=opts["limit"], offset=opts["offset"],
                          filters=opts["filters"], min_score=opts["min_score"])
    return _answer(hits, opts, query=q)


@bp.get("")
def search_get() -> Response:
    return _text_search(Params.from_args())


@bp.post("")
def search_post() -> Response:
    return _text_search(Params(json_body(), from_json=True))


@bp.post("/image")
def search_upload() -> Response:
    """Search by an uploaded example image (``multipart/form-data``, file field ``image``)."""
    if not request.mimetype.startswith("multipart/form-data"):
        raise ApiError("send the image as multipart/form-data with a file field named image",
                       field="image", status=415)
    params = Params(request.form)
    opts = _common(params)
    upload = request.files.get("image")
    if upload is None:
        raise ApiError("image is required: a file field named image", field="image")
    data = upload.read()
    if not data:
        raise ApiError("image is empty (0 bytes)", field="image")
    ctx = get_context()
    with state().search_lock:
        vector = embed_upload(ctx, data, upload.filename or "upload")
        hits = _rank(ctx, vector, opts)
    return _answer(hits, opts, filename=upload.filename or None)


def embed_upload(ctx: Any, data: bytes, name: str) -> Any:
    """Decode an uploaded file (refusing non-images and decompression bombs) and embed it."""
    from daguerre.indexer.decode import DecodeError, decode_bytes
    from daguerre.platform.indexing import decode_options

    encoder = ctx.encoder()
    options = decode_options(ctx.settings, encoder)
    try:
        decoded = decode_bytes(data, name, options)
    except DecodeError as exc:
        raise ApiError(f"image refused: {exc}", field="image") from None
    return encoder.encode_pixels([decoded.pixels])[0]


@bp.get("/similar/<int:image_id>")
def search_similar(image_id: int) -> Response:
    """Images most like the indexed image ``image_id`` (itself excluded)."""
    if image_id > MAX_ID:
        raise ApiError(f"no image with id {image_id}", field="image_id", status=404)
    params = Params.from_args()
    opts = _common(params)
    ctx = get_context()
    with state().search_lock:
        vector = svc.stored_embedding(ctx, image_id)
        hits = _rank(ctx, vector, opts, exclude={image_id})
    return _answer(hits, opts, image_id=image_id)


def init_app(api: Blueprint) -> None:
    api.register_blueprint(bp)
