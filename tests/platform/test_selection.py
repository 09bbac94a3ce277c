"""Bulk curation and export of a selection: the service rules, then the CLI and the API on the
same scenario, then the zip read back as a person's photo tool would (files byte for byte, the
metadata, the XMP sidecars), by token, by a signed-in form post and for a board."""

from __future__ import annotations

import io
import json
import types
import xml.etree.ElementTree as ET
import zipfile
from pathlib import Path

import pytest
from click.testing import CliRunner

from daguerre.platform.catalog.models import Image as CatalogImage
from daguerre.platform.catalog.models import (
    ImageOrigin,
    ImageStatus,
    Job,
    JobStatus,
    Lineage,
)
from daguerre.platform.cli import main
from daguerre.platform.errors import BadInput, NotFound
from daguerre.platform.services import curation, export, images, tags
from tests.platform.api_fixtures import *  # noqa: F403 - fixtures
from tests.platform.api_fixtures import make_user, model_tag, png_bytes, sign_in

API = "/api/v1"
NS = {"x": "adobe:ns:meta/", "rdf": "http://www.w3.org/1999/02/22-rdf-syntax-ns#",
      "xmp": "http://ns.adobe.com/xap/1.0/", "dc": "http://purl.org/dc/elements/1.1/",
      "daguerre": export.XMP_NS}


@pytest.fixture()
def ctx(app):  # noqa: ANN001, ANN201 - the app's Context over a private indexed library
    return app.extensions["daguerre"].ctx


def cli(*args: str, status: int = 0) -> str:
    result = CliRunner().invoke(main, list(args))
    assert result.exit_code == status, result.output
    return result.output




def state(ctx, image_id: int) -> tuple:  # noqa: ANN001
    """What a person sees of an image's curation: rating, review state, tags with sources."""
    info = images.get_image(ctx, image_id)
    return (info["rating"], info["review_state"],
            tuple((t["name"], t["source"]) for t in info["tags"]))


def set_status(ctx, image_id: int, status: ImageStatus) -> None:  # noqa: ANN001
    with ctx.catalog.session() as s:
        s.get(CatalogImage, image_id).status = status


def original(ctx, image_id: int) -> bytes:  # noqa: ANN001
    return images.original_file(ctx, image_id).path.read_bytes()


# ---------------------------------------------------------------------------- bulk: the service

def test_bulk_applies_every_change_to_every_image(ctx) -> None:  # noqa: ANN001
    model_tag(ctx, 2, "sea", 0.8)
    model_tag(ctx, 3, "sea", 0.6)
    tags.add_tag(ctx, "old", [1, 3])
    out = curation.curate_many(ctx, [1, 2, 3, 2], {
        "rating": 4, "review_state": "approved", "add_tags": [" beach ", "summer"],
        "remove_tags": ["sea", "old"]})
    assert out == {"updated": 3, "ids": [1, 2, 3]}
    for image_id in (1, 2, 3):
        assert state(ctx, image_id) == (4, "approved", (("beach", "user"), ("summer", "user")))
    assert state(ctx, 4) == (None, "unreviewed", ())  # not selected: untouched
    curation.curate_many(ctx, [1], {"rating": None})
    assert state(ctx, 1)[0] is None


def test_a_person_adding_a_model_tag_makes_it_theirs(ctx) -> None:  # noqa: ANN001
    model_tag(ctx, 5, "dog", 0.9)
    curation.curate_many(ctx, [5], {"add_tags": ["dog"]})
    assert [t["source"] for t in images.get_image(ctx, 5)["tags"]][0] == "user"


