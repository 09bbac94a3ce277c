"""daguerre.generator: diffusion pipelines, weights-free restoration and output metadata.

A library: no Flask, Celery or database. Importing it is cheap; torch and diffusers load on first use.

- ``get_operation(task, model=None).run(GenerationRequest(...), on_step, should_cancel)`` for
  "generate", "translate", "inpaint", "edit" and "upscale";
- ``restore(image, recipe=None, pipelines=None, on_step=None, require_diffusion=False)``;
- ``metadata.save_png`` / ``metadata.parse_parameters`` for AUTOMATIC1111-compatible PNG metadata.
"""

from __future__ import annotations

from typing import Any

from .errors import (
    Canceled,
    DiffusionRequired,
    GeneratorError,
    InvalidArgument,
    ModelMismatch,
    ModelUnavailable,
)
from .models import DEFAULT_MODELS, ModelCache, default_cache, resolve_model
from .request import GenerationRequest

TASKS = ("generate", "translate", "inpaint", "edit", "upscale")


def get_operation(task: str, model: str | None = None, **kwargs: Any) -> Any:
    """The Operation for ``task``; ``model`` is a repo id or a save_pretrained directory."""
    from .pipelines import get_operation as _get

    return _get(task, model, **kwargs)


def restore(*args: Any, **kwargs: Any) -> Any:
    """See :func:`daguerre.generator.restoration.recipe.restore`."""
    from .restoration.recipe import restore as _restore

    return _restore(*args, **kwargs)


__all__ = [
    "DEFAULT_MODELS",
    "TASKS",
    "Canceled",
    "DiffusionRequired",
    "GenerationRequest",
    "GeneratorError",
    "InvalidArgument",
    "ModelCache",
    "ModelMismatch",
    "ModelUnavailable",
    "default_cache",
    "get_operation",
    "resolve_model",
    "restore",
]
