"""The search screen, ``/search``: by text (with the query syntax and its errors marked), by an
example image (uploaded, dropped, pasted), "More like this", sort by relevance or capture date,
the filter panel, paging; and in Chromium: type and Enter, the file input, a drop, a paste, the
`/` key, axe-core and screenshots at 1280 and 390 px.

The library is the API tests' twelve generated images indexed with the tiny CLIP: the ranking is
the tiny model's, so these tests check what the screen promises (which images, which order rule,
what is kept in the URL), not the model's taste; test_search_quality.py measures that.
"""

from __future__ import annotations

import base64
import re
from datetime import datetime
from pathlib import Path
from urllib.parse import parse_qs, urlparse

import pytest

from tests.platform.api_fixtures import *  # noqa: F403
from tests.platform.api_fixtures import bomb_bytes, make_user
from tests.platform.api_fixtures import sign_in as client_sign_in
from tests.platform.browser_fixtures import *  # noqa: F403
from tests.platform.browser_fixtures import assert_accessible
from tests.platform.browser_fixtures import sign_in as browser_sign_in

CARD_ID = re.compile(r'<article class="photo-card"[^>]*data-id="(\d+)"')


def card_ids(html: str) -> list[int]:
    return [int(i) for i in CARD_ID.findall(html)]


def ids_by_name(app) -> dict[str, int]:  # noqa: ANN001
    """{"red-0.jpg": id, "beach/green-0.png": id, ...} of the indexed library."""
    from sqlalchemy import select

    from daguerre.platform.catalog.models import Image

    with app.extensions["daguerre"].ctx.catalog.session() as s:
        return {path: image_id for image_id, path in s.execute(select(Image.id, Image.path))}


@pytest.fixture()
def viewer(app, client):  # noqa: ANN001, ANN201
    """``client`` signed in as a viewer; returns the CSRF token of its session."""
    make_user(app, "vera", "viewer")
    return client_sign_in(client, "vera")


def page(client, url: str, status: int = 200) -> str:  # noqa: ANN001
    resp = client.get(url)
    assert resp.status_code == status, resp.get_data(as_text=True)[:2000]
    return resp.get_data(as_text=True)


# ----------------------------------------------------------------------------- text search


def test_text_search_renders_a_card_per_hit_with_its_score(client, viewer) -> None:  # noqa: ANN001
    html = page(client, "/search?q=a+red+picture")
    ids = card_ids(html)
    assert len(ids) == 12 and len(set(ids)) == 12  # every active image, once, best first
    assert 'value="a red picture"' in html  # the box keeps the query
    assert html.count('class="card-score"') == 12
    assert "Results 1–12, best match first." in html
    assert 'class="pager-next"' not in html  # one page holds them all
    # The order is the service's ranking.
    from daguerre.platform.services import search as svc

    hits = svc.search(client.application.extensions["daguerre"].ctx, "a red picture", limit=12)
    assert ids == [h.id for h in hits]


def test_pages_follow_one_another_without_overlap(client, viewer) -> None:  # noqa: ANN001
    html = page(client, "/search?q=blue&limit=5")
    seen = card_ids(html)
    assert len(seen) == 5
    chunk = re.search(r'class="page-chunk" data-url="([^"]+)"', html).group(1)
    assert parse_qs(urlparse(chunk.replace("&amp;", "&")).query)["offset"] == ["0"]
    while True:
        more = re.search(r'<a class="pager-next" href="([^"]+)"', html)
        if not more:
            break
        url = more.group(1).replace("&amp;", "&")
        assert parse_qs(urlparse(url).query)["q"] == ["blue"]
        html = page(client, url)
        seen += card_ids(html)
    assert sorted(seen) == sorted(ids_by_name(client.application).values())


def test_empty_page_shows_the_syntax_help_with_runnable_examples(client, viewer) -> None:  # noqa: ANN001
    html = page(client, "/search")
    assert "How to write a query" in html
    assert 'id="search-q"' in html and 'name="q"' in html
    assert '<a href="/search?q=%22a%20beach%22%20%2B%20%22sunset%22">' in html
    assert card_ids(html) == []
    # An example runs as written.
    assert len(card_ids(page(client, "/search?q=%22a%20beach%22%20%2B%20%22sunset%22"))) == 12


