"""The application's services, built from settings on first use.

One :class:`Context` per process (CLI invocation, web app, worker). Nothing heavy happens until a
service is asked for: the CLI's ``--help`` and the web process never load torch unless they embed.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import cached_property
from typing import TYPE_CHECKING

from daguerre.platform.catalog.db import Catalog
from daguerre.platform.config import Settings, load_settings

if TYPE_CHECKING:
    from daguerre.indexer.encoder import ClipEncoder
    from daguerre.indexer.models import ClipSpec
    from daguerre.indexer.store import VectorStore


@dataclass
class Context:
    settings: Settings = field(default_factory=load_settings)
    _encoder: ClipEncoder | None = field(default=None, init=False, repr=False)
    _stores: dict[str, VectorStore] = field(default_factory=dict, init=False, repr=False)

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
            from daguerre.indexer.models import load_clip
            from daguerre.platform.hub import clip_download_blocker

            blocked = clip_download_blocker(self.clip_spec, offline=self.settings.offline)
            self._encoder = load_clip(self.clip_spec, self.settings.device,
                                      download=blocked is None,
                                      offline_reason=blocked or "downloads disabled")
        return self._encoder

    def store(self, encoder: ClipEncoder | None = None) -> VectorStore:
        """The vector store of the configured model (each model has its own)."""
        from daguerre.indexer.store import VectorStore

        encoder = encoder or self.encoder()
        if encoder.key not in self._stores:
            self._stores[encoder.key] = VectorStore.open(
                self.settings.vectors_dir / encoder.key, dim=encoder.dim, model_key=encoder.key)
        store = self._stores[encoder.key]
        store.reload()
        return store

    def close(self) -> None:
        if "catalog" in self.__dict__:
            self.catalog.dispose()
