"""Known workers: rows, heartbeats and staleness (driven directly, with a fake clock); the CLI
and the API listing them alike; and commands that run their job here when no worker serves it.

The last test starts a real `daguerre worker` process, as ``test_jobs_worker.py`` does, to see
the Celery side record itself, name its job and mark itself stopped.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from click.testing import CliRunner
from sqlalchemy import select, update

from daguerre.platform.catalog.models import Image, Job, JobStatus, Library
from daguerre.platform.cli import main
from daguerre.platform.config import load_settings
from daguerre.platform.context import Context
from daguerre.platform.services import workers
from daguerre.platform.services.jobs import Jobs
from tests.support.images import noise_image

LEASE = 4  # seconds: a sweep every 2 s, so a worker is stale after 6 s without a beat
T0 = datetime(2026, 11, 29, 12, 0, tzinfo=UTC)


@pytest.fixture()
def home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A fresh data directory; no CLIP weights (restore needs none), no broker server."""
    for key in list(os.environ):
        if key.startswith("DAGUERRE_"):
            monkeypatch.delenv(key)
    monkeypatch.setenv("DAGUERRE_HOME", str(tmp_path / "home"))
    monkeypatch.setenv("DAGUERRE_DEVICE", "cpu")
    monkeypatch.setenv("DAGUERRE_DECODE_WORKERS", "1")
    monkeypatch.setenv("DAGUERRE_JOB_LEASE_SECONDS", str(LEASE))
    monkeypatch.setenv("DAGUERRE_CLIP_WEIGHTS", str(tmp_path / "no-clip-weights.bin"))
    return tmp_path / "home"


@pytest.fixture()
def ctx(home: Path) -> Iterator[Context]:
    ctx = Context(load_settings())
    yield ctx
    ctx.close()


def names(rows: list[dict]) -> list[str]:
    return [w["name"] for w in rows]


def test_a_worker_row_heartbeats_goes_stale_and_is_pruned(ctx: Context):
    cat = ctx.catalog
    workers.record(cat, "w1@host:10", host="host", pid=10, queues=["gpu", "cpu"],
                   device="cuda:0", now=T0)
    [row] = workers.list_workers(ctx, now=T0 + timedelta(seconds=1))
    assert row["alive"] and row["queues"] == ["cpu", "gpu"] and row["device"] == "cuda:0"
    assert (row["host"], row["pid"], row["stopped_at"]) == ("host", 10, None)
    assert workers.live_for(ctx, "gpu", now=T0 + timedelta(seconds=5))

    # No heartbeat for longer than a few sweep intervals: no longer live, still listed.
    late = T0 + timedelta(seconds=workers.stale_after(LEASE) + 1)
    assert not workers.live_for(ctx, "gpu", now=late)
    assert workers.list_workers(ctx, now=late)[0]["alive"] is False
    assert workers.heartbeat(cat, "w1@host:10", now=late)
    assert workers.live_for(ctx, "gpu", now=late + timedelta(seconds=1))
    assert not workers.live_for(ctx, "nothing-consumes-this", now=late)

    # The job it runs is the running job whose lease it holds (a prefork child's too), shown
    # while it runs and no longer once it finished.
    job_id = Jobs(ctx, send=lambda *_: None).create("noop", {})["id"]
    assert workers.list_workers(ctx, now=late)[0]["current_job_id"] is None
    for holder in ("w1@host:10", "w1@host:10/4242"):
        with cat.session() as s:
            s.execute(update(Job).where(Job.id == job_id)
                      .values(status=JobStatus.RUNNING, worker=holder))
        assert workers.list_workers(ctx, now=late)[0]["current_job_id"] == job_id
    with cat.session() as s:
        s.execute(update(Job).where(Job.id == job_id).values(status=JobStatus.SUCCEEDED))
    assert workers.list_workers(ctx, now=late)[0]["current_job_id"] is None

    # A stopped worker is not live however recent its beat; a restart under the name revives it.
    workers.mark_stopped(cat, "w1@host:10", now=late)
    [row] = workers.list_workers(ctx, now=late)
    assert row["alive"] is False and row["stopped_at"]
    workers.record(cat, "w1@host:10", host="host", pid=10, queues=["gpu"], device=None,
                   now=late)
    assert workers.list_workers(ctx, now=late)[0]["alive"]

    # Live first; a week-old row goes when a worker next records itself.
    week = late + workers.PRUNE_AFTER + timedelta(seconds=1)
    workers.record(cat, "w2@host:11", host="host", pid=11, queues=["cpu"], device="cpu",
                   now=week - timedelta(seconds=30))
    assert names(workers.list_workers(ctx, now=week)) == ["w2@host:11", "w1@host:10"]
    workers.record(cat, "w3@other:12", host="other", pid=12, queues=["cpu"], device="cpu",
                   now=week)
    assert names(workers.list_workers(ctx, now=week)) == ["w3@other:12", "w2@host:11"]
    assert not workers.heartbeat(cat, "w1@host:10", now=week)  # pruned: it records again


