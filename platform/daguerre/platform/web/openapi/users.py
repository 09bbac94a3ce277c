"""The document's people and tokens: the caller (``/me``: password, own tokens) and an admin's
``/users`` and ``/tokens``. Limits are read from the services (password length, roles, names)."""

from __future__ import annotations

from typing import Any

from daguerre.platform.services.users import MAX_PASSWORD_CHARS, MIN_PASSWORD_CHARS, ROLES
from daguerre.platform.web.openapi.common import (
    NAME,
    NULL_STR,
    STAMP,
    errors,
    json_body,
    json_response,
    operation,
    path_id,
    ref,
)

ROLE = {"type": "string", "enum": list(ROLES),
        "description": "viewer: browse, search, export; curator: also rate, review, tag, "
                       "collections, jobs; admin: also libraries, users, tokens"}
PASSWORD = {"type": "string", "minLength": MIN_PASSWORD_CHARS, "maxLength": MAX_PASSWORD_CHARS,
            "description": "never echoed, never logged; spaces count"}
USER_ID = path_id("user_id", "user")
TOKEN_ID = path_id("token_id", "token")

SCHEMAS: dict[str, Any] = {
    "Me": {
        "type": "object", "required": ["id", "name", "role"],
        "properties": {"id": {"type": "integer"}, "name": {"type": "string"}, "role": ROLE},
    },
    "User": {
        "type": "object", "required": ["id", "name", "role", "created_at"],
        "properties": {"id": {"type": "integer"}, "name": {"type": "string"}, "role": ROLE,
                       "created_at": STAMP},
    },
    "UserList": {
        "type": "object", "required": ["items"],
        "properties": {"items": {"type": "array", "items": ref("User")}},
    },
    "NewUser": {
        "type": "object", "required": ["name", "role", "password"],
        "properties": {"name": {**NAME, "description": "unique among users"}, "role": ROLE,
                       "password": PASSWORD},
    },
    "UserChange": {
        "type": "object",
        "description": "role, password or both; what is left out stays as it is",
        "anyOf": [{"required": ["role"]}, {"required": ["password"]}],
        "properties": {"role": ROLE, "password": PASSWORD},
    },
    "PasswordChange": {
        "type": "object", "required": ["current_password", "new_password"],
        "properties": {
            "current_password": {"type": "string", "minLength": 1,
                                 "description": "checked as a sign-in is: wrong is 403, and "
                                                "failures count against the sign-in limit"},
            "new_password": PASSWORD,
        },
    },
    "Token": {
        "type": "object",
        "required": ["id", "name", "created_at", "last_used_at", "revoked", "user", "role"],
        "properties": {
            "id": {"type": "integer"}, "name": {"type": "string"}, "created_at": STAMP,
            "last_used_at": {**STAMP, "description": "to the minute; null when never used"},
            "revoked": {"type": "boolean"},
            "user": {**NULL_STR, "description": "who it acts for (null: made before users "
                                                "existed, refused)"},
            "role": {"type": ["string", "null"], "enum": [*ROLES, None],
                     "description": "the user's role, which the token carries"},
        },
    },
    "TokenList": {
        "type": "object", "required": ["items"],
        "properties": {"items": {"type": "array", "items": ref("Token")}},
    },
    "TokenName": {
        "type": "object", "required": ["name"],
        "properties": {"name": {**NAME, "description": "unique among live tokens (a revoked "
                                                       "token's name may be reused)"}},
    },
    "NewToken": {
        "allOf": [ref("Token"), {
            "type": "object", "required": ["token"],
            "properties": {"token": {"type": "string", "pattern": "^dgr_",
                                     "description": "the secret: shown this once, only its "
                                                    "hash is kept"}}}],
    },
}


def paths() -> dict[str, Any]:
    return {
        "/me": {
            "get": operation("Who is calling: name and role", {
                "200": json_response(ref("Me"), "The caller"), **errors(401)}, tag="users"),
        },
        "/me/password": {
            "post": operation(
                "Change one's own password (the session stays signed in, the others end)", {
                    "200": json_response(ref("User"), "Changed"),
                    **errors(400, 401, 403, 415)},
                body=json_body("PasswordChange"), tag="users"),
        },
        "/me/tokens": {
            "get": operation("One's own live tokens", {
                "200": json_response(ref("TokenList"), "Oldest first"), **errors(401)},
                tag="tokens"),
            "post": operation("Create a token acting for oneself, with one's role", {
                "201": json_response(ref("NewToken"), "The token; its secret is shown once"),
                **errors(400, 401, 409, 415)}, body=json_body("TokenName"), tag="tokens"),
        },
        "/me/tokens/{token_id}": {
            "delete": operation("Revoke one of one's own tokens (it stops working at once)", {
                "200": json_response(ref("Token"), "Revoked (revoking twice is harmless)"),
                **errors(401, 404)}, params=[TOKEN_ID], tag="tokens"),
        },
        "/users": {
            "get": operation("Everyone who may sign in (admin)", {
                "200": json_response(ref("UserList"), "Oldest first"), **errors(401)},
                tag="users"),
            "post": operation("Add a person (admin)", {
                "201": json_response(ref("User"), "The new user"),
                **errors(400, 401, 409, 415)}, body=json_body("NewUser"), tag="users"),
        },
        "/users/{user_id}": {
            "patch": operation(
                "Change a person's role or reset their password (admin); the last admin "
                "keeps the role and nobody changes their own (409); a new password ends "
                "their sessions", {
                    "200": json_response(ref("User"), "The user as they are now"),
                    **errors(400, 401, 404, 409, 415)},
                params=[USER_ID], body=json_body("UserChange"), tag="users"),
            "delete": operation(
                "Remove a person and their tokens (admin); not the last admin, not oneself "
                "(409)", {
                    "200": json_response(ref("User"), "Removed"), **errors(401, 404, 409)},
                params=[USER_ID], tag="users"),
        },
        "/tokens": {
            "get": operation("Every token, revoked ones too, with its user (admin)", {
                "200": json_response(ref("TokenList"), "Oldest first"), **errors(401)},
                tag="tokens"),
        },
        "/tokens/{token_id}": {
            "delete": operation("Revoke anyone's token (admin)", {
                "200": json_response(ref("Token"), "Revoked (revoking twice is harmless)"),
                **errors(401, 404)}, params=[TOKEN_ID], tag="tokens"),
        },
    }
