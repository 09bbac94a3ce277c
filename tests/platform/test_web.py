"""The app factory and the dashboard page."""

from __future__ import annotations

import re

import pytest

from tests.platform.api_fixtures import *  # noqa: F403 - fixtures
from tests.platform.api_fixtures import sign_in


def test_create_app_takes_settings_and_flask_config(clip_env, tmp_path) -> None:  # noqa: ANN001
    from daguerre.platform.config import ConfigError
    from daguerre.platform.web import create_app

    app = create_app({"home": str(tmp_path / "elsewhere"), "max_upload_bytes": 1234,
                      "TESTING": True})
    ctx = app.extensions["daguerre"].ctx
    assert ctx.settings.home == tmp_path / "elsewhere"
    assert app.config["MAX_CONTENT_LENGTH"] == 1234 and app.testing
    assert ctx.settings.web_host == "127.0.0.1"  # the server binds loopback unless told
    with pytest.raises(ConfigError, match="colour"):
        create_app({"colour": "red"})


def test_app_starts_without_loading_torch(clip_env) -> None:  # noqa: ANN001
    import subprocess
    import sys

    code = ("import sys; from daguerre.platform.web import create_app; "
            "app = create_app(); c = app.test_client(); "
            "assert c.get('/').headers['Location'] == '/setup'; "
            "assert c.get('/setup').status_code == 200; "
            "assert c.get('/api/v1/libraries').status_code == 401; "
            "print('torch' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True, timeout=120)
    assert out.stdout.strip() == "False"


# Every screen a signed-in admin can open, each with a marker of its own content.
SCREENS = {"/": 'id="timeline"', "/search": 'id="search-q"', "/boards": "Boards",
           "/review": "review-grid", "/duplicates": "Duplicates", "/create": "create",
           "/jobs": "jobs", "/libraries": "libraries", "/settings": "Settings",
           "/suggestions": "Suggestions",
           "/images/1": "Image #1"}


def test_every_screen_serves_its_own_assets_and_no_inline_code(app, client, token
                                                               ) -> None:  # noqa: ANN001
    assert app.test_client().get("/").status_code == 302  # nobody signed in: to sign-in
    sign_in(client, "root")
    for url, marker in SCREENS.items():
        page = client.get(url)
        assert page.status_code == 200 and page.mimetype == "text/html", url
        html = page.get_data(as_text=True)
        for needed in (marker, 'id="signout-form"', 'data-api="/api/v1"', 'name="csrf-token"'):
            assert needed in html, f"{url} lacks {needed}"
        # No inline script or style: the Content-Security-Policy would block them.
        assert not re.search(r"<script(?![^>]*\bsrc=)|<style|\sstyle=|\son\w+=", html), url
        # No third-party code: every script and stylesheet is served by the app itself.
        assert not re.search(r'(src|href)="(https?:)?//', html), url
        for asset in re.findall(r'(?:src|href)="(/static/[^"]+)"', html):
            resp = client.get(asset)
            assert resp.status_code == 200 and resp.data, asset


def test_the_scripts_call_only_documented_endpoints(app, client) -> None:  # noqa: ANN001
    """Each API path a screen's script builds is one the OpenAPI document lists, and no
    script handles a token (the session cookie carries the person)."""
    from pathlib import Path

    from daguerre.platform.web.openapi import document

    templates = {re.sub(r"\{[^}]+\}", "{x}", p) for p in document(app)["paths"]}
    static = Path(app.static_folder)
    calls: set[str] = set()
    for script in sorted(static.glob("*.js")):
        text = script.read_text()
        assert "localStorage.setItem(\"token" not in text and "Bearer" not in text, script.name
        calls |= {re.sub(r"\$\{[^}]+\}", "{x}", c)
                  for c in re.findall(r'api\(\s*[`"](/[^`"?]*)', text)}
    assert {"/images/bulk", "/collections/{x}/images", "/restore", "/jobs"} <= calls
    # The create screen posts to `/${kind}`: each generator operation's own endpoint.
    from daguerre.generator.pipelines import OPERATIONS

    if "/{x}" in calls:
        calls = (calls - {"/{x}"}) | {f"/{op}" for op in OPERATIONS}
    for call in calls:
        assert call in templates, f"a script calls {call}, which the API does not document"


def test_dashboard_flow_through_the_api(app, client, token) -> None:  # noqa: ANN001
    """What the page does on load and on a search, with the same requests the script sends:
    on the session cookie, the CSRF token in a header on changes, thumbnails on the cookie."""
    csrf = sign_in(client, "root")
    libs = client.get("/api/v1/libraries").get_json()["items"]
    assert libs and libs[0]["images"] == 12
    hits = client.get("/api/v1/search?q=sunset&limit=40").get_json()["items"]
    assert len(hits) == 12
    thumb = client.get(hits[0]["thumbnail_url"])
    assert thumb.status_code == 200 and thumb.mimetype == "image/jpeg"
    assert "private" in thumb.headers["Cache-Control"]
    change = {"rating": 3}
    assert client.patch(f"/api/v1/images/{hits[0]['id']}", json=change).status_code == 400
    resp = client.patch(f"/api/v1/images/{hits[0]['id']}", json=change,
                        headers={"X-CSRFToken": csrf})
    assert resp.status_code == 200 and resp.get_json()["rating"] == 3
    # A credential in the URL is never read: without the cookie, ?token= is refused.
    other = app.test_client()
    assert other.get(f"{hits[0]['thumbnail_url']}?token={token}").status_code == 401
