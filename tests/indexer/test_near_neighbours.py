"""Embedding neighbours as a second source of near-duplicate candidates: a crop whose perceptual
hash moved beyond the radius is found when its embedding pair is offered, still only once its
pixels confirm it; a different picture offered the same way is refused; pairs from either source
never chain pictures together; and kept pixel-check verdicts are reused, but never for an image
whose thumbnail is gone."""

from __future__ import annotations

import pytest
from PIL import Image

from daguerre.indexer.decode import DecodeOptions, decode_bytes
from daguerre.indexer.duplicates import (
    NEAR_MAX_DISTANCE,
    NEAR_MIN_COSINE,
    Candidate,
    NearStats,
    find_groups,
    near_groups,
    neighbour_candidates,
)
from tests.support import simple_graphics as sg

# A lone flat rectangle near a corner: cutting 2 % off the bottom moves its pHash by 14 bits.
LONE = sg.Graphic((320, 240), (250, 245, 230),
                  (sg.Shape("rect", (90, 90, 90), (0.046, 0.074, 0.263, 0.425)),))
# The same rectangle moved by 15 % of the canvas: another picture.
MOVED = sg.Graphic((320, 240), (250, 245, 230),
                   (sg.Shape("rect", (90, 90, 90), (0.196, 0.224, 0.413, 0.575)),))


class Library:
    """Images as candidates, with their thumbnails (decoded as indexing does)."""

    def __init__(self) -> None:
        self.candidates: list[Candidate] = []
        self.thumbs: dict[int, bytes] = {}

    def add(self, img: Image.Image) -> int:
        i = len(self.candidates) + 1
        d = decode_bytes(sg.encode(img), f"{i}.png", DecodeOptions(pixel_stage=None))
        self.candidates.append(Candidate(i, d.sha256, d.phash, d.width, d.height, float(i)))
        self.thumbs[i] = d.thumbnail
        return i

    def bits(self, a: int, b: int) -> int:
        ha, hb = (int(self.candidates[i - 1].phash or "", 16) for i in (a, b))
        return (ha ^ hb).bit_count()


@pytest.fixture(scope="module")
def lone() -> tuple[Library, int, int, int]:
    """(library, original, its 2 % crop, the moved rectangle)."""
    lib = Library()
    img = sg.draw(LONE)
    w, h = img.size
    original = lib.add(img)
    crop = lib.add(img.crop((0, 0, w, h - 5)))
    moved = lib.add(sg.draw(MOVED))
    assert lib.bits(original, crop) > NEAR_MAX_DISTANCE  # the hash alone misses the crop
    return lib, original, crop, moved


def test_a_crop_beyond_the_hash_radius_is_found_through_its_embedding_pair(lone) -> None:
    lib, original, crop, moved = lone
    assert near_groups(lib.candidates, thumbnails=lib.thumbs.get) == []
    stats = NearStats()
    groups = near_groups(lib.candidates, thumbnails=lib.thumbs.get,
                         neighbours=[(crop, original, 0.97)], stats=stats)
    assert [g.members for g in groups] == [(original, crop)]
    assert groups[0].keeper == original
    # The distance stays the hash's, so a member beyond the radius shows how it was found.
    assert groups[0].distance == lib.bits(original, crop)
    assert (stats.hash_pairs, stats.neighbour_pairs, stats.checks) == (0, 1, 1)
    # Below the cosine, an embedding pair is no candidate.
    assert near_groups(lib.candidates, thumbnails=lib.thumbs.get,
                       neighbours=[(crop, original, NEAR_MIN_COSINE - 0.01)]) == []


def test_a_different_picture_offered_by_the_embedding_is_refused_by_its_pixels(lone) -> None:
    lib, original, crop, moved = lone
    stats = NearStats()
    groups = near_groups(lib.candidates, thumbnails=lib.thumbs.get,
                         neighbours=[(original, moved, 0.999), (crop, moved, 0.999),
                                     (original, crop, 0.97)], stats=stats)
    assert [g.members for g in groups] == [(original, crop)]
    # Both of the keeper's pairs were checked (the moved rectangle failed); the crop, taken by
    # its keeper, was not offered to the moved rectangle again.
    assert stats.checks == 2
    # Without pixels an embedding pair cannot be confirmed, so it is not taken on trust.
    with pytest.raises(ValueError, match="neighbours need thumbnails"):
        near_groups(lib.candidates, neighbours=[(original, moved, 0.999)])


