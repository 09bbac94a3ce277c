"""Configuration, read in one place.

Every setting has a key (``home``, ``database_url`` …). It is taken, in order of precedence, from the
environment variable ``DAGUERRE_<KEY>``, then from an optional TOML file, then from the default
below. The TOML file is the one named by ``DAGUERRE_CONFIG``, or ``daguerre.toml`` in the data
directory when that exists; its keys are the lower-case keys (``clip_model = "ViT-B-32"``).

Nothing here runs at import time: callers build a :class:`Settings` with :func:`load_settings`.
"""

from __future__ import annotations

import json
import os
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field, fields, replace
from pathlib import Path
from typing import Any

import platformdirs

from daguerre.generator.models import DEFAULT_MODELS

ENV_PREFIX = "DAGUERRE_"

# The documented default for photo libraries: OpenAI's architecture trained on LAION-2B, the
# usual choice of rclip and clip-retrieval (good zero-shot accuracy, 512-d, fast on CPU).
DEFAULT_CLIP_MODEL = "ViT-B-32"
DEFAULT_CLIP_WEIGHTS = "laion2b_s34b_b79k"


class ConfigError(ValueError):
    """A setting has a value Daguerre cannot use; the message names the setting."""


def _default_home() -> str:
    return platformdirs.user_data_dir("daguerre", appauthor=False)


@dataclass(frozen=True)
class Settings:
    """Every setting Daguerre reads. Field names are the keys; see the module docstring."""

    home: Path = field(default_factory=lambda: Path(_default_home()))
    database_url: str = ""  # empty: SQLite file in ``home``
    clip_model: str = DEFAULT_CLIP_MODEL
    clip_weights: str = DEFAULT_CLIP_WEIGHTS
    device: str = "auto"  # auto | cpu | cuda | cuda:N
    # Which runtime runs CLIP: auto (ONNX Runtime on a CPU when installed, torch on a GPU),
    # torch or onnx; and ONNX Runtime's precision. A precision whose embeddings fail the
    # agreement check against torch fp32 is refused for that model (docs/clip-runtime.md).
    clip_runtime: str = "auto"
    clip_precision: str = "int8"  # int8 | fp32
    onnx_threads: int = 0  # ONNX Runtime intra-op threads; 0: one per physical core
    # Where exported ONNX models are cached; empty: ``home/models/onnx``.
    onnx_cache: str = ""
    broker_url: str = ""  # empty: kombu filesystem transport in ``home``
    batch_size: int = 0  # images per model batch; 0: the encoder's own (8 ONNX CPU, 32 torch)
    decode_workers: int = 0  # 0: one per core
    # Files per chunk when an index job spreads over several workers; 0: about a minute of
    # one worker's work, from the chunks measured so far (jobs/fanout.py).
    index_chunk_files: int = 0
    # Decoders are threads (Pillow releases the GIL while decoding); true: worker processes.
    decode_processes: bool = False
    draft_decode: bool = True
    thumbnail_size: int = 256
    max_image_pixels: int = 89_478_485  # Pillow's decompression-bomb limit
    max_upload_bytes: int = 64 * 1024 * 1024
    job_lease_seconds: int = 60
    task_soft_time_limit: int = 6 * 3600
    task_hard_time_limit: int = 6 * 3600 + 600
    web_host: str = "127.0.0.1"
    web_port: int = 8420
    # Signs the dashboard's session cookies. Empty: generated once and kept in
    # ``home/secret_key`` (mode 0600), so sessions survive a restart and every process agrees.
    secret_key: str = field(default="", repr=False)
    # Behind a reverse proxy that sets X-Forwarded-For/-Proto/-Host (one hop): trust them, so the
    # client address (sign-in limits) and HTTPS (Secure cookies) are the proxy's client's.
    behind_proxy: bool = False
    # The diffusion model of each generator task: a Hugging Face repo id or a directory saved
    # with diffusers' save_pretrained; empty means the generator's public default for the task.
    generate_model: str = ""
    translate_model: str = ""
    inpaint_model: str = ""
    edit_model: str = ""
    upscale_model: str = ""
    offline: bool = False  # never download weights: local directories and the HF cache only
    # Where vectors live (docs/store.md): auto (pgvector when the catalog is PostgreSQL with the
    # `vector` extension, and the model's vectors are not still in FAISS files; else FAISS),
    # faiss, or pgvector. `daguerre vectors migrate --to ...` moves them and sets this.
    vector_store: str = "auto"
    # pgvector's HNSW index: graph degree and build beam (kept per model in the registry; a
    # change applies at the next rebuild), the search beam, the tuples a filtered (iterative)
    # scan may visit before the store answers exactly instead, and the maintenance_work_mem of
    # a build in MB (a graph that does not fit builds many times slower). Measured defaults:
    # docs/benchmarks.md, "Vector backends".
    pgvector_m: int = 16
    pgvector_ef_construction: int = 64
    pgvector_ef_search: int = 80
    pgvector_max_scan_tuples: int = 20_000
    pgvector_build_memory_mb: int = 1024

    def diffusion_model(self, task: str) -> str:
        """The model ``task`` uses: its ``<task>_model`` setting, else the generator's default."""
        from daguerre.generator.models import resolve_model

        if task not in MODEL_TASKS:
            raise ValueError(f"unknown generator task {task!r}; expected one of {MODEL_TASKS}")
        return resolve_model(task, getattr(self, model_setting(task)) or None)

    # -- derived paths ---------------------------------------------------------------------
    @property
    def effective_database_url(self) -> str:
        if self.database_url:
            return self.database_url
        return f"sqlite:///{self.home / 'catalog.sqlite3'}"

    @property
    def effective_broker_url(self) -> str:
        return self.broker_url or "filesystem://"

    @property
    def onnx_cache_dir(self) -> Path:
        return Path(self.onnx_cache).expanduser() if self.onnx_cache else \
            self.home / "models" / "onnx"

    @property
    def thumbnails_dir(self) -> Path:
        return self.home / "thumbnails"

    @property
    def vectors_dir(self) -> Path:
        return self.home / "vectors"

    @property
    def outputs_dir(self) -> Path:
        return self.home / "outputs"

    @property
    def broker_dir(self) -> Path:
        return self.home / "broker"

    def ensure_dirs(self) -> None:
        """Create the data directory and its sub-folders (an edge effect: call it from commands)."""
        for path in (self.home, self.thumbnails_dir, self.vectors_dir, self.outputs_dir):
            path.mkdir(parents=True, exist_ok=True)

    def with_overrides(self, **values: Any) -> Settings:
        return replace(self, **{k: _coerce(k, v) for k, v in values.items()})


