"""``/api/v1/images``: list with filters and paging, show one, curate one (rating and review
state), its thumbnail and its original.

Each view calls one function of :mod:`daguerre.platform.services.images`, which owns the rules
(filters, paging, what may be curated, which files may be served), and adds only the URLs of the
image's files to what it returns.
"""

from __future__ import annotations

from typing import Any

from flask import Blueprint, Response, jsonify, request, send_file

from daguerre.platform.errors import BadInput
from daguerre.platform.services import images as svc
from daguerre.platform.web import get_context
from daguerre.platform.web.api.serialize import image_urls
from daguerre.platform.web.auth import requires
from daguerre.platform.web.params import json_body

bp = Blueprint("images", __name__, url_prefix="/images")

# ``?download=`` on the original: 1 as an attachment, 0 (or absent) shown in the browser.
DOWNLOAD_VALUES = ("0", "1")


def with_urls(record: dict[str, Any]) -> dict[str, Any]:
    return {**record, **image_urls(record["id"])}


@bp.get("")
@requires("viewer")
def list_images() -> Response:
    found = svc.list_images(get_context(), request.args)
    return jsonify({**found, "items": [with_urls(r) for r in found["items"]]})


@bp.get("/<int:image_id>")
@requires("viewer")
def get_image(image_id: int) -> Response:
    """One image with its tags and provenance: ``lineage`` (what it was made from, by which job
    and operation, with the full parameters) and ``derived`` (what was made from it)."""
    return jsonify(with_urls(svc.get_image(get_context(), image_id)))


@bp.patch("/<int:image_id>")
@requires("curator")
def update_image(image_id: int) -> Response:
    """Curate one image: ``rating`` (0 to 5, or null to clear it) and ``review_state``
    (unreviewed, approved, rejected). Nothing else about an image is changed by a client."""
    return jsonify(with_urls(svc.curate(get_context(), image_id, json_body())))


def _send(found: svc.ImageFile, max_age: int, *, download: bool = False) -> Response:
    # A download is an attachment under the file's own name, so the browser saves it as such.
    resp = send_file(found.path, mimetype=found.mimetype, max_age=max_age, conditional=True,
                     as_attachment=download, download_name=found.path.name if download else None)
    resp.headers["X-Content-Type-Options"] = "nosniff"
    # Served to a signed-in caller only: a shared cache must not hand it to anyone else.
    resp.cache_control.public = False
    resp.cache_control.private = True
    return resp


@bp.get("/<int:image_id>/thumbnail")
@requires("viewer")
def thumbnail(image_id: int) -> Response:
    return _send(svc.thumbnail_file(get_context(), image_id), max_age=86400)


@bp.get("/<int:image_id>/original")
@requires("viewer")
def original(image_id: int) -> Response:
    """The original file; ``?download=1`` sends it as an attachment (the dashboard's Download)."""
    raw = request.args.get("download")
    if raw not in (None, *DOWNLOAD_VALUES):
        raise BadInput(f"download must be {' or '.join(DOWNLOAD_VALUES)}, got {raw!r}",
                       field="download", value=raw)
    return _send(svc.original_file(get_context(), image_id), max_age=3600, download=raw == "1")


def init_app(api: Blueprint) -> None:
    api.register_blueprint(bp)
