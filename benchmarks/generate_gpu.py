"""Seconds per image for text-to-image through daguerre's generator API, and the model-only floor.

Builds a Stable-Diffusion-1.5-sized pipeline from configs with RANDOM weights (timing does not need
trained weights, and the GPU machine cannot download any): UNet 320/640/1280/1280 with 768-d cross
attention, the SD VAE, a CLIP ViT-L/14 text encoder, and a tokenizer built from a local vocabulary.
In one run, after warm-up, it times the raw diffusers call (the floor) and ``Synthesis.run`` (our API:
input checks, fresh scheduler, seeded generators, progress/cancel callback, metadata) on the same
pipeline, at 512x512, 25 steps, guidance 7.5, fp16 on CUDA.

    python benchmarks/generate_gpu.py              # on the GPU machine
    python benchmarks/generate_gpu.py --tiny       # CPU smoke check with tiny components
    python benchmarks/generate_gpu.py --jobs       # also end to end through the job system

``--jobs`` adds a third path, timed in the same run: a ``generate`` job created on a temporary
SQLite catalog and executed by the runner a worker uses (``jobs.runner.execute``: claim, lease,
progress per step, cancel checks), which saves the PNG with its metadata and records the catalog
image, lineage, thumbnail and the output's CLIP embedding (with ``DAGUERRE_CLIP_WEIGHTS`` unset, a
ViT-B-32 with random weights is saved and configured, so the worker's embedding step is timed too;
``--no-embed`` leaves CLIP unconfigured and the outputs unembedded, as before). No broker
is involved (the message is not sent; the job is executed directly), so Celery and Flask are not
imported. In this mode the pipeline uses the dtype a worker picks (bf16 on CUDA where supported).

Prints a table; writes generate_gpu.json under $OUT when that is set.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import tempfile
import time
from pathlib import Path
from typing import Any


def _tokenizer(directory: Path) -> Any:
    """A CLIP BPE tokenizer from a byte-level vocabulary written here (no download)."""
    from transformers import CLIPTokenizer

    bs = list(range(ord("!"), ord("~") + 1)) + list(range(ord("¡"), ord("¬") + 1))
    bs += list(range(ord("®"), ord("ÿ") + 1))
    extra = [b for b in range(256) if b not in bs]
    chars = [chr(c) for c in bs] + [chr(256 + i) for i in range(len(extra))]
    tokens = ["<|startoftext|>", "<|endoftext|>"] + chars + [c + "</w>" for c in chars]
    directory.mkdir(parents=True, exist_ok=True)
    (directory / "vocab.json").write_text(json.dumps({t: i for i, t in enumerate(tokens)}))
    (directory / "merges.txt").write_text("#version: 0.2\n")
    return CLIPTokenizer(str(directory / "vocab.json"), str(directory / "merges.txt"), model_max_length=77)


def build_pipeline(tiny: bool, device: str, dtype: Any) -> Any:
    import torch
    from diffusers import (
        AutoencoderKL,
        EulerDiscreteScheduler,
        StableDiffusionPipeline,
        UNet2DConditionModel,
    )
    from transformers import CLIPTextConfig, CLIPTextModel

    torch.manual_seed(0)
    if tiny:
        unet_cfg = {"block_out_channels": (8, 16), "down_block_types": ("DownBlock2D", "CrossAttnDownBlock2D"),
                    "up_block_types": ("CrossAttnUpBlock2D", "UpBlock2D"), "cross_attention_dim": 32,
                    "layers_per_block": 1, "norm_num_groups": 4, "attention_head_dim": 4, "sample_size": 16}
        vae_cfg = {"block_out_channels": (8, 16, 16), "layers_per_block": 1, "norm_num_groups": 4,
                   "sample_size": 64}
        text_cfg = {"hidden_size": 32, "intermediate_size": 64, "num_hidden_layers": 2,
                    "num_attention_heads": 4, "vocab_size": 1000}
    else:
        # Stable Diffusion 1.5's published configs.
        unet_cfg = {"block_out_channels": (320, 640, 1280, 1280),
                    "down_block_types": ("CrossAttnDownBlock2D",) * 3 + ("DownBlock2D",),
                    "up_block_types": ("UpBlock2D",) + ("CrossAttnUpBlock2D",) * 3,
                    "cross_attention_dim": 768, "layers_per_block": 2, "norm_num_groups": 32,
                    "attention_head_dim": 8, "sample_size": 64}
        vae_cfg = {"block_out_channels": (128, 256, 512, 512), "layers_per_block": 2,
                   "norm_num_groups": 32, "sample_size": 512}
        text_cfg = {"hidden_size": 768, "intermediate_size": 3072, "num_hidden_layers": 12,
                    "num_attention_heads": 12, "vocab_size": 49408, "hidden_act": "quick_gelu"}
    levels = len(vae_cfg["block_out_channels"])
    unet = UNet2DConditionModel(in_channels=4, out_channels=4, **unet_cfg)
    vae = AutoencoderKL(in_channels=3, out_channels=3, latent_channels=4,
                        down_block_types=("DownEncoderBlock2D",) * levels,
                        up_block_types=("UpDecoderBlock2D",) * levels, **vae_cfg)
    text = CLIPTextModel(CLIPTextConfig(bos_token_id=0, eos_token_id=1, pad_token_id=1,
                                        max_position_embeddings=77, **text_cfg))
    with tempfile.TemporaryDirectory() as tmp:
        tokenizer = _tokenizer(Path(tmp))
    scheduler = EulerDiscreteScheduler(beta_start=0.00085, beta_end=0.012, beta_schedule="scaled_linear",
                                       steps_offset=1)
    pipe = StableDiffusionPipeline(unet=unet, vae=vae, text_encoder=text, tokenizer=tokenizer,
                                   scheduler=scheduler, safety_checker=None, feature_extractor=None,
                                   image_encoder=None, requires_safety_checker=False)
    pipe = pipe.to(device=device, dtype=dtype)
    pipe.set_progress_bar_config(disable=True)
    return pipe


def _time(fn: Any, runs: int, sync: Any) -> list[float]:
    out = []
    for _ in range(runs):
        sync()
        t0 = time.perf_counter()
        fn()
        sync()
        out.append(time.perf_counter() - t0)
    return out


def make_job_runner(model: str, pipe: Any, device: str, dtype: Any, prompt: str, steps: int,
                    size: int, guidance: float, embed: bool = True) -> tuple[Any, dict[str, Any]]:
    """A function that creates a ``generate`` job on a temporary SQLite catalog and executes it
    with the worker's runner; and a dict that collects its notes and the packages it imported."""
    import sys

    before = set(sys.modules)
    home = Path(tempfile.mkdtemp(prefix="daguerre-bench-"))
    os.environ["DAGUERRE_HOME"] = str(home)
    os.environ["DAGUERRE_DEVICE"] = device
    os.environ["DAGUERRE_GENERATE_MODEL"] = model
    for key in ("DAGUERRE_DATABASE_URL", "DAGUERRE_BROKER_URL", "DAGUERRE_CONFIG"):
        os.environ.pop(key, None)
    if embed and "DAGUERRE_CLIP_WEIGHTS" not in os.environ:
        # A worker embeds every output for search: time that with a random ViT-B-32 saved as a
        # weights file (the architecture's cost, like the random diffusion weights).
        import open_clip
        import torch

        weights = home / "clip-vit-b-32-random.pt"
        torch.save(open_clip.create_model("ViT-B-32").state_dict(), weights)
        os.environ["DAGUERRE_CLIP_MODEL"] = "ViT-B-32"
        os.environ["DAGUERRE_CLIP_WEIGHTS"] = str(weights)
    from daguerre.generator.models import default_cache
    from daguerre.platform.context import Context
    from daguerre.platform.jobs.runner import execute
    from daguerre.platform.services.jobs import Jobs

    default_cache().put(model, pipe, device=device, dtype=dtype)  # what a warm worker holds
    ctx = Context()
    jobs = Jobs(ctx, send=lambda job_id, queue: None)  # executed here, not sent to a broker
    info: dict[str, Any] = {"home": str(home)}

    def run() -> None:
        job = jobs.create("generate", {"prompt": prompt, "seed": 1, "steps": steps,
                                       "guidance_scale": guidance, "width": size,
                                       "height": size})
        outcome = execute(ctx, job["id"], "benchmark-worker")
        done = jobs.get(job["id"])
        if outcome != "succeeded":
            raise RuntimeError(f"generate job {job['id']} {outcome}: {done['error']}")
        info["notes"] = (done["result"] or {}).get("notes", [])
        info["outputs"] = [o["path"] for o in done["result"]["outputs"]]

    run()  # the first job also migrates the catalog; later ones are what a worker repeats
    info["imported"] = sorted({m.split(".")[0] for m in set(sys.modules) - before
                               if not m.startswith("_") and "." not in m
                               and m.split(".")[0] not in sys.stdlib_module_names})
    return run, info


