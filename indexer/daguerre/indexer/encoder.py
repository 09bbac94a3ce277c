"""A loaded CLIP model that turns pixels and text into L2-normalised float32 embeddings.

Preprocessing is split in two at open_clip's ``ToTensor``: the PIL stage (resize, crop, RGB) runs
in decode worker processes and hands over uint8 pixels, which are 4x smaller to pass between
processes than floats; the tensor stage (scale to [0, 1], normalise) runs here, batched. Applied in
that order the result is exactly open_clip's own ``preprocess``.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np

if TYPE_CHECKING:
    import torch
    from PIL import Image

    from daguerre.indexer.models import ClipSpec


@dataclass(frozen=True)
class PixelStage:
    """The picklable PIL part of a model's preprocessing: image in, uint8 HxWx3 array out."""

    transforms: tuple[Callable[[Any], Any], ...]

    def __call__(self, image: Image.Image) -> np.ndarray:
        for t in self.transforms:
            image = t(image)
        arr = np.asarray(image, dtype=np.uint8)
        if arr.ndim == 2:  # a transform chain without an RGB conversion
            arr = np.repeat(arr[:, :, None], 3, axis=2)
        return np.ascontiguousarray(arr)


def split_preprocess(preprocess: Any) -> tuple[PixelStage, tuple[float, ...], tuple[float, ...]]:
    """Split an open_clip Compose into its PIL stage and the Normalize mean/std after ToTensor."""
    from torchvision.transforms import Normalize, ToTensor

    from daguerre.indexer.pixels import pil_equivalent

    steps = list(preprocess.transforms)
    cut = next(i for i, t in enumerate(steps) if isinstance(t, ToTensor))
    norm = next(t for t in steps[cut:] if isinstance(t, Normalize))
    stage = PixelStage(tuple(pil_equivalent(t) for t in steps[:cut]))
    return stage, tuple(norm.mean), tuple(norm.std)


@dataclass
class ClipEncoder:
    """Encodes images and text with one CLIP model. ``key`` names its embedding space."""

    model: Any
    preprocess: Any
    tokenizer: Any
    device: str
    key: str
    spec: ClipSpec
    pixel_stage: PixelStage = field(init=False)
    dim: int = field(init=False)
    #: Batches indexing may run at once (torch parallelises one batch itself) and the batch
    #: size it uses unless told otherwise (see pipeline.embed_files).
    streams: int = field(default=1, init=False)
    preferred_batch: int = field(default=32, init=False)
    _mean: torch.Tensor = field(init=False, repr=False)
    _std: torch.Tensor = field(init=False, repr=False)

    def __post_init__(self) -> None:
        import torch

        self.pixel_stage, mean, std = split_preprocess(self.preprocess)
        self._mean = torch.tensor(mean, device=self.device).view(1, 3, 1, 1)
        self._std = torch.tensor(std, device=self.device).view(1, 3, 1, 1)
        with torch.no_grad():
            self.dim = int(self.model.encode_text(self.tokenizer(["a photo"]).to(self.device))
                           .shape[-1])

    @property
    def image_size(self) -> int:
        """The shorter side of the model's input (what draft decoding must still cover)."""
        size = getattr(self.model.visual, "image_size", 224)
        return int(min(size) if isinstance(size, tuple | list) else size)

    @property
    def logit_scale(self) -> float:
        scale = getattr(self.model, "logit_scale", None)
        return float(scale.exp().item()) if scale is not None else 100.0

    def _autocast(self):  # noqa: ANN202 - a context manager
        import contextlib

        import torch

        if self.device.startswith("cuda"):
            dtype = torch.bfloat16 if torch.cuda.is_bf16_supported() else torch.float16
            return torch.autocast("cuda", dtype=dtype)
        return contextlib.nullcontext()

    @staticmethod
    def _normalise(x: torch.Tensor) -> np.ndarray:
        x = x.float()
        x = x / x.norm(dim=-1, keepdim=True).clamp_min(1e-12)
        return x.cpu().numpy().astype(np.float32, copy=False)

    def encode_pixels(self, pixels: np.ndarray | Sequence[np.ndarray]) -> np.ndarray:
        """Embed uint8 arrays produced by :attr:`pixel_stage` (n, H, W, 3) -> (n, dim)."""
        import torch

        batch = np.stack(pixels) if not isinstance(pixels, np.ndarray) else pixels
        x = torch.from_numpy(batch).to(self.device).permute(0, 3, 1, 2).float().div(255)
        x = (x - self._mean) / self._std
        with torch.inference_mode(), self._autocast():
            return self._normalise(self.model.encode_image(x))

    def encode_images(self, images: Sequence[Image.Image]) -> np.ndarray:
        """Embed PIL images (already oriented and RGB-convertible)."""
        return self.encode_pixels([self.pixel_stage(im) for im in images])

    def encode_text(self, texts: Sequence[str]) -> np.ndarray:
        import torch

        tokens = self.tokenizer(list(texts)).to(self.device)
        with torch.inference_mode(), self._autocast():
            return self._normalise(self.model.encode_text(tokens))
