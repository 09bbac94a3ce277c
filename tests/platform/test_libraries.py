"""Library lifecycle: the service's rules tested directly, then one scenario through the CLI and
the API showing they behave the same."""

from __future__ import annotations

import json
import shutil
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest
from click.testing import CliRunner
from sqlalchemy import select

from daguerre.platform.catalog.models import Image as ImageRow
from daguerre.platform.catalog.models import (
    ImageOrigin,
    ImageTag,
    IndexFailure,
    Library,
    Lineage,
    Tag,
    TagSource,
    utcnow,
)
from daguerre.platform.config import load_settings
from daguerre.platform.context import Context
from daguerre.platform.errors import BadInput, Conflict, Forbidden
from daguerre.platform.services import libraries as svc
from tests.platform.api_fixtures import *  # noqa: F403 - fixtures

API = "/api/v1"


def make_context(home: Path, tiny_clip: tuple[Path, Path]) -> Context:
    cfg, weights = tiny_clip
    return Context(load_settings(env={}, home=str(home), clip_model=str(cfg),
                                 clip_weights=str(weights), device="cpu", decode_workers=1,
                                 batch_size=8))


@pytest.fixture()
def ctx(indexed_home: tuple[Path, Path], tiny_clip: tuple[Path, Path], tmp_path: Path
        ) -> Iterator[Context]:
    """A private copy of the indexed data directory (library "photos", 12 images)."""
    home = tmp_path / "home"
    shutil.copytree(indexed_home[0], home)
    context = make_context(home, tiny_clip)
    yield context
    context.close()


def snapshot(root: Path) -> dict[str, tuple[bytes, int]]:
    """Every file under ``root`` with its bytes and mtime (ns)."""
    return {str(p.relative_to(root)): (p.read_bytes(), p.stat().st_mtime_ns)
            for p in sorted(root.rglob("*")) if p.is_file()}


def store_ids(ctx: Context) -> set[int]:
    return {int(i) for store in svc.open_stores(ctx) for i in store.ids()}


# ------------------------------------------------------------------------------ path and name rules

@pytest.mark.parametrize("path", ["/", "/etc", "/usr", "/var", "/etc/ssl", "/proc/self", "/dev"])
def test_system_folders_are_refused(ctx: Context, path: str) -> None:
    with pytest.raises(Forbidden, match="system folder") as err:
        svc.add_library(ctx, path)
    assert (err.value.field, err.value.value) == ("path", path)
    assert svc.list_libraries(ctx)[0]["name"] == "photos" and len(svc.list_libraries(ctx)) == 1


def test_dotdot_traversal_to_etc_is_resolved_and_refused(ctx: Context, tmp_path: Path) -> None:
    photos = tmp_path / "photos"
    photos.mkdir()
    sneaky = str(photos) + "/.." * (len(photos.parts) - 1) + "/etc"
    assert Path(sneaky).resolve() == Path("/etc")
    with pytest.raises(Forbidden, match="system folder /etc") as err:
        svc.add_library(ctx, sneaky, "innocent")
    assert (err.value.field, err.value.value) == ("path", sneaky)


def test_data_directory_is_refused(ctx: Context) -> None:
    home = ctx.settings.home
    for inside in (home, home / "thumbnails"):
        with pytest.raises(Forbidden, match="inside the data directory") as err:
            svc.add_library(ctx, str(inside))
        assert err.value.field == "path"


@pytest.mark.parametrize("name,words", [
    ("   ", "must not be empty"), ("a\x07b", "control characters"),
    ("x" * 201, "at most 200 characters"),
])
def test_bad_names_are_refused(ctx: Context, tmp_path: Path, name: str, words: str) -> None:
    with pytest.raises(BadInput, match=words) as err:
        svc.add_library(ctx, str(tmp_path), name)
    assert err.value.field == "name"


def test_names_are_trimmed_and_names_and_roots_unique(ctx: Context, tmp_path: Path,
                                                      library_root: Path) -> None:
    lib = svc.add_library(ctx, str(tmp_path), "  Scans ")
    assert lib["name"] == "Scans" and lib["root"] == str(tmp_path.resolve())
    other = tmp_path / "other"
    other.mkdir()
    with pytest.raises(Conflict, match="exists already") as err:
        svc.add_library(ctx, str(other), "photos")
    assert err.value.field == "name"
    # The same folder spelt another way is the same root.
    with pytest.raises(Conflict) as err:
        svc.add_library(ctx, str(library_root / "beach" / ".."), "again")
    assert err.value.field == "path"


