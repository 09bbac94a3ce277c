"""Copy one model's stored embeddings from one backend to the other, without re-encoding.

The copy is a *sync*: when it ends, the destination holds exactly the source's ids with the
source's vectors. It goes in id order, ``batch`` ids at a time, each batch one write (one
transaction on pgvector, one saved generation on FAISS), so an interrupted run keeps what it
wrote, and a re-run skips every id whose vector is already there and equal (to float16
precision, which both backends store). Vectors the destination holds but the source does not (a
copy left from an earlier migration, since deleted) are removed, so moving back and forth never
resurrects an image.

Ids with no catalog image are not copied into pgvector (its foreign key refuses them); they are
counted as ``orphans``.
"""

from __future__ import annotations

from collections.abc import Callable
from contextlib import ExitStack
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np

#: Largest difference between two stored copies of a vector that still counts as equal: both
#: backends store float16 of the normalised vector (about 5e-4 relative precision).
SAME_VECTOR_ATOL = 2e-3

ProgressFn = Callable[[int, int, str | None], None]


@dataclass
class CopyReport:
    model_key: str
    source_count: int = 0
    copied: int = 0  # written to the destination (new or changed)
    skipped: int = 0  # already there and equal: an earlier, interrupted run copied them
    removed: int = 0  # held by the destination only
    orphans: int = 0  # no catalog image: not copied into pgvector

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def copy_vectors(source: Any, dest: Any, *, batch: int = 10_000, save_every: int = 200_000,
                 catalog_ids: Callable[[np.ndarray], np.ndarray] | None = None,
                 progress: ProgressFn | None = None) -> CopyReport:
    """Make ``dest`` hold exactly ``source``'s vectors (module docstring). ``catalog_ids``
    filters ids to those with a catalog image (for a destination that requires one).
    ``progress(done, total, message)`` is called after each batch.

    A pgvector destination commits each batch. A FAISS destination is written under one
    :meth:`edit` (its lock held throughout) and saved every ``save_every`` vectors: each save
    writes the whole store, so saving every batch would cost quadratic time.
    """
    if source.dim != dest.dim or source.model_key != dest.model_key:
        raise ValueError(f"cannot copy model {source.model_key!r} (dim {source.dim}) into a "
                         f"store of {dest.model_key!r} (dim {dest.dim})")
    report = CopyReport(source.model_key)
    src_ids = source.ids()
    report.source_count = len(src_ids)
    files = getattr(dest, "backend", "faiss") == "faiss"
    with ExitStack() as stack:
        if files:
            stack.enter_context(dest.edit())
        extra = np.setdiff1d(dest.ids(), src_ids, assume_unique=True)
        if len(extra):
            report.removed = _write(dest, files, lambda d: d.remove(extra))
        unsaved = 0
        for lo in range(0, len(src_ids), batch):
            ids = src_ids[lo:lo + batch]
            if catalog_ids is not None:
                known = catalog_ids(ids)
                report.orphans += len(ids) - len(known)
                ids = known
            vecs = source.get(ids) if len(ids) else np.empty((0, source.dim), np.float32)
            held = _held(dest, ids)
            same = np.zeros(len(ids), bool)
            if held.any():
                theirs = dest.get(ids[held])
                same[held] = np.abs(theirs - vecs[held]).max(axis=1) <= SAME_VECTOR_ATOL
            write = ~same
            report.skipped += int(same.sum())
            if write.any():
                _write(dest, files, lambda d, i=ids[write], v=vecs[write]: d.upsert(i, v))
                report.copied += int(write.sum())
                unsaved += int(write.sum())
            if files and unsaved >= save_every:
                dest.save()
                unsaved = 0
            if progress is not None:
                progress(min(lo + batch, len(src_ids)), len(src_ids), source.model_key)
    dest.save()
    return report


def _write(dest: Any, files: bool, change: Callable[[Any], Any]) -> Any:
    """One change: inside the FAISS edit already held, or as its own pgvector transaction."""
    if files:
        return change(dest)
    with dest.edit() as d:
        return change(d)


def _held(store: Any, ids: np.ndarray) -> np.ndarray:
    """A mask of ``ids`` that ``store`` holds, in one call on either backend."""
    if hasattr(store, "held"):
        return np.isin(ids, store.held(ids))
    return np.isin(ids, store.ids())
