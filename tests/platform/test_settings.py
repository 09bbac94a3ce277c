"""Settings: one's own password and API tokens (``/api/v1/me``), an admin's people and tokens
(``/api/v1/users``, ``/api/v1/tokens``), the rules they share with ``daguerre users`` (the last
admin, nobody removing or demoting themself), and the ``/settings`` screen in a real browser
(Debian's chromium under Playwright): an admin adds a curator, the curator signs in elsewhere and
makes a token that works against the API; a viewer sees no admin section.

Screenshots go under ``$DAGUERRE_SCREENSHOTS`` (default: the test's temporary folder)."""

from __future__ import annotations

import json

import pytest
from click.testing import CliRunner

from daguerre.platform.cli import main
from tests.platform.api_fixtures import *  # noqa: F403 - the app/live_server/token fixtures
from tests.platform.api_fixtures import PASSWORD, csrf_of, make_user, sign_in
from tests.platform.browser_fixtures import (  # noqa: F401 - fixtures
    assert_accessible,
    browser_page,
    shots,
)
from tests.platform.browser_fixtures import sign_in as browser_sign_in

API = "/api/v1"
NEW_PASSWORD = "a brand new secret"


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def user_id(app, name: str) -> int:  # noqa: ANN001
    from daguerre.platform.services.users import list_users

    return next(u.id for u in list_users(app.extensions["daguerre"].ctx) if u.name == name)


def cli(*args: str, input: str | None = None):  # noqa: ANN201, A002
    return CliRunner().invoke(main, list(args), input=input)


# -- roles ------------------------------------------------------------------------------------
def test_a_viewer_may_not_see_nor_change_people_or_others_tokens(app, client) -> None:  # noqa: ANN001
    make_user(app, "root", "admin")
    viewer = bearer(make_user(app, "vera", "viewer"))
    for method, url, body in [("GET", "/users", None), ("GET", "/tokens", None),
                              ("POST", "/users", {"name": "x", "role": "admin",
                                                  "password": PASSWORD}),
                              ("PATCH", f"/users/{user_id(app, 'vera')}", {"role": "admin"}),
                              ("DELETE", f"/users/{user_id(app, 'root')}", None),
                              ("DELETE", "/tokens/1", None)]:
        resp = client.open(API + url, method=method, headers=viewer, json=body)
        assert resp.status_code == 403, (method, url, resp.get_json())
        assert "needs the admin role" in resp.get_json()["error"]
    # nothing changed: vera is still a viewer, root and root's token still work
    assert client.get(f"{API}/me", headers=viewer).get_json()["role"] == "viewer"
    assert client.get(f"{API}/users", headers=bearer(make_user(app, "ada", "admin"))) \
        .get_json()["items"][0]["name"] == "root"


def test_me_names_the_caller_and_their_role(app, client) -> None:  # noqa: ANN001
    token = make_user(app, "cora", "curator")
    assert client.get(f"{API}/me", headers=bearer(token)).get_json() == {
        "id": user_id(app, "cora"), "name": "cora", "role": "curator"}


def test_a_curator_manages_their_own_tokens_only(app, client) -> None:  # noqa: ANN001
    admin_token = make_user(app, "root", "admin")
    cora = bearer(make_user(app, "cora", "curator"))
    made = client.post(f"{API}/me/tokens", headers=cora, json={"name": "  backup  script "})
    assert made.status_code == 201, made.get_json()
    body = made.get_json()
    assert body["name"] == "backup script" and body["user"] == "cora"
    assert body["role"] == "curator" and body["token"].startswith("dgr_")

    # the new token acts for cora with cora's role: it may curate, not administer
    new = bearer(body["token"])
    assert client.get(f"{API}/me", headers=new).get_json()["name"] == "cora"
    assert client.patch(f"{API}/images/1", headers=new, json={"rating": 3}).status_code == 200
    assert client.get(f"{API}/users", headers=new).status_code == 403

    # her list holds her live tokens, never a secret, never root's
    listed = client.get(f"{API}/me/tokens", headers=cora).get_json()["items"]
    assert sorted(t["name"] for t in listed) == ["backup script", "cora-tests"]
    assert "token" not in listed[0] and body["token"] not in json.dumps(listed)

    # root's token is not hers to revoke: as if it did not exist, and it still works
    root_token_id = next(t["id"] for t in client.get(f"{API}/tokens", headers=bearer(
        admin_token)).get_json()["items"] if t["user"] == "root")
    assert client.delete(f"{API}/me/tokens/{root_token_id}", headers=cora).status_code == 404
    assert client.get(f"{API}/me", headers=bearer(admin_token)).status_code == 200

    # revoked: refused at once, and gone from her list
    revoked = client.delete(f"{API}/me/tokens/{body['id']}", headers=cora)
    assert revoked.status_code == 200 and revoked.get_json()["revoked"] is True
    assert client.get(f"{API}/me", headers=new).status_code == 401
    assert [t["name"] for t in client.get(f"{API}/me/tokens", headers=cora)
            .get_json()["items"]] == ["cora-tests"]


