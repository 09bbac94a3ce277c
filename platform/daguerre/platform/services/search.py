"""Semantic search over the catalog: parse a query into a vector, rank it with the vector store
under the catalog's filters, page the result.

* A query is a weighted sum of text and image terms (:mod:`daguerre.indexer.query`); text terms
  come from the cache of :mod:`daguerre.platform.services.text_cache`.
* Filters (:mod:`daguerre.platform.catalog.filters`, checked there) are answered by the catalog,
  which hands the store the allowed ids: the store ranks only those, so a filtered page is full
  whenever enough images match, however far down the unfiltered ranking they sit.
* Paging is by ``offset`` over a stable order (score, then id); ``min_score`` cuts the tail.
* A cut-off (:func:`results`, ``cutoff``) ranks a bounded pool of hits and keeps those above
  where the query's relevance stops: ``auto`` reads it from that query's own scores
  (:mod:`daguerre.indexer.cutoff`), a number is a fixed minimum score. Pages, and the date
  order, are then of the kept hits.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

import numpy as np
from sqlalchemy import select

from daguerre.platform.catalog.filters import (
    MAX_HITS,
    SearchFilters,
    apply_filters,
    check_filters,
    page_of,
)
from daguerre.platform.catalog.models import Image, ImageStatus, Library, iso
from daguerre.platform.catalog.queries import get_image, image_path
from daguerre.platform.context import Context
from daguerre.platform.errors import BadInput, Conflict, Forbidden
from daguerre.platform.services.text_cache import embed_texts
from daguerre.platform.vectors.backend import backend_of


class BadQuery(BadInput):
    """A query that does not parse (field ``q``). ``position`` is the 0-based offset in the
    query of the term at fault, as the parser found it (:class:`~daguerre.indexer.query.
    QueryError`), so that an edge can point at it: the API's error body carries it, and the
    search screen marks it."""

    def __init__(self, message: str, query: str, position: int) -> None:
        super().__init__(message, field="q", value=query)
        self.position = position


@dataclass(frozen=True)
class Hit:
    id: int
    path: str
    score: float
    library: str | None
    width: int
    height: int
    format: str | None = None
    captured_at: datetime | None = None
    rating: int | None = None
    origin: str | None = None
    review_state: str | None = None

    def as_dict(self) -> dict[str, Any]:
        return {"id": self.id, "path": self.path, "score": round(self.score, 6),
                "library": self.library, "width": self.width, "height": self.height,
                "format": self.format,
                "captured_at": iso(self.captured_at),
                "rating": self.rating, "origin": self.origin, "review_state": self.review_state}


# ----------------------------------------------------------------------------- filters


def allowed_ids(ctx: Context, filters: SearchFilters) -> np.ndarray | None:
    """Ids of the active images that pass ``filters``; None when there are no filters."""
    if not filters:
        return None
    with ctx.catalog.session() as s:
        q = apply_filters(select(Image.id).where(Image.status == ImageStatus.ACTIVE), filters, s)
        return np.fromiter(s.scalars(q), dtype=np.int64)


# ----------------------------------------------------------------------------- query vectors


def embed_image_file(ctx: Context, path: str) -> np.ndarray:
    """Embed an image file given on the command line (not necessarily in a library)."""
    from daguerre.indexer.decode import DecodeError, decode_file
    from daguerre.platform.services.indexing import decode_options

    encoder = ctx.encoder()
    s = ctx.settings
    if not Path(path).expanduser().is_file():
        raise BadInput(f"query image {path} does not exist", field="image", value=path)
    try:
        d = decode_file(Path(path).expanduser(), decode_options(s, encoder))
    except DecodeError as exc:
        raise BadInput(f"cannot use {path} as a query image: {exc}", field="image",
                       value=path) from None
    return encoder.encode_pixels([d.pixels])[0]


def embed_image_bytes(ctx: Context, data: bytes, name: str) -> np.ndarray:
    """Embed an uploaded file, refusing non-images and decompression bombs (field ``image``)."""
    from daguerre.indexer.decode import DecodeError, decode_bytes
    from daguerre.platform.services.indexing import decode_options

    if not data:
        raise BadInput("image is empty (0 bytes)", field="image")
    encoder = ctx.encoder()
    try:
        decoded = decode_bytes(data, name, decode_options(ctx.settings, encoder))
    except DecodeError as exc:
        raise BadInput(f"image refused: {exc}", field="image") from None
    return encoder.encode_pixels([decoded.pixels])[0]


def stored_embedding(ctx: Context, image_id: int) -> np.ndarray:
    store = ctx.store()
    if image_id not in store:
        with ctx.catalog.session() as s:
            get_image(s, image_id)
        # The image exists but is not embedded yet: its state, not the request, is the problem.
        raise Conflict(f"image {image_id} has no embedding for model {store.model_key}: "
                       "run `daguerre index` first", field="image_id", value=image_id)
    return store.get([image_id])[0]


def query_vector(ctx: Context, query: str, images: Sequence[str] = (), *, files: bool = True
                 ) -> tuple[np.ndarray, set[int]]:
    """The unit vector of a query in the syntax of :mod:`daguerre.indexer.query` (plus image
    files given apart, each a term of weight 1), and the ids of indexed images it names (``#ID``
    terms), which a caller may leave out of the results.

    ``files=False`` refuses image-file terms (Forbidden): a file term makes this process read a
    path on its own disk, which a person at the command line may ask for and a client of the API
    may not (it uploads the image or names an indexed one instead)."""
    from daguerre.indexer.query import QueryError, combine, parse_query

    try:
        parsed = parse_query(query)
    except QueryError as exc:
        raise BadQuery(str(exc), query, exc.position) from None
    texts = parsed.texts
    text_vecs = dict(zip(texts, embed_texts(ctx, texts), strict=True)) if texts else {}
    vectors, weights, named = [], [], set()
    for term in parsed.terms:
        if term.kind == "text":
            vectors.append(text_vecs[term.value])
        elif term.kind == "id":
            vectors.append(stored_embedding(ctx, term.image_id))
            named.add(term.image_id)
        elif not files:
            raise Forbidden(f"q: {term.value!r} names a file on the server; over the API, "
                            "upload the image to /search/image or name an indexed image as #ID",
                            field="q", value=query)
        else:
            vectors.append(embed_image_file(ctx, term.value))
        weights.append(term.weight)
    for path in images:
        vectors.append(embed_image_file(ctx, path))
        weights.append(1.0)
    try:
        return combine(weights, np.stack(vectors)), named
    except ValueError as exc:
        raise BadInput(f"bad query: {exc}", field="q", value=query) from None


# ----------------------------------------------------------------------------- ranking


def _check_page(limit: int, offset: int, min_score: float | None) -> None:
    if not isinstance(limit, int) or not 1 <= limit <= MAX_HITS:
        raise BadInput(f"limit must be between 1 and {MAX_HITS}, got {limit!r}",
                       field="limit", value=limit)
    if not isinstance(offset, int) or offset < 0:
        raise BadInput(f"offset must be 0 or more, got {offset!r}", field="offset",
                       value=offset)
    if min_score is not None and not -1.0 <= min_score <= 1.0:
        raise BadInput(f"min_score must be between -1 and 1 (a cosine similarity), "
                       f"got {min_score}", field="min_score", value=min_score)


Filters = SearchFilters | Mapping[str, Any] | None


def _cosine(value: Any, *, typed: bool) -> float | None:
    """``value`` as a cosine similarity from -1 to 1, or None when it is not one. A JSON body
    (``typed``) must give a number; a query string or command line gives text."""
    number: float | None = None
    if isinstance(value, int | float) and not isinstance(value, bool):
        number = float(value)
    elif isinstance(value, str) and not typed:
        try:
            number = float(value.strip())
        except ValueError:
            return None
    if number is None or not -1.0 <= number <= 1.0:  # NaN fails the range too
        return None
    return number


def options(values: Mapping[str, Any], *, default_limit: int, typed: bool = False
            ) -> dict[str, Any]:
    """``limit``, ``offset``, ``min_score`` and ``filters`` of a search request given as a
    mapping (a query string, a form; with ``typed``, a JSON body), checked: the keyword
    arguments of :func:`search`, :func:`similar` and :func:`search_upload`."""
    limit, offset = page_of(values, default_limit=default_limit, typed=typed)
    score = values.get("min_score")
    if score is not None:
        number = _cosine(score, typed=typed)
        if number is None:
            raise BadInput(f"min_score must be a number from -1 to 1 (a cosine similarity), "
                           f"got {score!r}", field="min_score", value=score)
        score = number
    return {"limit": limit, "offset": offset, "min_score": score,
            "filters": check_filters(values, typed=typed)}


def rank(ctx: Context, query: np.ndarray, limit: int, *, exclude: set[int] | None = None,
         offset: int = 0, filters: Filters = None,
         min_score: float | None = None) -> list[Hit]:
    """The page ``[offset, offset + limit)`` of active images for a query vector, best first
    (ties by id), restricted by ``filters`` (checked by
    :func:`~daguerre.platform.catalog.filters.check_filters`) and cut at ``min_score``."""
    _check_page(limit, offset, min_score)
    checked = check_filters(filters) if filters is not None else SearchFilters()
    store = ctx.store()
    q = np.asarray(query, dtype=np.float32)
    exclude = exclude or set()
    if backend_of(store) == "pgvector":
        hits = _rank_in_catalog(ctx, store, q, limit, offset, checked, exclude)
    elif checked:
        allowed = allowed_ids(ctx, checked)
        if exclude:
            allowed = allowed[~np.isin(allowed, np.fromiter(exclude, np.int64))]
        if len(allowed) == 0:
            return []
        scores, ids = store.search(q, limit, allowed_ids=allowed, offset=offset)
        hits = _join(ctx, [(int(i), float(sc)) for i, sc in zip(ids[0], scores[0], strict=True)])
    else:
        # No filter: search the whole store and drop what is not active in the catalog (missing,
        # deleted, resolved duplicates), looking further while the page is short.
        want = limit + offset + len(exclude)
        while True:
            scores, ids = store.search(q, want)
            found = [(int(i), float(sc)) for i, sc in zip(ids[0], scores[0], strict=True)
                     if int(i) not in exclude]
            active = _join(ctx, found)
            if len(active) >= limit + offset or len(ids[0]) < want:
                hits = active[offset:offset + limit]
                break
            want *= 2
    if min_score is not None:
        hits = [h for h in hits if h.score >= min_score]
    return hits


def _rank_in_catalog(ctx: Context, store: Any, q: np.ndarray, limit: int, offset: int,
                     checked: SearchFilters, exclude: set[int]) -> list[Hit]:
    """pgvector: the filters and the vector order in one SQL query, so the catalog and the
    vectors cannot disagree and a filtered page is full (the store's iterative index scan)."""
    with ctx.catalog.session() as s:
        allowed = apply_filters(select(Image.id).where(Image.status == ImageStatus.ACTIVE),
                                checked, s)
        if exclude:
            allowed = allowed.where(Image.id.not_in(sorted(exclude)))
        scores, ids = store.search(q, limit, offset=offset, allowed_sql=allowed, connection=s)
    return _join(ctx, [(int(i), float(sc)) for i, sc in zip(ids[0], scores[0], strict=True)
                       if int(i) >= 0])


def _join(ctx: Context, found: list[tuple[int, float]]) -> list[Hit]:
    """Catalog rows for (id, score) pairs, in the given order; inactive images dropped."""
    if not found:
        return []
    with ctx.catalog.session() as s:
        rows = {img.id: (img, lib) for img, lib in s.execute(
            select(Image, Library).outerjoin(Library, Image.library_id == Library.id)
            .where(Image.id.in_([i for i, _ in found]), Image.status == ImageStatus.ACTIVE))}
    out = []
    for image_id, score in found:
        if image_id in rows:
            img, lib = rows[image_id]
            out.append(Hit(image_id, image_path(ctx.settings.home, img, lib), score,
                           lib.name if lib else None, img.width, img.height, img.format,
                           img.captured_at, img.rating,
                           img.origin.value if img.origin is not None else None,
                           img.review_state.value if img.review_state is not None else None))
    return out


# ----------------------------------------------------------------------------- order

SORTS = ("relevance", "date")
# Ordered by date, a search shows its DATE_POOL best hits (those at or above ``min_score``, when
# one is given), newest capture first: the relevant images, as a date-ordered list.
DATE_POOL = 100


def sorted_page(fetch: Callable[[int, int], list[Hit]], sort: str, limit: int, offset: int
                ) -> tuple[list[Hit], bool]:
    """The page ``[offset, offset + limit)`` of a search in the order ``sort`` names, and
    whether another page follows. ``fetch(limit, offset)`` is the ranked search
    (:func:`search`, :func:`similar`, :func:`search_upload` with their other arguments bound).

    ``relevance`` pages the ranking. ``date`` takes the :data:`DATE_POOL` best hits and orders
    them by capture time, newest first; those with no capture time follow, in ranked order."""
    if check_sort(sort) == "relevance":
        # One more than the page tells whether another follows (within the ranking's bound).
        hits = fetch(min(limit + 1, MAX_HITS), offset)
        return hits[:limit], len(hits) > limit
    ordered = by_date(fetch(DATE_POOL, 0))
    return ordered[offset:offset + limit], offset + limit < len(ordered)


# ----------------------------------------------------------------------------- cut-off

# With a cut-off, a search ranks at most this many hits (its pool), cuts them, and pages within
# what it kept: enough for any query's matches in a personal library, and cheap to rank (a
# store search and one catalog join), where the whole library would not be.
CUTOFF_POOL = 1000
CUTOFF_AUTO = "auto"
Cutoff = str | float  # CUTOFF_AUTO, or a fixed minimum score


def check_cutoff(value: Any, *, typed: bool = False, label: str = "cutoff") -> Cutoff | None:
    """``cutoff`` of a request: None (absent), ``"auto"``, or a number from -1 to 1 (a fixed
    minimum cosine similarity); in a query string or on the command line (``typed=False``) the
    number is text. Anything else is BadInput naming ``cutoff`` (``label``: how the edge names
    it in the message, e.g. ``--cutoff``)."""
    if value is None:
        return None
    if value == CUTOFF_AUTO:
        return CUTOFF_AUTO
    number = _cosine(value, typed=typed)
    if number is None:
        raise BadInput(f"{label} must be auto or a number from -1 to 1 (a minimum cosine "
                       f"similarity), got {value!r}", field="cutoff", value=value)
    return number


def check_sort(value: Any) -> str:
    """``sort`` of a request (absent: ``relevance``); BadInput naming ``sort`` otherwise."""
    if value is None:
        return "relevance"
    if value not in SORTS:
        raise BadInput(f"sort must be one of {', '.join(SORTS)}, got {value!r}", field="sort",
                       value=value)
    return value


def order_options(values: Mapping[str, Any], *, typed: bool = False) -> dict[str, Any]:
    """``sort`` and ``cutoff`` of a search request given as a mapping, checked: the keyword
    arguments of :func:`results` besides the page."""
    return {"sort": check_sort(values.get("sort")),
            "cutoff": check_cutoff(values.get("cutoff"), typed=typed)}


@dataclass(frozen=True)
class Stop:
    """Where a cut-off stopped: it kept the ``kept`` best of the ``ranked`` hits of its pool,
    down to ``score`` (None when it kept none), by ``method`` (``auto`` or ``fixed``), and why."""

    method: str
    score: float | None
    kept: int
    ranked: int
    reason: str

    def as_dict(self) -> dict[str, Any]:
        return {"method": self.method,
                "score": None if self.score is None else round(self.score, 6),
                "kept": self.kept, "ranked": self.ranked, "reason": self.reason}


@dataclass(frozen=True)
class Results:
    """A page of a search: its hits, whether another page follows, and where a cut-off stopped
    (None without one)."""

    hits: list[Hit]
    more: bool
    cutoff: Stop | None = None


def cut_hits(hits: list[Hit], cutoff: Cutoff) -> tuple[list[Hit], Stop]:
    """The hits (ranked best first) a cut-off keeps, and where it stopped."""
    from daguerre.indexer.cutoff import cut

    if cutoff == CUTOFF_AUTO:
        # The cut is of the ranking as shown: an approximate index (HNSW, IVF, halfvec) may
        # return a score a hair above the one ranked before it, which must not count as a rise.
        found = cut(np.minimum.accumulate(np.array([h.score for h in hits], dtype=np.float64)),
                    "auto")
        kept, reason = found.kept, found.reason
    else:
        kept = sum(1 for h in hits if h.score >= float(cutoff))
        reason = f"a fixed cut-off: scores under {float(cutoff):.3f} are left out"
    if len(hits) >= CUTOFF_POOL:
        reason += f" (among the best {CUTOFF_POOL} results only)"
    score = hits[kept - 1].score if kept else None
    method = CUTOFF_AUTO if cutoff == CUTOFF_AUTO else "fixed"
    return hits[:kept], Stop(method, score, kept, len(hits), reason)


def by_date(hits: list[Hit]) -> list[Hit]:
    """``hits`` newest capture first (ties: lower id first); those with no capture time follow,
    in their given order."""
    dated = sorted((h for h in hits if h.captured_at is not None),
                   key=lambda h: (h.captured_at, -h.id), reverse=True)
    return dated + [h for h in hits if h.captured_at is None]


def results(fetch: Callable[[int, int], list[Hit]], *, limit: int, offset: int = 0,
            sort: str = "relevance", cutoff: Cutoff | None = None) -> Results:
    """The page ``[offset, offset + limit)`` of a search, in the order ``sort`` names, cut by
    ``cutoff`` (checked by :func:`check_cutoff`). ``fetch(limit, offset)`` is the ranked search
    (:func:`search`, :func:`similar`, :func:`search_upload` with their other arguments bound).

    Without a cut-off this is :func:`sorted_page`. With one, the :data:`CUTOFF_POOL` best hits
    are ranked and cut, and the page is of the kept hits: by relevance, or (``date``) newest
    capture first with the undated last."""
    sort = check_sort(sort)
    if cutoff is None:
        hits, more = sorted_page(fetch, sort, limit, offset)
        return Results(hits, more)
    kept, stop = cut_hits(fetch(CUTOFF_POOL, 0), cutoff)
    ordered = by_date(kept) if sort == "date" else kept
    return Results(ordered[offset:offset + limit], offset + limit < len(ordered), stop)


def search(ctx: Context, query: str, *, limit: int = 10, offset: int = 0,
           filters: Filters = None, min_score: float | None = None,
           include_named: bool = False, images: Sequence[str] = (), files: bool = True
           ) -> list[Hit]:
    """Search by a query in the query syntax (text, ``#ID`` and image-file terms), plus any
    ``images`` (files) added as terms.

    Images named by ``#ID`` terms are left out of their own results unless ``include_named``.
    """
    if not isinstance(query, str) or not query.strip():
        raise BadInput("the search query is empty", field="q", value=query)
    vector, named = query_vector(ctx, query, images, files=files)
    return rank(ctx, vector, limit, offset=offset, filters=filters, min_score=min_score,
                exclude=None if include_named else named)


def search_upload(ctx: Context, data: bytes, name: str, limit: int = 10, *, offset: int = 0,
                  filters: Filters = None, min_score: float | None = None) -> list[Hit]:
    """Images most like an uploaded example (the bytes of an image file)."""
    return rank(ctx, embed_image_bytes(ctx, data, name), limit, offset=offset, filters=filters,
                min_score=min_score)


def search_image(ctx: Context, path: str, limit: int = 10, *, offset: int = 0,
                 filters: Filters = None, min_score: float | None = None
                 ) -> list[Hit]:
    return rank(ctx, embed_image_file(ctx, path), limit, offset=offset, filters=filters,
                min_score=min_score)


def similar(ctx: Context, image_id: int, limit: int = 10, *, offset: int = 0,
            filters: Filters = None, min_score: float | None = None) -> list[Hit]:
    """Images most like an indexed one (the image itself excluded)."""
    return rank(ctx, stored_embedding(ctx, image_id), limit, exclude={image_id}, offset=offset,
                filters=filters, min_score=min_score)
