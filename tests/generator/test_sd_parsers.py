"""Our outputs read by another tool: sd-parsers (PyPI), which reads AUTOMATIC1111's, ComfyUI's,
InvokeAI's, NovelAI's and Fooocus's PNGs, finds prompt, negative prompt, seed, steps, sampler,
guidance, size and model (by name, with A1111's model hash) in every kind of diffusion output;
restore and x4 upscale outputs carry A1111's post-processing chunks."""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path

import numpy as np
import pytest
import sd_parsers
from PIL import Image

from daguerre.generator import GenerationRequest, get_operation, restore
from daguerre.generator.metadata import (
    EXTRAS_KEY,
    PARAMETERS_KEY,
    POSTPROCESSING_KEY,
    PROVENANCE_KEY,
    parse_parameters,
    read_png_text,
    save_png,
)
from daguerre.generator.model_identity import ModelHashes, model_hash, model_name
from daguerre.generator.restoration import Recipe

PROMPT = "a (red:1.2) circle, on grey: café 写真\nsecond line"
NEGATIVE = "blurry, lowres\nwatermark"


def unet_hash(folder: Path) -> str:
    """A1111's new-style hash, computed here independently: sha256 of the weights, 10 chars."""
    data = (folder / "unet" / "diffusion_pytorch_model.safetensors").read_bytes()
    return hashlib.sha256(data).hexdigest()[:10]


def request_for(task: str, photo: Image.Image) -> GenerationRequest:
    kwargs: dict = {"prompt": PROMPT, "negative_prompt": NEGATIVE, "steps": 3, "seed": 4242,
                    "guidance_scale": 6.5, "scheduler": "dpmpp_2m_karras"}
    if task == "generate":
        kwargs.update(width=96, height=64)
    elif task in ("translate", "edit", "inpaint"):
        kwargs["image"] = photo.resize((96, 64))
    if task == "inpaint":
        mask = Image.new("L", (96, 64), 0)
        mask.paste(255, (24, 16, 72, 48))
        kwargs["mask"] = mask
    if task in ("translate", "inpaint"):
        kwargs["strength"] = 0.8
    if task == "upscale":
        kwargs["image"] = photo.resize((24, 16))
    return GenerationRequest(**kwargs)


@pytest.mark.parametrize("task", ["generate", "translate", "edit", "inpaint", "upscale"])
def test_sd_parsers_reads_every_kind_of_output(task, tiny_models, cache, photo, tmp_path):
    folder = tiny_models[task]
    op = get_operation(task, str(folder), device="cpu", cache=cache)
    image = op.run(request_for(task, photo))[0]
    path = save_png(image, tmp_path / f"{task}.png")

    info = sd_parsers.ParserManager().parse(path)
    assert info is not None, f"sd-parsers found nothing in a {task} output"
    assert info.generator.value == "AUTOMATIC1111"
    assert info.full_prompt == PROMPT
    assert info.full_negative_prompt == NEGATIVE
    (sampler,) = info.samplers
    assert sampler.name == "DPM++ 2M Karras"
    assert sampler.parameters["seed"] == "4242" and sampler.parameters["steps"] == "3"
    assert sampler.parameters["cfg_scale"] == "6.5"
    assert image.size == (96, 64) and info.metadata["Size"] == "96x64"
    # The model by its folder name, never the path it was loaded from; A1111's hash of its UNet.
    assert sampler.model.name == folder.name
    assert not [k for k, v in read_png_text(path).items() if str(folder.parent) in v]
    assert sampler.model.hash == unet_hash(folder)
    assert image.info[PROVENANCE_KEY]["model_hash"] == unet_hash(folder)


def test_an_x4_upscale_also_says_so_as_a1111_post_processing(tiny_models, cache, photo, tmp_path):
    op = get_operation("upscale", str(tiny_models["upscale"]), device="cpu", cache=cache)
    path = save_png(op.run(request_for("upscale", photo))[0], tmp_path / "up.png")
    chunks = read_png_text(path)
    assert chunks[POSTPROCESSING_KEY] == chunks[EXTRAS_KEY]
    post = parse_parameters(chunks[POSTPROCESSING_KEY])
    assert post["Postprocess upscale by"] == "4"
    assert post["Postprocess upscaler"] == "tiny-x4-upscaler"
    assert parse_parameters(chunks[PARAMETERS_KEY])["Noise level"] == "20"


