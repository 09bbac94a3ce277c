"""The boards screens (``/boards``, ``/boards/<id>``) and the board drop zone: first the cover
and count the service gives each board, then through the test client (who sees which controls,
the API refusing a viewer, paging, bad input), then in a real browser (Debian's chromium under
Playwright) as a curator uses them: make, rename and delete boards on the list; on a board, select
two cards (click, Shift-click) and take them off with the bulk bar, drag a card onto another
board in the drop zone, and export the board as a zip that is then read. Every result is checked
through the API.

Screenshots go under ``$DAGUERRE_SCREENSHOTS`` (default: the test's temporary folder)."""

from __future__ import annotations

import io
import re
import zipfile

import pytest

from daguerre.platform.catalog.models import ImageStatus
from daguerre.platform.services import collections as service
from tests.platform.api_fixtures import *  # noqa: F403 - the app/live_server/token fixtures
from tests.platform.api_fixtures import PASSWORD, make_user, sign_in
from tests.platform.browser_fixtures import (  # noqa: F401 - fixtures
    assert_accessible,
    browser_page,
    shots,
)
from tests.platform.test_tags import set_status

API = "/api/v1"


@pytest.fixture()
def ctx(app):  # noqa: ANN001, ANN201 - the app's Context over a private indexed library
    return app.extensions["daguerre"].ctx


def browser_sign_in(page, url: str, name: str, to: str) -> None:  # noqa: ANN001
    """Sign in through the form, by its labels, straight to the screen ``to``."""
    page.goto(f"{url}/signin?next={to}")
    page.get_by_label("Username").fill(name)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_url(f"**{to}")
    page.wait_for_selector("#signout-form", timeout=15_000)


def board_with(ctx, name: str, *image_ids: int) -> dict:  # noqa: ANN001
    """A board holding ``image_ids``, added one at a time in that order (the last is newest)."""
    made = service.create_collection(ctx, name)
    for i in image_ids:
        service.add_images(ctx, made["id"], [i])
    return service.get_collection(ctx, made["id"])


# -- the service: cover and count ------------------------------------------------------------
def test_the_cover_is_the_newest_active_image_and_follows_changes(ctx) -> None:  # noqa: ANN001
    empty = service.create_collection(ctx, "Empty")
    assert empty["cover"] is None and empty["images"] == 0
    b = board_with(ctx, "Trip", 3, 7, 5)
    assert b["cover"] == 5 and b["images"] == 3
    service.add_images(ctx, b["id"], [2])
    assert service.get_collection(ctx, b["id"])["cover"] == 2
    service.remove_images(ctx, b["id"], [2])
    assert service.get_collection(ctx, b["id"])["cover"] == 5
    set_status(ctx, 5, ImageStatus.MISSING)  # a missing image is neither counted nor the cover
    listed = {c["name"]: c for c in service.list_collections(ctx)}
    assert (listed["Trip"]["cover"], listed["Trip"]["images"]) == (7, 2)
    assert (listed["Empty"]["cover"], listed["Empty"]["images"]) == (None, 0)
    # The page of its images carries each one's review state (the grid's cards show it).
    assert {i["review_state"] for i in service.collection_images(ctx, b["id"])["items"]} \
        == {"unreviewed"}


# -- through the test client -----------------------------------------------------------------
def test_a_viewer_sees_boards_without_controls_and_the_api_refuses(app, ctx) -> None:  # noqa: ANN001
    b = board_with(ctx, "Prints", 4, 6)
    make_user(app, "vera", "viewer")
    client = app.test_client()
    csrf = sign_in(client, "vera")
    page = client.get("/boards").get_data(as_text=True)
    assert "Prints" in page and "2 images" in page
    assert f"{API}/images/6/thumbnail" in page  # the cover: the newest image
    assert 'id="board-create"' not in page and "data-board-action" not in page
    one = client.get(f"/boards/{b['id']}").get_data(as_text=True)
    assert one.index('data-id="6"') < one.index('data-id="4"')  # newest first
    assert f'href="{API}/collections/{b["id"]}/export"' in one  # anyone may export
    assert "Remove from" not in one and 'data-bulk="approve"' not in one
    assert "board-drop" not in one and "data-board-action" not in one
    h = {"X-CSRFToken": csrf}
    assert client.post(f"{API}/collections", json={"name": "Mine"}, headers=h).status_code == 403
    assert client.patch(f"{API}/collections/{b['id']}", json={"name": "X"},
                        headers=h).status_code == 403
    assert client.delete(f"{API}/collections/{b['id']}", headers=h).status_code == 403
    assert client.post(f"{API}/collections/{b['id']}/images", json={"image_ids": [1]},
                       headers=h).status_code == 403
    assert service.get_collection(ctx, b["id"]) == b  # nothing changed
    assert client.get("/boards/99999").status_code == 404
    bad = client.get(f"/boards/{b['id']}?offset=-3")
    assert bad.status_code == 400 and "offset" in bad.get_data(as_text=True)


