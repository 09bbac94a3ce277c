"""The jobs screen (``/jobs``, ``/jobs/<id>``), first through the test client (roles, filters,
bad query strings), then in a real browser (Debian's chromium under Playwright) as a person uses
it: jobs run for real on a thread through the worker's runner, under a recorded worker; the list
follows them live, filters by status and kind in the URL, cancels, retries and clears; a job's
page says its result in plain words (an index's counts, a restore's notes and outputs as
thumbnails, a failure's error) and links the job it retried. A viewer sees no buttons and is
refused by the server all the same.

Screenshots go under ``$DAGUERRE_SCREENSHOTS`` (default: the test's temporary folder)."""

from __future__ import annotations

import re
import threading
from pathlib import Path

import pytest

from tests.platform.api_fixtures import *  # noqa: F403 - the app/live_server/token fixtures
from tests.platform.api_fixtures import make_user, sign_in
from tests.platform.browser_fixtures import (  # noqa: F401 - fixtures
    assert_accessible,
    browser_page,
    shots,
)
from tests.platform.browser_fixtures import sign_in as browser_sign_in

API = "/api/v1"
WORKER = "gpu-box:4242"


def _jobs(app):  # noqa: ANN001, ANN202
    from daguerre.platform.services.jobs import Jobs

    return Jobs(app.extensions["daguerre"].ctx, send=lambda job_id, queue: None)


def _run(app, job_id: int, worker: str = WORKER) -> str:  # noqa: ANN001
    from daguerre.platform.jobs.runner import execute

    return execute(app.extensions["daguerre"].ctx, job_id, worker)


# -- through the test client -----------------------------------------------------------------
def test_a_viewer_sees_jobs_without_buttons_and_is_refused_changes(app) -> None:  # noqa: ANN001
    jobs = _jobs(app)
    failed = jobs.create("noop", {"fail": "the disk is full"})["id"]
    _run(app, failed)
    queued = jobs.create("noop", {"sleep": 5})["id"]
    make_user(app, "vera", "viewer")
    client = app.test_client()
    csrf = sign_in(client, "vera")

    page = client.get("/jobs").get_data(as_text=True)
    assert f'id="job-{failed}"' in page and f'id="job-{queued}"' in page
    assert "the disk is full" in page
    assert 'data-action="cancel"' not in page and 'data-action="retry"' not in page
    assert "Clear finished" not in page
    detail = client.get(f"/jobs/{failed}").get_data(as_text=True)
    assert "the disk is full" in detail and "Retry job" not in detail

    headers = {"X-CSRFToken": csrf}
    for url in (f"{API}/jobs/{queued}/cancel", f"{API}/jobs/{failed}/retry", f"{API}/jobs/clear"):
        resp = client.post(url, headers=headers)
        assert resp.status_code == 403 and "curator" in resp.get_json()["error"], url
    assert [j["status"] for j in jobs.list()] == ["queued", "failed"]


def test_filters_live_in_the_query_string_and_bad_ones_are_named(app) -> None:  # noqa: ANN001
    jobs = _jobs(app)
    failed = jobs.create("noop", {"fail": "boom"})["id"]
    _run(app, failed)
    other = jobs.create("noop", {})["id"]
    make_user(app, "cora", "curator")
    client = app.test_client()
    sign_in(client, "cora")

    page = client.get("/jobs?status=failed&kind=noop").get_data(as_text=True)
    assert f'id="job-{failed}"' in page and f'id="job-{other}"' not in page
    assert '<option value="failed" selected>' in page
    assert 'data-action="retry"' in page and "Clear finished jobs" in page
    assert "No jobs match this filter" in client.get("/jobs?kind=index").get_data(as_text=True)
    for query, named in (("status=done", "status"), ("kind=bake", "kind"),
                         ("offset=-1", "offset")):
        resp = client.get(f"/jobs?{query}")
        assert resp.status_code == 400 and named in resp.get_data(as_text=True), query
    assert client.get("/jobs/999").status_code == 404
    assert client.get(f"/jobs/{2**63}").status_code == 404


def test_clear_over_the_api_keeps_unfinished_jobs(app, client, auth) -> None:  # noqa: ANN001
    jobs = _jobs(app)
    done = jobs.create("noop", {})["id"]
    _run(app, done)
    queued = jobs.create("noop", {})["id"]
    resp = client.post(f"{API}/jobs/clear", headers=auth)
    assert resp.status_code == 200 and resp.get_json() == {"deleted": 1, "kept": 0}
    assert [j["id"] for j in jobs.list()] == [queued]


# -- in the browser --------------------------------------------------------------------------
@pytest.fixture()
def worker_jobs(app):  # noqa: ANN001, ANN201
    """A recorded, live worker; jobs created through the API run at once on a thread under its
    name, through the worker's own runner (so the screen sees what a real worker runs)."""
    from daguerre.platform.jobs.runner import execute
    from daguerre.platform.services.workers import record

    ctx = app.extensions["daguerre"].ctx
    record(ctx.catalog, WORKER, host="gpu-box", pid=4242, queues=["gpu", "cpu"],
           device="cuda:0")
    threads: list[threading.Thread] = []

    def send(job_id: int, queue: str) -> None:
        t = threading.Thread(target=execute, args=(ctx, job_id, WORKER), daemon=True)
        threads.append(t)
        t.start()

    app.config["JOB_SENDER"] = send
    yield ctx
    for job in _jobs(app).list(status="running"):
        _jobs(app).cancel(job["id"])
    for t in threads:
        t.join(timeout=60)


