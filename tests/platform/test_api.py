"""The JSON API through Flask's test client: auth, every endpoint's happy path and its errors."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest

from tests.platform.api_fixtures import *  # noqa: F403 - fixtures
from tests.platform.api_fixtures import bomb_bytes, make_user, png_bytes

API = "/api/v1"


def error_of(resp) -> dict:  # noqa: ANN001
    assert resp.is_json, resp.data[:200]
    body = resp.get_json()
    assert isinstance(body.get("error"), str) and body["error"]
    return body


# ---------------------------------------------------------------------------- authentication

@pytest.mark.parametrize("method,path", [
    ("GET", "/libraries"), ("POST", "/libraries"), ("GET", "/images"), ("GET", "/images/1"),
    ("GET", "/images/1/thumbnail"), ("GET", "/images/1/original"), ("GET", "/search?q=x"),
    ("POST", "/search/image"), ("GET", "/search/similar/1"), ("GET", "/jobs"),
    ("POST", "/jobs"), ("GET", "/tags"), ("POST", "/images/1/tags"), ("PATCH", "/images/1"),
])
def test_requests_without_a_token_get_401_json(client, method, path) -> None:  # noqa: ANN001
    resp = client.open(API + path, method=method)
    assert resp.status_code == 401
    assert "token" in error_of(resp)["error"].lower()
    assert resp.headers["WWW-Authenticate"].startswith("Bearer")


def test_wrong_and_revoked_tokens_are_refused(app, client, token, auth) -> None:  # noqa: ANN001
    from daguerre.platform.tokens import revoke_token

    assert client.get(f"{API}/libraries", headers=auth).status_code == 200
    bad = {"Authorization": "Bearer dgr_" + "x" * 43}
    assert client.get(f"{API}/libraries", headers=bad).status_code == 401
    assert client.get(f"{API}/libraries", headers={"Authorization": token}).status_code == 401
    revoke_token(app.extensions["daguerre"].ctx, "root-tests")
    resp = client.get(f"{API}/libraries", headers=auth)
    assert resp.status_code == 401 and "revoked" in error_of(resp)["error"]


def test_tokens_are_stored_hashed(app, token) -> None:  # noqa: ANN001
    from sqlalchemy import select

    from daguerre.platform.catalog.models import ApiToken

    with app.extensions["daguerre"].ctx.catalog.session() as s:
        stored = s.scalars(select(ApiToken.token_hash)).all()
    assert token not in stored and len(stored) == 1 and len(stored[0]) == 64


def test_no_credential_is_read_from_a_url(client, token, auth) -> None:  # noqa: ANN001
    # image files included: the dashboard loads them on its session cookie
    for path in ("/images/1/thumbnail", "/images/1/original", "/libraries"):
        assert client.get(f"{API}{path}?token={token}").status_code == 401
        assert client.get(f"{API}{path}", headers=auth).status_code == 200


def test_openapi_document_is_public(client) -> None:  # noqa: ANN001
    resp = client.get(f"{API}/openapi.json")
    assert resp.status_code == 200 and resp.get_json()["openapi"].startswith("3.1")


# ---------------------------------------------------------------------------- errors

def test_unknown_routes_and_methods_are_json(client, auth) -> None:  # noqa: ANN001
    resp = client.get(f"{API}/nothing-here", headers=auth)
    assert resp.status_code == 404 and "no such endpoint" in error_of(resp)["error"]
    resp = client.delete(f"{API}/libraries", headers=auth)
    assert resp.status_code == 405 and "DELETE" in error_of(resp)["error"]
    assert "GET" in resp.headers["Allow"]


def test_a_crash_is_a_json_500_without_traceback(clip_env, indexed_home) -> None:  # noqa: ANN001
    from daguerre.platform.web import create_app

    app = create_app({"TESTING": False})

    def boom() -> None:
        raise RuntimeError("secret internals /etc/shadow")

    from daguerre.platform.web.auth import public

    app.add_url_rule(f"{API}/boom", "boom", public(boom))
    resp = app.test_client().get(f"{API}/boom")
    assert resp.status_code == 500
    body = error_of(resp)
    assert "secret" not in resp.get_data(as_text=True) and "Traceback" not in body["error"]


# ---------------------------------------------------------------------------- libraries

def test_list_libraries(client, auth, library_root) -> None:  # noqa: ANN001
    items = client.get(f"{API}/libraries", headers=auth).get_json()["items"]
    assert [(i["name"], i["images"], i["root"]) for i in items] == [
        ("photos", 12, str(library_root.resolve()))]
    assert items[0]["last_indexed_at"] is not None


def test_add_library(client, auth, tmp_path) -> None:  # noqa: ANN001
    folder = tmp_path / "scans"
    folder.mkdir()
    resp = client.post(f"{API}/libraries", json={"path": str(folder), "name": "Scans"},
                       headers=auth)
    assert resp.status_code == 201
    lib = resp.get_json()
    assert lib["name"] == "Scans" and lib["root"] == str(folder.resolve()) and lib["images"] == 0
    got = client.get(f"{API}/libraries/{lib['id']}", headers=auth).get_json()
    assert got["id"] == lib["id"]
    again = client.post(f"{API}/libraries", json={"path": str(folder)}, headers=auth)
    assert again.status_code == 409 and error_of(again)["field"] == "path"


@pytest.mark.parametrize("body,field,words,status", [
    ({}, "path", "required", 400),
    ({"path": 5}, "path", "string", 400),
    ({"path": "relative/folder"}, "path", "absolute", 400),
    # Well-formed paths to nothing, or to a place no library may be: 404 and 403, not 400.
    ({"path": "/no/such/folder/anywhere"}, "path", "does not exist", 404),
    ({"path": "/etc/hostname"}, "path", "not a folder", 404),
    ({"path": "/etc"}, "path", "system folder", 403),
])
def test_add_library_bad_input(client, auth, body, field, words, status) -> None:  # noqa: ANN001
    resp = client.post(f"{API}/libraries", json=body, headers=auth)
    assert resp.status_code == status
    err = error_of(resp)
    assert err["field"] == field and words in err["error"]


def test_add_library_needs_json(client, auth) -> None:  # noqa: ANN001
    resp = client.post(f"{API}/libraries", data="path=/tmp", headers=auth)
    assert resp.status_code == 415 and error_of(resp)["field"] == "body"
    resp = client.post(f"{API}/libraries", data="[1]", content_type="application/json",
                       headers=auth)
    assert resp.status_code == 400 and "object" in error_of(resp)["error"]


def test_unknown_library_is_404(client, auth) -> None:  # noqa: ANN001
    assert client.get(f"{API}/libraries/999", headers=auth).status_code == 404
    assert client.post(f"{API}/libraries/999/scan", headers=auth).status_code == 404
    assert client.get(f"{API}/libraries/99999999999999999999999", headers=auth).status_code == 404


def test_scan_queues_an_index_job(app, client, auth) -> None:  # noqa: ANN001
    pytest.importorskip("daguerre.platform.services.jobs")
    sent: list[tuple[int, str]] = []
    app.config["JOB_SENDER"] = lambda job_id, queue: sent.append((job_id, queue))
    resp = client.post(f"{API}/libraries/1/scan", headers=auth)
    assert resp.status_code == 202
    job = resp.get_json()
    assert job["kind"] == "index" and job["status"] == "queued"
    assert job["params"]["library"] in (1, "photos")
    assert [s[0] for s in sent] == [job["id"]]


# ---------------------------------------------------------------------------- images

def test_list_images_pages_in_id_order(client, auth) -> None:  # noqa: ANN001
    page = client.get(f"{API}/images?limit=5&offset=0", headers=auth).get_json()
    assert page["total"] == 12 and len(page["items"]) == 5
    rest = client.get(f"{API}/images?limit=5&offset=10", headers=auth).get_json()
    assert len(rest["items"]) == 2
    everything = client.get(f"{API}/images?limit=500", headers=auth).get_json()["items"]
    ids = [i["id"] for i in everything]
    assert ids == sorted(ids) and len(set(ids)) == 12
    assert [i["id"] for i in page["items"]] == ids[:5]


@pytest.mark.parametrize("query,expected", [
    ("folder=beach", 6), ("format=png", 6), ("format=JPEG", 6), ("min_width=96", 6),
    ("min_height=65", 0), ("library=photos", 12), ("library=1", 12), ("origin=upload", 0),
    ("folder=beach&min_width=96", 3), ("folder=../etc", 0), ("folder=/beach/", 6),
    ("date_from=1990-01-01", 0), ("min_rating=0.0", 0), ("library=", 12), ("format=jpg", 6),
])
def test_list_images_filters(client, auth, query, expected) -> None:  # noqa: ANN001
    resp = client.get(f"{API}/images?{query}", headers=auth)
    assert resp.status_code == 200, resp.get_json()
    assert resp.get_json()["total"] == expected


@pytest.mark.parametrize("query,field,status", [
    ("limit=0", "limit", 400), ("limit=abc", "limit", 400), ("limit=501", "limit", 400),
    ("offset=-1", "offset", 400), ("min_rating=6", "min_rating", 400),
    ("origin=space", "origin", 400), ("date_from=yesterday", "date_from", 400),
    ("status=gone", "status", 400), ("library=nope", "library", 404), ("tag=nope", "tag", 404),
    # A date or a number given empty is not "any": it is not a date or a number.
    ("date_to=", "date_to", 400), ("min_rating=", "min_rating", 400),
    ("min_rating=3.5", "min_rating", 400), ("origin=", "origin", 400), ("limit=", "limit", 400),
])
def test_list_images_bad_parameters(client, auth, query, field, status) -> None:  # noqa: ANN001
    resp = client.get(f"{API}/images?{query}", headers=auth)
    assert resp.status_code == status
    assert error_of(resp)["field"] == field


def test_get_image(client, auth, library_root) -> None:  # noqa: ANN001
    img = client.get(f"{API}/images/1", headers=auth).get_json()
    assert (library_root / img["path"]).is_file()
    assert img["status"] == "active" and img["origin"] == "library" and img["tags"] == []
    assert img["thumbnail_url"] == f"{API}/images/1/thumbnail"
    resp = client.get(f"{API}/images/424242", headers=auth)
    assert resp.status_code == 404 and "424242" in error_of(resp)["error"]


def test_curate_an_image_then_find_it_by_rating_and_review(client, auth) -> None:  # noqa: ANN001
    resp = client.patch(f"{API}/images/3", headers=auth,
                        json={"rating": 4, "review_state": "approved"})
    assert resp.status_code == 200, resp.get_json()
    assert (resp.get_json()["rating"], resp.get_json()["review_state"]) == (4, "approved")
    client.patch(f"{API}/images/5", headers=auth, json={"review_state": "rejected"})
    assert client.get(f"{API}/images/3", headers=auth).get_json()["rating"] == 4  # stored

    def ids(query: str) -> list[int]:
        return [i["id"] for i in client.get(f"{API}/images?{query}", headers=auth)
                .get_json()["items"]]

    assert ids("min_rating=4") == [3]
    assert ids("review_state=approved") == [3] and ids("review_state=rejected") == [5]
    hits = {h["id"]: h for h in client.get(f"{API}/search?q=red&limit=12", headers=auth)
            .get_json()["items"]}
    assert (hits[3]["rating"], hits[3]["review_state"]) == (4, "approved")  # cards show it
    assert hits[5]["review_state"] == "rejected" and hits[1]["review_state"] == "unreviewed"
    assert 3 not in ids("review_state=unreviewed") and len(ids("review_state=unreviewed")) == 10
    # a rating is cleared with null; the review state is left as it was
    cleared = client.patch(f"{API}/images/3", headers=auth, json={"rating": None}).get_json()
    assert (cleared["rating"], cleared["review_state"]) == (None, "approved")


def test_an_image_shows_what_it_was_made_from_and_what_was_made_from_it(app, client,
                                                                          auth) -> None:  # noqa: ANN001
    from daguerre.platform.jobs.runner import execute

    ctx = app.extensions["daguerre"].ctx
    app.config["JOB_SENDER"] = lambda job_id, queue: execute(ctx, job_id, "api-test")
    job = client.post(f"{API}/restore", headers=auth,
                      json={"image_ids": [2], "recipe": {"denoise": False}}).get_json()
    done = client.get(f"{API}/jobs/{job['id']}", headers=auth).get_json()
    assert done["status"] == "succeeded", done
    made = done["result"]["image_ids"][0]
    out = client.get(f"{API}/images/{made}", headers=auth).get_json()
    assert out["origin"] == "generated"
    assert [(r["parent_id"], r["job_id"], r["operation"]) for r in out["lineage"]] == \
        [(2, job["id"], "restore")]
    assert out["lineage"][0]["params"]["job"]["recipe"]["denoise"] is False  # the full parameters
    source = client.get(f"{API}/images/2", headers=auth).get_json()
    assert source["lineage"] == []
    assert source["derived"] == [{"image_id": made, "job_id": job["id"], "operation": "restore"}]


@pytest.mark.parametrize("body,field", [
    ({"rating": 6}, "rating"), ({"rating": -1}, "rating"), ({"rating": "5"}, "rating"),
    ({"rating": True}, "rating"), ({"rating": 2.5}, "rating"),
    ({"review_state": "maybe"}, "review_state"), ({"review_state": ["approved"]}, "review_state"),
    ({"path": "/etc/passwd"}, "path"), ({"origin": "library"}, "origin"), ({}, "body"),
])
def test_curate_bad_input_changes_nothing(client, auth, body, field) -> None:  # noqa: ANN001
    before = client.get(f"{API}/images/2", headers=auth).get_json()
    resp = client.patch(f"{API}/images/2", headers=auth, json=body)
    assert resp.status_code == 400 and error_of(resp)["field"] == field
    assert client.get(f"{API}/images/2", headers=auth).get_json() == before
    resp = client.patch(f"{API}/images/424242", headers=auth, json={"rating": 1})
    assert resp.status_code == 404


def test_thumbnail_and_original(client, auth, library_root) -> None:  # noqa: ANN001
    img = client.get(f"{API}/images/1", headers=auth).get_json()
    thumb = client.get(img["thumbnail_url"], headers=auth)
    assert thumb.status_code == 200 and thumb.mimetype == "image/jpeg"
    assert thumb.data[:2] == b"\xff\xd8"
    orig = client.get(img["original_url"], headers=auth)
    assert orig.status_code == 200
    assert orig.data == (library_root / img["path"]).read_bytes()
    assert client.get(f"{API}/images/777/thumbnail", headers=auth).status_code == 404
    assert client.get(f"{API}/images/777/original", headers=auth).status_code == 404


def _add_image(app, path: str, library_id: int | None = 1) -> int:  # noqa: ANN001
    from daguerre.platform.catalog.models import Image, ImageOrigin

    origin = ImageOrigin.LIBRARY if library_id else ImageOrigin.UPLOAD
    with app.extensions["daguerre"].ctx.catalog.session() as s:
        img = Image(library_id=library_id, path=path, sha256="0" * 64, size=1, mtime=0.0,
                    width=1, height=1, format="PNG", origin=origin,
                    thumbnail="../" * 8 + "etc/hostname")
        s.add(img)
        s.flush()
        return img.id


def test_files_outside_the_library_are_never_served(app, client, auth, library_root,
                                                    tmp_path) -> None:  # noqa: ANN001
    secret = tmp_path / "secret.png"
    secret.write_bytes(png_bytes())
    link = library_root / "beach" / "escape.png"
    if not link.exists():
        os.symlink(secret, link)
    try:
        for path in ("beach/escape.png", "../" * 10 + str(secret).lstrip("/"), str(secret)):
            image_id = _add_image(app, path)
            resp = client.get(f"{API}/images/{image_id}/original", headers=auth)
            assert resp.status_code == 404, path
            assert resp.data != secret.read_bytes()
            # The thumbnail column points outside the data directory too: refused as well.
            assert client.get(f"{API}/images/{image_id}/thumbnail", headers=auth).status_code == 404
        upload = _add_image(app, "../../" + str(secret).lstrip("/"), library_id=None)
        assert client.get(f"{API}/images/{upload}/original", headers=auth).status_code == 404
    finally:
        link.unlink()


# ---------------------------------------------------------------------------- search

def test_text_search_get_and_post(client, auth) -> None:  # noqa: ANN001
    resp = client.get(f"{API}/search?q=a red square&limit=5", headers=auth)
    assert resp.status_code == 200
    body = resp.get_json()
    assert body["query"] == "a red square" and len(body["items"]) == 5
    scores = [h["score"] for h in body["items"]]
    assert scores == sorted(scores, reverse=True)
    assert all(h["thumbnail_url"].endswith("/thumbnail") for h in body["items"])
    posted = client.post(f"{API}/search", json={"q": "a red square", "limit": 5}, headers=auth)
    assert posted.status_code == 200
    assert [h["id"] for h in posted.get_json()["items"]] == [h["id"] for h in body["items"]]


def test_text_search_paging_and_cutoff(client, auth) -> None:  # noqa: ANN001
    full = client.get(f"{API}/search?q=photo&limit=12", headers=auth).get_json()["items"]
    page = client.get(f"{API}/search?q=photo&limit=4&offset=4", headers=auth).get_json()["items"]
    assert [h["id"] for h in page] == [h["id"] for h in full[4:8]]
    cut = full[5]["score"]
    kept = client.get(f"{API}/search?q=photo&limit=12&min_score={cut}",
                      headers=auth).get_json()["items"]
    assert kept and all(h["score"] >= cut for h in kept) and len(kept) < 12


def test_search_with_filters_fills_the_page(client, auth) -> None:  # noqa: ANN001
    body = client.get(f"{API}/search?q=sea&folder=beach&limit=10", headers=auth).get_json()
    assert len(body["items"]) == 6 and body["filters"] == {"folder": "beach"}
    assert all("/beach/" in h["path"] for h in body["items"])
    top = client.get(f"{API}/search?q=sea&format=jpeg&min_width=96&limit=2",
                     headers=auth).get_json()["items"]
    assert len(top) == 2 and all(h["width"] >= 96 and h["path"].endswith(".jpg") for h in top)
    page2 = client.get(f"{API}/search?q=sea&folder=beach&limit=3&offset=3",
                       headers=auth).get_json()["items"]
    assert [h["id"] for h in page2] == [h["id"] for h in body["items"][3:6]]
    similar = client.get(f"{API}/search/similar/2?folder=beach&limit=10",
                         headers=auth).get_json()["items"]
    beach = client.get(f"{API}/images?folder=beach", headers=auth).get_json()["items"]
    assert {h["id"] for h in similar} == {i["id"] for i in beach} - {2}
    none = client.get(f"{API}/search?q=sea&origin=generated", headers=auth).get_json()
    assert none["items"] == []


def test_search_terms_that_name_server_files_are_forbidden(client, auth, library_root
                                                          ) -> None:  # noqa: ANN001
    """A file term would make the server read a path of the client's choosing: the CLI may, the
    API may not (403, naming q); the same picture is found by #ID or by an upload instead."""
    target = library_root / "beach" / "green-1.png"
    for query in (str(target), f'"sunset" + {target}'):
        resp = client.get(f"{API}/search", query_string={"q": query}, headers=auth)
        assert resp.status_code == 403 and error_of(resp)["field"] == "q", resp.get_json()
    resp = client.post(f"{API}/search", json={"q": "/etc/passwd.png"}, headers=auth)
    assert resp.status_code == 403


