"""Submitting a job from the command line and seeing it to its end, for the generator
commands of :mod:`.generate` (`restore`, `generate`, `translate`, `edit`, `inpaint`, `upscale`).

:func:`submit` creates the job and, by default, waits for it, showing progress (a tqdm bar on a
terminal), then :func:`report` prints the output images' ids and paths. ``--async`` prints the
job id and returns at once; ``--json`` prints the finished job (or, with ``--async``, the queued
one).

Jobs run on a worker (`daguerre worker`, or the one `daguerre serve` starts) when a live one
consumes the job's queue (see :mod:`daguerre.platform.services.workers`). When none does, the
job runs in this process, through the same runner a worker uses (the job row, progress, lineage
and outputs are identical), and the command says so in one line on stderr; so does a command
whose worker went away while the job was still queued. ``--inline`` runs the job here whatever
workers there are. Ctrl-C while waiting cancels the job.

An error about a job parameter names the option a person typed (:func:`in_cli_terms`).
"""

from __future__ import annotations

import json
import os
import socket
import sys
import threading
import time
from typing import TYPE_CHECKING, Any

import click

from daguerre.platform.cli import get_context
from daguerre.platform.cli.progress import Progress

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


def _say_here(job_id: int, queue: str) -> None:
    click.echo(f"daguerre: no worker is running for the {queue} queue; running job {job_id} "
               "here", err=True)


class _Follow:
    """Follows one job to its end: runs it in this process, or watches a worker run it and
    takes it over (runs it here) when no live worker serves its queue any more."""

    def __init__(self, app: Context, job_id: int, queue: str, bar: Progress) -> None:
        self.app, self.job_id, self.queue, self.bar = app, job_id, queue, bar
        self.thread: threading.Thread | None = None

    def draw(self, job: dict[str, Any]) -> None:
        """Show the progress recorded in the job row."""
        p = job["progress"]
        self.bar(p["done"] or 0, p["total"] or 0, p["message"])

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
            self.draw(Jobs(self.app).get(self.job_id))
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
            self.draw(job)
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
    # leave=False: the outputs printed next say what came of it.
    bar = Progress(f"{kind} #{job_id}", quiet=as_json, messages=True, leave=False)
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
    """Print a finished job: its outputs (or the job as JSON); a failed or canceled job raises
    the error the CLI turns into its exit status."""
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
