"""Catalog rows as JSON objects (the shapes ``openapi.py`` documents)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from flask import url_for

from daguerre.platform.catalog.models import Image, ImageTag, Library


def iso(value: datetime | None) -> str | None:
    if value is None:
        return None
    if value.tzinfo is None:  # SQLite returns naive datetimes; they were written in UTC
        value = value.replace(tzinfo=UTC)
    return value.isoformat()


def library_dict(lib: Library, images: int = 0) -> dict[str, Any]:
    return {"id": lib.id, "name": lib.name, "root": lib.root, "images": images,
            "created_at": iso(lib.created_at), "last_indexed_at": iso(lib.last_indexed_at)}


def tag_dict(tag: ImageTag) -> dict[str, Any]:
    return {"name": tag.tag.name, "source": str(tag.source.value),
            "score": None if tag.score is None else round(float(tag.score), 6)}


def image_urls(image_id: int) -> dict[str, str]:
    return {"thumbnail_url": url_for("api.images.thumbnail", image_id=image_id),
            "original_url": url_for("api.images.original", image_id=image_id)}


def image_dict(img: Image, library: Library | None, tags: list[ImageTag] | None = None
               ) -> dict[str, Any]:
    out: dict[str, Any] = {
        "id": img.id,
        "library_id": img.library_id,
        "library": library.name if library is not None else None,
        "path": img.path,
        "sha256": img.sha256,
        "size": img.size,
        "width": img.width,
        "height": img.height,
        "format": img.format,
        "captured_at": iso(img.captured_at),
        "status": str(img.status.value),
        "origin": str(img.origin.value),
        "rating": img.rating,
        "review_state": str(img.review_state.value),
        "duplicate_of": img.duplicate_of,
        "created_at": iso(img.created_at),
    }
    if tags is not None:
        out["tags"] = [tag_dict(t) for t in sorted(tags, key=lambda t: (t.tag.name, t.source))]
    out.update(image_urls(img.id))
    return out