@pytest.mark.parametrize("bad_id", [999, "missing"])
def test_one_unknown_or_inactive_id_changes_nothing(ctx, bad_id) -> None:  # noqa: ANN001
    if bad_id == "missing":
        set_status(ctx, 6, ImageStatus.MISSING)
        bad_id = 6
    model_tag(ctx, 1, "sky", 0.5)
    before = [state(ctx, i) for i in (1, 2)]
    with pytest.raises(NotFound) as err:
        curation.curate_many(ctx, [1, bad_id, 2], {"rating": 5, "add_tags": ["x"],
                                                   "remove_tags": ["sky"]})
    assert (err.value.field, err.value.value) == ("ids", bad_id)
    assert [state(ctx, i) for i in (1, 2)] == before
    assert "x" not in [t["name"] for t in tags.list_tags(ctx)]


def test_removing_a_tag_none_carries_refuses_the_batch(ctx) -> None:  # noqa: ANN001
    tags.add_tag(ctx, "kept", [1])
    with pytest.raises(NotFound) as err:
        curation.curate_many(ctx, [1, 2], {"review_state": "rejected",
                                           "remove_tags": ["kept", "never"]})
    assert (err.value.field, err.value.value) == ("remove_tags", "never")
    assert state(ctx, 1) == (None, "unreviewed", (("kept", "user"),))


@pytest.mark.parametrize("ids,changes,field", [
    ([], {"rating": 1}, "ids"),
    ("1,2", {"rating": 1}, "ids"),
    ([1, "2"], {"rating": 1}, "ids"),
    (list(range(1, tags.MAX_IMAGE_IDS + 2)), {"rating": 1}, "ids"),
    ([1], {}, "body"),
    ([1], {"rating": 6}, "rating"),
    ([1], {"rating": "3"}, "rating"),
    ([1], {"review_state": "maybe"}, "review_state"),
    ([1], {"add_tags": []}, "add_tags"),
    ([1], {"add_tags": "beach"}, "add_tags"),
    ([1], {"add_tags": ["ok", "bad\x01"]}, "add_tags"),
    ([1], {"remove_tags": [" "]}, "remove_tags"),
    ([1], {"add_tags": ["t"] * (curation.MAX_BULK_TAGS + 1)}, "add_tags"),
    ([1], {"path": "/etc"}, "path"),
])
def test_bad_input_names_the_field_and_changes_nothing(ctx, ids, changes, field) -> None:  # noqa: ANN001
    with pytest.raises(BadInput) as err:
        curation.curate_many(ctx, ids, changes)
    assert err.value.field == field
    assert state(ctx, 1) == (None, "unreviewed", ())


# ---------------------------------------------------------------------------- bulk: CLI and API

def test_cli_and_api_give_the_same_result(client, auth, ctx) -> None:  # noqa: ANN001
    for image_id in (1, 2, 3, 4):
        model_tag(ctx, image_id, "grass", 0.4)
    by_cli = json.loads(cli("images", "bulk", "1", "2", "--rating", "3", "--review", "rejected",
                            "--add-tag", "keep", "--add-tag", "red", "--remove-tag", "grass",
                            "--json"))
    resp = client.post(f"{API}/images/bulk", headers=auth, json={
        "ids": [3, 4], "rating": 3, "review_state": "rejected", "add_tags": ["keep", "red"],
        "remove_tags": ["grass"]})
    assert resp.status_code == 200, resp.get_json()
    assert by_cli == {"updated": 2, "ids": [1, 2]} and resp.get_json() == {
        "updated": 2, "ids": [3, 4]}
    assert {state(ctx, i) for i in (1, 2, 3, 4)} == {
        (3, "rejected", (("keep", "user"), ("red", "user")))}
    assert "updated 1 image(s)" in cli("images", "bulk", "5", "--rating", "none")


def test_both_edges_refuse_an_unknown_id_alike(client, auth, ctx) -> None:  # noqa: ANN001
    resp = client.post(f"{API}/images/bulk", headers=auth,
                       json={"ids": [1, 999], "review_state": "approved"})
    body = resp.get_json()
    assert resp.status_code == 404 and body["field"] == "ids" and body["value"] == 999
    assert f"error: {body['error']}" in cli("images", "bulk", "1", "999", "--review",
                                            "approved", status=2)
    assert state(ctx, 1) == (None, "unreviewed", ())


