"""Duplicates in the catalog: find them in three tiers, resolve a group into its keeper.

Finding reads the catalog (hashes, sizes, times); the vector store's nearest neighbours of each
image when it holds vectors, found once and shared by two tiers; and the thumbnails of the
``near`` tier's candidates, each confirmed by its pixels. A near candidate is a pair of images
whose perceptual hashes are close, or one of an image's :data:`NEAR_NEIGHBOURS` nearest
neighbours of another content at a cosine of :data:`NEAR_MIN_COSINE` or more (those catch the
copies whose hash a crop moved; images without vectors have the hash's candidates only). The
``similar`` tier takes the neighbours at its own threshold, so it scales with the store's index
rather than comparing every pair of vectors, then reads the stored embeddings of the images
those link, so each member is checked against its group's keeper. The near tier reads the store
without loading the model (the dashboard's duplicates page and each ``resolve`` run it). The
grouping itself is :mod:`daguerre.indexer.duplicates`.

Two things are kept, each keyed by all it depends on, so a page load or a ``resolve`` after
the first redoes neither while nothing changed: the pixel checks' verdicts, by the two contents'
SHA-256s, the thumbnail size and the check's version, in this process (:data:`VERDICTS`) and in
the catalog (``near_copy_verdicts``, :class:`StoredVerdicts`: a restarted web server or another
worker reads them instead of checking again); and, in this process, a FAISS store's neighbour
search (by the store's saved generation and the ids searched; pgvector is searched every
time). At 20,000 images on two cores the search took 12 s and each pixel check takes
about 4 ms (benchmarks/near_neighbour_cost.py, benchmarks/duplicates_quality.py).

Resolving a group never deletes or moves a file: the others are marked ``duplicate`` (with
``duplicate_of`` pointing at the keeper), which takes them out of search, listings and later
duplicate runs, and their tags and rating are merged into the keeper. Only ``exact`` and ``near``
groups can be resolved: a ``similar`` group holds different pictures.
"""

from __future__ import annotations

import hashlib
import threading
from collections import OrderedDict
from collections.abc import Callable, Iterator, MutableMapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
from sqlalchemy import select

from daguerre.indexer.duplicates import NEAR_MIN_COSINE, NEAR_NEIGHBOURS, TIERS
from daguerre.platform.catalog.models import (
    Image,
    ImageStatus,
    ImageTag,
    Library,
    TagSource,
    iso,
)
from daguerre.platform.catalog.queries import find_library, image_path
from daguerre.platform.context import Context
from daguerre.platform.errors import BadInput, NotFound
from daguerre.platform.services.progress import ProgressFn

NEIGHBOURS = 10  # per image, for the similar tier
QUERY_BATCH = 1024
# One search serves both tiers, always asking this many (the image itself included): the near
# tier's neighbours are then the same whether or not the similar tier is asked for too, so a
# group the duplicates page shows is one ``resolve`` finds again, on an approximate index too
# (whose results can depend on how many are asked for).
SEARCH_K = max(NEIGHBOURS, NEAR_NEIGHBOURS) + 1


@dataclass(frozen=True)
class Member:
    id: int
    path: str
    width: int
    height: int
    size: int
    captured_at: str | None
    rating: int | None

    def as_dict(self) -> dict[str, Any]:
        return {"id": self.id, "path": self.path, "width": self.width, "height": self.height,
                "size": self.size, "captured_at": self.captured_at, "rating": self.rating}


@dataclass(frozen=True)
class DuplicateGroup:
    id: str
    tier: str
    keeper: int
    distance: float
    members: tuple[Member, ...]

    def as_dict(self) -> dict[str, Any]:
        return {"group": self.id, "tier": self.tier, "keeper": self.keeper,
                "distance": self.distance, "members": [m.as_dict() for m in self.members]}


def _check_tiers(tiers: Sequence[str]) -> tuple[str, ...]:
    out = tuple(tiers)
    for t in out:
        if t not in TIERS:
            raise BadInput(f"tier must be one of {', '.join(TIERS)}, got {t!r}", field="tiers",
                           value=t)
    if not out:
        raise BadInput(f"give at least one tier of {', '.join(TIERS)}", field="tiers")
    return out


