"""One store interface, two backends, and which one a model's vectors use.

:class:`VectorBackend` is the interface every service codes against: the public methods of the
FAISS :class:`~daguerre.indexer.store.VectorStore`, which
:class:`~daguerre.platform.vectors.pgvector.PgVectorStore` implements with the same semantics
(one test suite, tests/platform/test_vector_backends.py, runs against both).
:class:`SqlVectorBackend` adds what only a store inside the catalog database can do: search
with a SQL filter in the same statement, and writes in the caller's transaction.

The backend is chosen per embedding model from the ``vector_store`` setting:

* ``faiss``: files under ``<home>/vectors/<model key>``;
* ``pgvector``: the catalog's PostgreSQL (an error that says what is missing when it cannot);
* ``auto`` (default): pgvector when the catalog is PostgreSQL with pgvector >= 0.8 installed,
  unless the model has vectors in FAISS files (a deployment from before pgvector: its searches
  must not suddenly find nothing, nor a half-finished migration); FAISS otherwise.
  ``daguerre vectors migrate`` sets the setting explicitly when it has moved them.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from contextlib import AbstractContextManager
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol, runtime_checkable

import numpy as np

if TYPE_CHECKING:
    from sqlalchemy.engine import Connection
    from sqlalchemy.orm import Session
    from sqlalchemy.sql import Select

    from daguerre.platform.catalog.db import Catalog
    from daguerre.platform.config import Settings

BACKENDS: tuple[str, ...] = ("faiss", "pgvector")


@runtime_checkable
class VectorBackend(Protocol):
    """The vectors of one embedding model, keyed by catalog image id, searched by cosine
    similarity. Semantics (both backends):

    * ``upsert`` L2-normalises, replaces held ids, the last of repeated ids wins;
      ``remove`` ignores unknown ids and returns how many went.
    * ``search`` returns ``(scores (q, k'), ids (q, k'))``, best first, ties by ascending id,
      never padded; ``allowed_ids`` restricts and still fills the page; ``offset`` pages over
      that one stable order.
    * ``get`` returns float32 raw vectors (stored as float16) and raises KeyError for a
      missing id; ``ids`` is ascending int64.
    * ``edit`` is an exclusive read-modify-write: changes in the block are kept on clean exit,
      dropped on an exception. ``save`` makes pending changes durable; ``reload`` picks up other
      processes' changes (True if anything changed).
    * ``rebuild(None)`` chooses the index by size; a named type is kept until the next rebuild.
    """

    model_key: str
    dim: int

    def reload(self) -> bool: ...
    def __len__(self) -> int: ...
    def __contains__(self, image_id: object) -> bool: ...
    def ids(self) -> np.ndarray: ...
    def get(self, ids: Sequence[int] | np.ndarray) -> np.ndarray: ...
    def upsert(self, ids: Sequence[int] | np.ndarray, vectors: np.ndarray) -> None: ...
    def remove(self, ids: Sequence[int] | np.ndarray) -> int: ...
    def search(self, queries: np.ndarray, k: int, *, allowed_ids: np.ndarray | None = None,
               offset: int = 0) -> tuple[np.ndarray, np.ndarray]: ...
    def stats(self) -> dict[str, Any]: ...
    def save(self) -> None: ...
    def edit(self) -> AbstractContextManager[Any]: ...
    def rebuild(self, index_type: str | None = None) -> None: ...
    @property
    def index_type(self) -> str: ...
    def nbytes(self) -> int: ...


@runtime_checkable
class SqlVectorBackend(VectorBackend, Protocol):
    """A backend in the catalog database (pgvector): filters as SQL, writes in the caller's
    transaction (a SQLAlchemy ``Connection`` or ``Session``; the caller commits)."""

    def search(self, queries: np.ndarray, k: int, *, allowed_ids: np.ndarray | None = None,
               offset: int = 0, allowed_sql: Select | None = None,
               connection: Connection | Session | None = None
               ) -> tuple[np.ndarray, np.ndarray]: ...
    def upsert(self, ids: Sequence[int] | np.ndarray, vectors: np.ndarray, *,
               connection: Connection | Session | None = None) -> None: ...
    def remove(self, ids: Sequence[int] | np.ndarray, *,
               connection: Connection | Session | None = None) -> int: ...
    def edit(self, connection: Connection | Session | None = None
             ) -> AbstractContextManager[Any]: ...
    def held(self, ids: Sequence[int] | np.ndarray,
             connection: Connection | Session | None = None) -> np.ndarray: ...


def backend_of(store: Any) -> str:
    """``"pgvector"`` or ``"faiss"``."""
    return str(getattr(store, "backend", "faiss"))


def held_ids(store: Any, ids: Sequence[int] | np.ndarray) -> np.ndarray:
    """Which of ``ids`` the store holds, ascending and unique, in one call on either backend
    (``i in store`` for each id is one query each on pgvector)."""
    arr = np.unique(np.asarray(ids, dtype=np.int64))
    if hasattr(store, "held"):
        return store.held(arr)
    return arr[np.isin(arr, store.ids(), assume_unique=True)]


# ------------------------------------------------------------------------------------ choice


@dataclass(frozen=True)
class Choice:
    """The backend a model's vectors use, and why (for ``daguerre vectors status``)."""

    backend: str
    reason: str


