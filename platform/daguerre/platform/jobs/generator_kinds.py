"""Job kinds of the generator: restore, generate, translate, edit, inpaint, upscale.

Each is one function over :mod:`daguerre.platform.generation`. Parameters are checked when the job
is created (types and ranges here, the generator's own checks of sizes, steps and schedulers in
``check``), so a bad request is refused before it is queued; checks that need the image (mask
size, ``steps x strength``) fail the job with a message that names the argument. A missing seed is
fixed at creation, so a retry or a re-run after a crash makes the same image.

Progress is reported per diffusion step (per image for restore); cancellation is checked between
steps. Outputs are written only after a run finished, so a canceled job leaves no output.
"""

from __future__ import annotations

from typing import Any

from daguerre.platform.context import Context
from daguerre.platform.errors import NotFound, UserError
from daguerre.platform.jobs.registry import GPU_QUEUE, JobCanceled, Param, job_kind
from daguerre.platform.jobs.runner import JobHandle

MAX_SEED = 2**32 - 1
MAX_IMAGE_IDS = 100_000

SCHEDULERS = ("euler", "euler_a", "ddim", "ddpm", "dpmpp_2m", "dpmpp_2m_karras", "dpmpp_sde",
              "heun", "lms", "pndm", "unipc")

COMMON: dict[str, Param] = {
    "negative_prompt": Param(str, max=10_000, help="what to steer away from"),
    "seed": Param(int, min=0, max=MAX_SEED, help="random seed (default: one is picked and kept)"),
    "steps": Param(int, min=1, max=500, help="denoising steps (default 25)"),
    "guidance_scale": Param(float, min=0.0, max=50.0, help="classifier-free guidance (7.5)"),
    "scheduler": Param(str, choices=SCHEDULERS, help="sampler by name (default: the model's)"),
    "width": Param(int, min=64, max=2048, help="output width, a multiple of 8"),
    "height": Param(int, min=64, max=2048, help="output height, a multiple of 8"),
    "batch_size": Param(int, min=1, max=16, help="images per job (image i uses seed + i)"),
}
MAX_ID = 2**63 - 1
IMAGE = Param(int, required=True, min=1, max=MAX_ID, help="catalog id of the input image")
MASK = Param(str, min=64, max=64, help="SHA-256 of a mask stored with `daguerre inpaint/restore "
                                       "--mask` (white = repaint)")
MASK_BOXES = Param(list, item=list, min=1, max=1000,
                   help="mask as rectangles [x0, y0, x1, y1] in the input's pixels")
PROMPT = Param(str, max=10_000, help="text prompt")


def _check_masks(ctx: Context, params: dict[str, Any]) -> None:
    from daguerre.platform.generation import check_boxes, check_mask_key

    if params.get("mask") is not None and params.get("mask_boxes") is not None:
        raise UserError("params.mask_boxes: give either mask or mask_boxes, not both")
    if params.get("mask") is not None:
        check_mask_key(ctx, params["mask"])
    if params.get("mask_boxes") is not None:
        check_boxes(params["mask_boxes"])


def _check_inpaint(ctx: Context, params: dict[str, Any]) -> None:
    if params.get("mask") is None and params.get("mask_boxes") is None:
        raise UserError("params.mask is required for an inpaint job (or params.mask_boxes)")
    _check_request(ctx, params)


def _check_request(ctx: Context, params: dict[str, Any]) -> None:
    from daguerre.generator.errors import InvalidArgument
    from daguerre.generator.request import check_size

    try:
        for name in ("width", "height"):
            if params.get(name) is not None:
                check_size(name, params[name])
    except InvalidArgument as exc:
        raise UserError(f"params.{exc}") from None
    if params.get("image_id") is not None:
        from daguerre.platform.generation import source_path

        try:
            source_path(ctx, params["image_id"])
        except NotFound:
            raise NotFound(f"params.image_id: no image with id {params['image_id']}") from None
        except UserError as exc:
            raise UserError(f"params.image_id: {exc}") from None
    _check_masks(ctx, params)
    if params.get("seed") is None:
        from daguerre.platform.generation import new_seed_if_missing

        new_seed_if_missing(params)


def _run(ctx: Context, handle: JobHandle, task: str) -> dict[str, Any]:
    from daguerre.platform.generation import GenerationCanceled, run_operation

    try:
        return run_operation(ctx, handle.job_id, task, handle.params, progress=handle.progress,
                             should_cancel=handle.should_cancel)
    except GenerationCanceled as exc:
        raise JobCanceled(str(exc)) from None


@job_kind("generate", queue=GPU_QUEUE, check=_check_request,
          params={"prompt": Param(str, required=True, max=10_000, help="text prompt"), **COMMON})
def run_generate(ctx: Context, handle: JobHandle) -> dict[str, Any]:
    """Synthesise images from a text prompt (text to image)."""
    return _run(ctx, handle, "generate")


@job_kind("translate", queue=GPU_QUEUE, check=_check_request,
          params={"image_id": IMAGE, "prompt": PROMPT,
                  "strength": Param(float, min=0.0, max=1.0,
                                    help="how far from the input (0..1, default 0.8)"),
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
                  "strength": Param(float, min=0.0, max=1.0, help="(default 1.0)"),
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
    from daguerre.platform.generation import make_recipe

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
                       + (f" (and {len(missing) - 1} more)" if len(missing) > 1 else ""))
    _check_masks(ctx, params)


@job_kind("restore", queue=GPU_QUEUE, check=_check_restore,
          params={"image_ids": Param(list, required=True, item=int, min=1, max=MAX_IMAGE_IDS,
                                     help="catalog ids of the photos to restore"),
                  "recipe": Param(dict, help="recipe options (detect, inpaint, levels, "
                                             "denoise, denoise_strength, upscale, ...)"),
                  "mask": MASK, "mask_boxes": MASK_BOXES,
                  "require_diffusion": Param(bool, default=False,
                                             help="fail instead of using the weights-free "
                                                  "method when diffusion weights are missing")})
def run_restore(ctx: Context, handle: JobHandle) -> dict[str, Any]:
    """Restore damaged photos: detect damage, inpaint, levels, denoise, upscale."""
    from daguerre.platform import generation

    try:
        return generation.run_restore(ctx, handle.job_id, handle.params,
                                      progress=handle.progress,
                                      should_cancel=handle.should_cancel)
    except generation.GenerationCanceled as exc:
        raise JobCanceled(str(exc)) from None
