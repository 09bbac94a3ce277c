"""Errors whose message tells a user what to fix (the CLI prints them, the API returns 400/404)."""

from __future__ import annotations


class UserError(Exception):
    """Bad input from a person: the message names what was wrong; ``field`` names the input
    (a parameter or option) when one is to blame, so the API can point at it."""

    def __init__(self, message: str = "", *, field: str | None = None) -> None:
        super().__init__(message)
        self.field = field


class NotFound(UserError):
    """A named thing (library, image, job, tag) does not exist."""
