"""The dashboard's screens over a catalog of 100,000 images: server time, first-load bytes, and a
long scroll of the timeline in a real browser.

What it builds (in a temporary data directory, deleted afterwards):

* the tiny test CLIP (``tests/support/tiny_clip.py``) as the configured model, so a search page
  goes through the real text encoder;
* 100,000 catalog rows (one library) inserted in bulk, captured over six months (one in ten with
  no capture time: placed by when the catalog recorded it), and as many synthetic 32-d vectors
  in the model's store (``api_search_load.synthetic_embeddings``). No thumbnails: their requests
  are answered 404 and counted nowhere.

Then, with Flask's test client signed in as a viewer (server time, no network), ~30 requests
each of: the timeline's first page ``/``; its 50th page, reached by following the keyset cursors
(``after=``) page by page; a search page ``/search?q=...``; an image screen ``/images/<id>``
(``GET /api/v1/images/<id>`` instead when that screen is not there). p50 and p95 of each.

First load: the bytes of the timeline's HTML plus every stylesheet and script it links, with the
modules those scripts import (thumbnails aside), uncompressed.

Long scroll: the app under waitress on 127.0.0.1, Debian's chromium driven by Playwright, signed
in, scrolled page after page for 30 pages of the timeline; reported: the most ``.photo-card``
elements the DOM held at any point, and the pages loaded.

Only measured figures are printed; nothing is judged here. Run:
``.venv/bin/python benchmarks/dashboard_load.py [--images 100000] [--requests 30]
[--scroll-pages 30]``.
"""

from __future__ import annotations

import argparse
import os
import platform
import re
import shutil
import statistics
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from urllib.parse import urljoin

REPO = Path(__file__).resolve().parents[1]
PASSWORD = "benchmark-password"
QUERY = "a beach at sunset"


def build(home: Path, n: int) -> dict[str, str]:
    """Model, catalog rows and vectors in ``home``; returns the environment for the app."""
    sys.path.insert(0, str(REPO))
    sys.path.insert(0, str(REPO / "benchmarks"))
    from api_search_load import synthetic_embeddings
    from sqlalchemy import insert

    from daguerre.platform.catalog.models import Image, ImageEmbedding, Library
    from daguerre.platform.config import load_settings
    from daguerre.platform.context import Context
    from daguerre.platform.services.users import create_user
    from tests.support.tiny_clip import write_tiny_clip

    cfg, weights = write_tiny_clip(home.parent / "tiny-clip")
    env = {"DAGUERRE_HOME": str(home), "DAGUERRE_CLIP_MODEL": str(cfg),
           "DAGUERRE_CLIP_WEIGHTS": str(weights), "DAGUERRE_DEVICE": "cpu"}
    ctx = Context(load_settings(env=env))
    encoder = ctx.encoder()
    root = home.parent / "library"
    root.mkdir()
    t0 = time.perf_counter()
    start = datetime(2024, 7, 31, 20, 0)
    recorded = datetime(2025, 1, 5, 9, 0, tzinfo=UTC)
    with ctx.catalog.session() as s:
        lib = Library(name="synthetic", root=str(root))
        s.add(lib)
        s.flush()
        lib_id = lib.id
        # Six months of photos, a few minutes apart; one in ten without a capture time.
        step = timedelta(days=183) / n
        rows = [{"id": i, "library_id": lib_id, "path": f"{i // 1000:03d}/{i:06d}.jpg",
                 "sha256": f"{i:064x}", "size": 100_000, "mtime": 0.0, "width": 640,
                 "height": 480, "format": "JPEG", "created_at": recorded,
                 "updated_at": recorded,
                 "captured_at": None if i % 10 == 0 else start - step * i}
                for i in range(1, n + 1)]
        for at in range(0, n, 20_000):
            s.execute(insert(Image), rows[at:at + 20_000])
        s.execute(insert(ImageEmbedding), [{"image_id": r["id"], "model_key": encoder.key,
                                            "sha256": r["sha256"]} for r in rows])
    t_rows = time.perf_counter() - t0
    store = ctx.store(encoder)
    import numpy as np

    with store.edit() as st:
        st.upsert(np.arange(1, n + 1, dtype=np.int64), synthetic_embeddings(n, encoder.dim))
    create_user(ctx, "bench", "viewer", PASSWORD)
    print(f"built {n} rows in {t_rows:.1f} s and {n} vectors", file=sys.stderr)
    ctx.close()
    return env


