"""Indexing throughput: decode, model and end-to-end, measured in one run on one machine.

Generates (once, cached under benchmarks/out/) two folders of photo-like JPEGs: real photographs
from scikit-image, randomly cropped, flipped, colour-shifted and given sensor-like grain, saved at
~12 megapixels and at ~1 megapixel. For each set it prints:

- decode-only images/s in one process, with and without Pillow's ``draft`` (DCT-domain
  reduction), and the core-seconds one decode costs (process CPU time / images) — this is the
  whole per-file work the decode workers do: read, SHA-256, decode, EXIF, thumbnail, pHash and
  the model's PIL preprocessing;
- model-only images/s of ViT-B-32 (random weights: the cost is the architecture's) on already
  preprocessed batches, and its core-seconds per image, for each runtime: torch fp32, ONNX
  Runtime fp32 and ONNX Runtime int8 (with each one's agreement-check cosine to torch fp32);
- text query embedding latency p50 (one query, as a cold search pays it) for torch and ONNX;
- end-to-end ``index_library`` images/s with torch fp32 and with the default runtime
  (``auto``: ONNX Runtime on a CPU, at the precision that passes the check), model already
  loaded; and the whole ``daguerre index`` CLI wall time including process start and model
  load. The ONNX export is cached under benchmarks/out/onnx (made once, before timing).

Targets: 1 MP end-to-end with the default >= 2.2 x torch fp32's; 12 MP end-to-end >= 0.85 x the
shared-CPU bound cores / (model core-s + decode core-s) with the default's model cost.

``--workers N`` measures instead one library (the 1 MP set) indexed through the job system by
1, 2, ... N real ``daguerre worker`` processes (embedded broker, SQLite), each given one core of
its own as a GPU worker is given one GPU: images/s, the ratio to one worker, and the proof that
every image was embedded exactly once (the chunks' counts add up to the library, no chunk found
a file already done, one vector and one row per image).

Usage: python benchmarks/index_throughput.py [--small] [--workers N]
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
    """(images/s, core-seconds per image) of encode_pixels on ready uint8 batches, run as the
    indexing pipeline runs them: ``encoder.streams`` batches at once."""
    from concurrent.futures import ThreadPoolExecutor

    rng = np.random.default_rng(0)
    size = 224
    batch = batch or encoder.preferred_batch
    pixels = rng.integers(0, 256, (batch, size, size, 3), dtype=np.uint8)
    runs = -(-n // batch)
    with ThreadPoolExecutor(encoder.streams) as pool:
        list(pool.map(encoder.encode_pixels, [pixels] * encoder.streams))  # warm-up
        t0, c0 = time.perf_counter(), time.process_time()
        list(pool.map(encoder.encode_pixels, [pixels] * runs))
        wall, cpu = time.perf_counter() - t0, time.process_time() - c0
    return runs * batch / wall, cpu / (runs * batch)


def text_latency_p50(encoder, n: int = 30) -> float:
    """Median seconds to embed one short query."""
    encoder.encode_text(["warm up"])
    times = []
    for i in range(n):
        t0 = time.perf_counter()
        encoder.encode_text([f"a photo of a dog on a beach {i}"])
        times.append(time.perf_counter() - t0)
    return float(np.median(times))


def bench_env(weights: Path, batch: int, runtime: str) -> dict[str, str]:
    """``batch`` 0: each encoder's own batch size, as `daguerre index` uses by default."""
    env = {"DAGUERRE_CLIP_MODEL": "ViT-B-32", "DAGUERRE_CLIP_WEIGHTS": str(weights),
           "DAGUERRE_DEVICE": "cpu", "DAGUERRE_CLIP_RUNTIME": runtime,
           "DAGUERRE_ONNX_CACHE": str(OUT / "onnx")}
    if batch:
        env["DAGUERRE_BATCH_SIZE"] = str(batch)
    return env


