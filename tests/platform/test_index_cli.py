"""`daguerre library/index/search/similar` end to end, as a user runs them."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner

from daguerre.platform.cli import main
from daguerre.platform.config import load_settings
from tests.conftest import closed_port
from tests.support.images import noise_image, write_bomb, write_photos


def run(*args: str, expect: int = 0) -> str:
    result = CliRunner().invoke(main, list(args), catch_exceptions=False)
    assert result.exit_code == expect, result.output
    return result.output


def index_json(*args: str) -> dict:
    return json.loads(run("index", "--json", *args))


@pytest.fixture()
def library(clip_env, tmp_path: Path) -> Path:
    root = tmp_path / "photos"
    write_photos(root)
    (root / "nested" / "deeper").mkdir(parents=True)
    for i in range(3):
        noise_image(i).save(root / "nested" / "deeper" / f"n{i}.png")
    run("library", "add", str(root), "--name", "family")
    return root


def store_ids() -> set[int]:
    from daguerre.platform.context import Context

    ctx = Context()
    try:
        return set(ctx.store().ids().tolist())
    finally:
        ctx.close()


def test_incremental_add_change_delete_rename(library: Path):
    first = index_json()
    assert (first["added"], first["failed"], first["unchanged"]) == (7, 0, 0)
    assert len(store_ids()) == 7

    again = index_json()
    assert again["added"] == again["updated"] == again["moved"] == 0
    assert again["unchanged"] == 7, "a second run must embed nothing"

    # add one, change one, delete one, rename one
    noise_image(10).save(library / "new.png")
    noise_image(11).save(library / "nested" / "deeper" / "n0.png")
    os.utime(library / "nested" / "deeper" / "n0.png", (1, 1))  # mtime differs even if fast
    (library / "coffee.jpg").unlink()
    before = {h["path"]: h["id"] for h in json.loads(run("search", "x", "--json", "-n", "50"))}
    (library / "chelsea.jpg").rename(library / "nested" / "cat.jpg")

    summary = index_json("family")
    assert {k: summary[k] for k in ("added", "updated", "moved", "missing", "failed")} == {
        "added": 1, "updated": 1, "moved": 1, "missing": 1, "failed": 0}
    assert summary["unchanged"] == 4
    after = {h["path"]: h["id"] for h in json.loads(run("search", "x", "--json", "-n", "50"))}
    assert after[str(library / "nested" / "cat.jpg")] == before[str(library / "chelsea.jpg")]
    assert str(library / "coffee.jpg") not in after
    assert len(after) == 7 and store_ids() == set(after.values())

    # touching a file without changing its bytes re-embeds nothing (sha256 confirms)
    os.utime(library / "astronaut.jpg", (2, 2))
    assert index_json()["unchanged"] == 7


def test_search_by_indexed_image_returns_itself_first(library: Path):
    index_json()
    hits = json.loads(run("search", "--image", str(library / "rocket.jpg"), "--json"))
    assert hits[0]["path"] == str(library / "rocket.jpg")
    assert hits[0]["score"] == pytest.approx(1.0, abs=1e-3)
    assert [h["score"] for h in hits] == sorted((h["score"] for h in hits), reverse=True)
    assert {"id", "path", "score"} <= set(hits[0])

    similar = json.loads(run("similar", str(hits[0]["id"]), "--json", "-n", "3"))
    assert hits[0]["id"] not in [h["id"] for h in similar] and len(similar) == 3

    text = json.loads(run("search", "a rocket on a launch pad", "--json", "-n", "4"))
    assert len(text) == 4 and all(-1.0 <= h["score"] <= 1.0 for h in text)


def test_bad_inputs_are_recorded_and_skipped(library: Path):
    (library / "notes.jpg").write_text("not an image")
    (library / "empty.png").write_bytes(b"")
    good = (library / "astronaut.jpg").read_bytes()
    (library / "truncated.jpg").write_bytes(good[: len(good) // 3])
    (library / "corrupt.jpg").write_bytes(good[:300] + bytes(range(256)) * 40)
    write_bomb(library / "bomb.png")
    outside = library.parent / "elsewhere.jpg"
    shutil.copy(library / "rocket.jpg", outside)
    (library / "link.jpg").symlink_to(outside)

    summary = index_json()
    assert summary["added"] == 7
    reasons = {Path(f["path"]).name: f["reason"] for f in summary["failures"]}
    assert summary["failed"] == len(reasons) == 6
    assert "not a recognised image format" in reasons["notes.jpg"]
    assert "empty file" in reasons["empty.png"]
    assert "truncated" in reasons["truncated.jpg"]
    assert "corrupt" in reasons["corrupt.jpg"]
    assert "decompression bomb" in reasons["bomb.png"]
    assert "outside the library" in reasons["link.jpg"]

    # fixing a file clears its failure on the next run
    (library / "notes.jpg").unlink()
    assert index_json()["failed"] == 5


def test_text_summary_and_unknown_library(library: Path):
    out = run("index")
    assert "family: 7 added, 0 updated, 0 unchanged" in out
    err = CliRunner().invoke(main, ["index", "nope"])
    assert err.exit_code == 2 and "no library 'nope'" in err.output


def test_rebuild_keeps_every_vector(library: Path):
    index_json()
    ids = store_ids()
    out = run("index", "--rebuild")
    assert "rebuilt vector index: 7 vectors" in out
    assert store_ids() == ids


def test_library_add_refuses_non_folder_and_duplicates(clip_env, tmp_path: Path):
    err = CliRunner().invoke(main, ["library", "add", str(tmp_path / "missing")])
    assert err.exit_code == 2 and "does not exist" in err.output
    run("library", "add", str(tmp_path))
    err = CliRunner().invoke(main, ["library", "add", str(tmp_path), "--name", "other"])
    assert err.exit_code == 2 and "exists already" in err.output
    assert json.loads(run("library", "list", "--json"))[0]["root"] == str(tmp_path.resolve())


def test_missing_weights_offline_is_one_clear_error(tmp_path: Path, monkeypatch):
    """A user with no cached weights and no network: exit 2, one message, nothing written."""
    photos = tmp_path / "p"
    write_photos(photos, ("coffee",))
    env = {k: v for k, v in os.environ.items() if not k.startswith("DAGUERRE_")}
    env.update(DAGUERRE_HOME=str(tmp_path / "home"), HF_HUB_OFFLINE="1",
               HF_HOME=str(tmp_path / "hf"), DAGUERRE_CLIP_MODEL="ViT-B-32",
               DAGUERRE_CLIP_WEIGHTS="laion2b_s34b_b79k")
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    run("library", "add", str(photos))

    def check(stderr: str) -> None:
        assert "Traceback" not in stderr
        lines = stderr.strip().splitlines()
        assert len(lines) == 1, stderr
        assert "ViT-B-32" in lines[0] and "laion2b_s34b_b79k" in lines[0]
        assert "daguerre models pull" in lines[0] and "DAGUERRE_CLIP_WEIGHTS" in lines[0]

    # A real process, as the user sees it ...
    proc = subprocess.run([sys.executable, "-m", "daguerre.platform.cli", "index"], env=env,
                          capture_output=True, text=True)
    assert proc.returncode == 2, proc.stderr
    check(proc.stderr)
    # ... and the other commands that need the model.
    for args in (["search", "a cat"], ["search", "--image", str(photos / "coffee.jpg")]):
        result = CliRunner().invoke(main, args)
        assert result.exit_code == 2, result.output
        check(result.output)
    settings = load_settings()
    assert not any(settings.vectors_dir.iterdir())
    assert not list(settings.home.rglob("*.jpg"))
    assert json.loads(run("models", "list", "--json"))[0]["weights_present"] is False

    # Not told it is offline, but with no route to the hub: the same error, at once, saying
    # why (huggingface_hub alone retries each file five times, about 45 s in all).
    env.pop("HF_HUB_OFFLINE")
    env.pop("TRANSFORMERS_OFFLINE", None)
    env["HF_ENDPOINT"] = f"http://127.0.0.1:{closed_port()}"
    started = time.monotonic()
    proc = subprocess.run([sys.executable, "-m", "daguerre.platform.cli", "index"], env=env,
                          capture_output=True, text=True)
    assert proc.returncode == 2, proc.stderr
    check(proc.stderr)
    assert "is unreachable from this machine" in proc.stderr
    assert time.monotonic() - started < 20

    monkeypatch.setenv("DAGUERRE_CLIP_WEIGHTS", str(tmp_path / "nowhere.pt"))
    result = CliRunner().invoke(main, ["index"])
    assert result.exit_code == 2 and "nowhere.pt does not exist" in result.output


def test_thumbnails_written_under_data_dir(library: Path):
    index_json()
    thumbs = list((load_settings().home / "thumbnails").rglob("*.jpg"))
    assert len(thumbs) == 7
    assert np.all([t.stat().st_size > 0 for t in thumbs])


def test_one_indexer_per_library(library: Path):
    """A second indexer of the same library is refused at once while the first one's lease is
    live, takes over once it has expired, and the same owner may always take its own back."""
    from datetime import timedelta

    from daguerre.platform.catalog.models import Library, utcnow
    from daguerre.platform.context import Context
    from daguerre.platform.errors import Conflict
    from daguerre.platform.services.indexing import index_library

    ctx = Context()
    try:
        with ctx.catalog.session() as s:
            lib = s.query(Library).one()
            lib.index_owner, lib.index_lease_until = "other-host:42", utcnow() + timedelta(
                seconds=30)
        err = CliRunner().invoke(main, ["index"])
        assert err.exit_code == 2
        assert "being indexed by other-host:42" in err.output
        assert store_ids() == set()  # nothing was written
        with pytest.raises(Conflict, match="other-host:42"):
            index_library(ctx, "family")
        assert index_library(ctx, "family", owner="other-host:42").added == 7

        with ctx.catalog.session() as s:
            lib = s.query(Library).one()
            assert lib.index_owner is None  # released at the end
            lib.index_owner, lib.index_lease_until = "dead-host:1", utcnow() - timedelta(
                seconds=1)
        assert index_json()["unchanged"] == 7  # an expired lease is taken over

        # a killed `daguerre index` on this machine: its live lease is taken over at once
        import socket

        dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"],
                              capture_output=True, text=True, check=True).stdout.strip()
        with ctx.catalog.session() as s:
            lib = s.query(Library).one()
            lib.index_owner = f"{socket.gethostname()}:{dead}"
            lib.index_lease_until = utcnow() + timedelta(seconds=30)
        assert index_json()["unchanged"] == 7
    finally:
        ctx.close()


def test_concurrent_index_runs_never_duplicate(library: Path, tmp_path: Path):
    """Two `daguerre index` processes started together: one indexes, the other is refused with
    a clear message (or finds nothing left to do); every image is in the catalog once."""
    cli = [sys.executable, "-m", "daguerre.platform.cli", "index", "--json"]
    procs = [subprocess.Popen(cli, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
             for _ in range(2)]
    outs = [p.communicate(timeout=120) for p in procs]
    codes = sorted(p.returncode for p in procs)
    assert codes in ([0, 0], [0, 2]), outs
    for p, (_out, err) in zip(procs, outs, strict=True):
        if p.returncode == 2:
            assert "is being indexed by" in err and "Traceback" not in err
    added = sum(json.loads(out)["added"] for p, (out, _) in zip(procs, outs, strict=True)
                if p.returncode == 0)
    assert added == 7
    hits = json.loads(run("search", "x", "--json", "-n", "50"))
    assert len(hits) == len({h["path"] for h in hits}) == 7
    assert len(store_ids()) == 7
