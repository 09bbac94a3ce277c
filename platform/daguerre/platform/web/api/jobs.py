"""``/api/v1/jobs``: list, show, create, cancel and retry jobs, and clear finished ones.

A thin edge over :class:`daguerre.platform.services.jobs.Jobs`, which owns the job rows and the
broker: this module only reads the request; errors map to statuses in ``web/errors.py``.
"""

from __future__ import annotations

from typing import Any

from flask import Blueprint, Response, current_app, jsonify

from daguerre.platform.constants import JOB_STATUSES
from daguerre.platform.errors import NotFound, Unavailable
from daguerre.platform.web import get_context
from daguerre.platform.web.auth import requires
from daguerre.platform.web.params import MAX_ID, Params, json_body

bp = Blueprint("jobs", __name__, url_prefix="/jobs")



def jobs_service() -> Any:
    """The job service of this app's Context (503 while the job system is not installed).

    ``app.config["JOB_SENDER"]``, when set, replaces the broker (a callable taking the job id and
    its queue), so tests can see what would be sent without a worker.
    """
    try:
        from daguerre.platform.services.jobs import Jobs
    except ImportError as exc:
        raise Unavailable(f"the job system is not available: {exc}") from None
    return Jobs(get_context(), send=current_app.config.get("JOB_SENDER"))


def _job_id(job_id: int) -> int:
    if job_id > MAX_ID:
        raise NotFound(f"no job with id {job_id}", field="job_id")
    return job_id


@bp.get("")
@requires("viewer")
def list_jobs() -> Response:
    params = Params.from_args()
    status = params.choice("status", JOB_STATUSES)
    kind = params.string("kind", max_len=64)
    limit, offset = params.page(default_limit=50)
    items = jobs_service().list(status=status, kind=kind, limit=limit, offset=offset)
    return jsonify({"items": items, "limit": limit, "offset": offset})


@bp.post("")
@requires("curator")
def create_job() -> tuple[Response, int]:
    params = Params(json_body(), from_json=True)
    kind = params.string("kind", required=True, max_len=64)
    job_params = params.object("params")
    job = jobs_service().create(kind, job_params)
    return jsonify(job), 202


@bp.post("/clear")
@requires("curator")
def clear_jobs() -> Response:
    """Delete every finished job (what they made stays; see ``Jobs.clear_finished``)."""
    return jsonify(jobs_service().clear_finished())


@bp.get("/<int:job_id>")
@requires("viewer")
def get_job(job_id: int) -> Response:
    return jsonify(jobs_service().get(_job_id(job_id)))


@bp.post("/<int:job_id>/cancel")
@requires("curator")
def cancel_job(job_id: int) -> Response:
    return jsonify(jobs_service().cancel(_job_id(job_id)))


@bp.post("/<int:job_id>/retry")
@requires("curator")
def retry_job(job_id: int) -> tuple[Response, int]:
    return jsonify(jobs_service().retry(_job_id(job_id))), 202


def init_app(api: Blueprint) -> None:
    api.register_blueprint(bp)