def faiss_dir(settings: Settings, model_key: str) -> Path:
    return settings.vectors_dir / model_key


def faiss_count(directory: Path) -> int:
    """Vectors in the FAISS store in ``directory`` (0 when there is none), read from its
    metadata without loading it."""
    from daguerre.indexer.store import POINTER_NAME, StoreError

    try:
        pointer = json.loads((directory / POINTER_NAME).read_text(encoding="utf-8"))
        meta = json.loads((directory / pointer["name"] / "meta.json").read_text("utf-8"))
        return int(meta["count"])
    except FileNotFoundError:
        return 0
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise StoreError(f"cannot read the vector store {directory}: {exc!r}") from exc


def choose(settings: Settings, catalog: Catalog, model_key: str | None = None) -> Choice:
    """Which backend ``model_key`` uses under the ``vector_store`` setting (module docstring).
    An explicit ``pgvector`` that cannot be used raises StoreError naming what is missing."""
    from daguerre.indexer.store import StoreError
    from daguerre.platform.vectors.pgvector import availability

    wanted = settings.vector_store
    if wanted == "faiss":
        return Choice("faiss", "vector_store = faiss")
    version, why = availability(catalog.engine)
    if wanted == "pgvector":
        if version is None:
            raise StoreError(f"vector_store is pgvector, but {why}")
        return Choice("pgvector", f"vector_store = pgvector (pgvector {version})")
    if version is None:
        return Choice("faiss", f"auto: {why}")
    if model_key is not None and faiss_count(faiss_dir(settings, model_key)) > 0:
        return Choice("faiss", "auto: this model's vectors are in FAISS files; "
                               "`daguerre vectors migrate --to pgvector` moves them")
    return Choice("pgvector", f"auto: the catalog is PostgreSQL with pgvector {version}")


def _params(settings: Settings) -> Any:
    from daguerre.platform.vectors.pgvector import HnswParams

    return HnswParams.from_settings(settings)


def open_store(settings: Settings, catalog: Catalog, model_key: str, dim: int
               ) -> VectorBackend:
    """The store of ``model_key`` (created empty on first use) in the chosen backend."""
    if choose(settings, catalog, model_key).backend == "pgvector":
        from daguerre.platform.vectors.pgvector import PgVectorStore

        return PgVectorStore.open(catalog.engine, dim=dim, model_key=model_key,
                                  params=_params(settings))
    from daguerre.indexer.store import VectorStore

    return VectorStore.open(faiss_dir(settings, model_key), dim=dim, model_key=model_key)


def existing_store(settings: Settings, catalog: Catalog, model_key: str
                   ) -> VectorBackend | None:
    """The store of ``model_key`` in the chosen backend, opened without loading the model
    (its dimension is on record), or None when it has none there yet."""
    if choose(settings, catalog, model_key).backend == "pgvector":
        from daguerre.platform.vectors.pgvector import PgVectorStore

        return PgVectorStore.open_existing(catalog.engine, model_key, _params(settings))
    from daguerre.indexer.store import VectorStore

    return VectorStore.open_existing(faiss_dir(settings, model_key))


def faiss_stores(settings: Settings) -> list[VectorBackend]:
    """Every FAISS store under the data directory (each one's metadata names its model)."""
    from daguerre.indexer.store import VectorStore

    folder = settings.vectors_dir
    stores: list[VectorBackend] = []
    for directory in sorted(folder.iterdir()) if folder.is_dir() else ():
        store = VectorStore.open_existing(directory)
        if store is not None:
            stores.append(store)
    return stores


def pgvector_stores(settings: Settings, catalog: Catalog) -> list[VectorBackend]:
    """Every model's pgvector store (none when the catalog cannot hold vectors)."""
    from daguerre.platform.vectors.pgvector import PgVectorStore

    stores: list[VectorBackend] = []
    for key in PgVectorStore.model_keys(catalog.engine):
        store = PgVectorStore.open_existing(catalog.engine, key, _params(settings))
        if store is not None:
            stores.append(store)
    return stores


def all_stores(settings: Settings, catalog: Catalog) -> list[VectorBackend]:
    """Every store of every model in both backends: what removing a library's vectors must
    reach (a copy left in the backend not in use would come back with a migration)."""
    return faiss_stores(settings) + pgvector_stores(settings, catalog)
