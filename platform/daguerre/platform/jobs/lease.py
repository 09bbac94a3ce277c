"""Compare-and-set transitions of a job row: claim, renew, progress, finish, release.

Every transition is one ``UPDATE ... WHERE`` whose condition states what must still be true
(the job is queued, or running under *this* worker's lease), and the row count says whether it
happened. That works the same on SQLite and PostgreSQL and makes every message idempotent: a
second message for a job that is finished, or running under a live lease, changes nothing.

Times come from the database server's clock (:func:`database_now`), read in the same session as
the update, so workers on machines whose clocks disagree still agree on whose lease is live.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import and_, or_, update

from daguerre.platform.catalog.db import Catalog, database_now
from daguerre.platform.catalog.models import Job, JobStatus


def _run(catalog: Catalog, make: Callable[[datetime], Any]) -> int:
    """Execute ``make(now)``, ``now`` read from the database's clock in the same session."""
    with catalog.session() as s:
        return s.execute(make(database_now(s))).rowcount


def claim(catalog: Catalog, job_id: int, worker: str, lease_seconds: float,
          now: datetime | None = None) -> tuple[str, dict[str, Any]] | None:
    """Take the job for ``worker`` if it is queued (and not canceled), or running under an
    expired lease. Counts an attempt. Returns the job's (kind, params), or None when it was
    not claimable (one statement: UPDATE ... RETURNING, on SQLite >= 3.35 and PostgreSQL)."""
    def stmt(at: datetime) -> Any:
        return (update(Job)
                .where(Job.id == job_id, Job.cancel_requested.is_(False),
                       or_(Job.status == JobStatus.QUEUED,
                           and_(Job.status == JobStatus.RUNNING, Job.lease_expires_at < at)))
                .values(status=JobStatus.RUNNING, worker=worker, attempts=Job.attempts + 1,
                        lease_expires_at=at + timedelta(seconds=lease_seconds),
                        started_at=at, finished_at=None, error=None,
                        # "queued" (or a requeue's reason) no longer describes it.
                        message=f"started on {worker}")
                .returning(Job.kind, Job.params)
                .execution_options(synchronize_session=False))

    with catalog.session() as s:
        row = s.execute(stmt(now or database_now(s))).first()
    return None if row is None else (row.kind, dict(row.params or {}))


def _mine(job_id: int, worker: str) -> Any:
    return and_(Job.id == job_id, Job.worker == worker, Job.status == JobStatus.RUNNING)


def renew(catalog: Catalog, job_id: int, worker: str, lease_seconds: float,
          progress: dict[str, Any] | None = None) -> bool:
    """Extend the lease (and write pending progress); False when the job is no longer ours."""
    return _run(catalog, lambda now: (
        update(Job).where(_mine(job_id, worker))
        .values(lease_expires_at=now + timedelta(seconds=lease_seconds), **(progress or {}))
        .execution_options(synchronize_session=False))) == 1


def write_progress(catalog: Catalog, job_id: int, worker: str, progress: dict[str, Any]) -> bool:
    stmt = (update(Job).where(_mine(job_id, worker)).values(**progress)
            .execution_options(synchronize_session=False))
    with catalog.session() as s:  # no time is written: no need to ask the database's clock
        return s.execute(stmt).rowcount == 1


def finish(catalog: Catalog, job_id: int, worker: str, status: JobStatus, *,
           result: dict[str, Any] | None = None, error: str | None = None,
           progress: dict[str, Any] | None = None) -> bool:
    """End the job as ``status`` if this worker still holds it."""
    values: dict[str, Any] = {"status": status, "lease_expires_at": None, "error": error}
    if result is not None:
        values["result"] = result
    values.update(progress or {})
    return _run(catalog, lambda now: (
        update(Job).where(_mine(job_id, worker)).values(finished_at=now, **values)
        .execution_options(synchronize_session=False))) == 1


def release(catalog: Catalog, job_id: int, worker: str, message: str) -> bool:
    """Give a running job back to the queue (its worker is shutting down). The attempt it used
    is not counted: stopping a worker is not the job's fault."""
    return _run(catalog, lambda now: (
        update(Job).where(_mine(job_id, worker), Job.cancel_requested.is_(False))
        .values(status=JobStatus.QUEUED, worker=None, lease_expires_at=None,
                attempts=Job.attempts - 1, enqueued_at=now, message=message)
        .execution_options(synchronize_session=False))) == 1