def test_token_names_are_checked_and_unique(app, client) -> None:  # noqa: ANN001
    cora = bearer(make_user(app, "cora", "curator"))
    for name, message in [("   ", "must not be empty"), (7, "must be a string"),
                          ("a\x07b", "control characters"), ("x" * 201, "at most 200")]:
        resp = client.post(f"{API}/me/tokens", headers=cora, json={"name": name})
        assert resp.status_code == 400 and resp.get_json()["field"] == "name", resp.get_json()
        assert message in resp.get_json()["error"]
    again = client.post(f"{API}/me/tokens", headers=cora, json={"name": "cora-tests"})
    assert again.status_code == 409
    assert len(client.get(f"{API}/me/tokens", headers=cora).get_json()["items"]) == 1


def test_an_admin_lists_and_revokes_anyones_token(app, client) -> None:  # noqa: ANN001
    admin = bearer(make_user(app, "root", "admin"))
    cora_token = make_user(app, "cora", "curator")
    items = client.get(f"{API}/tokens", headers=admin).get_json()["items"]
    assert [(t["name"], t["user"], t["role"]) for t in items] == [
        ("root-tests", "root", "admin"), ("cora-tests", "cora", "curator")]
    assert client.delete(f"{API}/tokens/{items[1]['id']}", headers=admin).status_code == 200
    assert client.get(f"{API}/me", headers=bearer(cora_token)).status_code == 401
    assert client.delete(f"{API}/tokens/999", headers=admin).status_code == 404
    listed = client.get(f"{API}/tokens", headers=admin).get_json()["items"]
    assert [t["revoked"] for t in listed] == [False, True]  # revoked ones stay listed


# -- people -----------------------------------------------------------------------------------
def test_an_admin_adds_changes_and_removes_people(app, client) -> None:  # noqa: ANN001
    admin = bearer(make_user(app, "root", "admin"))
    made = client.post(f"{API}/users", headers=admin,
                       json={"name": "dan", "role": "viewer", "password": PASSWORD})
    assert made.status_code == 201 and made.get_json()["role"] == "viewer"
    dan = made.get_json()["id"]
    for body, field in [({"name": "eve", "role": "owner", "password": PASSWORD}, "role"),
                        ({"name": "eve", "role": "viewer", "password": "short"}, "password"),
                        ({"name": "", "role": "viewer", "password": PASSWORD}, "name")]:
        resp = client.post(f"{API}/users", headers=admin, json=body)
        assert resp.status_code == 400 and resp.get_json()["field"] == field
        assert "short" not in resp.get_json()["error"]  # a password is never echoed
    assert client.post(f"{API}/users", headers=admin, json={
        "name": "dan", "role": "admin", "password": PASSWORD}).status_code == 409

    # a role and a password at once; a bad one of the two changes neither
    bad = client.patch(f"{API}/users/{dan}", headers=admin,
                       json={"role": "curator", "password": "short"})
    assert bad.status_code == 400 and bad.get_json()["field"] == "password"
    for body in ({}, {"role": None}):
        assert client.patch(f"{API}/users/{dan}", headers=admin, json=body).status_code == 400
    assert [u["role"] for u in client.get(f"{API}/users", headers=admin).get_json()["items"]
            if u["name"] == "dan"] == ["viewer"]
    changed = client.patch(f"{API}/users/{dan}", headers=admin,
                           json={"role": "curator", "password": NEW_PASSWORD})
    assert changed.status_code == 200 and changed.get_json()["role"] == "curator"
    sign_in(app.test_client(), "dan", NEW_PASSWORD)

    assert client.delete(f"{API}/users/{dan}", headers=admin).status_code == 200
    assert client.delete(f"{API}/users/{dan}", headers=admin).status_code == 404
    assert [u["name"] for u in client.get(f"{API}/users", headers=admin)
            .get_json()["items"]] == ["root"]


