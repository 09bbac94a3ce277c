"""The timeline: every active image, newest first, grouped by month, a page at a time.

An image's place in time ("when") is its capture time (EXIF), or, for an image that has none,
the time the catalog first recorded it (``created_at``): an image with no date still appears,
among the images added at the same time, instead of piling up at one end. The order is "when"
newest first, then id, newest first, so it is total and stable.

Paging is by keyset, never by OFFSET: ``after`` is an opaque cursor naming the last (when, id)
shown, and the next page is the rows strictly below it, served by the index
``ix_images_timeline`` on (status, when, id) (``catalog/models.py``, migration 0004). A page deep in a
large catalog costs what the first one does, and an image added between two pages neither
shifts nor repeats what follows. ``date`` jumps: the page starts at the images taken on or
before that day (or month).

The catalog filters (``catalog/filters.py``) narrow the timeline exactly as they narrow every
other listing. No Flask here: the API, the screen and scripts call :func:`timeline_page`.
"""

from __future__ import annotations

import calendar
import re
from collections.abc import Mapping
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

from sqlalchemy import or_, select
from sqlalchemy.orm import selectinload

from daguerre.platform.catalog.filters import apply_filters, check_filters, integer, parse_date
from daguerre.platform.catalog.models import Image, ImageStatus, image_when, iso
from daguerre.platform.constants import MAX_PAGE
from daguerre.platform.context import Context
from daguerre.platform.errors import BadInput
from daguerre.platform.services.images import image_record

DEFAULT_PAGE = 60
_MONTH = re.compile(r"^\s*(\d{4})-(\d{2})\s*$")
# A cursor: microseconds since 1970 (UTC) and an id, each at most 18 digits (below MAX_ID).
CURSOR_PATTERN = "^(-?[0-9]{1,18})_([0-9]{1,18})$"
_CURSOR = re.compile(CURSOR_PATTERN)
_EPOCH = datetime(1970, 1, 1)


# ----------------------------------------------------------------------------- the cursor


def encode_cursor(when: datetime, image_id: int) -> str:
    """The cursor after (when, id): ``<microseconds since 1970 UTC>_<id>``. Clients pass it
    back as given (it is opaque to them); any such pair is a position in the order, so the
    server needs no state to continue from it."""
    if when.tzinfo is not None:  # PostgreSQL answers in its zone; SQLite's are UTC already
        when = when.astimezone(UTC).replace(tzinfo=None)
    return f"{(when - _EPOCH) // timedelta(microseconds=1)}_{image_id}"


def decode_cursor(value: Any) -> tuple[datetime, int] | None:
    """(when, id) from a cursor as :func:`encode_cursor` writes it; ``None`` or empty is "from
    the top". Anything else is BadInput naming ``after``. A time beyond the calendar is taken
    as its end (the position is still well defined: before or after everything)."""
    if value is None or value == "":
        return None
    m = _CURSOR.match(value) if isinstance(value, str) else None
    if m is None:
        raise BadInput(f"after must be a cursor from a previous page's `next`, got "
                       f"{str(value)[:40]!r}", field="after", value=value)
    micros, image_id = int(m.group(1)), int(m.group(2))
    try:
        when = _EPOCH + timedelta(microseconds=micros)
    except OverflowError:
        when = datetime.max if micros > 0 else datetime.min
    # Compared with stored times: UTC, which SQLite stores without a zone.
    return when.replace(tzinfo=UTC), image_id


def parse_jump(value: Any) -> datetime | None:
    """The end of the day (or month, for ``2024-07``) that ``date`` names: the page starts at
    images taken on or before it. BadInput naming ``date`` otherwise."""
    if value is None or value == "":
        return None
    if isinstance(value, str) and (m := _MONTH.match(value)):
        year, month = int(m.group(1)), int(m.group(2))
        if 1 <= month <= 12 and year >= 1:
            last = calendar.monthrange(year, month)[1]
            return datetime.combine(date(year, month, last), time.max)
        raise BadInput(f"date must be a month like 2024-07 or a date like 2024-07-31, got "
                       f"{value!r}", field="date", value=value)
    return parse_date(value, "date", end=True)


