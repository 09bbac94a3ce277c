"""Diffusion-backed restoration steps: inpainting on crops around damage, tiled x4 upscaling."""

from __future__ import annotations

from typing import Any

import numpy as np

from ..request import GenerationRequest


def native_size(operation: Any) -> int:
    """The side, in pixels, the operation's UNet was trained at (512 for SD 1.5 inpainting)."""
    pipe = operation.load()
    size = int(pipe.unet.config.sample_size) * int(getattr(pipe, "vae_scale_factor", 8))
    return max(64, size - size % 8)


def _feather(mask: np.ndarray, radius: int) -> np.ndarray:
    import cv2

    alpha = (mask > 0).astype(np.float32)
    if radius > 0:
        alpha = cv2.dilate(alpha, np.ones((radius, radius), np.uint8))
        alpha = cv2.GaussianBlur(alpha, (2 * radius + 1, 2 * radius + 1), radius / 2)
    return np.clip(alpha, 0, 1)[..., None]


def inpaint_crops(
    rgb: np.ndarray, mask: np.ndarray, operation: Any, *, prompt: str, negative_prompt: str,
    steps: int, guidance_scale: float, seed: int, max_crops: int, should_cancel: Any = None,
) -> tuple[np.ndarray, int, int]:
    """Inpaint each cluster of damage in a window at the model's native resolution, blended back.

    Working on native-size crops keeps the model in the regime it was trained for (whole-image
    inpainting of a 4000 px scan would be resized into mush) and keeps memory flat. Only masked
    pixels (with a feathered edge) are replaced, so undamaged pixels stay the original's.
    Returns the image, the number of crops processed, and how many damaged pixels lay beyond the
    crop budget (filled with OpenCV Telea instead).
    """
    import cv2
    from PIL import Image

    side = native_size(operation)
    h, w = mask.shape
    out = rgb.astype(np.float32).copy()
    remaining = (mask > 0).astype(np.uint8)
    crops = 0
    while remaining.any() and crops < max_crops:
        ys, xs = np.nonzero(remaining)
        # Centre the window on the first remaining damage, then on its neighbours' bounding box.
        cy, cx = int(ys[0]), int(xs[0])
        win_w, win_h = min(side, w), min(side, h)
        x0 = int(np.clip(cx - win_w // 2, 0, w - win_w))
        y0 = int(np.clip(cy - win_h // 2, 0, h - win_h))
        crop = out[y0:y0 + win_h, x0:x0 + win_w].clip(0, 255).astype(np.uint8)
        crop_mask = (mask[y0:y0 + win_h, x0:x0 + win_w] > 0).astype(np.uint8) * 255
        work = (side, side)
        request = GenerationRequest(
            prompt=prompt, negative_prompt=negative_prompt, seed=seed + crops, steps=steps,
            guidance_scale=guidance_scale, strength=1.0,
            image=Image.fromarray(crop).resize(work, Image.Resampling.LANCZOS),
            mask=Image.fromarray(crop_mask).resize(work, Image.Resampling.NEAREST),
        )
        result = operation.run(request, should_cancel=should_cancel)[0]
        filled = np.asarray(result.convert("RGB").resize((win_w, win_h), Image.Resampling.LANCZOS))
        alpha = _feather(crop_mask, 3)
        region = out[y0:y0 + win_h, x0:x0 + win_w]
        out[y0:y0 + win_h, x0:x0 + win_w] = alpha * filled + (1 - alpha) * region
        remaining[y0:y0 + win_h, x0:x0 + win_w] = 0
        crops += 1
    leftover = int(remaining.sum())
    if leftover:
        # Past the crop budget, the rest is filled the weights-free way rather than left damaged.
        out = cv2.inpaint(out.clip(0, 255).astype(np.uint8), remaining * 255, 5, cv2.INPAINT_TELEA)
    return out.clip(0, 255).round().astype(np.uint8), crops, leftover


def upscale_tiles(
    rgb: np.ndarray, operation: Any, *, prompt: str, steps: int, guidance_scale: float,
    noise_level: int, seed: int, tile: int = 128, overlap: int = 16, should_cancel: Any = None,
) -> np.ndarray:
    """x4 upscale tile by tile (the upscaler's native 128 px input), blended with linear ramps."""
    from PIL import Image

    scale = 4
    h, w = rgb.shape[:2]
    tile = min(tile, h, w)
    step = max(1, tile - overlap)
    ys = list(range(0, max(h - tile, 0) + 1, step))
    xs = list(range(0, max(w - tile, 0) + 1, step))
    if ys[-1] + tile < h:
        ys.append(h - tile)
    if xs[-1] + tile < w:
        xs.append(w - tile)
    acc = np.zeros((h * scale, w * scale, 3), np.float32)
    weight = np.zeros((h * scale, w * scale, 1), np.float32)
    ramp = np.minimum(np.arange(tile * scale) + 1, np.arange(tile * scale)[::-1] + 1).astype(np.float32)
    ramp = np.minimum(ramp / max(overlap * scale, 1), 1.0)
    window = (ramp[:, None] * ramp[None, :])[..., None]
    for i, y in enumerate(ys):
        for j, x in enumerate(xs):
            request = GenerationRequest(
                prompt=prompt, seed=seed + i * len(xs) + j, steps=steps,
                guidance_scale=guidance_scale, noise_level=noise_level,
                image=Image.fromarray(np.ascontiguousarray(rgb[y:y + tile, x:x + tile])),
            )
            up = np.asarray(operation.run(request, should_cancel=should_cancel)[0].convert("RGB"))
            acc[y * scale:(y + tile) * scale, x * scale:(x + tile) * scale] += up * window
            weight[y * scale:(y + tile) * scale, x * scale:(x + tile) * scale] += window
    return (acc / np.maximum(weight, 1e-6)).clip(0, 255).round().astype(np.uint8)
