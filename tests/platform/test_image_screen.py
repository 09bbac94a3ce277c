"""The image screen (``/images/<id>``) and the compare screen (``/images/<id>/compare``).

First through the test client: who sees which controls, a missing image and an image without a
parent answered 404 in words, EXIF read from a JPEG written here with Pillow (and a corrupt EXIF
block that costs the EXIF only, never the page), lineage both ways with its parameters, tags
grouped by name with their source, and the original sent as a download. Then in a real browser
(Debian's chromium under Playwright) as a curator uses it: walk the list the image was opened
from with the arrow keys, rate, approve, tag and add to a board with the keys (checked through
the API afterwards), zoom; restore an image from its screen, follow the job to the end, open the
comparison from the job page, move the slider with the keyboard and switch to side by side.

Screenshots go under ``$DAGUERRE_SCREENSHOTS`` (default: the test's temporary folder)."""

from __future__ import annotations

from pathlib import Path

import pytest
from PIL import Image as PILImage
from PIL.TiffImagePlugin import IFDRational

from tests.platform.api_fixtures import *  # noqa: F403 - the app/live_server/token fixtures
from tests.platform.api_fixtures import make_user, sign_in
from tests.platform.browser_fixtures import (  # noqa: F401 - fixtures
    assert_accessible,
    browser_page,
    inline_jobs,
    shots,
)
from tests.platform.browser_fixtures import sign_in as browser_sign_in

API = "/api/v1"


def _ctx(app):  # noqa: ANN001, ANN202
    return app.extensions["daguerre"].ctx


def library_ids(app) -> list[int]:  # noqa: ANN001
    from sqlalchemy import select

    from daguerre.platform.catalog.models import Image, ImageOrigin

    with _ctx(app).catalog.session() as s:
        return list(s.scalars(select(Image.id).where(Image.origin == ImageOrigin.LIBRARY)
                              .order_by(Image.id)))


def add_file_image(app, name: str, picture: PILImage.Image | bytes, *,  # noqa: ANN001
                   parent: int | None = None, job_id: int | None = None,
                   params: dict | None = None) -> int:
    """An image stored under the data directory (as an upload, or a generated image with a
    lineage row to ``parent``) with its thumbnail; returns its id."""
    from daguerre.platform.catalog.models import Image, ImageOrigin, Lineage

    ctx = _ctx(app)
    home = Path(ctx.settings.home)
    (home / "screen-tests").mkdir(exist_ok=True)
    rel = f"screen-tests/{name}"
    if isinstance(picture, bytes):
        (home / rel).write_bytes(picture)
    else:
        picture.save(home / rel)
    thumb = f"screen-tests/thumb-{name}.jpg"
    PILImage.new("RGB", (64, 48), (90, 140, 200)).save(home / thumb)
    with ctx.catalog.session() as s:
        img = Image(library_id=None, path=rel, sha256=f"{abs(hash(name)):062x}"[:64],
                    size=(home / rel).stat().st_size, mtime=0.0, width=40, height=30,
                    format="JPEG",
                    origin=ImageOrigin.GENERATED if parent else ImageOrigin.UPLOAD,
                    thumbnail=thumb)
        s.add(img)
        s.flush()
        if parent is not None:
            s.add(Lineage(image_id=img.id, parent_id=parent, job_id=job_id, operation="restore",
                          params=params or {}))
        return img.id


def exif_jpeg() -> PILImage.Image:
    return PILImage.new("RGB", (40, 30), (200, 100, 50))


def exif_block() -> PILImage.Exif:
    """What a camera writes: make and model, exposure, aperture, ISO, focal length, lens, the
    time taken, GPS (the Eiffel tower, 35 m up) and an orientation."""
    exif = PILImage.Exif()
    exif[0x010F], exif[0x0110], exif[0x0112] = "Canon", "Canon EOS 5D", 6
    sub = exif.get_ifd(0x8769)
    sub[0x829A], sub[0x829D], sub[0x8827] = IFDRational(1, 250), IFDRational(28, 10), 400
    sub[0x9003], sub[0x920A] = "2021:07:04 15:30:12", IFDRational(50, 1)
    sub[0xA434] = "EF 50mm f/1.8"
    gps = exif.get_ifd(0x8825)
    gps[1], gps[3] = "N", "E"
    gps[2] = (IFDRational(48, 1), IFDRational(51, 1), IFDRational(2952, 100))
    gps[4] = (IFDRational(2, 1), IFDRational(17, 1), IFDRational(4008, 100))
    gps[6] = IFDRational(35, 1)
    return exif


def jpeg_with_exif(path: Path) -> Path:
    exif_jpeg().save(path, exif=exif_block())
    return path


