"""The JSON API, version 1, under ``/api/v1``: one blueprint per resource, nested in ``api``.

Every endpoint but the OpenAPI document needs a token or a signed-in session, and declares the
least role it needs (see :mod:`daguerre.platform.web.auth`);
errors are JSON (see :mod:`daguerre.platform.web.errors`). ``openapi.py`` documents each route.
"""

from __future__ import annotations

import importlib
import pkgutil

from flask import Blueprint, Flask

PREFIX = "/api/v1"


def area_modules() -> list[str]:
    """Every area module of this package (each defines ``init_app(api)``); ``serialize`` is a
    helper, not an area. A new area is one new module, with no list to edit."""
    return sorted(m.name for m in pkgutil.iter_modules(__path__)
                  if not m.name.startswith("_") and m.name != "serialize")


def init_app(app: Flask) -> None:
    api = Blueprint("api", __name__, url_prefix=PREFIX)
    for name in area_modules():
        importlib.import_module(f"{__name__}.{name}").init_app(api)
    app.register_blueprint(api)
