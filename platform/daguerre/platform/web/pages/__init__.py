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
import pkgutil
from typing import NamedTuple

from flask import Flask, current_app, url_for

from daguerre.platform.services.users import role_allows


class Screen(NamedTuple):
    """One entry of the navigation bar: its label, the view it opens, the least role shown it."""

    label: str
    endpoint: str
    role: str


# The navigation bar, in order. A screen whose module is not loaded is left out, so the bar
# never links to a page that does not exist.
SCREENS: tuple[Screen, ...] = (
    Screen("Timeline", "timeline_page.timeline", "viewer"),
    Screen("Search", "search_page.search", "viewer"),
    Screen("Boards", "boards_page.boards", "viewer"),
    Screen("Review", "review_page.review", "viewer"),
    Screen("Suggestions", "suggestions_page.index", "viewer"),
    Screen("Duplicates", "duplicates_page.duplicates", "viewer"),
    Screen("Create", "create_page.create", "curator"),
    Screen("Jobs", "jobs_page.jobs", "viewer"),
    Screen("Libraries", "libraries_page.libraries", "admin"),
    Screen("Settings", "settings_page.settings", "viewer"),
)


def page_modules() -> list[str]:
    """Every screen module of this package (each defines ``init_app(app)``): a new screen is
    one new module, with no list to edit."""
    return sorted(m.name for m in pkgutil.iter_modules(__path__) if not m.name.startswith("_"))


def nav_screens(role: str | None) -> list[tuple[str, str]]:
    """(label, URL) of each screen that exists and that ``role`` may open."""
    views = current_app.view_functions
    return [(s.label, url_for(s.endpoint)) for s in SCREENS
            if s.endpoint in views and role is not None and role_allows(role, s.role)]


def init_app(app: Flask) -> None:
    for name in page_modules():
        importlib.import_module(f"{__name__}.{name}").init_app(app)
    app.jinja_env.globals["nav_screens"] = nav_screens
