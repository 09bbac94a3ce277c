"""The pgvector store: the vectors of one embedding model in a table of the catalog database.

Why it looks the way it does:

* **One table per model**, ``daguerre_vectors.vectors_<hash of the model key>``, with
  ``image_id integer PRIMARY KEY REFERENCES images(id) ON DELETE CASCADE`` and
  ``embedding halfvec(dim)``: two bytes a dimension, the same float16 the FAISS store keeps as its
  raw vectors, so the table *is* the raw embeddings (rebuild and migration never re-encode).
  The foreign key means a vector never outlives its catalog row. The registry
  ``daguerre_vectors.stores`` (Alembic revision 0007) maps each model key to its table,
  dimension and index parameters; the table is made here on a model's first use, because its
  dimension is part of the column type.
* **The index type follows the collection size**, as the FAISS store's does: exact (no index,
  ``Flat``) below :attr:`PgVectorStore.FLAT_MAX` vectors, then an HNSW index
  ``USING hnsw (embedding halfvec_cosine_ops) WITH (m, ef_construction)``, both from settings.
* **Search** orders by cosine distance; scores are ``1 - distance`` (the inner product of the
  normalised vectors, as FAISS computes). HNSW candidates are fetched with
  ``hnsw.ef_search`` set for the page, filtered searches with ``hnsw.iterative_scan =
  relaxed_order`` (pgvector 0.8) bounded by ``hnsw.max_scan_tuples``, and then re-ordered exactly
  by (distance, id): the same stable total order the FAISS store pages over. A scan that comes
  back short (the filter too selective for the tuples it may visit) is answered exactly instead,
  so a filtered page is always full when enough allowed vectors exist.
* **Filters** are either an id array (what the services pass to both backends) or a SQL
  selectable of allowed ids (``allowed_sql``), answered in the same statement as the vector
  order: one query, one snapshot of the catalog.
* **Transactions**: every write can run on a caller's SQLAlchemy ``Connection`` or ``Session``
  (``connection=``), so vectors and catalog rows commit together; without one, each call (or
  each :meth:`PgVectorStore.edit` block) is its own transaction. There are no files and no
  generations: :meth:`save` and :meth:`reload` exist for the shared interface.
"""

from __future__ import annotations

import contextlib
import hashlib
import re
import struct
import threading
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np
import sqlalchemy as sa
from sqlalchemy import text
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.engine import Connection, Engine
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session
from sqlalchemy.types import UserDefinedType

from daguerre.indexer.store import StoreError, as_ids, normalize_rows

if TYPE_CHECKING:
    from sqlalchemy.sql import Select

    from daguerre.platform.config import Settings

SCHEMA = "daguerre_vectors"
REGISTRY = f"{SCHEMA}.stores"
MIN_VERSION = (0, 8, 0)  # halfvec arrived in 0.7; iterative index scans in 0.8
_TABLE_RE = re.compile(r"^vectors_[0-9a-f]{16}$")
_COPY_HEADER = b"PGCOPY\n\xff\r\n\x00" + struct.pack(">ii", 0, 0)
_COPY_TRAILER = struct.pack(">h", -1)


@dataclass(frozen=True)
class HnswParams:
    """How the HNSW index is built and searched (settings ``pgvector_*``)."""

    m: int = 16
    ef_construction: int = 64
    ef_search: int = 80
    max_scan_tuples: int = 20_000
    build_memory_mb: int = 1024

    @classmethod
    def from_settings(cls, settings: Settings) -> HnswParams:
        return cls(settings.pgvector_m, settings.pgvector_ef_construction,
                   settings.pgvector_ef_search, settings.pgvector_max_scan_tuples,
                   settings.pgvector_build_memory_mb)


def table_for(model_key: str) -> str:
    """The table of ``model_key``: a fixed prefix and 16 hex digits of its SHA-256, so any key
    (a path, a name with spaces or quotes) gives a safe identifier well under 63 bytes."""
    return "vectors_" + hashlib.sha256(model_key.encode("utf-8")).hexdigest()[:16]


def _version_tuple(text_version: str) -> tuple[int, ...]:
    return tuple(int(p) for p in re.findall(r"\d+", text_version)[:3])


