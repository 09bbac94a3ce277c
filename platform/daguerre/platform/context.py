"""The application's services, built from settings on first use.

One :class:`Context` per process (CLI invocation, web app, worker). Nothing heavy happens until a
service is asked for: the CLI's ``--help`` and the web process never load torch unless they embed.
"""

from __future__ import annotations

import logging
import sys
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING

from daguerre.platform.catalog.db import Catalog
from daguerre.platform.config import Settings, load_settings

if TYPE_CHECKING:
    from daguerre.indexer.encoder import ClipEncoder
    from daguerre.indexer.models import ClipSpec
    from daguerre.platform.vectors.backend import VectorBackend


_log = logging.getLogger("daguerre.clip")


def notify(message: str) -> None:
    """One line about the CLIP runtime (an export, a refused precision) on stderr, where the
    CLI, the web server and the workers all show it, and in the log."""
    _log.info(message)
    print(f"daguerre: {message}", file=sys.stderr, flush=True)


@dataclass
class Context:
    settings: Settings = field(default_factory=load_settings)
    _encoder: ClipEncoder | None = field(default=None, init=False, repr=False)
    _stores: dict[str, VectorBackend] = field(default_factory=dict, init=False, repr=False)

    @cached_property
    def catalog(self) -> Catalog:
        self.settings.ensure_dirs()
        return Catalog(self.settings.effective_database_url)

    @property
    def clip_spec(self) -> ClipSpec:
        from daguerre.indexer.models import ClipSpec

        return ClipSpec(self.settings.clip_model, self.settings.clip_weights)

    def encoder(self) -> ClipEncoder:
        """The configured CLIP model, loaded once. Raises WeightsUnavailable when its weights are
        neither here nor downloadable (at once when the hub is unreachable: see hub.py)."""
        if self._encoder is None:
            from daguerre.indexer.models import load_encoder
            from daguerre.platform.hub import clip_download_blocker

            blocked = clip_download_blocker(self.clip_spec, offline=self.settings.offline)
            s = self.settings
            self._encoder = load_encoder(
                self.clip_spec, s.device, runtime=s.clip_runtime, precision=s.clip_precision,
                threads=s.onnx_threads, cache_root=s.onnx_cache_dir, download=blocked is None,
                offline_reason=blocked or "downloads disabled",
                library_paths=self.sample_image_paths, notify=notify)
        return self._encoder

    def sample_image_paths(self, limit: int = 64) -> list[str]:
        """Files of the libraries' own photos for the ONNX agreement check (an export checks
        the model on them): active images spread over the catalog, newest ids first."""
        from sqlalchemy import select

        from daguerre.platform.catalog.models import Image, ImageStatus, Library

        with self.catalog.session() as s:
            rows = s.execute(
                select(Library.root, Image.path).join(Library, Image.library_id == Library.id)
                .where(Image.status == ImageStatus.ACTIVE).order_by(Image.id.desc())
                .limit(limit)).all()
        return [str(Path(root) / path) for root, path in rows]

    def store(self, encoder: ClipEncoder | None = None) -> VectorBackend:
        """The vector store of the configured model (each model has its own), in the backend
        the ``vector_store`` setting chooses (FAISS files or the catalog's pgvector)."""
        from daguerre.platform.vectors.backend import open_store

        encoder = encoder or self.encoder()
        if encoder.key not in self._stores:
            self._stores[encoder.key] = open_store(self.settings, self.catalog, encoder.key,
                                                   encoder.dim)
        store = self._stores[encoder.key]
        store.reload()
        return store

    def existing_store(self, model_key: str) -> VectorBackend | None:
        """The store of ``model_key`` in its backend without loading the model, or None when
        it has no vectors there yet."""
        from daguerre.platform.vectors.backend import existing_store

        return existing_store(self.settings, self.catalog, model_key)

    def all_stores(self) -> list[VectorBackend]:
        """Every model's store in both backends (what removing images' vectors must reach)."""
        from daguerre.platform.vectors.backend import all_stores

        return all_stores(self.settings, self.catalog)

    def close(self) -> None:
        if "catalog" in self.__dict__:
            self.catalog.dispose()
