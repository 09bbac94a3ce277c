"""The timeline (``/`` and ``GET /api/v1/timeline``): first the service over a catalog made
directly (order, keyset pages that cover every image once while images are added, no OFFSET
scan, the jump to a date, the filters), then the API and the screen through the test client,
then in a real browser (Debian's chromium under Playwright): month headings, a long scroll past
the first page that never holds more than the pager's cap of cards, a Shift-click range
rejected with the `x` key (checked through the API), a tag filter through the panel kept in the
URL across a reload, axe-core, and screenshots at 1280, 390 and 3840 px wide.

Screenshots go under ``$DAGUERRE_SCREENSHOTS`` (default: the test's temporary folder)."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import event, select

from tests.platform.api_fixtures import *  # noqa: F403 - the app/live_server/token fixtures
from tests.platform.api_fixtures import make_user
from tests.platform.api_fixtures import sign_in as client_sign_in
from tests.platform.browser_fixtures import *  # noqa: F403 - browser_page, shots
from tests.platform.browser_fixtures import assert_accessible
from tests.platform.browser_fixtures import sign_in as browser_sign_in

API = "/api/v1"
CREATED = datetime(2026, 1, 10, 12, 0, tzinfo=UTC)  # when the catalog "recorded" seeded rows


@pytest.fixture()
def ctx(tmp_path: Path):  # noqa: ANN201
    """A Context over an empty catalog of its own (no model needed: nothing is embedded)."""
    from daguerre.platform.config import load_settings
    from daguerre.platform.context import Context

    context = Context(load_settings(env={}, home=str(tmp_path / "home")))
    yield context
    context.close()


def seed(ctx, times: list[datetime | None], *, created: datetime = CREATED,  # noqa: ANN001
         thumbnail: str | None = None, **fields: Any) -> list[int]:
    """One active image per capture time (``None``: no EXIF time), in that order; their ids."""
    from daguerre.platform.catalog.models import Image

    ids = []
    with ctx.catalog.session() as s:
        start = s.scalar(select(Image.id).order_by(Image.id.desc()).limit(1)) or 0
        for n, taken in enumerate(times, start=start + 1):
            img = Image(path=f"seed/{n}.jpg", sha256=f"{n:064x}", size=1000 + n, mtime=0.0,
                        width=4000, height=3000, format="JPEG", captured_at=taken,
                        created_at=created, thumbnail=thumbnail, **fields)
            s.add(img)
            s.flush()
            ids.append(img.id)
    return ids


def all_pages(ctx, limit: int, **params: Any) -> list[list[int]]:  # noqa: ANN001
    from daguerre.platform.services.timeline import timeline_page

    pages, after = [], None
    while True:
        page = timeline_page(ctx, {**params, "limit": limit, "after": after})
        pages.append([i["id"] for i in page["items"]])
        after = page["next"]
        if after is None:
            return pages


# -- the service -------------------------------------------------------------------------------
def test_newest_capture_first_then_newest_id_and_no_date_falls_back(ctx) -> None:  # noqa: ANN001
    from daguerre.platform.services.timeline import timeline_page

    a, b, c, d, e = seed(ctx, [datetime(2024, 7, 3), datetime(2024, 9, 1), datetime(2024, 7, 3),
                               None, datetime(2023, 12, 31, 23, 59)])
    # `d` has no capture time: it is placed by when the catalog recorded it (January 2026)
    page = timeline_page(ctx, {})
    assert [i["id"] for i in page["items"]] == [d, b, c, a, e]
    assert page["next"] is None
    assert [(m["label"], m["count"], m["continued"]) for m in page["months"]] == [
        ("January 2026", 1, False), ("September 2024", 1, False), ("July 2024", 2, False),
        ("December 2023", 1, False)]
    assert page["items"][0]["captured_at"] is None
    assert page["items"][0]["when"].startswith("2026-01-10T12:00")
    assert page["items"][3]["month"] == "2024-07"


def test_keyset_pages_cover_every_image_once_while_images_arrive(ctx) -> None:  # noqa: ANN001
    from daguerre.platform.services.timeline import timeline_page

    base = datetime(2024, 6, 1)
    # many equal capture times, so pages split inside a run of ties (the id breaks them)
    first = seed(ctx, [base - timedelta(days=i // 3) for i in range(20)])
    seen: list[int] = []
    after, added = None, []
    for step in range(50):
        page = timeline_page(ctx, {"limit": 3, "after": after})
        seen += [i["id"] for i in page["items"]]
        # between the first pages: one image newer than everything (above the reader: never
        # shown on this pass), one tied with the last shown (a bigger id: above the cursor, not
        # shown), and one older than everything (still ahead: shown once, near the end)
        if page["items"] and step < 8:
            last_when = datetime.fromisoformat(page["items"][-1]["when"]).replace(tzinfo=None)
            added += seed(ctx, [datetime(2025, 1, step + 1), last_when])
            added += seed(ctx, [datetime(2000, 1, 28 - step)])
        after = page["next"]
        if after is None:
            break
    assert len(seen) == len(set(seen)), "an image was shown twice"
    assert set(first) <= set(seen), "an image was skipped"
    older = set(added[2::3])
    assert older <= set(seen)
    assert not (set(added) - older) & set(seen)
    # and the order held across pages: when desc, then id desc
    expected = [i["id"] for i in timeline_page(ctx, {"limit": 500})["items"]]
    assert seen == [i for i in expected if i in set(seen)]


def test_pages_never_skip_rows_with_offset(ctx) -> None:  # noqa: ANN001
    """Every statement the timeline sends is a keyset range: SQLite's compiler writes
    ``OFFSET ?`` after any LIMIT, so each OFFSET must be bound to 0 (PostgreSQL writes none)."""
    seed(ctx, [datetime(2024, 1, 1) + timedelta(hours=i) for i in range(30)])
    sent: list[tuple[str, Any]] = []

    def spy(conn, cursor, statement, parameters, context, executemany) -> None:  # noqa: ANN001
        sent.append((statement, parameters))

    event.listen(ctx.catalog.engine, "before_cursor_execute", spy)
    try:
        pages = all_pages(ctx, 4)
    finally:
        event.remove(ctx.catalog.engine, "before_cursor_execute", spy)
    assert sum(len(p) for p in pages) == 30 and len(pages) == 8
    selects = [(s, p) for s, p in sent if re.search(r"FROM images\b", s)
               and "coalesce(images.captured_at, images.created_at)" in s]
    assert len(selects) == 8
    for statement, params in selects:
        if "OFFSET" in statement:
            assert statement.rstrip().endswith("OFFSET ?") and params[-1] == 0, statement
    # pages after the first start below the cursor, by a range on the indexed expression
    assert all("coalesce(images.captured_at, images.created_at) <=" in s for s, _ in selects[1:])


def test_the_index_serves_a_deep_page(ctx) -> None:  # noqa: ANN001
    """SQLite's plan for a later page searches the timeline index by range, not a scan."""
    from daguerre.platform.catalog.models import Image, ImageStatus, image_when

    with ctx.catalog.engine.connect() as conn:
        when = image_when()
        query = (select(Image.id).where(Image.status == ImageStatus.ACTIVE,
                                        when <= datetime(2024, 1, 1))
                 .order_by(when.desc(), Image.id.desc()).limit(5))
        compiled = query.compile(conn)
        params = tuple(compiled.params[k] for k in compiled.positiontup)
        plan = " ".join(str(r[-1]) for r in conn.exec_driver_sql(
            "EXPLAIN QUERY PLAN " + str(compiled), tuple(
                v.isoformat(" ") if isinstance(v, datetime) else v for v in params)).all())
    assert "ix_images_timeline" in plan and "<expr><?" in plan and "TEMP B-TREE" not in plan


