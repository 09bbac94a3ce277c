"""The catalog conditions that image listings and searches share, checked in one place.

``library`` (id or name), ``folder`` (path prefix inside the library), ``date_from``/``date_to``
(capture time), ``tag``, ``min_rating``, ``review_state``, ``origin``, ``format``, ``min_width``,
``min_height``.

:func:`check_filters` reads them from any mapping under those names (a query string, a JSON body,
the CLI's options) and is the only place they are validated (:func:`page_of` does the same for paging), so the CLI and the API accept and
refuse the same values. Its errors are :class:`~daguerre.platform.errors.BadInput` with ``field``
set to the name above; ``labels`` only changes how a field is named in the message (``--after``
on the command line). The rules:

* a string filter (library, folder, tag, format) left empty means "any";
* a date, a number or an enumerated value given empty is refused (``date_to=`` is not a date);
* an integer may be written as an integral number (``3.0``), as JSON Schema's integer allows;
* a date range that ends before it starts is refused, naming ``date_from``.

No torch, no Flask: the catalog package only.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import asdict, dataclass
from datetime import date, datetime, time
from typing import Any

from sqlalchemy import Select, select
from sqlalchemy.orm import Session

from daguerre.platform.catalog.models import Image, ImageOrigin, ImageTag, ReviewState
from daguerre.platform.catalog.queries import find_library, find_tag_id
from daguerre.platform.constants import (
    IMAGE_ORIGINS,
    MAX_NAME_CHARS,
    MAX_OFFSET,
    MAX_PAGE,
    MAX_PATH_CHARS,
    REVIEW_STATES,
)
from daguerre.platform.errors import BadInput

FILTER_NAMES = ("library", "folder", "date_from", "date_to", "tag", "min_rating", "review_state",
                "origin", "format", "min_width", "min_height")
MAX_SIDE = 1_000_000  # pixels; larger than any image Pillow will open
MAX_FORMAT_CHARS = 16
MAX_DATE_CHARS = 64
MAX_RATING = 5
# A search page may be longer than a listing's (MAX_PAGE): scripts take the top 10k at once.
MAX_HITS = 10_000
# Names people type for a format, as Pillow names it in the catalog.
FORMAT_ALIASES = {"JPG": "JPEG", "TIF": "TIFF"}


@dataclass(frozen=True)
class SearchFilters:
    """Catalog conditions an image must meet. ``None`` means "any"."""

    library: str | None = None  # name or id
    folder: str | None = None  # path prefix inside the library ("2023/summer")
    date_from: datetime | None = None  # capture time, inclusive
    date_to: datetime | None = None  # capture time, inclusive
    tag: str | None = None  # set by a person or a model
    min_rating: int | None = None
    review_state: str | None = None  # unreviewed | approved | rejected
    origin: str | None = None  # library | upload | generated
    format: str | None = None  # JPEG, PNG, ... (as Pillow names it)
    min_width: int | None = None
    min_height: int | None = None

    def active(self) -> dict[str, Any]:
        return {k: v for k, v in asdict(self).items() if v is not None}

    def __bool__(self) -> bool:
        return bool(self.active())

    def as_params(self) -> dict[str, Any]:
        """The active filters as JSON values under their names (for echoing back)."""
        return {k: (v.isoformat() if isinstance(v, datetime) else v)
                for k, v in self.active().items()}


def _label(field: str, labels: Mapping[str, str] | None) -> str:
    return (labels or {}).get(field, field)


def _show(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 80 else text[:77] + "..."


def parse_date(value: str | date | datetime | None, field: str, *, end: bool = False,
               label: str | None = None) -> datetime | None:
    """An ISO date or date-time (naive: capture times are wall-clock); a bare date as the end
    of a range covers that whole day. ``None`` is "no date"; an empty string is refused."""
    name = label or field
    if value is None or isinstance(value, datetime):
        return _naive(value) if value is not None else None
    if isinstance(value, date):
        return datetime.combine(value, time.max if end else time.min)
    if not isinstance(value, str) or len(value) > MAX_DATE_CHARS or "\x00" in value:
        raise BadInput(f"{name} must be a date like 2024-07-31 or 2024-07-31T18:30, "
                       f"got {_show(value)}", field=field, value=value)
    text = value.strip()
    try:
        return datetime.combine(date.fromisoformat(text), time.max if end else time.min)
    except ValueError:
        pass
    try:
        return _naive(datetime.fromisoformat(text))
    except ValueError:
        raise BadInput(f"{name} must be a date like 2024-07-31 or 2024-07-31T18:30, "
                       f"got {_show(value)}", field=field, value=value) from None


def integer(value: Any, field: str, *, minimum: int, maximum: int,
            label: str | None = None, typed: bool = False) -> int:
    """``value`` (an int, an integral float such as 3.0, or, unless ``typed`` (a JSON value),
    their text) as an int within [minimum, maximum]; BadInput naming ``field`` otherwise."""
    name = label or field
    number: int | None = None
    if isinstance(value, int) and not isinstance(value, bool):
        number = value
    elif isinstance(value, float) and value.is_integer():
        number = int(value)
    elif isinstance(value, str) and not typed:
        text = value.strip()
        try:
            number = int(text, 10)
        except ValueError:
            try:
                as_float = float(text)
            except ValueError:
                as_float = float("nan")
            if as_float.is_integer():
                number = int(as_float)
    if number is None:
        raise BadInput(f"{name} must be an integer, got {_show(value)}", field=field,
                       value=value)
    if not minimum <= number <= maximum:
        raise BadInput(f"{name} must be between {minimum} and {maximum}, got {number}",
                       field=field, value=value)
    return number


def choice(value: Any, field: str, choices: tuple[str, ...], *,
           label: str | None = None) -> str:
    """``value`` when it is one of ``choices`` (an empty string is not)."""
    if not isinstance(value, str) or value.strip() not in choices:
        raise BadInput(f"{label or field} must be one of {', '.join(choices)}, got "
                       f"{_show(value)}", field=field, value=value)
    return value.strip()


def text(value: Any, field: str, *, max_chars: int, label: str | None = None) -> str | None:
    """A free-text filter, stripped; empty means "any" (None)."""
    name = label or field
    if not isinstance(value, str):
        raise BadInput(f"{name} must be a string, got {_show(value)}", field=field, value=value)
    if "\x00" in value:
        raise BadInput(f"{name} must not contain NUL characters", field=field)
    if len(value) > max_chars:
        raise BadInput(f"{name} must be at most {max_chars} characters, got {len(value)}",
                       field=field)
    return value.strip() or None


def check_filters(values: Mapping[str, Any] | SearchFilters, *,
                  labels: Mapping[str, str] | None = None, typed: bool = False
                  ) -> SearchFilters:
    """The filters named in ``values`` (other keys are ignored; a missing or ``None`` value is
    "any"), checked and normalised. ``labels`` names fields in messages (``{"date_from":
    "--after"}``); the error's ``field`` is always the name in :data:`FILTER_NAMES`. With
    ``typed`` (a JSON body), numbers must be numbers, not their text."""
    if isinstance(values, SearchFilters):  # built by hand: checked like any other input
        values = values.active()
    got = {k: values[k] for k in FILTER_NAMES if values.get(k) is not None}
    out: dict[str, Any] = {}
    for name in ("library", "tag"):
        if name in got:
            out[name] = text(got[name], name, max_chars=MAX_NAME_CHARS,
                             label=_label(name, labels))
    if "folder" in got:
        folder = text(got["folder"], "folder", max_chars=MAX_PATH_CHARS,
                      label=_label("folder", labels))
        # A prefix of catalog paths (never opened as a path): "/2023/summer/" is "2023/summer".
        out["folder"] = (folder.strip("/") or None) if folder else None
    if "format" in got:
        fmt = text(got["format"], "format", max_chars=MAX_FORMAT_CHARS,
                   label=_label("format", labels))
        out["format"] = FORMAT_ALIASES.get(fmt.upper(), fmt.upper()) if fmt else None
    if "origin" in got:
        out["origin"] = choice(got["origin"], "origin", IMAGE_ORIGINS,
                               label=_label("origin", labels))
    if "review_state" in got:
        out["review_state"] = choice(got["review_state"], "review_state", REVIEW_STATES,
                                     label=_label("review_state", labels))
    if "min_rating" in got:
        out["min_rating"] = integer(got["min_rating"], "min_rating", minimum=0,
                                    maximum=MAX_RATING, label=_label("min_rating", labels),
                                    typed=typed)
    for name in ("min_width", "min_height"):
        if name in got:
            out[name] = integer(got[name], name, minimum=0, maximum=MAX_SIDE,
                                label=_label(name, labels), typed=typed)
    for name, end in (("date_from", False), ("date_to", True)):
        if name in got:
            out[name] = parse_date(got[name], name, end=end, label=_label(name, labels))
    # A range that ends before it starts is an empty range, answered with nothing (as SQL's
    # BETWEEN does), not refused: no schema can say "date_from <= date_to" across two query
    # parameters, and the API and the CLI keep one rule.
    return SearchFilters(**out)


def _naive(dt: datetime) -> datetime:
    # EXIF capture times carry no zone and are stored as written: compare wall-clock times.
    return dt.replace(tzinfo=None)


def page_of(values: Mapping[str, Any], *, default_limit: int, typed: bool = False
            ) -> tuple[int, int]:
    """``limit`` (1 to MAX_PAGE) and ``offset`` (0 to MAX_OFFSET) of a listing from
    ``values``; a missing one takes its default (``default_limit``, 0)."""
    limit, offset = values.get("limit"), values.get("offset")
    return (default_limit if limit is None else
            integer(limit, "limit", minimum=1, maximum=MAX_PAGE, typed=typed),
            0 if offset is None else
            integer(offset, "offset", minimum=0, maximum=MAX_OFFSET, typed=typed))


def apply_filters(query: Select, f: SearchFilters, session: Session) -> Select:
    """``query`` (over Image) narrowed by ``f`` (checked by :func:`check_filters`); an
    unknown library or tag is NotFound."""
    if f.library is not None:
        query = query.where(Image.library_id == find_library(session, f.library).id)
    if f.folder is not None:
        escaped = f.folder.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
        query = query.where(Image.path.like(escaped + "/%", escape="\\"))
    if f.date_from is not None:
        query = query.where(Image.captured_at >= f.date_from)
    if f.date_to is not None:
        query = query.where(Image.captured_at <= f.date_to)
    if f.tag is not None:
        tag_id = find_tag_id(session, f.tag)
        query = query.where(Image.id.in_(
            select(ImageTag.image_id).where(ImageTag.tag_id == tag_id)))
    if f.min_rating is not None:
        query = query.where(Image.rating >= f.min_rating)
    if f.review_state is not None:
        query = query.where(Image.review_state == ReviewState(f.review_state))
    if f.origin is not None:
        query = query.where(Image.origin == ImageOrigin(f.origin))
    if f.format is not None:
        query = query.where(Image.format == f.format)
    if f.min_width is not None:
        query = query.where(Image.width >= f.min_width)
    if f.min_height is not None:
        query = query.where(Image.height >= f.min_height)
    return query
