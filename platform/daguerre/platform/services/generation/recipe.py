"""The restoration recipe a restore job may set: one table of :class:`Param`.

:data:`RECIPE_PARAMS` is the nested parameter table of a restore job's ``recipe``: the job check
(:func:`make_recipe`), the API's OpenAPI schema and the CLI's restore options all read it, so
what the document allows is exactly what the check accepts. The generator's ``Recipe.check``
then applies its own rules, reported under the same field names.
"""

from __future__ import annotations

from typing import Any

from daguerre.platform.constants import MAX_SEED
from daguerre.platform.errors import BadInput
from daguerre.platform.jobs.registry import Param

# The field of a recipe option, as the job (and, without ``params.``, the API) names it.
RECIPE_FIELD = "params.recipe"

RECIPE_PARAMS: dict[str, Param] = {
    "detect": Param(bool, help="detect scratches and dust"),
    "inpaint": Param(bool, help="repaint the detected damage"),
    "levels": Param(bool, help="stretch levels and remove a colour cast"),
    "denoise": Param(bool, help="remove grain"),
    "inpaint_method": Param(str, choices=("telea", "ns"), help="weights-free inpainting method"),
    "inpaint_radius": Param(int, min=1, max=50, help="weights-free inpainting radius (px)"),
    "mask_grow": Param(int, min=0, max=32, help="pixels added around the damage"),
    "inpaint_prompt": Param(str, max=1000, help="prompt of diffusion inpainting"),
    "inpaint_negative_prompt": Param(str, max=1000, help="negative prompt of inpainting"),
    "inpaint_steps": Param(int, min=1, max=200, help="diffusion inpainting steps"),
    "inpaint_guidance": Param(float, min=0.0, max=50.0, help="diffusion inpainting guidance"),
    "max_crops": Param(int, min=0, max=1000, help="most damaged regions inpainted by diffusion"),
    "white_balance": Param(str, choices=("levels", "gray_world", "none"),
                           help="how a colour cast is removed"),
    "levels_max_cast": Param(float, min=0.0, max=1.0,
                             help="largest per-channel move of the black or white point"),
    "denoise_method": Param(str, choices=("nlm", "bilateral"), help="denoising method"),
    "denoise_strength": Param(float, min=0.0, max=20.0,
                              help="denoising strength, relative to the measured noise"),
    "upscale": Param(int, choices=(1, 2, 4), help="upscale factor (1: off)"),
    "upscale_prompt": Param(str, max=1000, help="prompt of the diffusion upscaler"),
    "upscale_steps": Param(int, min=1, max=200, help="diffusion upscaler steps"),
    "upscale_guidance": Param(float, min=0.0, max=50.0, help="diffusion upscaler guidance"),
    "upscale_noise_level": Param(int, min=0, max=350, help="noise added before upscaling"),
    "seed": Param(int, min=0, max=MAX_SEED, help="seed of the diffusion steps"),
}


def check_recipe(options: Any) -> dict[str, Any]:
    """``options`` checked against :data:`RECIPE_PARAMS` (ints given for floats become
    floats); BadInput names the option as ``params.recipe.<name>``."""
    if options is None:
        return {}
    if not isinstance(options, dict):
        raise BadInput(f"{RECIPE_FIELD} must be an object, got {options!r}", field=RECIPE_FIELD,
                       value=options)
    unknown = sorted(set(options) - set(RECIPE_PARAMS))
    if unknown:
        where = f"{RECIPE_FIELD}.{unknown[0]}"
        raise BadInput(f"{where}: unknown recipe option (known: {', '.join(RECIPE_PARAMS)})",
                       field=where, value=options[unknown[0]])
    return {key: RECIPE_PARAMS[key].check(f"recipe.{key}", value)
            for key, value in options.items()}


def make_recipe(options: Any) -> Any:
    """A checked Recipe from a job's ``recipe`` parameter; BadInput names the bad field."""
    from daguerre.generator.errors import InvalidArgument
    from daguerre.generator.restoration.recipe import Recipe

    recipe = Recipe(**check_recipe(options))
    try:
        recipe.check()
    except InvalidArgument as exc:
        where = f"{RECIPE_FIELD}.{exc.argument}"
        raise BadInput(f"{RECIPE_FIELD}.{exc}", field=where, value=exc.value) from None
    return recipe
