"""Jobs through real Celery worker processes: (a) the embedded filesystem transport with
SQLite, (b) Redis with PostgreSQL. Not eager mode: a worker is a `daguerre worker` subprocess,
and "dies" means SIGKILL to its whole process group.

One worker per backend is shared by the tests of that backend (they run in file order), which
keeps the module within a few minutes on a 2-core machine.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from click.testing import CliRunner
from sqlalchemy import func, select

from daguerre.platform.catalog.models import Image, ImageEmbedding, ImageStatus, Library
from daguerre.platform.config import load_settings
from daguerre.platform.context import Context
from daguerre.platform.services.jobs import Jobs
from tests.conftest import postgres_database, reachable, require_service
from tests.support.images import noise_image, write_grainy_library

BATCH = 4
LEASE = 3


def write_library(folder: Path, n: int, seed: int = 0) -> Path:
    folder.mkdir(parents=True)
    for i in range(n):
        noise_image(seed * 1000 + i, size=(640, 480)).save(folder / f"img{i:03d}.jpg", quality=90)
    return folder


class Stack:
    """A data directory, catalog and broker, and the worker process currently serving them."""

    def __init__(self, env: dict[str, str], logs: Path) -> None:
        self.env, self.logs = env, logs
        self.ctx = Context(load_settings(env=env))
        self.jobs = Jobs(self.ctx)
        self.worker: subprocess.Popen | None = None
        self.started = 0

    def start_worker(self) -> subprocess.Popen:
        self.started += 1
        log = open(self.logs / f"worker{self.started}.log", "wb")  # noqa: SIM115 - kept open
        code = "from daguerre.platform.cli import main; main(prog_name='daguerre')"
        self.worker = subprocess.Popen(
            [sys.executable, "-c", code, "worker", "--loglevel", "INFO"],
            env={**_outer_env(), **self.env}, stdout=log, stderr=subprocess.STDOUT,
            start_new_session=True)
        return self.worker

    def kill_worker(self) -> None:
        """SIGKILL the worker and its decode processes, as a crash or OOM kill would."""
        os.killpg(self.worker.pid, signal.SIGKILL)
        self.worker.wait(10)

    def stop_worker(self) -> None:
        if self.worker is None or self.worker.poll() is not None:
            return
        os.killpg(self.worker.pid, signal.SIGTERM)
        try:
            self.worker.wait(20)
        except subprocess.TimeoutExpired:
            os.killpg(self.worker.pid, signal.SIGKILL)
            self.worker.wait(10)

    def log_tail(self) -> str:
        path = self.logs / f"worker{self.started}.log"
        return path.read_text(errors="replace")[-3000:] if path.exists() else ""

    def wait(self, job_id: int, until: Callable[[dict], bool], timeout: float,
             what: str) -> dict:
        deadline = time.monotonic() + timeout
        while True:
            job = self.jobs.get(job_id)
            if until(job):
                return job
            if time.monotonic() > deadline:
                pytest.fail(f"job {job_id} not {what} after {timeout} s: {job}\n"
                            f"worker log:\n{self.log_tail()}")
            time.sleep(0.05)

    def add_library(self, root: Path) -> str:
        with self.ctx.catalog.session() as s:
            s.add(Library(name=root.name, root=str(root.resolve())))
        return root.name


def _outer_env() -> dict[str, str]:
    """This process's environment without any DAGUERRE_* setting (the stack sets its own)."""
    return {k: v for k, v in os.environ.items() if not k.startswith("DAGUERRE_")}


def _finished(job: dict) -> bool:
    return job["finished"]


@pytest.fixture(scope="module", params=["filesystem-sqlite", "redis-postgres"])
def stack(request: pytest.FixtureRequest, tiny_clip, tmp_path_factory) -> Iterator[Stack]:
    cfg, weights = tiny_clip
    base = tmp_path_factory.mktemp(request.param)
    env = {"DAGUERRE_HOME": str(base / "home"), "DAGUERRE_CLIP_MODEL": str(cfg),
           "DAGUERRE_CLIP_WEIGHTS": str(weights), "DAGUERRE_DEVICE": "cpu",
           "DAGUERRE_BATCH_SIZE": str(BATCH), "DAGUERRE_DECODE_WORKERS": "1",
           "DAGUERRE_JOB_LEASE_SECONDS": str(LEASE)}
    cleanup = contextlib.ExitStack()
    if request.param == "redis-postgres":
        require_service("Redis", reachable(6379))
        import redis

        url = cleanup.enter_context(postgres_database())
        # A Redis database nobody else uses right now, emptied afterwards.
        db = next(n for n in range(15, 0, -1)
                  if redis.Redis(host="127.0.0.1", db=n).dbsize() == 0)
        cleanup.callback(lambda: redis.Redis(host="127.0.0.1", db=db).flushdb())
        env["DAGUERRE_DATABASE_URL"] = url
        env["DAGUERRE_BROKER_URL"] = f"redis://127.0.0.1:6379/{db}"
    s = Stack(env, base)
    s.ctx.catalog  # noqa: B018 - migrate before the worker starts
    s.start_worker()
    try:
        yield s
    finally:
        s.stop_worker()
        s.ctx.close()
        cleanup.close()