def test_a_query_that_does_not_parse_is_shown_with_its_fault_marked(client, viewer) -> None:  # noqa: ANN001
    html = page(client, '/search?q="a beach" %2B "sunset', status=400)
    assert "This query does not parse" in html
    assert "position 13" in html and "unterminated" in html
    assert "<mark>&#34;sunset</mark>" in html
    # The caret sits under the mark: 12 spaces then ^.
    assert re.search(r'<span class="query-caret" aria-hidden="true"> {12}\^</span>', html)
    assert 'aria-invalid="true"' in html
    assert card_ids(html) == []


def test_the_api_error_body_carries_the_position(client, token) -> None:  # noqa: ANN001
    resp = client.get('/api/v1/search?q="a beach" %2B "sunset',
                      headers={"Authorization": f"Bearer {token}"})
    assert resp.status_code == 400
    body = resp.get_json()
    assert body["field"] == "q" and body["position"] == 12
    assert body["value"] == '"a beach" + "sunset'
    # Other errors carry none.
    resp = client.get("/api/v1/search?q=x&limit=0", headers={"Authorization": f"Bearer {token}"})
    assert resp.status_code == 400 and "position" not in resp.get_json()


def test_a_file_term_is_refused_on_the_screen(client, viewer, library_root: Path) -> None:  # noqa: ANN001
    html = page(client, f"/search?q={library_root}/red-0.jpg", status=403)
    assert "names a file on the server" in html
    assert card_ids(html) == []


# ----------------------------------------------------------------------------- more like this


def test_more_like_this_shows_the_source_and_leaves_it_out(client, viewer) -> None:  # noqa: ANN001
    source = ids_by_name(client.application)["red-0.jpg"]
    html = page(client, f"/search?like={source}")
    assert f'More like <a href="/images/{source}">#{source}</a>' in html
    ids = card_ids(html)
    assert len(ids) == 11 and source not in ids
    # Every card offers it.
    assert f'href="/search?like={ids[0]}"' in html


def test_more_like_an_unknown_image_is_a_clear_404(client, viewer) -> None:  # noqa: ANN001
    html = page(client, "/search?like=99999", status=404)
    assert "99999" in html and card_ids(html) == []
    assert "like must be an image id" in page(client, "/search?like=abc", status=400)


# ----------------------------------------------------------------------------- sort and filters


def test_sort_by_date_orders_by_capture_time_newest_first(client, viewer) -> None:  # noqa: ANN001
    from daguerre.platform.catalog.models import Image

    ctx = client.application.extensions["daguerre"].ctx
    ids = ids_by_name(client.application)
    dated = {"red-0.jpg": datetime(2021, 5, 1), "blue-1.jpg": datetime(2024, 7, 31, 18),
             "beach/green-0.png": datetime(2023, 1, 2), "white-0.jpg": datetime(2019, 12, 25)}
    with ctx.catalog.session() as s:
        for name, when in dated.items():
            s.get(Image, ids[name]).captured_at = when
    by_relevance = card_ids(page(client, "/search?q=a+photo"))
    html = page(client, "/search?q=a+photo&sort=date")
    by_date = card_ids(html)
    newest_first = [ids[n] for n in ("blue-1.jpg", "beach/green-0.png", "red-0.jpg", "white-0.jpg")]
    assert by_date[:4] == newest_first
    # The undated follow in their ranked order.
    assert by_date[4:] == [i for i in by_relevance if i not in newest_first]
    assert "newest capture first" in html and '<span class="card-date">2024-07-31</span>' in html
    assert re.search(r'href="/search\?q=a\+photo&amp;sort=date" aria-current="page"', html)
    # Pages of the date order cut the same list.
    first = card_ids(page(client, "/search?q=a+photo&sort=date&limit=3"))
    second = card_ids(page(client, "/search?q=a+photo&sort=date&limit=3&offset=3"))
    assert first + second == by_date[:6]
    assert "sort must be one of relevance, date" in page(client, "/search?q=x&sort=size",
                                                         status=400)


