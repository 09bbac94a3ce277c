"""Who is calling, and may they: sign-in sessions, API tokens, roles and CSRF, for every route.

Every view declares the least role it needs with :func:`requires` (``viewer``, ``curator`` or
``admin``, ranked by :func:`services.users.role_allows`), or :func:`public` for the few that need
nobody (the OpenAPI document, the sign-in and first-admin pages, static files).
:func:`check_roles_declared` runs when the app is built and refuses to start when a view declares
neither, so a new route cannot be open by omission.

:func:`check_request` runs before every request:

* the caller is the user of an ``Authorization: Bearer`` token (under ``/api`` only), else the
  user of the session cookie (Flask-Login); no credential is ever read from a URL;
* nobody: ``401`` with a JSON error under ``/api``, a redirect to the sign-in page (or, while no
  user exists, to the first-admin page) elsewhere;
* a state-changing request not authenticated by a Bearer token needs the CSRF token
  (Flask-WTF; a form field, or the ``X-CSRFToken`` header from the dashboard's script): a script
  holding a token is not a browser that another site could drive;
* a role below the view's: :class:`errors.Forbidden` (``403``).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TypeVar
from urllib.parse import urlencode

from flask import Flask, Response, abort, current_app, g, redirect, request, url_for
from flask_login import LoginManager, UserMixin, current_user
from flask_wtf.csrf import CSRFProtect

from daguerre.platform.errors import Forbidden
from daguerre.platform.services import users
from daguerre.platform.web.errors import error_response

F = TypeVar("F", bound=Callable[..., object])
ROLE_ATTR = "daguerre_role"
PUBLIC = "public"
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})

csrf = CSRFProtect()
login_manager = LoginManager()


def requires(role: str) -> Callable[[F], F]:
    """Declare the least role a view needs (``viewer``, ``curator`` or ``admin``)."""
    users.check_role(role)

    def mark(view: F) -> F:
        setattr(view, ROLE_ATTR, role)
        return view

    return mark


def public(view: F) -> F:
    """Declare a view that needs no signed-in user."""
    setattr(view, ROLE_ATTR, PUBLIC)
    return view


def role_of(view: Callable[..., object]) -> str | None:
    """The role ``view`` declared (or ``public``); None when it declared none."""
    return getattr(view, ROLE_ATTR, None)


def check_roles_declared(app: Flask) -> None:
    """Refuse to start when a view declares no role (see :func:`requires`)."""
    missing = sorted(endpoint for endpoint, view in app.view_functions.items()
                     if role_of(view) is None)
    if missing:
        raise RuntimeError("views without a declared role (use web.auth.requires or public): "
                           + ", ".join(missing))


@dataclass(frozen=True)
class Identity:
    """The caller of this request."""

    user_id: int
    name: str
    role: str
    via: str  # "token" or "session"


class SessionUser(UserMixin):
    """Flask-Login's user: its id holds the password stamp, so changing the password (or
    removing the user) ends the sessions made before."""

    def __init__(self, info: users.UserInfo) -> None:
        self.info = info

    def get_id(self) -> str:
        return f"{self.info.id}:{self.info.stamp}"


@login_manager.user_loader
def _load_user(session_id: str) -> SessionUser | None:
    from daguerre.platform.web import get_context

    user_id, _, stamp = session_id.partition(":")
    if not user_id.isascii() or not user_id.isdigit():
        return None
    info = users.get_user(get_context(), int(user_id))
    return SessionUser(info) if info is not None and info.stamp == stamp else None


def bearer_token() -> str | None:
    header = request.headers.get("Authorization", "")
    scheme, _, value = header.partition(" ")
    if scheme.lower() == "bearer" and value.strip():
        return value.strip()
    return None


def is_api() -> bool:
    return request.path.startswith("/api/")


def _unauthorized() -> Response:
    if not is_api():
        from daguerre.platform.web import get_context

        target = "session.setup" if users.count_users(get_context()) == 0 else "session.signin"
        query = "?" + urlencode({"next": request.full_path.rstrip("?")}) \
            if request.method == "GET" and target == "session.signin" else ""
        return redirect(url_for(target) + query)
    resp = error_response(401, "authentication required: sign in, or send Authorization: "
                          "Bearer <token> (`daguerre tokens create NAME --user USER`)")
    resp.headers["WWW-Authenticate"] = 'Bearer realm="daguerre"'
    return resp


def identity() -> Identity | None:
    """The caller of the current request (after :func:`check_request`), or None."""
    return g.get("identity")


def caller_may(role: str) -> bool:
    """Whether the caller holds ``role`` or a higher one: what a page asks before it shows a
    control (the server checks each request all the same, in :func:`check_request`)."""
    who = identity()
    return who is not None and users.role_allows(who.role, role)


def _identify() -> Identity | Response | None:
    token = bearer_token() if is_api() else None
    if token is not None:
        from daguerre.platform.tokens import verify_token
        from daguerre.platform.web import get_context

        info = verify_token(get_context(), token)
        if info is None:
            resp = error_response(401, "invalid or revoked API token (a token of a removed "
                                  "user, or one made before users existed, must be re-created)")
            resp.headers["WWW-Authenticate"] = 'Bearer realm="daguerre"'
            return resp
        return Identity(info.user_id, info.user, info.role, "token")  # type: ignore[arg-type]
    if current_user.is_authenticated:
        info = current_user.info
        return Identity(info.id, info.name, info.role, "session")
    return None


def check_request() -> Response | None:
    """``before_request`` for the whole app: None to go on, or the refusal."""
    view = current_app.view_functions.get(request.endpoint or "")
    if view is None:
        return None  # unknown endpoints fall through to the 404/405 handlers
    # A view added after the start-up check without a role is taken as admin-only, never open.
    needed = role_of(view) or "admin"
    who = _identify()
    if isinstance(who, Response):
        return who
    if needed != PUBLIC and who is None:
        return _unauthorized()
    if request.method not in SAFE_METHODS and (who is None or who.via == "session"):
        csrf.protect()  # raises CSRFError (400) without a valid token
    g.identity = who
    if needed != PUBLIC and not users.role_allows(who.role, needed):
        message = f"this needs the {needed} role; {who.name!r} is a {who.role}"
        if not is_api():
            abort(403, message)
        raise Forbidden(message)
    return None


def init_app(app: Flask) -> None:
    # The CSRF check runs in check_request, after the caller is known: a Bearer call needs none,
    # and a call with no credential at all gets its 401 rather than a CSRF error.
    app.config.setdefault("WTF_CSRF_CHECK_DEFAULT", False)
    # Valid as long as the session: a dashboard left open for hours still works.
    app.config.setdefault("WTF_CSRF_TIME_LIMIT", None)
    csrf.init_app(app)
    login_manager.init_app(app)
    login_manager.session_protection = "basic"
    public(app.view_functions["static"])
    app.before_request(check_request)