def signed_in_client(app):  # noqa: ANN001, ANN201
    client = app.test_client()
    html = client.get("/signin").get_data(as_text=True)
    csrf = re.search(r'name="csrf_token" value="([^"]+)"', html).group(1)
    resp = client.post("/signin", data={"username": "bench", "password": PASSWORD,
                                        "csrf_token": csrf})
    assert resp.status_code == 302, resp.status_code
    return client


def timed(client, url: str, count: int) -> dict[str, float]:  # noqa: ANN001
    """p50/p95 of ``count`` GETs of ``url`` (after one warm-up), in milliseconds."""
    resp = client.get(url)
    if resp.status_code != 200:
        raise RuntimeError(f"GET {url}: {resp.status_code}")
    times = []
    for _ in range(count):
        t0 = time.perf_counter()
        resp = client.get(url)
        resp.get_data()
        times.append((time.perf_counter() - t0) * 1000)
        assert resp.status_code == 200
    times.sort()
    return {"p50": statistics.median(times), "p95": times[max(0, round(0.95 * len(times)) - 1)],
            "bytes": len(resp.get_data())}


def page_url(client, pages: int) -> str:  # noqa: ANN001
    """The URL of the timeline's page number ``pages``, by following each page's More link."""
    url = "/"
    for _ in range(pages - 1):
        html = client.get(url, headers={"X-Pager": "1"}).get_data(as_text=True)
        url = re.search(r'<a class="pager-next" href="([^"]+)"', html).group(1).replace("&amp;", "&")
    return url


def first_load_bytes(client) -> tuple[int, list[tuple[str, int]]]:  # noqa: ANN001
    """The timeline's HTML and every stylesheet and script module it pulls in."""
    html = client.get("/").get_data(as_text=True)
    parts = [("/ (HTML)", len(html.encode()))]
    queue = re.findall(r'<(?:link[^>]+href|script[^>]+src)="(/static/[^"]+)"', html)
    seen: set[str] = set()
    while queue:
        url = queue.pop(0)
        if url in seen:
            continue
        seen.add(url)
        body = client.get(url).get_data()
        parts.append((url, len(body)))
        if url.endswith(".js"):
            for dep in re.findall(rb'^\s*import\s[^;]*?from\s+"(\./[^"]+)"', body, re.M):
                queue.append(urljoin(url, dep.decode()))
    return sum(b for _, b in parts), parts


