"""Personal tags on the dashboard and the API (``/tags/<name>/suggestions``,
``/api/v1/tags/<name>/learn|suggestions``): first through the test client (who may do what, the
shapes and errors the OpenAPI document states), then in a real browser (Debian's chromium under
Playwright) as a curator uses it: five images tagged, "Learn" pressed, one suggestion confirmed
with P and another refused with X, and the results checked through the API.

The library is the API tests' twelve images under the tiny random CLIP: its embeddings mean
nothing, so these tests ask for every suggestion (``min_probability=0``) and check the flow, not
the quality (tests/platform/test_fewshot_tags.py measures that with the trained model).
"""

from __future__ import annotations

import pytest

from tests.platform.api_fixtures import *  # noqa: F403 - the app/live_server/token fixtures
from tests.platform.api_fixtures import make_user, sign_in
from tests.platform.browser_fixtures import (  # noqa: F401 - fixtures
    assert_accessible,
    browser_page,
    inline_jobs,
    shots,
)
from tests.platform.browser_fixtures import sign_in as browser_sign_in

API = "/api/v1"


def tag_images(client, auth: dict, name: str, ids: list[int]) -> None:  # noqa: ANN001
    for i in ids:
        resp = client.post(f"{API}/images/{i}/tags", json={"name": name}, headers=auth)
        assert resp.status_code == 201, resp.get_json()


def image_ids(client, auth: dict) -> list[int]:  # noqa: ANN001
    return [i["id"] for i in client.get(f"{API}/images?limit=50", headers=auth).get_json()["items"]]


# -- through the test client -----------------------------------------------------------------
def test_learn_suggest_confirm_refuse_over_the_api(app, client, auth) -> None:  # noqa: ANN001
    sent: list[tuple[int, str]] = []
    app.config["JOB_SENDER"] = lambda job_id, queue: sent.append((job_id, queue))
    ids = image_ids(client, auth)
    tag_images(client, auth, "sunny", ids[:4])
    resp = client.post(f"{API}/tags/sunny/learn", headers=auth)
    assert resp.status_code == 409 and "at least 5" in resp.get_json()["error"]
    resp = client.get(f"{API}/tags/sunny/suggestions", headers=auth)
    assert resp.status_code == 409 and "learn" in resp.get_json()["error"]
    assert client.get(f"{API}/tags/nope/suggestions", headers=auth).status_code == 404

    tag_images(client, auth, "sunny", ids[4:5])
    learned = client.post(f"{API}/tags/sunny/learn", headers=auth).get_json()
    assert learned["positives"] == 5 and learned["negatives"] == 7 and learned["retrained"]
    got = client.get(f"{API}/tags/sunny/suggestions?min_probability=0&limit=3",
                     headers=auth).get_json()
    assert got["limit"] == 3 and got["min_probability"] == 0
    items = got["items"]
    assert len(items) == 3 and {i["id"] for i in items} <= set(ids[5:])
    assert items[0]["source"] == "suggested" and items[0]["thumbnail_url"].endswith("/thumbnail")
    assert [i["probability"] for i in items] == sorted((i["probability"] for i in items),
                                                       reverse=True)
    bad = client.get(f"{API}/tags/sunny/suggestions?min_probability=2", headers=auth)
    assert bad.status_code == 400 and bad.get_json()["field"] == "min_probability"

    out = client.post(f"{API}/tags/sunny/suggestions/confirm",
                      json={"image_ids": [items[0]["id"]]}, headers=auth).get_json()
    assert out["confirmed"] == 1 and out["retrain"]["kind"] == "learn_tag"
    assert sent == [(out["retrain"]["id"], "cpu")]
    tags = client.get(f"{API}/images/{items[0]['id']}/tags", headers=auth).get_json()["items"]
    assert {"name": "sunny", "source": "user", "score": None} in tags
    # A second answer while the first retraining is still queued queues no other.
    out = client.post(f"{API}/tags/sunny/suggestions/refuse",
                      json={"image_ids": [items[1]["id"]]}, headers=auth).get_json()
    assert out["refused"] == 1 and out["retrain"] is None and len(sent) == 1
    left = client.get(f"{API}/tags/sunny/suggestions?min_probability=0&limit=50",
                      headers=auth).get_json()["items"]
    assert not {items[0]["id"], items[1]["id"]} & {i["id"] for i in left}
    resp = client.post(f"{API}/tags/sunny/suggestions/refuse", json={"image_ids": [10**9]},
                       headers=auth)
    assert resp.status_code == 404
    resp = client.post(f"{API}/tags/sunny/suggestions/confirm", json={"image_ids": "1"},
                       headers=auth)
    assert resp.status_code == 400 and resp.get_json()["field"] == "image_ids"


def test_a_viewer_may_look_and_nothing_more(app, client, auth) -> None:  # noqa: ANN001
    ids = image_ids(client, auth)
    tag_images(client, auth, "sunny", ids[:5])
    assert client.post(f"{API}/tags/sunny/learn", headers=auth).status_code == 200
    viewer = {"Authorization": f"Bearer {make_user(app, 'vera', 'viewer')}"}
    assert client.get(f"{API}/tags/sunny/suggestions?min_probability=0",
                      headers=viewer).status_code == 200
    assert client.post(f"{API}/tags/sunny/learn", headers=viewer).status_code == 403
    for action in ("confirm", "refuse"):
        resp = client.post(f"{API}/tags/sunny/suggestions/{action}",
                           json={"image_ids": [ids[6]]}, headers=viewer)
        assert resp.status_code == 403

    browser = app.test_client()
    sign_in(browser, "vera")
    page = browser.get("/tags/sunny/suggestions?min_probability=0").get_data(as_text=True)
    assert f'data-id="{ids[6]}"' in page and "need a curator" in page
    assert 'data-answer="confirm"' not in page and 'id="learn"' not in page
    listing = browser.get("/suggestions").get_data(as_text=True)
    assert "/tags/sunny/suggestions" in listing and "learned" in listing
    assert browser.get("/tags/nope/suggestions").status_code == 404
    assert browser.get("/tags/sunny/suggestions?limit=x").status_code == 400