def test_jobs_workers_cli_and_api_list_the_same_workers(ctx: Context):
    from daguerre.platform.services.users import create_user
    from daguerre.platform.tokens import create_token
    from daguerre.platform.web import create_app

    workers.record(ctx.catalog, "gone@a:1", host="a", pid=1, queues=["gpu"], device="cuda",
                   now=datetime.now(UTC) - timedelta(hours=1))
    workers.record(ctx.catalog, "live@b:2", host="b", pid=2, queues=["cpu"], device="cpu")

    res = CliRunner().invoke(main, ["jobs", "workers", "--json"])
    assert res.exit_code == 0, res.output
    listed = json.loads(res.stdout)
    assert [(w["name"], w["alive"]) for w in listed] == [("live@b:2", True), ("gone@a:1", False)]

    app = create_app({"TESTING": True})
    try:
        create_user(app.extensions["daguerre"].ctx, "ann", "viewer", "correct horse")
        _info, secret = create_token(app.extensions["daguerre"].ctx, "tests", "ann")
        client = app.test_client()
        assert client.get("/api/v1/workers").status_code == 401
        got = client.get("/api/v1/workers", headers={"Authorization": f"Bearer {secret}"})
        assert got.status_code == 200
        assert got.get_json()["items"] == listed
    finally:
        app.extensions["daguerre"].ctx.close()

    text = CliRunner().invoke(main, ["jobs", "workers"]).stdout.splitlines()
    assert text[1].startswith("live@b:2") and " live " in text[1]
    assert text[2].startswith("gone@a:1") and " gone " in text[2]


def photo_library(ctx: Context, root: Path) -> Path:
    root.mkdir(parents=True)
    photo = root / "scan.jpg"
    noise_image(3, size=(96, 64)).save(photo, quality=90)
    with ctx.catalog.session() as s:
        s.add(Library(name="scans", root=str(root.resolve())))
    return photo


def test_restore_with_no_worker_runs_here_and_says_so(ctx: Context, tmp_path: Path):
    photo = photo_library(ctx, tmp_path / "scans")
    before = photo.read_bytes()
    # A worker that stopped answering, and a live one that serves only the CPU queue: neither
    # will run a restore (a GPU job).
    workers.record(ctx.catalog, "dead@a:1", host="a", pid=1, queues=["gpu"], device="cuda",
                   now=datetime.now(UTC) - timedelta(minutes=5))
    workers.record(ctx.catalog, "cpu@b:2", host="b", pid=2, queues=["cpu"], device="cpu")

    res = CliRunner().invoke(main, ["restore", str(photo), "--no-denoise"])
    assert res.exit_code == 0, res.output
    [job] = Jobs(ctx).list(kind="restore")
    assert res.stderr.splitlines()[0] == \
        f"daguerre: no worker is running for the gpu queue; running job {job['id']} here"
    assert job["status"] == "succeeded" and job["worker"].startswith("inline-")
    [line] = [ln for ln in res.stdout.splitlines() if ln.startswith("#")]
    with ctx.catalog.session() as s:
        source = s.scalar(select(Image.id).where(Image.path == "scan.jpg"))
    out = Path(line.split()[1])
    assert line.endswith(f"(from #{source})") and out.is_file() and out != photo
    assert photo.read_bytes() == before  # the original is never modified

    # A worker that was live when the job was sent, and then stopped answering: the command
    # does not wait for ever, it takes the job over.
    workers.record(ctx.catalog, "dying@c:3", host="c", pid=3, queues=["gpu"], device="cuda",
                   now=datetime.now(UTC) - timedelta(seconds=workers.stale_after(LEASE) - 3))
    res = CliRunner().invoke(main, ["restore", str(photo), "--no-denoise"])
    assert res.exit_code == 0, res.output
    assert len(list((ctx.settings.broker_dir / "queue").iterdir())) == 1  # it was sent first
    job = Jobs(ctx).list(kind="restore")[0]
    assert job["status"] == "succeeded" and job["worker"].startswith("inline-")
    assert res.stderr.startswith(f"daguerre: no worker is running for the gpu queue; "
                                 f"running job {job['id']} here")

    # --async still only queues it, whoever is (not) there to run it.
    queued = CliRunner().invoke(main, ["restore", str(photo), "--async"])
    assert queued.exit_code == 0 and "here" not in queued.output, queued.output
    assert Jobs(ctx).get(int(queued.stdout.strip()))["status"] == "queued"