def test_similar_to_an_image_not_indexed_yet_is_a_conflict(app, client, auth) -> None:  # noqa: ANN001
    """The image exists but has no vector: its state, not the request, is wrong (409)."""
    from daguerre.platform.web import get_context

    with app.app_context():
        ctx = get_context()
        store = ctx.store()
        with store.edit() as st:
            st.remove(np.asarray([4], dtype=np.int64))
    resp = client.get(f"{API}/search/similar/4", headers=auth)
    assert resp.status_code == 409 and error_of(resp)["field"] == "image_id"


@pytest.mark.parametrize("query,field", [
    ("", "q"), ("q=", "q"), ("q=x&limit=0", "limit"), ("q=x&limit=ten", "limit"),
    ("q=x&min_score=2", "min_score"), ("q=x&min_score=nan", "min_score"),
    ("q=x&offset=-3", "offset"), ("q=" + "x" * 2001, "q"), ("q=x&min_score=", "min_score"),
    ("q=x&date_to=", "date_to"),
])
def test_text_search_bad_input(client, auth, query, field) -> None:  # noqa: ANN001
    resp = client.get(f"{API}/search?{query}", headers=auth)
    assert resp.status_code == 400
    assert error_of(resp)["field"] == field


def test_search_post_bad_body(client, auth) -> None:  # noqa: ANN001
    resp = client.post(f"{API}/search", json={"q": 3}, headers=auth)
    assert resp.status_code == 400 and error_of(resp)["field"] == "q"
    resp = client.post(f"{API}/search", json={"q": "x", "limit": True}, headers=auth)
    assert resp.status_code == 400 and error_of(resp)["field"] == "limit"
    # A JSON body's numbers are numbers: "3" is refused, 3.0 is the integer 3.
    resp = client.post(f"{API}/search", json={"q": "x", "min_rating": "3"}, headers=auth)
    assert resp.status_code == 400 and error_of(resp)["field"] == "min_rating"
    resp = client.post(f"{API}/search", json={"q": "x", "min_rating": 3.0}, headers=auth)
    assert resp.status_code == 200 and resp.get_json()["filters"] == {"min_rating": 3}
    resp = client.post(f"{API}/search", json={"q": "x", "date_from": "2024-02-01",
                                              "date_to": "2024-01-01"}, headers=auth)
    # A range that ends before it starts is empty: answered, with nothing in it.
    assert resp.status_code == 200 and resp.get_json()["items"] == []
    assert client.post(f"{API}/search", data="q=x", headers=auth).status_code == 415


