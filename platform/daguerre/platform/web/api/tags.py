"""``/api/v1/tags`` and ``/api/v1/images/<id>/tags``: list tags, add a person's tag, remove a tag;
``/api/v1/tags/<name>/learn`` and ``/suggestions`` (+ ``/confirm``, ``/refuse``): personal tags
learned from a few examples.

Thin: the rules (names, who may remove what, which images count) are
:mod:`daguerre.platform.services.tags`, shared with ``daguerre tags``. Removing a tag here removes
it whoever set it, a person or the model, as the command line does.
"""

from __future__ import annotations

from flask import Blueprint, Response, current_app, jsonify, request

from daguerre.platform.services import tag_suggestions as suggestions_service
from daguerre.platform.services import tags as service
from daguerre.platform.services.jobs import Jobs
from daguerre.platform.web import get_context
from daguerre.platform.web.api.serialize import image_urls
from daguerre.platform.web.auth import requires
from daguerre.platform.web.params import json_body

bp = Blueprint("tags", __name__)


@bp.get("/tags")
@requires("viewer")
def list_tags() -> Response:
    return jsonify(service.tag_page(get_context(), request.args))


@bp.get("/images/<int:image_id>/tags")
@requires("viewer")
def image_tags(image_id: int) -> Response:
    return jsonify({"items": service.image_tags(get_context(), image_id)})


@bp.post("/images/<int:image_id>/tags")
@requires("curator")
def add_tag(image_id: int) -> tuple[Response, int]:
    change = service.add_tag(get_context(), json_body().get("name"), [image_id])
    return jsonify({"items": change.images[image_id]}), 201 if change.changed else 200


@bp.delete("/images/<int:image_id>/tags/<path:name>")
@requires("curator")
def remove_tag(image_id: int, name: str) -> Response:
    change = service.remove_tag(get_context(), name, [image_id])
    return jsonify({"items": change.images[image_id]})


# -- few-shot personal tags (services/tag_suggestions.py, shared with `daguerre tags learn`) --


def _with_urls(out: dict) -> dict:
    return {**out, "items": [{**item, **image_urls(item["id"])} for item in out["items"]]}


def _jobs() -> Jobs:
    # The app's sender (tests record jobs instead of sending them), as web/api/jobs.py does.
    return Jobs(get_context(), send=current_app.config.get("JOB_SENDER"))


@bp.post("/tags/<path:name>/learn")
@requires("curator")
def learn(name: str) -> Response:
    return jsonify(suggestions_service.learn(get_context(), name))


@bp.get("/tags/<path:name>/suggestions")
@requires("viewer")
def suggestions(name: str) -> Response:
    return jsonify(_with_urls(suggestions_service.suggest(
        get_context(), name, min_probability=request.args.get("min_probability"),
        limit=request.args.get("limit"))))


@bp.post("/tags/<path:name>/suggestions/confirm")
@requires("curator")
def confirm(name: str) -> Response:
    return jsonify(suggestions_service.confirm(get_context(), name,
                                               json_body().get("image_ids"), jobs=_jobs()))


@bp.post("/tags/<path:name>/suggestions/refuse")
@requires("curator")
def refuse(name: str) -> Response:
    return jsonify(suggestions_service.refuse(get_context(), name,
                                              json_body().get("image_ids"), jobs=_jobs()))


def init_app(api: Blueprint) -> None:
    api.register_blueprint(bp)