def _candidates(ctx: Context, library: str | int | None
                ) -> tuple[list[Any], dict[int, Member], dict[int, str]]:
    """The active images as duplicate candidates, their members, and their thumbnails' paths
    (relative to the data directory)."""
    from daguerre.indexer.duplicates import Candidate

    cands, members, thumbs = [], {}, {}
    with ctx.catalog.session() as s:
        q = (select(Image, Library).outerjoin(Library, Image.library_id == Library.id)
             .where(Image.status == ImageStatus.ACTIVE))
        if library is not None:
            q = q.where(Image.library_id == find_library(s, library).id)
        for img, lib in s.execute(q.order_by(Image.id)):
            when = img.captured_at.timestamp() if img.captured_at is not None else img.mtime
            cands.append(Candidate(img.id, img.sha256, img.phash, img.width, img.height,
                                   float(when)))
            members[img.id] = Member(img.id, image_path(ctx.settings.home, img, lib), img.width,
                                     img.height, img.size,
                                     iso(img.captured_at), img.rating)
            if img.thumbnail:
                thumbs[img.id] = img.thumbnail
    return cands, members, thumbs


def _thumbnail_reader(ctx: Context, thumbs: dict[int, str]) -> Callable[[int], bytes | None]:
    """Image id -> its thumbnail's bytes, read only from inside the thumbnails folder; None
    when it has none or the file is gone (such an image is then nobody's near copy)."""
    fence = ctx.settings.thumbnails_dir.resolve()

    def read(image_id: int) -> bytes | None:
        rel = thumbs.get(image_id)
        if rel is None:
            return None
        path = (ctx.settings.home / rel).resolve()
        if not path.is_relative_to(fence):
            return None
        try:
            return path.read_bytes()
        except OSError:
            return None

    return read


class Verdicts(MutableMapping[tuple[str, str], bool]):
    """Pixel-check verdicts by (keeper content, copy content), the least recently used dropped
    beyond ``limit`` (an entry is about 300 bytes: 200,000 take about 60 MB); safe to share
    between the web server's threads."""

    def __init__(self, limit: int = 200_000) -> None:
        if limit < 1:
            raise ValueError(f"limit must be at least 1, got {limit}")
        self.limit = limit
        self._items: OrderedDict[tuple[str, str], bool] = OrderedDict()
        self._lock = threading.Lock()

    def __getitem__(self, key: tuple[str, str]) -> bool:
        with self._lock:
            value = self._items[key]
            self._items.move_to_end(key)
            return value

    def __setitem__(self, key: tuple[str, str], value: bool) -> None:
        with self._lock:
            self._items[key] = value
            self._items.move_to_end(key)
            while len(self._items) > self.limit:
                self._items.popitem(last=False)

    def __delitem__(self, key: tuple[str, str]) -> None:
        with self._lock:
            del self._items[key]

    def __iter__(self) -> Iterator[tuple[str, str]]:
        with self._lock:
            return iter(list(self._items))

    def __len__(self) -> int:
        return len(self._items)


VERDICTS: dict[int, Verdicts] = {}  # thumbnail size -> its verdicts
_VERDICTS_LOCK = threading.Lock()


def _verdicts(ctx: Context) -> Verdicts:
    """This process's verdicts for the thumbnails ``ctx`` makes (a verdict on 256-pixel
    thumbnails says nothing about 128-pixel ones)."""
    size = int(ctx.settings.thumbnail_size)
    with _VERDICTS_LOCK:
        return VERDICTS.setdefault(size, Verdicts())


