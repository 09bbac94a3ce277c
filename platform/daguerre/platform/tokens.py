"""API tokens: create, verify, list and revoke.

A token is shown once, when it is created; the catalog keeps only its SHA-256, so a copy of the
database cannot be used to call the API. Tokens are 256 random bits (``secrets.token_urlsafe``)
with a ``dgr_`` prefix so they are easy to recognise in a config file or a leaked log; a fast,
unsalted hash is sound for secrets with that much entropy (there is nothing to brute-force).
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import select

from daguerre.platform.catalog.models import ApiToken, utcnow
from daguerre.platform.catalog.queries import as_id
from daguerre.platform.context import Context
from daguerre.platform.errors import BadInput, NotFound

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

    def as_dict(self) -> dict[str, Any]:
        return {"id": self.id, "name": self.name, "created_at": self.created_at.isoformat(),
                "last_used_at": self.last_used_at.isoformat() if self.last_used_at else None,
                "revoked": self.revoked}


def hash_token(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def _info(row: ApiToken) -> TokenInfo:
    return TokenInfo(row.id, row.name, row.created_at, row.last_used_at, row.revoked)


def check_name(name: str) -> str:
    name = (name or "").strip()
    if not name:
        raise BadInput("token name must not be empty")
    if len(name) > 200:
        raise BadInput(f"token name must be at most 200 characters, got {len(name)}")
    return name


def create_token(ctx: Context, name: str) -> tuple[TokenInfo, str]:
    """A new token named ``name``; returns its info and the secret (shown once, never stored)."""
    name = check_name(name)
    secret = PREFIX + secrets.token_urlsafe(32)
    with ctx.catalog.session() as s:
        old = s.scalar(select(ApiToken).where(ApiToken.name == name))
        if old is not None and not old.revoked:
            raise BadInput(f"a token named {name!r} exists already (revoke it or pick another name)")
        if old is not None:  # a revoked token's name may be reused: the old row goes
            s.delete(old)
            s.flush()
        row = ApiToken(name=name, token_hash=hash_token(secret))
        s.add(row)
        s.flush()
        return _info(row), secret


def verify_token(ctx: Context, token: str | None) -> TokenInfo | None:
    """The live token matching ``token``, or None (unknown, revoked or malformed)."""
    if not token or not token.startswith(PREFIX) or len(token) > 200:
        return None
    digest = hash_token(token)
    with ctx.catalog.session() as s:
        row = s.scalar(select(ApiToken).where(ApiToken.token_hash == digest))
        # The lookup is by hash (an index probe); compare again in constant time anyway.
        if row is None or row.revoked or not hmac.compare_digest(row.token_hash, digest):
            return None
        now = utcnow()
        last = row.last_used_at
        if last is not None and last.tzinfo is None:  # SQLite hands naive datetimes back
            last = last.replace(tzinfo=now.tzinfo)
        if last is None or now - last > LAST_USED_RESOLUTION:
            row.last_used_at = now
        return _info(row)


def list_tokens(ctx: Context, *, include_revoked: bool = True) -> list[TokenInfo]:
    with ctx.catalog.session() as s:
        query = select(ApiToken).order_by(ApiToken.id)
        if not include_revoked:
            query = query.where(ApiToken.revoked.is_(False))
        return [_info(r) for r in s.scalars(query)]


def revoke_token(ctx: Context, name_or_id: str | int) -> TokenInfo:
    """Revoke a token by name (or id); it stops working at once. Revoking twice is harmless."""
    with ctx.catalog.session() as s:
        row = s.scalar(select(ApiToken).where(ApiToken.name == str(name_or_id)))
        if row is None and as_id(name_or_id) is not None:
            row = s.get(ApiToken, as_id(name_or_id))
        if row is None:
            raise NotFound(f"no token named {name_or_id!r} (see `daguerre tokens list`)")
        row.revoked = True
        return _info(row)
