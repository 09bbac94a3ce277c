"""Outputs of generator jobs and their lineage: file, catalog rows, vector.

Each output is written as a PNG under ``<data>/outputs/job-<id>/`` with the AUTOMATIC1111
``parameters`` chunk and the JSON provenance chunk, then recorded as an ``Image`` (origin
``generated``) with ``Lineage`` rows (parents, job, operation, full parameters), then embedded with
the configured CLIP model so it is searchable like any photo, and scored against its prompt
(``Image.adherence``, see :mod:`.adherence`). Output names are derived from the
job id, and rows are looked up by that path before being created, so a job that runs again after
a crash overwrites its own outputs rather than duplicating them.

A job may name a ``board`` (a collection, by id or name): it is resolved to the collection's id
when the job is created (:func:`check_board`, so an unknown board is refused before queueing), and
the job's outputs are added to it once the job has made them (:func:`send_to_board`).
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import delete, select

from daguerre.platform.catalog.models import Image, ImageOrigin, ImageStatus, Lineage
from daguerre.platform.context import Context
from daguerre.platform.files import write_thumbnail

BOARD_FIELD = "params.board"
EMBED_RETRY_SECONDS = 300.0
_EMBED_FAILURE = "_daguerre_embed_failure"


@dataclass
class Embedder:
    """The CLIP encoder and store for outputs, or the reason they are unavailable."""

    encoder: Any = None
    store: Any = None
    note: str | None = None

    @classmethod
    def load(cls, ctx: Context) -> Embedder:
        """The encoder, or the reason it is unavailable. A failure is remembered on the context
        for :data:`EMBED_RETRY_SECONDS`, so a worker without CLIP weights does not retry the
        load (or a download) for every output."""
        failed = getattr(ctx, _EMBED_FAILURE, None)
        if failed is not None and time.monotonic() - failed[0] < EMBED_RETRY_SECONDS:
            return cls(note=failed[1])
        try:
            from daguerre.indexer.models import ModelError
        except ImportError as exc:  # pragma: no cover - the indexer is part of the package
            return cls(note=f"outputs were not embedded: {exc}")
        try:
            encoder = ctx.encoder()
            return cls(encoder, ctx.store(encoder))
        except (ModelError, ImportError, OSError) as exc:
            note = (f"outputs were not embedded (not searchable until an `embed` job runs with "
                    f"CLIP weights): {exc}")
            setattr(ctx, _EMBED_FAILURE, (time.monotonic(), note))
            return cls(note=note)


@dataclass
class OutputWriter:
    """Writes one job's outputs: PNG file, Image row, Lineage rows, vector."""

    ctx: Context
    job_id: int
    operation: str
    embedder: Embedder = field(default_factory=Embedder)

    def relpath(self, key: str) -> str:
        return f"outputs/job-{self.job_id}/{key}.png"

    def write(self, image: Any, key: str, parents: list[int], params: dict[str, Any]) -> dict:
        """Save ``image`` (with the metadata the generator attached) and record it."""
        from daguerre.generator import metadata
        from daguerre.indexer.decode import decode_file
        from daguerre.indexer.models import encoder_runtime
        from daguerre.platform.services.generation.adherence import adherence, prompt_of
        from daguerre.platform.services.indexing import decode_options, save_embeddings

        settings = self.ctx.settings
        rel = self.relpath(key)
        path = settings.home / rel
        metadata.save_png(image, path)
        enc = self.embedder.encoder
        # Outputs are PNGs: no draft; the thumbnail and hash come from the same decode.
        d = decode_file(path, decode_options(settings, enc, draft=False))
        thumb = write_thumbnail(settings.home, d.sha256, d.thumbnail)
        raw = image.info.get(metadata.PROVENANCE_KEY)
        provenance = raw if isinstance(raw, dict) else {}
        lineage_params: dict[str, Any] = {"job": params, "provenance": provenance}
        vector, score = None, None
        if enc is not None:
            vector = enc.encode_pixels([d.pixels])
            prompt = prompt_of(self.operation, provenance.get("parameters"))
            if prompt is not None:
                score = adherence(self.ctx, prompt, vector[0])
                # Not in the PNG: the score belongs to the indexing model, which may change.
                lineage_params["adherence"] = {"score": score, "clip_model": enc.key}
        with self.ctx.catalog.session() as s:
            img = s.scalar(select(Image).where(Image.library_id.is_(None), Image.path == rel))
            if img is None:
                img = Image(library_id=None, path=rel, origin=ImageOrigin.GENERATED)
                s.add(img)
            img.sha256, img.size, img.mtime = d.sha256, d.size, d.mtime
            img.width, img.height, img.format = d.width, d.height, d.format
            img.phash, img.thumbnail, img.status = d.phash, thumb, ImageStatus.ACTIVE
            img.captured_at = None
            img.adherence = score
            s.flush()
            image_id = img.id
            # A re-run after a crash replaces the lineage it wrote before, never adds to it.
            s.execute(delete(Lineage).where(Lineage.image_id == image_id,
                                            Lineage.job_id == self.job_id))
            for parent in parents or [None]:
                s.add(Lineage(image_id=image_id, parent_id=parent, job_id=self.job_id,
                              operation=self.operation, params=lineage_params))
        embedded = False
        if vector is not None:
            with self.ctx.catalog.session() as s:
                save_embeddings(self.embedder.store, s, enc.key, [(image_id, vector[0], d.sha256)],
                                made_by=encoder_runtime(enc))
            embedded = True
        return {"image_id": image_id, "path": str(path), "parents": list(parents),
                "sha256": d.sha256, "width": d.width, "height": d.height,
                "seed": (provenance.get("parameters") or {}).get("seed"), "embedded": embedded,
                "adherence": score}


def check_board(ctx: Context, params: dict[str, Any]) -> None:
    """Resolve ``params["board"]`` (a collection's id or name) to the collection's id, so a
    rename between creation and the end of the job changes nothing; NotFound naming
    ``params.board`` when there is no such collection."""
    from daguerre.platform.services.collections import find_collection

    if params.get("board") is None:
        return
    with ctx.catalog.session() as s:
        params["board"] = find_collection(s, params["board"], field=BOARD_FIELD).id


def send_to_board(ctx: Context, params: dict[str, Any], result: dict[str, Any]
                  ) -> dict[str, Any]:
    """Add the outputs of a finished job (``result["image_ids"]``) to the board its
    ``params`` name, and say so in the result (``board``: ``{id, name, added}``). A board
    deleted while the job ran loses nothing: the outputs stay in the catalog and the result's
    notes say why they are on no board."""
    from daguerre.platform.errors import NotFound
    from daguerre.platform.services.collections import add_images
    from daguerre.platform.services.tags import MAX_IMAGE_IDS

    board, ids = params.get("board"), list(result.get("image_ids") or [])
    if board is None or not ids:
        return result
    count, collection = 0, None
    try:
        # A restore may make more outputs than one call may add: a chunk at a time.
        for start in range(0, len(ids), MAX_IMAGE_IDS):
            added = add_images(ctx, board, ids[start:start + MAX_IMAGE_IDS])
            count, collection = count + added["added"], added["collection"]
    except NotFound as exc:
        result.setdefault("notes", []).append(f"outputs were not added to board {board}: {exc}")
        return result
    result["board"] = {"id": collection["id"], "name": collection["name"], "added": count}
    return result
