"""Batch restoration: each image of a restore job through the recipe, one bad image failing alone.

The recipe's inpaint and upscale steps use diffusion when their model (the ``inpaint_model`` and
``upscale_model`` settings) is local, and the weights-free methods otherwise, said once in the
job's notes. A restore job resumes: what it (re-delivered after its worker died) or a job it
retries already restored is taken as it is (:func:`restored_before` over :func:`retry_chain`).
"""

from __future__ import annotations

import logging
import traceback
from typing import Any

from sqlalchemy import select

from daguerre.platform.catalog.models import Image, ImageStatus, Job, Lineage
from daguerre.platform.context import Context
from daguerre.platform.errors import BadInput, Canceled, DaguerreError, Unavailable
from daguerre.platform.services.generation.masks import load_mask, mask_for
from daguerre.platform.services.generation.operations import (
    CancelFn,
    ProgressFn,
    model_hashes,
    model_unavailable,
    operation_device,
)
from daguerre.platform.services.generation.outputs import Embedder, OutputWriter
from daguerre.platform.services.generation.recipe import make_recipe
from daguerre.platform.services.generation.sources import load_source

log = logging.getLogger(__name__)


class RestoreAborted(Unavailable):
    """A restore that cannot go on for any image (``--require-diffusion`` without weights)."""


def _restore_pipelines(ctx: Context, recipe: Any, require: bool, cache: Any
                       ) -> tuple[dict[str, Any], list[str]]:
    """Diffusion operations for the recipe's inpaint/upscale steps whose weights are present
    locally. Restore never downloads multi-gigabyte weights in the middle of a batch: a model
    that is neither a local directory nor in the Hugging Face cache means the weights-free
    method, said once in the job's notes (or RestoreAborted with ``require``)."""
    from daguerre.generator import get_operation
    from daguerre.generator.errors import ModelUnavailable
    from daguerre.generator.models import read_model_index

    pipelines: dict[str, Any] = {}
    notes: list[str] = []
    for step, wanted, fallback in (("inpaint", recipe.inpaint, f"OpenCV {recipe.inpaint_method}"),
                                   ("upscale", recipe.upscale > 1, "Lanczos")):
        if not wanted:
            continue
        model = ctx.settings.diffusion_model(step)
        try:
            read_model_index(model, step, offline=True)
        except (ModelUnavailable, ImportError) as exc:
            if require:
                reason = exc.reason if isinstance(exc, ModelUnavailable) else str(exc)
                raise RestoreAborted(
                    f"--require-diffusion: the {step} step's diffusion model is not available; "
                    + model_unavailable(model, step, reason), field="require_diffusion",
                    value=True) from None
            notes.append(f"{step}: diffusion model {model!r} is not available locally; used "
                         f"the weights-free method ({fallback})")
            continue
        pipelines[step] = get_operation(step, model, device=operation_device(ctx), cache=cache,
                                        offline=True, hashes=model_hashes(ctx))
    return pipelines, notes


