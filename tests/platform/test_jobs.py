"""The job service, leases, sweeper and runner in one process (no broker, no worker).

The end-to-end behaviour with real worker processes is in test_jobs_worker.py; these pin down
the compare-and-set rules that make it safe.
"""

from __future__ import annotations

import sys
import time
from datetime import timedelta

import pytest
from sqlalchemy import update

from daguerre.platform.catalog import models
from daguerre.platform.catalog.models import Job, JobStatus, Library, utcnow
from daguerre.platform.config import load_settings
from daguerre.platform.context import Context
from daguerre.platform.errors import BadInput, Conflict, NotFound
from daguerre.platform.jobs import lease, runner
from daguerre.platform.jobs.registry import Param, get_kind, job_kind, load_kinds
from daguerre.platform.jobs.runner import execute
from daguerre.platform.jobs.sweeper import MAX_ATTEMPTS, resend_after, sweep
from daguerre.platform.services.indexing_lease import LibraryBusy, indexing_lease
from daguerre.platform.services.jobs import Jobs


@pytest.fixture()
def ctx(tmp_path):
    c = Context(load_settings(env={"DAGUERRE_HOME": str(tmp_path / "home"),
                                   "DAGUERRE_JOB_LEASE_SECONDS": "3"}))
    yield c
    c.close()


class Outbox:
    """Stands in for the broker: records (job id, queue)."""

    def __init__(self) -> None:
        self.sent: list[tuple[int, str]] = []
        self.down = False

    def __call__(self, job_id: int, queue: str) -> None:
        if self.down:
            raise ConnectionError("broker unreachable")
        self.sent.append((job_id, queue))


@pytest.fixture()
def outbox() -> Outbox:
    return Outbox()


@pytest.fixture()
def jobs(ctx, outbox) -> Jobs:
    return Jobs(ctx, send=outbox)


def _set(ctx, job_id, **values) -> None:
    with ctx.catalog.session() as s:
        s.execute(update(Job).where(Job.id == job_id).values(**values))


def test_builtin_kinds_are_registered_with_their_queues():
    kinds = load_kinds()
    assert {"index", "embed", "classify", "duplicates", "noop"} <= set(kinds)
    assert kinds["index"].queue == "gpu" and kinds["noop"].queue == "cpu"


def test_create_commits_then_sends_only_the_id(jobs, outbox):
    job = jobs.create("noop", {"sleep": 1})
    assert outbox.sent == [(job["id"], "cpu")]
    assert job["status"] == "queued" and job["params"] == {"sleep": 1.0}
    assert set(job) >= {"id", "kind", "status", "progress", "params", "error", "result",
                        "created_at", "started_at", "finished_at", "worker", "retried_from"}
    assert job["progress"] == {"done": 0, "total": None, "message": "queued"}
    assert job["created_at"].endswith("+00:00")  # ISO 8601 with the UTC offset


@pytest.mark.parametrize(("kind", "params", "named"), [
    ("nope", {}, "kind"),
    ("noop", {"sleep": "long"}, "params.sleep"),
    ("noop", {"sleep": -1}, "params.sleep"),
    ("noop", {"speed": 1}, "params.speed"),
    ("index", {}, "params.library"),
    ("embed", {"image_ids": []}, "params.image_ids"),
    ("embed", {"image_ids": [1, "2"]}, "params.image_ids[1]"),
    ("noop", ["sleep"], "params"),
])
def test_bad_kind_or_params_are_refused_naming_the_field(jobs, outbox, kind, params, named):
    with pytest.raises(BadInput) as err:
        jobs.create(kind, params)
    assert str(err.value).startswith(named)
    assert err.value.field == named  # the edges read the field, never the message
    assert outbox.sent == [] and jobs.list() == []


def test_an_unknown_library_is_not_found_naming_the_parameter(jobs, outbox):
    with pytest.raises(NotFound) as err:
        jobs.create("index", {"library": "no-such-library"})
    assert err.value.field == "params.library" and str(err.value).startswith("params.library")
    assert outbox.sent == [] and jobs.list() == []


