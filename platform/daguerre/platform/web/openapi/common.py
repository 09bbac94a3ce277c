"""What every part of the OpenAPI document shares: the builders of schemas, parameters and
responses, the catalog filters and paging, names and paths, the error body.

The limits and enumerations are read from the code's own constants (``constants.py``,
``catalog/filters.py``), never written again here.
"""

from __future__ import annotations

from typing import Any

from daguerre.platform.catalog.filters import (
    MAX_DATE_CHARS,
    MAX_FORMAT_CHARS,
    MAX_RATING,
    MAX_SIDE,
)
from daguerre.platform.constants import (
    IMAGE_ORIGINS,
    MAX_ID,
    MAX_NAME_CHARS,
    MAX_PATH_CHARS,
    NAME_PATTERN,
    REVIEW_STATES,
)
from daguerre.platform.web.params import MAX_LIMIT, MAX_OFFSET

REF = "#/components/schemas/"


# Strings the server stores or compares in SQL refuse NUL (PostgreSQL cannot hold it): say so.
NO_NUL = "^[^\\u0000]*$"


def text(max_length: int, **extra: Any) -> dict[str, Any]:
    return {"type": "string", "maxLength": max_length, "pattern": NO_NUL, **extra}


def ref(name: str) -> dict[str, str]:
    return {"$ref": REF + name}


def json_response(schema: dict[str, Any], description: str) -> dict[str, Any]:
    return {"description": description, "content": {"application/json": {"schema": schema}}}


def _error(description: str) -> dict[str, Any]:
    return json_response(ref("Error"), description)


def errors(*codes: int) -> dict[str, Any]:
    text = {
        400: "Bad input; the message (and `field`) name what was wrong.",
        401: "No credential, or an invalid or revoked token (or one of a removed user).",
        403: "Not allowed: a place no library may be, or a role without the right.",
        404: "No such resource.",
        409: "Conflicts with the current state.",
        413: "Request body over the upload limit.",
        415: "Wrong request content type.",
        503: "The server cannot do this now (model weights missing, job system down).",
    }
    return {str(c): _error(text[c]) for c in codes}


def query_param(name: str, schema: dict[str, Any], description: str, required: bool = False
                ) -> dict[str, Any]:
    return {"name": name, "in": "query", "required": required, "schema": schema,
            "description": description}


def path_id(name: str, what: str) -> dict[str, Any]:
    # Flask's <int:...> converter matches non-negative decimal integers only; anything else is
    # a 404 from routing, which is documented on every such operation.
    return {"name": name, "in": "path", "required": True,
            "schema": {"type": "integer", "minimum": 0, "maximum": MAX_ID},
            "description": f"id of the {what}"}


PAGE = [
    query_param("limit", {"type": "integer", "minimum": 1, "maximum": MAX_LIMIT}, "page size"),
    query_param("offset", {"type": "integer", "minimum": 0, "maximum": MAX_OFFSET},
                "results to skip (stable order)"),
]

# The catalog filters (catalog/filters.py checks them, for the API and the CLI alike). A string
# filter left empty means "any"; a date or a number given empty is refused (400).
_DATE = {"type": "string", "format": "date", "minLength": 1, "maxLength": MAX_DATE_CHARS,
         "description": "ISO date (2024-05-31); an ISO date-time is accepted too"}
_SIDE = {"type": "integer", "minimum": 0, "maximum": MAX_SIDE}
FILTERS = [
    query_param("library", text(MAX_NAME_CHARS), "library id or name"),
    query_param("folder", text(MAX_PATH_CHARS),
                "folder inside the library (path prefix, e.g. `2023/summer`)"),
    query_param("date_from", _DATE, "earliest capture time (EXIF); a `date_from` later than "
                "`date_to` is an empty range (an empty page, not an error)"),
    query_param("date_to", _DATE, "latest capture time; a bare date includes the whole day"),
    query_param("tag", text(MAX_NAME_CHARS), "images with this tag"),
    query_param("min_rating", {"type": "integer", "minimum": 0, "maximum": MAX_RATING},
                "minimum rating (an integral number such as 3.0 counts as the integer)"),
    query_param("review_state", {"type": "string", "enum": list(REVIEW_STATES)},
                "only images in this review state"),
    query_param("origin", {"type": "string", "enum": list(IMAGE_ORIGINS)}, "where images came from"),
    query_param("format", text(MAX_FORMAT_CHARS), "file format (JPEG, PNG, ...; JPG and TIF too)"),
    query_param("min_width", _SIDE, "minimum width"),
    query_param("min_height", _SIDE, "minimum height"),
]
SEARCH_OPTS = PAGE + [
    query_param("min_score", {"type": "number", "minimum": -1, "maximum": 1},
                "cosine similarity cut-off"),
] + FILTERS

NULL_STR = {"type": ["string", "null"]}
# What an uploaded image may be (an example to search by, a mask), as a multipart part's type.
IMAGE_TYPES = "image/jpeg, image/png, image/webp, image/tiff, image/bmp, image/gif"
# Names (services/tags.check_name), by the pattern that states the same rule (constants.py).
NAME = {"type": "string", "minLength": 1, "maxLength": MAX_NAME_CHARS, "pattern": NAME_PATTERN}
LIBRARY_PATH = text(MAX_PATH_CHARS, minLength=1, pattern="^/[^\\u0000]*$", description=(
    "absolute path of an existing folder on the server (resolved first); not a system folder "
    "nor inside the data directory"))
NULL_INT = {"type": ["integer", "null"]}
STAMP = {"type": ["string", "null"], "format": "date-time"}

def json_body(schema_name: str) -> dict[str, Any]:
    return {"required": True, "content": {"application/json": {"schema": ref(schema_name)}}}


def operation(summary: str, responses: dict[str, Any], *, params: list | None = None,
              body: dict | None = None, tag: str, security: bool = True) -> dict[str, Any]:
    op: dict[str, Any] = {"summary": summary, "tags": [tag], "responses": responses}
    if params:
        op["parameters"] = params
    if body:
        op["requestBody"] = body
    if not security:
        op["security"] = []
    return op


def file_response(mime: str, description: str) -> dict[str, Any]:
    return {"description": description,
            "content": {mime: {"schema": {"type": "string", "format": "binary"}}}}


LIB_ID = path_id("library_id", "library")
IMG_ID = path_id("image_id", "image")
JOB_ID = path_id("job_id", "job")
COLLECTION_ID = path_id("collection_id", "collection")


# The error body every failure answers with (web/errors.py builds it).
ERROR = {
    "type": "object", "required": ["error"],
    "properties": {
        "error": {"type": "string", "description": "what was wrong, for a person"},
        "field": {"type": "string", "description": "the input at fault, as the request names "
                                                   "it (`path`, `params.steps`)"},
        "value": {"description": "the value it had, when it is short enough to echo"},
        "position": {"type": "integer", "minimum": 0,
                     "description": "where in `value` the fault lies, as a 0-based character "
                                    "offset (a search query that does not parse: the start of "
                                    "the bad term; the message counts from 1)"},
    },
}
