"""Indexing throughput: decode, model and end-to-end, measured in one run on one machine.

Generates (once, cached under benchmarks/out/) two folders of photo-like JPEGs: real photographs
from scikit-image, randomly cropped, flipped, colour-shifted and given sensor-like grain, saved at
~12 megapixels and at ~1 megapixel. For each set it prints:

- decode-only images/s in one process, with and without Pillow's ``draft`` (DCT-domain
  reduction), and the core-seconds one decode costs (process CPU time / images) — this is the
  whole per-file work the decode workers do: read, SHA-256, decode, EXIF, thumbnail, pHash and
  the model's PIL preprocessing;
- model-only images/s of ViT-B-32 (random weights: the cost is the architecture's) on already
  preprocessed batches, and its core-seconds per image;
- end-to-end ``index_library`` images/s with the same model (scan, parallel decode, batched
  encode, thumbnails, catalog rows, vector store), model already loaded; and the whole
  ``daguerre index`` CLI wall time including process start and model load.

Targets: 1 MP end-to-end >= 0.85 x model-only; 12 MP end-to-end >= 0.85 x the shared-CPU bound
cores / (model core-s + decode core-s). Usage: python benchmarks/index_throughput.py [--small]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
from PIL import Image

OUT = Path(__file__).resolve().parent / "out"
PHOTOS = ("astronaut", "coffee", "chelsea", "rocket", "hubble_deep_field",
          "immunohistochemistry", "retina", "cat")


def _photo(name: str) -> Image.Image:
    from skimage import data

    return Image.fromarray(getattr(data, name)()).convert("RGB")


def make_set(folder: Path, count: int, size: tuple[int, int], seed: int) -> list[Path]:
    """Photo-like JPEGs of ``size``; cached: an existing complete folder is reused."""
    folder.mkdir(parents=True, exist_ok=True)
    paths = sorted(folder.glob("*.jpg"))
    if len(paths) >= count:
        return paths[:count]
    rng = np.random.default_rng(seed)
    sources = [_photo(n) for n in PHOTOS]
    for i in range(len(paths), count):
        src = sources[i % len(sources)]
        # random crop of 60-100% then resize to the target size (aspect may differ: photos do)
        frac = rng.uniform(0.6, 1.0)
        cw, ch = int(src.width * frac), int(src.height * frac)
        x, y = rng.integers(0, src.width - cw + 1), rng.integers(0, src.height - ch + 1)
        img = src.crop((x, y, x + cw, y + ch)).resize(size, Image.Resampling.BICUBIC)
        if rng.random() < 0.5:
            img = img.transpose(Image.Transpose.FLIP_LEFT_RIGHT)
        arr = np.asarray(img, dtype=np.float32)
        arr = arr * rng.uniform(0.8, 1.2, 3) + rng.normal(0, 6, arr.shape)  # tint + grain
        img = Image.fromarray(np.clip(arr, 0, 255).astype(np.uint8))
        img.save(folder / f"img_{i:04d}.jpg", quality=int(rng.integers(85, 95)))
    return sorted(folder.glob("*.jpg"))[:count]


def random_vit_b32(folder: Path) -> Path:
    """ViT-B-32 with random weights saved as a local weights file (nothing is downloaded)."""
    path = folder / "ViT-B-32-random.pt"
    if not path.exists():
        import open_clip
        import torch

        torch.manual_seed(0)
        model = open_clip.create_model("ViT-B-32", pretrained=None)
        torch.save(model.state_dict(), path)
    return path


def decode_rate(paths: list[Path], pixel_stage, draft: bool) -> tuple[float, float]:
    """(images/s, core-seconds per image) of decode_file in this one process."""
    from daguerre.indexer.decode import DecodeOptions, decode_file

    opts = DecodeOptions(pixel_stage=pixel_stage, draft=draft)
    decode_file(paths[0], opts)  # warm imports
    t0, c0 = time.perf_counter(), time.process_time()
    for p in paths:
        decode_file(p, opts)
    wall, cpu = time.perf_counter() - t0, time.process_time() - c0
    return len(paths) / wall, cpu / len(paths)


def model_rate(encoder, n: int, batch: int) -> tuple[float, float]:
    """(images/s, core-seconds per image) of encode_pixels on ready uint8 batches."""
    rng = np.random.default_rng(0)
    size = 224
    pixels = rng.integers(0, 256, (batch, size, size, 3), dtype=np.uint8)
    encoder.encode_pixels(pixels)  # warm-up
    done = 0
    t0, c0 = time.perf_counter(), time.process_time()
    while done < n:
        encoder.encode_pixels(pixels)
        done += batch
    wall, cpu = time.perf_counter() - t0, time.process_time() - c0
    return done / wall, cpu / done


def end_to_end(paths: list[Path], weights: Path, batch: int) -> tuple[float, float]:
    """(images/s of index_library with the model loaded, wall s of the whole CLI run)."""
    from daguerre.platform.config import load_settings
    from daguerre.platform.context import Context
    from daguerre.platform.services.indexing import index_library
    from daguerre.platform.services.libraries import add_library

    env = {"DAGUERRE_CLIP_MODEL": "ViT-B-32", "DAGUERRE_CLIP_WEIGHTS": str(weights),
           "DAGUERRE_DEVICE": "cpu", "DAGUERRE_BATCH_SIZE": str(batch)}
    with tempfile.TemporaryDirectory() as home:
        settings = load_settings(env={**env, "DAGUERRE_HOME": home})
        ctx = Context(settings)
        add_library(ctx, str(paths[0].parent), "bench")
        ctx.encoder()  # load the model outside the timed region
        t0 = time.perf_counter()
        summary = index_library(ctx, "bench")
        wall = time.perf_counter() - t0
        ctx.close()
        assert summary.added == len(paths), summary
    with tempfile.TemporaryDirectory() as home:
        cli_env = {**os.environ, **env, "DAGUERRE_HOME": home}
        cli = [sys.executable, "-m", "daguerre.platform.cli"]
        subprocess.run([*cli, "library", "add", str(paths[0].parent)], env=cli_env, check=True,
                       capture_output=True)
        t0 = time.perf_counter()
        subprocess.run([*cli, "index", "--json"], env=cli_env, check=True, capture_output=True)
        cli_wall = time.perf_counter() - t0
    return len(paths) / wall, cli_wall


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--small", action="store_true", help="a quick run with fewer images")
    ap.add_argument("--batch", type=int, default=32)
    ap.add_argument("--json", type=Path, help="also write the figures to this file")
    args = ap.parse_args()

    import torch

    from daguerre.indexer.models import ClipSpec, load_clip

    cores = len(os.sched_getaffinity(0))
    n12, n1 = (24, 48) if args.small else (150, 300)
    OUT.mkdir(parents=True, exist_ok=True)
    sets = {
        "12 MP": make_set(OUT / "jpeg-12mp", n12, (4000, 3000), 12),
        "1 MP": make_set(OUT / "jpeg-1mp", n1, (1152, 864), 1),
    }
    weights = random_vit_b32(OUT)
    encoder = load_clip(ClipSpec("ViT-B-32", str(weights)), "cpu")
    m_rate, m_cs = model_rate(encoder, 96 if args.small else 256, args.batch)

    rows = []
    for name, paths in sets.items():
        d_rate_draft, d_cs_draft = decode_rate(paths, encoder.pixel_stage, draft=True)
        d_rate_full, d_cs_full = decode_rate(paths[: max(8, len(paths) // 4)],
                                             encoder.pixel_stage, draft=False)
        e2e, cli_wall = end_to_end(paths, weights, args.batch)
        bound = cores / (m_cs + d_cs_draft)
        rows.append({
            "set": name, "images": len(paths),
            "decode_draft_ips": d_rate_draft, "decode_draft_core_s": d_cs_draft,
            "decode_full_ips": d_rate_full, "decode_full_core_s": d_cs_full,
            "model_ips": m_rate, "model_core_s": m_cs, "shared_cpu_bound_ips": bound,
            "e2e_ips": e2e, "e2e_over_model": e2e / m_rate, "e2e_over_bound": e2e / bound,
            "cli_wall_s": cli_wall, "cli_ips": len(paths) / cli_wall,
        })

    print(f"machine: {platform.machine()}, {cores} cores, torch {torch.__version__} "
          f"({torch.get_num_threads()} threads), model ViT-B-32 random weights, batch {args.batch}")
    head = ("set", "imgs", "dec draft/s", "dec full/s", "dec core-s", "model/s", "model core-s",
            "bound/s", "e2e/s", "e2e/model", "e2e/bound", "CLI wall s")
    print(" | ".join(head))
    print(" | ".join("---" for _ in head))
    for r in rows:
        print(" | ".join([
            r["set"], str(r["images"]), f"{r['decode_draft_ips']:.1f}", f"{r['decode_full_ips']:.1f}",
            f"{r['decode_draft_core_s']:.4f} (full {r['decode_full_core_s']:.4f})",
            f"{r['model_ips']:.1f}", f"{r['model_core_s']:.4f}", f"{r['shared_cpu_bound_ips']:.1f}",
            f"{r['e2e_ips']:.1f}", f"{r['e2e_over_model']:.2f}", f"{r['e2e_over_bound']:.2f}",
            f"{r['cli_wall_s']:.1f}"]))
    if args.json:
        args.json.write_text(json.dumps(rows, indent=2))
    shutil.rmtree(OUT / "tmp", ignore_errors=True)


if __name__ == "__main__":
    main()
