"""Text to image (Stable Diffusion 1.x/2.x, SDXL through AutoPipeline)."""

from __future__ import annotations

from typing import Any

from ..request import GenerationRequest
from .base import Operation


class Synthesis(Operation):
    task = "generate"
    needs_image = False

    def adapt(self, base: Any) -> Any:
        from diffusers import AutoPipelineForText2Image

        return AutoPipelineForText2Image.from_pipe(base)

    def output_size(self, request: GenerationRequest, pipe: Any) -> tuple[int, int]:
        native = native_size(pipe)
        return request.width or native, request.height or native

    def pipeline_kwargs(self, request: GenerationRequest, pipe: Any) -> dict[str, Any]:
        width, height = self.output_size(request, pipe)
        return {"width": width, "height": height}


def native_size(pipe: Any) -> int:
    """The resolution the UNet was trained at (512 for SD 1.5, 1024 for SDXL)."""
    return int(pipe.unet.config.sample_size) * int(getattr(pipe, "vae_scale_factor", 8))