def test_the_filter_panel_narrows_and_stays_in_the_url(client, viewer) -> None:  # noqa: ANN001
    ids = ids_by_name(client.application)
    beach = {i for name, i in ids.items() if name.startswith("beach/")}
    # The panel's form sends every field; the unset ones empty.
    url = ("/search?q=sunset&sort=date&library=&folder=beach&date_from=&date_to=&tag=&min_rating="
           "&review_state=&origin=&format=&min_width=&min_height=&limit=4")
    html = page(client, url)
    shown = card_ids(html)
    assert len(shown) == 4 and set(shown) <= beach
    assert '<summary>Filters <span class="filter-count">(1 on)</span></summary>' in html
    # The next page, the sort links and a new query keep the filter.
    more = re.search(r'<a class="pager-next" href="([^"]+)"', html).group(1).replace("&amp;", "&")
    assert parse_qs(urlparse(more).query)["folder"] == ["beach"]
    assert set(card_ids(page(client, more))) <= beach
    relevance = re.search(r'<a href="([^"]+)">Relevance</a>', html).group(1).replace("&amp;", "&")
    assert parse_qs(urlparse(relevance).query) == {"q": ["sunset"], "sort": ["relevance"],
                                                   "folder": ["beach"], "limit": ["4"]}
    assert re.search(r'class="search-form".*?<input type="hidden" name="folder" value="beach">',
                     html, re.S)
    # And the panel's own form carries the query and the order.
    assert re.search(r'class="filter-form".*?<input type="hidden" name="q" value="sunset">'
                     r'.*?<input type="hidden" name="sort" value="date">', html, re.S)
    # A bad filter is a clear error on the page.
    assert "min_rating" in page(client, "/search?q=x&min_rating=9", status=400)


# ----------------------------------------------------------------------------- by example


def test_upload_an_example_image_redirects_to_a_bookmarkable_result(
        client, viewer, library_root: Path) -> None:  # noqa: ANN001
    import hashlib
    import io

    data = (library_root / "beach" / "yellow-1.png").read_bytes()
    resp = client.post("/search/image", data={"image": (io.BytesIO(data), "yellow.png"),
                                              "csrf_token": viewer, "folder": "beach"},
                       content_type="multipart/form-data")
    assert resp.status_code == 303
    key = hashlib.sha256(data).hexdigest()
    assert resp.headers["Location"] == f"/search?image={key}&folder=beach"
    html = page(client, resp.headers["Location"])
    ids = card_ids(html)
    assert ids[0] == ids_by_name(client.application)["beach/yellow-1.png"]  # itself, first
    assert len(ids) == 6  # the filter came along
    assert f'<img src="/search/image/{key}" alt="Your example image"' in html
    preview = client.get(f"/search/image/{key}")
    assert preview.status_code == 200 and preview.mimetype == "image/jpeg"
    assert preview.data[:2] == b"\xff\xd8"
    # Stored once: the same upload is the same key.
    again = client.post("/search/image", data={"image": (io.BytesIO(data), "other-name.png"),
                                               "csrf_token": viewer},
                        content_type="multipart/form-data")
    assert again.headers["Location"] == f"/search?image={key}"


def test_uploads_that_are_not_images_are_refused_clearly(client, viewer) -> None:  # noqa: ANN001
    import io

    def post(data: bytes, name: str) -> tuple[int, str]:
        resp = client.post("/search/image", data={"image": (io.BytesIO(data), name),
                                                  "csrf_token": viewer},
                           content_type="multipart/form-data")
        return resp.status_code, resp.get_data(as_text=True)

    status, html = post(b"%PDF-1.4 not a picture", "report.pdf")
    assert status == 400 and "report.pdf is not an image this server can read" in html
    assert 'role="alert"' in html and 'id="search-q"' in html  # the page, with the message
    status, html = post(b"", "empty.png")
    assert status == 400 and "empty" in html
    status, html = post(bomb_bytes(), "bomb.png")
    assert status == 400 and "bomb.png" in html and "pixels" in html
    ctx = client.application.extensions["daguerre"].ctx
    assert not (ctx.settings.home / "search-examples").exists() or not any(
        (ctx.settings.home / "search-examples").glob("*.image"))
    # Without the CSRF token the post is refused.
    resp = client.post("/search/image", data={"image": (io.BytesIO(b"x"), "x.png")},
                       content_type="multipart/form-data")
    assert resp.status_code == 400
    # An unknown or malformed example key.
    assert "no stored example image" in page(client, "/search?image=" + "0" * 64, status=404)
    assert "64 hex digits" in page(client, "/search?image=../../etc/passwd", status=400)
    assert client.get("/search/image/" + "0" * 64).status_code == 404


