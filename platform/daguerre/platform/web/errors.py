"""JSON errors for everything under ``/api``: no HTML error page, no traceback ever leaves.

Every error body is ``{"error": message}``, plus ``"field"`` when one input was at fault,
``"value"`` when its value is worth echoing and ``"position"`` (0-based) where in that value the
fault lies, when the service knows it. The status comes from :data:`HTTP_STATUS`, one table
keyed by the error classes of :mod:`daguerre.platform.errors` (and the libraries' own errors):
nothing here looks at a message or a class name. Any other exception is a 500 with a generic
message (the details go to the log).
"""

from __future__ import annotations

import json
import logging

from flask import Flask, Response, jsonify, request
from werkzeug.exceptions import HTTPException

from daguerre.platform.error_map import lookup
from daguerre.platform.errors import (
    BadInput,
    Canceled,
    Conflict,
    DaguerreError,
    Forbidden,
    NotFound,
    Unavailable,
)

log = logging.getLogger(__name__)


class WrongContentType(BadInput):
    """The request body is not of the media type the endpoint reads (an HTTP-only case)."""


# The status of each error class (a subclass not listed takes its nearest base's).
HTTP_STATUS: dict[type[DaguerreError], int] = {
    WrongContentType: 415,
    BadInput: 400,
    NotFound: 404,
    Conflict: 409,
    Forbidden: 403,
    Unavailable: 503,
    Canceled: 409,
    DaguerreError: 400,
}


def status_of(exc: BaseException) -> int | None:
    """The HTTP status for ``exc`` from the table, or None for an unexpected error."""
    return lookup(HTTP_STATUS, exc)


def _jsonable(value: object) -> bool:
    try:
        json.dumps(value)
    except (TypeError, ValueError):
        return False
    return len(repr(value)) <= 200


def error_response(status: int, message: str, field: str | None = None,
                   value: object = None, *, with_value: bool = False,
                   position: int | None = None) -> Response:
    body: dict[str, object] = {"error": message}
    if field:
        body["field"] = field
    if with_value and _jsonable(value):
        body["value"] = value
    if position is not None:
        body["position"] = position
    resp = jsonify(body)
    resp.status_code = status
    return resp


def _is_api() -> bool:
    return request.path.startswith("/api/")


def init_app(app: Flask) -> None:
    @app.errorhandler(DaguerreError)
    def _daguerre_error(exc: DaguerreError) -> Response:
        # ``position``: where in the field's text the fault is (a search query that does not parse).
        return error_response(status_of(exc) or 400, str(exc), exc.field, exc.value,
                              with_value=exc.has_value, position=getattr(exc, "position", None))

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
        status = status_of(exc)
        if status is not None:  # a library's error (decode, model, store, settings)
            if status >= 500:
                log.warning("service unavailable: %s", exc)
                return error_response(status, f"service unavailable: {exc}")
            # The one input a library decodes is an uploaded image.
            return error_response(status, f"image: {exc}", "image")
        log.exception("unhandled error on %s %s", request.method, request.path)
        return error_response(500, "internal server error (see the server log)")