def test_jump_to_a_date_or_a_month(ctx) -> None:  # noqa: ANN001
    from daguerre.platform.services.timeline import timeline_page

    jul, aug1, aug31, sep = seed(ctx, [datetime(2024, 7, 20), datetime(2024, 8, 1, 9),
                                       datetime(2024, 8, 31, 23), datetime(2024, 9, 2)])
    ids = lambda p: [i["id"] for i in timeline_page(ctx, p)["items"]]  # noqa: E731
    assert ids({"date": "2024-08"}) == [aug31, aug1, jul]  # the whole month and before
    assert ids({"date": "2024-08-01"}) == [aug1, jul]  # that whole day and before
    assert ids({"date": "2024-07-19"}) == []
    # a cursor continues a page already placed: the date no longer matters
    page = timeline_page(ctx, {"date": "2024-08", "limit": 1})
    assert ids({"date": "1999-01", "after": page["next"]}) == [aug1, jul]
    assert sep not in ids({"date": "2024-08-31"})


@pytest.mark.parametrize("bad", ["2024-13", "July", "2024-07-32", ""])
def test_a_bad_date_is_refused_by_name(ctx, bad: str) -> None:  # noqa: ANN001
    from daguerre.platform.errors import BadInput
    from daguerre.platform.services.timeline import timeline_page

    seed(ctx, [datetime(2024, 7, 1)])
    if bad == "":  # empty is "no jump"
        assert len(timeline_page(ctx, {"date": bad})["items"]) == 1
        return
    with pytest.raises(BadInput) as err:
        timeline_page(ctx, {"date": bad})
    assert err.value.field == "date"


