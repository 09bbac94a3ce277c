"""The dashboard in a real browser (Debian's chromium driven by Playwright): a person enters a
token, searches and sees thumbnails, scans a library and watches the job finish."""

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

    # a wrong token is refused with a message, not a blank page
    page.fill("input[placeholder^='dgr_']", "dgr_not-a-token")
    page.click("text=Save")
    page.wait_for_selector("#notice >> text=token was refused", timeout=15_000)