def test_the_openapi_document_lists_the_new_operations(client) -> None:  # noqa: ANN001
    doc = client.get(f"{API}/openapi.json").get_json()
    assert set(doc["paths"]["/tags/{name}/suggestions"]) == {"get"}
    for path in ("/tags/{name}/learn", "/tags/{name}/suggestions/confirm",
                 "/tags/{name}/suggestions/refuse"):
        assert "403" in doc["paths"][path]["post"]["responses"]  # a viewer is refused
    assert "TagSuggestions" in doc["components"]["schemas"]


# -- in a real browser -----------------------------------------------------------------------
@pytest.mark.timeout(180)
def test_learn_then_confirm_and_refuse_with_the_keys(app, live_server, token, browser_page,  # noqa: ANN001, F811
                                                      shots, inline_jobs) -> None:  # noqa: F811
    page = browser_page
    api = page.request
    headers = {"Authorization": f"Bearer {token}"}
    items = api.get(f"{live_server.url}{API}/images?limit=50", headers=headers).json()["items"]
    ids = [i["id"] for i in items]
    for i in ids[:5]:
        resp = api.post(f"{live_server.url}{API}/images/{i}/tags", data={"name": "sunny"},
                        headers=headers)
        assert resp.status == 201
    make_user(app, "cora", "curator")
    browser_sign_in(page, live_server.url, "cora")

    # Not learned yet: the screen says so and offers "Learn".
    page.goto(live_server.url + "/tags/sunny/suggestions?min_probability=0")
    page.wait_for_selector("#classifier-info >> text=no classifier yet")
    assert_accessible(page, "suggestions, before learning")
    page.get_by_role("button", name="Learn").click()
    page.wait_for_selector(".photo-card")
    cards = page.locator(".photo-card")
    assert cards.count() == 7
    shown = [int(cards.nth(k).get_attribute("data-id")) for k in range(7)]
    assert not set(shown) & set(ids[:5])
    page.wait_for_function(
        "() => [...document.querySelectorAll('.photo-card img')].slice(0, 4)"
        ".every(i => i.complete && i.naturalWidth > 0)", timeout=15_000)
    page.screenshot(path=str(shots / "suggestions-1280.png"))
    assert_accessible(page, "suggestions")

    # The best suggestion has focus: P confirms it, the next takes focus, X refuses that one.
    focused = "document.activeElement.closest('.photo-card')?.dataset.id"
    assert page.evaluate(focused) == str(shown[0])
    page.keyboard.press("p")
    page.wait_for_selector(f'.photo-card[data-id="{shown[0]}"]', state="detached")
    page.wait_for_selector("#notice >> text=tagged “sunny”")
    assert page.evaluate(focused) == str(shown[1])
    page.keyboard.press("x")
    page.wait_for_selector(f'.photo-card[data-id="{shown[1]}"]', state="detached")
    page.wait_for_selector("#notice >> text=refused for “sunny”")
    # Bulk: select two cards with the mouse and confirm them with the button.
    page.locator(f'.photo-card[data-id="{shown[2]}"] img').click()
    page.locator(f'.photo-card[data-id="{shown[3]}"] img').click(modifiers=["Control"])
    page.get_by_role("button", name="Confirm P").click()
    page.wait_for_selector(f'.photo-card[data-id="{shown[3]}"]', state="detached")
    assert page.locator(".photo-card").count() == 3
    page.keyboard.press("?")
    page.wait_for_selector("#grid-keys[open] >> text=confirm: the image gets the tag")
    page.keyboard.press("Escape")
    assert not page.locator("#notice.error").is_visible()

    # Through the API: what the keys did is in the catalog.
    def tags_of(i: int) -> list[dict]:
        return api.get(f"{live_server.url}{API}/images/{i}/tags", headers=headers).json()["items"]

    for i in (shown[0], shown[2], shown[3]):
        assert {"name": "sunny", "source": "user", "score": None} in tags_of(i)
    assert tags_of(shown[1]) == []
    # Retrained after the answers, by jobs (run here on threads): wait for the last one.
    for _ in range(100):
        left = api.get(f"{live_server.url}{API}/tags/sunny/suggestions?min_probability=0",
                       headers=headers).json()
        if left["classifier"]["positives"] == 8:
            break
        page.wait_for_timeout(200)
    assert left["classifier"]["positives"] == 8
    assert {i["id"] for i in left["items"]} == set(shown[4:])  # refused: never again
    # On a phone: the remaining suggestions fit the width.
    page.set_viewport_size({"width": 390, "height": 844})
    page.reload()
    page.wait_for_selector(".photo-card")
    assert page.evaluate("document.documentElement.scrollWidth") <= 390
    page.screenshot(path=str(shots / "suggestions-390.png"), full_page=True)