def _wait(what: str, check: Callable[[], object], timeout: float, log: Path) -> object:
    deadline = time.monotonic() + timeout
    while not (value := check()):
        if time.monotonic() > deadline:
            pytest.fail(f"{what} after {timeout} s; worker log:\n"
                        f"{log.read_text(errors='replace')[-3000:]}")
        time.sleep(0.1)
    return value


@pytest.mark.slow
@pytest.mark.timeout(180)
def test_a_real_worker_records_itself_runs_the_cli_job_and_marks_itself_stopped(
        ctx: Context, home: Path, tmp_path: Path):
    photo = photo_library(ctx, tmp_path / "scans")
    log = tmp_path / "worker.log"
    code = "from daguerre.platform.cli import main; main(prog_name='daguerre')"
    with open(log, "wb") as out:
        proc = subprocess.Popen([sys.executable, "-c", code, "worker", "--loglevel", "INFO"],
                                env=dict(os.environ), stdout=out, stderr=subprocess.STDOUT,
                                start_new_session=True)
    try:
        def mine() -> dict | None:
            return next((w for w in workers.list_workers(ctx)
                         if w["pid"] == proc.pid and w["alive"]), None)

        me = _wait("the worker did not record itself", mine, 60, log)
        assert me["queues"] == ["cpu", "gpu"] and me["device"] == "cpu"
        assert me["name"].endswith(f":{proc.pid}") and me["current_job_id"] is None

        # A live worker serves the GPU queue: the command waits for it, saying nothing.
        res = CliRunner().invoke(main, ["restore", str(photo), "--no-denoise"])
        assert res.exit_code == 0, res.output + log.read_text(errors="replace")[-3000:]
        assert "here" not in res.stderr
        [job] = Jobs(ctx).list(kind="restore")
        assert job["status"] == "succeeded" and job["worker"] == me["name"]

        # Its heartbeat moves on, and it names the job it runs.
        seen = me["last_seen_at"]
        _wait("no heartbeat", lambda: mine() and mine()["last_seen_at"] > seen, 20, log)
        slow = Jobs(ctx).create("noop", {"sleep": 30})["id"]
        _wait("the running job not shown", lambda: (mine() or {}).get("current_job_id") == slow,
              30, log)

        os.killpg(proc.pid, signal.SIGTERM)
        assert proc.wait(30) == 0, log.read_text(errors="replace")[-3000:]
        [row] = [w for w in workers.list_workers(ctx) if w["name"] == me["name"]]
        assert row["alive"] is False and row["stopped_at"] and row["current_job_id"] is None
        assert Jobs(ctx).get(slow)["status"] == "queued"  # handed back for the next worker

        # Now nobody serves the queue: the same command runs the job here.
        res = CliRunner().invoke(main, ["restore", str(photo), "--no-denoise"])
        assert res.exit_code == 0, res.output
        assert res.stderr.startswith("daguerre: no worker is running for the gpu queue")
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(10)
