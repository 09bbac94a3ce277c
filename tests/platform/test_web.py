"""The app factory and the dashboard page."""

from __future__ import annotations

import re

import pytest

from tests.platform.api_fixtures import *  # noqa: F403 - fixtures


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
            "assert c.get('/').status_code == 200; "
            "assert c.get('/api/v1/libraries').status_code == 401; "
            "print('torch' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True, timeout=120)
    assert out.stdout.strip() == "False"


def test_dashboard_page_and_assets(client) -> None:  # noqa: ANN001
    page = client.get("/")
    assert page.status_code == 200 and page.mimetype == "text/html"
    html = page.get_data(as_text=True)
    for marker in ('id="search-form"', 'id="libraries"', 'id="jobs"', 'id="token-form"',
                   'data-api="/api/v1"'):
        assert marker in html
    # No third-party code: every script and stylesheet is served by the app itself.
    assert not re.search(r'(src|href)="(https?:)?//', html)
    for asset in re.findall(r'(?:src|href)="(/static/[^"]+)"', html):
        resp = client.get(asset)
        assert resp.status_code == 200 and resp.data


def test_dashboard_script_calls_only_documented_endpoints(client) -> None:  # noqa: ANN001
    """Each API path the dashboard's script builds is one the OpenAPI document lists."""
    from daguerre.platform.web.openapi import document

    script = client.get("/static/dashboard.js").get_data(as_text=True)
    calls = set(re.findall(r'api\(\s*[`"](/[^`"?]*)', script))
    assert {"/libraries", "/jobs", "/search", "/search/image"} <= {
        re.sub(r"\$\{[^}]+\}", "{x}", c) for c in calls}
    templates = [re.sub(r"\{[^}]+\}", "{x}", p) for p in document()["paths"]]
    for call in calls:
        path = re.sub(r"\$\{[^}]+\}", "{x}", call)
        assert path in templates, f"dashboard calls {call}, which the API does not document"


def test_dashboard_flow_through_the_api(client, auth) -> None:  # noqa: ANN001
    """What the page does on load and on a search, with the same requests the script sends."""
    libs = client.get("/api/v1/libraries", headers=auth).get_json()["items"]
    assert libs and libs[0]["images"] == 12
    hits = client.get("/api/v1/search?q=sunset&limit=40", headers=auth).get_json()["items"]
    assert len(hits) == 12
    token = auth["Authorization"].split()[1]
    thumb = client.get(f"{hits[0]['thumbnail_url']}?token={token}")
    assert thumb.status_code == 200 and thumb.mimetype == "image/jpeg"
