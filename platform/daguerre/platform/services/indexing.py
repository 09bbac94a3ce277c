"""Incremental indexing of one library: scan, plan against the catalog, apply the plan.

What a run must do (embed, refresh, move, mark missing) is decided by the pure
:func:`~daguerre.platform.services.index_plan.plan_index` from the scan and the catalog rows;
this module scans, applies that plan (decode/encode pipeline, thumbnails, catalog rows, vectors)
and owns :func:`save_embeddings`, the one place that records a vector in the store and the
``image_embeddings`` row saying so (indexing, the ``embed`` job kind and generated outputs).

Consistency: an ``image_embeddings`` row is written only after the vector is saved in the store,
so a run killed at any point leaves a catalog that the next run completes — nothing is embedded
twice into the store, nothing stored is lost.
"""

from __future__ import annotations

import os
import time
from collections.abc import Iterable
from contextlib import ExitStack
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
from sqlalchemy import delete, select, update
from sqlalchemy.orm import Session

from daguerre.platform.catalog.models import (
    Image,
    ImageEmbedding,
    ImageOrigin,
    ImageStatus,
    IndexFailure,
    Library,
    utcnow,
)
from daguerre.platform.catalog.queries import find_library
from daguerre.platform.context import Context
from daguerre.platform.errors import Canceled, Conflict
from daguerre.platform.files import write_thumbnail
from daguerre.platform.services.index_plan import (
    RETIRED,
    CatalogRow,
    IndexPlan,
    ScannedFile,
    plan_index,
)
from daguerre.platform.services.progress import CancelFn, ProgressFn

if TYPE_CHECKING:
    from daguerre.platform.services.index_fanout import ChunkRunner

STORE_FLUSH_SECONDS = 30.0  # how often a long run makes its vectors durable
# Catalog rows are committed every this many embedded files (progress and the cancel flag are
# still looked at every model batch): a commit is an fsync, which at every batch of 8 cost 5 %
# of a 12 MP run on two cores.
COMMIT_EVERY = 64


@dataclass
class IndexSummary:
    library: str
    added: int = 0
    updated: int = 0
    unchanged: int = 0
    moved: int = 0
    missing: int = 0
    failed: int = 0
    failures: list[dict[str, str]] = field(default_factory=list)
    seconds: float = 0.0
    # The CLIP runtime and precision that embedded this run's files (None: nothing embedded).
    runtime: str | None = None
    precision: str | None = None

    def as_dict(self) -> dict[str, Any]:
        return {"library": self.library, "added": self.added, "updated": self.updated,
                "unchanged": self.unchanged, "moved": self.moved, "missing": self.missing,
                "failed": self.failed, "failures": self.failures,
                "seconds": round(self.seconds, 3), "runtime": self.runtime,
                "precision": self.precision}


def scan_library(root: Path, *, boundary: Path | None = None
                 ) -> tuple[list[ScannedFile], list[tuple[str, str]]]:
    """Every image file under ``root`` (by suffix), and (relpath, reason) for entries refused.

    Symbolic links are followed only when they stay inside the library (``boundary``, default
    ``root``: a subfolder is scanned with its library's root as the boundary): a link that leads
    outside it is refused, so a library can never expose files elsewhere on disk.
    """
    from daguerre.indexer.decode import IMAGE_SUFFIXES

    root = root.resolve()
    fence = str((boundary or root).resolve())
    files: list[ScannedFile] = []
    refused: list[tuple[str, str]] = []

    def on_error(err: OSError) -> None:
        rel = os.path.relpath(err.filename, root) if err.filename else "?"
        refused.append((rel, f"cannot list folder: {err.strerror}"))

    for dirpath, dirnames, filenames in os.walk(root, onerror=on_error, followlinks=False):
        dirnames.sort()
        for name in sorted(filenames):
            if Path(name).suffix.lower() not in IMAGE_SUFFIXES:
                continue
            full = os.path.join(dirpath, name)
            rel = os.path.relpath(full, root).replace(os.sep, "/")
            found = _stat_file(full, rel, fence)
            (files if isinstance(found, ScannedFile) else refused).append(found)
    return files, refused


def _stat_file(full: str, rel: str, fence: str) -> ScannedFile | tuple[str, str]:
    """One file of a library as the scan sees it, or (relpath, reason) when it is refused."""
    if os.path.islink(full):
        target = os.path.realpath(full)
        if os.path.commonpath([target, fence]) != fence:
            return rel, "symbolic link points outside the library"
    try:
        st = os.stat(full)
    except OSError as exc:
        return rel, f"cannot stat file: {exc.strerror}"
    return ScannedFile(rel, full, st.st_size, st.st_mtime)


