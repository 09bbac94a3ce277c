"""The jobs screen: ``/jobs`` (every job, newest first, filtered by status and kind, with the live
workers) and ``/jobs/<id>`` (one job: parameters, result in plain words, error, timing, retries).

Any signed-in person may look; cancel, retry and clear are calls to the JSON API from the
browser (``static/jobs.js``, ``static/jobs-detail.js``), which needs a curator, so the buttons are
only drawn for one (the server refuses anyone else all the same). The rules live in
:mod:`daguerre.platform.services.jobs` and :mod:`daguerre.platform.services.workers`; this module
only reads the query string and puts the answer into words (durations, counts).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any
from urllib.parse import urlencode

from flask import Blueprint, Flask, abort, render_template, request, url_for

from daguerre.platform.constants import MAX_ID
from daguerre.platform.errors import NotFound
from daguerre.platform.services import jobs as jobs_svc
from daguerre.platform.services.workers import list_workers
from daguerre.platform.web import get_context
from daguerre.platform.web.api import PREFIX
from daguerre.platform.web.auth import caller_may, requires

bp = Blueprint("jobs_page", __name__)

PAGE_SIZE = 50
# The largest offset a page link may carry (a bigger one is a typo, not a page).
MAX_OFFSET = 1_000_000
# Job kinds whose result lists output images (the generator's operations).
OUTPUT_KINDS = frozenset({"generate", "translate", "edit", "inpaint", "upscale", "restore"})


def _service() -> jobs_svc.Jobs:
    from flask import current_app

    return jobs_svc.Jobs(get_context(), send=current_app.config.get("JOB_SENDER"))


def _filters(kinds: list[str]) -> tuple[str | None, str | None, int]:
    """(status, kind, offset) from the query string; a value that is none of the known ones is
    a 400 that names it, as the API's would be."""
    status = request.args.get("status") or None
    kind = request.args.get("kind") or None
    if status is not None and status not in jobs_svc.STATUSES:
        abort(400, f"status must be one of {', '.join(jobs_svc.STATUSES)}, got {status!r}")
    if kind is not None and kind not in kinds:
        abort(400, f"kind must be one of {', '.join(kinds)}, got {kind!r}")
    raw = request.args.get("offset") or "0"
    if not raw.isascii() or not raw.isdigit() or int(raw) > MAX_OFFSET:
        abort(400, f"offset must be an integer from 0 to {MAX_OFFSET}, got {raw!r}")
    return status, kind, int(raw)


def _page_url(status: str | None, kind: str | None, offset: int) -> str:
    query = {k: v for k, v in (("status", status), ("kind", kind)) if v}
    if offset:
        query["offset"] = str(offset)
    return url_for("jobs_page.jobs") + ("?" + urlencode(query) if query else "")


def _time(value: str | None) -> datetime | None:
    return datetime.fromisoformat(value) if value else None


def duration(start: str | None, end: str | None) -> str:
    """``1 min 5 s``, ``0.4 s``: how long from ``start`` to ``end`` (ISO times); '' if unknown."""
    a, b = _time(start), _time(end)
    if a is None or b is None:
        return ""
    seconds = max(0.0, (b - a).total_seconds())
    if seconds < 10:
        return f"{seconds:.1f} s"
    minutes, secs = divmod(int(round(seconds)), 60)
    hours, minutes = divmod(minutes, 60)
    if hours:
        return f"{hours} h {minutes} min"
    return f"{minutes} min {secs} s" if minutes else f"{secs} s"


def when(value: str | None) -> str:
    """An ISO time as people read it: ``2026-11-29 17:58:07 UTC``."""
    t = _time(value)
    return t.strftime("%Y-%m-%d %H:%M:%S UTC") if t is not None else ""


def plural(n: int, word: str) -> str:
    return f"{n} {word}" if n == 1 else f"{n} {word}s"


def summary(job: dict[str, Any]) -> str:
    """One sentence for what a finished job did (the list's message column and the detail's
    headline); the job's own message while it is not finished."""
    result = job.get("result") or {}
    status = job["status"]
    if status == "failed":
        return job.get("error") or "failed"
    if status == "canceled" or not job.get("finished"):
        return job.get("progress", {}).get("message") or status
    kind = job["kind"]
    if kind == "index" and "added" in result:
        parts = [f"{result[k]} {k}" for k in ("added", "updated", "unchanged", "moved",
                                              "missing") if result.get(k)]
        failed = int(result.get("failed") or 0)
        return (f"Indexed {result.get('library', 'the library')}: "
                + (", ".join(parts) or "no images")
                + (f"; {plural(failed, 'file')} could not be read" if failed else ""))
    if kind in OUTPUT_KINDS and "outputs" in result:
        made = len(result.get("outputs") or [])
        failed = len(result.get("failed") or [])
        verb = "Restored" if kind == "restore" else "Made"
        text = f"{verb} {plural(made, 'image')}"
        if failed:
            text += f"; {failed} failed"
        if result.get("notes"):
            text += f" ({plural(len(result['notes']), 'note')})"
        return text
    if kind == "embed" and "embedded" in result:
        return (f"Embedded {plural(int(result['embedded']), 'image')}; "
                f"{len(result.get('failed') or [])} failed, "
                f"{len(result.get('skipped') or [])} skipped")
    if kind == "noop" and "slept" in result:
        return f"Waited {result['slept']} s"
    return job.get("progress", {}).get("message") or "done"


@bp.get("/jobs")
@requires("viewer")
def jobs() -> str:
    kinds = jobs_svc.kinds()
    status, kind, offset = _filters(kinds)
    # One more than a page tells whether an older page exists, without a count query.
    found = _service().list(status=status, kind=kind, limit=PAGE_SIZE + 1, offset=offset)
    items, older = found[:PAGE_SIZE], len(found) > PAGE_SIZE
    workers = list_workers(get_context())
    return render_template(
        "jobs.html", api_prefix=PREFIX, jobs=items, kinds=kinds, statuses=jobs_svc.STATUSES,
        status=status, kind=kind, offset=offset, page_size=PAGE_SIZE,
        older_url=_page_url(status, kind, offset + PAGE_SIZE) if older else None,
        newer_url=_page_url(status, kind, max(0, offset - PAGE_SIZE)) if offset else None,
        live_workers=[w for w in workers if w["alive"]],
        gone_workers=sum(1 for w in workers if not w["alive"]),
        can_change=caller_may("curator"), summary=summary, when=when, duration=duration)


@bp.get("/jobs/<int:job_id>")
@requires("viewer")
def job(job_id: int) -> str:
    svc = _service()
    try:
        if job_id > MAX_ID:  # beyond any row id the database can hold
            raise NotFound(f"no job with id {job_id}")
        found = svc.get(job_id)
    except NotFound:
        abort(404, f"There is no job #{job_id} (it may have been cleared).")
    return render_template(
        "job.html", api_prefix=PREFIX, job=found, retries=svc.retries(job_id),
        result=found.get("result") or {}, output_kind=found["kind"] in OUTPUT_KINDS,
        can_change=caller_may("curator"), summary=summary, when=when, duration=duration)


def init_app(app: Flask) -> None:
    app.register_blueprint(bp)
