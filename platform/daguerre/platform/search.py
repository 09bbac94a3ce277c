"""Semantic search over the catalog: parse a query, embed its terms, rank with the vector store
under the catalog's filters, join the catalog.

* A query is a weighted sum of text and image terms (:mod:`daguerre.indexer.query`).
* Filters (library, folder, capture dates, tag, rating, origin, format, size) are answered by the
  catalog, which hands the store the allowed ids: the store ranks only those, so a filtered page
  is full whenever enough images match, however far down the unfiltered ranking they sit.
* Paging is by ``offset`` over a stable order (score, then id); ``min_score`` cuts the tail.
* Text embeddings are cached in memory (LRU) and on disk under the data directory, keyed by model
  key and text, so a repeated query never runs the text encoder again, in this process or the
  next.
"""

from __future__ import annotations

import hashlib
import os
import threading
from collections import OrderedDict
from collections.abc import Sequence
from dataclasses import asdict, dataclass, fields
from datetime import date, datetime, time
from pathlib import Path
from typing import Any

import numpy as np
from sqlalchemy import Select, select

from daguerre.platform.catalog.models import (
    Image,
    ImageOrigin,
    ImageStatus,
    ImageTag,
    Library,
    Tag,
)
from daguerre.platform.context import Context
from daguerre.platform.errors import NotFound, UserError

MAX_LIMIT = 10_000
TEXT_CACHE_ENTRIES = 4096  # in memory, per process


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
                "captured_at": self.captured_at.isoformat() if self.captured_at else None,
                "rating": self.rating, "origin": self.origin, "review_state": self.review_state}


# ----------------------------------------------------------------------------- filters


@dataclass(frozen=True)
class SearchFilters:
    """Catalog conditions a result must meet. ``None`` means "any"."""

    library: str | None = None  # name or id
    folder: str | None = None  # path prefix inside the library ("2023/summer")
    after: datetime | None = None  # capture time, inclusive
    before: datetime | None = None  # capture time, inclusive
    tag: str | None = None  # set by a person or a model
    min_rating: int | None = None
    origin: str | None = None  # library | upload | generated
    format: str | None = None  # JPEG, PNG, ... (as Pillow names it)
    min_width: int | None = None
    min_height: int | None = None

    def active(self) -> dict[str, Any]:
        return {k: v for k, v in asdict(self).items() if v is not None}

    def __bool__(self) -> bool:
        return bool(self.active())


def parse_date(value: str | date | datetime | None, name: str, *, end: bool = False
               ) -> datetime | None:
    """An ISO date or date-time; a bare date as the end of a range covers that whole day."""
    if value is None or isinstance(value, datetime):
        return value
    if isinstance(value, date):
        return datetime.combine(value, time.max if end else time.min)
    text = str(value).strip()
    try:
        if len(text) == 10:
            d = date.fromisoformat(text)
            return datetime.combine(d, time.max if end else time.min)
        return datetime.fromisoformat(text)
    except ValueError:
        raise UserError(f"{name} must be a date like 2024-07-31 or 2024-07-31T18:30, "
                        f"got {value!r}") from None


def check_filters(f: SearchFilters) -> SearchFilters:
    """``f`` with normalised values; a UserError names the first bad one."""
    origins = [o.value for o in ImageOrigin]
    if f.origin is not None and f.origin not in origins:
        raise UserError(f"origin must be one of {', '.join(origins)}, got {f.origin!r}")
    if f.min_rating is not None and not 0 <= f.min_rating <= 5:
        raise UserError(f"min_rating must be between 0 and 5, got {f.min_rating}")
    for name in ("min_width", "min_height"):
        value = getattr(f, name)
        if value is not None and value < 0:
            raise UserError(f"{name} must not be negative, got {value}")
    if f.after and f.before and _naive(f.after) > _naive(f.before):
        raise UserError(f"after ({f.after.isoformat()}) is later than before "
                        f"({f.before.isoformat()})")
    folder = f.folder.strip().strip("/") if f.folder is not None else None
    fmt = f.format.strip().upper() if f.format else None
    if fmt == "JPG":
        fmt = "JPEG"
    if fmt == "TIF":
        fmt = "TIFF"
    return SearchFilters(**{**{fl.name: getattr(f, fl.name) for fl in fields(f)},
                            "folder": folder or None, "format": fmt})


