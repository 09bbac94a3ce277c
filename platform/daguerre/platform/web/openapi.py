"""The OpenAPI 3.1 document of the JSON API, served at ``/api/v1/openapi.json``.

Written by hand as data, next to what the server does: every route, parameter, status code and
response shape below is one the blueprints in ``web/api`` implement, and a property-based test
(schemathesis, ``tests/platform/test_openapi_schemathesis.py``) calls a live server with
generated requests and checks every response against this document.
"""

from __future__ import annotations

from typing import Any

from flask import Blueprint, Flask, Response, jsonify

from daguerre.platform.catalog.filters import (
    MAX_DATE_CHARS,
    MAX_FORMAT_CHARS,
    MAX_RATING,
    MAX_SIDE,
)
from daguerre.platform.constants import (
    IMAGE_ORIGINS,
    IMAGE_STATUSES,
    MAX_ID,
    MAX_NAME_CHARS,
    MAX_PATH_CHARS,
    REVIEW_STATES,
    TAG_SOURCES,
)
from daguerre.platform.services.tags import MAX_IMAGE_IDS
from daguerre.platform.web.api import PREFIX
from daguerre.platform.web.api import generate as generate_api
from daguerre.platform.web.params import MAX_LIMIT, MAX_OFFSET

REF = "#/components/schemas/"
JOB_STATUSES = ["queued", "running", "succeeded", "failed", "canceled"]


# Strings the server stores or compares in SQL refuse NUL (PostgreSQL cannot hold it): say so.
NO_NUL = "^[^\\u0000]*$"


def _str(max_length: int, **extra: Any) -> dict[str, Any]:
    return {"type": "string", "maxLength": max_length, "pattern": NO_NUL, **extra}


def _ref(name: str) -> dict[str, str]:
    return {"$ref": REF + name}


def _json(schema: dict[str, Any], description: str) -> dict[str, Any]:
    return {"description": description, "content": {"application/json": {"schema": schema}}}


def _error(description: str) -> dict[str, Any]:
    return _json(_ref("Error"), description)


def _errors(*codes: int) -> dict[str, Any]:
    text = {
        400: "Bad input; the message (and `field`) name what was wrong.",
        401: "Missing, invalid or revoked token.",
        403: "Not allowed: a place no library may be, or a role without the right.",
        404: "No such resource.",
        409: "Conflicts with the current state.",
        413: "Request body over the upload limit.",
        415: "Wrong request content type.",
        503: "The server cannot do this now (model weights missing, job system down).",
    }
    return {str(c): _error(text[c]) for c in codes}


def _q(name: str, schema: dict[str, Any], description: str, required: bool = False
       ) -> dict[str, Any]:
    return {"name": name, "in": "query", "required": required, "schema": schema,
            "description": description}


def _path_id(name: str, what: str) -> dict[str, Any]:
    # Flask's <int:...> converter matches non-negative decimal integers only; anything else is
    # a 404 from routing, which is documented on every such operation.
    return {"name": name, "in": "path", "required": True,
            "schema": {"type": "integer", "minimum": 0, "maximum": 2**63 - 1},
            "description": f"id of the {what}"}


PAGE = [
    _q("limit", {"type": "integer", "minimum": 1, "maximum": MAX_LIMIT}, "page size"),
    _q("offset", {"type": "integer", "minimum": 0, "maximum": MAX_OFFSET},
       "results to skip (stable order)"),
]

# The catalog filters (catalog/filters.py checks them, for the API and the CLI alike). A string
# filter left empty means "any"; a date or a number given empty is refused (400).
_DATE = {"type": "string", "format": "date", "minLength": 1, "maxLength": MAX_DATE_CHARS,
         "description": "ISO date (2024-05-31); an ISO date-time is accepted too"}
