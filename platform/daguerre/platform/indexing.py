"""Incremental indexing of one library: scan, diff against the catalog, embed what changed.

The plan (what to embed, what moved, what vanished) is decided from the catalog and ``stat``
alone, hashing only files whose size or mtime changed and new files whose size matches a vanished
one (candidate moves). Everything else streams through the decode/encode pipeline.

Consistency: an ``image_embeddings`` row is written only after the vector is saved in the store,
so a run killed at any point leaves a catalog that the next run completes — nothing is embedded
twice into the store, nothing stored is lost.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from sqlalchemy import delete, select

from daguerre.platform.catalog.models import (
    Image,
    ImageEmbedding,
    ImageOrigin,
    ImageStatus,
    IndexFailure,
    Library,
    utcnow,
)
from daguerre.platform.context import Context

ProgressFn = Callable[[int, int, str], None]
CancelFn = Callable[[], bool]

STORE_FLUSH_SECONDS = 30.0  # how often a long run makes its vectors durable


class IndexingError(Exception):
    """The library cannot be indexed at all (its root is gone, not a folder, ...)."""


class Canceled(Exception):
    """Raised between batches when the caller asked to stop; work done so far is kept."""


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

    def as_dict(self) -> dict[str, Any]:
        return {"library": self.library, "added": self.added, "updated": self.updated,
                "unchanged": self.unchanged, "moved": self.moved, "missing": self.missing,
                "failed": self.failed, "failures": self.failures,
                "seconds": round(self.seconds, 3)}


@dataclass(frozen=True)
class ScannedFile:
    rel: str
    abspath: str
    size: int
    mtime: float


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
            if os.path.islink(full):
                target = os.path.realpath(full)
                if os.path.commonpath([target, fence]) != fence:
                    refused.append((rel, "symbolic link points outside the library"))
                    continue
            try:
                st = os.stat(full)
            except OSError as exc:
                refused.append((rel, f"cannot stat file: {exc.strerror}"))
                continue
            files.append(ScannedFile(rel, full, st.st_size, st.st_mtime))
    return files, refused


def thumbnail_relpath(sha256: str) -> str:
    return f"thumbnails/{sha256[:2]}/{sha256}.jpg"


def _write_thumbnail(home: Path, sha256: str, data: bytes) -> str:
    rel = thumbnail_relpath(sha256)
    path = home / rel
    if not path.exists():  # content-addressed: the same bytes make the same file
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(f".{os.getpid()}.tmp")
        tmp.write_bytes(data)
        os.replace(tmp, path)
    return rel


def _apply_decoded(img: Image, d: Any, mtime: float, thumbnail: str) -> None:
    """Bring a catalog row up to date with a decoded file and mark it active."""
    img.sha256, img.size, img.mtime = d.sha256, d.size, mtime
    img.width, img.height, img.format = d.width, d.height, d.format
    img.captured_at, img.phash, img.thumbnail = d.captured_at, d.phash, thumbnail
    img.status = ImageStatus.ACTIVE


def get_library(ctx: Context, name_or_id: str | int) -> Library:
    with ctx.catalog.session() as s:
        lib = None
        if isinstance(name_or_id, int) or str(name_or_id).isdigit():
            lib = s.get(Library, int(name_or_id))
        if lib is None:
            lib = s.scalar(select(Library).where(Library.name == str(name_or_id)))
        if lib is None:
            raise IndexingError(f"no library named {name_or_id!r} (see `daguerre library list`)")
        return lib


def index_library(
    ctx: Context,
    library: str | int,
    *,
    progress: ProgressFn | None = None,
    should_cancel: CancelFn | None = None,
    owner: str | None = None,
) -> IndexSummary:
    """Bring the catalog and the vector store up to date with one library's folder.

    Only one run indexes a library at a time (``owner`` names this one; see indexing_lease.py):
    another live run makes this one raise :class:`IndexingError` at once, writing nothing.
    """
    from daguerre.indexer.pipeline import DecodePool
    from daguerre.platform.indexing_lease import LibraryBusy, indexing_lease

    started = time.monotonic()
    lib = get_library(ctx, library)
    root = Path(lib.root)
    if not root.is_dir():
        raise IndexingError(f"library {lib.name!r}: root folder {root} is not available")
    settings = ctx.settings
    # Decode workers boot while the model loads and the folder is scanned.
    try:
        with indexing_lease(ctx.catalog, lib.id, owner), \
                DecodePool(settings.decode_workers) as pool:
            return _index_library(ctx, lib, root, pool, progress, should_cancel, started)
    except LibraryBusy as exc:  # raised on entry only: nothing was written
        raise IndexingError(str(exc)) from None


def _index_library(ctx: Context, lib: Library, root: Path, pool: Any,
                   progress: ProgressFn | None, should_cancel: CancelFn | None,
                   started: float) -> IndexSummary:
    from daguerre.indexer.decode import sha256_file
    from daguerre.indexer.pipeline import Embedded, embed_files

    encoder = ctx.encoder()  # fails here, before anything is written, if weights are missing
    store = ctx.store(encoder)
    settings = ctx.settings
    summary = IndexSummary(library=lib.name)
    progress = progress or (lambda done, total, msg: None)
    should_cancel = should_cancel or (lambda: False)

    scanned, refused = scan_library(root)
    on_disk = {f.rel: f for f in scanned}

    with ctx.catalog.session() as s:
        rows = s.execute(
            select(Image.id, Image.path, Image.size, Image.mtime, Image.sha256, Image.status)
            .where(Image.library_id == lib.id)).all()
        embedded = set(s.scalars(
            select(ImageEmbedding.image_id).join(Image).where(
                Image.library_id == lib.id, ImageEmbedding.model_key == encoder.key)))
    in_store = set(store.ids().tolist())
    known = {r.path: r for r in rows}

    to_embed: list[ScannedFile] = []
    touched: list[tuple[int, ScannedFile]] = []  # same content, new mtime: update the row only
    for f in scanned:
        row = known.get(f.rel)
        if row is None:
            to_embed.append(f)
            continue
        same_stat = row.size == f.size and abs(row.mtime - f.mtime) < 1e-6
        if same_stat and row.status in (ImageStatus.DUPLICATE, ImageStatus.DELETED):
            summary.unchanged += 1  # a person retired it; a rescan must not bring it back
            continue
        vector_ok = row.id in embedded and row.id in in_store and row.status == ImageStatus.ACTIVE
        if same_stat:
            if vector_ok:
                summary.unchanged += 1
            else:
                to_embed.append(f)
            continue
        try:
            same = row.size == f.size and sha256_file(f.abspath) == row.sha256
        except OSError:
            same = False
        if same and vector_ok:
            touched.append((row.id, f))
            summary.unchanged += 1
        else:
            to_embed.append(f)

    # Moves: a new path whose content equals a vanished image keeps that image's id and metadata.
    # Only new files with the size of a vanished one are hashed here.
    vanished = {r.path: r for r in rows if r.path not in on_disk}
    by_size: dict[int, list[Any]] = {}
    for r in vanished.values():
        by_size.setdefault(r.size, []).append(r)
    moves: list[tuple[Any, ScannedFile]] = []
    if by_size:
        remaining = []
        for f in to_embed:
            match = None
            if f.rel not in known and by_size.get(f.size):
                try:
                    sha = sha256_file(f.abspath)
                except OSError:
                    sha = None
                match = next((r for r in by_size[f.size] if r.sha256 == sha), None)
            if match is None:
                remaining.append(f)
                continue
            by_size[f.size].remove(match)
            vanished.pop(match.path)
            moves.append((match, f))
            if not (match.id in embedded and match.id in in_store):
                remaining.append(f)  # moved, but its vector was never saved: embed, same id
        to_embed = remaining

    total = len(to_embed)
    progress(0, total, f"{len(scanned)} files, {total} to embed")

    failures: dict[str, str] = dict(refused)
    pending_ids: list[int] = []
    pending_vecs: list[np.ndarray] = []
    pending_rows: list[tuple[int, str]] = []  # (image id, sha) to mark embedded after the save
    to_remove: list[int] = []

    with ctx.catalog.session() as s:
        # Vanished files: mark missing, and their vectors leave the store.
        for r in vanished.values():
            if r.status == ImageStatus.ACTIVE:
                s.get(Image, r.id).status = ImageStatus.MISSING
                summary.missing += 1
            if r.id in in_store:
                to_remove.append(r.id)
        for image_id, f in touched:
            img = s.get(Image, image_id)
            img.mtime = f.mtime
        for match, f in moves:
            img = s.get(Image, match.id)
            img.path = f.rel
            img.mtime = f.mtime
            img.status = ImageStatus.ACTIVE
            summary.moved += 1
        s.commit()

        def flush_store() -> None:
            if not (pending_ids or to_remove):
                return
            with store.edit() as st:
                if to_remove:
                    st.remove(np.asarray(to_remove, dtype=np.int64))
                if pending_ids:
                    st.upsert(np.asarray(pending_ids, dtype=np.int64), np.stack(pending_vecs))
            for image_id, sha in pending_rows:
                emb = s.get(ImageEmbedding, (image_id, encoder.key))
                if emb is None:
                    s.add(ImageEmbedding(image_id=image_id, model_key=encoder.key, sha256=sha))
                else:
                    emb.sha256, emb.created_at = sha, utcnow()
            s.commit()
            pending_ids.clear()
            pending_vecs.clear()
            pending_rows.clear()
            to_remove.clear()

        options = decode_options(settings, encoder)
        staged: list[tuple[Image, np.ndarray, str]] = []

        def commit_staged() -> None:
            # One flush per batch assigns the new rows their ids (the vector ids).
            s.flush()
            for img, vector, sha in staged:
                pending_ids.append(img.id)
                pending_vecs.append(vector)
                pending_rows.append((img.id, sha))
            staged.clear()
            s.commit()

        rel_of = {f.abspath: f for f in to_embed}
        moved_by_rel = {f.rel: m for m, f in moves}
        done = 0
        last_flush = time.monotonic()
        canceled = False
        results = embed_files([f.abspath for f in to_embed], encoder.encode_pixels, options,
                              batch_size=settings.batch_size, pool=pool)
        try:
            for item in results:
                f = rel_of[item.path]
                done += 1
                if not isinstance(item, Embedded):
                    failures[f.rel] = item.reason
                    continue
                d = item.decoded
                thumb = _write_thumbnail(settings.home, d.sha256, d.thumbnail)
                row = known.get(f.rel)
                match = moved_by_rel.get(f.rel)
                image_id = row.id if row is not None else (match.id if match else None)
                img = s.get(Image, image_id) if image_id is not None else None
                if img is None:
                    img = Image(library_id=lib.id, path=f.rel, origin=ImageOrigin.LIBRARY)
                    s.add(img)
                    summary.added += 1
                elif match is None:
                    summary.updated += 1
                _apply_decoded(img, d, f.mtime, thumb)
                staged.append((img, item.embedding, d.sha256))
                failures.pop(f.rel, None)
                if done % settings.batch_size == 0:
                    commit_staged()
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
    IndexingError while one runs). Unreadable files land in ``failures``; images a person
    retired (deleted, duplicate) are refused there too rather than brought back.
    """
    from daguerre.indexer.decode import DecodeError, decode_file
    from daguerre.platform.indexing_lease import LibraryBusy, indexing_lease

    out = Cataloged()
    lib = get_library(ctx, library_id)
    root = Path(lib.root)
    try:
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
                               _write_thumbnail(ctx.settings.home, d.sha256, d.thumbnail))
                s.flush()
                out.ids[rel] = img.id
                out.added += 1
            s.commit()
    except LibraryBusy as exc:
        raise IndexingError(str(exc)) from None
    return out
