"""People who sign in: accounts, roles, passwords, sign-in and its rate limit.

The rules live here, for the CLI (``daguerre users``), the sign-in pages and the API tokens alike:

* roles, least first: **viewer** (browse, search, export), **curator** (and rate, review, tag,
  collections, run jobs), **admin** (and libraries, users, tokens); :func:`role_allows` ranks them;
* names follow the rule of every other name (:func:`services.tags.check_name`);
* passwords are hashed with argon2id (``argon2-cffi``'s defaults, RFC 9106's second recommended
  profile); only the hash is stored and a password is never logged nor echoed in an error;
* the last admin cannot be removed nor demoted (a catalog nobody may administer is a dead
  end), and an admin acting through the dashboard or the API cannot remove themself nor change
  their own role (another admin must: nobody locks themself out by a slip);
* changing one's own password needs the current one, checked like a sign-in (and counted
  against the same limit), so a session left open is not enough to take the account over;
* failed sign-ins are counted in the catalog per user name and per client address, so every
  web process sees the same counts; after :data:`MAX_FAILURES` within :data:`FAILURE_WINDOW`
  further attempts are refused (:class:`SignInLimited`) without looking at the password.
"""

from __future__ import annotations

import hashlib
import math
from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import cache
from typing import Any

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy import delete, func, select, text

from daguerre.platform.catalog.models import ApiToken, SignInFailure, User, UserRole, iso, utcnow
from daguerre.platform.catalog.queries import find_named
from daguerre.platform.context import Context
from daguerre.platform.errors import BadInput, Conflict, Forbidden
from daguerre.platform.services.tags import check_name

#: The roles, least first; a role may do everything the roles before it may.
ROLES: tuple[str, ...] = tuple(r.value for r in UserRole)
MIN_PASSWORD_CHARS = 8
# Hashing is deliberately slow; a megabyte "password" would only be a way to burn CPU.
MAX_PASSWORD_CHARS = 1024
MAX_FAILURES = 5
FAILURE_WINDOW = timedelta(minutes=5)

_hasher = PasswordHasher()  # argon2id


@cache
def _dummy_hash() -> str:
    """Verified against when the name is unknown, so a wrong name costs as long as a wrong
    password (made on first use: hashing at import would slow every command's start)."""
    return _hasher.hash("not a password of anyone")


class SignInLimited(Forbidden):
    """Too many failed sign-ins for this name or address: try again in ``retry_after`` s."""

    def __init__(self, message: str, *, retry_after: int) -> None:
        super().__init__(message)
        self.retry_after = retry_after


@dataclass(frozen=True)
class UserInfo:
    id: int
    name: str
    role: str
    created_at: datetime
    #: Changes whenever the password does: a session made before the change stops working.
    stamp: str

    def as_dict(self) -> dict[str, Any]:
        return {"id": self.id, "name": self.name, "role": self.role,
                "created_at": iso(self.created_at)}


def _info(row: User) -> UserInfo:
    stamp = hashlib.sha256(row.password_hash.encode()).hexdigest()[:16]
    return UserInfo(row.id, row.name, UserRole(row.role).value, row.created_at, stamp)


def check_role(role: Any, *, field: str = "role") -> str:
    if role not in ROLES:
        raise BadInput(f"{field} must be one of {', '.join(ROLES)}, got {role!r}", field=field,
                       value=role)
    return role


def role_allows(role: str, needed: str) -> bool:
    """Whether ``role`` may do what needs ``needed``."""
    return ROLES.index(role) >= ROLES.index(needed)


def check_password(password: Any, *, field: str = "password") -> str:
    """The password as given (never trimmed: spaces are part of it); BadInput without the value
    when it is not a string of MIN_PASSWORD_CHARS to MAX_PASSWORD_CHARS characters."""
    if not isinstance(password, str):
        raise BadInput(f"{field} is required", field=field)
    if len(password) < MIN_PASSWORD_CHARS:
        raise BadInput(f"{field} must be at least {MIN_PASSWORD_CHARS} characters", field=field)
    if len(password) > MAX_PASSWORD_CHARS:
        raise BadInput(f"{field} must be at most {MAX_PASSWORD_CHARS} characters", field=field)
    return password