def corrupt_exif(data: bytes) -> bytes:
    """The JPEG's EXIF block with its IFD entries overwritten by garbage (its header intact)."""
    at = data.index(b"Exif\x00\x00") + 6
    bad = bytearray(data)
    bad[at + 10: at + 90] = b"\xff" * 80
    return bytes(bad)


# -- EXIF, the service -------------------------------------------------------------------------
def test_read_exif_gives_the_camera_exposure_time_and_place(tmp_path: Path) -> None:
    from daguerre.platform.services.exif import describe, read_exif

    got = read_exif(jpeg_with_exif(tmp_path / "camera.jpg"))
    assert got["make"] == "Canon" and got["model"] == "Canon EOS 5D"
    assert got["lens"] == "EF 50mm f/1.8" and got["iso"] == 400
    assert got["exposure_s"] == pytest.approx(0.004) and got["f_number"] == pytest.approx(2.8)
    assert got["focal_length_mm"] == 50 and got["taken_at"] == "2021-07-04T15:30:12"
    assert got["gps"]["latitude"] == pytest.approx(48.8582, abs=1e-4)
    assert got["gps"]["longitude"] == pytest.approx(2.2945, abs=1e-4)
    assert got["gps"]["altitude"] == 35 and got["orientation"] == 6
    words = dict(describe(got))
    assert words["Camera"] == "Canon EOS 5D"  # the maker is not said twice
    assert words["Exposure"] == "1/250 s" and words["Aperture"] == "f/2.8"
    assert words["Orientation"] == "rotated 90° clockwise"


def test_read_exif_never_raises(tmp_path: Path) -> None:
    from daguerre.platform.services.exif import read_exif

    good = jpeg_with_exif(tmp_path / "good.jpg").read_bytes()
    (tmp_path / "corrupt.jpg").write_bytes(corrupt_exif(good))
    (tmp_path / "text.jpg").write_text("not an image")
    exif_jpeg().save(tmp_path / "plain.jpg")
    # A southern, western place below sea level with a zero-denominator exposure.
    exif = exif_block()
    exif.get_ifd(0x8825).update({1: "S", 3: "W", 5: 1})
    exif.get_ifd(0x8769)[0x829A] = IFDRational(1, 0)
    exif_jpeg().save(tmp_path / "south.jpg", exif=exif)

    assert isinstance(read_exif(tmp_path / "corrupt.jpg"), dict)
    assert read_exif(tmp_path / "text.jpg") == {}
    assert read_exif(tmp_path / "missing.jpg") == {}
    assert read_exif(tmp_path / "plain.jpg") == {}
    south = read_exif(tmp_path / "south.jpg")
    assert south["gps"]["latitude"] < 0 and south["gps"]["longitude"] < 0
    assert south["gps"]["altitude"] == -35 and "exposure_s" not in south
    assert south["model"] == "Canon EOS 5D"  # the broken field costs only itself


# -- through the test client -------------------------------------------------------------------
def test_a_viewer_sees_the_image_without_curating_controls(app) -> None:  # noqa: ANN001
    first = library_ids(app)[0]
    make_user(app, "vera", "viewer")
    client = app.test_client()
    csrf = sign_in(client, "vera")
    resp = client.get(f"/images/{first}")
    assert resp.status_code == 200
    page = resp.get_data(as_text=True)
    record = client.get(f"{API}/images/{first}").get_json()
    assert record["path"] in page and "photos" in page  # its path and library
    assert f"{API}/images/{first}/original" in page
    assert "rating, reviewing and tagging need a curator" in page
    for control in ('data-rating="4"', 'data-review="approved"', 'id="image-restore"',
                    'id="image-add-tag"', "/create?kind=", 'data-tag-action'):
        assert control not in page, control
    assert 'id="image-download"' in page and 'id="image-original"' in page
    # The server refuses the viewer all the same.
    resp = client.patch(f"{API}/images/{first}", json={"rating": 3},
                        headers={"X-CSRFToken": csrf})
    assert resp.status_code == 403


def test_a_curator_sees_the_controls_and_a_missing_image_is_404(app) -> None:  # noqa: ANN001
    first = library_ids(app)[0]
    make_user(app, "cora", "curator")
    client = app.test_client()
    sign_in(client, "cora")
    page = client.get(f"/images/{first}").get_data(as_text=True)
    for control in ('data-rating="4"', 'data-review="approved"', 'id="image-restore"',
                    'id="image-add-tag"', 'id="image-add-board"',
                    f"/create?kind=translate&amp;image={first}",
                    f"/create?kind=upscale&amp;image={first}"):
        assert control in page, control
    resp = client.get("/images/987654")
    assert resp.status_code == 404 and "no image #987654" in resp.get_data(as_text=True)


