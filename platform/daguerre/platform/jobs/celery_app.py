"""The Celery application, built from settings (never at import time).

Configured for long GPU work: a message is acknowledged only after its task ends (``acks_late``)
and rejected back to the queue if the worker process is lost, each worker reserves one message at a
time (``prefetch_multiplier = 1``), soft and hard time limits come from the settings, and the
broker's visibility timeout (Redis) is longer than the hard limit so a message is never handed to a
second worker while the first still runs it. Results are not stored: the catalog is the truth.

The default broker, ``filesystem://``, is kombu's filesystem transport under
``<home>/broker``: no server to install. Production points ``DAGUERRE_BROKER_URL`` at Redis or
RabbitMQ. Either way the catalog lease, not the broker, is what recovers from a dead worker.
"""

from __future__ import annotations

import threading
from typing import TYPE_CHECKING, Any

from daguerre.platform.config import Settings

if TYPE_CHECKING:
    from celery import Celery

TASK_NAME = "daguerre.run_job"
FILESYSTEM_POLL_SECONDS = 0.1  # how often an idle worker looks for a new message file


def is_filesystem(settings: Settings) -> bool:
    return settings.effective_broker_url.startswith("filesystem:")


def broker_folders(settings: Settings) -> dict[str, str]:
    """The filesystem transport's folders, created if missing."""
    base = settings.broker_dir
    folders = {"data_folder_in": base / "queue", "data_folder_out": base / "queue",
               "processed_folder": base / "processed", "control_folder": base / "control"}
    for path in folders.values():
        path.mkdir(parents=True, exist_ok=True)
    return {k: str(v) for k, v in folders.items()}


def celery_config(settings: Settings) -> dict[str, Any]:
    hard = int(settings.task_hard_time_limit)
    soft = int(settings.task_soft_time_limit)
    extra: dict[str, Any] = {}
    if is_filesystem(settings):
        transport = {**broker_folders(settings), "store_processed": False,
                     "polling_interval": FILESYSTEM_POLL_SECONDS}
        # kombu's own filesystem transport can lose a message to a reader racing its writer.
        extra["broker_transport"] = "daguerre.platform.jobs.fs_transport:Transport"
    else:
        # Redis (and SQS) hand an unacknowledged message to another worker after this long.
        transport = {"visibility_timeout": hard + 3600}
    return {
        "broker_url": settings.effective_broker_url,
        "broker_transport_options": transport,
        "broker_connection_retry_on_startup": True,
        "result_backend": None,
        "task_ignore_result": True,
        "task_store_errors_even_if_ignored": False,
        "task_serializer": "json",
        "accept_content": ["json"],
        "task_acks_late": True,
        "task_reject_on_worker_lost": True,
        "task_acks_on_failure_or_timeout": True,
        "worker_prefetch_multiplier": 1,
        "task_soft_time_limit": soft,
        "task_time_limit": hard,
        "task_default_queue": "gpu",
        "task_create_missing_queues": True,
        "worker_send_task_events": False,
        "task_send_sent_event": False,
        # Remote control needs a fanout exchange; on the filesystem transport it would be one
        # more folder to poll, and nothing here uses it (cancel is a flag in the catalog).
        "worker_enable_remote_control": not is_filesystem(settings),
        "worker_hijack_root_logger": True,
        "worker_redirect_stdouts": False,
        **extra,
    }


def make_celery(settings: Settings, *, worker: bool = False,
                alive_file: str | None = None) -> Celery:
    """A Celery app for ``settings``; ``worker=True`` also registers the task and the worker's
    signal handlers (lease sweeper, graceful release on shutdown)."""
    from celery import Celery

    app = Celery("daguerre", set_as_current=False)
    app.conf.update(celery_config(settings))
    if worker:
        from daguerre.platform.jobs.tasks import register_worker

        register_worker(app, settings, alive_file)
    return app


_producers: dict[tuple[str, str], Celery] = {}
_producers_lock = threading.Lock()


def producer_app(settings: Settings) -> Celery:
    """One app per broker for sending messages (a web process or CLI sends, never runs)."""
    key = (settings.effective_broker_url, str(settings.broker_dir))
    with _producers_lock:
        app = _producers.get(key)
        if app is None:
            app = _producers[key] = make_celery(settings)
        return app


def send_job(settings: Settings, job_id: int, queue: str, app: Celery | None = None) -> None:
    """Put a message carrying only ``job_id`` on ``queue``."""
    app = app or producer_app(settings)
    app.send_task(TASK_NAME, args=[int(job_id)], queue=queue, ignore_result=True,
                  retry=True, retry_policy={"max_retries": 2, "interval_start": 0.2,
                                            "interval_step": 0.5})
