"""Jobs as the CLI, the JSON API and the dashboard see them: create, get, list, cancel, retry,
the retries of a job, the kinds there are, and clearing finished jobs away.

``create`` validates the kind and its parameters, commits the row, and only then sends the
message (a worker can never receive an id whose row it cannot read). If the broker is down the
job is kept, marked unsent, and the next sweep of any worker sends it: nothing is lost.

Cancel semantics: a queued job becomes ``canceled`` at once and never starts (its message, when
it arrives, finds nothing to claim); a running job gets ``cancel_requested`` and its worker ends
it ``canceled`` at the next batch; a finished job is returned unchanged (cancel is idempotent, so
a double click is harmless). Only the named job's row is touched, and those of its chunks when
it is an index job spread over workers (jobs/fanout.py): canceling the run stops them all.

Clearing finished jobs (:meth:`Jobs.clear_finished`) deletes the rows of jobs that finished
(succeeded, failed, canceled) by the given time. What they made stays: their output images are
catalog rows of their own, and each lineage row keeps its operation and full parameters; only
its link to the job becomes NULL (the schema's ``ON DELETE SET NULL``, also done explicitly so
it holds on a database that does not enforce foreign keys). A later job that retried a cleared
one loses its ``retried_from`` link the same way. Jobs in the retry chain of a queued or running
job are kept: a restore resumes from the outputs of the jobs it retries, found through that chain.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import datetime
from typing import Any

from sqlalchemy import delete, select, update

from daguerre.platform.catalog.db import database_now
from daguerre.platform.catalog.models import Job, JobStatus, Lineage, iso
from daguerre.platform.context import Context
from daguerre.platform.errors import BadInput, Conflict, NotFound
from daguerre.platform.jobs.registry import get_kind, load_kinds

log = logging.getLogger(__name__)

STATUSES = tuple(s.value for s in JobStatus)
MAX_LIST = 1000
FINISHED = tuple(s for s in JobStatus if s.finished)
UNFINISHED = tuple(s for s in JobStatus if not s.finished)
# Rows deleted per statement: bounded IN lists (SQLite caps the number of parameters).
CHUNK = 500


def kinds() -> list[str]:
    """The names of every registered job kind, sorted (the dashboard's kind filter)."""
    return sorted(load_kinds())


def chunk_jobs(ctx: Context, parent_id: int, *, unfinished_only: bool = False) -> list[int]:
    """The ids of an index job's chunk jobs (jobs/fanout.py), oldest first."""
    query = (select(Job.id).where(Job.kind == "index_chunk",
                                  Job.params["parent"].as_integer() == parent_id)
             .order_by(Job.id))
    if unfinished_only:
        query = query.where(Job.status.in_(UNFINISHED))
    with ctx.catalog.session() as s:
        return list(s.scalars(query))


def job_to_dict(job: Job) -> dict[str, Any]:
    """The JSON form of a job (the CLI's ``--json`` and the API share it)."""
    status = JobStatus(job.status)
    return {
        "id": job.id,
        "kind": job.kind,
        "status": status.value,
        "progress": {"done": job.progress_done or 0, "total": job.progress_total,
                     "message": job.message},
        "params": job.params or {},
        "error": job.error,
        "result": job.result,
        "cancel_requested": bool(job.cancel_requested),
        "attempts": job.attempts or 0,
        "worker": job.worker,
        "retried_from": job.retried_from,
        "created_at": iso(job.created_at),
        "enqueued_at": iso(job.enqueued_at),
        "started_at": iso(job.started_at),
        "finished_at": iso(job.finished_at),
        "finished": status.finished,
    }


Sender = Callable[[int, str], None]  # (job id, queue)


class Jobs:
    """The job service over one :class:`Context`. ``send`` replaces the broker (tests)."""

    def __init__(self, ctx: Context, *, send: Sender | None = None) -> None:
        self.ctx = ctx
        self._send = send

    def send(self, job_id: int, queue: str) -> None:
        if self._send is not None:
            self._send(job_id, queue)
            return
        from daguerre.platform.jobs.celery_app import send_job

        send_job(self.ctx.settings, job_id, queue)

    # -- commands ---------------------------------------------------------------------------
    def create(self, kind: str, params: dict[str, Any] | None = None, *,
               retried_from: int | None = None) -> dict[str, Any]:
        """Validate, commit a queued job, then send its id to the workers."""
        spec = get_kind(kind)
        clean = spec.validate(self.ctx, params)
        with self.ctx.catalog.session() as s:
            job = Job(kind=spec.name, params=clean, status=JobStatus.QUEUED,
                      retried_from=retried_from, enqueued_at=database_now(s), message="queued")
            s.add(job)
            s.flush()
            job_id = job.id
        try:
            self.send(job_id, spec.queue)
        except Exception as exc:  # noqa: BLE001 - keep the job; a worker's sweep sends it
            log.warning("job %s: broker unavailable (%s); a worker will send it", job_id, exc)
            with self.ctx.catalog.session() as s:
                s.execute(update(Job).where(Job.id == job_id, Job.status == JobStatus.QUEUED)
                          .values(enqueued_at=None,
                                  message=f"waiting for the broker: {exc}"[:2000])
                          .execution_options(synchronize_session=False))
        return self.get(job_id)

    def get(self, job_id: int) -> dict[str, Any]:
        with self.ctx.catalog.session() as s:
            return job_to_dict(self._row(s, job_id))

    def list(self, *, status: str | None = None, kind: str | None = None, limit: int = 50,
             offset: int = 0) -> list[dict[str, Any]]:
        """Newest first."""
        if status is not None and status not in STATUSES:
            raise BadInput(f"status must be one of {', '.join(STATUSES)}, got {status!r}",
                           field="status", value=status)
        if isinstance(limit, bool) or not isinstance(limit, int) or not 1 <= limit <= MAX_LIST:
            raise BadInput(f"limit must be an integer from 1 to {MAX_LIST}, got {limit!r}",
                           field="limit", value=limit)
        if isinstance(offset, bool) or not isinstance(offset, int) or offset < 0:
            raise BadInput(f"offset must be a non-negative integer, got {offset!r}",
                           field="offset", value=offset)
        query = select(Job).order_by(Job.id.desc()).limit(limit).offset(offset)
        if status is not None:
            query = query.where(Job.status == JobStatus(status))
        if kind is not None:
            query = query.where(Job.kind == kind)
        with self.ctx.catalog.session() as s:
            return [job_to_dict(j) for j in s.scalars(query)]

    def cancel(self, job_id: int) -> dict[str, Any]:
        """Cancel one job (see the module docstring), and the chunks of an index job with it;
        returns it as it is now."""
        with self.ctx.catalog.session() as s:
            self._row(s, job_id)
        for one in [job_id, *chunk_jobs(self.ctx, job_id, unfinished_only=True)]:
            with self.ctx.catalog.session() as s:
                now = database_now(s)
                # queued -> canceled at once; the compare-and-set loses to a worker's claim.
                done = s.execute(
                    update(Job).where(Job.id == one, Job.status == JobStatus.QUEUED)
                    .values(status=JobStatus.CANCELED, cancel_requested=True, finished_at=now,
                            message="canceled before it started")
                    .execution_options(synchronize_session=False)).rowcount
                if not done:
                    s.execute(
                        update(Job).where(Job.id == one, Job.status == JobStatus.RUNNING)
                        .values(cancel_requested=True, message="cancel requested")
                        .execution_options(synchronize_session=False))
        return self.get(job_id)

    def retry(self, job_id: int) -> dict[str, Any]:
        """A new job with the same kind and parameters, linked by ``retried_from``."""
        with self.ctx.catalog.session() as s:
            job = self._row(s, job_id)
            status = JobStatus(job.status)
            kind, params = job.kind, dict(job.params or {})
        if status not in (JobStatus.FAILED, JobStatus.CANCELED):
            raise Conflict(f"job {job_id} is {status.value}: only failed or canceled jobs "
                           "can be retried", field="job_id", value=job_id)
        return self.create(kind, params, retried_from=job_id)

    def retries(self, job_id: int) -> list[int]:
        """The ids of the jobs made by retrying ``job_id``, oldest first."""
        with self.ctx.catalog.session() as s:
            self._row(s, job_id)
            return list(s.scalars(select(Job.id).where(Job.retried_from == job_id)
                                  .order_by(Job.id)))

    def clear_finished(self, before: datetime | None = None) -> dict[str, int]:
        """Delete the jobs that finished at or before ``before`` (default: now, the database's
        clock), but those a queued or running job's retry chain needs (see the module
        docstring). Returns ``{"deleted": n, "kept": k}``, ``kept`` counting finished jobs
        kept for a chain."""
        with self.ctx.catalog.session() as s:
            cutoff = before if before is not None else database_now(s)
            links = dict(s.execute(select(Job.id, Job.retried_from)
                                   .where(Job.retried_from.is_not(None))).all())
            # Walk each unfinished job's chain back: a restore resumes from its ancestors.
            needed: set[int] = set()
            for job_id in s.scalars(select(Job.id).where(Job.status.in_(UNFINISHED))):
                earlier = links.get(job_id)
                while earlier is not None and earlier not in needed:
                    needed.add(earlier)
                    earlier = links.get(earlier)
            finished = list(s.scalars(select(Job.id).where(Job.status.in_(FINISHED),
                                                           Job.finished_at <= cutoff)))
            doomed = [j for j in finished if j not in needed]
            for start in range(0, len(doomed), CHUNK):
                ids = doomed[start:start + CHUNK]
                s.execute(update(Lineage).where(Lineage.job_id.in_(ids)).values(job_id=None)
                          .execution_options(synchronize_session=False))
                s.execute(update(Job).where(Job.retried_from.in_(ids))
                          .values(retried_from=None)
                          .execution_options(synchronize_session=False))
                s.execute(delete(Job).where(Job.id.in_(ids))
                          .execution_options(synchronize_session=False))
        return {"deleted": len(doomed), "kept": len(finished) - len(doomed)}

    # -- helpers ----------------------------------------------------------------------------
    @staticmethod
    def _row(s: Any, job_id: int) -> Job:
        if isinstance(job_id, bool) or not isinstance(job_id, int):
            raise BadInput(f"job id must be an integer, got {job_id!r}", field="job_id",
                           value=job_id)
        job = s.get(Job, job_id)
        if job is None:
            raise NotFound(f"no job with id {job_id}", field="job_id", value=job_id)
        return job
