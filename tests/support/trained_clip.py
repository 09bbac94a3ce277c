"""A tiny CLIP trained on procedurally generated coloured shapes, so tests can check that retrieval
*means* something ("a red circle" finds red circles) without downloading weights.

The model is open_clip's own ``CLIP`` built from a config JSON in open_clip's format and trained
with open_clip's own ``ClipLoss``; it is saved as config JSON + weights file and loaded back through
``DAGUERRE_CLIP_MODEL`` / ``DAGUERRE_CLIP_WEIGHTS`` exactly as a user's model would be.

Training takes about a minute on two CPU cores and is cached: the cache key is a hash of this
file's source and the parameters, so editing the generator or the schedule retrains. The cache
lives in ``$DAGUERRE_TEST_CACHE`` or ``<repo>/.cache/tests/`` (git-ignored).

Run ``python -m tests.support.trained_clip`` to (re)train and print how long it took.
"""

from __future__ import annotations

import hashlib
import json
import math
import os
import time
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw, ImageFilter

COLORS: dict[str, tuple[int, int, int]] = {
    "red": (220, 30, 30),
    "green": (30, 170, 40),
    "blue": (30, 60, 220),
    "yellow": (240, 220, 30),
    "purple": (140, 40, 180),
    "orange": (250, 130, 10),
}
SHAPES = ("circle", "square", "triangle", "star", "cross")
BACKGROUNDS: dict[str, tuple[int, int, int]] = {
    "gray": (128, 128, 128),
    "black": (15, 15, 15),
    "white": (245, 245, 245),
    "brown": (110, 75, 45),
}

# A small ModifiedResNet vision tower (open_clip's CLIP-RN layout, layers given as a list): on this
# data a ResNet learns shape as well as colour within a few hundred steps, while ViTs of the same
# cost learned colour only (measured: shape accuracy 0.99 vs 0.2-0.4 after 800 steps of 128).
CONFIG = {
    "embed_dim": 64,
    "vision_cfg": {"image_size": 32, "layers": [1, 1, 1, 1], "width": 16},
    "text_cfg": {"context_length": 16, "vocab_size": 49408, "width": 64, "heads": 2, "layers": 2},
}
MODEL_NAME = "ShapesCLIP"


@dataclass(frozen=True)
class TrainParams:
    seed: int = 0
    n_images: int = 5000
    image_px: int = 64  # generated size; the model's preprocessing resizes to its image_size
    steps: int = 800
    batch_size: int = 128
    lr: float = 2e-3
    warmup: int = 50
    threads: int = 2
    freeze_token_embedding: bool = True


# ----------------------------------------------------------------------------- image generation


@dataclass(frozen=True)
class ShapeSpec:
    color: str
    shape: str
    background: str


def _jitter(rgb: tuple[int, int, int], rng: np.random.Generator, amount: int) -> tuple[int, ...]:
    return tuple(int(np.clip(c + rng.integers(-amount, amount + 1), 0, 255)) for c in rgb)


def _polygon(shape: str, cx: float, cy: float, r: float, angle: float) -> list[tuple[float, float]]:
    if shape == "square":
        pts = [(math.cos(angle + math.pi / 4 + k * math.pi / 2) * r * 1.15,
                math.sin(angle + math.pi / 4 + k * math.pi / 2) * r * 1.15) for k in range(4)]
    elif shape == "triangle":
        pts = [(math.cos(angle - math.pi / 2 + k * 2 * math.pi / 3) * r * 1.2,
                math.sin(angle - math.pi / 2 + k * 2 * math.pi / 3) * r * 1.2) for k in range(3)]
    elif shape == "star":
        pts = []
        for k in range(10):
            rad = r * 1.2 if k % 2 == 0 else r * 0.5
            a = angle - math.pi / 2 + k * math.pi / 5
            pts.append((math.cos(a) * rad, math.sin(a) * rad))
    elif shape == "cross":
        t = r * 0.38
        base = [(-t, -r), (t, -r), (t, -t), (r, -t), (r, t), (t, t), (t, r), (-t, r), (-t, t),
                (-r, t), (-r, -t), (-t, -t)]
        ca, sa = math.cos(angle), math.sin(angle)
        pts = [(x * ca - y * sa, x * sa + y * ca) for x, y in base]
    else:
        raise ValueError(f"unknown shape {shape!r}")
    return [(cx + x, cy + y) for x, y in pts]


