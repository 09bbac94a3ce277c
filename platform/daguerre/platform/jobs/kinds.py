"""The built-in job kinds: index a library, embed images, classify, find duplicates, noop.

Each is one function registered with :func:`~daguerre.platform.jobs.registry.job_kind`; heavy
modules are imported inside the function, so importing this module stays cheap for the web
process (which validates parameters) and the CLI.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

from daguerre.platform.constants import MAX_NAME_CHARS
from daguerre.platform.context import Context
from daguerre.platform.errors import BadInput, Canceled, NotFound
from daguerre.platform.jobs.registry import CPU_QUEUE, GPU_QUEUE, Param, job_kind
from daguerre.platform.jobs.runner import JobHandle

MAX_IMAGE_IDS = 100_000


# -- index ------------------------------------------------------------------------------------
def _check_library(ctx: Context, params: dict[str, Any]) -> None:
    from daguerre.platform.catalog.queries import find_library

    # A well-formed name of a library that does not exist: NotFound (404 from the API), naming
    # the parameter; the message starts with the field, as Param's do.
    with ctx.catalog.session() as s:
        try:
            params["library"] = find_library(s, params["library"]).name
        except NotFound as exc:
            raise NotFound(f"params.library: {exc}", field="params.library",
                           value=params["library"]) from None


@job_kind("index", queue=GPU_QUEUE, check=_check_library,
          params={"library": Param((str, int), required=True,
                                   help="name or id of the library to index")})
def run_index(ctx: Context, handle: JobHandle) -> dict[str, Any]:
    """Index one library: scan, embed what changed, mark what vanished (incremental). With
    several live workers the embedding is spread over them in chunks (jobs/fanout.py)."""
    from daguerre.platform.jobs.fanout import JobChunks
    from daguerre.platform.services.indexing import index_library

    # The job, not the process, owns the library: a re-delivered job takes its lease back.
    summary = index_library(ctx, handle.params["library"], progress=handle.progress,
                            should_cancel=handle.should_cancel, owner=f"job-{handle.job_id}",
                            chunks=JobChunks(ctx, handle))
    return summary.as_dict()


@job_kind("index_chunk", queue=GPU_QUEUE,
          params={"library": Param(int, required=True, help="id of the library"),
                  "parent": Param(int, required=True, help="the index job this chunk is of"),
                  "owner": Param(str, required=True, max=MAX_NAME_CHARS,
                                 help="the lease holder of the run that made the chunk"),
                  "files": Param(list, required=True, item=str, min=1, max=MAX_IMAGE_IDS,
                                 help="library-relative paths to embed")})
def run_index_chunk(ctx: Context, handle: JobHandle) -> dict[str, Any]:
    """Embed some files of a library for an index job spread over workers. Refused (Conflict)
    unless that job's run still holds the library."""
    from daguerre.platform.services.index_fanout import index_chunk

    p = handle.params
    return index_chunk(ctx, p["library"], p["files"], owner=p["owner"],
                       progress=handle.progress, should_cancel=handle.should_cancel).as_dict()


# -- embed ------------------------------------------------------------------------------------
def _image_path(ctx: Context, image: Any, roots: dict[int, str]) -> Path:
    if image.library_id is not None:
        return Path(roots[image.library_id]) / image.path
    return ctx.settings.home / image.path


@job_kind("embed", queue=GPU_QUEUE,
          params={"image_ids": Param(list, required=True, item=int, min=1, max=MAX_IMAGE_IDS,
                                     help="catalog ids of the images to (re-)embed")})
def run_embed(ctx: Context, handle: JobHandle) -> dict[str, Any]:
    """(Re-)embed the listed images with the configured model into its vector store."""
    import numpy as np
    from sqlalchemy import select

    from daguerre.indexer.models import encoder_runtime
    from daguerre.indexer.pipeline import Embedded, embed_files
    from daguerre.platform.catalog.models import Image, ImageStatus, Library
    from daguerre.platform.services.generation.adherence import rescore
    from daguerre.platform.services.indexing import decode_options, save_embeddings

    ids = sorted(set(handle.params["image_ids"]))
    encoder = ctx.encoder()
    store = ctx.store(encoder)
    settings = ctx.settings
    with ctx.catalog.session() as s:
        roots = dict(s.execute(select(Library.id, Library.root)).all())
        images = list(s.scalars(select(Image).where(Image.id.in_(ids),
                                                    Image.status == ImageStatus.ACTIVE)))
    by_path = {str(_image_path(ctx, im, roots)): im.id for im in images}
    skipped = sorted(set(ids) - {im.id for im in images})
    total = len(by_path)
    handle.progress(0, total, f"{total} images to embed")
    options = decode_options(settings, encoder)
    failed: list[dict[str, Any]] = []
    pending: list[tuple[int, np.ndarray, str]] = []
    done = embedded = 0

    def flush() -> None:
        nonlocal embedded
        with ctx.catalog.session() as s:
            embedded += save_embeddings(store, s, encoder.key, pending,
                                        made_by=encoder_runtime(encoder))
        # A re-embedded generated image is scored against its prompt under the new vector.
        rescore(ctx, [(image_id, vector) for image_id, vector, _sha in pending])
        pending.clear()

    batch = settings.batch_size or encoder.preferred_batch
    results = embed_files(list(by_path), encoder.encode_pixels, options, batch_size=batch,
                          workers=settings.decode_workers, processes=settings.decode_processes,
                          streams=encoder.streams)
    try:
        for item in results:
            done += 1
            image_id = by_path[item.path]
            if isinstance(item, Embedded):
                pending.append((image_id, item.embedding, item.decoded.sha256))
            else:
                failed.append({"image_id": image_id, "reason": item.reason})
            if len(pending) >= batch:
                flush()
                handle.progress(done, total)
                handle.check_canceled()
    finally:
        results.close()
        flush()
    handle.progress(done, total, "done")
    return {"embedded": embedded, "failed": failed, "skipped": skipped}


