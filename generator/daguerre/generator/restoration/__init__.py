"""Photo restoration: damage detection, inpainting, levels, denoising and upscaling."""

from .damage import DetectorSettings, detect_damage
from .recipe import Recipe, RestoreReport, RestoreResult, StepReport, restore

__all__ = [
    "DetectorSettings",
    "Recipe",
    "RestoreReport",
    "RestoreResult",
    "StepReport",
    "detect_damage",
    "restore",
]
