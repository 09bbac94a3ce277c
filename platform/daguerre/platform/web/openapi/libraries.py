"""The document's libraries: add, list, show, rename, remove, move, scan, last scan's failures."""

from __future__ import annotations

from typing import Any

from daguerre.platform.web.openapi.common import (
    LIB_ID,
    LIBRARY_PATH,
    NAME,
    PAGE,
    STAMP,
    errors,
    json_body,
    json_response,
    operation,
    ref,
)

SCHEMAS: dict[str, Any] = {
    "Library": {
        "type": "object",
        "required": ["id", "name", "root", "images", "created_at", "last_indexed_at"],
        "properties": {
            "id": {"type": "integer"}, "name": {"type": "string"}, "root": {"type": "string"},
            "images": {"type": "integer", "minimum": 0, "description": "active images"},
            "created_at": STAMP, "last_indexed_at": STAMP,
        },
    },
    "NewLibrary": {
        "type": "object", "required": ["path"],
        "properties": {"path": LIBRARY_PATH,
                       "name": {**NAME, "description": "default: the folder's name"}},
    },
    "LibraryUpdate": {
        "type": "object", "required": ["name"],
        "properties": {"name": {**NAME, "description": "the new name"}},
    },
    "LibraryMove": {
        "type": "object", "required": ["path"],
        "properties": {"path": LIBRARY_PATH},
    },
    "LibraryMoved": {
        "type": "object", "required": ["library", "found", "not_found"],
        "properties": {
            "library": ref("Library"),
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
    "IndexFailures": {
        "type": "object", "required": ["library_id", "total", "items"],
        "properties": {
            "library_id": {"type": "integer"},
            "total": {"type": "integer", "minimum": 0,
                      "description": "files the last index run could not index"},
            "items": {"type": "array", "items": {
                "type": "object", "required": ["path", "reason", "recorded_at"],
                "properties": {
                    "path": {"type": "string", "description": "relative to the library root"},
                    "reason": {"type": "string", "description": "why it was skipped"},
                    "recorded_at": STAMP,
                }}},
        },
    },
}


def paths() -> dict[str, Any]:
    return {
        "/libraries": {
            "get": operation("List libraries", {"200": json_response(
                {"type": "object", "required": ["items"],
                 "properties": {"items": {"type": "array", "items": ref("Library")}}},
                "Libraries with their active image counts"), **errors(401)}, tag="libraries"),
            "post": operation("Add a library (an existing folder on the server)",
                              {"201": json_response(ref("Library"), "The new library"),
                         **errors(400, 401, 403, 404, 409, 415)},
                              body=json_body("NewLibrary"), tag="libraries"),
        },
        "/libraries/{library_id}": {
            "get": operation("Show a library", {"200": json_response(ref("Library"), "The library"),
                                          **errors(401, 404)},
                             params=[LIB_ID], tag="libraries"),
            "patch": operation("Rename a library", {
                "200": json_response(ref("Library"), "The renamed library"),
                **errors(400, 401, 404, 409, 415)},
                params=[LIB_ID], body=json_body("LibraryUpdate"), tag="libraries"),
            "delete": operation(
                "Remove a library: its catalog rows, vectors and unused thumbnails (its files "
                "on disk are never touched; images generated from them stay). 409 while it is "
                "being indexed.",
                {"200": json_response(ref("LibraryRemoved"), "What was removed"),
                 **errors(401, 404, 409, 503)},
                params=[LIB_ID], tag="libraries"),
        },
        "/libraries/{library_id}/move": {
            "post": operation(
                "Point a library at the folder its photos moved to; images keep their ids, "
                "tags, ratings and vectors. 409 when another library has that folder or it is "
                "being indexed.",
                {"200": json_response(ref("LibraryMoved"), "The library and what was found"),
                 **errors(400, 401, 403, 404, 409, 415)},
                params=[LIB_ID], body=json_body("LibraryMove"), tag="libraries"),
        },
        "/libraries/{library_id}/scan": {
            "post": operation("Index the library (queues an `index` job)",
                              {"202": json_response(ref("Job"), "The queued job"),
                         **errors(400, 401, 404, 409, 503)},
                              params=[LIB_ID], tag="libraries"),
        },
        "/libraries/{library_id}/failures": {
            "get": operation(
                "The files the library's last index run could not index, with their reasons "
                "(each run replaces the previous run's), by path",
                {"200": json_response(ref("IndexFailures"), "A page of failures and their total"),
                 **errors(400, 401, 404)},
                params=[LIB_ID, *PAGE], tag="libraries"),
        },
    }
