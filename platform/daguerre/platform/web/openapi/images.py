"""The document's images: list with filters, show with provenance, curate, files."""

from __future__ import annotations

from typing import Any

from daguerre.platform.constants import (
    IMAGE_ORIGINS,
    IMAGE_STATUSES,
    MAX_ID,
    REVIEW_STATES,
    TAG_SOURCES,
)
from daguerre.platform.services.images import IMAGE_SORTS
from daguerre.platform.web.api.images import DOWNLOAD_VALUES
from daguerre.platform.web.openapi.common import (
    FILTERS,
    IMG_ID,
    NULL_INT,
    NULL_STR,
    PAGE,
    STAMP,
    errors,
    file_response,
    json_body,
    json_response,
    operation,
    query_param,
    ref,
)

SCHEMAS: dict[str, Any] = {
    "ImageTag": {
        "type": "object", "required": ["name", "source", "score"],
        "description": "a tag on an image; an image's tags list a person's first (by name), "
                       "then the model's, highest score first",
        "properties": {"name": {"type": "string"},
                       "source": {"type": "string", "enum": list(TAG_SOURCES)},
                       "score": {"type": ["number", "null"],
                                 "description": "the model's probability; null for a person's"}},
    },
    "Image": {
        "type": "object",
        "required": ["id", "library_id", "library", "path", "sha256", "size", "width", "height",
                     "format", "captured_at", "status", "origin", "rating", "review_state",
                     "duplicate_of", "created_at", "adherence", "thumbnail_url", "original_url"],
        "properties": {
            "id": {"type": "integer"}, "library_id": NULL_INT, "library": NULL_STR,
            "path": {"type": "string", "description": "relative to the library root "
                                                      "(or to the data directory)"},
            "sha256": {"type": "string"}, "size": {"type": "integer"},
            "width": {"type": "integer"}, "height": {"type": "integer"},
            "format": {"type": "string"}, "captured_at": STAMP,
            "status": {"type": "string", "enum": IMAGE_STATUSES},
            "origin": {"type": "string", "enum": list(IMAGE_ORIGINS)},
            "rating": NULL_INT, "review_state": {"type": "string", "enum": REVIEW_STATES},
            "duplicate_of": NULL_INT, "created_at": STAMP,
            "adherence": {"type": ["number", "null"], "minimum": -1, "maximum": 1,
                          "description": "a generated image's prompt adherence: the cosine "
                                         "between its prompt and the image under the search "
                                         "model (the CLIP score, unscaled); null when it has "
                                         "none (not generate, translate or edit, or made "
                                         "while the model was unavailable)"},
            "tags": {"type": "array", "items": ref("ImageTag")},
            "thumbnail_url": {"type": "string"}, "original_url": {"type": "string"},
            "lineage": {"type": "array", "description": "(one image only) what it was made from",
                        "items": {"type": "object",
                                  "required": ["parent_id", "job_id", "operation", "params"],
                                  "properties": {"parent_id": NULL_INT, "job_id": NULL_INT,
                                                 "operation": {"type": "string"},
                                                 "params": {"type": "object"}}}},
            "derived": {"type": "array", "description": "(one image only) what was made from it",
                        "items": {"type": "object",
                                  "required": ["image_id", "job_id", "operation"],
                                  "properties": {"image_id": {"type": "integer"},
                                                 "job_id": NULL_INT,
                                                 "operation": {"type": "string"}}}},
        },
    },
    "ImagePage": {
        "type": "object", "required": ["items", "total", "limit", "offset"],
        "properties": {"items": {"type": "array", "items": ref("Image")},
                       "total": {"type": "integer"}, "limit": {"type": "integer"},
                       "offset": {"type": "integer"}},
    },
    "ImageUpdate": {
        "type": "object", "minProperties": 1, "additionalProperties": False,
        "properties": {
            "rating": {"type": ["integer", "null"], "minimum": 0, "maximum": 5,
                       "description": "0 to 5; null clears it"},
            "review_state": {"type": "string", "enum": REVIEW_STATES},
        },
    },
}


def paths() -> dict[str, Any]:
    return {
        "/images": {
            "get": operation("List images, filtered and paged (ordered by id, or by `sort`)",
                             {"200": json_response(ref("ImagePage"), "A page of images"),
                        **errors(400, 401, 404)},
                             params=[*PAGE, *FILTERS,
                               query_param("status", {"type": "string", "enum": IMAGE_STATUSES},
                                           "default: active"),
                               query_param("job", {"type": "integer", "minimum": 1,
                                                   "maximum": MAX_ID},
                                           "only the images this job made (a batch of seeds)"),
                               query_param("sort", {"type": "string", "enum": list(IMAGE_SORTS),
                                                    "default": "id"},
                                           "`id` (oldest first) or `adherence` (best prompt "
                                           "adherence first, images without one last)")],
                             tag="images"),
        },
        "/images/{image_id}": {
            "get": operation("Show an image with its tags",
                             {"200": json_response(ref("Image"), "The image"), **errors(401, 404)},
                             params=[IMG_ID], tag="images"),
            "patch": operation("Curate an image: its rating and review state",
                               {"200": json_response(ref("Image"), "The image as it is now"),
                          **errors(400, 401, 404, 415)},
                               params=[IMG_ID], body=json_body("ImageUpdate"), tag="images"),
        },
        "/images/{image_id}/thumbnail": {
            "get": operation("The image's JPEG thumbnail",
                             {"200": file_response("image/jpeg", "JPEG thumbnail"), **errors(401, 404)},
                             params=[IMG_ID], tag="images"),
        },
        "/images/{image_id}/original": {
            "get": operation("The original file (only from inside its library root)",
                             {"200": {"description": "The file as stored (with `download=1`, "
                                                     "as an attachment under its own name)",
                                "content": {"image/*": {"schema": {"type": "string",
                                                                   "format": "binary"}},
                                            "application/octet-stream": {"schema": {
                                                "type": "string", "format": "binary"}}}},
                        **errors(400, 401, 404)},
                             params=[IMG_ID, query_param(
                                 "download", {"type": "string", "enum": list(DOWNLOAD_VALUES)},
                                 "1: send the file as an attachment (Content-Disposition), "
                                 "0 or absent: inline")],
                             tag="images"),
        },
    }
