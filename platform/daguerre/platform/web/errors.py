"""JSON errors for everything under ``/api``: no HTML error page, no traceback ever leaves.

Every error body is ``{"error": message}``, plus ``"field"`` when one input was at fault. The
mapping: :class:`ApiError` carries its own status; ``NotFound`` → 404; ``UserError`` and a decode
failure → 400; a missing model or an unusable store → 503 (the server is misconfigured, the
request was fine); any other exception → 500 with a generic message (the details go to the log).
"""

from __future__ import annotations

import logging

from flask import Flask, Response, jsonify, request
from werkzeug.exceptions import HTTPException

from daguerre.platform.errors import NotFound, UserError

log = logging.getLogger(__name__)


class ApiError(UserError):
    """An error answered with ``status`` and a message naming ``field``."""

    def __init__(self, message: str, *, field: str | None = None, status: int = 400) -> None:
        super().__init__(message, field=field)
        self.status = status


def error_response(status: int, message: str, field: str | None = None) -> Response:
    body: dict[str, str] = {"error": message}
    if field:
        body["field"] = field
    resp = jsonify(body)
    resp.status_code = status
    return resp


def _is_api() -> bool:
    return request.path.startswith("/api/")


def _unavailable_errors() -> tuple[type[BaseException], ...]:
    """Errors that mean the server cannot do this now (missing weights, broken store)."""
    found: list[type[BaseException]] = []
    try:
        from daguerre.indexer.models import ModelError

        found.append(ModelError)
    except ImportError:
        pass
    try:
        from daguerre.indexer.store import StoreError

        found.append(StoreError)
    except ImportError:
        pass
    from daguerre.platform.config import ConfigError

    found.append(ConfigError)
    return tuple(found)


def init_app(app: Flask) -> None:
    @app.errorhandler(ApiError)
    def _api_error(exc: ApiError) -> Response:
        return error_response(exc.status, str(exc), exc.field)

    @app.errorhandler(NotFound)
    def _not_found(exc: NotFound) -> Response:
        return error_response(404, str(exc), getattr(exc, "field", None))

    @app.errorhandler(UserError)
    def _user_error(exc: UserError) -> Response:
        return error_response(400, str(exc), getattr(exc, "field", None))

    @app.errorhandler(HTTPException)
    def _http_error(exc: HTTPException) -> Response | HTTPException:
        if not _is_api():
            return exc  # the dashboard keeps Werkzeug's pages
        status = exc.code or 500
        messages = {
            404: f"no such endpoint: {request.method} {request.path}",
            405: f"method {request.method} is not allowed on {request.path}",
            413: (f"request body too large: the limit is {app.config['MAX_CONTENT_LENGTH']} bytes"
                  if app.config.get("MAX_CONTENT_LENGTH") else "request body too large"),
        }
        resp = error_response(status, messages.get(status) or exc.description or exc.name)
        if status == 405 and exc.valid_methods:  # type: ignore[attr-defined]
            resp.headers["Allow"] = ", ".join(exc.valid_methods)  # type: ignore[attr-defined]
        return resp

    @app.errorhandler(Exception)
    def _unexpected(exc: Exception) -> Response:
        from daguerre.indexer.decode import DecodeError

        if isinstance(exc, DecodeError):
            return error_response(400, f"image: {exc}", "image")
        if isinstance(exc, _unavailable_errors()):
            log.warning("service unavailable: %s", exc)
            return error_response(503, f"service unavailable: {exc}")
        log.exception("unhandled error on %s %s", request.method, request.path)
        return error_response(500, "internal server error (see the server log)")