def test_a_curator_gets_controls_and_a_board_pages(app, ctx, monkeypatch) -> None:  # noqa: ANN001
    from daguerre.platform.web.pages import boards as boards_page

    monkeypatch.setattr(boards_page, "PAGE_SIZE", 2)
    b = board_with(ctx, "Album", 1, 2, 3, 4, 5)
    board_with(ctx, "Other", 9)
    empty = board_with(ctx, "Empty")
    make_user(app, "cora", "curator")
    client = app.test_client()
    sign_in(client, "cora")
    listing = client.get("/boards").get_data(as_text=True)
    assert 'id="board-create"' in listing and 'aria-label="Delete board “Album”"' in listing
    assert "No images yet" in listing  # the empty board's card has no cover
    seen: list[int] = []
    url = f"/boards/{b['id']}"
    while url:
        html = client.get(url).get_data(as_text=True)
        seen += [int(i) for i in re.findall(r'<article class="photo-card"[^>]*data-id="(\d+)"',
                                            html)]
        more = re.search(r'class="pager-next" href="([^"]+)"', html)
        url = more.group(1).replace("&amp;", "&") if more else None
    assert seen == [5, 4, 3, 2, 1]  # every image once, newest first, over three pages
    first = client.get(f"/boards/{b['id']}").get_data(as_text=True)
    assert "Remove from “Album”" in first and f'data-board="{b["id"]}"' in first
    # The drop zone offers the other boards, not this one.
    drop = first[first.index('class="board-drop"'):]
    assert "Other" in drop and 'data-board-name="Album"' not in drop
    nothing = client.get(f"/boards/{empty['id']}").get_data(as_text=True)
    assert "No images on this board yet" in nothing and "board-export" not in nothing


# -- in a real browser -----------------------------------------------------------------------
@pytest.mark.timeout(180)
def test_make_rename_and_delete_boards(app, ctx, live_server, token, browser_page,  # noqa: ANN001, F811
                                       shots) -> None:  # noqa: ANN001, F811
    taken = board_with(ctx, "Portfolio", 8, 3)
    make_user(app, "cora", "curator")
    page = browser_page
    browser_sign_in(page, live_server.url, "cora", "/boards")
    page.get_by_label("New board").fill("Summer trip")
    page.get_by_role("button", name="Create board").click()
    card = page.locator('.board-card[data-board-name="Summer trip"]')
    card.wait_for()
    assert card.locator(".board-count").inner_text() == "0 images"
    assert page.locator(".board-card .board-name").all_inner_texts() == ["Portfolio", "Summer trip"]
    page.get_by_label("New board").fill("Portfolio")  # taken: refused, said, nothing lost
    page.get_by_role("button", name="Create board").click()
    page.wait_for_selector("#notice.error >> text=exists already")
    assert page.get_by_label("New board").input_value() == "Portfolio"
    cover = page.locator(f'.board-card[data-board-id="{taken["id"]}"] img.board-cover')
    assert cover.get_attribute("src").endswith(f"/images/{taken['cover']}/thumbnail")
    page.wait_for_function("() => [...document.querySelectorAll('img.board-cover')]"
                           ".every(i => i.complete && i.naturalWidth > 0)", timeout=15_000)
    page.screenshot(path=str(shots / "boards-1280.png"))
    assert_accessible(page, "boards")

    page.get_by_role("button", name="Rename board “Summer trip”").click()
    dialog = page.locator("#board-rename")
    dialog.get_by_label("New name").fill("Portfolio")  # taken: the dialog says so and stays
    dialog.get_by_role("button", name="Rename").click()
    dialog.locator(".board-dialog-error >> text=exists already").wait_for()
    dialog.get_by_label("New name").fill("Summer 2024")
    dialog.get_by_role("button", name="Rename").click()
    page.wait_for_selector("#board-rename", state="hidden")
    page.wait_for_selector('.board-card[data-board-name="Summer 2024"] .board-name:text-is("Summer 2024")')

    page.get_by_role("button", name="Delete board “Portfolio”").click()
    confirm = page.locator("#board-delete")
    assert "2 images stay in the catalog" in confirm.inner_text()
    page.screenshot(path=str(shots / "boards-delete.png"))
    confirm.get_by_role("button", name="Cancel").click()  # changed their mind: still there
    assert page.locator(f'.board-card[data-board-id="{taken["id"]}"]').count() == 1
    page.get_by_role("button", name="Delete board “Portfolio”").click()
    confirm.get_by_role("button", name="Delete board").click()
    page.wait_for_selector(f'.board-card[data-board-id="{taken["id"]}"]', state="detached")
    assert not page.locator("#notice.error").is_visible()

    page.set_viewport_size({"width": 390, "height": 844})
    page.reload()
    assert page.evaluate("document.documentElement.scrollWidth") <= 390
    page.screenshot(path=str(shots / "boards-390.png"))

    api = page.request
    headers = {"Authorization": f"Bearer {token}"}
    names = [c["name"] for c in api.get(f"{live_server.url}{API}/collections",
                                        headers=headers).json()["items"]]
    assert names == ["Summer 2024"]
    assert api.get(f"{live_server.url}{API}/images/8", headers=headers).ok  # images kept


