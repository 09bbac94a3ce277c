"""Inpainting: repaint the white part of a mask, keeping the rest of the image."""

from __future__ import annotations

from typing import Any

from ..request import MAX_SIZE, MIN_SIZE, GenerationRequest, check_mask
from .base import Operation, check_image_limits, check_strength, image_size_for, prepare_image


class Inpainting(Operation):
    task = "inpaint"
    default_strength = 1.0
    uses_strength = True

    def adapt(self, base: Any) -> Any:
        from diffusers import AutoPipelineForInpainting

        return AutoPipelineForInpainting.from_pipe(base)

    def check_inputs(self, request: GenerationRequest) -> None:
        super().check_inputs(request)
        check_mask("mask", request.mask, request.image.size)
        check_strength(request)
        check_image_limits(request, MIN_SIZE, MAX_SIZE, self.size_multiple)

    def output_size(self, request: GenerationRequest, pipe: Any) -> tuple[int, int]:
        return image_size_for(request, self.size_multiple)

    def expected_steps(self, request: GenerationRequest) -> int:
        return max(1, int(request.steps * (request.strength or self.default_strength)))

    def pipeline_kwargs(self, request: GenerationRequest, pipe: Any) -> dict[str, Any]:
        from PIL import Image

        width, height = self.output_size(request, pipe)
        mask = request.mask
        if not isinstance(mask, Image.Image):
            mask = Image.fromarray(mask.astype("uint8"))
        mask = mask.convert("L").resize((width, height), Image.Resampling.NEAREST)
        return {
            "image": prepare_image(request.image, (width, height)),
            "mask_image": mask,
            "width": width,
            "height": height,
            "strength": request.strength if request.strength is not None else self.default_strength,
        }