# ----------------------------------------------------------------------------- months


def month_key(when: datetime) -> str:
    return f"{when.year:04d}-{when.month:02d}"


def month_label(key: str | None) -> str:
    """ "July 2024" for ``2024-07``; "No date" for none."""
    if not key:
        return "No date"
    year, month = key.split("-")
    return f"{calendar.month_name[int(month)]} {int(year)}"


def _wall(when: datetime) -> datetime:
    # Capture times are wall-clock and stored as such (as UTC, zone-less in SQLite): a month is
    # the one the person saw on the clock.
    return when.astimezone(UTC).replace(tzinfo=None) if when.tzinfo else when


# ----------------------------------------------------------------------------- the page


def timeline_page(ctx: Context, params: Mapping[str, Any]) -> dict[str, Any]:
    """A page of the timeline: ``{"items", "months", "next", "limit"}``.

    ``params`` (values or their text, as a query string gives them): the catalog filters,
    ``limit`` (1 to MAX_PAGE, default 60), ``after`` (the ``next`` cursor of the page before)
    and ``date`` (``2024-07-31`` or ``2024-07``: start at images taken on or before it;
    ignored with ``after``, which continues a page already placed).

    Each item is the image as :func:`~daguerre.platform.services.images.image_record` shapes
    it, plus ``when`` (the time it is placed by) and ``month`` (``2024-07``). ``months`` lists
    the page's months in order: ``{"month", "label", "count", "continued"}``, ``continued``
    when the month went on from the page before (so a screen need not repeat its heading).
    ``next`` is the cursor of the following page, or ``None`` on the last one.
    """
    filters = check_filters(params)
    limit = integer(params.get("limit", DEFAULT_PAGE), "limit", minimum=1, maximum=MAX_PAGE)
    after = decode_cursor(params.get("after"))
    jump = None if after is not None else parse_jump(params.get("date"))
    when = image_when()
    with ctx.catalog.session() as s:
        query = select(Image, when.label("when")).where(Image.status == ImageStatus.ACTIVE)
        query = apply_filters(query, filters, s)
        if after is not None:
            # (when, id) < cursor, written so the index serves it as a range on "when" (SQLite
            # does not range-scan a row value over an expression column): a deep page costs
            # what the first one does.
            at, last_id = after
            query = query.where(when <= at, or_(when < at, Image.id < last_id))
        elif jump is not None:
            query = query.where(when <= jump)
        # One row more than the page tells whether another page follows.
        rows = s.execute(query.options(selectinload(Image.library))
                         .order_by(when.desc(), Image.id.desc()).limit(limit + 1)).all()
        page = rows[:limit]
        items = [{**image_record(img, img.library), "when": iso(w),
                  "month": month_key(_wall(w))} for img, w in page]
    months: list[dict[str, Any]] = []
    before = month_key(_wall(after[0])) if after is not None else None
    for item in items:
        if months and months[-1]["month"] == item["month"]:
            months[-1]["count"] += 1
        else:
            months.append({"month": item["month"], "label": month_label(item["month"]),
                           "count": 1, "continued": not months and item["month"] == before})
    nxt = encode_cursor(page[-1][1], page[-1][0].id) if len(rows) > limit else None
    return {"items": items, "months": months, "next": nxt, "limit": limit}


def grouped(page: Mapping[str, Any]) -> list[dict[str, Any]]:
    """The page's items under their months, for a screen: ``[{**month, "items": [...]}]``."""
    out: list[dict[str, Any]] = []
    at = 0
    for month in page["months"]:
        out.append({**month, "items": page["items"][at:at + month["count"]]})
        at += month["count"]
    return out