def test_rename(ctx: Context, tmp_path: Path) -> None:
    svc.add_library(ctx, str(tmp_path), "Scans")
    renamed = svc.rename_library(ctx, "photos", "Family")
    assert (renamed["name"], renamed["images"]) == ("Family", 12)
    assert svc.get_library(ctx, "Family")["id"] == renamed["id"]
    with pytest.raises(Conflict, match="exists already") as err:
        svc.rename_library(ctx, "Family", "Scans")
    assert err.value.field == "name"
    assert [lib["name"] for lib in svc.list_libraries(ctx)] == ["Family", "Scans"]


# ------------------------------------------------------------------------------ remove

def _add_generated_child(ctx: Context, parent_id: int) -> int:
    """A restored image made from library image ``parent_id``, sharing its thumbnail."""
    with ctx.catalog.session() as s:
        parent = s.get(ImageRow, parent_id)
        child = ImageRow(library_id=None, path="outputs/restored.png", sha256="f" * 64, size=1,
                      mtime=0.0, width=8, height=8, format="PNG", origin=ImageOrigin.GENERATED,
                      thumbnail=parent.thumbnail)
        s.add(child)
        s.flush()
        s.add(Lineage(image_id=child.id, parent_id=parent_id, operation="restore",
                      params={"steps": 5}))
        return child.id


def test_remove_keeps_originals_and_generated_children(ctx: Context, library_root: Path) -> None:
    from daguerre.platform.services.search import search

    before = snapshot(library_root)
    with ctx.catalog.session() as s:
        lib_id = s.scalar(select(Library.id).where(Library.name == "photos"))
        ids = set(s.scalars(select(ImageRow.id).where(ImageRow.library_id == lib_id)))
        thumbs = {p: (ctx.settings.home / p) for p in s.scalars(
            select(ImageRow.thumbnail).where(ImageRow.library_id == lib_id))}
        parent = s.scalar(select(ImageRow).where(ImageRow.library_id == lib_id,
                                                 ImageRow.path == "red-0.jpg"))
        tag = Tag(name="sunset")
        s.add(tag)
        s.flush()
        s.add(ImageTag(image_id=parent.id, tag_id=tag.id, source=TagSource.USER))
        s.add(IndexFailure(library_id=lib_id, path="broken.jpg", reason="truncated"))
        parent_id, parent_sha, shared = parent.id, parent.sha256, parent.thumbnail
    child_id = _add_generated_child(ctx, parent_id)
    assert len(ids) == 12 and ids <= store_ids(ctx)
    assert {h.library for h in search(ctx, "red", limit=50)} == {"photos"}

    out = svc.remove_library(ctx, "photos")

    assert (out["images"], out["vectors"], out["thumbnails"], out["kept_children"]) == (
        12, 12, 11, 1)
    assert snapshot(library_root) == before  # every original: same bytes, same mtime
    assert svc.list_libraries(ctx) == []
    assert not store_ids(ctx) & ids
    assert search(ctx, "red", limit=50) == []
    assert [p for p, f in thumbs.items() if f.exists()] == [shared]  # the child still uses it
    with ctx.catalog.session() as s:
        assert s.scalars(select(ImageRow.id)).all() == [child_id]
        assert s.scalars(select(ImageTag.image_id)).all() == []
        assert s.scalars(select(IndexFailure.id)).all() == []
        lineage = s.scalar(select(Lineage).where(Lineage.image_id == child_id))
    assert lineage.parent_id is None and lineage.params["steps"] == 5
    assert lineage.params["removed_parent"] == {
        "id": parent_id, "library": "photos", "root": str(library_root.resolve()),
        "path": "red-0.jpg", "sha256": parent_sha}


