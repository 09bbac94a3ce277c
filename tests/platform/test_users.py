"""People and sign-in: `daguerre users`, tokens that act for a user, the first-admin page, the
sign-in form and its rate limit, the session cookie, the session key and the security headers."""

from __future__ import annotations

import json
import os
import stat
from datetime import timedelta

import pytest
from click.testing import CliRunner
from sqlalchemy import select

from daguerre.platform.catalog.models import ApiToken, User, utcnow
from daguerre.platform.cli import main
from daguerre.platform.services import users
from tests.platform.api_fixtures import *  # noqa: F403 - fixtures
from tests.platform.api_fixtures import PASSWORD, csrf_of, make_user, sign_in

API = "/api/v1"


def run(*args: str, input: str | None = None):  # noqa: ANN201, A002
    return CliRunner().invoke(main, list(args), input=input)


@pytest.fixture()
def web(clip_env, tmp_path):  # noqa: ANN001, ANN201
    """An app over an empty data directory (no user yet), and its context."""
    from daguerre.platform.web import create_app

    app = create_app({"TESTING": True})
    yield app
    app.extensions["daguerre"].ctx.close()


def test_users_cli_create_list_password_remove(clip_env) -> None:  # noqa: ANN001
    made = run("users", "create", "ann", "--role", "admin", input="a long secret\n")
    assert made.exit_code == 0, made.output
    assert run("users", "create", "bob", "--role", "viewer", input="bob's secret\n").exit_code == 0
    listed = json.loads(run("users", "list", "--json").stdout)
    assert [(u["name"], u["role"]) for u in listed] == [("ann", "admin"), ("bob", "viewer")]

    from daguerre.platform.context import Context

    ctx = Context()
    try:
        with ctx.catalog.session() as s:
            stored = s.scalar(select(User.password_hash).where(User.name == "ann"))
        # argon2id, and the password itself nowhere
        assert stored.startswith("$argon2id$") and "a long secret" not in stored
        assert users.authenticate(ctx, "ann", "a long secret") is not None
        assert run("users", "password", "ann", input="another secret\n").exit_code == 0
        assert users.authenticate(ctx, "ann", "a long secret") is None
        assert users.authenticate(ctx, "ann", "another secret") is not None

        # the last admin stays; a viewer may go
        last = run("users", "remove", "ann")
        assert last.exit_code == 2 and "last admin" in last.output
        assert run("users", "remove", "bob").exit_code == 0
        assert [u.name for u in users.list_users(ctx)] == ["ann"]
    finally:
        ctx.close()


@pytest.mark.parametrize("args,stdin,message", [
    (["users", "create", "x", "--role", "owner"], "a long secret\n", "Invalid value for '--role'"),
    (["users", "create", "x\x07y", "--role", "viewer"], "a long secret\n", "control characters"),
    (["users", "create", " ", "--role", "viewer"], "a long secret\n", "must not be empty"),
    (["users", "create", "x", "--role", "viewer"], "short\n", "at least 8 characters"),
    (["users", "remove", "nobody"], None, "no user 'nobody'"),
])
def test_users_cli_refuses_bad_input(clip_env, args, stdin, message) -> None:  # noqa: ANN001
    result = run(*args, input=stdin)
    assert result.exit_code == 2 and message in result.output
    assert "a long secret" not in result.output and "short" not in result.output.split(":")[-1]


def test_duplicate_user_is_a_conflict(clip_env) -> None:  # noqa: ANN001
    assert run("users", "create", "ann", "--role", "viewer", input="a long secret\n").exit_code == 0
    again = run("users", "create", "ann", "--role", "admin", input="a long secret\n")
    assert again.exit_code == 2 and "exists already" in again.output


def test_tokens_belong_to_a_user_and_go_with_them(web) -> None:  # noqa: ANN001
    ctx = web.extensions["daguerre"].ctx
    client = web.test_client()
    users.create_user(ctx, "root", "admin", PASSWORD)
    users.create_user(ctx, "cat", "curator", PASSWORD)
    made = run("tokens", "create", "script", "--user", "cat")
    assert made.exit_code == 0, made.output
    secret = made.stdout.strip()
    assert "for 'cat' (curator)" in made.stderr
    bearer = {"Authorization": f"Bearer {secret}"}
    assert client.get(f"{API}/libraries", headers=bearer).status_code == 200
    # it carries the curator's role: an admin-only change is refused, and needs no CSRF token
    refused = client.post(f"{API}/libraries", headers=bearer, json={"path": "/"})
    assert refused.status_code == 403 and "admin" in refused.get_json()["error"]
    assert run("tokens", "create", "x", "--user", "nobody").exit_code == 2
    assert run("tokens", "create", "x").exit_code == 2  # --user is required

    listed = run("tokens", "list", "--json")
    assert [(t["name"], t["user"], t["role"]) for t in json.loads(listed.stdout)] == [
        ("script", "cat", "curator")]
    assert run("users", "remove", "cat").exit_code == 0
    assert client.get(f"{API}/libraries", headers=bearer).status_code == 401
    with ctx.catalog.session() as s:
        assert s.scalars(select(ApiToken)).all() == []