def vector_ids(stack: Stack) -> list[int]:
    store = stack.ctx.store()
    store.reload()
    return store.ids().tolist()


def assert_consistent(stack: Stack) -> None:
    """The store holds exactly the vectors the catalog says it does, each once."""
    ids = vector_ids(stack)
    assert len(ids) == len(set(ids)), "an image id is in the vector store twice"
    with stack.ctx.catalog.session() as s:
        embedded = set(s.scalars(select(ImageEmbedding.image_id)))
    assert embedded == set(ids)


def assert_indexed_once(stack: Stack, root: Path) -> None:
    files = sorted(p.name for p in root.glob("*.jpg"))
    with stack.ctx.catalog.session() as s:
        lib_id = s.scalar(select(Library.id).where(Library.root == str(root.resolve())))
        rows = s.execute(select(Image.id, Image.path, Image.status)
                         .where(Image.library_id == lib_id)).all()
        n_emb = s.scalar(select(func.count()).select_from(ImageEmbedding).join(Image)
                         .where(Image.library_id == lib_id))
    assert sorted(r.path for r in rows) == files  # one row per file, none twice
    assert all(r.status == ImageStatus.ACTIVE for r in rows)
    assert n_emb == len(files)
    assert {r.id for r in rows} <= set(vector_ids(stack))
    assert_consistent(stack)


@pytest.mark.slow
@pytest.mark.timeout(240)
def test_killed_worker_job_is_requeued_and_every_image_indexed_once(stack, tmp_path):
    # Grainy photos, so the run lasts long enough to be killed in the middle.
    root = write_grainy_library(tmp_path / "killed", 60, seed=1)
    job_id = stack.jobs.create("index", {"library": stack.add_library(root)})["id"]
    job = stack.wait(job_id, lambda j: j["progress"]["done"] > 0, 120, "making progress")
    stack.kill_worker()
    first = stack.jobs.get(job_id)
    assert first["status"] == "running" and first["attempts"] == 1
    assert first["progress"]["done"] < first["progress"]["total"], "killed too late"
    stack.start_worker()
    job = stack.wait(job_id, _finished, 120, "finished after the restart")
    assert job["status"] == "succeeded", job
    assert job["attempts"] == 2 and job["worker"] != first["worker"]
    assert job["result"]["failed"] == 0
    assert_indexed_once(stack, root)


@pytest.mark.slow
@pytest.mark.timeout(180)
def test_cancel_running_job_stops_within_a_batch_and_spares_the_next(stack, tmp_path):
    # Large enough that indexing outlasts the cancel flag poll (0.5 s) by a wide margin.
    big = write_library(tmp_path / "big", 240, seed=2)
    small = write_library(tmp_path / "small", 6, seed=3)
    a = stack.jobs.create("index", {"library": stack.add_library(big)})["id"]
    b = stack.jobs.create("index", {"library": stack.add_library(small)})["id"]
    stack.wait(a, lambda j: j["progress"]["done"] >= BATCH, 120, "making progress")
    asked = time.monotonic()
    assert stack.jobs.cancel(a)["cancel_requested"]
    job = stack.wait(a, _finished, 30, "finished after cancel")
    stopped_after = time.monotonic() - asked
    assert job["status"] == "canceled", job
    assert job["progress"]["done"] < job["progress"]["total"]
    # Checked between batches, at most every 0.5 s: it stops about one batch later.
    assert stopped_after < 5, f"took {stopped_after:.1f} s to stop"
    other = stack.wait(b, _finished, 60, "finished")
    assert other["status"] == "succeeded" and not other["cancel_requested"]
    assert_indexed_once(stack, small)
    assert_consistent(stack)  # every image with an embedding row has its vector, and back


