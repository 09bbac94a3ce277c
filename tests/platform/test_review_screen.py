"""The review screen (``/review``): first through the test client (who sees which controls, bad
paging refused by name, a viewer refused changes by the server), then in a real browser
(Debian's chromium under Playwright) as a curator uses it: generated images made directly in the
catalog (a thumbnail file and a lineage row to a library image each) are cleared with the keys
alone, the next page loads with "More", and the results are checked through the API.

Screenshots go under ``$DAGUERRE_SCREENSHOTS`` (default: the test's temporary folder)."""

from __future__ import annotations

from pathlib import Path

import pytest
from PIL import Image as PILImage

from tests.platform.api_fixtures import *  # noqa: F403 - the app/live_server/token fixtures
from tests.platform.api_fixtures import make_user, sign_in
from tests.platform.browser_fixtures import (  # noqa: F401 - fixtures
    assert_accessible,
    browser_page,
    shots,
)
from tests.platform.browser_fixtures import sign_in as browser_sign_in

API = "/api/v1"


def make_generated(app, count: int) -> tuple[list[int], int]:  # noqa: ANN001
    """``count`` generated images awaiting review, each with a thumbnail file and a lineage row
    to a library image; returns (their ids, oldest first; the parent's id)."""
    from sqlalchemy import select

    from daguerre.platform.catalog.models import Image, ImageOrigin, Lineage

    ctx = app.extensions["daguerre"].ctx
    home = Path(ctx.settings.home)
    (home / "review-thumbs").mkdir(exist_ok=True)
    ids: list[int] = []
    with ctx.catalog.session() as s:
        parent = s.scalars(select(Image.id).where(Image.origin == ImageOrigin.LIBRARY)
                           .order_by(Image.id)).first()
        for i in range(count):
            thumb = f"review-thumbs/g{i}.jpg"
            PILImage.new("RGB", (64, 64), (40 + 8 * i, 120, 200 - 5 * i)).save(home / thumb)
            img = Image(library_id=None, path=f"generated/g{i}.png", sha256=f"{i:062x}ab",
                        size=1, mtime=0.0, width=64, height=64, format="PNG",
                        origin=ImageOrigin.GENERATED, thumbnail=thumb)
            s.add(img)
            s.flush()
            s.add(Lineage(image_id=img.id, parent_id=parent, operation="restore",
                          params={"recipe": "auto"}))
            ids.append(img.id)
    return ids, parent


# -- through the test client -----------------------------------------------------------------
def test_a_viewer_sees_the_queue_without_controls_and_is_refused(app) -> None:  # noqa: ANN001
    ids, parent = make_generated(app, 2)
    make_user(app, "vera", "viewer")
    client = app.test_client()
    csrf = sign_in(client, "vera")
    page = client.get("/review").get_data(as_text=True)
    assert page.index(f'data-id="{ids[1]}"') < page.index(f'data-id="{ids[0]}"')  # newest first
    assert f"{API}/images/{ids[0]}/thumbnail" in page
    assert f"{API}/images/{parent}/original" in page and "restore" in page
    assert 'data-action="approve"' not in page and 'data-action="rate"' not in page
    resp = client.patch(f"{API}/images/{ids[0]}", json={"review_state": "approved"},
                        headers={"X-CSRFToken": csrf})
    assert resp.status_code == 403
    assert client.get("/review?before=abc").status_code == 400


def test_a_curator_sees_controls_and_an_empty_queue_says_so(app) -> None:  # noqa: ANN001
    make_user(app, "cora", "curator")
    client = app.test_client()
    sign_in(client, "cora")
    assert "Nothing awaits review" in client.get("/review").get_data(as_text=True)
    ids, _parent = make_generated(app, 1)
    page = client.get("/review").get_data(as_text=True)
    assert 'data-action="approve"' in page and 'aria-label="Rate 5"' in page