def test_an_upload_over_the_limit_is_refused_with_the_page(client, viewer) -> None:  # noqa: ANN001
    import io

    client.application.config["MAX_CONTENT_LENGTH"] = 4096
    resp = client.post("/search/image", data={"image": (io.BytesIO(b"\0" * 10_000), "big.png"),
                                              "csrf_token": viewer},
                       content_type="multipart/form-data")
    html = resp.get_data(as_text=True)
    assert resp.status_code == 413
    assert "over the upload limit of 4096 bytes" in html and 'id="search-q"' in html


def test_without_model_weights_the_screen_says_so(indexed_home, clip_env, tmp_path) -> None:  # noqa: ANN001
    import shutil

    from daguerre.platform.web import create_app

    shutil.copytree(indexed_home[0], Path(clip_env["DAGUERRE_HOME"]))
    application = create_app({"TESTING": True, "clip_weights": str(tmp_path / "gone.pt")})
    try:
        client = application.test_client()
        make_user(application, "vera", "viewer")
        client_sign_in(client, "vera")
        html = page(client, "/search?q=an+unseen+query+text", status=503)
        assert "Search cannot run right now" in html and "weights" in html
    finally:
        application.extensions["daguerre"].ctx.close()


def test_anonymous_people_are_sent_to_sign_in(client, token) -> None:  # noqa: ANN001
    resp = client.get("/search?q=x")
    assert resp.status_code in (302, 303) and "/signin" in resp.headers["Location"]


# ----------------------------------------------------------------------------- in the browser


def no_overflow(page) -> None:  # noqa: ANN001
    width = page.evaluate("document.documentElement.scrollWidth")
    assert width <= page.viewport_size["width"], f"horizontal overflow: {width}px"


def test_browser_type_a_query_and_press_enter(app, live_server, browser_page, shots) -> None:  # noqa: ANN001
    make_user(app, "vera", "viewer")
    page = browser_page
    browser_sign_in(page, live_server.url, "vera")
    page.goto(live_server.url + "/search")
    assert_accessible(page, "search (empty)")
    page.get_by_label("Query").fill("a red picture")
    page.get_by_label("Query").press("Enter")
    page.wait_for_url("**/search?q=a+red+picture*")
    assert page.locator(".photo-card").count() == 12
    # `/` from anywhere comes back to the search box.
    page.locator(".photo-card").first.focus()
    page.keyboard.press("/")
    assert page.evaluate("document.activeElement.id") == "search-q"
    assert page.input_value("#search-q") == "a red picture"  # the key typed nothing
    page.get_by_text("How to write a query").click()
    assert_accessible(page, "search (results)")
    page.screenshot(path=str(shots / "search-1280.png"), full_page=True)
    page.set_viewport_size({"width": 390, "height": 844})
    no_overflow(page)
    page.screenshot(path=str(shots / "search-390.png"), full_page=True)
    # Stop at relevance: Auto keeps the query's own best group and says where it cut.
    page.get_by_role("link", name="Auto").click()
    page.wait_for_url("**cutoff=auto*")
    page.wait_for_selector("text=stopped at score")
    assert 0 < page.locator(".photo-card").count() <= 12
    no_overflow(page)
    assert_accessible(page, "search (cut off)")
    page.screenshot(path=str(shots / "search-cutoff-390.png"), full_page=True)
    # A query that does not parse, marked.
    page.set_viewport_size({"width": 1280, "height": 900})
    page.get_by_label("Query").fill('"a beach" + "sunset')
    page.get_by_label("Query").press("Enter")
    page.wait_for_selector(".query-marked mark")
    assert page.locator(".query-marked mark").inner_text() == '"sunset'
    assert_accessible(page, "search (parse error)")
    page.screenshot(path=str(shots / "search-error-1280.png"), full_page=True)