def _naive(dt: datetime) -> datetime:
    # EXIF capture times carry no zone and are stored as written: compare wall-clock times.
    return dt.replace(tzinfo=None)


def find_library(session: Any, name_or_id: str | int) -> Library:
    lib = None
    text = str(name_or_id)
    if text.isdigit():
        lib = session.get(Library, int(text))
    if lib is None:
        lib = session.scalar(select(Library).where(Library.name == text))
    if lib is None:
        raise NotFound(f"no library {text!r} (see `daguerre library list`)", field="library")
    return lib


def apply_filters(query: Select, f: SearchFilters, session: Any) -> Select:
    """``query`` (over Image) narrowed by ``f``; an unknown library or tag is NotFound."""
    if f.library is not None:
        query = query.where(Image.library_id == find_library(session, f.library).id)
    if f.folder is not None:
        escaped = f.folder.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
        query = query.where(Image.path.like(escaped + "/%", escape="\\"))
    if f.after is not None:
        query = query.where(Image.captured_at >= _naive(f.after))
    if f.before is not None:
        query = query.where(Image.captured_at <= _naive(f.before))
    if f.tag is not None:
        tag_id = session.scalar(select(Tag.id).where(Tag.name == f.tag))
        if tag_id is None:
            raise NotFound(f"no tag {f.tag!r} (see `daguerre tags list`)", field="tag")
        query = query.where(Image.id.in_(
            select(ImageTag.image_id).where(ImageTag.tag_id == tag_id)))
    if f.min_rating is not None:
        query = query.where(Image.rating >= f.min_rating)
    if f.origin is not None:
        query = query.where(Image.origin == ImageOrigin(f.origin))
    if f.format is not None:
        query = query.where(Image.format == f.format)
    if f.min_width is not None:
        query = query.where(Image.width >= f.min_width)
    if f.min_height is not None:
        query = query.where(Image.height >= f.min_height)
    return query


def allowed_ids(ctx: Context, filters: SearchFilters | None) -> np.ndarray | None:
    """Ids of the active images that pass ``filters``; None when there are no filters."""
    if not filters:
        return None
    with ctx.catalog.session() as s:
        q = apply_filters(select(Image.id).where(Image.status == ImageStatus.ACTIVE), filters, s)
        return np.fromiter(s.scalars(q), dtype=np.int64)


# ----------------------------------------------------------------------------- text cache


class TextEmbeddingCache:
    """Text embeddings by (model key, text): an in-memory LRU over files on disk.

    One ``.npy`` per text under ``<data>/cache/text-embeddings/<model key>/``, named by the SHA-256
    of the text and written atomically (temporary file, then rename), so concurrent processes
    can share it. A damaged file counts as a miss and is rewritten.
    """

    def __init__(self, directory: Path, capacity: int = TEXT_CACHE_ENTRIES) -> None:
        self.directory = Path(directory)
        self.capacity = capacity
        self._memory: OrderedDict[tuple[str, str], np.ndarray] = OrderedDict()
        self._lock = threading.Lock()

    def _file(self, model_key: str, text: str) -> Path:
        digest = hashlib.sha256(text.encode("utf-8")).hexdigest()
        return self.directory / model_key / digest[:2] / f"{digest}.npy"

    def get(self, model_key: str, text: str) -> np.ndarray | None:
        key = (model_key, text)
        with self._lock:
            if key in self._memory:
                self._memory.move_to_end(key)
                return self._memory[key]
        path = self._file(model_key, text)
        try:
            vec = np.load(path, allow_pickle=False)
        except (OSError, ValueError):
            return None
        if vec.ndim != 1 or vec.dtype != np.float32:
            return None
        self._remember(key, vec)
        return vec

    def put(self, model_key: str, text: str, vector: np.ndarray) -> None:
        vec = np.ascontiguousarray(vector, dtype=np.float32).reshape(-1)
        self._remember((model_key, text), vec)
        path = self._file(model_key, text)
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            tmp = path.with_name(f".{path.stem}.{os.getpid()}.{threading.get_ident()}.tmp")
            with open(tmp, "wb") as fh:
                np.save(fh, vec, allow_pickle=False)
            os.replace(tmp, path)
        except OSError:
            pass  # a read-only or full data directory only costs the next process a re-encode

    def _remember(self, key: tuple[str, str], vec: np.ndarray) -> None:
        with self._lock:
            self._memory[key] = vec
            self._memory.move_to_end(key)
            while len(self._memory) > self.capacity:
                self._memory.popitem(last=False)

    def clear_memory(self) -> None:
        with self._lock:
            self._memory.clear()