def test_broker_down_keeps_the_job_and_a_sweep_sends_it(ctx, jobs, outbox):
    outbox.down = True
    job = jobs.create("noop", {})
    assert job["status"] == "queued" and job["enqueued_at"] is None
    assert "waiting for the broker" in job["progress"]["message"]
    outbox.down = False
    report = sweep(ctx.catalog, 3, lambda jid, kind: outbox(jid, get_kind(kind).queue))
    assert report.resent == [job["id"]] and outbox.sent == [(job["id"], "cpu")]
    assert jobs.get(job["id"])["enqueued_at"] is not None


def test_get_list_filters_and_bad_arguments(jobs):
    a = jobs.create("noop", {})
    b = jobs.create("noop", {"sleep": 2})
    jobs.cancel(a["id"])
    assert [j["id"] for j in jobs.list()] == [b["id"], a["id"]]  # newest first
    assert [j["id"] for j in jobs.list(status="canceled")] == [a["id"]]
    assert [j["id"] for j in jobs.list(limit=1, offset=1)] == [a["id"]]
    assert jobs.list(kind="index") == []
    with pytest.raises(NotFound, match="no job with id 999"):
        jobs.get(999)
    with pytest.raises(BadInput, match="^status"):
        jobs.list(status="done")
    with pytest.raises(BadInput, match="^limit"):
        jobs.list(limit=0)


def test_claim_is_compare_and_set(ctx, jobs):
    job_id = jobs.create("noop", {})["id"]
    assert lease.claim(ctx.catalog, job_id, "w1", 3)
    assert not lease.claim(ctx.catalog, job_id, "w2", 3)  # running under a live lease
    _set(ctx, job_id, lease_expires_at=utcnow() - timedelta(seconds=1))
    assert lease.claim(ctx.catalog, job_id, "w2", 3) == ("noop", {"sleep": 0.0})  # lease expired: w2 takes it over
    assert not lease.renew(ctx.catalog, job_id, "w1", 3)  # w1 learns it lost the job
    assert not lease.finish(ctx.catalog, job_id, "w1", JobStatus.SUCCEEDED)
    assert lease.finish(ctx.catalog, job_id, "w2", JobStatus.SUCCEEDED, result={"ok": 1})
    assert not lease.claim(ctx.catalog, job_id, "w3", 3)  # finished: a late message is a no-op
    job = jobs.get(job_id)
    assert (job["status"], job["worker"], job["attempts"], job["result"]) == \
        ("succeeded", "w2", 2, {"ok": 1})


def test_cancel_queued_never_starts_and_touches_only_that_job(ctx, jobs):
    a, b = jobs.create("noop", {})["id"], jobs.create("noop", {})["id"]
    job = jobs.cancel(a)
    assert job["status"] == "canceled" and job["finished_at"] is not None
    assert execute(ctx, a, "w1") == "skipped"
    assert jobs.get(a)["started_at"] is None
    other = jobs.get(b)
    assert other["status"] == "queued" and not other["cancel_requested"]


def test_cancel_running_sets_the_flag_and_finished_is_unchanged(ctx, jobs):
    job_id = jobs.create("noop", {})["id"]
    assert lease.claim(ctx.catalog, job_id, "w1", 3)
    job = jobs.cancel(job_id)
    assert job["status"] == "running" and job["cancel_requested"]
    assert lease.finish(ctx.catalog, job_id, "w1", JobStatus.CANCELED)
    before = jobs.get(job_id)
    assert jobs.cancel(job_id) == before  # idempotent: a second click changes nothing