_SIDE = {"type": "integer", "minimum": 0, "maximum": MAX_SIDE}
FILTERS = [
    _q("library", _str(MAX_NAME_CHARS), "library id or name"),
    _q("folder", _str(MAX_PATH_CHARS),
       "folder inside the library (path prefix, e.g. `2023/summer`)"),
    _q("date_from", _DATE, "earliest capture time (EXIF); a `date_from` later than `date_to` "
                           "is an empty range (an empty page, not an error)"),
    _q("date_to", _DATE, "latest capture time; a bare date includes the whole day"),
    _q("tag", _str(MAX_NAME_CHARS), "images with this tag"),
    _q("min_rating", {"type": "integer", "minimum": 0, "maximum": MAX_RATING},
       "minimum rating (an integral number such as 3.0 counts as the integer)"),
    _q("origin", {"type": "string", "enum": list(IMAGE_ORIGINS)}, "where images came from"),
    _q("format", _str(MAX_FORMAT_CHARS), "file format (JPEG, PNG, ...; JPG and TIF too)"),
    _q("min_width", _SIDE, "minimum width"),
    _q("min_height", _SIDE, "minimum height"),
]
SEARCH_OPTS = PAGE + [
    _q("min_score", {"type": "number", "minimum": -1, "maximum": 1},
       "cosine similarity cut-off"),
] + FILTERS

_NULL_STR = {"type": ["string", "null"]}
# Names (services/tags.check_name): whitespace runs collapse to one space, something must be
# left, and no control character may remain. The control characters that are whitespace (tab,
# newline, \x1c-\x1f, \x85) collapse like spaces, so only the others are refused here.
_BAD_CC = "\\u0000-\\u0008\\u000e-\\u001b\\u007f-\\u0084\\u0086-\\u009f"
LIBRARY_NAME = {"type": "string", "minLength": 1, "maxLength": MAX_NAME_CHARS,
                "pattern": f"^[^{_BAD_CC}]*[^\\s{_BAD_CC}][^{_BAD_CC}]*$"}
LIBRARY_PATH = _str(MAX_PATH_CHARS, minLength=1, pattern="^/[^\\u0000]*$", description=(
    "absolute path of an existing folder on the server (resolved first); not a system folder "
    "nor inside the data directory"))
_NULL_INT = {"type": ["integer", "null"]}
_STAMP = {"type": ["string", "null"], "format": "date-time"}