def test_exif_shows_and_a_corrupt_block_does_not_break_the_page(app, tmp_path: Path  # noqa: ANN001
                                                                ) -> None:
    good = jpeg_with_exif(tmp_path / "camera.jpg").read_bytes()
    with_exif = add_file_image(app, "camera.jpg", good)
    broken = add_file_image(app, "broken.jpg", corrupt_exif(good))
    plain = add_file_image(app, "plain.jpg", exif_jpeg())
    make_user(app, "vera", "viewer")
    client = app.test_client()
    sign_in(client, "vera")
    page = client.get(f"/images/{with_exif}").get_data(as_text=True)
    for words in ("Canon EOS 5D", "EF 50mm f/1.8", "1/250 s", "f/2.8", "400", "50 mm",
                  "2021-07-04 15:30:12", "48.85820, 2.29447", "rotated 90° clockwise"):
        assert words in page, words
    for image_id in (broken, plain):
        resp = client.get(f"/images/{image_id}")
        assert resp.status_code == 200
        text = resp.get_data(as_text=True)
        assert "id=\"image-file-facts\"" in text and "Canon EOS 5D" not in text
    assert "carries no EXIF" in client.get(f"/images/{plain}").get_data(as_text=True)


def test_lineage_both_ways_and_compare_needs_a_parent(app) -> None:  # noqa: ANN001
    first, second = library_ids(app)[:2]
    child = add_file_image(app, "restored.jpg", exif_jpeg(), parent=first,
                           params={"recipe": {"denoise_strength": 0.3}, "image_ids": [first]})
    make_user(app, "vera", "viewer")
    client = app.test_client()
    sign_in(client, "vera")
    page = client.get(f"/images/{child}").get_data(as_text=True)
    assert f'href="/images/{first}"' in page and "denoise_strength" in page
    assert f'href="/images/{child}/compare?parent={first}"' in page
    parent_page = client.get(f"/images/{first}").get_data(as_text=True)
    assert f'href="/images/{child}"' in parent_page and "denoise_strength" in parent_page

    resp = client.get(f"/images/{child}/compare")
    assert resp.status_code == 200
    text = resp.get_data(as_text=True)
    assert f"{API}/images/{first}/original" in text and f"{API}/images/{child}/original" in text
    assert 'type="range"' in text
    resp = client.get(f"/images/{first}/compare")
    assert resp.status_code == 404
    assert "was not made from another image" in resp.get_data(as_text=True)
    assert client.get(f"/images/{child}/compare?parent={second}").status_code == 404
    assert client.get(f"/images/{child}/compare?parent=x").status_code == 404
    assert client.get("/images/987654/compare").status_code == 404


def test_tags_show_their_source_and_a_model_tag_can_be_confirmed(app) -> None:  # noqa: ANN001
    from daguerre.platform.catalog.models import ImageTag, Tag, TagSource

    first = library_ids(app)[0]
    with _ctx(app).catalog.session() as s:
        for name in ("beach", "dog"):
            tag = Tag(name=name)
            s.add(tag)
            s.flush()
            s.add(ImageTag(image_id=first, tag_id=tag.id, source=TagSource.MODEL, score=0.87))
    make_user(app, "cora", "curator")
    client = app.test_client()
    csrf = sign_in(client, "cora")
    page = client.get(f"/images/{first}").get_data(as_text=True)
    assert page.count("model · 87%") == 2
    assert 'aria-label="Confirm tag beach"' in page
    # Confirming is a person's tag with the same name: one row, the person's and the model's.
    resp = client.post(f"{API}/images/{first}/tags", json={"name": "beach"},
                       headers={"X-CSRFToken": csrf})
    assert resp.status_code in (200, 201)
    page = client.get(f"/images/{first}").get_data(as_text=True)
    assert "person · model 87%" in page and 'aria-label="Confirm tag beach"' not in page
    assert 'aria-label="Confirm tag dog"' in page and 'aria-label="Remove tag beach"' in page


def test_the_original_downloads_as_an_attachment(client, auth) -> None:  # noqa: ANN001
    shown = client.get(f"{API}/images/1/original", headers=auth)
    assert shown.status_code == 200 and "attachment" not in shown.headers.get(
        "Content-Disposition", "")
    got = client.get(f"{API}/images/1/original?download=1", headers=auth)
    assert got.status_code == 200 and got.data == shown.data
    assert got.headers["Content-Disposition"].startswith("attachment")
    name = client.get(f"{API}/images/1", headers=auth).get_json()["path"].rsplit("/", 1)[-1]
    assert name in got.headers["Content-Disposition"]
    bad = client.get(f"{API}/images/1/original?download=yes", headers=auth)
    assert bad.status_code == 400 and bad.get_json()["field"] == "download"