def test_search_by_uploaded_image_finds_its_copy(client, auth, library_root) -> None:  # noqa: ANN001
    target = library_root / "beach" / "green-1.png"
    resp = client.post(f"{API}/search/image", headers=auth,
                       data={"image": (target.open("rb"), "query.png"), "limit": "3"})
    assert resp.status_code == 200, resp.get_json()
    hits = resp.get_json()["items"]
    assert len(hits) == 3
    assert hits[0]["path"].endswith("beach/green-1.png") and hits[0]["score"] > 0.999


def test_upload_refuses_non_images_and_bombs(client, auth) -> None:  # noqa: ANN001
    import io

    resp = client.post(f"{API}/search/image", headers=auth,
                       data={"image": (io.BytesIO(b"%PDF-1.4 not an image"), "doc.pdf")})
    assert resp.status_code == 400
    err = error_of(resp)
    assert err["field"] == "image" and "not a recognised image" in err["error"]
    resp = client.post(f"{API}/search/image", headers=auth,
                       data={"image": (io.BytesIO(bomb_bytes()), "bomb.png")})
    assert resp.status_code == 400
    err = error_of(resp)
    assert err["field"] == "image" and "decompression bomb" in err["error"]
    resp = client.post(f"{API}/search/image", headers=auth,
                       data={"image": (io.BytesIO(b""), "empty.png")})
    assert resp.status_code == 400 and error_of(resp)["field"] == "image"
    resp = client.post(f"{API}/search/image", headers=auth, data={"limit": "3"},
                       content_type="multipart/form-data")
    assert resp.status_code == 400 and error_of(resp)["field"] == "image"
    resp = client.post(f"{API}/search/image", headers=auth, json={"image": "x"})
    assert resp.status_code == 415


