"""The Create screen (``/create``) and jobs that send their outputs to a board.

Through the test client: every parameter of every generator kind (the restore recipe's options
included) has a labelled field with its range, choices and default; a viewer is refused; a painted
mask is stored over HTTP; the ``board`` parameter is checked before a job is queued and receives
the outputs of a job that ran (tiny diffusers models, run through the worker's runner). Then in
a real browser (Debian's chromium under Playwright): a curator restores an image from
``/create?kind=restore&image=<id>`` and watches its job to the end; a mask is painted with the
mouse for an inpaint job and the stored mask is white where it was painted.

Screenshots go under ``$DAGUERRE_SCREENSHOTS`` (default: the test's temporary folder)."""

from __future__ import annotations

import io
from decimal import Decimal
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from PIL import Image as PILImage
from sqlalchemy import select

from tests.platform.api_fixtures import *  # noqa: F403 - the app/live_server/token fixtures
from tests.platform.api_fixtures import PASSWORD, csrf_of, make_user
from tests.platform.browser_fixtures import (  # noqa: F401 - fixtures
    assert_accessible,
    browser_page,
    inline_jobs,
    shots,
)
from tests.platform.browser_fixtures import sign_in as browser_sign_in

API = "/api/v1"
OPERATIONS = ("generate", "translate", "edit", "inpaint", "upscale", "restore")
VOID = {"input", "img", "br", "meta", "link", "hr", "source", "wbr"}


class Form(HTMLParser):
    """The page's elements: each with its attributes, the ``data-field`` box it lies in, and
    the text of labels and legends (enough to check a form without a DOM)."""

    def __init__(self) -> None:
        super().__init__()
        self.elements: list[dict[str, Any]] = []
        self.stack: list[dict[str, Any]] = []
        self.labels: dict[str, str] = {}  # for= -> text

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        box = next((e["attrs"]["data-field"] for e in reversed(self.stack)
                    if "data-field" in e["attrs"]), None)
        el = {"tag": tag, "attrs": dict(attrs), "box": box, "text": ""}
        self.elements.append(el)
        if tag not in VOID:
            self.stack.append(el)

    def handle_endtag(self, tag: str) -> None:
        while self.stack:
            el = self.stack.pop()
            if el["tag"] == "label" and "for" in el["attrs"]:
                self.labels[el["attrs"]["for"]] = el["text"].strip()
            if el["tag"] == tag:
                break

    def handle_data(self, data: str) -> None:
        for el in self.stack:
            if el["tag"] in ("label", "legend", "option", "select"):
                el["text"] += data

    def in_box(self, name: str) -> list[dict[str, Any]]:
        return [e for e in self.elements if e["box"] == name]


def parse(html: str) -> Form:
    form = Form()
    form.feed(html)
    return form


def sign_in(client, name: str) -> str:  # noqa: ANN001
    """Sign in through the form; the CSRF token API changes need, from the jobs screen (any
    signed-in person's page; the home page belongs to another screen)."""
    csrf = csrf_of(client.get("/signin").get_data(as_text=True))
    resp = client.post("/signin", data={"username": name, "password": PASSWORD,
                                        "csrf_token": csrf})
    assert resp.status_code == 302, resp.get_data(as_text=True)
    return csrf_of(client.get("/jobs").get_data(as_text=True))


def curator_client(app):  # noqa: ANN001, ANN201
    make_user(app, "cora", "curator")
    client = app.test_client()
    return client, sign_in(client, "cora")


def first_image(app) -> int:  # noqa: ANN001
    from daguerre.platform.catalog.models import Image

    ctx = app.extensions["daguerre"].ctx
    with ctx.catalog.session() as s:
        return s.scalars(select(Image.id).order_by(Image.id)).first()


