"""An index job's chunks as jobs that any worker takes (services/index_fanout.py says why).

The index job creates one ``index_chunk`` job per chunk (committed, then sent: every live
worker on the queue may take one), then runs the chunks nobody has taken yet itself, one after
another, and waits for the rest. Its progress is the sum of its chunks' (files done, files per
second, time left), written by a small thread while it works or waits. Canceling the index job
cancels its chunks (services/jobs.py). A chunk whose worker died is requeued by the sweeper and
taken by another worker, or by the index job itself. If the index job's own worker dies, its
next attempt first finishes the chunks the last one left (:meth:`JobChunks.resume`) and plans
again: what those chunks embedded is then unchanged, so nothing is embedded twice.
"""

from __future__ import annotations

import threading
import time
from typing import Any

from sqlalchemy import select

from daguerre.platform.catalog.models import Job, JobStatus
from daguerre.platform.context import Context
from daguerre.platform.errors import Canceled, DaguerreError
from daguerre.platform.jobs import runner
from daguerre.platform.jobs.registry import GPU_QUEUE
from daguerre.platform.services.jobs import Jobs, chunk_jobs, job_to_dict
from daguerre.platform.services.progress import ProgressFn
from daguerre.platform.services.workers import live_count

CHUNK_KIND = "index_chunk"
CHUNK_SECONDS = 60.0  # a chunk is about this much of one worker's time
FIRST_GUESS_FILES_PER_SECOND = 20.0  # before any chunk was measured on this catalog
MIN_CHUNK, MAX_CHUNK = 32, 20_000
POLL_SECONDS = 0.5


class ChunkFailed(DaguerreError):
    """A chunk of an index job failed; the index job fails with the chunk's error."""


def measured_rate(ctx: Context) -> float | None:
    """Files per second of the last chunks that finished here (None: none yet)."""
    with ctx.catalog.session() as s:
        results = s.scalars(select(Job.result).where(
            Job.kind == CHUNK_KIND, Job.status == JobStatus.SUCCEEDED)
            .order_by(Job.id.desc()).limit(8)).all()
    files = sum(sum(int(r.get(k) or 0) for k in ("added", "updated", "failed", "unchanged"))
                for r in results if r)
    seconds = sum(float(r.get("seconds") or 0) for r in results if r)
    return files / seconds if files and seconds > 0 else None


class JobChunks:
    """:class:`~daguerre.platform.services.index_fanout.ChunkRunner` for an index job."""

    def __init__(self, ctx: Context, handle: runner.JobHandle) -> None:
        self.ctx, self.handle = ctx, handle
        self.jobs = Jobs(ctx)

    def chunk_files(self) -> int | None:
        configured = self.ctx.settings.index_chunk_files
        if configured:
            return configured
        if live_count(self.ctx, GPU_QUEUE) < 2:
            return None  # one worker: it embeds the library itself, as a single job always did
        rate = measured_rate(self.ctx) or FIRST_GUESS_FILES_PER_SECOND
        return int(min(MAX_CHUNK, max(MIN_CHUNK, rate * CHUNK_SECONDS)))

    def resume(self, library_id: int) -> None:
        left = chunk_jobs(self.ctx, self.handle.job_id, unfinished_only=True)
        if left:
            self.handle.progress(0, None, f"finishing {len(left)} chunks of an earlier attempt")
            self._drive(left, total=None, progress=self.handle.progress)

    def run(self, library_id: int, chunks: list[list[str]], progress: ProgressFn
            ) -> list[dict[str, Any]]:
        owner = f"job-{self.handle.job_id}"
        ids = [self.jobs.create(CHUNK_KIND, {"library": library_id, "parent": self.handle.job_id,
                                             "owner": owner, "files": files})["id"]
               for files in chunks]
        return self._drive(ids, total=sum(len(c) for c in chunks), progress=progress)

    # -- running and waiting ------------------------------------------------------------------
    def _drive(self, ids: list[int], *, total: int | None, progress: ProgressFn
               ) -> list[dict[str, Any]]:
        stop = threading.Event()
        watcher = threading.Thread(target=self._watch, args=(ids, total, progress, stop),
                                   name=f"daguerre-job-{self.handle.job_id}-chunks", daemon=True)
        watcher.start()
        try:
            while True:
                left = [j["id"] for j in self._rows(ids) if not j["finished"]]
                if not left:
                    break
                # What nobody has taken, or whose worker died (its lease expired), this worker
                # runs; execute() skips a chunk another live worker holds.
                ran = False
                for job_id in left:
                    self._check_canceled(ids)
                    outcome = runner.execute(self.ctx, job_id, self.handle.worker,
                                             stopping=lambda: self.handle.stopping)
                    ran = ran or outcome != "skipped"
                if not ran:
                    self._check_canceled(ids)
                    time.sleep(POLL_SECONDS)
        finally:
            stop.set()
            watcher.join(timeout=5)
        rows = self._rows(ids)
        bad = [j for j in rows if j["status"] != JobStatus.SUCCEEDED.value]
        if bad:
            if any(j["status"] == JobStatus.CANCELED.value for j in bad):
                raise Canceled(f"index job {self.handle.job_id} canceled")
            raise ChunkFailed("; ".join(f"chunk job {j['id']} {j['status']}: {j['error']}"
                                        for j in bad))
        return [j["result"] or {} for j in rows]

    def _check_canceled(self, ids: list[int]) -> None:
        if self.handle.stopping:  # this worker shuts down: the runner requeues the index job
            raise Canceled(f"index job {self.handle.job_id}: its worker is stopping")
        if self.handle.should_cancel():
            for job_id in ids:  # services/jobs.py cascades too; this covers a race with create
                self.jobs.cancel(job_id)
            raise Canceled(f"index job {self.handle.job_id} canceled")

    def _rows(self, ids: list[int]) -> list[dict[str, Any]]:
        """The chunks as the API shows them, in ``ids`` order: one query (polled every second)."""
        with self.ctx.catalog.session() as s:
            rows = {j.id: job_to_dict(j) for j in s.scalars(select(Job).where(Job.id.in_(ids)))}
        return [rows[job_id] for job_id in ids]

    def _watch(self, ids: list[int], total: int | None, progress: ProgressFn,
               stop: threading.Event) -> None:
        """Write the chunks' summed progress as the index job's, with a rate and time left."""
        started = time.monotonic()
        while not stop.wait(1.0):
            rows = self._rows(ids)
            done = sum(j["progress"]["done"] for j in rows)
            running = sum(j["status"] == JobStatus.RUNNING.value for j in rows)
            rate = done / max(time.monotonic() - started, 1e-6)
            message = f"{done} files embedded, {rate:.1f}/s, {running} of {len(ids)} chunks running"
            if total and rate > 0:
                message += f", about {max(0.0, (total - done) / rate):.0f} s left"
            progress(done, total, message)