SCHEMAS: dict[str, Any] = {
    "Error": {
        "type": "object", "required": ["error"],
        "properties": {"error": {"type": "string"}, "field": {"type": "string"}},
    },
    "Library": {
        "type": "object",
        "required": ["id", "name", "root", "images", "created_at", "last_indexed_at"],
        "properties": {
            "id": {"type": "integer"}, "name": {"type": "string"}, "root": {"type": "string"},
            "images": {"type": "integer", "minimum": 0, "description": "active images"},
            "created_at": _STAMP, "last_indexed_at": _STAMP,
        },
    },
    "NewLibrary": {
        "type": "object", "required": ["path"],
        "properties": {"path": LIBRARY_PATH,
                       "name": {**LIBRARY_NAME, "description": "default: the folder's name"}},
    },
    "LibraryUpdate": {
        "type": "object", "required": ["name"],
        "properties": {"name": {**LIBRARY_NAME, "description": "the new name"}},
    },
    "LibraryMove": {
        "type": "object", "required": ["path"],
        "properties": {"path": LIBRARY_PATH},
    },
    "LibraryMoved": {
        "type": "object", "required": ["library", "found", "not_found"],
        "properties": {
            "library": _ref("Library"),
            "found": {"type": "integer", "minimum": 0,
                      "description": "images whose file is under the new root (kept as they are)"},
            "not_found": {"type": "integer", "minimum": 0,
                          "description": "images not found there; the next index marks them "
                                         "missing"},
        },
    },
    "LibraryRemoved": {
        "type": "object",
        "required": ["id", "name", "root", "images", "vectors", "thumbnails", "kept_children"],
        "properties": {
            "id": {"type": "integer"}, "name": {"type": "string"},
            "root": {"type": "string", "description": "its folder, left untouched"},
            "images": {"type": "integer", "minimum": 0, "description": "catalog rows removed"},
            "vectors": {"type": "integer", "minimum": 0,
                        "description": "vectors removed, over every model's store"},
            "thumbnails": {"type": "integer", "minimum": 0,
                           "description": "thumbnail files no other image used, deleted"},
            "kept_children": {"type": "integer", "minimum": 0,
                              "description": "lineage rows of generated images made from its "
                                             "photos, kept with `params.removed_parent`"},
        },
    },
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
                     "duplicate_of", "created_at", "thumbnail_url", "original_url"],
        "properties": {
            "id": {"type": "integer"}, "library_id": _NULL_INT, "library": _NULL_STR,
            "path": {"type": "string", "description": "relative to the library root "
                                                      "(or to the data directory)"},
            "sha256": {"type": "string"}, "size": {"type": "integer"},
            "width": {"type": "integer"}, "height": {"type": "integer"},
            "format": {"type": "string"}, "captured_at": _STAMP,
            "status": {"type": "string", "enum": IMAGE_STATUSES},
            "origin": {"type": "string", "enum": list(IMAGE_ORIGINS)},
            "rating": _NULL_INT, "review_state": {"type": "string", "enum": REVIEW_STATES},
            "duplicate_of": _NULL_INT, "created_at": _STAMP,
            "tags": {"type": "array", "items": _ref("ImageTag")},
            "thumbnail_url": {"type": "string"}, "original_url": {"type": "string"},
            "lineage": {"type": "array", "description": "(one image only) what it was made from",
                        "items": {"type": "object",
                                  "required": ["parent_id", "job_id", "operation", "params"],
                                  "properties": {"parent_id": _NULL_INT, "job_id": _NULL_INT,
                                                 "operation": {"type": "string"},
                                                 "params": {"type": "object"}}}},
            "derived": {"type": "array", "description": "(one image only) what was made from it",
                        "items": {"type": "object",
                                  "required": ["image_id", "job_id", "operation"],
                                  "properties": {"image_id": {"type": "integer"},
                                                 "job_id": _NULL_INT,
                                                 "operation": {"type": "string"}}}},
        },
    },
    "ImagePage": {
        "type": "object", "required": ["items", "total", "limit", "offset"],
        "properties": {"items": {"type": "array", "items": _ref("Image")},
                       "total": {"type": "integer"}, "limit": {"type": "integer"},
                       "offset": {"type": "integer"}},
    },
    "Hit": {
        "type": "object", "required": ["id", "score", "thumbnail_url", "original_url"],
        "properties": {
            "id": {"type": "integer"},
            "score": {"type": "number", "description": "cosine similarity to the query"},
            "path": {"type": "string"}, "library": _NULL_STR,
            "width": {"type": "integer"}, "height": {"type": "integer"},
            "rating": _NULL_INT, "origin": {"type": ["string", "null"],
                                         "enum": [*IMAGE_ORIGINS, None]},
            "review_state": {"type": ["string", "null"], "enum": [*REVIEW_STATES, None]},
            "thumbnail_url": {"type": "string"}, "original_url": {"type": "string"},
        },
    },
    "SearchResults": {
        "type": "object", "required": ["items", "limit", "offset", "min_score", "filters"],
        "properties": {
            "items": {"type": "array", "items": _ref("Hit")},
            "limit": {"type": "integer"}, "offset": {"type": "integer"},
            "min_score": {"type": ["number", "null"]},
            "filters": {"type": "object", "description": "the filters that were applied"},
            "query": {"type": "string"}, "image_id": {"type": "integer"},
            "filename": _NULL_STR,
        },
    },
    "SearchRequest": {
        "type": "object", "required": ["q"],
        "properties": {
            "q": {**_str(2000), "minLength": 1,
                  "description": 'query: `"a beach" + "sunset" - "people"`, '
                                 'weights `"stripes":0.5`, image terms `#ID`'},
            "limit": {"type": "integer", "minimum": 1, "maximum": MAX_LIMIT},
            "offset": {"type": "integer", "minimum": 0, "maximum": MAX_OFFSET},
            "min_score": {"type": "number", "minimum": -1, "maximum": 1},
            **{p["name"]: p["schema"] for p in FILTERS},
        },
    },
    "Progress": {
        "type": "object", "required": ["done", "total"],
        "properties": {"done": {"type": "integer"}, "total": _NULL_INT,
                       "message": _NULL_STR},
    },
    "Job": {
        "type": "object", "required": ["id", "kind", "status", "progress"],
        "properties": {
            "id": {"type": "integer"}, "kind": {"type": "string"},
            "status": {"type": "string", "enum": JOB_STATUSES},
            "progress": _ref("Progress"), "params": {"type": "object"},
            "error": _NULL_STR, "result": {"type": ["object", "null"]},
            "retried_from": _NULL_INT,
        },
    },
    "JobPage": {
        "type": "object", "required": ["items", "limit", "offset"],
        "properties": {"items": {"type": "array", "items": _ref("Job")},
                       "limit": {"type": "integer"}, "offset": {"type": "integer"}},
    },
    "Worker": {
        "type": "object",
        "required": ["name", "host", "pid", "queues", "device", "alive", "current_job_id",
                     "started_at", "last_seen_at", "stopped_at"],
        "properties": {
            "name": {"type": "string", "description": "the worker's identity, `<node>:<pid>`"},
            "host": {"type": "string"}, "pid": {"type": "integer"},
            "queues": {"type": "array", "items": {"type": "string"}},
            "device": _NULL_STR,
            "alive": {"type": "boolean",
                      "description": "its heartbeat is recent and it did not stop"},
            "current_job_id": _NULL_INT, "started_at": {"type": "string"},
            "last_seen_at": {"type": "string"}, "stopped_at": _NULL_STR,
        },
    },
    "WorkerList": {
        "type": "object", "required": ["items"],
        "properties": {"items": {"type": "array", "items": _ref("Worker")}},
    },
    "NewJob": {
        "type": "object", "required": ["kind"],
        "properties": {"kind": _str(64, description="index, embed, classify, duplicates, ..."),
                       "params": {"type": "object"}},
    },
    # Tags and collections (services/tags.py, services/collections.py): counts are of active
    # images; names follow LIBRARY_NAME's rule (trimmed, non-empty, no control characters).
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
        "properties": {"items": {"type": "array", "items": _ref("Tag")},
                       "limit": {"type": "integer"}, "offset": {"type": "integer"}},
    },
    "ImageTags": {
        "type": "object", "required": ["items"],
        "properties": {"items": {"type": "array", "items": _ref("ImageTag")}},
    },
    "ImageUpdate": {
        "type": "object", "minProperties": 1, "additionalProperties": False,
        "properties": {
            "rating": {"type": ["integer", "null"], "minimum": 0, "maximum": 5,
                       "description": "0 to 5; null clears it"},
            "review_state": {"type": "string", "enum": REVIEW_STATES},
        },
    },
    "NewTag": {
        "type": "object", "required": ["name"], "properties": {"name": LIBRARY_NAME},
    },
    "Collection": {
        "type": "object", "required": ["id", "name", "images", "created_at"],
        "properties": {"id": {"type": "integer"}, "name": {"type": "string"},
                       "images": {"type": "integer", "minimum": 0,
                                  "description": "active images in it"},
                       "created_at": _STAMP},
    },
    "CollectionName": {
        "type": "object", "required": ["name"],
        "properties": {"name": {**LIBRARY_NAME, "description": "unique among collections"}},
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
                       "collection": _ref("Collection")},
    },
    "CollectionImagePage": {
        "type": "object", "required": ["items", "total", "limit", "offset"],
        "properties": {
            "items": {"type": "array", "items": {
                "type": "object",
                "required": ["id", "library", "path", "width", "height", "format", "rating",
                             "added_at", "thumbnail_url", "original_url"],
                "properties": {"id": {"type": "integer"}, "library": _NULL_STR,
                               "path": {"type": "string"}, "width": {"type": "integer"},
                               "height": {"type": "integer"}, "format": {"type": "string"},
                               "rating": _NULL_INT, "added_at": _STAMP,
                               "thumbnail_url": {"type": "string"},
                               "original_url": {"type": "string"}}}},
            "total": {"type": "integer"}, "limit": {"type": "integer"},
            "offset": {"type": "integer"}},
    },
}


