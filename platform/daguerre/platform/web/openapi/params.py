"""Request schemas read from the job kinds' own parameter tables (``jobs/registry.Param``).

``POST /jobs`` and the generator endpoints (``POST /generate``, ``/restore`` ...) take the same
parameters the job check reads, so their schemas are built from those tables (the restore recipe's
included): the document and the check cannot drift apart.
"""

from __future__ import annotations

from typing import Any

from daguerre.platform.constants import MAX_ID
from daguerre.platform.services.generation.masks import MAX_BOXES, MAX_COORD
from daguerre.platform.web.openapi.common import NAME

# Sizes the generator accepts are multiples of 8 (the VAE's downsampling factor).
SIZE_MULTIPLE = 8


def param_schema(name: str, param: Any) -> dict[str, Any]:
    """The JSON Schema of one ``registry.Param``."""
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
    elif str in types and int in types:
        schema = {"type": ["string", "integer"]}
    elif int in types:
        schema = {"type": "integer"}
    elif float in types:
        schema = {"type": "number"}
    else:
        schema = {"type": "string"}
    kinds = schema["type"] if isinstance(schema["type"], list) else [schema["type"]]
    if "integer" in kinds or "number" in kinds:
        if param.min is not None:
            schema["minimum"] = param.min
        if param.max is not None:
            schema["maximum"] = param.max
        if name in ("width", "height"):
            schema["multipleOf"] = SIZE_MULTIPLE
    if "string" in kinds:
        if param.max is not None:
            schema["maxLength"] = int(param.max)
        if param.min is not None:
            schema["minLength"] = int(param.min)
        # Stored and compared in SQL: PostgreSQL cannot hold NUL.
        schema["pattern"] = "^[^\\u0000]*$"
    if param.choices:
        schema["enum"] = list(param.choices)
    if param.default is not None:
        schema["default"] = param.default
    if param.help:
        schema["description"] = param.help
    return schema


def params_schema(kind: str) -> dict[str, Any]:
    """The schema of a ``kind`` job's parameters."""
    from daguerre.platform.jobs.registry import get_kind

    spec = get_kind(kind)
    props = {name: param_schema(name, p) for name, p in spec.params.items()}
    required = [name for name, p in spec.params.items() if p.required]
    if "mask" in props:
        props["mask"] = {"type": "string", "pattern": "^[0-9a-f]{64}$",
                         "description": "SHA-256 of a mask stored by `POST /masks` or the "
                                        "CLI's --mask (white = repaint); 404 if unknown"}
        props["mask_boxes"] = {
            "type": "array", "minItems": 1, "maxItems": MAX_BOXES,
            "description": "mask as rectangles [x0, y0, x1, y1] in the input's pixels "
                           "(an empty rectangle masks nothing)",
            "items": {"type": "array", "minItems": 4, "maxItems": 4,
                      "items": {"type": "integer", "minimum": 0, "maximum": MAX_COORD}}}
    if "recipe" in props:
        props["recipe"] = recipe_schema()
    schema: dict[str, Any] = {"type": "object", "required": required, "properties": props,
                              "additionalProperties": False}
    if "mask" in props:
        # A mask is given one way or the other; an inpaint job needs one of them.
        if kind == "inpaint":
            schema["oneOf"] = [{"required": ["mask"], "not": {"required": ["mask_boxes"]}},
                               {"required": ["mask_boxes"], "not": {"required": ["mask"]}}]
        else:
            schema["not"] = {"required": ["mask", "mask_boxes"]}
    return schema


def request_schema(kind: str) -> dict[str, Any]:
    """The body of ``POST /<kind>``: the job's parameters, and for restore a selection."""
    schema = params_schema(kind)
    if kind == "restore":
        props = schema["properties"]
        props["library"] = {**NAME, "description": "also restore every active image of this "
                                                   "library (its name or id)"}
        props["tag"] = {**NAME, "description": "also restore every image with this tag (with "
                                               "`library`: those of that library)"}
    return schema


def recipe_schema() -> dict[str, Any]:
    """The restore recipe's schema, from the same Param table the job check reads."""
    from daguerre.platform.services.generation.recipe import RECIPE_PARAMS

    props = {key: param_schema(key, param) for key, param in RECIPE_PARAMS.items()}
    return {"type": "object", "properties": props, "additionalProperties": False,
            "description": "restoration recipe options (each optional; defaults are the "
                           "weights-free recipe)"}


def new_job_schema() -> dict[str, Any]:
    """``POST /jobs``: one alternative per kind, each with that kind's parameters."""
    from daguerre.platform.jobs.registry import load_kinds

    return {"oneOf": [
        {"type": "object", "required": ["kind", "params"] if spec.params and any(
            p.required for p in spec.params.values()) else ["kind"],
         "properties": {"kind": {"const": name, "description": spec.description},
                        "params": params_schema(name)},
         "additionalProperties": False}
        for name, spec in sorted(load_kinds().items())]}
