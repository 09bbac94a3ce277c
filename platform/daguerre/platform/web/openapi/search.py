"""The document's searches: by text (the query syntax), by an uploaded image, by an
indexed image."""

from __future__ import annotations

from typing import Any

from daguerre.platform.constants import IMAGE_ORIGINS, REVIEW_STATES
from daguerre.platform.services.search import CUTOFF_AUTO, CUTOFF_POOL, DATE_POOL, SORTS
from daguerre.platform.web.api.search import MAX_QUERY_CHARS
from daguerre.platform.web.openapi.common import (
    FILTERS,
    IMAGE_TYPES,
    IMG_ID,
    NULL_INT,
    NULL_STR,
    SEARCH_OPTS,
    errors,
    json_body,
    json_response,
    operation,
    query_param,
    ref,
    text,
)
from daguerre.platform.web.params import MAX_LIMIT, MAX_OFFSET

# The query language (indexer/query.py) is a grammar JSON Schema cannot spell; the document names
# it as a format of its own and describes it, as OpenAPI allows for any format.
QUERY_FORMAT = "daguerre-query"
QUERY = {**text(MAX_QUERY_CHARS), "minLength": 1, "format": QUERY_FORMAT, "description": (
    'the query language: terms joined by ` + ` and ` - `; a term is "quoted text" or bare '
    'text, optionally weighted (`"stripes":0.5`, any finite non-zero number), or `#ID`, an '
    "indexed image. A malformed query is a 400 naming the position; a term naming an image "
    "file on the server is refused (403): upload it to /search/image instead; a `#ID` that "
    "does not exist is a 404, one not indexed yet a 409.")}
# Upload types the decoder reads (indexer/decode.py).

# Ordering and the relevance cut-off (services/search.py: check_sort, check_cutoff).
SORT = {"type": "string", "enum": list(SORTS), "default": "relevance", "description": (
    "relevance (best first), or date: newest capture first, undated last; of the kept results "
    f"with a cutoff, else of the {DATE_POOL} best")}
CUTOFF = {"anyOf": [{"type": "string", "enum": [CUTOFF_AUTO]},
                    {"type": "number", "minimum": -1, "maximum": 1}],
          "description": (
              "stop where the results stop matching: auto reads where from this query's own "
              f"scores (the largest drop among its {CUTOFF_POOL} best), a number is a fixed "
              "minimum score; pages are then of the kept results, and the answer's cutoff says "
              "where it stopped and why")}
ORDER_PARAMS = [query_param("sort", SORT, SORT["description"]),
                query_param("cutoff", CUTOFF, CUTOFF["description"])]

SCHEMAS: dict[str, Any] = {
    "Hit": {
        "type": "object", "required": ["id", "score", "thumbnail_url", "original_url"],
        "properties": {
            "id": {"type": "integer"},
            "score": {"type": "number", "description": "cosine similarity to the query"},
            "path": {"type": "string"}, "library": NULL_STR,
            "width": {"type": "integer"}, "height": {"type": "integer"},
            "rating": NULL_INT, "origin": {"type": ["string", "null"],
                                         "enum": [*IMAGE_ORIGINS, None]},
            "review_state": {"type": ["string", "null"], "enum": [*REVIEW_STATES, None]},
            "thumbnail_url": {"type": "string"}, "original_url": {"type": "string"},
        },
    },
    "SearchResults": {
        "type": "object", "required": ["items", "limit", "offset", "min_score", "filters"],
        "properties": {
            "items": {"type": "array", "items": ref("Hit")},
            "limit": {"type": "integer"}, "offset": {"type": "integer"},
            "min_score": {"type": ["number", "null"]},
            "filters": {"type": "object", "description": "the filters that were applied"},
            "query": {"type": "string"}, "image_id": {"type": "integer"},
            "filename": NULL_STR,
            "sort": {"type": "string", "enum": list(SORTS)},
            "cutoff": {"oneOf": [{"type": "null"}, ref("Cutoff")],
                       "description": "where the cut-off stopped and why; null without one"},
        },
    },
    "Cutoff": {
        "type": "object", "required": ["method", "score", "kept", "ranked", "reason"],
        "properties": {
            "method": {"type": "string", "enum": [CUTOFF_AUTO, "fixed"]},
            "score": {"type": ["number", "null"],
                      "description": "the lowest kept score (null when none was kept)"},
            "kept": {"type": "integer", "minimum": 0,
                     "description": "how many results were kept"},
            "ranked": {"type": "integer", "minimum": 0,
                       "description": f"how many were ranked and cut (at most {CUTOFF_POOL})"},
            "reason": {"type": "string", "description": "why it stopped there, in words"},
        },
    },
    "SearchRequest": {
        "type": "object", "required": ["q"],
        "properties": {
            "q": QUERY,
            "limit": {"type": "integer", "minimum": 1, "maximum": MAX_LIMIT},
            "offset": {"type": "integer", "minimum": 0, "maximum": MAX_OFFSET},
            "min_score": {"type": "number", "minimum": -1, "maximum": 1},
            "sort": SORT, "cutoff": CUTOFF,
            **{p["name"]: p["schema"] for p in FILTERS},
        },
    },
}


def paths() -> dict[str, Any]:
    return {
        "/search": {
            "get": operation("Search by text (query syntax and filters)", {
                "200": json_response(ref("SearchResults"), "Hits, best first"),
                **errors(400, 401, 403, 404, 409, 503)},
                params=[query_param("q", QUERY, QUERY["description"], required=True),
                        *SEARCH_OPTS, *ORDER_PARAMS],
                tag="search"),
            "post": operation("Search by text, parameters as a JSON body", {
                "200": json_response(ref("SearchResults"), "Hits, best first"),
                **errors(400, 401, 403, 404, 409, 415, 503)},
                body=json_body("SearchRequest"), tag="search"),
        },
        "/search/image": {
            "post": operation("Search by an uploaded example image", {
                "200": json_response(ref("SearchResults"), "Hits, best first"),
                **errors(400, 401, 404, 413, 415, 503)},
                body={"required": True, "content": {"multipart/form-data": {"schema": {
                    "type": "object", "required": ["image"],
                    "properties": {
                              "image": {"type": "string", "format": "binary",
                                  "description": "JPEG, PNG, WebP, TIFF, BMP or GIF"},
                              "limit": {"type": "integer", "minimum": 1, "maximum": MAX_LIMIT},
                              "offset": {"type": "integer", "minimum": 0, "maximum": MAX_OFFSET},
                              "min_score": {"type": "number", "minimum": -1, "maximum": 1},
                              "sort": SORT, "cutoff": CUTOFF,
                              **{p["name"]: p["schema"] for p in FILTERS},
                    }},
                    "encoding": {"image": {"contentType": IMAGE_TYPES}}}}},
                tag="search"),
        },
        "/search/similar/{image_id}": {
            "get": operation("Images most like an indexed image (itself excluded; 409 while "
                             "it is not indexed)", {
                "200": json_response(ref("SearchResults"), "Hits, best first"),
                **errors(400, 401, 404, 409, 503)},
                params=[IMG_ID, *SEARCH_OPTS, *ORDER_PARAMS], tag="search"),
        },
    }
