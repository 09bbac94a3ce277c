"""Duplicate tiers on real pictures: resized and re-compressed copies are found, distinct pictures
never group, and similar pictures are never reported as duplicates."""

from __future__ import annotations

import hashlib
import io

import numpy as np
import pytest
from PIL import Image

from daguerre.indexer.decode import DecodeOptions, decode_bytes
from daguerre.indexer.duplicates import (
    NEAR_MAX_DISTANCE,
    Candidate,
    exact_groups,
    find_groups,
    group_id,
    hamming_pairs,
    keeper_of,
    near_groups,
    phash_bits,
    similar_groups,
)
from tests.support.trained_clip import draw_shape, random_spec

SKIMAGE_PHOTOS = ("astronaut", "camera", "coffee", "chelsea", "rocket", "hubble_deep_field",
                  "immunohistochemistry", "page", "text", "moon", "horse", "retina", "coins",
                  "grass", "gravel", "brick", "colorwheel", "logo", "clock", "microaneurysms",
                  "cell")


def _rgb(array: np.ndarray) -> Image.Image:
    if array.dtype == bool:
        array = array.astype(np.uint8) * 255
    elif array.dtype != np.uint8:
        array = (array / max(float(array.max()), 1e-9) * 255).astype(np.uint8)
    return Image.fromarray(array).convert("RGB")


@pytest.fixture(scope="module")
def originals() -> list[tuple[str, Image.Image]]:
    """Distinct pictures: scikit-image's sample photos plus generated shapes."""
    import skimage.data

    out = []
    for name in SKIMAGE_PHOTOS:
        img = _rgb(getattr(skimage.data, name)())
        img.thumbnail((320, 320))  # plenty for a 32x32 hash, and quick to re-encode
        out.append((name, img))
    rng = np.random.default_rng(11)
    out += [(f"shape{i}", draw_shape(random_spec(rng), rng, 192)) for i in range(20)]
    return out


def _encode(img: Image.Image, fmt: str = "PNG", **kw: object) -> bytes:
    buf = io.BytesIO()
    img.save(buf, fmt, **kw)
    return buf.getvalue()


def _candidate(i: int, data: bytes, when: float = 0.0) -> Candidate:
    d = decode_bytes(data, f"{i}.img", DecodeOptions(pixel_stage=None, thumbnail_size=64))
    return Candidate(i, d.sha256, d.phash, d.width, d.height, when)


