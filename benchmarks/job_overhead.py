"""Job system overhead: enqueue-to-start latency and throughput of trivial jobs.

For each backend a real ``daguerre worker`` process (solo pool, one job at a time, as on a GPU)
runs ``noop`` jobs:

* latency: ``--latency-jobs`` jobs sent one at a time to an idle worker; enqueue-to-start is the
  job's ``started_at`` minus its ``created_at`` (both in the catalog: the time from the API's
  commit to the worker's claim, including the broker hop and the worker's poll), p50 and p95;
* throughput: ``--jobs`` (500) jobs created as fast as the service allows, jobs/s from the first
  commit to the last finish.

Backends: the embedded default (kombu filesystem transport + SQLite), Redis + SQLite, and Redis +
PostgreSQL (a fresh database, dropped afterwards). Redis/PostgreSQL rows are skipped when their
servers are not running. If ``benchmarks/api_search_load.py`` exists, its ``main()`` runs after.

    .venv/bin/python benchmarks/job_overhead.py [--jobs 500] [--latency-jobs 100]
"""

from __future__ import annotations

import argparse
import os
import secrets
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

PG_ADMIN = "postgresql://postgres@127.0.0.1:5432/test"


def _up(port: int) -> bool:
    try:
        socket.create_connection(("127.0.0.1", port), timeout=1).close()
        return True
    except OSError:
        return False


def _pct(values: list[float], q: float) -> float:
    values = sorted(values)
    return values[min(len(values) - 1, round(q * (len(values) - 1)))]


def run_backend(label: str, env: dict[str, str], jobs_n: int, latency_n: int) -> dict:
    from sqlalchemy import func, select

    from daguerre.platform.catalog.models import Job, JobStatus
    from daguerre.platform.config import load_settings
    from daguerre.platform.context import Context
    from daguerre.platform.services.jobs import Jobs

    ctx = Context(load_settings(env=env))
    ctx.catalog  # noqa: B018 - migrate before the worker starts
    jobs = Jobs(ctx)
    outer = {k: v for k, v in os.environ.items() if not k.startswith("DAGUERRE_")}
    code = "from daguerre.platform.cli import main; main(prog_name='daguerre')"
    worker = subprocess.Popen([sys.executable, "-c", code, "worker", "--queues", "cpu",
                               "--loglevel", "WARNING"], env={**outer, **env},
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                              start_new_session=True)

    def wait_done(job_id: int, timeout: float = 120, poll: float = 0.005) -> dict:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            job = jobs.get(job_id)
            if job["finished"]:
                return job
            time.sleep(poll)
        raise TimeoutError(f"{label}: job {job_id} did not finish")

    try:
        for _ in range(5):  # warm up: worker start, first claim, connections
            wait_done(jobs.create("noop", {})["id"], timeout=180)
        latencies = []
        for _ in range(latency_n):
            job = wait_done(jobs.create("noop", {})["id"])
            latencies.append(_started_minus_created(job))
        t0 = time.perf_counter()
        ids = [jobs.create("noop", {})["id"] for _ in range(jobs_n)]
        create_s = time.perf_counter() - t0
        wait_done(ids[-1], timeout=600, poll=0.25)  # light polling: 2 cores are shared
        with ctx.catalog.session() as s:
            first, last, ok = s.execute(
                select(func.min(Job.created_at), func.max(Job.finished_at),
                       func.count().filter(Job.status == JobStatus.SUCCEEDED))
                .where(Job.id.in_(ids))).one()
        span = (last - first).total_seconds()
        return {"backend": label, "p50_ms": 1000 * statistics.median(latencies),
                "p95_ms": 1000 * _pct(latencies, 0.95), "jobs_per_s": jobs_n / span,
                "create_per_s": jobs_n / create_s, "succeeded": ok, "jobs": jobs_n}
    finally:
        worker.terminate()
        try:
            worker.wait(30)
        except subprocess.TimeoutExpired:
            worker.kill()
        ctx.close()


def _started_minus_created(job: dict) -> float:
    from datetime import datetime

    return (datetime.fromisoformat(job["started_at"])
            - datetime.fromisoformat(job["created_at"])).total_seconds()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--jobs", type=int, default=500)
    parser.add_argument("--latency-jobs", type=int, default=100)
    parser.add_argument("--no-api", action="store_true",
                        help="skip benchmarks/api_search_load.py")
    args = parser.parse_args(argv)

    rows = []
    with tempfile.TemporaryDirectory(prefix="daguerre-bench-") as tmp:
        base = {"DAGUERRE_JOB_LEASE_SECONDS": "60"}
        backends = [("filesystem + SQLite", {"DAGUERRE_HOME": f"{tmp}/fs"})]
        cleanup = []
        if _up(6379):
            import redis

            db = next(n for n in range(15, 0, -1)
                      if redis.Redis(host="127.0.0.1", db=n).dbsize() == 0)
            url = f"redis://127.0.0.1:6379/{db}"
            cleanup.append(lambda: redis.Redis(host="127.0.0.1", db=db).flushdb())
            backends.append(("Redis + SQLite", {"DAGUERRE_HOME": f"{tmp}/rs",
                                                "DAGUERRE_BROKER_URL": url}))
            if _up(5432):
                import psycopg

                name = f"daguerre_bench_{secrets.token_hex(4)}"
                with psycopg.connect(PG_ADMIN, autocommit=True) as conn:
                    conn.execute(f'CREATE DATABASE "{name}"')

                def drop() -> None:
                    with psycopg.connect(PG_ADMIN, autocommit=True) as conn:
                        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')

                cleanup.append(drop)
                backends.append(("Redis + PostgreSQL", {
                    "DAGUERRE_HOME": f"{tmp}/rp", "DAGUERRE_BROKER_URL": url,
                    "DAGUERRE_DATABASE_URL": f"postgresql://postgres@127.0.0.1:5432/{name}"}))
        try:
            for label, env in backends:
                rows.append(run_backend(label, {**base, **env}, args.jobs, args.latency_jobs))
                for fn in cleanup[:1] if "Redis" in label else []:
                    fn()  # an empty Redis database for the next backend
        finally:
            for fn in reversed(cleanup):
                fn()

    print(f"\nJob overhead: noop jobs through one solo-pool `daguerre worker` process "
          f"({args.latency_jobs} one at a time for latency, {args.jobs} at once for jobs/s)\n")
    print("| backend | enqueue-to-start p50 | p95 | jobs/s (burst) | creates/s | succeeded |")
    print("|---|---:|---:|---:|---:|---:|")
    for r in rows:
        print(f"| {r['backend']} | {r['p50_ms']:.0f} ms | {r['p95_ms']:.0f} ms | "
              f"{r['jobs_per_s']:.0f} | {r['create_per_s']:.0f} | "
              f"{r['succeeded']}/{r['jobs']} |")
    sys.stdout.flush()

    api = Path(__file__).with_name("api_search_load.py")
    if api.exists() and not args.no_api:
        import importlib.util

        spec = importlib.util.spec_from_file_location("api_search_load", api)
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
        return module.main([]) or 0
    return 0


if __name__ == "__main__":
    sys.exit(main())