def test_the_last_admin_and_oneself_stay_through_the_api(app, client) -> None:  # noqa: ANN001
    root = bearer(make_user(app, "root", "admin"))
    root_id = user_id(app, "root")
    for method, body in [("DELETE", None), ("PATCH", {"role": "curator"})]:
        resp = client.open(f"{API}/users/{root_id}", method=method, headers=root, json=body)
        assert resp.status_code == 409, resp.get_json()
        assert "yourself" in resp.get_json()["error"] or "own role" in resp.get_json()["error"]
    # with a second admin, that admin may demote root, but not then demote or remove themself
    ada = bearer(make_user(app, "ada", "admin"))
    ada_id = user_id(app, "ada")
    assert client.patch(f"{API}/users/{root_id}", headers=ada,
                        json={"role": "viewer"}).get_json()["role"] == "viewer"
    assert client.get(f"{API}/users", headers=root).status_code == 403  # root's token follows
    assert client.patch(f"{API}/users/{ada_id}", headers=ada,
                        json={"role": "viewer"}).status_code == 409
    assert client.delete(f"{API}/users/{ada_id}", headers=ada).status_code == 409
    roles = {u["name"]: u["role"] for u in client.get(f"{API}/users", headers=ada)
             .get_json()["items"]}
    assert roles == {"root": "viewer", "ada": "admin"}


def test_the_last_admin_stays_through_the_cli(app) -> None:  # noqa: ANN001
    make_user(app, "root", "admin")
    make_user(app, "cora", "curator")
    for args in (["users", "role", "root", "viewer"], ["users", "remove", "root"]):
        result = cli(*args)
        assert result.exit_code == 2 and "last admin" in result.output, result.output
    assert cli("users", "role", "cora", "owner").exit_code == 2  # not a role
    promoted = cli("users", "role", "cora", "admin")
    assert promoted.exit_code == 0 and "'cora' now has the role admin" in promoted.output
    assert cli("users", "role", "root", "viewer").exit_code == 0  # cora is an admin now
    listed = json.loads(cli("users", "list", "--json").stdout)
    assert {u["name"]: u["role"] for u in listed} == {"root": "viewer", "cora": "admin"}


# -- one's own password -----------------------------------------------------------------------
def test_changing_ones_password_ends_the_other_sessions(app) -> None:  # noqa: ANN001
    make_user(app, "cora", "curator")
    here, elsewhere = app.test_client(), app.test_client()
    csrf = sign_in(here, "cora")
    sign_in(elsewhere, "cora")
    headers = {"X-CSRFToken": csrf}

    wrong = here.post(f"{API}/me/password", headers=headers,
                      json={"current_password": "not it at all", "new_password": NEW_PASSWORD})
    assert wrong.status_code == 403 and wrong.get_json()["field"] == "current_password"
    weak = here.post(f"{API}/me/password", headers=headers,
                     json={"current_password": PASSWORD, "new_password": "short"})
    assert weak.status_code == 400 and weak.get_json()["field"] == "new_password"
    assert elsewhere.get(f"{API}/me").status_code == 200  # nothing changed yet

    done = here.post(f"{API}/me/password", headers=headers,
                     json={"current_password": PASSWORD, "new_password": NEW_PASSWORD})
    assert done.status_code == 200, done.get_json()
    assert here.get(f"{API}/me").status_code == 200  # this session goes on
    assert elsewhere.get(f"{API}/me").status_code == 401  # the other one ended

    fresh = app.test_client()
    page = csrf_of(fresh.get("/signin").get_data(as_text=True))
    old = fresh.post("/signin", data={"username": "cora", "password": PASSWORD,
                                      "csrf_token": page})
    assert old.status_code == 401
    sign_in(fresh, "cora", NEW_PASSWORD)
    assert fresh.get(f"{API}/me").get_json()["name"] == "cora"


