"""Duplicate detection in three separate tiers, so similar photos are never called duplicates.

* ``exact``: byte-identical files (same SHA-256).
* ``near``: the same picture stored differently: resized, re-compressed, slightly cropped or
  re-encoded in another format. Candidates come from two sources:

  - pairs whose 64-bit perceptual hashes (``imagehash.phash``: the sign pattern of the low DCT
    frequencies of a 32x32 grey thumbnail) are within :data:`NEAR_MAX_DISTANCE` bits, which
    such edits barely change: half-size, JPEG quality 60, WebP and resized-and-recompressed
    copies stay within 4 bits, 1-3 % crops mostly within 8. Repetitive textures (grass, brick)
    are the hash's weak spot: a small crop can move it by 20 bits, and flat graphics with a
    single shape sometimes move as far;
  - when the caller has embeddings, each image's nearest neighbours (:data:`NEAR_NEIGHBOURS` of
    other contents, :func:`neighbour_candidates`) at a cosine of at least
    :data:`NEAR_MIN_COSINE`, which catch those crops: a crop changes what the picture shows by
    a few percent, whatever it does to the hash's DCT signs.

  A candidate alone is never enough: flat graphics (a background and a few shapes) that differ
  by a shape's colour, outline or place often share their hash within a few bits, and an
  embedding places different pictures of one thing close together. So each candidate, from
  either source, is confirmed by the pixels of both thumbnails
  (:mod:`daguerre.indexer.near_copy`: aligned for a crop of up to 5 % a side, then compared),
  and groups form around a keeper, never by chaining: every member is a confirmed copy of the
  keeper itself. The pixel check gives the precision; the two sources only decide which pairs
  are looked at. The embedding offers pairs the hash keeps far apart, and so found the check's
  blind spot: a shape within :data:`daguerre.indexer.near_copy.LEVELS` of its background (a dark
  shape on a dark background matched any other there, or none), which the check now counts
  apart as a faint difference (:data:`daguerre.indexer.near_copy.FAINT_LEVELS`).

  Hash pairs within the cut-off come from an exact FAISS binary range search: about 2 s for
  100k images on two cores, minutes for a million (it is O(n^2) popcounts, in C++); the pixel
  check costs about 4 ms a candidate pair, and reads only those candidates' thumbnails. A
  caller that runs often can keep the checks' verdicts (``verdicts``: keyed by the two
  contents' SHA-256s, which a verdict depends on alone) so a repeated run redoes none.
* ``similar``: different pictures of the same thing (a burst, the same view on another day), found
  by embedding cosine similarity above a threshold. Near-duplicates are collapsed to their keeper
  first, so a similar group lists distinct pictures. Here too groups form around a keeper: linked
  through a chain of neighbours, a set of shapes' embeddings held members at a cosine of 0.35 to
  each other, so each member must be similar to the keeper itself.

Each group names a suggested keeper: the largest resolution, then the oldest (capture time, else
file time), then the lowest id. A group's id is derived from its tier and member ids, so it is
stable across runs for as long as the group's membership is.

Everything here is pure: records, vectors and thumbnails in (through the caller's loaders), groups
out. Finding the catalog rows, the thumbnails and the vector neighbours is the caller's job.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Iterable, Mapping, MutableMapping, Sequence
from dataclasses import dataclass, field
from typing import Literal

import numpy as np

from daguerre.indexer import near_copy
from daguerre.indexer.near_copy import Layout

Tier = Literal["exact", "near", "similar"]
TIERS: tuple[Tier, ...] = ("exact", "near", "similar")
NEAR_MAX_DISTANCE = 8  # bits of 64
# Embedding neighbours as near candidates: each image's first NEAR_NEIGHBOURS neighbours of other
# contents at a cosine of NEAR_MIN_COSINE or more. Measured (benchmarks/duplicates_quality.py
# --clip: the tests' shapes CLIP on thumbnails): each crop the hash missed by 10-15 bits sat at a
# cosine of 0.959 or more and within the first 3 neighbours of its original (the picture's other
# copies take the places before it), so k = 3 finds them all; the one crop 22 bits away sat 44th
# (cosine 0.877), out of reach of any small k. The pixel check gives the precision, so the cosine
# only bounds the checks: 0.9 leaves room below the copies (1 % of the graphics' copies sit below
# 0.94) for a model that spreads them more. k bounds them too: among pictures without copies,
# k = 3 offered 1.2-2 new pairs an image and k = 5 1.5-3.2, and each pair is a check; k = 5 also
# offered pairs that the check wrongly confirmed (see the module docstring).
NEAR_MIN_COSINE = 0.9
NEAR_NEIGHBOURS = 3
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


def _keeper_key(c: Candidate) -> tuple[int, float, int]:
    """Sorts the suggested keeper first: largest resolution, then oldest, then lowest id."""
    return (-(c.width * c.height), c.timestamp, c.id)


def keeper_of(candidates: Sequence[Candidate]) -> int:
    """The suggested keeper: largest resolution, then oldest, then lowest id."""
    return min(candidates, key=_keeper_key).id


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


def around_keepers(order: Sequence[int],
                   take: Callable[[int, set[int]], list[tuple[int, float]]]
                   ) -> list[tuple[int, list[tuple[int, float]]]]:
    """Groups without chaining: each node, in keeper order, that no group holds yet becomes a
    keeper, and ``take(keeper, free)`` returns which of the free nodes belong with it (each with
    its distance to the keeper). So every member belongs with the keeper itself, never only with
    another member, and a node a better keeper took is not offered to the next one."""
    free = set(order)
    groups = []
    for keeper in order:
        if keeper not in free:
            continue
        free.discard(keeper)
        taken = take(keeper, free)
        for node, _ in taken:
            free.discard(node)
        if taken:
            groups.append((keeper, taken))
    return groups


@dataclass
class NearStats:
    """What one :func:`near_groups` run looked at (for benchmarks and logs)."""

    hash_pairs: int = 0  # content pairs within the hash radius
    neighbour_pairs: int = 0  # embedding pairs at or above the cosine that the hash did not offer
    checks: int = 0  # pixel comparisons made
    reused: int = 0  # verdicts taken from ``verdicts`` instead


class _Layouts:
    """Thumbnails made comparable on demand, the most recent thousand kept (about 50 MB), so a
    library of millions never holds them all; keepers take their copies one after the other, so
    a thumbnail is mostly wanted again soon or never."""

    def __init__(self, thumbnails: Callable[[int], bytes | None], keep: int = 1024) -> None:
        from functools import lru_cache

        def load(image_id: int) -> Layout | None:
            data = thumbnails(image_id)
            if data is None:
                return None
            try:
                return near_copy.layout(data)
            except (OSError, ValueError, SyntaxError):  # an unreadable thumbnail confirms nothing
                return None

        self.get = lru_cache(maxsize=keep)(load)
        # A kept verdict still needs both thumbnails there (an image whose thumbnail is gone is
        # nobody's copy), which reading the bytes tells without decoding them.
        self.present = lru_cache(maxsize=keep * 4)(lambda i: thumbnails(i) is not None)


def neighbour_candidates(rows: Iterable[tuple[int, Sequence[int], Sequence[float]]],
                         content: Mapping[int, str], k: int = NEAR_NEIGHBOURS,
                         min_cosine: float = NEAR_MIN_COSINE) -> list[tuple[int, int, float]]:
    """Near candidates (id, id, cosine) from nearest-neighbour lists.

    ``rows`` holds, for each query image, its neighbours' ids and cosines, best first (the query
    itself may be among them); ``content`` maps ids to their SHA-256. Each query keeps its first
    ``k`` neighbours of another content (byte copies of itself, the exact tier's, would fill the
    list otherwise; ids ``content`` lacks are skipped), and of those the ones at ``min_cosine``
    or more.
    """
    if k < 0:
        raise ValueError(f"k must be at least 0, got {k}")
    out = []
    for query, ids, scores in rows:
        own = content.get(query)
        taken = 0
        for other, cos in zip(ids, scores, strict=True):
            if taken >= k:
                break
            other = int(other)
            sha = content.get(other)
            if sha is None or sha == own:
                continue
            taken += 1
            if cos >= min_cosine:
                out.append((int(query), other, float(cos)))
    return out


def near_groups(candidates: Sequence[Candidate], max_distance: int = NEAR_MAX_DISTANCE, *,
                thumbnails: Callable[[int], bytes | None] | None = None,
                neighbours: Iterable[tuple[int, int, float]] = (),
                min_cosine: float = NEAR_MIN_COSINE,
                verdicts: MutableMapping[tuple[str, str], bool] | None = None,
                stats: NearStats | None = None) -> list[Group]:
    """Groups of the same picture stored differently, holding at least two different contents.

    A pair of contents is a candidate when their perceptual hashes are at most ``max_distance``
    bits apart, or when ``neighbours`` (id, id, cosine), e.g. from
    :func:`neighbour_candidates`, offers it at ``min_cosine`` or more. Given ``thumbnails``
    (image id -> thumbnail bytes, None when there is none), a candidate from either source is
    a copy only when :func:`daguerre.indexer.near_copy.compare` finds the same picture in both
    thumbnails, and an image without a thumbnail is nobody's copy. Without ``thumbnails`` the
    hash alone decides (for callers that have no pixels), and ``neighbours`` are refused: an
    embedding alone cannot tell a copy from a picture of the same thing. Images without a
    perceptual hash take no part.

    ``verdicts`` keeps the pixel checks' outcomes by the (keeper, copy) contents' SHA-256s, to
    reuse on a later run with the same mapping; a kept verdict counts only while both
    thumbnails are still there. ``stats``, when given, is filled in.

    Groups form around keepers (:func:`around_keepers`): every member is a copy of the group's
    keeper itself, so pictures never join through a chain of look-alikes, whichever source
    offered the pairs. ``distance`` is the largest perceptual-hash distance (bits) from the
    keeper to a member, for a member the embedding offered too, so it reads the same whatever
    the source: a member beyond ``max_distance`` came through its embedding.
    """
    _check(candidates)
    if not 0 <= max_distance <= 64:
        raise ValueError(f"max_distance must be between 0 and 64 bits, got {max_distance}")
    offered = list(neighbours)
    if offered and thumbnails is None:
        raise ValueError("neighbours need thumbnails: an embedding pair is a candidate only, "
                         "confirmed by the two thumbnails' pixels")
    stats = stats if stats is not None else NearStats()
    # One node per content: byte-identical copies share their hash and are the exact tier's.
    contents: dict[str, list[Candidate]] = {}
    for c in candidates:
        if c.phash:
            contents.setdefault(c.sha256, []).append(c)
    reps = sorted(contents.values(), key=lambda cs: min(_keeper_key(c) for c in cs))
    if len(reps) < 2:
        return []
    bits = phash_bits([cs[0].phash for cs in reps])  # type: ignore[misc]
    near: dict[int, dict[int, int]] = {}
    for i, j, d in hamming_pairs(bits, max_distance):
        near.setdefault(i, {})[j] = d
        near.setdefault(j, {})[i] = d
    stats.hash_pairs = sum(map(len, near.values())) // 2
    node_of = {c.id: k for k, cs in enumerate(reps) for c in cs}
    hashes = [int(cs[0].phash, 16) for cs in reps]  # type: ignore[arg-type]
    for a, b, cos in offered:
        i, j = node_of.get(a), node_of.get(b)
        if cos < min_cosine or i is None or j is None or i == j or j in near.get(i, {}):
            continue
        d = (hashes[i] ^ hashes[j]).bit_count()
        near.setdefault(i, {})[j] = d
        near.setdefault(j, {})[i] = d
        stats.neighbour_pairs += 1
    layouts = _Layouts(thumbnails) if thumbnails is not None else None

    def confirmed(keeper: int, node: int) -> bool:
        assert layouts is not None
        a_id, b_id = reps[keeper][0].id, reps[node][0].id
        key = (reps[keeper][0].sha256, reps[node][0].sha256)
        kept = verdicts.get(key) if verdicts is not None else None
        if kept is not None:
            stats.reused += 1
            return kept and layouts.present(a_id) and layouts.present(b_id)
        a, b = layouts.get(a_id), layouts.get(b_id)
        if a is None or b is None:  # not kept: the thumbnail may come back
            return False
        stats.checks += 1
        same = near_copy.compare(a, b).same
        if verdicts is not None:
            verdicts[key] = same
        return same

    def copies_of(keeper: int, free: set[int]) -> list[tuple[int, float]]:
        out = []
        for node, d in sorted(near.get(keeper, {}).items()):
            if node in free and (layouts is None or confirmed(keeper, node)):
                out.append((node, float(d)))
        return out

    groups = []
    for keeper, taken in around_keepers(range(len(reps)), copies_of):
        members = [c for k in [keeper, *(n for n, _ in taken)] for c in reps[k]]
        groups.append(Group("near", tuple(sorted(c.id for c in members)), keeper_of(members),
                            max(d for _, d in taken)))
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
                   duplicates: Sequence[Group] = (), *,
                   vectors: Callable[[Sequence[int]], Mapping[int, np.ndarray]] | None = None
                   ) -> list[Group]:
    """Groups of visually similar images from (id, id, cosine) pairs.

    ``duplicates`` (exact and near groups) are collapsed to their keepers first: a similar group
    lists distinct pictures, and never only copies of one picture.

    The pairs at or above ``min_cosine`` link images into candidate sets; each set is then split
    around keepers (:func:`around_keepers`), so every member is at least ``min_cosine`` from the
    group's keeper itself, not only from another member. ``vectors`` (ids -> {id: embedding}
    for those it holds) lets that be checked exactly for every member of a set; without it, or
    for an image it lacks, only the given pairs count.
    """
    _check(candidates)
    by_id = {c.id: c for c in candidates}
    rep = {c.id: c.id for c in candidates}
    for g in duplicates:
        for m in g.members:
            if m in rep:
                rep[m] = g.keeper
    nodes = sorted({rep[c.id] for c in candidates}, key=lambda i: _keeper_key(by_id[i]))
    index = {n: k for k, n in enumerate(nodes)}
    uf = UnionFind(len(nodes))
    listed: dict[tuple[int, int], float] = {}
    for a, b, cos in pairs:
        if cos < min_cosine or a not in rep or b not in rep:
            continue
        ka, kb = index[rep[a]], index[rep[b]]
        if ka == kb:
            continue
        uf.union(ka, kb)
        key = (min(ka, kb), max(ka, kb))
        listed[key] = max(listed.get(key, -1.0), float(cos))
    groups = []
    for comp in uf.components():
        comp = sorted(comp)  # keeper order, since nodes are
        # The set's embeddings as rows of one matrix, so each keeper meets all its candidates
        # in one product (a chained set can hold thousands of images).
        got = dict(vectors([nodes[k] for k in comp])) if vectors is not None else {}
        row = {index[i]: r for r, i in enumerate(got)}
        mat = np.zeros((len(got), 1), np.float32)
        if got:
            mat = np.stack([np.asarray(v, dtype=np.float32) for v in got.values()])
            mat /= np.maximum(np.linalg.norm(mat, axis=1, keepdims=True), 1e-12)

        def similar_to(keeper: int, free: set[int], row: dict[int, int] = row,
                       mat: np.ndarray = mat) -> list[tuple[int, float]]:
            ks = sorted(free)  # around_keepers offers this set's own nodes only
            cos = np.array([listed.get((keeper, k), -1.0) for k in ks])
            if keeper in row:
                have = [n for n, k in enumerate(ks) if k in row]
                cos[have] = mat[[row[ks[n]] for n in have]] @ mat[row[keeper]]
            return [(k, 1.0 - float(c)) for k, c in zip(ks, cos, strict=True) if c >= min_cosine]

        for keeper, taken in around_keepers(comp, similar_to):
            ids = tuple(sorted(nodes[k] for k in [keeper, *(n for n, _ in taken)]))
            groups.append(Group("similar", ids, nodes[keeper],
                                round(max(max(d for _, d in taken), 0.0), 6)))
    return sorted(groups, key=lambda g: g.members)


def find_groups(candidates: Sequence[Candidate], *, tiers: Sequence[Tier] = TIERS,
                vectors: np.ndarray | None = None,
                similar_pairs: Iterable[tuple[int, int, float]] | None = None,
                near_max_distance: int = NEAR_MAX_DISTANCE,
                similar_min_cosine: float = SIMILAR_MIN_COSINE,
                thumbnails: Callable[[int], bytes | None] | None = None,
                vector_lookup: Callable[[Sequence[int]], Mapping[int, np.ndarray]] | None = None,
                near_neighbours: Iterable[tuple[int, int, float]] = (),
                near_min_cosine: float = NEAR_MIN_COSINE,
                verdicts: MutableMapping[tuple[str, str], bool] | None = None,
                near_stats: NearStats | None = None
                ) -> list[Group]:
    """Every group of the requested tiers, exact first, then near, then similar.

    For the similar tier give either ``vectors`` (one row per candidate, compared exactly) or
    ``similar_pairs`` as (id, id, cosine) — e.g. from a vector index's nearest neighbours, which
    scales to large libraries — with ``vector_lookup`` (ids -> {id: embedding}) to check each
    member against its keeper exactly. ``thumbnails`` (id -> thumbnail bytes or None) confirms
    near copies by their pixels; ``near_neighbours`` (id, id, cosine) adds embedding candidates
    to the hash's, kept at ``near_min_cosine`` or more; ``verdicts`` and ``near_stats`` are
    :func:`near_groups`'. The near tier is also worked out when only the similar tier is asked
    for, since near copies are collapsed before similar pictures are grouped.
    """
    unknown = [t for t in tiers if t not in TIERS]
    if unknown:
        raise ValueError(f"unknown tier {unknown[0]!r}; tiers are {', '.join(TIERS)}")
    exact = exact_groups(candidates)
    near: list[Group] = []
    if "near" in tiers or "similar" in tiers:
        near = near_groups(candidates, near_max_distance, thumbnails=thumbnails,
                           neighbours=near_neighbours, min_cosine=near_min_cosine,
                           verdicts=verdicts, stats=near_stats)
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
        if vectors is not None and vector_lookup is None and len(vectors) == len(candidates):
            row = {c.id: k for k, c in enumerate(candidates)}
            table = np.asarray(vectors)

            def vector_lookup(ids: Sequence[int]) -> Mapping[int, np.ndarray]:
                return {i: table[row[i]] for i in ids if i in row}

        out += similar_groups(candidates, similar_pairs, similar_min_cosine, exact + near,
                              vectors=vector_lookup)
    return out