def count_users(ctx: Context) -> int:
    with ctx.catalog.session() as s:
        return s.scalar(select(func.count(User.id))) or 0


def create_user(ctx: Context, name: Any, role: Any, password: Any, *,
                only_if_none: bool = False) -> UserInfo:
    """A new user. With ``only_if_none`` (the first-admin page), Conflict once any user
    exists."""
    name = check_name(name)
    role = check_role(role)
    digest = _hasher.hash(check_password(password))
    with ctx.catalog.session() as s:
        if only_if_none and s.get_bind().dialect.name == "postgresql":
            # Two first-admin forms sent at once must not both succeed: under READ COMMITTED
            # each would count no user. A transaction lock orders them (SQLite's writer lock
            # already does).
            s.execute(text("SELECT pg_advisory_xact_lock(hashtext('daguerre-first-admin'))"))
        if only_if_none and s.scalar(select(func.count(User.id))):
            raise Conflict("a user exists already: sign in, or ask an admin for an account")
        if s.scalar(select(User.id).where(User.name == name)) is not None:
            raise Conflict(f"a user named {name!r} exists already", field="name", value=name)
        row = User(name=name, role=UserRole(role), password_hash=digest)
        s.add(row)
        s.flush()
        return _info(row)


def find_user(session: Any, name_or_id: str | int, *, field: str = "user") -> User:
    return find_named(session, User, name_or_id, what="user", field=field,
                      listing="daguerre users list")


def get_user(ctx: Context, user_id: int) -> UserInfo | None:
    """The user with id ``user_id``, or None (the session's user may have been removed)."""
    with ctx.catalog.session() as s:
        row = s.get(User, user_id)
        return _info(row) if row is not None else None


def list_users(ctx: Context) -> list[UserInfo]:
    with ctx.catalog.session() as s:
        return [_info(r) for r in s.scalars(select(User).order_by(User.id))]


def _keep_an_admin(session: Any, row: User, change: str) -> None:
    """Conflict when ``row`` is the only admin: ``change`` (removing, demoting) would leave
    the catalog with none."""
    if row.role != UserRole.ADMIN:
        return
    admins = session.scalar(select(func.count(User.id)).where(User.role == UserRole.ADMIN))
    if admins <= 1:
        raise Conflict(f"{row.name!r} is the last admin: make another admin before {change} "
                       "them", field="user", value=row.name)


def remove_user(ctx: Context, name_or_id: str | int, *, acting: int | None = None) -> UserInfo:
    """Remove a user and their API tokens (which stop working at once). The last admin stays;
    ``acting`` (the id of the person asking, from the dashboard or the API) may not remove
    themself."""
    with ctx.catalog.session() as s:
        row = find_user(s, name_or_id)
        if acting is not None and row.id == acting:
            raise Conflict("you cannot remove yourself: another admin must", field="user",
                           value=row.name)
        _keep_an_admin(s, row, "removing")
        info = _info(row)
        # Explicit as well as ON DELETE CASCADE: a database without foreign keys enforced
        # must not keep tokens of nobody.
        s.execute(delete(ApiToken).where(ApiToken.user_id == row.id))
        s.delete(row)
        return info


def change_password(ctx: Context, name_or_id: str | int, password: Any) -> UserInfo:
    """Set a new password; the user's existing sessions stop working (their stamp changes)."""
    digest = _hasher.hash(check_password(password))
    with ctx.catalog.session() as s:
        row = find_user(s, name_or_id)
        row.password_hash = digest
        row.password_changed_at = utcnow()
        return _info(row)


