"""The document's duplicates: resolving one duplicate group (``web/api/duplicates.py``)."""

from __future__ import annotations

from typing import Any

from daguerre.platform.constants import MAX_ID
from daguerre.platform.web.openapi.common import (
    NULL_INT,
    errors,
    json_body,
    json_response,
    operation,
    ref,
)

SCHEMAS: dict[str, Any] = {
    # services/duplicates.py: resolve(); only exact and near groups can be resolved.
    "KeepImage": {
        "type": "object", "required": ["keep"],
        "properties": {"keep": {"type": "integer", "minimum": 0, "maximum": MAX_ID,
                                "description": "id of the group's image to keep"}},
    },
    "Resolution": {
        "type": "object",
        "required": ["group", "tier", "keeper", "duplicates", "tags_merged", "rating"],
        "properties": {
            "group": {"type": "string"},
            "tier": {"type": "string", "enum": ["exact", "near"]},
            "keeper": {"type": "integer"},
            "duplicates": {"type": "array", "items": {"type": "integer"},
                           "description": "ids now marked `duplicate` of the keeper"},
            "tags_merged": {"type": "integer", "minimum": 0},
            "rating": NULL_INT,
        },
    },
}


def paths() -> dict[str, Any]:
    return {
        "/duplicates/{group}/resolve": {
            "post": operation(
                "Keep one image of an exact or near duplicate group: the others are marked "
                "`duplicate` and their tags and rating merged into it (files stay on disk)", {
                    "200": json_response(ref("Resolution"), "The group is resolved"),
                    **errors(400, 401, 404, 415)},
                params=[{"name": "group", "in": "path", "required": True,
                         # The tier's letter, then hex; `s` (similar) groups are refused (400).
                         "schema": {"type": "string", "pattern": "^[en][0-9a-f]{1,63}$"},
                         "description": "an exact (`e…`) or near (`n…`) group id from "
                                        "`daguerre duplicates` or the duplicates screen (404 "
                                        "once its members change)"}],
                body=json_body("KeepImage"), tag="duplicates"),
        },
    }
