"""The restoration recipe and ``restore``: detect -> inpaint -> levels -> denoise -> upscale.

Every step is optional. Inpainting and upscaling use diffusion when an operation for them is passed
in ``pipelines`` and its weights load; otherwise (or when the weights are missing) they use OpenCV,
saying so once. The order matters: damage is removed before tone statistics are taken, and denoising
comes after the levels stretch, which amplifies grain along with contrast.
"""

from __future__ import annotations

import logging
import time
import warnings
from collections.abc import Callable, Mapping
from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np

from .. import metadata
from ..errors import Canceled, DiffusionRequired, InvalidArgument, ModelUnavailable
from .damage import DetectorSettings, check_user_mask, detect_damage, grow_mask

log = logging.getLogger(__name__)

RestoreStepCallback = Callable[[int, int, str], Any]
"""``on_step(done, total, step_name)`` after each recipe step."""

_warned: set[tuple[str, str]] = set()

# The largest restored image: the x4 tiled upscaler accumulates float32 tiles over the whole output
# (12 bytes a pixel), so 100 MP is ~1.2 GB of blending buffers on top of the model.
MAX_OUTPUT_PIXELS = 100_000_000


@dataclass
class Recipe:
    """What ``restore`` does. The defaults are the weights-free recipe tuned on the benchmark."""

    detect: bool = True
    detector: DetectorSettings = field(default_factory=DetectorSettings)
    inpaint: bool = True
    inpaint_method: str = "telea"      # weights-free method: "telea" or "ns" (Navier-Stokes)
    inpaint_radius: int = 5
    mask_grow: int = 1                 # px added around the damage before inpainting
    inpaint_prompt: str = "a clean old photograph"
    inpaint_negative_prompt: str = "scratches, dust, text, watermark"
    inpaint_steps: int = 25
    inpaint_guidance: float = 7.5
    max_crops: int = 32
    levels: bool = True
    white_balance: str = "levels"      # "levels" (per channel), "gray_world" or "none"
    levels_low: float = 0.5            # percentiles that become black and white
    levels_high: float = 99.5
    # How far (a share of the common tonal range) one channel's black or white point may move to
    # remove a cast: enough for a faded print, not enough to recolour a green field or a sunset.
    levels_max_cast: float = 0.2
    denoise: bool = True
    denoise_method: str = "nlm"        # "nlm" (non-local means) or "bilateral"
    # Relative to the measured noise. JPEG hides grain from the estimator (it measures the finest
    # scale), so 1.0 under-filters a compressed scan; 3.0 is what the benchmark supports.
    denoise_strength: float = 3.0
    upscale: int = 1                   # 1 (off), 2 or 4
    upscale_prompt: str = "a sharp high resolution photograph"
    upscale_steps: int = 20
    upscale_guidance: float = 7.5
    upscale_noise_level: int = 20
    seed: int = 0

    def check(self) -> None:
        if self.inpaint_method not in ("telea", "ns"):
            raise InvalidArgument("inpaint_method", self.inpaint_method, "expected 'telea' or 'ns'")
        if self.denoise_method not in ("nlm", "bilateral"):
            raise InvalidArgument("denoise_method", self.denoise_method, "expected 'nlm' or 'bilateral'")
        if self.white_balance not in ("levels", "gray_world", "none"):
            raise InvalidArgument(
                "white_balance", self.white_balance, "expected 'levels', 'gray_world' or 'none'"
            )
        if self.upscale not in (1, 2, 4):
            raise InvalidArgument("upscale", self.upscale, "expected 1, 2 or 4")
        if not 0 <= self.denoise_strength <= 20:
            raise InvalidArgument("denoise_strength", self.denoise_strength, "must be between 0 and 20")
        if not 0 <= self.levels_low < self.levels_high <= 100:
            raise InvalidArgument(
                "levels_low", (self.levels_low, self.levels_high), "need 0 <= low < high <= 100"
            )
        if not 0 <= self.levels_max_cast <= 1:
            raise InvalidArgument("levels_max_cast", self.levels_max_cast, "must be between 0 and 1")
        if not 0 <= self.mask_grow <= 32:
            raise InvalidArgument("mask_grow", self.mask_grow, "must be between 0 and 32")

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass
class StepReport:
    step: str
    method: str
    seconds: float
    detail: dict[str, Any] = field(default_factory=dict)