def stat_files(root: Path, rels: Iterable[str]
               ) -> tuple[list[ScannedFile], list[tuple[str, str]]]:
    """:func:`scan_library` for listed files only (an index chunk's). A path that leaves the
    library is refused, as a link out of it is; one that is gone is left out (its row, if any,
    becomes missing)."""
    root = root.resolve()
    fence = str(root)
    files: list[ScannedFile] = []
    refused: list[tuple[str, str]] = []
    for rel in rels:
        full = os.path.normpath(os.path.join(root, rel))
        if os.path.commonpath([full, fence]) != fence:
            refused.append((rel, "path is outside the library"))
            continue
        if not os.path.lexists(full):
            continue
        found = _stat_file(full, rel, fence)
        (files if isinstance(found, ScannedFile) else refused).append(found)
    return files, refused


def save_embeddings(store: Any, session: Session, model_key: str,
                    embedded: Iterable[tuple[int, np.ndarray, str]], *,
                    remove: Iterable[int] = (), made_by: tuple[str, str] | None = None) -> int:
    """Record that each image ``(id, vector, sha256)`` was embedded by model ``model_key`` from
    the content ``sha256``: its vector goes into ``store`` (the store of that model) under the
    image id, then its ``image_embeddings`` row is inserted or refreshed, and the session is
    committed. ``remove``: ids whose vectors leave the store in the same edit. ``made_by``:
    the (runtime, precision) that computed the vectors (models.encoder_runtime), recorded on the
    rows. Returns how many images were recorded.

    The order is the consistency rule of the catalog: a row is never written for a vector that
    was not saved, so a crash between the two only costs a re-embed on the next run. With the
    pgvector backend the vectors and their rows are one transaction.
    """
    from daguerre.platform.vectors.backend import backend_of

    batch = list(embedded)
    gone = np.asarray(list(remove), dtype=np.int64)
    if not batch and not gone.size:
        return 0
    # In the catalog (pgvector), the vectors are written in this session's transaction and
    # commit with their rows below: all or nothing. FAISS files are saved first (the rule above).
    in_catalog = backend_of(store) == "pgvector"
    if in_catalog:
        session.flush()  # new images' rows first: a vector's image id is a foreign key
    with store.edit(connection=session) if in_catalog else store.edit() as st:
        if gone.size:
            st.remove(gone)
        if batch:
            st.upsert(np.asarray([b[0] for b in batch], dtype=np.int64),
                      np.stack([np.asarray(b[1]).reshape(-1) for b in batch]))
    runtime, precision = made_by or (None, None)
    for image_id, _vector, sha in batch:
        row = session.get(ImageEmbedding, (image_id, model_key))
        if row is None:
            session.add(ImageEmbedding(image_id=image_id, model_key=model_key, sha256=sha,
                                       runtime=runtime, precision=precision))
        else:
            row.sha256, row.created_at = sha, utcnow()
            row.runtime, row.precision = runtime, precision
    session.commit()
    return len(batch)


def _apply_decoded(img: Image, d: Any, mtime: float, thumbnail: str) -> None:
    """Bring a catalog row up to date with a decoded file and mark it active."""
    img.sha256, img.size, img.mtime = d.sha256, d.size, mtime
    img.width, img.height, img.format = d.width, d.height, d.format
    img.captured_at, img.phash, img.thumbnail = d.captured_at, d.phash, thumbnail
    img.status = ImageStatus.ACTIVE


