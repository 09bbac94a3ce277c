"""Exceptions the generator raises; the platform maps them to job states and HTTP statuses."""

from __future__ import annotations


class GeneratorError(Exception):
    """Base class for every error raised on purpose by ``daguerre.generator``."""


class InvalidArgument(GeneratorError, ValueError):
    """A request argument is out of range or malformed; the message names it and its value."""

    def __init__(self, argument: str, value: object, reason: str) -> None:
        self.argument = argument
        self.value = value
        self.reason = reason
        shown = repr(value)
        if len(shown) > 80:
            shown = shown[:77] + "..."
        super().__init__(f"{argument}={shown}: {reason}")


class ModelUnavailable(GeneratorError, LookupError):
    """The weights for a model cannot be loaded (not cached offline, no network, bad directory).

    ``remedy`` says how to provide them; the library's own names the model argument, and an
    application with settings of its own (the platform's ``<task>_model``) passes one naming those.
    """

    def __init__(self, model: str, task: str | None, reason: str, remedy: str | None = None) -> None:
        self.model = model
        self.task = task
        self.reason = reason
        self.remedy = remedy or (
            "pass a local directory in diffusers' save_pretrained layout as the model, or run once "
            "with network access so that it is downloaded into the Hugging Face cache"
        )
        super().__init__(f"model {model!r} is not available: {reason}. To provide it, {self.remedy}.")


class ModelMismatch(GeneratorError, ValueError):
    """A model loaded but cannot serve the task (e.g. a text-to-image model given to the upscaler)."""


class Canceled(GeneratorError):
    """A run was canceled between steps; no output was produced."""


class DiffusionRequired(GeneratorError):
    """``restore(..., require_diffusion=True)`` found a step whose diffusion weights are missing."""