# -- the forms, from the parameter tables -----------------------------------------------------
def test_every_parameter_of_every_generator_kind_has_a_labelled_field(app) -> None:  # noqa: ANN001
    from daguerre.platform.jobs.registry import get_kind
    from daguerre.platform.services.generation.recipe import RECIPE_PARAMS

    client, _csrf = curator_client(app)
    for kind in OPERATIONS:
        resp = client.get(f"/create?kind={kind}")
        assert resp.status_code == 200, (kind, resp.status_code)
        page = parse(resp.get_data(as_text=True))
        params = dict(get_kind(kind).params)
        if params.pop("recipe", None) is not None:
            params.update({f"recipe.{k}": p for k, p in RECIPE_PARAMS.items()})
        assert "board" in params, kind
        for name, param in params.items():
            inside = page.in_box(name)
            assert inside, f"{kind}: no field for params.{name}"
            if name == "mask":  # the painter: a fieldset with its legend and a labelled canvas
                legend = next(e for e in inside if e["tag"] == "legend")
                assert legend["text"].strip().startswith("Mask")
                canvas = next(e for e in inside if e["tag"] == "canvas")
                assert canvas["attrs"].get("aria-label")
                continue
            control = next(e for e in inside if e["attrs"].get("name") == name)
            label = page.labels.get(control["attrs"]["id"], "")
            assert label, f"{kind}: params.{name} has no label"
            help_id = f"{control['attrs']['id']}-help"
            assert help_id in control["attrs"].get("aria-describedby", "")
            helps = [e for e in inside if e["attrs"].get("id") == help_id]
            assert helps, f"{kind}: params.{name} has no help"
            if param.choices:
                values = [e["attrs"]["value"] for e in inside
                          if e["tag"] == "option" and e["attrs"].get("value")]
                assert values == [str(c) for c in param.choices], (kind, name)
            elif control["attrs"].get("type") == "number" and param.min is not None \
                    and name != "board":
                # Exact: an id or a seed bound is past a float's precision.
                assert Decimal(control["attrs"]["min"]) == Decimal(str(param.min)), name
                assert Decimal(control["attrs"]["max"]) == Decimal(str(param.max)), name
            if param.required and name != "image_ids":
                assert "required" in control["attrs"], (kind, name)


def test_fields_start_at_the_values_a_job_runs_with(app) -> None:  # noqa: ANN001
    from daguerre.generator.pipelines import OPERATIONS as GENERATOR_OPERATIONS

    client, _csrf = curator_client(app)
    page = parse(client.get("/create?kind=translate").get_data(as_text=True))

    def control(name: str) -> dict[str, Any]:
        return next(e for e in page.in_box(name) if e["attrs"].get("name") == name)

    assert float(control("strength")["attrs"]["value"]) == \
        GENERATOR_OPERATIONS["translate"].default_strength
    assert control("steps")["attrs"]["value"] == "25"
    assert control("width")["attrs"]["step"] == "8"
    assert control("seed")["attrs"]["placeholder"] == "random"
    restore = parse(client.get("/create?kind=restore").get_data(as_text=True))
    detect = next(e for e in restore.in_box("recipe.detect") if e["tag"] == "input")
    assert "checked" in detect["attrs"]  # the recipe detects damage unless told not to
    method = [e for e in restore.in_box("recipe.inpaint_method") if e["tag"] == "option"]
    assert [e["attrs"]["value"] for e in method if "selected" in e["attrs"]] == ["telea"]


def test_the_url_chooses_the_form_and_its_input(app) -> None:  # noqa: ANN001
    client, _csrf = curator_client(app)
    image = first_image(app)
    html = client.get(f"/create?kind=inpaint&image={image}").get_data(as_text=True)
    page = parse(html)
    form = next(e for e in page.elements if e["attrs"].get("id") == "create-form")
    assert form["attrs"]["data-kind"] == "inpaint"
    field = next(e for e in page.in_box("image_id") if e["attrs"].get("name") == "image_id")
    assert field["attrs"]["value"] == str(image)
    current = [e for e in page.elements if e["attrs"].get("aria-current") == "page"
               and e["tag"] == "a" and "kind=" in e["attrs"].get("href", "")]
    assert len(current) == 1 and "kind=inpaint" in current[0]["attrs"]["href"]
    # The other tabs keep the chosen image.
    assert f"/create?kind=restore&amp;image={image}" in html
    assert client.get("/create?kind=paint").status_code == 400
    assert client.get("/create?kind=inpaint&image=abc").status_code == 400


def test_a_viewer_is_refused_and_the_nav_hides_create(app) -> None:  # noqa: ANN001
    make_user(app, "vera", "viewer")
    client = app.test_client()
    sign_in(client, "vera")
    assert client.get("/create").status_code == 403
    assert 'href="/create"' not in client.get("/review").get_data(as_text=True)
    curator, _csrf = curator_client(app)
    assert 'href="/create"' in curator.get("/review").get_data(as_text=True)