def test_remove_is_refused_while_the_library_is_indexed(ctx: Context) -> None:
    with ctx.catalog.session() as s:
        lib = s.scalar(select(Library).where(Library.name == "photos"))
        lib.index_owner, lib.index_lease_until = "other-host:42", utcnow() + timedelta(seconds=30)
    with pytest.raises(Conflict, match="being indexed by other-host:42"):
        svc.remove_library(ctx, "photos")
    assert svc.get_library(ctx, "photos")["images"] == 12 and len(store_ids(ctx)) == 12


# ------------------------------------------------------------------------------ move

def test_move_keeps_ids_tags_ratings_and_vectors(ctx: Context, library_root: Path,
                                                 tmp_path: Path) -> None:
    from daguerre.platform.services.indexing import index_library

    new_root = tmp_path / "new-disk" / "photos"
    shutil.copytree(library_root, new_root)
    (new_root / "beach" / "green-0.png").unlink()
    with ctx.catalog.session() as s:
        before = {img.path: img.id for img in s.scalars(select(ImageRow))}
        img = s.scalar(select(ImageRow).where(ImageRow.path == "red-0.jpg"))
        img.rating = 4
        tag = Tag(name="sunset")
        s.add(tag)
        s.flush()
        s.add(ImageTag(image_id=img.id, tag_id=tag.id, source=TagSource.USER))
    vectors = store_ids(ctx)

    out = svc.move_library(ctx, "photos", str(new_root))

    assert (out["found"], out["not_found"]) == (11, 1)
    assert out["library"]["root"] == str(new_root.resolve())
    summary = index_library(ctx, "photos")
    assert (summary.unchanged, summary.missing, summary.added) == (11, 1, 0)
    with ctx.catalog.session() as s:
        assert {img.path: img.id for img in s.scalars(select(ImageRow))} == before
        img = s.scalar(select(ImageRow).where(ImageRow.path == "red-0.jpg"))
        assert img.rating == 4
        assert s.scalars(select(ImageTag.image_id)).all() == [img.id]
    assert store_ids(ctx) == vectors - {before["beach/green-0.png"]}


def test_move_to_another_librarys_root_or_a_system_folder_is_refused(
        ctx: Context, tmp_path: Path) -> None:
    svc.add_library(ctx, str(tmp_path), "Scans")
    with pytest.raises(Conflict) as err:
        svc.move_library(ctx, "photos", str(tmp_path))
    assert err.value.field == "path"
    with pytest.raises(Forbidden, match="system folder"):
        svc.move_library(ctx, "photos", "/usr")


# ------------------------------------------------------------------------------ CLI and API agree

def _cli(*args: str, expect: int = 0) -> str:
    from daguerre.platform.cli import main

    result = CliRunner().invoke(main, list(args))
    assert result.exit_code == expect, result.output
    return result.output


def _comparable(items: list[dict]) -> list[dict]:
    return [{k: v for k, v in item.items() if k != "created_at"} for item in items]


