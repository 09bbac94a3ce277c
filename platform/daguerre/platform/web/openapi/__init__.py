"""The OpenAPI 3.1 document of the JSON API, served at ``/api/v1/openapi.json``.

Written as data next to what the server does, one module per area of the API (as ``web/api`` has
one blueprint per area): every route, parameter, status code and response shape is one the
blueprints implement; limits and enumerations are read from the code's constants and the job
kinds' parameter tables; which operations a role can be refused (403) is read from the roles the
views declare (``web.auth.requires``). A property-based test (schemathesis,
``tests/platform/test_openapi_schemathesis.py``) calls a live server with generated requests and
checks every response against this document, with every check it has.
"""

from __future__ import annotations

import importlib
import pkgutil
from types import ModuleType
from typing import Any

from flask import Blueprint, Flask, Response, current_app, jsonify

from daguerre.platform.web import auth
from daguerre.platform.web.api import PREFIX
from daguerre.platform.web.openapi import common, jobs

# Modules of this package that document no area of their own.
HELPERS = frozenset({"common", "params"})


def areas() -> list[ModuleType]:
    """Every area module of this package (each has ``SCHEMAS`` and ``paths()``): a new area of
    the API is documented by one new module, with no list to edit."""
    names = sorted(m.name for m in pkgutil.iter_modules(__path__)
                   if not m.name.startswith("_") and m.name not in HELPERS)
    return [importlib.import_module(f"{__name__}.{n}") for n in names]


def template(rule: str) -> str:
    """The document's path for a Flask rule under the API (``<int:id>`` becomes ``{id}``)."""
    path = rule.removeprefix(PREFIX)
    for conv in ("int:", "path:"):
        path = path.replace("<" + conv, "{")
    return path.replace("<", "{").replace(">", "}")


def _role_refusals(paths: dict[str, Any], app: Flask) -> None:
    """List 403 on each operation whose view needs more than a viewer."""
    refused = common.errors(403)
    for rule in app.url_map.iter_rules():
        role = auth.role_of(app.view_functions[rule.endpoint])
        if not rule.rule.startswith(PREFIX + "/") or role in (None, auth.PUBLIC, "viewer"):
            continue
        for method in sorted((rule.methods or set()) - {"HEAD", "OPTIONS"}):
            op = paths[template(rule.rule)][method.lower()]
            op["responses"] = {**op["responses"], **refused}


def document(app: Flask | None = None) -> dict[str, Any]:
    """The document; with ``app``, each operation a role can be refused lists 403."""
    paths: dict[str, Any] = {}
    schemas: dict[str, Any] = {"Error": common.ERROR}
    for area in areas():
        schemas.update(area.SCHEMAS)
        paths.update(area.paths())
    schemas["NewJob"] = jobs.new_job()
    paths.update(jobs.generation_paths())
    paths["/openapi.json"] = {"get": common.operation(
        "This document", {"200": common.json_response({"type": "object"}, "OpenAPI 3.1")},
        tag="meta", security=False)}
    if app is not None:
        _role_refusals(paths, app)
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "Daguerre API", "version": "1",
            "description": "Search, browse and curate image libraries; run indexing and "
                           "generation jobs. Authenticate with `Authorization: Bearer <token>` "
                           "(`daguerre tokens create NAME --user USER`); a token carries its "
                           "user's role (viewer: read; curator: also curate and run jobs; "
                           "admin: also libraries). The dashboard calls the same API on its "
                           "session cookie, with the CSRF token in `X-CSRFToken` on changes.",
        },
        "servers": [{"url": PREFIX}],
        "security": [{"bearer": []}],
        "components": {
            "securitySchemes": {
                "bearer": {"type": "http", "scheme": "bearer",
                           "description": "A token from `daguerre tokens create NAME "
                                          "--user USER`"},
            },
            "schemas": schemas,
        },
        "paths": paths,
    }


bp = Blueprint("openapi", __name__, url_prefix=PREFIX)


@bp.get("/openapi.json")
@auth.public
def openapi_json() -> Response:
    return jsonify(document(current_app))


def init_app(app: Flask) -> None:
    app.register_blueprint(bp)
