"""Near duplicates of simple graphics through the CLI, on a really indexed library: the copies of
each picture (resized, re-encoded, slightly cropped) are grouped with it, and pictures a few
perceptual-hash bits apart never share a group; the pixel check reads the stored thumbnails, and
an image whose thumbnail file is gone is left out rather than guessed at.

The near tier's second signal is the thumbnails' pixels, not the embedding, so the tiny random
CLIP of ``clip_env`` is enough here (the embedding only feeds the similar tier).
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner
from sqlalchemy import select

from daguerre.indexer.duplicates import NEAR_MAX_DISTANCE
from daguerre.platform.catalog.models import Image
from daguerre.platform.cli import main
from daguerre.platform.context import Context
from tests.support import simple_graphics as sg


def invoke(*args: str) -> str:
    result = CliRunner().invoke(main, list(args))
    assert result.exit_code == 0, result.output
    return result.output


def picture(path: str) -> str:
    """``0312`` from ``0312-cropped.jpg``: which picture a file shows."""
    return Path(path).stem.split("-")[0]


@pytest.fixture()
def graphics(clip_env: dict, tmp_path: Path) -> Path:
    """12 families of 3 pictures a few bits apart, each picture with its three copies."""
    root = tmp_path / "graphics"
    root.mkdir()
    rng = np.random.default_rng(5)
    for f, fam in enumerate(sg.families(12, 3, seed=9)):
        for k, g in enumerate(fam):
            img = sg.draw(g)
            (root / f"{f:02d}{k}-original.png").write_bytes(sg.encode(img))
            for kind, data in sg.copies(img, rng).items():
                ext = "png" if kind == "resized" else "jpg"
                (root / f"{f:02d}{k}-{kind}.{ext}").write_bytes(data)
    invoke("library", "add", str(root), "--name", "graphics")
    invoke("index", "graphics")
    return root


def near_groups() -> list[dict]:
    return json.loads(invoke("duplicates", "--tier", "near", "--json"))


def test_copies_join_their_picture_and_different_pictures_never_do(graphics: Path) -> None:
    groups = near_groups()
    pictures = {p.stem.split("-")[0] for p in graphics.iterdir()}
    assert len(pictures) == 36
    by_picture = {}
    for g in groups:
        shown = {picture(m["path"]) for m in g["members"]}
        assert len(shown) == 1, f"group {g['group']} holds pictures {sorted(shown)}"
        keeper = next(m for m in g["members"] if m["id"] == g["keeper"])
        assert keeper["path"].endswith("-original.png")  # the largest
        by_picture[shown.pop()] = {Path(m["path"]).stem.split("-")[1] for m in g["members"]}
    ctx = Context()
    with ctx.catalog.session() as s:
        phash = {Path(p).stem: h for p, h in s.execute(select(Image.path, Image.phash))}
    ctx.close()
    # The hash alone would have joined different pictures: some are within its reach.
    originals = sorted(h for stem, h in phash.items() if stem.endswith("-original"))
    close = sum(bin(int(a, 16) ^ int(b, 16)).count("1") <= NEAR_MAX_DISTANCE
                for i, a in enumerate(originals) for b in originals[i + 1:])
    assert close >= 5
    for name in sorted(pictures):
        kinds = by_picture.get(name, set())
        assert {"original", "resized", "jpeg"} <= kinds, (name, kinds)
        if "cropped" not in kinds:  # only when the crop moved the hash out of reach
            bits = bin(int(phash[f"{name}-original"], 16) ^ int(phash[f"{name}-cropped"], 16))
            assert bits.count("1") > NEAR_MAX_DISTANCE, name


def test_an_image_whose_thumbnail_is_gone_is_left_out(graphics: Path) -> None:
    before = near_groups()
    ctx = Context()
    with ctx.catalog.session() as s:
        copy_id, thumb = s.execute(select(Image.id, Image.thumbnail)
                                   .where(Image.path.like("%000-resized.png"))).one()
    (ctx.settings.home / thumb).unlink()
    ctx.close()
    after = near_groups()
    assert copy_id in {m["id"] for g in before for m in g["members"]}
    assert copy_id not in {m["id"] for g in after for m in g["members"]}
    # Every other group is as it was.
    assert ({g["group"] for g in after} - {g["group"] for g in before}
            == {g["group"] for g in after if picture(g["members"][0]["path"]) == "000"})
    assert len(after) == len(before)
