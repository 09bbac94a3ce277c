"""Search latency and recall of the vector store at scale (issue 3, "Speed at scale").

What it measures, in one run on one machine:

* build time of a store of ``--n`` vectors (default one million, 512-d) through
  :class:`daguerre.indexer.store.VectorStore` with its *automatic* index type, upserted in batches
  of ``--batch`` as an indexing run would, plus the final save;
* bytes per vector on disk (the saved generation) and in memory (counted from the store's arrays
  and FAISS lists: resident-set growth is unreliable after the allocator has recycled the memory
  of the build);
* single-query latency, p50 and p95: ``--queries`` queries searched one at a time for the top 10,
  with FAISS' default OpenMP threads;
* filtered single-query p50 with 1% and 0.1% of the ids allowed (always a full page of 10);
* recall@10 of those searches against exact search (``faiss.IndexFlatIP`` over the original
  float32 vectors) on ``--recall-queries`` of the queries;
* exact search's own single-query p50 over the same vectors, for comparison.

The data has the structure of real image embeddings rather than being uniform noise, because
uniform high-dimensional noise has no neighbourhood structure and makes every approximate index
look bad (or, normalised, every neighbour equally far). CLIP embeddings have a low intrinsic
dimension, gather in clusters of related content, and share a common direction. So each vector is

    z = c[j] + s * g,      j ~ Uniform{0..C-1}, g ~ N(0, I_48)   a Gaussian mixture in 48 dims
    x = normalise(A z + m + e),  A: 512x48 Gaussian random map, m: shared offset, e ~ N(0, n^2 I)

with ``C = 1024`` components whose centres c ~ N(0, I), within-component spread ``s = 1.0`` (as wide as
the spread of the centres: components overlap heavily, so neighbours often lie in other
components and the clusters do not hand an IVF index its partition), ``m`` a fixed random direction
giving unrelated vectors a mean cosine near 0.3 (as CLIP's do), and isotropic noise ``n`` worth
about a tenth of the signal's energy. Queries are fresh draws from the same distribution, not
members of the indexed set. The script prints the nearest-neighbour cosine statistics so the data
can be compared with real embeddings.

Run: ``python benchmarks/search_latency.py [--n 1000000]``. The store is written under a
temporary directory (or ``--dir``) and removed afterwards.
"""

from __future__ import annotations

import argparse
import gc
import os
import shutil
import tempfile
import time
from pathlib import Path

import numpy as np

from daguerre.indexer.store import VectorStore, normalize_rows

DIM = 512
LATENT = 48
COMPONENTS = 1024
SPREAD = 1.0
NOISE_ENERGY = 0.1
OFFSET_COSINE = 0.3


class EmbeddingLike:
    """Draws embedding-like vectors (see the module docstring); fixed parameters per seed."""

    def __init__(self, seed: int = 0):
        rng = np.random.default_rng(seed)
        self.centres = rng.normal(size=(COMPONENTS, LATENT)).astype(np.float32)
        self.map = (rng.normal(size=(LATENT, DIM)) / np.sqrt(DIM)).astype(np.float32)
        # A has N(0, 1/DIM) entries, so |A z|^2 ~ |z|^2 ~ (1 + s^2) * LATENT
        signal_norm = float(np.sqrt((1 + SPREAD**2) * LATENT))
        direction = normalize_rows(rng.normal(size=(1, DIM)))[0]
        # offset norm chosen so that E[cos(x, y)] for unrelated x, y is about OFFSET_COSINE
        self.offset = direction * signal_norm * np.sqrt(OFFSET_COSINE / (1 - OFFSET_COSINE))
        self.noise = signal_norm * np.sqrt(NOISE_ENERGY / DIM)

    def draw(self, n: int, seed: int, chunk: int = 100_000) -> np.ndarray:
        rng = np.random.default_rng(seed)
        out = np.empty((n, DIM), np.float32)
        for start in range(0, n, chunk):
            m = min(chunk, n - start)
            j = rng.integers(0, COMPONENTS, m)
            z = self.centres[j] + SPREAD * rng.standard_normal((m, LATENT), np.float32)
            x = z @ self.map + self.offset
            x += self.noise * rng.standard_normal((m, DIM), np.float32)
            out[start : start + m] = normalize_rows(x)
        return out


def folder_bytes(path: Path) -> int:
    return sum(p.stat().st_size for p in path.rglob("*") if p.is_file())


def percentile_ms(times: list[float], q: float) -> float:
    return float(np.percentile(np.asarray(times) * 1000.0, q))


def build(directory: Path, data: np.ndarray, batch: int) -> tuple[VectorStore, float]:
    start = time.perf_counter()
    store = VectorStore.open(directory, dim=DIM, model_key="benchmark-embedding-like")
    for lo in range(0, len(data), batch):
        store.upsert(np.arange(lo, min(lo + batch, len(data))), data[lo : lo + batch])
    store.save()
    return store, time.perf_counter() - start


def single_query_times(search, queries: np.ndarray) -> tuple[list[float], np.ndarray]:
    times, found = [], []
    for q in queries:
        t = time.perf_counter()
        _, ids = search(q)
        times.append(time.perf_counter() - t)
        found.append(ids[0])
    return times, np.asarray(found)