def run_restore(ctx: Context, job_id: int, params: dict[str, Any], *, progress: ProgressFn,
                should_cancel: CancelFn, cache: Any = None) -> dict:
    """Restore each image of ``params["image_ids"]``; one bad image fails alone."""
    recipe = make_recipe(params.get("recipe"))
    require = bool(params.get("require_diffusion"))
    ids = list(params["image_ids"])
    mask = load_mask(ctx, params["mask"]) if params.get("mask") else None
    pipelines, notes = _restore_pipelines(ctx, recipe, require, cache)
    writer = OutputWriter(ctx, job_id, "restore", Embedder.load(ctx))
    if writer.embedder.note:
        notes.append(writer.embedder.note)
    outputs: list[dict[str, Any]] = []
    failed: list[dict[str, Any]] = []
    total = len(ids)
    progress(0, total, f"{total} images to restore")
    done_before = restored_before(ctx, retry_chain(ctx, job_id))
    for done, image_id in enumerate(ids):
        if should_cancel():
            raise Canceled(f"restore canceled after {done} of {total} images")
        if image_id in done_before:
            out_id, out_path, by_job = done_before[image_id]
            outputs.append({"image_id": out_id, "parents": [image_id],
                            "path": str(ctx.settings.home / out_path), "resumed": True,
                            **({"from_job": by_job} if by_job != job_id else {})})
            progress(done + 1, total, f"#{image_id}: already restored")
            continue
        try:
            outputs.append(_restore_one(ctx, writer, image_id, recipe, pipelines, notes, mask,
                                        params, require, should_cancel,
                                        lambda step, i=image_id, k=done: progress(
                                            k, total, f"#{i}: {step}")))
        except (Canceled, RestoreAborted):
            raise
        except DaguerreError as exc:
            failed.append({"image_id": image_id, "reason": str(exc)})
        except Exception as exc:  # noqa: BLE001 - one bad image must not stop the batch
            log.error("restore of image %s failed:\n%s", image_id,
                      "".join(traceback.format_exception(exc)))
            failed.append({"image_id": image_id, "reason": f"{type(exc).__name__}: {exc}"})
        progress(done + 1, total, f"#{image_id}: done")
    if failed and not outputs:
        first = failed[0]
        raise BadInput(f"no image could be restored; image {first['image_id']}: "
                       f"{first['reason']}" + (f" (and {len(failed) - 1} more)"
                                               if len(failed) > 1 else ""),
                       field="params.image_ids", value=first["image_id"])
    result: dict[str, Any] = {
        "operation": "restore", "recipe": recipe.to_dict(), "outputs": outputs,
        "image_ids": [o["image_id"] for o in outputs], "failed": failed,
        "diffusion_steps": sorted(pipelines),
    }
    if notes:
        result["notes"] = list(dict.fromkeys(notes))
    return result


def _restore_one(ctx: Context, writer: OutputWriter, image_id: int, recipe: Any,
                 pipelines: dict[str, Any], notes: list[str], mask: Any, params: dict[str, Any],
                 require: bool, should_cancel: CancelFn, on_step: Any) -> dict[str, Any]:
    """Restore and record one image. A diffusion step whose weights failed to load is dropped
    from ``pipelines`` (and said in ``notes``), so the rest of the batch does not retry it."""
    from daguerre.generator import restore
    from daguerre.generator.errors import Canceled as GeneratorCanceled
    from daguerre.generator.errors import DiffusionRequired, GeneratorError

    source = load_source(ctx, image_id, "params.image_ids")
    try:
        result = restore(
            source, recipe=recipe, pipelines=pipelines, require_diffusion=require,
            mask=mask if mask is not None else mask_for(ctx, params, source),
            should_cancel=should_cancel, on_step=lambda _d, _n, step: on_step(step))
    except GeneratorCanceled as exc:
        raise Canceled(str(exc)) from None
    except DiffusionRequired as exc:  # every image would need it: the whole job fails
        raise RestoreAborted(str(exc), field="require_diffusion", value=True) from None
    except GeneratorError as exc:
        raise BadInput(str(exc), field="params.image_ids", value=image_id) from None
    for note in result.report.notes:
        step = note.split(":", 1)[0]
        if step in pipelines:  # weights failed to load: stop trying for this batch
            pipelines.pop(step)
            notes.append(note)
    return writer.write(result.image, f"restore-{image_id}", [image_id], params)


def retry_chain(ctx: Context, job_id: int) -> list[int]:
    """``job_id`` and every job it retries, transitively (a retry has the same parameters)."""
    chain = [job_id]
    with ctx.catalog.session() as s:
        while True:
            earlier = s.scalar(select(Job.retried_from).where(Job.id == chain[-1]))
            if earlier is None or earlier in chain:
                return chain
            chain.append(earlier)


def restored_before(ctx: Context, jobs: list[int]) -> dict[int, tuple[int, str, int]]:
    """{source id: (output id, output path, job)} of the live restore outputs of ``jobs``. A
    lineage row is written after its PNG and image row, so each one names a finished output."""
    with ctx.catalog.session() as s:
        rows = s.execute(
            select(Lineage.parent_id, Image.id, Image.path, Lineage.job_id)
            .join(Image, Image.id == Lineage.image_id)
            .where(Lineage.job_id.in_(jobs), Lineage.operation == "restore",
                   Lineage.parent_id.is_not(None), Image.status == ImageStatus.ACTIVE)
            .order_by(Lineage.id)).all()
    return {parent: (out, path, job) for parent, out, path, job in rows}
