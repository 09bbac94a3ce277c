"""The OpenAPI 3.1 document of the JSON API, served at ``/api/v1/openapi.json``.

Written by hand as data, next to what the server does: every route, parameter, status code and
response shape below is one the blueprints in ``web/api`` implement, and a property-based test
(schemathesis, ``tests/platform/test_openapi_schemathesis.py``) calls a live server with
generated requests and checks every response against this document.
"""

from __future__ import annotations

from typing import Any

from flask import Blueprint, Flask, Response, jsonify

from daguerre.platform.web.api import PREFIX
from daguerre.platform.web.api import generate as generate_api
from daguerre.platform.web.api.filters import ORIGINS
from daguerre.platform.web.params import MAX_LIMIT, MAX_OFFSET

REF = "#/components/schemas/"
JOB_STATUSES = ["queued", "running", "succeeded", "failed", "canceled"]
IMAGE_STATUSES = ["active", "missing", "deleted", "duplicate"]
REVIEW_STATES = ["unreviewed", "approved", "rejected"]


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

_DATE = {"type": "string", "format": "date",
         "description": "ISO date (2024-05-31); an ISO date-time is accepted too"}
FILTERS = [
    _q("library", _str(200), "library id or name"),
    _q("folder", _str(4096),
       "folder inside the library (path prefix, e.g. `2023/summer`)"),
    _q("date_from", _DATE, "earliest capture time (EXIF)"),
    _q("date_to", _DATE, "latest capture time; a bare date includes the whole day"),
    _q("tag", _str(200), "images with this tag"),
    _q("min_rating", {"type": "integer", "minimum": 0, "maximum": 5}, "minimum rating"),
    _q("origin", {"type": "string", "enum": list(ORIGINS)}, "where images came from"),
    _q("format", _str(16), "file format (JPEG, PNG, ...)"),
    _q("min_width", {"type": "integer", "minimum": 0, "maximum": 1_000_000}, "minimum width"),
    _q("min_height", {"type": "integer", "minimum": 0, "maximum": 1_000_000}, "minimum height"),
]
SEARCH_OPTS = PAGE + [
    _q("min_score", {"type": "number", "minimum": -1, "maximum": 1},
       "cosine similarity cut-off"),
] + FILTERS

_NULL_STR = {"type": ["string", "null"]}
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
        "properties": {
            "path": _str(4096, description="absolute path of an existing folder on the server"),
            "name": _str(200, description="default: the folder's name"),
        },
    },
    "ImageTag": {
        "type": "object", "required": ["name", "source", "score"],
        "properties": {"name": {"type": "string"},
                       "source": {"type": "string", "enum": ["user", "model"]},
                       "score": {"type": ["number", "null"]}},
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
            "origin": {"type": "string", "enum": list(ORIGINS)},
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
            "rating": _NULL_INT, "origin": {"type": ["string", "null"], "enum": [*ORIGINS, None]},
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
    "NewJob": {
        "type": "object", "required": ["kind"],
        "properties": {"kind": _str(64, description="index, embed, classify, duplicates, ..."),
                       "params": {"type": "object"}},
    },
    "Tag": {
        "type": "object", "required": ["id", "name", "images"],
        "properties": {"id": {"type": "integer"}, "name": {"type": "string"},
                       "images": {"type": "integer"}},
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
        "type": "object", "required": ["name"],
        "properties": {"name": {**_str(200), "minLength": 1}},
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
                         **_errors(400, 401, 409, 415)},
                        body=_body("NewLibrary"), tag="libraries"),
        },
        "/libraries/{library_id}": {
            "get": _op("Show a library", {"200": _json(_ref("Library"), "The library"),
                                          **_errors(401, 404)},
                       params=[LIB_ID], tag="libraries"),
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
            "post": _op("Add a user tag", {
                "201": _json(_ref("ImageTags"), "Tag added; the image's tags"),
                "200": _json(_ref("ImageTags"), "The image had the tag already"),
                **_errors(400, 401, 404, 415)},
                params=[IMG_ID], body=_body("NewTag"), tag="tags"),
        },
        "/images/{image_id}/tags/{name}": {
            "delete": _op("Remove a user tag", {
                "200": _json(_ref("ImageTags"), "Tag removed; the image's tags"),
                **_errors(400, 401, 404)},
                params=[IMG_ID, {"name": "name", "in": "path", "required": True,
                                 "schema": {"type": "string", "minLength": 1},
                                 "description": "the tag's name"}],
                tag="tags"),
        },
        "/tags": {
            "get": _op("List tags with image counts", {
                "200": _json(_ref("TagPage"), "Tags by name"), **_errors(400, 401)},
                params=[*PAGE, _q("source", {"type": "string", "enum": ["user", "model"]},
                                  "only tags from this source")],
                tag="tags"),
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