@dataclass
class RestoreReport:
    steps: list[StepReport] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    @property
    def methods(self) -> dict[str, str]:
        """``{step: method}``, e.g. ``{"detect": "morphology", "inpaint": "telea", ...}``."""
        return {s.step: s.method for s in self.steps}

    def to_dict(self) -> dict[str, Any]:
        return {"steps": [asdict(s) for s in self.steps], "notes": list(self.notes)}


@dataclass
class RestoreResult:
    image: Any              # PIL image, with provenance in image.info
    report: RestoreReport
    mask: np.ndarray | None  # the damage mask that was inpainted (uint8, 0/255)


def _as_rgb_array(image: Any, name: str = "image") -> np.ndarray:
    from PIL import Image

    from daguerre.generator.rgb import as_rgb

    if isinstance(image, Image.Image):
        arr = np.asarray(as_rgb(image, name))
    elif isinstance(image, np.ndarray):
        arr = image
        if arr.ndim == 2:
            arr = np.stack([arr] * 3, axis=-1)
        if arr.ndim != 3 or arr.shape[2] not in (3, 4):
            raise InvalidArgument(name, arr.shape, "expected an RGB array (height, width, 3)")
        arr = arr[:, :, :3]
        if arr.dtype != np.uint8:
            raise InvalidArgument(name, str(arr.dtype), "expected uint8 pixels")
    else:
        raise InvalidArgument(name, type(image).__name__, "expected a PIL image or a numpy array")
    if arr.shape[0] < 8 or arr.shape[1] < 8:
        raise InvalidArgument(name, f"{arr.shape[1]}x{arr.shape[0]}", "image is smaller than 8x8")
    return np.ascontiguousarray(arr)


def _fallback(step: str, model: str, exc: Exception, report: RestoreReport, require: bool) -> None:
    if require:
        raise DiffusionRequired(
            f"{step}: diffusion weights for {model!r} are unavailable and require_diffusion is set: {exc}"
        ) from exc
    note = f"{step}: diffusion model {model!r} unavailable, used the weights-free method ({exc})"
    report.notes.append(note)
    key = (step, model)
    if key not in _warned:  # say it once per process, not once per image of a batch
        _warned.add(key)
        warnings.warn(note, RuntimeWarning, stacklevel=3)
        log.warning(note)