def availability(engine: Engine) -> tuple[str | None, str]:
    """``(pgvector version, "")`` when this catalog can hold vectors, else ``(None, why not)``
    with what to do about it."""
    if engine.dialect.name != "postgresql":
        return None, (f"the catalog is {engine.dialect.name}, not PostgreSQL: "
                      "vectors stay in FAISS")
    with engine.connect() as conn:
        installed = conn.execute(text(
            "SELECT extversion FROM pg_extension WHERE extname = 'vector'")).scalar()
        offered = conn.execute(text(
            "SELECT default_version FROM pg_available_extensions WHERE name = 'vector'")).scalar()
        registry = conn.execute(text("SELECT to_regclass(:r)"), {"r": REGISTRY}).scalar()
        database = conn.execute(text("SELECT current_database()")).scalar()
    need = ".".join(map(str, MIN_VERSION))
    if installed is None:
        if offered is None:
            return None, (f"the PostgreSQL server has no pgvector extension: install pgvector "
                          f">= {need} on it (or use an image that has it, such as "
                          "pgvector/pgvector:pg16), then run any daguerre command")
        return None, (f"the pgvector extension is not installed in database {database!r} and "
                      "this role may not create it: a superuser runs `CREATE EXTENSION vector;` "
                      "in it")
    if _version_tuple(installed) < MIN_VERSION:
        return None, (f"pgvector {installed} is too old: Daguerre needs {need} or later "
                      "(`ALTER EXTENSION vector UPDATE;` after upgrading the package)")
    if registry is None:
        return None, f"the catalog has no {REGISTRY} table: its schema predates revision 0007"
    return str(installed), ""


def pgvector_available(engine: Engine) -> bool:
    return availability(engine)[0] is not None


def _as_connection(connection: Connection | Session) -> Connection:
    return connection.connection() if isinstance(connection, Session) else connection


def _driver(conn: Connection) -> Any:
    """The psycopg connection under a SQLAlchemy one (binary COPY and binary reads)."""
    return conn.connection.driver_connection


def halfvec_literal(vector: np.ndarray) -> str:
    """A vector in pgvector's text form, ``[x1,x2,...]``."""
    return "[" + ",".join(f"{x:.7g}" for x in np.asarray(vector, np.float32).tolist()) + "]"


def _copy_rows(ids: np.ndarray, vecs16: np.ndarray) -> bytes:
    """Rows ``(integer, halfvec)`` in PostgreSQL's binary COPY format, built in one numpy pass
    (a million rows encode in about a second; text would take a minute)."""
    n, dim = vecs16.shape
    row = np.dtype([("fields", ">i2"), ("len_id", ">i4"), ("id", ">i4"), ("len_vec", ">i4"),
                    ("dim", ">u2"), ("unused", ">u2"), ("x", ">f2", (dim,))])
    out = np.empty(n, row)
    out["fields"], out["len_id"], out["id"] = 2, 4, ids
    out["len_vec"], out["dim"], out["unused"] = 4 + 2 * dim, dim, 0
    out["x"] = vecs16
    return out.tobytes()


def _parse_halfvec(raw: bytes, dim: int) -> np.ndarray:
    return np.frombuffer(raw, ">f2", count=dim, offset=4)


class HalfVec(UserDefinedType):
    """pgvector's ``halfvec(dim)`` column type, for casts in SQLAlchemy expressions."""

    cache_ok = True

    def __init__(self, dim: int):
        self.dim = int(dim)

    def get_col_spec(self, **_kw: Any) -> str:
        return f"halfvec({self.dim})"