# -- masks over HTTP --------------------------------------------------------------------------
def png(image: PILImage.Image) -> bytes:
    buf = io.BytesIO()
    image.save(buf, "PNG")
    return buf.getvalue()


def test_a_painted_mask_is_stored_and_an_inpaint_job_takes_it(app) -> None:  # noqa: ANN001
    client, csrf = curator_client(app)
    sent: list[int] = []
    app.config["JOB_SENDER"] = lambda job_id, queue: sent.append(job_id)
    mask = PILImage.new("L", (80, 64), 0)
    mask.paste(255, (10, 10, 30, 30))
    resp = client.post(f"{API}/masks", data={"mask": (io.BytesIO(png(mask)), "mask.png")},
                       headers={"X-CSRFToken": csrf}, content_type="multipart/form-data")
    assert resp.status_code == 201, resp.get_json()
    key = resp.get_json()["mask"]
    stored = app.extensions["daguerre"].ctx.settings.home / "masks" / f"{key}.png"
    with PILImage.open(stored) as im:
        assert np.asarray(im)[20, 20] == 255 and np.asarray(im)[50, 60] == 0
    job = client.post(f"{API}/inpaint", json={"image_id": first_image(app), "mask": key},
                      headers={"X-CSRFToken": csrf})
    assert job.status_code == 202 and job.get_json()["params"]["mask"] == key
    bad = client.post(f"{API}/masks", data={"mask": (io.BytesIO(b"not a png"), "m.png")},
                      headers={"X-CSRFToken": csrf}, content_type="multipart/form-data")
    assert bad.status_code == 400 and bad.get_json()["field"] == "mask"
    wrong = client.post(f"{API}/masks", json={"mask": "x"}, headers={"X-CSRFToken": csrf})
    assert wrong.status_code == 415
    assert len(sent) == 1
    make_user(app, "vera", "viewer")
    viewer = app.test_client()
    vcsrf = sign_in(viewer, "vera")
    refused = viewer.post(f"{API}/masks", data={"mask": (io.BytesIO(png(mask)), "mask.png")},
                          headers={"X-CSRFToken": vcsrf}, content_type="multipart/form-data")
    assert refused.status_code == 403


# -- boards -----------------------------------------------------------------------------------
def test_an_unknown_board_is_refused_before_queueing(app, client, token) -> None:  # noqa: ANN001
    from daguerre.platform.services.collections import create_collection

    sent: list[int] = []
    app.config["JOB_SENDER"] = lambda job_id, queue: sent.append(job_id)
    auth = {"Authorization": f"Bearer {token}"}
    image = first_image(app)
    for kind, body in (("generate", {"prompt": "x"}), ("restore", {"image_ids": [image]}),
                       ("upscale", {"image_id": image}),
                       ("inpaint", {"image_id": image, "mask_boxes": [[0, 0, 8, 8]]})):
        resp = client.post(f"{API}/{kind}", json={**body, "board": "nowhere"}, headers=auth)
        assert resp.status_code == 404, (kind, resp.get_json())
        assert (resp.get_json()["field"], resp.get_json()["value"]) == ("board", "nowhere")
        bad = client.post(f"{API}/{kind}", json={**body, "board": True}, headers=auth)
        assert bad.status_code == 400 and bad.get_json()["field"] == "board"
    assert sent == []
    board = create_collection(app.extensions["daguerre"].ctx, "Keepers")
    resp = client.post(f"{API}/restore", json={"image_ids": [image], "board": "Keepers"},
                       headers=auth)
    assert resp.status_code == 202, resp.get_json()
    assert resp.get_json()["params"]["board"] == board["id"]  # kept by id: a rename is harmless


