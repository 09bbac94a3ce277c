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
import re
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from daguerre.indexer.encoder import ClipEncoder


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
