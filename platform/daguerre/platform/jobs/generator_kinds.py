"""Job kinds of the generator: restore, generate, translate, edit, inpaint, upscale.

Each is one function over :mod:`daguerre.platform.services.generation`. Parameters are checked
when the job is created (types, ranges and defaults here, read from the constants and the
generator's own classes; the generator's checks of sizes in ``check``), so a bad request is refused
before it is queued; checks that need the image (mask size, ``steps x strength``) fail the job with
a message that names the argument. Every error carries ``field`` (``params.<name>``) and
``value``. A missing seed is fixed at creation, so a retry or a re-run after a crash makes the
same image.

Progress is reported per diffusion step (per image for restore); cancellation is checked between
steps. Outputs are written only after a run finished, so a canceled job leaves no output.

Every kind takes ``board``: a collection (id or name, kept as its id) that receives the job's
outputs when it succeeds, checked when the job is created.
"""

from __future__ import annotations

from typing import Any

from daguerre.generator.pipelines import OPERATIONS as GENERATOR_OPERATIONS
from daguerre.platform.constants import MAX_ID, MAX_SEED, SCHEDULERS
from daguerre.platform.context import Context
from daguerre.platform.errors import BadInput, NotFound
from daguerre.platform.jobs.registry import GPU_QUEUE, Param, job_kind
from daguerre.platform.jobs.runner import JobHandle
from daguerre.platform.services.generation.masks import MAX_BOXES

MAX_IMAGE_IDS = 100_000
# The default strengths are the generator's own (the value a job without one runs with).
TRANSLATE_STRENGTH = GENERATOR_OPERATIONS["translate"].default_strength
INPAINT_STRENGTH = GENERATOR_OPERATIONS["inpaint"].default_strength

BOARD = Param((str, int), help="board (collection) id or name that receives the job's outputs "
                               "when it succeeds")
COMMON: dict[str, Param] = {
    "negative_prompt": Param(str, max=10_000, help="what to steer away from"),
    "seed": Param(int, min=0, max=MAX_SEED, help="random seed (default: one is picked and kept)"),
    "steps": Param(int, min=1, max=500, help="denoising steps (default 25)"),
    "guidance_scale": Param(float, min=0.0, max=50.0, help="classifier-free guidance (7.5)"),
    "scheduler": Param(str, choices=SCHEDULERS, help="sampler by name (default: the model's)"),
    "width": Param(int, min=64, max=2048, help="output width, a multiple of 8"),
    "height": Param(int, min=64, max=2048, help="output height, a multiple of 8"),
    "batch_size": Param(int, min=1, max=16, help="images per job (image i uses seed + i)"),
    "board": BOARD,
}
IMAGE = Param(int, required=True, min=1, max=MAX_ID, help="catalog id of the input image")
MASK = Param(str, min=64, max=64, help="SHA-256 of a mask stored by POST /api/v1/masks or "
                                       "`daguerre inpaint/restore --mask` (white = repaint)")
MASK_BOXES = Param(list, item=list, min=1, max=MAX_BOXES,
                   help="mask as rectangles [x0, y0, x1, y1] in the input's pixels")
PROMPT = Param(str, max=10_000, help="text prompt")


def _check_masks(ctx: Context, params: dict[str, Any]) -> None:
    from daguerre.platform.services.generation.masks import check_boxes, check_mask_key

    if params.get("mask") is not None and params.get("mask_boxes") is not None:
        raise BadInput("params.mask_boxes: give either mask or mask_boxes, not both",
                       field="params.mask_boxes", value=params["mask_boxes"])
    if params.get("mask") is not None:
        check_mask_key(ctx, params["mask"])
    if params.get("mask_boxes") is not None:
        check_boxes(params["mask_boxes"])


def _check_board(ctx: Context, params: dict[str, Any]) -> None:
    from daguerre.platform.services.generation.outputs import check_board

    check_board(ctx, params)


def _check_inpaint(ctx: Context, params: dict[str, Any]) -> None:
    if params.get("mask") is None and params.get("mask_boxes") is None:
        raise BadInput("params.mask is required for an inpaint job (or params.mask_boxes)",
                       field="params.mask")
    _check_request(ctx, params)


def _check_request(ctx: Context, params: dict[str, Any]) -> None:
    from daguerre.generator.errors import InvalidArgument
    from daguerre.generator.request import check_size

    for name in ("width", "height"):
        if params.get(name) is not None:
            try:
                check_size(name, params[name])
            except InvalidArgument as exc:
                raise BadInput(f"params.{exc}", field=f"params.{name}",
                               value=params[name]) from None
    if params.get("image_id") is not None:
        from daguerre.platform.services.generation.targets import source_path

        image_id = params["image_id"]
        try:
            source_path(ctx, image_id, "params.image_id")
        except NotFound:
            raise NotFound(f"params.image_id: no image with id {image_id}",
                           field="params.image_id", value=image_id) from None
        except BadInput as exc:
            raise BadInput(f"params.image_id: {exc}", field="params.image_id",
                           value=image_id) from None
    _check_masks(ctx, params)
    _check_board(ctx, params)
    from daguerre.platform.services.generation.operations import new_seed_if_missing

    new_seed_if_missing(params)


