"""What the JSON API adds to the services' shapes: the URLs of an image's files."""

from __future__ import annotations

from flask import url_for


def image_urls(image_id: int) -> dict[str, str]:
    """Where a client fetches an image's files (added to the image shapes of
    :mod:`daguerre.platform.services.images` and to search hits)."""
    return {"thumbnail_url": url_for("api.images.thumbnail", image_id=image_id),
            "original_url": url_for("api.images.original", image_id=image_id)}