def _post(page, path: str, body: dict | None = None) -> dict:  # noqa: ANN001
    """A change through the API on the page's session, with its CSRF token."""
    return page.evaluate("""async ([path, body]) => {
        const csrf = document.querySelector("meta[name=csrf-token]").content;
        const r = await fetch("/api/v1" + path, {method: "POST", body: JSON.stringify(body),
            headers: {"Content-Type": "application/json", "X-CSRFToken": csrf}});
        return {status: r.status, body: await r.json()};
    }""", [path, body or {}])


def _wait_status(app, job_id: int, status: str, timeout: float = 60) -> dict:  # noqa: ANN001
    import time

    end = time.monotonic() + timeout
    while time.monotonic() < end:
        job = _jobs(app).get(job_id)
        if job["status"] == status:
            return job
        time.sleep(0.1)
    raise AssertionError(f"job {job_id} is {_jobs(app).get(job_id)['status']}, not {status}")


@pytest.mark.timeout(240)
def test_follow_jobs_live_open_their_results_retry_cancel_and_clear(
        browser_page, app, live_server, token, worker_jobs, shots: Path) -> None:  # noqa: ANN001, F811
    page = browser_page
    browser_sign_in(page, live_server.url, "root")
    page.goto(live_server.url + "/jobs")
    page.wait_for_selector("#jobs-empty:visible >> text=No jobs")

    # Jobs started after the page opened appear and run to the end without a reload.
    scan = _post(page, "/libraries/1/scan")["body"]["id"]
    restore = _post(page, "/restore", {"image_ids": [1, 2]})["body"]["id"]
    broken = _post(page, "/jobs", {"kind": "noop", "params": {"fail": "the disk is full"}}
                   )["body"]["id"]
    long = _post(page, "/jobs", {"kind": "noop", "params": {"sleep": 120}})["body"]["id"]
    page.wait_for_selector(f"#job-{scan}.succeeded >> text=Indexed photos", timeout=60_000)
    page.wait_for_selector(f"#job-{restore}.succeeded >> text=Restored 2 images",
                           timeout=90_000)
    page.wait_for_selector(f"#job-{broken}.failed >> text=the disk is full", timeout=15_000)
    page.wait_for_selector(f"#job-{long}.running", timeout=15_000)
    ids = page.locator("#jobs-table tbody tr").evaluate_all("rows => rows.map(r => +r.dataset.id)")
    assert ids == sorted(ids, reverse=True) == [long, broken, restore, scan]  # newest first

    # Live progress: what the running job reports shows within a second or two, no reload.
    from sqlalchemy import update

    from daguerre.platform.catalog.models import Job
    with worker_jobs.catalog.session() as s:
        s.execute(update(Job).where(Job.id == long)
                  .values(progress_done=3, progress_total=10, message="step 3 of 10"))
    row = page.locator(f"#job-{long}")
    row.locator("text=3 / 10").wait_for(timeout=5_000)
    row.locator("text=step 3 of 10").wait_for(timeout=5_000)
    assert row.locator("progress").evaluate("p => [p.value, p.max]") == [3, 10]
    # The live worker and what it runs.
    worker = page.locator(f"#workers-table tr[data-name='{WORKER}']")
    worker.locator(f"a:text-is('job #{long}')").wait_for(timeout=5_000)
    assert "cuda:0" in worker.inner_text()
    page.screenshot(path=str(shots / "jobs-1280.png"), full_page=True)
    assert_accessible(page, "jobs")

    # Filter by status, then by kind: kept in the URL, so a reload shows the same list.
    page.get_by_label("Status").select_option("failed")
    page.wait_for_url(lambda url: url.endswith("/jobs?status=failed"))
    assert page.locator("#jobs-table tbody tr").count() == 1
    page.get_by_label("Status").select_option("")
    page.wait_for_url(lambda url: url.endswith("/jobs"))
    page.get_by_label("Kind").select_option("restore")
    page.wait_for_url(lambda url: url.endswith("/jobs?kind=restore"))
    page.reload()
    assert page.locator("#jobs-table tbody tr").evaluate_all(
        "rows => rows.map(r => +r.dataset.id)") == [restore]
    page.goto(live_server.url + "/jobs")

    # Retry the failed job from its row: a new job linked to it.
    page.locator(f"#job-{broken} button:text-is('Retry')").click()
    page.wait_for_selector("#notice >> text=retried as job", timeout=15_000)
    retried = int(page.locator("#notice").inner_text().rsplit("#", 1)[1].rstrip("."))
    page.wait_for_selector(f"#job-{retried}.failed", timeout=15_000)
    # Cancel the running one from its row: it stops at its next check.
    page.locator(f"#job-{long} button:text-is('Cancel')").click()
    page.wait_for_selector(f"#job-{long}.canceled", timeout=15_000)
    assert page.locator(f"#job-{long} button:text-is('Retry')").is_visible()

    # The restore's page: its notes, its outputs as thumbnails loaded on the session.
    page.click(f"#job-{restore} a:text-is('#{restore}')")
    page.wait_for_url(f"**/jobs/{restore}")
    page.wait_for_selector("h2 >> text=restore")
    outputs = page.locator(".job-outputs img")
    assert outputs.count() == 2
    page.wait_for_function("() => [...document.querySelectorAll('.job-outputs img')]"
                           ".every(i => i.complete && i.naturalWidth > 0)", timeout=15_000)
    href = page.locator(".job-outputs a").first.get_attribute("href")
    assert re.fullmatch(r"/images/\d+", href)  # the output's own image screen
    assert page.locator(".job-outputs a.job-compare").count() == 2  # before/after of each
    assert page.locator("#job-notes li").count() >= 1  # e.g. the fallback to OpenCV
    assert "image_ids" in page.locator("#job-params").inner_text()
    assert page.locator("#job-timing >> text=Ran for").count() == 1
    page.screenshot(path=str(shots / "job-restore-1280.png"), full_page=True)
    assert_accessible(page, "a job")
    page.set_viewport_size({"width": 390, "height": 844})  # a phone: nothing overflows sideways
    assert page.evaluate("() => document.documentElement.scrollWidth") <= 390
    page.screenshot(path=str(shots / "job-restore-390.png"), full_page=True)
    page.set_viewport_size({"width": 1280, "height": 900})

    # The index job's page: its counts in words.
    page.goto(f"{live_server.url}/jobs/{scan}")
    facts = page.locator(".job-facts").first.inner_text()
    assert "photos" in facts and "Unchanged" in facts
    # The retry's page links the job it retried, and that one links its retry.
    page.goto(f"{live_server.url}/jobs/{retried}")
    page.wait_for_selector("#error-heading")
    assert "the disk is full" in page.locator(".job-error").inner_text()
    page.click(f"a:text-is('job #{broken}')")
    page.wait_for_url(f"**/jobs/{broken}")
    page.wait_for_selector(f"a:text-is('job #{retried}')")

    # A running job's page follows it live, cancels it, and then says how it ended.
    live = _post(page, "/jobs", {"kind": "noop", "params": {"sleep": 120}})["body"]["id"]
    _wait_status(app, live, "running")
    page.goto(f"{live_server.url}/jobs/{live}")
    page.wait_for_selector("#job-status >> text=running")
    page.get_by_role("button", name="Cancel job").click()
    page.wait_for_selector("#job-status >> text=canceled", timeout=15_000)
    page.wait_for_selector("button:text-is('Retry job')")

    # Clear the finished jobs: one still running stays; what the restore made stays.
    keep = _post(page, "/jobs", {"kind": "noop", "params": {"sleep": 120}})["body"]["id"]
    _wait_status(app, keep, "running")
    page.goto(live_server.url + "/jobs")
    page.once("dialog", lambda dialog: dialog.accept())
    page.get_by_role("button", name="Clear finished jobs").click()
    page.wait_for_selector("#notice >> text=Cleared 6 finished jobs", timeout=15_000)
    page.wait_for_function("() => document.querySelectorAll('#jobs-table tbody tr').length === 1",
                           timeout=5_000)
    assert page.locator(f"#job-{keep}").count() == 1
    made = page.evaluate("async () => (await (await fetch('/api/v1/images?origin=generated'))"
                         ".json()).items.length")
    assert made == 2

    # At 390 px wide: rows become cards and nothing overflows sideways.
    page.set_viewport_size({"width": 390, "height": 844})
    page.goto(live_server.url + "/jobs")
    page.wait_for_selector(f"#job-{keep}")
    assert page.evaluate("() => document.documentElement.scrollWidth") <= 390
    page.screenshot(path=str(shots / "jobs-390.png"), full_page=True)


@pytest.mark.timeout(120)
def test_a_viewer_in_the_browser_sees_no_buttons_and_is_refused(
        browser_page, app, live_server, worker_jobs, shots: Path) -> None:  # noqa: ANN001, F811
    jobs = _jobs(app)
    failed = jobs.create("noop", {"fail": "boom"})["id"]
    _run(app, failed)
    make_user(app, "vera", "viewer")
    page = browser_page
    browser_sign_in(page, live_server.url, "vera")
    page.goto(live_server.url + "/jobs")
    page.wait_for_selector(f"#job-{failed}.failed")
    assert page.locator("#jobs-table button").count() == 0
    assert page.get_by_role("button", name="Clear finished jobs").count() == 0
    page.goto(f"{live_server.url}/jobs/{failed}")
    assert page.get_by_role("button", name="Retry job").count() == 0
    page.screenshot(path=str(shots / "job-viewer.png"), full_page=True)
    for path in (f"/jobs/{failed}/retry", "/jobs/clear"):
        resp = _post(page, path)
        assert resp["status"] == 403 and "curator" in resp["body"]["error"], path
    assert [j["id"] for j in jobs.list()] == [failed]