def update_user(ctx: Context, name_or_id: str | int, *, role: Any = None, password: Any = None,
                acting: int | None = None) -> UserInfo:
    """Change a user's role and/or password, both or neither (all is checked before anything is
    written). The last admin keeps the role; ``acting`` may not change their own role. A new
    password ends the user's sessions (their stamp changes)."""
    if role is None and password is None:
        raise BadInput("give role or password (or both)", field="body")
    role = check_role(role) if role is not None else None
    digest = _hasher.hash(check_password(password)) if password is not None else None
    with ctx.catalog.session() as s:
        row = find_user(s, name_or_id)
        if role is not None and role != UserRole(row.role).value:
            if acting is not None and row.id == acting:
                raise Conflict("you cannot change your own role: another admin must",
                               field="role", value=role)
            _keep_an_admin(s, row, "demoting")
            row.role = UserRole(role)
        if digest is not None:
            row.password_hash = digest
            row.password_changed_at = utcnow()
        s.flush()
        return _info(row)


def change_own_password(ctx: Context, user_id: int, current: Any, new: Any, *,
                        address: str | None = None) -> UserInfo:
    """The signed-in person's new password: Forbidden naming ``current_password`` when the
    current one is wrong (checked as a sign-in is, under the same limit), BadInput naming
    ``new_password`` when the new one is not acceptable. Every session made before ends."""
    check_password(new, field="new_password")
    if not isinstance(current, str) or not current:
        raise BadInput("current_password is required", field="current_password")
    me = get_user(ctx, user_id)
    if me is None:
        raise Forbidden("your account no longer exists")
    if authenticate(ctx, me.name, current, address=address) is None:
        raise Forbidden("current_password is wrong", field="current_password")
    return change_password(ctx, user_id, new)


def _aware(value: datetime, now: datetime) -> datetime:
    return value if value.tzinfo is not None else value.replace(tzinfo=now.tzinfo)


def _failure_keys(name: str, address: str | None) -> list[str]:
    keys = ["user:" + " ".join(name.split()).casefold()[:250]]
    if address:
        keys.append("addr:" + address[:250])
    return keys


def _retry_after(session: Any, keys: list[str], now: datetime) -> int | None:
    """Seconds until a key under the limit frees up, or None when no key is over it."""
    wait = 0.0
    for key in keys:
        times = sorted(_aware(t, now) for t in session.scalars(
            select(SignInFailure.failed_at).where(SignInFailure.key == key,
                                                  SignInFailure.failed_at > now - FAILURE_WINDOW)))
        if len(times) >= MAX_FAILURES:
            # Below the limit again once enough of the oldest failures leave the window.
            frees_at = times[len(times) - MAX_FAILURES] + FAILURE_WINDOW
            wait = max(wait, (frees_at - now).total_seconds())
    return max(1, math.ceil(wait)) if wait > 0 else None


def authenticate(ctx: Context, name: Any, password: Any, *, address: str | None = None,
                 now: datetime | None = None) -> UserInfo | None:
    """The user whose name and password these are, or None. SignInLimited when this name or
    ``address`` failed MAX_FAILURES times within FAILURE_WINDOW (the password is not tried)."""
    if not isinstance(name, str) or not isinstance(password, str):
        return None
    now = now or utcnow()
    keys = _failure_keys(name, address)
    with ctx.catalog.session() as s:
        wait = _retry_after(s, keys, now)
        if wait is not None:
            raise SignInLimited(f"too many failed sign-ins: try again in {wait} s",
                                retry_after=wait)
        row = s.scalar(select(User).where(User.name == " ".join(name.split())))
        try:
            ok = len(password) <= MAX_PASSWORD_CHARS and _hasher.verify(
                row.password_hash if row is not None else _dummy_hash(), password)
        except (VerificationError, InvalidHashError):
            ok = False
        if not ok or row is None:
            s.execute(delete(SignInFailure).where(SignInFailure.failed_at < now - FAILURE_WINDOW))
            s.add_all(SignInFailure(key=k, failed_at=now) for k in keys)
            return None
        # A success clears the name's failures, not the address's: one valid account must not
        # reset the count of someone guessing others' passwords from the same address.
        s.execute(delete(SignInFailure).where(SignInFailure.key == keys[0]))
        if _hasher.check_needs_rehash(row.password_hash):
            row.password_hash = _hasher.hash(password)
        return _info(row)
