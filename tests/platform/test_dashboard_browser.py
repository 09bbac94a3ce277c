"""The dashboard in a real browser (Debian's chromium driven by Playwright), as people use it:
the first admin is created on a fresh data directory; a person signs in with the form, searches
and sees thumbnails (loaded on the session cookie), scans a library and watches the job finish,
restores a search hit, opens the job's output and curates it; a viewer is refused every change;
a change sent without the CSRF token is refused.

Each flow saves screenshots under ``$DAGUERRE_SCREENSHOTS`` (default: the test's temporary
folder), as artefacts to look at, never committed."""

from __future__ import annotations

import pytest

from tests.platform.api_fixtures import *  # noqa: F403 - the app/live_server/token fixtures
from tests.platform.api_fixtures import PASSWORD, LiveServer, make_user
from tests.platform.browser_fixtures import *  # noqa: F403 - browser_page, shots, inline_jobs
from tests.platform.browser_fixtures import sign_in


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
            page.get_by_label("Username").fill("ann")
            page.get_by_label("Password", exact=True).fill(PASSWORD)
            page.get_by_label("Repeat password").fill(PASSWORD)
            page.get_by_role("button", name="Create admin").click()
            # straight into a usable dashboard, signed in as the new admin
            page.wait_for_selector("#signout-form >> text=ann", timeout=15_000)
            page.wait_for_selector("#libraries", timeout=15_000)
            assert page.url == server.url + "/"
            assert not page.locator("#notice.error").is_visible()

            # the page is closed now: a second visit goes to the sign-in page
            page.get_by_role("button", name="Sign out").click()
            page.wait_for_url("**/signin")
            page.goto(server.url + "/setup")
            page.wait_for_url("**/signin")
            page.screenshot(path=str(shots / "sign-in.png"), full_page=True)
    finally:
        app.extensions["daguerre"].ctx.close()


@pytest.mark.timeout(180)
def test_sign_in_search_scan_restore(browser_page, live_server, token, inline_jobs,  # noqa: ANN001
                                     shots):
    page = browser_page
    # a wrong password is refused with a message, on the same form
    page.goto(live_server.url + "/")
    page.get_by_label("Username").fill("root")
    page.get_by_label("Password").fill("not the password")
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_selector("#notice >> text=Wrong username or password", timeout=15_000)
    sign_in(page, live_server.url, "root")  # the `token` fixture's admin
    # the library table fills in on the session
    page.wait_for_selector("text=photos", timeout=15_000)

    page.fill("#q", '"red" - "blue"')
    page.click("#search-form button[type=submit]")
    page.wait_for_selector("#results figure", timeout=30_000)
    figures = page.locator("#results figure")
    assert figures.count() == 12  # the whole small library, best first
    # every thumbnail actually loaded, on the session cookie (no credential in any URL)
    page.wait_for_function(
        "() => [...document.querySelectorAll('#results img')]"
        ".every(i => i.complete && i.naturalWidth > 0)", timeout=15_000)
    assert all("token" not in (src or "") for src in page.locator("#results img").evaluate_all(
        "imgs => imgs.map(i => i.getAttribute('src'))"))
    page.screenshot(path=str(shots / "search.png"))
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



@pytest.mark.timeout(120)
def test_a_viewer_is_refused_every_change(browser_page, app, live_server, shots):  # noqa: ANN001
    make_user(app, "vera", "viewer")
    page = browser_page
    sign_in(page, live_server.url, "vera")
    page.wait_for_selector("text=photos", timeout=15_000)  # a viewer may browse
    page.fill("#q", '"red"')
    page.click("#search-form button[type=submit]")  # and search
    page.wait_for_selector("#results figure", timeout=30_000)

    # No control for what a viewer may not do: no scan, no curation, no generate or add forms.
    for hidden in ("button:text-is('Scan')", "#results figure button.approve",
                   "#results figure .rating", "#generate-form", "#library-form"):
        assert page.locator(hidden).count() == 0, hidden
    page.screenshot(path=str(shots / "viewer-refused.png"))
    # And the server refuses the same changes sent from the page's own session, CSRF token and
    # all (a hidden button is a courtesy, the 403 is the rule); nothing changed.
    checks = page.evaluate("""async () => {
        const headers = {"Content-Type": "application/json",
                         "X-CSRFToken": document.querySelector("meta[name=csrf-token]").content};
        const scan = await fetch("/api/v1/libraries/1/scan", {method: "POST", headers});
        const curate = await fetch("/api/v1/images/1", {method: "PATCH", headers,
                                   body: JSON.stringify({review_state: "approved"})});
        const error = (await curate.json()).error;
        const jobs = await (await fetch("/api/v1/jobs")).json();
        const img = await (await fetch("/api/v1/images/1")).json();
        return [scan.status, curate.status, error, jobs.items.length, img.review_state];
    }""")
    assert checks[:2] == [403, 403] and "curator" in checks[2], checks
    assert checks[3:] == [0, "unreviewed"]


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