def _body(schema_name: str) -> dict[str, Any]:
    return {"required": True, "content": {"application/json": {"schema": _ref(schema_name)}}}


def _op(summary: str, responses: dict[str, Any], *, params: list | None = None,
        body: dict | None = None, tag: str, security: bool = True) -> dict[str, Any]:
    op: dict[str, Any] = {"summary": summary, "tags": [tag], "responses": responses}
    if params:
        op["parameters"] = params
    if body:
        op["requestBody"] = body
    if not security:
        op["security"] = []
    return op


def _file(mime: str, description: str) -> dict[str, Any]:
    return {"description": description,
            "content": {mime: {"schema": {"type": "string", "format": "binary"}}}}


LIB_ID = _path_id("library_id", "library")
IMG_ID = _path_id("image_id", "image")
JOB_ID = _path_id("job_id", "job")
COLLECTION_ID = _path_id("collection_id", "collection")
QUERY_TOKEN = _q("token", {"type": "string"},
                 "API token, for `<img src>` where no header can be sent")


def _paths() -> dict[str, Any]:
    return {
        "/libraries": {
            "get": _op("List libraries", {"200": _json(
                {"type": "object", "required": ["items"],
                 "properties": {"items": {"type": "array", "items": _ref("Library")}}},
                "Libraries with their active image counts"), **_errors(401)}, tag="libraries"),
            "post": _op("Add a library (an existing folder on the server)",
                        {"201": _json(_ref("Library"), "The new library"),
                         **_errors(400, 401, 403, 404, 409, 415)},
                        body=_body("NewLibrary"), tag="libraries"),
        },
        "/libraries/{library_id}": {
            "get": _op("Show a library", {"200": _json(_ref("Library"), "The library"),
                                          **_errors(401, 404)},
                       params=[LIB_ID], tag="libraries"),
            "patch": _op("Rename a library", {
                "200": _json(_ref("Library"), "The renamed library"),
                **_errors(400, 401, 404, 409, 415)},
                params=[LIB_ID], body=_body("LibraryUpdate"), tag="libraries"),
            "delete": _op(
                "Remove a library: its catalog rows, vectors and unused thumbnails (its files "
                "on disk are never touched; images generated from them stay). 409 while it is "
                "being indexed.",
                {"200": _json(_ref("LibraryRemoved"), "What was removed"),
                 **_errors(401, 404, 409, 503)},
                params=[LIB_ID], tag="libraries"),
        },
        "/libraries/{library_id}/move": {
            "post": _op(
                "Point a library at the folder its photos moved to; images keep their ids, "
                "tags, ratings and vectors. 409 when another library has that folder or it is "
                "being indexed.",
                {"200": _json(_ref("LibraryMoved"), "The library and what was found"),
                 **_errors(400, 401, 403, 404, 409, 415)},
                params=[LIB_ID], body=_body("LibraryMove"), tag="libraries"),
        },
        "/libraries/{library_id}/scan": {
            "post": _op("Index the library (queues an `index` job)",
                        {"202": _json(_ref("Job"), "The queued job"),
                         **_errors(400, 401, 404, 409, 503)},
                        params=[LIB_ID], tag="libraries"),
        },
        "/images": {
            "get": _op("List images, filtered and paged (ordered by id)",
                       {"200": _json(_ref("ImagePage"), "A page of images"),
                        **_errors(400, 401, 404)},
                       params=[*PAGE, *FILTERS,
                               _q("status", {"type": "string", "enum": IMAGE_STATUSES},
                                  "default: active"),
                               _q("review_state", {"type": "string", "enum": REVIEW_STATES},
                                  "only images in this review state")],
                       tag="images"),
        },
        "/images/{image_id}": {
            "get": _op("Show an image with its tags",
                       {"200": _json(_ref("Image"), "The image"), **_errors(401, 404)},
                       params=[IMG_ID], tag="images"),
            "patch": _op("Curate an image: its rating and review state",
                         {"200": _json(_ref("Image"), "The image as it is now"),
                          **_errors(400, 401, 404, 415)},
                         params=[IMG_ID], body=_body("ImageUpdate"), tag="images"),
        },
        "/images/{image_id}/thumbnail": {
            "get": _op("The image's JPEG thumbnail",
                       {"200": _file("image/jpeg", "JPEG thumbnail"), **_errors(401, 404)},
                       params=[IMG_ID, QUERY_TOKEN], tag="images"),
        },
        "/images/{image_id}/original": {
            "get": _op("The original file (only from inside its library root)",
                       {"200": {"description": "The file as stored",
                                "content": {"image/*": {"schema": {"type": "string",
                                                                   "format": "binary"}},
                                            "application/octet-stream": {"schema": {
                                                "type": "string", "format": "binary"}}}},
                        **_errors(401, 404)},
                       params=[IMG_ID, QUERY_TOKEN], tag="images"),
        },
        "/images/{image_id}/tags": {
            "get": _op("Tags of an image", {"200": _json(_ref("ImageTags"), "Its tags"),
                                            **_errors(401, 404)},
                       params=[IMG_ID], tag="tags"),
            "post": _op("Add a person's tag (source `user`)", {
                "201": _json(_ref("ImageTags"), "Tag added; the image's tags"),
                "200": _json(_ref("ImageTags"), "The image had the tag already"),
                **_errors(400, 401, 404, 415)},
                params=[IMG_ID], body=_body("NewTag"), tag="tags"),
        },
        "/images/{image_id}/tags/{name}": {
            "delete": _op("Remove a tag, whoever set it (a person or the model)", {
                "200": _json(_ref("ImageTags"), "Tag removed; the image's tags"),
                **_errors(400, 401, 404)},
                params=[IMG_ID, {"name": "name", "in": "path", "required": True,
                                 "schema": LIBRARY_NAME,
                                 "description": "the tag's name (404 when the image does not "
                                                "carry it)"}],
                tag="tags"),
        },
        "/tags": {
            "get": _op("List tags on active images, with counts", {
                "200": _json(_ref("TagPage"), "Tags by name"), **_errors(400, 401)},
                params=[*PAGE, _q("source", {"type": "string", "enum": list(TAG_SOURCES)},
                                  "only tags this source set on an active image")],
                tag="tags"),
        },
        "/collections": {
            "get": _op("List collections by name, with active image counts", {
                "200": _json({"type": "object", "required": ["items"],
                              "properties": {"items": {"type": "array",
                                                       "items": _ref("Collection")}}},
                             "Every collection"), **_errors(401)}, tag="collections"),
            "post": _op("Create an empty collection", {
                "201": _json(_ref("Collection"), "The new collection"),
                **_errors(400, 401, 409, 415)}, body=_body("CollectionName"), tag="collections"),
        },
        "/collections/{collection_id}": {
            "get": _op("Show a collection", {"200": _json(_ref("Collection"), "The collection"),
                                             **_errors(401, 404)},
                       params=[COLLECTION_ID], tag="collections"),
            "patch": _op("Rename a collection", {
                "200": _json(_ref("Collection"), "The collection as it is now"),
                **_errors(400, 401, 404, 409, 415)},
                params=[COLLECTION_ID], body=_body("CollectionName"), tag="collections"),
            "delete": _op("Delete a collection (never its images)", {
                "204": {"description": "Deleted"}, **_errors(401, 404)},
                params=[COLLECTION_ID], tag="collections"),
        },
        "/collections/{collection_id}/images": {
            "get": _op("A collection's active images, the most recently added first", {
                "200": _json(_ref("CollectionImagePage"), "A page of its images"),
                **_errors(400, 401, 404)}, params=[COLLECTION_ID, *PAGE], tag="collections"),
            "post": _op("Add images to a collection (those already in it are skipped)", {
                "200": _json(_ref("CollectionChange"), "How many were added; the collection"),
                **_errors(400, 401, 404, 415)},
                params=[COLLECTION_ID], body=_body("ImageIds"), tag="collections"),
            "delete": _op("Take images out of a collection (the images stay)", {
                "200": _json(_ref("CollectionChange"), "How many were removed; the collection"),
                **_errors(400, 401, 404, 415)},
                params=[COLLECTION_ID], body=_body("ImageIds"), tag="collections"),
        },
        "/search": {
            "get": _op("Search by text (query syntax and filters)", {
                "200": _json(_ref("SearchResults"), "Hits, best first"),
                **_errors(400, 401, 404, 503)},
                params=[_q("q", {**_str(2000), "minLength": 1},
                           "the query (see SearchRequest.q)", required=True), *SEARCH_OPTS],
                tag="search"),
            "post": _op("Search by text, parameters as a JSON body", {
                "200": _json(_ref("SearchResults"), "Hits, best first"),
                **_errors(400, 401, 404, 415, 503)},
                body=_body("SearchRequest"), tag="search"),
        },
        "/search/image": {
            "post": _op("Search by an uploaded example image", {
                "200": _json(_ref("SearchResults"), "Hits, best first"),
                **_errors(400, 401, 404, 413, 415, 503)},
                body={"required": True, "content": {"multipart/form-data": {"schema": {
                    "type": "object", "required": ["image"],
                    "properties": {
                        "image": {"type": "string", "format": "binary",
                                  "description": "JPEG, PNG, WebP, TIFF, BMP or GIF"},
                        "limit": {"type": "integer", "minimum": 1, "maximum": MAX_LIMIT},
                        "offset": {"type": "integer", "minimum": 0, "maximum": MAX_OFFSET},
                        "min_score": {"type": "number", "minimum": -1, "maximum": 1},
                        **{p["name"]: p["schema"] for p in FILTERS},
                    }}}}},
                tag="search"),
        },
        "/search/similar/{image_id}": {
            "get": _op("Images most like an indexed image (itself excluded)", {
                "200": _json(_ref("SearchResults"), "Hits, best first"),
                **_errors(400, 401, 404, 503)},
                params=[IMG_ID, *SEARCH_OPTS], tag="search"),
        },
        "/jobs": {
            "get": _op("List jobs, newest first", {
                "200": _json(_ref("JobPage"), "A page of jobs"), **_errors(400, 401, 503)},
                params=[*PAGE, _q("status", {"type": "string", "enum": JOB_STATUSES},
                                  "only jobs in this state"),
                        _q("kind", _str(64), "only this kind")],
                tag="jobs"),
            "post": _op("Create a job", {
                "202": _json(_ref("Job"), "The queued job"),
                **_errors(400, 401, 404, 415, 503)},
                body=_body("NewJob"), tag="jobs"),
        },
        "/jobs/{job_id}": {
            "get": _op("Show a job and its progress", {
                "200": _json(_ref("Job"), "The job"), **_errors(401, 404, 503)},
                params=[JOB_ID], tag="jobs"),
        },
        "/jobs/{job_id}/cancel": {
            "post": _op("Cancel a job (a running one stops within one batch)", {
                "200": _json(_ref("Job"), "The job, with its cancel flag set"),
                **_errors(400, 401, 404, 409, 503)},
                params=[JOB_ID], tag="jobs"),
        },
        "/jobs/{job_id}/retry": {
            "post": _op("Retry a finished job as a new job linked to it", {
                "202": _json(_ref("Job"), "The new job"),
                **_errors(400, 401, 404, 409, 503)},
                params=[JOB_ID], tag="jobs"),
        },
        "/workers": {
            "get": _op("List job workers, live ones first", {
                "200": _json(_ref("WorkerList"), "Workers that recorded themselves"),
                **_errors(401)}, tag="jobs"),
        },
        "/openapi.json": {
            "get": _op("This document", {"200": _json({"type": "object"}, "OpenAPI 3.1")},
                       tag="meta", security=False),
        },
    }


def document() -> dict[str, Any]:
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "Daguerre API", "version": "1",
            "description": "Search, browse and curate image libraries; run indexing and "
                           "generation jobs. Authenticate with `Authorization: Bearer <token>` "
                           "(`daguerre tokens create NAME`).",
        },
        "servers": [{"url": PREFIX}],
        "security": [{"bearer": []}],
        "components": {
            "securitySchemes": {
                "bearer": {"type": "http", "scheme": "bearer",
                           "description": "A token from `daguerre tokens create NAME`"},
            },
            "schemas": SCHEMAS,
        },
        "paths": {**_paths(), **generate_api.openapi_paths()},
    }


bp = Blueprint("openapi", __name__, url_prefix=PREFIX)


@bp.get("/openapi.json")
def openapi_json() -> Response:
    return jsonify(document())


def init_app(app: Flask) -> None:
    app.register_blueprint(bp)
