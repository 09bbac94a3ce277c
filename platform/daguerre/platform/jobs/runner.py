"""Running one job in a worker: claim it, hold its lease, run its kind, record the outcome.

This is plain Python (no Celery), so the task in :mod:`.tasks` is a thin shell and the logic can
be exercised directly. A job runs only after :func:`lease.claim` succeeded, so a duplicate
message, or one for a job that is finished or canceled, does nothing.
"""

from __future__ import annotations

import logging
import threading
import time
import traceback
from collections.abc import Callable
from typing import Any

from daguerre.platform.catalog.models import Job, JobStatus
from daguerre.platform.context import Context
from daguerre.platform.error_map import lookup
from daguerre.platform.errors import Canceled, DaguerreError
from daguerre.platform.jobs import lease
from daguerre.platform.jobs.registry import get_kind

log = logging.getLogger(__name__)

CANCEL_POLL_SECONDS = 0.5  # how often should_cancel() reads the flag from the catalog
PROGRESS_WRITE_SECONDS = 0.2  # progress is written at most this often (the rest on heartbeat)


class JobHandle:
    """What a kind's function gets: its parameters, progress reporting and cancellation."""

    def __init__(self, ctx: Context, job_id: int, kind: str, params: dict[str, Any],
                 worker: str, *, stopping: Callable[[], bool] = lambda: False,
                 soft_time_limit: float | None = None) -> None:
        self.ctx, self.job_id, self.kind, self.params = ctx, job_id, kind, params
        self.worker = worker
        self._stopping = stopping
        self._deadline = (time.monotonic() + soft_time_limit) if soft_time_limit else None
        self._lock = threading.Lock()
        self._pending: dict[str, Any] | None = None
        self._last_write = 0.0
        self._last_poll = 0.0
        self._cancel_flag = False
        self.lost = False  # another worker took the job over (our lease expired)
        self.timed_out = False

    # -- progress ---------------------------------------------------------------------------
    def progress(self, done: int, total: int | None = None, message: str | None = None) -> None:
        """Report ``done`` of ``total`` units; written to the catalog at most every 0.2 s."""
        values: dict[str, Any] = {"progress_done": int(done)}
        if total is not None:
            values["progress_total"] = int(total)
        if message is not None:
            values["message"] = str(message)[:2000]
        with self._lock:
            self._pending = {**(self._pending or {}), **values}
            now = time.monotonic()
            if now - self._last_write < PROGRESS_WRITE_SECONDS:
                return
            pending, self._pending, self._last_write = self._pending, None, now
        if not lease.write_progress(self.ctx.catalog, self.job_id, self.worker, pending):
            self.lost = True

    def take_pending(self) -> dict[str, Any] | None:
        with self._lock:
            pending, self._pending = self._pending, None
            return pending

    # -- cancellation -----------------------------------------------------------------------
    @property
    def stopping(self) -> bool:
        return self._stopping()

    def should_cancel(self) -> bool:
        """True when the job should stop at the next safe point: a person canceled it, the
        worker is shutting down, the soft time limit passed, or the lease was lost."""
        if self.lost or self._stopping():
            return True
        if self._deadline is not None and time.monotonic() > self._deadline:
            self.timed_out = True
            return True
        now = time.monotonic()
        if now - self._last_poll >= CANCEL_POLL_SECONDS:
            self._last_poll = now
            with self.ctx.catalog.session() as s:
                self._cancel_flag = bool(s.get(Job, self.job_id).cancel_requested)
        return self._cancel_flag

    def check_canceled(self) -> None:
        """Raise :class:`~daguerre.platform.errors.Canceled` when :meth:`should_cancel` says so."""
        if self.should_cancel():
            raise Canceled(f"job {self.job_id} stopped")


class _Heartbeat(threading.Thread):
    """Renews the lease every lease/3 seconds and flushes pending progress."""

    def __init__(self, handle: JobHandle, lease_seconds: float,
                 hard_time_limit: float | None,
                 on_hard_limit: Callable[[], None] | None = None) -> None:
        super().__init__(name=f"daguerre-job-{handle.job_id}-lease", daemon=True)
        self.handle, self.lease_seconds = handle, lease_seconds
        self.hard_deadline = (time.monotonic() + hard_time_limit) if hard_time_limit else None
        self.on_hard_limit = on_hard_limit
        self.stop_event = threading.Event()

    def run(self) -> None:
        h = self.handle
        while not self.stop_event.wait(max(0.2, self.lease_seconds / 3)):
            try:
                if self.hard_deadline is not None and time.monotonic() > self.hard_deadline:
                    # End the job so nobody runs it again, and stop renewing; the job stops at
                    # its next check (it is "lost").
                    lease.finish(h.ctx.catalog, h.job_id, h.worker, JobStatus.FAILED,
                                 error="exceeded the hard time limit of "
                                       f"{h.ctx.settings.task_hard_time_limit} s "
                                       "(task_hard_time_limit)")
                    h.lost = True
                    # A job stuck inside one call never checks: a thread cannot be killed, so
                    # the worker process ends and its supervisor starts a fresh one.
                    if not self.stop_event.wait(max(self.lease_seconds, 1.0)) \
                            and self.on_hard_limit is not None:
                        self.on_hard_limit()
                    return
                if not lease.renew(h.ctx.catalog, h.job_id, h.worker, self.lease_seconds,
                                   h.take_pending()):
                    h.lost = True
                    return
            except Exception:  # noqa: BLE001 - a database hiccup must not kill the heartbeat
                log.exception("job %s: could not renew the lease", h.job_id)