class StoredVerdicts(MutableMapping[tuple[str, str], bool]):
    """The pixel checks' verdicts of one duplicates run: this process's :class:`Verdicts` in
    front of the catalog's ``near_copy_verdicts``, so each candidate pair is checked once per
    catalog, not once per process (a web server's first duplicates page after a restart, and
    every worker, would otherwise check every pair again: about 4 ms each).

    :meth:`load` reads the catalog's verdicts on the run's contents (once per content and
    process); new verdicts are kept in memory and written by :meth:`save`, in one transaction,
    where another process has not written them already."""

    LOAD_CHUNK = 500  # contents per query (SQLite allows 32766 bound parameters)

    def __init__(self, ctx: Context, memory: Verdicts, size: int, version: int) -> None:
        self.ctx, self.memory, self.size, self.version = ctx, memory, size, version
        self.pending: dict[tuple[str, str], bool] = {}

    def load(self, contents: Sequence[str]) -> int:
        """Read the stored verdicts whose keeper is one of ``contents``; how many were read."""
        from daguerre.platform.catalog.models import NearCopyVerdict as V

        loaded = _LOADED.setdefault((id(self.memory), self.size, self.version), set())
        todo = sorted(set(contents) - loaded)
        read = 0
        with self.ctx.catalog.session() as s:
            for start in range(0, len(todo), self.LOAD_CHUNK):
                chunk = todo[start:start + self.LOAD_CHUNK]
                q = select(V.keeper_sha256, V.copy_sha256, V.same).where(
                    V.keeper_sha256.in_(chunk), V.thumbnail_size == self.size,
                    V.check_version == self.version)
                for keeper, copy, same in s.execute(q):
                    self.memory[(keeper, copy)] = bool(same)
                    read += 1
        loaded.update(todo)
        return read

    def __getitem__(self, key: tuple[str, str]) -> bool:
        if key in self.pending:
            return self.pending[key]
        return self.memory[key]

    def __setitem__(self, key: tuple[str, str], value: bool) -> None:
        self.memory[key] = value
        self.pending[key] = value

    def __delitem__(self, key: tuple[str, str]) -> None:
        self.pending.pop(key, None)
        del self.memory[key]

    def __iter__(self) -> Iterator[tuple[str, str]]:
        return iter(self.memory)

    def __len__(self) -> int:
        return len(self.memory)

    def save(self) -> int:
        """Write the verdicts this run made (how many); a pair another process wrote meanwhile
        stays as it is."""
        from daguerre.platform.catalog.models import NearCopyVerdict as V

        if not self.pending:
            return 0
        rows = [{"keeper_sha256": k, "copy_sha256": c, "thumbnail_size": self.size,
                 "check_version": self.version, "same": v} for (k, c), v in self.pending.items()]
        engine = self.ctx.catalog.engine
        if engine.dialect.name == "postgresql":
            from sqlalchemy.dialects.postgresql import insert
        else:
            from sqlalchemy.dialects.sqlite import insert
        # Two runs may check the same pair at once: the first row stands (the verdicts agree).
        stmt = insert(V).on_conflict_do_nothing()
        with self.ctx.catalog.session() as s:
            for start in range(0, len(rows), 1000):
                s.execute(stmt, rows[start:start + 1000])
        self.pending.clear()
        return len(rows)


# Contents whose stored verdicts this process has read, per verdict memory, size and version.
_LOADED: dict[tuple[int, int, int], set[str]] = {}


def _existing_store(ctx: Context) -> tuple[bool, Any | None]:
    """(known, store): the configured model's vector store found without loading the model
    (its key comes from its files), None when it has no vectors yet; ``known`` False when only
    the loaded model can tell its key (its weights file is missing, or the store records
    another key)."""
    from daguerre.indexer.models import model_key

    try:
        key = model_key(ctx.clip_spec)
    except OSError:
        return False, None
    store = ctx.existing_store(key)
    if store is not None and store.model_key != key:
        return False, None
    return True, store


_SEARCHES: OrderedDict[tuple[Any, ...], tuple[np.ndarray, np.ndarray]] = OrderedDict()
_SEARCHES_KEPT = 4  # (n, SEARCH_K) ids and scores each: 20k images take 2.6 MB
_SEARCHES_LOCK = threading.Lock()


def _search_key(store: Any, held: np.ndarray, allowed: bool) -> tuple[Any, ...] | None:
    """What a FAISS store's neighbour search depends on: which saved state of the store (each
    save writes a new generation and replaces its pointer file), and which ids were searched.
    None for pgvector, whose vectors are read live and have no such state to name."""
    from daguerre.indexer.store import POINTER_NAME, VectorStore

    if not isinstance(store, VectorStore):
        return None
    try:
        stamp = (store.directory / POINTER_NAME).stat().st_mtime_ns
    except OSError:
        return None
    digest = hashlib.sha256(np.ascontiguousarray(held, dtype=np.int64).tobytes()).hexdigest()
    return (str(store.directory), store.model_key, store.stats()["generation"], stamp,
            len(store), SEARCH_K, allowed, digest)


