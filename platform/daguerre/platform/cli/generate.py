"""`daguerre restore|generate|translate|edit|inpaint|upscale`: generator jobs from the shell.

Each command creates a job and, by default, waits for it, showing progress (a tqdm bar on a
terminal), then prints the output images' ids and paths. ``--async`` prints the job id and returns
at once; ``--json`` prints the finished job (or, with ``--async``, the queued one).

Jobs run on a worker (`daguerre worker`, or the one `daguerre serve` starts). When none picks the
job up within a few seconds, the command says so on stderr and keeps waiting; ``--inline`` runs the
job in this process instead, through the same runner a worker uses (the job row, progress, lineage
and outputs are identical). Ctrl-C while waiting cancels the job.
"""

from __future__ import annotations

import json
import os
import socket
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import click

from daguerre.platform.cli import get_context

NO_WORKER_HINT_SECONDS = 5.0
POLL_SECONDS = 0.2

# Job parameter -> the option that sets it, so errors name what the user typed.
OPTION_NAMES = {
    "negative_prompt": "--negative", "guidance_scale": "--guidance", "batch_size": "--batch-size",
    "image_guidance_scale": "--image-guidance", "noise_level": "--noise-level",
    "seed": "--seed", "steps": "--steps", "scheduler": "--scheduler", "width": "--width",
    "height": "--height", "strength": "--strength", "prompt": "--prompt",
    "instruction": "--instruction", "mask": "--mask", "image_id": "IMAGE",
    "image_ids": "TARGET",
}


def _rename_fields(message: str) -> str:
    """``params.guidance_scale=...`` -> ``--guidance (guidance_scale)=...`` in an error."""
    for param, option in OPTION_NAMES.items():
        for prefix in (f"params.{param}", f"{param}="):
            if message.startswith(prefix):
                rest = message[len(f"params.{param}"):] if prefix.startswith("params.") \
                    else message[len(param):]
                return f"{option} ({param}){rest}"
    if message.startswith("params.recipe."):
        key = message[len("params.recipe."):].split(" ", 1)[0].split("=", 1)[0].rstrip(":")
        return f"--{key.replace('_', '-')} ({message[len('params.'):]})"[:2000]
    return message


def _create(app: Any, kind: str, params: dict[str, Any], inline: bool) -> dict[str, Any]:
    from daguerre.platform.errors import NotFound, UserError
    from daguerre.platform.jobs.service import Jobs

    service = Jobs(app, send=(lambda _id, _queue: None) if inline else None)
    try:
        return service.create(kind, params)
    except NotFound as exc:
        raise NotFound(_rename_fields(str(exc))) from None
    except UserError as exc:
        raise UserError(_rename_fields(str(exc))) from None


class _Bar:
    """A tqdm bar on stderr when it is a terminal; otherwise silent."""

    def __init__(self, enabled: bool, label: str) -> None:
        self.enabled, self.label, self.bar = enabled, label, None

    def update(self, job: dict[str, Any]) -> None:
        if not self.enabled:
            return
        p = job["progress"]
        total = p["total"] or 0
        if self.bar is None or (total and self.bar.total != total):
            from tqdm import tqdm

            if self.bar is not None:
                self.bar.close()
            self.bar = tqdm(total=total or None, desc=self.label, file=sys.stderr,
                            dynamic_ncols=True, leave=False)
        self.bar.update(max(0, (p["done"] or 0) - self.bar.n))
        if p["message"]:
            self.bar.set_postfix_str(p["message"][:60], refresh=True)

    def close(self) -> None:
        if self.bar is not None:
            self.bar.close()


def wait_for_job(app: Any, job_id: int, *, on_update: Callable[[dict], None],
                 hint_after: float = NO_WORKER_HINT_SECONDS) -> dict[str, Any]:
    """Poll the job row until it finishes; warn once if it stays queued (no worker)."""
    from daguerre.platform.jobs.service import Jobs

    service = Jobs(app)
    started = time.monotonic()
    hinted = False
    while True:
        job = service.get(job_id)
        on_update(job)
        if job["finished"]:
            return job
        if (not hinted and job["status"] == "queued"
                and time.monotonic() - started > hint_after):
            hinted = True
            click.echo(f"daguerre: job {job_id} is still queued: no worker has picked it up. "
                       "Start one with `daguerre worker` (or `daguerre serve`), or run the "
                       "command again with --inline. Waiting (Ctrl-C cancels the job)...",
                       err=True)
        time.sleep(POLL_SECONDS)


def run_inline(app: Any, job_id: int) -> None:
    """Execute a job here, through the same runner a worker uses."""
    from daguerre.platform.jobs.runner import execute

    execute(app, job_id, f"inline-{os.getpid()}@{socket.gethostname()}")


