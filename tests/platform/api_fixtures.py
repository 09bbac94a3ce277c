"""Fixtures for the API and dashboard tests (import them into a test module with ``*``).

A small library of generated images is indexed once per session with the tiny CLIP; each test
gets a private copy of that data directory (catalog, vectors, thumbnails), so tests may add,
tag and break things freely without indexing again.
"""

from __future__ import annotations

import io
import re
import shutil
import threading
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

COLOURS = {"red": (220, 30, 30), "green": (30, 180, 40), "blue": (30, 60, 220),
           "yellow": (230, 210, 30), "white": (245, 245, 245), "black": (15, 15, 15)}


def make_image(colour: tuple[int, int, int], seed: int, size: tuple[int, int] = (80, 64)
               ) -> Image.Image:
    """A coloured picture with a little seeded texture, so no two images are identical."""
    rng = np.random.default_rng(seed)
    base = np.empty((size[1], size[0], 3), np.float32)
    base[:] = colour
    base += rng.normal(0, 12, base.shape)
    base[size[1] // 4: size[1] // 2, size[0] // 4: size[0] // 2] = rng.integers(0, 256, 3)
    return Image.fromarray(np.clip(base, 0, 255).astype(np.uint8))


def write_library(root: Path) -> list[Path]:
    """Twelve images: JPEGs at the top, PNGs in ``beach/``, two colours per folder."""
    paths = []
    for i, (name, rgb) in enumerate(COLOURS.items()):
        folder = root if i % 2 == 0 else root / "beach"
        folder.mkdir(parents=True, exist_ok=True)
        for j in range(2):
            ext = "jpg" if folder == root else "png"
            path = folder / f"{name}-{j}.{ext}"
            make_image(rgb, seed=10 * i + j, size=(80 + 16 * j, 64)).save(path)
            paths.append(path)
    return paths


def png_bytes(colour: tuple[int, int, int] = (220, 30, 30), seed: int = 99) -> bytes:
    buf = io.BytesIO()
    make_image(colour, seed).save(buf, "PNG")
    return buf.getvalue()


def bomb_bytes(side: int = 20_000) -> bytes:
    """A tiny PNG (a few KB) whose header declares side x side pixels: a decompression bomb."""
    buf = io.BytesIO()
    Image.new("1", (side, side)).save(buf, "PNG")
    return buf.getvalue()


@pytest.fixture(scope="session")
def indexed_home(tiny_clip: tuple[Path, Path], tmp_path_factory: pytest.TempPathFactory
                 ) -> tuple[Path, Path]:
    """(data directory, library root): the generated library, indexed with the tiny CLIP."""
    from daguerre.platform.catalog.models import Library
    from daguerre.platform.config import load_settings
    from daguerre.platform.context import Context
    from daguerre.platform.services.indexing import index_library

    base = tmp_path_factory.mktemp("api-library")
    root = base / "photos"
    write_library(root)
    home = base / "home"
    cfg, weights = tiny_clip
    settings = load_settings(env={}, home=str(home), clip_model=str(cfg),
                             clip_weights=str(weights), device="cpu", decode_workers=1,
                             batch_size=8)
    ctx = Context(settings)
    with ctx.catalog.session() as s:
        lib = Library(name="photos", root=str(root.resolve()))
        s.add(lib)
        s.flush()
        lib_id = lib.id
    summary = index_library(ctx, lib_id)
    assert summary.added == 12 and summary.failed == 0, summary.as_dict()
    ctx.close()
    return home, root


@pytest.fixture()
def app(indexed_home: tuple[Path, Path], clip_env: dict[str, str], tmp_path: Path):  # noqa: ANN201
    """The app over a private copy of the indexed data directory (clip_env points at the tiny
    model and at ``tmp_path/home``, where the copy goes)."""
    from daguerre.platform.web import create_app

    home = Path(clip_env["DAGUERRE_HOME"])
    shutil.copytree(indexed_home[0], home)
    application = create_app({"TESTING": True, "decode_workers": 1})
    yield application
    application.extensions["daguerre"].ctx.close()


@pytest.fixture()
def client(app):  # noqa: ANN001, ANN201
    return app.test_client()


PASSWORD = "correct horse battery"


def make_user(app, name: str, role: str) -> str:  # noqa: ANN001
    """Create user ``name`` with ``role`` (password :data:`PASSWORD`) and return a token of
    theirs."""
    from daguerre.platform.services.users import create_user
    from daguerre.platform.tokens import create_token

    ctx = app.extensions["daguerre"].ctx
    create_user(ctx, name, role, PASSWORD)
    _info, secret = create_token(ctx, f"{name}-tests", name)
    return secret


def csrf_of(html: str) -> str:
    """The CSRF token a page carries (its forms' hidden field, or the meta tag for scripts)."""
    found = re.search(r'name="csrf_token" value="([^"]+)"', html) or re.search(
        r'name="csrf-token" content="([^"]+)"', html)
    assert found, "the page carries no CSRF token"
    return found.group(1)


def sign_in(client, name: str, password: str = PASSWORD) -> str:  # noqa: ANN001
    """Sign ``client`` in through the form, as a browser does; returns the CSRF token its API
    changes must send (``X-CSRFToken``)."""
    csrf = csrf_of(client.get("/signin").get_data(as_text=True))
    resp = client.post("/signin", data={"username": name, "password": password,
                                        "csrf_token": csrf})
    assert resp.status_code == 302, resp.get_data(as_text=True)
    return csrf_of(client.get("/").get_data(as_text=True))


@pytest.fixture()
def token(app) -> str:  # noqa: ANN001
    """A token of an admin (user ``root``): every route is open to it."""
    return make_user(app, "root", "admin")


@pytest.fixture()
def auth(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


@pytest.fixture()
def library_root(indexed_home: tuple[Path, Path]) -> Path:
    return indexed_home[1]


class LiveServer:
    """The app under waitress on 127.0.0.1 and a random free port, in a daemon thread."""

    def __init__(self, application, threads: int = 4) -> None:  # noqa: ANN001
        from waitress.server import create_server

        self.server = create_server(application, host="127.0.0.1", port=0, threads=threads,
                                    clear_untrusted_proxy_headers=True)
        self.port = self.server.effective_port
        self.url = f"http://127.0.0.1:{self.port}"
        self.thread = threading.Thread(target=self.server.run, daemon=True)

    def __enter__(self) -> LiveServer:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        from waitress import wasyncore

        # close() alone leaves open keep-alive channels in the loop's map: close them all.
        self.server.task_dispatcher.shutdown(timeout=5)
        wasyncore.close_all(self.server._map)
        self.thread.join(timeout=5)


@pytest.fixture()
def live_server(app) -> Iterator[LiveServer]:  # noqa: ANN001
    with LiveServer(app) as server:
        yield server


def model_tag(ctx, image_id: int, name: str, score: float) -> None:  # noqa: ANN001
    """What `classify` writes, without running the model."""
    from sqlalchemy import select

    from daguerre.platform.catalog.models import ImageTag, Tag, TagSource

    with ctx.catalog.session() as s:
        tag_id = s.scalar(select(Tag.id).where(Tag.name == name))
        if tag_id is None:
            tag = Tag(name=name)
            s.add(tag)
            s.flush()
            tag_id = tag.id
        s.add(ImageTag(image_id=image_id, tag_id=tag_id, source=TagSource.MODEL, score=score,
                       model_key="test"))
