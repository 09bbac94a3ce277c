"""Semantic search over the catalog: embed a query, rank with the vector store, join the catalog."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from daguerre.platform.catalog.models import Image, ImageStatus, Library
from daguerre.platform.context import Context
from daguerre.platform.errors import NotFound, UserError
from sqlalchemy import select


@dataclass(frozen=True)
class Hit:
    id: int
    path: str
    score: float
    library: str | None
    width: int
    height: int

    def as_dict(self) -> dict[str, Any]:
        return {"id": self.id, "path": self.path, "score": round(self.score, 6),
                "library": self.library, "width": self.width, "height": self.height}


def image_path(home: Path, image: Image, library: Library | None) -> str:
    """The absolute path of an image's file (library images live under their root)."""
    base = Path(library.root) if library is not None else home
    return str(base / image.path)


def embed_image_file(ctx: Context, path: str) -> np.ndarray:
    """Embed an image file given on the command line (not necessarily in a library)."""
    from daguerre.indexer.decode import DecodeError, DecodeOptions, decode_file
    from daguerre.platform.indexing import _model_size

    encoder = ctx.encoder()
    s = ctx.settings
    try:
        d = decode_file(path, DecodeOptions(encoder.pixel_stage, model_size=_model_size(encoder),
                                            draft=s.draft_decode, thumbnail_size=s.thumbnail_size,
                                            max_pixels=s.max_image_pixels))
    except DecodeError as exc:
        raise UserError(f"cannot use {path} as a query image: {exc}") from None
    return encoder.encode_pixels([d.pixels])[0]


def stored_embedding(ctx: Context, image_id: int) -> np.ndarray:
    store = ctx.store()
    if image_id not in store:
        with ctx.catalog.session() as s:
            if s.get(Image, image_id) is None:
                raise NotFound(f"no image with id {image_id}")
        raise UserError(f"image {image_id} has no embedding for model {store.model_key}: "
                        "run `daguerre index` first")
    return store.get([image_id])[0]


def rank(ctx: Context, query: np.ndarray, limit: int, *, exclude: set[int] | None = None,
         offset: int = 0) -> list[Hit]:
    """The ``limit`` best active images for a query vector, best first."""
    if limit < 1:
        raise UserError(f"limit must be at least 1, got {limit}")
    store = ctx.store()
    exclude = exclude or set()
    want = limit + offset + len(exclude)
    hits: list[Hit] = []
    while True:
        scores, ids = store.search(query.astype(np.float32), want)
        found = [(int(i), float(sc)) for i, sc in zip(ids[0], scores[0], strict=True)
                 if int(i) not in exclude]
        hits = _join(ctx, found)
        if len(hits) >= limit + offset or len(ids[0]) < want:
            return hits[offset:offset + limit]
        want *= 2  # some hits were not active in the catalog: look further


def _join(ctx: Context, found: list[tuple[int, float]]) -> list[Hit]:
    if not found:
        return []
    with ctx.catalog.session() as s:
        rows = {img.id: (img, lib) for img, lib in s.execute(
            select(Image, Library).outerjoin(Library, Image.library_id == Library.id)
            .where(Image.id.in_([i for i, _ in found]), Image.status == ImageStatus.ACTIVE))}
    out = []
    for image_id, score in found:
        if image_id in rows:
            img, lib = rows[image_id]
            out.append(Hit(image_id, image_path(ctx.settings.home, img, lib), score,
                           lib.name if lib else None, img.width, img.height))
    return out


def search_text(ctx: Context, text: str, limit: int = 10) -> list[Hit]:
    if not text.strip():
        raise UserError("the search text is empty")
    return rank(ctx, ctx.encoder().encode_text([text])[0], limit)


def search_image(ctx: Context, path: str, limit: int = 10) -> list[Hit]:
    return rank(ctx, embed_image_file(ctx, path), limit)


def similar(ctx: Context, image_id: int, limit: int = 10) -> list[Hit]:
    """Images most like an indexed one (the image itself excluded)."""
    return rank(ctx, stored_embedding(ctx, image_id), limit, exclude={image_id})
