"""The libraries screen (``/libraries``, admin only) in a real browser, as an admin uses it:
the table of libraries; adding one (a bad path first: the API's message shows next to the
form); renaming (a taken name refused next to the rename form); scanning with live progress
until the row refreshes; the last index's failures with their reasons; removing one after a
confirmation that names it and says its files stay on disk. A curator or a viewer is refused
the page (403).

Screenshots go under ``$DAGUERRE_SCREENSHOTS`` (default: the test's temporary folder)."""

from __future__ import annotations

import re
import time
from pathlib import Path

import pytest

from tests.platform.api_fixtures import *  # noqa: F403 - the app/live_server/token fixtures
from tests.platform.api_fixtures import make_image, make_user
from tests.platform.api_fixtures import sign_in as sign_in_client
from tests.platform.browser_fixtures import (  # noqa: F401 - fixtures
    assert_accessible,
    browser_page,
    inline_jobs,
    shots,
    sign_in,
)


def scans_folder(base: Path) -> Path:
    """A folder of three photos and one file that is not an image."""
    root = base / "scans"
    (root / "box").mkdir(parents=True)
    for i in range(3):
        make_image((40 * i, 120, 200), seed=i).save(root / f"scan-{i}.png")
    (root / "box" / "broken.jpg").write_bytes(b"\xff\xd8\xff\xe0 not really a jpeg")
    return root


@pytest.mark.timeout(240)
def test_add_rename_scan_failures_remove(browser_page, live_server, token, inline_jobs,  # noqa: ANN001, F811
                                         shots, tmp_path: Path) -> None:  # noqa: F811
    page = browser_page
    sign_in(page, live_server.url, "root")  # the `token` fixture's admin
    page.get_by_role("link", name="Libraries").click()
    page.wait_for_url("**/libraries")
    photos = page.locator("tbody.library", has_text="photos")
    assert photos.locator(".lib-images").inner_text() == "12"
    assert photos.locator(".lib-indexed").inner_text().endswith("UTC")
    assert photos.locator(".no-failures").is_visible()

    # Add: a relative path is refused, with the API's message next to the form.
    add = page.locator("#add-library")
    add.get_by_label("Folder on the server").fill("relative/folder")
    add.get_by_role("button", name="Add library").click()
    page.wait_for_selector("#add-error >> text=must be an absolute path", timeout=15_000)
    root = scans_folder(tmp_path)
    add.get_by_label("Folder on the server").fill(str(root))
    add.get_by_label("Name (optional)").fill("scans")
    add.get_by_role("button", name="Add library").click()
    scans = page.locator("tbody.library", has_text="scans")
    scans.wait_for(timeout=15_000)
    assert page.locator("#add-error").is_hidden()
    assert scans.locator(".lib-images").inner_text() == "0"
    assert scans.locator(".lib-indexed").inner_text() == "never"

    # Rename: a taken name is refused next to the rename form, then a free one is taken.
    scans.get_by_role("button", name="Rename").click()
    scans.get_by_label("New name").fill("photos")
    scans.get_by_role("button", name="Save").click()
    scans.locator(".rename-form .form-error", has_text="exists already").wait_for(timeout=15_000)
    scans.get_by_label("New name").fill("archive")
    scans.get_by_role("button", name="Save").click()
    archive = page.locator("tbody.library", has_text="archive")
    archive.locator(".name").wait_for(timeout=15_000)
    assert archive.locator(".rename-form").is_hidden()

    # Scan, watching the job: polled at least every second until it ends; the row refreshes.
    polls: list[float] = []
    page.on("request", lambda r: polls.append(time.monotonic())
            if re.search(r"/api/v1/jobs/\d+$", r.url) else None)
    archive.get_by_role("button", name="Scan").click()
    archive.locator(".scan-text", has_text="succeeded").wait_for(timeout=60_000)
    page.wait_for_function(
        "() => [...document.querySelectorAll('tbody.library')].some(b => "
        "b.dataset.name === 'archive' && b.querySelector('.lib-images').textContent === '3')",
        timeout=15_000)
    assert re.search(r"succeeded · \d+/\d+", archive.locator(".scan-text").inner_text())
    assert polls and all(b - a < 1.5 for a, b in zip(polls, polls[1:], strict=False))
    assert archive.locator(".lib-indexed").inner_text().endswith("UTC")
    toggle = archive.get_by_role("button", name="1 failure")
    assert toggle.get_attribute("aria-expanded") == "false"

    # The last index's failures, with their reasons, expand under the row.
    toggle.click()
    failure = archive.locator(".failures-list li")
    failure.first.wait_for(timeout=15_000)
    assert failure.count() == 1
    assert failure.first.locator("code").inner_text() == "box/broken.jpg"
    assert failure.first.locator(".reason").inner_text().strip()
    assert toggle.get_attribute("aria-expanded") == "true"
    page.screenshot(path=str(shots / "libraries-1280.png"), full_page=True)
    assert_accessible(page, "libraries")

    # A scan the API refuses (its folder is gone) says why next to the button.
    gone = tmp_path / "gone"
    gone.mkdir()
    add.get_by_label("Folder on the server").fill(str(gone))
    add.get_by_role("button", name="Add library").click()
    gone_row = page.locator("tbody.library", has_text="gone")
    gone_row.wait_for(timeout=15_000)
    gone.rmdir()
    gone_row.get_by_role("button", name="Scan").click()
    gone_row.locator(".scan-error", has_text="not available").wait_for(timeout=15_000)

    # Remove: the confirmation names what goes and says the files on disk stay; Cancel keeps it.
    before = sorted(p.relative_to(root) for p in root.rglob("*"))
    archive.get_by_role("button", name="Remove").click()
    dialog = page.get_by_role("dialog")
    dialog.wait_for(timeout=5_000)
    text = dialog.inner_text()
    assert "archive" in text and "3 active images" in text and str(root) in text
    assert "never touched" in text
    page.set_viewport_size({"width": 390, "height": 844})
    page.screenshot(path=str(shots / "libraries-remove-390.png"))
    dialog.get_by_role("button", name="Cancel").click()
    assert dialog.is_hidden() and archive.count() == 1
    page.screenshot(path=str(shots / "libraries-390.png"), full_page=True)
    # Nothing wider than the phone's screen, and nothing sticking out of a library's card.
    assert page.evaluate("() => document.documentElement.scrollWidth") <= 390
    assert page.evaluate("""() => [...document.querySelectorAll('tbody.library')].every(card => {
        const edge = card.getBoundingClientRect().right;
        return [...card.querySelectorAll('button, p, code, progress')].every(
            el => el.getBoundingClientRect().right <= edge + 0.5);
    })""")

    archive.get_by_role("button", name="Remove").click()
    dialog.get_by_role("button", name="Remove library").click()
    page.wait_for_selector("#libraries-status >> text=Removed archive", timeout=15_000)
    assert archive.count() == 0
    assert sorted(p.relative_to(root) for p in root.rglob("*")) == before  # files untouched
    listed = page.evaluate("async () => (await (await fetch('/api/v1/libraries')).json())"
                           ".items.map(l => l.name)")
    assert listed == ["photos", "gone"]


@pytest.mark.parametrize("role", ["curator", "viewer"])
def test_only_an_admin_may_open_the_screen(app, role: str) -> None:  # noqa: ANN001
    make_user(app, "pat", role)
    client = app.test_client()
    sign_in_client(client, "pat")
    assert client.get("/libraries").status_code == 403
    assert 'href="/libraries"' not in client.get("/").get_data(as_text=True)