# -- in a real browser -------------------------------------------------------------------------
@pytest.mark.timeout(180)
def test_walk_rate_approve_tag_and_board_with_the_keys(app, live_server, token, browser_page,  # noqa: ANN001, F811
                                                       shots) -> None:  # noqa: F811
    ids = library_ids(app)[:4]
    make_user(app, "cora", "curator")
    page = browser_page
    browser_sign_in(page, live_server.url, "cora")
    page.evaluate("""ids => sessionStorage.setItem("daguerre.list",
        JSON.stringify({ids, label: "Timeline", href: "/?tag=beach"}))""", ids)
    page.goto(f"{live_server.url}/images/{ids[1]}")
    page.wait_for_function("() => document.querySelector('#image-full').naturalWidth > 0")
    assert page.locator("#image-position").inner_text() == "2 of 4 in Timeline"
    assert page.locator("#image-back").get_attribute("href") == "/?tag=beach"
    assert "Back to Timeline" in page.locator("#image-back").inner_text()
    page.wait_for_selector("#image-similar li a[href^='/images/']", timeout=15_000)
    assert page.locator("#image-similar-note").is_hidden()
    page.screenshot(path=str(shots / "image-1280.png"), full_page=True)
    assert_accessible(page, "image")

    # Walk with the arrows: on, on, back, back, back to the first, which has no previous.
    page.keyboard.press("ArrowRight")
    page.wait_for_url(f"**/images/{ids[2]}")
    page.wait_for_selector("#image-position >> text=3 of 4")
    page.keyboard.press("ArrowRight")
    page.wait_for_url(f"**/images/{ids[3]}")
    assert not page.locator("#image-next").get_attribute("href")  # the end of the list
    for back in (ids[2], ids[1], ids[0]):
        page.wait_for_selector("#image-position >> text=of 4")
        page.keyboard.press("ArrowLeft")
        page.wait_for_url(f"**/images/{back}")
    page.wait_for_selector("#image-position >> text=1 of 4")
    assert page.locator("#image-prev").get_attribute("aria-disabled") == "true"

    # Curate the first with the keys alone.
    page.keyboard.press("4")
    page.wait_for_selector("#image-rating:text-is('4')")
    assert page.locator("button[data-rating='4']").get_attribute("aria-pressed") == "true"
    page.keyboard.press("p")
    page.wait_for_selector("#image-review:text-is('approved')")
    page.keyboard.press("t")
    page.wait_for_selector("#ask-tag[open]")
    page.keyboard.type("golden hour")
    page.keyboard.press("Enter")
    page.wait_for_selector("#image-tags li[data-name='golden hour'] >> text=person")
    page.keyboard.press("b")
    page.wait_for_selector("#ask-board[open]")
    page.keyboard.type("Favourites")
    page.keyboard.press("Enter")
    page.wait_for_selector("#notice >> text=added to the board")
    # The same with a button: remove the tag again, then put it back with the key.
    page.get_by_role("button", name="Remove tag golden hour").click()
    page.wait_for_selector("#image-tags li[data-name='golden hour']", state="detached")
    page.keyboard.press("t")
    page.wait_for_selector("#ask-tag[open]")
    page.keyboard.type("golden hour")
    page.keyboard.press("Enter")
    page.wait_for_selector("#image-tags li[data-name='golden hour']")

    # Zoom in with the button, then Esc back to fit (a second Esc would leave for the list).
    page.get_by_role("button", name="Zoom in").click()
    assert "scale(1.5)" in page.locator("#image-full").evaluate("i => i.style.transform")
    assert page.locator(".zoom-level").inner_text().endswith("%")
    page.keyboard.press("Escape")
    page.wait_for_selector(".zoom-level:text-is('Fit')")
    assert page.url.endswith(f"/images/{ids[0]}")

    page.keyboard.press("?")
    page.wait_for_selector("#image-keys[open] >> text=approve (pick)")
    page.keyboard.press("Escape")
    page.wait_for_selector("#image-keys", state="hidden")
    assert not page.locator("#notice.error").is_visible()

    # Opened on its own (not in the list): nothing to walk, the way back is the start page.
    page.goto(f"{live_server.url}/images/{library_ids(app)[-1]}")
    page.wait_for_selector("#image-position >> text=Opened on its own")
    assert page.locator("#image-back").get_attribute("href") == "/"
    assert page.locator("#image-next").get_attribute("aria-disabled") == "true"

    page.set_viewport_size({"width": 390, "height": 844})
    page.goto(f"{live_server.url}/images/{ids[0]}")
    page.wait_for_function("() => document.querySelector('#image-full').naturalWidth > 0")
    assert page.evaluate("document.documentElement.scrollWidth") <= 390
    page.screenshot(path=str(shots / "image-390.png"), full_page=True)

    # Through the API: what the keys did is in the catalog.
    headers = {"Authorization": f"Bearer {token}"}
    got = page.request.get(f"{live_server.url}{API}/images/{ids[0]}", headers=headers).json()
    assert (got["rating"], got["review_state"]) == (4, "approved")
    assert {"name": "golden hour", "source": "user", "score": None} in got["tags"]
    boards = page.request.get(f"{live_server.url}{API}/collections", headers=headers).json()
    board = next(b for b in boards["items"] if b["name"] == "Favourites")
    inside = page.request.get(f"{live_server.url}{API}/collections/{board['id']}/images",
                              headers=headers).json()
    assert [i["id"] for i in inside["items"]] == [ids[0]]
    for other in ids[1:]:
        got = page.request.get(f"{live_server.url}{API}/images/{other}", headers=headers).json()
        assert (got["rating"], got["review_state"]) == (None, "unreviewed")


