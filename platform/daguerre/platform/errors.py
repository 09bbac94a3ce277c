"""The platform's error model: a handful of exception classes, each mapped once per edge.

A service raises one of these; it never decides how the error is shown. Each edge translates by
class, in one table of its own:

* the CLI (:data:`daguerre.platform.cli.errors.EXIT_STATUS`): a one-line message and an exit
  status;
* the API (:data:`daguerre.platform.web.errors.HTTP_STATUS`): a status and a JSON body
  ``{"error": message, "field": ..., "value": ...}``;
* a job (:func:`daguerre.platform.jobs.runner.job_outcome`): the failed job's ``error``, or the
  ``canceled`` status for :class:`Canceled`.

Nothing is recognised by the text of a class name or a message: an edge that needs the field
reads ``exc.field``, never a regular expression over ``str(exc)``.
"""

from __future__ import annotations

from typing import Any

_UNSET: Any = object()


class DaguerreError(Exception):
    """An error whose message is the whole story for a person (no traceback is shown).

    ``field`` names the input to blame (a parameter, an option, ``params.steps``), ``value`` the
    value it had, when one input is at fault."""

    def __init__(self, message: str = "", *, field: str | None = None,
                 value: Any = _UNSET) -> None:
        super().__init__(message)
        self.field = field
        self.value = value

    @property
    def has_value(self) -> bool:
        return self.value is not _UNSET

    def with_field(self, field: str | None, message: str | None = None) -> DaguerreError:
        """The same error (same class) naming another field; for an edge that knows the
        input by another name (``--guidance`` for ``params.guidance_scale``)."""
        out = type(self).__new__(type(self))
        DaguerreError.__init__(out, message if message is not None else str(self), field=field,
                               value=self.value)
        out.__dict__.update({k: v for k, v in self.__dict__.items()
                             if k not in ("field", "value")})
        return out


class BadInput(DaguerreError):
    """The request itself is wrong: a value of the wrong type, out of range, malformed, or
    naming something that may not be used (a path outside every library)."""


class NotFound(DaguerreError):
    """A named thing (library, image, job, tag, mask) does not exist."""


class Conflict(DaguerreError):
    """The request is well formed but conflicts with the current state: a name already taken,
    a job that is not in a state to retry, a library being indexed by another run."""


class Forbidden(DaguerreError):
    """The caller may not do this (a role without the right, a token without the scope)."""


class Unavailable(DaguerreError):
    """The server cannot do this now, though the request was fine: model weights missing, the
    job system not installed, a store that cannot be opened."""


class Canceled(DaguerreError):
    """Work stopped because someone asked it to (a job's cancel flag, a worker shutting down).
    The one cancel exception of the platform: the generator's own is translated to it."""