# -- the screen, through the test client -------------------------------------------------------
def test_the_screen_shows_admin_sections_to_admins_only(app) -> None:  # noqa: ANN001
    make_user(app, "root", "admin")
    make_user(app, "vera", "viewer")
    admin, viewer = app.test_client(), app.test_client()
    sign_in(admin, "root")
    sign_in(viewer, "vera")
    page = admin.get("/settings").get_data(as_text=True)
    assert 'id="people-section"' in page and 'id="all-tokens-section"' in page
    assert "vera" in page and "vera-tests" in page
    mine = viewer.get("/settings").get_data(as_text=True)
    assert 'id="password-section"' in mine and "vera-tests" in mine
    assert 'id="people-section"' not in mine and "root-tests" not in mine and "root" not in mine


# -- the screen, in a browser -----------------------------------------------------------------
def no_sideways_overflow(page) -> bool:  # noqa: ANN001
    return page.evaluate("() => document.documentElement.scrollWidth <= window.innerWidth")


def test_an_admin_adds_a_curator_who_makes_a_working_token(app, live_server, browser_page,  # noqa: ANN001, F811
                                                           shots) -> None:  # noqa: F811
    make_user(app, "root", "admin")
    page = browser_page
    browser_sign_in(page, live_server.url, "root")
    page.get_by_role("link", name="Settings").click()
    page.wait_for_selector("#people-section")
    assert_accessible(page, "settings (admin)")

    page.get_by_label("Name", exact=True).fill("cora")
    page.get_by_label("Role", exact=True).select_option("curator")
    page.get_by_label("Password", exact=True).fill(PASSWORD)
    page.get_by_label("Repeat the password").fill(PASSWORD)
    page.get_by_role("button", name="Add person").click()
    page.wait_for_selector("#people-list tr[data-name=cora]")
    assert page.locator("#add-person-status").inner_text() == "cora added as a curator."
    assert page.get_by_label("Role of cora").input_value() == "curator"
    page.screenshot(path=str(shots / "settings-admin-1280.png"), full_page=True)
    page.set_viewport_size({"width": 390, "height": 844})
    assert no_sideways_overflow(page)
    page.screenshot(path=str(shots / "settings-admin-390.png"), full_page=True)

    # cora, on a phone, in a browser of her own
    other = page.context.browser.new_context(viewport={"width": 390, "height": 844})
    phone = other.new_page()
    browser_sign_in(phone, live_server.url, "cora")
    phone.goto(live_server.url + "/settings")
    assert phone.locator("#people-section").count() == 0
    phone.get_by_label("Token name").fill("cora's script")
    phone.get_by_role("button", name="Create token").click()
    phone.wait_for_selector("#new-token:not([hidden])")
    secret = phone.locator("#new-token-value").input_value()
    assert secret.startswith("dgr_")
    assert "will not be shown again" in phone.locator("#new-token").inner_text()
    phone.wait_for_selector("#my-tokens-list tr[data-name=\"cora's script\"]")
    assert_accessible(phone, "settings (curator, token shown)")
    assert no_sideways_overflow(phone)
    phone.screenshot(path=str(shots / "settings-curator-390.png"), full_page=True)

    api = app.test_client()
    me = api.get(f"{API}/me", headers=bearer(secret))
    assert me.status_code == 200 and me.get_json()["role"] == "curator"
    assert api.patch(f"{API}/images/1", headers=bearer(secret),
                     json={"rating": 4}).status_code == 200

    # revoked after a confirmation: the API refuses it at once, and the list drops it
    phone.once("dialog", lambda dialog: dialog.accept())
    phone.get_by_role("button", name="Revoke token cora's script").click()
    phone.wait_for_selector("#my-tokens-list tr[data-name=\"cora's script\"]", state="detached")
    assert api.get(f"{API}/me", headers=bearer(secret)).status_code == 401

    # she changes her password on the screen; the old one no longer signs in
    phone.get_by_label("Current password").fill(PASSWORD)
    phone.get_by_label("New password", exact=True).fill(NEW_PASSWORD)
    phone.get_by_label("Repeat the new password").fill(NEW_PASSWORD)
    phone.get_by_role("button", name="Change password").click()
    phone.wait_for_function("() => document.querySelector('#password-status').textContent"
                            ".startsWith('Password changed')")
    other.close()

    # back with root: the admin's token list shows cora's revoked token
    page.set_viewport_size({"width": 1280, "height": 900})
    page.reload()
    row = page.locator("#all-tokens-list tr", has_text="cora's script")
    assert "revoked" in row.inner_text()
    assert_accessible(page, "settings (admin, after changes)")

    # root resets cora's password, makes her a viewer, then removes her
    page.get_by_role("button", name="Reset the password of cora").click()
    assert_accessible(page, "settings (reset dialog)")
    page.get_by_label("Their new password", exact=True).fill("reset by root!")
    page.get_by_label("Repeat their new password").fill("reset by root!")
    page.get_by_role("button", name="Set password").click()
    page.wait_for_function("() => document.querySelector('#people-status').textContent"
                           ".startsWith('Password of cora reset')")
    sign_in(app.test_client(), "cora", "reset by root!")
    page.get_by_label("Role of cora").select_option("viewer")
    page.wait_for_function("() => document.querySelector('#people-status').textContent"
                           " === 'cora is now a viewer.'")
    assert api.get(f"{API}/users", headers=bearer(make_user(app, "ada", "admin"))).get_json()[
        "items"][1]["role"] == "viewer"
    page.once("dialog", lambda dialog: dialog.accept())
    page.get_by_role("button", name="Remove cora").click()
    page.wait_for_selector("#people-list tr[data-name=cora]", state="detached")
    assert "cora" not in page.locator("#all-tokens-list").inner_text()  # her tokens went too


