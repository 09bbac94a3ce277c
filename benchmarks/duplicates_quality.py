"""Near-duplicate quality: are copies found, and do different pictures stay apart?

Three libraries, each picture with three copies (resized to 40-80 %, re-encoded as JPEG at quality
60-90, cropped by 1-3 % and re-encoded), decoded as indexing does (SHA-256, 256-pixel thumbnail,
perceptual hash):

- simple graphics (tests/support/simple_graphics.py): a flat background and one to three flat
  shapes, in families of pictures built to sit a few pHash bits apart (a shape recoloured,
  swapped, moved, added or removed; the background changed);
- photographs: the eight scikit-image sample photographs of benchmarks/index_throughput.py,
  each in up to 22 framings (whole, 70 % and 50 % crops at five places, mirrored or not), tinted
  and given grain as its generator does, at 800x600;
- screenshots of text (a title bar and lines of words; two differ by their words only), the
  known weak spot of a check made at thumbnail size.

For each, the ``near`` tier by the old rule (pHash pairs within 8 bits, joined into connected
components; kept here only for this comparison) and by the current one (the same candidates,
each confirmed by the thumbnails' pixels, grouped around keepers), at the default radius and
wider ones: recall of copies (a copy counts when it is in its original's group), by kind of
copy; groups; wrong groups (holding two different pictures, originals or copies); candidate
pairs from the hash and from embedding neighbours; pixel checks; CPU seconds of the grouping.

Then, on the graphics' candidate pairs (pHash within 12 bits) between copies and their original
and between different pictures: how many copies each second signal confirms at the strictest
threshold that still confirms no different pair: difference, wavelet and colour hashes (the
thumbnail's, by ``imagehash``) and the pixel check.

``--clip`` embeds every thumbnail of the three libraries with the shapes CLIP the tests train
(trained once, about a minute, then cached; the only embedding there is offline) and adds:

- rows of the current rule with embedding candidates as the service makes them: each image's
  exact nearest neighbours (``SEARCH_K`` asked, as the store is), its first ``NEAR_NEIGHBOURS``
  of other contents (``--neighbours`` for others) at ``NEAR_MIN_COSINE`` or more
  (``neighbour_candidates``); then the same run again with the first run's pixel-check
  verdicts kept, as the service keeps them;
- the same on each library's originals alone (no copies at all), where every neighbour is a
  different picture: what the embedding adds in pixel checks, and any group is wrong;
- how far each copy the hash misses sits from its original in the embedding (its cosine, and
  its rank among the neighbours of other contents);
- the embedding cosine of copies and of different graphics in the graphics' candidate pairs;
  and, on generated shapes, how far the ``similar`` tier's members sit from their keeper when
  groups are linked by chains (the old rule) and around keepers (the current).

Usage: python benchmarks/duplicates_quality.py [--families 80] [--photos 120] [--screens 60]
       [--radii 8,12,16] [--clip] [--neighbours 3,5]
"""

from __future__ import annotations

import argparse
import io
import platform
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(REPO / "benchmarks"))

from index_throughput import PHOTOS, _photo  # noqa: E402

from daguerre.indexer import duplicates as dup  # noqa: E402
from daguerre.indexer import near_copy  # noqa: E402
from daguerre.indexer.decode import DecodeOptions, decode_bytes  # noqa: E402
from daguerre.platform.services.duplicates import SEARCH_K  # noqa: E402
from tests.support import simple_graphics as sg  # noqa: E402

KINDS = ("resized", "jpeg", "cropped")


@dataclass
class Library:
    name: str
    candidates: list[dup.Candidate]
    thumbnails: dict[int, bytes]
    original_of: dict[int, int]  # copy id -> original id
    kind_of: dict[int, str]  # copy id -> kind of copy
    embeddings: np.ndarray | None = None  # (n, d) unit rows, row i for candidate id i (--clip)


def _add(lib: Library, img: Image.Image, data: bytes, rng: np.random.Generator,
         opts: DecodeOptions) -> None:
    """``data`` (the encoded ``img``) as an original, and its three copies."""
    orig = len(lib.candidates)
    for kind, blob in [("original", data), *sg.copies(img, rng).items()]:
        i = len(lib.candidates)
        d = decode_bytes(blob, f"{i}", opts)
        lib.candidates.append(dup.Candidate(i, d.sha256, d.phash, d.width, d.height,
                                            float(kind != "original")))
        lib.thumbnails[i] = d.thumbnail
        if kind != "original":
            lib.original_of[i] = orig
            lib.kind_of[i] = kind


