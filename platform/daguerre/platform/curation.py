"""What people decide about an image (its rating and review state), and where it came from.

One place for the rules, shared by the JSON API (``PATCH /images/{id}``, ``GET /images/{id}``)
and the CLI (``daguerre images``). Nothing else about an image is changed by a person here.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import select

from daguerre.platform.catalog.models import Image, Lineage, ReviewState
from daguerre.platform.context import Context
from daguerre.platform.errors import NotFound, UserError

CURATED = ("rating", "review_state")
MAX_ID = 2**63 - 1  # ids are 64-bit: a larger one cannot exist (and PostgreSQL refuses it)
REVIEW_STATES = tuple(s.value for s in ReviewState)


def check_changes(changes: dict[str, Any]) -> dict[str, Any]:
    """The column values for ``changes`` ({"rating": 0..5 or None, "review_state": name});
    UserError naming the field for anything else."""
    unknown = sorted(set(changes) - set(CURATED))
    if unknown:
        raise UserError(f"{unknown[0]}: cannot be changed (only {' and '.join(CURATED)})",
                        field=unknown[0])
    if not changes:
        raise UserError(f"nothing to change: give {' and/or '.join(CURATED)}", field="body")
    values: dict[str, Any] = {}
    if "rating" in changes:
        rating = changes["rating"]
        if isinstance(rating, float) and rating.is_integer():
            rating = int(rating)  # JSON Schema's integer includes 3.0
        if rating is not None and (isinstance(rating, bool) or not isinstance(rating, int)
                                   or not 0 <= rating <= 5):
            raise UserError(f"rating must be an integer from 0 to 5, or null, got {rating!r}",
                            field="rating")
        values["rating"] = rating
    if "review_state" in changes:
        state = changes["review_state"]
        if state not in REVIEW_STATES:
            raise UserError(f"review_state must be one of {', '.join(REVIEW_STATES)}, got "
                            f"{state!r}", field="review_state")
        values["review_state"] = ReviewState(state)
    return values


def curate(ctx: Context, image_id: int, changes: dict[str, Any]) -> dict[str, Any]:
    """Apply ``changes`` to image ``image_id``; returns its rating and review state now. A
    missing image is NotFound before the changes are checked, as on every image route."""
    with ctx.catalog.session() as s:
        img = s.get(Image, image_id) if 0 <= image_id <= MAX_ID else None
        if img is None:
            raise NotFound(f"no image with id {image_id}", field="image_id")
        values = check_changes(changes)
        for name, value in values.items():
            setattr(img, name, value)
        return {"id": img.id, "rating": img.rating, "review_state": img.review_state.value}


def provenance(s: Any, image_id: int) -> dict[str, list[dict[str, Any]]]:
    """``lineage`` (what the image was made from: parent, job, operation, full parameters) and
    ``derived`` (what was made from it), in a catalog session ``s``."""
    lineage = [{"parent_id": r.parent_id, "job_id": r.job_id, "operation": r.operation,
                "params": r.params or {}}
               for r in s.scalars(select(Lineage).where(Lineage.image_id == image_id)
                                  .order_by(Lineage.id))]
    derived = [{"image_id": child, "job_id": job, "operation": op}
               for child, job, op in s.execute(
                   select(Lineage.image_id, Lineage.job_id, Lineage.operation)
                   .where(Lineage.parent_id == image_id).order_by(Lineage.id))]
    return {"lineage": lineage, "derived": derived}


def describe(ctx: Context, image_id: int) -> dict[str, Any]:
    """One image as `daguerre images show` prints it: file, curation and provenance."""
    from daguerre.platform.search import image_path

    with ctx.catalog.session() as s:
        img = s.get(Image, image_id)
        if img is None:
            raise NotFound(f"no image with id {image_id}", field="image_id")
        return {"id": img.id, "path": image_path(ctx.settings.home, img, img.library),
                "origin": img.origin.value, "status": img.status.value, "width": img.width,
                "height": img.height, "format": img.format, "rating": img.rating,
                "review_state": img.review_state.value, **provenance(s, image_id)}
