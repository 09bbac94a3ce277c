"""The CLIP runtime as a user meets it: `daguerre index` says which runtime and precision it
uses, `models export` / `models info` show the check, vectors record what made them, and
switching runtime on an indexed library re-embeds nothing."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

pytest.importorskip("onnxruntime")

from daguerre.platform.cli import main  # noqa: E402
from tests.support.images import noise_image, write_photos  # noqa: E402


def run(*args: str, expect: int = 0) -> tuple[str, str]:
    """(stdout, stderr) of one CLI call."""
    result = CliRunner().invoke(main, list(args), catch_exceptions=False)
    assert result.exit_code == expect, result.output
    return result.stdout, result.stderr


@pytest.fixture()
def library(clip_env, tmp_path: Path) -> Path:
    # The export cache is the run's shared one (conftest's onnx_cache): the tiny model is
    # exported and checked once per run.
    root = tmp_path / "photos"
    write_photos(root)
    run("library", "add", str(root), "--name", "family")
    return root


def embedding_rows() -> list[tuple[str | None, str | None]]:
    from sqlalchemy import select

    from daguerre.platform.catalog.models import ImageEmbedding
    from daguerre.platform.context import Context

    ctx = Context()
    try:
        with ctx.catalog.session() as s:
            return [tuple(r) for r in s.execute(
                select(ImageEmbedding.runtime, ImageEmbedding.precision)
                .order_by(ImageEmbedding.image_id))]
    finally:
        ctx.close()


def test_index_uses_onnx_on_a_cpu_and_says_so(library: Path):
    out, _ = run("index", "--json")
    summary = json.loads(out)
    assert summary["added"] == 4
    assert summary["runtime"] == "onnx" and summary["precision"] in {"fp32", "int8"}
    assert summary["libraries"][0]["runtime"] == "onnx"
    assert set(embedding_rows()) == {("onnx", summary["precision"])}
    noise_image(1).save(library / "new.png")
    out, _ = run("index")
    assert f"CLIP on ONNX Runtime {summary['precision']}" in out
    out, _ = run("index", "--json")
    assert json.loads(out)["runtime"] is None, "nothing embedded: no runtime to report"


def test_models_export_and_info_show_the_check(library: Path):
    out, _ = run("models", "export", "--precision", "int8", "--json")
    exported = json.loads(out)
    assert Path(exported["path"]).is_dir() and "-int8-ort" in exported["path"]
    check = exported["agreement"]
    assert check["threshold"] == 0.999 and check["image_source"] in {"library", "samples"}
    info = json.loads(run("models", "info", "--task", "clip")[0])["runtime"]
    assert info["runtime_setting"] == "auto" and info["runtime"] == "onnx"
    int8 = info["onnx"]["int8"]
    assert int8["path"] == exported["path"] and int8["exported"]
    assert int8["agreement"]["images"] == check["images"]
    assert int8["agreement"]["passed"] == check["passed"]
    # What is used follows the check: int8 when it passed, fp32 when it was refused.
    assert info["precision"] == ("int8" if check["passed"] else "fp32")
    assert info["onnx"]["fp32"]["agreement"]["passed"]
    text, _ = run("models", "export", "--precision", "fp32")
    assert text.startswith("already exported") and "passes" in text


def test_switching_runtime_reembeds_nothing(library: Path, monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setenv("DAGUERRE_CLIP_RUNTIME", "torch")
    first = json.loads(run("index", "--json")[0])
    assert (first["added"], first["runtime"], first["precision"]) == (4, "torch", "fp32")
    before = json.loads(run("search", "a cat", "--json", "-n", "4")[0])

    monkeypatch.setenv("DAGUERRE_CLIP_RUNTIME", "onnx")
    again = json.loads(run("index", "--json")[0])
    assert (again["added"], again["updated"], again["unchanged"]) == (0, 0, 4)
    after = json.loads(run("search", "a cat", "--json", "-n", "4")[0])
    assert [h["id"] for h in after] == [h["id"] for h in before]
    noise_image(2).save(library / "new.png")
    third = json.loads(run("index", "--json")[0])
    assert third["added"] == 1 and third["runtime"] == "onnx"
    assert sorted(r[0] for r in embedding_rows()) == ["onnx", "torch", "torch", "torch", "torch"]


def test_an_unknown_runtime_is_refused(clip_env, monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setenv("DAGUERRE_CLIP_RUNTIME", "tensorrt")
    result = CliRunner().invoke(main, ["models", "info"])
    assert result.exit_code == 2
    assert "DAGUERRE_CLIP_RUNTIME must be auto, torch or onnx" in result.output