def _run(ctx: Context, handle: JobHandle, task: str) -> dict[str, Any]:
    from daguerre.platform.services.generation.operations import run_operation
    from daguerre.platform.services.generation.outputs import send_to_board

    return send_to_board(ctx, handle.params, run_operation(
        ctx, handle.job_id, task, handle.params, progress=handle.progress,
        should_cancel=handle.should_cancel))


@job_kind("generate", queue=GPU_QUEUE, check=_check_request,
          params={"prompt": Param(str, required=True, max=10_000, help="text prompt"), **COMMON})
def run_generate(ctx: Context, handle: JobHandle) -> dict[str, Any]:
    """Synthesise images from a text prompt (text to image)."""
    return _run(ctx, handle, "generate")


@job_kind("translate", queue=GPU_QUEUE, check=_check_request,
          params={"image_id": IMAGE, "prompt": PROMPT,
                  "strength": Param(float, min=0.0, max=1.0, default=TRANSLATE_STRENGTH,
                                    help="how far from the input (0..1)"),
                  **COMMON})
def run_translate(ctx: Context, handle: JobHandle) -> dict[str, Any]:
    """Translate an image towards a prompt (image to image with a strength)."""
    return _run(ctx, handle, "translate")


@job_kind("edit", queue=GPU_QUEUE, check=_check_request,
          params={"image_id": IMAGE,
                  "instruction": Param(str, required=True, max=10_000,
                                       help="what to change, e.g. 'make it winter'"),
                  "image_guidance_scale": Param(float, min=0.0, max=50.0,
                                                help="how closely to keep the input (1.5)"),
                  **COMMON})
def run_edit(ctx: Context, handle: JobHandle) -> dict[str, Any]:
    """Edit an image by an instruction (InstructPix2Pix)."""
    return _run(ctx, handle, "edit")


@job_kind("inpaint", queue=GPU_QUEUE, check=_check_inpaint,
          params={"image_id": IMAGE, "mask": MASK, "mask_boxes": MASK_BOXES,
                  "prompt": PROMPT,
                  "strength": Param(float, min=0.0, max=1.0, default=INPAINT_STRENGTH,
                                    help="how much of the masked part is repainted (0..1)"),
                  **COMMON})
def run_inpaint(ctx: Context, handle: JobHandle) -> dict[str, Any]:
    """Repaint the masked part of an image from a prompt."""
    return _run(ctx, handle, "inpaint")


@job_kind("upscale", queue=GPU_QUEUE, check=_check_request,
          params={"image_id": IMAGE, "prompt": PROMPT,
                  "noise_level": Param(int, min=0, max=350, help="noise added to the input (20)"),
                  **{k: v for k, v in COMMON.items() if k not in ("width", "height")}})
def run_upscale(ctx: Context, handle: JobHandle) -> dict[str, Any]:
    """Upscale an image x4 with the diffusion upscaler."""
    return _run(ctx, handle, "upscale")


def _check_restore(ctx: Context, params: dict[str, Any]) -> None:
    from sqlalchemy import select

    from daguerre.platform.catalog.models import Image, ImageStatus
    from daguerre.platform.services.generation.recipe import make_recipe

    make_recipe(params.get("recipe"))
    ids = list(dict.fromkeys(params["image_ids"]))
    params["image_ids"] = ids
    with ctx.catalog.session() as s:
        found = set()
        valid = [i for i in ids if 0 <= i <= MAX_ID]
        for start in range(0, len(valid), 1000):
            chunk = valid[start:start + 1000]
            found |= set(s.scalars(select(Image.id).where(Image.id.in_(chunk),
                                                          Image.status == ImageStatus.ACTIVE)))
    missing = [i for i in ids if i not in found or i > MAX_ID]
    if missing:
        raise NotFound(f"params.image_ids: no active image with id {missing[0]}"
                       + (f" (and {len(missing) - 1} more)" if len(missing) > 1 else ""),
                       field="params.image_ids", value=missing[0])
    _check_masks(ctx, params)
    _check_board(ctx, params)


@job_kind("restore", queue=GPU_QUEUE, check=_check_restore,
          params={"image_ids": Param(list, required=True, item=int, min=1, max=MAX_IMAGE_IDS,
                                     help="catalog ids of the photos to restore"),
                  "recipe": Param(dict, help="restoration recipe options (each optional; "
                                             "defaults are the weights-free recipe)"),
                  "mask": MASK, "mask_boxes": MASK_BOXES,
                  "require_diffusion": Param(bool, default=False,
                                             help="fail instead of using the weights-free "
                                                  "method when diffusion weights are missing"),
                  "board": BOARD})
def run_restore(ctx: Context, handle: JobHandle) -> dict[str, Any]:
    """Restore damaged photos: detect damage, inpaint, levels, denoise, upscale."""
    from daguerre.platform.services.generation import restore
    from daguerre.platform.services.generation.outputs import send_to_board

    return send_to_board(ctx, handle.params, restore.run_restore(
        ctx, handle.job_id, handle.params, progress=handle.progress,
        should_cancel=handle.should_cancel))
