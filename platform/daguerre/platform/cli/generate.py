"""`daguerre restore|generate|translate|edit|inpaint|upscale`: generator jobs from the shell.

Each command creates a job and, by default, waits for it, showing progress (a tqdm bar on a
terminal), then prints the output images' ids and paths. ``--async`` prints the job id and returns
at once; ``--json`` prints the finished job (or, with ``--async``, the queued one).

Jobs run on a worker (`daguerre worker`, or the one `daguerre serve` starts) when a live one
consumes the job's queue (see :mod:`daguerre.platform.services.workers`). When none does, the
command runs the job in its own process, through the same runner a worker uses (the job row,
progress, lineage and outputs are identical), and says so in one line on stderr; so does a
command whose worker went away while the job was still queued. ``--inline`` runs the job here
whatever workers there are. Ctrl-C while waiting cancels the job.

(A little over 400 lines: most of it is the six commands' option declarations.)
"""

from __future__ import annotations

import json
import os
import socket
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from daguerre.generator.pipelines import OPERATIONS
from daguerre.platform.cli import get_context
from daguerre.platform.constants import SCHEDULERS

if TYPE_CHECKING:
    from daguerre.platform.context import Context
    from daguerre.platform.errors import DaguerreError

POLL_SECONDS = 0.2
# While a job waits in the queue, how often the command checks that a live worker still serves
# it (a worker's row is a catalog read; its heartbeat is seconds apart anyway).
WORKER_CHECK_SECONDS = 2.0
CANCEL_WAIT_SECONDS = 10.0  # after Ctrl-C, how long a job run here gets to record "canceled"

# Job parameter (as the API names it, without "params.") -> the option that sets it, so an
# error names what the person typed. Recipe keys not listed are "--" + the key with dashes.
OPTION_NAMES = {
    "negative_prompt": "--negative", "guidance_scale": "--guidance", "batch_size": "--batch-size",
    "image_guidance_scale": "--image-guidance", "noise_level": "--noise-level",
    "seed": "--seed", "steps": "--steps", "scheduler": "--scheduler", "width": "--width",
    "height": "--height", "strength": "--strength", "prompt": "--prompt",
    "instruction": "--instruction", "mask": "--mask", "image_id": "IMAGE",
    "image_ids": "TARGET", "targets": "TARGET", "recipe.levels_max_cast": "--max-cast",
}


def option_for(field: str | None) -> str | None:
    """The command-line option for an error's ``field``, or None when it has none."""
    if not field:
        return None
    name = field.removeprefix("params.")
    if name in OPTION_NAMES:
        return OPTION_NAMES[name]
    if name.startswith("recipe."):
        return "--" + name.removeprefix("recipe.").replace("_", "-")
    return None


def in_cli_terms(exc: DaguerreError) -> DaguerreError:
    """``exc`` naming the option a person typed (``--guidance`` for
    ``params.guidance_scale``); unchanged when its field has no option (or it has no field)."""
    option = option_for(exc.field)
    if option is None:
        return exc
    return exc.with_field(option, f"{option}: {exc}")


def _create(app: Context, kind: str, params: dict[str, Any], *, send: bool) -> dict[str, Any]:
    """Create the job; ``send=False`` keeps its message off the broker (it runs here)."""
    from daguerre.platform.errors import DaguerreError
    from daguerre.platform.services.jobs import Jobs

    service = Jobs(app, send=None if send else (lambda _id, _queue: None))
    try:
        return service.create(kind, params)
    except DaguerreError as exc:
        raise in_cli_terms(exc) from None


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


def _say_here(job_id: int, queue: str) -> None:
    click.echo(f"daguerre: no worker is running for the {queue} queue; running job {job_id} "
               "here", err=True)


