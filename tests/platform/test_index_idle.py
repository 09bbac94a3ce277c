"""Nothing to index costs nothing: a run over an unchanged library starts neither the CLIP model
nor the decode workers, and a changed file is still picked up."""

from __future__ import annotations

import json
import multiprocessing
import os
from pathlib import Path

import pytest
from click.testing import CliRunner
from sqlalchemy import event

from daguerre.platform.cli import main
from daguerre.platform.context import Context
from tests.support.images import noise_image


class Starts:
    """Counts requests for the CLIP model (whichever runtime serves it) and decode pools; with
    ``allowed`` False, either one fails the run."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch) -> None:
        import daguerre.indexer.pipeline as pipeline

        self.allowed = False
        self.models = 0
        self.pools = 0
        real_encoder, real_pool = Context.encoder, pipeline.DecodePool

        def encoder(ctx: Context):  # noqa: ANN202
            self.models += 1
            assert self.allowed, "the CLIP model was loaded although nothing needed embedding"
            return real_encoder(ctx)

        class CountingPool(real_pool):
            def __init__(pool, *args, **kwargs) -> None:  # noqa: N805, ANN002, ANN003
                self.pools += 1
                assert self.allowed, "decode workers started although nothing needed decoding"
                super().__init__(*args, **kwargs)

        monkeypatch.setattr(Context, "encoder", encoder)
        monkeypatch.setattr(pipeline, "DecodePool", CountingPool)


def index_cli() -> dict:
    result = CliRunner().invoke(main, ["index", "--json"], catch_exceptions=False)
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)  # the model runtime may say a line on stderr


@pytest.fixture()
def library(clip_env, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("DAGUERRE_DECODE_WORKERS", "1")
    root = tmp_path / "photos"
    (root / "sub").mkdir(parents=True)
    for i in range(6):
        noise_image(i).save(root / ("sub" if i % 2 else "") / f"p{i}.jpg")
    CliRunner().invoke(main, ["library", "add", str(root), "--name", "family"],
                       catch_exceptions=False)
    first = index_cli()  # the model and the workers start: there is something to embed
    assert (first["added"], first["failed"]) == (6, 0)
    return root


def test_unchanged_library_starts_neither_model_nor_workers(library: Path, monkeypatch):
    starts = Starts(monkeypatch)
    summary = index_cli()
    assert (summary["added"], summary["updated"], summary["unchanged"]) == (0, 0, 6)
    assert (starts.models, starts.pools) == (0, 0)
    assert multiprocessing.active_children() == []

    # Touched (same bytes, new mtime), vanished, moved: catalog work only, still no model.
    os.utime(library / "p0.jpg", (1, 1))
    (library / "sub" / "p1.jpg").unlink()
    (library / "p2.jpg").rename(library / "sub" / "moved.jpg")
    summary = index_cli()
    assert {k: summary[k] for k in ("added", "updated", "unchanged", "moved", "missing")} == {
        "added": 0, "updated": 0, "unchanged": 4, "moved": 1, "missing": 1}
    assert (starts.models, starts.pools) == (0, 0)
    starts.allowed = True  # reading the store back through the context loads the model
    ctx = Context()
    try:
        assert len(ctx.store()) == 5  # the vanished file's vector left the store
    finally:
        ctx.close()


def test_changed_file_is_picked_up(library: Path, monkeypatch):
    starts = Starts(monkeypatch)
    starts.allowed = True
    noise_image(50).save(library / "p0.jpg")
    os.utime(library / "p0.jpg", (2, 2))  # a new mtime even on a coarse clock
    noise_image(51).save(library / "new.jpg")
    summary = index_cli()
    assert (summary["added"], summary["updated"], summary["unchanged"]) == (1, 1, 5)
    assert starts.models >= 1 and starts.pools == 1

    starts.allowed = False  # and once embedded, the next run is idle again
    assert index_cli()["unchanged"] == 7


def test_idle_run_queries_the_catalog_a_fixed_number_of_times(library: Path, monkeypatch):
    """No query per file: twice the files, the same number of statements."""
    from daguerre.platform.services.indexing import index_library

    starts = Starts(monkeypatch)

    def statements() -> int:
        ctx = Context()
        seen: list[str] = []
        event.listen(ctx.catalog.engine, "before_cursor_execute",
                     lambda *args: seen.append(args[2]))
        try:
            assert index_library(ctx, "family").added == 0
        finally:
            ctx.close()
        return len(seen)

    few = statements()
    for i in range(6, 12):  # as many files again
        noise_image(i).save(library / f"p{i}.jpg")
    starts.allowed = True
    assert index_cli()["added"] == 6
    starts.allowed = False
    assert statements() == few
