"""Known workers: each job worker records itself in the catalog and keeps its row fresh.

A worker writes its row when it is ready (:func:`record`), renews ``last_seen_at`` from its
sweeper thread (:func:`heartbeat`, every :func:`~daguerre.platform.jobs.sweeper.sweep_interval`
seconds) and marks itself stopped when it shuts down (:func:`mark_stopped`). The job it runs now
is read from the jobs it holds the lease of (``Job.worker`` is its name, or ``name/child pid``
in a prefork child), so running a job costs no extra write. A worker killed outright writes nothing more: it is *live* only while its
last heartbeat is younger than :func:`stale_after` (a few sweep intervals), so a dead one drops
out of :func:`live_for` on its own. Times are the database's clock (``database_now``), as job
leases are, so machines with drifting clocks judge one another alike.

The CLI (`daguerre jobs workers`) and the API (``GET /api/v1/workers``) list workers with
:func:`list_workers`; the commands that wait for a job ask :func:`live_for` whether anyone
serves its queue, and run it in their own process when nobody does.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import delete, or_, select, update

from daguerre.platform.catalog.db import Catalog, database_now
from daguerre.platform.catalog.models import Job, JobStatus, Worker, iso
from daguerre.platform.context import Context
from daguerre.platform.jobs.sweeper import sweep_interval

# A row nobody has heard from for this long is deleted when a worker next starts: a list of
# every process that ever ran is noise, a week of history is enough to see what happened.
PRUNE_AFTER = timedelta(days=7)
# Heartbeats a worker may miss (a busy database, a slow sweep) before it counts as gone.
MISSED_BEATS = 3


def stale_after(lease_seconds: float) -> float:
    """Seconds without a heartbeat after which a worker is no longer live."""
    return MISSED_BEATS * sweep_interval(lease_seconds)


def _utc(value: datetime | None) -> datetime | None:
    if value is not None and value.tzinfo is None:  # SQLite returns naive datetimes (UTC)
        return value.replace(tzinfo=UTC)
    return value


def _alive(row: Worker, now: datetime, lease_seconds: float) -> bool:
    if row.stopped_at is not None:
        return False
    return _utc(row.last_seen_at) >= now - timedelta(seconds=stale_after(lease_seconds))


def worker_to_dict(row: Worker, alive: bool, current_job_id: int | None = None
                   ) -> dict[str, Any]:
    """The JSON form of a worker (the CLI's ``--json`` and the API share it)."""
    return {
        "name": row.name,
        "host": row.host,
        "pid": row.pid,
        "queues": list(row.queues or []),
        "device": row.device,
        "alive": alive,
        "current_job_id": current_job_id if alive else None,
        "started_at": iso(row.started_at),
        "last_seen_at": iso(row.last_seen_at),
        "stopped_at": iso(row.stopped_at),
    }


# -- the worker's side -----------------------------------------------------------------------
def record(catalog: Catalog, name: str, *, host: str, pid: int, queues: Iterable[str],
           device: str | None, now: datetime | None = None) -> None:
    """Write (or rewrite, on a restart under the same name) this worker's row as live, and
    delete rows nobody has heard from for :data:`PRUNE_AFTER`."""
    with catalog.session() as s:
        now = now or database_now(s)
        row = s.scalar(select(Worker).where(Worker.name == name))
        if row is None:
            row = Worker(name=name)
            s.add(row)
        row.host, row.pid, row.queues, row.device = host, int(pid), sorted(set(queues)), device
        row.started_at = row.last_seen_at = now
        row.stopped_at = None
    prune(catalog, now=now)


def heartbeat(catalog: Catalog, name: str, now: datetime | None = None) -> bool:
    """Mark the worker seen now. False when its row is gone (pruned, or a fresh database):
    the caller then records itself again."""
    with catalog.session() as s:
        now = now or database_now(s)
        changed = s.execute(update(Worker).where(Worker.name == name)
                            .values(last_seen_at=now, stopped_at=None)
                            .execution_options(synchronize_session=False)).rowcount
    return bool(changed)


def mark_stopped(catalog: Catalog, name: str, now: datetime | None = None) -> None:
    """The worker is shutting down in order: it is no longer live, whatever its last beat."""
    with catalog.session() as s:
        now = now or database_now(s)
        s.execute(update(Worker).where(Worker.name == name)
                  .values(stopped_at=now)
                  .execution_options(synchronize_session=False))


def prune(catalog: Catalog, *, older_than: timedelta = PRUNE_AFTER,
          now: datetime | None = None) -> int:
    """Delete workers not seen for ``older_than``; returns how many went."""
    with catalog.session() as s:
        now = now or database_now(s)
        before = now - older_than
        return s.execute(delete(Worker).where(or_(Worker.last_seen_at < before,
                                                  Worker.stopped_at < before))
                         .execution_options(synchronize_session=False)).rowcount


# -- what the CLI and the API ask ------------------------------------------------------------
def list_workers(ctx: Context, now: datetime | None = None) -> list[dict[str, Any]]:
    """Every recorded worker: live ones first, then by last heartbeat, newest first."""
    lease_seconds = float(ctx.settings.job_lease_seconds)
    with ctx.catalog.session() as s:
        now = now or database_now(s)
        rows = s.scalars(select(Worker).order_by(Worker.last_seen_at.desc(), Worker.id)).all()
        running: dict[str, int] = {}
        for job_id, holder in s.execute(select(Job.id, Job.worker)
                                        .where(Job.status == JobStatus.RUNNING)
                                        .order_by(Job.id)):
            running.setdefault((holder or "").split("/", 1)[0], job_id)
        out = [worker_to_dict(row, _alive(row, now, lease_seconds), running.get(row.name))
               for row in rows]
    return sorted(out, key=lambda w: not w["alive"])  # stable: keeps the heartbeat order


def live_for(ctx: Context, queue: str, now: datetime | None = None) -> bool:
    """Whether a live worker consumes ``queue`` (a job sent there will be picked up)."""
    return any(w["alive"] and queue in w["queues"] for w in list_workers(ctx, now))


def live_count(ctx: Context, queue: str, now: datetime | None = None) -> int:
    """How many live workers consume ``queue`` (an index job spreads over them)."""
    return sum(1 for w in list_workers(ctx, now) if w["alive"] and queue in w["queues"])
