"""Instruction edits (InstructPix2Pix): "make it winter", applied to an input image."""

from __future__ import annotations

from typing import Any

from ..request import MAX_SIZE, MIN_SIZE, GenerationRequest, check_float
from .base import Operation, check_image_limits, image_size_for, prepare_image, require_channels


class InstructEdit(Operation):
    task = "edit"

    def adapt(self, base: Any) -> Any:
        from diffusers import StableDiffusionInstructPix2PixPipeline

        return StableDiffusionInstructPix2PixPipeline.from_pipe(base)

    def check_model(self, pipe: Any) -> None:
        # InstructPix2Pix concatenates the image latents to the noise: 4 + 4 channels.
        require_channels(pipe, self.task, self.model, 8, "an InstructPix2Pix model")

    def check_inputs(self, request: GenerationRequest) -> None:
        super().check_inputs(request)
        check_float("image_guidance_scale", request.image_guidance_scale, 1.0, 20.0)
        check_image_limits(request, MIN_SIZE, MAX_SIZE, self.size_multiple)

    def output_size(self, request: GenerationRequest, pipe: Any) -> tuple[int, int]:
        return image_size_for(request, self.size_multiple)

    def pipeline_kwargs(self, request: GenerationRequest, pipe: Any) -> dict[str, Any]:
        return {
            "image": prepare_image(request.image, self.output_size(request, pipe)),
            "image_guidance_scale": request.image_guidance_scale,
        }