def long_scroll(app, pages: int) -> dict[str, float]:  # noqa: ANN001
    """Scroll the timeline in chromium for ``pages`` pages; the most cards the DOM held."""
    from playwright.sync_api import sync_playwright

    from tests.platform.api_fixtures import LiveServer

    chromium = "/usr/bin/chromium" if Path("/usr/bin/chromium").exists() else shutil.which(
        "chromium")
    with LiveServer(app) as server, sync_playwright() as p:
        browser = p.chromium.launch(executable_path=chromium,
                                    args=["--no-sandbox", "--disable-gpu"])
        page = browser.new_page(viewport={"width": 1280, "height": 900})
        page.goto(server.url + "/signin")
        page.get_by_label("Username").fill("bench")
        page.get_by_label("Password").fill(PASSWORD)
        page.get_by_role("button", name="Sign in").click()
        page.wait_for_selector(".photo-card")
        most, t0 = 0, time.perf_counter()
        count_pages = "() => document.querySelectorAll('.page-chunk').length"
        while page.evaluate(count_pages) < pages and time.perf_counter() - t0 < 120:
            page.mouse.wheel(0, 3000)
            page.wait_for_timeout(100)
            most = max(most, page.locator(".photo-card").count())
        loaded = page.evaluate(count_pages)
        seconds = time.perf_counter() - t0
        emptied = page.locator(".page-chunk[data-emptied=true]").count()
        browser.close()
    return {"pages": loaded, "most_cards": most, "seconds": seconds, "emptied": emptied}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--images", type=int, default=100_000)
    ap.add_argument("--requests", type=int, default=30)
    ap.add_argument("--scroll-pages", type=int, default=30)
    args = ap.parse_args()
    tmp = Path(tempfile.mkdtemp(prefix="daguerre-dashboard-bench-"))
    try:
        env = build(tmp / "home", args.images)
        os.environ.update(env)
        import logging

        logging.getLogger("waitress.queue").setLevel(logging.ERROR)
        from daguerre.platform.web import create_app
        from daguerre.platform.web.pages import timeline as timeline_screen

        app = create_app()
        client = signed_in_client(app)
        views = app.view_functions
        print(f"machine: {platform.machine()}, {os.cpu_count()} CPUs, Python "
              f"{platform.python_version()}; {args.images} images; page size "
              f"{timeline_screen.PAGE_SIZE}; {args.requests} requests each (test client, "
              "server time)")
        t0 = time.perf_counter()
        fiftieth = page_url(client, 50)
        print(f"reached page 50 by 49 cursors in {time.perf_counter() - t0:.2f} s")
        targets = [("timeline, first page  /", "/"),
                   ("timeline, 50th page by keyset", fiftieth),
                   ("timeline, 50th page (pager fragment)", None),
                   ("API timeline, 50th page", "/api/v1/timeline?after="
                    + re.search(r"after=([^&]+)", fiftieth).group(1))]
        if "search_page.search" in views:
            targets.append((f"search page  /search?q={QUERY}", f"/search?q={QUERY}"))
        else:
            print("search page: not present (no search_page.search), skipped")
        if "image_page.image" in views or any(r.rule == "/images/<int:image_id>"
                                              for r in app.url_map.iter_rules()):
            targets.append(("image screen  /images/<id>", f"/images/{args.images // 2}"))
        else:
            targets.append(("image (API; no image screen)  /api/v1/images/<id>",
                            f"/api/v1/images/{args.images // 2}"))
        print(f"{'what':44s} {'p50 ms':>8s} {'p95 ms':>8s} {'bytes':>8s}")
        for label, url in targets:
            if url is None:  # the fragment the pager fetches for the same page
                t = timed_fragment(client, fiftieth, args.requests)
            else:
                try:
                    t = timed(client, url, args.requests)
                except RuntimeError as exc:
                    print(f"{label:44s} not measured: {exc}")
                    continue
            print(f"{label:44s} {t['p50']:8.1f} {t['p95']:8.1f} {t['bytes']:8d}")
        total, parts = first_load_bytes(client)
        print(f"first load of / (HTML + CSS + JS, no thumbnails): {total} bytes "
              f"({total / 1024:.1f} KiB) in {len(parts)} files")
        for url, size in parts:
            print(f"    {url:40s} {size:7d}")
        if shutil.which("chromium") or Path("/usr/bin/chromium").exists():
            s = long_scroll(app, args.scroll_pages)
            print(f"long scroll in chromium: {s['pages']} pages loaded "
                  f"({s['pages'] * timeline_screen.PAGE_SIZE} images) in {s['seconds']:.1f} s; "
                  f"at most {s['most_cards']} cards in the DOM; {s['emptied']} pages emptied")
        else:
            print("long scroll: no chromium here, skipped")
        app.extensions["daguerre"].ctx.close()
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def timed_fragment(client, url: str, count: int) -> dict[str, float]:  # noqa: ANN001
    class Pager:  # the same client, every GET marked as the pager's
        def get(self, u: str):  # noqa: ANN202
            return client.get(u, headers={"X-Pager": "1"})

    return timed(Pager(), url, count)


if __name__ == "__main__":
    main()
