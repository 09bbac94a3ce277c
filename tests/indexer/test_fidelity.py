"""Our decode + preprocess + encode path against open_clip's own reference pipeline."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image

from daguerre.indexer.decode import DecodeOptions, decode_file
from daguerre.indexer.models import ClipSpec, load_clip
from tests.support.images import PHOTOS, photo


@pytest.fixture(scope="module")
def encoder(tiny_clip):
    cfg, weights = tiny_clip
    return load_clip(ClipSpec(str(cfg), str(weights)), "cpu")


@pytest.fixture(scope="module")
def reference(tiny_clip):
    """open_clip's documented inference recipe: create_model_and_transforms + encode_image."""
    import open_clip
    import torch

    cfg, weights = tiny_clip
    model, _, preprocess = open_clip.create_model_and_transforms(cfg.stem, pretrained=str(weights))
    model.eval()

    def embed(path) -> np.ndarray:
        with torch.no_grad():
            x = model.encode_image(preprocess(Image.open(path)).unsqueeze(0))
        return (x / x.norm(dim=-1, keepdim=True))[0].numpy()

    return embed


def _ours(encoder, path, draft: bool) -> np.ndarray:
    d = decode_file(path, DecodeOptions(encoder.pixel_stage, draft=draft))
    return encoder.encode_pixels([d.pixels])[0]


@pytest.mark.parametrize("name", PHOTOS)
@pytest.mark.parametrize("fmt", ["jpg", "png"])
def test_exact_without_draft(encoder, reference, tmp_path, name, fmt):
    path = tmp_path / f"{name}.{fmt}"
    photo(name).save(path)
    np.testing.assert_allclose(_ours(encoder, path, draft=False), reference(path), atol=1e-5)


@pytest.mark.parametrize("name", PHOTOS)
@pytest.mark.parametrize("size", [(2048, 1536), (1152, 864)], ids=["3mp", "1mp"])
def test_draft_close_to_reference(encoder, reference, tmp_path, name, size):
    # Enlarge the sample photo so libjpeg can reduce it: 3 MP decodes at 1/4 (above the model
    # size), 1 MP at 1/4 too (288x216: just under 224, allowed by the draft slack).
    img = photo(name).resize(size, Image.Resampling.LANCZOS)
    path = tmp_path / f"{name}.jpg"
    img.save(path, quality=90)
    with Image.open(path) as probe:
        probe.draft("RGB", (size[0] // 4, size[1] // 4))
        assert probe.size[0] < img.width, "draft did not reduce: the test would prove nothing"
    ours = _ours(encoder, path, draft=True)
    cos = float(ours @ reference(path))
    assert cos >= 0.995, f"{name}: cosine {cos:.5f} to the reference"


def test_embeddings_are_unit_float32(encoder, tmp_path):
    path = tmp_path / "a.jpg"
    photo("coffee").save(path)
    e = _ours(encoder, path, draft=True)
    assert e.dtype == np.float32 and e.shape == (encoder.dim,)
    assert abs(float(np.linalg.norm(e)) - 1.0) < 1e-5
    t = encoder.encode_text(["a cup of coffee", "a rocket"])
    assert t.shape == (2, encoder.dim)
    np.testing.assert_allclose(np.linalg.norm(t, axis=1), 1.0, atol=1e-5)
