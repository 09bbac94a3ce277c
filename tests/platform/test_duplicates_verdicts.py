"""The near tier's pixel checks are kept in the catalog: a duplicates run after a restart (a new
web process, another worker) reads the verdicts instead of checking every pair again, and a
verdict of another check version or thumbnail size is never read."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner
from sqlalchemy import func, select

from daguerre.indexer import near_copy
from daguerre.platform.catalog.models import NearCopyVerdict
from daguerre.platform.cli import main
from daguerre.platform.context import Context
from daguerre.platform.services import duplicates as service
from tests.support import simple_graphics as sg


def invoke(*args: str) -> str:
    result = CliRunner().invoke(main, list(args))
    assert result.exit_code == 0, result.output
    return result.output


@pytest.fixture()
def graphics(clip_env: dict, tmp_path: Path) -> Path:
    """6 families of 3 pictures a few bits apart, each picture with its three copies."""
    root = tmp_path / "graphics"
    root.mkdir()
    rng = np.random.default_rng(11)
    for f, fam in enumerate(sg.families(6, 3, seed=4)):
        for k, g in enumerate(fam):
            img = sg.draw(g)
            (root / f"{f:02d}{k}-original.png").write_bytes(sg.encode(img))
            for kind, data in sg.copies(img, rng).items():
                (root / f"{f:02d}{k}-{kind}.{'png' if kind == 'resized' else 'jpg'}"
                 ).write_bytes(data)
    invoke("library", "add", str(root), "--name", "graphics")
    invoke("index", "graphics")
    return root


def _forget_this_process() -> None:
    """What a fresh process knows: nothing but the catalog."""
    service.VERDICTS.clear()
    service._LOADED.clear()
    service._SEARCHES.clear()


def _groups(ctx: Context) -> list[tuple[str, tuple[int, ...]]]:
    return [(g.id, tuple(m.id for m in g.members))
            for g in service.find_duplicates(ctx, tiers=("exact", "near"))]


def test_a_new_process_reads_the_verdicts_instead_of_checking_again(
        graphics: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    _forget_this_process()
    calls = {"n": 0}
    real = near_copy.compare

    def counting(a, b):  # noqa: ANN001, ANN202
        calls["n"] += 1
        return real(a, b)

    monkeypatch.setattr(near_copy, "compare", counting)
    ctx = Context()
    try:
        first = _groups(ctx)
        checked = calls["n"]
        assert checked > 0 and any(len(m) > 1 for _, m in first)
        with ctx.catalog.session() as s:
            stored = s.scalar(select(func.count()).select_from(NearCopyVerdict))
            sizes = set(s.scalars(select(NearCopyVerdict.thumbnail_size)))
        assert stored == checked  # one row per pair checked
        assert sizes == {int(ctx.settings.thumbnail_size)}

        _forget_this_process()  # a restart: the catalog is all that is left
        calls["n"] = 0
        assert _groups(ctx) == first
        assert calls["n"] == 0, "pairs were checked again"

        # A new version of the check reads none of the old verdicts: it checks again.
        _forget_this_process()
        monkeypatch.setattr(near_copy, "VERSION", near_copy.VERSION + 1)
        assert _groups(ctx) == first
        assert calls["n"] == checked
        with ctx.catalog.session() as s:
            assert s.scalar(select(func.count()).select_from(NearCopyVerdict)) == 2 * checked
    finally:
        _forget_this_process()
        ctx.close()