def test_browser_search_by_a_chosen_file(app, live_server, browser_page, shots,
                                         library_root: Path) -> None:  # noqa: ANN001
    make_user(app, "vera", "viewer")
    page = browser_page
    browser_sign_in(page, live_server.url, "vera")
    page.goto(live_server.url + "/search")
    page.get_by_label("Image file").set_input_files(str(library_root / "blue-0.jpg"))
    page.wait_for_url("**/search?image=*")
    first = page.locator(".photo-card").first.get_attribute("data-id")
    assert int(first) == ids_by_name(app)["blue-0.jpg"]
    assert page.locator("img[alt='Your example image']").evaluate("i => i.naturalWidth") > 0
    assert_accessible(page, "search (by example)")
    page.screenshot(path=str(shots / "search-example-1280.png"), full_page=True)
    page.set_viewport_size({"width": 390, "height": 844})
    no_overflow(page)
    page.screenshot(path=str(shots / "search-example-390.png"), full_page=True)
    # A file that is not an image is refused before it is sent.
    page.get_by_label("Image file").set_input_files(
        files=[{"name": "notes.txt", "mimeType": "text/plain", "buffer": b"hello"}])
    page.wait_for_selector("#notice.error")
    assert "notes.txt is not an image" in page.inner_text("#notice")
    assert "/search?image=" in page.url  # still here


def _file_event_script(kind: str) -> str:
    """JS that builds a File from base64 bytes and dispatches a drop or a paste with it."""
    return """([b64, name, kind]) => {
      const bytes = Uint8Array.from(atob(b64), (c) => c.charCodeAt(0));
      const transfer = new DataTransfer();
      transfer.items.add(new File([bytes], name, { type: "image/png" }));
      if (kind === "drop") {
        const target = document.querySelector("#search-image-form");
        for (const type of ["dragenter", "dragover", "drop"]) {
          target.dispatchEvent(new DragEvent(type, { bubbles: true, cancelable: true,
                                                     dataTransfer: transfer }));
        }
      } else {
        document.body.dispatchEvent(new ClipboardEvent("paste", { bubbles: true,
          cancelable: true, clipboardData: transfer }));
      }
    }"""


@pytest.mark.parametrize("kind", ["drop", "paste"])
def test_browser_search_by_a_dropped_or_pasted_image(app, live_server, browser_page, kind: str,
                                                     library_root: Path) -> None:  # noqa: ANN001
    make_user(app, "vera", "viewer")
    page = browser_page
    browser_sign_in(page, live_server.url, "vera")
    page.goto(live_server.url + "/search?q=anything")
    data = (library_root / "beach" / "yellow-0.png").read_bytes()
    with page.expect_navigation(url="**/search?image=*"):
        page.evaluate(_file_event_script(kind),
                      [base64.b64encode(data).decode(), "yellow.png", kind])
    first = page.locator(".photo-card").first.get_attribute("data-id")
    assert int(first) == ids_by_name(app)["beach/yellow-0.png"]


def test_browser_next_pages_load_as_the_person_scrolls(app, live_server, browser_page) -> None:  # noqa: ANN001
    make_user(app, "vera", "viewer")
    page = browser_page
    browser_sign_in(page, live_server.url, "vera")
    page.set_viewport_size({"width": 1280, "height": 600})
    page.goto(live_server.url + "/search?q=a+picture&limit=3")  # the server renders 3 cards
    for _ in range(20):
        if page.locator("a.pager-next").count() == 0:
            break
        page.mouse.wheel(0, 5000)
        page.wait_for_timeout(300)
    assert page.locator("a.pager-next").count() == 0, "the last page never loaded"
    ids = [int(i) for i in page.locator(".photo-card").evaluate_all(
        "cards => cards.map(c => c.dataset.id)")]
    assert sorted(ids) == sorted(ids_by_name(app).values())  # every image once, in pages of 3
    assert page.locator(".page-chunk").count() == 4
    assert page.url.endswith("/search?q=a+picture&limit=3")  # scrolling did not navigate
