"""Errors whose message tells a user what to fix (the CLI prints them, the API returns 400/404)."""


class UserError(Exception):
    """Bad input from a person: the message names what was wrong."""


class NotFound(UserError):
    """A named thing (library, image, job) does not exist."""
