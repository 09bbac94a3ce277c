"""JPEG decoding for the decode workers: Pillow's draft against libjpeg-turbo bindings.

On the photo-like JPEGs of benchmarks/index_throughput.py (12 MP and 1 MP, generated once and
cached under benchmarks/out/), in this one process, CPU time per image (core-seconds):

1. the decode step alone, at the DCT reduction the worker uses (enough for the model's 224 px
   shorter side and the 256 px thumbnail: indexer/decode.py's draft request), EXIF orientation
   applied, as RGB:
   - Pillow ``draft`` (what indexer/decode.py does);
   - simplejpeg (bundles libjpeg-turbo) at the same reduction, when installed;
   - simplejpeg with ``fastdct`` and ``fastupsample``;
   - PyTurboJPEG at the same reduction, when it and a system libturbojpeg are installed
     (skipped otherwise, and said so);
2. the whole per-file work of a decode worker (``decode_bytes``: SHA-256, decode, EXIF,
   thumbnail, perceptual hash, the model's 224 px preprocessing), for scale: the share of it a
   faster decode step could save.

Each measure is taken over every file, alternating which library goes first, several rounds;
the median round is printed, and each round's time of a binding over Pillow's (the paired figure
the machine's load disturbs least). Equivalence: the 224 px model input each library leads to is
compared with Pillow's (mean and max absolute difference, 0-255).

Usage: python benchmarks/decode_libs.py [--n12 24] [--n1 60] [--rounds 7]
"""

from __future__ import annotations

import argparse
import ctypes.util
import io
import os
import platform
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
from PIL import Image, ImageOps

sys.path.insert(0, str(Path(__file__).resolve().parent))
from index_throughput import OUT, make_set  # noqa: E402 - the same test photos

from daguerre.indexer import decode as dec  # noqa: E402

Decoder = Callable[[bytes, dec.DecodeOptions], Image.Image]


def pillow_draft(data: bytes, options: dec.DecodeOptions) -> Image.Image:
    img = Image.open(io.BytesIO(data))
    img.draft("RGB", _request(img, options))
    img.load()
    return dec.to_rgb(ImageOps.exif_transpose(img))