def test_a_token_from_before_users_is_refused_until_recreated(web) -> None:  # noqa: ANN001
    from daguerre.platform.tokens import PREFIX, hash_token

    ctx = web.extensions["daguerre"].ctx
    secret = PREFIX + "x" * 43
    with ctx.catalog.session() as s:  # what migration 0003 leaves of an older token
        s.add(ApiToken(name="old", token_hash=hash_token(secret)))
    resp = web.test_client().get(f"{API}/libraries",
                                 headers={"Authorization": f"Bearer {secret}"})
    assert resp.status_code == 401 and "re-created" in resp.get_json()["error"]
    assert "re-create with --user" in run("tokens", "list").stdout


def test_first_admin_page_then_it_refuses(web) -> None:  # noqa: ANN001
    client = web.test_client()
    assert client.get("/").headers["Location"] == "/setup"
    assert client.get("/signin").headers["Location"] == "/setup"
    assert client.get(f"{API}/libraries").status_code == 401  # the API never redirects
    page = client.get("/setup").get_data(as_text=True)
    for label in (">Username<", ">Password<", ">Repeat password<"):
        assert label in page
    csrf = csrf_of(page)
    form = {"username": "ann", "password": PASSWORD, "confirm": PASSWORD, "csrf_token": csrf}
    assert client.post("/setup", data={**form, "confirm": "something else"}).status_code == 400
    assert client.post("/setup", data={**form, "password": "short", "confirm": "short"}
                       ).status_code == 400
    made = client.post("/setup", data=form)
    assert made.status_code == 302 and made.headers["Location"] == "/"
    assert client.get("/").status_code == 200  # signed in as the new admin
    ctx = web.extensions["daguerre"].ctx
    assert [(u.name, u.role) for u in users.list_users(ctx)] == [("ann", "admin")]

    stranger = web.test_client()
    assert stranger.get("/setup").headers["Location"] == "/signin"
    again = stranger.post("/setup", data={**form, "username": "mallory",
                                          "csrf_token": csrf_of(stranger.get("/signin").text)})
    assert again.status_code == 409
    assert [u.name for u in users.list_users(ctx)] == ["ann"]


def test_sign_in_form_session_cookie_and_sign_out(web) -> None:  # noqa: ANN001
    make_user(web, "ann", "viewer")
    client = web.test_client()
    assert client.get("/images").status_code == 404
    first = client.get("/")
    assert first.status_code == 302 and first.headers["Location"] == "/signin?next=%2F"
    page = client.get("/signin").get_data(as_text=True)
    assert '<label for="username">Username</label>' in page
    assert '<label for="password">Password</label>' in page
    assert '<button type="submit">Sign in</button>' in page
    csrf = csrf_of(page)
    wrong = client.post("/signin", data={"username": "ann", "password": "nope nope",
                                         "csrf_token": csrf})
    assert wrong.status_code == 401 and "Wrong username or password" in wrong.text
    assert client.post("/signin", data={"username": "ann", "password": PASSWORD}
                       ).status_code == 400  # no CSRF token
    ok = client.post("/signin", data={"username": "ann", "password": PASSWORD,
                                      "csrf_token": csrf, "next": "//evil.example/"})
    assert ok.status_code == 302 and ok.headers["Location"] == "/"  # never off-site
    cookie = ok.headers["Set-Cookie"]
    assert "HttpOnly" in cookie and "SameSite=Lax" in cookie and "Secure" not in cookie
    assert PASSWORD not in cookie
    home = client.get("/")
    assert home.status_code == 200 and "ann" in home.text
    assert client.get(f"{API}/libraries").status_code == 200  # the API on the session

    out = client.post("/signout", data={"csrf_token": csrf_of(home.text)})
    assert out.status_code == 302 and client.get(f"{API}/libraries").status_code == 401


def test_a_password_change_ends_sessions(web) -> None:  # noqa: ANN001
    make_user(web, "ann", "viewer")
    client = web.test_client()
    sign_in(client, "ann")
    assert client.get(f"{API}/libraries").status_code == 200
    users.change_password(web.extensions["daguerre"].ctx, "ann", "a new password")
    assert client.get(f"{API}/libraries").status_code == 401


