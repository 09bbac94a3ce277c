"""x4 super-resolution with Stable Diffusion's latent upscaler (text-guided)."""

from __future__ import annotations

from typing import Any

from ..errors import InvalidArgument
from ..request import GenerationRequest, check_int
from .base import Operation, prepare_image, require_channels

# The x4 upscaler was trained on 128 -> 512 crops; 512 in (2048 out) is where a 24 GB card stops.
MIN_INPUT = 16
MAX_INPUT = 512
SCALE = 4


class Upscale(Operation):
    task = "upscale"
    size_multiple = 1

    def adapt(self, base: Any) -> Any:
        from diffusers import StableDiffusionUpscalePipeline

        return StableDiffusionUpscalePipeline.from_pipe(base)

    def check_model(self, pipe: Any) -> None:
        # Noise latents (4) concatenated with the low-resolution RGB image (3).
        require_channels(pipe, self.task, self.model, 7, "an x4 upscaler model")

    def check_inputs(self, request: GenerationRequest) -> None:
        super().check_inputs(request)
        check_int("noise_level", request.noise_level, 0, 350)
        w, h = request.image.size
        for name, value in (("width", w), ("height", h)):
            if not MIN_INPUT <= value <= MAX_INPUT:
                raise InvalidArgument(
                    "image", f"{w}x{h}",
                    f"input {name} must be {MIN_INPUT}..{MAX_INPUT} pixels (use restore's tiled "
                    "upscaling for larger images)",
                )
        if request.width is not None or request.height is not None:
            raise InvalidArgument(
                "width" if request.width is not None else "height",
                request.width if request.width is not None else request.height,
                "the x4 upscaler's output size is 4x the input image; resize the input instead",
            )

    def output_size(self, request: GenerationRequest, pipe: Any) -> tuple[int, int]:
        w, h = request.image.size
        return w * SCALE, h * SCALE

    def postprocessing(self, request: GenerationRequest, image: Any) -> dict[str, Any]:
        # As A1111's Extras tab writes an upscale ("Postprocess upscale by: 4, Postprocess
        # upscaler: R-ESRGAN 4x+"); the diffusion run's own settings stay in `parameters`.
        return {"Postprocess upscale by": SCALE, "Postprocess upscaler": self.model_name,
                "Noise level": request.noise_level}

    def pipeline_kwargs(self, request: GenerationRequest, pipe: Any) -> dict[str, Any]:
        return {
            "image": prepare_image(request.image, request.image.size, multiple=1),
            "noise_level": request.noise_level,
        }
