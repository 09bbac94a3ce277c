"""`daguerre jobs list|show|cancel|retry|workers`, and the processes: `worker`, `serve`, `web`."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time

import click

from daguerre.platform.cli import get_context
from daguerre.platform.constants import JOB_STATUSES


def _service(ctx: click.Context):  # noqa: ANN202 - daguerre.platform.services.jobs.Jobs
    from daguerre.platform.services.jobs import Jobs

    return Jobs(get_context(ctx))


def _progress(job: dict) -> str:
    p = job["progress"]
    if p["total"]:
        return f"{p['done']}/{p['total']}"
    return str(p["done"]) if p["done"] else "-"


def _line(job: dict) -> str:
    when = (job["finished_at"] or job["started_at"] or job["created_at"] or "")[:19]
    note = job["error"] if job["status"] == "failed" else (job["progress"]["message"] or "")
    return (f"{job['id']:>6}  {job['kind']:<11} {job['status']:<10} {_progress(job):>11}  "
            f"{when:<19}  {note}")[:200]


@click.group("jobs")
def jobs() -> None:
    """List, inspect, cancel and retry background jobs."""


@jobs.command("list")
@click.option("--status", type=click.Choice(JOB_STATUSES), help="Only jobs in this state.")
@click.option("--kind", help="Only jobs of this kind (index, embed, classify, ...).")
@click.option("--limit", type=click.IntRange(1, 1000), default=50, show_default=True)
@click.option("--offset", type=click.IntRange(0), default=0)
@click.option("--json", "as_json", is_flag=True, help="Print a JSON list of job objects.")
@click.pass_context
def jobs_list(ctx: click.Context, status: str | None, kind: str | None, limit: int,
              offset: int, as_json: bool) -> None:
    """List jobs, newest first."""
    rows = _service(ctx).list(status=status, kind=kind, limit=limit, offset=offset)
    if as_json:
        click.echo(json.dumps(rows, indent=2))
        return
    if not rows:
        click.echo("no jobs")
        return
    click.echo(f"{'ID':>6}  {'KIND':<11} {'STATUS':<10} {'PROGRESS':>11}  {'WHEN (UTC)':<19}  "
               "MESSAGE")
    for job in rows:
        click.echo(_line(job))


@jobs.command("show")
@click.argument("job_id", type=int)
@click.option("--json", "as_json", is_flag=True, help="Print the job as one JSON object.")
@click.pass_context
def jobs_show(ctx: click.Context, job_id: int, as_json: bool) -> None:
    """Show one job: parameters, progress, error, result."""
    job = _service(ctx).get(job_id)
    if as_json:
        click.echo(json.dumps(job, indent=2))
        return
    for key in ("id", "kind", "status", "worker", "attempts", "retried_from", "created_at",
                "started_at", "finished_at"):
        if job[key] is not None:
            click.echo(f"{key + ':':<14}{job[key]}")
    click.echo(f"{'progress:':<14}{_progress(job)}  {job['progress']['message'] or ''}")
    click.echo(f"{'params:':<14}{json.dumps(job['params'])}")
    if job["cancel_requested"] and not job["finished"]:
        click.echo(f"{'cancel:':<14}requested")
    if job["error"]:
        click.echo(f"{'error:':<14}{job['error']}")
    if job["result"] is not None:
        click.echo(f"{'result:':<14}{json.dumps(job['result'])}")


@jobs.command("cancel")
@click.argument("job_id", type=int)
@click.option("--json", "as_json", is_flag=True)
@click.pass_context
def jobs_cancel(ctx: click.Context, job_id: int, as_json: bool) -> None:
    """Cancel JOB_ID: a queued job never starts; a running one stops at its next batch."""
    job = _service(ctx).cancel(job_id)
    if as_json:
        click.echo(json.dumps(job, indent=2))
    elif job["status"] == "canceled":
        click.echo(f"job {job_id} canceled")
    elif job["finished"]:
        click.echo(f"job {job_id} had already finished ({job['status']}); nothing to cancel")
    else:
        click.echo(f"job {job_id}: cancel requested; it stops at its next batch")


@jobs.command("retry")
@click.argument("job_id", type=int)
@click.option("--json", "as_json", is_flag=True)
@click.pass_context
def jobs_retry(ctx: click.Context, job_id: int, as_json: bool) -> None:
    """Run a failed or canceled job again, as a new job linked to the old one."""
    job = _service(ctx).retry(job_id)
    if as_json:
        click.echo(json.dumps(job, indent=2))
    else:
        click.echo(f"job {job['id']} queued (retry of {job_id})")


@jobs.command("workers")
@click.option("--json", "as_json", is_flag=True, help="Print a JSON list of worker objects.")
@click.pass_context
def jobs_workers(ctx: click.Context, as_json: bool) -> None:
    """List the workers that recorded themselves: live ones first, then those that stopped
    or stopped answering (a worker is live while its heartbeat is recent)."""
    from daguerre.platform.services.workers import list_workers

    rows = list_workers(get_context(ctx))
    if as_json:
        click.echo(json.dumps(rows, indent=2))
        return
    if not rows:
        click.echo("no workers have run against this catalog; start one with `daguerre worker` "
                   "(or `daguerre serve`)")
        return
    click.echo(f"{'NAME':<32} {'STATE':<7} {'QUEUES':<8} {'DEVICE':<7} {'JOB':>6}  "
               "LAST SEEN (UTC)")
    for w in rows:
        state = "live" if w["alive"] else ("stopped" if w["stopped_at"] else "gone")
        job = w["current_job_id"] if w["current_job_id"] is not None else "-"
        click.echo(f"{w['name'][:32]:<32} {state:<7} {','.join(w['queues']):<8} "
                   f"{(w['device'] or '-'):<7} {job:>6}  {(w['last_seen_at'] or '')[:19]}")


# -- processes -----------------------------------------------------------------------------
@click.command("worker")
@click.option("--queues", "-Q", default="gpu,cpu", show_default=True,
              help="Comma-separated queues to consume (gpu: model work; cpu: the rest).")
@click.option("--concurrency", "-c", type=click.IntRange(1), default=1, show_default=True,
              help="Jobs at once. 1 runs them in this process (solo pool); more uses a prefork "
                   "pool. Run one worker per GPU rather than raising this.")
@click.option("--name", "-n", help="Celery node name (default: daguerre-<pid>@<host>).")
@click.option("--loglevel", "-l", default="INFO", show_default=True)
@click.option("--alive-file", type=click.Path(dir_okay=False),
              help="Touch this file after every sweep (about every 30 s), for health checks.")
@click.pass_context
def worker(ctx: click.Context, queues: str, concurrency: int, name: str | None,
           loglevel: str, alive_file: str | None) -> None:
    """Run a Celery worker that executes jobs (the broker is DAGUERRE_BROKER_URL)."""
    from daguerre.platform.errors import BadInput
    from daguerre.platform.jobs.celery_app import make_celery
    from daguerre.platform.jobs.registry import QUEUES

    settings = get_context(ctx).settings
    wanted = [q.strip() for q in queues.split(",") if q.strip()]
    bad = [q for q in wanted if q not in QUEUES]
    if bad or not wanted:
        raise BadInput(f"--queues must name some of {', '.join(QUEUES)}, got {queues!r}")
    settings.ensure_dirs()
    app = make_celery(settings, worker=True, alive_file=alive_file)
    argv = ["worker", f"--queues={','.join(wanted)}", f"--concurrency={concurrency}",
            f"--pool={'solo' if concurrency == 1 else 'prefork'}", f"--loglevel={loglevel}",
            "--without-mingle", "--without-gossip", "--without-heartbeat",
            f"--hostname={name or f'daguerre-{os.getpid()}@%h'}"]
    try:
        app.worker_main(argv)
    except SystemExit as exc:  # Celery ends its worker command with sys.exit
        code = exc.code if isinstance(exc.code, int) else (0 if exc.code is None else 1)
    else:
        code = 0
    _exit_after_orderly_stop(code)


def _exit_after_orderly_stop(code: int) -> None:
    """End the process once a long-running command has stopped in order (its job requeued,
    its row marked stopped), without the interpreter's final garbage collection of everything
    it imported and loaded: that took 2-6 s on a 2-core machine, and counts against a container's
    stop grace period (docker's default is 10 s, then SIGKILL). Logs and output are flushed."""
    import logging

    logging.shutdown()
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(code)


def _wsgi_app():  # noqa: ANN202 - a Flask app
    from daguerre.platform.web import create_app

    return create_app()


def _serve_wsgi(host: str, port: int, threads: int) -> None:
    import waitress

    app = _wsgi_app()
    click.echo(f"daguerre: web app on http://{host}:{port}/", err=True)
    waitress.serve(app, host=host, port=port, threads=threads, ident="daguerre")


@click.command("web")
@click.option("--host", help="Address to bind (default: DAGUERRE_WEB_HOST, 127.0.0.1).")
@click.option("--port", type=click.IntRange(1, 65535), help="Port (default: DAGUERRE_WEB_PORT).")
@click.option("--threads", type=click.IntRange(1, 256), default=8, show_default=True)
@click.pass_context
def web(ctx: click.Context, host: str | None, port: int | None, threads: int) -> None:
    """Run the web app and JSON API under waitress (a production WSGI server)."""
    settings = get_context(ctx).settings
    _serve_wsgi(host or settings.web_host, port or settings.web_port, threads)


def _parent_death_signal() -> None:
    """In the worker child: get SIGTERM if `serve` dies without stopping it (Linux)."""
    try:
        import ctypes

        ctypes.CDLL("libc.so.6", use_errno=True).prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG
    except Exception:  # noqa: BLE001 - not Linux: the worker outlives a killed `serve`
        pass


class WorkerProcess:
    """`daguerre worker` as a child process, restarted if it dies, stopped on request."""

    def __init__(self, args: list[str], env: dict[str, str] | None = None) -> None:
        self.args, self.env = args, env
        self.proc: subprocess.Popen | None = None
        self._stop = threading.Event()
        self._watch: threading.Thread | None = None

    def start(self) -> None:
        self._spawn()
        self._watch = threading.Thread(target=self._watchdog, name="worker-watchdog",
                                       daemon=True)
        self._watch.start()

    def _spawn(self) -> None:
        code = "from daguerre.platform.cli import main; main(prog_name='daguerre')"
        # Its own session: Ctrl-C reaches `serve` only, which then stops the worker in order.
        self.proc = subprocess.Popen([sys.executable, "-c", code, "worker", *self.args],
                                     env=self.env, start_new_session=True,
                                     preexec_fn=_parent_death_signal)

    def _watchdog(self) -> None:
        while not self._stop.wait(1.0):
            if self.proc is not None and self.proc.poll() is not None and not self._stop.is_set():
                click.echo(f"daguerre: worker exited with status {self.proc.returncode}; "
                           "restarting it", err=True)
                time.sleep(1.0)
                if not self._stop.is_set():
                    self._spawn()

    def stop(self, timeout: float = 30.0) -> int | None:
        """SIGTERM (the running job stops at its next batch and is requeued), then SIGKILL."""
        self._stop.set()
        proc = self.proc
        if proc is None or proc.poll() is not None:
            return proc.returncode if proc else None
        proc.send_signal(signal.SIGTERM)
        try:
            return proc.wait(timeout)
        except subprocess.TimeoutExpired:
            click.echo("daguerre: worker did not stop in time; killing it", err=True)
            proc.kill()
            return proc.wait()


@click.command("serve")
@click.option("--host", help="Address to bind (default: DAGUERRE_WEB_HOST, 127.0.0.1).")
@click.option("--port", type=click.IntRange(1, 65535), help="Port (default: DAGUERRE_WEB_PORT).")
@click.option("--threads", type=click.IntRange(1, 256), default=8, show_default=True)
@click.pass_context
def serve(ctx: click.Context, host: str | None, port: int | None, threads: int) -> None:
    """Run everything on this machine: the web app and a job worker, in one command.

    With no DAGUERRE_BROKER_URL and DAGUERRE_DATABASE_URL the worker uses a broker in the data
    folder and SQLite: nothing else to install. Ctrl-C stops both; a job that was running is
    put back on the queue and resumes at the next start.
    """
    app_ctx = get_context(ctx)
    settings = app_ctx.settings
    settings.ensure_dirs()
    app_ctx.catalog  # noqa: B018 - migrate once here, before two processes race to do it
    child = WorkerProcess(["--concurrency", "1"])
    child.start()

    def on_term(_sig: int, _frame: object) -> None:
        raise KeyboardInterrupt

    previous = {sig: signal.signal(sig, on_term) for sig in (signal.SIGTERM, signal.SIGINT)}
    try:
        _serve_wsgi(host or settings.web_host, port or settings.web_port, threads)
    except KeyboardInterrupt:
        pass
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
        click.echo("daguerre: stopping the worker (a running job is requeued)", err=True)
        child.stop()
    _exit_after_orderly_stop(0)


def enqueue(app, kind: str, params: dict, as_json: bool) -> dict:  # noqa: ANN001
    """Queue one job for the workers (`--async`) and print its id, or the job as JSON."""
    from daguerre.platform.services.jobs import Jobs

    job = Jobs(app).create(kind, {k: v for k, v in params.items() if v is not None})
    click.echo(json.dumps(job) if as_json else job["id"])
    return job


def register(group: click.Group) -> None:
    for command in (jobs, worker, serve, web):
        group.add_command(command)
