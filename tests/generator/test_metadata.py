"""PNG metadata: A1111's parameters chunk and the JSON provenance chunk."""

from __future__ import annotations

import numpy as np
from PIL import Image

from daguerre.generator.metadata import (
    a1111_fields,
    format_parameters,
    parse_parameters,
    read_png_metadata,
    save_png,
)

# Written by AUTOMATIC1111 1.x (as found in its PNGs): quoted values hold commas and colons.
A1111_SAMPLE = (
    "masterpiece, a (cat:1.2) on a sofa\n"
    "Negative prompt: blurry, lowres\n"
    "Steps: 20, Sampler: DPM++ 2M, Schedule type: Karras, CFG scale: 7, Seed: 3607441366, "
    'Size: 512x768, Model hash: 6ce0161689, Model: v1-5-pruned-emaonly, Lora hashes: "detail: 1b2c, '
    'style: 9f8e", Version: v1.10.1'
)


def test_parse_a1111_sample():
    p = parse_parameters(A1111_SAMPLE)
    assert p["Prompt"] == "masterpiece, a (cat:1.2) on a sofa"
    assert p["Negative prompt"] == "blurry, lowres"
    assert p["Steps"] == "20" and p["Sampler"] == "DPM++ 2M" and p["Seed"] == "3607441366"
    assert (p["Size-1"], p["Size-2"]) == ("512", "768")
    assert p["Lora hashes"] == "detail: 1b2c, style: 9f8e"
    assert p["Version"] == "v1.10.1"


def test_format_matches_a1111_layout():
    fields = a1111_fields(steps=25, sampler="Euler a", guidance_scale=7.0, seed=1, width=512,
                          height=512, model="stable-diffusion-v1-5/stable-diffusion-v1-5",
                          strength=0.75)
    text = format_parameters("a cat", "dog", fields)
    assert text == (
        "a cat\nNegative prompt: dog\nSteps: 25, Sampler: Euler a, CFG scale: 7, Seed: 1, "
        "Size: 512x512, Model: stable-diffusion-v1-5/stable-diffusion-v1-5, Denoising strength: 0.75"
    )


def test_missing_negative_prompt_and_multiline_prompt_round_trip():
    fields = a1111_fields(steps=10, sampler="DDIM", guidance_scale=7.5, seed=42, width=640,
                          height=384, model="C:\\models\\sd, v1")
    text = format_parameters("line one\nline two: with colon", "", fields)
    assert "Negative prompt" not in text
    p = parse_parameters(text)
    assert p["Prompt"] == "line one\nline two: with colon"
    assert p["Negative prompt"] == ""
    assert p["Model"] == "C:\\models\\sd, v1"  # quoted on write (comma, colon), unquoted on read
    assert p["CFG scale"] == "7.5" and p["Size-1"] == "640"

    text = format_parameters("up\nthere", "neg one\nneg two", fields)
    p = parse_parameters(text)
    assert p["Prompt"] == "up\nthere" and p["Negative prompt"] == "neg one\nneg two"


def test_text_without_parameter_line_is_all_prompt():
    p = parse_parameters("just a prompt, nothing else")
    assert p["Prompt"] == "just a prompt, nothing else" and "Steps" not in p


def test_png_round_trip_with_unicode(tmp_path):
    image = Image.fromarray(np.random.default_rng(0).integers(0, 255, (32, 48, 3), np.uint8))
    fields = a1111_fields(steps=30, sampler="Euler", guidance_scale=5, seed=9, width=48,
                          height=32, model="m")
    text = format_parameters("café, naïve – 写真", "", fields)
    prov = {"operation": "generate", "parameters": {"seed": 9, "prompt": "café"}, "parents": [3]}
    path = save_png(image, tmp_path / "out" / "a.png", text, prov)
    params, provenance = read_png_metadata(path)
    assert params == text
    assert provenance == prov
    assert parse_parameters(params)["Prompt"] == "café, naïve – 写真"
    with Image.open(path) as reread:
        assert np.array_equal(np.asarray(reread), np.asarray(image))
    assert not list((tmp_path / "out").glob("*.tmp"))  # the atomic write left no temp file


def test_save_png_uses_metadata_attached_by_the_generator(tmp_path):
    from daguerre.generator.metadata import attach

    image = attach(Image.new("RGB", (8, 8)), "p\nSteps: 1, Sampler: DDIM, Seed: 2", {"seed": 2})
    params, prov = read_png_metadata(save_png(image, tmp_path / "b.png"))
    assert parse_parameters(params)["Seed"] == "2" and prov == {"seed": 2}
