"""Prompt adherence: how well a generated image follows its prompt, as the indexing model sees it.

The score is the cosine between the prompt's text embedding and the image's embedding under the
CLIP model that indexes the library: the CLIP score of Hessel et al. (2021) before its scaling
(``w * max(cos, 0)``, with w = 2.5 or 100 in other tools), so it reads like the search scores
of the same model. It is computed when an output is written (the image is embedded then anyway,
and the prompt's embedding comes from the text cache) for the operations whose prompt describes
the whole image: ``generate``, ``translate`` and ``edit`` (whose prompt is the instruction).
An inpaint's prompt describes only the masked region and an upscale's only the style, so
neither gets a score, nor does a restore (no prompt).

The score belongs to the model that made the vectors: :func:`rescore` recomputes it from the
vectors an ``embed`` job writes (outputs written while CLIP was unavailable have none).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

import numpy as np
from sqlalchemy import select

from daguerre.platform.catalog.models import Image, ImageOrigin, Lineage
from daguerre.platform.context import Context

ADHERENCE_OPERATIONS = ("generate", "translate", "edit")


def prompt_of(operation: str, parameters: Mapping[str, Any] | None) -> str | None:
    """The text an output of ``operation`` is scored against (its request's ``prompt``; an
    edit's instruction is its prompt), or None when it gets no score."""
    if operation not in ADHERENCE_OPERATIONS or not parameters:
        return None
    prompt = parameters.get("prompt")
    if not isinstance(prompt, str) or not prompt.strip():
        return None
    return prompt.strip()


def adherence(ctx: Context, prompt: str, image_vector: np.ndarray) -> float:
    """The cosine between ``prompt`` (through the text cache) and an image's embedding."""
    from daguerre.platform.services.text_cache import embed_texts

    text = np.asarray(embed_texts(ctx, [prompt])[0], np.float32)
    image = np.asarray(image_vector, np.float32).reshape(-1)
    norm = float(np.linalg.norm(text) * np.linalg.norm(image))
    return round(float(np.dot(text, image)) / norm, 6) if norm else 0.0


def rescore(ctx: Context, embedded: Iterable[tuple[int, np.ndarray]]) -> int:
    """Recompute the adherence of the generated images among ``embedded`` (``(image id,
    vector)`` pairs under the configured model, as an ``embed`` job writes them); returns how
    many were scored. Other images are left alone."""
    vectors = {int(i): v for i, v in embedded}
    if not vectors:
        return 0
    with ctx.catalog.session() as s:
        rows = s.execute(
            select(Lineage.image_id, Lineage.operation, Lineage.params)
            .join(Image, Image.id == Lineage.image_id)
            .where(Lineage.image_id.in_(list(vectors)), Image.origin == ImageOrigin.GENERATED)
            .order_by(Lineage.id)).all()
    prompts: dict[int, str] = {}
    for image_id, operation, params in rows:
        provenance = (params or {}).get("provenance") or {}
        prompt = prompt_of(operation, provenance.get("parameters"))
        if prompt is not None:
            prompts.setdefault(image_id, prompt)
    scores = {i: adherence(ctx, p, vectors[i]) for i, p in prompts.items()}
    with ctx.catalog.session() as s:
        for image_id, score in scores.items():
            img = s.get(Image, image_id)
            if img is not None:
                img.adherence = score
    return len(scores)
