"""The OpenAPI 3.1 document of the JSON API, served at ``/api/v1/openapi.json``.

Written as data next to what the server does, one module per area of the API (as ``web/api`` has
one blueprint per area): every route, parameter, status code and response shape is one the
blueprints implement; limits and enumerations are read from the code's constants and the job
kinds' parameter tables. A property-based test (schemathesis,
``tests/platform/test_openapi_schemathesis.py``) calls a live server with generated requests and
checks every response against this document, with every check it has.
"""

from __future__ import annotations

from typing import Any

from flask import Blueprint, Flask, Response, jsonify

from daguerre.platform.web.api import PREFIX
from daguerre.platform.web.openapi import common, images, jobs, libraries, search, tags

AREAS = (libraries, images, search, tags, jobs)


def document() -> dict[str, Any]:
    paths: dict[str, Any] = {}
    schemas: dict[str, Any] = {"Error": common.ERROR}
    for area in AREAS:
        schemas.update(area.SCHEMAS)
        paths.update(area.paths())
    schemas["NewJob"] = jobs.new_job()
    paths.update(jobs.generation_paths())
    paths["/openapi.json"] = {"get": common.operation(
        "This document", {"200": common.json_response({"type": "object"}, "OpenAPI 3.1")},
        tag="meta", security=False)}
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
            "schemas": schemas,
        },
        "paths": paths,
    }


bp = Blueprint("openapi", __name__, url_prefix=PREFIX)


@bp.get("/openapi.json")
def openapi_json() -> Response:
    return jsonify(document())


def init_app(app: Flask) -> None:
    app.register_blueprint(bp)
