"""The JSON API, version 1, under ``/api/v1``: one blueprint per resource, nested in ``api``.

Every endpoint but the OpenAPI document needs a token or a signed-in session, and declares the
least role it needs (see :mod:`daguerre.platform.web.auth`);
errors are JSON (see :mod:`daguerre.platform.web.errors`). ``openapi.py`` documents each route.
"""

from __future__ import annotations

from flask import Blueprint, Flask

PREFIX = "/api/v1"


def init_app(app: Flask) -> None:
    from daguerre.platform.web.api import (
        collections,
        duplicates,
        generate,
        images,
        jobs,
        libraries,
        search,
        tags,
        workers,
    )

    api = Blueprint("api", __name__, url_prefix=PREFIX)
    for module in (libraries, images, search, jobs, tags, collections, generate, workers,
                   duplicates):
        module.init_app(api)
    app.register_blueprint(api)
