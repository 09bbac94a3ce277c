"""Images: listing them under filters, one image with its tags and provenance, what people
decide about an image (its rating and review state), and finding its files.

One place for the rules, shared by the JSON API (``/api/v1/images``) and the CLI
(``daguerre images``): both call these functions and render the same dictionaries (the API adds
only the URLs of the image's files). Nothing else about an image is changed by a person here.

Files are found through the catalog only, never from a client path: a thumbnail lives under the
data directory, an original under its library's root (or the data directory for uploads and
generated images). Anything whose real path (links resolved) leaves that base is refused, so a
link planted in a library cannot expose the rest of the disk.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sqlalchemy import Select, and_, func, or_, select
from sqlalchemy.orm import Session, selectinload

from daguerre.platform.catalog.filters import (
    MAX_RATING,
    apply_filters,
    check_filters,
    choice,
    integer,
    page_of,
)
from daguerre.platform.catalog.models import (
    Image,
    ImageOrigin,
    ImageStatus,
    ImageTag,
    Library,
    Lineage,
    ReviewState,
    iso,
)
from daguerre.platform.catalog.queries import get_image as load_image
from daguerre.platform.catalog.queries import image_base
from daguerre.platform.constants import IMAGE_STATUSES, MAX_ID, MAX_PAGE, REVIEW_STATES
from daguerre.platform.context import Context
from daguerre.platform.errors import BadInput, NotFound
from daguerre.platform.files import resolve_inside
from daguerre.platform.services.tags import tag_entries

CURATED = ("rating", "review_state")
DEFAULT_PAGE = 50
# The orders of the image list and the review queue: ``id`` (the list: oldest first; the queue:
# newest first) or ``adherence`` (how well a generated image follows its prompt, best first;
# images without a score last, then by id as ``id`` orders them).
IMAGE_SORTS = ("id", "adherence")
_MIMETYPES = {"JPEG": "image/jpeg", "PNG": "image/png", "WEBP": "image/webp", "GIF": "image/gif",
              "TIFF": "image/tiff", "BMP": "image/bmp", "MPO": "image/jpeg"}


# ----------------------------------------------------------------------------- shapes


def image_record(img: Image, library: Library | None, tags: list[ImageTag] | None = None
                 ) -> dict[str, Any]:
    """An image as the API and the CLI show it (``path`` relative to its library root, or to
    the data directory for uploads and generated images)."""
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
        "adherence": img.adherence,
    }
    if tags is not None:
        out["tags"] = tag_entries(tags)
    return out


# ----------------------------------------------------------------------------- listing


def sort_of(params: Mapping[str, Any]) -> str:
    """``params["sort"]`` checked against :data:`IMAGE_SORTS` (default ``id``)."""
    raw = params.get("sort")
    return "id" if raw in (None, "") else choice(raw, "sort", IMAGE_SORTS)


def job_of(params: Mapping[str, Any]) -> int | None:
    """``params["job"]``: only the images that job made (a batch of seeds, say)."""
    raw = params.get("job")
    return None if raw in (None, "") else integer(raw, "job", minimum=1, maximum=MAX_ID)


def _best_first(query: Select, newest_first: bool) -> Select:
    """``query`` ordered by adherence, best first; unscored images last (NULLs sort first in a
    descending PostgreSQL order, last in SQLite's: the explicit key makes both agree)."""
    tie = Image.id.desc() if newest_first else Image.id
    return query.order_by(Image.adherence.is_(None), Image.adherence.desc(), tie)


def list_images(ctx: Context, params: Mapping[str, Any]) -> dict[str, Any]:
    """A page of images: ``{"items", "total", "limit", "offset"}``, in id order, or best
    adherence first with ``sort=adherence``.

    ``params`` holds the catalog filters (:data:`~daguerre.platform.catalog.filters.FILTER_NAMES`),
    ``status`` (default active), ``job`` (only what that job made), ``sort``
    (:data:`IMAGE_SORTS`), ``limit`` (default 50) and ``offset``, as values or their text (a
    query string); anything else is ignored."""
    filters = check_filters(params)
    status = params.get("status")
    status = choice(status, "status", IMAGE_STATUSES) if status is not None else "active"
    sort, job = sort_of(params), job_of(params)
    limit, offset = page_of(params, default_limit=DEFAULT_PAGE)
    with ctx.catalog.session() as s:
        query = select(Image).where(Image.status == ImageStatus(status))
        query = apply_filters(query, filters, s)
        if job is not None:
            query = query.where(Image.id.in_(select(Lineage.image_id)
                                             .where(Lineage.job_id == job)))
        total = s.scalar(select(func.count()).select_from(query.subquery()))
        query = (_best_first(query, newest_first=False) if sort == "adherence"
                 else query.order_by(Image.id))
        rows = s.scalars(query.options(selectinload(Image.tags).selectinload(ImageTag.tag),
                                       selectinload(Image.library))
                         .limit(limit).offset(offset)).all()
        items = [image_record(img, img.library, img.tags) for img in rows]
    return {"items": items, "total": total, "limit": limit, "offset": offset}


def _after_card(s: Session, query: Select, before: int, sort: str) -> Select:
    """``query`` narrowed to the cards that follow card ``before`` in ``sort``'s order (a
    keyset: the card's own adherence, read from the catalog, with its id to break ties)."""
    if sort == "id":
        return query.where(Image.id < before)
    cursor = s.get(Image, before)
    if cursor is None:
        raise BadInput(f"before: no image {before}", field="before", value=before)
    if cursor.adherence is None:  # among the unscored, at the end: by id, newest first
        return query.where(Image.adherence.is_(None), Image.id < before)
    return query.where(or_(Image.adherence < cursor.adherence,
                           and_(Image.adherence == cursor.adherence, Image.id < before),
                           Image.adherence.is_(None)))


def review_queue(ctx: Context, params: Mapping[str, Any]) -> dict[str, Any]:
    """Generated images (restores included) still awaiting review, newest first, or best
    adherence first with ``sort=adherence`` (so a batch of seeds for one prompt shows its best
    first): ``{"items", "total", "limit", "sort", "next_before"}``.

    Each item is the image as :func:`image_record` shapes it plus ``made_by``: its lineage
    rows (``operation``, ``parent_id``, ``job_id``), what a reviewer judges it against.
    ``params`` may hold ``limit`` (default 50), ``sort`` (:data:`IMAGE_SORTS`) and ``before``
    (an image id: the page starts after that card, in the same order). Paging is by keyset,
    never an OFFSET scan, so a card approved while the reviewer pages on does not shift the
    next page."""
    limit = integer(params.get("limit", DEFAULT_PAGE), "limit", minimum=1, maximum=MAX_PAGE)
    sort = sort_of(params)
    raw_before = params.get("before")
    before = (None if raw_before in (None, "") else
              integer(raw_before, "before", minimum=1, maximum=MAX_ID))
    with ctx.catalog.session() as s:
        query = select(Image).where(Image.status == ImageStatus.ACTIVE,
                                    Image.origin == ImageOrigin.GENERATED,
                                    Image.review_state == ReviewState.UNREVIEWED)
        total = s.scalar(select(func.count()).select_from(query.subquery()))
        if before is not None:
            query = _after_card(s, query, before, sort)
        query = (_best_first(query, newest_first=True) if sort == "adherence"
                 else query.order_by(Image.id.desc()))
        # One row more than the page tells whether another page follows.
        rows = s.scalars(query.options(selectinload(Image.library)).limit(limit + 1)).all()
        page = rows[:limit]
        made_by: dict[int, list[dict[str, Any]]] = {img.id: [] for img in page}
        if page:
            for r in s.scalars(select(Lineage).where(Lineage.image_id.in_(list(made_by)))
                               .order_by(Lineage.id)):
                made_by[r.image_id].append({"operation": r.operation, "parent_id": r.parent_id,
                                            "job_id": r.job_id})
        items = [{**image_record(img, img.library), "made_by": made_by[img.id]} for img in page]
    return {"items": items, "total": total, "limit": limit, "sort": sort,
            "next_before": page[-1].id if len(rows) > limit else None}


# ----------------------------------------------------------------------------- one image


def provenance(s: Session, image_id: int) -> dict[str, list[dict[str, Any]]]:
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


def derived_details(ctx: Context, image_id: int, limit: int) -> list[dict[str, Any]]:
    """The first ``limit`` images made from ``image_id``, each with the job, the operation,
    the parameters it was made with and its review state, in one query (the image screen's
    lineage, which would otherwise load each child in turn)."""
    with ctx.catalog.session() as s:
        return [{"image_id": child, "job_id": job, "operation": op, "params": params or {},
                 "review_state": str(review.value)}
                for child, job, op, params, review in s.execute(
                    select(Lineage.image_id, Lineage.job_id, Lineage.operation, Lineage.params,
                           Image.review_state)
                    .join(Image, Image.id == Lineage.image_id)
                    .where(Lineage.parent_id == image_id).order_by(Lineage.id).limit(limit))]


def get_image(ctx: Context, image_id: int) -> dict[str, Any]:
    """One image (whatever its status) with its tags, ``lineage`` and ``derived``."""
    with ctx.catalog.session() as s:
        img = load_image(s, image_id)
        return {**image_record(img, img.library, img.tags), **provenance(s, img.id)}


def check_changes(changes: Mapping[str, Any]) -> dict[str, Any]:
    """The column values for ``changes`` ({"rating": 0..5 or None, "review_state": name});
    BadInput naming the field for anything else."""
    unknown = sorted(set(changes) - set(CURATED))
    if unknown:
        raise BadInput(f"{unknown[0]}: cannot be changed (only {' and '.join(CURATED)})",
                       field=unknown[0], value=changes[unknown[0]])
    if not changes:
        raise BadInput(f"nothing to change: give {' and/or '.join(CURATED)}", field="body")
    values: dict[str, Any] = {}
    if "rating" in changes:
        rating = changes["rating"]
        # A JSON value: 3 or 3.0 (JSON Schema's integer includes it), never the text "3".
        values["rating"] = (None if rating is None else
                            integer(rating, "rating", minimum=0, maximum=MAX_RATING, typed=True))
    if "review_state" in changes:
        values["review_state"] = ReviewState(choice(changes["review_state"], "review_state",
                                                    REVIEW_STATES))
    return values


def curate(ctx: Context, image_id: int, changes: Mapping[str, Any]) -> dict[str, Any]:
    """Apply ``changes`` to image ``image_id``; returns the image as :func:`get_image` does. A
    missing image is NotFound before the changes are checked, as on every image route."""
    with ctx.catalog.session() as s:
        img = load_image(s, image_id)
        for name, value in check_changes(changes).items():
            setattr(img, name, value)
    return get_image(ctx, image_id)


# ----------------------------------------------------------------------------- files


@dataclass(frozen=True)
class ImageFile:
    """A file of an image that may be served: its real path and media type."""

    path: Path
    mimetype: str


def thumbnail_file(ctx: Context, image_id: int) -> ImageFile:
    """Image ``image_id``'s thumbnail, only from inside the data directory."""
    with ctx.catalog.session() as s:
        rel = load_image(s, image_id).thumbnail
    path = resolve_inside(ctx.settings.home, rel) if rel else None
    if path is None:
        raise NotFound(f"image {image_id} has no thumbnail (index its library first)",
                       field="image_id", value=image_id)
    return ImageFile(path, "image/jpeg")


def original_file(ctx: Context, image_id: int) -> ImageFile:
    """Image ``image_id``'s file, only from inside its library's root (or the data directory
    for uploads and generated images): a link that leads out of it is refused."""
    with ctx.catalog.session() as s:
        img = load_image(s, image_id)
        base = image_base(ctx.settings.home, img.library)
        rel, fmt, in_library = img.path, (img.format or "").upper(), img.library is not None
    path = resolve_inside(base, rel)
    if path is None:
        raise NotFound(f"the file of image {image_id} is not available inside its "
                       f"{'library' if in_library else 'data directory'}", field="image_id",
                       value=image_id)
    return ImageFile(path, _MIMETYPES.get(fmt, "application/octet-stream"))