def submit(ctx: click.Context, kind: str, params: dict[str, Any], *, run_async: bool,
           as_json: bool, inline: bool) -> None:
    """Create the job, then return (``--async``), run it here (``--inline``) or wait for it."""
    from daguerre.platform.errors import UserError
    from daguerre.platform.jobs.service import Jobs

    app = get_context(ctx)
    if run_async and inline:
        raise UserError("--async and --inline cannot be combined")
    job = _create(app, kind, params, inline)
    job_id = job["id"]
    if run_async:
        click.echo(json.dumps(job) if as_json else str(job_id))
        return
    bar = _Bar(sys.stderr.isatty() and not as_json, f"{kind} #{job_id}")
    try:
        if inline:
            import threading

            done = threading.Event()
            thread = threading.Thread(target=lambda: (run_inline(app, job_id), done.set()),
                                      name=f"daguerre-inline-{job_id}", daemon=True)
            thread.start()
            while not done.wait(POLL_SECONDS):
                bar.update(Jobs(app).get(job_id))
            thread.join()
            job = Jobs(app).get(job_id)
        else:
            job = wait_for_job(app, job_id, on_update=bar.update)
    except KeyboardInterrupt:
        bar.close()
        Jobs(app).cancel(job_id)
        click.echo(f"daguerre: canceling job {job_id}", err=True)
        sys.exit(130)
    finally:
        bar.close()
    report(job, as_json)


def report(job: dict[str, Any], as_json: bool) -> None:
    from daguerre.platform.errors import UserError

    if as_json:
        click.echo(json.dumps(job))
    if job["status"] == "failed":
        raise UserError(f"job {job['id']} ({job['kind']}) failed: {_rename_fields(job['error'] or '')}")
    if job["status"] == "canceled":
        click.echo(f"daguerre: job {job['id']} was canceled", err=True)
        sys.exit(1)
    if as_json:
        return
    result = job["result"] or {}
    for out in result.get("outputs", []):
        parents = ", ".join(f"#{p}" for p in out.get("parents", []))
        click.echo(f"#{out['image_id']}  {out['path']}" + (f"  (from {parents})" if parents else ""))
    for fail in result.get("failed", []):
        click.echo(f"failed: #{fail['image_id']}: {fail['reason']}", err=True)
    for note in result.get("notes", []):
        click.echo(f"note: {note}", err=True)


# -- options ----------------------------------------------------------------------------------
def _job_options(fn: Callable) -> Callable:
    for option in reversed([
        click.option("--async", "run_async", is_flag=True,
                     help="Queue the job, print its id and return at once."),
        click.option("--inline", is_flag=True,
                     help="Run the job in this process instead of on a worker."),
        click.option("--json", "as_json", is_flag=True, help="Print the job as JSON."),
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
            click.option("--scheduler", help="Sampler: euler, euler_a, ddim, dpmpp_2m, "
                                             "dpmpp_2m_karras, unipc, ..."),
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
    from daguerre.platform.errors import UserError
    from daguerre.platform.generation import resolve_targets

    ids = resolve_targets(get_context(ctx), [target])
    if len(ids) != 1:
        raise UserError(f"IMAGE {target!r} names {len(ids)} images; give one image file or #ID")
    return ids[0]


def _mask(ctx: click.Context, path: str | None) -> str | None:
    from daguerre.platform.errors import UserError
    from daguerre.platform.generation import store_mask

    if path is None:
        return None
    try:
        data = Path(path).read_bytes()
    except OSError as exc:
        raise UserError(f"--mask {path}: cannot read it ({exc.strerror or exc})") from None
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
@click.option("--strength", type=float, help="0..1: how far from the input (default 0.8).")
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
@click.option("--strength", type=float, help="0..1 (default 1.0).")
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
            as_json: bool, inpaint_: bool | None, upscale_: str | None, **recipe: Any) -> None:
    """Restore damaged photos: TARGET is an image file or folder inside a library, or #ID.

    Files the catalog does not know yet are added to it first (no CLIP weights needed; the next
    `daguerre index` makes them searchable).

    Each image gets damage detection (or --mask), inpainting, levels, denoising and optional
    upscaling; the restored copy is a new catalog image linked to its original, which is never
    modified. One unreadable image fails alone and is reported.
    """
    from daguerre.platform.generation import resolve_targets

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
    submit(ctx, "restore", params, run_async=run_async, as_json=as_json, inline=inline)


def register(group: click.Group) -> None:
    for command in (restore, generate, translate, edit, inpaint, upscale):
        group.add_command(command)