def draw_shape(spec: ShapeSpec, rng: np.random.Generator, size: int = 64) -> Image.Image:
    """One RGB image of ``spec``: a shape of random size, position and rotation on a background
    that is flat, a gradient or noisy, drawn at 2x and downsampled for smooth edges."""
    ss = 2
    big = size * ss
    bg = np.array(_jitter(BACKGROUNDS[spec.background], rng, 20), dtype=np.float32)
    style = rng.integers(3)
    if style == 0:
        arr = np.broadcast_to(bg, (big, big, 3)).copy()
    elif style == 1:
        ramp = np.linspace(-25, 25, big, dtype=np.float32)[:, None, None]
        arr = np.clip(bg + (ramp if rng.integers(2) else ramp.transpose(1, 0, 2)), 0, 255)
        arr = np.broadcast_to(arr, (big, big, 3)).copy()
    else:
        noise = rng.normal(0, 14, (size, size, 1)).astype(np.float32)
        arr = np.clip(bg + noise, 0, 255).repeat(ss, 0).repeat(ss, 1)
    img = Image.fromarray(arr.astype(np.uint8), "RGB")
    draw = ImageDraw.Draw(img)
    r = rng.uniform(0.2, 0.34) * big
    cx = rng.uniform(r * 1.2, big - r * 1.2)
    cy = rng.uniform(r * 1.2, big - r * 1.2)
    fill = _jitter(COLORS[spec.color], rng, 18)
    if spec.shape == "circle":
        draw.ellipse([cx - r, cy - r, cx + r, cy + r], fill=fill)
    else:
        draw.polygon(_polygon(spec.shape, cx, cy, r, rng.uniform(-0.3, 0.3)), fill=fill)
    img = img.resize((size, size), Image.Resampling.LANCZOS)
    if rng.random() < 0.2:
        img = img.filter(ImageFilter.GaussianBlur(0.6))
    return img


def random_spec(rng: np.random.Generator) -> ShapeSpec:
    return ShapeSpec(str(rng.choice(list(COLORS))), str(rng.choice(SHAPES)),
                     str(rng.choice(list(BACKGROUNDS))))


def caption(spec: ShapeSpec, rng: np.random.Generator) -> str:
    """A caption in one of the forms people type; partial ones ("a circle", "red") teach the
    text tower what each word means on its own, which query arithmetic and zero-shot labels
    rely on."""
    c, s, b = spec.color, spec.shape, spec.background
    forms = [
        f"a {c} {s}", f"a {c} {s}", f"a photo of a {c} {s}", f"a {c} {s} on a {b} background",
        f"{c} {s}", f"a {s}", f"a photo of a {s}", f"a {c} shape", f"something {c}", f"{c}",
    ]
    return forms[int(rng.integers(len(forms)))]


# ----------------------------------------------------------------------------- training


def cache_dir() -> Path:
    env = os.environ.get("DAGUERRE_TEST_CACHE")
    if env:
        return Path(env)
    return Path(__file__).resolve().parents[2] / ".cache" / "tests"


def cache_key(params: TrainParams) -> str:
    h = hashlib.sha256(Path(__file__).read_bytes())
    h.update(json.dumps([asdict(params), CONFIG], sort_keys=True).encode())
    return h.hexdigest()[:16]


def _dataset(params: TrainParams, preprocess, tokenizer):  # noqa: ANN001, ANN202
    import torch

    rng = np.random.default_rng(params.seed)
    specs = [random_spec(rng) for _ in range(params.n_images)]
    images = torch.stack([preprocess(draw_shape(sp, rng, params.image_px)) for sp in specs])
    per_image = 4  # captions drawn per image; one is picked at each step
    texts = [caption(sp, rng) for sp in specs for _ in range(per_image)]
    tokens = tokenizer(texts).view(params.n_images, per_image, -1)
    return images, tokens


