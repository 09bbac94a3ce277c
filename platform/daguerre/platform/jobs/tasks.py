"""The one Celery task, ``daguerre.run_job(job_id)``, and the worker's housekeeping.

A worker process keeps one :class:`Context` (so a model is loaded once and reused by every job it
runs), records itself in the catalog's ``workers`` table when it becomes ready (see
:mod:`daguerre.platform.services.workers`), sweeps for abandoned jobs and renews its heartbeat
then and periodically (the job it runs is the one whose lease it holds: nothing is written per
job for that), and, when it is asked to shut down, marks itself stopped, stops the running job at its next batch and puts it back on the queue.
"""

from __future__ import annotations

import logging
import os
import socket
import threading
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

from daguerre.platform.config import Settings, load_settings

if TYPE_CHECKING:
    from celery import Celery

    from daguerre.platform.catalog.db import Catalog
    from daguerre.platform.context import Context

log = logging.getLogger(__name__)

_stopping = threading.Event()  # set when this worker was asked to shut down
# The exit status of a worker that ended itself because a job passed its hard time limit
# (EX_SOFTWARE, from sysexits.h): its supervisor restarts it.
HARD_LIMIT_EXIT_CODE = 70
_contexts: dict[int, Context] = {}  # per process id: a prefork child must not share its parent's


def worker_context(settings: Settings | None = None) -> Context:
    pid = os.getpid()
    ctx = _contexts.get(pid)
    if ctx is None:
        from daguerre.platform.context import Context

        ctx = _contexts[pid] = Context(settings or load_settings())
    return ctx


def worker_name(node: str | None, pid: int) -> str:
    """A worker's identity: its Celery node name (or this host's name) and a process id. The
    name a job's lease is held under, and the worker's row in the catalog."""
    return f"{node or socket.gethostname()}:{pid}"


def _device(settings: Settings) -> str:
    from daguerre.indexer.models import resolve_device

    try:
        return resolve_device(settings.device)
    except Exception:  # noqa: BLE001 - no torch here: say what was configured
        return settings.device


def queue_of(kind: str) -> str:
    from daguerre.platform.jobs.registry import GPU_QUEUE, get_kind

    try:
        return get_kind(kind).queue
    except Exception:  # noqa: BLE001 - a kind this process does not know: the GPU queue
        return GPU_QUEUE


class Sweeper(threading.Thread):
    """Runs :func:`sweeper.sweep` at start and every ``sweep_interval`` seconds."""

    def __init__(self, app: Celery, settings: Settings, alive_file: str | None = None) -> None:
        super().__init__(name="daguerre-sweeper", daemon=True)
        self.app, self.settings, self.alive_file = app, settings, alive_file
        self.stop_event = threading.Event()
        self.identity: dict[str, object] | None = None  # record()'s arguments, set when ready

    def send(self, job_id: int, kind: str) -> None:
        from daguerre.platform.jobs.celery_app import send_job

        send_job(self.settings, job_id, queue_of(kind), app=self.app)

    def beat(self, catalog: Catalog) -> None:
        """Renew this worker's heartbeat; record it again if its row went (pruned, new DB)."""
        from daguerre.platform.services import workers

        if self.identity is None:
            return
        name = str(self.identity["name"])
        if not workers.heartbeat(catalog, name):
            workers.record(catalog, **self.identity)  # type: ignore[arg-type]

    def run(self) -> None:
        from daguerre.platform.catalog.db import Catalog
        from daguerre.platform.jobs.sweeper import sweep, sweep_interval

        catalog = Catalog(self.settings.effective_database_url)
        lease_seconds = float(self.settings.job_lease_seconds)
        try:
            while True:
                try:
                    self.beat(catalog)
                    sweep(catalog, lease_seconds, self.send)
                    if self.alive_file:  # a container health check reads its mtime
                        Path(self.alive_file).touch()
                except Exception:  # noqa: BLE001 - keep sweeping through a database hiccup
                    log.exception("sweep failed")
                if self.stop_event.wait(sweep_interval(lease_seconds)):
                    return
        finally:
            catalog.dispose()


def _quietly(fn: Callable[..., object], *args: object, **kwargs: object) -> None:
    """Bookkeeping about the worker must never fail a job or stop a shutdown."""
    try:
        fn(*args, **kwargs)
    except Exception:  # noqa: BLE001 - a database hiccup: the next heartbeat repairs the row
        log.exception("could not update this worker's row (%s)", getattr(fn, "__name__", fn))


def register_worker(app: Celery, settings: Settings, alive_file: str | None = None) -> None:
    """Register ``run_job`` on ``app`` and the signal handlers of a worker process.
    ``alive_file`` is touched after every successful sweep (for health checks)."""
    from celery import signals

    from daguerre.platform.services import workers

    sweeper = Sweeper(app, settings, alive_file)
    # The worker's row is named after the main process: a prefork child (forked before it
    # could learn anything at run time) inherits this pid and so names the same row.
    main_pid = os.getpid()

    @app.task(name="daguerre.run_job", bind=True, acks_late=True, reject_on_worker_lost=True,
              ignore_result=True)
    def run_job(self, job_id: int) -> str:  # noqa: ANN001 - bound Celery task
        from daguerre.platform.jobs.runner import execute

        # The lease is held under the worker's own name, so the job rows say what it runs
        # without a write per job; a prefork child adds its pid after a slash.
        me = worker_name(self.request.hostname, main_pid)
        worker = me if os.getpid() == main_pid else f"{me}/{os.getpid()}"

        def requeue(jid: int, kind: str) -> None:
            sweeper.send(jid, kind)

        def end_worker() -> None:
            log.critical("job %s passed task_hard_time_limit (%s s) and did not stop; ending "
                         "this worker process so that its supervisor (daguerre serve, the "
                         "container's restart policy, systemd) starts a fresh one", job_id,
                         settings.task_hard_time_limit)
            logging.shutdown()
            os._exit(HARD_LIMIT_EXIT_CODE)

        return execute(worker_context(settings), int(job_id), worker,
                       stopping=_stopping.is_set, requeue=requeue, on_hard_limit=end_worker)

    def on_ready(sender: object = None, **_kw: object) -> None:
        settings.ensure_dirs()
        catalog = worker_context(settings).catalog  # migrates the schema before any job
        # ``sender`` is the worker's Consumer: its node name and the queues it consumes.
        consumer = getattr(sender, "task_consumer", None)
        queues = [q.name for q in getattr(consumer, "queues", None) or []]
        node = getattr(sender, "hostname", None)
        sweeper.identity = {"name": worker_name(node, main_pid), "host": socket.gethostname(),
                            "pid": main_pid, "queues": queues, "device": _device(settings)}
        _quietly(workers.record, catalog, **sweeper.identity)
        if not sweeper.is_alive():
            sweeper.start()

    def on_shutting_down(**_kw: object) -> None:
        _stopping.set()
        sweeper.stop_event.set()
        if sweeper.identity is not None:
            _quietly(workers.mark_stopped, worker_context(settings).catalog,
                     str(sweeper.identity["name"]))

    def on_process_init(**_kw: object) -> None:
        _stopping.clear()  # a fresh prefork child; it gets its own Context on first use

    signals.worker_ready.connect(on_ready, weak=False, dispatch_uid="daguerre-ready")
    signals.worker_shutting_down.connect(on_shutting_down, weak=False,
                                         dispatch_uid="daguerre-shutdown")
    signals.worker_process_init.connect(on_process_init, weak=False,
                                        dispatch_uid="daguerre-process-init")
