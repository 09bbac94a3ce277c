"""Near duplicates found through the embedding, on a really indexed library: a slightly cropped
graphic whose perceptual hash the crop moved beyond the radius is grouped with its original by
``daguerre duplicates --tier near``, because the vector store holds the two as neighbours and
their thumbnails' pixels confirm the copy, also when the crop is indexed after a first run (what
that run kept does not hide it); the group is the one the dashboard shows and the one
``resolve`` finds again. Different pictures the embedding offers as neighbours are refused by
their pixels, and without the model's vectors the near tier has the hash's candidates only (and
never loads the model).

The tiny random CLIP of ``clip_env`` places every graphic here at a cosine of 0.99 or more to
every other, so each image's neighbours are mostly different pictures, all offered to the pixel
check: the harder case for precision.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from daguerre.indexer.duplicates import NEAR_MAX_DISTANCE
from daguerre.platform.cli import main
from tests.platform.api_fixtures import make_user, sign_in
from tests.support import simple_graphics as sg

# A lone flat rectangle near a corner: cutting 2 % off the bottom moves its 64-bit pHash by 14
# bits (found by searching such graphics; the hash of a lone flat shape is fragile).
LONE = sg.Graphic((320, 240), (250, 245, 230),
                  (sg.Shape("rect", (90, 90, 90), (0.046, 0.074, 0.263, 0.425)),))


def invoke(*args: str) -> str:
    result = CliRunner().invoke(main, list(args))
    assert result.exit_code == 0, result.output
    return result.output


def near() -> list[dict]:
    return json.loads(invoke("duplicates", "--tier", "near", "--json"))


def names(group: dict) -> set[str]:
    return {Path(m["path"]).stem for m in group["members"]}


@pytest.fixture()
def library(clip_env: dict, tmp_path: Path) -> Path:
    """The lone rectangle and its crop, and eight other graphics (a shape or three each); the
    crop is indexed after a first duplicates run, which found nothing."""
    root = tmp_path / "graphics"
    root.mkdir()
    img = sg.draw(LONE)
    w, h = img.size
    (root / "lone-original.png").write_bytes(sg.encode(img))
    for f, fam in enumerate(sg.families(8, 1, seed=4)):
        (root / f"other{f}.png").write_bytes(sg.encode(sg.draw(fam[0])))
    invoke("library", "add", str(root), "--name", "graphics")
    invoke("index", "graphics")
    assert near() == []
    # What the first run kept (its neighbour search, its verdicts) must not hide the new copy.
    (root / "lone-cropped.png").write_bytes(sg.encode(img.crop((0, 0, w, h - 5))))
    invoke("index", "graphics")
    return root


def test_a_crop_the_hash_misses_is_grouped_shown_and_resolvable(library: Path) -> None:
    groups = near()
    assert [names(g) for g in groups] == [{"lone-original", "lone-cropped"}]
    group = groups[0]
    # The hash alone could not have offered this pair: the distance reported is the hash's.
    assert group["distance"] > NEAR_MAX_DISTANCE
    keeper = next(m for m in group["members"] if m["id"] == group["keeper"])
    crop = next(m for m in group["members"] if m["id"] != group["keeper"])
    assert Path(keeper["path"]).stem == "lone-original"  # the larger one
    assert near() == groups  # a second run (its pixel checks' verdicts kept) agrees

    from daguerre.platform.web import create_app

    app = create_app({"TESTING": True})
    try:
        # The dashboard's duplicates page lists the group, and the API resolves it by that id.
        token = make_user(app, "root", "admin")
        auth = {"Authorization": f"Bearer {token}"}
        browser = app.test_client()
        sign_in(browser, "root")
        page = browser.get("/duplicates?tier=near").get_data(as_text=True)
        assert f'data-group="{group["group"]}"' in page
        client = app.test_client()
        resp = client.post(f"/api/v1/duplicates/{group['group']}/resolve",
                           json={"keep": keeper["id"]}, headers=auth)
        assert resp.status_code == 200, resp.get_data(as_text=True)
        assert resp.get_json()["duplicates"] == [crop["id"]]
        status = client.get(f"/api/v1/images/{crop['id']}", headers=auth).get_json()["status"]
        assert status == "duplicate"
    finally:
        app.extensions["daguerre"].ctx.close()
    assert near() == []
    assert (library / "lone-cropped.png").is_file()  # resolving never touches a file


def test_without_the_models_vectors_only_the_hash_offers_candidates(
        library: Path, clip_env: dict, monkeypatch: pytest.MonkeyPatch) -> None:
    assert [names(g) for g in near()] == [{"lone-original", "lone-cropped"}]
    # Another model configured, whose weights are not even there: the near tier neither finds
    # vectors of it nor loads it, and the crop the hash misses is no longer a candidate.
    monkeypatch.setenv("DAGUERRE_CLIP_WEIGHTS", str(Path(clip_env["DAGUERRE_HOME"]) / "gone.pt"))
    assert near() == []


def test_kept_verdicts_stay_within_their_limit() -> None:
    from daguerre.platform.services.duplicates import Verdicts

    kept = Verdicts(limit=2)
    kept["a", "b"] = True
    kept["a", "c"] = False
    assert kept["a", "b"] is True  # used: now the most recent
    kept["b", "c"] = True
    assert dict(kept) == {("a", "b"): True, ("b", "c"): True}
    with pytest.raises(ValueError, match="limit must be at least 1, got 0"):
        Verdicts(limit=0)