def test_upload_over_the_limit_is_413(app, clip_env) -> None:  # noqa: ANN001
    import io

    from daguerre.platform.web import create_app

    small = create_app({"TESTING": True, "max_upload_bytes": 4096})
    secret = make_user(small, "small", "viewer")
    resp = small.test_client().post(
        f"{API}/search/image", headers={"Authorization": f"Bearer {secret}"},
        data={"image": (io.BytesIO(b"\x89PNG" + b"\0" * 10_000), "big.png")})
    assert resp.status_code == 413
    assert "4096" in error_of(resp)["error"]


def test_similar_by_image_id(client, auth) -> None:  # noqa: ANN001
    resp = client.get(f"{API}/search/similar/3?limit=4", headers=auth)
    assert resp.status_code == 200
    body = resp.get_json()
    assert body["image_id"] == 3 and len(body["items"]) == 4
    assert 3 not in [h["id"] for h in body["items"]]
    assert client.get(f"{API}/search/similar/9999", headers=auth).status_code == 404


# ---------------------------------------------------------------------------- tags

def test_add_list_filter_and_remove_tags(client, auth) -> None:  # noqa: ANN001
    resp = client.post(f"{API}/images/2/tags", json={"name": "  Holiday  2024 "}, headers=auth)
    assert resp.status_code == 201
    assert resp.get_json()["items"] == [{"name": "Holiday 2024", "source": "user", "score": None}]
    again = client.post(f"{API}/images/2/tags", json={"name": "Holiday 2024"}, headers=auth)
    assert again.status_code == 200 and len(again.get_json()["items"]) == 1
    tags = client.get(f"{API}/tags", headers=auth).get_json()["items"]
    assert [(t["name"], t["images"]) for t in tags] == [("Holiday 2024", 1)]
    tagged = client.get(f"{API}/images?tag=Holiday 2024", headers=auth).get_json()
    assert [i["id"] for i in tagged["items"]] == [2]
    assert client.get(f"{API}/images/2", headers=auth).get_json()["tags"][0]["name"] == \
        "Holiday 2024"
    removed = client.delete(f"{API}/images/2/tags/Holiday 2024", headers=auth)
    assert removed.status_code == 200 and removed.get_json()["items"] == []
    gone = client.delete(f"{API}/images/2/tags/Holiday 2024", headers=auth)
    assert gone.status_code == 404 and error_of(gone)["field"] == "name"


