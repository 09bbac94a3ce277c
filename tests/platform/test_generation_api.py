"""The generator's JSON API: jobs created from catalog ids only, errors that name the field."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from daguerre.platform.catalog.models import Image as ImageRow
from tests.platform.api_fixtures import *  # noqa: F403 - fixtures

API = "/api/v1"


@pytest.fixture()
def sent(app) -> list[tuple[int, str]]:  # noqa: ANN001
    out: list[tuple[int, str]] = []
    app.config["JOB_SENDER"] = lambda job_id, queue: out.append((job_id, queue))
    return out


def _ids(app) -> list[int]:  # noqa: ANN001
    from daguerre.platform.web import get_context

    with app.app_context(), get_context().catalog.session() as s:
        return list(s.scalars(select(ImageRow.id).order_by(ImageRow.id)))


def test_generate_creates_a_queued_job_with_a_fixed_seed(client, auth, sent):
    resp = client.post(f"{API}/generate", json={"prompt": "a lighthouse", "steps": 4,
                                                "width": 64, "height": 64}, headers=auth)
    assert resp.status_code == 202, resp.get_json()
    job = resp.get_json()
    assert job["kind"] == "generate" and job["status"] == "queued"
    assert isinstance(job["params"]["seed"], int)
    assert sent == [(job["id"], "gpu")]


@pytest.mark.parametrize(("body", "field", "status"), [
    ({"prompt": "x", "width": 100}, "width", 400),
    ({"prompt": "x", "scheduler": "nope"}, "scheduler", 400),
    ({"prompt": "x", "steps": "many"}, "steps", 400),
    ({"prompt": "x", "path": "/etc/passwd"}, "path", 400),
    ({}, "prompt", 400),
])
def test_generate_bad_input_names_the_field(client, auth, sent, body, field, status):
    resp = client.post(f"{API}/generate", json=body, headers=auth)
    assert resp.status_code == status, resp.get_json()
    assert resp.get_json()["field"] == field
    assert not sent


def test_image_operations_take_catalog_ids_only(app, client, auth, sent):
    first = _ids(app)[0]
    ok = client.post(f"{API}/translate", json={"image_id": first, "prompt": "a painting",
                                               "strength": 0.5}, headers=auth)
    assert ok.status_code == 202 and ok.get_json()["params"]["image_id"] == first
    missing = client.post(f"{API}/translate", json={"image_id": 987654, "prompt": "x"},
                          headers=auth)
    assert missing.status_code == 404
    path = client.post(f"{API}/upscale", json={"image": "/etc/hosts"}, headers=auth)
    assert path.status_code == 400 and path.get_json()["field"] == "image"
    boxes = client.post(f"{API}/inpaint", json={"image_id": first, "prompt": "sky",
                                                "mask_boxes": [[0, 0, 16, 16]]}, headers=auth)
    assert boxes.status_code == 202, boxes.get_json()
    no_mask = client.post(f"{API}/inpaint", json={"image_id": first}, headers=auth)
    assert no_mask.status_code == 400 and no_mask.get_json()["field"] == "mask"
    unknown = client.post(f"{API}/inpaint", json={"image_id": first, "mask": "0" * 64},
                          headers=auth)
    assert unknown.status_code == 404
    assert len(sent) == 2


def test_restore_by_ids_and_library_with_recipe_checks(app, client, auth, sent):
    ids = _ids(app)
    resp = client.post(f"{API}/restore", json={"image_ids": [ids[0]], "library": "photos",
                                               "recipe": {"denoise": False}}, headers=auth)
    assert resp.status_code == 202, resp.get_json()
    job = resp.get_json()
    assert sorted(job["params"]["image_ids"]) == sorted(ids)
    assert job["params"]["recipe"] == {"denoise": False}
    bad = client.post(f"{API}/restore", json={"image_ids": [ids[0]],
                                              "recipe": {"denoise_strength": 50}}, headers=auth)
    assert bad.status_code == 400 and bad.get_json()["field"] == "recipe.denoise_strength"
    assert "denoise_strength" in bad.get_json()["error"]
    nolib = client.post(f"{API}/restore", json={"image_ids": [ids[0]], "library": "nope"},
                        headers=auth)
    assert nolib.status_code == 404


def test_the_document_lists_the_operations(client):
    doc = client.get(f"{API}/openapi.json").get_json()
    for op in ("generate", "translate", "edit", "inpaint", "upscale", "restore"):
        assert "202" in doc["paths"][f"/{op}"]["post"]["responses"]
    schema = doc["paths"]["/generate"]["post"]["requestBody"]["content"]["application/json"]
    assert schema["schema"]["properties"]["width"]["multipleOf"] == 8
    assert "prompt" in schema["schema"]["required"]


def test_the_document_reads_defaults_and_recipe_limits_from_the_code(client):
    from daguerre.generator.pipelines.translation import Translation

    doc = client.get(f"{API}/openapi.json").get_json()

    def body(op: str) -> dict:
        return doc["paths"][f"/{op}"]["post"]["requestBody"]["content"]["application/json"][
            "schema"]

    assert body("translate")["properties"]["strength"]["default"] == Translation.default_strength
    recipe = body("restore")["properties"]["recipe"]["properties"]
    assert recipe["upscale"] == {"type": "integer", "enum": [1, 2, 4],
                                 "description": "upscale factor (1: off)"}
    assert recipe["denoise_strength"]["maximum"] == 20.0
    assert recipe["seed"]["maximum"] == 2**32 - 1


def test_a_translate_job_records_the_default_strength_it_runs_with(app, client, auth, sent):
    from daguerre.generator.pipelines.translation import Translation

    resp = client.post(f"{API}/translate", json={"image_id": _ids(app)[0], "prompt": "x"},
                       headers=auth)
    assert resp.status_code == 202, resp.get_json()
    assert resp.get_json()["params"]["strength"] == Translation.default_strength


@pytest.mark.parametrize(("body", "field", "value"), [
    ({"recipe": {"upscale": 3}}, "recipe.upscale", 3),
    ({"recipe": {"inpaint_method": "magic"}}, "recipe.inpaint_method", "magic"),
    ({"recipe": {"colour": True}}, "recipe.colour", True),
    ({"mask_boxes": [[0, 0, 1]]}, "mask_boxes[0]", [0, 0, 1]),
    ({"mask": "f" * 64}, "mask", "f" * 64),
])
def test_restore_errors_carry_the_field_and_value(app, client, auth, sent, body, field, value):
    resp = client.post(f"{API}/restore", json={"image_ids": [_ids(app)[0]], **body},
                       headers=auth)
    assert resp.status_code in (400, 404), resp.get_json()
    got = resp.get_json()
    assert (got["field"], got["value"]) == (field, value), got
    assert not sent