def test_a_viewer_sees_only_their_own_settings(app, live_server, browser_page, shots  # noqa: ANN001, F811
                                               ) -> None:
    make_user(app, "root", "admin")
    make_user(app, "vera", "viewer")
    page = browser_page
    browser_sign_in(page, live_server.url, "vera")
    page.goto(live_server.url + "/settings")
    page.wait_for_selector("#my-tokens-section")
    assert page.locator("#people-section").count() == 0
    assert page.locator("#all-tokens-section").count() == 0
    assert page.get_by_role("heading", name="People").count() == 0
    assert "vera-tests" in page.locator("#my-tokens-list").inner_text()
    assert_accessible(page, "settings (viewer)")

    # a wrong current password is said, next to the form, and changes nothing
    page.get_by_label("Current password").fill("not my password")
    page.get_by_label("New password", exact=True).fill(NEW_PASSWORD)
    page.get_by_label("Repeat the new password").fill("something else")
    page.get_by_role("button", name="Change password").click()
    assert page.locator("#password-status").inner_text() == "The two passwords differ."
    page.get_by_label("Repeat the new password").fill(NEW_PASSWORD)
    page.get_by_role("button", name="Change password").click()
    page.wait_for_function("() => document.querySelector('#password-status').textContent"
                           ".includes('current_password is wrong')")
    page.screenshot(path=str(shots / "settings-viewer-1280.png"), full_page=True)
    page.set_viewport_size({"width": 390, "height": 844})
    assert no_sideways_overflow(page)
    page.screenshot(path=str(shots / "settings-viewer-390.png"), full_page=True)
    sign_in(app.test_client(), "vera", PASSWORD)  # the old password still works


@pytest.mark.parametrize("role", ["viewer", "curator"])
def test_settings_is_in_the_nav_for_every_role(app, role) -> None:  # noqa: ANN001
    make_user(app, "someone", role)
    client = app.test_client()
    sign_in(client, "someone")
    assert 'href="/settings"' in client.get("/review").get_data(as_text=True)
