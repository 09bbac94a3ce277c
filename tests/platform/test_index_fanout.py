"""An index job spread over workers in chunks (jobs/fanout.py, services/index_fanout.py),
through real `daguerre worker` processes on the embedded transport with SQLite."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import select

from daguerre.platform.catalog.models import ImageEmbedding
from daguerre.platform.config import load_settings
from daguerre.platform.context import Context
from daguerre.platform.services.jobs import Jobs, chunk_jobs
from tests.platform.test_jobs_worker import (
    Stack,
    _outer_env,
    assert_indexed_once,
    write_library,
)
from tests.support.images import write_grainy_library

LEASE = 3


class Workers(Stack):
    """A Stack with several worker processes at once."""

    def __init__(self, env: dict[str, str], logs: Path) -> None:
        super().__init__(env, logs)
        self.procs: list[subprocess.Popen] = []

    def start(self) -> subprocess.Popen:
        n = len(self.procs) + 1
        log = open(self.logs / f"w{n}.log", "wb")  # noqa: SIM115 - kept open
        code = "from daguerre.platform.cli import main; main(prog_name='daguerre')"
        proc = subprocess.Popen(
            [sys.executable, "-c", code, "worker", "--loglevel", "INFO"], env={**_outer_env(), **self.env}, stdout=log,
            stderr=subprocess.STDOUT, start_new_session=True)
        self.procs.append(proc)
        return proc

    def wait_live(self, n: int, timeout: float = 60) -> None:
        """Until ``n`` workers have recorded themselves live (so each can take a chunk)."""
        from daguerre.platform.services.workers import live_count

        deadline = time.monotonic() + timeout
        while live_count(self.ctx, "gpu") < n:
            if time.monotonic() > deadline:
                pytest.fail(f"{n} workers not live after {timeout} s\n{self.logs_tail()}")
            time.sleep(0.1)

    def stop_all(self) -> None:
        for proc in self.procs:
            if proc.poll() is None:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait(10)

    def logs_tail(self) -> str:
        return "\n".join(p.read_text(errors="replace")[-2000:]
                         for p in sorted(self.logs.glob("w*.log")))


@pytest.fixture()
def workers(tiny_clip, tmp_path: Path) -> Iterator[Workers]:
    cfg, weights = tiny_clip
    env = {"DAGUERRE_HOME": str(tmp_path / "home"), "DAGUERRE_CLIP_MODEL": str(cfg),
           "DAGUERRE_CLIP_WEIGHTS": str(weights), "DAGUERRE_DEVICE": "cpu",
           "DAGUERRE_BATCH_SIZE": "4", "DAGUERRE_DECODE_WORKERS": "1",
           "DAGUERRE_JOB_LEASE_SECONDS": str(LEASE), "DAGUERRE_INDEX_CHUNK_FILES": "8"}
    w = Workers(env, tmp_path)
    w.ctx.catalog  # noqa: B018 - migrate before the workers start
    try:
        yield w
    finally:
        w.stop_all()
        w.ctx.close()


def _wait(w: Workers, job_id: int, until, timeout: float, what: str) -> dict:
    deadline = time.monotonic() + timeout
    while True:
        job = w.jobs.get(job_id)
        if until(job):
            return job
        if time.monotonic() > deadline:
            pytest.fail(f"job {job_id} not {what} after {timeout} s: {job}\n{w.logs_tail()}")
        time.sleep(0.05)


@pytest.mark.slow
@pytest.mark.timeout(240)
def test_index_job_in_chunks_embeds_every_file_once_and_sums_up(workers: Workers, tmp_path):
    # Grainy photos: each chunk is real work, so the second worker gets its share however fast
    # the first one runs the chunks nobody took yet.
    root = write_grainy_library(tmp_path / "lib", 36, seed=4, size=(1200, 900))
    workers.start()
    workers.start()
    workers.wait_live(2)
    job_id = workers.jobs.create("index", {"library": workers.add_library(root)})["id"]
    job = _wait(workers, job_id, lambda j: j["finished"], 180, "finished")
    assert job["status"] == "succeeded", job
    assert job["result"]["added"] == 36 and job["result"]["failed"] == 0
    chunks = [workers.jobs.get(i) for i in chunk_jobs(workers.ctx, job_id)]
    assert len(chunks) == 5  # 36 files, 8 a chunk
    assert all(c["status"] == "succeeded" for c in chunks)
    # Each file was embedded by exactly one chunk: the chunks' counts add up to the library.
    assert sum(c["result"]["added"] for c in chunks) == 36
    assert all(c["result"]["unchanged"] == 0 for c in chunks)
    assert len({c["worker"] for c in chunks}) == 2, "both workers should have taken chunks"
    assert job["progress"]["total"] == 36
    assert_indexed_once(workers, root)


@pytest.mark.slow
@pytest.mark.timeout(300)
def test_worker_killed_mid_chunk_library_ends_indexed_once(workers: Workers, tmp_path):
    # Photos large enough that a chunk of 8 lasts long enough to be caught in the middle; the
    # tiny model alone would finish one in a few milliseconds.
    root = write_grainy_library(tmp_path / "lib", 48, seed=5)
    first = workers.start()
    workers.start()
    workers.wait_live(2)
    job_id = workers.jobs.create("index", {"library": workers.add_library(root)})["id"]
    victim = f":{first.pid}"

    def chunk_running_on_victim(_job: dict) -> bool:
        for cid in chunk_jobs(workers.ctx, job_id):
            c = workers.jobs.get(cid)
            if (c["status"] == "running" and victim in (c["worker"] or "")
                    and c["progress"]["done"] < 8):
                return True
        return False

    _wait(workers, job_id, chunk_running_on_victim, 120, "running a chunk on the first worker")
    # SIGKILL to its whole process group, as a crash or an OOM kill would.
    os.killpg(first.pid, signal.SIGKILL)
    first.wait(10)
    job = _wait(workers, job_id, lambda j: j["finished"], 180, "finished after the kill")
    if job["status"] != "succeeded":  # the parent itself ran on the killed worker: a new one
        workers.start()            # takes it over once its lease expires
        job = _wait(workers, job_id, lambda j: j["finished"], 180, "finished on a new worker")
    assert job["status"] == "succeeded", job
    assert_indexed_once(workers, root)
    with workers.ctx.catalog.session() as s:
        rows = s.execute(select(ImageEmbedding.image_id)).scalars().all()
    assert len(rows) == len(set(rows)) == 48


def test_cancel_of_index_job_cancels_its_queued_chunks(tiny_clip, tmp_path: Path):
    """Canceling the run stops its chunks: the cascade in services/jobs.py, no worker needed."""
    ctx = Context(load_settings(env={"DAGUERRE_HOME": str(tmp_path / "home")}))
    jobs = Jobs(ctx, send=lambda job_id, queue: None)
    root = write_library(tmp_path / "lib", 1)
    from daguerre.platform.services.libraries import add_library

    add_library(ctx, str(root), "lib")
    parent = jobs.create("index", {"library": "lib"})["id"]
    kids = [jobs.create("index_chunk", {"library": 1, "parent": parent, "owner": f"job-{parent}",
                                        "files": ["img000.jpg"]})["id"] for _ in range(2)]
    other = jobs.create("noop", {})["id"]
    assert jobs.cancel(parent)["status"] == "canceled"
    assert [jobs.get(k)["status"] for k in kids] == ["canceled", "canceled"]
    assert jobs.get(other)["status"] == "queued"
    ctx.close()