@pytest.mark.timeout(120)
def test_canceled_queued_job_never_starts(stack):
    blocker = stack.jobs.create("noop", {"sleep": 1.5})["id"]
    stack.wait(blocker, lambda j: j["status"] == "running", 60, "running")
    queued = stack.jobs.create("noop", {})["id"]
    assert stack.jobs.cancel(queued)["status"] == "canceled"
    stack.wait(blocker, _finished, 30, "finished")
    time.sleep(1.0)  # the queued job's message has been delivered by now
    job = stack.jobs.get(queued)
    assert (job["status"], job["started_at"], job["worker"], job["attempts"]) == \
        ("canceled", None, None, 0)
    assert stack.jobs.get(blocker)["status"] == "succeeded"


@pytest.mark.timeout(120)
def test_failed_job_retried_after_the_cause_is_fixed(stack, tmp_path):
    root = write_library(tmp_path / "moving", 5, seed=4)
    name = stack.add_library(root)
    away = root.rename(tmp_path / "moved-away")
    failed_id = stack.jobs.create("index", {"library": name})["id"]
    failed = stack.wait(failed_id, _finished, 60, "finished")
    assert failed["status"] == "failed"
    assert "is not available" in failed["error"] and str(root) in failed["error"]
    away.rename(root)
    retry = stack.jobs.retry(failed_id)
    assert retry["retried_from"] == failed_id and retry["kind"] == "index"
    done = stack.wait(retry["id"], _finished, 60, "finished")
    assert done["status"] == "succeeded" and done["result"]["added"] == 5
    assert_indexed_once(stack, root)


@pytest.mark.timeout(120)
def test_jobs_cli_json_and_index_async(stack):
    from daguerre.platform.cli import main

    runner = CliRunner()
    env = {**{k: None for k in os.environ if k.startswith("DAGUERRE_")}, **stack.env}

    result = runner.invoke(main, ["index", "--async", "moving"], env=env)
    if result.exit_code != 0:  # the retry test's library is absent when run alone
        result = runner.invoke(main, ["jobs", "list", "--json"], env=env)
        job_id = None
    else:
        job_id = int(result.output.strip())
        stack.wait(job_id, _finished, 60, "finished")
    listed = runner.invoke(main, ["jobs", "list", "--json"], env=env)
    assert listed.exit_code == 0, listed.output
    import json

    jobs = json.loads(listed.output)
    assert jobs and all({"id", "kind", "status", "progress"} <= set(j) for j in jobs)
    assert all(set(j["progress"]) == {"done", "total", "message"} for j in jobs)
    shown_id = job_id or jobs[0]["id"]
    shown = runner.invoke(main, ["jobs", "show", str(shown_id), "--json"], env=env)
    job = json.loads(shown.output)
    assert job["id"] == shown_id and job["status"] in {"succeeded", "failed", "canceled"}
    missing = runner.invoke(main, ["jobs", "show", "999999"], env=env)
    assert missing.exit_code == 2 and "no job with id 999999" in missing.output


def test_a_job_stuck_past_the_hard_limit_fails_and_its_worker_is_replaced(tmp_path):
    """A job blocked inside one call never reaches a check; at task_hard_time_limit its job is
    failed, and a lease later the worker process ends itself so its supervisor starts a fresh
    one (a thread cannot be killed, and a solo-pool Celery worker has no other way out)."""
    from daguerre.platform.jobs.tasks import HARD_LIMIT_EXIT_CODE

    env = {"DAGUERRE_HOME": str(tmp_path / "home"), "DAGUERRE_JOB_LEASE_SECONDS": str(LEASE),
           "DAGUERRE_TASK_SOFT_TIME_LIMIT": "1", "DAGUERRE_TASK_HARD_TIME_LIMIT": "2"}
    s = Stack(env, tmp_path)
    s.ctx.catalog  # noqa: B018 - migrate before the worker starts
    s.start_worker()
    try:
        stuck = s.jobs.create("noop", {"hang": 120})["id"]
        job = s.wait(stuck, _finished, 30, "failed at the hard limit")
        assert job["status"] == "failed" and "hard time limit of 2 s" in job["error"]
        assert s.worker.wait(30) == HARD_LIMIT_EXIT_CODE, s.log_tail()
        assert "did not stop" in s.log_tail()
        s.start_worker()  # what `daguerre serve` or a restart policy does
        fine = s.jobs.create("noop", {})["id"]
        assert s.wait(fine, _finished, 30, "run by the fresh worker")["status"] == "succeeded"
        assert s.jobs.get(stuck)["status"] == "failed"  # not run again
    finally:
        s.stop_worker()
        s.ctx.close()