def test_filters_narrow_the_timeline_review_state_included(ctx) -> None:  # noqa: ANN001
    from daguerre.platform.catalog.models import Image, ImageStatus, ReviewState
    from daguerre.platform.services import tags as tags_svc
    from daguerre.platform.services.timeline import timeline_page

    days = [datetime(2024, 5, d) for d in range(1, 9)]
    ids = seed(ctx, days)
    with ctx.catalog.session() as s:
        for i in ids[:3]:
            s.get(Image, i).review_state = ReviewState.REJECTED
        s.get(Image, ids[4]).rating = 4
        s.get(Image, ids[5]).status = ImageStatus.DELETED  # never on the timeline
    tags_svc.add_tag(ctx, "beach", [ids[6], ids[7]])
    got = lambda p: {i["id"] for i in timeline_page(ctx, p)["items"]}  # noqa: E731
    assert got({"review_state": "rejected"}) == set(ids[:3])
    assert got({"review_state": "unreviewed"}) == {ids[3], ids[4], ids[6], ids[7]}
    assert got({"tag": "beach"}) == {ids[6], ids[7]}
    assert got({"min_rating": "3"}) == {ids[4]}
    assert got({"date_from": "2024-05-07"}) == {ids[6], ids[7]}
    assert ids[5] not in got({})


# -- the API -----------------------------------------------------------------------------------
def test_api_pages_and_refuses_a_bad_cursor_by_name(app, client, auth) -> None:  # noqa: ANN001
    ctx = app.extensions["daguerre"].ctx
    seed(ctx, [datetime(2024, 1, 1) + timedelta(days=i) for i in range(5)])
    first = client.get(f"{API}/timeline?limit=10", headers=auth)
    assert first.status_code == 200
    body = first.get_json()
    assert len(body["items"]) == 10 and body["next"]
    assert body["items"][0]["thumbnail_url"].endswith("/thumbnail")
    rest = client.get(f"{API}/timeline?limit=10&after={body['next']}", headers=auth).get_json()
    assert len(rest["items"]) == 7 and rest["next"] is None  # 12 library images + 5
    assert not {i["id"] for i in body["items"]} & {i["id"] for i in rest["items"]}
    for bad in ("nonsense", "12_", "_3", "1.5_2", "1_-2", "1_2_3", "1" * 19 + "_1"):
        resp = client.get(f"{API}/timeline?after={bad}", headers=auth)
        assert resp.status_code == 400, bad
        assert resp.get_json()["field"] == "after"
    resp = client.get(f"{API}/timeline?review_state=maybe", headers=auth)
    assert resp.status_code == 400 and resp.get_json()["field"] == "review_state"
    assert client.get(f"{API}/timeline").status_code == 401