def test_failed_sign_ins_are_limited(web) -> None:  # noqa: ANN001
    ctx = web.extensions["daguerre"].ctx
    make_user(web, "ann", "viewer")
    client = web.test_client()
    csrf = csrf_of(client.get("/signin").text)
    for _ in range(users.MAX_FAILURES):
        resp = client.post("/signin", data={"username": "ann", "password": "guess guess",
                                            "csrf_token": csrf})
        assert resp.status_code == 401
    # now even the right password is not tried
    limited = client.post("/signin", data={"username": "ann", "password": PASSWORD,
                                           "csrf_token": csrf})
    assert limited.status_code == 429
    assert 0 < int(limited.headers["Retry-After"]) <= users.FAILURE_WINDOW.total_seconds()
    # the address is limited too, whichever name it tries next
    with pytest.raises(users.SignInLimited):
        users.authenticate(ctx, "someone else", "x", address="127.0.0.1")
    # another address may still sign in as someone else... but not as ann
    assert users.authenticate(ctx, "root", "x", address="10.0.0.9") is None
    with pytest.raises(users.SignInLimited):
        users.authenticate(ctx, "ann", PASSWORD, address="10.0.0.9")
    # once the window has passed, the right password works again
    later = utcnow() + users.FAILURE_WINDOW + timedelta(seconds=1)
    assert users.authenticate(ctx, "ann", PASSWORD, address="127.0.0.1", now=later) is not None


def test_secure_cookie_behind_a_proxy_only_when_told(clip_env) -> None:  # noqa: ANN001
    from daguerre.platform.web import create_app

    for behind_proxy, secure in ((False, False), (True, True)):
        app = create_app({"TESTING": True, "behind_proxy": behind_proxy})
        try:
            if not users.count_users(app.extensions["daguerre"].ctx):
                make_user(app, "ann", "viewer")
            client = app.test_client()
            # (Flask-WTF checks the Referer of a request over HTTPS, as a browser sends it)
            https = {"X-Forwarded-Proto": "https", "Referer": "https://localhost/signin"}
            csrf = csrf_of(client.get("/signin", headers=https).text)
            resp = client.post("/signin", headers=https, data={
                "username": "ann", "password": PASSWORD, "csrf_token": csrf})
            assert resp.status_code == 302
            assert ("Secure" in resp.headers["Set-Cookie"]) is secure
        finally:
            app.extensions["daguerre"].ctx.close()


def test_session_key_is_kept_private_and_shared(clip_env, tmp_path) -> None:  # noqa: ANN001
    from daguerre.platform.web import create_app

    one, two = create_app({"TESTING": True}), create_app({"TESTING": True})
    try:
        path = one.extensions["daguerre"].ctx.settings.home / "secret_key"
        assert stat.S_IMODE(os.stat(path).st_mode) == 0o600
        assert one.secret_key == two.secret_key and len(one.secret_key) >= 32
        make_user(one, "ann", "viewer")
        client = one.test_client()
        sign_in(client, "ann")
        # the other process reads the same key: the session is good there too
        cookie = client.get_cookie("daguerre_session")
        other = two.test_client()
        other.set_cookie("daguerre_session", cookie.value)
        assert other.get(f"{API}/libraries").status_code == 200
        assert create_app({"TESTING": True, "secret_key": "s" * 40}).secret_key == "s" * 40
    finally:
        one.extensions["daguerre"].ctx.close()
        two.extensions["daguerre"].ctx.close()


@pytest.mark.parametrize("path", ["/signin", "/setup", f"{API}/libraries", "/static/api.js",
                                  "/nowhere", f"{API}/openapi.json"])
def test_security_headers_on_every_response(web, path) -> None:  # noqa: ANN001
    resp = web.test_client().get(path)
    csp = resp.headers["Content-Security-Policy"]
    assert "unsafe-inline" not in csp and "default-src 'self'" in csp
    assert "frame-ancestors 'none'" in csp and "img-src 'self' data: blob:" in csp
    assert resp.headers["X-Content-Type-Options"] == "nosniff"
    assert resp.headers["Referrer-Policy"] == "same-origin"
    assert resp.headers["X-Frame-Options"] == "DENY"


@pytest.mark.postgres
def test_two_first_admin_forms_at_once_make_one_admin(pg_url, tmp_path) -> None:  # noqa: ANN001
    """On PostgreSQL (READ COMMITTED) two first-admin requests racing must not both win."""
    import threading

    from daguerre.platform.config import load_settings
    from daguerre.platform.context import Context
    from daguerre.platform.errors import Conflict
    from daguerre.platform.services import users

    ctx = Context(load_settings(env={}, home=str(tmp_path / "home"), database_url=pg_url))
    outcomes: list[str] = []
    start = threading.Barrier(4)

    def attempt(name: str) -> None:
        start.wait()
        try:
            users.create_user(ctx, name, "admin", PASSWORD, only_if_none=True)
            outcomes.append("created")
        except Conflict:
            outcomes.append("refused")

    try:
        threads = [threading.Thread(target=attempt, args=(f"admin{i}",)) for i in range(4)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(timeout=30)
        assert sorted(outcomes) == ["created", "refused", "refused", "refused"]
        assert users.count_users(ctx) == 1
    finally:
        ctx.close()