def test_a_restore_writes_a1111_post_processing_and_keeps_the_source_parameters(
        tiny_models, cache, photo, tmp_path):
    # A generated image, saved, read back as a platform source would be (its text chunks in
    # ``info``), then restored with the x4 diffusion upscaler.
    gen = get_operation("generate", str(tiny_models["generate"]), device="cpu", cache=cache)
    source_path = save_png(gen.run(request_for("generate", photo))[0], tmp_path / "src.png")
    with Image.open(source_path) as im:
        im.load()
        source = im.convert("RGB")
        source.info = dict(im.info)
    up = get_operation("upscale", str(tiny_models["upscale"]), device="cpu", cache=cache)
    recipe = Recipe(detect=False, inpaint=False, upscale=2, upscale_steps=2, denoise=True)
    result = restore(source, recipe, pipelines={"upscale": up})
    path = save_png(result.image, tmp_path / "restored.png")
    chunks = read_png_text(path)

    # The line A1111's Extras tab writes, under both of its names.
    assert chunks[POSTPROCESSING_KEY] == chunks[EXTRAS_KEY]
    post = parse_parameters(chunks[POSTPROCESSING_KEY])
    assert post["Postprocess upscale by"] == "2"
    assert post["Postprocess upscaler"] == "tiny-x4-upscaler"
    assert post["Upscaler model hash"] == unet_hash(tiny_models["upscale"])
    assert post["Upscale steps"] == "2"
    assert post["Postprocess levels"] == "0.5-99.5 percentile"
    assert post["Postprocess denoise"] == "nlm" and post["Denoise strength"] == "3"
    # The source's generation parameters stay, so other tools still read how it was made.
    info = sd_parsers.ParserManager().parse(path)
    assert info is not None and info.full_prompt == PROMPT
    assert info.samplers[0].model.name == "tiny-sd"
    # ... and Daguerre's own record is complete, as before.
    prov = json.loads(chunks[PROVENANCE_KEY])
    assert prov["operation"] == "restore" and prov["recipe"]["upscale"] == 2
    assert [s["step"] for s in prov["report"]["steps"]] == ["levels", "denoise", "upscale"]


def test_a_weights_free_restore_names_its_methods(tmp_path):
    rng = np.random.default_rng(0)
    photo = Image.fromarray(rng.integers(0, 255, (40, 48, 3), np.uint8))
    result = restore(photo, Recipe(upscale=2))
    chunks = read_png_text(save_png(result.image, tmp_path / "r.png"))
    assert PARAMETERS_KEY not in chunks  # nothing was generated: no generation parameters
    post = parse_parameters(chunks[POSTPROCESSING_KEY])
    assert post["Postprocess damage detection"] == "morphology"
    assert post["Postprocess inpaint"] in ("telea", "skipped")
    assert (post["Postprocess upscale by"], post["Postprocess upscaler"]) == ("2", "Lanczos")
    assert sd_parsers.ParserManager().parse(tmp_path / "r.png") is None


def test_model_names_never_a_path():
    assert model_name("stable-diffusion-v1-5/stable-diffusion-v1-5") == (
        "stable-diffusion-v1-5/stable-diffusion-v1-5")
    assert model_name("/srv/models/my-finetune") == "my-finetune"
    assert model_name("/srv/models/my-finetune/") == "my-finetune"
    assert model_name("/root/.cache/huggingface/hub/models--timbrooks--instruct-pix2pix/"
                      "snapshots/31519b5cb02a7fd89b906d88731cd4d6a7bbf88d") == (
        "timbrooks/instruct-pix2pix")


def test_the_model_hash_is_computed_once_and_again_when_the_weights_change(tmp_path):
    unet = tmp_path / "model" / "unet"
    unet.mkdir(parents=True)
    weights = unet / "diffusion_pytorch_model.safetensors"
    weights.write_bytes(b"weights one" * 1000)
    store = tmp_path / "hashes.json"
    first = ModelHashes(store)
    expected = hashlib.sha256(weights.read_bytes()).hexdigest()[:10]
    assert model_hash(unet, first) == expected
    assert model_hash(unet, first) == expected and first.hashed == 1
    # A new process reads the hash from the file instead of the weights.
    second = ModelHashes(store)
    assert model_hash(unet, second) == expected and second.hashed == 0
    # Weights replaced in place (another size and time): hashed again.
    weights.write_bytes(b"weights two!" * 1000)
    os.utime(weights, ns=(1, 1))
    assert model_hash(unet, second) == hashlib.sha256(weights.read_bytes()).hexdigest()[:10]
    assert second.hashed == 1
    # Sharded weights: the shards in their index's order, as one stream.
    weights.unlink()
    shards = {"diffusion_pytorch_model-00001-of-00002.safetensors": b"aaa",
              "diffusion_pytorch_model-00002-of-00002.safetensors": b"bbb"}
    for name, data in shards.items():
        (unet / name).write_bytes(data)
    (unet / "diffusion_pytorch_model.safetensors.index.json").write_text(json.dumps(
        {"weight_map": {"b": "diffusion_pytorch_model-00002-of-00002.safetensors",
                        "a": "diffusion_pytorch_model-00001-of-00002.safetensors"}}))
    assert model_hash(unet, second) == hashlib.sha256(b"aaabbb").hexdigest()[:10]
    assert model_hash(tmp_path / "nothing-here") is None
