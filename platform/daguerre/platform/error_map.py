"""Which platform error class an exception counts as, for the edges' tables.

The libraries below the platform (the indexer's decode, model and store errors) and the settings
(``ConfigError``) have errors of their own; each counts as one class of
:mod:`daguerre.platform.errors`. Kept apart from ``errors.py`` so that the catalog and the services
can import the error classes without importing the indexer or the settings.
"""

from __future__ import annotations

from typing import Any

from daguerre.platform.errors import BadInput, DaguerreError, Unavailable


def _library_errors() -> list[tuple[type[BaseException], type[DaguerreError]]]:
    """The errors of the libraries below the platform (and of the settings), with the platform
    class each one counts as. Imported lazily: ``daguerre --help`` must not import faiss."""
    from daguerre.indexer.decode import DecodeError
    from daguerre.indexer.models import ModelError
    from daguerre.platform.config import ConfigError

    found: list[tuple[type[BaseException], type[DaguerreError]]] = [
        (DecodeError, BadInput), (ModelError, Unavailable), (ConfigError, Unavailable)]
    try:
        from daguerre.indexer.store import StoreError

        found.append((StoreError, Unavailable))
    except ImportError:  # pragma: no cover - faiss missing: no store errors to map
        pass
    return found


def kind_of(exc: BaseException) -> type[DaguerreError] | None:
    """The platform error class ``exc`` counts as, or None for an error that is a bug."""
    if isinstance(exc, DaguerreError):
        return type(exc)
    for cls, kind in _library_errors():
        if isinstance(exc, cls):
            return kind
    return None


def lookup(table: dict[type[DaguerreError], Any], exc: BaseException) -> Any:
    """``table``'s entry for ``exc``'s class or its nearest base; None for a bug."""
    kind = kind_of(exc)
    if kind is None:
        return None
    for cls in kind.__mro__:
        if cls in table:
            return table[cls]
    return None