_CACHES: dict[Path, TextEmbeddingCache] = {}
_CACHES_LOCK = threading.Lock()


def text_cache(ctx: Context) -> TextEmbeddingCache:
    """The process-wide cache for ``ctx``'s data directory."""
    directory = ctx.settings.home / "cache" / "text-embeddings"
    with _CACHES_LOCK:
        if directory not in _CACHES:
            _CACHES[directory] = TextEmbeddingCache(directory)
        return _CACHES[directory]


def embed_texts(ctx: Context, texts: Sequence[str]) -> np.ndarray:
    """(n, dim) text embeddings, from the cache where possible; misses are encoded in one batch."""
    encoder = ctx.encoder()
    cache = text_cache(ctx)
    found: dict[str, np.ndarray] = {}
    missing: list[str] = []
    for t in texts:
        if t in found or t in missing:
            continue
        vec = cache.get(encoder.key, t)
        if vec is not None and vec.shape == (encoder.dim,):
            found[t] = vec
        else:
            missing.append(t)
    if missing:
        for t, vec in zip(missing, encoder.encode_text(missing), strict=True):
            cache.put(encoder.key, t, vec)
            found[t] = np.asarray(vec, np.float32)
    if not texts:
        return np.zeros((0, encoder.dim), np.float32)
    return np.stack([found[t] for t in texts])


# ----------------------------------------------------------------------------- query vectors


def image_path(home: Path, image: Image, library: Library | None) -> str:
    """The absolute path of an image's file (library images live under their root)."""
    base = Path(library.root) if library is not None else home
    return str(base / image.path)


def embed_image_file(ctx: Context, path: str) -> np.ndarray:
    """Embed an image file given on the command line (not necessarily in a library)."""
    from daguerre.indexer.decode import DecodeError, decode_file
    from daguerre.platform.indexing import decode_options

    encoder = ctx.encoder()
    s = ctx.settings
    if not Path(path).expanduser().is_file():
        raise UserError(f"query image {path} does not exist")
    try:
        d = decode_file(Path(path).expanduser(), decode_options(s, encoder))
    except DecodeError as exc:
        raise UserError(f"cannot use {path} as a query image: {exc}") from None
    return encoder.encode_pixels([d.pixels])[0]


def stored_embedding(ctx: Context, image_id: int) -> np.ndarray:
    store = ctx.store()
    if image_id not in store:
        with ctx.catalog.session() as s:
            if s.get(Image, image_id) is None:
                raise NotFound(f"no image with id {image_id}")
        raise UserError(f"image {image_id} has no embedding for model {store.model_key}: "
                        "run `daguerre index` first")
    return store.get([image_id])[0]