# -- the screen, without scripts ---------------------------------------------------------------
def test_the_screen_pages_on_without_scripts(app, client, monkeypatch) -> None:  # noqa: ANN001
    from daguerre.platform.web.pages import timeline as screen

    monkeypatch.setattr(screen, "PAGE_SIZE", 5)
    ctx = app.extensions["daguerre"].ctx
    july = seed(ctx, [datetime(2024, 7, d) for d in range(1, 5)])
    make_user(app, "vera", "viewer")
    client_sign_in(client, "vera")
    html = client.get("/").get_data(as_text=True)
    # the 12 library images have no EXIF time: placed by when they were indexed (today)
    assert html.count('class="photo-card"') == 5
    assert re.search(r'class="month-heading"[^>]*>\w+ \d{4}', html)
    nxt = re.search(r'<a class="pager-next" href="([^"]+)"', html).group(1).replace("&amp;", "&")
    assert "after=" in nxt
    # the pager's own request gets the chunk and the next link only
    part = client.get(nxt, headers={"X-Pager": "1"})
    text = part.get_data(as_text=True)
    assert "<html" not in text and text.count('class="photo-card"') == 5
    assert "(continued)" in text  # the month goes on from the page before
    assert "X-Pager" in part.headers["Vary"]
    # the last page carries July under its own heading, and no More link
    html = client.get("/?date=2024-07").get_data(as_text=True)
    assert ">July 2024<" in html and html.count('class="photo-card"') == 4
    assert 'class="pager-next"' not in html
    for i in july:
        assert f'data-id="{i}"' in html
    # a viewer gets no curation controls; a bad filter is said on the page, by name
    assert 'data-bulk="reject"' not in html and 'data-bulk="export"' in html
    # the panel's form sends its empty fields too: empty is "any"
    html = client.get("/?library=&folder=&date_from=&date_to=&tag=&min_rating=&review_state="
                      "&origin=&format=&min_width=&min_height=&date=2024-07").get_data(as_text=True)
    assert html.count('class="photo-card"') == 4
    resp = client.get("/?min_width=wide")
    assert resp.status_code == 400 and "min_width" in resp.get_data(as_text=True)
    assert client.get("/?after=zzz").status_code == 400


def test_an_empty_catalog_says_what_to_do(clip_env) -> None:  # noqa: ANN001
    from daguerre.platform.web import create_app

    app = create_app({"TESTING": True})
    try:
        client = app.test_client()
        make_user(app, "ann", "admin")
        make_user(app, "vera", "viewer")
        client_sign_in(client, "ann")
        html = client.get("/").get_data(as_text=True)
        assert "No images yet" in html and 'href="/libraries"' in html
        other = app.test_client()
        client_sign_in(other, "vera")
        html = other.get("/").get_data(as_text=True)
        assert "No images yet" in html and "An admin adds" in html
        assert 'href="/libraries"' not in html
        assert "No images match these filters" in client.get("/?origin=upload").get_data(
            as_text=True)
    finally:
        app.extensions["daguerre"].ctx.close()


# -- in the browser ----------------------------------------------------------------------------
def seed_with_thumbnails(app, times: list[datetime | None], **fields: Any) -> list[int]:  # noqa: ANN001
    """Images placed at ``times`` that show the first library image's thumbnail."""
    from daguerre.platform.catalog.models import Image

    ctx = app.extensions["daguerre"].ctx
    with ctx.catalog.session() as s:
        thumb = s.scalars(select(Image.thumbnail).order_by(Image.id)).first()
    return seed(ctx, times, thumbnail=thumb, **fields)


def card_count(page) -> int:  # noqa: ANN001
    return page.locator(".photo-card").count()