class PgVectorStore:
    """Vectors of one embedding model in PostgreSQL, searchable by cosine similarity, keyed by
    image id; the same public methods and semantics as the FAISS
    :class:`~daguerre.indexer.store.VectorStore` (see :class:`~.backend.VectorBackend`).

    One instance may be shared by threads: the connection an :meth:`edit` block holds is
    per thread.
    """

    backend = "pgvector"
    #: Below this many vectors there is no index and every search is exact. An exact scan of
    #: 20,000 halfvec(512) rows took 31 ms on the loaded 2-core machine (timed by hand), so 10k
    #: stays near 15 ms, under the 20 ms an HNSW search is allowed; and a small store stays
    #: exact, as the FAISS one does.
    FLAT_MAX: int = 10_000
    #: A filter allowing at most this many ids, or at most EXACT_SHARE of the vectors, is
    #: answered exactly: its rows are fetched by primary key, which beats walking the graph
    #: past the many rows it refuses (a 1 % SQL filter at 100k: 84 ms walking, 9 ms exact).
    FILTER_EXACT_MAX: int = 4096
    EXACT_SHARE: float = 0.02
    #: Extra results fetched past ``k + offset`` so ties at the page boundary are ordered by id.
    TIE_MARGIN: int = 8
    #: pgvector's upper limit for ``hnsw.ef_search``.
    EF_SEARCH_MAX: int = 1000

    def __init__(self, engine: Engine, model_key: str, dim: int, table: str,
                 params: HnswParams, row: dict[str, Any]):
        """Use :meth:`open` or :meth:`open_existing`."""
        if not _TABLE_RE.match(table):
            raise StoreError(f"registry names an unexpected vector table {table!r}")
        self.engine = engine
        self.model_key = model_key
        self.dim = dim
        self.table = table
        self.qualified = f'{SCHEMA}."{table}"'
        self._t = sa.table(table, sa.column("image_id", sa.Integer),
                           sa.column("embedding", HalfVec(dim)), schema=SCHEMA)
        self.params = params
        self._local = threading.local()
        self._adopt(row)

    # ------------------------------------------------------------------ opening

    @classmethod
    def open(cls, engine: Engine, *, dim: int, model_key: str,
             params: HnswParams | None = None) -> PgVectorStore:
        """The store of ``model_key``, creating its table on first use. A model already
        registered with another dimension is refused, so two models never share a table."""
        if int(dim) <= 0:
            raise ValueError(f"dim must be positive, got {dim}")
        params = params or HnswParams()
        version, why = availability(engine)
        if version is None:
            raise StoreError(f"cannot use pgvector for model {model_key!r}: {why}")
        row = cls._registry_row(engine, model_key)
        if row is None:
            row = cls._create(engine, model_key, int(dim))
        if int(row["dim"]) != int(dim):
            raise StoreError(
                f"pgvector table {SCHEMA}.{row['table_name']} holds vectors of model "
                f"{model_key!r} with dim {row['dim']}, not {dim}; a different model needs its "
                f"own store")
        return cls(engine, model_key, int(dim), str(row["table_name"]), params, row)

    @classmethod
    def open_existing(cls, engine: Engine, model_key: str,
                      params: HnswParams | None = None) -> PgVectorStore | None:
        """The store of ``model_key`` with the dimension its registry row records, or None
        when the model has no table (or the catalog cannot hold vectors)."""
        if availability(engine)[0] is None:
            return None
        row = cls._registry_row(engine, model_key)
        if row is None:
            return None
        return cls(engine, model_key, int(row["dim"]), str(row["table_name"]),
                   params or HnswParams(), row)

    @staticmethod
    def model_keys(engine: Engine) -> list[str]:
        """Every model that has a table, in key order (empty when pgvector is unavailable)."""
        if availability(engine)[0] is None:
            return []
        with engine.connect() as conn:
            return list(conn.execute(text(
                f"SELECT model_key FROM {REGISTRY} ORDER BY model_key")).scalars())

    @staticmethod
    def _registry_row(engine: Engine | Connection, model_key: str) -> dict[str, Any] | None:
        query = text(f"SELECT model_key, table_name, dim, index_type, automatic, m, "
                     f"ef_construction FROM {REGISTRY} WHERE model_key = :k")
        if isinstance(engine, Connection):
            row = engine.execute(query, {"k": model_key}).mappings().first()
        else:
            with engine.connect() as conn:
                row = conn.execute(query, {"k": model_key}).mappings().first()
        return dict(row) if row is not None else None

    @classmethod
    def _create(cls, engine: Engine, model_key: str, dim: int) -> dict[str, Any]:
        """Create the model's table and registry row, once, however many processes race."""
        from daguerre.platform.catalog.models import Image

        table = table_for(model_key)
        with engine.begin() as conn:
            conn.execute(text("SELECT pg_advisory_xact_lock(hashtext(:s))"), {"s": REGISTRY})
            row = cls._registry_row(conn, model_key)
            if row is not None:
                return row
            conn.execute(text(
                f'CREATE TABLE IF NOT EXISTS {SCHEMA}."{table}" ('
                f"image_id integer PRIMARY KEY REFERENCES {Image.__tablename__}(id) "
                f"ON DELETE CASCADE, embedding halfvec({dim}) NOT NULL)"))
            conn.execute(text(
                f"INSERT INTO {REGISTRY} (model_key, table_name, dim, index_type, automatic) "
                f"VALUES (:k, :t, :d, 'Flat', true)"), {"k": model_key, "t": table, "d": dim})
            return cls._registry_row(conn, model_key)  # type: ignore[return-value]

    def _adopt(self, row: dict[str, Any]) -> None:
        self._index_type = str(row["index_type"])
        self._auto = bool(row["automatic"])
        self._built_m = row.get("m")
        self._built_efc = row.get("ef_construction")

    def reload(self) -> bool:
        """Re-read the registry (another process may have rebuilt the index); True if it
        changed. The vectors themselves are always read live."""
        row = self._registry_row(self.engine, self.model_key)
        if row is None:
            raise StoreError(f"the pgvector store of model {self.model_key!r} was removed")
        before = (self._index_type, self._auto, self._built_m, self._built_efc)
        self._adopt(row)
        return before != (self._index_type, self._auto, self._built_m, self._built_efc)

    # ------------------------------------------------------------------ transactions

    @contextlib.contextmanager
    def _tx(self, connection: Connection | Session | None = None) -> Iterator[Connection]:
        """The caller's connection, this thread's :meth:`edit` connection, or a new
        transaction committed when the block ends."""
        if connection is not None:
            yield _as_connection(connection)
            return
        bound = getattr(self._local, "conn", None)
        if bound is not None:
            yield bound
            return
        with self.engine.begin() as conn:
            yield conn

    @contextlib.contextmanager
    def edit(self, connection: Connection | Session | None = None) -> Iterator[PgVectorStore]:
        """One transaction for every call in the block (committed on clean exit, rolled back
        on an exception, which propagates), as the FAISS store's locked read-modify-write.
        ``connection``: run the block in the caller's transaction instead (the caller commits).
        """
        if getattr(self._local, "conn", None) is not None:
            yield self
            return
        outer = (contextlib.nullcontext(_as_connection(connection)) if connection is not None
                 else self.engine.begin())
        with outer as conn:
            self._local.conn = conn
            try:
                yield self
            finally:
                self._local.conn = None

    def save(self) -> None:
        """Nothing to do: every write is committed with its transaction."""

    # ------------------------------------------------------------------ basic queries

    def __len__(self) -> int:
        with self._tx() as conn:
            return int(conn.execute(text(f"SELECT count(*) FROM {self.qualified}")).scalar())

    def __contains__(self, image_id: object) -> bool:
        try:
            key = int(np.int64(image_id))  # type: ignore[call-overload]
        except (TypeError, ValueError, OverflowError):
            return False
        if not -(2**31) <= key < 2**31:
            return False
        with self._tx() as conn:
            return conn.execute(text(f"SELECT 1 FROM {self.qualified} WHERE image_id = :i"),
                                {"i": key}).first() is not None

    def held(self, ids: Sequence[int] | np.ndarray,
             connection: Connection | Session | None = None) -> np.ndarray:
        """Which of ``ids`` have a vector, ascending and unique: one query for many ids."""
        arr = np.unique(as_ids(ids))
        if not len(arr):
            return arr
        with self._tx(connection) as conn:
            found = conn.execute(text(
                f"SELECT image_id FROM {self.qualified} WHERE image_id = ANY(:ids) "
                f"ORDER BY image_id"), {"ids": arr.tolist()}).scalars().all()
        return np.asarray(found, dtype=np.int64)

    def ids(self) -> np.ndarray:
        """All held ids, int64, ascending."""
        with self._tx() as conn:
            found = conn.execute(text(
                f"SELECT image_id FROM {self.qualified} ORDER BY image_id")).scalars().all()
        return np.asarray(found, dtype=np.int64)

    def get(self, ids: Sequence[int] | np.ndarray,
            connection: Connection | Session | None = None) -> np.ndarray:
        """Raw embeddings of ``ids`` as float32 ``(n, dim)``; KeyError names the first missing
        id."""
        arr = as_ids(ids)
        out = np.empty((len(arr), self.dim), np.float32)
        if not len(arr):
            return out
        with self._tx(connection) as conn:
            rows = self._fetch(conn, np.unique(arr))
        where = {i: r for r, i in enumerate(rows[0].tolist())}
        for n, image_id in enumerate(arr.tolist()):
            r = where.get(image_id)
            if r is None:
                raise KeyError(f"image id {image_id} is not in the pgvector store {self.table} "
                               f"of model {self.model_key!r}")
            out[n] = rows[1][r]
        return out

    def _fetch(self, conn: Connection, ids: np.ndarray | None) -> tuple[np.ndarray, np.ndarray]:
        """(ids, float16 vectors) held among ``ids`` (None: all), ascending, read in binary."""
        sql = f"SELECT image_id, embedding FROM {self.qualified}"
        args: tuple[Any, ...] = ()
        if ids is not None:
            sql += " WHERE image_id = ANY(%s)"
            args = (ids.tolist(),)
        with _driver(conn).cursor(binary=True) as cur:
            cur.execute(sql + " ORDER BY image_id", args)
            rows = cur.fetchall()
        got = np.fromiter((r[0] for r in rows), np.int64, len(rows))
        vecs = np.empty((len(rows), self.dim), np.float16)
        for n, r in enumerate(rows):
            vecs[n] = _parse_halfvec(r[1], self.dim)
        return got, vecs

    @property
    def index_type(self) -> str:
        """``Flat`` (exact, no index) or ``HNSW``."""
        return self._index_type

    @property
    def automatic(self) -> bool:
        """Whether the index type follows the size (else fixed by :meth:`rebuild`)."""
        return self._auto

    def stats(self) -> dict[str, Any]:
        """What the store holds and how it searches, for ``vectors status`` and benchmarks."""
        with self._tx() as conn:
            version = conn.execute(text(
                "SELECT extversion FROM pg_extension WHERE extname = 'vector'")).scalar()
        return {
            "backend": self.backend,
            "table": f"{SCHEMA}.{self.table}",
            "model_key": self.model_key,
            "dim": self.dim,
            "count": len(self),
            "index_type": self._index_type,
            "automatic": self._auto,
            "m": self._built_m if self._index_type == "HNSW" else None,
            "ef_construction": self._built_efc if self._index_type == "HNSW" else None,
            "ef_search": self.params.ef_search,
            "max_scan_tuples": self.params.max_scan_tuples,
            "pgvector_version": version,
            "bytes_on_disk": self.nbytes(),
        }

    def nbytes(self) -> int:
        """Bytes of the table with its indexes, as PostgreSQL counts them on disk."""
        with self._tx() as conn:
            return int(conn.execute(text("SELECT pg_total_relation_size(:t)"),
                                    {"t": self.qualified}).scalar())

    # ------------------------------------------------------------------ writes

    def _check_vectors(self, vectors: np.ndarray, n: int) -> np.ndarray:
        x = np.asarray(vectors, dtype=np.float32)
        if x.ndim == 1:
            x = x.reshape(1, -1)
        if x.ndim != 2 or x.shape[1] != self.dim:
            got = x.shape[-1] if x.ndim >= 1 else 0
            raise StoreError(
                f"vector dimension mismatch: pgvector store {self.table} holds dim {self.dim}, "
                f"got vectors of dim {got} (shape {x.shape})")
        if x.shape[0] != n:
            raise ValueError(f"{n} ids but {x.shape[0]} vectors")
        if not np.isfinite(x).all():
            raise ValueError("vectors contain NaN or infinity")
        return normalize_rows(x)

    def upsert(self, ids: Sequence[int] | np.ndarray, vectors: np.ndarray, *,
               connection: Connection | Session | None = None) -> None:
        """Add vectors under ``ids``, replacing any already held (the last of repeated ids
        wins); vectors are L2-normalised first. An id with no catalog image is refused
        (StoreError), since the table's foreign key keeps vectors and images together."""
        arr = as_ids(ids)
        x = self._check_vectors(vectors, len(arr))
        if not len(arr):
            return
        if int(arr.max()) >= 2**31:
            raise ValueError(f"image ids must fit the catalog's integer ids, got {int(arr.max())}")
        if len(np.unique(arr)) != len(arr):
            _, rev_idx = np.unique(arr[::-1], return_index=True)
            keep = len(arr) - 1 - rev_idx
            arr, x = arr[keep], x[keep]
        stage = f"daguerre_stage_{self.dim}"
        with self._tx(connection) as conn:
            conn.execute(text(f"CREATE TEMP TABLE IF NOT EXISTS {stage} (image_id integer, "
                              f"embedding halfvec({self.dim})) ON COMMIT DELETE ROWS"))
            conn.execute(text(f"TRUNCATE {stage}"))
            with _driver(conn).cursor() as cur, cur.copy(
                    f"COPY {stage} (image_id, embedding) FROM STDIN (FORMAT BINARY)") as copy:
                copy.write(_COPY_HEADER)
                for lo in range(0, len(arr), 50_000):
                    copy.write(_copy_rows(arr[lo:lo + 50_000],
                                          x[lo:lo + 50_000].astype(np.float16)))
                copy.write(_COPY_TRAILER)
            try:
                with conn.begin_nested():
                    conn.execute(text(
                        f"INSERT INTO {self.qualified} (image_id, embedding) "
                        f"SELECT image_id, embedding FROM {stage} ON CONFLICT (image_id) "
                        f"DO UPDATE SET embedding = EXCLUDED.embedding"))
            except IntegrityError:
                from daguerre.platform.catalog.models import Image

                missing = conn.execute(text(
                    f"SELECT s.image_id FROM {stage} s LEFT JOIN {Image.__tablename__} i "
                    f"ON i.id = s.image_id WHERE i.id IS NULL ORDER BY 1 LIMIT 5")).scalars().all()
                raise StoreError(
                    f"image ids {missing} are not in the catalog: the pgvector store keeps "
                    f"vectors only for catalog images") from None
            self._retier_if_needed(conn, grew=True)

    def remove(self, ids: Sequence[int] | np.ndarray, *,
               connection: Connection | Session | None = None) -> int:
        """Remove ``ids``; unknown ids are ignored. Returns how many were removed."""
        arr = np.unique(as_ids(ids))
        arr = arr[arr < 2**31]
        if not len(arr):
            return 0
        with self._tx(connection) as conn:
            gone = conn.execute(text(f"DELETE FROM {self.qualified} WHERE image_id = ANY(:ids)"),
                                {"ids": arr.tolist()}).rowcount
            if gone:
                self._retier_if_needed(conn, grew=False)
        return int(gone)

    # ------------------------------------------------------------------ index

    def _bounded_count(self, conn: Connection, limit: int) -> int:
        """``min(len(self), limit)``, reading at most ``limit`` rows (cheap at any size)."""
        return int(conn.execute(text(
            f"SELECT count(*) FROM (SELECT 1 FROM {self.qualified} LIMIT :n) s"),
            {"n": limit}).scalar())

    def _retier_if_needed(self, conn: Connection, grew: bool) -> None:
        """An automatic store gets its HNSW index when it reaches FLAT_MAX vectors and drops it
        below half of that (hysteresis, so a store near the boundary does not rebuild on every
        write). Decided under the store's lock, on the registry's current state."""
        if not self._auto:
            return
        if grew and self._index_type == "Flat":
            if self._bounded_count(conn, self.FLAT_MAX) < self.FLAT_MAX:
                return
        elif not grew and self._index_type == "HNSW":
            if self._bounded_count(conn, self.FLAT_MAX // 2) >= self.FLAT_MAX // 2:
                return
        else:
            return
        self._lock(conn)
        row = self._registry_row(conn, self.model_key)
        if row is not None:
            self._adopt(row)
        if not self._auto:
            return
        n = self._bounded_count(conn, self.FLAT_MAX)
        target = "HNSW" if n >= self.FLAT_MAX or (
            self._index_type == "HNSW" and n >= self.FLAT_MAX // 2) else "Flat"
        if target != self._index_type:
            self._build(conn, target, automatic=True)

    def _lock(self, conn: Connection) -> None:
        conn.execute(text("SELECT pg_advisory_xact_lock(hashtext(:t))"), {"t": self.qualified})

    def rebuild(self, index_type: str | None = None, *,
                connection: Connection | Session | None = None) -> None:
        """Rebuild the index from the stored vectors (no re-encoding), with the current
        settings' ``m`` and ``ef_construction``.

        ``None`` chooses the type by size and keeps choosing as the store grows; ``"Flat"``
        (exact, no index) or ``"HNSW"`` is kept until the next rebuild. The new index is built
        before the old one is dropped, so searches keep using the old one meanwhile (writers
        wait for the build).
        """
        if index_type is not None and index_type not in ("Flat", "HNSW"):
            raise StoreError(f"unsupported pgvector index type {index_type!r}: use 'Flat' or "
                             f"'HNSW' (m and ef_construction come from the settings)")
        with self._tx(connection) as conn:
            self._lock(conn)
            automatic = index_type is None
            if index_type is None:
                n = self._bounded_count(conn, self.FLAT_MAX)
                index_type = "HNSW" if n >= self.FLAT_MAX else "Flat"
            self._build(conn, index_type, automatic=automatic)

    def _build(self, conn: Connection, index_type: str, *, automatic: bool) -> None:
        old = conn.execute(text(
            "SELECT indexname FROM pg_indexes WHERE schemaname = :s AND tablename = :t "
            "AND indexdef ILIKE '%USING hnsw%'"), {"s": SCHEMA, "t": self.table}).scalars().all()
        m = efc = None
        if index_type == "HNSW":
            m, efc = self.params.m, self.params.ef_construction
            name = f"{self.table}_hnsw_{len(old) % 2}"
            if name in old:
                name = f"{self.table}_hnsw_{(len(old) + 1) % 2}"
            conn.execute(text("SELECT set_config('maintenance_work_mem', :v, true)"),
                         {"v": f"{self.params.build_memory_mb}MB"})
            conn.execute(text(
                f'CREATE INDEX "{name}" ON {self.qualified} USING hnsw '
                f"(embedding halfvec_cosine_ops) WITH (m = {int(m)}, "
                f"ef_construction = {int(efc)})"))
        for name in old:
            conn.execute(text(f'DROP INDEX {SCHEMA}."{name}"'))
        conn.execute(text(
            f"UPDATE {REGISTRY} SET index_type = :it, automatic = :a, m = :m, "
            f"ef_construction = :efc, updated_at = now() WHERE model_key = :k"),
            {"it": index_type, "a": automatic, "m": m, "efc": efc, "k": self.model_key})
        if index_type == "HNSW":
            conn.execute(text(f"ANALYZE {self.qualified}"))
        self._adopt({"index_type": index_type, "automatic": automatic, "m": m,
                     "ef_construction": efc})

    # ------------------------------------------------------------------ search

    def search(
        self,
        queries: np.ndarray,
        k: int,
        *,
        allowed_ids: np.ndarray | Sequence[int] | None = None,
        offset: int = 0,
        allowed_sql: Select | None = None,
        connection: Connection | Session | None = None,
    ) -> tuple[np.ndarray, np.ndarray]:
        """Best ``k`` ids by cosine similarity for each query, after skipping ``offset``.

        Returns ``(scores float32 (q, k'), ids int64 (q, k'))`` best first, ties by ascending
        id, never padded: ``k'`` is less than ``k`` only when fewer than ``k + offset`` vectors
        (or allowed ids) exist. ``allowed_ids`` (an id array) and ``allowed_sql`` (a SQLAlchemy
        select of one column of allowed image ids, joined in the same statement) restrict the
        results; given both, an id must pass both. ``connection`` runs the search in the
        caller's transaction (its snapshot of the catalog).
        """
        q = np.asarray(queries, dtype=np.float32)
        if q.ndim == 1:
            q = q.reshape(1, -1)
        if q.ndim != 2 or q.shape[1] != self.dim:
            raise StoreError(
                f"query dimension mismatch: pgvector store {self.table} holds dim {self.dim}, "
                f"got queries of shape {q.shape}")
        if k < 0 or offset < 0:
            raise ValueError(f"k and offset must be non-negative, got k={k}, offset={offset}")
        q = normalize_rows(q)
        allowed = None if allowed_ids is None else np.unique(as_ids(allowed_ids))
        if allowed is not None:
            allowed = allowed[allowed < 2**31]
        empty = np.zeros((len(q), 0), np.float32), np.zeros((len(q), 0), np.int64)
        if k == 0 or len(q) == 0 or (allowed is not None and len(allowed) == 0):
            return empty
        filters = self._filters(allowed, allowed_sql)
        results = []
        with self._tx(connection) as conn:
            # psycopg prepares a statement run often; PostgreSQL would then plan it once for
            # any array of allowed ids and any filter, and that generic plan walks everything
            # (measured: 20 ms a query became 500 ms from the 11th on). Plan each one afresh.
            conn.execute(text("SELECT set_config('plan_cache_mode', 'force_custom_plan', true)"))
            small = self._index_type == "HNSW" and self._small_filter(conn, allowed, allowed_sql)
            for row in q:
                args = {"q": halfvec_literal(row)}
                if allowed is not None:
                    args["allowed"] = allowed.tolist()
                results.append(self._search_one(conn, args, k, offset, filters, small=small))
        width = min(len(r[0]) for r in results)
        return (np.asarray([r[0][:width] for r in results], np.float32).reshape(len(q), width),
                np.asarray([r[1][:width] for r in results], np.int64).reshape(len(q), width))

    def _small_filter(self, conn: Connection, allowed: np.ndarray | None,
                      allowed_sql: Select | None) -> bool:
        """Whether a filter allows few enough rows to be answered exactly (see
        FILTER_EXACT_MAX); a SQL filter's rows are counted up to that bound, no further."""
        if allowed is None and allowed_sql is None:
            return False
        held = conn.execute(text("SELECT reltuples FROM pg_class WHERE oid = to_regclass(:t)"),
                            {"t": self.qualified}).scalar() or 0
        cap = max(self.FILTER_EXACT_MAX, int(self.EXACT_SHARE * max(float(held), 0.0)))
        if allowed is not None and len(allowed) <= cap:
            return True
        if allowed_sql is None:
            return False
        bounded = sa.select(sa.func.count()).select_from(
            allowed_sql.limit(cap + 1).subquery())
        return int(conn.execute(bounded).scalar() or 0) <= cap

    def _filters(self, allowed: np.ndarray | None, allowed_sql: Select | None) -> list[Any]:
        clauses: list[Any] = []
        if allowed is not None:
            clauses.append(self._t.c.image_id == sa.any_(
                sa.bindparam("allowed", type_=ARRAY(sa.Integer))))
        if allowed_sql is not None:
            clauses.append(self._t.c.image_id.in_(allowed_sql))
        return clauses

    def _distance(self) -> Any:
        query = sa.cast(sa.bindparam("q", type_=sa.String), HalfVec(self.dim))
        return self._t.c.embedding.op("<=>", return_type=sa.Float)(query)

    def _search_one(self, conn: Connection, args: dict[str, Any], k: int, offset: int,
                    filters: list[Any], *, small: bool) -> tuple[np.ndarray, np.ndarray]:
        if self._index_type == "HNSW" and not small:
            need = offset + k + self.TIE_MARGIN
            got = self._approximate(conn, args, filters, need)
            if got is not None:
                return got[0][offset:offset + k], got[1][offset:offset + k]
        return self._exact(conn, args, filters, k, offset)

    def _exact(self, conn: Connection, args: dict[str, Any], filters: list[Any], k: int,
               offset: int) -> tuple[np.ndarray, np.ndarray]:
        """Exact page: every (allowed) vector's distance, ordered by (distance, id). The
        distances are computed in a materialised CTE with no ORDER BY, so the planner cannot
        hand the ordering to the approximate index; filters still use the primary key."""
        inner = sa.select(self._t.c.image_id, self._distance().label("d")).where(*filters)
        c = inner.cte("c").prefix_with("MATERIALIZED")
        stmt = sa.select(c.c.image_id, c.c.d).order_by(c.c.d, c.c.image_id)
        rows = conn.execute(stmt.limit(k).offset(offset), args).all()
        return self._scored(rows)

    def _approximate(self, conn: Connection, args: dict[str, Any], filters: list[Any],
                     need: int) -> tuple[np.ndarray, np.ndarray] | None:
        """HNSW candidates re-ordered exactly by (distance, id); None when the scan came back
        short of ``need`` (it may have stopped at max_scan_tuples), to be answered exactly."""
        ef = min(self.EF_SEARCH_MAX, max(self.params.ef_search, need))
        iterative = bool(filters) or need > ef
        conn.execute(text("SELECT set_config('hnsw.ef_search', :ef, true), "
                          "set_config('hnsw.iterative_scan', :it, true), "
                          "set_config('hnsw.max_scan_tuples', :mst, true)"),
                     {"ef": str(ef), "it": "relaxed_order" if iterative else "off",
                      "mst": str(self.params.max_scan_tuples)})
        distance = self._distance()
        inner = (sa.select(self._t.c.image_id, distance.label("d")).where(*filters)
                 .order_by(distance).limit(need))
        c = inner.cte("c").prefix_with("MATERIALIZED")
        rows = conn.execute(sa.select(c.c.image_id, c.c.d).order_by(c.c.d, c.c.image_id),
                            args).all()
        if len(rows) < need:
            return None
        return self._scored(rows)

    @staticmethod
    def _scored(rows: Sequence[Any]) -> tuple[np.ndarray, np.ndarray]:
        ids = np.fromiter((r[0] for r in rows), np.int64, len(rows))
        scores = np.fromiter((1.0 - r[1] for r in rows), np.float64, len(rows))
        return scores.astype(np.float32), ids
