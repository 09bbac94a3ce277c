"""What provenance and prompt adherence cost an output (issue 13, parts 4 and 5).

1. A1111's ``Model hash`` of a diffusers model: the SHA-256 of its UNet weights. Timed on a
   file the size of Stable Diffusion 1.5's fp32 UNet (3,438,167,536 bytes; ``--mib`` to change)
   the first time (read and hashed; the file was just written, so it comes from the page cache:
   a cold disk only adds its read time), again in the same process (kept in memory), and in a
   new process (read from the JSON file the platform keeps under ``<data>/cache``).
2. The adherence score of one output with ViT-B-32 (random weights: the cost is the
   architecture's) on this CPU: the prompt's text embedding (a text-cache miss; a hit costs a
   lookup) and the cosine, beside the image embedding every output already gets.

    python benchmarks/provenance_costs.py [--mib 3279] [--keep] [--no-clip]

Prints a Markdown table (the figures of docs/benchmarks.md).
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))

SD15_UNET_BYTES = 3_438_167_536


def write_weights(path: Path, size: int) -> None:
    block = np.random.default_rng(0).integers(0, 256, 64 << 20, dtype=np.uint8).tobytes()
    with open(path, "wb") as fh:
        left = size
        while left > 0:
            fh.write(block[:min(left, len(block))])
            left -= len(block)


def time_hash(args: argparse.Namespace) -> None:
    from daguerre.generator.model_identity import ModelHashes, model_hash

    root = Path(tempfile.mkdtemp(prefix="model-hash-"))
    unet = root / "model" / "unet"
    unet.mkdir(parents=True)
    weights = unet / "diffusion_pytorch_model.safetensors"
    size = args.mib << 20 if args.mib else SD15_UNET_BYTES
    write_weights(weights, size)
    store = root / "model-hashes.json"
    try:
        hashes = ModelHashes(store)
        t0 = time.perf_counter()
        first = model_hash(unet, hashes)
        cold = time.perf_counter() - t0
        t0 = time.perf_counter()
        model_hash(unet, hashes)
        warm = time.perf_counter() - t0
        code = ("import sys, time; from daguerre.generator.model_identity import ModelHashes, "
                "model_hash; h = ModelHashes(sys.argv[2]); t = time.perf_counter(); "
                "v = model_hash(sys.argv[1], h); print(v, h.hashed, time.perf_counter() - t)")
        out = subprocess.run([sys.executable, "-c", code, str(unet), str(store)], check=True,
                             capture_output=True, text=True).stdout.split()
        assert out[0] == first and out[1] == "0", out  # the new process read the file only
        row(f"model hash of {size:,} bytes, first time (read + SHA-256)", f"{cold:.2f} s")
        row("  throughput", f"{size / cold / 1e9:.2f} GB/s")
        row("  again, same process", f"{warm * 1e3:.3f} ms")
        row("  new process, from `model-hashes.json`", f"{float(out[2]) * 1e3:.3f} ms")
    finally:
        if not args.keep:
            weights.unlink(missing_ok=True)


def time_adherence() -> None:
    import torch
    from index_throughput import random_vit_b32

    from daguerre.indexer.models import ClipSpec, load_clip

    out = Path(__file__).resolve().parent / "out"
    out.mkdir(exist_ok=True)
    enc = load_clip(ClipSpec("ViT-B-32", str(random_vit_b32(out))), "cpu")
    prompts = [f"a lighthouse on a cliff at dusk, oil painting, detail {i}" for i in range(21)]
    pixels = np.random.default_rng(0).integers(0, 256, (224, 224, 3), np.uint8)
    enc.encode_text(prompts[:1])  # warm up
    enc.encode_pixels([pixels])
    text_s, image_s, dot_s = [], [], []
    for prompt in prompts[1:]:
        t0 = time.perf_counter()
        text = enc.encode_text([prompt])[0]
        text_s.append(time.perf_counter() - t0)
        t0 = time.perf_counter()
        image = enc.encode_pixels([pixels])[0]
        image_s.append(time.perf_counter() - t0)
        t0 = time.perf_counter()
        float(np.dot(text, image))
        dot_s.append(time.perf_counter() - t0)
    med = {k: float(np.median(v)) * 1e3 for k, v in
           (("text", text_s), ("image", image_s), ("dot", dot_s))}
    what = f"ViT-B-32 torch fp32, {torch.get_num_threads()} threads, median of {len(text_s)}"
    row(f"adherence: prompt embedding, a text-cache miss ({what})", f"{med['text']:.1f} ms")
    row("  beside: the image embedding every output gets", f"{med['image']:.1f} ms")
    row("  the cosine", f"{med['dot'] * 1e3:.1f} us")


def row(what: str, figure: str) -> None:
    print(f"| {what} | {figure} |")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--mib", type=int, default=0,
                        help="weights size in MiB (default: SD 1.5's UNet, 3,438,167,536 bytes)")
    parser.add_argument("--keep", action="store_true", help="keep the weights file")
    parser.add_argument("--no-clip", action="store_true", help="time the model hash only")
    args = parser.parse_args()
    print(f"machine: {os.cpu_count()} cores, load average {os.getloadavg()[0]:.1f}; "
          f"python {sys.version.split()[0]}\n")
    print("| what | figure |\n|---|---:|")
    time_hash(args)
    if not args.no_clip:
        time_adherence()


if __name__ == "__main__":
    main()