# -- in a real browser -----------------------------------------------------------------------
@pytest.mark.timeout(180)
def test_clear_a_batch_with_the_keys(app, live_server, token, browser_page, shots  # noqa: ANN001, F811
                                     ) -> None:
    from daguerre.platform.web.pages.review import PAGE_SIZE

    ids, _parent = make_generated(app, PAGE_SIZE + 2)
    newest = ids[::-1]
    make_user(app, "cora", "curator")
    page = browser_page
    browser_sign_in(page, live_server.url, "cora")
    page.goto(live_server.url + "/review")
    cards = page.locator("#review-grid .review-card")
    assert cards.count() == PAGE_SIZE
    page.wait_for_function(
        "() => [...document.querySelectorAll('#review-grid img')].slice(0, 4)"
        ".every(i => i.complete && i.naturalWidth > 0)", timeout=15_000)
    page.screenshot(path=str(shots / "review-1280.png"))
    assert_accessible(page, "review")

    # The first card has focus on load: rate it 4, then approve it; it leaves the queue.
    focused = "document.activeElement.closest('.review-card')?.dataset.id"
    assert page.evaluate(focused) == str(newest[0])
    page.keyboard.press("4")
    page.wait_for_selector(f'.review-card[data-id="{newest[0]}"] .review-rating:text-is("4")')
    page.keyboard.press("p")
    page.wait_for_selector(f'.review-card[data-id="{newest[0]}"]', state="detached")
    assert page.evaluate(focused) == str(newest[1])
    page.keyboard.press("x")  # reject the next
    page.wait_for_selector(f'.review-card[data-id="{newest[1]}"]', state="detached")
    page.keyboard.press("ArrowRight")  # skip one, rate it, then send it back to unreviewed
    assert page.evaluate(focused) == str(newest[3])
    page.keyboard.press("ArrowLeft")
    page.keyboard.press("ArrowRight")
    page.keyboard.press("2")
    page.wait_for_selector(f'.review-card[data-id="{newest[3]}"] .review-rating:text-is("2")')
    page.keyboard.press("u")
    page.wait_for_selector("#notice >> text=back to unreviewed")
    page.keyboard.press("ArrowLeft")
    page.keyboard.press("p")  # approve newest[2]
    page.wait_for_selector(f'.review-card[data-id="{newest[2]}"]', state="detached")
    assert "23 images awaiting review" in page.locator("#review-count").inner_text()

    page.keyboard.press("?")
    page.wait_for_selector("#review-keys[open] >> text=approve (pick)")
    page.screenshot(path=str(shots / "review-keys.png"))
    page.keyboard.press("Escape")
    page.wait_for_selector("#review-keys", state="hidden")

    # "More" appends the next page; keys work on its cards too.
    page.locator("#review-more").focus()
    page.keyboard.press("Enter")
    page.wait_for_selector(f'.review-card[data-id="{newest[-1]}"]')
    assert page.locator("#review-more").count() == 0
    page.locator(f'.review-card[data-id="{newest[-1]}"]').focus()
    page.keyboard.press("x")
    page.wait_for_selector(f'.review-card[data-id="{newest[-1]}"]', state="detached")
    assert not page.locator("#notice.error").is_visible()

    page.set_viewport_size({"width": 390, "height": 844})
    page.goto(live_server.url + "/review")
    assert page.evaluate("document.documentElement.scrollWidth") <= 390
    page.screenshot(path=str(shots / "review-390.png"))

    # Through the API: what the keys did is in the catalog.
    api = page.request
    headers = {"Authorization": f"Bearer {token}"}

    def state(i: int) -> tuple[str, int | None]:
        got = api.get(f"{live_server.url}{API}/images/{i}", headers=headers).json()
        return got["review_state"], got["rating"]

    assert state(newest[0]) == ("approved", 4)
    assert state(newest[1]) == ("rejected", None)
    assert state(newest[2]) == ("approved", None)
    assert state(newest[3]) == ("unreviewed", 2)
    assert state(newest[-1]) == ("rejected", None)
    assert state(newest[4]) == ("unreviewed", None)
