"""Collections: each rule of the collections service once, then one scenario through both the
command line and the API, which must agree, and the translation of each edge."""

from __future__ import annotations

import json

import pytest

from daguerre.platform.catalog.models import Image as CatalogImage
from daguerre.platform.catalog.models import ImageStatus
from daguerre.platform.errors import BadInput, Conflict, NotFound
from daguerre.platform.services import collections as service
from tests.platform.api_fixtures import *  # noqa: F403 - fixtures
from tests.platform.test_tags import cli, set_status

API = "/api/v1"
URL_KEYS = {"thumbnail_url", "original_url"}


@pytest.fixture()
def ctx(app):  # noqa: ANN001, ANN201 - the app's Context over a private indexed library
    return app.extensions["daguerre"].ctx


# ---------------------------------------------------------------------------- the service

def test_names_are_checked_and_unique(ctx) -> None:  # noqa: ANN001
    trip = service.create_collection(ctx, "  Summer   trip ")
    assert trip["name"] == "Summer trip" and trip["images"] == 0 and trip["created_at"]
    with pytest.raises(Conflict) as err:
        service.create_collection(ctx, "Summer trip")
    assert (err.value.field, err.value.value) == ("name", "Summer trip")
    with pytest.raises(BadInput) as err:
        service.create_collection(ctx, "a\x01")
    assert err.value.field == "name"
    other = service.create_collection(ctx, "Portfolio")
    with pytest.raises(Conflict):
        service.rename_collection(ctx, other["id"], "Summer  trip")
    assert service.rename_collection(ctx, trip["id"], "Summer trip")["name"] == "Summer trip"
    renamed = service.rename_collection(ctx, "Summer trip", "Trip 2024")
    assert renamed["id"] == trip["id"]
    assert [c["name"] for c in service.list_collections(ctx)] == ["Portfolio", "Trip 2024"]


def test_found_by_id_or_name_and_not_found_named(ctx) -> None:  # noqa: ANN001
    c = service.create_collection(ctx, "Keepers")
    assert service.get_collection(ctx, c["id"]) == service.get_collection(ctx, "Keepers") == \
        service.get_collection(ctx, str(c["id"]))
    with pytest.raises(NotFound) as err:
        service.get_collection(ctx, "nope")
    assert (err.value.field, err.value.value) == ("collection_id", "nope")


def test_images_must_exist_and_adding_twice_changes_nothing(ctx) -> None:  # noqa: ANN001
    c = service.create_collection(ctx, "Picks")
    assert service.add_images(ctx, c["id"], [3, 1, 3])["added"] == 2
    out = service.add_images(ctx, c["id"], [1, 2])
    assert out["added"] == 1 and out["collection"]["images"] == 3
    with pytest.raises(NotFound) as err:
        service.add_images(ctx, c["id"], [4, 999])
    assert (err.value.field, err.value.value) == ("image_ids", 999)
    assert "999" in str(err.value)
    assert service.get_collection(ctx, c["id"])["images"] == 3  # image 4 was not added
    for bad in ([], "1", [True], [-1], [1.5], [float("inf")], None):
        with pytest.raises(BadInput) as err:
            service.add_images(ctx, c["id"], bad)
        assert err.value.field == "image_ids"
    out = service.remove_images(ctx, c["id"], [1, 5])  # 5 was never in it: not an error
    assert out["removed"] == 1 and out["collection"]["images"] == 2
    with pytest.raises(NotFound):
        service.remove_images(ctx, c["id"], [999])


def test_listing_is_newest_first_paged_and_of_active_images(ctx) -> None:  # noqa: ANN001
    c = service.create_collection(ctx, "Album")
    for image_id in (5, 2, 9):
        service.add_images(ctx, c["id"], [image_id])
    page = service.collection_images(ctx, "Album")
    assert [i["id"] for i in page["items"]] == [9, 2, 5] and page["total"] == 3
    assert page["items"][0]["library"] == "photos" and page["items"][0]["added_at"]
    second = service.collection_images(ctx, "Album", {"limit": 2, "offset": 2})
    assert [i["id"] for i in second["items"]] == [5] and second["total"] == 3
    set_status(ctx, 2, ImageStatus.MISSING)
    assert [i["id"] for i in service.collection_images(ctx, "Album")["items"]] == [9, 5]
    assert service.list_collections(ctx)[0]["images"] == 2
    set_status(ctx, 2, ImageStatus.ACTIVE)  # found again: back in the count, same place
    assert [i["id"] for i in service.collection_images(ctx, "Album")["items"]] == [9, 2, 5]
    with pytest.raises(BadInput) as err:
        service.collection_images(ctx, "Album", {"limit": 501})
    assert err.value.field == "limit"


def test_deleting_keeps_the_images(ctx) -> None:  # noqa: ANN001
    a = service.create_collection(ctx, "A")
    b = service.create_collection(ctx, "B")
    service.add_images(ctx, a["id"], [1, 2])
    service.add_images(ctx, b["id"], [2])
    assert service.delete_collection(ctx, "A")["images"] == 2
    assert [c["name"] for c in service.list_collections(ctx)] == ["B"]
    assert service.get_collection(ctx, b["id"])["images"] == 1
    with ctx.catalog.session() as s:
        assert s.get(CatalogImage, 1).status == ImageStatus.ACTIVE
    assert service.create_collection(ctx, "A")["images"] == 0  # the name is free again