# How an error ends a job, by class (a subclass not listed takes its nearest base's): a cancel
# ends it canceled; every other error a person can act on fails it with its message alone.
# Anything else is a bug: the job fails with "Type: message" and the traceback goes to the log.
JOB_STATUS: dict[type[DaguerreError], JobStatus] = {
    Canceled: JobStatus.CANCELED,
    DaguerreError: JobStatus.FAILED,
}


def job_outcome(exc: BaseException) -> tuple[JobStatus, str]:
    """The status and ``error`` text a job ends with when ``exc`` stops it."""
    status = lookup(JOB_STATUS, exc)
    text = str(exc)
    if status is not None:
        return status, text or type(exc).__name__
    name = type(exc).__name__
    return JobStatus.FAILED, f"{name}: {text}" if text else name


def job_error(exc: BaseException) -> str:
    """A failed job's ``error`` (see :func:`job_outcome`)."""
    return job_outcome(exc)[1]


def execute(ctx: Context, job_id: int, worker: str, *,
            stopping: Callable[[], bool] = lambda: False,
            requeue: Callable[[int, str], None] | None = None,
            on_hard_limit: Callable[[], None] | None = None) -> str:
    """Claim and run job ``job_id``. Returns the outcome: ``skipped`` (not ours to run),
    ``succeeded``, ``failed``, ``canceled``, ``released`` (worker stopping; requeued) or
    ``lost`` (another worker took it over).

    ``on_hard_limit`` is called (from the heartbeat thread) when the job is still running one
    lease after it was failed for passing ``task_hard_time_limit``: a worker ends its process
    there, since nothing else can stop a job stuck inside one call."""
    settings = ctx.settings
    lease_seconds = float(settings.job_lease_seconds)
    claimed = lease.claim(ctx.catalog, job_id, worker, lease_seconds)
    if claimed is None:
        log.info("job %s: not claimable (finished, canceled or running elsewhere); skipped",
                 job_id)
        return "skipped"
    kind_name, params = claimed

    handle = JobHandle(ctx, job_id, kind_name, params, worker, stopping=stopping,
                       soft_time_limit=settings.task_soft_time_limit)
    beat = _Heartbeat(handle, lease_seconds, settings.task_hard_time_limit, on_hard_limit)
    beat.start()
    log.info("job %s (%s) started on %s", job_id, kind_name, worker)
    outcome = "failed"
    try:
        try:
            kind = get_kind(kind_name)
            result = kind.run(ctx, handle)
        except BaseException as exc:
            if isinstance(exc, KeyboardInterrupt | SystemExit) and not handle.stopping:
                raise
            outcome = _on_error(ctx, handle, exc, requeue)
        else:
            if result is not None and not isinstance(result, dict):
                result = {"value": result}
            ok = lease.finish(ctx.catalog, job_id, worker, JobStatus.SUCCEEDED, result=result,
                              progress=handle.take_pending())
            outcome = "succeeded" if ok else "lost"
    finally:
        beat.stop_event.set()
        beat.join(timeout=5)
    log.info("job %s (%s): %s", job_id, kind_name, outcome)
    return outcome


def _on_error(ctx: Context, handle: JobHandle, exc: BaseException,
              requeue: Callable[[int, str], None] | None) -> str:
    cat, job_id, worker = ctx.catalog, handle.job_id, handle.worker
    pending = handle.take_pending()
    if handle.lost:
        return "lost"
    from celery.exceptions import SoftTimeLimitExceeded  # Celery's own soft limit, if it fired

    if handle.timed_out or isinstance(exc, SoftTimeLimitExceeded):
        limit = ctx.settings.task_soft_time_limit
        lease.finish(cat, job_id, worker, JobStatus.FAILED, progress=pending,
                     error=f"exceeded the soft time limit of {limit} s (task_soft_time_limit)")
        return "failed"
    status, error = job_outcome(exc)
    if status is JobStatus.CANCELED or isinstance(exc, KeyboardInterrupt | SystemExit):
        with cat.session() as s:
            canceled = bool(s.get(Job, job_id).cancel_requested)
        if not canceled and handle.stopping:
            if lease.release(cat, job_id, worker, "requeued: its worker shut down"):
                if requeue is not None:
                    try:
                        requeue(job_id, handle.kind)
                    except Exception:  # noqa: BLE001 - the sweeper resends it later
                        log.exception("job %s: could not requeue; the sweeper will", job_id)
                return "released"
            return "lost"
        lease.finish(cat, job_id, worker, JobStatus.CANCELED, progress=pending,
                     error=None if canceled else str(exc) or "canceled")
        return "canceled"
    if lookup(JOB_STATUS, exc) is None:
        log.error("job %s (%s) failed:\n%s", job_id, handle.kind,
                  "".join(traceback.format_exception(exc)))
    lease.finish(cat, job_id, worker, JobStatus.FAILED, error=error, progress=pending)
    return "failed"