@pytest.mark.parametrize("body,field", [({}, "name"), ({"name": "   "}, "name"),
                                        ({"name": ["a"]}, "name"), ({"name": "x" * 201}, "name"),
                                        ({"name": "a\tb\x01"}, "name")])
def test_add_tag_bad_input(client, auth, body, field) -> None:  # noqa: ANN001
    resp = client.post(f"{API}/images/2/tags", json=body, headers=auth)
    assert resp.status_code == 400 and error_of(resp)["field"] == field


def test_tags_of_unknown_image_404(client, auth) -> None:  # noqa: ANN001
    assert client.post(f"{API}/images/999/tags", json={"name": "x"},
                       headers=auth).status_code == 404
    assert client.get(f"{API}/images/999/tags", headers=auth).status_code == 404


# ---------------------------------------------------------------------------- jobs

@pytest.fixture()
def sent(app) -> list[tuple[int, str]]:  # noqa: ANN001
    pytest.importorskip("daguerre.platform.services.jobs")
    record: list[tuple[int, str]] = []
    app.config["JOB_SENDER"] = lambda job_id, queue: record.append((job_id, queue))
    return record


def test_job_lifecycle(client, auth, sent) -> None:  # noqa: ANN001
    resp = client.post(f"{API}/jobs", json={"kind": "noop", "params": {"sleep": 0}},
                       headers=auth)
    assert resp.status_code == 202
    job = resp.get_json()
    assert job["status"] == "queued" and job["progress"]["done"] == 0
    assert sent == [(job["id"], sent[0][1])]
    assert client.get(f"{API}/jobs/{job['id']}", headers=auth).get_json()["id"] == job["id"]
    listed = client.get(f"{API}/jobs?status=queued", headers=auth).get_json()["items"]
    assert [j["id"] for j in listed] == [job["id"]]
    canceled = client.post(f"{API}/jobs/{job['id']}/cancel", headers=auth)
    assert canceled.status_code == 200 and canceled.get_json()["status"] == "canceled"
    retried = client.post(f"{API}/jobs/{job['id']}/retry", headers=auth)
    assert retried.status_code == 202
    new = retried.get_json()
    assert new["retried_from"] == job["id"] and new["status"] == "queued"
    assert new["id"] != job["id"] and len(sent) == 2
    assert client.get(f"{API}/jobs?kind=noop", headers=auth).get_json()["items"][0]["id"] == \
        new["id"]


