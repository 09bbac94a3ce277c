"""Browser fixtures for the dashboard's tests (import them into a test module with ``*``):
Debian's Chromium driven by Playwright (never a downloaded browser), a screenshot folder
(``$DAGUERRE_SCREENSHOTS``, else the test's temporary folder), signing in through the form, and
jobs run at once on a thread through the worker's own runner, and an accessibility check
(axe-core, through the axe-playwright-python package) that fails on any serious or critical
violation."""

from __future__ import annotations

import os
import shutil
import threading
from pathlib import Path

import pytest

from tests.conftest import require_service
from tests.platform.api_fixtures import PASSWORD

__all__ = ["CHROMIUM", "assert_accessible", "browser_page", "inline_jobs", "shots", "sign_in"]

CHROMIUM = "/usr/bin/chromium"


@pytest.fixture()
def shots(tmp_path: Path) -> Path:
    folder = Path(os.environ.get("DAGUERRE_SCREENSHOTS") or tmp_path / "screenshots")
    folder.mkdir(parents=True, exist_ok=True)
    return folder


def sign_in(page, url: str, name: str, password: str = PASSWORD) -> None:  # noqa: ANN001
    """Sign in through the form, by its labels, as a person does."""
    page.goto(url + "/")
    page.wait_for_url("**/signin*")
    page.get_by_label("Username").fill(name)
    page.get_by_label("Password").fill(password)
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_selector("#signout-form", timeout=15_000)


# axe-core's impact levels that fail a screen; "minor" and "moderate" are reported by axe but are
# matters of taste (a landmark more or less), not barriers.
BLOCKING_IMPACTS = ("serious", "critical")


def assert_accessible(page, screen: str) -> None:  # noqa: ANN001
    """Run axe-core on the page as it stands and fail, naming each rule and the elements it
    found, on any serious or critical violation."""
    from axe_playwright_python.sync_playwright import Axe

    results = Axe().run(page)
    bad = [v for v in results.response["violations"] if v.get("impact") in BLOCKING_IMPACTS]
    lines = [f"{v['id']} ({v['impact']}): {v['help']} at "
             + ", ".join(n["target"][0] if n["target"] else "?" for n in v["nodes"][:5])
             for v in bad]
    assert not bad, f"{screen}: axe-core found {len(bad)} serious or critical violation(s):\n" \
        + "\n".join(lines)


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