def test_resized_and_recompressed_copies_are_found_and_distinct_pictures_never_group(
        originals: list[tuple[str, Image.Image]]) -> None:
    cands: list[Candidate] = []
    truth: dict[int, int] = {}  # copy id -> original id
    next_id = 0
    for _name, img in originals:
        orig_id = next_id
        cands.append(_candidate(orig_id, _encode(img), when=1.0))
        next_id += 1
        w, h = img.size
        copies = [
            _encode(img.resize((w // 2, h // 2), Image.Resampling.LANCZOS)),
            _encode(img, "JPEG", quality=60),
            _encode(img.resize((w * 2 // 3, h * 2 // 3), Image.Resampling.BILINEAR), "JPEG",
                    quality=75),
            _encode(img, "WEBP", quality=70),
        ]
        for data in copies:
            cands.append(_candidate(next_id, data, when=2.0))
            truth[next_id] = orig_id
            next_id += 1

    groups = near_groups(cands)
    group_of = {m: g for g in groups for m in g.members}
    found = sum(1 for copy, orig in truth.items()
                if copy in group_of and orig in group_of[copy].members)
    recall = found / len(truth)
    print(f"near-duplicate recall: {recall:.3f} ({found}/{len(truth)} copies)")
    assert recall >= 0.95
    # No group mixes two originals: distinct pictures never become duplicates.
    originals_per_group = [sum(1 for m in g.members if m not in truth) for g in groups]
    assert max(originals_per_group) == 1
    # Each group's keeper is the full-size original (largest resolution).
    for g in groups:
        assert g.keeper not in truth


def test_slightly_cropped_photos_are_found(originals: list[tuple[str, Image.Image]]) -> None:
    # A 2% crop moves the DCT grid; textures (grass, gravel, brick) change their hash the most.
    # Photographs with structure survive it.
    photos = [img for name, img in originals if name in {
        "astronaut", "camera", "coffee", "chelsea", "rocket", "moon", "horse", "coins", "clock",
        "page", "text"}]
    cands = []
    for k, img in enumerate(photos):
        w, h = img.size
        dx, dy = int(w * 0.02), int(h * 0.02)
        cands.append(_candidate(2 * k, _encode(img)))
        cands.append(_candidate(2 * k + 1, _encode(img.crop((dx, dy, w - dx, h - dy)), "JPEG",
                                                     quality=85)))
    groups = near_groups(cands)
    pairs = {g.members for g in groups}
    found = sum(1 for k in range(len(photos)) if (2 * k, 2 * k + 1) in pairs)
    print(f"2% crop recall: {found}/{len(photos)}")
    assert found / len(photos) >= 0.8
    assert all(len(g.members) == 2 for g in groups)


def test_exact_tier_groups_identical_bytes_only() -> None:
    a = Candidate(1, "aa", "0" * 16, 10, 10, 5.0)
    b = Candidate(2, "aa", "0" * 16, 10, 10, 3.0)
    c = Candidate(3, "bb", "0" * 16, 10, 10, 1.0)
    groups = exact_groups([a, b, c])
    assert [g.members for g in groups] == [(1, 2)]
    assert groups[0].keeper == 2  # same size: the older one
    # c has the same perceptual hash but other bytes: a near group of two contents, not exact.
    near = near_groups([a, b, c])
    assert [g.members for g in near] == [(1, 2, 3)]


def test_near_groups_need_two_contents() -> None:
    a = Candidate(1, "aa", "f0f0f0f0f0f0f0f0", 10, 10, 0.0)
    b = Candidate(2, "aa", "f0f0f0f0f0f0f0f0", 10, 10, 0.0)
    assert near_groups([a, b]) == []  # byte copies only: that is the exact tier


def test_threshold_is_inclusive_and_bounded() -> None:
    base = int("0123456789abcdef", 16)
    flipped = base ^ ((1 << NEAR_MAX_DISTANCE) - 1)  # exactly NEAR_MAX_DISTANCE bits differ
    too_far = base ^ ((1 << (NEAR_MAX_DISTANCE + 1)) - 1)
    a = Candidate(1, "a", f"{base:016x}", 10, 10, 0.0)
    b = Candidate(2, "b", f"{flipped:016x}", 10, 10, 0.0)
    c = Candidate(3, "c", f"{too_far:016x}", 10, 10, 0.0)
    assert [g.members for g in near_groups([a, b])] == [(1, 2)]
    assert near_groups([a, c]) == []
    with pytest.raises(ValueError, match="between 0 and 64"):
        near_groups([a, b], max_distance=65)


@pytest.mark.parametrize("max_distance", [2, 6, 8, 11])
def test_hamming_pairs_match_bruteforce(max_distance: int) -> None:
    rng = np.random.default_rng(0)
    ints = [int(x) for x in rng.integers(0, 2**63, 400, dtype=np.int64)]
    # planted neighbours 1..max_distance+2 bits away, some in the top bit
    for k, h in enumerate(ints[:120]):
        flips = rng.choice(64, size=1 + k % (max_distance + 2), replace=False)
        ints.append(h ^ sum(1 << int(b) for b in flips))
    bits = phash_bits([f"{h:016x}" for h in ints])
    got = hamming_pairs(bits, max_distance)
    want = sorted((i, j, bin(ints[i] ^ ints[j]).count("1")) for i in range(len(ints))
                  for j in range(i + 1, len(ints))
                  if bin(ints[i] ^ ints[j]).count("1") <= max_distance)
    assert got == want
    assert len(want) >= 30


def test_keeper_is_largest_then_oldest_then_lowest_id() -> None:
    small_old = Candidate(1, "a", None, 100, 100, 1.0)
    big_new = Candidate(2, "b", None, 200, 100, 9.0)
    big_old = Candidate(3, "c", None, 100, 200, 5.0)
    assert keeper_of([small_old, big_new, big_old]) == 3
    twin = Candidate(4, "d", None, 100, 200, 5.0)
    assert keeper_of([twin, big_old]) == 3


def test_group_ids_are_stable_and_depend_on_members() -> None:
    assert group_id("near", [3, 1, 2]) == group_id("near", (1, 2, 3))
    assert group_id("near", [1, 2]) != group_id("near", [1, 2, 3])
    assert group_id("near", [1, 2]) != group_id("exact", [1, 2])
    assert group_id("similar", [1, 2]).startswith("s")


def test_similar_tier_collapses_duplicates_and_never_reports_them() -> None:
    rng = np.random.default_rng(3)
    base = rng.normal(size=16).astype(np.float32)
    other = rng.normal(size=16).astype(np.float32)
    vecs = np.stack([base, base + 0.01, base + 0.3 * rng.normal(size=16), other])
    cands = [Candidate(1, "a", "0000000000000000", 400, 300, 1.0),
             Candidate(2, "b", "0000000000000001", 200, 150, 2.0),  # near copy of 1
             Candidate(3, "c", "ffffffffffffffff", 400, 300, 3.0),  # similar picture
             Candidate(4, "d", "0f0f0f0f0f0f0f0f", 400, 300, 4.0)]  # unrelated
    groups = find_groups(cands, vectors=vecs, similar_min_cosine=0.8)
    by_tier = {t: [g.members for g in groups if g.tier == t] for t in ("exact", "near", "similar")}
    assert by_tier == {"exact": [], "near": [(1, 2)], "similar": [(1, 3)]}
    # Only the near tier when asked.
    assert [g.tier for g in find_groups(cands, tiers=["near"])] == ["near"]
    with pytest.raises(ValueError, match="unknown tier"):
        find_groups(cands, tiers=["fuzzy"])


def test_similar_pairs_below_threshold_are_ignored() -> None:
    cands = [Candidate(i, str(i), None, 10, 10, 0.0) for i in (1, 2, 3)]
    groups = similar_groups(cands, [(1, 2, 0.95), (2, 3, 0.5)], min_cosine=0.9)
    assert [g.members for g in groups] == [(1, 2)]


def test_sha_of_candidate_matches_file_bytes() -> None:
    data = _encode(Image.new("RGB", (8, 8), "red"))
    assert _candidate(1, data).sha256 == hashlib.sha256(data).hexdigest()
