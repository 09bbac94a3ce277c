"""Catalog rows as JSON objects (the shapes ``openapi.py`` documents)."""

from __future__ import annotations

from datetime import UTC, datetime

from flask import url_for


def iso(value: datetime | None) -> str | None:
    if value is None:
        return None
    if value.tzinfo is None:  # SQLite returns naive datetimes; they were written in UTC
        value = value.replace(tzinfo=UTC)
    return value.isoformat()


def image_urls(image_id: int) -> dict[str, str]:
    """Where a client fetches an image's files (added to the image shapes of
    :mod:`daguerre.platform.services.images` and to search hits)."""
    return {"thumbnail_url": url_for("api.images.thumbnail", image_id=image_id),
            "original_url": url_for("api.images.original", image_id=image_id)}
