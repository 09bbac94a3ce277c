"""The one request type every operation takes, and the checks shared by all of them."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from .errors import InvalidArgument

# Sizes are in output pixels. 2048 keeps an SD-1.5/SDXL UNet within a 24 GB card with slicing on.
MIN_SIZE = 64
MAX_SIZE = 2048
MAX_BATCH = 16
MAX_STEPS = 500
MAX_SEED = 2**32 - 1  # A1111 seeds are 32-bit; torch accepts 64 but tools that read them do not.


@dataclass
class GenerationRequest:
    """Parameters of one generation call. Which fields matter depends on the operation.

    ``image`` and ``mask`` are PIL images (mask: white = repaint). ``seed=None`` picks a random seed,
    which is then recorded in each output's provenance, so every output can be reproduced.
    """

    prompt: str = ""
    negative_prompt: str = ""
    seed: int | None = None
    steps: int = 25
    guidance_scale: float = 7.5
    scheduler: str | None = None
    width: int | None = None
    height: int | None = None
    batch_size: int = 1
    image: Any = None
    mask: Any = None
    strength: float | None = None
    image_guidance_scale: float = 1.5
    noise_level: int = 20
    extra: dict[str, Any] = field(default_factory=dict)

    def parameters(self) -> dict[str, Any]:
        """JSON-safe parameters (images omitted: lineage records them by catalog id)."""
        return {
            "prompt": self.prompt,
            "negative_prompt": self.negative_prompt,
            "seed": self.seed,
            "steps": self.steps,
            "guidance_scale": self.guidance_scale,
            "scheduler": self.scheduler,
            "width": self.width,
            "height": self.height,
            "batch_size": self.batch_size,
            "strength": self.strength,
            "image_guidance_scale": self.image_guidance_scale,
            "noise_level": self.noise_level,
            **({"extra": self.extra} if self.extra else {}),
        }


def check_int(name: str, value: Any, lo: int, hi: int) -> None:
    if isinstance(value, bool) or not isinstance(value, int):
        raise InvalidArgument(name, value, "must be an integer")
    if not lo <= value <= hi:
        raise InvalidArgument(name, value, f"must be between {lo} and {hi}")


def check_float(name: str, value: Any, lo: float, hi: float) -> None:
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise InvalidArgument(name, value, "must be a number")
    if not lo <= float(value) <= hi:
        raise InvalidArgument(name, value, f"must be between {lo} and {hi}")


def check_size(name: str, value: Any, multiple: int = 8, lo: int = MIN_SIZE, hi: int = MAX_SIZE) -> None:
    check_int(name, value, lo, hi)
    if value % multiple:
        raise InvalidArgument(name, value, f"must be a multiple of {multiple}")


def check_text(name: str, value: Any) -> None:
    if not isinstance(value, str):
        raise InvalidArgument(name, value, "must be a string")


def check_pil_image(name: str, value: Any, required: bool = True) -> None:
    from PIL import Image

    if value is None:
        if required:
            raise InvalidArgument(name, value, "an image is required for this operation")
        return
    if not isinstance(value, Image.Image):
        raise InvalidArgument(name, type(value).__name__, "must be a PIL image")
    if value.width < 8 or value.height < 8:
        raise InvalidArgument(name, value.size, "image is smaller than 8x8 pixels")


def check_mask(name: str, mask: Any, image_size: tuple[int, int]) -> None:
    """A mask must be an image (or 2-D array) of exactly the image's size."""
    import numpy as np
    from PIL import Image

    if mask is None:
        raise InvalidArgument(name, mask, "a mask is required for this operation")
    if isinstance(mask, Image.Image):
        size = mask.size
    elif isinstance(mask, np.ndarray):
        if mask.ndim != 2:
            raise InvalidArgument(name, mask.shape, "mask array must be 2-D (height, width)")
        size = (mask.shape[1], mask.shape[0])
    else:
        raise InvalidArgument(name, type(mask).__name__, "must be a PIL image or a 2-D array")
    if tuple(size) != tuple(image_size):
        raise InvalidArgument(
            name, f"{size[0]}x{size[1]}", f"mask size differs from the image's {image_size[0]}x{image_size[1]}"
        )


def check_common(request: GenerationRequest) -> None:
    """Checks every operation shares: text, seed, steps, guidance, scheduler, batch size."""
    from .schedulers import check_scheduler

    check_text("prompt", request.prompt)
    check_text("negative_prompt", request.negative_prompt)
    if request.seed is not None:
        check_int("seed", request.seed, 0, MAX_SEED)
    check_int("steps", request.steps, 1, MAX_STEPS)
    check_float("guidance_scale", request.guidance_scale, 0.0, 50.0)
    check_int("batch_size", request.batch_size, 1, MAX_BATCH)
    check_scheduler(request.scheduler)
