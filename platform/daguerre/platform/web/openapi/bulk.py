"""The document's bulk curation: one change applied to a selection of images
(services/curation.py)."""

from __future__ import annotations

from typing import Any

from daguerre.platform.catalog.filters import MAX_RATING
from daguerre.platform.constants import MAX_ID, REVIEW_STATES
from daguerre.platform.services.curation import MAX_BULK_TAGS
from daguerre.platform.services.tags import MAX_IMAGE_IDS
from daguerre.platform.web.openapi.common import (
    NAME,
    errors,
    json_body,
    json_response,
    operation,
    ref,
)

_IDS = {"type": "array", "minItems": 1, "maxItems": MAX_IMAGE_IDS,
        "items": {"type": "integer", "minimum": 0, "maximum": MAX_ID}}
_TAGS = {"type": "array", "minItems": 1, "maxItems": MAX_BULK_TAGS, "items": NAME}

SCHEMAS: dict[str, Any] = {
    "BulkChange": {
        "type": "object", "required": ["ids"], "additionalProperties": False,
        "description": "All or nothing: every id must be an active image (404 names the first "
                       "that is not, and nothing changes). Tags are removed (whoever set them) "
                       "before tags are added (as a person's).",
        # At least one change besides the ids.
        "anyOf": [{"required": [name]}
                  for name in ("rating", "review_state", "add_tags", "remove_tags")],
        "properties": {
            "ids": {**_IDS, "description": "the selection (duplicates count once)"},
            "rating": {"type": ["integer", "null"], "minimum": 0, "maximum": MAX_RATING,
                       "description": "0 to 5; null clears it"},
            "review_state": {"type": "string", "enum": list(REVIEW_STATES)},
            "add_tags": {**_TAGS, "description": "tags to add as a person's"},
            "remove_tags": {**_TAGS, "description": "tags to remove, whoever set them (404 when "
                                                    "none of the images carries one)"},
        },
    },
    "BulkResult": {
        "type": "object", "required": ["updated", "ids"],
        "properties": {"updated": {"type": "integer", "minimum": 1,
                                   "description": "images the change was applied to"},
                       "ids": {"type": "array", "items": {"type": "integer"},
                               "description": "their ids, distinct, in the order given"}},
    },
}


def paths() -> dict[str, Any]:
    return {
        "/images/bulk": {
            "post": operation(
                "Curate a selection: rating, review state, tags to add or remove (all or none)",
                {"200": json_response(ref("BulkResult"), "Applied to every image"),
                 **errors(400, 401, 404, 415)},
                body=json_body("BulkChange"), tag="images"),
        },
    }