def test_api_bulk_statuses(client, auth) -> None:  # noqa: ANN001
    post = lambda **kw: client.post(f"{API}/images/bulk", headers=auth, **kw)  # noqa: E731
    assert post(json={"ids": [1]}).status_code == 400
    assert post(json={"ids": [1], "rating": 9}).get_json()["field"] == "rating"
    assert post(json={"ids": [1], "stars": 9}).get_json()["field"] == "stars"
    assert post(data="ids=1&rating=3",
                content_type="application/x-www-form-urlencoded").status_code == 415


def test_a_viewer_may_not_bulk_curate_but_may_export(app, client, ctx) -> None:  # noqa: ANN001
    viewer = {"Authorization": f"Bearer {make_user(app, 'vera', 'viewer')}"}
    resp = client.post(f"{API}/images/bulk", headers=viewer, json={"ids": [1], "rating": 5})
    assert resp.status_code == 403 and "curator" in resp.get_json()["error"]
    assert state(ctx, 1)[0] is None
    resp = client.post(f"{API}/export", headers=viewer, json={"ids": [1]})
    assert resp.status_code == 200 and resp.mimetype == "application/zip"
    assert resp.is_streamed  # sent as it is made, not built whole first


# ---------------------------------------------------------------------------- export

def add_generated(ctx, parent: int) -> int:  # noqa: ANN001
    """A generated PNG in the data directory, made from ``parent`` by a finished job."""
    data = png_bytes((30, 60, 220), seed=5)
    rel = "generated/out-1.png"
    path = Path(ctx.settings.home) / rel
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)
    params = {"prompt": "a blue <sky> & sea", "steps": 4, "seed": 7}
    with ctx.catalog.session() as s:
        job = Job(kind="img2img", params=params, status=JobStatus.SUCCEEDED)
        s.add(job)
        s.flush()
        img = CatalogImage(library_id=None, path=rel, sha256="ab" * 32, size=len(data), mtime=0.0,
                           width=80, height=64, format="PNG", origin=ImageOrigin.GENERATED)
        s.add(img)
        s.flush()
        s.add(Lineage(image_id=img.id, parent_id=parent, job_id=job.id, operation="img2img",
                      params={**params, "strength": 0.5}))
        return img.id


def read_zip(data: bytes) -> zipfile.ZipFile:
    zf = zipfile.ZipFile(io.BytesIO(data))
    assert zf.testzip() is None  # every member's CRC is right
    return zf


def xmp(zf: zipfile.ZipFile, name: str) -> tuple[str | None, list[str]]:
    root = ET.fromstring(zf.read(name))
    desc = root.find("rdf:RDF/rdf:Description", NS)
    assert desc is not None
    subjects = [li.text for li in desc.findall("dc:subject/rdf:Bag/rdf:li", NS)]
    return desc.get(f"{{{NS['xmp']}}}Rating"), subjects


