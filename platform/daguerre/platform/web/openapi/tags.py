"""The document's tags (a person's and the model's) and collections."""

from __future__ import annotations

from typing import Any

from daguerre.platform.constants import MAX_ID, REVIEW_STATES, TAG_SOURCES
from daguerre.platform.services.tags import MAX_IMAGE_IDS
from daguerre.platform.web.openapi.common import (
    COLLECTION_ID,
    IMG_ID,
    NAME,
    NULL_INT,
    NULL_STR,
    PAGE,
    STAMP,
    errors,
    json_body,
    json_response,
    operation,
    query_param,
    ref,
)

SCHEMAS: dict[str, Any] = {
    # Tags and collections (services/tags.py, services/collections.py): counts are of active
    # images; names follow NAME's rule (trimmed, non-empty, no control characters).
    "Tag": {
        "type": "object", "required": ["id", "name", "images", "user", "model"],
        "properties": {
            "id": {"type": "integer"}, "name": {"type": "string"},
            "images": {"type": "integer", "minimum": 0,
                       "description": "active images with the tag, from either source"},
            "user": {"type": "integer", "minimum": 0,
                     "description": "active images a person tagged"},
            "model": {"type": "integer", "minimum": 0,
                      "description": "active images the model tagged"},
        },
    },
    "TagPage": {
        "type": "object", "required": ["items", "limit", "offset"],
        "properties": {"items": {"type": "array", "items": ref("Tag")},
                       "limit": {"type": "integer"}, "offset": {"type": "integer"}},
    },
    "ImageTags": {
        "type": "object", "required": ["items"],
        "properties": {"items": {"type": "array", "items": ref("ImageTag")}},
    },
    "NewTag": {
        "type": "object", "required": ["name"], "properties": {"name": NAME},
    },
    "Collection": {
        "type": "object", "required": ["id", "name", "images", "cover", "created_at"],
        "properties": {"id": {"type": "integer"}, "name": {"type": "string"},
                       "images": {"type": "integer", "minimum": 0,
                                  "description": "active images in it"},
                       "cover": {**NULL_INT, "description": "id of its most recently added "
                                 "active image (null when it has none)"},
                       "created_at": STAMP},
    },
    "CollectionName": {
        "type": "object", "required": ["name"],
        "properties": {"name": {**NAME, "description": "unique among collections"}},
    },
    "ImageIds": {
        "type": "object", "required": ["image_ids"],
        "properties": {"image_ids": {
            "type": "array", "minItems": 1, "maxItems": MAX_IMAGE_IDS,
            "items": {"type": "integer", "minimum": 0, "maximum": MAX_ID},
            "description": "ids of images in the catalog (each must exist)"}},
    },
    "CollectionChange": {
        "type": "object", "required": ["collection"],
        "properties": {"added": {"type": "integer", "minimum": 0,
                                 "description": "images that were not in it yet"},
                       "removed": {"type": "integer", "minimum": 0,
                                   "description": "images that were in it"},
                       "collection": ref("Collection")},
    },
    "CollectionImagePage": {
        "type": "object", "required": ["items", "total", "limit", "offset"],
        "properties": {
            "items": {"type": "array", "items": {
                "type": "object",
                "required": ["id", "library", "path", "width", "height", "format", "rating",
                             "review_state", "added_at", "thumbnail_url", "original_url"],
                "properties": {"id": {"type": "integer"}, "library": NULL_STR,
                               "path": {"type": "string"}, "width": {"type": "integer"},
                               "height": {"type": "integer"}, "format": {"type": "string"},
                               "rating": NULL_INT, "added_at": STAMP,
                               "review_state": {"type": "string", "enum": list(REVIEW_STATES)},
                               "thumbnail_url": {"type": "string"},
                               "original_url": {"type": "string"}}}},
            "total": {"type": "integer"}, "limit": {"type": "integer"},
            "offset": {"type": "integer"}},
    },}


def paths() -> dict[str, Any]:
    return {
        "/images/{image_id}/tags": {
            "get": operation("Tags of an image", {"200": json_response(ref("ImageTags"), "Its tags"),
                                            **errors(401, 404)},
                             params=[IMG_ID], tag="tags"),
            "post": operation("Add a person's tag (source `user`)", {
                "201": json_response(ref("ImageTags"), "Tag added; the image's tags"),
                "200": json_response(ref("ImageTags"), "The image had the tag already"),
                **errors(400, 401, 404, 415)},
                params=[IMG_ID], body=json_body("NewTag"), tag="tags"),
        },
        "/images/{image_id}/tags/{name}": {
            "delete": operation("Remove a tag, whoever set it (a person or the model)", {
                "200": json_response(ref("ImageTags"), "Tag removed; the image's tags"),
                **errors(400, 401, 404)},
                params=[IMG_ID, {"name": "name", "in": "path", "required": True,
                                 "schema": NAME,
                                 "description": "the tag's name (404 when the image does not "
                                                "carry it)"}],
                tag="tags"),
        },
        "/tags": {
            "get": operation("List tags on active images, with counts", {
                "200": json_response(ref("TagPage"), "Tags by name"), **errors(400, 401)},
                params=[*PAGE, query_param("source", {"type": "string", "enum": list(TAG_SOURCES)},
                                           "only tags this source set on an active image")],
                tag="tags"),
        },
        "/collections": {
            "get": operation("List collections by name, with active image counts", {
                "200": json_response({"type": "object", "required": ["items"],
                              "properties": {"items": {"type": "array",
                                                       "items": ref("Collection")}}},
                                     "Every collection"), **errors(401)}, tag="collections"),
            "post": operation("Create an empty collection", {
                "201": json_response(ref("Collection"), "The new collection"),
                **errors(400, 401, 409, 415)}, body=json_body("CollectionName"), tag="collections"),
        },
        "/collections/{collection_id}": {
            "get": operation("Show a collection", {"200": json_response(ref("Collection"), "The collection"),
                                             **errors(401, 404)},
                             params=[COLLECTION_ID], tag="collections"),
            "patch": operation("Rename a collection", {
                "200": json_response(ref("Collection"), "The collection as it is now"),
                **errors(400, 401, 404, 409, 415)},
                params=[COLLECTION_ID], body=json_body("CollectionName"), tag="collections"),
            "delete": operation("Delete a collection (never its images)", {
                "204": {"description": "Deleted"}, **errors(401, 404)},
                params=[COLLECTION_ID], tag="collections"),
        },
        "/collections/{collection_id}/images": {
            "get": operation("A collection's active images, the most recently added first", {
                "200": json_response(ref("CollectionImagePage"), "A page of its images"),
                **errors(400, 401, 404)}, params=[COLLECTION_ID, *PAGE], tag="collections"),
            "post": operation("Add images to a collection (those already in it are skipped)", {
                "200": json_response(ref("CollectionChange"), "How many were added; the collection"),
                **errors(400, 401, 404, 415)},
                params=[COLLECTION_ID], body=json_body("ImageIds"), tag="collections"),
            "delete": operation("Take images out of a collection (the images stay)", {
                "200": json_response(ref("CollectionChange"), "How many were removed; the collection"),
                **errors(400, 401, 404, 415)},
                params=[COLLECTION_ID], body=json_body("ImageIds"), tag="collections"),
        },
    }
