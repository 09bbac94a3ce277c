"""Tiny diffusers components built offline, saved with ``save_pretrained``.

Modelled on diffusers' own ``get_dummy_components``: a UNet and VAE a few channels wide and a CLIP
text encoder with a hidden size of 32, so every pipeline runs on a CPU in well under a second a step.
The tokenizer is built from a vocabulary and merges file written here, because nothing may be
downloaded (``hf-internal-testing/tiny-random-clip`` is what diffusers' tests fetch).
"""

from __future__ import annotations

import json
from pathlib import Path

TEXT_DIM = 32


def _bytes_to_unicode() -> list[str]:
    # The byte-to-unicode table of GPT-2/CLIP BPE: every byte gets a printable character.
    bs = list(range(ord("!"), ord("~") + 1)) + list(range(ord("¡"), ord("¬") + 1))
    bs += list(range(ord("®"), ord("ÿ") + 1))
    cs = bs[:]
    n = 0
    for b in range(256):
        if b not in bs:
            bs.append(b)
            cs.append(256 + n)
            n += 1
    return [chr(c) for c in cs]


def build_tokenizer(directory: Path):
    """A CLIP tokenizer whose vocabulary is every byte, alone and word-final, plus a few merges."""
    from transformers import CLIPTokenizer

    directory.mkdir(parents=True, exist_ok=True)
    chars = _bytes_to_unicode()
    merges = [("a", "n"), ("t", "h"), ("th", "e</w>"), ("o", "f</w>"), ("r", "e")]
    tokens = ["<|startoftext|>", "<|endoftext|>"] + chars + [c + "</w>" for c in chars]
    tokens += ["".join(m) for m in merges]
    vocab = {tok: i for i, tok in enumerate(dict.fromkeys(tokens))}
    (directory / "vocab.json").write_text(json.dumps(vocab), encoding="utf-8")
    (directory / "merges.txt").write_text(
        "#version: 0.2\n" + "".join(f"{a} {b}\n" for a, b in merges), encoding="utf-8"
    )
    tok = CLIPTokenizer(
        vocab_file=str(directory / "vocab.json"),
        merges_file=str(directory / "merges.txt"),
        model_max_length=77,
    )
    return tok, len(vocab)


def _text_encoder(vocab_size: int):
    from transformers import CLIPTextConfig, CLIPTextModel

    config = CLIPTextConfig(
        bos_token_id=0,
        eos_token_id=1,
        pad_token_id=1,
        hidden_size=TEXT_DIM,
        intermediate_size=64,
        layer_norm_eps=1e-05,
        num_attention_heads=4,
        num_hidden_layers=2,
        vocab_size=vocab_size,
        max_position_embeddings=77,
    )
    return CLIPTextModel(config)


def _unet(in_channels: int):
    from diffusers import UNet2DConditionModel

    return UNet2DConditionModel(
        block_out_channels=(8, 16),
        layers_per_block=1,
        sample_size=16,
        in_channels=in_channels,
        out_channels=4,
        down_block_types=("DownBlock2D", "CrossAttnDownBlock2D"),
        up_block_types=("CrossAttnUpBlock2D", "UpBlock2D"),
        cross_attention_dim=TEXT_DIM,
        norm_num_groups=4,
        attention_head_dim=4,
    )


def _vae(levels: int = 3):
    from diffusers import AutoencoderKL

    return AutoencoderKL(
        block_out_channels=[8, 16, 16][:levels],
        in_channels=3,
        out_channels=3,
        down_block_types=["DownEncoderBlock2D"] * levels,
        up_block_types=["UpDecoderBlock2D"] * levels,
        latent_channels=4,
        norm_num_groups=4,
        sample_size=32,
    )


def _scheduler():
    from diffusers import DDIMScheduler

    return DDIMScheduler(
        beta_start=0.00085,
        beta_end=0.012,
        beta_schedule="scaled_linear",
        clip_sample=False,
        set_alpha_to_one=False,
        steps_offset=1,
    )


def save_tiny_pipelines(root: Path) -> dict[str, Path]:
    """Build and save one tiny model per task; return ``{task: directory}``."""
    import torch
    from diffusers import (
        DDPMScheduler,
        StableDiffusionInpaintPipeline,
        StableDiffusionInstructPix2PixPipeline,
        StableDiffusionPipeline,
        StableDiffusionUpscalePipeline,
        UNet2DConditionModel,
    )

    torch.manual_seed(0)
    tok_dir = root / "_tokenizer_src"
    tokenizer, vocab_size = build_tokenizer(tok_dir)
    common = {"safety_checker": None, "feature_extractor": None, "requires_safety_checker": False}
    out: dict[str, Path] = {}

    def text_parts() -> dict:
        return {"text_encoder": _text_encoder(vocab_size), "tokenizer": tokenizer}

    sd = StableDiffusionPipeline(
        unet=_unet(4), vae=_vae(), scheduler=_scheduler(), image_encoder=None, **text_parts(), **common
    )
    out["generate"] = root / "tiny-sd"
    sd.save_pretrained(out["generate"])

    inpaint = StableDiffusionInpaintPipeline(
        unet=_unet(9), vae=_vae(), scheduler=_scheduler(), image_encoder=None, **text_parts(), **common
    )
    out["inpaint"] = root / "tiny-sd-inpaint"
    inpaint.save_pretrained(out["inpaint"])

    edit = StableDiffusionInstructPix2PixPipeline(
        unet=_unet(8), vae=_vae(), scheduler=_scheduler(), image_encoder=None, **text_parts(), **common
    )
    out["edit"] = root / "tiny-pix2pix"
    edit.save_pretrained(out["edit"])

    # The x4 upscaler conditions on the low-resolution image (4 latent + 3 image channels) and on a
    # noise level through a class embedding; its VAE has three levels, so it decodes at x4.
    up_unet = UNet2DConditionModel(
        block_out_channels=(8, 16, 16),
        layers_per_block=1,
        sample_size=16,
        in_channels=7,
        out_channels=4,
        down_block_types=("DownBlock2D", "CrossAttnDownBlock2D", "CrossAttnDownBlock2D"),
        up_block_types=("CrossAttnUpBlock2D", "CrossAttnUpBlock2D", "UpBlock2D"),
        cross_attention_dim=TEXT_DIM,
        attention_head_dim=4,
        norm_num_groups=4,
        use_linear_projection=True,
        only_cross_attention=(True, True, False),
        num_class_embeds=100,
    )
    vae = _vae(levels=3)
    vae.register_to_config(scaling_factor=0.08333)
    upscale = StableDiffusionUpscalePipeline(
        unet=up_unet,
        vae=vae,
        low_res_scheduler=DDPMScheduler(),
        scheduler=_scheduler(),
        max_noise_level=350,
        **text_parts(),
    )
    out["upscale"] = root / "tiny-x4-upscaler"
    upscale.save_pretrained(out["upscale"])
    out["translate"] = out["generate"]
    return out
