"""The indexing pipeline: reader -> decode workers -> batched encoder -> results.

Decoding runs on a pool of worker threads while the model runs on its own thread, so on a
machine where both share the cores neither waits for the other. Threads, not processes: Pillow
releases the GIL while it decodes, resizes and encodes, and hashlib while it hashes, so two
decode threads decode as fast as two processes (benchmarks/index_throughput.py) and cost no
start-up, no re-import of the caller's main module and no copy of the pixels between processes:
measured on two cores, 1 MP indexing went from 47 to 54 images/s and 12 MP from 21 to 29 with
ONNX Runtime int8. ``processes=True`` keeps the process pool for a decoder that would hold the
GIL. At most ``prefetch`` decodes are in flight, which bounds memory however far decoding runs
ahead of the model. Results come back in completion order: the caller writes them (catalog,
thumbnails, vector store) as they arrive.
"""

from __future__ import annotations

import multiprocessing
import os
from collections import deque
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import Executor, Future, ProcessPoolExecutor, ThreadPoolExecutor
from dataclasses import dataclass, replace

import numpy as np

from daguerre.indexer.decode import Decoded, DecodeError, DecodeOptions, decode_file


@dataclass(frozen=True)
class Embedded:
    """A file decoded and embedded. ``decoded.pixels`` is dropped to free memory."""

    decoded: Decoded
    embedding: np.ndarray  # float32 (dim,), L2-normalised

    @property
    def path(self) -> str:
        return self.decoded.path


@dataclass(frozen=True)
class Failed:
    path: str
    reason: str


def _decode_or_reason(path: str, options: DecodeOptions) -> Decoded | Failed:
    try:
        return decode_file(path, options)
    except DecodeError as exc:
        return Failed(path, str(exc))
    except Exception as exc:  # noqa: BLE001 - one bad file must never abort a batch
        return Failed(path, f"unexpected error: {type(exc).__name__}: {exc}")


def _worker_init() -> None:
    # Decoders are single-threaded by design; keep any BLAS/OpenMP users in them the same.
    os.environ.setdefault("OMP_NUM_THREADS", "1")


def _warm() -> None:
    """Import what decoding needs, so the first real decode does not pay for it."""
    import imagehash  # noqa: F401

    import daguerre.indexer.decode  # noqa: F401


def default_workers() -> int:
    """One decoder per core. On a CPU-only machine they share the cores with the model; fewer
    decoders starve it on large JPEGs (measured: benchmarks/index_throughput.py)."""
    return max(1, len(os.sched_getaffinity(0)))


class DecodePool:
    """A pool of decoders that lives for one indexing run (or longer, if reused): threads, or
    with ``processes=True`` worker processes."""

    def __init__(self, workers: int = 0, *, processes: bool = False) -> None:
        self.workers = workers or default_workers()
        self.processes = processes
        self._executor: Executor
        if processes:
            # spawn, not fork: the parent holds torch's thread pools, which do not survive fork.
            self._executor = ProcessPoolExecutor(
                self.workers, mp_context=multiprocessing.get_context("spawn"),
                initializer=_worker_init)
        else:
            self._executor = ThreadPoolExecutor(self.workers, thread_name_prefix="daguerre-decode")
        # Start every worker now: they boot while the caller loads the model and scans.
        for _ in range(self.workers):
            self._executor.submit(_warm)

    def map(self, paths: Iterable[str], options: DecodeOptions,
            prefetch: int) -> Iterator[Decoded | Failed]:
        """Decode ``paths`` with at most ``prefetch`` in flight; yields in completion order."""
        pending: deque[Future] = deque()
        it = iter(paths)
        exhausted = False
        while True:
            while not exhausted and len(pending) < prefetch:
                try:
                    path = next(it)
                except StopIteration:
                    exhausted = True
                    break
                pending.append(self._executor.submit(_decode_or_reason, path, options))
            if not pending:
                return
            # The oldest first keeps order roughly stable without head-of-line stalls mattering:
            # decodes of similar files finish in about the order they started.
            yield pending.popleft().result()

    def close(self) -> None:
        self._executor.shutdown(wait=True, cancel_futures=True)

    def __enter__(self) -> DecodePool:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def embed_files(
    paths: Iterable[str],
    encode: Callable[[list[np.ndarray]], np.ndarray],
    options: DecodeOptions,
    *,
    batch_size: int = 32,
    pool: DecodePool | None = None,
    workers: int = 0,
    processes: bool = False,
    streams: int = 1,
) -> Iterator[Embedded | Failed]:
    """Decode ``paths`` in parallel and embed them in batches with ``encode`` (model pixels ->
    float32 embeddings). Yields one :class:`Embedded` or :class:`Failed` per path.

    The model runs on its own thread (torch releases the GIL), one batch ahead: while it encodes
    batch N+1, this thread gathers decoded files and the caller stores batch N's results, so
    the model is not kept waiting by bookkeeping.
    """
    own_pool = pool is None
    pool = pool or DecodePool(workers, processes=processes)
    batch: list[Decoded] = []
    running: deque[tuple[Future, list[Decoded]]] = deque()

    def finish(job: tuple[Future, list[Decoded]]) -> Iterator[Embedded]:
        future, decoded = job
        vectors = future.result()
        for d, v in zip(decoded, vectors, strict=True):
            yield Embedded(replace(d, pixels=None), v)

    def submit(decoded: list[Decoded]) -> Iterator[Embedded]:
        running.append((model.submit(encode, [d.pixels for d in decoded]), decoded))
        # One batch more than the model runs at once waits its turn; the oldest is stored.
        while len(running) > streams:
            yield from finish(running.popleft())

    model = ThreadPoolExecutor(streams, thread_name_prefix="daguerre-encode")
    try:
        # Enough in flight to keep every worker busy through a whole model batch.
        prefetch = max((1 + streams) * batch_size, 4 * pool.workers)
        for item in pool.map(paths, options, prefetch):
            if isinstance(item, Failed):
                yield item
                continue
            batch.append(item)
            if len(batch) >= batch_size:
                yield from submit(batch)
                batch = []
        if batch:
            yield from submit(batch)
        while running:
            yield from finish(running.popleft())
    finally:
        model.shutdown(wait=True, cancel_futures=True)
        if own_pool:
            pool.close()
