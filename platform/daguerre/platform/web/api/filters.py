"""The catalog filters that image listings and searches share, read from request parameters.

``library`` (id or name), ``folder`` (path prefix inside the library), ``date_from``/``date_to``
(capture time, ISO dates), ``tag``, ``min_rating``, ``origin``, ``format``, ``min_width``,
``min_height``. Each is checked here, at the edge, with an error naming the parameter.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from datetime import datetime
from typing import Any

from daguerre.platform.catalog.models import Image, ImageOrigin, ImageTag, Library, Tag
from daguerre.platform.web.errors import ApiError
from daguerre.platform.web.params import MAX_ID, Params
from sqlalchemy import Select, select

FILTER_NAMES = ("library", "folder", "date_from", "date_to", "tag", "min_rating", "origin",
                "format", "min_width", "min_height")
ORIGINS = tuple(o.value for o in ImageOrigin)
MAX_SIDE = 1_000_000


@dataclass(frozen=True)
class ImageFilters:
    library: str | None = None
    folder: str | None = None
    date_from: datetime | None = None
    date_to: datetime | None = None
    tag: str | None = None
    min_rating: int | None = None
    origin: str | None = None
    format: str | None = None
    min_width: int | None = None
    min_height: int | None = None

    def active(self) -> dict[str, Any]:
        return {k: v for k, v in asdict(self).items() if v is not None}

    def __bool__(self) -> bool:
        return bool(self.active())


def parse_filters(params: Params) -> ImageFilters:
    # A folder is a plain prefix of catalog paths (never opened as a path), and a date range
    # that ends before it starts is simply empty: both are answered, not refused.
    folder = params.string("folder", max_len=4096)
    folder = folder.strip("/") if folder is not None else None
    date_from = params.date("date_from")
    date_to = params.date("date_to", end=True)
    fmt = params.string("format", max_len=16)
    return ImageFilters(
        library=params.string("library", max_len=200),
        folder=folder or None,
        date_from=date_from,
        date_to=date_to,
        tag=params.string("tag", max_len=200),
        min_rating=params.integer("min_rating", minimum=0, maximum=5),
        origin=params.choice("origin", ORIGINS),
        format=fmt.upper() if fmt else None,
        min_width=params.integer("min_width", minimum=0, maximum=MAX_SIDE),
        min_height=params.integer("min_height", minimum=0, maximum=MAX_SIDE),
    )


def apply_filters(query: Select, f: ImageFilters, session) -> Select:  # noqa: ANN001
    """``query`` (over Image) narrowed by ``f``. An unknown library or tag is a 404 naming it."""
    if f.library is not None:
        lib = None
        if f.library.isdigit() and int(f.library) <= MAX_ID:
            lib = session.get(Library, int(f.library))
        if lib is None:
            lib = session.scalar(select(Library).where(Library.name == f.library))
        if lib is None:
            raise ApiError(f"no library {f.library!r}", field="library", status=404)
        query = query.where(Image.library_id == lib.id)
    if f.folder is not None:
        escaped = f.folder.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
        query = query.where(Image.path.like(escaped + "/%", escape="\\"))
    if f.date_from is not None:
        query = query.where(Image.captured_at >= _naive(f.date_from))
    if f.date_to is not None:
        query = query.where(Image.captured_at <= _naive(f.date_to))
    if f.tag is not None:
        tag_id = session.scalar(select(Tag.id).where(Tag.name == f.tag))
        if tag_id is None:
            raise ApiError(f"no tag {f.tag!r}", field="tag", status=404)
        query = query.where(Image.id.in_(select(ImageTag.image_id).where(ImageTag.tag_id == tag_id)))
    if f.min_rating is not None:
        query = query.where(Image.rating >= f.min_rating)
    if f.origin is not None:
        query = query.where(Image.origin == ImageOrigin(f.origin))
    if f.format is not None:
        query = query.where(Image.format == f.format)
    if f.min_width is not None:
        query = query.where(Image.width >= f.min_width)
    if f.min_height is not None:
        query = query.where(Image.height >= f.min_height)
    return query


def _naive(dt: datetime) -> datetime:
    # EXIF capture times carry no zone and are stored as written: compare wall-clock times.
    return dt.replace(tzinfo=None)