def test_no_chaining_through_embedding_pairs() -> None:
    # B is A with 4 % cut off the left, C is B with 4 % more: each is a copy of the one before,
    # but C is 8 % off A, beyond the check's 5 % crop limit, so it is no copy of A.
    lib = Library()
    img = sg.draw(LONE)
    w, h = img.size
    a, b, c = lib.add(img), lib.add(img.crop((13, 0, w, h))), lib.add(img.crop((26, 0, w, h)))
    # Radius 0: only the embedding offers pairs (each pair's hashes differ).
    assert min(lib.bits(a, b), lib.bits(b, c), lib.bits(a, c)) > 0
    chain = [(a, b, 0.99), (b, c, 0.99)]
    assert [g.members for g in near_groups(lib.candidates, 0, thumbnails=lib.thumbs.get,
                                           neighbours=chain)] == [(a, b)]
    # Offered directly, A and C are refused; B still goes with its keeper A, not with C.
    groups = near_groups(lib.candidates, 0, thumbnails=lib.thumbs.get,
                         neighbours=[*chain, (a, c, 0.99)])
    assert [g.members for g in groups] == [(a, b)]
    # Without A, B and C are one picture.
    assert [g.members for g in near_groups(lib.candidates[1:], 0, thumbnails=lib.thumbs.get,
                                           neighbours=chain)] == [(b, c)]


def test_kept_verdicts_are_reused_but_a_gone_thumbnail_still_counts(lone) -> None:
    lib, original, crop, moved = lone
    pairs = [(original, crop, 0.97), (original, moved, 0.99)]
    verdicts: dict[tuple[str, str], bool] = {}
    first = near_groups(lib.candidates, thumbnails=lib.thumbs.get, neighbours=pairs,
                        verdicts=verdicts)
    assert len(verdicts) == 2 and sorted(verdicts.values()) == [False, True]
    stats = NearStats()
    again = near_groups(lib.candidates, thumbnails=lib.thumbs.get, neighbours=pairs,
                        verdicts=verdicts, stats=stats)
    assert again == first and (stats.checks, stats.reused) == (0, 2)
    # The crop's thumbnail is gone: a kept "same" does not make it a copy.
    gone = {i: t for i, t in lib.thumbs.items() if i != crop}
    assert near_groups(lib.candidates, thumbnails=gone.get, neighbours=pairs,
                       verdicts=verdicts) == []


def test_find_groups_passes_the_neighbours_to_the_near_tier(lone) -> None:
    lib, original, crop, moved = lone
    groups = find_groups(lib.candidates, tiers=["near"], thumbnails=lib.thumbs.get,
                         near_neighbours=[(original, crop, 0.97)])
    assert [(g.tier, g.members) for g in groups] == [("near", (original, crop))]
    # The exact tier alone never looks at pixels, so it needs no thumbnails for neighbours.
    assert find_groups(lib.candidates, tiers=["exact"],
                       near_neighbours=[(original, crop, 0.97)]) == []


def test_neighbour_candidates_skip_the_image_itself_and_its_byte_copies() -> None:
    content = {1: "a", 2: "a", 3: "b", 4: "c", 5: "d", 6: "e"}
    rows = [(1, [1, 2, 3, 4, 5, 6], [1.0, 1.0, 0.97, 0.95, 0.91, 0.99]),
            (3, [3, 9, 1, 6], [1.0, 0.99, 0.8, 0.5])]
    # Image 1: its byte copy 2 takes no place; 3, 4 and 5 are its first three others.
    # Image 3: 9 is not a candidate (unknown id); 1 is below the cosine.
    assert neighbour_candidates(rows, content, k=3, min_cosine=0.9) == [
        (1, 3, 0.97), (1, 4, 0.95), (1, 5, 0.91)]
    assert neighbour_candidates(rows, content, k=1, min_cosine=0.96) == [(1, 3, 0.97)]
    with pytest.raises(ValueError, match="k must be at least 0, got -1"):
        neighbour_candidates(rows, content, k=-1)