def _search(store: Any, held: np.ndarray, progress: ProgressFn
            ) -> tuple[np.ndarray, np.ndarray]:
    """(ids, cosines), each (len(held), k) best first: every held image's :data:`SEARCH_K`
    nearest neighbours among ``held`` (itself included). Kept in this process for a FAISS
    store until it is saved again: at 20k images the search takes seconds (see
    benchmarks/near_neighbour_cost.py), and the duplicates page runs it on every request."""
    # Every vector the store holds is wanted (all one library's, no duplicates resolved): no
    # filter, which on FAISS would add an id selector to every distance.
    allowed = None if len(held) == len(store) else held
    key = _search_key(store, held, allowed is None)
    if key is not None:
        with _SEARCHES_LOCK:
            if key in _SEARCHES:
                _SEARCHES.move_to_end(key)
                progress(len(held), len(held), "comparing embeddings")
                return _SEARCHES[key]
    k = min(SEARCH_K, len(held))
    found, scores = [], []
    for start in range(0, len(held), QUERY_BATCH):
        batch = held[start:start + QUERY_BATCH]
        sc, ids = store.search(store.get(batch), k, allowed_ids=allowed)
        found.append(ids)
        scores.append(sc)
        progress(min(start + QUERY_BATCH, len(held)), len(held), "comparing embeddings")
    out = (np.concatenate(found), np.concatenate(scores))
    if key is not None:
        with _SEARCHES_LOCK:
            _SEARCHES[key] = out
            while len(_SEARCHES) > _SEARCHES_KEPT:
                _SEARCHES.popitem(last=False)
    return out


def _neighbour_pairs(store: Any, ids: list[int], min_cosine: float, progress: ProgressFn
                     ) -> tuple[list[tuple[int, list[int], list[float]]],
                                Callable[[Sequence[int]], dict[int, np.ndarray]]]:
    """Each held image's :data:`SEARCH_K` nearest neighbours among ``ids`` as (id, neighbour
    ids, cosines) best first, only those at or above ``min_cosine``; and a lookup of stored
    embeddings (ids -> {id: vector} for those the store holds), with which the similar tier
    checks each member against its keeper. ``store`` None: no vectors, no neighbours."""
    from daguerre.platform.vectors.backend import held_ids

    def lookup(wanted: Sequence[int]) -> dict[int, np.ndarray]:
        have = held_ids(store, wanted).tolist()  # one query on pgvector, not one per id
        return dict(zip(have, store.get(have), strict=True)) if have else {}

    rows: list[tuple[int, list[int], list[float]]] = []
    if store is None:
        return rows, lambda wanted: {}
    held = held_ids(store, ids)
    if len(held) < 2:
        return rows, lookup
    found, scores = _search(store, held, progress)
    for a, row_i, row_s in zip(held.tolist(), found, scores, strict=True):
        keep = row_s >= min_cosine
        rows.append((a, row_i[keep].tolist(), row_s[keep].tolist()))
    return rows, lookup


def find_duplicates(
    ctx: Context,
    *,
    tiers: Sequence[str] = TIERS,
    library: str | int | None = None,
    near_max_distance: int | None = None,
    similar_min_cosine: float | None = None,
    progress: ProgressFn | None = None,
) -> list[DuplicateGroup]:
    """Groups of active images in the requested tiers (exact, then near, then similar)."""
    from daguerre.indexer import duplicates as dup

    tiers = _check_tiers(tiers)
    near_max = dup.NEAR_MAX_DISTANCE if near_max_distance is None else int(near_max_distance)
    min_cos = dup.SIMILAR_MIN_COSINE if similar_min_cosine is None else float(similar_min_cosine)
    if not 0 <= near_max <= 64:
        raise BadInput(f"near_max_distance must be between 0 and 64 bits, got {near_max}",
                       field="max_distance", value=near_max)
    if not -1.0 <= min_cos <= 1.0:
        raise BadInput(f"similar_min_cosine must be between -1 and 1, got {min_cos}",
                       field="threshold", value=min_cos)
    progress = progress or (lambda done, total, msg: None)
    cands, members, thumbs = _candidates(ctx, library)
    # The near tier is worked out for the similar tier too (its copies are collapsed first),
    # so both take the neighbours whenever either runs; the exact tier alone needs none. The
    # near tier only ever reads the store found without the model, so the groups it makes are
    # the same whichever tiers are asked for (``resolve`` asks for exact and near).
    known, store = (False, None)
    if "near" in tiers or "similar" in tiers:
        known, store = _existing_store(ctx)
    floor = min(NEAR_MIN_COSINE, min_cos) if "similar" in tiers else NEAR_MIN_COSINE
    ids = [c.id for c in cands]
    rows, lookup = _neighbour_pairs(store, ids, floor, progress)
    content = {c.id: c.sha256 for c in cands}
    near_pairs = dup.neighbour_candidates(rows, content, NEAR_NEIGHBOURS, NEAR_MIN_COSINE)
    pairs = None
    if "similar" in tiers:
        if not known:  # loading the model tells its store, or says clearly what is wrong
            rows, lookup = _neighbour_pairs(ctx.store(), ids, min_cos, progress)
        pairs = [(a, b, c) for a, found, scores in rows
                 for b, c in zip(found[:NEIGHBOURS + 1], scores[:NEIGHBOURS + 1], strict=True)
                 if b != a and c >= min_cos]
    verdicts = None
    if "near" in tiers or "similar" in tiers:
        from daguerre.indexer.near_copy import VERSION

        verdicts = StoredVerdicts(ctx, _verdicts(ctx), int(ctx.settings.thumbnail_size),
                                  VERSION)
        verdicts.load(sorted({c.sha256 for c in cands if c.phash}))
    groups = dup.find_groups(cands, tiers=tiers, similar_pairs=pairs,
                             near_max_distance=near_max, similar_min_cosine=min_cos,
                             thumbnails=_thumbnail_reader(ctx, thumbs), vector_lookup=lookup,
                             near_neighbours=near_pairs, verdicts=verdicts)
    if verdicts is not None:
        verdicts.save()
    return [DuplicateGroup(g.id, g.tier, g.keeper, g.distance,
                           tuple(members[m] for m in g.members)) for g in groups]


