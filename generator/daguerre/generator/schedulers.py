"""Scheduler (sampler) names, mapped to diffusers classes and to AUTOMATIC1111's sampler labels."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from .errors import InvalidArgument


@dataclass(frozen=True)
class SchedulerSpec:
    class_name: str
    a1111_name: str
    options: dict[str, Any] = field(default_factory=dict)


# Keys are the names requests use; a1111_name is what goes in the PNG `parameters` chunk so that
# tools that read AUTOMATIC1111's infotext show the sampler they know.
SCHEDULERS: dict[str, SchedulerSpec] = {
    "euler": SchedulerSpec("EulerDiscreteScheduler", "Euler"),
    "euler_a": SchedulerSpec("EulerAncestralDiscreteScheduler", "Euler a"),
    "ddim": SchedulerSpec("DDIMScheduler", "DDIM"),
    "ddpm": SchedulerSpec("DDPMScheduler", "DDPM"),
    "dpmpp_2m": SchedulerSpec("DPMSolverMultistepScheduler", "DPM++ 2M"),
    "dpmpp_2m_karras": SchedulerSpec(
        "DPMSolverMultistepScheduler", "DPM++ 2M Karras", {"use_karras_sigmas": True}
    ),
    "dpmpp_sde": SchedulerSpec(
        "DPMSolverMultistepScheduler", "DPM++ 2M SDE", {"algorithm_type": "sde-dpmsolver++"}
    ),
    "heun": SchedulerSpec("HeunDiscreteScheduler", "Heun"),
    "lms": SchedulerSpec("LMSDiscreteScheduler", "LMS"),
    "pndm": SchedulerSpec("PNDMScheduler", "PLMS"),
    "unipc": SchedulerSpec("UniPCMultistepScheduler", "UniPC"),
}


def check_scheduler(name: str | None) -> None:
    if name is not None and name not in SCHEDULERS:
        raise InvalidArgument(
            "scheduler", name, f"unknown scheduler; choose one of {', '.join(sorted(SCHEDULERS))}"
        )


def make_scheduler(name: str, base_config: Any) -> Any:
    """A new scheduler of the named kind built from the model's own scheduler config.

    ``from_config`` keeps the model's beta schedule and prediction type, which is what makes a
    swapped sampler still produce images rather than noise.
    """
    import diffusers

    check_scheduler(name)
    spec = SCHEDULERS[name]
    cls = getattr(diffusers, spec.class_name)
    return cls.from_config(base_config, **spec.options)


def a1111_sampler_name(name: str | None, fallback_class: str | None = None) -> str:
    if name in SCHEDULERS:
        return SCHEDULERS[name].a1111_name
    for spec in SCHEDULERS.values():
        if spec.class_name == fallback_class and not spec.options:
            return spec.a1111_name
    return fallback_class or "unknown"
