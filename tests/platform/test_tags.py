"""Tags: each rule of the tags service once, then one scenario through both the command line
and the API, which must agree (a removal takes the tag whoever set it; counts are of active
images; the same shapes and the same name check)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from daguerre.platform.catalog.models import Image as CatalogImage
from daguerre.platform.catalog.models import ImageStatus
from daguerre.platform.cli import main
from daguerre.platform.constants import MAX_NAME_CHARS
from daguerre.platform.errors import BadInput, NotFound
from daguerre.platform.services import tags
from tests.platform.api_fixtures import *  # noqa: F403 - fixtures
from tests.platform.api_fixtures import model_tag

API = "/api/v1"


@pytest.fixture()
def ctx(app):  # noqa: ANN001, ANN201 - the app's Context over a private indexed library
    return app.extensions["daguerre"].ctx




def set_status(ctx, image_id: int, status: ImageStatus) -> None:  # noqa: ANN001
    with ctx.catalog.session() as s:
        s.get(CatalogImage, image_id).status = status


def cli(*args: str, status: int = 0) -> str:
    result = CliRunner().invoke(main, list(args))
    assert result.exit_code == status, result.output
    return result.output


# ---------------------------------------------------------------------------- the service

@pytest.mark.parametrize("given,stored", [
    ("holiday", "holiday"), ("  Holiday \t 2024\n", "Holiday 2024"), ("é 🎉", "é 🎉"),
    ("x" * MAX_NAME_CHARS, "x" * MAX_NAME_CHARS)])
def test_names_are_trimmed_and_collapsed(given: str, stored: str) -> None:
    assert tags.check_name(given) == stored


@pytest.mark.parametrize("given,words", [
    (None, "required"), (["a"], "string"), (" \t ", "empty"),
    ("x" * (MAX_NAME_CHARS + 1), f"at most {MAX_NAME_CHARS}"), ("a\x01b", "control"),
    ("bell\x07", "control"), ("del\x7f", "control")])
def test_bad_names_are_refused_naming_field_and_value(given: object, words: str) -> None:
    with pytest.raises(BadInput) as err:
        tags.check_name(given, field="labels")
    assert err.value.field == "labels" and words in str(err.value)
    if given is not None:
        assert err.value.value == given


def test_adding_is_a_persons_tag_once(ctx) -> None:  # noqa: ANN001
    model_tag(ctx, 2, "beach", 0.7)
    change = tags.add_tag(ctx, " beach ", [1, 2, 2])
    assert change.tag == "beach" and change.changed == 2
    assert change.images[2] == [{"name": "beach", "source": "user", "score": None},
                                {"name": "beach", "source": "model", "score": 0.7}]
    assert tags.add_tag(ctx, "beach", [1]).changed == 0
    with pytest.raises(NotFound) as err:
        tags.add_tag(ctx, "beach", [3, 999])
    assert (err.value.field, err.value.value) == ("image_id", 999)
    assert tags.image_tags(ctx, 3) == []  # nothing was added when one id was wrong


def test_removing_takes_the_tag_whoever_set_it(ctx) -> None:  # noqa: ANN001
    model_tag(ctx, 1, "dog", 0.9)
    model_tag(ctx, 2, "dog", 0.8)
    tags.add_tag(ctx, "dog", [2])
    change = tags.remove_tag(ctx, "dog", [1, 2, 3])
    assert change.changed == 2 and all(t == [] for t in change.images.values())
    with pytest.raises(NotFound) as err:  # no named image carries it any more
        tags.remove_tag(ctx, "dog", [1])
    assert err.value.field == "name" and "image 1 has no tag 'dog'" in str(err.value)
    with pytest.raises(NotFound) as err:
        tags.remove_tag(ctx, "never used", [1])
    assert err.value.field == "name"


def test_counts_are_of_active_images_by_source_and_in_total(ctx) -> None:  # noqa: ANN001
    tags.add_tag(ctx, "red", [1, 2, 3])
    model_tag(ctx, 3, "red", 0.5)  # both sources on image 3: one image in the total
    model_tag(ctx, 4, "red", 0.6)
    tags.add_tag(ctx, "gone", [5])
    set_status(ctx, 2, ImageStatus.MISSING)
    set_status(ctx, 5, ImageStatus.DELETED)
    listing = tags.list_tags(ctx)
    assert [(t["name"], t["images"], t["user"], t["model"]) for t in listing] == [
        ("red", 3, 2, 2)]  # images 1, 3, 4; "gone" is on no active image
    assert listing[0]["id"] > 0
    assert [t["name"] for t in tags.list_tags(ctx, source="model")] == ["red"]
    set_status(ctx, 5, ImageStatus.ACTIVE)
    assert [t["name"] for t in tags.list_tags(ctx)] == ["gone", "red"]
    assert [t["name"] for t in tags.list_tags(ctx, source="model")] == ["red"]
    page = tags.tag_page(ctx, {"limit": "1", "offset": "1", "source": "user"})
    assert (page["limit"], page["offset"], [t["name"] for t in page["items"]]) == (1, 1, ["red"])
    with pytest.raises(BadInput) as err:
        tags.list_tags(ctx, source="robot")
    assert (err.value.field, err.value.value) == ("source", "robot")
    with pytest.raises(BadInput) as err:
        tags.tag_page(ctx, {"limit": 0})
    assert err.value.field == "limit"


def test_an_images_tags_put_people_first_then_the_model_by_score(ctx) -> None:  # noqa: ANN001
    model_tag(ctx, 6, "cat", 0.2)
    model_tag(ctx, 6, "ball", 0.7)
    tags.add_tag(ctx, "zebra", [6])
    tags.add_tag(ctx, "apple", [6])
    assert [(t["name"], t["source"]) for t in tags.image_tags(ctx, 6)] == [
        ("apple", "user"), ("zebra", "user"), ("ball", "model"), ("cat", "model")]
    with pytest.raises(NotFound):
        tags.image_tags(ctx, 999)


def test_classify_refuses_a_bad_label_before_loading_the_model(ctx) -> None:  # noqa: ANN001
    with pytest.raises(BadInput) as err:
        tags.classify(ctx, labels=["ok", "bad\x00label"])
    assert err.value.field == "labels"


# ---------------------------------------------------------------------------- CLI and API agree

def test_a_removal_by_either_edge_takes_the_model_tag(client, auth, ctx, tmp_path: Path
                                                      ) -> None:  # noqa: ANN001
    labels = tmp_path / "labels.txt"
    labels.write_text("sky\nsea\n")
    out = json.loads(cli("classify", "--labels", str(labels), "--top", "1", "--min-prob", "0",
                         "--json"))
    first = {r["id"]: r["labels"][0]["label"] for r in out["results"]}
    assert len(first) == 12
    by_cli, by_api = 1, 2
    cli("tags", "remove", first[by_cli], str(by_cli))
    resp = client.delete(f"{API}/images/{by_api}/tags/{first[by_api]}", headers=auth)
    assert resp.status_code == 200 and resp.get_json()["items"] == []
    for image_id in (by_cli, by_api, 3):
        from_cli = json.loads(cli("tags", "list", str(image_id), "--json"))
        from_api = client.get(f"{API}/images/{image_id}/tags", headers=auth).get_json()
        assert from_cli == from_api["items"]
        assert [t["source"] for t in from_cli] == ([] if image_id != 3 else ["model"])


def test_counts_and_shapes_agree_after_an_image_goes_missing(client, auth, ctx) -> None:  # noqa: ANN001
    cli("tags", "add", "family", "1", "2", "3")
    resp = client.post(f"{API}/images/4/tags", json={"name": "family"}, headers=auth)
    assert resp.status_code == 201
    model_tag(ctx, 4, "family", 0.4)
    model_tag(ctx, 5, "family", 0.3)
    set_status(ctx, 1, ImageStatus.MISSING)

    from_cli = json.loads(cli("tags", "list", "--json"))
    from_api = client.get(f"{API}/tags", headers=auth).get_json()
    assert from_cli == from_api["items"]
    assert [(t["name"], t["images"], t["user"], t["model"]) for t in from_cli] == [
        ("family", 4, 3, 2)]
    assert json.loads(cli("tags", "list", "--source", "user", "--json")) == \
        client.get(f"{API}/tags?source=user", headers=auth).get_json()["items"]


@pytest.mark.parametrize("name", ["a\x01b", "   ", "x" * (MAX_NAME_CHARS + 1)])
def test_both_edges_refuse_the_same_names_with_the_same_message(client, auth, name: str
                                                               ) -> None:  # noqa: ANN001
    resp = client.post(f"{API}/images/1/tags", json={"name": name}, headers=auth)
    body = resp.get_json()
    assert resp.status_code == 400 and body["field"] == "name"
    assert f"error: {body['error']}" in cli("tags", "add", name, "1", status=2)


# ---------------------------------------------------------------------------- translation only

def test_api_statuses_and_shapes(client, auth) -> None:  # noqa: ANN001
    resp = client.post(f"{API}/images/7/tags", json={"name": "kite"}, headers=auth)
    assert resp.status_code == 201
    assert resp.get_json() == {"items": [{"name": "kite", "source": "user", "score": None}]}
    assert client.post(f"{API}/images/7/tags", json={"name": "kite"},
                       headers=auth).status_code == 200
    page = client.get(f"{API}/tags?limit=5", headers=auth).get_json()
    assert page["limit"] == 5 and page["offset"] == 0
    assert set(page["items"][0]) == {"id", "name", "images", "user", "model"}
    for path, status, field in [("/tags?source=robot", 400, "source"),
                                ("/tags?limit=0", 400, "limit"),
                                ("/images/999/tags", 404, "image_id")]:
        resp = client.get(API + path, headers=auth)
        assert resp.status_code == status and resp.get_json()["field"] == field
    resp = client.delete(f"{API}/images/7/tags/never", headers=auth)
    assert resp.status_code == 404 and resp.get_json()["field"] == "name"


def test_cli_json_shapes_and_exit_status(ctx) -> None:  # noqa: ANN001
    out = json.loads(cli("tags", "add", "kite", "7", "8", "--json"))
    assert out["tag"] == "kite" and out["changed"] == 2
    assert [i["id"] for i in out["images"]] == [7, 8]
    assert "removed 'kite' from 1 image(s)" in cli("tags", "remove", "kite", "8")
    assert "no image with id 999" in cli("tags", "add", "kite", "999", status=2)
    assert "source must be one of" in cli("tags", "list", "--source", "robot", status=2)


def test_the_documented_name_pattern_is_the_rule_check_name_applies() -> None:
    """The OpenAPI document's pattern for names and the service's check agree on every
    character of the Basic Multilingual Plane, alone and around a letter: a name the document
    allows is one the server accepts, and the other way round."""
    import re

    from daguerre.platform.constants import NAME_PATTERN
    from daguerre.platform.services.tags import check_name

    pattern = re.compile(NAME_PATTERN)
    for code in range(0x10000):
        if 0xD800 <= code <= 0xDFFF:
            continue  # lone surrogates cannot travel in JSON
        for name in (chr(code), f"a{chr(code)}", f"{chr(code)}b{chr(code)}"):
            try:
                check_name(name)
                accepted = True
            except BadInput:
                accepted = False
            assert accepted == bool(pattern.fullmatch(name)), (hex(code), name)