def test_export_holds_the_files_metadata_and_sidecars(client, auth, ctx) -> None:  # noqa: ANN001
    gen = add_generated(ctx, parent=1)
    tags.add_tag(ctx, 'Tom & "Jerry" <3', [1])
    model_tag(ctx, 1, "red", 0.75)
    curation.curate_many(ctx, [1], {"rating": 4, "review_state": "approved"})
    curation.curate_many(ctx, [8], {"rating": 2, "review_state": "rejected"})
    resp = client.post(f"{API}/export", headers=auth, json={"ids": [1, gen, 8]})
    assert resp.status_code == 200 and resp.mimetype == "application/zip"
    assert resp.headers["Content-Disposition"].startswith(
        'attachment; filename="daguerre-export-')
    zf = read_zip(resp.get_data())
    meta = json.loads(zf.read("metadata.json"))
    assert meta["count"] == 3 and meta["board"] is None
    by_id = {m["id"]: m for m in meta["images"]}
    assert [m["id"] for m in meta["images"]] == [1, gen, 8]
    for image_id, m in by_id.items():
        assert zf.read(m["file"]) == original(ctx, image_id)  # byte for byte
        assert m["file"] == f"{image_id}-{Path(m['path']).name}"
        assert m["sidecar"] == m["file"] + ".xmp" and m["sidecar"] in zf.namelist()
    first = by_id[1]
    assert (first["library"], first["rating"], first["review_state"]) == ("photos", 4,
                                                                         "approved")
    assert first["tags"] == [{"name": 'Tom & "Jerry" <3', "source": "user", "score": None},
                             {"name": "red", "source": "model", "score": 0.75}]
    assert first["width"] > 0 and first["size"] == len(original(ctx, 1))
    assert first["lineage"] == [] and first["job"] is None
    made = by_id[gen]
    assert made["lineage"] == [{"parent_id": 1, "operation": "img2img", "job_id": 1,
                                "params": {"prompt": "a blue <sky> & sea", "steps": 4,
                                           "seed": 7, "strength": 0.5}}]
    assert made["job"]["kind"] == "img2img" and made["job"]["params"]["seed"] == 7
    # The sidecars, parsed as XML: rating and keywords right, the names escaped.
    assert xmp(zf, first["sidecar"]) == ("4", ['Tom & "Jerry" <3', "red"])
    assert xmp(zf, by_id[8]["sidecar"]) == ("-1", [])  # rejected
    assert xmp(zf, made["sidecar"]) == (None, [])  # unrated
    # Photos already compressed are stored, the metadata deflated.
    assert zf.getinfo(first["file"]).compress_type == zipfile.ZIP_STORED
    assert zf.getinfo("metadata.json").compress_type == zipfile.ZIP_DEFLATED


def test_export_is_checked_before_it_streams(client, auth, ctx) -> None:  # noqa: ANN001
    set_status(ctx, 3, ImageStatus.DELETED)
    for body, status, field in [({"ids": [1, 999]}, 404, "ids"), ({"ids": [1, 3]}, 404, "ids"),
                                ({"ids": []}, 400, "ids"), ({"board": 999}, 404, "board"),
                                ({"ids": [1], "board": 1}, 400, "board"),
                                ({}, 400, "body"), ({"ids": [1], "x": 1}, 400, "x")]:
        resp = client.post(f"{API}/export", headers=auth, json=body)
        assert (resp.status_code, resp.mimetype) == (status, "application/json"), body
        assert resp.get_json()["field"] == field, body
    # A file gone from disk is refused up front too, not a zip cut short. (The generated
    # image's file is in this test's own data directory; the library is shared.)
    gen = add_generated(ctx, parent=1)
    images.original_file(ctx, gen).path.unlink()
    resp = client.post(f"{API}/export", headers=auth, json={"ids": [1, gen]})
    assert resp.status_code == 404 and resp.get_json()["value"] == gen


def test_a_large_export_streams_in_bounded_pieces(ctx, monkeypatch) -> None:  # noqa: ANN001
    monkeypatch.setattr(export, "CHUNK", 4096)
    found = export.export_zip(ctx, ids=list(range(1, 13)))
    assert isinstance(found.chunks, types.GeneratorType)
    pieces = list(found)
    total = sum(len(p) for p in pieces)
    files = sum(len(original(ctx, i)) for i in range(1, 13))
    assert total > files  # every file went through
    biggest = max(len(p) for p in pieces[1:])  # after metadata.json
    # Never more than one block of a file (plus its zip headers) held at once.
    assert biggest < 4096 + 1024 < files / 10
    zf = read_zip(b"".join(pieces))
    assert len(zf.namelist()) == 1 + 2 * 12


