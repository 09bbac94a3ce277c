"""The interface every diffusion operation implements, and the run loop they share.

An operation owns one task ("generate", "translate", "inpaint", "edit", "upscale"): which pipeline
class serves it, what its inputs must look like (``check_inputs``), and how a request maps to the
pipeline's arguments (``pipeline_kwargs``). Loading, seeding, schedulers, memory settings, progress,
cancellation and provenance are done once, here.
"""

from __future__ import annotations

import inspect
import random
import time
from abc import ABC, abstractmethod
from collections.abc import Callable
from typing import Any, ClassVar

from .. import metadata
from ..errors import Canceled, InvalidArgument, ModelMismatch
from ..model_identity import ModelHashes, model_hash, model_name, pipeline_unet_folder
from ..models import ModelCache, default_cache, default_device, default_dtype, resolve_model
from ..request import MAX_SEED, GenerationRequest, check_common, check_pil_image, check_size
from ..schedulers import a1111_sampler_name, make_scheduler

StepCallback = Callable[[int, int], Any]
"""``on_step(step, total)``, called after each denoising step; may raise Canceled to stop."""
CancelCheck = Callable[[], bool]
"""``should_cancel()``, polled between steps; True stops the run with Canceled."""

# Above this many output pixels, attention slicing and VAE tiling keep peak memory bounded; below it
# they only cost speed.
LARGE_IMAGE_PIXELS = 1024 * 1024