@pytest.mark.timeout(180)
def test_curate_a_board_select_remove_drag_and_export(app, ctx, live_server, token,  # noqa: ANN001
                                                      browser_page, shots) -> None:  # noqa: ANN001, F811
    keep = board_with(ctx, "Keep", 1, 2, 3, 4, 5)  # shown newest first: 5 4 3 2 1
    prints = board_with(ctx, "Prints", 9)
    make_user(app, "cora", "curator")
    page = browser_page
    browser_sign_in(page, live_server.url, "cora", f"/boards/{keep['id']}")
    page.wait_for_function("() => [...document.querySelectorAll('.photo-card img')]"
                           ".every(i => i.complete && i.naturalWidth > 0)", timeout=15_000)
    card = lambda i: page.locator(f'.photo-card[data-id="{i}"]')  # noqa: E731

    # Click one, Shift-click another: the two and nothing between (they are neighbours).
    card(4).click()
    card(3).click(modifiers=["Shift"])
    page.wait_for_selector(".bulk-bar:not([hidden]) >> text=2 selected")
    page.screenshot(path=str(shots / "board-1280.png"))
    page.get_by_role("button", name="Remove from “Keep”").click()
    page.wait_for_selector('.photo-card[data-id="4"]', state="detached")
    page.wait_for_selector('.photo-card[data-id="3"]', state="detached")
    assert page.locator("#board-count").inner_text() == "3 images"

    # Drag a card onto "Prints": the closed drop zone opens as the drag starts.
    target = page.locator('.board-drop-target[data-board-name="Prints"]')
    assert not target.is_visible()
    card(5).hover()
    page.mouse.down()
    page.mouse.move(300, 500, steps=5)
    target.wait_for(state="visible")
    target.hover()
    page.mouse.up()
    page.wait_for_selector('.board-drop-target[data-board-name="Prints"] '
                           '.board-drop-count:text-is("2")')
    page.wait_for_selector("#notice >> text=added to “Prints”")
    assert not page.locator("#notice.error").is_visible()
    page.screenshot(path=str(shots / "board-drop.png"))

    # Export the board: the zip holds what is on it now.
    with page.expect_download() as got:
        page.get_by_role("link", name="Export zip").click()
    download = got.value
    assert download.suggested_filename.endswith(".zip")
    with zipfile.ZipFile(io.BytesIO(open(download.path(), "rb").read())) as z:  # noqa: SIM115
        names = z.namelist()
    exported = sorted(int(n.split("-", 1)[0]) for n in names
                      if re.match(r"\d+-", n) and not n.endswith(".xmp"))
    assert exported == [1, 2, 5], names
    assert "metadata.json" in names

    # Rename it here: the heading, the title and the bulk bar's button follow.
    page.get_by_role("button", name="Rename board “Keep”").click()
    page.locator("#board-rename").get_by_label("New name").fill("Keepers")
    page.locator("#board-rename").get_by_role("button", name="Rename").click()
    page.wait_for_selector("h2.board-title:text-is('Keepers')")
    assert page.title().startswith("Keepers") and page.locator(
        "button[data-bulk=unboard]").inner_text() == "Remove from “Keepers”"
    assert_accessible(page, "board")

    page.set_viewport_size({"width": 390, "height": 844})
    page.reload()
    assert page.evaluate("document.documentElement.scrollWidth") <= 390
    page.screenshot(path=str(shots / "board-390.png"))

    api = page.request
    headers = {"Authorization": f"Bearer {token}"}

    def ids_on(board_id: int) -> list[int]:
        got = api.get(f"{live_server.url}{API}/collections/{board_id}/images",
                      headers=headers).json()
        return [i["id"] for i in got["items"]]

    assert ids_on(keep["id"]) == [5, 2, 1]
    assert ids_on(prints["id"]) == [5, 9]

    # Deleting the board from its page goes back to the list; its images stay.
    page.get_by_role("button", name="Delete board “Keepers”").click()
    page.locator("#board-delete").get_by_role("button", name="Delete board").click()
    page.wait_for_url("**/boards")
    assert page.locator(".board-card .board-name").all_inner_texts() == ["Prints"]
    assert api.get(f"{live_server.url}{API}/collections/{keep['id']}",
                   headers=headers).status == 404
    assert api.get(f"{live_server.url}{API}/images/1", headers=headers).ok
