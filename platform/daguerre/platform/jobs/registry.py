"""The registry of job kinds. A new kind is one function::

    @job_kind("restore", params={"image_id": Param(int, required=True)}, queue=GPU_QUEUE)
    def run_restore(ctx, handle):
        ...                       # handle.params, handle.progress(done, total, msg),
        return {"image_id": 7}    # handle.should_cancel() / handle.check_canceled()

The function runs in a worker with the worker's :class:`~daguerre.platform.context.Context`
and a :class:`~daguerre.platform.jobs.runner.JobHandle`; what it returns (a JSON-able dict or
None) becomes the job's ``result``. It stops early by raising
:class:`~daguerre.platform.errors.Canceled` when ``should_cancel()`` says so; any other exception fails the job with
its message. Kinds live in the modules named by :data:`KIND_MODULES`, imported on first lookup,
so the generator's kinds slot in by adding their module there.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from daguerre.platform.errors import BadInput

if TYPE_CHECKING:
    from daguerre.platform.context import Context
    from daguerre.platform.jobs.runner import JobHandle

GPU_QUEUE = "gpu"  # work that runs a model: one worker per GPU consumes it
CPU_QUEUE = "cpu"  # work that needs no accelerator
QUEUES = (GPU_QUEUE, CPU_QUEUE)

# Modules whose import registers kinds (the generator adds its module here).
KIND_MODULES: list[str] = ["daguerre.platform.jobs.kinds", "daguerre.platform.jobs.generator_kinds"]

RunFn = Callable[["Context", "JobHandle"], "dict[str, Any] | None"]
CheckFn = Callable[["Context", dict[str, Any]], None]


_MISSING = object()


@dataclass(frozen=True)
class Param:
    """One parameter of a kind: its type(s), whether it is required, its default.

    ``item`` is the element type of a list parameter; ``choices`` a closed set of values;
    ``min``/``max`` bound numbers (and list lengths).
    """

    type: type | tuple[type, ...]
    required: bool = False
    default: Any = None
    item: type | None = None
    choices: tuple[Any, ...] | None = None
    min: float | None = None
    max: float | None = None
    help: str = ""

    def check(self, name: str, value: Any) -> Any:
        where = f"params.{name}"
        types = self.type if isinstance(self.type, tuple) else (self.type,)
        if float in types and isinstance(value, int) and not isinstance(value, bool):
            value = float(value)
        elif int in types and float not in types or self.item in (int, list):
            value = json_integral(value)
        if isinstance(value, bool) and bool not in types or not isinstance(value, types):
            wanted = " or ".join(t.__name__ for t in types)
            raise BadInput(f"{where} must be {wanted}, got {value!r}", field=where, value=value)
        if self.choices is not None and value not in self.choices:
            raise BadInput(f"{where} must be one of {', '.join(map(str, self.choices))}, "
                           f"got {value!r}", field=where, value=value)
        size = len(value) if isinstance(value, list | str) else value
        if isinstance(size, int | float) and not isinstance(size, bool):
            what = "length" if isinstance(value, list | str) else "value"
            if self.min is not None and size < self.min:
                raise BadInput(f"{where} {what} must be at least {self.min:g}, got {size!r}",
                               field=where, value=value)
            if self.max is not None and size > self.max:
                raise BadInput(f"{where} {what} must be at most {self.max:g}, got {size!r}",
                               field=where, value=value)
        if self.item is not None and isinstance(value, list):
            for i, v in enumerate(value):
                if isinstance(v, bool) or not isinstance(v, self.item):
                    raise BadInput(f"{where}[{i}] must be {self.item.__name__}, got {v!r}",
                               field=f"{where}[{i}]", value=v)
        return value


def json_integral(value: Any) -> Any:
    """JSON's integers, as JSON Schema counts them: ``3.0`` is the integer 3 (in lists too), so a
    body the OpenAPI document allows is one the check accepts."""
    if isinstance(value, float) and value.is_integer() and abs(value) < 2**63:
        return int(value)
    if isinstance(value, list):
        return [json_integral(v) for v in value]
    return value


@dataclass(frozen=True)
class JobKind:
    name: str
    run: RunFn
    params: Mapping[str, Param] = field(default_factory=dict)
    check: CheckFn | None = None  # semantic checks (does the library exist?) after types
    queue: str = GPU_QUEUE
    description: str = ""

    def validate(self, ctx: Context, params: Any) -> dict[str, Any]:
        """``params`` checked and completed with defaults; BadInput names the bad field."""
        if params is None:
            params = {}
        if not isinstance(params, Mapping):
            raise BadInput(f"params must be an object, got {type(params).__name__}",
                           field="params")
        unknown = sorted(set(params) - set(self.params))
        if unknown:
            known = ", ".join(sorted(self.params)) or "none"
            raise BadInput(f"params.{unknown[0]}: unknown parameter for a {self.name} job "
                           f"(known: {known})", field=f"params.{unknown[0]}")
        out: dict[str, Any] = {}
        for name, spec in self.params.items():
            value = params.get(name, _MISSING)
            if value is _MISSING or value is None:
                if spec.required:
                    raise BadInput(f"params.{name} is required for a {self.name} job",
                                   field=f"params.{name}")
                if spec.default is not None:
                    out[name] = spec.default
                continue
            out[name] = spec.check(name, value)
        if self.check is not None:
            self.check(ctx, out)
        return out


KINDS: dict[str, JobKind] = {}
_loaded = False


def job_kind(name: str, *, params: Mapping[str, Param] | None = None,
             check: CheckFn | None = None, queue: str = GPU_QUEUE,
             description: str | None = None) -> Callable[[RunFn], RunFn]:
    """Register the decorated function as the job kind ``name``."""
    if queue not in QUEUES:
        raise ValueError(f"queue must be one of {QUEUES}, got {queue!r}")

    def register(fn: RunFn) -> RunFn:
        doc = (fn.__doc__ or "").strip().splitlines()
        KINDS[name] = JobKind(name, fn, dict(params or {}), check, queue,
                              description if description is not None else (doc[0] if doc else ""))
        return fn

    return register


def load_kinds() -> dict[str, JobKind]:
    """Every registered kind (imports :data:`KIND_MODULES` once)."""
    global _loaded
    if not _loaded:
        for module in KIND_MODULES:
            importlib.import_module(module)
        _loaded = True
    return KINDS


def get_kind(name: str) -> JobKind:
    kinds = load_kinds()
    if not isinstance(name, str) or name not in kinds:
        raise BadInput(f"kind must be one of {', '.join(sorted(kinds))}, got {name!r}",
                       field="kind", value=name)
    return kinds[name]
