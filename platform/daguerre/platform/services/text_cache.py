"""The text-embedding cache: a query's text terms are encoded once per model, ever.

Embeddings are kept in memory (LRU) and on disk under the data directory, keyed by model key and
text, so a repeated query never runs the text encoder again, in this process or the next.
"""

from __future__ import annotations

import contextlib
import hashlib
import threading
from collections import OrderedDict
from collections.abc import Sequence
from io import BytesIO
from pathlib import Path

import numpy as np

from daguerre.platform.context import Context
from daguerre.platform.files import atomic_write

TEXT_CACHE_ENTRIES = 4096  # in memory, per process


class TextEmbeddingCache:
    """Text embeddings by (model key, text): an in-memory LRU over files on disk.

    One ``.npy`` per text under ``<data>/cache/text-embeddings/<model key>/``, named by the SHA-256
    of the text and written atomically, so concurrent processes can share it. A damaged file
    counts as a miss and is rewritten.
    """

    def __init__(self, directory: Path, capacity: int = TEXT_CACHE_ENTRIES) -> None:
        self.directory = Path(directory)
        self.capacity = capacity
        self._memory: OrderedDict[tuple[str, str], np.ndarray] = OrderedDict()
        self._lock = threading.Lock()

    def _file(self, model_key: str, text: str) -> Path:
        digest = hashlib.sha256(text.encode("utf-8")).hexdigest()
        return self.directory / model_key / digest[:2] / f"{digest}.npy"

    def get(self, model_key: str, text: str) -> np.ndarray | None:
        key = (model_key, text)
        with self._lock:
            if key in self._memory:
                self._memory.move_to_end(key)
                return self._memory[key]
        try:
            vec = np.load(self._file(model_key, text), allow_pickle=False)
        except (OSError, ValueError):
            return None
        if vec.ndim != 1 or vec.dtype != np.float32:
            return None
        self._remember(key, vec)
        return vec

    def put(self, model_key: str, text: str, vector: np.ndarray) -> None:
        vec = np.ascontiguousarray(vector, dtype=np.float32).reshape(-1)
        self._remember((model_key, text), vec)
        buffer = BytesIO()
        np.save(buffer, vec, allow_pickle=False)
        # A read-only or full data directory, or a lost entry, only costs the next process a
        # re-encode: no fsync on the query path, and no error.
        with contextlib.suppress(OSError):
            atomic_write(self._file(model_key, text), buffer.getvalue(), fsync=False)

    def _remember(self, key: tuple[str, str], vec: np.ndarray) -> None:
        with self._lock:
            self._memory[key] = vec
            self._memory.move_to_end(key)
            while len(self._memory) > self.capacity:
                self._memory.popitem(last=False)

    def clear_memory(self) -> None:
        with self._lock:
            self._memory.clear()


_CACHES: dict[Path, TextEmbeddingCache] = {}
_CACHES_LOCK = threading.Lock()


def text_cache(ctx: Context) -> TextEmbeddingCache:
    """The process-wide cache for ``ctx``'s data directory."""
    directory = ctx.settings.home / "cache" / "text-embeddings"
    with _CACHES_LOCK:
        if directory not in _CACHES:
            _CACHES[directory] = TextEmbeddingCache(directory)
        return _CACHES[directory]


def embed_texts(ctx: Context, texts: Sequence[str]) -> np.ndarray:
    """(n, dim) text embeddings, from the cache where possible; misses are encoded in one batch."""
    encoder = ctx.encoder()
    cache = text_cache(ctx)
    found: dict[str, np.ndarray] = {}
    missing: list[str] = []
    for t in texts:
        if t in found or t in missing:
            continue
        vec = cache.get(encoder.key, t)
        if vec is not None and vec.shape == (encoder.dim,):
            found[t] = vec
        else:
            missing.append(t)
    if missing:
        for t, vec in zip(missing, encoder.encode_text(missing), strict=True):
            cache.put(encoder.key, t, vec)
            found[t] = np.asarray(vec, np.float32)
    if not texts:
        return np.zeros((0, encoder.dim), np.float32)
    return np.stack([found[t] for t in texts])
