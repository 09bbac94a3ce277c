"""The CLIP model factory: one place that turns a model spec into a loaded encoder.

A spec is an open_clip architecture (a built-in name such as ``ViT-B-32``, or a path to an
architecture config JSON in open_clip's format) plus weights (an open_clip pretrained tag such as
``laion2b_s34b_b79k``, or a path to a local weights file). Weights are resolved *before* a model is
built, so a missing download is one clear :class:`WeightsUnavailable` error and never a silently
random model.
"""

from __future__ import annotations

import hashlib
import json
import logging
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from daguerre.indexer.encoder import ClipEncoder

_log = logging.getLogger("daguerre.clip")


class ModelError(Exception):
    """A model spec Daguerre cannot use (unknown architecture, unknown tag, bad file)."""


class WeightsUnavailable(ModelError):
    """The weights are neither on disk nor downloadable (offline, ``HF_HUB_OFFLINE=1``)."""


@dataclass(frozen=True)
class ClipSpec:
    """What to load: ``model`` is an architecture name or config JSON path, ``weights`` a
    pretrained tag or weights file path."""

    model: str
    weights: str

    @property
    def config_path(self) -> Path | None:
        return Path(self.model) if self.model.endswith(".json") else None

    @property
    def weights_path(self) -> Path | None:
        looks_like_path = "/" in self.weights or Path(self.weights).suffix in {
            ".pt", ".pth", ".bin", ".safetensors", ".ckpt"}
        return Path(self.weights).expanduser() if looks_like_path else None

    @property
    def arch(self) -> str:
        """The open_clip architecture name (a config JSON registers under its file stem)."""
        return self.config_path.stem if self.config_path else self.model

    def describe(self) -> str:
        return f"{self.model} with weights {self.weights}"


def _slug(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9._-]+", "-", text).strip("-")


@cache
def _file_digest(path: str, size: int, mtime_ns: int) -> str:
    # Keyed on size and mtime so a retrained file written over the old one gets a new store,
    # without hashing hundreds of megabytes on every start.
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()[:12]


def model_key(spec: ClipSpec) -> str:
    """A stable name for the embedding space: vectors of different keys never mix."""
    arch = spec.arch
    if spec.config_path is not None and spec.config_path.is_file():
        digest = hashlib.sha256(spec.config_path.read_bytes()).hexdigest()[:8]
        arch = f"{arch}-{digest}"
    wp = spec.weights_path
    if wp is not None:
        st = wp.stat()
        weights = f"{_slug(wp.stem)}-{_file_digest(str(wp.resolve()), st.st_size, st.st_mtime_ns)}"
    else:
        weights = _slug(spec.weights)
    return f"{_slug(arch)}__{weights}"


def _register_config(spec: ClipSpec) -> None:
    import open_clip

    path = spec.config_path
    if path is None:
        if spec.arch not in open_clip.list_models():
            raise ModelError(
                f"unknown open_clip architecture {spec.model!r}; use one of "
                f"`open_clip.list_models()` (e.g. ViT-B-32) or a path to a config JSON")
        return
    if not path.is_file():
        raise ModelError(f"model config {path} does not exist")
    try:
        cfg = json.loads(path.read_text())
    except (OSError, ValueError) as exc:
        raise ModelError(f"model config {path} is not readable JSON: {exc}") from None
    if not isinstance(cfg, dict) or "vision_cfg" not in cfg or "text_cfg" not in cfg:
        raise ModelError(f"model config {path} is not an open_clip config "
                         "(needs embed_dim, vision_cfg and text_cfg)")
    open_clip.add_model_config(path)


def _offline_hint(spec: ClipSpec, key: str) -> str:
    return (
        f"CLIP weights for {spec.describe()} are not available: they are not in the local cache "
        f"and could not be downloaded ({key}). Provide them by running `daguerre models pull` on a "
        f"machine with internet access (they are cached under ~/.cache/huggingface), or point "
        f"DAGUERRE_CLIP_WEIGHTS at a local weights file (e.g. open_clip_pytorch_model.bin) and "
        f"DAGUERRE_CLIP_MODEL at its architecture."
    )


def weights_status(spec: ClipSpec) -> dict[str, Any]:
    """Where the weights are and whether they are present, without touching the network."""
    wp = spec.weights_path
    if wp is not None:
        return {"source": "file", "location": str(wp), "present": wp.is_file()}
    import open_clip

    cfg = open_clip.get_pretrained_cfg(spec.arch, spec.weights)
    if not cfg:
        return {"source": "unknown", "location": None, "present": False}
    hub = cfg.get("hf_hub", "")
    if hub:
        from huggingface_hub import try_to_load_from_cache

        repo, filename = hub.rsplit("/", 1) if not hub.endswith("/") else (hub[:-1], "")
        candidates = [filename] if filename else ["open_clip_model.safetensors",
                                                 "open_clip_pytorch_model.bin"]
        if filename.endswith(".bin"):
            candidates.insert(0, filename[:-4] + ".safetensors")
        for name in candidates:
            hit = try_to_load_from_cache(repo, name)
            if isinstance(hit, str):
                return {"source": "hf-hub", "location": hit, "present": True}
        return {"source": "hf-hub", "location": f"{repo}/{candidates[-1]}", "present": False}
    return {"source": "url", "location": cfg.get("url"), "present": False}