def test_a_form_post_downloads_with_the_csrf_token_only(app, ctx) -> None:  # noqa: ANN001
    make_user(app, "vera", "viewer")
    browser = app.test_client()
    csrf = sign_in(browser, "vera")
    resp = browser.post(f"{API}/export", data={"ids": "2, 1,2", "csrf_token": csrf})
    assert resp.status_code == 200, resp.get_data(as_text=True)
    zf = read_zip(resp.get_data())
    assert [m["id"] for m in json.loads(zf.read("metadata.json"))["images"]] == [2, 1]
    refused = browser.post(f"{API}/export", data={"ids": "1"})
    assert refused.status_code == 400 and refused.mimetype == "application/json"
    assert "CSRF" in refused.get_json()["error"]
    bad = browser.post(f"{API}/export", data={"ids": "1,x", "csrf_token": csrf})
    assert bad.status_code == 400 and bad.get_json()["field"] == "ids"


def test_a_board_exports_by_api_form_and_cli(client, auth, ctx, tmp_path: Path) -> None:  # noqa: ANN001
    board = client.post(f"{API}/collections", headers=auth, json={"name": "Été 2024"}).get_json()
    client.post(f"{API}/collections/{board['id']}/images", headers=auth,
                json={"image_ids": [4, 2, 9]})
    set_status(ctx, 9, ImageStatus.MISSING)  # not active: not exported
    resp = client.get(f"{API}/collections/{board['id']}/export", headers=auth)
    assert resp.status_code == 200
    assert "filename*=UTF-8''%C3%89t%C3%A9%202024.zip" in resp.headers["Content-Disposition"]
    meta = json.loads(read_zip(resp.get_data()).read("metadata.json"))
    assert meta["board"] == {"id": board["id"], "name": "Été 2024"}
    assert [m["id"] for m in meta["images"]] == [2, 4]
    by_form = client.post(f"{API}/export", headers=auth, data={"board": str(board["id"])})
    assert json.loads(read_zip(by_form.get_data()).read("metadata.json"))["count"] == 2
    assert client.get(f"{API}/collections/999/export", headers=auth).status_code == 404

    out = tmp_path / "exports" / "board.zip"
    out.parent.mkdir()
    said = json.loads(cli("export", "--board", "Été 2024", "-o", str(out), "--json"))
    assert said["images"] == 2 and said["bytes"] == out.stat().st_size
    zf = read_zip(out.read_bytes())
    assert zf.read("2-" + Path(images.get_image(ctx, 2)["path"]).name) == original(ctx, 2)
    assert list(out.parent.iterdir()) == [out]  # no partial file left beside it


def test_cli_export_of_ids_and_its_errors(ctx, tmp_path: Path) -> None:  # noqa: ANN001
    out = tmp_path / "sel.zip"
    assert "wrote 2 image(s)" in cli("export", "3", "1", "-o", str(out))
    names = read_zip(out.read_bytes()).namelist()
    assert names[0] == "metadata.json" and len(names) == 5
    assert "no active image with id 999" in cli("export", "1", "999", "-o",
                                                 str(tmp_path / "x.zip"), status=2)
    assert "one of them" in cli("export", "-o", str(tmp_path / "x.zip"), status=2)
    assert "one of them" in cli("export", "1", "--board", "b", "-o", str(tmp_path / "x.zip"),
                                status=2)
    assert not (tmp_path / "x.zip").exists()


def test_xmp_sidecar_survives_names_xml_cannot_hold() -> None:
    from daguerre.platform.catalog.models import ReviewState

    packet = export.xmp_sidecar(7, 0, ReviewState.UNREVIEWED, ["a\ud800b", "c\ufffed"])
    root = ET.fromstring(packet)
    lis = [li.text for li in root.iter(f"{{{NS['rdf']}}}li")]
    assert lis == ["ab", "cd"]
    assert root.find("rdf:RDF/rdf:Description", NS).get(f"{{{NS['xmp']}}}Rating") == "0"