@pytest.fixture(scope="session")
def tiny_models(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    from tests.generator.tiny_diffusers import save_tiny_pipelines

    return save_tiny_pipelines(tmp_path_factory.mktemp("tiny-diffusers-create"))


@pytest.fixture()
def generate_model(tiny_models: dict[str, Path], monkeypatch: pytest.MonkeyPatch) -> None:
    """The tiny text-to-image model, set before the app reads its settings."""
    monkeypatch.setenv("DAGUERRE_GENERATE_MODEL", str(tiny_models["generate"]))
    for task in ("inpaint", "upscale"):  # restore takes its weights-free path
        monkeypatch.delenv(f"DAGUERRE_{task.upper()}_MODEL", raising=False)


def test_outputs_of_a_finished_job_go_to_its_board(generate_model, app) -> None:  # noqa: ANN001
    from daguerre.platform.jobs.runner import execute
    from daguerre.platform.services.collections import (
        collection_images,
        create_collection,
        delete_collection,
    )
    from daguerre.platform.services.jobs import Jobs

    ctx = app.extensions["daguerre"].ctx
    jobs = Jobs(ctx, send=lambda job_id, queue: None)
    board = create_collection(ctx, "Favourites")

    job = jobs.create("generate", {"prompt": "a lighthouse", "seed": 3, "steps": 2,
                                   "width": 64, "height": 64, "batch_size": 2,
                                   "board": "Favourites"})
    execute(ctx, job["id"], "test-worker")
    done = jobs.get(job["id"])
    assert done["status"] == "succeeded", done
    made = done["result"]["image_ids"]
    assert len(made) == 2
    inside = collection_images(ctx, board["id"])
    assert sorted(i["id"] for i in inside["items"]) == sorted(made)
    assert done["result"]["board"] == {"id": board["id"], "name": "Favourites", "added": 2}

    restore = jobs.create("restore", {"image_ids": [first_image(app)], "board": board["id"],
                                      "recipe": {"denoise": False}})
    execute(ctx, restore["id"], "test-worker")
    restored = jobs.get(restore["id"])
    assert restored["status"] == "succeeded", restored
    assert collection_images(ctx, board["id"])["total"] == 3

    # A board deleted while the job waited loses nothing: the outputs stay, the job says why.
    gone = jobs.create("restore", {"image_ids": [first_image(app) + 1], "board": "Favourites"})
    delete_collection(ctx, board["id"])
    execute(ctx, gone["id"], "test-worker")
    after = jobs.get(gone["id"])
    assert after["status"] == "succeeded" and len(after["result"]["image_ids"]) == 1
    assert any("not added to board" in n for n in after["result"]["notes"])


# -- in a real browser -----------------------------------------------------------------------
def no_overflow(page) -> bool:  # noqa: ANN001
    return page.evaluate("document.documentElement.scrollWidth <= window.innerWidth")


@pytest.mark.timeout(180)
def test_restore_an_image_to_a_board_and_watch_its_job(app, live_server, inline_jobs,  # noqa: ANN001, F811
                                                      browser_page, shots) -> None:  # noqa: F811
    from daguerre.platform.services.collections import collection_images, create_collection

    ctx = app.extensions["daguerre"].ctx
    board = create_collection(ctx, "Restored")
    image = first_image(app)
    make_user(app, "cora", "curator")
    page = browser_page
    browser_sign_in(page, live_server.url, "cora")
    page.goto(f"{live_server.url}/create?kind=restore&image={image}")
    assert page.get_by_role("link", name="Restore", exact=True).get_attribute(
        "aria-current") == "page"
    assert page.get_by_label("Images (catalog ids)").input_value() == str(image)
    page.wait_for_function("() => { const i = document.querySelector('.input-preview img');"
                           " return i && i.complete && i.naturalWidth > 0; }", timeout=15_000)
    page.screenshot(path=str(shots / "create-restore-1280.png"), full_page=True)
    assert_accessible(page, "create (restore)")
    page.get_by_text("Recipe options").click()
    page.get_by_label("Denoise", exact=True).uncheck()
    page.get_by_label("Send outputs to board").select_option(label="Restored (0)")
    page.get_by_role("button", name="Queue restore job").click()
    page.wait_for_url("**/jobs/*", timeout=15_000)
    page.wait_for_selector("#job-status:text-is('succeeded')", timeout=60_000)
    job_id = int(page.url.rsplit("/", 1)[1])
    job = client_job(app, job_id)
    assert job["kind"] == "restore" and job["params"]["image_ids"] == [image]
    assert job["params"]["recipe"] == {"denoise": False}  # only what was changed is sent
    (output,) = job["result"]["image_ids"]
    assert [i["id"] for i in collection_images(ctx, board["id"])["items"]] == [output]

    page.set_viewport_size({"width": 390, "height": 844})
    page.goto(f"{live_server.url}/create?kind=restore&image={image}")
    page.wait_for_selector(".input-preview:not([hidden])")
    page.screenshot(path=str(shots / "create-restore-390.png"), full_page=True)
    assert no_overflow(page)


def client_job(app, job_id: int) -> dict[str, Any]:  # noqa: ANN001
    from daguerre.platform.services.jobs import Jobs

    return Jobs(app.extensions["daguerre"].ctx).get(job_id)


@pytest.mark.timeout(180)
def test_paint_a_mask_for_inpaint_with_the_mouse(app, live_server, browser_page,  # noqa: ANN001, F811
                                                 shots) -> None:  # noqa: F811
    from daguerre.platform.catalog.models import Image

    sent: list[int] = []
    app.config["JOB_SENDER"] = lambda job_id, queue: sent.append(job_id)
    ctx = app.extensions["daguerre"].ctx
    image = first_image(app)
    with ctx.catalog.session() as s:
        width, height = s.get(Image, image).width, s.get(Image, image).height
    make_user(app, "cora", "curator")
    page = browser_page
    browser_sign_in(page, live_server.url, "cora")

    # An image that does not exist is said under its field, before anything is sent.
    page.goto(f"{live_server.url}/create?kind=inpaint&image=987654")
    page.wait_for_selector("#f-image_id-error:not([hidden])")
    assert "987654" in page.locator("#f-image_id-error").inner_text()

    page.goto(f"{live_server.url}/create?kind=inpaint&image={image}")
    canvas = page.locator(".mask-canvas")
    canvas.wait_for(state="visible")
    page.get_by_label("Prompt", exact=True).fill("a clear blue sky")
    # Nothing painted: the form says so under the mask, and queues nothing.
    page.get_by_role("button", name="Queue inpaint job").click()
    page.wait_for_selector("#f-mask-error:not([hidden])")
    assert sent == []

    page.get_by_label("Brush size").fill("20")
    page.set_viewport_size({"width": 1280, "height": 1400})  # the whole picture in view
    canvas.scroll_into_view_if_needed()
    box = canvas.bounding_box()
    page.mouse.move(box["x"] + box["width"] * .2, box["y"] + box["height"] * .3)
    page.mouse.down()
    page.mouse.move(box["x"] + box["width"] * .5, box["y"] + box["height"] * .3, steps=8)
    page.mouse.up()
    # A second stroke, undone: only the first counts.
    page.mouse.move(box["x"] + box["width"] * .75, box["y"] + box["height"] * .8)
    page.mouse.down()
    page.mouse.move(box["x"] + box["width"] * .85, box["y"] + box["height"] * .8, steps=3)
    page.mouse.up()
    page.get_by_role("button", name="Undo stroke").click()
    page.screenshot(path=str(shots / "create-inpaint-1280.png"), full_page=True)
    assert_accessible(page, "create (inpaint)")
    page.get_by_role("button", name="Queue inpaint job").click()
    page.wait_for_url("**/jobs/*", timeout=15_000)
    assert len(sent) == 1
    job = client_job(app, sent[0])
    assert job["kind"] == "inpaint" and job["params"]["prompt"] == "a clear blue sky"
    mask_path = ctx.settings.home / "masks" / f"{job['params']['mask']}.png"
    with PILImage.open(mask_path) as im:
        mask = np.asarray(im.convert("L"))
    assert mask.shape == (height, width)  # the input's size, whatever it was shown at
    y = int(height * .3)
    assert mask[y, int(width * .35)] == 255  # on the stroke: repaint
    assert mask[int(height * .9), int(width * .1)] == 0  # far from it: keep
    assert mask[int(height * .8), int(width * .8)] == 0  # the undone stroke left nothing

    page.set_viewport_size({"width": 390, "height": 844})
    page.goto(f"{live_server.url}/create?kind=inpaint&image={image}")
    canvas.wait_for(state="visible")
    page.screenshot(path=str(shots / "create-inpaint-390.png"), full_page=True)
    assert no_overflow(page)
