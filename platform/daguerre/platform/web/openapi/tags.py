"""The document's tags (a person's and the model's, and the suggestions of a tag's few-shot
classifier) and collections."""

from __future__ import annotations

from typing import Any

from daguerre.platform.constants import MAX_ID, REVIEW_STATES, TAG_SOURCES
from daguerre.platform.services.tag_suggestions import (
    DEFAULT_LIMIT,
    DEFAULT_MIN_PROBABILITY,
    MAX_LIMIT,
    SUGGESTED,
)
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
    },
    # Personal tags learned from a few examples (services/tag_suggestions.py).
    "TagClassifier": {
        "type": "object",
        "required": ["tag", "model_key", "positives", "negatives", "examples_digest",
                     "trained_at", "metrics"],
        "properties": {
            "tag": {"type": "string"},
            "model_key": {"type": "string", "description": "the embedding model it belongs to"},
            "positives": {"type": "integer", "minimum": 0,
                          "description": "images a person tagged it was trained on"},
            "negatives": {"type": "integer", "minimum": 0,
                          "description": "refused suggestions and a sample of other images"},
            "examples_digest": {"type": "string",
                                "description": "SHA-256 of the sorted example ids"},
            "trained_at": STAMP,
            "metrics": {"type": "object", "description": "method, regularisation, counts, "
                        "seconds, and `held_out`: cross-validated figures on the examples"},
            "retrained": {"type": "boolean",
                          "description": "false when its examples had not changed"},
        },
    },
    "TagSuggestion": {
        "type": "object",
        "required": ["id", "tag", "source", "probability", "library", "path", "rating",
                     "review_state", "thumbnail_url", "original_url"],
        "properties": {
            "id": {"type": "integer"}, "tag": {"type": "string"},
            "source": {"type": "string", "enum": [SUGGESTED],
                       "description": "a suggestion, not a tag until a person confirms it"},
            "probability": {"type": "number", "minimum": 0, "maximum": 1},
            "library": NULL_STR, "path": {"type": "string"}, "rating": NULL_INT,
            "review_state": {"type": "string", "enum": list(REVIEW_STATES)},
            "thumbnail_url": {"type": "string"}, "original_url": {"type": "string"},
        },
    },
    "TagSuggestions": {
        "type": "object",
        "required": ["tag", "classifier", "min_probability", "limit", "items"],
        "properties": {
            "tag": {"type": "string"}, "classifier": ref("TagClassifier"),
            "min_probability": {"type": "number", "minimum": 0, "maximum": 1},
            "limit": {"type": "integer", "minimum": 1, "maximum": MAX_LIMIT},
            "items": {"type": "array", "items": ref("TagSuggestion"),
                      "description": "best first (highest probability, then lowest id)"},
        },
    },
    "SuggestionAnswer": {
        "type": "object", "required": ["tag", "image_ids", "retrain"],
        "properties": {
            "tag": {"type": "string"},
            "confirmed": {"type": "integer", "minimum": 0,
                          "description": "images that gained the tag (confirm)"},
            "refused": {"type": "integer", "minimum": 0,
                        "description": "images not refused before (refuse)"},
            "image_ids": {"type": "array", "items": {"type": "integer"}},
            "retrain": {"oneOf": [ref("Job"), {"type": "null"}],
                        "description": "the job queued to retrain the classifier, when its "
                                       "examples changed"},
        },
    },
}

_TAG_NAME = {"name": "name", "in": "path", "required": True, "schema": NAME,
             "description": "the tag's name (404 when no tag has it)"}


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
        "/tags/{name}/learn": {
            "post": operation(
                "Train the tag's classifier from the images a person tagged (at least 5)", {
                    "200": json_response(ref("TagClassifier"), "The stored classifier"),
                    **errors(400, 401, 404, 409, 503)},
                params=[_TAG_NAME], tag="tags"),
        },
        "/tags/{name}/suggestions": {
            "get": operation(
                "Images the tag's classifier finds that do not carry the tag, best first "
                "(stored as the tag's pending suggestions)", {
                    "200": json_response(ref("TagSuggestions"), "The suggestions"),
                    **errors(400, 401, 404, 409, 503)},
                params=[_TAG_NAME,
                        query_param("min_probability", {"type": "number", "minimum": 0,
                                                        "maximum": 1},
                                    f"lowest probability (default {DEFAULT_MIN_PROBABILITY})"),
                        query_param("limit", {"type": "integer", "minimum": 1,
                                              "maximum": MAX_LIMIT},
                                    f"at most this many (default {DEFAULT_LIMIT})")],
                tag="tags"),
        },
        "/tags/{name}/suggestions/confirm": {
            "post": operation(
                "Confirm suggestions: the images get the tag as a person's tag", {
                    "200": json_response(ref("SuggestionAnswer"),
                                         "How many gained it; the retraining job, if any"),
                    **errors(400, 401, 404, 415, 503)},
                params=[_TAG_NAME], body=json_body("ImageIds"), tag="tags"),
        },
        "/tags/{name}/suggestions/refuse": {
            "post": operation(
                "Refuse suggestions: negatives for the tag from now on (a model tag of it "
                "on them is removed)", {
                    "200": json_response(ref("SuggestionAnswer"),
                                         "How many were refused; the retraining job, if any"),
                    **errors(400, 401, 404, 409, 415, 503)},
                params=[_TAG_NAME], body=json_body("ImageIds"), tag="tags"),
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