def train(directory: Path, params: TrainParams = TrainParams(), *, config: dict | None = None,
          device: str = "cpu", verbose: bool = False) -> tuple[Path, Path]:
    """Train the model and write ``<MODEL_NAME>.json`` and ``<MODEL_NAME>.pt`` into
    ``directory``. ``config`` and ``device`` exist for tuning runs; tests use the defaults."""
    import open_clip
    import torch
    from open_clip.loss import ClipLoss

    directory.mkdir(parents=True, exist_ok=True)
    cfg_path = directory / f"{MODEL_NAME}.json"
    weights_path = directory / f"{MODEL_NAME}.pt"
    cfg_path.write_text(json.dumps(config or CONFIG, indent=2))
    open_clip.add_model_config(cfg_path)

    threads = torch.get_num_threads()
    torch.set_num_threads(params.threads)
    try:
        torch.manual_seed(params.seed)
        model, _, preprocess = open_clip.create_model_and_transforms(MODEL_NAME, pretrained=None)
        # Only a few dozen of the 49408 token embeddings are ever used: training the whole table
        # would spend most of each step on dense gradients and Adam updates of unused rows.
        model.token_embedding.weight.requires_grad_(not params.freeze_token_embedding)
        model.to(device)
        tokenizer = open_clip.get_tokenizer(MODEL_NAME)
        t0 = time.monotonic()
        images, tokens = _dataset(params, preprocess, tokenizer)
        images, tokens = images.to(device), tokens.to(device)
        if verbose:
            print(f"data: {len(images)} images in {time.monotonic() - t0:.1f} s")
        loss_fn = ClipLoss()
        opt = torch.optim.AdamW([p for p in model.parameters() if p.requires_grad], lr=params.lr,
                                weight_decay=0.05)

        def lr_at(step: int) -> float:
            if step < params.warmup:
                return params.lr * (step + 1) / params.warmup
            done = (step - params.warmup) / max(1, params.steps - params.warmup)
            return params.lr * 0.5 * (1 + math.cos(math.pi * done))

        gen = torch.Generator().manual_seed(params.seed)
        model.train()
        t0 = time.monotonic()
        for step in range(params.steps):
            for group in opt.param_groups:
                group["lr"] = lr_at(step)
            idx = torch.randint(len(images), (params.batch_size,), generator=gen).to(device)
            which = torch.randint(tokens.shape[1], (params.batch_size,), generator=gen).to(device)
            image_features, text_features, logit_scale = model(images[idx], tokens[idx, which])
            loss = loss_fn(image_features, text_features, logit_scale)
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            with torch.no_grad():
                model.logit_scale.clamp_(0, math.log(100))
            if verbose and (step % 100 == 0 or step == params.steps - 1):
                print(f"step {step:4d}  loss {loss.item():.3f}  "
                      f"scale {model.logit_scale.exp().item():.1f}  {time.monotonic() - t0:.0f} s")
        model.eval().to("cpu")
        tmp = weights_path.with_suffix(".tmp")
        torch.save(model.state_dict(), tmp)
        os.replace(tmp, weights_path)
    finally:
        torch.set_num_threads(threads)
    return cfg_path, weights_path


def trained_clip(params: TrainParams = TrainParams(), *, verbose: bool = False
                 ) -> tuple[Path, Path]:
    """(config JSON, weights) of the trained model, from the cache or trained now."""
    directory = cache_dir() / f"shapes-clip-{cache_key(params)}"
    cfg_path = directory / f"{MODEL_NAME}.json"
    weights_path = directory / f"{MODEL_NAME}.pt"
    if cfg_path.is_file() and weights_path.is_file():
        return cfg_path, weights_path
    import fcntl

    directory.mkdir(parents=True, exist_ok=True)
    with open(directory / ".lock", "w") as lock:  # two test processes never train twice
        fcntl.flock(lock, fcntl.LOCK_EX)
        if not weights_path.is_file():
            train(directory, params, verbose=verbose)
    return cfg_path, weights_path


def write_shapes(folder: Path, specs: list[ShapeSpec], *, seed: int, size: int = 64,
                 fmt: str = "png") -> list[Path]:
    """Write one image per spec into ``folder`` (file names carry colour and shape)."""
    rng = np.random.default_rng(seed)
    folder.mkdir(parents=True, exist_ok=True)
    paths = []
    for i, sp in enumerate(specs):
        p = folder / f"{i:04d}-{sp.color}-{sp.shape}.{fmt}"
        draw_shape(sp, rng, size).save(p)
        paths.append(p)
    return paths


if __name__ == "__main__":
    started = time.monotonic()
    print(trained_clip(verbose=True), f"{time.monotonic() - started:.1f} s")
