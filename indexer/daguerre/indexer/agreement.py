"""The agreement check: are a runtime's embeddings the reference's, to within a cosine?

Vectors of two runtimes (or precisions) may share one vector store only when they are
interchangeable: a query embedded by one must rank images embedded by the other as it would
rank its own. The check embeds the same images and texts with the reference (torch fp32) and the
candidate and compares them row by row; the minimum cosine, over images and texts, must reach
:data:`MIN_COSINE`. Pure numpy: the encoders are anything with ``encode_pixels`` and
``encode_text`` (duck-typed, so this module imports neither torch nor ONNX Runtime).
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Protocol

import numpy as np

# The rule of issue 12: below this, a runtime's vectors are not interchangeable with torch fp32's.
MIN_COSINE = 0.999

# Texts for the check: the kinds of queries people type, short and long, plus the zero-shot
# prompt form (classification embeds "a photo of a <label>").
CHECK_TEXTS: tuple[str, ...] = (
    "a photo of a dog", "a photo of a cat", "a portrait of a woman smiling",
    "a child playing on the beach", "mountains at sunset", "a city street at night",
    "a plate of food on a wooden table", "a red car", "snow", "a birthday cake with candles",
    "a black and white photo of an old building", "flowers in a garden", "a document",
    "a screenshot", "two people hiking in a forest with a lake behind them", "fireworks",
    "a photo of a circle", "a blue square", "something green", "x",
)


class Embeds(Protocol):
    def encode_pixels(self, pixels: np.ndarray) -> np.ndarray: ...
    def encode_text(self, texts: Sequence[str]) -> np.ndarray: ...


def cosine_figures(reference: np.ndarray, candidate: np.ndarray) -> dict[str, float]:
    """Mean and minimum row-wise cosine of two (n, d) arrays (rows need not be normalised)."""
    a = np.asarray(reference, dtype=np.float64)
    b = np.asarray(candidate, dtype=np.float64)
    if a.shape != b.shape or a.ndim != 2 or not len(a):
        raise ValueError(f"cannot compare embeddings of shapes {a.shape} and {b.shape}")
    a = a / np.maximum(np.linalg.norm(a, axis=1, keepdims=True), 1e-12)
    b = b / np.maximum(np.linalg.norm(b, axis=1, keepdims=True), 1e-12)
    cos = np.sum(a * b, axis=1)
    return {"mean": float(cos.mean()), "min": float(cos.min()), "n": int(len(cos))}


@dataclass(frozen=True)
class Agreement:
    """How close a candidate runtime's embeddings are to the reference's, for one model."""

    runtime: str
    precision: str
    reference: str  # e.g. "torch fp32"
    images: dict[str, float]
    texts: dict[str, float]
    image_source: str  # "library" (the user's own photos) or "samples" (bundled ones)
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def min_cosine(self) -> float:
        return min(self.images["min"], self.texts["min"])

    def passes(self, threshold: float | None = None) -> bool:
        return self.min_cosine >= (MIN_COSINE if threshold is None else threshold)

    def describe(self) -> str:
        return (f"{self.runtime} {self.precision} vs {self.reference}: images mean "
                f"{self.images['mean']:.5f} min {self.images['min']:.5f}, texts mean "
                f"{self.texts['mean']:.5f} min {self.texts['min']:.5f}")

    def as_dict(self, threshold: float | None = None) -> dict[str, Any]:
        out = asdict(self)
        out["threshold"] = MIN_COSINE if threshold is None else threshold
        out["passed"] = self.passes(threshold)
        return out

    def save(self, path: Path) -> None:
        tmp = path.with_suffix(".tmp")
        tmp.write_text(json.dumps(asdict(self), indent=2))
        tmp.replace(path)

    @classmethod
    def load(cls, path: Path) -> Agreement | None:
        try:
            data = json.loads(path.read_text())
            data.pop("threshold", None)
            data.pop("passed", None)
            return cls(**data)
        except (OSError, ValueError, TypeError):
            return None


def measure(reference: Embeds, candidate: Embeds, pixels: np.ndarray, texts: Sequence[str], *,
            runtime: str, precision: str, image_source: str,
            reference_name: str = "torch fp32", batch: int = 16) -> Agreement:
    """Embed ``pixels`` (n, H, W, 3 uint8, the pixel stage's output) and ``texts`` with both
    encoders and compare. Batched like indexing, so the figures are those of real use."""
    def run(enc: Embeds) -> tuple[np.ndarray, np.ndarray]:
        img = np.concatenate([enc.encode_pixels(pixels[i:i + batch])
                              for i in range(0, len(pixels), batch)])
        txt = np.concatenate([enc.encode_text(list(texts[i:i + batch]))
                              for i in range(0, len(texts), batch)])
        return img, txt

    ref_img, ref_txt = run(reference)
    cand_img, cand_txt = run(candidate)
    return Agreement(runtime=runtime, precision=precision, reference=reference_name,
                     images=cosine_figures(ref_img, cand_img),
                     texts=cosine_figures(ref_txt, cand_txt), image_source=image_source)