class Operation(ABC):
    """One diffusion task behind a common interface.

    ``model`` is a Hugging Face repo id or a ``save_pretrained`` directory; ``None`` is the task's
    public default. ``offline`` loads only what is local (a directory or the Hugging Face cache).
    ``hashes`` keeps the model's A1111 hash between runs (default: in this process's memory).
    """

    task: ClassVar[str]
    needs_image: ClassVar[bool] = True
    default_strength: ClassVar[float | None] = None
    size_multiple: ClassVar[int] = 8

    def __init__(
        self,
        model: str | None = None,
        *,
        device: str | None = None,
        dtype: Any = None,
        cache: ModelCache | None = None,
        offline: bool = False,
        hashes: ModelHashes | None = None,
    ) -> None:
        self.model = resolve_model(self.task, model)
        self.device = device
        self.dtype = dtype
        self.cache = cache if cache is not None else default_cache()
        self.offline = offline
        self.hashes = hashes
        self.weights_hash: str | None = None  # the model hash of the last run's weights

    @property
    def model_name(self) -> str:
        """The model as outputs name it: a repo id, or a local directory's folder name."""
        return model_name(self.model)

    def model_hash(self, pipe: Any) -> str | None:
        """A1111's ``Model hash`` of ``pipe``'s UNet weights (see :mod:`..model_identity`)."""
        return model_hash(pipeline_unet_folder(pipe), self.hashes)

    # --- what subclasses define -------------------------------------------------------------

    @abstractmethod
    def pipeline_kwargs(self, request: GenerationRequest, pipe: Any) -> dict[str, Any]:
        """Arguments for the diffusers pipeline call, from a checked request."""

    @abstractmethod
    def adapt(self, base: Any) -> Any:
        """This task's pipeline class over ``base``'s loaded components (no extra memory)."""

    def check_model(self, pipe: Any) -> None:
        """Refuse a model that cannot serve this task (override to check UNet channels, etc.)."""
        return None

    def check_inputs(self, request: GenerationRequest) -> None:
        """Validate ``request`` before any model is loaded; raises InvalidArgument naming the field."""
        check_common(request)
        if request.width is not None:
            check_size("width", request.width, self.size_multiple)
        if request.height is not None:
            check_size("height", request.height, self.size_multiple)
        if self.needs_image:
            check_pil_image("image", request.image)

    def output_size(self, request: GenerationRequest, pipe: Any) -> tuple[int, int]:
        """(width, height) of the images the pipeline will produce."""
        if request.width and request.height:
            return request.width, request.height
        return request.image.size

    # --- the shared run loop --------------------------------------------------------------

    def load(self) -> Any:
        device = self.device or default_device()
        dtype = self.dtype if self.dtype is not None else default_dtype(device)
        base = self.cache.get(self.model, task=self.task, device=device, dtype=dtype, offline=self.offline)
        pipe = self.adapt(base)
        if hasattr(pipe, "set_progress_bar_config"):
            pipe.set_progress_bar_config(disable=True)  # progress goes to on_step, not stderr
        self.check_model(pipe)
        return pipe

    def run(
        self,
        request: GenerationRequest,
        on_step: StepCallback | None = None,
        should_cancel: CancelCheck | None = None,
    ) -> list[Any]:
        """Run the task; returns ``batch_size`` PIL images, each with metadata in ``image.info``.

        Image ``i`` uses seed ``seed + i`` (as A1111 does), so any one image of a batch can be
        reproduced alone. Raises Canceled (and produces nothing) when ``should_cancel()`` turns true
        or ``on_step`` raises Canceled.
        """
        import torch

        self.check_inputs(request)
        if should_cancel is not None and should_cancel():
            raise Canceled(f"{self.task} canceled before it started")
        pipe = self.load()
        seed = request.seed if request.seed is not None else random.randint(0, MAX_SEED)
        device = str(pipe.device)
        # A generator on the pipeline's own device: CUDA and CPU draw different numbers from the same
        # seed, and reproducibility is promised per device and dtype.
        gen_device = device if device.startswith("cuda") else "cpu"
        generators = [
            torch.Generator(device=gen_device).manual_seed((seed + i) % (MAX_SEED + 1))
            for i in range(request.batch_size)
        ]
        # A fresh scheduler per run: schedulers keep state (timesteps, step index) and the base
        # pipeline's is shared with every pipeline adapted from it.
        scheduler_name = request.scheduler
        pipe.scheduler = (
            make_scheduler(scheduler_name, pipe.scheduler.config)
            if scheduler_name
            else pipe.scheduler.__class__.from_config(pipe.scheduler.config)
        )
        width, height = self.output_size(request, pipe)
        self._memory_settings(pipe, width * height)

        kwargs = self.pipeline_kwargs(request, pipe)
        kwargs.update(
            prompt=request.prompt,
            negative_prompt=request.negative_prompt or None,
            num_inference_steps=request.steps,
            guidance_scale=request.guidance_scale,
            num_images_per_prompt=request.batch_size,
            generator=generators,
            output_type="pil",
        )
        kwargs.update(self._progress_kwargs(pipe, request, on_step, should_cancel))
        started = time.perf_counter()
        with torch.inference_mode():
            images = list(pipe(**kwargs).images)
        elapsed = time.perf_counter() - started
        sampler = a1111_sampler_name(scheduler_name, type(pipe.scheduler).__name__)
        weights_hash = self.weights_hash = self.model_hash(pipe)
        for i, image in enumerate(images):
            self._annotate(image, request, seed + i, i, sampler, pipe, elapsed, weights_hash)
        return images

    def _memory_settings(self, pipe: Any, pixels: int) -> None:
        large = pixels > LARGE_IMAGE_PIXELS
        if hasattr(pipe, "enable_attention_slicing"):
            if large:
                pipe.enable_attention_slicing()
            else:
                pipe.disable_attention_slicing()
        vae = getattr(pipe, "vae", None)
        if vae is not None and hasattr(vae, "enable_tiling"):
            if large:
                vae.enable_tiling()
            else:
                vae.disable_tiling()

    def _progress_kwargs(
        self, pipe: Any, request: GenerationRequest, on_step: StepCallback | None,
        should_cancel: CancelCheck | None,
    ) -> dict[str, Any]:
        if on_step is None and should_cancel is None:
            return {}
        expected = self.expected_steps(request)

        def report(step: int) -> None:
            total = getattr(pipe, "_num_timesteps", None) or expected
            if on_step is not None:
                on_step(step, total)
            # Checked after the step is reported, so a cancel lands between steps, never inside one.
            if should_cancel is not None and should_cancel():
                raise Canceled(f"{self.task} canceled after step {step} of {total}")

        params = inspect.signature(pipe.__call__).parameters
        if "callback_on_step_end" in params:

            def on_step_end(_pipe: Any, i: int, _t: Any, callback_kwargs: dict) -> dict:
                report(i + 1)
                return callback_kwargs

            return {"callback_on_step_end": on_step_end}
        # Older pipelines (the x4 upscaler) only have the legacy per-step callback.
        return {"callback": lambda i, _t, _latents: report(i + 1), "callback_steps": 1}

    def expected_steps(self, request: GenerationRequest) -> int:
        return request.steps

    def postprocessing(self, request: GenerationRequest, image: Any) -> dict[str, Any] | None:
        """A1111's post-processing fields for an output that post-processes its input (the x4
        upscaler), or None."""
        return None

    def _annotate(
        self, image: Any, request: GenerationRequest, seed: int, index: int, sampler: str,
        pipe: Any, elapsed: float, weights_hash: str | None = None,
    ) -> None:
        strength = request.strength if request.strength is not None else self.default_strength
        params = request.parameters()
        params.update(seed=seed, strength=strength if self.uses_strength else None,
                      width=image.width, height=image.height)
        name = self.model_name
        post = self.postprocessing(request, image)
        provenance = {
            "operation": self.task,
            # Never a local path: a file leaves this machine; the name and hash identify it.
            "model": name,
            "model_hash": weights_hash,
            "pipeline": type(pipe).__name__,
            "scheduler_class": type(pipe.scheduler).__name__,
            "sampler": sampler,
            "parameters": params,
            "batch_index": index,
            "device": str(pipe.device),
            "dtype": str(pipe.dtype).removeprefix("torch."),
            "seconds": round(elapsed, 3),
            "versions": metadata.library_versions(),
        }
        if post:
            provenance["postprocessing"] = post
        fields = metadata.a1111_fields(
            steps=request.steps, sampler=sampler, guidance_scale=request.guidance_scale, seed=seed,
            width=image.width, height=image.height, model=name, model_hash=weights_hash,
            strength=strength if self.uses_strength else None,
            image_guidance_scale=request.image_guidance_scale if self.task == "edit" else None,
            extra={"Noise level": request.noise_level} if self.task == "upscale" else None,
        )
        text = metadata.format_parameters(request.prompt, request.negative_prompt, fields)
        metadata.attach(image, text, provenance,
                        metadata.format_postprocessing(post) if post else None)

    uses_strength: ClassVar[bool] = False


