"""One indexer per library at a time, across processes and machines.

Two `daguerre index` runs (or a run and a worker's job) on the same library would race to insert
the same paths. The catalog row carries who indexes it and until when; taking it is one
compare-and-set ``UPDATE`` (as the job leases do, timed by the database's clock), a heartbeat
thread renews it while the run lasts, and a run that died simply lets it expire. The same owner
may take its own lease again, so a job re-delivered after its worker was killed goes straight on.
"""

from __future__ import annotations

import contextlib
import os
import socket
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import or_, select, update

from daguerre.platform.catalog.db import Catalog, database_now
from daguerre.platform.catalog.models import Library
from daguerre.platform.errors import Conflict

LEASE_SECONDS = 30.0


class LibraryBusy(Conflict):
    """Another live indexer holds the library; the message says who and until when. A
    Conflict, so every edge shows it as one (exit 2, HTTP 409, a failed job) untranslated."""


def default_owner() -> str:
    return f"{socket.gethostname()}:{os.getpid()}"


def _set_lease(catalog: Catalog, library_id: int, owner: str | None, seconds: float,
               *holders: Any) -> bool:
    """Give the library's lease to ``owner`` for ``seconds`` (``None``: free it) where the row
    matches all of ``holders(now)``; True when it did."""
    with catalog.session() as s:
        now = database_now(s)
        until = None if owner is None else now + timedelta(seconds=seconds)
        stmt = (update(Library)
                .where(Library.id == library_id, *(h(now) for h in holders))
                .values(index_owner=owner, index_lease_until=until)
                .execution_options(synchronize_session=False))
        return s.execute(stmt).rowcount == 1


def _held_by(holder: str) -> Callable[[datetime], Any]:
    return lambda _now: Library.index_owner == holder


def _take(catalog: Catalog, library_id: int, owner: str, seconds: float) -> bool:
    return _set_lease(catalog, library_id, owner, seconds, lambda now: or_(
        Library.index_owner.is_(None), Library.index_owner == owner,
        Library.index_lease_until < now))


def _holder_is_dead(holder: str | None) -> bool:
    """True when ``holder`` is a process of this machine that no longer exists (a killed
    `daguerre index`): its lease need not run out before the next run goes ahead."""
    host, _, pid = (holder or "").rpartition(":")
    if host != socket.gethostname() or not pid.isdigit():
        return False
    try:
        os.kill(int(pid), 0)
    except ProcessLookupError:
        return True
    except PermissionError:  # alive, owned by another user
        return False
    return False


def _take_from(catalog: Catalog, library_id: int, holder: str, owner: str,
               seconds: float) -> bool:
    return _set_lease(catalog, library_id, owner, seconds, _held_by(holder))


def _renew(catalog: Catalog, library_id: int, owner: str, seconds: float) -> bool:
    return _set_lease(catalog, library_id, owner, seconds, _held_by(owner))


def _release(catalog: Catalog, library_id: int, owner: str) -> None:
    _set_lease(catalog, library_id, None, 0, _held_by(owner))


@contextmanager
def indexing_lease(catalog: Catalog, library_id: int, owner: str | None = None,
                   seconds: float = LEASE_SECONDS) -> Iterator[str]:
    """Hold the library for ``owner`` (default: this host and process) for the block."""
    owner = owner or default_owner()
    if not _take(catalog, library_id, owner, seconds):
        with catalog.session() as s:
            name, holder, until = s.execute(
                select(Library.name, Library.index_owner, Library.index_lease_until)
                .where(Library.id == library_id)).one()
        if not (_holder_is_dead(holder)
                and _take_from(catalog, library_id, holder, owner, seconds)):
            when = until.strftime("%H:%M:%S UTC") if until else "?"
            raise LibraryBusy(f"library {name!r} is being indexed by {holder} (lease renewed "
                              f"until {when}); try again when that run ends",
                              field="library", value=name)
    stop = threading.Event()

    def beat() -> None:
        while not stop.wait(seconds / 3):
            # A failed renewal (database briefly locked) is retried on the next beat.
            with contextlib.suppress(Exception):
                _renew(catalog, library_id, owner, seconds)

    thread = threading.Thread(target=beat, name="daguerre-index-lease", daemon=True)
    thread.start()
    try:
        yield owner
    finally:
        stop.set()
        thread.join(timeout=5)
        _release(catalog, library_id, owner)