@pytest.mark.parametrize("body,field", [
    ({}, "kind"), ({"kind": "teleport"}, "kind"), ({"kind": "noop", "params": []}, "params"),
    ({"kind": "noop", "params": {"sleep": "long"}}, "params.sleep"),
    ({"kind": "noop", "params": {"colour": 1}}, "params.colour"),
])
def test_create_job_bad_input(client, auth, sent, body, field) -> None:  # noqa: ANN001
    resp = client.post(f"{API}/jobs", json=body, headers=auth)
    assert resp.status_code == 400, resp.get_json()
    assert error_of(resp)["field"] == field
    assert sent == []


def test_job_errors(client, auth, sent) -> None:  # noqa: ANN001
    for path in ("/jobs/4242", "/jobs/4242/cancel", "/jobs/4242/retry"):
        method = "GET" if path.count("/") == 2 else "POST"
        assert client.open(API + path, method=method, headers=auth).status_code == 404
    assert client.get(f"{API}/jobs?status=lost", headers=auth).status_code == 400
    job = client.post(f"{API}/jobs", json={"kind": "noop"}, headers=auth).get_json()
    resp = client.post(f"{API}/jobs/{job['id']}/retry", headers=auth)
    # Retrying a job that is not failed or canceled conflicts with its state: 409, not 400.
    assert resp.status_code == 409 and "only failed or canceled" in error_of(resp)["error"]


def test_scan_of_library_whose_root_vanished(app, client, auth, tmp_path) -> None:  # noqa: ANN001
    folder = tmp_path / "temporary"
    folder.mkdir()
    lib = client.post(f"{API}/libraries", json={"path": str(folder)}, headers=auth).get_json()
    folder.rmdir()
    resp = client.post(f"{API}/libraries/{lib['id']}/scan", headers=auth)
    assert resp.status_code == 409 and "not available" in error_of(resp)["error"]


def test_library_root_is_absolute_path_only_input(client, auth) -> None:  # noqa: ANN001
    # No other endpoint takes a path: a "path" parameter anywhere else is simply not a filter.
    resp = client.get(f"{API}/images?path=/etc/passwd", headers=auth)
    assert resp.status_code == 200 and resp.get_json()["total"] == 12
    assert Path("/etc/passwd").name not in resp.get_data(as_text=True)
