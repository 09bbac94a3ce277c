"""Every diffusion operation, run on CPU with tiny models built offline."""

from __future__ import annotations

import time

import numpy as np
import pytest
from PIL import Image

from daguerre.generator import (
    Canceled,
    GenerationRequest,
    InvalidArgument,
    ModelMismatch,
    ModelUnavailable,
    get_operation,
)
from daguerre.generator.metadata import parse_parameters
from daguerre.generator.models import ModelCache, resolve_model


def request_for(task: str, photo: Image.Image, **kw) -> GenerationRequest:
    req = GenerationRequest(prompt="a red circle", seed=kw.pop("seed", 7), steps=kw.pop("steps", 4))
    if task == "generate":
        req.width, req.height = 64, 64
    elif task == "upscale":
        req.image = photo.resize((32, 32))
    else:
        req.image = photo.resize((64, 64))
    if task == "inpaint":
        mask = np.zeros((64, 64), np.uint8)
        mask[16:40, 20:44] = 255
        req.mask = Image.fromarray(mask)
    for k, v in kw.items():
        setattr(req, k, v)
    return req


TASKS = ["generate", "translate", "inpaint", "edit", "upscale"]


@pytest.mark.parametrize("task", TASKS)
def test_every_operation_runs_on_cpu_in_seconds(task, tiny_models, cache, photo):
    op = get_operation(task, str(tiny_models[task]), device="cpu", cache=cache)
    steps = []
    t0 = time.perf_counter()
    images = op.run(request_for(task, photo, batch_size=2), on_step=lambda s, n: steps.append((s, n)))
    elapsed = time.perf_counter() - t0
    assert elapsed < 20
    expected = (128, 128) if task == "upscale" else (64, 64)
    assert [im.size for im in images] == [expected, expected]
    assert steps and steps[-1][0] == steps[-1][1]  # progress reached its total
    assert [s for s, _ in steps] == list(range(1, len(steps) + 1))
    info = parse_parameters(images[1].info["parameters"])
    assert info["Prompt"] == "a red circle"
    assert info["Seed"] == "8"  # image i of a batch uses seed + i
    assert images[0].info["daguerre"]["operation"] == task


@pytest.mark.parametrize("task", ["generate", "translate", "edit"])
def test_same_seed_reproduces_and_other_seed_differs(task, tiny_models, cache, photo):
    op = get_operation(task, str(tiny_models[task]), device="cpu", cache=cache)
    a = op.run(request_for(task, photo, seed=123))[0]
    b = op.run(request_for(task, photo, seed=123))[0]
    c = op.run(request_for(task, photo, seed=124))[0]
    assert a.tobytes() == b.tobytes()
    assert a.tobytes() != c.tobytes()


@pytest.mark.parametrize("scheduler", ["euler", "euler_a", "ddim", "dpmpp_2m", "pndm", "lms", "unipc"])
def test_schedulers_by_name(scheduler, tiny_models, cache, photo):
    op = get_operation("generate", str(tiny_models["generate"]), device="cpu", cache=cache)
    image = op.run(request_for("generate", photo, scheduler=scheduler))[0]
    prov = image.info["daguerre"]
    assert prov["parameters"]["scheduler"] == scheduler
    assert prov["scheduler_class"] != "" and image.size == (64, 64)


@pytest.mark.parametrize("task", ["generate", "upscale"])
def test_cancel_between_steps_raises_and_produces_nothing(task, tiny_models, cache, photo):
    op = get_operation(task, str(tiny_models[task]), device="cpu", cache=cache)
    seen = []
    result = None
    with pytest.raises(Canceled):
        result = op.run(
            request_for(task, photo, steps=6),
            on_step=lambda s, n: seen.append(s),
            should_cancel=lambda: len(seen) >= 2,
        )
    assert result is None
    assert seen == [1, 2]  # stopped right after the step at which cancel was requested


@pytest.mark.parametrize(
    ("task", "changes", "argument", "value"),
    [
        ("generate", {"width": 100}, "width", "100"),
        ("generate", {"height": 4096}, "height", "4096"),
        ("generate", {"width": 0}, "width", "0"),
        ("generate", {"steps": 0}, "steps", "0"),
        ("generate", {"batch_size": 99}, "batch_size", "99"),
        ("generate", {"scheduler": "warp_drive"}, "scheduler", "warp_drive"),
        ("translate", {"strength": 1.5}, "strength", "1.5"),
        ("translate", {"strength": 0.1, "steps": 4}, "strength", "0.1"),
        ("translate", {"image": None}, "image", "None"),
        ("translate", {"width": 63}, "width", "63"),
        ("inpaint", {"mask": Image.new("L", (32, 32))}, "mask", "32x32"),
        ("inpaint", {"mask": None}, "mask", "None"),
        ("inpaint", {"mask": np.zeros((64, 64, 3), np.uint8)}, "mask", "(64, 64, 3)"),
        ("edit", {"image_guidance_scale": 0.5}, "image_guidance_scale", "0.5"),
        ("upscale", {"noise_level": 999}, "noise_level", "999"),
        ("upscale", {"image": Image.new("RGB", (600, 600))}, "image", "600x600"),
    ],
)
def test_bad_arguments_name_the_argument(task, changes, argument, value, tiny_models, photo):
    # A fresh cache that must stay empty: inputs are checked before any model loads.
    cache = ModelCache()
    op = get_operation(task, str(tiny_models[task]), device="cpu", cache=cache)
    with pytest.raises(InvalidArgument) as err:
        op.run(request_for(task, photo, **changes))
    assert err.value.argument == argument
    assert argument in str(err.value) and value in str(err.value)
    assert cache.loaded() == []


