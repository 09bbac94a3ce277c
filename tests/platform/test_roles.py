"""Roles are enforced on the server for every route: the test walks ``app.url_map``, so a route
added later is covered without anyone remembering to list it.

The expectations are written here, not read from the views' declarations: a viewer may read
everything (GET, and the two searches sent by POST) and change nothing; a curator may change
everything but what is admin-only; nobody gets in without a credential.
"""

from __future__ import annotations

import re

import pytest

from tests.platform.api_fixtures import *  # noqa: F403 - fixtures
from tests.platform.api_fixtures import make_user, sign_in

API = "/api/v1"
# Searches are reads, though sent by POST (a long query, an uploaded image).
READS_BY_POST = {("POST", f"{API}/search"), ("POST", f"{API}/search/image"),
                 ("POST", f"{API}/export"),  # a viewer may export
                 ("POST", "/search/image")}  # the search screen's example upload
ADMIN_ONLY = {("POST", f"{API}/libraries"), ("PATCH", f"{API}/libraries/<int:library_id>"),
              ("DELETE", f"{API}/libraries/<int:library_id>"),
              ("POST", f"{API}/libraries/<int:library_id>/move"),
              ("GET", "/libraries"),  # the admin's libraries screen
              # people and everyone's tokens (Settings)
              ("GET", f"{API}/users"), ("POST", f"{API}/users"),
              ("PATCH", f"{API}/users/<int:user_id>"), ("DELETE", f"{API}/users/<int:user_id>"),
              ("GET", f"{API}/tokens"), ("DELETE", f"{API}/tokens/<int:token_id>")}
# Reads a viewer may not make: the create screen is nothing but forms for curators.
CURATOR_READS = {("GET", "/create")}
PUBLIC = {("GET", f"{API}/openapi.json"), ("GET", "/setup"), ("POST", "/setup"),
          ("GET", "/signin"), ("POST", "/signin")}
OWN_SESSION = {("POST", "/signout"),  # signing oneself out changes no one's data
               # revoking one's own token: the walk would revoke the very token it calls with
               ("DELETE", f"{API}/me/tokens/<int:token_id>")}
# Changes to one's own account (password, tokens), which any role may make.
OWN_ACCOUNT = {("POST", f"{API}/me/password"), ("POST", f"{API}/me/tokens"),
               ("DELETE", f"{API}/me/tokens/<int:token_id>")}


def routes(app) -> list[tuple[str, str, str]]:  # noqa: ANN001
    """(method, rule, a URL for it) for every route but static files."""
    out = []
    for rule in app.url_map.iter_rules():
        if rule.endpoint == "static":
            continue
        url = re.sub(r"<int:[^>]+>", "1", rule.rule)
        url = re.sub(r"<(path:)?[^>]+>", "x", url)
        for method in sorted(rule.methods - {"HEAD", "OPTIONS"}):
            out.append((method, rule.rule, url))
    assert len(out) > 40, "the walk lost routes"
    return out


def is_read(method: str, rule: str) -> bool:
    return method == "GET" or (method, rule) in READS_BY_POST


def role_refusal(resp) -> bool:  # noqa: ANN001
    """A 403 for the caller's role (not, say, a path no library may have)."""
    if resp.status_code != 403:
        return False
    body = resp.get_json(silent=True)
    return body is None or "role" in body.get("error", "")


@pytest.fixture()
def callers(app):  # noqa: ANN001, ANN201
    """For viewer and curator: a Bearer header, and a signed-in client with its CSRF token."""
    app.config["JOB_SENDER"] = lambda job_id, queue: None  # jobs are recorded, not run
    out = {}
    for role in ("viewer", "curator"):
        token = make_user(app, role, role)
        client = app.test_client()
        csrf = sign_in(client, role)
        out[role] = ({"Authorization": f"Bearer {token}"}, client, csrf)
    make_user(app, "root", "admin")
    return out


def _send(client, method: str, url: str, headers: dict):  # noqa: ANN001, ANN202
    body = {"json": {}} if method in ("POST", "PATCH", "PUT") and "/signin" not in url else {}
    return client.open(url, method=method, headers=headers, **body)


