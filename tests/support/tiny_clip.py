"""A tiny open_clip architecture, written to disk as a user would provide one: a config JSON in
open_clip's format plus a weights file. Random weights, fixed seed: fine for plumbing tests;
``tests/support/trained_clip.py`` trains one when a test needs retrieval to mean something."""

from __future__ import annotations

import json
from pathlib import Path

TINY_CONFIG = {
    "embed_dim": 32,
    "vision_cfg": {"image_size": 224, "layers": 2, "width": 64, "patch_size": 32, "head_width": 32},
    "text_cfg": {"context_length": 77, "vocab_size": 49408, "width": 64, "heads": 2, "layers": 2},
}


def write_tiny_clip(directory: Path, *, name: str = "TinyCLIP-test", seed: int = 0,
                    config: dict | None = None) -> tuple[Path, Path]:
    """Write ``<name>.json`` and ``<name>.pt`` into ``directory``; return their paths."""
    import open_clip
    import torch

    directory.mkdir(parents=True, exist_ok=True)
    cfg_path = directory / f"{name}.json"
    weights_path = directory / f"{name}.pt"
    if cfg_path.is_file() and weights_path.is_file():
        return cfg_path, weights_path
    cfg_path.write_text(json.dumps(config or TINY_CONFIG, indent=2))
    open_clip.add_model_config(cfg_path)
    torch.manual_seed(seed)
    model = open_clip.create_model(name, pretrained=None)
    torch.save(model.state_dict(), weights_path)
    return cfg_path, weights_path