def recall_at_10(found: np.ndarray, truth: np.ndarray) -> float:
    hits = sum(len(set(f[:10]) & set(t[:10])) for f, t in zip(found, truth, strict=True))
    return hits / (10 * len(truth))


def neighbour_stats(data: np.ndarray, queries: np.ndarray, truth_scores: np.ndarray) -> str:
    rng = np.random.default_rng(5)
    a, b = rng.integers(0, len(data), (2, 2000))
    random_cos = float(np.mean(np.sum(data[a] * data[b], axis=1)))
    return (
        f"cosine to 1st / 10th nearest neighbour: {np.mean(truth_scores[:, 0]):.3f} / "
        f"{np.mean(truth_scores[:, 9]):.3f}; between random vectors: {random_cos:.3f}"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--n", type=int, default=1_000_000, help="vectors in the store")
    parser.add_argument("--batch", type=int, default=100_000, help="vectors per upsert")
    parser.add_argument("--queries", type=int, default=1000, help="timed single queries")
    parser.add_argument("--recall-queries", type=int, default=200, help="queries checked exactly")
    parser.add_argument("--exact-queries", type=int, default=30, help="timed exact queries")
    parser.add_argument("--dir", type=Path, default=None, help="where to write the store")
    args = parser.parse_args()

    import faiss  # after argparse, so --help is instant

    load_start = os.getloadavg()[0]  # other work on the machine inflates latencies
    gen = EmbeddingLike(seed=0)
    t = time.perf_counter()
    data = gen.draw(args.n, seed=1)
    queries = gen.draw(max(args.queries, args.recall_queries, args.exact_queries), seed=2)
    print(f"generated {args.n:,} x {DIM} in {time.perf_counter() - t:.1f} s", flush=True)

    root = args.dir or Path(tempfile.mkdtemp(prefix="daguerre-bench-"))
    directory = root / "store"
    try:
        store, build_s = build(directory, data, args.batch)
        stats = store.stats()
        disk = folder_bytes(directory)
        del store
        gc.collect()
        store = VectorStore.open(directory, dim=DIM, model_key="benchmark-embedding-like")
        print(f"built {stats['index_type']} in {build_s:.1f} s; stats {stats}", flush=True)

        store.search(queries[0], 10)  # warm-up
        times, found = single_query_times(lambda q: store.search(q, 10), queries[: args.queries])

        filtered = {}
        for share in (0.01, 0.001):
            rng = np.random.default_rng(3)
            allowed = rng.choice(args.n, max(10, int(share * args.n)), replace=False)
            ftimes, ffound = single_query_times(
                lambda q, a=allowed: store.search(q, 10, allowed_ids=a), queries[:200]
            )
            assert ffound.shape[1] == 10 and np.isin(ffound, allowed).all()
            filtered[share] = ftimes

        flat = faiss.IndexFlatIP(DIM)
        flat.add(data)
        rq = queries[: args.recall_queries]
        truth_scores, truth = flat.search(rq, 10)
        recall = recall_at_10(found[: args.recall_queries], truth)
        exact_times, _ = single_query_times(
            lambda q: flat.search(q.reshape(1, -1), 10), queries[: args.exact_queries]
        )
        print(neighbour_stats(data, rq, truth_scores))
    finally:
        if args.dir is None:
            shutil.rmtree(root, ignore_errors=True)

    rows = [
        ("vectors", f"{args.n:,} x {DIM}"),
        ("index type (automatic)", f"{stats['index_type']}, nprobe {stats['nprobe']}"),
        ("build time (upserts + save)", f"{build_s:.1f} s"),
        ("bytes per vector on disk", f"{disk / args.n:.0f}"),
        ("bytes per vector in memory", f"{stats['bytes_in_memory'] / args.n:.0f}"),
        ("store search p50 (1 query)", f"{percentile_ms(times, 50):.2f} ms"),
        ("store search p95 (1 query)", f"{percentile_ms(times, 95):.2f} ms"),
        ("recall@10 vs exact", f"{recall:.3f} ({args.recall_queries} queries)"),
        ("filtered p50, 1% of ids allowed", f"{percentile_ms(filtered[0.01], 50):.2f} ms"),
        ("filtered p50, 0.1% of ids allowed", f"{percentile_ms(filtered[0.001], 50):.2f} ms"),
        ("exact IndexFlatIP p50 (1 query)", f"{percentile_ms(exact_times, 50):.2f} ms"),
        ("speed-up over exact (p50)", f"{np.median(exact_times) / np.median(times):.0f}x"),
        ("faiss OpenMP threads", f"{faiss.omp_get_max_threads()} of {os.cpu_count()} CPUs"),
        ("load average at start / end", f"{load_start:.1f} / {os.getloadavg()[0]:.1f}"),
    ]
    width = max(len(r[0]) for r in rows)
    print()
    print(f"| {'measure'.ljust(width)} | value |")
    print(f"|{'-' * (width + 2)}|-------|")
    for name, value in rows:
        print(f"| {name.ljust(width)} | {value} |")


if __name__ == "__main__":
    main()
