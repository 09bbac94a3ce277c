"""The Create screen, ``/create``: one form per generator operation (generate, translate, edit,
inpaint, upscale, restore), each at its own URL (``/create?kind=inpaint&image=12`` opens the
inpaint form with image 12 as its input; the image screen links here that way).

The forms are rendered from the job kinds' own parameter tables (``jobs/generator_kinds.py``, and
the restore recipe's ``services/generation/recipe.RECIPE_PARAMS``), so every parameter the API
takes has a field, with its help, its range, its choices and the value a job runs with when it is
left alone. The browser side (``static/create.js``, with ``static/mask-paint.js`` for the mask)
sends only what a person changed, through the same API any client uses (``POST /api/v1/<kind>``),
then opens the job's page, where progress is live. Creating needs a curator; the server checks
again on the API.
"""

from __future__ import annotations

from dataclasses import MISSING, dataclass, fields
from functools import cache
from typing import Any

from flask import Blueprint, Flask, abort, render_template, request

from daguerre.platform.services.collections import list_collections
from daguerre.platform.web import get_context
from daguerre.platform.web.api import PREFIX
from daguerre.platform.web.api.generate import OPERATIONS
from daguerre.platform.web.auth import requires
from daguerre.platform.web.openapi.params import SIZE_MULTIPLE

bp = Blueprint("create_page", __name__)

# What each operation is, as the tab and the form's heading say it.
TITLES: dict[str, str] = {
    "generate": "Generate", "translate": "Translate", "edit": "Edit", "inpaint": "Inpaint",
    "upscale": "Upscale", "restore": "Restore",
}
LABELS: dict[str, str] = {
    "image_id": "Input image (catalog id)", "image_ids": "Images (catalog ids)",
    "guidance_scale": "Guidance", "image_guidance_scale": "Image guidance",
    "negative_prompt": "Negative prompt", "batch_size": "Batch size", "mask": "Mask",
    "mask_boxes": "Mask rectangles (JSON)", "noise_level": "Noise level",
    "require_diffusion": "Require diffusion weights", "board": "Send outputs to board",
}
# Parameters shown in the form's "More options" part (the rest is always in view).
ADVANCED = frozenset({"negative_prompt", "seed", "steps", "guidance_scale", "scheduler",
                      "image_guidance_scale", "noise_level", "mask_boxes", "require_diffusion"})
RECIPE_PREFIX = "recipe."
LONG_TEXT = 200
# Help the form says in its own words (the tables' help speaks of the CLI's options).
FORM_HELP: dict[str, str] = {
    "mask": "paint white over what is to be repainted (restore: the damage, instead of "
            "detecting it); the mask is the input image's size",
}  # a text parameter allowed longer than this is a text area


@dataclass(frozen=True)
class Field:
    """One form field of a parameter: the name the API takes (``recipe.<option>`` for the
    restore recipe), how it is shown, and the bounds and default it is checked against."""

    name: str
    label: str
    widget: str  # text, textarea, number, select, checkbox, image, images, mask, boxes, board
    help: str = ""
    required: bool = False
    default: Any = None  # the value a job runs with when the field is left alone
    min: float | None = None
    max: float | None = None
    step: float | str | None = None
    choices: tuple[Any, ...] = ()
    advanced: bool = False

    @property
    def dom_id(self) -> str:
        return "f-" + self.name.replace(".", "-")

    @property
    def min_text(self) -> str | None:
        return number_text(self.min)

    @property
    def max_text(self) -> str | None:
        return number_text(self.max)


def number_text(value: float | None) -> str | None:
    """A bound as an HTML attribute writes it, exactly (``%g`` would round 4294967295)."""
    if value is None:
        return None
    return str(int(value)) if float(value).is_integer() else repr(float(value))


def _label(name: str) -> str:
    return LABELS.get(name) or name.replace("_", " ").capitalize()


