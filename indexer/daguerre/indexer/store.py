"""The vector store: a FAISS index keyed by catalog image id, plus the raw float16 embeddings.

Why it looks the way it does:

* **Ids are catalog image ids.** Updates and deletions are by id, so the catalog and the store never
  need a mapping table between them.
* **Raw embeddings are kept as float16** (sorted by id) next to the index, so the index can be
  rebuilt or retyped without re-encoding a single image, and so approximate results can be
  re-ranked exactly ("refined") from them.
* **The index type follows the collection size**, as autofaiss does: ``Flat`` (exact) while small,
  then ``IVF{nlist},SQ8`` (inverted lists of 8-bit scalar-quantised codes) re-ranked from the raw
  vectors. ``nprobe`` is not assumed: each (re)build measures recall@10 against exact search on a
  sample of held vectors and picks the smallest ``nprobe`` that reaches :attr:`VectorStore.TARGET_RECALL`,
  and does the same through filters that allow a share of the ids (:attr:`VectorStore.FILTER_TUNE_SHARES`):
  the 10 best of a tenth of the ids lie as far out as the 100 best of all of them, in lists the
  unfiltered ``nprobe`` does not reach.
* **Writes are generations.** Each :meth:`VectorStore.save` writes a complete new generation into a
  temporary folder, fsyncs it, renames it into place and then atomically replaces the ``CURRENT``
  pointer file, so a crash at any moment leaves the previous generation readable. Older generations
  and temporary leftovers are removed afterwards, under the store's lock.
* **Several processes may write one store** through :meth:`VectorStore.edit`, which holds an
  exclusive ``fcntl`` lock on a lock file in the directory, reloads the newest generation, and saves
  on clean exit.

Layout of a store directory::

    CURRENT              {"generation": 7, "name": "gen-00000007"}
    .lock                lock file for writers
    gen-00000007/        meta.json, ids.npy (int64, sorted), embeddings.npy (float16), index.faiss

This module imports only numpy at import time; faiss is imported on first use, so that command-line
start-up and the web process stay fast.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import math
import os
import re
import shutil
import uuid
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import numpy as np

FORMAT_VERSION = 1
POINTER_NAME = "CURRENT"
LOCK_NAME = ".lock"
GEN_PREFIX = "gen-"
TMP_PREFIX = ".tmp-"
_FILES = ("ids.npy", "embeddings.npy", "index.faiss")
_IVF_RE = re.compile(r"^IVF(\d+)(_HNSW\d+)?,(Flat|SQ8|SQ6|SQ4|SQfp16)$")


class StoreError(Exception):
    """A store that cannot be opened, read or written; the message says what and where."""


def _faiss() -> Any:
    """Import faiss on first use (it is heavy, and most processes never search)."""
    import faiss

    return faiss


# --------------------------------------------------------------------------- numpy-only helpers


def normalize_rows(vectors: np.ndarray) -> np.ndarray:
    """Return float32 rows scaled to unit L2 norm (zero rows stay zero), so inner product = cosine."""
    x = np.asarray(vectors, dtype=np.float32)
    norms = np.linalg.norm(x, axis=1, keepdims=True)
    np.maximum(norms, np.float32(1e-12), out=norms)
    return x / norms


def as_ids(ids: Sequence[int] | np.ndarray | int) -> np.ndarray:
    """Validate ids as a 1-D int64 array; FAISS reserves -1, so ids must be non-negative."""
    arr = np.asarray(ids)
    if arr.ndim == 0:
        arr = arr.reshape(1)
    if arr.ndim != 1:
        raise ValueError(f"ids must be one-dimensional, got shape {arr.shape}")
    if arr.size and not np.issubdtype(arr.dtype, np.integer):
        raise ValueError(f"ids must be integers, got dtype {arr.dtype}")
    arr = arr.astype(np.int64, copy=False)
    if arr.size and arr.min() < 0:
        raise ValueError(f"ids must be non-negative, got {int(arr.min())}")
    return arr


def nlist_for(n: int) -> int:
    """Number of IVF lists for ``n`` vectors: about 4*sqrt(n) (autofaiss' rule), a power of two,
    capped so k-means sees at least 39 training points per list (FAISS' own minimum)."""
    if n < 39:
        return 1
    target = 2 ** round(math.log2(4 * math.sqrt(n)))
    cap = 2 ** int(math.floor(math.log2(n / 39)))
    return int(max(1, min(target, cap, 65536)))


def choose_index_type(n: int, flat_max: int, current: str | None = None) -> str:
    """Index type for ``n`` vectors: exact while small, IVF+SQ8 beyond ``flat_max``.

    Hysteresis (an IVF store only falls back to Flat below half the threshold) keeps a store that
    hovers around the boundary from rebuilding on every write.
    """
    if current is not None and current != "Flat" and n >= flat_max // 2:
        return f"IVF{nlist_for(n)},SQ8"
    if n < flat_max:
        return "Flat"
    return f"IVF{nlist_for(n)},SQ8"


def rank_stable(scores: np.ndarray, ids: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Sort each row best first, ties broken by ascending id, ``-1`` padding last.

    A stable total order is what makes ``offset`` paging reproducible: page 2 never repeats or
    skips an item of page 1, even among exact duplicates (identical vectors tie exactly).
    """
    s = np.where(ids < 0, -np.inf, scores).astype(np.float64)
    rows = np.repeat(np.arange(ids.shape[0]), ids.shape[1]).reshape(ids.shape)
    tie_id = np.where(ids < 0, np.iinfo(np.int64).max, ids)
    order = np.lexsort((tie_id.ravel(), -s.ravel(), rows.ravel())).reshape(ids.shape)
    order -= (np.arange(ids.shape[0]) * ids.shape[1])[:, None]
    return (
        np.take_along_axis(scores, order, axis=1).astype(np.float32),
        np.take_along_axis(ids, order, axis=1),
    )


def exact_top(
    queries: np.ndarray, vectors16: np.ndarray, ids: np.ndarray, k: int, chunk: int = 65536
) -> tuple[np.ndarray, np.ndarray]:
    """Exact top-``k`` inner products of float32 queries over float16 rows, in bounded memory.

    Rows are converted to float32 a chunk at a time, so a million-vector scan never needs the
    2 GB float32 copy. Returns (scores, ids) padded with ``-1`` ids, not yet stably ranked.
    """
    q = queries.shape[0]
    k = min(k, len(ids))
    best_s = np.full((q, k), -np.inf, dtype=np.float32)
    best_i = np.full((q, k), -1, dtype=np.int64)
    for start in range(0, len(ids), chunk):
        block = vectors16[start : start + chunk].astype(np.float32)
        sims = queries @ block.T
        cand_s = np.concatenate([best_s, sims], axis=1)
        block_ids = np.broadcast_to(ids[start : start + chunk], sims.shape)
        cand_i = np.concatenate([best_i, block_ids], axis=1)
        if cand_s.shape[1] > k:
            part = np.argpartition(-cand_s, k - 1, axis=1)[:, :k]
            best_s = np.take_along_axis(cand_s, part, axis=1)
            best_i = np.take_along_axis(cand_i, part, axis=1)
        else:
            best_s, best_i = cand_s, cand_i
    return best_s, best_i


# --------------------------------------------------------------------------- raw embeddings


class _Embeddings:
    """Growable float16 rows with their ids, looked up through a sorted id array.

    Rows are append-only in memory (updates overwrite in place, removals leave holes that are
    compacted once they are a quarter of the rows), so an upsert of a small batch costs a copy of
    the id arrays, never of the gigabyte of vectors.
    """

    def __init__(self, dim: int, ids: np.ndarray | None = None, vecs: np.ndarray | None = None):
        self.dim = dim
        if ids is None or vecs is None:
            ids = np.empty(0, np.int64)
            vecs = np.empty((0, dim), np.float16)
        self._vecs = vecs
        self._n = len(ids)
        self._holes = 0
        self.sorted_ids = ids  # live ids, ascending
        self.sorted_rows = np.arange(len(ids), dtype=np.int64)

    def __len__(self) -> int:
        return len(self.sorted_ids)

    def find(self, ids: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Rows of ``ids`` and a mask of which ids are held (rows of missing ids are garbage)."""
        pos = np.searchsorted(self.sorted_ids, ids)
        pos_c = np.minimum(pos, max(len(self.sorted_ids) - 1, 0))
        found = self.sorted_ids[pos_c] == ids if len(self.sorted_ids) else np.zeros(len(ids), bool)
        rows = self.sorted_rows[pos_c] if len(self.sorted_ids) else np.zeros(len(ids), np.int64)
        return rows, found

    def rows(self, rows: np.ndarray) -> np.ndarray:
        return self._vecs[rows]

    def _grow(self, extra: int) -> None:
        need = self._n + extra
        if need <= len(self._vecs):
            return
        cap = max(need, int(len(self._vecs) * 1.5) + 1024)
        grown = np.empty((cap, self.dim), np.float16)
        grown[: self._n] = self._vecs[: self._n]
        self._vecs = grown

    def upsert(self, ids: np.ndarray, vecs16: np.ndarray) -> None:
        """Insert or overwrite; ``ids`` must be unique."""
        rows, found = self.find(ids)
        self._vecs[rows[found]] = vecs16[found]
        new = ~found
        if not new.any():
            return
        new_ids = ids[new]
        order = np.argsort(new_ids)
        new_ids = new_ids[order]
        self._grow(len(new_ids))
        new_rows = np.arange(self._n, self._n + len(new_ids), dtype=np.int64)
        self._vecs[new_rows] = vecs16[new][order]
        self._n += len(new_ids)
        at = np.searchsorted(self.sorted_ids, new_ids)
        self.sorted_ids = np.insert(self.sorted_ids, at, new_ids)
        self.sorted_rows = np.insert(self.sorted_rows, at, new_rows)

    def remove(self, ids: np.ndarray) -> np.ndarray:
        """Remove held ids; return the ids actually removed."""
        _, found = self.find(ids)
        gone = np.unique(ids[found])
        if not len(gone):
            return gone
        keep = ~np.isin(self.sorted_ids, gone, assume_unique=True)
        self.sorted_ids = self.sorted_ids[keep]
        self.sorted_rows = self.sorted_rows[keep]
        self._holes += len(gone)
        if self._holes > max(1024, self._n // 4):
            self.compact()
        return gone

    def compact(self) -> None:
        """Rewrite rows in id order without holes (what is saved to disk)."""
        self._vecs = self._vecs[self.sorted_rows]
        self._n = len(self._vecs)
        self._holes = 0
        self.sorted_rows = np.arange(self._n, dtype=np.int64)

    def sorted_vectors(self) -> np.ndarray:
        """All live vectors in ascending-id order, as a view (compacting first if needed)."""
        if not (self._holes == 0 and self._n == len(self.sorted_rows) and self._is_identity()):
            self.compact()
        return self._vecs[: self._n]

    def _is_identity(self) -> bool:
        r = self.sorted_rows
        return len(r) == 0 or (r[0] == 0 and r[-1] == len(r) - 1 and bool(np.all(np.diff(r) == 1)))


# --------------------------------------------------------------------------- file helpers


def _fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _fsync_file(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _write_npy(path: Path, array: np.ndarray) -> None:
    with open(path, "wb") as f:
        np.save(f, np.ascontiguousarray(array), allow_pickle=False)
        f.flush()
        os.fsync(f.fileno())


def _write_json(path: Path, obj: dict) -> None:
    with open(path, "w", encoding="utf-8") as f:
        json.dump(obj, f, indent=1, sort_keys=True)
        f.flush()
        os.fsync(f.fileno())


def _read_pointer(directory: Path) -> dict | None:
    """The current generation, or None for a directory that holds no store yet."""
    path = directory / POINTER_NAME
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return None
    except OSError as exc:
        raise StoreError(f"cannot read store pointer {path}: {exc}") from exc
    try:
        pointer = json.loads(text)
        int(pointer["generation"])
        str(pointer["name"])
    except (ValueError, KeyError, TypeError) as exc:
        raise StoreError(f"store pointer {path} is corrupt ({exc!r}): {text[:80]!r}") from exc
    return pointer


class _Generation:
    """One generation's files read from disk and checked against its own meta.json."""

    def __init__(self, path: Path):
        self.path = path
        self.meta = self._read_meta()
        self._check_sizes()
        self.ids = self._load_npy("ids.npy", np.int64, 1)
        self.vecs = self._load_npy("embeddings.npy", np.float16, 2)
        self._check_shapes()

    def _read_meta(self) -> dict:
        meta_path = self.path / "meta.json"
        if not self.path.is_dir():
            raise FileNotFoundError(self.path)
        try:
            meta = json.loads(meta_path.read_text(encoding="utf-8"))
            for key in ("model_key", "dim", "count", "index_type", "files"):
                meta[key]  # noqa: B018 - presence check
        except FileNotFoundError as exc:
            raise StoreError(f"store generation {self.path} has no meta.json") from exc
        except (ValueError, KeyError, TypeError) as exc:
            raise StoreError(f"store metadata {meta_path} is corrupt: {exc!r}") from exc
        if meta.get("format") != FORMAT_VERSION:
            raise StoreError(
                f"store {self.path} has format {meta.get('format')!r}; "
                f"this version reads format {FORMAT_VERSION}"
            )
        return meta

    def _check_sizes(self) -> None:
        for name in _FILES:
            path = self.path / name
            expected = self.meta["files"].get(name)
            try:
                size = path.stat().st_size
            except FileNotFoundError as exc:
                raise StoreError(f"store file {path} is missing") from exc
            if size != expected:
                raise StoreError(
                    f"store file {path} is truncated or corrupt: {size} bytes, "
                    f"meta.json recorded {expected}"
                )

    def _load_npy(self, name: str, dtype: type, ndim: int) -> np.ndarray:
        path = self.path / name
        try:
            arr = np.load(path, allow_pickle=False)
        except (ValueError, OSError, EOFError) as exc:
            raise StoreError(f"store file {path} is unreadable: {exc}") from exc
        if arr.dtype != dtype or arr.ndim != ndim:
            raise StoreError(
                f"store file {path} holds {arr.dtype} with {arr.ndim} dims; "
                f"expected {np.dtype(dtype)} with {ndim}"
            )
        return arr

    def _check_shapes(self) -> None:
        count, dim = int(self.meta["count"]), int(self.meta["dim"])
        if len(self.ids) != count or self.vecs.shape != (count, dim):
            raise StoreError(
                f"store {self.path} is inconsistent: meta.json says {count} vectors of dim {dim}, "
                f"ids.npy holds {len(self.ids)}, embeddings.npy has shape {self.vecs.shape}"
            )
        if count > 1 and not bool(np.all(np.diff(self.ids) > 0)):
            raise StoreError(f"store file {self.path / 'ids.npy'} is not strictly ascending")

    def read_index(self) -> Any:
        faiss = _faiss()
        path = self.path / "index.faiss"
        try:
            index = faiss.read_index(str(path))
        except RuntimeError as exc:
            first = str(exc).strip().splitlines()[-1] if str(exc).strip() else repr(exc)
            raise StoreError(f"store index {path} is unreadable: {first}") from exc
        if index.ntotal != len(self.ids) or index.d != int(self.meta["dim"]):
            raise StoreError(
                f"store index {path} holds {index.ntotal} vectors of dim {index.d}; "
                f"embeddings hold {len(self.ids)} of dim {self.meta['dim']}"
            )
        return index


# --------------------------------------------------------------------------- the store


class VectorStore:
    """Vectors of one embedding model, searchable by cosine similarity, keyed by image id.

    Not thread-safe: use one instance per thread, or a lock. Across processes, write through
    :meth:`edit`.
    """

    #: Below this many vectors the index is exact (Flat). At 512 dims a flat scan costs about
    #: 0.15-0.2 us per vector on a 2-core machine, so 20k vectors stay near 3-4 ms a query, within
    #: the 5 ms that the approximate tier keeps at a million.
    FLAT_MAX: int = 20_000
    #: Rebuild an IVF index once the store has grown (or shrunk) this many times past the size
    #: its lists were trained on: the centroids stop describing the data and the lists unbalance.
    DRIFT_FACTOR: float = 4.0
    #: Training points per IVF list (FAISS warns below 39).
    TRAIN_PER_LIST: int = 50
    #: Recall@10 against exact search that the automatic ``nprobe`` must reach on held vectors.
    TARGET_RECALL: float = 0.97
    #: Queries used to measure recall when tuning ``nprobe``.
    TUNE_QUERIES: int = 200
    #: Candidates fetched from an approximate index per wanted result, re-ranked exactly.
    REFINE_FACTOR: int = 4
    #: A filter allowing at most this many ids is always answered by an exact scan of those raw
    #: vectors (about 1 ms for 4096 at 512 dims); larger allowed sets use the IVF index with a
    #: selector when that scans fewer vectors (see ``_filtered_nprobe``).
    FILTER_EXACT_MAX: int = 4096
    #: Shares of the ids a filter may allow for which ``nprobe`` is tuned too, on random subsets
    #: (only where such a filter would use the index rather than an exact scan). A search through
    #: a filter uses the ``nprobe`` tuned at the nearest share at or below its own. Without it a
    #: 10 % filter found 0.85 of its true top 10 and a 5 % filter 0.74 (100k vectors,
    #: benchmarks/vector_backends.py).
    FILTER_TUNE_SHARES: tuple[float, ...] = (0.5, 0.2, 0.1, 0.05, 0.02, 0.01)
    #: How many IVF codes cost as much to scan as one allowed raw vector scanned exactly
    #: (measured at a million 512-d vectors: ~0.1 us a code against ~1 us a gathered fp16 row).
    SCAN_COST_RATIO: float = 8.0
    #: Extra results fetched past ``k + offset`` so ties at the page boundary are ordered by id.
    TIE_MARGIN: int = 8

    def __init__(self, directory: Path, dim: int, model_key: str):
        """Use :meth:`open`."""
        self.directory = directory
        self.dim = dim
        self.model_key = model_key
        self._raw = _Embeddings(dim)
        self._index: Any = None
        self._index_type = "Flat"
        self._auto = True
        self._trained_on = 0
        self._nprobe = 1
        self._measured_recall: float | None = None
        self._filtered_nprobe_at: dict[float, int] = {}  # share allowed -> tuned nprobe
        self._generation = 0
        self._dirty = False
        self._lock_fd: int | None = None
        self._lock_depth = 0

    # ------------------------------------------------------------------ opening and loading

    @classmethod
    def open(cls, directory: str | os.PathLike, *, dim: int, model_key: str) -> VectorStore:
        """Open the store in ``directory``, creating an empty one if it holds none.

        A store made by another model or with another dimension is refused, so vectors of two
        models can never be mixed.
        """
        if int(dim) <= 0:
            raise ValueError(f"dim must be positive, got {dim}")
        path = Path(directory)
        try:
            path.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise StoreError(f"cannot create store directory {path}: {exc}") from exc
        store = cls(path, int(dim), str(model_key))
        if _read_pointer(path) is None:
            with store._locked():
                if _read_pointer(path) is None:
                    store._index = store._new_flat()
                    store._save_locked()
        store._load_latest(force=True)
        store._clean_leftovers_if_free()
        return store

    @classmethod
    def open_existing(cls, directory: str | os.PathLike) -> VectorStore | None:
        """Open the store in ``directory`` with the model and dimension its own metadata
        records, or None when the directory holds no store. For callers that must reach every
        model's store without loading any model (removing a library's vectors from all of
        them)."""
        path = Path(directory)
        pointer = _read_pointer(path) if path.is_dir() else None
        if pointer is None:
            return None
        meta_path = path / str(pointer["name"]) / "meta.json"
        try:
            meta = json.loads(meta_path.read_text(encoding="utf-8"))
            dim, model_key = int(meta["dim"]), str(meta["model_key"])
        except (OSError, ValueError, KeyError, TypeError) as exc:
            raise StoreError(f"store metadata {meta_path} is unreadable: {exc!r}") from exc
        return cls.open(path, dim=dim, model_key=model_key)

    def _load_latest(self, force: bool) -> bool:
        """Load the generation named by CURRENT; retried if a writer replaces it mid-read."""
        for _attempt in range(20):
            pointer = _read_pointer(self.directory)
            if pointer is None:
                raise StoreError(f"store {self.directory} has no {POINTER_NAME} pointer file")
            if not force and int(pointer["generation"]) == self._generation:
                return False
            try:
                gen = _Generation(self.directory / pointer["name"])
                self._check_identity(gen.meta)
                index = gen.read_index()
            except (FileNotFoundError, StoreError) as exc:
                again = _read_pointer(self.directory)
                if again is not None and again["generation"] != pointer["generation"]:
                    continue  # a writer replaced it while we read: read the new one
                if isinstance(exc, StoreError):
                    raise
                raise StoreError(
                    f"store {self.directory}: {POINTER_NAME} names {pointer['name']}, "
                    f"which is missing"
                ) from None
            self._adopt(gen, index, int(pointer["generation"]))
            return True
        raise StoreError(f"store {self.directory} kept changing while being read")

    def _check_identity(self, meta: dict) -> None:
        if meta["model_key"] != self.model_key or int(meta["dim"]) != self.dim:
            raise StoreError(
                f"store {self.directory} holds vectors of model {meta['model_key']!r} "
                f"(dim {meta['dim']}), not of model {self.model_key!r} (dim {self.dim}); "
                f"a different model needs its own store directory"
            )

    def _adopt(self, gen: _Generation, index: Any, generation: int) -> None:
        meta = gen.meta
        self._raw = _Embeddings(self.dim, gen.ids, gen.vecs)
        self._index = index
        self._index_type = str(meta["index_type"])
        self._auto = bool(meta.get("auto", True))
        self._trained_on = int(meta.get("trained_on", 0))
        self._nprobe = int(meta.get("nprobe", 1))
        self._measured_recall = meta.get("measured_recall")
        # Stores saved before filters were tuned have none: their filters use ``nprobe``.
        self._filtered_nprobe_at = {float(k): int(v)
                                    for k, v in (meta.get("filtered_nprobe") or {}).items()}
        self._generation = generation
        self._dirty = False

    def reload(self) -> bool:
        """Re-read the store if another process saved a newer generation; True if it changed.

        Unsaved changes in this instance are dropped when a newer generation is read.
        """
        return self._load_latest(force=False)

    # ------------------------------------------------------------------ basic queries

    def __len__(self) -> int:
        return len(self._raw)

    def __contains__(self, image_id: object) -> bool:
        try:
            key = np.int64(image_id)  # type: ignore[call-overload]
        except (TypeError, ValueError, OverflowError):
            return False
        _, found = self._raw.find(np.array([key], np.int64))
        return bool(found[0])

    def ids(self) -> np.ndarray:
        """All held ids, int64, ascending (a copy)."""
        return self._raw.sorted_ids.copy()

    def get(self, ids: Sequence[int] | np.ndarray) -> np.ndarray:
        """Raw embeddings of ``ids`` as float32 ``(n, dim)``; KeyError names the first missing id."""
        arr = as_ids(ids)
        rows, found = self._raw.find(arr)
        if not found.all():
            missing = int(arr[~found][0])
            raise KeyError(f"image id {missing} is not in the store {self.directory}")
        return self._raw.rows(rows).astype(np.float32)

    @property
    def index_type(self) -> str:
        """The FAISS index type in use, as an index-factory string (``Flat``, ``IVF1024,SQ8``)."""
        return self._index_type

    @property
    def nprobe(self) -> int:
        """IVF lists scanned per query (1 for Flat); chosen by measured recall at each build."""
        return self._nprobe

    @nprobe.setter
    def nprobe(self, value: int) -> None:
        self._nprobe = max(1, int(value))
        self._dirty = True

    def stats(self) -> dict[str, Any]:
        """What the store holds and how it searches, for ``models info`` and the benchmarks."""
        return {
            "directory": str(self.directory),
            "model_key": self.model_key,
            "dim": self.dim,
            "count": len(self),
            "index_type": self._index_type,
            "automatic": self._auto,
            "nprobe": self._nprobe,
            "filtered_nprobe": {str(k): v for k, v in sorted(self._filtered_nprobe_at.items())},
            "trained_on": self._trained_on,
            "measured_recall_at_10": self._measured_recall,
            "generation": self._generation,
            "bytes_in_memory": self.nbytes(),
        }

    def nbytes(self) -> int:
        """Bytes this store holds in memory, counted from its arrays and FAISS structures."""
        raw = self._raw._vecs.nbytes + self._raw.sorted_ids.nbytes + self._raw.sorted_rows.nbytes
        index = self._index
        if index is None:
            return raw
        if self._index_type == "Flat":  # float32 rows, id map and its reverse hash map (~32 B)
            return raw + index.ntotal * (self.dim * 4 + 8 + 32)
        ivf = _faiss().extract_index_ivf(index)
        lists = index.ntotal * (ivf.code_size + 8)
        return raw + lists + ivf.nlist * self.dim * 4

    # ------------------------------------------------------------------ writes

    def _check_vectors(self, vectors: np.ndarray, n: int) -> np.ndarray:
        x = np.asarray(vectors, dtype=np.float32)
        if x.ndim == 1:
            x = x.reshape(1, -1)
        if x.ndim != 2 or x.shape[1] != self.dim:
            got = x.shape[-1] if x.ndim >= 1 else 0
            raise StoreError(
                f"vector dimension mismatch: store {self.directory} holds dim {self.dim}, "
                f"got vectors of dim {got} (shape {x.shape})"
            )
        if x.shape[0] != n:
            raise ValueError(f"{n} ids but {x.shape[0]} vectors")
        if not np.isfinite(x).all():
            raise ValueError("vectors contain NaN or infinity")
        return normalize_rows(x)

    def upsert(self, ids: Sequence[int] | np.ndarray, vectors: np.ndarray) -> None:
        """Add vectors under ``ids``, replacing any already held (the last of repeated ids wins).

        Vectors are L2-normalised again here: a caller's slip would otherwise silently turn
        cosine scores into unbounded inner products.
        """
        arr = as_ids(ids)
        x = self._check_vectors(vectors, len(arr))
        if not len(arr):
            return
        if len(np.unique(arr)) != len(arr):
            _, rev_idx = np.unique(arr[::-1], return_index=True)
            keep = len(arr) - 1 - rev_idx
            arr, x = arr[keep], x[keep]
        _, existed = self._raw.find(arr)
        self._raw.upsert(arr, x.astype(np.float16))
        self._dirty = True
        if self._retier_if_needed():
            return
        if existed.any():
            self._index_remove(arr[existed])
        self._index_add(arr, x)

    def remove(self, ids: Sequence[int] | np.ndarray) -> int:
        """Remove ``ids``; unknown ids are ignored. Returns how many were removed."""
        arr = as_ids(ids)
        gone = self._raw.remove(arr)
        if not len(gone):
            return 0
        self._dirty = True
        if not self._retier_if_needed():
            self._index_remove(gone)
        return len(gone)

    def _index_add(self, ids: np.ndarray, x: np.ndarray) -> None:
        self._index.add_with_ids(np.ascontiguousarray(x, np.float32), ids)

    def _index_remove(self, ids: np.ndarray) -> None:
        faiss = _faiss()
        self._index.remove_ids(faiss.IDSelectorBatch(len(ids), faiss.swig_ptr(ids)))

    def _retier_if_needed(self) -> bool:
        """Rebuild when an automatic store crosses a size tier or its IVF has drifted."""
        if not self._auto:
            return False
        n = len(self)
        target = choose_index_type(n, self.FLAT_MAX, self._index_type)
        drifted = self._index_type != "Flat" and (
            n > self.DRIFT_FACTOR * self._trained_on or n * self.DRIFT_FACTOR < self._trained_on
        )
        if (target == "Flat") == (self._index_type == "Flat") and not drifted:
            return False
        self._build(target)
        return True

    # ------------------------------------------------------------------ building

    def rebuild(self, index_type: str | None = None) -> None:
        """Rebuild the index from the raw embeddings (no re-encoding).

        ``None`` chooses the type by size and keeps choosing as the store grows; an explicit type
        (``"Flat"``, ``"IVF4096,SQ8"``, ``"IVF1024,Flat"``, ``"IVF4096_HNSW32,SQ8"``) is kept until
        the next rebuild.
        """
        if index_type is None:
            self._auto = True
            index_type = choose_index_type(len(self), self.FLAT_MAX)
        else:
            self._validate_type(index_type)
            self._auto = False
        self._build(index_type)
        self._dirty = True

    def _validate_type(self, index_type: str) -> None:
        if index_type == "Flat":
            return
        m = _IVF_RE.match(index_type)
        if not m:
            raise StoreError(
                f"unsupported index type {index_type!r}: use 'Flat' or "
                f"'IVF<nlist>[_HNSW<M>],<Flat|SQ8|SQ6|SQ4|SQfp16>' (ids must be removable)"
            )
        nlist = int(m.group(1))
        if len(self) < nlist:
            raise StoreError(
                f"index type {index_type!r} needs at least {nlist} vectors to train; "
                f"store {self.directory} holds {len(self)}"
            )

    def _new_flat(self) -> Any:
        faiss = _faiss()
        return faiss.IndexIDMap2(faiss.IndexFlatIP(self.dim))

    def _build(self, index_type: str) -> None:
        vecs = self._raw.sorted_vectors()
        ids = self._raw.sorted_ids
        index = self._new_flat() if index_type == "Flat" else self._train_ivf(index_type, vecs)
        for start in range(0, len(ids), 65536):
            chunk = vecs[start : start + 65536].astype(np.float32)
            index.add_with_ids(chunk, ids[start : start + 65536])
        self._index = index
        self._index_type = index_type
        self._trained_on = len(ids)
        self._nprobe = 1
        self._measured_recall = None
        self._filtered_nprobe_at = {}
        self._dirty = True
        if index_type != "Flat":
            self._tune_nprobe()
            self._tune_filtered_nprobe()

    def _train_ivf(self, index_type: str, vecs: np.ndarray) -> Any:
        faiss = _faiss()
        index = faiss.index_factory(self.dim, index_type, faiss.METRIC_INNER_PRODUCT)
        ivf = faiss.extract_index_ivf(index)
        ivf.cp.niter = 10  # the default 25 buys little recall here for 2.5x the training time
        ivf.cp.seed = 1234
        n_train = min(len(vecs), self.TRAIN_PER_LIST * ivf.nlist)
        rng = np.random.default_rng(len(vecs))
        rows = np.sort(rng.choice(len(vecs), n_train, replace=False))
        index.train(vecs[rows].astype(np.float32))
        return index

    def _tune_nprobe(self) -> None:
        """Pick the smallest nprobe whose measured recall@10 (with refine) reaches TARGET_RECALL.

        Queries are held vectors; their own id is dropped from both result lists, so each is
        measured like an unseen query from the same distribution.
        """
        n = len(self)
        ivf = _faiss().extract_index_ivf(self._index)
        rng = np.random.default_rng(7)
        rows = rng.choice(n, min(self.TUNE_QUERIES, n), replace=False)
        qids = self._raw.sorted_ids[rows]
        queries = self._raw.rows(self._raw.sorted_rows[rows]).astype(np.float32)
        queries = normalize_rows(queries)
        k = min(10, n - 1)
        if k <= 0:
            return
        truth = self._exact(queries, None, k + 1)[1]
        truth = _drop_self(truth, qids, k)
        nprobe = 1
        recall = 0.0
        while True:
            found = self._ivf_search(queries, k + 1, None, nprobe)[1]
            recall = _recall(_drop_self(found, qids, k), truth)
            if recall >= self.TARGET_RECALL or nprobe >= ivf.nlist:
                break
            nprobe = min(ivf.nlist, nprobe * 2)
        self._nprobe = nprobe
        self._measured_recall = round(float(recall), 4)

    def _tune_filtered_nprobe(self) -> None:
        """For each share of :attr:`FILTER_TUNE_SHARES` that would search the index, the smallest
        nprobe (from the unfiltered one up, doubling) whose recall@10 through a random subset of
        that share reaches TARGET_RECALL, measured like :meth:`_tune_nprobe`."""
        n = len(self)
        ivf = _faiss().extract_index_ivf(self._index)
        rng = np.random.default_rng(11)
        rows = rng.choice(n, min(self.TUNE_QUERIES, n), replace=False)
        qids = self._raw.sorted_ids[rows]
        queries = normalize_rows(self._raw.rows(self._raw.sorted_rows[rows]).astype(np.float32))
        k = min(10, n - 1)
        tuned: dict[float, int] = {}
        nprobe = self._nprobe
        for share in sorted(self.FILTER_TUNE_SHARES, reverse=True):
            size = int(n * share)
            if size <= max(self.FILTER_EXACT_MAX, k + 1):
                break  # this share and narrower ones are scanned exactly
            allowed = np.sort(rng.choice(self._raw.sorted_ids, size, replace=False))
            truth = _drop_self(self._exact(queries, allowed, k + 1)[1], qids, k)
            while True:  # a narrower filter never needs fewer lists: start from the last
                found = self._ivf_search(queries, k + 1, allowed, nprobe)[1]
                if (_recall(_drop_self(found, qids, k), truth) >= self.TARGET_RECALL
                        or nprobe >= ivf.nlist):
                    break
                nprobe = min(ivf.nlist, nprobe * 2)
            tuned[share] = nprobe
        self._filtered_nprobe_at = tuned

    # ------------------------------------------------------------------ search

    def search(
        self,
        queries: np.ndarray,
        k: int,
        *,
        allowed_ids: np.ndarray | None = None,
        offset: int = 0,
    ) -> tuple[np.ndarray, np.ndarray]:
        """Best ``k`` ids by cosine similarity for each query, after skipping ``offset``.

        Returns ``(scores float32 (q, k'), ids int64 (q, k'))`` best first, ties by ascending id,
        never padded: ``k'`` is less than ``k`` only when fewer than ``k + offset`` vectors (or
        allowed ids) exist. ``allowed_ids`` restricts results to those ids and still fills the page
        whenever enough of them are held.
        """
        q = np.asarray(queries, dtype=np.float32)
        if q.ndim == 1:
            q = q.reshape(1, -1)
        if q.ndim != 2 or q.shape[1] != self.dim:
            raise StoreError(
                f"query dimension mismatch: store {self.directory} holds dim {self.dim}, "
                f"got queries of shape {q.shape}"
            )
        if k < 0 or offset < 0:
            raise ValueError(f"k and offset must be non-negative, got k={k}, offset={offset}")
        q = normalize_rows(q)
        allowed = None if allowed_ids is None else self._held_subset(allowed_ids)
        available = len(self) if allowed is None else len(allowed)
        kk = max(0, min(k, available - offset))
        if kk == 0 or len(q) == 0:
            return np.zeros((len(q), 0), np.float32), np.zeros((len(q), 0), np.int64)
        need = min(offset + kk + self.TIE_MARGIN, available)
        scores, ids = self._search_need(q, need, allowed)
        scores, ids = rank_stable(scores, ids)
        return (
            np.ascontiguousarray(scores[:, offset : offset + kk]),
            np.ascontiguousarray(ids[:, offset : offset + kk]),
        )

    def _held_subset(self, allowed_ids: np.ndarray) -> np.ndarray:
        arr = np.unique(as_ids(allowed_ids))
        _, found = self._raw.find(arr)
        return arr[found]

    def _search_need(
        self, q: np.ndarray, need: int, allowed: np.ndarray | None
    ) -> tuple[np.ndarray, np.ndarray]:
        """``need`` candidates per query (need <= available), every row complete."""
        faiss = _faiss()
        if self._index_type == "Flat":
            params = None
            if allowed is not None:
                sel = faiss.IDSelectorBatch(len(allowed), faiss.swig_ptr(allowed))
                params = faiss.SearchParameters(sel=sel)
            scores, ids = self._index.search(q, need, params=params)
            return scores, ids
        if allowed is None:
            return self._ivf_search(q, need, None, self._nprobe)
        nprobe = self._filtered_nprobe(len(allowed), need)
        if nprobe is None:
            return self._exact(q, allowed, need)
        return self._ivf_search(q, need, allowed, nprobe)

    def _filtered_nprobe(self, allowed: int, need: int) -> int | None:
        """Lists to probe so a filter still leaves enough candidates, or None to scan exactly.

        At least the ``nprobe`` tuned for such a filter (:meth:`_tuned_nprobe`), which keeps
        recall; and with a share ``f`` of ids allowed, ``nprobe`` lists hold about
        ``f * nprobe * n / nlist`` allowed vectors: probe enough for twice the candidates the
        refine step wants, which keeps the page full. When that
        scan would cost more than an exact scan of the allowed raw vectors (gathering and
        converting float16 rows costs ``SCAN_COST_RATIO`` times an 8-bit code scanned in a list),
        the exact scan is both cheaper and exact.
        """
        if allowed <= self.FILTER_EXACT_MAX:
            return None
        nlist = _faiss().extract_index_ivf(self._index).nlist
        per_list = len(self) / nlist
        fetch = max(need * self.REFINE_FACTOR, need + 16)
        share = allowed / len(self)
        nprobe = max(self._nprobe, self._tuned_nprobe(share),
                     math.ceil(2 * fetch / (share * per_list)))
        if nprobe >= nlist or nprobe * per_list >= self.SCAN_COST_RATIO * allowed:
            return None
        return nprobe

    def _tuned_nprobe(self, share: float) -> int:
        """The nprobe tuned for the nearest share at or below ``share`` (the narrowest tuned one
        for a narrower filter); the unfiltered nprobe where none was tuned."""
        tuned = self._filtered_nprobe_at
        if not tuned:
            return self._nprobe
        at_or_below = [s for s in tuned if s <= share]
        return tuned[max(at_or_below)] if at_or_below else tuned[min(tuned)]

    def _exact(
        self, q: np.ndarray, allowed: np.ndarray | None, need: int
    ) -> tuple[np.ndarray, np.ndarray]:
        """Exact search over raw vectors (all, or the allowed ids)."""
        if allowed is None:
            return exact_top(q, self._raw.sorted_vectors(), self._raw.sorted_ids, need)
        rows, _ = self._raw.find(allowed)
        return exact_top(q, self._raw.rows(rows), allowed, need)

    def _ivf_search(
        self, q: np.ndarray, need: int, allowed: np.ndarray | None, nprobe: int
    ) -> tuple[np.ndarray, np.ndarray]:
        """IVF candidates re-ranked from the raw vectors.

        A query whose probed lists hold fewer than ``need`` (allowed) vectors is searched again
        with four times the lists, up to all of them, which is exhaustive; so a filter can thin
        the lists but never empty the page.
        """
        faiss = _faiss()
        nlist = faiss.extract_index_ivf(self._index).nlist
        available = len(self) if allowed is None else len(allowed)
        fetch = min(max(need * self.REFINE_FACTOR, need + 16), available)
        sel = None
        if allowed is not None:
            sel = faiss.IDSelectorBatch(len(allowed), faiss.swig_ptr(allowed))
        cand = np.full((len(q), fetch), -1, np.int64)
        todo = np.arange(len(q))
        while len(todo):
            params = faiss.SearchParametersIVF(nprobe=min(nprobe, nlist), sel=sel)
            _, found = self._index.search(q[todo], fetch, params=params)
            cand[todo] = found
            short = (found >= 0).sum(axis=1) < need
            if nprobe >= nlist:
                if short.any():  # cannot happen for an exhaustive scan; be exact anyway
                    s, i = self._exact(q[todo[short]], allowed, need)
                    cand[todo[short]] = -1
                    cand[todo[short], :need] = i
                break
            todo = todo[short]
            nprobe *= 4
        return self._refine(q, cand, need)

    def _refine(self, q: np.ndarray, cand: np.ndarray, need: int) -> tuple[np.ndarray, np.ndarray]:
        """Exact scores of candidate ids from the float16 raw vectors; keep the best ``need``."""
        valid = cand >= 0
        rows, _ = self._raw.find(np.where(valid, cand, 0).ravel())
        scores = np.empty(cand.shape, np.float32)
        for start in range(0, len(q), 256):
            block = slice(start, start + 256)
            vecs = self._raw.rows(rows.reshape(cand.shape)[block]).astype(np.float32)
            scores[block] = np.einsum("qcd,qd->qc", vecs, q[block])
        scores[~valid] = -np.inf
        scores, ids = rank_stable(scores, np.where(valid, cand, -1))
        return scores[:, :need], ids[:, :need]

    # ------------------------------------------------------------------ persistence

    @contextlib.contextmanager
    def _locked(self) -> Iterator[None]:
        """Exclusive cross-process lock on the directory's lock file (re-entrant per instance)."""
        if self._lock_depth == 0:
            path = self.directory / LOCK_NAME
            try:
                fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
            except OSError as exc:
                raise StoreError(f"cannot open store lock file {path}: {exc}") from exc
            fcntl.flock(fd, fcntl.LOCK_EX)
            self._lock_fd = fd
        self._lock_depth += 1
        try:
            yield
        finally:
            self._lock_depth -= 1
            if self._lock_depth == 0 and self._lock_fd is not None:
                fcntl.flock(self._lock_fd, fcntl.LOCK_UN)
                os.close(self._lock_fd)
                self._lock_fd = None

    def save(self) -> None:
        """Write the store as a new generation, atomically (see the module docstring)."""
        with self._locked():
            self._save_locked()

    def _save_locked(self) -> None:
        pointer = _read_pointer(self.directory)
        generation = max(self._generation, int(pointer["generation"]) if pointer else 0) + 1
        name = f"{GEN_PREFIX}{generation:08d}"
        tmp = self.directory / f"{TMP_PREFIX}{name}-{uuid.uuid4().hex[:8]}"
        try:
            tmp.mkdir()
            self._write_generation(tmp)
            final = self.directory / name
            if final.exists():  # a leftover of a crash after the rename, never pointed to
                shutil.rmtree(final)
            os.replace(tmp, final)
            _fsync_dir(self.directory)
            pointer_tmp = self.directory / f"{TMP_PREFIX}{POINTER_NAME}-{uuid.uuid4().hex[:8]}"
            _write_json(pointer_tmp, {"generation": generation, "name": name})
            os.replace(pointer_tmp, self.directory / POINTER_NAME)
            _fsync_dir(self.directory)
        except (OSError, RuntimeError) as exc:
            shutil.rmtree(tmp, ignore_errors=True)  # a real crash leaves it for the next open
            raise StoreError(f"cannot save store {self.directory}: {exc}") from exc
        self._generation = generation
        self._dirty = False
        self._clean_leftovers(keep=name)

    def _write_generation(self, folder: Path) -> None:
        self._raw.compact()
        _write_npy(folder / "ids.npy", self._raw.sorted_ids)
        _write_npy(folder / "embeddings.npy", self._raw.sorted_vectors())
        index_path = folder / "index.faiss"
        _faiss().write_index(self._index, str(index_path))
        _fsync_file(index_path)
        meta = {
            "format": FORMAT_VERSION,
            "model_key": self.model_key,
            "dim": self.dim,
            "count": len(self),
            "index_type": self._index_type,
            "auto": self._auto,
            "trained_on": self._trained_on,
            "nprobe": self._nprobe,
            "measured_recall": self._measured_recall,
            "filtered_nprobe": {str(k): v for k, v in sorted(self._filtered_nprobe_at.items())},
            "files": {name: (folder / name).stat().st_size for name in _FILES},
        }
        _write_json(folder / "meta.json", meta)
        _fsync_dir(folder)

    def _clean_leftovers(self, keep: str) -> None:
        """Remove older generations and temporary leftovers; call only while holding the lock."""
        for entry in self.directory.iterdir():
            if entry.name == keep:
                continue
            if entry.name.startswith(TMP_PREFIX) or entry.name.startswith(GEN_PREFIX):
                if entry.is_dir():
                    shutil.rmtree(entry, ignore_errors=True)
                else:
                    with contextlib.suppress(OSError):
                        entry.unlink()

    def _clean_leftovers_if_free(self) -> None:
        """At open, clean a crashed writer's leftovers, unless another process is writing now."""
        path = self.directory / LOCK_NAME
        try:
            fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
        except OSError:
            return
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            os.close(fd)
            return
        try:
            pointer = _read_pointer(self.directory)
            if pointer is not None:
                self._clean_leftovers(keep=pointer["name"])
        finally:
            fcntl.flock(fd, fcntl.LOCK_UN)
            os.close(fd)

    @contextlib.contextmanager
    def edit(self) -> Iterator[VectorStore]:
        """Exclusive read-modify-write across processes.

        Takes the store lock, loads the newest saved generation (if another process saved one,
        unsaved changes made here outside ``edit`` are dropped), yields this store, and saves on
        clean exit (only if something changed). On an exception the changes are discarded by
        re-reading the saved state, and the exception propagates.
        """
        with self._locked():
            self._load_latest(force=False)
            try:
                yield self
            except BaseException:
                self._load_latest(force=True)
                raise
            if self._dirty:
                self._save_locked()


def _drop_self(found: np.ndarray, self_ids: np.ndarray, k: int) -> np.ndarray:
    """Each row's results without the query's own id, cut to ``k``."""
    out = np.full((found.shape[0], k), -1, np.int64)
    for r in range(found.shape[0]):
        row = found[r][found[r] != self_ids[r]]
        out[r, : min(k, len(row))] = row[:k]
    return out


def _recall(found: np.ndarray, truth: np.ndarray) -> float:
    hits = sum(len(set(f[f >= 0]) & set(t[t >= 0])) for f, t in zip(found, truth, strict=True))
    total = sum(int((t >= 0).sum()) for t in truth)
    return hits / total if total else 1.0
