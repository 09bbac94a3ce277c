"""The duplicates screen (``/duplicates``) in a real browser, as people use it: a curator sees
the exact and near groups of a freshly indexed library (exact copies, a resized copy), each image
with thumbnail, size, dimensions, date and path and the suggested keeper marked; filters by tier
in the URL; keeps one image of a group, then resolves the rest with their suggested keepers after
one confirmation; the API then reports the others as ``duplicate``. A viewer sees the groups
but no resolve control, and the API refuses them (403).

Screenshots go under ``$DAGUERRE_SCREENSHOTS`` (default: the test's temporary folder)."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from PIL import Image as PILImage
from sqlalchemy import select

from tests.platform.api_fixtures import *  # noqa: F403 - the app/live_server/token fixtures
from tests.platform.api_fixtures import make_user
from tests.platform.api_fixtures import sign_in as sign_in_client
from tests.platform.browser_fixtures import (  # noqa: F401 - fixtures
    assert_accessible,
    browser_page,
    shots,
    sign_in,
)
from tests.platform.test_tags_duplicates import _photo


def copies_library(app, base: Path) -> dict[str, int]:  # noqa: ANN001
    """Index a library of photos plus an exact copy of one and a resized copy of another;
    returns the image ids by file name."""
    from daguerre.platform.catalog.models import Image, Library
    from daguerre.platform.services.indexing import index_library

    root = base / "dups"
    (root / "copies").mkdir(parents=True)
    for name in ("rocket", "clock", "coins"):
        _photo(name).save(root / f"{name}.png")
    shutil.copyfile(root / "rocket.png", root / "copies" / "rocket-backup.png")
    _photo("clock").resize((96, 96), PILImage.Resampling.LANCZOS).save(
        root / "copies" / "clock-small.png")
    ctx = app.extensions["daguerre"].ctx
    with ctx.catalog.session() as s:
        lib = Library(name="dups", root=str(root.resolve()))
        s.add(lib)
        s.flush()
        lib_id = lib.id
    assert index_library(ctx, lib_id).added == 5
    with ctx.catalog.session() as s:
        return {Path(p).name: i for i, p in s.execute(
            select(Image.id, Image.path).where(Image.library_id == lib_id))}


def _group_of(page, image_id: int):  # noqa: ANN001, ANN202
    return page.locator(f".dup-group:has(.dup-member[data-id='{image_id}'])")


@pytest.mark.timeout(300)
def test_keep_one_then_resolve_the_rest(browser_page, app, live_server, token, shots,  # noqa: ANN001, F811
                                        tmp_path: Path) -> None:
    ids = copies_library(app, tmp_path)
    make_user(app, "cura", "curator")
    page = browser_page
    sign_in(page, live_server.url, "cura")
    page.get_by_role("link", name="Duplicates").click()
    page.wait_for_url("**/duplicates")
    page.get_by_role("heading", name="Duplicates").wait_for()

    exact = _group_of(page, ids["rocket.png"])
    near = _group_of(page, ids["clock.png"])
    assert "Exact group" in exact.locator("h3").inner_text()
    assert "Near group" in near.locator("h3").inner_text()
    # Side by side with their facts; the larger original is the suggested keeper.
    small = near.locator(f".dup-member[data-id='{ids['clock-small.png']}']")
    assert "96 × 96" in small.inner_text() and "copies/clock-small.png" in small.inner_text()
    keeper = near.locator(".dup-member.keeper")
    assert keeper.get_attribute("data-id") == str(ids["clock.png"])
    assert "Suggested keeper" in keeper.inner_text()
    # Thumbnails load on the session (lazily: scroll the groups into view first).
    for group in (exact, near):
        group.scroll_into_view_if_needed()
        for img in group.locator("img").all():
            img.scroll_into_view_if_needed()
            page.wait_for_function("(i) => i.complete && i.naturalWidth > 0",
                                   arg=img.element_handle())
    page.evaluate("window.scrollTo(0, 0)")
    page.screenshot(path=str(shots / "duplicates-1280.png"), full_page=True)
    assert_accessible(page, "duplicates")

    # The tier filter is in the URL.
    page.get_by_role("navigation", name="Tiers").get_by_role("link", name="Exact", exact=True).click()
    page.wait_for_url("**/duplicates?tier=exact")
    assert page.locator(".dup-group h3").all_inner_texts()
    assert all("Exact group" in t for t in page.locator(".dup-group h3").all_inner_texts())
    page.set_viewport_size({"width": 390, "height": 844})
    page.screenshot(path=str(shots / "duplicates-390.png"), full_page=True)
    page.set_viewport_size({"width": 1280, "height": 900})
    page.get_by_role("navigation", name="Tiers").get_by_role("link", name="Exact and near").click()
    page.wait_for_url("**/duplicates")

    # Keep the backup copy rather than the suggested keeper.
    backup = ids["rocket-backup.png"]
    exact = _group_of(page, ids["rocket.png"])
    exact.get_by_role("button", name=f"Keep this one (#{backup})").click()
    exact.locator(".group-status").wait_for()
    assert f"kept #{backup}" in exact.locator(".group-status").inner_text()
    assert exact.get_by_role("button").count() == 0

    # Resolve the rest with their suggested keepers: one confirmation.
    dialogs: list[str] = []
    page.on("dialog", lambda d: (dialogs.append(d.message), d.accept()))
    page.get_by_role("button", name="Resolve every group on this page with its suggested keeper").click()
    page.wait_for_function("() => /Resolved \\d+ group\\(s\\)[.;]/.test("
                           "document.querySelector('#notice').textContent)")
    assert len(dialogs) == 1 and "no file is deleted" in dialogs[0]
    assert "kept #" in _group_of(page, ids["clock.png"]).locator(".group-status").inner_text()
    page.screenshot(path=str(shots / "duplicates-resolved-1280.png"), full_page=True)

    # Through the API: the others are now duplicates of the kept ones.
    client = app.test_client()
    auth = {"Authorization": f"Bearer {token}"}

    def status(i: int) -> str:
        return client.get(f"/api/v1/images/{i}", headers=auth).get_json()["status"]

    assert status(ids["rocket.png"]) == "duplicate" and status(backup) == "active"
    assert status(ids["clock-small.png"]) == "duplicate"
    assert status(ids["clock.png"]) == "active" and status(ids["coins.png"]) == "active"
    # The page now lists neither group.
    page.reload()
    assert _group_of(page, ids["clock.png"]).count() == 0
    assert _group_of(page, backup).count() == 0


@pytest.mark.timeout(240)
def test_a_viewer_sees_groups_but_cannot_resolve(browser_page, app, live_server, shots,  # noqa: ANN001, F811
                                                 tmp_path: Path) -> None:
    ids = copies_library(app, tmp_path)
    make_user(app, "vera", "viewer")
    page = browser_page
    sign_in(page, live_server.url, "vera")
    page.goto(live_server.url + "/duplicates?tier=near")
    near = _group_of(page, ids["clock.png"])
    assert "Near group" in near.locator("h3").inner_text()
    assert page.get_by_role("button", name="Keep this one").count() == 0
    assert page.locator("#resolve-all").count() == 0
    # The server refuses a viewer's resolve, even with the CSRF header.
    client = app.test_client()
    csrf = sign_in_client(client, "vera")
    group = near.get_attribute("data-group")
    resp = client.post(f"/api/v1/duplicates/{group}/resolve", json={"keep": ids["clock.png"]},
                       headers={"X-CSRFToken": csrf})
    assert resp.status_code == 403
    # A curator is allowed; a similar group or a bad keep is the service's 400.
    make_user(app, "cura", "curator")
    cur = app.test_client()
    csrf = sign_in_client(cur, "cura")
    bad = cur.post(f"/api/v1/duplicates/{group}/resolve", json={"keep": "x"},
                   headers={"X-CSRFToken": csrf})
    assert bad.status_code == 400 and bad.get_json()["field"] == "keep"
    ok = cur.post(f"/api/v1/duplicates/{group}/resolve", json={"keep": ids["clock.png"]},
                  headers={"X-CSRFToken": csrf})
    assert ok.status_code == 200 and ok.get_json()["duplicates"] == [ids["clock-small.png"]]