def end_to_end(paths: list[Path], weights: Path, batch: int, runtime: str, *, cli: bool = True
               ) -> tuple[float, float | None, str]:
    """(images/s of index_library with the model loaded, wall s of the whole CLI run, the
    runtime and precision used)."""
    from daguerre.platform.config import load_settings
    from daguerre.platform.context import Context
    from daguerre.platform.services.indexing import index_library
    from daguerre.platform.services.libraries import add_library

    env = bench_env(weights, batch, runtime)
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
        used = f"{summary.runtime} {summary.precision}"
    cli_wall = None
    if cli:
        with tempfile.TemporaryDirectory() as home:
            cli_env = {**os.environ, **env, "DAGUERRE_HOME": home}
            cmd = [sys.executable, "-m", "daguerre.platform.cli"]
            subprocess.run([*cmd, "library", "add", str(paths[0].parent)], env=cli_env,
                           check=True, capture_output=True)
            t0 = time.perf_counter()
            subprocess.run([*cmd, "index", "--json"], env=cli_env, check=True,
                           capture_output=True)
            cli_wall = time.perf_counter() - t0
    return len(paths) / wall, cli_wall, used


def through_workers(paths: list[Path], weights: Path, n_workers: int, chunk: int) -> dict:
    """Index ``paths``' folder through ``n_workers`` worker processes; figures and the proof."""
    from sqlalchemy import func, select

    from daguerre.platform.catalog.models import ImageEmbedding
    from daguerre.platform.config import load_settings
    from daguerre.platform.context import Context
    from daguerre.platform.services.jobs import Jobs, chunk_jobs
    from daguerre.platform.services.libraries import add_library
    from daguerre.platform.services.workers import live_count

    cores = sorted(os.sched_getaffinity(0))
    with tempfile.TemporaryDirectory() as home:
        env = {**bench_env(weights, 0, "auto"), "DAGUERRE_HOME": home,
               "DAGUERRE_ONNX_THREADS": "1", "DAGUERRE_DECODE_WORKERS": "1",
               "DAGUERRE_INDEX_CHUNK_FILES": str(chunk)}
        ctx = Context(load_settings(env=env))
        add_library(ctx, str(paths[0].parent), "bench")
        procs = []
        code = "from daguerre.platform.cli import main; main(prog_name='daguerre')"
        for i in range(n_workers):
            core = {cores[i % len(cores)]}
            procs.append(subprocess.Popen(
                [sys.executable, "-c", code, "worker", "--loglevel", "WARNING"],
                env={**os.environ, **env}, stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL, preexec_fn=lambda c=core: os.sched_setaffinity(0, c)))
        try:
            while live_count(ctx, "gpu") < n_workers:
                time.sleep(0.1)
            jobs = Jobs(ctx)
            t0 = time.perf_counter()
            job_id = jobs.create("index", {"library": "bench"})["id"]
            while not (job := jobs.get(job_id))["finished"]:
                time.sleep(0.05)
            wall = time.perf_counter() - t0
            assert job["status"] == "succeeded", job
            chunks = [jobs.get(i) for i in chunk_jobs(ctx, job_id)]
            with ctx.catalog.session() as s:
                rows = s.scalar(select(func.count()).select_from(ImageEmbedding))
                distinct = s.scalar(select(func.count(func.distinct(ImageEmbedding.image_id))))
            store = ctx.store()
            return {"workers": n_workers, "images": len(paths), "seconds": wall,
                    "ips": len(paths) / wall, "chunks": len(chunks),
                    "chunk_workers": len({c["worker"] for c in chunks}),
                    "chunk_added": sum(c["result"]["added"] for c in chunks),
                    "chunk_unchanged": sum(c["result"]["unchanged"] for c in chunks),
                    "embedding_rows": rows, "distinct_rows": distinct,
                    "vectors": len(store), "distinct_vectors": len(set(store.ids().tolist()))}
        finally:
            for proc in procs:
                proc.terminate()
            for proc in procs:
                proc.wait(30)
            ctx.close()


