"""Masks of inpaint and restore jobs (white = damaged / repaint).

A user's mask file is stored once, content-addressed, as a grayscale PNG under ``<data>/masks``
named by its SHA-256, which is what job parameters carry (:func:`store_mask`). A mask may also be
given as rectangles in the input image's pixels (``mask_boxes``), drawn when the job runs.
"""

from __future__ import annotations

import hashlib
import io
from pathlib import Path
from typing import Any

from daguerre.platform.context import Context
from daguerre.platform.errors import BadInput, DaguerreError, NotFound
from daguerre.platform.files import atomic_write

MAX_BOXES = 1000
MAX_COORD = 100_000
_SHA = frozenset("0123456789abcdef")


def masks_dir(ctx: Context) -> Path:
    return ctx.settings.home / "masks"


def store_mask(ctx: Context, data: bytes, name: str = "mask") -> str:
    """Keep a user's mask (any image format) as a grayscale PNG named by its SHA-256; returns
    that hash. ``name`` is how the caller knows the input (``--mask photo.png``)."""
    from PIL import Image as PILImage

    try:
        with PILImage.open(io.BytesIO(data)) as im:
            limit = ctx.settings.max_image_pixels
            if limit and im.width * im.height > limit:
                raise BadInput(f"{name}: {im.width}x{im.height} pixels is over the limit",
                               field="mask", value=name)
            gray = im.convert("L")
    except DaguerreError:
        raise
    except Exception as exc:  # noqa: BLE001 - any decoder failure means "not an image"
        raise BadInput(f"{name}: not a readable image ({exc or type(exc).__name__})",
                       field="mask", value=name) from None
    buf = io.BytesIO()
    gray.save(buf, format="PNG")
    png = buf.getvalue()
    key = hashlib.sha256(png).hexdigest()
    path = masks_dir(ctx) / f"{key}.png"
    if not path.exists():
        atomic_write(path, png)
    return key


def check_mask_key(ctx: Context, key: str, name: str = "params.mask") -> None:
    """BadInput unless ``key`` is a SHA-256; NotFound unless that mask is stored."""
    if len(key) != 64 or not set(key) <= _SHA:
        raise BadInput(f"{name} must be the SHA-256 of a stored mask (64 hex digits), "
                       f"got {key[:80]!r}", field=name, value=key)
    if not (masks_dir(ctx) / f"{key}.png").is_file():
        raise NotFound(f"{name}: no stored mask {key}", field=name, value=key)


def load_mask(ctx: Context, key: str) -> Any:
    from PIL import Image as PILImage

    check_mask_key(ctx, key)
    with PILImage.open(masks_dir(ctx) / f"{key}.png") as im:
        return im.convert("L")


def check_boxes(boxes: Any, name: str = "params.mask_boxes") -> None:
    """Each box is ``[x0, y0, x1, y1]`` in the input image's pixels (white = repaint)."""
    for i, box in enumerate(boxes):
        where = f"{name}[{i}]"
        if (not isinstance(box, list) or len(box) != 4
                or not all(isinstance(v, int) and not isinstance(v, bool) for v in box)):
            raise BadInput(f"{where} must be [x0, y0, x1, y1] (4 integers), got {box!r}",
                           field=where, value=box)
        if not all(0 <= v <= MAX_COORD for v in box):
            raise BadInput(f"{where} coordinates must be between 0 and {MAX_COORD}",
                           field=where, value=box)


def boxes_mask(size: tuple[int, int], boxes: list[list[int]]) -> Any:
    """A mask of ``size`` that is white inside the boxes (clipped to the image)."""
    from PIL import Image as PILImage
    from PIL import ImageDraw

    mask = PILImage.new("L", size, 0)
    draw = ImageDraw.Draw(mask)
    for x0, y0, x1, y1 in boxes:
        if x1 > x0 and y1 > y0:
            draw.rectangle([x0, y0, x1 - 1, y1 - 1], fill=255)
    return mask


def mask_for(ctx: Context, params: dict[str, Any], image: Any) -> Any:
    """The mask a job's parameters name (a stored mask or rectangles), or None."""
    if params.get("mask"):
        return load_mask(ctx, params["mask"])
    if params.get("mask_boxes") and image is not None:
        return boxes_mask(image.size, params["mask_boxes"])
    return None