def graphics_library(families: int, per_family: int, seed: int) -> Library:
    lib = Library("simple graphics", [], {}, {}, {})
    rng, opts = np.random.default_rng(seed), DecodeOptions(pixel_stage=None)
    for fam in sg.families(families, per_family, seed):
        for g in fam:
            img = sg.draw(g)
            _add(lib, img, sg.encode(img), rng, opts)
    return lib


# Framings of one photograph, each more than a 5 % crop away from every other: (fraction of the
# photograph kept, where the crop sits (0: left/top, 1: right/bottom), mirrored).
VIEWS = ([(1.0, 0.5, 0.5, flip) for flip in (False, True)]
         + [(frac, ax, ay, flip) for frac in (0.7, 0.5)
            for ax, ay in ((0.5, 0.5), (0, 0), (1, 0), (0, 1), (1, 1)) for flip in (False, True)])


def photo_library(count: int, seed: int) -> Library:
    """``count`` photographs: framings of index_throughput.py's sample photographs, tinted and
    given grain as its generator does, at 800x600. Its own generator (make_set) draws framings
    at random, so two of its photos can be the same framing, which would be right to group;
    these framings are distinct by construction, so any group of two is wrong."""
    lib = Library("photographs", [], {}, {}, {})
    rng, opts = np.random.default_rng(seed), DecodeOptions(pixel_stage=None)
    sources: list[Image.Image] = []
    for name in PHOTOS:  # scikit-image's "cat" is "chelsea" again: one photograph, once
        img = _photo(name)
        if not any(img.size == s.size and img.tobytes() == s.tobytes() for s in sources):
            sources.append(img)
    if count > len(VIEWS) * len(sources):
        raise SystemExit(f"--photos is at most {len(VIEWS) * len(sources)}")
    for k in range(count):
        src = sources[k % len(sources)]
        frac, ax, ay, flip = VIEWS[k // len(sources)]
        cw, ch = int(src.width * frac), int(src.height * frac)
        x, y = int((src.width - cw) * ax), int((src.height - ch) * ay)
        img = src.crop((x, y, x + cw, y + ch)).resize((800, 600), Image.Resampling.BICUBIC)
        if flip:
            img = img.transpose(Image.Transpose.FLIP_LEFT_RIGHT)
        arr = np.asarray(img, dtype=np.float32)
        arr = arr * rng.uniform(0.8, 1.2, 3) + rng.normal(0, 6, arr.shape)  # tint + grain
        img = Image.fromarray(np.clip(arr, 0, 255).astype(np.uint8))
        data = sg.encode(img, "JPEG", quality=int(rng.integers(85, 95)))
        _add(lib, img, data, rng, opts)
    return lib


def screens_library(count: int, seed: int) -> Library:
    """``count`` screenshots of text (tests/support/simple_graphics.py's text_screen)."""
    lib = Library("text screenshots", [], {}, {}, {})
    rng, opts = np.random.default_rng(seed), DecodeOptions(pixel_stage=None)
    for _ in range(count):
        img = sg.text_screen(rng)
        _add(lib, img, sg.encode(img), rng, opts)
    return lib


def old_near_groups(candidates: list[dup.Candidate], max_distance: int = 8) -> list[dup.Group]:
    """The rule before issue 13: pHash pairs within ``max_distance`` bits, joined into connected
    components (so a chain of look-alikes joins pictures that are not alike)."""
    contents: dict[str, list[dup.Candidate]] = {}
    for c in candidates:
        contents.setdefault(c.sha256, []).append(c)
    reps = list(contents.values())
    uf = dup.UnionFind(len(reps))
    for i, j, _ in dup.hamming_pairs(dup.phash_bits([cs[0].phash for cs in reps]),
                                     max_distance):
        uf.union(i, j)
    groups = []
    for comp in uf.components():
        members = [c for k in comp for c in reps[k]]
        groups.append(dup.Group("near", tuple(sorted(c.id for c in members)),
                                dup.keeper_of(members)))
    return groups


def score(lib: Library, groups: list[dup.Group]) -> dict[str, float]:
    group_of = {m: g for g in groups for m in g.members}
    found = {k: 0 for k in KINDS}
    total = {k: 0 for k in KINDS}
    for copy, orig in lib.original_of.items():
        kind = lib.kind_of[copy]
        total[kind] += 1
        found[kind] += copy in group_of and orig in group_of[copy].members
    wrong = sum(1 for g in groups if len({lib.original_of.get(m, m) for m in g.members}) > 1)
    out = {f"recall {k}": found[k] / max(total[k], 1) for k in KINDS}
    out["recall"] = sum(found.values()) / max(sum(total.values()), 1)
    out.update(groups=len(groups), wrong=wrong)
    return out


def neighbour_rows(lib: Library, ids: list[int]) -> list[tuple[int, list[int], list[float]]]:
    """Each of ``ids``' exact nearest neighbours among ``ids`` (itself included), best first,
    ties by id, ``SEARCH_K`` of them: what the service asks the vector store for."""
    assert lib.embeddings is not None
    emb = lib.embeddings[ids]
    sims = emb @ emb.T
    k = min(SEARCH_K, len(ids))
    arr = np.asarray(ids)
    rows = []
    for r in range(len(ids)):
        top = np.lexsort((arr, -sims[r]))[:k]
        rows.append((ids[r], arr[top].tolist(), sims[r, top].tolist()))
    return rows


def neighbour_pairs(lib: Library, ids: list[int], k: int) -> list[tuple[int, int, float]]:
    content = {i: lib.candidates[i].sha256 for i in ids}
    return dup.neighbour_candidates(neighbour_rows(lib, ids), content, k, dup.NEAR_MIN_COSINE)


def timed(candidates: list[dup.Candidate], radius: int, lib: Library,
          neighbours: list[tuple[int, int, float]] | None = None,
          verdicts: dict[tuple[str, str], bool] | None = None
          ) -> tuple[list[dup.Group], dup.NearStats, float]:
    stats = dup.NearStats()
    t0 = time.process_time()
    groups = dup.near_groups(candidates, radius, thumbnails=lib.thumbnails.get,
                             neighbours=neighbours or (), verdicts=verdicts, stats=stats)
    return groups, stats, time.process_time() - t0


def row(lib: Library, rule: str, radius: int, images: int, groups: list[dup.Group],
        hash_pairs: int, neighbour_pairs: int | str, checks: int | str, cpu: float) -> str:
    s = score(lib, groups)
    return (f"| {lib.name} | {rule} | {radius} | {images} | "
            f"{s['recall']:.4f} | {s['recall resized']:.4f} | {s['recall jpeg']:.4f} | "
            f"{s['recall cropped']:.4f} | {s['groups']} | {s['wrong']} | {hash_pairs} | "
            f"{neighbour_pairs} | {checks} | {cpu:.2f} |")


def run_rules(lib: Library, radii: list[int], ks: list[int]) -> list[str]:
    rows = []
    n = len(lib.candidates)
    bits = dup.phash_bits([c.phash for c in lib.candidates])
    t0 = time.process_time()
    groups = old_near_groups(lib.candidates, dup.NEAR_MAX_DISTANCE)
    cpu = time.process_time() - t0
    rows.append(row(lib, "before: pHash only, chained", dup.NEAR_MAX_DISTANCE, n, groups,
                    len(dup.hamming_pairs(bits, dup.NEAR_MAX_DISTANCE)), "", 0, cpu))
    for radius in radii:
        groups, st, cpu = timed(lib.candidates, radius, lib)
        rows.append(row(lib, "after: pixel-checked, around keepers", radius, n, groups,
                        st.hash_pairs, "", st.checks, cpu))
    if lib.embeddings is None:
        return rows
    everyone = [c.id for c in lib.candidates]
    for k in ks:
        pairs = neighbour_pairs(lib, everyone, k)
        for radius in radii:
            verdicts: dict[tuple[str, str], bool] = {}
            groups, st, cpu = timed(lib.candidates, radius, lib, pairs, verdicts)
            rule = f"after + embedding neighbours (k={k}, cos >= {dup.NEAR_MIN_COSINE})"
            rows.append(row(lib, rule, radius, n, groups, st.hash_pairs, st.neighbour_pairs,
                            st.checks, cpu))
            again, st2, cpu2 = timed(lib.candidates, radius, lib, pairs, verdicts)
            assert again == groups
            rows.append(row(lib, "the same again, verdicts kept", radius, n, again,
                            st2.hash_pairs, st2.neighbour_pairs,
                            f"{st2.checks} ({st2.reused} kept)", cpu2))
    return rows


def originals_only(lib: Library, ks: list[int]) -> list[str]:
    """The near tier on the library's originals alone: every group is wrong, and every
    neighbour pair is a different picture for the pixel check to refuse."""
    ids = [c.id for c in lib.candidates if c.id not in lib.original_of]
    cands = [lib.candidates[i] for i in ids]
    radius = dup.NEAR_MAX_DISTANCE
    groups, st, cpu = timed(cands, radius, lib)
    rows = [f"| {lib.name} | hash only | {len(ids)} | {len(groups)} | {st.hash_pairs} | | "
            f"{st.checks} | {cpu:.2f} |"]
    for k in ks:
        groups, st, cpu = timed(cands, radius, lib, neighbour_pairs(lib, ids, k))
        rows.append(f"| {lib.name} | + embedding neighbours (k={k}) | {len(ids)} | "
                    f"{len(groups)} | {st.hash_pairs} | {st.neighbour_pairs} | {st.checks} | "
                    f"{cpu:.2f} |")
    return rows


def hash_misses(lib: Library) -> list[str]:
    """Each copy beyond the default radius: its hash distance, cosine and rank (among the
    neighbours of other contents, either way round) to its original."""
    assert lib.embeddings is not None
    emb = lib.embeddings
    out = []
    for copy, orig in sorted(lib.original_of.items()):
        a, b = lib.candidates[copy], lib.candidates[orig]
        bits = (int(a.phash or "0", 16) ^ int(b.phash or "0", 16)).bit_count()
        if bits <= dup.NEAR_MAX_DISTANCE:
            continue
        ranks = []
        for q, t in ((copy, orig), (orig, copy)):
            sims = emb @ emb[q]
            others = [j for j in np.lexsort((np.arange(len(emb)), -sims)).tolist()
                      if lib.candidates[j].sha256 != lib.candidates[q].sha256]
            ranks.append(others.index(t) + 1)
        out.append(f"| {lib.name} | {lib.kind_of[copy]} | {bits} | {float(emb[copy] @ emb[orig]):.3f} "
                   f"| {min(ranks)} |")
    return out


def candidate_pairs(lib: Library, radius: int) -> tuple[list[tuple[int, int]],
                                                         list[tuple[int, int]]]:
    """Pairs of one picture (an original and a copy, or two copies) and pairs of different
    originals, within ``radius`` bits."""
    bits = dup.phash_bits([c.phash for c in lib.candidates])
    copies, different = [], []
    for i, j, _ in dup.hamming_pairs(bits, radius):
        if lib.original_of.get(i, i) == lib.original_of.get(j, j):
            copies.append((i, j))
        elif i not in lib.original_of and j not in lib.original_of:
            different.append((i, j))
    return copies, different


def separable(copies: np.ndarray, different: np.ndarray) -> float:
    """The share of copies at a distance strictly below every different pair's."""
    limit = different.min() if len(different) else np.inf
    return float((copies < limit).mean()) if len(copies) else float("nan")


def second_signals(lib: Library, radius: int) -> list[str]:
    import imagehash

    copies, different = candidate_pairs(lib, radius)
    thumbs = {i: Image.open(io.BytesIO(t)).convert("RGB") for i, t in lib.thumbnails.items()}
    hashes = {
        "difference hash (dHash, 64 bits)": imagehash.dhash,
        "wavelet hash (wHash, 64 bits)": imagehash.whash,
        "colour hash (42 bits)": lambda im: imagehash.colorhash(im, binbits=3),
    }
    rows = []
    for name, fn in hashes.items():
        h = {}
        for i in {k for p in copies + different for k in p}:
            h[i] = fn(thumbs[i])
        c = np.array([h[a] - h[b] for a, b in copies], dtype=float)
        d = np.array([h[a] - h[b] for a, b in different], dtype=float)
        rows.append(f"| {name} | {len(copies)} | {len(different)} | {separable(c, d):.4f} | "
                    f"{np.percentile(c, 99):.0f} | {d.min():.0f} |")
    layouts = {i: near_copy.layout(lib.thumbnails[i]) for i in {k for p in copies + different
                                                                  for k in p}}
    cmp_c = [near_copy.compare(layouts[a], layouts[b]) for a, b in copies]
    cmp_d = [near_copy.compare(layouts[a], layouts[b]) for a, b in different]
    confirmed = np.mean([c.same for c in cmp_c])
    # A different pair that aligns within the crop limit is told apart by what changed alone.
    aligned = [c.changed for c in cmp_d if max(map(abs, c.crop)) <= near_copy.MAX_CROP]
    rows.append(f"| pixel check (near_copy.compare) | {len(copies)} | {len(different)} | "
                f"{confirmed:.4f} (confirms {sum(c.same for c in cmp_d)} different) | "
                f"{np.percentile([c.changed for c in cmp_c], 99):.4f} changed | "
                f"{min(aligned, default=1.0):.4f} changed ({len(aligned)} within the crop "
                "limit) |")
    return rows


def shapes_clip() -> Any:
    """The shapes CLIP the tests train (trained once, then cached)."""
    from daguerre.indexer.models import ClipSpec, load_clip
    from tests.support.trained_clip import trained_clip

    cfg, weights = trained_clip()
    return load_clip(ClipSpec(str(cfg), str(weights)), "cpu")


def embed(lib: Library, enc: Any) -> None:
    """Every thumbnail's embedding, as unit rows (the platform embeds the decoded image; the
    thumbnail is what this benchmark keeps of it)."""
    emb = enc.encode_images([Image.open(io.BytesIO(lib.thumbnails[c.id])).convert("RGB")
                             for c in lib.candidates])
    lib.embeddings = emb / np.linalg.norm(emb, axis=1, keepdims=True)


def clip_measurements(lib: Library, radius: int, enc: Any) -> list[str]:
    """Cosines of the shapes CLIP: copies and different graphics among the candidate pairs;
    then the similar tier's chains."""
    from tests.support.trained_clip import draw_shape, random_spec

    assert lib.embeddings is not None
    copies, different = candidate_pairs(lib, radius)
    emb = lib.embeddings
    cos_c = np.array([emb[a] @ emb[b] for a, b in copies])
    cos_d = np.array([emb[a] @ emb[b] for a, b in different])
    out = ["", f"Shapes CLIP cosine over the graphics' candidate pairs (pHash within {radius}):",
           "", "| pairs | n | min | 1st percentile | median |", "|---|---:|---:|---:|---:|",
           f"| copy and original | {len(cos_c)} | {cos_c.min():.3f} | "
           f"{np.percentile(cos_c, 1):.3f} | {np.median(cos_c):.3f} |",
           f"| different pictures | {len(cos_d)} | {cos_d.min():.3f} | "
           f"{np.percentile(cos_d, 1):.3f} | {np.median(cos_d):.3f} |",
           f"| different pictures below the lowest copy ({cos_c.min():.3f}) | "
           f"{int((cos_d < cos_c.min()).sum())} | | | |"]

    rng = np.random.default_rng(4)
    specs = [random_spec(rng) for _ in range(400)]
    vecs = enc.encode_images([draw_shape(s, rng, 64) for s in specs])
    vecs /= np.linalg.norm(vecs, axis=1, keepdims=True)
    cands = [dup.Candidate(i, str(i), None, 64, 64, float(i)) for i in range(len(specs))]
    out += ["", f"Similar tier on {len(specs)} generated shapes (shapes CLIP, cosine >= "
            f"{dup.SIMILAR_MIN_COSINE}):", "",
            "| rule | groups | largest | members below the threshold to their keeper | "
            "lowest cosine inside a group | groups mixing colour-shape kinds |",
            "|---|---:|---:|---:|---:|---:|"]
    pairs = [(i, j, c) for i, j, c in dup.cosine_pairs(vecs, dup.SIMILAR_MIN_COSINE)]
    uf = dup.UnionFind(len(specs))
    for i, j, _ in pairs:
        uf.union(i, j)
    chained = [dup.Group("similar", tuple(sorted(c)), dup.keeper_of([cands[i] for i in c]))
               for c in uf.components()]
    current = dup.find_groups(cands, tiers=["similar"], vectors=vecs)
    for name, groups in (("before: chained", chained), ("after: around keepers", current)):
        below = sum(1 for g in groups for m in g.members
                    if m != g.keeper and vecs[m] @ vecs[g.keeper] < dup.SIMILAR_MIN_COSINE)
        members = sum(len(g.members) - 1 for g in groups)
        lowest = min(float((vecs[list(g.members)] @ vecs[list(g.members)].T).min())
                     for g in groups)
        mixed = sum(1 for g in groups
                    if len({(specs[m].color, specs[m].shape) for m in g.members}) > 1)
        out.append(f"| {name} | {len(groups)} | {max(len(g.members) for g in groups)} | "
                   f"{below} of {members} | {lowest:.3f} | {mixed} |")
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--families", type=int, default=80, help="graphics families")
    ap.add_argument("--per-family", type=int, default=5, help="different pictures a family")
    ap.add_argument("--photos", type=int, default=120, help="generated photographs")
    ap.add_argument("--screens", type=int, default=60, help="generated screenshots of text")
    ap.add_argument("--radii", default=f"{dup.NEAR_MAX_DISTANCE},12,16",
                    help="pHash radii for the current rule, comma-separated")
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--clip", action="store_true", help="add the shapes-CLIP measurements")
    ap.add_argument("--neighbours", default=str(dup.NEAR_NEIGHBOURS),
                    help="with --clip: embedding neighbours per image (k), comma-separated")
    args = ap.parse_args()
    radii = [int(r) for r in args.radii.split(",")]
    ks = [int(k) for k in args.neighbours.split(",")]

    print(f"machine: {platform.machine()}, Python {platform.python_version()}, "
          f"pixel check {near_copy.SIZE}px, crop <= {near_copy.MAX_CROP:.0%} a side, "
          f"changed <= {near_copy.MAX_CHANGED}")
    t0 = time.perf_counter()
    graphics = graphics_library(args.families, args.per_family, args.seed)
    photos = photo_library(args.photos, args.seed)
    screens = screens_library(args.screens, args.seed)
    libraries = (graphics, photos, screens)
    print(f"libraries generated and decoded in {time.perf_counter() - t0:.1f} s: "
          f"{len(graphics.candidates)} graphics, {len(photos.candidates)} photographs, "
          f"{len(screens.candidates)} screenshots (originals and three copies each)")
    enc = None
    if args.clip:
        t0 = time.perf_counter()
        enc = shapes_clip()
        for lib in libraries:
            embed(lib, enc)
        print(f"shapes CLIP loaded and every thumbnail embedded in "
              f"{time.perf_counter() - t0:.1f} s; neighbours: the first k of other contents "
              f"among the {SEARCH_K} nearest, at a cosine of {dup.NEAR_MIN_COSINE} or more")
    print()
    print("| library | rule | radius (bits) | images | recall | resized | jpeg | cropped | "
          "groups | wrong groups | hash pairs | neighbour pairs | pixel checks | CPU s |")
    print("|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
    for lib in libraries:
        for line in run_rules(lib, radii, ks):
            print(line)
    if args.clip:
        print()
        print(f"Originals only (no copies: every group is wrong), radius "
              f"{dup.NEAR_MAX_DISTANCE}:")
        print()
        print("| library | candidates | images | groups (all wrong) | hash pairs | "
              "neighbour pairs | pixel checks | CPU s |")
        print("|---|---|---:|---:|---:|---:|---:|---:|")
        for lib in libraries:
            for line in originals_only(lib, ks):
                print(line)
        print()
        print(f"Copies the hash misses (beyond {dup.NEAR_MAX_DISTANCE} bits) in the embedding: "
              "cosine to the original, and rank among the neighbours of other contents "
              "(the better of the two ways round)")
        print()
        print("| library | copy | hash distance | cosine | rank |")
        print("|---|---|---:|---:|---:|")
        for lib in libraries:
            for line in hash_misses(lib):
                print(line)
    print()
    print("Second signals on the graphics' candidate pairs (pHash within 12 bits): the share of "
          "copies confirmed at the strictest threshold that confirms no different pair")
    print()
    print("| signal | copy pairs | different pairs | copies confirmed | copies' 99th "
          "percentile | closest different pair |")
    print("|---|---:|---:|---:|---:|---:|")
    for line in second_signals(graphics, 12):
        print(line)
    if enc is not None:
        for line in clip_measurements(graphics, 12, enc):
            print(line)


if __name__ == "__main__":
    main()
