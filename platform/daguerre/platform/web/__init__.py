"""The Flask application: the JSON API under ``/api/v1`` and the dashboard at ``/``.

Built by :func:`create_app` (the Flask tutorial's app factory). Settings come from
:func:`daguerre.platform.config.load_settings` (``DAGUERRE_*`` variables, the TOML file), and keys of
the ``config`` mapping override them: a key that names a setting (``home``, ``database_url`` …)
overrides that setting; an upper-case key (``TESTING`` …) goes to Flask's own ``app.config``.

Nothing heavy is imported here: the CLIP model is loaded on the first request that embeds (a text
or image search), so the web process starts in well under a second.
"""

from __future__ import annotations

import threading
from collections.abc import Mapping
from dataclasses import fields
from typing import Any

from flask import Flask, current_app

from daguerre.platform.config import Settings, load_settings
from daguerre.platform.context import Context

EXTENSION = "daguerre"
_SETTING_KEYS = frozenset(f.name for f in fields(Settings))


class AppState:
    """What the app keeps between requests: the Context and the locks that guard its
    thread-unsafe parts (the vector store and the torch model; waitress serves from threads)."""

    def __init__(self, ctx: Context) -> None:
        self.ctx = ctx
        self.search_lock = threading.Lock()


def create_app(config: Mapping[str, Any] | None = None) -> Flask:
    """Build the application. ``config`` overrides settings (lower-case keys) and Flask's config
    (upper-case keys)."""
    config = dict(config or {})
    unknown = [k for k in config if not k.isupper() and k not in _SETTING_KEYS]
    if unknown:
        from daguerre.platform.config import ConfigError

        raise ConfigError(f"create_app: unknown setting(s) {', '.join(sorted(unknown))}")
    settings = load_settings(**{k: v for k, v in config.items() if k in _SETTING_KEYS})

    app = Flask(__name__)
    app.config.update(
        # Werkzeug answers 413 for a request body over this size before the view reads it.
        MAX_CONTENT_LENGTH=settings.max_upload_bytes,
        JSON_SORT_KEYS=False,
        DAGUERRE_SETTINGS=settings,
    )
    app.config.update({k: v for k, v in config.items() if k.isupper()})
    app.json.sort_keys = False  # keep the order the serializers chose (id first)

    state = AppState(Context(settings))
    app.extensions[EXTENSION] = state

    from daguerre.platform.web import api, auth, dashboard, errors, openapi

    errors.init_app(app)
    auth.init_app(app)
    api.init_app(app)
    openapi.init_app(app)
    dashboard.init_app(app)

    return app


def state() -> AppState:
    """The running app's state (inside a request or app context)."""
    return current_app.extensions[EXTENSION]


def get_context() -> Context:
    """The running app's :class:`Context`."""
    return state().ctx