# ---------------------------------------------------------------------------- CLI and API agree

def test_one_collection_through_both_edges(client, auth) -> None:  # noqa: ANN001
    made = json.loads(cli("collections", "create", "Shortlist", "--json"))
    resp = client.post(f"{API}/collections/{made['id']}/images", json={"image_ids": [4, 6]},
                       headers=auth)
    assert resp.status_code == 200 and resp.get_json()["added"] == 2
    cli("collections", "add", "Shortlist", "7", "4")

    from_api = client.get(f"{API}/collections", headers=auth).get_json()["items"]
    assert json.loads(cli("collections", "list", "--json")) == from_api
    assert [(c["name"], c["images"]) for c in from_api] == [("Shortlist", 3)]

    api_page = client.get(f"{API}/collections/{made['id']}/images?limit=2&offset=1",
                          headers=auth).get_json()
    cli_page = json.loads(cli("collections", "show", "Shortlist", "--limit", "2",
                              "--offset", "1", "--json"))
    assert all(set(i) >= URL_KEYS for i in api_page["items"])
    api_page["items"] = [{k: v for k, v in i.items() if k not in URL_KEYS}
                         for i in api_page["items"]]
    assert cli_page == api_page and cli_page["total"] == 3

    resp = client.delete(f"{API}/collections/{made['id']}/images", json={"image_ids": [4]},
                         headers=auth)
    assert resp.get_json()["removed"] == 1
    assert json.loads(cli("collections", "remove", str(made["id"]), "6",
                          "--json"))["collection"]["images"] == 1

    # The same refusal from both: a taken name, an image that does not exist.
    client.post(f"{API}/collections", json={"name": "Other"}, headers=auth)
    conflict = client.patch(f"{API}/collections/{made['id']}", json={"name": " Other"},
                            headers=auth)
    assert conflict.status_code == 409 and conflict.get_json()["field"] == "name"
    assert conflict.get_json()["error"] in cli("collections", "rename", "Shortlist", "Other",
                                               status=2)
    missing = client.post(f"{API}/collections/{made['id']}/images",
                          json={"image_ids": [999]}, headers=auth)
    assert missing.status_code == 404 and missing.get_json()["value"] == 999
    assert missing.get_json()["error"] in cli("collections", "add", "Shortlist", "999",
                                              status=2)


# ---------------------------------------------------------------------------- translation only

def test_api_statuses(client, auth) -> None:  # noqa: ANN001
    resp = client.post(f"{API}/collections", json={"name": "Prints"}, headers=auth)
    assert resp.status_code == 201
    c = resp.get_json()
    assert set(c) == {"id", "name", "images", "cover", "created_at"}
    assert client.get(f"{API}/collections/{c['id']}", headers=auth).get_json() == c
    renamed = client.patch(f"{API}/collections/{c['id']}", json={"name": "Large prints"},
                           headers=auth)
    assert renamed.status_code == 200 and renamed.get_json()["name"] == "Large prints"
    assert client.post(f"{API}/collections", json={"name": "Large prints"},
                       headers=auth).status_code == 409
    for body in ({}, {"name": 3}, {"name": ""}):
        resp = client.post(f"{API}/collections", json=body, headers=auth)
        assert resp.status_code == 400 and resp.get_json()["field"] == "name"
    resp = client.post(f"{API}/collections/{c['id']}/images", json={"image_ids": "1"},
                       headers=auth)
    assert resp.status_code == 400 and resp.get_json()["field"] == "image_ids"
    resp = client.get(f"{API}/collections/{c['id']}/images?limit=0", headers=auth)
    assert resp.status_code == 400 and resp.get_json()["field"] == "limit"
    assert client.delete(f"{API}/collections/{c['id']}", headers=auth).status_code == 204
    for method in ("GET", "DELETE", "PATCH"):
        resp = client.open(f"{API}/collections/{c['id']}", method=method,
                           json={"name": "x"}, headers=auth)
        assert resp.status_code == 404 and resp.get_json()["field"] == "collection_id"
    assert client.get(f"{API}/collections", headers={}).status_code == 401


def test_cli_messages_and_exit_status(ctx) -> None:  # noqa: ANN001
    assert "created collection" in cli("collections", "create", "Zines")
    assert "added 2 image(s) to" in cli("collections", "add", "Zines", "1", "2")
    shown = cli("collections", "show", "Zines")
    assert shown.index("#2") < shown.index("#1") and "1-2 of 2 image(s)" in shown
    assert "Zines  (2 images)" in cli("collections", "list")
    assert "already" in cli("collections", "create", "Zines", status=2)
    assert "no collection 'nope'" in cli("collections", "show", "nope", status=2)
    assert "its images are kept" in cli("collections", "delete", "Zines")
    assert "no collections" in cli("collections", "list")
