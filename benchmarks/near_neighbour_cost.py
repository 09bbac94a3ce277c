"""What the near tier's embedding neighbours add to a duplicates run (the dashboard's duplicates
page runs one per request, and ``resolve`` one per call).

For each size, a FAISS store of embedding-like vectors (``search_latency.py``'s generator: 512-d,
nearest-neighbour cosine about 0.77) is built once, then timed as the service uses it
(``daguerre.platform.services.duplicates``): opening it from disk without the model
(``VectorStore.open_existing``, as every run does), and the neighbour search of every held image
(``_neighbour_pairs``: ``SEARCH_K`` nearest each, queries in batches), once over every vector the
store holds (no filter) and once over half of them (an id filter, as when a library is asked for
or some images are resolved duplicates); then again, as a second page load finds it, kept from
the first run while the store is unchanged. The pairs found at the near tier's cosine are counted:
each is a pixel check at most (about 4 ms of CPU) the first time, and none once its verdict is
kept. These vectors have few pairs that close; ``duplicates_quality.py --clip`` counts the
checks on real thumbnails.

Usage: python benchmarks/near_neighbour_cost.py [--sizes 2000,20000] [--repeat 3]
"""

from __future__ import annotations

import argparse
import os
import platform
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(REPO / "benchmarks"))

from search_latency import EmbeddingLike  # noqa: E402

from daguerre.indexer.duplicates import (  # noqa: E402
    NEAR_MIN_COSINE,
    NEAR_NEIGHBOURS,
    neighbour_candidates,
)
from daguerre.indexer.store import VectorStore  # noqa: E402
from daguerre.platform.services import duplicates as service  # noqa: E402
from daguerre.platform.services.duplicates import SEARCH_K, _neighbour_pairs  # noqa: E402


def best_of(repeat: int, fn):  # noqa: ANN001, ANN201
    """(the result, the fastest wall time and its CPU time) of ``repeat`` calls."""
    best = (float("inf"), 0.0)
    out = None
    for _ in range(repeat):
        w0, c0 = time.perf_counter(), time.process_time()
        out = fn()
        wall, cpu = time.perf_counter() - w0, time.process_time() - c0
        best = min(best, (wall, cpu))
    return out, best


def measure(n: int, repeat: int, folder: Path) -> list[str]:
    data = EmbeddingLike(0).draw(n, seed=1)
    t0 = time.perf_counter()
    store = VectorStore.open(folder, dim=data.shape[1], model_key="near-neighbour-cost")
    for lo in range(0, n, 10_000):
        store.upsert(np.arange(lo, min(lo + 10_000, n)), data[lo:lo + 10_000])
    store.save()
    build = time.perf_counter() - t0
    index_type = store.index_type
    del store
    opened, (open_wall, open_cpu) = best_of(repeat, lambda: VectorStore.open_existing(folder))
    rows = []
    everyone = list(range(n))
    for label, ids in (("all held", everyone), ("half (filtered)", everyone[::2])):
        def search(ids: list[int] = ids) -> list:
            service._SEARCHES.clear()  # a first run: nothing kept
            return _neighbour_pairs(opened, ids, NEAR_MIN_COSINE, lambda *a: None)[0]

        found, (wall, cpu) = best_of(repeat, search)
        again = lambda ids=ids: _neighbour_pairs(opened, ids, NEAR_MIN_COSINE,  # noqa: E731
                                                 lambda *a: None)[0]
        kept, (kept_wall, _) = best_of(repeat, again)
        assert kept == found
        pairs = len(neighbour_candidates(found, {i: str(i) for i in ids}))
        rows.append(f"| {n} | {index_type} | {label} | {len(ids)} | {build:.1f} | "
                    f"{open_wall * 1000:.0f} ({open_cpu * 1000:.0f}) | "
                    f"{wall * 1000:.0f} ({cpu * 1000:.0f}) | {wall / len(ids) * 1e6:.0f} | "
                    f"{kept_wall * 1000:.0f} | {pairs} |")
    return rows


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--sizes", default="2000,20000", help="store sizes, comma-separated")
    ap.add_argument("--repeat", type=int, default=3, help="timed runs each; the best is kept")
    args = ap.parse_args()
    sizes = [int(s) for s in args.sizes.split(",")]
    if any(s < 2 for s in sizes) or args.repeat < 1:
        raise SystemExit(f"--sizes must be at least 2 each and --repeat at least 1, got "
                         f"{args.sizes!r} and {args.repeat}")
    print(f"machine: {platform.machine()}, {os.cpu_count()} CPUs, Python "
          f"{platform.python_version()}, load average {os.getloadavg()[0]:.1f}; "
          f"k = {SEARCH_K} asked per image, near pairs: first {NEAR_NEIGHBOURS} at cosine >= "
          f"{NEAR_MIN_COSINE}; best of {args.repeat}")
    print()
    print("| vectors | index | searched | images | build s | open ms (CPU) | "
          "neighbour search ms (CPU) | µs an image | again, kept: ms | near pairs offered |")
    print("|---:|---|---|---:|---:|---:|---:|---:|---:|---:|")
    with tempfile.TemporaryDirectory() as tmp:
        for n in sizes:
            for line in measure(n, args.repeat, Path(tmp) / str(n)):
                print(line, flush=True)


if __name__ == "__main__":
    main()
