"""Zero-shot classification with CLIP, as in CLIP's own zero-shot evaluation.

Each label becomes a text classifier vector: the label is put into several prompt templates ("a
photo of a {}." ...), each prompt is embedded and L2-normalised, the embeddings are averaged and the
mean is normalised again (a prompt ensemble, which CLIP's paper found worth several points of
accuracy over a single prompt). An image's probabilities are the softmax over labels of
``logit_scale * cosine(image, label)``, with the model's own learned ``logit_scale``.

Labels come from a text file (one label per line, ``#`` comments and blank lines ignored) or the
built-in set for photo libraries (:func:`builtin_labels`).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Protocol

import numpy as np

# A small ensemble for photographs, drawn from CLIP's ImageNet templates.
DEFAULT_TEMPLATES: tuple[str, ...] = (
    "a photo of a {}.",
    "a photo of the {}.",
    "a close-up photo of a {}.",
    "a bright photo of a {}.",
    "a dark photo of the {}.",
    "a cropped photo of a {}.",
    "a good photo of a {}.",
    "a photo of the large {}.",
    "a photo of the small {}.",
)
BUILTIN_LABELS = "photo.txt"


class TextEncoder(Protocol):
    """What classification needs from a CLIP encoder (``ClipEncoder`` is one)."""

    logit_scale: float

    def encode_text(self, texts: Sequence[str]) -> np.ndarray: ...


class LabelError(ValueError):
    """A label file or template Daguerre cannot use; the message says which and why."""


def parse_labels(text: str, source: str = "labels") -> list[str]:
    """Labels from the text of a label file: one per line, blank lines and ``#`` comments
    skipped, duplicates dropped (first kept)."""
    labels: list[str] = []
    seen: set[str] = set()
    for line in text.splitlines():
        label = line.split("#", 1)[0].strip()
        if label and label.lower() not in seen:
            seen.add(label.lower())
            labels.append(label)
    if not labels:
        raise LabelError(f"{source} holds no labels (one label per line)")
    return labels


def load_labels(path: str | Path) -> list[str]:
    """Read a label file. Raises :class:`LabelError` when it is missing, unreadable or empty."""
    p = Path(path)
    try:
        text = p.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise LabelError(f"label file {p} does not exist") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise LabelError(f"label file {p} is not readable text: {exc}") from None
    return parse_labels(text, f"label file {p}")


def builtin_labels() -> list[str]:
    """The built-in label set for photo libraries (``labels/photo.txt`` in this package)."""
    text = resources.files("daguerre.indexer").joinpath("labels", BUILTIN_LABELS).read_text(
        encoding="utf-8")
    return parse_labels(text, "built-in labels")


def check_templates(templates: Sequence[str]) -> tuple[str, ...]:
    if isinstance(templates, str):
        raise LabelError(f"templates must be a list of strings, got the string {templates!r}")
    out = tuple(templates)
    if not out:
        raise LabelError("templates is empty: give at least one, e.g. 'a photo of a {}.'")
    for t in out:
        if t.count("{}") != 1:
            raise LabelError(f"template {t!r} must contain exactly one '{{}}' for the label")
    return out


def label_classifier(encoder: TextEncoder, labels: Sequence[str],
                     templates: Sequence[str] = DEFAULT_TEMPLATES) -> np.ndarray:
    """(n_labels, dim) unit vectors: per label, the re-normalised mean of its normalised prompt
    embeddings."""
    templates = check_templates(templates)
    if not labels:
        raise LabelError("labels is empty")
    prompts = [t.format(label) for label in labels for t in templates]
    emb = np.asarray(encoder.encode_text(prompts), dtype=np.float32)
    emb = emb / np.maximum(np.linalg.norm(emb, axis=1, keepdims=True), 1e-12)
    mean = emb.reshape(len(labels), len(templates), -1).mean(axis=1)
    return (mean / np.maximum(np.linalg.norm(mean, axis=1, keepdims=True), 1e-12)).astype(
        np.float32)


def probabilities(image_embeddings: np.ndarray, classifier: np.ndarray,
                  logit_scale: float) -> np.ndarray:
    """(n_images, n_labels) softmax of ``logit_scale * cosine``; rows sum to 1."""
    x = np.asarray(image_embeddings, dtype=np.float32)
    if x.ndim == 1:
        x = x[None]
    x = x / np.maximum(np.linalg.norm(x, axis=1, keepdims=True), 1e-12)
    logits = float(logit_scale) * (x @ classifier.T)
    logits -= logits.max(axis=1, keepdims=True)
    e = np.exp(logits)
    return e / e.sum(axis=1, keepdims=True)


@dataclass(frozen=True)
class Prediction:
    label: str
    probability: float


def top_labels(probs: np.ndarray, labels: Sequence[str], top: int = 3,
               min_prob: float = 0.0) -> list[list[Prediction]]:
    """Per image, up to ``top`` labels whose probability is at least ``min_prob``, best first
    (ties by label order)."""
    if top < 1:
        raise ValueError(f"top must be at least 1, got {top}")
    if not 0.0 <= min_prob <= 1.0:
        raise ValueError(f"min_prob must be between 0 and 1, got {min_prob}")
    order = np.argsort(-probs, axis=1, kind="stable")[:, :top]
    return [[Prediction(labels[j], float(row[j])) for j in idx if row[j] >= min_prob]
            for row, idx in zip(probs, order, strict=True)]


class ZeroShotClassifier:
    """Labels and templates turned into classifier vectors once, applied to many images."""

    def __init__(self, encoder: TextEncoder, labels: Sequence[str],
                 templates: Sequence[str] = DEFAULT_TEMPLATES) -> None:
        self.labels = list(labels)
        self.templates = check_templates(templates)
        self.logit_scale = float(encoder.logit_scale)
        self.weights = label_classifier(encoder, self.labels, self.templates)

    def probabilities(self, image_embeddings: np.ndarray) -> np.ndarray:
        return probabilities(image_embeddings, self.weights, self.logit_scale)

    def predict(self, image_embeddings: np.ndarray, top: int = 3,
                min_prob: float = 0.0) -> list[list[Prediction]]:
        return top_labels(self.probabilities(image_embeddings), self.labels, top, min_prob)