def _step(name: str, param: Any) -> float | str | None:
    types = param.type if isinstance(param.type, tuple) else (param.type,)
    if name in ("width", "height"):
        return SIZE_MULTIPLE
    if float in types:
        return 0.01 if param.max is not None and param.max <= 1 else 0.1
    return 1 if int in types else None


def field_of(name: str, param: Any, default: Any = None, *, prefix: str = "",
             advanced: bool = False) -> Field:
    """The form field of one ``registry.Param`` (its widget from its type and choices)."""
    types = param.type if isinstance(param.type, tuple) else (param.type,)
    special = {"image_id": "image", "image_ids": "images", "mask": "mask",
               "mask_boxes": "boxes", "board": "board"}
    if not prefix and name in special:
        widget = special[name]
    elif param.choices:
        widget = "select"
    elif bool in types:
        widget = "checkbox"
    elif int in types or float in types:
        widget = "number"
    elif param.max is not None and param.max > LONG_TEXT:
        widget = "textarea"
    else:
        widget = "text"
    number = widget in ("number", "image")
    return Field(
        name=prefix + name, label=_label(name), widget=widget,
        help=FORM_HELP.get(prefix + name, param.help),
        required=param.required,
        default=param.default if param.default is not None else default,
        min=param.min if number else None, max=param.max if number else None,
        step=_step(name, param) if number else None, choices=tuple(param.choices or ()),
        advanced=advanced)


@cache
def _run_defaults() -> tuple[dict[str, Any], dict[str, Any]]:
    """The values a request and a recipe take when a job leaves a parameter out (the
    generator's own dataclasses), shown as the fields' starting values."""
    from daguerre.generator import GenerationRequest
    from daguerre.generator.restoration.recipe import Recipe

    def defaults(cls: type) -> dict[str, Any]:
        return {f.name: f.default for f in fields(cls)
                if f.default is not MISSING and f.default is not None}

    return defaults(GenerationRequest), defaults(Recipe)


def form_fields(kind: str) -> list[Field]:
    """Every field of a ``kind`` job's form, in the order of its parameter table (the restore
    recipe's options last)."""
    from daguerre.platform.jobs.registry import get_kind
    from daguerre.platform.services.generation.recipe import RECIPE_PARAMS

    request_defaults, recipe_defaults = _run_defaults()
    out: list[Field] = []
    for name, param in get_kind(kind).params.items():
        if name == "recipe":
            continue
        default = request_defaults.get(name) if name not in ("prompt", "negative_prompt") else None
        out.append(field_of(name, param, default, advanced=name in ADVANCED))
    if "recipe" in get_kind(kind).params:
        out += [field_of(name, param, recipe_defaults.get(name), prefix=RECIPE_PREFIX,
                         advanced=True)
                for name, param in RECIPE_PARAMS.items()]
    return out


def _kind() -> str:
    kind = request.args.get("kind") or OPERATIONS[0]
    if kind not in OPERATIONS:
        abort(400, f"kind must be one of {', '.join(OPERATIONS)}, got {kind[:80]!r}")
    return kind


def _image() -> int | None:
    raw = (request.args.get("image") or "").strip().removeprefix("#")
    if not raw:
        return None
    if not (raw.isascii() and raw.isdigit()) or len(raw) > 18:
        abort(400, f"image must be a catalog id (a whole number), got {raw[:80]!r}")
    return int(raw)


@bp.get("/create")
@requires("curator")
def create() -> str:
    kind = _kind()
    every = form_fields(kind)
    recipe = [f for f in every if f.name.startswith(RECIPE_PREFIX)]
    return render_template(
        "create.html", api_prefix=PREFIX, kind=kind, kinds=OPERATIONS, titles=TITLES,
        main_fields=[f for f in every if not f.advanced], recipe_fields=recipe,
        more_fields=[f for f in every if f.advanced and f not in recipe], image=_image(),
        boards=list_collections(get_context()), description=_description(kind))


def _description(kind: str) -> str:
    from daguerre.platform.jobs.registry import get_kind

    return get_kind(kind).description


def init_app(app: Flask) -> None:
    app.register_blueprint(bp)
