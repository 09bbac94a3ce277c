"""``/api/v1/{generate,translate,edit,inpaint,upscale,restore}``: generator jobs over JSON.

Each endpoint validates its body, creates the job (202 with the queued job, as ``POST /jobs``
does) and returns; progress and outputs are read from ``/jobs/{id}``. Images are named by catalog
id only, never by a path: a client cannot make a worker read a file outside the libraries. A mask
is given as rectangles (``mask_boxes``) or as the SHA-256 of a mask the CLI stored.

The request schemas in the OpenAPI document are built from the job kinds' own parameter tables
(the restore recipe's included: :func:`openapi_paths`), so the document and the checks cannot
drift apart. An error's field is the job's (``params.steps``) without its ``params.`` prefix, as
the body names it (``steps``, ``recipe.denoise_strength``).
"""

from __future__ import annotations

from typing import Any

from flask import Blueprint, Response, current_app, jsonify

from daguerre.platform.constants import MAX_ID, MAX_NAME_CHARS
from daguerre.platform.errors import BadInput, DaguerreError
from daguerre.platform.services.generation.masks import MAX_BOXES, MAX_COORD
from daguerre.platform.web import get_context
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
    body = {k: _integral(v, spec.params[k]) if k in spec.params else v for k, v in body.items()}
    if kind == "restore":
        body = _restore_selection(body)
    return jsonify(_create(kind, body)), 202


def _as_int(value: Any) -> Any:
    """JSON Schema's ``integer`` includes ``3.0``; the job parameters take Python ints."""
    if isinstance(value, float) and value.is_integer() and abs(value) < 2**63:
        return int(value)
    if isinstance(value, list):
        return [_as_int(v) for v in value]
    return value


def _integral(value: Any, param: Any) -> Any:
    types = param.type if isinstance(param.type, tuple) else (param.type,)
    if int in types and float not in types or (list in types and param.item in (int, list)):
        return _as_int(value)
    if dict in types and isinstance(value, dict):
        from daguerre.platform.services.generation.recipe import RECIPE_PARAMS

        return {k: _integral(v, RECIPE_PARAMS[k]) if k in RECIPE_PARAMS else v
                for k, v in value.items()}
    return value


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
    ids = body.get("image_ids")
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
    def view() -> tuple[Response, int]:
        return _submit(kind)

    view.__name__ = f"create_{kind}"
    return view


for _op in OPERATIONS:
    bp.add_url_rule(f"/{_op}", endpoint=_op, view_func=_route(_op), methods=["POST"])


def init_app(api: Blueprint) -> None:
    api.register_blueprint(bp)


# -- OpenAPI ----------------------------------------------------------------------------------
def _schema(name: str, param: Any) -> dict[str, Any]:
    types = param.type if isinstance(param.type, tuple) else (param.type,)
    if list in types:
        item = {"integer": int, "string": str}
        kind = next((k for k, t in item.items() if t is param.item), "string")
        schema: dict[str, Any] = {"type": "array", "items": {"type": kind}}
        if kind == "integer":
            schema["items"].update(minimum=0, maximum=MAX_ID)
        if param.min is not None:
            schema["minItems"] = int(param.min)
        if param.max is not None:
            schema["maxItems"] = int(param.max)
    elif dict in types:
        schema = {"type": "object"}
    elif bool in types:
        schema = {"type": "boolean"}
    elif int in types:
        schema = {"type": "integer"}
    elif float in types:
        schema = {"type": "number"}
    else:
        schema = {"type": "string"}
    if schema["type"] in ("integer", "number"):
        if param.min is not None:
            schema["minimum"] = param.min
        if param.max is not None:
            schema["maximum"] = param.max
        if name in ("width", "height"):
            schema["multipleOf"] = 8
    if schema["type"] == "string":
        if param.max is not None:
            schema["maxLength"] = int(param.max)
        if param.min is not None:
            schema["minLength"] = int(param.min)
    if param.choices:
        schema["enum"] = list(param.choices)
    if param.default is not None:
        schema["default"] = param.default
    if param.help:
        schema["description"] = param.help
    return schema


def request_schema(kind: str) -> dict[str, Any]:
    spec = _kind(kind)
    props = {name: _schema(name, p) for name, p in spec.params.items()}
    required = [name for name, p in spec.params.items() if p.required]
    if "mask" in props:
        props["mask"] = {"type": "string", "pattern": "^[0-9a-f]{64}$",
                         "description": "SHA-256 of a mask stored with the CLI's --mask "
                                        "(white = repaint); 404 if unknown"}
        props["mask_boxes"] = {
            "type": "array", "minItems": 1, "maxItems": MAX_BOXES,
            "description": "mask as rectangles [x0, y0, x1, y1] in the input's pixels "
                           "(an empty rectangle masks nothing)",
            "items": {"type": "array", "minItems": 4, "maxItems": 4,
                      "items": {"type": "integer", "minimum": 0, "maximum": MAX_COORD}}}
    if kind == "restore":
        props["library"] = {"type": "string", "minLength": 1, "maxLength": MAX_NAME_CHARS,
                            "description": "also restore every active image of this library"}
        props["tag"] = {"type": "string", "minLength": 1, "maxLength": MAX_NAME_CHARS,
                        "description": "also restore every image with this tag (with "
                                       "`library`: those of that library)"}
        props["recipe"] = recipe_schema()
    schema = {"type": "object", "required": required, "properties": props,
              "additionalProperties": False}
    if kind == "inpaint":
        schema["oneOf"] = [{"required": ["mask"], "not": {"required": ["mask_boxes"]}},
                           {"required": ["mask_boxes"], "not": {"required": ["mask"]}}]
    return schema


def recipe_schema() -> dict[str, Any]:
    """The restore recipe's schema, from the same Param table the job check reads."""
    from daguerre.platform.services.generation.recipe import RECIPE_PARAMS

    props = {key: _schema(key, param) for key, param in RECIPE_PARAMS.items()}
    return {"type": "object", "properties": props, "additionalProperties": False,
            "description": "restoration recipe options (each optional; defaults are the "
                           "weights-free recipe)"}


def openapi_paths() -> dict[str, Any]:
    """Path items for the OpenAPI document (merged into it by ``web/openapi.py``)."""
    job = {"$ref": "#/components/schemas/Job"}
    err = {"$ref": "#/components/schemas/Error"}
    texts = {"400": "Bad input; the message (and `field`) name what was wrong.",
             "401": "Missing, invalid or revoked token.",
             "404": "An image, library or tag that does not exist.",
             "413": "Request body over the upload limit.",
             "415": "Wrong request content type.",
             "503": "The job system is not available."}
    paths: dict[str, Any] = {}
    for kind in OPERATIONS:
        responses = {"202": {"description": "The queued job; its result lists the outputs",
                             "content": {"application/json": {"schema": job}}}}
        responses.update({code: {"description": text,
                                 "content": {"application/json": {"schema": err}}}
                          for code, text in texts.items()})
        paths[f"/{kind}"] = {"post": {
            "summary": SUMMARIES[kind], "tags": ["generation"], "responses": responses,
            "requestBody": {"required": True, "content": {"application/json": {
                "schema": request_schema(kind)}}},
        }}
    return paths
