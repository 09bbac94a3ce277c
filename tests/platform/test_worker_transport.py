"""The embedded broker: kombu's filesystem transport as Daguerre configures it."""

from __future__ import annotations

import threading
from queue import Empty

from daguerre.platform.config import load_settings
from daguerre.platform.jobs.celery_app import make_celery
from daguerre.platform.jobs.fs_transport import Transport


def test_filesystem_broker_uses_the_atomic_transport_in_the_data_folder(tmp_path):
    settings = load_settings(env={"DAGUERRE_HOME": str(tmp_path / "home")})
    app = make_celery(settings)
    with app.connection_for_write() as conn:
        assert isinstance(conn.transport, Transport)
        assert conn.transport_options["data_folder_in"] == str(settings.broker_dir / "queue")
    assert app.conf.task_acks_late and app.conf.worker_prefetch_multiplier == 1
    assert app.conf.task_time_limit == settings.task_hard_time_limit
    assert app.conf.task_soft_time_limit == settings.task_soft_time_limit


def test_redis_visibility_timeout_outlasts_the_hard_time_limit(tmp_path):
    settings = load_settings(env={"DAGUERRE_HOME": str(tmp_path / "home"),
                                  "DAGUERRE_BROKER_URL": "redis://127.0.0.1:6379/0"})
    app = make_celery(settings)
    assert app.conf.broker_transport_options["visibility_timeout"] > \
        settings.task_hard_time_limit


def test_racing_readers_get_every_message_exactly_once(tmp_path):
    """Two consumers read while a producer writes: nothing lost to a half-written file,
    nothing delivered twice."""
    settings = load_settings(env={"DAGUERRE_HOME": str(tmp_path / "home")})
    app = make_celery(settings)
    n = 600
    got: list[list[int]] = [[], []]
    done = threading.Event()
    errors: list[BaseException] = []

    def consume(slot: int) -> None:
        with app.connection_for_read() as conn:
            channel = conn.default_channel
            while True:
                try:
                    got[slot].append(channel._get("q")["i"])
                except Empty:
                    if done.is_set():
                        return
                except BaseException as exc:  # noqa: BLE001 - reported below
                    errors.append(exc)
                    return

    readers = [threading.Thread(target=consume, args=(i,)) for i in range(2)]
    for t in readers:
        t.start()
    with app.connection_for_write() as conn:
        channel = conn.default_channel
        for i in range(n):
            channel._put("q", {"i": i, "pad": "x" * 4096})
    done.set()
    for t in readers:
        t.join(30)
    assert not errors
    received = got[0] + got[1]
    assert sorted(received) == list(range(n))
