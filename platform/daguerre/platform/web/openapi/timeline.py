"""The document's timeline: active images by capture time, paged by keyset cursor."""

from __future__ import annotations

from typing import Any

from daguerre.platform.constants import MAX_PAGE
from daguerre.platform.services.timeline import CURSOR_PATTERN, DEFAULT_PAGE
from daguerre.platform.web.openapi.common import (
    FILTERS,
    errors,
    json_response,
    operation,
    query_param,
    ref,
)

_MONTH = {"type": "string", "pattern": "^[0-9]{4}-[0-9]{2}$"}

SCHEMAS: dict[str, Any] = {
    "TimelineImage": {
        "allOf": [ref("Image"), {
            "type": "object", "required": ["when", "month"],
            "properties": {
                "when": {"type": "string", "format": "date-time",
                         "description": "the time the image is placed by: its capture time, "
                                        "or when the catalog recorded it if it has none"},
                "month": {**_MONTH, "description": "the month of `when`"},
            },
        }],
    },
    "TimelineMonth": {
        "type": "object", "required": ["month", "label", "count", "continued"],
        "properties": {
            "month": _MONTH, "label": {"type": "string", "description": "e.g. July 2024"},
            "count": {"type": "integer", "minimum": 1,
                      "description": "how many of the page's items (in order) are in it"},
            "continued": {"type": "boolean",
                          "description": "the month went on from the page before"},
        },
    },
    "TimelinePage": {
        "type": "object", "required": ["items", "months", "next", "limit"],
        "properties": {
            "items": {"type": "array", "items": ref("TimelineImage")},
            "months": {"type": "array", "items": ref("TimelineMonth")},
            "next": {"type": ["string", "null"],
                     "description": "`after` of the next page; null on the last page"},
            "limit": {"type": "integer"},
        },
    },
}


def paths() -> dict[str, Any]:
    return {
        "/timeline": {
            "get": operation(
                "Active images, newest capture first (then newest id), grouped by month, "
                "paged by keyset cursor",
                {"200": json_response(ref("TimelinePage"), "A page of the timeline"),
                 **errors(400, 401, 404)},
                params=[
                    query_param("limit", {"type": "integer", "minimum": 1, "maximum": MAX_PAGE},
                                f"page size (default {DEFAULT_PAGE})"),
                    query_param("after", {"type": "string", "pattern": CURSOR_PATTERN},
                                "the `next` of the page before, passed back as given"),
                    query_param("date", {"oneOf": [
                        {"type": "string", "format": "date"},
                        {"type": "string", "pattern": "^[1-9][0-9]{3}-(0[1-9]|1[0-2])$"}]},
                        "jump: start at images taken on or before this date (2024-07-31) or "
                        "month (2024-07); ignored with `after`"),
                    *FILTERS,
                ],
                tag="images"),
        },
    }
