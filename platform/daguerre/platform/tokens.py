"""API tokens: create, verify, list and revoke. A token acts for one user and carries that user's
role (read at each request, so it follows the user; a removed user's tokens go with them).

A token is shown once, when it is created; the catalog keeps only its SHA-256, so a copy of the
database cannot be used to call the API. Tokens are 256 random bits (``secrets.token_urlsafe``)
with a ``dgr_`` prefix so they are easy to recognise in a config file or a leaked log; a fast,
unsalted hash is sound for secrets with that much entropy (there is nothing to brute-force).

Tokens made before users existed (``user_id`` NULL, see migration 0003) are refused until they are
re-created with ``--user``.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import select

from daguerre.platform.catalog.models import ApiToken, User, UserRole, iso, utcnow
from daguerre.platform.catalog.queries import as_id
from daguerre.platform.context import Context
from daguerre.platform.errors import Conflict, NotFound
from daguerre.platform.services.tags import check_name as check_any_name
from daguerre.platform.services.users import find_user

PREFIX = "dgr_"
#: ``last_used_at`` is written at most this often per token, so a busy client does not turn every
#: read request into a database write.
LAST_USED_RESOLUTION = timedelta(minutes=1)


@dataclass(frozen=True)
class TokenInfo:
    id: int
    name: str
    created_at: datetime
    last_used_at: datetime | None
    revoked: bool
    user_id: int | None
    user: str | None  # the user's name; None for a token made before users existed
    role: str | None  # the user's role, which the token carries

    def as_dict(self) -> dict[str, Any]:
        # iso(): with the UTC offset, which SQLite's naive datetimes lack
        return {"id": self.id, "name": self.name, "created_at": iso(self.created_at),
                "last_used_at": iso(self.last_used_at),
                "revoked": self.revoked, "user": self.user, "role": self.role}


def hash_token(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def _info(row: ApiToken, user: User | None) -> TokenInfo:
    return TokenInfo(row.id, row.name, row.created_at, row.last_used_at, row.revoked,
                     user.id if user else None, user.name if user else None,
                     UserRole(user.role).value if user else None)


def check_name(name: Any) -> str:
    """A token's name follows the rule of every other name (:func:`services.tags.check_name`:
    a string, trimmed, not blank, no control character, at most MAX_NAME_CHARS), which the
    OpenAPI document states as one pattern."""
    return check_any_name(name, field="name")


def create_token(ctx: Context, name: Any, user: str | int) -> tuple[TokenInfo, str]:
    """A new token named ``name`` acting for ``user`` (a name or id); returns its info and the
    secret (shown once, never stored)."""
    name = check_name(name)
    secret = PREFIX + secrets.token_urlsafe(32)
    with ctx.catalog.session() as s:
        owner = find_user(s, user)
        old = s.scalar(select(ApiToken).where(ApiToken.name == name))
        if old is not None and not old.revoked:
            raise Conflict(f"a token named {name!r} exists already (revoke it or pick another "
                           "name)", field="name", value=name)
        if old is not None:  # a revoked token's name may be reused: the old row goes
            s.delete(old)
            s.flush()
        row = ApiToken(name=name, token_hash=hash_token(secret), user_id=owner.id)
        s.add(row)
        s.flush()
        return _info(row, owner), secret


def verify_token(ctx: Context, token: str | None) -> TokenInfo | None:
    """The live token matching ``token``, or None (unknown, revoked, malformed, or of no
    user)."""
    if not token or not token.startswith(PREFIX) or len(token) > 200:
        return None
    digest = hash_token(token)
    with ctx.catalog.session() as s:
        found = s.execute(select(ApiToken, User).join(User, ApiToken.user_id == User.id)
                          .where(ApiToken.token_hash == digest)).first()
        if found is None:  # unknown, or its user is gone (or it predates users)
            return None
        row, owner = found
        # The lookup is by hash (an index probe); compare again in constant time anyway.
        if row.revoked or not hmac.compare_digest(row.token_hash, digest):
            return None
        now = utcnow()
        last = row.last_used_at
        if last is not None and last.tzinfo is None:  # SQLite hands naive datetimes back
            last = last.replace(tzinfo=now.tzinfo)
        if last is None or now - last > LAST_USED_RESOLUTION:
            row.last_used_at = now
        return _info(row, owner)


def list_tokens(ctx: Context, *, include_revoked: bool = True,
                user_id: int | None = None) -> list[TokenInfo]:
    """Every token, or only ``user_id``'s (a person's own, in Settings)."""
    with ctx.catalog.session() as s:
        query = (select(ApiToken, User).outerjoin(User, ApiToken.user_id == User.id)
                 .order_by(ApiToken.id))
        if not include_revoked:
            query = query.where(ApiToken.revoked.is_(False))
        if user_id is not None:
            query = query.where(ApiToken.user_id == user_id)
        return [_info(row, owner) for row, owner in s.execute(query)]


def revoke_token(ctx: Context, name_or_id: str | int, *, user_id: int | None = None
                 ) -> TokenInfo:
    """Revoke a token by name (or id; an int is an id only, as the API's paths give it); it
    stops working at once. Revoking twice is harmless. With ``user_id`` only that user's own
    token: another's is NotFound, as if it did not exist (a person may not learn of others')."""
    with ctx.catalog.session() as s:
        row = None
        if not isinstance(name_or_id, int):
            row = s.scalar(select(ApiToken).where(ApiToken.name == str(name_or_id)))
        if row is None and as_id(name_or_id) is not None:
            row = s.get(ApiToken, as_id(name_or_id))
        if row is not None and user_id is not None and row.user_id != user_id:
            row = None
        if row is None:
            raise NotFound(f"no token named {name_or_id!r} (see `daguerre tokens list`)",
                           field="token", value=name_or_id)
        row.revoked = True
        return _info(row, s.get(User, row.user_id) if row.user_id is not None else None)
