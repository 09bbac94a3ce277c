"""One module per diffusion task, all behind :class:`~daguerre.generator.pipelines.base.Operation`."""

from __future__ import annotations

from typing import Any

from .base import Operation
from .inpainting import Inpainting
from .instruct_edit import InstructEdit
from .synthesis import Synthesis
from .translation import Translation
from .upscale import Upscale

OPERATIONS: dict[str, type[Operation]] = {
    "generate": Synthesis,
    "translate": Translation,
    "inpaint": Inpainting,
    "edit": InstructEdit,
    "upscale": Upscale,
}


def get_operation(task: str, model: str | None = None, **kwargs: Any) -> Operation:
    """The operation for ``task`` ("generate", "translate", "inpaint", "edit", "upscale")."""
    try:
        cls = OPERATIONS[task]
    except KeyError:
        raise ValueError(f"unknown task {task!r}; expected one of {sorted(OPERATIONS)}") from None
    return cls(model, **kwargs)


__all__ = [
    "OPERATIONS",
    "Inpainting",
    "InstructEdit",
    "Operation",
    "Synthesis",
    "Translation",
    "Upscale",
    "get_operation",
]