# -- classify and duplicates: services owned by tagging.py and duplicates.py ------------------
def _service(module: str, name: str) -> Any:
    """``module.name``, or a BadInput that says which piece this installation lacks."""
    import importlib

    try:
        return getattr(importlib.import_module(module), name)
    except ModuleNotFoundError as exc:
        if exc.name != module:
            raise
    except AttributeError:
        pass
    raise BadInput(f"this installation has no {module}.{name}, which this job kind needs")


@job_kind("classify", queue=GPU_QUEUE,
          params={"labels": Param(list, item=str, min=1, max=10_000,
                                  help="candidate labels (default: the configured vocabulary)"),
                  "library": Param((str, int), help="only this library (default: all)"),
                  "image_ids": Param(list, item=int, min=1, max=MAX_IMAGE_IDS,
                                     help="only these images"),
                  "threshold": Param(float, min=0.0, max=1.0,
                                     help="lowest score that becomes a tag"),
                  "templates": Param(list, item=str, min=1, max=100,
                                     help="prompt templates with {} for the label"),
                  "top": Param(int, min=1, max=100,
                               help="at most this many tags per image (default 3)")})
def run_classify(ctx: Context, handle: JobHandle) -> dict[str, Any] | None:
    """Tag images zero-shot with the CLIP model (model tags with scores)."""
    return _service("daguerre.platform.services.tags", "classify_job")(ctx, handle)


@job_kind("duplicates", queue=CPU_QUEUE,
          params={"library": Param((str, int), help="only this library (default: all)"),
                  "threshold": Param(float, min=0.0, max=1.0,
                                     help="similarity above which two images are duplicates"),
                  "tiers": Param(list, item=str, min=1, max=3,
                                 help="exact, near and/or similar (default: all three)"),
                  "max_distance": Param(int, min=0, max=64,
                                        help="near tier: largest perceptual-hash distance")})
def run_duplicates(ctx: Context, handle: JobHandle) -> dict[str, Any] | None:
    """Find near-duplicate groups from stored vectors and perceptual hashes."""
    return _service("daguerre.platform.services.duplicates", "duplicates_job")(ctx, handle)


@job_kind("learn_tag", queue=CPU_QUEUE,
          params={"tag": Param(str, required=True, min=1, max=MAX_NAME_CHARS,
                               help="the tag whose few-shot classifier to retrain"),
                  "force": Param(bool, help="retrain even when its examples did not change")})
def run_learn_tag(ctx: Context, handle: JobHandle) -> dict[str, Any] | None:
    """Retrain a tag's few-shot classifier from the images people tagged and refused."""
    return _service("daguerre.platform.services.tag_suggestions", "learn_job")(ctx, handle)


# -- noop -------------------------------------------------------------------------------------
@job_kind("noop", queue=CPU_QUEUE,
          params={"sleep": Param(float, default=0.0, min=0.0, max=3600.0,
                                 help="seconds to wait (checking for cancel every 0.1 s)"),
                  "fail": Param(str, help="fail with this message instead of succeeding"),
                  "hang": Param(float, min=0.0, max=3600.0,
                                help="seconds to block first without checking anything, as a "
                                     "call that never returns would (checks the hard limit)")})
def run_noop(ctx: Context, handle: JobHandle) -> dict[str, Any]:
    """Do nothing (optionally wait): measures job overhead and checks that workers run."""
    time.sleep(float(handle.params.get("hang") or 0.0))
    seconds = float(handle.params.get("sleep", 0.0))
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        if handle.should_cancel():
            raise Canceled(f"noop job {handle.job_id} canceled")
        time.sleep(min(0.1, max(0.0, end - time.monotonic())))
    if handle.params.get("fail"):
        raise BadInput(handle.params["fail"])
    return {"slept": seconds}