@pytest.mark.timeout(240)
def test_a_long_scroll_keeps_a_bounded_dom(browser_page, app, live_server, token,  # noqa: ANN001
                                           shots, monkeypatch) -> None:
    from daguerre.platform.web.pages import timeline as screen

    # 3 rows of 7 cards at 1280 px: a page is about a viewport tall
    size = 21
    monkeypatch.setattr(screen, "PAGE_SIZE", size)
    cap = 5 * size  # pager.js keeps at most 5 chunks populated
    start = datetime(2024, 12, 28, 12)
    ids = seed_with_thumbnails(app, [start - timedelta(days=i) for i in range(400)])
    total = len(ids) + 12
    page = browser_page
    browser_sign_in(page, live_server.url, "root")
    page.wait_for_selector(".month-heading")
    assert page.locator(".month-heading").first.inner_text() in (
        datetime.now(UTC).strftime("%B %Y"), "December 2024")
    seen: set[str] = set()
    headed: dict[str, set[str]] = {}  # month -> the pages that open it under its own heading
    most = 0

    def look() -> None:
        # one script, so the page cannot change between finding the elements and reading them
        ids, heads = page.evaluate("""() => [
            [...document.querySelectorAll('.photo-card')].map((c) => c.dataset.id),
            [...document.querySelectorAll('.page-chunk .month-heading:not(.continued)')]
              .map((h) => [h.closest('.page-chunk').dataset.url, h.textContent])]""")
        seen.update(ids)
        for url, month in heads:
            headed.setdefault(month, set()).add(url)

    for _ in range(80):
        look()
        most = max(most, card_count(page))
        if page.locator("a.pager-next").count() == 0:
            break
        page.mouse.wheel(0, 2500)
        page.wait_for_timeout(120)
    else:
        pytest.fail("the last page never loaded")
    look()
    assert len(seen) == total, "every image came into view once"
    assert most <= cap + size, f"the DOM held {most} cards"  # a page may arrive before a trim
    assert card_count(page) <= cap
    assert page.locator(".page-chunk[data-emptied=true]").count() >= 10
    # each month is headed once, on the page it starts on; the pages it runs on say so
    assert {"December 2024", "June 2024", "December 2023"} <= set(headed)
    assert all(len(urls) == 1 for urls in headed.values()), headed
    assert page.locator(".month-heading.continued").count() >= 1
    page.screenshot(path=str(shots / "timeline-scrolled.png"))
    # back to the top: the first chunk fills in again from its URL
    page.evaluate("window.scrollTo(0, 0)")
    page.wait_for_function("() => !document.querySelector('.page-chunk').dataset.emptied",
                           timeout=10_000)
    assert page.locator(".page-chunk").first.locator(".photo-card").count() == size


@pytest.mark.timeout(240)
def test_shift_click_a_range_and_reject_it(browser_page, app, live_server, token,  # noqa: ANN001
                                           shots) -> None:
    seed_with_thumbnails(app, [datetime(2024, 3, d) for d in range(1, 21)])
    page = browser_page
    browser_sign_in(page, live_server.url, "root")
    cards = page.locator(".photo-card")
    cards.first.wait_for()
    order = cards.evaluate_all("cs => cs.map(c => Number(c.dataset.id))")
    cards.nth(2).click()
    cards.nth(7).click(modifiers=["Shift"])
    page.wait_for_selector(".bulk-count >> text=6 selected")
    page.screenshot(path=str(shots / "timeline-selection.png"))
    page.keyboard.press("x")
    page.wait_for_selector("#notice >> text=6 images rejected", timeout=15_000)
    got = page.evaluate("""async (token) => {
        const r = await fetch("/api/v1/timeline?review_state=rejected&limit=500",
                              {headers: {Authorization: `Bearer ${token}`}});
        return (await r.json()).items.map((i) => i.id);
    }""", token)
    assert sorted(got) == sorted(order[2:8])


