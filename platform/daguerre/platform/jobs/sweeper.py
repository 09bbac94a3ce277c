"""Finding work that a dead worker left behind, and sending it again.

Run by every worker at start and then every ``lease/2`` seconds (bounded to 0.5–30 s):

- a job ``running`` whose lease expired lost its worker (SIGKILL, OOM, power): it goes back to
  ``queued`` and is sent again; after :data:`MAX_ATTEMPTS` starts it fails with the reason, so a
  job that kills its worker every time does not loop forever. One whose cancel was requested
  ends ``canceled``.
- a job ``queued`` whose message may have died with a worker (the filesystem transport keeps no
  unacked message across a SIGKILL) is sent again when it was last sent more than
  :func:`resend_after` seconds ago, or never (the broker was down when it was created).

Every change is a compare-and-set on the row, so workers sweeping at the same time act once, and
a message sent twice is harmless: only one worker can claim the job.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from sqlalchemy import and_, or_, select, update

from daguerre.platform.catalog.db import Catalog, database_now
from daguerre.platform.catalog.models import Job, JobStatus

log = logging.getLogger(__name__)

MAX_ATTEMPTS = 3


def resend_after(lease_seconds: float) -> float:
    """How long a queued job waits before its message is presumed lost and sent again.

    Long enough that jobs waiting behind a long one are rarely resent (a resent message for a
    job that later runs is a no-op), short enough that a lost one does not wait for ever.
    """
    return max(10 * lease_seconds, 30.0)


def sweep_interval(lease_seconds: float) -> float:
    return min(30.0, max(0.5, lease_seconds / 2))


@dataclass
class SweepReport:
    requeued: list[int] = field(default_factory=list)
    resent: list[int] = field(default_factory=list)
    failed: list[int] = field(default_factory=list)
    canceled: list[int] = field(default_factory=list)

    def __bool__(self) -> bool:
        return bool(self.requeued or self.resent or self.failed or self.canceled)


def sweep(catalog: Catalog, lease_seconds: float, send: Callable[[int, str], None],
          now: datetime | None = None) -> SweepReport:
    """One pass; ``send(job_id, kind)`` enqueues a message (called after each commit).

    ``now`` defaults to the database's clock, the one every worker's lease was written by.
    """
    report = SweepReport()
    with catalog.session() as s:
        now = now or database_now(s)
        expired = s.execute(
            select(Job.id, Job.kind, Job.worker, Job.attempts, Job.cancel_requested, Job.lease_expires_at)
            .where(Job.status == JobStatus.RUNNING, Job.lease_expires_at < now)).all()
        stale_before = now - timedelta(seconds=resend_after(lease_seconds))
        unsent = s.execute(
            select(Job.id, Job.kind, Job.enqueued_at)
            .where(Job.status == JobStatus.QUEUED, Job.cancel_requested.is_(False),
                   or_(Job.enqueued_at.is_(None), Job.enqueued_at < stale_before))).all()

    for row in expired:
        still = and_(Job.id == row.id, Job.status == JobStatus.RUNNING,
                     Job.lease_expires_at == row.lease_expires_at)
        if row.cancel_requested:
            values = {"status": JobStatus.CANCELED, "finished_at": now, "lease_expires_at": None,
                      "message": f"canceled; its worker {row.worker} stopped"}
            bucket = report.canceled
        elif row.attempts >= MAX_ATTEMPTS:
            values = {"status": JobStatus.FAILED, "finished_at": now, "lease_expires_at": None,
                      "error": f"its worker stopped responding {row.attempts} times (lease "
                               f"expired; last worker {row.worker}); not retried again"}
            bucket = report.failed
        else:
            values = {"status": JobStatus.QUEUED, "lease_expires_at": None, "worker": None,
                      "enqueued_at": now,
                      "message": f"requeued: worker {row.worker} stopped renewing its lease"}
            bucket = report.requeued
        with catalog.session() as s:
            changed = s.execute(update(Job).where(still).values(**values)
                                .execution_options(synchronize_session=False)).rowcount
        if changed:
            bucket.append(row.id)
            if bucket is report.requeued:
                _send(catalog, send, row.id, row.kind)

    for row in unsent:
        same = (Job.enqueued_at.is_(None) if row.enqueued_at is None
                else Job.enqueued_at == row.enqueued_at)
        with catalog.session() as s:
            changed = s.execute(
                update(Job).where(Job.id == row.id, Job.status == JobStatus.QUEUED, same)
                .values(enqueued_at=now).execution_options(synchronize_session=False)).rowcount
        if changed:
            report.resent.append(row.id)
            _send(catalog, send, row.id, row.kind)
    if report:
        log.info("sweep: requeued %s, resent %s, failed %s, canceled %s", report.requeued,
                 report.resent, report.failed, report.canceled)
    return report


def _send(catalog: Catalog, send: Callable[[int, str], None], job_id: int, kind: str) -> None:
    try:
        send(job_id, kind)
    except Exception:  # noqa: BLE001 - the broker is down: the next sweep sends it
        log.exception("sweep: could not send job %s", job_id)
        mark_unsent(catalog, job_id)


def mark_unsent(catalog: Catalog, job_id: int) -> None:
    """Record that a queued job's message was not sent, so the next sweep sends it at once."""
    with catalog.session() as s:
        s.execute(update(Job).where(Job.id == job_id, Job.status == JobStatus.QUEUED)
                  .values(enqueued_at=None).execution_options(synchronize_session=False))