def index_library(
    ctx: Context,
    library: str | int,
    *,
    progress: ProgressFn | None = None,
    should_cancel: CancelFn | None = None,
    owner: str | None = None,
    chunks: ChunkRunner | None = None,
) -> IndexSummary:
    """Bring the catalog and the vector store up to date with one library's folder.

    Only one run indexes a library at a time (``owner`` names this one; see indexing_lease.py):
    another live run makes this one raise :class:`~daguerre.platform.errors.Conflict` at once,
    writing nothing. An unknown library is :class:`~daguerre.platform.errors.NotFound`.

    The run plans first, from a stat-only scan and the catalog: the CLIP model and the decode
    workers start only when some file needs embedding, so a run with nothing new costs a scan
    and a few queries (benchmarks/index_idle.py).

    ``chunks``: how a job spreads the embedding over workers (index_fanout.py). When it asks
    for it, the files to embed are split into chunks that any worker runs; the run plans,
    applies the row changes and waits for the chunks under its lease. Without it (the CLI, or
    a job on a single worker) this process embeds everything itself.
    """
    from daguerre.platform.services.indexing_lease import indexing_lease

    started = time.monotonic()
    with ctx.catalog.session() as s:
        lib = find_library(s, library)
    root = Path(lib.root)
    if not root.is_dir():
        raise Conflict(f"library {lib.name!r}: root folder {root} is not available",
                       field="library", value=library)
    # The lease is taken first, so a refused run (Conflict) writes nothing.
    with indexing_lease(ctx.catalog, lib.id, owner), ExitStack() as stack:
        if chunks is not None:
            chunks.resume(lib.id)  # chunks left by an earlier attempt of this run end first
        return _index_library(ctx, lib, root, stack, progress, should_cancel, started, chunks)


def _configured_vectors(ctx: Context) -> tuple[str, Any] | None:
    """The configured model's key and its store (None when it has no vectors yet), found
    without loading the model; None when only the loaded model can tell (its weights file is
    missing, or its store records another key), and the caller loads it.

    The key is the one :func:`daguerre.indexer.models.load_clip` gives the encoder (checked
    again once a run does load it)."""
    from daguerre.indexer.models import model_key

    try:
        key = model_key(ctx.clip_spec)
    except OSError:  # a weights file that is not there: loading the model says so clearly
        return None
    store = ctx.existing_store(key)
    if store is not None and store.model_key != key:
        return None
    return key, store


def plan_run(ctx: Context, lib: Library, model_key: str, store: Any,
             scanned: list[ScannedFile], *, only: list[str] | None = None) -> IndexPlan:
    """Read what the plan needs (catalog rows, embedded ids, stored ids) and make it; ``store``
    None: the model has no vectors yet. ``only``: plan these paths alone (an index chunk)."""
    from daguerre.indexer.decode import sha256_file

    def hash_file(f: ScannedFile) -> str | None:
        try:
            return sha256_file(f.abspath)
        except OSError:  # vanished or unreadable since the scan: treated as changed
            return None

    columns = (Image.id, Image.path, Image.size, Image.mtime, Image.sha256, Image.status)
    with ctx.catalog.session() as s:
        if only is None:
            rows = [CatalogRow(*r) for r in s.execute(
                select(*columns).where(Image.library_id == lib.id))]
        else:
            rows = []
            for start in range(0, len(only), 500):  # bounded IN lists (SQLite's parameters)
                rows += [CatalogRow(*r) for r in s.execute(select(*columns).where(
                    Image.library_id == lib.id, Image.path.in_(only[start:start + 500])))]
        ids = [r.id for r in rows]
        embedded: set[int] = set()
        for start in range(0, len(ids), 500) if only is not None else [None]:
            query = (select(ImageEmbedding.image_id).join(Image)
                     .where(Image.library_id == lib.id, ImageEmbedding.model_key == model_key))
            if start is not None:
                query = query.where(ImageEmbedding.image_id.in_(ids[start:start + 500]))
            embedded.update(s.scalars(query))
    stored = set(store.ids().tolist()) if store is not None else set()
    return plan_index(scanned, rows, embedded=embedded, stored=stored, hash_file=hash_file)


