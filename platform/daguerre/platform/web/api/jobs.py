"""``/api/v1/jobs``: list, show, create, cancel and retry jobs.

A thin edge over :class:`daguerre.platform.jobs.service.Jobs`, which owns the job rows and the
broker: this module only validates parameters and maps its errors (``UserError`` → 400,
``NotFound`` → 404).
"""

from __future__ import annotations

import re
from typing import Any

from flask import Blueprint, Response, current_app, jsonify

from daguerre.platform.errors import NotFound, UserError
from daguerre.platform.web import get_context
from daguerre.platform.web.errors import ApiError
from daguerre.platform.web.params import MAX_ID, Params, json_body

bp = Blueprint("jobs", __name__, url_prefix="/jobs")

STATUSES = ("queued", "running", "succeeded", "failed", "canceled")


def jobs_service() -> Any:
    """The job service of this app's Context (503 while the job system is not installed).

    ``app.config["JOB_SENDER"]``, when set, replaces the broker (a callable taking the job id and
    its queue), so tests can see what would be sent without a worker.
    """
    try:
        from daguerre.platform.jobs.service import Jobs
    except ImportError as exc:
        raise ApiError(f"the job system is not available: {exc}", status=503) from None
    return _FieldNaming(Jobs(get_context(), send=current_app.config.get("JOB_SENDER")))


class _FieldNaming:
    """Wraps the job service so its ``UserError`` ("params.library must be ...") becomes a 400
    whose ``field`` names the parameter, as every other API error does."""

    _FIELD = re.compile(r"^(params\.[A-Za-z_][\w]*(?:\[\d+\])?|status|limit|offset|kind|job id)\b")

    def __init__(self, jobs: Any) -> None:
        self._jobs = jobs

    def __getattr__(self, name: str) -> Any:
        method = getattr(self._jobs, name)

        def call(*args: Any, **kwargs: Any) -> Any:
            try:
                return method(*args, **kwargs)
            except NotFound:
                raise
            except UserError as exc:
                match = self._FIELD.match(str(exc))
                field = match.group(1).replace("job id", "job_id") if match else None
                if field is None and "kind" in str(exc).split(":")[0]:
                    field = "kind"
                raise ApiError(str(exc), field=field) from None

        return call


def _job_id(job_id: int) -> int:
    if job_id > MAX_ID:
        raise ApiError(f"no job with id {job_id}", field="job_id", status=404)
    return job_id


@bp.get("")
def list_jobs() -> Response:
    params = Params.from_args()
    status = params.choice("status", STATUSES)
    kind = params.string("kind", max_len=64)
    limit, offset = params.page(default_limit=50)
    items = jobs_service().list(status=status, kind=kind, limit=limit, offset=offset)
    return jsonify({"items": items, "limit": limit, "offset": offset})


@bp.post("")
def create_job() -> tuple[Response, int]:
    params = Params(json_body(), from_json=True)
    kind = params.string("kind", required=True, max_len=64)
    job_params = params.object("params")
    job = jobs_service().create(kind, job_params)
    return jsonify(job), 202


@bp.get("/<int:job_id>")
def get_job(job_id: int) -> Response:
    return jsonify(jobs_service().get(_job_id(job_id)))


@bp.post("/<int:job_id>/cancel")
def cancel_job(job_id: int) -> Response:
    return jsonify(jobs_service().cancel(_job_id(job_id)))


@bp.post("/<int:job_id>/retry")
def retry_job(job_id: int) -> tuple[Response, int]:
    return jsonify(jobs_service().retry(_job_id(job_id))), 202


def init_app(api: Blueprint) -> None:
    api.register_blueprint(bp)
