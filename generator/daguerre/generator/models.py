"""Which diffusion model serves each task, how it is loaded, and the per-process model cache.

A model is a Hugging Face repo id or a local directory in diffusers' ``save_pretrained`` layout.
Loading never falls back to random weights: anything that stops the weights from loading becomes
:class:`ModelUnavailable`, whose message says how to provide them.
"""

from __future__ import annotations

import gc
import json
import logging
import os
import threading
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .errors import ModelUnavailable

log = logging.getLogger(__name__)

# Public defaults, used when the caller names no model.
DEFAULT_GENERATE_MODEL = "stable-diffusion-v1-5/stable-diffusion-v1-5"
DEFAULT_TRANSLATE_MODEL = DEFAULT_GENERATE_MODEL
DEFAULT_INPAINT_MODEL = "stable-diffusion-v1-5/stable-diffusion-inpainting"
DEFAULT_EDIT_MODEL = "timbrooks/instruct-pix2pix"
DEFAULT_UPSCALE_MODEL = "stabilityai/stable-diffusion-x4-upscaler"

DEFAULT_MODELS: dict[str, str] = {
    "generate": DEFAULT_GENERATE_MODEL,
    "translate": DEFAULT_TRANSLATE_MODEL,
    "inpaint": DEFAULT_INPAINT_MODEL,
    "edit": DEFAULT_EDIT_MODEL,
    "upscale": DEFAULT_UPSCALE_MODEL,
}

def resolve_model(task: str, configured: str | os.PathLike[str] | None = None) -> str:
    """The model for ``task``: ``configured`` if given, else the task's public default.

    The library reads no configuration of its own: the application that uses it (the platform's
    ``<task>_model`` settings, a notebook) says which model it wants.
    """
    if configured:
        return os.fspath(configured)
    try:
        return DEFAULT_MODELS[task]
    except KeyError:
        raise ValueError(f"unknown task {task!r}; expected one of {sorted(DEFAULT_MODELS)}") from None


def default_device() -> str:
    import torch

    if torch.cuda.is_available():
        return "cuda"
    if getattr(torch.backends, "mps", None) is not None and torch.backends.mps.is_available():
        return "mps"
    return "cpu"


def default_dtype(device: str) -> Any:
    """fp16 on accelerators (half the memory, tensor cores), fp32 on CPU where half is slow or absent."""
    import torch

    if device.startswith("cuda"):
        # bf16 has fp16's speed with fp32's range; SD VAEs overflow in fp16 on some inputs.
        return torch.bfloat16 if torch.cuda.is_bf16_supported() else torch.float16
    if device.startswith("mps"):
        return torch.float16
    return torch.float32


def _dtype_name(dtype: Any) -> str:
    return str(dtype).removeprefix("torch.")


def is_local_model(model: str) -> bool:
    """True when ``model`` names a directory (existing or not), False for a hub repo id."""
    return Path(model).expanduser().exists() or model.startswith((".", "/", "~"))


def _hub_errors() -> tuple[type[BaseException], ...]:
    """Exception types that mean "the weights could not be fetched or read"."""
    errors: list[type[BaseException]] = [OSError]
    try:
        from huggingface_hub import errors as hub_errors

        for name in (
            "LocalEntryNotFoundError",
            "EntryNotFoundError",
            "RepositoryNotFoundError",
            "RevisionNotFoundError",
            "GatedRepoError",
            "HfHubHTTPError",
            "HFValidationError",
            "OfflineModeIsEnabled",
        ):
            cls = getattr(hub_errors, name, None)
            if isinstance(cls, type) and issubclass(cls, BaseException):
                errors.append(cls)
    except ImportError:  # pragma: no cover - huggingface_hub ships with diffusers
        pass
    for mod, name in (("httpx", "HTTPError"), ("requests", "RequestException")):
        try:
            cls = getattr(__import__(mod), name)
            errors.append(cls)
        except (ImportError, AttributeError):
            pass
    return tuple(errors)


def read_model_index(model: str, task: str | None = None, offline: bool = False) -> dict[str, Any]:
    """The pipeline's ``model_index.json``: a cheap check that the model exists before loading it.

    ``offline`` looks only in the local Hugging Face cache (huggingface_hub's own ``HF_HUB_OFFLINE``
    has the same effect, read by huggingface_hub itself)."""
    if is_local_model(model):
        path = Path(model).expanduser()
        index = path / "model_index.json"
        if not path.is_dir():
            raise ModelUnavailable(model, task, "no such directory")
        if not index.is_file():
            raise ModelUnavailable(
                model, task, "the directory has no model_index.json (not a diffusers pipeline)"
            )
        try:
            return json.loads(index.read_text(encoding="utf-8"))
        except (OSError, ValueError) as exc:
            raise ModelUnavailable(model, task, f"model_index.json is unreadable ({exc})") from None
    from diffusers import DiffusionPipeline

    try:
        with warnings.catch_warnings():
            # diffusers passes huggingface_hub an argument it deprecated; nothing a user can fix.
            warnings.filterwarnings("ignore", message=".*local_dir_use_symlinks.*")
            return dict(DiffusionPipeline.load_config(model, local_files_only=offline))
    except _hub_errors() as exc:
        where = "it is not in the local Hugging Face cache and the hub is offline" if offline else (
            "it could not be downloaded or found in the local cache"
        )
        raise ModelUnavailable(model, task, f"{where} ({type(exc).__name__})") from None
    except ValueError as exc:  # malformed repo ids and config parse errors
        raise ModelUnavailable(model, task, f"{type(exc).__name__}: {exc}") from None


