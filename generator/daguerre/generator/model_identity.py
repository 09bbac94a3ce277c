"""How an output names the model that made it: a name other tools know, and A1111's model hash.

An output's metadata never carries a local path (it would say where someone keeps their files,
and means nothing on another machine): a Hugging Face repo id is written as it is, a local
directory by its folder name (``org/name`` for a folder inside the Hugging Face cache).

AUTOMATIC1111's ``Model hash`` is the first 10 hex digits of the SHA-256 of the checkpoint file
(its "new" hash; the old one hashed a few slices of the file). A diffusers model has no single
checkpoint, so Daguerre hashes the weights of its UNet, the file ``diffusers`` loads from the
model's ``unet/`` folder (``diffusion_pytorch_model.safetensors``, else ``.bin``; sharded
weights in their index's order, as one stream): the UNet is what a fine-tune changes and what
tells two models apart, while a VAE or a text encoder is often shared between them, and the
weights file is there whether the model came from the hub or from ``save_pretrained``. Hashing
a multi-gigabyte file takes seconds, so a hash is kept by (real path, size, modification time):
in memory for the process and, when given a file, on disk for the next one.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import re
import tempfile
import threading
from collections.abc import Sequence
from pathlib import Path
from typing import Any

HASH_CHARS = 10  # A1111's "Model hash": sha256[:10]
_WEIGHTS = "diffusion_pytorch_model"
_HUB_CACHE_FOLDER = re.compile(r"^models--(.+?)--(.+)$")
_CHUNK = 8 * 1024 * 1024


def model_name(model: str | os.PathLike[str]) -> str:
    """The model's name for an output's metadata: a repo id as it is; a local directory by its
    folder name (``org/name`` for a snapshot in the Hugging Face cache,
    ``.../models--org--name/snapshots/<revision>``)."""
    text = os.fspath(model)
    from .models import is_local_model

    if not is_local_model(text):
        return text
    path = Path(text).expanduser()
    parts = path.parts
    if len(parts) >= 3 and parts[-2] == "snapshots":
        found = _HUB_CACHE_FOLDER.match(parts[-3])
        if found:
            return f"{found.group(1)}/{found.group(2)}"
    return path.name or path.resolve().name


def unet_weights(folder: str | os.PathLike[str] | None) -> list[Path]:
    """The UNet weight file(s) ``diffusers`` loads from ``folder`` (the model's ``unet/``), in
    order; ``[]`` when there are none (a pipeline built in memory)."""
    if folder is None:
        return []
    folder = Path(folder)
    for ext in ("safetensors", "bin"):
        single = folder / f"{_WEIGHTS}.{ext}"
        if single.is_file():
            return [single]
        index = folder / f"{_WEIGHTS}.{ext}.index.json"
        if index.is_file():
            try:
                weight_map = json.loads(index.read_text(encoding="utf-8"))["weight_map"]
                shards = [folder / name for name in dict.fromkeys(sorted(weight_map.values()))]
            except (OSError, ValueError, KeyError, TypeError, AttributeError):
                return []
            return shards if all(p.is_file() for p in shards) else []
    return []


def pipeline_unet_folder(pipe: Any) -> Path | None:
    """Where ``pipe``'s UNet was loaded from: diffusers records it in the UNet's config
    (``<model>/unet``, a folder of the Hugging Face cache for a repo id)."""
    unet = getattr(pipe, "unet", None)
    where = getattr(getattr(unet, "config", None), "_name_or_path", None)
    if not where or not isinstance(where, str):
        return None
    path = Path(where)
    return path if path.is_dir() else None


class ModelHashes:
    """SHA-256 of weight files, kept by (real path, size, mtime): in memory, and in ``path`` (a
    JSON file) when one is given, so a new process does not hash the same weights again.

    A file changed in place (another size or modification time) is hashed again. The file on
    disk is written atomically; two processes writing it at once lose at most an entry, which
    costs one more hashing."""

    def __init__(self, path: str | os.PathLike[str] | None = None) -> None:
        self.path = Path(path) if path is not None else None
        self._known: dict[str, dict[str, Any]] = {}
        self._loaded = False
        self._lock = threading.Lock()
        self.hashed = 0  # how many times a file was actually read (for tests and benchmarks)

    @staticmethod
    def _stamp(files: Sequence[Path]) -> tuple[str, list[list[int]]]:
        real = [f.resolve() for f in files]
        stats = [f.stat() for f in real]
        return "|".join(map(str, real)), [[st.st_size, st.st_mtime_ns] for st in stats]

    def _load(self) -> None:
        if self._loaded or self.path is None:
            self._loaded = True
            return
        self._loaded = True
        try:
            data = json.loads(self.path.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return
        if isinstance(data, dict):
            self._known.update({k: v for k, v in data.items() if isinstance(v, dict)})

    def _save(self) -> None:
        if self.path is None:
            return
        # A read-only or full data directory only costs the next process a hashing.
        with contextlib.suppress(OSError):
            self.path.parent.mkdir(parents=True, exist_ok=True)
            fd, tmp = tempfile.mkstemp(prefix=f".{self.path.name}.", dir=self.path.parent)
            try:
                with os.fdopen(fd, "w", encoding="utf-8") as fh:
                    json.dump(self._known, fh, sort_keys=True)
                os.replace(tmp, self.path)
            except OSError:
                Path(tmp).unlink(missing_ok=True)
                raise

    def sha256(self, files: Sequence[Path]) -> str:
        """The SHA-256 (hex) of ``files`` read one after another."""
        key, stamp = self._stamp(files)
        with self._lock:
            self._load()
            known = self._known.get(key)
            if known is not None and known.get("stamp") == stamp:
                return str(known["sha256"])
        digest = hashlib.sha256()
        for f in files:
            with open(f, "rb") as fh:
                while chunk := fh.read(_CHUNK):
                    digest.update(chunk)
        value = digest.hexdigest()
        with self._lock:
            self.hashed += 1
            self._known[key] = {"stamp": stamp, "sha256": value}
            self._save()
        return value


_default = ModelHashes()


def default_hashes() -> ModelHashes:
    """The process-wide in-memory hashes (a caller with a data directory passes its own)."""
    return _default


def model_hash(folder: str | os.PathLike[str] | None,
               hashes: ModelHashes | None = None) -> str | None:
    """A1111's ``Model hash`` for the UNet weights in ``folder``; None when there are none."""
    files = unet_weights(folder)
    if not files:
        return None
    try:
        return (hashes or _default).sha256(files)[:HASH_CHARS]
    except OSError:
        return None