# The values of ``vector_store``: where the vectors of each embedding model live.
VECTOR_STORES: tuple[str, ...] = ("auto", "faiss", "pgvector")

# The generator tasks that have a model setting (``<task>_model``), as the generator lists them.
MODEL_TASKS: tuple[str, ...] = tuple(DEFAULT_MODELS)


def model_setting(task: str) -> str:
    """The setting that names ``task``'s diffusion model, e.g. ``upscale_model``."""
    return f"{task}_model"


def env_var(key: str) -> str:
    """The environment variable of setting ``key``, e.g. ``DAGUERRE_UPSCALE_MODEL``."""
    return ENV_PREFIX + key.upper()


_FIELDS = {f.name: f for f in fields(Settings)}
ENV_KEYS = frozenset(ENV_PREFIX + name.upper() for name in _FIELDS) | {ENV_PREFIX + "CONFIG"}


def _coerce(key: str, value: Any) -> Any:
    if key not in _FIELDS:
        raise ConfigError(f"unknown setting {key!r}")
    default = _FIELDS[key].default
    if key == "home":
        return Path(value).expanduser()
    try:
        if isinstance(default, bool):
            if isinstance(value, bool):
                return value
            text = str(value).strip().lower()
            if text in {"1", "true", "yes", "on"}:
                return True
            if text in {"0", "false", "no", "off"}:
                return False
            raise ValueError(value)
        if isinstance(default, int):
            return int(value)
    except (TypeError, ValueError):
        kind = "true or false" if isinstance(default, bool) else "an integer"
        raise ConfigError(
            f"{ENV_PREFIX}{key.upper()} must be {kind}, got {value!r}"
        ) from None
    return str(value)


