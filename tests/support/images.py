"""Images for tests: real photographs that ship inside scikit-image, and small generated ones."""

from __future__ import annotations

from pathlib import Path

import numpy as np
from PIL import Image

PHOTOS = ("astronaut", "coffee", "chelsea", "rocket", "hubble_deep_field", "immunohistochemistry")


def photo(name: str) -> Image.Image:
    from skimage import data

    return Image.fromarray(getattr(data, name)()).convert("RGB")


def noise_image(seed: int, size: tuple[int, int] = (96, 64)) -> Image.Image:
    """A distinct smooth random image (different seeds give clearly different pictures)."""
    rng = np.random.default_rng(seed)
    small = rng.integers(0, 256, (4, 4, 3), dtype=np.uint8)
    return Image.fromarray(small).resize(size, Image.Resampling.BICUBIC)


def write_grainy_library(folder: Path, n: int, seed: int, size: tuple[int, int] = (1600, 1200)
                         ) -> Path:
    """``n`` distinct JPEGs with sensor-like grain, for tests that must catch an indexer in the
    middle: grain makes decoding real work (a smooth image decodes in a blink at draft scale)."""
    folder.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(seed)
    for i in range(n):
        base = np.asarray(noise_image(seed * 1000 + i, size=size), dtype=np.int16)
        grain = rng.integers(-24, 25, base.shape, dtype=np.int16)
        Image.fromarray(np.clip(base + grain, 0, 255).astype(np.uint8)).save(
            folder / f"img{i:03d}.jpg", quality=95)
    return folder


def write_photos(folder: Path, names: tuple[str, ...] = PHOTOS[:4]) -> list[Path]:
    folder.mkdir(parents=True, exist_ok=True)
    paths = []
    for name in names:
        path = folder / f"{name}.jpg"
        photo(name).save(path, quality=92)
        paths.append(path)
    return paths


def write_bomb(path: Path, side: int = 10_000) -> Path:
    """A small PNG that declares more pixels than Pillow's decompression-bomb limit."""
    Image.new("1", (side, side)).save(path)
    return path