def restore(
    image: Any,
    recipe: Recipe | None = None,
    pipelines: Mapping[str, Any] | None = None,
    on_step: RestoreStepCallback | None = None,
    require_diffusion: bool = False,
    *,
    mask: Any = None,
    should_cancel: Callable[[], bool] | None = None,
) -> RestoreResult:
    """Restore a damaged photograph.

    ``image``: PIL image or RGB uint8 array (a PIL image's A1111 ``parameters`` are kept on the
    output, as A1111's post-processing keeps them). ``mask``: optional user damage mask (same
    size; white = damaged), used instead of detection. ``pipelines``: optional
    ``{"inpaint": Operation, "upscale": Operation}`` (see :mod:`daguerre.generator.pipelines`);
    a missing entry or missing weights means the OpenCV method. ``require_diffusion``: raise DiffusionRequired instead of
    falling back. Raises Canceled (no output) when ``should_cancel()`` turns true between steps.
    """
    from PIL import Image

    recipe = recipe or Recipe()
    recipe.check()
    pipelines = dict(pipelines or {})
    inherited = getattr(image, "info", {}).get(metadata.PARAMETERS_KEY)
    rgb = _as_rgb_array(image)
    user_mask = check_user_mask(mask, (rgb.shape[1], rgb.shape[0])) if mask is not None else None
    out_w, out_h = rgb.shape[1] * recipe.upscale, rgb.shape[0] * recipe.upscale
    if out_w * out_h > MAX_OUTPUT_PIXELS:
        raise InvalidArgument(
            "upscale", recipe.upscale,
            f"{rgb.shape[1]}x{rgb.shape[0]} upscaled would be {out_w}x{out_h} "
            f"({out_w * out_h / 1e6:.0f} MP), over the {MAX_OUTPUT_PIXELS // 1_000_000} MP limit; "
            "use a smaller factor",
        )
    if require_diffusion:
        for step, wanted in (("inpaint", recipe.inpaint), ("upscale", recipe.upscale > 1)):
            if wanted and pipelines.get(step) is None:
                raise DiffusionRequired(f"{step}: require_diffusion is set but no {step} pipeline was given")

    planned = ["detect", "inpaint", "levels", "denoise", "upscale"]
    enabled = {
        "detect": recipe.detect or user_mask is not None,
        "inpaint": recipe.inpaint,
        "levels": recipe.levels,
        "denoise": recipe.denoise,
        "upscale": recipe.upscale > 1,
    }
    steps = [s for s in planned if enabled[s]]
    report = RestoreReport()
    damage_mask: np.ndarray | None = user_mask
    started_all = time.perf_counter()

    for done, step in enumerate(steps, start=1):
        if should_cancel is not None and should_cancel():
            raise Canceled(f"restore canceled before step {step!r}")
        t0 = time.perf_counter()
        method, detail = "", {}
        if step == "detect":
            if user_mask is not None:
                method = "user mask"
            else:
                damage_mask = detect_damage(rgb, recipe.detector)
                method = "morphology"
            detail = {"damaged_fraction": round(float((damage_mask > 0).mean()), 5)}
        elif step == "inpaint":
            if damage_mask is None or not damage_mask.any():
                method, detail = "skipped", {"reason": "no damage mask"}
            else:
                grown = grow_mask(damage_mask, recipe.mask_grow)
                rgb, method, detail = _inpaint(rgb, grown, recipe, pipelines, report,
                                               require_diffusion, should_cancel)
        elif step == "levels":
            from .classical import restore_levels

            rgb = restore_levels(rgb, recipe.levels_low, recipe.levels_high, recipe.white_balance,
                                 ignore=damage_mask, max_cast=recipe.levels_max_cast)
            method = f"percentile stretch ({recipe.white_balance})"
        elif step == "denoise":
            from .classical import denoise, estimate_noise

            sigma = estimate_noise(rgb)
            rgb = denoise(rgb, recipe.denoise_strength, recipe.denoise_method, sigma=sigma)
            method, detail = recipe.denoise_method, {"noise_sigma": round(sigma, 3)}
        elif step == "upscale":
            rgb, method, detail = _upscale(rgb, recipe, pipelines, report, require_diffusion,
                                           should_cancel)
        report.steps.append(StepReport(step, method, round(time.perf_counter() - t0, 4), detail))
        if on_step is not None:
            on_step(done, len(steps), step)

    out = Image.fromarray(rgb)
    provenance = {
        "operation": "restore",
        "recipe": recipe.to_dict(),
        "report": report.to_dict(),
        "user_mask": user_mask is not None,
        "seconds": round(time.perf_counter() - started_all, 3),
        "versions": metadata.library_versions(),
    }
    # As A1111's Extras tab: the source's generation parameters (if it had any) stay as they
    # were, and what restoring did goes in the post-processing line.
    metadata.attach(out, inherited if isinstance(inherited, str) else None, provenance,
                    metadata.format_postprocessing(postprocessing_fields(recipe, report)))
    return RestoreResult(out, report, damage_mask)


