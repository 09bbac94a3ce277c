"""The diffusion operations of the platform: generate, translate, edit, inpaint, upscale.

A job's parameters become a generator request, the configured model (the ``<task>_model``
settings) runs it, and its images are recorded by :class:`~.outputs.OutputWriter`. Nothing is
written before every image of a batch exists, so a canceled job leaves no output. Generator
errors are translated here, once, into the platform's (:func:`generator_errors`).
"""

from __future__ import annotations

import contextlib
import random
import threading
from collections.abc import Iterator
from dataclasses import fields
from pathlib import Path
from typing import Any

from daguerre.platform.config import env_var, model_setting
from daguerre.platform.constants import MAX_SEED
from daguerre.platform.context import Context
from daguerre.platform.errors import BadInput, Canceled, Unavailable
from daguerre.platform.services.generation.masks import mask_for
from daguerre.platform.services.generation.outputs import Embedder, OutputWriter
from daguerre.platform.services.generation.sources import load_source
from daguerre.platform.services.progress import CancelFn, ProgressFn

OPERATIONS = ("generate", "translate", "inpaint", "edit", "upscale")


def model_remedy(task: str | None) -> str:
    """How a person provides ``task``'s weights, in the platform's own settings."""
    key = model_setting(task) if task else "<task>_model"
    pull = f"`daguerre models pull --task {task}`" if task else "`daguerre models pull`"
    return (f"set {env_var(key)} (or {key} in daguerre.toml) to a local directory in diffusers' "
            f"save_pretrained layout, or run {pull} with network access so that it is "
            "downloaded into the Hugging Face cache")


def model_unavailable(model: str, task: str | None, reason: str) -> str:
    """The message of a model whose weights cannot be had, with the platform's remedy."""
    from daguerre.generator.errors import ModelUnavailable

    return str(ModelUnavailable(model, task, reason, model_remedy(task)))


@contextlib.contextmanager
def generator_errors() -> Iterator[None]:
    """Generator exceptions as the platform's: Canceled stops the job as canceled; missing
    weights are Unavailable (saying which setting provides them); an invalid argument is
    BadInput naming ``params.<argument>``; any other GeneratorError is BadInput."""
    from daguerre.generator.errors import Canceled as GeneratorCanceled
    from daguerre.generator.errors import GeneratorError, InvalidArgument, ModelUnavailable

    try:
        yield
    except GeneratorCanceled as exc:
        raise Canceled(str(exc)) from None
    except ModelUnavailable as exc:
        raise Unavailable(model_unavailable(exc.model, exc.task, exc.reason),
                          field=model_setting(exc.task) if exc.task else None,
                          value=exc.model) from None
    except InvalidArgument as exc:
        raise BadInput(f"params.{exc}", field=f"params.{exc.argument}", value=exc.value) from None
    except GeneratorError as exc:
        raise BadInput(str(exc)) from None


_HASHES: dict[Path, Any] = {}
_HASHES_LOCK = threading.Lock()


def model_hashes(ctx: Context) -> Any:
    """The process-wide model hashes of ``ctx``'s data directory, kept on disk under
    ``<data>/cache/model-hashes.json``, so a model's weights are hashed once (A1111's ``Model
    hash`` in every output) and not by every job, nor by every CLI run."""
    from daguerre.generator.model_identity import ModelHashes

    path = ctx.settings.home / "cache" / "model-hashes.json"
    with _HASHES_LOCK:
        if path not in _HASHES:
            _HASHES[path] = ModelHashes(path)
        return _HASHES[path]


def operation_device(ctx: Context) -> str | None:
    device = ctx.settings.device
    return None if device == "auto" else device


def new_seed_if_missing(params: dict[str, Any]) -> None:
    """Fix a random seed at job creation, so a re-run after a crash or a retry makes the same
    image (the seed is in the job's parameters and every output's provenance)."""
    if params.get("seed") is None:
        params["seed"] = random.randint(0, MAX_SEED)


def build_request(task: str, params: dict[str, Any], image: Any = None, mask: Any = None) -> Any:
    """The GenerationRequest for a job's parameters (the names are the request's own)."""
    from daguerre.generator import GenerationRequest

    names = {f.name for f in fields(GenerationRequest)} - {"image", "mask", "extra"}
    kwargs = {k: v for k, v in params.items() if k in names and v is not None}
    if task == "edit" and "instruction" in params:
        kwargs["prompt"] = params["instruction"]
    return GenerationRequest(image=image, mask=mask, **kwargs)


def refuse_unreachable_download(ctx: Context, task: str, cache: Any = None) -> None:
    """Fail at once, saying why, when ``task``'s model would have to be downloaded and the hub
    cannot be reached (rather than after huggingface_hub's retries, about a minute)."""
    from daguerre.generator.errors import ModelUnavailable
    from daguerre.generator.models import default_cache, is_local_model, read_model_index
    from daguerre.platform.hub import unreachable

    model = ctx.settings.diffusion_model(task)
    held = (cache if cache is not None else default_cache()).loaded()
    if is_local_model(model) or model in held:
        return  # a directory's loading says what is wrong with it; a held model needs nothing
    try:
        read_model_index(model, task, offline=True)
        return  # cached
    except ModelUnavailable:
        blocked = unreachable(offline=ctx.settings.offline)
    if blocked:
        raise ModelUnavailable(model, task, f"it is not in the local Hugging Face cache, and "
                                            f"{blocked}")


def run_operation(ctx: Context, job_id: int, task: str, params: dict[str, Any], *,
                  progress: ProgressFn, should_cancel: CancelFn, cache: Any = None) -> dict:
    """Run one diffusion operation for job ``job_id`` and record its outputs."""
    from daguerre.generator import get_operation

    if task not in OPERATIONS:
        raise ValueError(f"unknown operation {task!r}")
    parent = params.get("image_id")
    image = load_source(ctx, parent, "params.image_id") if parent is not None else None
    mask = mask_for(ctx, params, image)
    request = build_request(task, params, image, mask)
    writer = OutputWriter(ctx, job_id, task, Embedder())
    keys = [f"{task}-{i}" for i in range(request.batch_size)]
    progress(0, request.steps, "loading the model")
    with generator_errors():
        refuse_unreachable_download(ctx, task, cache)
        op = get_operation(task, ctx.settings.diffusion_model(task), device=operation_device(ctx),
                           cache=cache, offline=ctx.settings.offline, hashes=model_hashes(ctx))
        images = op.run(request, on_step=lambda step, total: progress(
            step, total, f"step {step}/{total}"), should_cancel=should_cancel)
    # Nothing is written before every image of the batch exists: a cancel leaves no output.
    writer.embedder = Embedder.load(ctx)
    progress(request.steps, request.steps, "saving")
    outputs = [writer.write(im, key, [parent] if parent is not None else [], params)
               for im, key in zip(images, keys, strict=True)]
    result: dict[str, Any] = {"operation": task, "model": op.model, "outputs": outputs,
                              "image_ids": [o["image_id"] for o in outputs]}
    if writer.embedder.note:
        result["notes"] = [writer.embedder.note]
    return result
