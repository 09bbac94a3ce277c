"""The app factory and the dashboard page."""

from __future__ import annotations

import re

import pytest

from tests.platform.api_fixtures import *  # noqa: F403 - fixtures
from tests.platform.api_fixtures import make_user, sign_in


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


def test_dashboard_page_and_assets(app, client) -> None:  # noqa: ANN001
    assert client.get("/").status_code == 302  # nobody signed in yet
    make_user(app, "ann", "viewer")
    sign_in(client, "ann")
    page = client.get("/")
    assert page.status_code == 200 and page.mimetype == "text/html"
    html = page.get_data(as_text=True)
    for marker in ('id="search-form"', 'id="libraries"', 'id="jobs"', 'id="signout-form"',
                   'data-api="/api/v1"', 'name="csrf-token"'):
        assert marker in html
    # No inline script or style: the Content-Security-Policy would block them.
    assert not re.search(r"<script(?![^>]*\bsrc=)|<style|\sstyle=|\son\w+=", html)
    # No third-party code: every script and stylesheet is served by the app itself.
    assert not re.search(r'(src|href)="(https?:)?//', html)
    for asset in re.findall(r'(?:src|href)="(/static/[^"]+)"', html):
        resp = client.get(asset)
        assert resp.status_code == 200 and resp.data


def test_dashboard_script_calls_only_documented_endpoints(client) -> None:  # noqa: ANN001
    """Each API path the dashboard's script builds is one the OpenAPI document lists."""
    from daguerre.platform.web.openapi import document

    script = client.get("/static/dashboard.js").get_data(as_text=True)
    assert 'from "./api.js"' in script and "token" not in script.lower()
    calls = set(re.findall(r'api\(\s*[`"](/[^`"?]*)', script))
    assert {"/libraries", "/jobs", "/search", "/search/image"} <= {
        re.sub(r"\$\{[^}]+\}", "{x}", c) for c in calls}
    templates = [re.sub(r"\{[^}]+\}", "{x}", p) for p in document()["paths"]]
    for call in calls:
        path = re.sub(r"\$\{[^}]+\}", "{x}", call)
        assert path in templates, f"dashboard calls {call}, which the API does not document"


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