@pytest.mark.timeout(240)
def test_restore_follow_the_job_and_compare(app, live_server, token, browser_page,  # noqa: ANN001, F811
                                            inline_jobs, shots) -> None:  # noqa: F811
    first = library_ids(app)[0]
    page = browser_page
    browser_sign_in(page, live_server.url, "root")
    page.goto(f"{live_server.url}/images/{first}")
    page.get_by_role("button", name="Restore").click()
    page.wait_for_url("**/jobs/*")
    job_id = int(page.url.rsplit("/", 1)[1])
    page.wait_for_selector("#job-status.succeeded", timeout=120_000)
    compare = page.locator(".job-outputs a.job-compare")
    assert compare.count() == 1
    output = int(page.locator(".job-outputs li a").first.get_attribute("href").rsplit("/", 1)[1])
    compare.click()
    page.wait_for_url(f"**/images/{output}/compare")
    page.wait_for_function("() => [...document.querySelectorAll('.zoom-target')]"
                           ".every(i => i.complete && i.naturalWidth > 0)", timeout=15_000)
    assert f"job #{job_id}" in page.locator("main").inner_text()

    # The slider by the keyboard: the after image is cut where it stands.
    slider = page.get_by_label("Before / after")
    slider.focus()
    for _ in range(10):
        page.keyboard.press("ArrowRight")
    assert slider.input_value() == "60"
    assert page.locator("#compare-after").evaluate("f => f.style.clipPath") == "inset(0px 0px 0px 60%)"
    assert slider.get_attribute("aria-valuetext") == "60% before, 40% after"
    # Dragging across the image moves it too.
    box = page.locator("#compare-stage").bounding_box()
    page.mouse.move(box["x"] + box["width"] * 0.25, box["y"] + box["height"] / 2)
    page.mouse.down()
    page.mouse.up()
    assert abs(int(slider.input_value()) - 25) <= 1
    page.screenshot(path=str(shots / "compare-slider-1280.png"))
    assert_accessible(page, "compare")

    # Side by side, zoomed: both images follow the one zoom.
    page.get_by_role("button", name="Side by side").click()
    page.wait_for_selector("#compare-stage.side")
    assert page.locator("#compare-after").evaluate("f => f.style.clipPath") in ("none", "")
    page.get_by_role("button", name="Zoom in").click()
    page.get_by_role("button", name="Zoom in").click()
    transforms = page.locator(".zoom-target").evaluate_all("l => l.map(i => i.style.transform)")
    assert len(transforms) == 2 and transforms[0] == transforms[1] and "scale(2.25)" in transforms[0]
    page.screenshot(path=str(shots / "compare-side-1280.png"))
    assert_accessible(page, "compare, side by side")

    page.set_viewport_size({"width": 390, "height": 844})
    page.reload()
    page.wait_for_selector("#compare-stage.slider")
    assert page.evaluate("document.documentElement.scrollWidth") <= 390
    page.screenshot(path=str(shots / "compare-390.png"), full_page=True)

    # The compare page of the job's output is reachable from the image screen too.
    page.set_viewport_size({"width": 1280, "height": 900})
    page.goto(f"{live_server.url}/images/{output}")
    page.get_by_role("link", name="Compare with parent").click()
    page.wait_for_url(f"**/images/{output}/compare")