def _index_library(ctx: Context, lib: Library, root: Path, stack: ExitStack,
                   progress: ProgressFn | None, should_cancel: CancelFn | None,
                   started: float, chunks: ChunkRunner | None) -> IndexSummary:
    scanned, refused = scan_library(root)
    known = _configured_vectors(ctx)
    plan = plan_run(ctx, lib, *known, scanned) if known is not None else None
    if chunks is not None:
        if known is None:  # only the loaded model can tell what needs embedding
            encoder = ctx.encoder()
            known = encoder.key, ctx.store(encoder)
            plan = plan_run(ctx, lib, *known, scanned)
        size = chunks.chunk_files() if plan.embed else None
        if size is not None and len(plan.embed) > size:
            from daguerre.platform.services.index_fanout import index_in_chunks

            return index_in_chunks(ctx, lib, plan, refused, known, chunks, size,
                                   progress or (lambda done, total, msg: None), started)
    encoder, pool = None, None
    if plan is None or plan.embed:
        from daguerre.indexer.pipeline import DecodePool

        # Decode workers boot while the model loads. The model fails here, before anything is
        # written, if its weights are missing.
        pool = stack.enter_context(DecodePool(ctx.settings.decode_workers,
                                               processes=ctx.settings.decode_processes))
        encoder = ctx.encoder()
        if known is None or known[0] != encoder.key:  # the loaded model has the last word
            plan = plan_run(ctx, lib, encoder.key, ctx.store(encoder), scanned)
        store = ctx.store(encoder)
    else:
        store = known[1]
    summary = IndexSummary(library=lib.name, unchanged=plan.unchanged)
    progress = progress or (lambda done, total, msg: None)
    total = len(plan.embed)
    progress(0, total, f"{len(scanned)} files, {total} to embed")

    failures: dict[str, str] = dict(refused)
    with ctx.catalog.session() as s:
        apply_row_changes(s, plan, summary)
        if encoder is not None:
            done, canceled = embed_plan(ctx, s, lib, plan, encoder, store, pool, failures, summary,
                                    progress, should_cancel or (lambda: False))
        else:  # nothing to embed: only the vectors of vanished files leave the store
            save_embeddings(store, s, known[0], [], remove=plan.drop_vectors)
            done, canceled = 0, False
        # Failures of this scan replace the previous scan's.
        s.execute(delete(IndexFailure).where(IndexFailure.library_id == lib.id))
        for rel, reason in sorted(failures.items()):
            s.add(IndexFailure(library_id=lib.id, path=rel, reason=reason))
        if not canceled:
            s.get(Library, lib.id).last_indexed_at = utcnow()
        s.commit()

    summary.failed = len(failures)
    summary.failures = [{"path": str(root / rel), "reason": reason}
                        for rel, reason in sorted(failures.items())]
    summary.seconds = time.monotonic() - started
    progress(done, total, "canceled" if canceled else "done")
    if canceled:
        raise Canceled(f"indexing of {lib.name!r} canceled after {done} of {total} files")
    return summary


def apply_row_changes(s: Session, plan: IndexPlan, summary: IndexSummary) -> None:
    """The plan's row-only changes: vanished rows missing, new mtimes, moved paths."""
    # By primary key in executemany batches, not one SELECT per row: a library copied to a new
    # disk touches every file.
    if plan.missing:
        s.execute(update(Image), [{"id": i, "status": ImageStatus.MISSING} for i in plan.missing])
    summary.missing = len(plan.missing)
    if plan.touched:
        s.execute(update(Image), [{"id": i, "mtime": f.mtime} for i, f in plan.touched])
    for move in plan.moves:
        img = s.get(Image, move.row.id)
        img.path, img.mtime = move.file.rel, move.file.mtime
        if img.status not in RETIRED:
            img.status = ImageStatus.ACTIVE
    summary.moved = len(plan.moves)
    s.commit()


def embed_plan(ctx: Context, s: Session, lib: Library, plan: IndexPlan, encoder: Any, store: Any,
           pool: Any, failures: dict[str, str], summary: IndexSummary, progress: ProgressFn,
           should_cancel: CancelFn) -> tuple[int, bool]:
    """Decode and embed the plan's files, writing rows, thumbnails and vectors as they come;
    returns (files done, whether the run was canceled)."""
    from daguerre.indexer.models import encoder_runtime
    from daguerre.indexer.pipeline import Embedded, embed_files
    from daguerre.platform.vectors.backend import backend_of

    settings = ctx.settings
    in_catalog = backend_of(store) == "pgvector"
    made_by = encoder_runtime(encoder)
    summary.runtime, summary.precision = made_by
    pending: list[tuple[int, np.ndarray, str]] = []  # saved by the next store flush
    to_remove = list(plan.drop_vectors)
    staged: list[tuple[Image, np.ndarray, str]] = []

    def flush_store() -> None:
        save_embeddings(store, s, encoder.key, pending, remove=to_remove, made_by=made_by)
        pending.clear()
        to_remove.clear()

    def commit_staged() -> None:
        s.flush()  # one flush per batch assigns the new rows their ids (the vector ids)
        pending.extend((img.id, vector, sha) for img, vector, sha in staged)
        staged.clear()
        if in_catalog:  # pgvector: the vectors commit with their rows, in one transaction
            flush_store()
        else:
            s.commit()

    items = {item.file.abspath: item for item in plan.embed}
    total, done, canceled = len(items), 0, False
    last_flush = time.monotonic()
    batch = settings.batch_size or encoder.preferred_batch
    results = embed_files(list(items), encoder.encode_pixels, decode_options(settings, encoder),
                          batch_size=batch, pool=pool, streams=encoder.streams)
    try:
        for result in results:
            item = items[result.path]
            f = item.file
            done += 1
            if not isinstance(result, Embedded):
                failures[f.rel] = result.reason
                continue
            d = result.decoded
            thumb = write_thumbnail(settings.home, d.sha256, d.thumbnail)
            img = s.get(Image, item.image_id) if item.image_id is not None else None
            if img is None:
                img = Image(library_id=lib.id, path=f.rel, origin=ImageOrigin.LIBRARY)
                s.add(img)
                summary.added += 1
            elif not item.moved:
                summary.updated += 1
            _apply_decoded(img, d, f.mtime, thumb)
            staged.append((img, result.embedding, d.sha256))
            failures.pop(f.rel, None)
            if len(staged) >= COMMIT_EVERY:
                commit_staged()
            if done % batch == 0:
                progress(done, total, f.rel)
                if time.monotonic() - last_flush > STORE_FLUSH_SECONDS:
                    flush_store()
                    last_flush = time.monotonic()
                if should_cancel():
                    canceled = True
                    break
    finally:
        results.close()
        commit_staged()
        flush_store()
    return done, canceled


