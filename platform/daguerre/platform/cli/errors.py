"""How the command line shows an error: one line on stderr and an exit status, by class.

:data:`EXIT_STATUS` is the one table. Every error a person can act on exits 2 (click's own
status for a usage error), so scripts tell "you asked for something wrong" (2) from "it worked"
(0) and from a bug (1, with its traceback, which nothing here hides); a canceled job exits 130,
as an interrupted command does.
"""

from __future__ import annotations

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

USAGE = 2
CANCELED = 130

EXIT_STATUS: dict[type[DaguerreError], int] = {
    BadInput: USAGE,
    NotFound: USAGE,
    Conflict: USAGE,
    Forbidden: USAGE,
    Unavailable: USAGE,
    Canceled: CANCELED,
    DaguerreError: USAGE,
}


def exit_status(exc: BaseException) -> int | None:
    """The exit status for ``exc``, or None for an error that is a bug (shown with its trace)."""
    return lookup(EXIT_STATUS, exc)