def test_retry_links_a_new_job_and_only_after_failure_or_cancel(ctx, jobs, outbox):
    job_id = jobs.create("noop", {"fail": "boom"})["id"]
    with pytest.raises(Conflict, match="only failed or canceled"):
        jobs.retry(job_id)
    assert execute(ctx, job_id, "w1") == "failed"
    failed = jobs.get(job_id)
    assert failed["error"] == "boom" and failed["finished_at"] is not None
    again = jobs.retry(job_id)
    assert again["retried_from"] == job_id and again["id"] != job_id
    assert again["status"] == "queued" and again["params"] == failed["params"]
    assert outbox.sent[-1] == (again["id"], "cpu")


def test_execute_records_success_progress_and_worker(ctx, jobs):
    job_id = jobs.create("noop", {"sleep": 0.3})["id"]
    assert execute(ctx, job_id, "host:1") == "succeeded"
    job = jobs.get(job_id)
    assert job["status"] == "succeeded" and job["result"] == {"slept": 0.3}
    assert job["worker"] == "host:1" and job["attempts"] == 1
    assert job["started_at"] <= job["finished_at"]


def test_execute_unexpected_error_fails_with_type_and_message(ctx, jobs):
    @job_kind("test-crash", queue="cpu", params={"n": Param(int)})
    def crash(ctx, handle):  # noqa: ANN001, ANN202
        handle.progress(1, 2, "half")
        raise ZeroDivisionError("division by zero")

    job_id = jobs.create("test-crash", {"n": 1})["id"]
    assert execute(ctx, job_id, "w") == "failed"
    job = jobs.get(job_id)
    assert job["error"] == "ZeroDivisionError: division by zero"
    assert job["progress"]["done"] == 1 and job["progress"]["message"] == "half"


def test_should_cancel_reads_the_flag_within_the_poll_interval(ctx, jobs, monkeypatch):
    monkeypatch.setattr(runner, "CANCEL_POLL_SECONDS", 0.05)
    job_id = jobs.create("noop", {})["id"]
    assert lease.claim(ctx.catalog, job_id, "w", 3)
    handle = runner.JobHandle(ctx, job_id, "noop", {}, "w")
    assert not handle.should_cancel()
    jobs.cancel(job_id)
    time.sleep(0.06)
    assert handle.should_cancel()


def test_a_stopping_worker_requeues_its_job_without_counting_an_attempt(ctx, jobs):
    job_id = jobs.create("noop", {"sleep": 5})["id"]
    sent = []
    started = time.monotonic()
    outcome = execute(ctx, job_id, "w", stopping=lambda: time.monotonic() - started > 0.3,
                      requeue=lambda jid, kind: sent.append((jid, kind)))
    assert outcome == "released" and sent == [(job_id, "noop")]
    job = jobs.get(job_id)
    assert job["status"] == "queued" and job["attempts"] == 0 and job["worker"] is None


def test_sweep_requeues_expired_leases_then_gives_up(ctx, jobs):
    job_id = jobs.create("noop", {})["id"]
    sent: list[int] = []
    for attempt in range(1, MAX_ATTEMPTS + 1):
        assert lease.claim(ctx.catalog, job_id, f"w{attempt}", 3)
        assert sweep(ctx.catalog, 3, lambda jid, kind: sent.append(jid)).requeued == []  # live
        _set(ctx, job_id, lease_expires_at=utcnow() - timedelta(seconds=1))
        report = sweep(ctx.catalog, 3, lambda jid, kind: sent.append(jid))
        if attempt < MAX_ATTEMPTS:
            assert report.requeued == [job_id]
            assert jobs.get(job_id)["status"] == "queued"
    assert report.failed == [job_id] and sent == [job_id] * (MAX_ATTEMPTS - 1)
    job = jobs.get(job_id)
    assert job["status"] == "failed" and "stopped responding 3 times" in job["error"]


def test_sweep_cancels_an_abandoned_job_whose_cancel_was_requested(ctx, jobs):
    job_id = jobs.create("noop", {})["id"]
    assert lease.claim(ctx.catalog, job_id, "w", 3)
    jobs.cancel(job_id)
    _set(ctx, job_id, lease_expires_at=utcnow() - timedelta(seconds=1))
    assert sweep(ctx.catalog, 3, lambda *a: None).canceled == [job_id]
    assert jobs.get(job_id)["status"] == "canceled"


