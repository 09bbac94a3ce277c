"""``/api/v1/images``: list with filters and paging, show one, curate one (rating and review
state), its thumbnail and its original.

Files are found through the catalog only, never from a client path: a thumbnail lives under the
data directory, an original under its library's root (or the data directory for uploads and
generated images). Anything whose real path (symbolic links resolved) falls outside that base is
refused, so a link planted in a library cannot expose the rest of the disk.
"""

from __future__ import annotations

import os
from pathlib import Path

from flask import Blueprint, Response, jsonify, send_file
from sqlalchemy import func, select
from sqlalchemy.orm import selectinload

from daguerre.platform import curation
from daguerre.platform.catalog.models import (
    Image,
    ImageStatus,
    ImageTag,
    Library,
    ReviewState,
)
from daguerre.platform.web import get_context
from daguerre.platform.web.api.filters import apply_filters, parse_filters
from daguerre.platform.web.api.serialize import image_dict
from daguerre.platform.web.auth import query_token_allowed
from daguerre.platform.web.errors import ApiError
from daguerre.platform.web.params import MAX_ID, Params, json_body

bp = Blueprint("images", __name__, url_prefix="/images")

STATUSES = tuple(s.value for s in ImageStatus)
REVIEW_STATES = curation.REVIEW_STATES
_MIMETYPES = {"JPEG": "image/jpeg", "PNG": "image/png", "WEBP": "image/webp", "GIF": "image/gif",
              "TIFF": "image/tiff", "BMP": "image/bmp", "MPO": "image/jpeg"}


def load_image(session, image_id: int) -> Image:  # noqa: ANN001 - a SQLAlchemy session
    img = session.get(Image, image_id) if image_id <= MAX_ID else None
    if img is None:
        raise ApiError(f"no image with id {image_id}", field="image_id", status=404)
    return img


def _inside(base: Path, relative: str) -> Path | None:
    """``base/relative`` with links resolved, or None when that leaves ``base``."""
    try:
        real_base = base.resolve(strict=True)
        target = (real_base / relative).resolve(strict=True)
    except (OSError, RuntimeError):
        return None
    if os.path.commonpath([str(real_base), str(target)]) != str(real_base):
        return None
    return target if target.is_file() else None


@bp.get("")
def list_images() -> Response:
    params = Params.from_args()
    filters = parse_filters(params)
    status = params.choice("status", STATUSES) or ImageStatus.ACTIVE.value
    review = params.choice("review_state", REVIEW_STATES)
    limit, offset = params.page(default_limit=50)
    with get_context().catalog.session() as s:
        query = select(Image).where(Image.status == ImageStatus(status))
        if review is not None:
            query = query.where(Image.review_state == ReviewState(review))
        query = apply_filters(query, filters, s)
        total = s.scalar(select(func.count()).select_from(query.subquery()))
        rows = s.scalars(query.options(selectinload(Image.tags).selectinload(ImageTag.tag),
                                       selectinload(Image.library))
                         .order_by(Image.id).limit(limit).offset(offset)).all()
        items = [image_dict(img, img.library, img.tags) for img in rows]
    return jsonify({"items": items, "total": total, "limit": limit, "offset": offset})


@bp.get("/<int:image_id>")
def get_image(image_id: int) -> Response:
    """One image with its tags and provenance: ``lineage`` (what it was made from, by which job
    and operation, with the full parameters) and ``derived`` (what was made from it)."""
    with get_context().catalog.session() as s:
        img = load_image(s, image_id)
        out = image_dict(img, img.library, img.tags)
        out.update(curation.provenance(s, image_id))
        return jsonify(out)


@bp.patch("/<int:image_id>")
def update_image(image_id: int) -> Response:
    """Curate one image: ``rating`` (0 to 5, or null to clear it) and ``review_state``
    (unreviewed, approved, rejected). Nothing else about an image is changed by a client."""
    curation.curate(get_context(), image_id, json_body())
    return get_image(image_id)


@bp.get("/<int:image_id>/thumbnail")
@query_token_allowed
def thumbnail(image_id: int) -> Response:
    ctx = get_context()
    with ctx.catalog.session() as s:
        img = load_image(s, image_id)
        rel = img.thumbnail
    path = _inside(ctx.settings.home, rel) if rel else None
    if path is None:
        raise ApiError(f"image {image_id} has no thumbnail (index its library first)",
                       field="image_id", status=404)
    resp = send_file(path, mimetype="image/jpeg", max_age=86400, conditional=True)
    resp.headers["X-Content-Type-Options"] = "nosniff"
    return resp


@bp.get("/<int:image_id>/original")
@query_token_allowed
def original(image_id: int) -> Response:
    ctx = get_context()
    with ctx.catalog.session() as s:
        img = load_image(s, image_id)
        lib: Library | None = img.library
        base = Path(lib.root) if lib is not None else ctx.settings.home
        rel, fmt = img.path, (img.format or "").upper()
    path = _inside(base, rel)
    if path is None:
        raise ApiError(f"the file of image {image_id} is not available inside its "
                       f"{'library' if lib is not None else 'data directory'}",
                       field="image_id", status=404)
    resp = send_file(path, mimetype=_MIMETYPES.get(fmt, "application/octet-stream"),
                     max_age=3600, conditional=True)
    resp.headers["X-Content-Type-Options"] = "nosniff"
    return resp


def init_app(api: Blueprint) -> None:
    api.register_blueprint(bp)
