"""Prompt adherence through the API and the review screen: ``sort=adherence`` ranks generated
images best first (unscored ones last) on ``GET /api/v1/images`` and on ``/review``, whose
"More" link pages on in the same order; a bad ``sort`` is a 400 naming it."""

from __future__ import annotations

import re
from pathlib import Path

from PIL import Image as PILImage

from tests.platform.api_fixtures import *  # noqa: F403 - the app/client/auth fixtures
from tests.platform.api_fixtures import make_user, sign_in

API = "/api/v1"
CARD = re.compile(r'class="review-card" tabindex="0" data-id="(\d+)"')
SCORES = [0.21, None, 0.34, 0.05, 0.34, None, 0.29]  # two ties, two without a score


def make_scored(app, scores: list[float | None]) -> list[int]:  # noqa: ANN001
    """Generated images awaiting review with these adherence scores, made by one job."""
    from daguerre.platform.catalog.models import Image, ImageOrigin, Lineage

    ctx = app.extensions["daguerre"].ctx
    home = Path(ctx.settings.home)
    (home / "scored").mkdir(exist_ok=True)
    ids: list[int] = []
    with ctx.catalog.session() as s:
        for i, score in enumerate(scores):
            thumb = f"scored/g{i}.jpg"
            PILImage.new("RGB", (32, 32), (20 * i, 90, 160)).save(home / thumb)
            img = Image(library_id=None, path=f"outputs/job-1/generate-{i}.png",
                        sha256=f"{i:062x}cd", size=1, mtime=0.0, width=32, height=32,
                        format="PNG", origin=ImageOrigin.GENERATED, thumbnail=thumb,
                        adherence=score)
            s.add(img)
            s.flush()
            s.add(Lineage(image_id=img.id, parent_id=None, operation="generate",
                          params={"job": {"prompt": "a red circle"}}))
            ids.append(img.id)
    return ids


def best_first(ids: list[int], newest_first: bool) -> list[int]:
    """The order the service promises: by score, best first, ties and the unscored by id."""
    tie = -1 if newest_first else 1
    scored = sorted((i for i, sc in zip(ids, SCORES, strict=True) if sc is not None),
                    key=lambda i: (-SCORES[ids.index(i)], tie * i))
    unscored = sorted((i for i, sc in zip(ids, SCORES, strict=True) if sc is None),
                      key=lambda i: tie * i)
    return scored + unscored


def test_the_api_lists_generated_images_best_first(app, client, auth) -> None:  # noqa: ANN001
    ids = make_scored(app, SCORES)
    resp = client.get(f"{API}/images?origin=generated&sort=adherence&limit=4", headers=auth)
    assert resp.status_code == 200, resp.get_json()
    page = resp.get_json()
    second = client.get(f"{API}/images?origin=generated&sort=adherence&limit=4&offset=4",
                        headers=auth).get_json()
    got = [r["id"] for r in page["items"] + second["items"]]
    assert got == best_first(ids, newest_first=False)
    assert [r["adherence"] for r in page["items"]] == [0.34, 0.34, 0.29, 0.21]
    bad = client.get(f"{API}/images?sort=best", headers=auth)
    assert bad.status_code == 400 and bad.get_json()["field"] == "sort"
    # A library image has no score, and says so.
    library = client.get(f"{API}/images?origin=library&limit=1", headers=auth).get_json()
    assert library["items"][0]["adherence"] is None


def test_the_review_screen_ranks_by_adherence_and_pages_on_in_that_order(
        app) -> None:  # noqa: ANN001
    from daguerre.platform.web.pages import review

    ids = make_scored(app, SCORES)
    make_user(app, "cora", "curator")
    client = app.test_client()
    sign_in(client, "cora")
    want = best_first(ids, newest_first=True)
    seen: list[int] = []
    url = "/review?sort=adherence"
    original = review.PAGE_SIZE
    review.PAGE_SIZE = 3  # three cards a page: three pages
    try:
        while url:
            page = client.get(url).get_data(as_text=True)
            assert "best prompt adherence first" in page
            seen += [int(i) for i in CARD.findall(page)]
            more = re.search(r'id="review-more" href="([^"]+)"', page)
            url = more.group(1).replace("&amp;", "&") if more else None
            if url:
                assert "sort=adherence" in url
    finally:
        review.PAGE_SIZE = original
    assert seen == want
    first = client.get("/review?sort=adherence").get_data(as_text=True)
    assert "Adherence: <span class=\"review-adherence-score\">0.340</span>" in first
    # The default order is unchanged, and a bad order is refused.
    newest = client.get("/review").get_data(as_text=True)
    found = [int(i) for i in CARD.findall(newest)]
    assert found == sorted(ids, reverse=True)
    assert client.get("/review?sort=best").status_code == 400