def test_sweep_resends_only_stale_queued_jobs(ctx, jobs):
    fresh = jobs.create("noop", {})["id"]
    stale = jobs.create("noop", {})["id"]
    _set(ctx, stale, enqueued_at=utcnow() - timedelta(seconds=resend_after(3) + 1))
    sent: list[int] = []
    assert sweep(ctx.catalog, 3, lambda jid, kind: sent.append(jid)).resent == [stale]
    assert sent == [stale] and fresh not in sent
    assert sweep(ctx.catalog, 3, lambda jid, kind: sent.append(jid)).resent == []  # once


def _set_clock(monkeypatch, minutes: float) -> None:
    """Make this process's clock run ``minutes`` off, wherever Daguerre reads it."""
    def skewed():
        return _REAL_UTCNOW() + timedelta(minutes=minutes)

    for name, module in list(sys.modules.items()):
        if name.startswith("daguerre.") and hasattr(module, "utcnow"):
            monkeypatch.setattr(module, "utcnow", skewed)


_REAL_UTCNOW = models.utcnow


@pytest.mark.postgres
def test_leases_hold_when_worker_clocks_disagree(pg_url, tmp_path, monkeypatch):
    """Two machines whose clocks are 20 minutes apart, with a 60 s lease: the slow one's live
    lease is neither swept nor taken by the fast one, because the database's clock decides."""
    ctx = Context(load_settings(env={"DAGUERRE_HOME": str(tmp_path / "home"),
                                     "DAGUERRE_DATABASE_URL": pg_url}))
    try:
        jobs = Jobs(ctx, send=Outbox())
        job_id = jobs.create("noop", {})["id"]
        with ctx.catalog.session() as s:
            library = Library(name="pics", root=str(tmp_path / "pics"))
            s.add(library)
            s.flush()
            library_id = library.id

        _set_clock(monkeypatch, -10)  # the worker that runs the job is ten minutes slow
        assert lease.claim(ctx.catalog, job_id, "slow", 60)
        assert lease.renew(ctx.catalog, job_id, "slow", 60)
        with indexing_lease(ctx.catalog, library_id, owner="slow-host:1"):
            _set_clock(monkeypatch, +10)  # another worker is ten minutes fast
            assert sweep(ctx.catalog, 60, lambda *a: None).requeued == []
            assert not lease.claim(ctx.catalog, job_id, "fast", 60)
            with pytest.raises(LibraryBusy, match="slow-host:1"), \
                    indexing_lease(ctx.catalog, library_id, owner="fast-host:2"):
                pass
        _set_clock(monkeypatch, -10)
        assert lease.finish(ctx.catalog, job_id, "slow", JobStatus.SUCCEEDED)
        job = jobs.get(job_id)
        assert (job["status"], job["worker"], job["attempts"]) == ("succeeded", "slow", 1)
    finally:
        ctx.close()


def test_embed_kind_puts_the_listed_images_in_the_store(clip_env, tmp_path, monkeypatch):
    from sqlalchemy import select

    from daguerre.platform.catalog.models import ImageEmbedding, Library
    from daguerre.platform.services.indexing import index_library
    from tests.support.images import noise_image

    monkeypatch.setenv("DAGUERRE_DECODE_WORKERS", "1")
    root = tmp_path / "lib"
    root.mkdir()
    for i in range(5):
        noise_image(i).save(root / f"{i}.jpg")
    ctx = Context()
    try:
        with ctx.catalog.session() as s:
            s.add(Library(name="lib", root=str(root)))
        index_library(ctx, "lib")
        store = ctx.store()
        with ctx.catalog.session() as s:
            ids = sorted(s.scalars(select(ImageEmbedding.image_id)))
        with store.edit() as st:  # lose two vectors; the embed job must bring them back
            st.remove(ids[:2])
        assert sorted(ctx.store().ids().tolist()) == ids[2:]
        jobs = Jobs(ctx, send=lambda *a: None)
        job_id = jobs.create("embed", {"image_ids": ids[:2] + [99999]})["id"]
        assert execute(ctx, job_id, "w") == "succeeded"
        job = jobs.get(job_id)
        assert job["result"] == {"embedded": 2, "failed": [], "skipped": [99999]}
        assert job["progress"]["done"] == job["progress"]["total"] == 2
        assert sorted(ctx.store().ids().tolist()) == ids
    finally:
        ctx.close()


