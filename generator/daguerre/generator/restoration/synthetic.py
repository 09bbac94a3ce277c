"""Seeded synthetic damage for photographs: the ground truth for tests and the quality benchmark.

Models an old print that faded (lower contrast, lifted blacks, a warm cast), got scratched and
dusty, and was then scanned (sensor noise) and saved as JPEG. The scratch and dust mask is returned
so a detector's precision and recall can be measured.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class DamageSpec:
    scratches: tuple[int, int] = (5, 10)
    scratch_width: tuple[int, int] = (1, 3)
    dust: tuple[int, int] = (40, 100)
    dust_radius: tuple[int, int] = (1, 3)
    fade: float = 0.35
    paper: tuple[int, int, int] = (232, 214, 178)
    noise_sigma: float = 6.0
    jpeg_quality: int = 75


def damage(
    image: np.ndarray, seed: int, spec: DamageSpec | None = None
) -> tuple[np.ndarray, np.ndarray]:
    """Damage an RGB uint8 image; returns ``(damaged RGB uint8, defect mask uint8 0/255)``."""
    import cv2

    spec = spec or DamageSpec()
    rng = np.random.default_rng(seed)
    h, w = image.shape[:2]
    img = image.astype(np.float32)
    # Fading: a print's dyes lose density towards the paper colour, unevenly per channel.
    paper = np.array(spec.paper, np.float32)
    fade = spec.fade * rng.uniform(0.8, 1.2, size=3).astype(np.float32)
    img = img * (1 - fade) + paper * fade

    canvas = np.clip(img, 0, 255)
    mask = np.zeros((h, w), np.uint8)
    for _ in range(int(rng.integers(*spec.scratches, endpoint=True))):
        # A scratch: a long, gently curved line, bright (emulsion gone) or dark (dirt in it).
        n = 4
        x0, y0 = rng.uniform(0, w), rng.uniform(0, h)
        angle = rng.uniform(0, np.pi)
        length = rng.uniform(0.3, 0.9) * max(h, w)
        t = np.linspace(0, 1, n)
        bend = rng.normal(0, 0.04 * length, size=n)
        xs = x0 + np.cos(angle) * length * (t - 0.5) - np.sin(angle) * bend
        ys = y0 + np.sin(angle) * length * (t - 0.5) + np.cos(angle) * bend
        pts = np.stack([xs, ys], 1).round().astype(np.int32).reshape(-1, 1, 2)
        thickness = int(rng.integers(*spec.scratch_width, endpoint=True))
        value = rng.uniform(225, 250) if rng.random() < 0.6 else rng.uniform(10, 40)
        layer = np.zeros((h, w), np.uint8)
        cv2.polylines(layer, [pts], False, 255, thickness=thickness, lineType=cv2.LINE_8)
        canvas[layer > 0] = value
        mask |= layer
    for _ in range(int(rng.integers(*spec.dust, endpoint=True))):
        cx, cy = int(rng.integers(0, w)), int(rng.integers(0, h))
        r = int(rng.integers(*spec.dust_radius, endpoint=True))
        value = rng.uniform(5, 35) if rng.random() < 0.6 else rng.uniform(225, 250)
        layer = np.zeros((h, w), np.uint8)
        axes = (r, max(1, int(r * rng.uniform(0.5, 1.0))))
        cv2.ellipse(layer, (cx, cy), axes, float(rng.uniform(0, 180)), 0, 360, 255, -1)
        canvas[layer > 0] = value
        mask |= layer
    canvas += rng.normal(0, spec.noise_sigma, size=canvas.shape).astype(np.float32)
    out = np.clip(canvas, 0, 255).round().astype(np.uint8)
    ok, buf = cv2.imencode(".jpg", out[:, :, ::-1], [cv2.IMWRITE_JPEG_QUALITY, spec.jpeg_quality])
    if not ok:  # pragma: no cover - OpenCV always encodes a valid array
        raise RuntimeError("JPEG encoding failed")
    out = cv2.imdecode(buf, cv2.IMREAD_COLOR)[:, :, ::-1].copy()
    return out, mask


def sample_images() -> dict[str, np.ndarray]:
    """Photographs that ship inside scikit-image (no download); ``camera`` is black and white."""
    from skimage import data

    images = {}
    for name in ("astronaut", "coffee", "chelsea", "rocket", "camera"):
        loader = getattr(data, name, None)
        if loader is None:
            continue
        try:
            arr = np.asarray(loader())
        except Exception:  # noqa: BLE001 - a sample that needs pooch/network is skipped
            continue
        if arr.ndim == 2:
            arr = np.stack([arr] * 3, axis=-1)
        if arr.ndim == 3 and arr.shape[2] >= 3:
            images[name] = np.ascontiguousarray(arr[:, :, :3]).astype(np.uint8)
    return images
