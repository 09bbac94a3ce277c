"""The Flask application: the JSON API under ``/api/v1`` and the dashboard at ``/``.

Built by :func:`create_app` (the Flask tutorial's app factory). Settings come from
:func:`daguerre.platform.config.load_settings` (``DAGUERRE_*`` variables, the TOML file), and keys of
the ``config`` mapping override them: a key that names a setting (``home``, ``database_url`` …)
overrides that setting; an upper-case key (``TESTING`` …) goes to Flask's own ``app.config``.

The factory also sets up who may do what (:mod:`.auth`: sessions, tokens, roles, CSRF), the
session cookie (HttpOnly, SameSite=Lax, Secure whenever the request came over HTTPS) signed with
:func:`secret_key`, and the security headers of :data:`SECURITY_HEADERS` on every response.

Nothing heavy is imported here: the CLIP model is loaded on the first request that embeds (a text
or image search), so the web process starts in well under a second.
"""

from __future__ import annotations

import os
import secrets
import threading
from collections.abc import Mapping
from dataclasses import fields
from typing import Any

from flask import Flask, Response, current_app, request
from flask.sessions import SecureCookieSessionInterface

from daguerre.platform.config import Settings, load_settings
from daguerre.platform.context import Context

EXTENSION = "daguerre"
_SETTING_KEYS = frozenset(f.name for f in fields(Settings))
SECRET_KEY_FILE = "secret_key"

# No inline script or style may run (an injected one included); images may also come from data:
# and blob: URLs (previews of a file being uploaded); no site may frame the dashboard.
CSP = "; ".join([
    "default-src 'self'", "img-src 'self' data: blob:", "script-src 'self'", "style-src 'self'",
    "object-src 'none'", "base-uri 'self'", "form-action 'self'", "frame-ancestors 'none'",
])
SECURITY_HEADERS = {
    "Content-Security-Policy": CSP,
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "same-origin",
    "X-Frame-Options": "DENY",
}


class SessionInterface(SecureCookieSessionInterface):
    """Flask's signed-cookie session whose cookie is Secure when this request came over HTTPS
    (directly, or through a trusted proxy's X-Forwarded-Proto): a static setting would either
    break plain-HTTP use on a laptop or leak the cookie over HTTP behind a TLS proxy."""

    def get_cookie_secure(self, app: Flask) -> bool:
        return bool(app.config["SESSION_COOKIE_SECURE"]) or request.is_secure


def secret_key(settings: Settings) -> str:
    """The ``secret_key`` setting, else the one kept in the data directory (created on first
    use, mode 0600), so sessions survive a restart and every web process signs alike."""
    if settings.secret_key:
        return settings.secret_key
    path = settings.home / SECRET_KEY_FILE
    if not path.exists():
        settings.home.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(f".{SECRET_KEY_FILE}.{os.getpid()}.{secrets.token_hex(4)}")
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as fh:
            fh.write(secrets.token_urlsafe(48))
            fh.flush()
            os.fsync(fh.fileno())
        try:
            os.link(tmp, path)  # atomic, and refuses to replace: two processes keep one key
        except FileExistsError:
            pass
        finally:
            os.unlink(tmp)
    key = path.read_text().strip()
    if not key:
        from daguerre.platform.config import ConfigError

        raise ConfigError(f"{path} is empty: delete it to make a new session key")
    return key


def _security_headers(resp: Response) -> Response:
    for name, value in SECURITY_HEADERS.items():
        resp.headers.setdefault(name, value)
    return resp


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
        SECRET_KEY=secret_key(settings),
        SESSION_COOKIE_HTTPONLY=True,
        SESSION_COOKIE_SAMESITE="Lax",
        SESSION_COOKIE_NAME="daguerre_session",
    )
    app.session_interface = SessionInterface()
    if settings.behind_proxy:
        from werkzeug.middleware.proxy_fix import ProxyFix

        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=1, x_proto=1, x_host=1)  # type: ignore[method-assign]
    app.config.update({k: v for k, v in config.items() if k.isupper()})
    app.json.sort_keys = False  # keep the order the serializers chose (id first)

    state = AppState(Context(settings))
    app.extensions[EXTENSION] = state

    from daguerre.platform.web import api, auth, errors, openapi, pages, session

    errors.init_app(app)
    auth.init_app(app)
    api.init_app(app)
    openapi.init_app(app)
    session.init_app(app)
    pages.init_app(app)
    auth.check_roles_declared(app)
    app.after_request(_security_headers)

    return app


def state() -> AppState:
    """The running app's state (inside a request or app context)."""
    return current_app.extensions[EXTENSION]


def get_context() -> Context:
    """The running app's :class:`Context`."""
    return state().ctx