def _scaled(img: Image.Image, options: dec.DecodeOptions) -> tuple[int, int, int]:
    """(reduction, width, height) Pillow's draft decodes ``img`` at for the worker's request
    (JpegImageFile.draft's rule: the largest of 8, 4, 2 that still covers it, else 1)."""
    want = _request(img, options)
    fits = min(img.width // want[0], img.height // want[1])
    s = next((s for s in (8, 4, 2) if fits >= s), 1)
    return s, -(-img.width // s), -(-img.height // s)


def _request(img: Image.Image, options: dec.DecodeOptions) -> tuple[int, int]:
    """The size indexer/decode.py asks Pillow's draft for (the model's shorter side and the
    thumbnail's longer side, less the draft slack)."""
    w, h = img.size
    need = max(options.model_size, options.thumbnail_size * min(w, h) / max(w, h, 1))
    scale = max(need * options.draft_slack / min(w, h), 1e-9)
    return int(np.ceil(w * scale)), int(np.ceil(h * scale))


def _oriented(arr: np.ndarray, header: Image.Image) -> Image.Image:
    out = Image.fromarray(arr)
    out.info = dict(header.info)  # the EXIF that exif_transpose reads the orientation from
    return ImageOps.exif_transpose(out)


def simplejpeg_decoder(fast: bool) -> Decoder:
    import simplejpeg

    def decode(data: bytes, options: dec.DecodeOptions) -> Image.Image:
        img = Image.open(io.BytesIO(data))
        s, w, h = _scaled(img, options)
        arr = simplejpeg.decode_jpeg(data, "RGB", fastdct=fast, fastupsample=fast,
                                     min_height=h, min_width=w)
        assert arr.shape[:2] == (h, w), (arr.shape, s)  # the same reduction as Pillow's
        return _oriented(arr, img)

    return decode


def turbojpeg_decoder() -> tuple[Decoder | None, str]:
    """PyTurboJPEG's decoder, or None and why it cannot run here."""
    if ctypes.util.find_library("turbojpeg") is None:
        return None, "no system libturbojpeg (PyTurboJPEG needs one: apt install libturbojpeg0)"
    try:
        from turbojpeg import TurboJPEG
    except ImportError:
        return None, "PyTurboJPEG not installed (pip install PyTurboJPEG)"
    tj = TurboJPEG()

    def decode(data: bytes, options: dec.DecodeOptions) -> Image.Image:
        img = Image.open(io.BytesIO(data))
        s, _w, _h = _scaled(img, options)
        return _oriented(tj.decode(data, pixel_format=0, scaling_factor=(1, s)), img)  # RGB

    return decode, ""


def model_stage() -> Callable[[Image.Image], np.ndarray]:
    """ViT-B-32's preprocessing up to its 224 px uint8 input (the PIL stage the workers run)."""
    import open_clip

    from daguerre.indexer.encoder import split_preprocess

    return split_preprocess(open_clip.image_transform(224, is_train=False))[0]


def core_seconds(fns: dict[str, Callable[[bytes], object]], datas: list[bytes],
                 rounds: int) -> dict[str, float]:
    """Median over rounds of CPU seconds per file for each function, alternating their order;
    under ``(name, "ratios")``, each round's time over the first function's (the paired figure
    that the machine's load disturbs least)."""
    per: dict[str, list[float]] = {name: [] for name in fns}
    names = list(fns)
    for fn in fns.values():  # warm imports and caches
        fn(datas[0])
    for r in range(rounds):
        spent = dict.fromkeys(names, 0.0)
        for i, data in enumerate(datas):
            order = names if (i + r) % 2 == 0 else names[::-1]
            for name in order:
                c0 = time.process_time()
                fns[name](data)
                spent[name] += time.process_time() - c0
        for name in names:
            per[name].append(spent[name] / len(datas))
    out: dict = {name: statistics.median(v) for name, v in per.items()}
    for name in names:
        out[(name, "ratios")] = [a / b for a, b in zip(per[name], per[names[0]], strict=True)]
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--n12", type=int, default=24, help="12 MP photos")
    ap.add_argument("--n1", type=int, default=60, help="1 MP photos")
    ap.add_argument("--rounds", type=int, default=7)
    args = ap.parse_args()

    stage = model_stage()
    opts = dec.DecodeOptions(pixel_stage=stage)
    decoders: dict[str, Decoder] = {"Pillow draft": pillow_draft}
    skipped = []
    try:
        import simplejpeg

        decoders["simplejpeg"] = simplejpeg_decoder(fast=False)
        decoders["simplejpeg fastdct+fastupsample"] = simplejpeg_decoder(fast=True)
        versions = f", simplejpeg {simplejpeg.__version__}"
    except ImportError:
        skipped.append("simplejpeg skipped: not installed (pip install simplejpeg)")
        versions = ""
    turbo, turbo_why = turbojpeg_decoder()
    if turbo is not None:
        decoders["PyTurboJPEG"] = turbo
    else:
        skipped.append(f"PyTurboJPEG skipped: {turbo_why}")

    OUT.mkdir(parents=True, exist_ok=True)
    sets = {"12 MP": make_set(OUT / "jpeg-12mp", args.n12, (4000, 3000), 12),
            "1 MP": make_set(OUT / "jpeg-1mp", args.n1, (1152, 864), 1)}
    rows = []
    for set_name, paths in sets.items():
        datas = [p.read_bytes() for p in paths]
        steps = core_seconds({n: (lambda d, f=f: f(d, opts)) for n, f in decoders.items()},
                             datas, args.rounds)
        worker = core_seconds({"worker": lambda d: dec.decode_bytes(d, "x.jpg", opts)},
                              datas, args.rounds)["worker"]
        ref = [stage(pillow_draft(d, opts)).astype(np.int16) for d in datas]
        base = steps["Pillow draft"]
        for name, fn in decoders.items():
            diffs = [np.abs(stage(fn(d, opts)).astype(np.int16) - r)
                     for d, r in zip(datas, ref, strict=True)]
            ratios = sorted(steps[(name, "ratios")])
            rows.append([set_name, str(len(paths)), name, f"{steps[name] * 1000:.2f}",
                         f"{ratios[0]:.3f}-{ratios[-1]:.3f}",
                         f"{(base - steps[name]) / worker * 100:+.1f}%",
                         f"{np.mean([x.mean() for x in diffs]):.3f}",
                         str(max(int(x.max()) for x in diffs))])
        rows.append([set_name, str(len(paths)), "whole worker (decode_bytes, Pillow)",
                     f"{worker * 1000:.2f}", "", "", "", ""])

    cores = len(os.sched_getaffinity(0))
    print(f"machine: {platform.machine()}, {cores} cores, Python {platform.python_version()}, "
          f"Pillow {Image.__version__}{versions}; {args.rounds} rounds, median; "
          f"load average {os.getloadavg()[0]:.1f}")
    for line in skipped:
        print(line)
    head = ["set", "files", "decode step", "ms CPU per image", "over Pillow, per round",
            "worker CPU saved", "224 px mean abs diff", "max abs diff"]
    print(" | ".join(head))
    print(" | ".join("---" for _ in head))
    for row in rows:
        print(" | ".join(row))


if __name__ == "__main__":
    main()
