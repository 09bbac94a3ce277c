"""Image to image: re-noise the input to ``strength`` and denoise it towards the prompt."""

from __future__ import annotations

from typing import Any

from ..request import MAX_SIZE, MIN_SIZE, GenerationRequest
from .base import Operation, check_image_limits, check_strength, image_size_for, prepare_image


class Translation(Operation):
    task = "translate"
    default_strength = 0.75
    uses_strength = True

    def adapt(self, base: Any) -> Any:
        from diffusers import AutoPipelineForImage2Image

        return AutoPipelineForImage2Image.from_pipe(base)

    def check_inputs(self, request: GenerationRequest) -> None:
        super().check_inputs(request)
        check_strength(request)
        check_image_limits(request, MIN_SIZE, MAX_SIZE, self.size_multiple)

    def output_size(self, request: GenerationRequest, pipe: Any) -> tuple[int, int]:
        return image_size_for(request, self.size_multiple)

    def expected_steps(self, request: GenerationRequest) -> int:
        return max(1, int(request.steps * (request.strength or self.default_strength)))

    def pipeline_kwargs(self, request: GenerationRequest, pipe: Any) -> dict[str, Any]:
        size = self.output_size(request, pipe)
        return {
            "image": prepare_image(request.image, size),
            "strength": request.strength if request.strength is not None else self.default_strength,
        }
