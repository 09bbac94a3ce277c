"""``/api/v1/me`` (the caller: their password and their own tokens), ``/api/v1/users`` and
``/api/v1/tokens`` (an admin's: everyone's accounts and tokens).

Thin: the rules (roles, password length, the last admin, nobody removing or demoting themself,
the current password checked like a sign-in) are :mod:`daguerre.platform.services.users`' and
:mod:`daguerre.platform.tokens`', shared with ``daguerre users`` and ``daguerre tokens``.

A wrong current password is ``403`` naming ``current_password`` (the caller is known but may not
do this), a weak new one ``400`` naming ``new_password``. Changing one's own password on a
session keeps that session signed in (with the new stamp) and ends every other one; a token is
not a session and keeps working.
"""

from __future__ import annotations

from typing import Any

from flask import Blueprint, Response, jsonify, request
from flask_login import login_user

from daguerre.platform import tokens as tokens_svc
from daguerre.platform.errors import BadInput, Forbidden
from daguerre.platform.services import users as service
from daguerre.platform.web import get_context
from daguerre.platform.web.auth import Identity, SessionUser, identity, requires
from daguerre.platform.web.params import json_body

bp = Blueprint("users", __name__)


def _me() -> Identity:
    who = identity()
    if who is None:  # check_request lets no one without a credential this far
        raise Forbidden("sign in first")
    return who


def _keep_session(who: Identity, info: service.UserInfo) -> None:
    """After the caller's own password changed on a session: sign this session in again under
    the new stamp, so only the *other* sessions end."""
    if who.via == "session" and info.id == who.user_id:
        login_user(SessionUser(info))


def _new_token(body: dict[str, Any], owner: int) -> tuple[Response, int]:
    info, secret = tokens_svc.create_token(get_context(), body.get("name"), owner)
    return jsonify({**info.as_dict(), "token": secret}), 201


@bp.get("/me")
@requires("viewer")
def me() -> Response:
    who = _me()
    return jsonify({"id": who.user_id, "name": who.name, "role": who.role})


@bp.post("/me/password")
@requires("viewer")
def my_password() -> Response:
    who = _me()
    body = json_body()
    info = service.change_own_password(get_context(), who.user_id, body.get("current_password"),
                                       body.get("new_password"), address=request.remote_addr)
    _keep_session(who, info)
    return jsonify(info.as_dict())


@bp.get("/me/tokens")
@requires("viewer")
def my_tokens() -> Response:
    rows = tokens_svc.list_tokens(get_context(), include_revoked=False, user_id=_me().user_id)
    return jsonify({"items": [r.as_dict() for r in rows]})


@bp.post("/me/tokens")
@requires("viewer")
def create_my_token() -> tuple[Response, int]:
    return _new_token(json_body(), _me().user_id)


@bp.delete("/me/tokens/<int:token_id>")
@requires("viewer")
def revoke_my_token(token_id: int) -> Response:
    info = tokens_svc.revoke_token(get_context(), token_id, user_id=_me().user_id)
    return jsonify(info.as_dict())


@bp.get("/users")
@requires("admin")
def list_users() -> Response:
    return jsonify({"items": [u.as_dict() for u in service.list_users(get_context())]})


@bp.post("/users")
@requires("admin")
def create_user() -> tuple[Response, int]:
    body = json_body()
    info = service.create_user(get_context(), body.get("name"), body.get("role"),
                               body.get("password"))
    return jsonify(info.as_dict()), 201


@bp.patch("/users/<int:user_id>")
@requires("admin")
def update_user(user_id: int) -> Response:
    who = _me()
    body = json_body()
    for field in ("role", "password"):
        if field in body and body[field] is None:  # leave it out to keep it; null is no value
            raise BadInput(f"{field} must not be null (leave it out to keep it)", field=field)
    info = service.update_user(get_context(), user_id, role=body.get("role"),
                               password=body.get("password"), acting=who.user_id)
    if body.get("password") is not None:
        _keep_session(who, info)
    return jsonify(info.as_dict())


@bp.delete("/users/<int:user_id>")
@requires("admin")
def remove_user(user_id: int) -> Response:
    info = service.remove_user(get_context(), user_id, acting=_me().user_id)
    return jsonify(info.as_dict())


@bp.get("/tokens")
@requires("admin")
def list_tokens() -> Response:
    return jsonify({"items": [r.as_dict() for r in tokens_svc.list_tokens(get_context())]})


@bp.delete("/tokens/<int:token_id>")
@requires("admin")
def revoke_token(token_id: int) -> Response:
    return jsonify(tokens_svc.revoke_token(get_context(), token_id).as_dict())


def init_app(api: Blueprint) -> None:
    api.register_blueprint(bp)
