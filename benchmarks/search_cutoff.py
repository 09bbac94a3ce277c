"""Relevance cut-off: does `--cutoff auto` keep what matches a query and stop there?

With the trained shapes CLIP the tests use (tests/support/trained_clip.py: trained once, cached),
on libraries of generated shapes (other seeds than training; each colour-shape pair appears a
random number of times, --per-pair-min to --per-pair-max), every query is ranked against the
library, as `daguerre search` ranks its pool (the libraries are smaller than the service's pool,
so the pool is the whole library), and cut:

- by each method of daguerre.indexer.cutoff (`auto` is the one the service uses);
- by every fixed threshold on a grid (--step), the same threshold for every query, and the best
  one chosen in hindsight (the single threshold with the best mean F1 over the queries compared).

The F1 of each kept set is against the truth: the images of that colour and shape ("a red
circle"), of that colour ("something red"), of that shape ("a circle"). Target (issue 13): auto's
mean F1 at least the best fixed threshold's. Usage:
python benchmarks/search_cutoff.py [--libraries 6] [--seed 909]
"""

from __future__ import annotations

import argparse
import os
import platform
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from tests.support.trained_clip import (  # noqa: E402
    BACKGROUNDS,
    COLORS,
    SHAPES,
    ShapeSpec,
    draw_shape,
    trained_clip,
)

# (kind, query, colour or None, shape or None): the phrasings the model was trained with.
QUERIES = ([("colour and shape", f"a {c} {s}", c, s) for c in COLORS for s in SHAPES]
           + [("colour", f"something {c}", c, None) for c in COLORS]
           + [("shape", f"a {s}", None, s) for s in SHAPES])
KINDS = ("colour and shape", "colour", "shape")


def library(seed: int, low: int, high: int) -> list[ShapeSpec]:
    """Each colour-shape pair ``low`` to ``high`` times, on random backgrounds."""
    rng = np.random.default_rng(seed)
    backgrounds = list(BACKGROUNDS)
    return [ShapeSpec(c, s, backgrounds[int(rng.integers(len(backgrounds)))])
            for c in COLORS for s in SHAPES for _ in range(int(rng.integers(low, high + 1)))]


