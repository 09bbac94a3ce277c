"""What an index run must do, decided from the scan and the catalog alone.

:func:`plan_index` is pure: it takes the files found on disk, the library's catalog rows, the
ids whose vector this model has (catalog and store) and a function that hashes one file, and
returns an :class:`IndexPlan`: which files to embed (new, changed, or whose vector is missing),
which rows only need their mtime refreshed (same content, new mtime), which files moved (the
same content at a new path keeps its image id), which rows vanished, and which vectors leave
the store. It opens no database and reads no file itself, so every rule is unit-tested with
plain values (tests/platform/test_index_plan.py); ``services.indexing`` applies the plan.

Hashing is the only expensive step, so a file is hashed only when its size or mtime changed,
or when it is new and has the size of a vanished row (a candidate move).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field

from daguerre.platform.catalog.models import ImageStatus

# A person retired these; no rescan brings them back while the file keeps its content.
RETIRED = frozenset({ImageStatus.DELETED, ImageStatus.DUPLICATE})

HashFn = Callable[["ScannedFile"], "str | None"]  # sha256 of the file, None when unreadable


@dataclass(frozen=True)
class ScannedFile:
    """One image file found under a library root."""

    rel: str  # path relative to the library root, with forward slashes
    abspath: str
    size: int
    mtime: float


@dataclass(frozen=True)
class CatalogRow:
    """The columns of a library's ``images`` row that the plan reads."""

    id: int
    path: str
    size: int
    mtime: float
    sha256: str
    status: ImageStatus


@dataclass(frozen=True)
class ToEmbed:
    """A file to decode and embed; ``image_id`` is the row it updates (None: a new row)."""

    file: ScannedFile
    image_id: int | None = None
    moved: bool = False  # a moved file whose vector was never saved: embedded under its old id


@dataclass(frozen=True)
class Move:
    """``row``'s content now lives at ``file``: the row takes the new path, keeping its id."""

    row: CatalogRow
    file: ScannedFile


@dataclass
class IndexPlan:
    embed: list[ToEmbed] = field(default_factory=list)
    touched: list[tuple[int, ScannedFile]] = field(default_factory=list)  # (id, file): mtime only
    moves: list[Move] = field(default_factory=list)
    missing: list[int] = field(default_factory=list)  # active rows whose file vanished
    drop_vectors: list[int] = field(default_factory=list)  # vanished ids still in the store
    unchanged: int = 0


def _same_stat(row: CatalogRow, f: ScannedFile) -> bool:
    return row.size == f.size and abs(row.mtime - f.mtime) < 1e-6


def plan_index(scanned: Iterable[ScannedFile], rows: Iterable[CatalogRow], *,
               embedded: set[int], stored: set[int], hash_file: HashFn) -> IndexPlan:
    """Decide what an index run does (see the module docstring).

    ``embedded``: ids with an ``image_embeddings`` row for this model; ``stored``: ids whose
    vector is in this model's store. A vector counts only when both say so: the row is written
    after the store is saved, so a run killed in between re-embeds instead of trusting either.
    """
    scanned = list(scanned)
    on_disk = {f.rel for f in scanned}
    known = {r.path: r for r in rows}
    plan = IndexPlan()

    def vector_ok(row: CatalogRow) -> bool:
        return row.id in embedded and row.id in stored

    candidates: list[ToEmbed] = []
    for f in scanned:
        row = known.get(f.rel)
        if row is None:
            candidates.append(ToEmbed(f))
            continue
        if row.status in RETIRED:
            if _same_stat(row, f):
                plan.unchanged += 1
            elif row.size == f.size and hash_file(f) == row.sha256:
                plan.touched.append((row.id, f))  # stays retired
                plan.unchanged += 1
            else:
                candidates.append(ToEmbed(f, row.id))  # other content at that path: a new photo
            continue
        current = row.status == ImageStatus.ACTIVE and vector_ok(row)
        if _same_stat(row, f):
            if current:
                plan.unchanged += 1
            else:  # missing and back, or its vector was never saved
                candidates.append(ToEmbed(f, row.id))
        elif current and row.size == f.size and hash_file(f) == row.sha256:
            plan.touched.append((row.id, f))
            plan.unchanged += 1
        else:
            candidates.append(ToEmbed(f, row.id))

    # Moves: a new path whose content equals a vanished row keeps that row's id and metadata.
    vanished = {r.path: r for r in known.values() if r.path not in on_disk}
    by_size: dict[int, list[CatalogRow]] = {}
    for r in vanished.values():
        by_size.setdefault(r.size, []).append(r)
    for item in candidates:
        f = item.file
        match = None
        if item.image_id is None and by_size.get(f.size):
            sha = hash_file(f)
            match = next((r for r in by_size[f.size] if sha is not None and r.sha256 == sha),
                         None)
        if match is None:
            plan.embed.append(item)
            continue
        by_size[f.size].remove(match)
        del vanished[match.path]
        plan.moves.append(Move(match, f))
        if match.status not in RETIRED and not vector_ok(match):
            plan.embed.append(ToEmbed(f, match.id, moved=True))  # same id, vector never saved

    for r in vanished.values():
        if r.status == ImageStatus.ACTIVE:
            plan.missing.append(r.id)
        if r.id in stored:
            plan.drop_vectors.append(r.id)
    return plan