def test_cli_and_api_run_the_same_scenario_alike(client, auth, indexed_home, tmp_path: Path,  # noqa: ANN001
                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    scans = tmp_path / "scans"
    scans.mkdir()
    # The API runs on its own copy of the indexed data directory (the app fixture), the CLI on
    # another one: the same starting catalog, so the same ids and results are expected.
    cli_home = tmp_path / "cli-home"
    shutil.copytree(indexed_home[0], cli_home)
    monkeypatch.setenv("DAGUERRE_HOME", str(cli_home))

    api: list = []
    resp = client.post(f"{API}/libraries", json={"path": str(scans), "name": "Scans"},
                       headers=auth)
    assert resp.status_code == 201
    api.append(resp.get_json())
    lib_id = api[0]["id"]
    dup = client.post(f"{API}/libraries", json={"path": str(scans)}, headers=auth)
    assert dup.status_code == 409
    api.append(dup.get_json()["error"])
    api.append(client.patch(f"{API}/libraries/{lib_id}", json={"name": "Archive"},
                            headers=auth).get_json())
    api.append(client.delete(f"{API}/libraries/1", headers=auth).get_json())
    api.append(client.get(f"{API}/libraries", headers=auth).get_json()["items"])

    cli: list = [json.loads(_cli("library", "add", str(scans), "--name", "Scans", "--json"))]
    cli.append(_cli("library", "add", str(scans), expect=2).strip().removeprefix(
        "daguerre: error: "))
    cli.append(json.loads(_cli("library", "rename", "Scans", "Archive", "--json")))
    _cli("library", "remove", "photos", expect=2)  # not a terminal and no --yes: refused
    cli.append(json.loads(_cli("library", "remove", "photos", "--yes", "--json")))
    cli.append(json.loads(_cli("library", "list", "--json")))

    assert _comparable([api[0], api[2]]) == _comparable([cli[0], cli[2]])
    assert api[1] == cli[1] and "exists already" in api[1]
    assert api[3] == cli[3] and api[3]["images"] == api[3]["vectors"] == 12
    assert _comparable(api[4]) == _comparable(cli[4])
    assert [(lib["name"], lib["root"]) for lib in api[4]] == [("Archive", str(scans.resolve()))]


def test_cli_remove_asks_on_a_terminal(indexed_home, clip_env, tmp_path: Path,  # noqa: ANN001
                                       monkeypatch: pytest.MonkeyPatch) -> None:
    from daguerre.platform.cli import library as cli_library
    from daguerre.platform.cli import main

    shutil.copytree(indexed_home[0], clip_env["DAGUERRE_HOME"])
    monkeypatch.setattr(cli_library, "_on_terminal", lambda: True)  # as if typed at a terminal

    no = CliRunner().invoke(main, ["library", "remove", "photos"], input="n\n")
    assert no.exit_code == 1 and "12 active images" in no.output and "Aborted" in no.output
    assert [lib["name"] for lib in json.loads(_cli("library", "list", "--json"))] == ["photos"]
    yes = CliRunner().invoke(main, ["library", "remove", "photos"], input="y\n")
    assert yes.exit_code == 0 and "removed library photos: 12 images" in yes.output
    assert json.loads(_cli("library", "list", "--json")) == []


# ------------------------------------------------------------------------------ index failures

def test_failures_of_the_last_index_with_their_reasons(ctx: Context, tmp_path: Path) -> None:
    """The libraries screen's failures: the last run's, by path, counted per library, paged;
    a later run replaces them."""
    from daguerre.platform.errors import NotFound
    from daguerre.platform.services.indexing import index_library
    from tests.platform.api_fixtures import make_image

    root = tmp_path / "scans"
    (root / "b").mkdir(parents=True)
    make_image((200, 40, 40), seed=1).save(root / "good.png")
    (root / "b" / "broken.jpg").write_bytes(b"\xff\xd8\xff\xe0 not really a jpeg")
    (root / "a-empty.png").write_bytes(b"")
    lib = svc.add_library(ctx, str(root), "scans")
    assert svc.failure_counts(ctx) == {}
    assert svc.library_failures(ctx, lib["id"]) == {"library_id": lib["id"], "total": 0,
                                                    "items": []}

    index_library(ctx, lib["id"])
    assert svc.failure_counts(ctx) == {lib["id"]: 2}  # "photos" indexed cleanly: absent
    page = svc.library_failures(ctx, "scans")
    assert page["total"] == 2
    assert [f["path"] for f in page["items"]] == ["a-empty.png", "b/broken.jpg"]
    assert all(f["reason"] and f["recorded_at"] for f in page["items"])
    second = svc.library_failures(ctx, lib["id"], limit=1, offset=1)
    assert (second["total"], [f["path"] for f in second["items"]]) == (2, ["b/broken.jpg"])

    (root / "b" / "broken.jpg").unlink()
    index_library(ctx, lib["id"])
    assert [f["path"] for f in svc.library_failures(ctx, lib["id"])["items"]] == ["a-empty.png"]
    assert svc.failure_counts(ctx) == {lib["id"]: 1}
    with pytest.raises(NotFound):
        svc.library_failures(ctx, 9999)


def test_failures_over_the_api(client, auth) -> None:  # noqa: ANN001
    resp = client.get(f"{API}/libraries/1/failures?limit=5", headers=auth)
    assert resp.status_code == 200
    assert resp.get_json() == {"library_id": 1, "total": 0, "items": []}
    assert client.get(f"{API}/libraries/999/failures", headers=auth).status_code == 404
    assert client.get(f"{API}/libraries/1/failures?limit=0", headers=auth).status_code == 400