def decode_options(settings: Any, encoder: Any | None, *, draft: bool | None = None) -> Any:
    """How every part of the platform decodes an image for ``encoder`` (None: no model pixels):
    the configured draft, thumbnail size and decompression-bomb limit."""
    from daguerre.indexer.decode import DecodeOptions

    return DecodeOptions(
        pixel_stage=encoder.pixel_stage if encoder is not None else None,
        model_size=encoder.image_size if encoder is not None else 224,
        draft=settings.draft_decode if draft is None else draft,
        thumbnail_size=settings.thumbnail_size, max_pixels=settings.max_image_pixels)


@dataclass
class Cataloged:
    """What :func:`catalog_files` did: ``{path: catalog id}`` in the order asked, and the files it
    could not add."""

    ids: dict[str, int] = field(default_factory=dict)
    added: int = 0
    failures: list[tuple[str, str]] = field(default_factory=list)  # (library-relative path, reason)


def catalog_files(ctx: Context, library_id: int, rels: list[str], *,
                  owner: str | None = None) -> Cataloged:
    """Catalog ids for files of one library, adding the ones the catalog does not know yet.

    A file added here is decoded (size, orientation, capture time, perceptual hash, thumbnail) but
    not embedded: no CLIP weights are needed, so a photo can be restored or edited before its
    library was ever indexed. The next ``daguerre index`` embeds it under the same id. Runs under
    the library's indexing lease, so it never races an indexer inserting the same path (raises
    Conflict while one runs). Unreadable files land in ``failures``; images a person
    retired (deleted, duplicate) are refused there too rather than brought back.
    """
    from daguerre.indexer.decode import DecodeError, decode_file
    from daguerre.platform.services.indexing_lease import indexing_lease

    out = Cataloged()
    with ctx.catalog.session() as s:
        lib = find_library(s, library_id)
    root = Path(lib.root)
    with indexing_lease(ctx.catalog, lib.id, owner), ctx.catalog.session() as s:
        rows: dict[str, Any] = {}
        for start in range(0, len(rels), 500):  # bounded IN lists (SQLite caps parameters)
            rows.update((r.path, r) for r in s.execute(
                select(Image.id, Image.path, Image.status)
                .where(Image.library_id == lib.id, Image.path.in_(rels[start:start + 500]))))
        options = decode_options(ctx.settings, None)
        for rel in rels:
            row = rows.get(rel)
            if row is not None and row.status == ImageStatus.ACTIVE:
                out.ids[rel] = row.id
                continue
            if row is not None and row.status != ImageStatus.MISSING:
                out.failures.append((rel, f"retired in the catalog (status {row.status.value})"))
                continue
            try:
                d = decode_file(root / rel, options)
            except DecodeError as exc:
                out.failures.append((rel, str(exc)))
                continue
            img = s.get(Image, row.id) if row is not None else None
            if img is None:
                img = Image(library_id=lib.id, path=rel, origin=ImageOrigin.LIBRARY)
                s.add(img)
            _apply_decoded(img, d, d.mtime,
                           write_thumbnail(ctx.settings.home, d.sha256, d.thumbnail))
            s.flush()
            out.ids[rel] = img.id
            out.added += 1
        s.commit()
    return out