def resolve(ctx: Context, group_id: str, keep: int) -> dict[str, Any]:
    """Keep image ``keep`` of duplicate group ``group_id``: mark the others as its duplicates
    and merge their tags and rating into it. Files are never touched."""
    group_id = str(group_id).strip()
    # The API hands over whatever JSON held (JSON's 7.0 is an integer too); the CLI gives an int.
    if isinstance(keep, float) and keep.is_integer():
        keep = int(keep)
    if isinstance(keep, bool) or not isinstance(keep, int):
        raise BadInput(f"keep must be an image id (an integer), got {keep!r}", field="keep",
                       value=keep)
    if group_id.startswith("s"):
        raise BadInput(f"group {group_id} is a group of similar pictures, not duplicates; "
                       "only exact and near groups can be resolved", field="group",
                       value=group_id)
    groups = {g.id: g for g in find_duplicates(ctx, tiers=("exact", "near"))}
    group = groups.get(group_id)
    if group is None:
        raise NotFound(f"no duplicate group {group_id!r}: run `daguerre duplicates` for the "
                       "current groups (a group's id changes when its members do)",
                       field="group", value=group_id)
    ids = [m.id for m in group.members]
    if keep not in ids:
        raise BadInput(f"image {keep} is not in group {group_id} (members: "
                       f"{', '.join(map(str, ids))})", field="keep", value=keep)
    others = [i for i in ids if i != keep]
    merged = 0
    with ctx.catalog.session() as s:
        keeper = s.get(Image, keep)
        have = {(t.tag_id, TagSource(t.source)): t for t in keeper.tags}
        ratings = [r for r in [keeper.rating] + [s.get(Image, i).rating for i in others]
                   if r is not None]
        for tag in s.scalars(select(ImageTag).where(ImageTag.image_id.in_(others))):
            key = (tag.tag_id, TagSource(tag.source))
            if key not in have:
                row = ImageTag(image_id=keep, tag_id=tag.tag_id, source=tag.source,
                               score=tag.score, model_key=tag.model_key)
                s.add(row)
                have[key] = row
                merged += 1
            elif tag.score is not None and (have[key].score or 0.0) < tag.score:
                have[key].score = tag.score
        if ratings:
            keeper.rating = max(ratings)
        for i in others:
            img = s.get(Image, i)
            img.status = ImageStatus.DUPLICATE
            img.duplicate_of = keep
    return {"group": group_id, "tier": group.tier, "keeper": keep, "duplicates": others,
            "tags_merged": merged, "rating": max(ratings) if ratings else None}


def duplicates_job(ctx: Context, handle: Any) -> dict[str, Any]:
    """The ``duplicates`` job kind: parameters library, tiers, max_distance (near tier) and
    threshold (similar-tier cosine)."""
    p = handle.params
    groups = find_duplicates(ctx, tiers=p.get("tiers") or TIERS,
                             library=p.get("library"), near_max_distance=p.get("max_distance"),
                             similar_min_cosine=p.get("threshold"), progress=handle.progress)
    counts = {t: sum(1 for g in groups if g.tier == t) for t in TIERS}
    return {"counts": counts, "groups": [g.as_dict() for g in groups]}
