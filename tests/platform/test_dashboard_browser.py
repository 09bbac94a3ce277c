"""The dashboard in a real browser (Debian's chromium driven by Playwright), as people use it:
the first admin is created on a fresh data directory and lands on the timeline, told where to
start; a wrong password is refused and signing in opens the timeline with its thumbnails
(loaded on the session cookie); a viewer is offered no change and the server refuses every one;
a change sent without the CSRF token is refused. (Searching, scanning, restoring and curating
are tested with their own screens.)

Each flow saves screenshots under ``$DAGUERRE_SCREENSHOTS`` (default: the test's temporary
folder), as artefacts to look at, never committed."""

from __future__ import annotations

import pytest

from tests.platform.api_fixtures import *  # noqa: F403 - the app/live_server/token fixtures
from tests.platform.api_fixtures import PASSWORD, LiveServer, make_user
from tests.platform.browser_fixtures import *  # noqa: F403 - browser_page, shots, inline_jobs
from tests.platform.browser_fixtures import assert_accessible, sign_in


@pytest.mark.timeout(180)
def test_first_admin_on_a_fresh_data_directory(browser_page, clip_env, shots):  # noqa: ANN001
    from daguerre.platform.web import create_app

    app = create_app({"TESTING": True})  # clip_env's data directory: empty, nobody yet
    page = browser_page
    try:
        with LiveServer(app) as server:
            page.goto(server.url + "/")
            page.wait_for_url("**/setup")
            page.screenshot(path=str(shots / "first-admin.png"), full_page=True)
            assert_accessible(page, "first admin")
            page.get_by_label("Username").fill("ann")
            page.get_by_label("Password", exact=True).fill(PASSWORD)
            page.get_by_label("Repeat password").fill(PASSWORD)
            page.get_by_role("button", name="Create admin").click()
            # straight into the timeline, signed in as the new admin, told where to start
            page.wait_for_selector("#signout-form >> text=ann", timeout=15_000)
            page.wait_for_selector(".timeline-empty >> text=No images yet", timeout=15_000)
            assert page.locator(".timeline-empty a[href='/libraries']").count() == 1
            assert page.url == server.url + "/"
            assert not page.locator("#notice.error").is_visible()

            # the page is closed now: a second visit goes to the sign-in page
            page.get_by_role("button", name="Sign out").click()
            page.wait_for_url("**/signin")
            page.goto(server.url + "/setup")
            page.wait_for_url("**/signin")
            page.screenshot(path=str(shots / "sign-in.png"), full_page=True)
            assert_accessible(page, "sign-in")
    finally:
        app.extensions["daguerre"].ctx.close()


@pytest.mark.timeout(180)
def test_a_wrong_password_is_refused_then_sign_in_opens_the_timeline(  # noqa: ANN001
        browser_page, live_server, token, shots):
    page = browser_page
    # a wrong password is refused with a message, on the same form
    page.goto(live_server.url + "/")
    page.get_by_label("Username").fill("root")
    page.get_by_label("Password").fill("not the password")
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_selector("#notice >> text=Wrong username or password", timeout=15_000)
    sign_in(page, live_server.url, "root")  # the `token` fixture's admin
    # `/` is the timeline: the library's images, with thumbnails loaded on the session cookie
    page.wait_for_selector(".photo-card", timeout=15_000)
    assert page.url == live_server.url + "/"
    assert page.locator(".photo-card").count() == 12
    page.wait_for_function(
        "() => [...document.querySelectorAll('.photo-card img')]"
        ".every(i => i.complete && i.naturalWidth > 0)", timeout=15_000)
    assert all("token" not in (src or "") for src in page.locator(".photo-card img").evaluate_all(
        "imgs => imgs.map(i => i.getAttribute('src'))"))
    page.screenshot(path=str(shots / "signed-in-timeline.png"))


@pytest.mark.timeout(120)
def test_a_viewer_is_refused_every_change(browser_page, app, live_server, shots):  # noqa: ANN001
    make_user(app, "vera", "viewer")
    page = browser_page
    blocked: list[str] = []  # anything the Content-Security-Policy had to block
    page.on("console", lambda m: blocked.append(m.text)
            if "Content Security Policy" in m.text else None)
    sign_in(page, live_server.url, "vera")
    page.wait_for_selector(".photo-card", timeout=15_000)  # a viewer may browse the timeline
    page.locator(".photo-card").first.click()  # and select
    page.wait_for_selector(".bulk-bar >> text=1 selected")

    # No control for what a viewer may not do: the selection offers export only; no Libraries,
    # no Create in the navigation.
    for hidden in ("[data-bulk=approve]", "[data-bulk=reject]", "[data-bulk=rate]",
                   "[data-bulk=tag]", "[data-bulk=board]", "nav >> text=Libraries",
                   "nav >> text=Create"):
        assert page.locator(hidden).count() == 0, hidden
    assert page.locator("[data-bulk=export]").is_visible()
    chosen = int(page.locator(".photo-card").first.get_attribute("data-id"))
    page.keyboard.press("x")  # the reject key does nothing for a viewer
    page.wait_for_timeout(300)
    assert page.locator(f".photo-card[data-id='{chosen}']").get_attribute("data-review") \
        == "unreviewed"
    page.screenshot(path=str(shots / "viewer-refused.png"))
    assert not blocked, blocked
    # And the server refuses the same changes sent from the page's own session, CSRF token and
    # all (a hidden button is a courtesy, the 403 is the rule); nothing changed.
    checks = page.evaluate("""async (chosen) => {
        const headers = {"Content-Type": "application/json",
                         "X-CSRFToken": document.querySelector("meta[name=csrf-token]").content};
        const scan = await fetch("/api/v1/libraries/1/scan", {method: "POST", headers});
        const curate = await fetch("/api/v1/images/1", {method: "PATCH", headers,
                                   body: JSON.stringify({review_state: "approved"})});
        const error = (await curate.json()).error;
        const jobs = await (await fetch("/api/v1/jobs")).json();
        const img = await (await fetch("/api/v1/images/1")).json();
        const seen = await (await fetch(`/api/v1/images/${chosen}`)).json();
        return [scan.status, curate.status, error, jobs.items.length, img.review_state,
                seen.review_state];
    }""", chosen)
    assert checks[:2] == [403, 403] and "curator" in checks[2], checks
    assert checks[3:] == [0, "unreviewed", "unreviewed"]


@pytest.mark.timeout(120)
def test_a_change_without_the_csrf_token_is_refused(browser_page, app, live_server):  # noqa: ANN001
    make_user(app, "cora", "curator")
    page = browser_page
    sign_in(page, live_server.url, "cora")
    statuses = page.evaluate("""async () => {
        const token = document.querySelector("meta[name=csrf-token]").content;
        const patch = (headers) => fetch("/api/v1/images/1", {method: "PATCH",
            headers: {"Content-Type": "application/json", ...headers},
            body: JSON.stringify({rating: 5})});
        const without = await patch({});
        const rating = (await (await fetch("/api/v1/images/1")).json()).rating;
        const withToken = await patch({"X-CSRFToken": token});
        return [without.status, rating, withToken.status];
    }""")
    assert statuses == [400, None, 200]
