"""Retrieval quality per CLIP runtime: does ONNX Runtime (fp32, int8) find what torch finds?

With the trained shapes CLIP the tests use (tests/support/trained_clip.py: trained once, cached),
on a held-out set of generated images (another seed than training), for torch fp32, ONNX Runtime
fp32 and ONNX Runtime int8 (int8 loaded even where the agreement check would refuse it, to
measure what it would cost):

- text→image precision@10 of "a <colour> <shape>" over every colour-shape pair;
- zero-shot accuracy: colour (templates "a {} shape", "something {}") and shape ("a {}",
  "a photo of a {}"), prompt embeddings averaged as `daguerre classify` does;
- the agreement check's figures (mean / min cosine to torch fp32, images and texts).

Target (issue 12): int8 loses at most 0.01 on each. Usage:
python benchmarks/clip_runtime_quality.py [--per-pair 10]
"""

from __future__ import annotations

import argparse
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


def zero_shot(encoder, images: np.ndarray, labels: list[str], templates: list[str]) -> np.ndarray:
    """Index of the best label per image, prompts averaged per label (as classify.py does)."""
    protos = []
    for label in labels:
        e = encoder.encode_text([t.format(label) for t in templates]).mean(axis=0)
        protos.append(e / np.linalg.norm(e))
    return np.argmax(images @ np.stack(protos).T, axis=1)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--per-pair", type=int, default=10,
                    help="images per colour-shape pair (10: a perfect precision@10 is 1)")
    ap.add_argument("--seed", type=int, default=202)
    args = ap.parse_args()

    from daguerre.indexer.agreement import cosine_figures
    from daguerre.indexer.models import ClipSpec, load_clip, load_encoder

    cfg, weights = trained_clip()
    spec = ClipSpec(str(cfg), str(weights))
    rng = np.random.default_rng(args.seed)
    backgrounds = list(BACKGROUNDS)
    specs = [ShapeSpec(c, s, backgrounds[k % len(backgrounds)])
             for c in COLORS for s in SHAPES for k in range(args.per_pair)]
    images = [draw_shape(sp, rng) for sp in specs]
    kinds = np.array([(sp.color, sp.shape) for sp in specs])
    queries = [(c, s) for c in COLORS for s in SHAPES]

    with tempfile.TemporaryDirectory() as cache:
        encoders = {"torch fp32": load_clip(spec, "cpu")}
        for precision in ("fp32", "int8"):
            # min_cosine -1: load this precision whatever the check says, to measure it.
            encoders[f"ONNX {precision}"] = load_encoder(
                spec, "cpu", runtime="onnx", precision=precision, cache_root=Path(cache),
                min_cosine=-1.0)
        results = {}
        ref_img = ref_txt = None
        texts = [f"a {c} {s}" for c, s in queries]
        for name, enc in encoders.items():
            t0 = time.perf_counter()
            img = enc.encode_images(images)
            txt = enc.encode_text(texts)
            if ref_img is None:
                ref_img, ref_txt = img, txt
            top = np.argsort(-(txt @ img.T), axis=1)[:, :10]
            p10 = float(np.mean([np.mean([tuple(kinds[i]) == q for i in row])
                                 for row, q in zip(top, queries, strict=True)]))
            colours = list(COLORS)
            col = zero_shot(enc, img, colours, ["a {} shape", "something {}"])
            shp = zero_shot(enc, img, list(SHAPES), ["a {}", "a photo of a {}"])
            results[name] = {
                "p10": p10,
                "colour_acc": float(np.mean([colours[i] == k[0] for i, k in zip(col, kinds,
                                                                                 strict=True)])),
                "shape_acc": float(np.mean([SHAPES[i] == k[1] for i, k in zip(shp, kinds,
                                                                               strict=True)])),
                "img": cosine_figures(ref_img, img), "txt": cosine_figures(ref_txt, txt),
                "seconds": time.perf_counter() - t0,
            }

    print(f"machine: {platform.machine()}, trained shapes CLIP, {len(images)} held-out images, "
          f"{len(queries)} queries")
    print("runtime | precision@10 | zero-shot colour | zero-shot shape | cos images mean/min | "
          "cos texts mean/min")
    print("--- | ---: | ---: | ---: | ---: | ---:")
    for name, r in results.items():
        print(f"{name} | {r['p10']:.3f} | {r['colour_acc']:.3f} | {r['shape_acc']:.3f} | "
              f"{r['img']['mean']:.5f} / {r['img']['min']:.5f} | "
              f"{r['txt']['mean']:.5f} / {r['txt']['min']:.5f}")
    base, q = results["torch fp32"], results["ONNX int8"]
    print(f"int8 change vs torch fp32: precision@10 {q['p10'] - base['p10']:+.3f}, colour "
          f"{q['colour_acc'] - base['colour_acc']:+.3f}, shape "
          f"{q['shape_acc'] - base['shape_acc']:+.3f} (target: no loss above 0.01)")


if __name__ == "__main__":
    main()
