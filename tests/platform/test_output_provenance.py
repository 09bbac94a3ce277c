"""Provenance other tools read, through the platform's jobs: the model named by its folder name
with A1111's hash (computed once, kept under the data directory), and a restore of a generated
image keeping that image's generation parameters beside A1111's post-processing line."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import sd_parsers
from PIL import Image as PILImage

from tests.platform.test_generation import (  # noqa: F401 - fixtures
    _one_torch_thread,
    env,
    tiny_models,
)


def test_generated_then_restored_outputs_are_read_by_other_tools(
        env, tiny_models) -> None:  # noqa: ANN001, F811
    from daguerre.platform.services.generation.operations import model_hashes

    params = {"prompt": "a lighthouse, at dusk", "negative_prompt": "fog", "seed": 9,
              "steps": 2, "width": 64, "height": 64}
    first = env.run("generate", params)
    again = env.run("generate", {**params, "seed": 10})
    assert first["status"] == again["status"] == "succeeded"
    path = Path(first["result"]["outputs"][0]["path"])
    info = sd_parsers.ParserManager().parse(path)
    unet = tiny_models["generate"] / "unet" / "diffusion_pytorch_model.safetensors"
    expected = hashlib.sha256(unet.read_bytes()).hexdigest()[:10]
    assert (info.samplers[0].model.name, info.samplers[0].model.hash) == ("tiny-sd", expected)
    # Hashed once for both jobs, and kept for the next process under the data directory.
    assert model_hashes(env.ctx).hashed == 1
    kept = json.loads((env.ctx.settings.home / "cache" / "model-hashes.json").read_text())
    assert [v["sha256"][:10] for v in kept.values()] == [expected]

    restored = env.run("restore", {"image_ids": [first["result"]["image_ids"][0]]})
    assert restored["status"] == "succeeded", restored
    out = Path(restored["result"]["outputs"][0]["path"])
    with PILImage.open(out) as im:
        chunks = dict(im.text)
    assert "Postprocess denoise: nlm" in chunks["postprocessing"]
    assert chunks["extras"] == chunks["postprocessing"]
    assert json.loads(chunks["daguerre"])["operation"] == "restore"
    again_info = sd_parsers.ParserManager().parse(out)
    assert again_info.full_prompt == "a lighthouse, at dusk"
    assert again_info.full_negative_prompt == "fog"
    assert again_info.samplers[0].parameters["seed"] == "9"