def load_pipeline(
    model: str, *, task: str | None = None, device: str = "cpu", dtype: Any = None,
    offline: bool = False,
) -> Any:
    """Load a diffusers pipeline onto ``device``; every loading failure becomes ModelUnavailable."""
    from diffusers import DiffusionPipeline

    index = read_model_index(model, task, offline)
    kwargs: dict[str, Any] = {"local_files_only": offline or is_local_model(model)}
    if dtype is not None:
        kwargs[_dtype_kwarg()] = dtype
    # Daguerre is a self-hosted archive tool like AUTOMATIC1111: no NSFW classifier is loaded (it
    # costs memory and blacks out false positives on old photographs).
    if "safety_checker" in index:
        kwargs["safety_checker"] = None
    if "requires_safety_checker" in index:
        kwargs["requires_safety_checker"] = False
    source = str(Path(model).expanduser()) if is_local_model(model) else model
    try:
        pipe = DiffusionPipeline.from_pretrained(source, **kwargs)
    except _hub_errors() as exc:
        raise ModelUnavailable(model, task, f"{type(exc).__name__}: {str(exc)[:300]}") from None
    except (ValueError, KeyError) as exc:
        raise ModelUnavailable(model, task, f"cannot load its weights ({type(exc).__name__}: {str(exc)[:300]})") from None
    pipe = pipe.to(device)
    if hasattr(pipe, "set_progress_bar_config"):
        pipe.set_progress_bar_config(disable=True)
    return pipe


def _dtype_kwarg() -> str:
    # diffusers renamed torch_dtype to dtype (the old name warns); older releases only know torch_dtype.
    from diffusers.utils import deprecation_utils

    return "dtype" if hasattr(deprecation_utils, "_TORCH_DTYPE_DEPRECATION_MESSAGE") else "torch_dtype"


@dataclass(frozen=True)
class _Key:
    model: str
    device: str
    dtype: str


class ModelCache:
    """Holds the loaded pipeline(s) of one worker process.

    A GPU worker keeps one model resident (``capacity=1``): asking for another releases the current
    one first and empties the CUDA cache, so memory stays flat over a long, mixed batch.
    """

    def __init__(self, capacity: int = 1) -> None:
        self.capacity = max(1, capacity)
        self._items: dict[_Key, Any] = {}
        self._lock = threading.RLock()
        self.loads = 0

    def get(
        self, model: str, *, task: str | None = None, device: str | None = None, dtype: Any = None,
        offline: bool = False,
    ) -> Any:
        device = device or default_device()
        dtype = dtype if dtype is not None else default_dtype(device)
        key = _Key(model, device, _dtype_name(dtype))
        with self._lock:
            if key in self._items:
                pipe = self._items.pop(key)
                self._items[key] = pipe  # most recently used last
                return pipe
            while len(self._items) >= self.capacity:
                self._evict_oldest()
            pipe = load_pipeline(model, task=task, device=device, dtype=dtype, offline=offline)
            self.loads += 1
            self._items[key] = pipe
            return pipe

    def put(self, model: str, pipe: Any, *, device: str, dtype: Any) -> None:
        """Install an already-built pipeline under ``model`` (benchmarks, pre-warmed workers)."""
        key = _Key(model, device, _dtype_name(dtype))
        with self._lock:
            self._items.pop(key, None)
            while len(self._items) >= self.capacity:
                self._evict_oldest()
            self._items[key] = pipe

    def loaded(self) -> list[str]:
        with self._lock:
            return [k.model for k in self._items]

    def _evict_oldest(self) -> None:
        key = next(iter(self._items))
        log.info("releasing model %s", key.model)
        del self._items[key]
        _release_memory()

    def clear(self) -> None:
        with self._lock:
            self._items.clear()
            _release_memory()


def _release_memory() -> None:
    gc.collect()
    try:
        import torch

        if torch.cuda.is_available():
            torch.cuda.empty_cache()
    except ImportError:  # pragma: no cover
        pass


_default_cache: ModelCache | None = None
_default_lock = threading.Lock()


def default_cache() -> ModelCache:
    """The process-wide cache (one per worker process)."""
    global _default_cache
    with _default_lock:
        if _default_cache is None:
            _default_cache = ModelCache()
        return _default_cache