class _Follow:
    """Follows one job to its end: runs it in this process, or watches a worker run it and
    takes it over (runs it here) when no live worker serves its queue any more."""

    def __init__(self, app: Context, job_id: int, queue: str, bar: _Bar) -> None:
        self.app, self.job_id, self.queue, self.bar = app, job_id, queue, bar
        self.thread: threading.Thread | None = None

    def run_here(self) -> dict[str, Any]:
        """Execute the job here, through the same runner a worker uses."""
        from daguerre.platform.jobs.runner import execute
        from daguerre.platform.services.jobs import Jobs

        worker = f"inline-{os.getpid()}@{socket.gethostname()}"
        # A thread, so this one keeps drawing the bar and Ctrl-C still reaches the command.
        self.thread = threading.Thread(target=execute, args=(self.app, self.job_id, worker),
                                       name=f"daguerre-inline-{self.job_id}", daemon=True)
        self.thread.start()
        while self.thread.is_alive():
            self.bar.update(Jobs(self.app).get(self.job_id))
            self.thread.join(POLL_SECONDS)
        return Jobs(self.app).get(self.job_id)

    def wait(self) -> dict[str, Any]:
        """Poll the job row until it finishes; run it here if its workers went away."""
        from daguerre.platform.services.jobs import Jobs
        from daguerre.platform.services.workers import live_for

        service = Jobs(self.app)
        checked, said = time.monotonic(), False
        while True:
            job = service.get(self.job_id)
            self.bar.update(job)
            if job["finished"]:
                return job
            if time.monotonic() - checked > WORKER_CHECK_SECONDS:
                checked = time.monotonic()
                if not live_for(self.app, self.queue):
                    if not said:
                        _say_here(self.job_id, self.queue)
                        said = True
                    # The claim is a compare-and-set: it takes a queued job, or a running one
                    # whose dead worker's lease expired, and does nothing otherwise (then the
                    # loop goes on until that lease runs out).
                    job = self.run_here()
                    if job["finished"]:
                        return job
            time.sleep(POLL_SECONDS)

    def cancel(self) -> None:
        """Ctrl-C: cancel the job; one running here gets a moment to stop and record it."""
        from daguerre.platform.services.jobs import Jobs

        Jobs(self.app).cancel(self.job_id)
        if self.thread is not None:
            self.thread.join(CANCEL_WAIT_SECONDS)


def submit(ctx: click.Context, kind: str, params: dict[str, Any], *, run_async: bool,
           as_json: bool, inline: bool) -> None:
    """Create the job, then return (``--async``), or see it to its end: on a live worker of
    its queue, else here (saying so), or here anyway with ``--inline``."""
    from daguerre.platform.errors import BadInput
    from daguerre.platform.jobs.registry import get_kind
    from daguerre.platform.services.workers import live_for

    app = get_context(ctx)
    if run_async and inline:
        raise BadInput("--async and --inline cannot be combined", field="--inline", value=True)
    queue = get_kind(kind).queue
    here = inline or (not run_async and not live_for(app, queue))
    job = _create(app, kind, params, send=not here)
    job_id = job["id"]
    if run_async:
        click.echo(json.dumps(job) if as_json else str(job_id))
        return
    if here and not inline:
        _say_here(job_id, queue)
    bar = _Bar(sys.stderr.isatty() and not as_json, f"{kind} #{job_id}")
    follow = _Follow(app, job_id, queue, bar)
    try:
        job = follow.run_here() if here else follow.wait()
        if not job["finished"]:  # not claimable here after all (a worker took it): wait
            job = follow.wait()
    except KeyboardInterrupt:
        bar.close()
        click.echo(f"daguerre: canceling job {job_id}", err=True)
        follow.cancel()
        sys.exit(130)
    finally:
        bar.close()
    report(job, as_json)


def report(job: dict[str, Any], as_json: bool) -> None:
    from daguerre.platform.errors import BadInput, Canceled

    if as_json:
        click.echo(json.dumps(job))
    if job["status"] == "failed":
        # The job's error is its text only: no field survives the job row to rename.
        raise BadInput(f"job {job['id']} ({job['kind']}) failed: {job['error'] or ''}")
    if job["status"] == "canceled":
        raise Canceled(f"job {job['id']} ({job['kind']}) was canceled")
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
            as_json: bool, inpaint_: bool | None, upscale_: str | None, **recipe: Any) -> None:
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
    submit(ctx, "restore", params, run_async=run_async, as_json=as_json, inline=inline)


def register(group: click.Group) -> None:
    for command in (restore, generate, translate, edit, inpaint, upscale):
        group.add_command(command)