def workers_main(args: argparse.Namespace) -> None:
    n1 = 48 if args.small else args.n1
    OUT.mkdir(parents=True, exist_ok=True)
    # A library of exactly n1 photos: hard links to the cached set's first n1.
    folder = OUT / f"workers-1mp-{n1}"
    folder.mkdir(exist_ok=True)
    paths = []
    for src in make_set(OUT / "jpeg-1mp", n1, (1152, 864), 1)[:n1]:
        if not (folder / src.name).exists():
            os.link(src, folder / src.name)
        paths.append(folder / src.name)
    weights = random_vit_b32(OUT)
    from daguerre.indexer.models import ClipSpec, load_encoder

    # Export (and check) the ONNX model once, before any worker needs it.
    load_encoder(ClipSpec("ViT-B-32", str(weights)), "cpu", runtime="onnx", precision="int8",
                 cache_root=OUT / "onnx", notify=print)
    chunk = args.chunk or max(8, n1 // 10)
    runs = [through_workers(paths, weights, n, chunk) for n in range(1, args.workers + 1)]
    print(f"machine: {platform.machine()}, {len(os.sched_getaffinity(0))} cores; one core per "
          f"worker; ViT-B-32 ONNX int8; {n1} photos of 1 MP; {chunk} files a chunk")
    print("\nworkers | img/s | x one worker | s | chunks | workers that ran chunks | "
          "chunks' added (= images) | chunks' already-done | embedding rows (distinct) | "
          "vectors (distinct)")
    print("---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---:")
    for r in runs:
        once = (r["chunk_added"] == r["images"] and r["chunk_unchanged"] == 0
                and r["embedding_rows"] == r["distinct_rows"] == r["images"]
                and r["vectors"] == r["distinct_vectors"] == r["images"])
        print(f"{r['workers']} | {r['ips']:.1f} | {r['ips'] / runs[0]['ips']:.2f} | "
              f"{r['seconds']:.1f} | {r['chunks']} | {r['chunk_workers']} | {r['chunk_added']} | "
              f"{r['chunk_unchanged']} | {r['embedding_rows']} ({r['distinct_rows']}) | "
              f"{r['vectors']} ({r['distinct_vectors']})")
        print(f"every image embedded exactly once with {r['workers']} workers: "
              f"{'yes' if once else 'NO'}")
    if args.json:
        args.json.write_text(json.dumps(runs, indent=2))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--small", action="store_true", help="a quick run with fewer images")
    ap.add_argument("--batch", type=int, default=0,
                    help="images per model batch (default: each encoder's own, as the CLI)")
    ap.add_argument("--json", type=Path, help="also write the figures to this file")
    ap.add_argument("--n12", type=int, default=150, help="12 MP images (default 150)")
    ap.add_argument("--n1", type=int, default=300, help="1 MP images (default 300)")
    ap.add_argument("--no-cli", action="store_true", help="skip the whole-CLI wall times")
    ap.add_argument("--workers", type=int, default=0,
                    help="instead: index through 1..N worker processes (the job system)")
    ap.add_argument("--chunk", type=int, default=0,
                    help="files per chunk with --workers (default: a tenth of the library)")
    args = ap.parse_args()
    if args.workers:
        workers_main(args)
        return

    import torch

    from daguerre.indexer.models import ClipSpec, load_clip, load_encoder

    cores = len(os.sched_getaffinity(0))
    n12, n1 = (24, 48) if args.small else (args.n12, args.n1)
    OUT.mkdir(parents=True, exist_ok=True)
    sets = {
        "12 MP": make_set(OUT / "jpeg-12mp", n12, (4000, 3000), 12),
        "1 MP": make_set(OUT / "jpeg-1mp", n1, (1152, 864), 1),
    }
    weights = random_vit_b32(OUT)
    spec = ClipSpec("ViT-B-32", str(weights))
    encoders = {"torch fp32": load_clip(spec, "cpu")}
    for precision in ("fp32", "int8"):
        enc = load_encoder(spec, "cpu", runtime="onnx", precision=precision,
                           cache_root=OUT / "onnx", notify=print)
        encoders[f"{enc.runtime} {enc.precision}"] = enc
    n_model = 96 if args.small else 256
    models = {}
    for name, enc in encoders.items():
        rate, core_s = model_rate(enc, n_model, args.batch)
        agreement = None
        if name != "torch fp32":
            from daguerre.indexer.agreement import Agreement
            from daguerre.indexer.onnx_export import AGREEMENT_FILE

            agreement = Agreement.load(enc.directory / AGREEMENT_FILE)
        models[name] = {"ips": rate, "core_s": core_s, "text_p50_ms": 1000 * text_latency_p50(enc),
                        "cos_images_min": agreement.images["min"] if agreement else 1.0,
                        "cos_texts_min": agreement.texts["min"] if agreement else 1.0}

    rows = []
    for name, paths in sets.items():
        d_rate_draft, d_cs_draft = decode_rate(paths, encoders["torch fp32"].pixel_stage,
                                               draft=True)
        for runtime in ("torch", "auto"):
            e2e, cli_wall, used = end_to_end(paths, weights, args.batch, runtime,
                                             cli=not args.no_cli)
            m = models[used if used in models else "torch fp32"]
            bound = cores / (m["core_s"] + d_cs_draft)
            rows.append({
                "set": name, "images": len(paths), "runtime": runtime, "used": used,
                "decode_draft_ips": d_rate_draft, "decode_draft_core_s": d_cs_draft,
                "model_ips": m["ips"], "model_core_s": m["core_s"],
                "shared_cpu_bound_ips": bound, "e2e_ips": e2e, "e2e_over_bound": e2e / bound,
                "cli_wall_s": cli_wall,
            })
        torch_e2e = rows[-2]["e2e_ips"]
        rows[-1]["speedup_over_torch"] = rows[-1]["e2e_ips"] / torch_e2e

    print(f"machine: {platform.machine()}, {cores} cores, torch {torch.__version__} "
          f"({torch.get_num_threads()} threads), model ViT-B-32 random weights, batch "
          + (str(args.batch) if args.batch else "each encoder's own: " + ", ".join(
              f"{name} {enc.preferred_batch} x {enc.streams} at once"
              for name, enc in encoders.items())))
    print("\nmodel only")
    print("runtime | img/s | core-s/img | text query p50 ms | min cos images | min cos texts")
    print("--- | ---: | ---: | ---: | ---: | ---:")
    for name, m in models.items():
        print(f"{name} | {m['ips']:.1f} | {m['core_s']:.4f} | {m['text_p50_ms']:.1f} | "
              f"{m['cos_images_min']:.5f} | {m['cos_texts_min']:.5f}")
    print("\nend to end")
    head = ("set", "imgs", "setting", "used", "dec draft/s", "dec core-s", "bound/s", "e2e/s",
            "e2e/bound", "x torch", "CLI wall s")
    print(" | ".join(head))
    print(" | ".join("---" for _ in head))
    for r in rows:
        print(" | ".join([
            r["set"], str(r["images"]), r["runtime"], r["used"], f"{r['decode_draft_ips']:.1f}",
            f"{r['decode_draft_core_s']:.4f}", f"{r['shared_cpu_bound_ips']:.1f}",
            f"{r['e2e_ips']:.1f}", f"{r['e2e_over_bound']:.2f}",
            f"{r.get('speedup_over_torch', 1.0):.2f}",
            "-" if r["cli_wall_s"] is None else f"{r['cli_wall_s']:.1f}"]))
    if args.json:
        args.json.write_text(json.dumps({"models": models, "rows": rows}, indent=2))
    shutil.rmtree(OUT / "tmp", ignore_errors=True)


if __name__ == "__main__":
    main()