def _upper_half_gap(ranked: np.ndarray) -> int:
    """The rule ``auto`` used before: the largest drop among the first half of the ranks."""
    gaps = (ranked[:-1] - ranked[1:])[:max(1, len(ranked) // 2)]
    return int(np.argmax(gaps)) + 1


def f1(kept: np.ndarray, truth: np.ndarray) -> float:
    """F1 of a kept set (boolean mask) against the truth (boolean mask); 0 when either is
    empty (no query here has an empty truth)."""
    hits = int(np.sum(kept & truth))
    total = int(kept.sum()) + int(truth.sum())
    return 2 * hits / total if total else 0.0


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--libraries", type=int, default=6, help="libraries (seeds) to average over")
    ap.add_argument("--seed", type=int, default=909, help="seed of the first library")
    ap.add_argument("--per-pair-min", type=int, default=2)
    ap.add_argument("--per-pair-max", type=int, default=20)
    ap.add_argument("--step", type=float, default=0.01, help="grid step of fixed thresholds")
    args = ap.parse_args()

    from daguerre.indexer import cutoff
    from daguerre.indexer.models import ClipSpec, load_encoder

    cfg, weights = trained_clip()
    grid = np.round(np.arange(-1.0, 1.0 + args.step / 2, args.step), 6)
    methods = {"auto": lambda s, bg: cutoff.cut(s, "auto"),
               **{m: (lambda s, bg, m=m: cutoff.cut(s, m, background=bg))
                  for m in cutoff.METHODS},
               "gap, whole ranking": lambda s, bg: cutoff.largest_gap(s, reach=None),
               "gap, upper half by rank (the old auto)":
                   lambda s, bg: cutoff.Cut(_upper_half_gap(s), None, "gap", "")}
    kinds: list[str] = []
    fixed: list[np.ndarray] = []  # per query: F1 at each grid threshold
    by_method: dict[str, list[float]] = {m: [] for m in methods}
    per_library: list[tuple[int, int, float, float]] = []
    seconds = {m: 0.0 for m in methods}
    n_images = 0
    with tempfile.TemporaryDirectory() as cache:
        encoder = load_encoder(ClipSpec(str(cfg), str(weights)), "cpu",
                               cache_root=Path(os.environ.get("DAGUERRE_ONNX_CACHE", cache)))
        texts = encoder.encode_text([q for _, q, _, _ in QUERIES])
        for lib in range(args.libraries):
            seed = args.seed + lib
            specs = library(seed, args.per_pair_min, args.per_pair_max)
            rng = np.random.default_rng(seed + 10_000)
            images = encoder.encode_images([draw_shape(sp, rng) for sp in specs])
            n_images += len(specs)
            colours = np.array([sp.color for sp in specs])
            shapes = np.array([sp.shape for sp in specs])
            scores = texts @ images.T
            start = len(kinds)
            for (kind, _q, colour, shape), row in zip(QUERIES, scores, strict=True):
                truth = np.ones(len(specs), bool)
                if colour:
                    truth &= colours == colour
                if shape:
                    truth &= shapes == shape
                order = np.argsort(-row, kind="stable")
                ranked = row[order]
                kinds.append(kind)
                fixed.append(np.array([f1(row >= t, truth) for t in grid]))
                for name, method in methods.items():
                    t0 = time.perf_counter()
                    kept = method(ranked, row).kept
                    seconds[name] += time.perf_counter() - t0
                    mask = np.zeros(len(specs), bool)
                    mask[order[:kept]] = True
                    by_method[name].append(f1(mask, truth))
            lib_fixed = np.mean(fixed[start:], axis=0)
            per_library.append((seed, len(specs), float(np.mean(by_method["auto"][start:])),
                                float(lib_fixed.max())))

    kinds_arr = np.array(kinds)
    fixed_arr = np.array(fixed)
    print(f"machine: {platform.machine()}, {os.cpu_count()} CPUs, trained shapes CLIP, "
          f"{args.libraries} libraries of generated shapes ({n_images} images), "
          f"{len(QUERIES)} queries each; auto = {cutoff.AUTO}; fixed thresholds every "
          f"{args.step:g} from -1 to 1")
    print()
    print("queries | n | auto | best fixed, in hindsight | at threshold | "
          + " | ".join(m for m in methods if m != "auto"))
    print("--- | ---: | ---: | ---: | ---: | " + " | ".join("---:" for m in methods if m != "auto"))
    results = {}
    for label, sel in [*((k, kinds_arr == k) for k in KINDS),
                       ("all", np.ones(len(kinds), bool))]:
        mean_fixed = fixed_arr[sel].mean(axis=0)
        best = int(np.argmax(mean_fixed))
        auto = float(np.mean(np.array(by_method["auto"])[sel]))
        results[label] = (auto, float(mean_fixed[best]))
        others = " | ".join(f"{np.mean(np.array(v)[sel]):.4f}"
                            for m, v in by_method.items() if m != "auto")
        print(f"{label} | {int(sel.sum())} | {auto:.4f} | {mean_fixed[best]:.4f} | "
              f"{grid[best]:.2f} | {others}")
    print()
    print("library seed | images | auto, all queries | best fixed, all queries")
    print("--- | ---: | ---: | ---:")
    for seed, n, auto, best in per_library:
        print(f"{seed} | {n} | {auto:.4f} | {best:.4f}")
    print()
    auto, best = results["all"]
    print(f"target (auto mean F1 >= best fixed threshold's, all {len(kinds)} queries): "
          f"{auto:.4f} vs {best:.4f}: {'met' if auto >= best else 'NOT met'}")
    auto, best = results["colour and shape"]
    print(f"colour-and-shape queries alone: auto {auto:.4f} vs best fixed {best:.4f} "
          f"({auto - best:+.4f})")
    print("cut-off time per query: " + ", ".join(
        f"{m} {1e3 * t / len(kinds):.2f} ms" for m, t in seconds.items()))


if __name__ == "__main__":
    main()
