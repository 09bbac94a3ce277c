"""Duplicates in the catalog: find them in three tiers, resolve a group into its keeper.

Finding reads the catalog (hashes, sizes, times), the thumbnails of images whose perceptual hashes
are close (a ``near`` copy is confirmed by its pixels), and, for the ``similar`` tier, the vector
store's nearest neighbours of each image, so it scales with the store's index rather than
comparing every pair of vectors, then the stored embeddings of the images those link, so each
member is checked against its group's keeper. The grouping itself is
:mod:`daguerre.indexer.duplicates`.

Resolving a group never deletes or moves a file: the others are marked ``duplicate`` (with
``duplicate_of`` pointing at the keeper), which takes them out of search, listings and later
duplicate runs, and their tags and rating are merged into the keeper. Only ``exact`` and ``near``
groups can be resolved: a ``similar`` group holds different pictures.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
from sqlalchemy import select

from daguerre.indexer.duplicates import TIERS
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


def _neighbour_pairs(ctx: Context, ids: list[int], min_cosine: float, progress: ProgressFn
                     ) -> tuple[list[tuple[int, int, float]], Callable[[Sequence[int]],
                                                                       dict[int, np.ndarray]]]:
    """(id, id, cosine) for each image's nearest neighbours at or above ``min_cosine``, and a
    lookup of stored embeddings (ids -> {id: vector} for those the store holds), with which the
    similar tier checks each member against its keeper."""
    from daguerre.platform.vectors.backend import held_ids

    store = ctx.store()

    def lookup(wanted: Sequence[int]) -> dict[int, np.ndarray]:
        have = held_ids(store, wanted).tolist()  # one query on pgvector, not one per id
        return dict(zip(have, store.get(have), strict=True)) if have else {}

    held = held_ids(store, ids)
    pairs: list[tuple[int, int, float]] = []
    if len(held) < 2:
        return pairs, lookup
    k = min(NEIGHBOURS + 1, len(held))
    for start in range(0, len(held), QUERY_BATCH):
        batch = held[start:start + QUERY_BATCH]
        scores, found = store.search(store.get(batch), k, allowed_ids=held)
        for a, row_s, row_i in zip(batch.tolist(), scores, found, strict=True):
            for sc, b in zip(row_s.tolist(), row_i.tolist(), strict=True):
                if b != a and sc >= min_cosine:
                    pairs.append((a, int(b), float(sc)))
        progress(min(start + QUERY_BATCH, len(held)), len(held), "comparing embeddings")
    return pairs, lookup


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
    pairs, lookup = None, None
    if "similar" in tiers:
        pairs, lookup = _neighbour_pairs(ctx, [c.id for c in cands], min_cos, progress)
    # Near copies are confirmed by their thumbnails' pixels (read only for perceptual-hash
    # candidates), so the near tier never loads the model or the vector store.
    groups = dup.find_groups(cands, tiers=tiers, similar_pairs=pairs,
                             near_max_distance=near_max, similar_min_cosine=min_cos,
                             thumbnails=_thumbnail_reader(ctx, thumbs), vector_lookup=lookup)
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