def resolve_weights(spec: ClipSpec, *, download: bool = True,
                    offline_reason: str = "downloads disabled") -> str:
    """A local file holding the weights, downloading (and caching) them if allowed and possible.

    Raises :class:`WeightsUnavailable` with a message that says how to provide them (and, when
    ``download`` is False, ``offline_reason``: why not).
    """
    _register_config(spec)
    wp = spec.weights_path
    if wp is not None:
        if not wp.is_file():
            raise WeightsUnavailable(
                f"CLIP weights file {wp} does not exist (DAGUERRE_CLIP_WEIGHTS). Point it at an "
                f"open_clip weights file for {spec.model}, or set it to a pretrained tag.")
        return str(wp)
    import open_clip

    cfg = open_clip.get_pretrained_cfg(spec.arch, spec.weights)
    if not cfg:
        tags = open_clip.list_pretrained_tags_by_model(spec.arch)
        raise ModelError(
            f"{spec.weights!r} is neither a pretrained tag of {spec.arch} nor a weights file; "
            f"known tags: {', '.join(tags) or 'none'}")
    status = weights_status(spec)
    if status["present"]:
        return status["location"]
    if not download:
        raise WeightsUnavailable(_offline_hint(spec, offline_reason))
    try:
        import warnings

        from open_clip.pretrained import download_pretrained

        with warnings.catch_warnings():
            # open_clip passes huggingface_hub an argument it deprecated; the user can do nothing
            # about it, and it would print on every offline attempt.
            warnings.filterwarnings("ignore", message=".*local_dir_use_symlinks.*")
            path = download_pretrained(cfg)
    except Exception as exc:  # noqa: BLE001 - hub, HTTP and OS errors all mean "not available"
        reason = type(exc).__name__
        raise WeightsUnavailable(_offline_hint(spec, reason)) from None
    if not path:
        raise WeightsUnavailable(_offline_hint(spec, "no download source"))
    return path


def resolve_device(device: str) -> str:
    if device != "auto":
        return device
    import torch

    return "cuda" if torch.cuda.is_available() else "cpu"


def load_clip(spec: ClipSpec, device: str = "auto", *, download: bool = True,
              offline_reason: str = "downloads disabled") -> ClipEncoder:
    """Build the encoder for ``spec`` on ``device``; weights must resolve first (see
    :func:`resolve_weights`)."""
    import open_clip

    from daguerre.indexer.encoder import ClipEncoder

    checkpoint = resolve_weights(spec, download=download, offline_reason=offline_reason)
    device = resolve_device(device)
    # A tag is passed as a tag so open_clip also applies its preprocessing config (mean/std);
    # it is cached now, so nothing is downloaded again.
    pretrained = checkpoint if spec.weights_path is not None else spec.weights
    try:
        model, _, preprocess = open_clip.create_model_and_transforms(
            spec.arch, pretrained=pretrained, device=device)
    except (RuntimeError, ValueError, KeyError, OSError) as exc:
        raise ModelError(f"cannot load {spec.describe()}: {exc}") from None
    model.eval()
    tokenizer = open_clip.get_tokenizer(spec.arch)
    return ClipEncoder(model=model, preprocess=preprocess, tokenizer=tokenizer, device=device,
                       key=model_key(spec), spec=spec)


# ----------------------------------------------------------------------------- runtimes

RUNTIMES = ("auto", "torch", "onnx")
PRECISIONS = ("fp32", "int8")


def encoder_runtime(encoder: Any) -> tuple[str, str]:
    """(runtime, precision) of a loaded encoder: what made its vectors. torch runs fp32 on a
    CPU and autocasts to half precision on a GPU."""
    runtime = getattr(encoder, "runtime", "torch")
    precision = getattr(encoder, "precision", None)
    if precision is None:
        device = str(getattr(encoder, "device", "cpu"))
        if device.startswith("cuda"):
            import torch

            precision = "bf16" if torch.cuda.is_bf16_supported() else "fp16"
        else:
            precision = "fp32"
    return runtime, precision


def _check_choice(runtime: str, precision: str) -> None:
    if runtime not in RUNTIMES:
        raise ModelError(f"DAGUERRE_CLIP_RUNTIME must be one of {', '.join(RUNTIMES)}, "
                         f"got {runtime!r}")
    if precision not in PRECISIONS:
        raise ModelError(f"DAGUERRE_CLIP_PRECISION must be one of {', '.join(PRECISIONS)}, "
                         f"got {precision!r}")


def wants_onnx(runtime: str, device: str) -> bool:
    """Whether the settings ask for ONNX Runtime: ``onnx``, or ``auto`` on a CPU when ONNX
    Runtime is installed (on a GPU torch is faster)."""
    if runtime == "torch":
        return False
    if runtime == "onnx":
        return True
    from daguerre.indexer.onnx_export import onnx_available

    return resolve_device(device) == "cpu" and onnx_available()


