"""Shared fixtures: tiny diffusers models saved once per session, loaded through the user path."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent))


@pytest.fixture(scope="session", autouse=True)
def _one_torch_thread():
    """Tiny models gain nothing from intra-op threads; on a busy 2-core machine two threads per
    process oversubscribe the cores and a 0.3 s run takes 5 s."""
    import torch

    previous = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(previous)


@pytest.fixture(scope="session")
def tiny_models(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    from tiny_diffusers import save_tiny_pipelines

    return save_tiny_pipelines(tmp_path_factory.mktemp("tiny-diffusers"))


@pytest.fixture()
def cache():
    from daguerre.generator.models import ModelCache

    return ModelCache()


@pytest.fixture()
def photo():
    """A real photograph (scikit-image's astronaut) at 128x128, as a PIL image."""
    from PIL import Image
    from skimage import data

    return Image.fromarray(data.astronaut()).resize((128, 128), Image.Resampling.LANCZOS)
