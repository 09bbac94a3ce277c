"""The settings screen, ``/settings``: one's own password and API tokens, and for an admin the
people who may sign in and every token.

Server-rendered from the services; the changes go through the JSON API (``/api/v1/me``,
``/api/v1/users``, ``/api/v1/tokens``) from ``static/settings.js``, which re-reads this page to
redraw a list after a change, so a list is rendered in one place only. The admin's sections are
left out for anyone else, and the API refuses them all the same.
"""

from __future__ import annotations

from flask import Blueprint, Flask, render_template

from daguerre.platform import tokens as tokens_svc
from daguerre.platform.services import users as users_svc
from daguerre.platform.web import get_context
from daguerre.platform.web.api import PREFIX
from daguerre.platform.web.auth import identity, requires

bp = Blueprint("settings_page", __name__)


@bp.get("/settings")
@requires("viewer")
def settings() -> str:
    ctx = get_context()
    who = identity()
    assert who is not None  # check_request let only a signed-in person this far
    is_admin = users_svc.role_allows(who.role, "admin")
    return render_template(
        "settings.html", api_prefix=PREFIX, me=who, is_admin=is_admin,
        roles=users_svc.ROLES, min_password=users_svc.MIN_PASSWORD_CHARS,
        my_tokens=tokens_svc.list_tokens(ctx, include_revoked=False, user_id=who.user_id),
        people=users_svc.list_users(ctx) if is_admin else [],
        all_tokens=tokens_svc.list_tokens(ctx) if is_admin else [])


def init_app(app: Flask) -> None:
    app.register_blueprint(bp)
