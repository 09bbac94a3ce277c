"""Where the vectors are and moving them: ``daguerre vectors status`` and ``vectors migrate``.

* :func:`status`: the ``vector_store`` setting, the backend the configured model uses and why,
  whether this catalog can hold vectors (pgvector's version, or what is missing), and every
  model's store in either backend with its count, index type and parameters.
* :func:`migrate`: copy every model's stored embeddings into the other backend (no
  re-encoding; :mod:`daguerre.platform.vectors.migrate`: batches, resumable, a re-run only
  copies what differs), then record ``vector_store`` in the settings file so every process
  started afterwards uses the new backend. Running processes keep the backend they opened:
  restart the web app and the workers, and stop indexing while migrating (vectors written to
  the old backend meanwhile are picked up by running the migration again).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
from sqlalchemy import select

from daguerre.platform.context import Context
from daguerre.platform.errors import BadInput, Unavailable

ProgressFn = Callable[[int, int, str | None], None]


def configured_model_key(ctx: Context) -> str | None:
    """The configured CLIP model's key, found without loading it (None when only loading it
    can tell, e.g. a weights file that is not there)."""
    from daguerre.indexer.models import model_key

    try:
        return model_key(ctx.clip_spec)
    except OSError:
        return None


def _summary(store: Any, backend: str, in_use: bool) -> dict[str, Any]:
    stats = dict(store.stats())
    stats["backend"] = backend
    stats["in_use"] = in_use
    return stats


def status(ctx: Context) -> dict[str, Any]:
    """What ``daguerre vectors status`` shows (module docstring)."""
    from daguerre.indexer.store import StoreError
    from daguerre.platform.config import settings_file
    from daguerre.platform.vectors.backend import (
        choose,
        faiss_stores,
        pgvector_stores,
    )
    from daguerre.platform.vectors.pgvector import availability

    settings = ctx.settings
    key = configured_model_key(ctx)
    version, why = availability(ctx.catalog.engine)
    try:
        choice = choose(settings, ctx.catalog, key)
        backend, reason = choice.backend, choice.reason
    except StoreError as exc:
        backend, reason = None, str(exc)
    models = []
    try:
        for store in faiss_stores(settings):
            models.append(_summary(store, "faiss", backend == "faiss" and store.model_key == key))
    except StoreError as exc:
        raise Unavailable(str(exc)) from None
    for store in pgvector_stores(settings, ctx.catalog):
        models.append(_summary(store, "pgvector",
                               backend == "pgvector" and store.model_key == key))
    return {
        "setting": settings.vector_store,
        "backend": backend,
        "reason": reason,
        "catalog": ctx.catalog.engine.dialect.name,
        "pgvector": {"available": version is not None, "version": version,
                     "reason": why or None},
        "hnsw_settings": {"m": settings.pgvector_m,
                          "ef_construction": settings.pgvector_ef_construction,
                          "ef_search": settings.pgvector_ef_search,
                          "max_scan_tuples": settings.pgvector_max_scan_tuples},
        "model_key": key,
        "settings_file": str(settings_file(settings)),
        "models": models,
    }


def _catalog_ids(ctx: Context) -> Callable[[np.ndarray], np.ndarray]:
    """The ids among a batch that have a catalog image (pgvector's foreign key needs one)."""
    from daguerre.platform.catalog.models import Image

    def known(ids: np.ndarray) -> np.ndarray:
        if not len(ids):
            return ids
        with ctx.catalog.session() as s:
            found = s.scalars(select(Image.id).where(Image.id.in_(ids.tolist()))).all()
        return np.intersect1d(ids, np.asarray(found, dtype=np.int64))

    return known


def migrate(ctx: Context, to: str, *, batch: int = 10_000,
            progress: Callable[[str], ProgressFn] | None = None) -> dict[str, Any]:
    """Copy every model's vectors into backend ``to`` and switch the setting to it.
    ``progress(model_key)`` gives the progress function of one model's copy."""
    from daguerre.indexer.store import StoreError, VectorStore
    from daguerre.platform.config import write_setting
    from daguerre.platform.vectors.backend import (
        BACKENDS,
        faiss_dir,
        faiss_stores,
        pgvector_stores,
    )
    from daguerre.platform.vectors.migrate import copy_vectors
    from daguerre.platform.vectors.pgvector import HnswParams, PgVectorStore, availability

    if to not in BACKENDS:
        raise BadInput(f"--to must be one of {', '.join(BACKENDS)}, got {to!r}",
                       field="to", value=to)
    if not isinstance(batch, int) or batch < 1:
        raise BadInput(f"batch must be a positive integer, got {batch!r}", field="batch",
                       value=batch)
    engine = ctx.catalog.engine
    version, why = availability(engine)
    reports = []
    try:
        if to == "pgvector":
            if version is None:
                raise Unavailable(f"cannot move vectors into pgvector: {why}")
            sources = faiss_stores(ctx.settings)
            params = HnswParams.from_settings(ctx.settings)
            for src in sources:
                dest = PgVectorStore.open(engine, dim=src.dim, model_key=src.model_key,
                                          params=params)
                # Load first, index once: building HNSW over the loaded rows is many times
                # faster than inserting each row into a graph (docs/benchmarks.md). A run
                # interrupted here leaves the store exact; the re-run indexes it.
                bulk = dest.index_type == "Flat"
                if bulk:
                    dest.rebuild("Flat")
                fn = progress(src.model_key) if progress else None
                reports.append(copy_vectors(src, dest, batch=batch,
                                            catalog_ids=_catalog_ids(ctx), progress=fn))
                if bulk:
                    dest.rebuild()  # automatic again: HNSW from FLAT_MAX vectors on
        else:
            sources = pgvector_stores(ctx.settings, ctx.catalog)
            for src in sources:
                dest = VectorStore.open(faiss_dir(ctx.settings, src.model_key), dim=src.dim,
                                        model_key=src.model_key)
                fn = progress(src.model_key) if progress else None
                reports.append(copy_vectors(src, dest, batch=max(batch, 50_000),
                                            progress=fn))
    except StoreError as exc:
        raise Unavailable(f"cannot move the vectors: {exc}") from None
    path, override = write_setting(ctx.settings, "vector_store", to)
    return {"to": to, "models": [r.as_dict() for r in reports], "settings_file": str(path),
            "overridden_by": override}
