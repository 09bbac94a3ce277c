"""`daguerre restore|generate|translate|edit|inpaint|upscale`: generator jobs from the shell.

Each command turns its arguments and options into a job's parameters and hands them to
:func:`daguerre.platform.cli.submit.submit`, which runs the job (on a worker, or here when no
worker serves its queue), shows its progress and prints its outputs. ``--async`` prints the job
id and returns at once; ``--json`` prints the job; ``--inline`` runs it here whatever workers
there are; ``--board`` adds the job's outputs to a board (collection) when it succeeds.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import click

from daguerre.generator.pipelines import OPERATIONS
from daguerre.platform.cli import get_context
from daguerre.platform.cli.submit import submit
from daguerre.platform.constants import SCHEDULERS


# -- options ----------------------------------------------------------------------------------
def _job_options(fn: Callable) -> Callable:
    for option in reversed([
        click.option("--async", "run_async", is_flag=True,
                     help="Queue the job, print its id and return at once."),
        click.option("--inline", is_flag=True,
                     help="Run the job in this process instead of on a worker."),
        click.option("--json", "as_json", is_flag=True, help="Print the job as JSON."),
        click.option("--board", help="Add the outputs to this board (collection name or id) "
                                     "when the job succeeds."),
    ]):
        fn = option(fn)
    return fn


def _diffusion_options(sizes: bool = True) -> Callable[[Callable], Callable]:
    def decorate(fn: Callable) -> Callable:
        options = [
            click.option("--negative", "negative_prompt", help="Negative prompt."),
            click.option("--seed", type=int, help="Random seed (default: random, recorded)."),
            click.option("--steps", type=int, help="Denoising steps (default 25)."),
            click.option("--guidance", "guidance_scale", type=float,
                         help="Classifier-free guidance scale (default 7.5)."),
            click.option("--scheduler", help=f"Sampler: {', '.join(SCHEDULERS)}."),
        ]
        if sizes:
            options += [click.option("--width", type=int, help="Output width (multiple of 8)."),
                        click.option("--height", type=int,
                                     help="Output height (multiple of 8).")]
        options.append(click.option("--batch-size", "batch_size", type=int,
                                    help="Images to make (image i uses seed + i)."))
        for option in reversed(options):
            fn = option(fn)
        return fn

    return decorate


def _clean(values: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in values.items() if v is not None}


def _one_image(ctx: click.Context, target: str) -> int:
    from daguerre.platform.errors import BadInput
    from daguerre.platform.services.generation.targets import resolve_targets

    ids = resolve_targets(get_context(ctx), [target])
    if len(ids) != 1:
        raise BadInput(f"IMAGE {target!r} names {len(ids)} images; give one image file or #ID",
                       field="IMAGE", value=target)
    return ids[0]


def _mask(ctx: click.Context, path: str | None) -> str | None:
    from daguerre.platform.errors import BadInput
    from daguerre.platform.services.generation.masks import store_mask

    if path is None:
        return None
    try:
        data = Path(path).read_bytes()
    except OSError as exc:
        raise BadInput(f"--mask {path}: cannot read it ({exc.strerror or exc})", field="--mask",
                       value=path) from None
    return store_mask(get_context(ctx), data, name=f"--mask {path}")


# -- commands ---------------------------------------------------------------------------------
@click.command("generate")
@click.argument("prompt")
@_diffusion_options()
@_job_options
@click.pass_context
def generate(ctx: click.Context, prompt: str, run_async: bool, inline: bool, as_json: bool,
             **options: Any) -> None:
    """Synthesise images from PROMPT (text to image)."""
    submit(ctx, "generate", {"prompt": prompt, **_clean(options)}, run_async=run_async,
           as_json=as_json, inline=inline)


@click.command("translate")
@click.argument("image")
@click.option("--prompt", required=True, help="What the image should become.")
@click.option("--strength", type=float, help="0..1: how far from the input (default "
                                              f"{OPERATIONS['translate'].default_strength:g}).")
@_diffusion_options()
@_job_options
@click.pass_context
def translate(ctx: click.Context, image: str, run_async: bool, inline: bool, as_json: bool,
              **options: Any) -> None:
    """Translate IMAGE (a library file or #ID) towards a prompt (image to image)."""
    params = {"image_id": _one_image(ctx, image), **_clean(options)}
    submit(ctx, "translate", params, run_async=run_async, as_json=as_json, inline=inline)


@click.command("edit")
@click.argument("image")
@click.option("--instruction", required=True, help="What to change, e.g. 'make it winter'.")
@click.option("--image-guidance", "image_guidance_scale", type=float,
              help="How closely to keep the input (default 1.5).")
@_diffusion_options()
@_job_options
@click.pass_context
def edit(ctx: click.Context, image: str, run_async: bool, inline: bool, as_json: bool,
         **options: Any) -> None:
    """Edit IMAGE (a library file or #ID) by an instruction (InstructPix2Pix)."""
    params = {"image_id": _one_image(ctx, image), **_clean(options)}
    submit(ctx, "edit", params, run_async=run_async, as_json=as_json, inline=inline)


@click.command("inpaint")
@click.argument("image")
@click.option("--mask", "mask_path", required=True, type=click.Path(dir_okay=False),
              help="Mask image of the same size; white = repaint.")
@click.option("--prompt", default="", help="What to paint into the mask.")
@click.option("--strength", type=float,
              help=f"0..1 (default {OPERATIONS['inpaint'].default_strength:g}).")
@_diffusion_options()
@_job_options
@click.pass_context
def inpaint(ctx: click.Context, image: str, mask_path: str, run_async: bool, inline: bool,
            as_json: bool, **options: Any) -> None:
    """Repaint the masked part of IMAGE (a library file or #ID)."""
    params = {"image_id": _one_image(ctx, image), "mask": _mask(ctx, mask_path),
              **_clean(options)}
    submit(ctx, "inpaint", params, run_async=run_async, as_json=as_json, inline=inline)


@click.command("upscale")
@click.argument("image")
@click.option("--prompt", default="", help="Optional description of the image.")
@click.option("--noise-level", "noise_level", type=int, help="Noise added to the input (20).")
@_diffusion_options(sizes=False)
@_job_options
@click.pass_context
def upscale(ctx: click.Context, image: str, run_async: bool, inline: bool, as_json: bool,
            **options: Any) -> None:
    """Upscale IMAGE (a library file or #ID) x4 with the diffusion upscaler."""
    params = {"image_id": _one_image(ctx, image), **_clean(options)}
    submit(ctx, "upscale", params, run_async=run_async, as_json=as_json, inline=inline)


@click.command("restore")
@click.argument("targets", nargs=-1)
@click.option("--library", help="Restore every image of this library (name or id).")
@click.option("--tag", help="Restore every image with this tag (with --library: both).")
@click.option("--mask", "mask_path", type=click.Path(dir_okay=False),
              help="Damage mask (white = damaged) used instead of detection.")
@click.option("--require-diffusion", is_flag=True,
              help="Fail when a step's diffusion weights are missing instead of using the "
                   "weights-free method.")
@click.option("--no-detect", "detect", flag_value=False, default=None,
              help="Skip damage detection (and so inpainting, unless --mask).")
@click.option("--no-inpaint", "inpaint_", flag_value=False, default=None,
              help="Skip inpainting.")
@click.option("--no-levels", "levels", flag_value=False, default=None,
              help="Skip colour and contrast restoration.")
@click.option("--no-denoise", "denoise", flag_value=False, default=None, help="Skip denoising.")
@click.option("--inpaint-method", type=click.Choice(["telea", "ns"]),
              help="Weights-free inpainting: telea (default) or ns (Navier-Stokes).")
@click.option("--white-balance", type=click.Choice(["levels", "gray_world", "none"]))
@click.option("--max-cast", "levels_max_cast", type=float,
              help="How far one channel's black/white point may move to remove a cast, as a "
                   "share of the tonal range (0.2; 0 keeps colours, 1 stretches each fully).")
@click.option("--denoise-strength", type=float, help="Relative to the measured noise (3.0).")
@click.option("--denoise-method", type=click.Choice(["nlm", "bilateral"]))
@click.option("--mask-grow", type=int, help="Pixels added around the damage (1).")
@click.option("--upscale", "upscale_", type=click.Choice(["1", "2", "4"]),
              help="Upscale factor (x4 diffusion upscaler, or Lanczos).")
@click.option("--seed", type=int, help="Seed of the diffusion steps (0).")
@_job_options
@click.pass_context
def restore(ctx: click.Context, targets: tuple[str, ...], library: str | None, tag: str | None,
            mask_path: str | None, require_diffusion: bool, run_async: bool, inline: bool,
            as_json: bool, board: str | None, inpaint_: bool | None, upscale_: str | None,
            **recipe: Any) -> None:
    """Restore damaged photos: TARGET is an image file or folder inside a library, or #ID.

    Files the catalog does not know yet are added to it first (no CLIP weights needed; the next
    `daguerre index` makes them searchable).

    Each image gets damage detection (or --mask), inpainting, levels, denoising and optional
    upscaling; the restored copy is a new catalog image linked to its original, which is never
    modified. One unreadable image fails alone and is reported.
    """
    from daguerre.platform.services.generation.targets import resolve_targets

    recipe["inpaint"] = inpaint_
    recipe["upscale"] = int(upscale_) if upscale_ else None
    ids = resolve_targets(get_context(ctx), targets, library=library, tag=tag,
                          on_skip=lambda path, reason: click.echo(f"skipped {path}: {reason}",
                                                                  err=True))
    params: dict[str, Any] = {"image_ids": ids, "require_diffusion": require_diffusion}
    recipe = _clean(recipe)
    if recipe:
        params["recipe"] = recipe
    mask = _mask(ctx, mask_path)
    if mask:
        params["mask"] = mask
    if board is not None:
        params["board"] = board
    submit(ctx, "restore", params, run_async=run_async, as_json=as_json, inline=inline)


def register(group: click.Group) -> None:
    for command in (restore, generate, translate, edit, inpaint, upscale):
        group.add_command(command)