def test_missing_model_offline_is_a_clear_error(monkeypatch, tmp_path, photo):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    op = get_operation("generate", "daguerre-tests/no-such-model", device="cpu", cache=ModelCache())
    with pytest.raises(ModelUnavailable) as err:
        op.run(request_for("generate", photo))
    message = str(err.value)
    assert "daguerre-tests/no-such-model" in message
    assert "save_pretrained" in message and "DAGUERRE_" not in message  # the library's own words
    assert err.value.__cause__ is None and err.value.__suppress_context__


def test_local_directory_that_is_not_a_pipeline(tmp_path, photo):
    op = get_operation("upscale", str(tmp_path), device="cpu", cache=ModelCache())
    with pytest.raises(ModelUnavailable, match="model_index.json"):
        op.run(request_for("upscale", photo))
    op = get_operation("upscale", str(tmp_path / "missing"), device="cpu", cache=ModelCache())
    with pytest.raises(ModelUnavailable, match="no such directory"):
        op.run(request_for("upscale", photo))


def test_wrong_kind_of_model_is_refused(tiny_models, cache, photo):
    op = get_operation("edit", str(tiny_models["generate"]), device="cpu", cache=cache)
    with pytest.raises(ModelMismatch, match="InstructPix2Pix"):
        op.run(request_for("edit", photo))


def test_model_cache_keeps_one_model_and_reuses_it(tiny_models, photo):
    cache = ModelCache()
    gen = get_operation("generate", str(tiny_models["generate"]), device="cpu", cache=cache)
    tra = get_operation("translate", str(tiny_models["translate"]), device="cpu", cache=cache)
    gen.run(request_for("generate", photo))
    tra.run(request_for("translate", photo))  # same weights: shared, not reloaded
    assert cache.loads == 1
    ups = get_operation("upscale", str(tiny_models["upscale"]), device="cpu", cache=cache)
    ups.run(request_for("upscale", photo))
    assert cache.loaded() == [str(tiny_models["upscale"])]
    assert cache.loads == 2


def test_the_library_resolves_a_model_from_its_argument_only(monkeypatch, tmp_path):
    """The generator reads no environment: the platform's settings are passed in."""
    monkeypatch.setenv("DAGUERRE_EDIT_MODEL", str(tmp_path))
    monkeypatch.setenv("DAGUERRE_OFFLINE", "1")
    assert resolve_model("edit") == "timbrooks/instruct-pix2pix"
    assert resolve_model("edit", "org/explicit") == "org/explicit"
    assert resolve_model("edit", tmp_path) == str(tmp_path)
    op = get_operation("edit", device="cpu", cache=ModelCache())
    assert op.model == "timbrooks/instruct-pix2pix" and op.offline is False
    with pytest.raises(ValueError, match="unknown task"):
        resolve_model("colorize")


def _live_tensor_bytes() -> int:
    import gc

    import torch

    gc.collect()
    return sum(o.untyped_storage().nbytes() for o in gc.get_objects()
               if isinstance(o, torch.Tensor) and not o.is_meta)


def test_memory_stays_flat_over_a_long_mixed_batch_and_a_replaced_model_is_freed(tiny_models, photo):
    # What "GPU memory does not grow over a long batch" means on CPU: no tensor outlives its run
    # (latents, callbacks, per-run schedulers), and a model the cache replaced is really gone.
    import weakref

    cache = ModelCache()
    gen = get_operation("generate", str(tiny_models["generate"]), device="cpu", cache=cache)
    ups = get_operation("upscale", str(tiny_models["upscale"]), device="cpu", cache=cache)
    gen.run(request_for("generate", photo))
    old_unet = weakref.ref(cache.get(gen.model, device="cpu").unet)
    ups.run(request_for("upscale", photo))
    assert old_unet() is None, "the replaced model's weights are still referenced"
    gen.run(request_for("generate", photo))
    ups.run(request_for("upscale", photo))
    warm = _live_tensor_bytes()
    for i in range(4):
        gen.run(request_for("generate", photo, seed=i, batch_size=2),
                on_step=lambda s, n: None, should_cancel=lambda: False)
        ups.run(request_for("upscale", photo, seed=i))
    assert _live_tensor_bytes() <= warm * 1.01
    assert cache.loads == 2 + 2 * 5  # one load per switch, never a second copy