@pytest.mark.timeout(240)
def test_filter_by_tag_kept_in_the_url_accessible_at_every_width(  # noqa: PLR0915
        browser_page, app, live_server, token, shots) -> None:  # noqa: ANN001
    from daguerre.platform.services import tags as tags_svc

    ctx = app.extensions["daguerre"].ctx
    ids = seed_with_thumbnails(app, [datetime(2024, m, 5) for m in range(1, 13)])
    tags_svc.add_tag(ctx, "harbour", ids[3:6])
    page = browser_page
    browser_sign_in(page, live_server.url, "root")
    page.wait_for_selector(".photo-card")
    assert_accessible(page, "timeline")
    page.screenshot(path=str(shots / "timeline-1280.png"))

    page.locator(".filter-panel summary").click()
    page.get_by_label("Tag").fill("harbour")
    page.get_by_role("button", name="Apply filters").click()
    page.wait_for_url("**tag=harbour**")
    shown = page.locator(".photo-card").evaluate_all("cs => cs.map(c => Number(c.dataset.id))")
    assert sorted(shown) == sorted(ids[3:6])
    page.reload()
    page.wait_for_selector(".photo-card")
    assert "tag=harbour" in page.url
    assert page.get_by_label("Tag").input_value() == "harbour"
    assert page.locator(".photo-card").count() == 3
    assert_accessible(page, "timeline, filtered")
    page.screenshot(path=str(shots / "timeline-filtered.png"), full_page=True)

    # jump to a month through the control
    page.goto(live_server.url + "/")
    page.get_by_label("Jump to month").fill("2024-06")
    page.get_by_role("button", name="Go").click()
    page.wait_for_url("**date=2024-06**")
    assert page.locator(".month-heading").first.inner_text() == "June 2024"

    page.set_viewport_size({"width": 390, "height": 844})
    page.goto(live_server.url + "/")
    page.wait_for_selector(".photo-card")
    assert page.evaluate("document.documentElement.scrollWidth") <= 390
    assert_accessible(page, "timeline at 390 px")
    page.screenshot(path=str(shots / "timeline-390.png"))

    page.set_viewport_size({"width": 3840, "height": 2160})
    page.goto(live_server.url + "/")
    page.wait_for_selector(".photo-card")
    assert page.evaluate("document.documentElement.scrollWidth") <= 3840
    page.screenshot(path=str(shots / "timeline-4k.png"))


@pytest.mark.timeout(240)
def test_select_add_to_a_new_board_and_export_the_selection(browser_page, app, live_server,  # noqa: ANN001
                                                           token, tmp_path) -> None:
    """The issue's flow: make a board, add the selection, export it and read the zip; with
    Ctrl-A selecting every loaded card and Esc clearing."""
    import io
    import json
    import zipfile

    page = browser_page
    browser_sign_in(page, live_server.url, "root")
    cards = page.locator(".photo-card")
    cards.first.wait_for()
    page.keyboard.press("Control+a")
    page.wait_for_selector(f".bulk-count >> text={cards.count()} selected")
    page.keyboard.press("Escape")
    page.wait_for_selector(".bulk-bar", state="hidden")

    order = cards.evaluate_all("cs => cs.map(c => Number(c.dataset.id))")
    cards.nth(0).click()
    cards.nth(3).click(modifiers=["Control"])
    cards.nth(5).click(modifiers=["Control"])
    page.wait_for_selector(".bulk-count >> text=3 selected")
    chosen = sorted([order[0], order[3], order[5]])

    page.click(".bulk-bar [data-bulk=board]")
    page.wait_for_selector("#ask-board[open]")
    page.fill("#ask-board-field", "Prints")  # a new name makes the board
    page.keyboard.press("Enter")
    page.wait_for_selector("#notice >> text=3 images added to “Prints”")
    auth = {"Authorization": f"Bearer {token}"}
    client = app.test_client()
    board = next(b for b in client.get("/api/v1/collections", headers=auth).get_json()["items"]
                 if b["name"] == "Prints")
    on_board = client.get(f"/api/v1/collections/{board['id']}/images", headers=auth).get_json()
    assert sorted(i["id"] for i in on_board["items"]) == chosen

    with page.expect_download() as got:
        page.click(".bulk-bar [data-bulk=export]")
    archive = zipfile.ZipFile(io.BytesIO(Path(got.value.path()).read_bytes()))
    meta = json.loads(archive.read("metadata.json"))
    assert sorted(m["id"] for m in meta["images"]) == chosen
    names = archive.namelist()
    assert sum(n.endswith(".xmp") for n in names) == 3
    assert len([n for n in names if not n.endswith((".xmp", ".json"))]) == 3
    assert not page.locator("#notice.error").is_visible()
