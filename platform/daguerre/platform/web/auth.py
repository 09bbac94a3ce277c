"""Token authentication for the JSON API.

Every ``/api/v1`` endpoint needs ``Authorization: Bearer <token>`` (tokens come from
``daguerre tokens create NAME``), except the OpenAPI document, which describes the API and holds no
data. The two image-file endpoints (thumbnail and original) also accept ``?token=<token>``, so an
``<img src>`` in the dashboard can load them: a browser cannot add a header to an image request.
That is the only place a token may sit in a URL; anything else with a query token is refused.

A request without a valid token gets ``401`` with a JSON error and a ``WWW-Authenticate`` header.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TypeVar

from flask import Flask, Response, current_app, g, request

from daguerre.platform.web.errors import error_response

F = TypeVar("F", bound=Callable[..., object])


def public(view: F) -> F:
    """Mark an API view as needing no token."""
    view.daguerre_public = True  # type: ignore[attr-defined]
    return view


def query_token_allowed(view: F) -> F:
    """Mark an API view that also accepts ``?token=`` (for ``<img src>``)."""
    view.daguerre_query_token = True  # type: ignore[attr-defined]
    return view


def bearer_token() -> str | None:
    header = request.headers.get("Authorization", "")
    scheme, _, value = header.partition(" ")
    if scheme.lower() == "bearer" and value.strip():
        return value.strip()
    return None


def _unauthorized(message: str) -> Response:
    resp = error_response(401, message)
    resp.headers["WWW-Authenticate"] = 'Bearer realm="daguerre"'
    return resp


def check_request() -> Response | None:
    """``before_request`` for the API blueprint: None to go on, or the 401 response."""
    view = current_app.view_functions.get(request.endpoint or "")
    if view is None or getattr(view, "daguerre_public", False):
        return None  # unknown endpoints fall through to the JSON 404/405
    token = bearer_token()
    if token is None and getattr(view, "daguerre_query_token", False):
        token = request.args.get("token") or None
    if token is None:
        return _unauthorized("authentication required: send Authorization: Bearer <token> "
                             "(create one with `daguerre tokens create NAME`)")
    from daguerre.platform.tokens import verify_token
    from daguerre.platform.web import get_context

    info = verify_token(get_context(), token)
    if info is None:
        return _unauthorized("invalid or revoked API token")
    g.api_token = info
    return None


def init_app(app: Flask) -> None:
    """Nothing app-wide: the API blueprint installs :func:`check_request` (see ``web.api``)."""
    app.extensions.setdefault("daguerre.auth", "bearer")
