"""``/api/v1/workers``: the job workers that recorded themselves, live ones first.

A thin edge over :func:`daguerre.platform.services.workers.list_workers`; the items have the
shape `daguerre jobs workers --json` prints.
"""

from __future__ import annotations

from flask import Blueprint, Response, jsonify

from daguerre.platform.services.workers import list_workers
from daguerre.platform.web import get_context
from daguerre.platform.web.auth import requires

bp = Blueprint("workers", __name__, url_prefix="/workers")


@bp.get("")
@requires("viewer")
def get_workers() -> Response:
    return jsonify({"items": list_workers(get_context())})


def init_app(api: Blueprint) -> None:
    api.register_blueprint(bp)