@pytest.mark.parametrize("role", ["viewer", "curator"])
def test_every_route_refuses_what_the_role_may_not_do(app, callers, role) -> None:  # noqa: ANN001
    bearer, session, csrf = callers[role]
    checked = 0
    for method, rule, url in routes(app):
        if (method, rule) in PUBLIC or (method, rule) in OWN_SESSION:
            continue
        admin_only = (method, rule) in ADMIN_ONLY
        viewer_may = (is_read(method, rule) and (method, rule) not in CURATOR_READS
                      or (method, rule) in OWN_ACCOUNT)
        may = not admin_only and (viewer_may if role == "viewer" else True)
        ways = [(session, {"X-CSRFToken": csrf})]
        if rule.startswith(API + "/"):
            ways.append((app.test_client(), bearer))
        for client, headers in ways:
            resp = _send(client, method, url, headers)
            where = f"{role} {method} {url} ({'token' if 'Authorization' in headers else 'session'})"
            assert resp.status_code not in (401, 302), f"{where}: not signed in? {resp.status_code}"
            if may:
                assert not role_refusal(resp), f"{where} was refused: {resp.get_data(as_text=True)}"
            else:
                assert role_refusal(resp), f"{where} was allowed: {resp.status_code}"
            checked += 1
    assert checked > 60


def test_no_credential_gets_401_or_the_sign_in_page(app, callers) -> None:  # noqa: ANN001
    anonymous = app.test_client()
    for method, rule, url in routes(app):
        if (method, rule) in PUBLIC:
            continue
        resp = anonymous.open(url, method=method)
        if rule.startswith(API + "/"):
            assert resp.status_code == 401, f"{method} {url}: {resp.status_code}"
            assert resp.headers["WWW-Authenticate"].startswith("Bearer")
        elif method == "GET":
            assert resp.status_code == 302 and resp.headers["Location"].startswith("/signin")
        else:
            assert resp.status_code in (302, 401), f"{method} {url}: {resp.status_code}"


def test_a_session_change_without_the_csrf_token_is_refused(app, callers) -> None:  # noqa: ANN001
    bearer, session, csrf = callers["curator"]
    change = {"rating": 4}
    for headers in ({}, {"X-CSRFToken": "forged"}):
        resp = session.patch(f"{API}/images/1", json=change, headers=headers)
        assert resp.status_code == 400 and "CSRF" in resp.get_json()["error"]
    assert session.get(f"{API}/images/1").get_json()["rating"] is None  # nothing changed
    assert session.patch(f"{API}/images/1", json=change,
                         headers={"X-CSRFToken": csrf}).status_code == 200
    # a script with a token is not a browser another site can drive: it needs no CSRF token
    assert app.test_client().patch(f"{API}/images/1", json={"rating": 2},
                                   headers=bearer).status_code == 200


def test_a_role_refusal_says_which_role_it_needs(app, callers) -> None:  # noqa: ANN001
    bearer, _session, _csrf = callers["viewer"]
    resp = app.test_client().post(f"{API}/jobs", headers=bearer, json={"kind": "index"})
    assert resp.status_code == 403
    assert resp.get_json()["error"] == "this needs the curator role; 'viewer' is a viewer"


def test_a_view_without_a_declared_role_stops_the_app(app) -> None:  # noqa: ANN001
    from daguerre.platform.web.auth import check_roles_declared

    app.add_url_rule("/forgotten", "forgotten", lambda: "open to all?")
    with pytest.raises(RuntimeError, match="forgotten"):
        check_roles_declared(app)


def test_the_openapi_document_lists_403_where_a_role_can_be_refused(app) -> None:  # noqa: ANN001
    from daguerre.platform.web.openapi import document, template

    doc = document(app)
    for method, rule, _url in routes(app):
        if not rule.startswith(API + "/") or (method, rule) in PUBLIC:
            continue
        responses = doc["paths"][template(rule)][method.lower()]["responses"]
        if not is_read(method, rule) and (method, rule) not in OWN_ACCOUNT:
            assert "403" in responses, f"{method} {rule} does not list 403"