def postprocessing_fields(recipe: Recipe, report: RestoreReport) -> dict[str, Any]:
    """What a restore did, as A1111 writes post-processing (``Postprocess upscale by: 2,
    Postprocess upscaler: Lanczos``): one ``Postprocess <step>`` key per step that ran, each
    followed by the settings that shaped it."""
    fields: dict[str, Any] = {}
    for step in report.steps:
        d = step.detail
        if step.step == "detect":
            fields["Postprocess damage detection"] = step.method
            if "damaged_fraction" in d:
                fields["Damaged area"] = f"{100 * d['damaged_fraction']:.2f}%"
        elif step.step == "inpaint":
            fields["Postprocess inpaint"] = step.method
            if step.method == "diffusion":
                fields.update({"Inpaint model hash": d.get("model_hash"),
                               "Inpaint model": d.get("model"),
                               "Inpaint steps": recipe.inpaint_steps,
                               "Inpaint CFG scale": recipe.inpaint_guidance,
                               "Inpaint seed": recipe.seed, "Inpaint crops": d.get("crops")})
            elif step.method in ("telea", "ns"):
                fields["Inpaint radius"] = recipe.inpaint_radius
        elif step.step == "levels":
            low, high = recipe.levels_low, recipe.levels_high
            fields["Postprocess levels"] = f"{low:g}-{high:g} percentile"
            fields["White balance"] = recipe.white_balance
        elif step.step == "denoise":
            fields["Postprocess denoise"] = step.method
            fields["Denoise strength"] = recipe.denoise_strength
        elif step.step == "upscale":
            fields["Postprocess upscale by"] = recipe.upscale
            if step.method.startswith("diffusion"):
                fields.update({"Postprocess upscaler": d.get("model"),
                               "Upscaler model hash": d.get("model_hash"),
                               "Upscale steps": recipe.upscale_steps,
                               "Upscale CFG scale": recipe.upscale_guidance,
                               "Upscale noise level": recipe.upscale_noise_level,
                               "Upscale seed": recipe.seed})
            else:
                fields["Postprocess upscaler"] = step.method.capitalize()
    return fields


def _inpaint(
    rgb: np.ndarray, mask: np.ndarray, recipe: Recipe, pipelines: Mapping[str, Any],
    report: RestoreReport, require: bool, should_cancel: Any,
) -> tuple[np.ndarray, str, dict[str, Any]]:
    from .classical import inpaint_opencv

    op = pipelines.get("inpaint")
    if op is not None:
        from .diffusion import inpaint_crops

        try:
            out, crops, leftover = inpaint_crops(
                rgb, mask, op, prompt=recipe.inpaint_prompt,
                negative_prompt=recipe.inpaint_negative_prompt, steps=recipe.inpaint_steps,
                guidance_scale=recipe.inpaint_guidance, seed=recipe.seed,
                max_crops=recipe.max_crops, should_cancel=should_cancel,
            )
            # Damage past the max_crops budget was filled with Telea: say how much, in the
            # step's detail (notes are reserved for missing weights).
            return out, "diffusion", {"model": op.model_name, "model_hash": op.weights_hash,
                                      "crops": crops, "telea_pixels": leftover}
        except ModelUnavailable as exc:
            _fallback("inpaint", op.model_name, exc, report, require)
    out = inpaint_opencv(rgb, mask, recipe.inpaint_method, recipe.inpaint_radius)
    return out, recipe.inpaint_method, {"masked_pixels": int((mask > 0).sum())}


def _upscale(
    rgb: np.ndarray, recipe: Recipe, pipelines: Mapping[str, Any], report: RestoreReport,
    require: bool, should_cancel: Any,
) -> tuple[np.ndarray, str, dict[str, Any]]:
    from .classical import upscale_lanczos

    op = pipelines.get("upscale")
    if op is not None:
        from .diffusion import upscale_tiles

        try:
            up = upscale_tiles(
                rgb, op, prompt=recipe.upscale_prompt, steps=recipe.upscale_steps,
                guidance_scale=recipe.upscale_guidance, noise_level=recipe.upscale_noise_level,
                seed=recipe.seed, should_cancel=should_cancel,
            )
            if recipe.upscale != 4:
                h, w = rgb.shape[:2]
                import cv2

                up = cv2.resize(up, (w * recipe.upscale, h * recipe.upscale), interpolation=cv2.INTER_AREA)
            return up, "diffusion x4", {"model": op.model_name, "model_hash": op.weights_hash,
                                        "scale": recipe.upscale}
        except ModelUnavailable as exc:
            _fallback("upscale", op.model_name, exc, report, require)
    return upscale_lanczos(rgb, recipe.upscale), "lanczos", {"scale": recipe.upscale}
