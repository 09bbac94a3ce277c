"""The document's export: a selection or a board as a streamed zip (services/export.py)."""

from __future__ import annotations

from typing import Any

from daguerre.platform.constants import MAX_ID
from daguerre.platform.services.export import MAX_EXPORT_IMAGES
from daguerre.platform.web.api.export import ID_DIGITS
from daguerre.platform.web.openapi.common import (
    COLLECTION_ID,
    errors,
    operation,
    ref,
)

_ZIP = {
    "description": "A zip (streamed): each image's file as stored (`<id>-<name>`), an XMP "
                   "sidecar per image (`<id>-<name>.xmp`: `xmp:Rating`, -1 when rejected, and "
                   "the tags as `dc:subject`) and `metadata.json` (per image: id, path, "
                   "library, size, dimensions, capture time, tags with source and score, "
                   "rating, review state, lineage and the generating job's parameters). "
                   "`Content-Disposition` names it `daguerre-export-<date>.zip`, or after the "
                   "board.",
    "headers": {"Content-Disposition": {"schema": {"type": "string"},
                                        "description": "attachment; filename=..."}},
    "content": {"application/zip": {"schema": {"type": "string", "format": "binary"}}},
}
_ID_LIST = f"^[0-9]{{1,{ID_DIGITS}}}(,[0-9]{{1,{ID_DIGITS}}}){{0,{MAX_EXPORT_IMAGES - 1}}}$"

SCHEMAS: dict[str, Any] = {
    "ExportRequest": {
        "description": "Either a selection of active images or a board (its active images).",
        "oneOf": [
            {"type": "object", "required": ["ids"], "additionalProperties": False,
             "properties": {"ids": {
                 "type": "array", "minItems": 1, "maxItems": MAX_EXPORT_IMAGES,
                 "items": {"type": "integer", "minimum": 0, "maximum": MAX_ID},
                 "description": "ids of active images (duplicates count once)"}}},
            {"type": "object", "required": ["board"], "additionalProperties": False,
             "properties": {"board": {"type": "integer", "minimum": 0, "maximum": MAX_ID,
                                      "description": "id of a board (collection)"}}},
        ],
    },
    "ExportForm": {
        "description": "The same as an HTML form post, as the dashboard downloads (a session "
                       "sends its CSRF token as `csrf_token`).",
        "oneOf": [
            {"type": "object", "required": ["ids"], "additionalProperties": False,
             "properties": {"ids": {"type": "string", "pattern": _ID_LIST,
                                    "description": "comma-separated image ids"},
                            "csrf_token": {"type": "string"}}},
            {"type": "object", "required": ["board"], "additionalProperties": False,
             "properties": {"board": {"type": "string", "pattern": f"^[0-9]{{1,{ID_DIGITS}}}$",
                                      "description": "id of a board (collection)"},
                            "csrf_token": {"type": "string"}}},
        ],
    },
}


def paths() -> dict[str, Any]:
    return {
        "/export": {
            "post": operation(
                "Download a selection or a board as a zip (files, XMP sidecars, metadata.json)",
                {"200": _ZIP, **errors(400, 401, 404, 415)},
                body={"required": True, "content": {
                    "application/json": {"schema": ref("ExportRequest")},
                    "application/x-www-form-urlencoded": {"schema": ref("ExportForm")}}},
                tag="export"),
        },
        "/collections/{collection_id}/export": {
            "get": operation("Download a board (its active images) as a zip",
                             {"200": _ZIP, **errors(401, 404)},
                             params=[COLLECTION_ID], tag="export"),
        },
    }