def load_settings(
    env: Mapping[str, str] | None = None, config_file: str | os.PathLike[str] | None = None,
    **overrides: Any,
) -> Settings:
    """Build the settings from ``env`` (default: ``os.environ``), a TOML file and ``overrides``."""
    env = os.environ if env is None else env
    values: dict[str, Any] = {}

    home = env.get(ENV_PREFIX + "HOME") or overrides.get("home")
    path = config_file or env.get(ENV_PREFIX + "CONFIG")
    if path is None:
        candidate = Path(home or _default_home()).expanduser() / "daguerre.toml"
        path = candidate if candidate.is_file() else None
    if path is not None:
        try:
            with open(path, "rb") as fh:
                data = tomllib.load(fh)
        except OSError as exc:
            raise ConfigError(f"cannot read config file {path}: {exc.strerror}") from None
        except tomllib.TOMLDecodeError as exc:
            raise ConfigError(f"config file {path} is not valid TOML: {exc}") from None
        for key, value in data.items():
            if key not in _FIELDS:
                raise ConfigError(f"config file {path}: unknown key {key!r}")
            values[key] = _coerce(key, value)

    for name in _FIELDS:
        raw = env.get(ENV_PREFIX + name.upper())
        if raw not in (None, ""):
            values[name] = _coerce(name, raw)
    for key, value in overrides.items():
        if value is not None:
            values[key] = _coerce(key, value)

    settings = Settings(**values)
    if settings.device not in {"auto", "cpu", "cuda"} and not settings.device.startswith("cuda:"):
        raise ConfigError(f"DAGUERRE_DEVICE must be auto, cpu, cuda or cuda:N, got {settings.device!r}")
    if settings.clip_runtime not in {"auto", "torch", "onnx"}:
        raise ConfigError("DAGUERRE_CLIP_RUNTIME must be auto, torch or onnx, got "
                          f"{settings.clip_runtime!r}")
    if settings.clip_precision not in {"fp32", "int8"}:
        raise ConfigError("DAGUERRE_CLIP_PRECISION must be fp32 or int8, got "
                          f"{settings.clip_precision!r}")
    if settings.vector_store not in VECTOR_STORES:
        raise ConfigError("DAGUERRE_VECTOR_STORE must be auto, faiss or pgvector, got "
                          f"{settings.vector_store!r}")
    for key in ("pgvector_m", "pgvector_ef_construction", "pgvector_ef_search",
                "pgvector_max_scan_tuples", "pgvector_build_memory_mb"):
        if getattr(settings, key) < 1:
            raise ConfigError(f"{env_var(key)} must be a positive integer, "
                              f"got {getattr(settings, key)!r}")
    return settings


def settings_file(settings: Settings, env: Mapping[str, str] | None = None) -> Path:
    """The TOML file a command that changes a setting writes: the one ``DAGUERRE_CONFIG``
    names, else ``daguerre.toml`` in the data directory (read from then on, see above)."""
    env = os.environ if env is None else env
    named = env.get(ENV_PREFIX + "CONFIG")
    return Path(named).expanduser() if named else settings.home / "daguerre.toml"


def write_setting(settings: Settings, key: str, value: str,
                  env: Mapping[str, str] | None = None) -> tuple[Path, str | None]:
    """Record ``key = "value"`` in the settings file (created if missing; other lines kept),
    atomically. Returns the file and, when an environment variable overrides the file for
    this key with another value, that variable's name (the caller tells the user)."""
    if key not in _FIELDS:
        raise ConfigError(f"unknown setting {key!r}")
    _coerce(key, value)
    env = os.environ if env is None else env
    path = settings_file(settings, env)
    try:
        lines = path.read_text(encoding="utf-8").splitlines(keepends=True)
    except FileNotFoundError:
        lines = []
    except OSError as exc:
        raise ConfigError(f"cannot read config file {path}: {exc.strerror}") from None
    line = f"{key} = {_toml_string(value)}\n"
    mine = [i for i, text in enumerate(lines) if text.split("=", 1)[0].strip() == key]
    if mine:
        lines[mine[0]] = line
        for i in reversed(mine[1:]):
            del lines[i]
    else:
        if lines and not lines[-1].endswith("\n"):
            lines[-1] += "\n"
        lines.append(line)
    text = "".join(lines)
    try:
        if tomllib.loads(text).get(key) != value:
            raise ConfigError(f"config file {path}: could not set {key} (is it in a table?)")
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"config file {path} is not valid TOML: {exc}") from None
    tmp = path.with_name(f".{path.name}.tmp-{os.getpid()}")
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp.write_text(text, encoding="utf-8")
        os.replace(tmp, path)
    except OSError as exc:
        tmp.unlink(missing_ok=True)
        raise ConfigError(f"cannot write config file {path}: {exc.strerror}") from None
    override = env.get(env_var(key))
    return path, (env_var(key) if override not in (None, "") and override != value else None)


def _toml_string(value: str) -> str:
    # JSON's escapes for quotes, backslashes and control characters are TOML's too. Other
    # characters stay as they are: JSON's ASCII escapes would write a character beyond U+FFFF
    # as a surrogate pair, which TOML refuses; DEL, which JSON leaves alone, TOML must escape.
    return json.dumps(value, ensure_ascii=False).replace("\x7f", "\\u007f")
