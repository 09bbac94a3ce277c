"""Pure-Pillow equivalents of open_clip's inference preprocessing steps.

Decode workers run these instead of the torchvision objects so that a worker process starts
without importing torch (seconds per worker on a small machine). Each class reproduces the
torchvision behaviour on PIL images exactly (same output size arithmetic, same Pillow calls);
the fidelity test compares the result against open_clip's own ``preprocess``. Steps this module
does not know are passed through as the original (picklable) objects.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from PIL import Image, ImageOps

# torchvision InterpolationMode value -> Pillow resampling filter
_PIL_FILTERS = {
    "nearest": Image.Resampling.NEAREST,
    "bilinear": Image.Resampling.BILINEAR,
    "bicubic": Image.Resampling.BICUBIC,
    "box": Image.Resampling.BOX,
    "hamming": Image.Resampling.HAMMING,
    "lanczos": Image.Resampling.LANCZOS,
}


@dataclass(frozen=True)
class ResizeShortest:
    """torchvision ``Resize(int)``: shorter side to ``size``, longer side truncated."""

    size: int
    resample: int

    def __call__(self, img: Image.Image) -> Image.Image:
        w, h = img.size
        short, long = (w, h) if w <= h else (h, w)
        if short == self.size:
            return img
        new_short, new_long = self.size, int(self.size * long / short)
        new_w, new_h = (new_short, new_long) if w <= h else (new_long, new_short)
        return img.resize((new_w, new_h), self.resample)


@dataclass(frozen=True)
class ResizeExact:
    """torchvision ``Resize((h, w))``."""

    height: int
    width: int
    resample: int

    def __call__(self, img: Image.Image) -> Image.Image:
        if img.size == (self.width, self.height):
            return img
        return img.resize((self.width, self.height), self.resample)


@dataclass(frozen=True)
class CenterCrop:
    """torchvision ``CenterCrop``: pads with black when the image is smaller, then crops."""

    height: int
    width: int

    def __call__(self, img: Image.Image) -> Image.Image:
        w, h = img.size
        if self.width > w or self.height > h:
            left = (self.width - w) // 2 if self.width > w else 0
            top = (self.height - h) // 2 if self.height > h else 0
            right = (self.width - w + 1) // 2 if self.width > w else 0
            bottom = (self.height - h + 1) // 2 if self.height > h else 0
            img = ImageOps.expand(img, (left, top, right, bottom), fill=0)
            w, h = img.size
            if (w, h) == (self.width, self.height):
                return img
        top = int(round((h - self.height) / 2.0))
        left = int(round((w - self.width) / 2.0))
        return img.crop((left, top, left + self.width, top + self.height))


@dataclass(frozen=True)
class ConvertMode:
    mode: str = "RGB"

    def __call__(self, img: Image.Image) -> Image.Image:
        return img.convert(self.mode)


def _pair(size: Any) -> tuple[int, int]:
    if isinstance(size, int):
        return size, size
    size = list(size)
    return (size[0], size[0]) if len(size) == 1 else (size[0], size[1])


def pil_equivalent(step: Any) -> Any:
    """A torch-free equivalent of one preprocessing step, or the step itself if unknown."""
    cls = type(step).__name__
    module = type(step).__module__
    if module.startswith("torchvision.transforms") and cls == "Resize":
        if getattr(step, "max_size", None) is not None:
            return step
        mode = getattr(step.interpolation, "value", str(step.interpolation))
        resample = _PIL_FILTERS.get(str(mode).lower())
        if resample is None:
            return step
        size = step.size
        if isinstance(size, int) or len(size) == 1:
            return ResizeShortest(size if isinstance(size, int) else size[0], resample)
        return ResizeExact(size[0], size[1], resample)
    if module.startswith("torchvision.transforms") and cls == "CenterCrop":
        return CenterCrop(*_pair(step.size))
    if cls == "MaybeConvertMode":
        return ConvertMode(step.mode)
    if getattr(step, "__name__", "") == "_convert_to_rgb":
        return ConvertMode("RGB")
    return step
