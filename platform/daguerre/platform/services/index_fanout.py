"""Indexing one library on many workers: a run plans once, its files are embedded in chunks.

The index run (services/indexing.py) scans, plans and applies the row-only changes under the
library's lease, as always. When its :class:`ChunkRunner` asks for it (a job with more than
one live worker; jobs/fanout.py), the files to embed are split into chunks of about a minute
of a worker's work; each chunk is a job that any worker takes and runs :func:`index_chunk`.

Each chunk plans its own files again against the catalog before embedding them
(:func:`~daguerre.platform.services.index_plan.plan_index`, the one rule), so a chunk taken over
after its worker died skips what the dead one already recorded: every file is embedded once,
and the catalog's consistency rule (a vector's row is written after the vector) holds per chunk
as it does for a whole run. A chunk runs only while the run that made it holds the library's
lease, so a stray chunk never races a later run of the same library.
"""

from __future__ import annotations

import time
from contextlib import ExitStack
from pathlib import Path
from typing import Any, Protocol

from sqlalchemy import delete

from daguerre.platform.catalog.models import IndexFailure, Library, utcnow
from daguerre.platform.catalog.queries import find_library
from daguerre.platform.context import Context
from daguerre.platform.errors import Canceled, Conflict
from daguerre.platform.services.index_plan import IndexPlan
from daguerre.platform.services.indexing import (
    IndexSummary,
    apply_row_changes,
    embed_plan,
    plan_run,
    save_embeddings,
    stat_files,
)
from daguerre.platform.services.progress import CancelFn, ProgressFn

# Counts a chunk's summary adds to its run's.
SUMMED = ("added", "updated", "moved", "missing", "failed")


class ChunkRunner(Protocol):
    """How a run hands its chunks to workers (jobs/fanout.py is the one implementation)."""

    def chunk_files(self) -> int | None:
        """Files per chunk, or None: embed everything in this process."""

    def resume(self, library_id: int) -> None:
        """Run or wait for the chunks an earlier attempt of this run left unfinished."""

    def run(self, library_id: int, chunks: list[list[str]], progress: ProgressFn
            ) -> list[dict[str, Any]]:
        """Run every chunk (library-relative paths) to its end; their summaries, in order.
        Raises Canceled when the run is canceled, and an error when a chunk failed."""


def index_in_chunks(ctx: Context, lib: Library, plan: IndexPlan, refused: list[tuple[str, str]],
                    known: tuple[str, Any], chunks: ChunkRunner, size: int,
                    progress: ProgressFn, started: float) -> IndexSummary:
    """The run's side: apply the plan's row changes, then have ``chunks`` embed its files."""
    model_key, store = known
    summary = IndexSummary(library=lib.name, unchanged=plan.unchanged)
    with ctx.catalog.session() as s:
        apply_row_changes(s, plan, summary)
        if store is not None and plan.drop_vectors:
            save_embeddings(store, s, model_key, [], remove=plan.drop_vectors)
        # Failures of this scan replace the previous scan's; the chunks add their own.
        s.execute(delete(IndexFailure).where(IndexFailure.library_id == lib.id))
        s.add_all(IndexFailure(library_id=lib.id, path=rel, reason=reason)
                  for rel, reason in sorted(refused))
        s.commit()
    rels = [item.file.rel for item in plan.embed]
    parts = [rels[i:i + size] for i in range(0, len(rels), size)]
    progress(0, len(rels), f"{len(rels)} files to embed in {len(parts)} chunks")
    results = chunks.run(lib.id, parts, progress)
    failures = [{"path": str(Path(lib.root) / rel), "reason": why} for rel, why in sorted(refused)]
    for result in results:
        for key in SUMMED:
            setattr(summary, key, getattr(summary, key) + int(result.get(key) or 0))
        failures += result.get("failures") or []
        summary.runtime = summary.runtime or result.get("runtime")
        summary.precision = summary.precision or result.get("precision")
    summary.failed += len(refused)
    summary.failures = sorted(failures, key=lambda f: f["path"])
    with ctx.catalog.session() as s:
        s.get(Library, lib.id).last_indexed_at = utcnow()
        s.commit()
    summary.seconds = time.monotonic() - started
    return summary


def index_chunk(ctx: Context, library: int, rels: list[str], *, owner: str,
                progress: ProgressFn | None = None,
                should_cancel: CancelFn | None = None) -> IndexSummary:
    """Embed the listed files of a library for the run that holds its lease as ``owner``.

    Raises :class:`Conflict` when that run no longer holds the library (it ended, or another
    run took the library after it died), and :class:`Canceled` when canceled.
    """
    started = time.monotonic()
    with ctx.catalog.session() as s:
        lib = find_library(s, library)
    if lib.index_owner != owner:
        raise Conflict(f"library {lib.name!r} is not being indexed by {owner} any more "
                       f"(held by {lib.index_owner or 'nobody'}): this chunk has nothing to do",
                       field="library", value=library)
    root = Path(lib.root)
    scanned, refused = stat_files(root, rels)
    encoder = ctx.encoder()
    store = ctx.store(encoder)
    plan = plan_run(ctx, lib, encoder.key, store, scanned, only=list(rels))
    summary = IndexSummary(library=lib.name, unchanged=plan.unchanged)
    failures: dict[str, str] = dict(refused)
    progress = progress or (lambda done, total, msg: None)
    canceled = False
    with ExitStack() as stack, ctx.catalog.session() as s:
        apply_row_changes(s, plan, summary)
        if plan.embed:
            from daguerre.indexer.pipeline import DecodePool

            pool = stack.enter_context(DecodePool(ctx.settings.decode_workers,
                                                   processes=ctx.settings.decode_processes))
            _done, canceled = embed_plan(ctx, s, lib, plan, encoder, store, pool, failures,
                                         summary, progress, should_cancel or (lambda: False))
        elif plan.drop_vectors:
            save_embeddings(store, s, encoder.key, [], remove=plan.drop_vectors)
        for start in range(0, len(rels), 500):  # this chunk's files' old failures
            s.execute(delete(IndexFailure).where(IndexFailure.library_id == lib.id,
                                                 IndexFailure.path.in_(rels[start:start + 500])))
        s.add_all(IndexFailure(library_id=lib.id, path=rel, reason=reason)
                  for rel, reason in sorted(failures.items()))
        s.commit()
    summary.failed = len(failures)
    summary.failures = [{"path": str(root / rel), "reason": reason}
                        for rel, reason in sorted(failures.items())]
    summary.seconds = time.monotonic() - started
    progress(len(rels), len(rels), "canceled" if canceled else "done")
    if canceled:
        raise Canceled(f"index chunk of {lib.name!r} canceled")
    return summary
