"""Duplicate detection in three separate tiers, so similar photos are never called duplicates.

* ``exact``: byte-identical files (same SHA-256).
* ``near``: the same picture stored differently: resized, re-compressed, slightly cropped or
  re-encoded in another format. Found by the Hamming distance between 64-bit perceptual hashes
  (``imagehash.phash``: the sign pattern of the low DCT frequencies of a 32x32 grey thumbnail),
  which such edits barely change. :data:`NEAR_MAX_DISTANCE` is the default cut-off, measured on
  scikit-image's photos and generated shapes: half-size, JPEG quality 60, WebP and
  resized-and-recompressed copies stay within 4 bits and 2% crops of photographs mostly within
  8, while distinct photographs were 20 or more bits apart and distinct flat-background shapes 10
  or more. Repetitive textures (grass, brick) are the weak spot: a small crop can move their hash
  by 20 bits. A near group joins different contents only; byte-identical copies inside it are the
  exact tier's business.

  Pairs within the cut-off come from an exact FAISS binary range search: about 2 s for 100k
  images on two cores, minutes for a million (it is O(n^2) popcounts, in C++).
* ``similar``: different pictures of the same thing (a burst, the same view on another day), found
  by embedding cosine similarity above a threshold. Near-duplicates are collapsed to their keeper
  first, so a similar group lists distinct pictures.

Groups are connected components (union-find) of the pairwise relation, and each names a suggested
keeper: the largest resolution, then the oldest (capture time, else file time), then the lowest
id. A group's id is derived from its tier and member ids, so it is stable across runs for as long
as the group's membership is.

Everything here is pure: records and vectors in, groups out. Finding the catalog rows and the
vector neighbours is the caller's job.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Literal

import numpy as np

Tier = Literal["exact", "near", "similar"]
TIERS: tuple[Tier, ...] = ("exact", "near", "similar")
NEAR_MAX_DISTANCE = 8  # bits of 64
SIMILAR_MIN_COSINE = 0.9


@dataclass(frozen=True)
class Candidate:
    """What duplicate detection needs to know about one image."""

    id: int
    sha256: str
    phash: str | None  # 16 hex digits
    width: int
    height: int
    timestamp: float  # capture time if known, else file time (seconds since the epoch)


@dataclass(frozen=True)
class Group:
    tier: Tier
    members: tuple[int, ...]  # sorted ids
    keeper: int
    distance: float = 0.0  # the largest pairwise link inside the group (bits, or 1 - cosine)
    id: str = field(default="")

    def __post_init__(self) -> None:
        if not self.id:
            object.__setattr__(self, "id", group_id(self.tier, self.members))


def group_id(tier: Tier, members: Iterable[int]) -> str:
    """A short stable id: tier letter plus a hash of the sorted member ids (``n3f9a0c12``)."""
    ids = ",".join(str(i) for i in sorted(members))
    return tier[0] + hashlib.sha256(f"{tier}:{ids}".encode()).hexdigest()[:8]


class UnionFind:
    def __init__(self, n: int) -> None:
        self.parent = list(range(n))

    def find(self, x: int) -> int:
        root = x
        while self.parent[root] != root:
            root = self.parent[root]
        while self.parent[x] != root:  # path compression
            self.parent[x], x = root, self.parent[x]
        return root

    def union(self, a: int, b: int) -> None:
        ra, rb = self.find(a), self.find(b)
        if ra != rb:
            self.parent[max(ra, rb)] = min(ra, rb)

    def components(self) -> list[list[int]]:
        out: dict[int, list[int]] = {}
        for i in range(len(self.parent)):
            out.setdefault(self.find(i), []).append(i)
        return [c for c in out.values() if len(c) > 1]


def keeper_of(candidates: Sequence[Candidate]) -> int:
    """The suggested keeper: largest resolution, then oldest, then lowest id."""
    best = min(candidates, key=lambda c: (-(c.width * c.height), c.timestamp, c.id))
    return best.id


def _check(candidates: Sequence[Candidate]) -> None:
    ids = [c.id for c in candidates]
    if len(set(ids)) != len(ids):
        raise ValueError("candidates have repeated ids")


def exact_groups(candidates: Sequence[Candidate]) -> list[Group]:
    """Groups of byte-identical files."""
    _check(candidates)
    by_sha: dict[str, list[Candidate]] = {}
    for c in candidates:
        by_sha.setdefault(c.sha256, []).append(c)
    groups = [Group("exact", tuple(sorted(c.id for c in cs)), keeper_of(cs))
              for cs in by_sha.values() if len(cs) > 1]
    return sorted(groups, key=lambda g: g.members)


def phash_bits(hashes: Sequence[str]) -> np.ndarray:
    """(n, 8) uint8 from 16-hex-digit hashes."""
    out = np.zeros((len(hashes), 8), np.uint8)
    for i, h in enumerate(hashes):
        if len(h) != 16:
            raise ValueError(f"perceptual hash {h!r} is not 16 hex digits")
        out[i] = np.frombuffer(bytes.fromhex(h), np.uint8)
    return out


def hamming_pairs(bits: np.ndarray, max_distance: int) -> list[tuple[int, int, int]]:
    """(i, j, distance) for every i < j within ``max_distance`` bits, exactly.

    An exhaustive range search in FAISS's ``IndexBinaryFlat`` (C++, hardware popcount): about 2 s
    for 100k hashes and, being O(n^2), minutes for a million on two cores. Multi-index hashing was
    measured slower at an 8-bit radius: 16-bit tables must be probed 2 bits deep, which visits
    thousands of candidates per hash.
    """
    import faiss

    n = len(bits)
    if n < 2:
        return []
    index = faiss.IndexBinaryFlat(64)
    x = np.ascontiguousarray(bits, dtype=np.uint8)
    index.add(x)
    # range_search keeps distances strictly below the radius.
    lims, dist, ids = index.range_search(x, max_distance + 1)
    pairs: list[tuple[int, int, int]] = []
    for i in range(n):
        lo, hi = int(lims[i]), int(lims[i + 1])
        for j, d in zip(ids[lo:hi].tolist(), dist[lo:hi].tolist(), strict=True):
            if i < j:
                pairs.append((i, int(j), int(d)))
    return sorted(pairs)


def near_groups(candidates: Sequence[Candidate], max_distance: int = NEAR_MAX_DISTANCE
                ) -> list[Group]:
    """Groups of perceptually identical images holding at least two different contents."""
    _check(candidates)
    if not 0 <= max_distance <= 64:
        raise ValueError(f"max_distance must be between 0 and 64 bits, got {max_distance}")
    # One node per content: byte-identical copies share their hash and are the exact tier's.
    contents: dict[str, list[Candidate]] = {}
    for c in candidates:
        if c.phash:
            contents.setdefault(c.sha256, []).append(c)
    reps = list(contents.values())
    if len(reps) < 2:
        return []
    bits = phash_bits([cs[0].phash for cs in reps])  # type: ignore[misc]
    uf = UnionFind(len(reps))
    worst: dict[tuple[int, int], int] = {}
    for i, j, d in hamming_pairs(bits, max_distance):
        uf.union(i, j)
        worst[(i, j)] = d
    groups = []
    for comp in uf.components():
        members = [c for k in comp for c in reps[k]]
        inside = set(comp)
        dist = max((d for (i, j), d in worst.items() if i in inside and j in inside), default=0)
        groups.append(Group("near", tuple(sorted(c.id for c in members)), keeper_of(members),
                            float(dist)))
    return sorted(groups, key=lambda g: g.members)


def cosine_pairs(vectors: np.ndarray, min_cosine: float, block: int = 1024
                 ) -> list[tuple[int, int, float]]:
    """(i, j, cosine) for every i < j with cosine >= ``min_cosine`` (exact, blockwise)."""
    x = np.asarray(vectors, dtype=np.float32)
    x = x / np.maximum(np.linalg.norm(x, axis=1, keepdims=True), 1e-12)
    pairs: list[tuple[int, int, float]] = []
    for start in range(0, len(x), block):
        sims = x[start:start + block] @ x[start:].T
        ii, jj = np.nonzero(sims >= min_cosine)
        for i, j in zip(ii.tolist(), jj.tolist(), strict=True):
            gi, gj = start + i, start + j
            if gi < gj:
                pairs.append((gi, gj, float(sims[i, j])))
    return pairs


def similar_groups(candidates: Sequence[Candidate], pairs: Iterable[tuple[int, int, float]],
                   min_cosine: float = SIMILAR_MIN_COSINE,
                   duplicates: Sequence[Group] = ()) -> list[Group]:
    """Groups of visually similar images from (id, id, cosine) pairs.

    ``duplicates`` (exact and near groups) are collapsed to their keepers first: a similar group
    lists distinct pictures, and never only copies of one picture.
    """
    _check(candidates)
    by_id = {c.id: c for c in candidates}
    rep = {c.id: c.id for c in candidates}
    for g in duplicates:
        for m in g.members:
            if m in rep:
                rep[m] = g.keeper
    nodes = sorted({rep[c.id] for c in candidates})
    index = {n: k for k, n in enumerate(nodes)}
    uf = UnionFind(len(nodes))
    worst: dict[int, float] = {}
    for a, b, cos in pairs:
        if cos < min_cosine or a not in rep or b not in rep:
            continue
        ra, rb = rep[a], rep[b]
        if ra == rb:
            continue
        uf.union(index[ra], index[rb])
        worst[index[ra]] = max(worst.get(index[ra], 0.0), 1.0 - cos)
        worst[index[rb]] = max(worst.get(index[rb], 0.0), 1.0 - cos)
    groups = []
    for comp in uf.components():
        ids = tuple(sorted(nodes[k] for k in comp))
        dist = max(worst.get(k, 0.0) for k in comp)
        groups.append(Group("similar", ids, keeper_of([by_id[i] for i in ids]), round(dist, 6)))
    return sorted(groups, key=lambda g: g.members)


def find_groups(candidates: Sequence[Candidate], *, tiers: Sequence[Tier] = TIERS,
                vectors: np.ndarray | None = None,
                similar_pairs: Iterable[tuple[int, int, float]] | None = None,
                near_max_distance: int = NEAR_MAX_DISTANCE,
                similar_min_cosine: float = SIMILAR_MIN_COSINE) -> list[Group]:
    """Every group of the requested tiers, exact first, then near, then similar.

    For the similar tier give either ``vectors`` (one row per candidate, compared exactly) or
    ``similar_pairs`` as (id, id, cosine) — e.g. from a vector index's nearest neighbours, which
    scales to large libraries.
    """
    unknown = [t for t in tiers if t not in TIERS]
    if unknown:
        raise ValueError(f"unknown tier {unknown[0]!r}; tiers are {', '.join(TIERS)}")
    exact = exact_groups(candidates)
    near = near_groups(candidates, near_max_distance)
    out: list[Group] = []
    if "exact" in tiers:
        out += exact
    if "near" in tiers:
        out += near
    if "similar" in tiers:
        if similar_pairs is None:
            if vectors is None:
                raise ValueError("the similar tier needs vectors or similar_pairs")
            if len(vectors) != len(candidates):
                raise ValueError(f"need one vector per candidate, got {len(vectors)} vectors "
                                 f"for {len(candidates)} candidates")
            similar_pairs = [(candidates[i].id, candidates[j].id, c)
                             for i, j, c in cosine_pairs(vectors, similar_min_cosine)]
        out += similar_groups(candidates, similar_pairs, similar_min_cosine, exact + near)
    return out
