"""The dashboard in a real browser (Debian's chromium driven by Playwright): a person enters a
token, searches and sees thumbnails, scans a library and watches the job finish, restores a
search hit, opens the job's output and curates it."""

from __future__ import annotations

import shutil
import threading
from pathlib import Path

import pytest

from tests.conftest import require_service
from tests.platform.api_fixtures import *  # noqa: F403 - the app/live_server/token fixtures

CHROMIUM = "/usr/bin/chromium"


@pytest.fixture()
def browser_page():  # noqa: ANN201
    require_service("chromium", Path(CHROMIUM).exists() or shutil.which("chromium") is not None)
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        browser = p.chromium.launch(
            executable_path=CHROMIUM if Path(CHROMIUM).exists() else shutil.which("chromium"),
            args=["--no-sandbox", "--disable-gpu", "--disable-background-networking"])
        page = browser.new_page(viewport={"width": 1280, "height": 900})
        yield page
        browser.close()


@pytest.fixture()
def inline_jobs(app):  # noqa: ANN001, ANN201
    """Jobs created through the API run at once on a thread, through the worker's own runner."""
    from daguerre.platform.jobs.runner import execute

    ctx = app.extensions["daguerre"].ctx
    threads: list[threading.Thread] = []

    def send(job_id: int, queue: str) -> None:
        t = threading.Thread(target=execute, args=(ctx, job_id, "browser-test"), daemon=True)
        threads.append(t)
        t.start()

    app.config["JOB_SENDER"] = send
    yield
    for t in threads:
        t.join(timeout=60)


@pytest.mark.timeout(180)
def test_token_search_and_scan(browser_page, live_server, token, inline_jobs):  # noqa: ANN001
    page = browser_page
    page.goto(live_server.url + "/")
    page.fill("input[placeholder^='dgr_']", token)
    page.click("text=Save")
    # the library table fills in once the token is accepted
    page.wait_for_selector("text=photos", timeout=15_000)

    page.fill("#q", '"red" - "blue"')
    page.click("#search-form button[type=submit]")
    page.wait_for_selector("#results figure", timeout=30_000)
    figures = page.locator("#results figure")
    assert figures.count() == 12  # the whole small library, best first
    # every thumbnail actually loaded (the ?token= URL is accepted for <img>)
    page.wait_for_function(
        "() => [...document.querySelectorAll('#results img')]"
        ".every(i => i.complete && i.naturalWidth > 0)", timeout=15_000)
    scores = [float(t.split("·")[1]) for t in page.locator("#results figcaption").all_inner_texts()]
    assert scores == sorted(scores, reverse=True)

    page.click("button:text-is('Scan')")
    page.wait_for_selector("#jobs >> text=succeeded", timeout=60_000)

    # Restore the best hit; the job's output opens from the jobs table as a generated image.
    best = int(figures.first.get_attribute("data-id"))
    figures.first.locator("button.restore").click()
    restore_row = page.locator("#jobs tr.succeeded", has_text="restore")
    restore_row.wait_for(timeout=60_000)
    restore_row.locator("button:text-is('Show')").click()
    page.wait_for_selector("#results figcaption:has-text('generated')", timeout=15_000)
    assert figures.count() == 1
    output = int(figures.first.get_attribute("data-id"))
    assert output != best
    assert f"generated from #{best}" in figures.first.locator("figcaption").inner_text()

    # Curate it: approve and rate; the catalog keeps both, and the review queue empties.
    figures.first.locator("button.approve").click()
    page.wait_for_selector("#results figure.approved", timeout=15_000)
    figures.first.locator("select.rating").select_option("4")
    stored = page.evaluate(
        """async ([id, token]) => {
             for (let i = 0; i < 50; i++) {
               const r = await fetch(`/api/v1/images/${id}`,
                                     {headers: {Authorization: `Bearer ${token}`}});
               const image = await r.json();
               if (image.rating === 4) return image;
               await new Promise((done) => setTimeout(done, 100));
             }
             return null;
           }""", [output, token])
    assert stored is not None and stored["review_state"] == "approved"
    assert stored["origin"] == "generated"
    page.click("#review-queue")
    page.wait_for_selector("#notice >> text=0 generated images awaiting review", timeout=15_000)

    # a wrong token is refused with a message, not a blank page
    page.fill("input[placeholder^='dgr_']", "dgr_not-a-token")
    page.click("text=Save")
    page.wait_for_selector("#notice >> text=token was refused", timeout=15_000)
