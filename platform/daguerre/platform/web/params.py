"""Reading request parameters at the edge, with errors that name the field and its value.

Query strings and JSON bodies go through the same checks: :class:`Params` wraps either a
``MultiDict`` (query string, form) or a JSON object, so an endpoint that takes both (``GET`` and
``POST /search``) validates them once.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, date, datetime
from typing import Any

from flask import request

from daguerre.platform.constants import MAX_ID as MAX_ID
from daguerre.platform.constants import MAX_OFFSET as MAX_OFFSET
from daguerre.platform.constants import MAX_PAGE
from daguerre.platform.errors import BadInput
from daguerre.platform.web.errors import WrongContentType

MAX_LIMIT = MAX_PAGE  # the API's names for the shared limits


def json_body() -> dict[str, Any]:
    """The request's JSON object; 400 when the body is missing, not JSON or not an object."""
    if not request.is_json:
        raise WrongContentType("request body must be JSON (Content-Type: application/json)", field="body")
    data = request.get_json(silent=True)
    if not isinstance(data, dict):
        raise BadInput("request body must be a JSON object", field="body")
    return data


class Params:
    """Typed access to one request's parameters, from a query string/form or a JSON object."""

    def __init__(self, source: Mapping[str, Any], *, from_json: bool = False) -> None:
        self.source = source
        self.from_json = from_json

    @classmethod
    def from_args(cls) -> Params:
        return cls(request.args)

    def raw(self, name: str) -> Any:
        value = self.source.get(name)
        if isinstance(value, str) and not self.from_json:
            value = value.strip()
            if value == "":
                return None
        return value

    def string(self, name: str, *, required: bool = False, max_len: int = 2000) -> str | None:
        value = self.raw(name)
        if value is None:
            if required:
                raise BadInput(f"{name} is required", field=name)
            return None
        if not isinstance(value, str):
            raise BadInput(f"{name} must be a string, got {_show(value)}", field=name,
                           value=value)
        if "\x00" in value:
            raise BadInput(f"{name} must not contain NUL characters", field=name,
                           value=value)
        if len(value) > max_len:
            raise BadInput(f"{name} must be at most {max_len} characters, got {len(value)}",
                           field=name,
                           value=value)
        if required and not value.strip():
            raise BadInput(f"{name} must not be empty", field=name,
                           value=value)
        return value

    def integer(self, name: str, *, default: int | None = None, minimum: int | None = None,
                maximum: int | None = None) -> int | None:
        value = self.raw(name)
        if value is None:
            return default
        if isinstance(value, bool):
            raise BadInput(f"{name} must be an integer, got {_show(value)}", field=name,
                           value=value)
        if isinstance(value, int):
            number = value
        elif isinstance(value, str):
            try:
                number = int(value, 10)
            except ValueError:
                raise BadInput(f"{name} must be an integer, got {_show(value)}",
                               field=name,
                           value=value) from None
        else:
            raise BadInput(f"{name} must be an integer, got {_show(value)}", field=name,
                           value=value)
        if minimum is not None and number < minimum:
            raise BadInput(f"{name} must be at least {minimum}, got {number}", field=name,
                           value=value)
        if maximum is not None and number > maximum:
            raise BadInput(f"{name} must be at most {maximum}, got {number}", field=name,
                           value=value)
        return number

    def number(self, name: str, *, default: float | None = None, minimum: float | None = None,
               maximum: float | None = None) -> float | None:
        value = self.raw(name)
        if value is None:
            return default
        if isinstance(value, bool) or not isinstance(value, int | float | str):
            raise BadInput(f"{name} must be a number, got {_show(value)}", field=name,
                           value=value)
        try:
            number = float(value)
        except ValueError:
            raise BadInput(f"{name} must be a number, got {_show(value)}", field=name,
                           value=value) from None
        if number != number or number in (float("inf"), float("-inf")):
            raise BadInput(f"{name} must be a finite number, got {_show(value)}", field=name,
                           value=value)
        if minimum is not None and number < minimum:
            raise BadInput(f"{name} must be at least {minimum}, got {number}", field=name,
                           value=value)
        if maximum is not None and number > maximum:
            raise BadInput(f"{name} must be at most {maximum}, got {number}", field=name,
                           value=value)
        return number

    def choice(self, name: str, choices: tuple[str, ...] | list[str]) -> str | None:
        value = self.string(name, max_len=64)
        if value is None:
            return None
        if value not in choices:
            raise BadInput(f"{name} must be one of {', '.join(choices)}; got {_show(value)}",
                           field=name,
                           value=value)
        return value

    def date(self, name: str, *, end: bool = False) -> datetime | None:
        """An ISO date (``2024-05-01``) or date-time; a bare date at the end of a range means
        the end of that day."""
        value = self.string(name, max_len=64)
        if value is None:
            return None
        try:
            if len(value) == 10:
                d = date.fromisoformat(value)
                dt = datetime(d.year, d.month, d.day, tzinfo=UTC)
                if end:
                    dt = dt.replace(hour=23, minute=59, second=59, microsecond=999999)
                return dt
            dt = datetime.fromisoformat(value)
        except ValueError:
            raise BadInput(f"{name} must be an ISO date like 2024-05-31, got {_show(value)}",
                           field=name,
                           value=value) from None
        return dt if dt.tzinfo else dt.replace(tzinfo=UTC)

    def page(self, *, default_limit: int = 50) -> tuple[int, int]:
        limit = self.integer("limit", default=default_limit, minimum=1, maximum=MAX_LIMIT)
        offset = self.integer("offset", default=0, minimum=0, maximum=MAX_OFFSET)
        return int(limit or default_limit), int(offset or 0)

    def object(self, name: str, *, default: dict | None = None) -> dict[str, Any]:
        value = self.raw(name)
        if value is None:
            return dict(default or {})
        if not isinstance(value, dict):
            raise BadInput(f"{name} must be a JSON object, got {_show(value)}", field=name,
                           value=value)
        return value


def _show(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."