def test_service_lookup_names_what_is_missing():
    from daguerre.platform.jobs import kinds

    assert kinds._service("daguerre.platform.jobs.kinds", "run_noop") is kinds.run_noop
    with pytest.raises(BadInput, match="no daguerre.platform.nothing_here.f,"):
        kinds._service("daguerre.platform.nothing_here", "f")
    with pytest.raises(BadInput, match="no daguerre.platform.jobs.kinds.nope,"):
        kinds._service("daguerre.platform.jobs.kinds", "nope")


def test_kinds_lists_every_registered_kind_sorted():
    from daguerre.platform.services.jobs import kinds

    names = kinds()
    assert names == sorted(names) and {"index", "noop", "restore"} <= set(names)


def test_retries_lists_the_jobs_made_by_retrying_one(ctx, jobs):
    job_id = jobs.create("noop", {"fail": "boom"})["id"]
    assert execute(ctx, job_id, "w1") == "failed"
    assert jobs.retries(job_id) == []
    first, second = jobs.retry(job_id)["id"], jobs.retry(job_id)["id"]
    assert jobs.retries(job_id) == [first, second]
    with pytest.raises(NotFound):
        jobs.retries(999)


def test_clear_finished_deletes_finished_jobs_and_keeps_what_they_made(ctx, jobs):
    from daguerre.platform.catalog.db import database_now
    from daguerre.platform.catalog.models import Image, ImageOrigin, Lineage

    done = jobs.create("noop", {})["id"]
    failed = jobs.create("noop", {"fail": "boom"})["id"]
    assert execute(ctx, done, "w1") == "succeeded"
    assert execute(ctx, failed, "w1") == "failed"
    queued = jobs.create("noop", {})["id"]
    running = jobs.create("noop", {})["id"]
    assert lease.claim(ctx.catalog, running, "w1", 3)
    retry = jobs.retry(failed)["id"]  # a finished job its retry needs is not finished with
    late = jobs.create("noop", {})["id"]
    assert execute(ctx, late, "w1") == "succeeded"
    with ctx.catalog.session() as s:  # an image the finished job made, with its lineage
        image = Image(path="generated/x.png", sha256="0" * 64, size=1, mtime=0.0, width=1,
                      height=1, format="PNG", origin=ImageOrigin.GENERATED)
        s.add(image)
        s.flush()
        s.add(Lineage(image_id=image.id, job_id=done, operation="noop", params={"a": 1}))

    with ctx.catalog.session() as s:
        before_late = database_now(s)
    _set(ctx, late, finished_at=before_late + timedelta(hours=1))
    assert jobs.clear_finished(before=before_late) == {"deleted": 1, "kept": 1}
    remaining = {j["id"] for j in jobs.list()}
    assert remaining == {failed, queued, running, retry, late}
    with ctx.catalog.session() as s:
        row = s.query(Lineage).one()
        assert (row.job_id, row.operation, row.params) == (None, "noop", {"a": 1})
        assert s.query(Image).count() == 1

    # Once the retry finished, its chain is no longer needed: everything finished goes.
    assert execute(ctx, retry, "w1") == "failed"
    assert jobs.clear_finished(before=before_late + timedelta(hours=2)) == \
        {"deleted": 3, "kept": 0}
    assert {j["id"] for j in jobs.list()} == {queued, running}
    assert jobs.clear_finished() == {"deleted": 0, "kept": 0}
