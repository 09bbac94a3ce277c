"""``/api/v1/{generate,translate,edit,inpaint,upscale,restore}``: generator jobs over JSON.

Each endpoint validates its body, creates the job (202 with the queued job, as ``POST /jobs``
does) and returns; progress and outputs are read from ``/jobs/{id}``. Images are named by catalog
id only, never by a path: a client cannot make a worker read a file outside the libraries. A mask
is given as rectangles (``mask_boxes``) or as the SHA-256 of a stored mask: the CLI's ``--mask``
stores one, and so does ``POST /masks`` (a painted mask uploaded by the dashboard's Create screen).

The request schemas in the OpenAPI document are built from the job kinds' own parameter tables
(the restore recipe's included: ``web/openapi/params.py``), so the document and the checks cannot
drift apart. An error's field is the job's (``params.steps``) without its ``params.`` prefix, as
the body names it (``steps``, ``recipe.denoise_strength``).
"""

from __future__ import annotations

from typing import Any

from flask import Blueprint, Response, current_app, jsonify, request

from daguerre.platform.errors import BadInput, DaguerreError
from daguerre.platform.web import get_context
from daguerre.platform.web.auth import requires
from daguerre.platform.web.errors import WrongContentType
from daguerre.platform.web.params import json_body

bp = Blueprint("generate", __name__)

OPERATIONS = ("generate", "translate", "edit", "inpaint", "upscale", "restore")
SUMMARIES = {
    "generate": "Synthesise images from a prompt (queues a `generate` job)",
    "translate": "Translate an image towards a prompt (queues a `translate` job)",
    "edit": "Edit an image by an instruction (queues an `edit` job)",
    "inpaint": "Repaint the masked part of an image (queues an `inpaint` job)",
    "upscale": "Upscale an image x4 (queues an `upscale` job)",
    "restore": "Restore damaged photos in batch (queues a `restore` job)",
}
# Body fields that are not job parameters as such: restore may select images by library or tag.
SELECTION_FIELDS = ("library", "tag")

PARAMS_PREFIX = "params."


def _kind(name: str) -> Any:
    from daguerre.platform.jobs.registry import get_kind

    return get_kind(name)


def _create(kind: str, params: dict[str, Any]) -> dict[str, Any]:
    from daguerre.platform.services.jobs import Jobs

    jobs = Jobs(get_context(), send=current_app.config.get("JOB_SENDER"))
    try:
        return jobs.create(kind, params)
    except DaguerreError as exc:
        if exc.field is None or not exc.field.startswith(PARAMS_PREFIX):
            raise
        field = exc.field.removeprefix(PARAMS_PREFIX)
        text = str(exc).removeprefix(PARAMS_PREFIX)
        raise exc.with_field(field, text) from None


def _submit(kind: str) -> tuple[Response, int]:
    body = dict(json_body())
    spec = _kind(kind)
    allowed = set(spec.params)
    if kind == "restore":
        allowed |= set(SELECTION_FIELDS)
    unknown = sorted(set(body) - allowed)
    if unknown:
        raise BadInput(f"{unknown[0]}: unknown field for {kind} (known: "
                       f"{', '.join(sorted(allowed))})", field=unknown[0])
    if kind == "restore":
        body = _restore_selection(body)
    return jsonify(_create(kind, body)), 202


def _restore_selection(body: dict[str, Any]) -> dict[str, Any]:
    from daguerre.platform.services.generation.targets import select_images

    library = body.pop("library", None)
    tag = body.pop("tag", None)
    for name, value in (("library", library), ("tag", tag)):
        if value is not None and (not isinstance(value, str | int) or isinstance(value, bool)
                                  or str(value).strip() == ""):
            raise BadInput(f"{name} must be a name or id", field=name, value=value)
    if library is None and tag is None:
        return body
    from daguerre.platform.jobs.registry import json_integral

    ids = json_integral(body.get("image_ids"))
    if ids is not None and (not isinstance(ids, list)
                            or not all(isinstance(i, int) and not isinstance(i, bool)
                                       for i in ids)):
        raise BadInput("image_ids must be a list of integers", field="image_ids", value=ids)
    try:
        selected = select_images(get_context(), library, tag)
    except BadInput:  # the selection is empty: only the listed ids
        selected = []
    body["image_ids"] = list(dict.fromkeys([*(ids or []), *selected]))
    return body


def _route(kind: str) -> Any:
    @requires("curator")
    def view() -> tuple[Response, int]:
        return _submit(kind)

    view.__name__ = f"create_{kind}"
    return view


for _op in OPERATIONS:
    bp.add_url_rule(f"/{_op}", endpoint=_op, view_func=_route(_op), methods=["POST"])


@bp.post("/masks")
@requires("curator")
def upload_mask() -> tuple[Response, int]:
    """Store a mask (``multipart/form-data``, file field ``mask``; white = repaint) and answer
    its SHA-256, which an inpaint or restore job takes as ``mask``. The same mask stored twice
    is one file."""
    from daguerre.platform.services.generation.masks import store_mask

    if not request.mimetype.startswith("multipart/form-data"):
        raise WrongContentType("send the mask as multipart/form-data with a file field named "
                               "mask", field="mask")
    upload = request.files.get("mask")
    if upload is None:
        raise BadInput("mask is required: a file field named mask", field="mask")
    return jsonify({"mask": store_mask(get_context(), upload.read(), name="mask")}), 201


def init_app(api: Blueprint) -> None:
    api.register_blueprint(bp)