def query_vector(ctx: Context, query: str, images: Sequence[str] = ()
                 ) -> tuple[np.ndarray, set[int]]:
    """The unit vector of a query in the syntax of :mod:`daguerre.indexer.query` (plus image
    files given apart, each a term of weight 1), and the ids of indexed images it names (``#ID``
    terms), which a caller may leave out of the results."""
    from daguerre.indexer.query import QueryError, combine, parse_query

    try:
        parsed = parse_query(query)
    except QueryError as exc:
        raise UserError(str(exc)) from None
    texts = parsed.texts
    text_vecs = dict(zip(texts, embed_texts(ctx, texts), strict=True)) if texts else {}
    vectors, weights, named = [], [], set()
    for term in parsed.terms:
        if term.kind == "text":
            vectors.append(text_vecs[term.value])
        elif term.kind == "id":
            vectors.append(stored_embedding(ctx, term.image_id))
            named.add(term.image_id)
        else:
            vectors.append(embed_image_file(ctx, term.value))
        weights.append(term.weight)
    for path in images:
        vectors.append(embed_image_file(ctx, path))
        weights.append(1.0)
    try:
        return combine(weights, np.stack(vectors)), named
    except ValueError as exc:
        raise UserError(f"bad query: {exc}") from None


# ----------------------------------------------------------------------------- ranking


def _check_page(limit: int, offset: int, min_score: float | None) -> None:
    if not isinstance(limit, int) or not 1 <= limit <= MAX_LIMIT:
        raise UserError(f"limit must be between 1 and {MAX_LIMIT}, got {limit!r}")
    if not isinstance(offset, int) or offset < 0:
        raise UserError(f"offset must be 0 or more, got {offset!r}")
    if min_score is not None and not -1.0 <= min_score <= 1.0:
        raise UserError(f"min_score must be between -1 and 1 (a cosine similarity), "
                        f"got {min_score}")


def rank(ctx: Context, query: np.ndarray, limit: int, *, exclude: set[int] | None = None,
         offset: int = 0, filters: SearchFilters | None = None,
         min_score: float | None = None) -> list[Hit]:
    """The page ``[offset, offset + limit)`` of active images for a query vector, best first
    (ties by id), restricted by ``filters`` and cut at ``min_score``."""
    _check_page(limit, offset, min_score)
    store = ctx.store()
    q = np.asarray(query, dtype=np.float32)
    exclude = exclude or set()
    if filters:
        allowed = allowed_ids(ctx, check_filters(filters))
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


def search(ctx: Context, query: str, *, limit: int = 10, offset: int = 0,
           filters: SearchFilters | None = None, min_score: float | None = None,
           include_named: bool = False, images: Sequence[str] = ()) -> list[Hit]:
    """Search by a query in the query syntax (text, ``#ID`` and image-file terms), plus any
    ``images`` (files) added as terms.

    Images named by ``#ID`` terms are left out of their own results unless ``include_named``.
    """
    if not isinstance(query, str) or not query.strip():
        raise UserError("the search query is empty")
    vector, named = query_vector(ctx, query, images)
    return rank(ctx, vector, limit, offset=offset, filters=filters, min_score=min_score,
                exclude=None if include_named else named)


def search_text(ctx: Context, text: str, limit: int = 10, **kwargs: Any) -> list[Hit]:
    """Search by a query string (the full query syntax; plain text is one term)."""
    return search(ctx, text, limit=limit, **kwargs)


def search_image(ctx: Context, path: str, limit: int = 10, *, offset: int = 0,
                 filters: SearchFilters | None = None, min_score: float | None = None
                 ) -> list[Hit]:
    return rank(ctx, embed_image_file(ctx, path), limit, offset=offset, filters=filters,
                min_score=min_score)


def similar(ctx: Context, image_id: int, limit: int = 10, *, offset: int = 0,
            filters: SearchFilters | None = None, min_score: float | None = None) -> list[Hit]:
    """Images most like an indexed one (the image itself excluded)."""
    return rank(ctx, stored_embedding(ctx, image_id), limit, exclude={image_id}, offset=offset,
                filters=filters, min_score=min_score)