def prepare_image(image: Any, size: tuple[int, int] | None, multiple: int = 8) -> Any:
    """RGB copy of ``image`` at ``size``, or at its own size rounded down to ``multiple``."""
    from PIL import Image

    from daguerre.generator.rgb import as_rgb

    rgb = as_rgb(image)
    if size is None:
        size = (rgb.width - rgb.width % multiple, rgb.height - rgb.height % multiple)
    if rgb.size != size:
        rgb = rgb.resize(size, Image.Resampling.LANCZOS)
    return rgb


def image_size_for(request: GenerationRequest, multiple: int = 8) -> tuple[int, int]:
    if request.width and request.height:
        return request.width, request.height
    w, h = request.image.size
    if request.width:
        return request.width, max(multiple, round(h * request.width / w / multiple) * multiple)
    if request.height:
        return max(multiple, round(w * request.height / h / multiple) * multiple), request.height
    return w - w % multiple, h - h % multiple


def check_image_limits(request: GenerationRequest, lo: int, hi: int, multiple: int = 8) -> None:
    """The working size (image size, or width/height if given) must fall within [lo, hi]."""
    w, h = image_size_for(request, multiple)
    for name, value in (("width", w), ("height", h)):
        if not lo <= value <= hi:
            arg = name if getattr(request, name) else "image"
            shown = getattr(request, name) or f"{request.image.width}x{request.image.height}"
            raise InvalidArgument(arg, shown, f"{name} {value} is outside {lo}..{hi} pixels")


def check_strength(request: GenerationRequest) -> None:
    from ..request import check_float

    if request.strength is None:
        return
    check_float("strength", request.strength, 0.0, 1.0)
    if request.strength <= 0 or int(request.steps * request.strength) < 1:
        raise InvalidArgument(
            "strength", request.strength,
            f"with steps={request.steps} it leaves no denoising step (steps x strength must be >= 1)",
        )


def unet_channels(pipe: Any) -> int:
    return int(pipe.unet.config.in_channels)


def require_channels(pipe: Any, task: str, model: str, expected: int, kind: str) -> None:
    got = unet_channels(pipe)
    if got != expected:
        raise ModelMismatch(
            f"model {model!r} has a UNet with {got} input channels; the {task} task needs {kind} "
            f"({expected} channels)"
        )
