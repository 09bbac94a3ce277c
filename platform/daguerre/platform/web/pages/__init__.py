"""The dashboard's screens: one module (a blueprint, its template and its ES module) per screen,
each at its own URL so it can be bookmarked, shared and reloaded.

A screen is server-rendered from the services (the rules live there, as for the CLI and the
API); what must run in the browser (live progress, forms that call the API) is one small native
ES module per component under ``web/static/``, calling the JSON API on the session cookie with
the page's CSRF token (``static/api.js``). Every view declares the least role it needs
(:func:`daguerre.platform.web.auth.requires`).
"""

from __future__ import annotations

import importlib

from flask import Flask

# One module per screen; each defines ``init_app(app)``.
PAGE_MODULES: tuple[str, ...] = ("libraries", "jobs", "review", "duplicates")


def init_app(app: Flask) -> None:
    for name in PAGE_MODULES:
        importlib.import_module(f"{__name__}.{name}").init_app(app)