def load_encoder(spec: ClipSpec, device: str = "auto", *, runtime: str = "auto",
                 precision: str = "int8", threads: int = 0, cache_root: Path | None = None,
                 download: bool = True, offline_reason: str = "downloads disabled",
                 library_paths: Callable[[], Sequence[str]] = lambda: (),
                 notify: Callable[[str], None] = lambda msg: None,
                 min_cosine: float | None = None) -> Any:
    """The encoder the settings choose: torch (:func:`load_clip`) or ONNX Runtime.

    ONNX Runtime is used only at a precision whose embeddings pass the agreement check against
    torch fp32 (agreement.py; exported and checked once, then cached under ``cache_root``), so
    its vectors share the store with torch's. A precision that fails is refused with a message
    (``notify``) and the next one tried: int8, then fp32, then torch. ``precision`` applies to
    ONNX Runtime; torch runs fp32 (half precision on a GPU).
    """
    _check_choice(runtime, precision)
    if not wants_onnx(runtime, device) or cache_root is None:
        return load_clip(spec, device, download=download, offline_reason=offline_reason)
    from daguerre.indexer.agreement import MIN_COSINE
    from daguerre.indexer.onnx_encoder import OnnxClipEncoder
    from daguerre.indexer.onnx_export import ExportError, ensure_exported, weights_digest

    checkpoint = resolve_weights(spec, download=download, offline_reason=offline_reason)
    key, digest = model_key(spec), weights_digest(checkpoint)
    torch_cpu: list[Any] = []

    def torch_encoder() -> Any:
        if not torch_cpu:
            torch_cpu.append(load_clip(spec, "cpu", download=False))
        return torch_cpu[0]

    threshold = MIN_COSINE if min_cosine is None else min_cosine
    order = ["int8", "fp32"] if precision == "int8" else ["fp32"]
    for p in order:
        try:
            exported = ensure_exported(cache_root, key, digest, p, torch_encoder,
                                       library_paths=library_paths, notify=notify)
        except ExportError as exc:
            notify(f"ONNX Runtime {p} is not available for {key}: {exc}")
            continue
        a = exported.agreement
        if a.passes(threshold):
            if exported.exported_now:
                notify(f"checked: {a.describe()} (passes: minimum cosine {a.min_cosine:.5f} "
                       f">= {threshold})")
            return OnnxClipEncoder(exported.directory, key=key, spec=spec, precision=p,
                                   threads=threads)
        fallback = "ONNX Runtime fp32" if p == "int8" else "torch fp32"
        # Said when the check has just run (and logged on every load): `daguerre models info`
        # and `daguerre index` show the runtime in use afterwards.
        say = notify if exported.exported_now else _log.info
        say(f"ONNX Runtime {p} refused for {key}: its embeddings are not close enough to "
               f"torch fp32's to share the library's vectors (minimum cosine "
               f"{a.min_cosine:.5f} < {threshold}; {a.describe()}); using {fallback} instead, "
               f"so nothing needs re-embedding")
    if torch_cpu:
        return torch_cpu[0]
    return load_clip(spec, "cpu", download=download, offline_reason=offline_reason)


def runtime_status(spec: ClipSpec, device: str, *, runtime: str, precision: str,
                   cache_root: Path | None, min_cosine: float | None = None) -> dict[str, Any]:
    """What :func:`load_encoder` would use with these settings, from what is cached (nothing
    is exported or loaded): the runtime and precision, the cache paths and the check's figures.
    """
    _check_choice(runtime, precision)
    from daguerre.indexer.agreement import MIN_COSINE

    threshold = MIN_COSINE if min_cosine is None else min_cosine
    out: dict[str, Any] = {"runtime_setting": runtime, "precision_setting": precision,
                           "threshold": threshold, "onnx": None}
    if not wants_onnx(runtime, device) or cache_root is None:
        out.update(runtime="torch", precision="fp32" if resolve_device(device) == "cpu"
                   else "half (autocast)", note=None)
        return out
    from daguerre.indexer.onnx_export import cached_status, weights_digest

    status = weights_status(spec)
    try:
        digest = weights_digest(status["location"]) if status["present"] else None
        key = model_key(spec)
    except OSError:
        digest, key = None, None
    cache = cached_status(cache_root, key, digest) if key else {}
    for p in cache.values():
        if p["agreement"] is not None:
            p["agreement"]["threshold"] = threshold
            p["agreement"]["passed"] = p["agreement"]["images"]["min"] >= threshold and \
                p["agreement"]["texts"]["min"] >= threshold
    out["onnx"] = cache
    order = ["int8", "fp32"] if precision == "int8" else ["fp32"]
    for p in order:
        entry = cache.get(p)
        if entry is None or entry["agreement"] is None:
            out.update(runtime="onnx", precision=p,
                       note=f"ONNX {p} not exported yet: it is exported and checked on first use "
                            f"or with `daguerre models export --precision {p}`")
            return out
        if entry["agreement"]["passed"]:
            out.update(runtime="onnx", precision=p, note=None)
            return out
    out.update(runtime="torch", precision="fp32",
               note="no ONNX precision passed the check for this model")
    return out