def main(argv: list[str] | None = None) -> int:
    import sys

    if "--jobs" in (sys.argv[1:] if argv is None else argv):
        # Nothing here may try a download (huggingface_hub reads this when it is first imported,
        # so it is set before anything imports it).
        os.environ.setdefault("HF_HUB_OFFLINE", "1")
    import torch

    from daguerre.generator import GenerationRequest
    from daguerre.generator.models import ModelCache
    from daguerre.generator.pipelines import Synthesis

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tiny", action="store_true", help="tiny components on CPU (smoke check)")
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--warmup", type=int, default=2)
    parser.add_argument("--steps", type=int, default=None)
    parser.add_argument("--size", type=int, default=None)
    parser.add_argument("--guidance", type=float, default=7.5)
    parser.add_argument("--dtype", choices=["float16", "bfloat16", "float32"], default=None)
    parser.add_argument("--jobs", action="store_true",
                        help="also time a generate job through the job system end to end")
    parser.add_argument("--no-embed", action="store_true",
                        help="with --jobs: leave CLIP unconfigured, so outputs are not embedded")
    args = parser.parse_args(argv)

    cuda = torch.cuda.is_available() and not args.tiny
    device = "cuda" if cuda else "cpu"
    dtype = getattr(torch, args.dtype) if args.dtype else (torch.float16 if cuda else torch.float32)
    if args.jobs:
        from daguerre.generator.models import default_dtype

        if args.dtype and getattr(torch, args.dtype) != default_dtype(device):
            parser.error(f"--jobs times what a worker does, which uses {default_dtype(device)} "
                         f"on {device}; leave out --dtype")
        dtype = default_dtype(device)
    steps = args.steps or (25 if not args.tiny else 4)
    size = args.size or (512 if not args.tiny else 64)
    sync = torch.cuda.synchronize if cuda else (lambda: None)

    t0 = time.perf_counter()
    pipe = build_pipeline(args.tiny, device, dtype)
    build_s = time.perf_counter() - t0
    cache = ModelCache()
    model = "random-init/sd15-sized" if not args.tiny else "random-init/tiny"
    cache.put(model, pipe, device=device, dtype=dtype)
    op = Synthesis(model, device=device, dtype=dtype, cache=cache)
    prompt = "a photograph of an astronaut riding a horse on the moon"

    def floor() -> None:
        pipe(prompt=prompt, num_inference_steps=steps, guidance_scale=args.guidance, width=size,
             height=size, generator=torch.Generator(device=device).manual_seed(1), output_type="pil")

    request = GenerationRequest(prompt=prompt, seed=1, steps=steps, guidance_scale=args.guidance,
                                width=size, height=size)
    progress: list[int] = []

    def api() -> None:
        op.run(request, on_step=lambda s, n: progress.append(s), should_cancel=lambda: False)

    job_run, job_info = (make_job_runner(model, pipe, device, dtype, prompt, steps, size,
                                         args.guidance, embed=not args.no_embed)
                         if args.jobs else (None, {}))
    for _ in range(args.warmup):
        floor()
        api()
        if job_run:
            job_run()
    # Allocated memory after warm-up vs after every timed image: a worker must not creep towards
    # out-of-memory over a long batch.
    mem_warm = torch.cuda.memory_allocated() / 2**30 if cuda else None
    # Interleave them so drift (clocks, thermals) hits all alike.
    floor_t: list[float] = []
    api_t: list[float] = []
    job_t: list[float] = []
    for _ in range(args.runs):
        floor_t += _time(floor, 1, sync)
        api_t += _time(api, 1, sync)
        if job_run:
            job_t += _time(job_run, 1, sync)
    peak = torch.cuda.max_memory_allocated() / 2**30 if cuda else None
    mem_end = torch.cuda.memory_allocated() / 2**30 if cuda else None

    device_name = torch.cuda.get_device_name(0) if cuda else f"CPU ({os.cpu_count()} cores)"
    rows = [("model-only floor (diffusers call)", floor_t), ("daguerre Synthesis.run", api_t)]
    if job_run:
        rows.append(("generate job end to end (runner, PNG, catalog)", job_t))
    print(f"{'tiny' if args.tiny else 'SD-1.5-sized'} random weights, {size}x{size}, {steps} steps, "
          f"CFG {args.guidance}, {str(dtype).removeprefix('torch.')}, {device_name}; build {build_s:.1f} s")
    print("| path | s/image mean | min | max |")
    print("|---|---|---|---|")
    for name, ts in rows:
        print(f"| {name} | {statistics.mean(ts):.3f} | {min(ts):.3f} | {max(ts):.3f} |")
    ratio = statistics.mean(api_t) / statistics.mean(floor_t)
    print(f"\nAPI / floor = {ratio:.3f}" + (f"; peak GPU memory {peak:.2f} GiB" if peak else ""))
    if cuda:
        images = args.runs * (3 if job_run else 2)
        print(f"GPU memory allocated after warm-up {mem_warm:.3f} GiB, after {images} more images "
              f"{mem_end:.3f} GiB")
    job_ratio = statistics.mean(job_t) / statistics.mean(floor_t) if job_t else None
    if job_t:
        print(f"job / floor = {job_ratio:.3f}; job end to end {statistics.mean(job_t):.3f} s/image "
              f"(target <= 1.0 s on an H100/H200)")
        for note in job_info.get("notes", []):
            print(f"job note: {note}")
        print("job path imported: " + ", ".join(job_info.get("imported", [])))
    result = {
        "device": device_name, "dtype": str(dtype), "size": size, "steps": steps,
        "guidance": args.guidance, "tiny": args.tiny, "runs": args.runs,
        "floor_s": floor_t, "api_s": api_t, "api_over_floor": ratio, "peak_gib": peak,
        "allocated_after_warmup_gib": mem_warm, "allocated_at_end_gib": mem_end,
        "job_s": job_t or None, "job_over_floor": job_ratio, "job_notes": job_info.get("notes"),
        "job_imported": job_info.get("imported"),
        "torch": torch.__version__,
    }
    out = os.environ.get("OUT")
    if out:
        Path(out).mkdir(parents=True, exist_ok=True)
        (Path(out) / "generate_gpu.json").write_text(json.dumps(result, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
