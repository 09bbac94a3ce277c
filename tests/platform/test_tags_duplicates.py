"""Tags and duplicates through the CLI on a really indexed library: model tags are replaced on
every run and user tags never are; duplicate tiers find copies and only copies; resolving merges
into the keeper and never deletes a file."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner
from PIL import Image as PILImage
from sqlalchemy import select

from daguerre.platform.catalog.models import Image, ImageStatus
from daguerre.platform.cli import main
from daguerre.platform.context import Context
from tests.support.trained_clip import draw_shape, random_spec

PHOTOS = ("astronaut", "camera", "coffee", "rocket", "moon", "horse", "coins", "clock", "page",
          "hubble_deep_field")


def _photo(name: str) -> PILImage.Image:
    import skimage.data

    a = getattr(skimage.data, name)()
    if a.dtype != np.uint8:
        a = (a / max(float(a.max()), 1e-9) * 255).astype(np.uint8)
    img = PILImage.fromarray(a).convert("RGB")
    img.thumbnail((256, 256))
    return img


def invoke(*args: str) -> str:
    result = CliRunner().invoke(main, list(args))
    assert result.exit_code == 0, result.output
    return result.output


@pytest.fixture()
def library(clip_env: dict, tmp_path: Path) -> dict[str, Path]:
    """A library of distinct photos and shapes, plus copies of three of them; indexed."""
    root = tmp_path / "photos"
    (root / "originals").mkdir(parents=True)
    (root / "copies").mkdir()
    files: dict[str, Path] = {}
    for name in PHOTOS:
        files[name] = root / "originals" / f"{name}.png"
        _photo(name).save(files[name])
    rng = np.random.default_rng(7)
    for i in range(6):
        files[f"shape{i}"] = root / "originals" / f"shape{i}.png"
        draw_shape(random_spec(rng), rng, 160).save(files[f"shape{i}"])
    astronaut = _photo("astronaut")
    astronaut.resize((128, 128), PILImage.Resampling.LANCZOS).save(root / "copies" / "small.png")
    _photo("coffee").save(root / "copies" / "coffee.jpg", quality=70)
    shutil.copyfile(files["moon"], root / "copies" / "moon-backup.png")
    invoke("library", "add", str(root), "--name", "photos")
    invoke("index", "photos")
    return files


def _ids(ctx: Context) -> dict[str, int]:
    with ctx.catalog.session() as s:
        return {Path(p).stem if not p.startswith("copies/") else p: i
                for i, p in s.execute(select(Image.id, Image.path))}


def test_duplicate_tiers_find_copies_and_only_copies(library: dict[str, Path]) -> None:
    ctx = Context()
    ids = _ids(ctx)
    groups = json.loads(invoke("duplicates", "--json"))
    by_tier: dict[str, list[set[int]]] = {}
    for g in groups:
        by_tier.setdefault(g["tier"], []).append({m["id"] for m in g["members"]})
    assert by_tier["exact"] == [{ids["moon"], ids["copies/moon-backup.png"]}]
    assert sorted(by_tier["near"], key=min) == sorted([
        {ids["astronaut"], ids["copies/small.png"]},
        {ids["coffee"], ids["copies/coffee.jpg"]}], key=min)
    # Distinct pictures never form a duplicate group.
    for members in by_tier["exact"] + by_tier["near"]:
        assert len(members) == 2
    # The keeper is the larger original, and group ids are stable from run to run.
    near = {g["group"]: g for g in groups if g["tier"] == "near"}
    for g in near.values():
        assert g["keeper"] in {ids["astronaut"], ids["coffee"]}
    again = json.loads(invoke("duplicates", "--tier", "near", "--json"))
    assert {g["group"] for g in again} == set(near)
    assert all(g["tier"] == "near" for g in again)
    text = invoke("duplicates")
    assert "exact" in text and "near" in text and "keep #" in text
    ctx.close()


def test_resolve_merges_into_the_keeper_and_keeps_files(library: dict[str, Path]) -> None:
    ctx = Context()
    ids = _ids(ctx)
    small = ids["copies/small.png"]
    keeper = ids["astronaut"]
    invoke("tags", "add", "moon landing", str(small))
    with ctx.catalog.session() as s:
        s.get(Image, small).rating = 4
        s.get(Image, keeper).rating = 2
    group = next(g for g in json.loads(invoke("duplicates", "--tier", "near", "--json"))
                 if keeper in {m["id"] for m in g["members"]})
    assert group["keeper"] == keeper

    bad = CliRunner().invoke(main, ["duplicates", "resolve", group["group"], "--keep",
                                    str(ids["camera"])])
    assert bad.exit_code == 2 and "is not in group" in bad.output
    out = json.loads(invoke("duplicates", "resolve", group["group"], "--keep", str(keeper),
                            "--json"))
    assert out["duplicates"] == [small] and out["tags_merged"] == 1
    with ctx.catalog.session() as s:
        copy = s.get(Image, small)
        assert copy.status == ImageStatus.DUPLICATE and copy.duplicate_of == keeper
        assert s.get(Image, keeper).rating == 4
    assert (library["astronaut"].parent.parent / "copies" / "small.png").is_file()
    assert json.loads(invoke("tags", "list", str(keeper), "--json")) == [
        {"name": "moon landing", "source": "user", "score": None}]
    # The duplicate is out of search and out of later duplicate runs; indexing keeps it out.
    hits = json.loads(invoke("search", f"#{keeper}", "--limit", "50", "--json"))
    assert small not in {h["id"] for h in hits}
    invoke("index", "photos")
    groups = json.loads(invoke("duplicates", "--json"))
    assert group["group"] not in {g["group"] for g in groups}
    assert all(small not in {m["id"] for m in g["members"]} for g in groups)
    gone = CliRunner().invoke(main, ["duplicates", "resolve", group["group"], "--keep",
                                     str(keeper)])
    assert gone.exit_code == 2 and "no duplicate group" in gone.output
    similar = CliRunner().invoke(main, ["duplicates", "resolve", "s0123abcd", "--keep", "1"])
    assert similar.exit_code == 2 and "similar pictures" in similar.output
    ctx.close()


def test_classify_replaces_model_tags_and_never_touches_user_tags(
        library: dict[str, Path], tmp_path: Path) -> None:
    ctx = Context()
    ids = _ids(ctx)
    first = tmp_path / "first.txt"
    first.write_text("# test labels\nanimal\nplant\nmachine\n")
    second = tmp_path / "second.txt"
    second.write_text("indoors\noutdoors\n")
    invoke("tags", "add", "favourite", str(ids["horse"]), str(ids["rocket"]))
    invoke("tags", "add", "plant", str(ids["horse"]))  # a person's tag that is also a label

    out = json.loads(invoke("classify", "photos", "--labels", str(first), "--top", "2",
                            "--min-prob", "0", "--json"))
    assert out["classified"] == len(ids) and out["tagged"] == 2 * len(ids)
    for r in out["results"]:
        assert len(r["labels"]) == 2
        assert {x["label"] for x in r["labels"]} <= {"animal", "plant", "machine"}
        assert r["labels"][0]["score"] >= r["labels"][1]["score"]
    counts = {t["name"]: t for t in json.loads(invoke("tags", "list", "--json"))}
    assert sum(counts[t]["model"] for t in ("animal", "plant", "machine")
               if t in counts) == 2 * len(ids)
    assert counts["favourite"]["user"] == 2 and counts["plant"]["user"] == 1

    # A model tag filters searches.
    tagged = {r["id"] for r in out["results"]
              if r["labels"][0]["label"] == out["results"][0]["labels"][0]["label"]
              or r["labels"][1]["label"] == out["results"][0]["labels"][0]["label"]}
    label = out["results"][0]["labels"][0]["label"]
    hits = json.loads(invoke("search", "a photo", "--tag", label, "--limit", "50", "--json"))
    assert {h["id"] for h in hits} == tagged | ({ids["horse"]} if label == "plant" else set())

    # Run again with other labels: the old model tags are gone, the user tags are not.
    invoke("classify", "--labels", str(second), "--top", "1", "--min-prob", "0")
    counts = {t["name"]: t for t in json.loads(invoke("tags", "list", "--json"))}
    assert {"favourite", "plant"} < set(counts) <= {"favourite", "plant", "indoors", "outdoors"}
    assert {k: counts["plant"][k] for k in ("images", "user", "model")} == {
        "images": 1, "user": 1, "model": 0}
    assert sum(counts.get(t, {"model": 0})["model"] for t in ("indoors", "outdoors")) == len(ids)
    horse = json.loads(invoke("tags", "list", str(ids["horse"]), "--json"))
    assert [t["source"] for t in horse] == ["user", "user", "model"]

    invoke("tags", "remove", "favourite", str(ids["rocket"]))
    counts = {t["name"]: t for t in json.loads(invoke("tags", "list", "--json"))}
    assert counts["favourite"]["user"] == 1
    bad = CliRunner().invoke(main, ["tags", "add", "x", "999999"])
    assert bad.exit_code == 2 and "no image with id 999999" in bad.output
    bad = CliRunner().invoke(main, ["classify", "--labels", str(tmp_path / "none.txt")])
    assert bad.exit_code == 2 and "does not exist" in bad.output
    ctx.close()


def test_resolve_refuses_a_keep_that_is_not_an_image_id(library: dict[str, Path]) -> None:
    """The API hands ``keep`` over as JSON held it: a string or a bool is refused by field; an
    integral number (JSON's ``7.0``) is an id."""
    from daguerre.platform.errors import BadInput
    from daguerre.platform.services.duplicates import find_duplicates, resolve

    ctx = Context()
    for bad in ("7", True, None, 1.5):
        with pytest.raises(BadInput) as err:
            resolve(ctx, "e0000", bad)  # type: ignore[arg-type]
        assert err.value.field == "keep"
    group = next(g for g in find_duplicates(ctx, tiers=("exact",)))
    out = resolve(ctx, group.id, float(group.keeper))  # type: ignore[arg-type]
    assert out["keeper"] == group.keeper and len(out["duplicates"]) == 1
    ctx.close()
