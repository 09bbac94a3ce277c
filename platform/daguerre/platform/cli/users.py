"""`daguerre users create|list|remove|password|role`: the people who sign in to the dashboard.

The rules (names, roles, password length, the last admin) are :mod:`services.users`'. A password
is never an argument (it would sit in the shell history and in ``ps``): it is read from standard
input when that is not a terminal (``echo "$PW" | daguerre users create ann --role curator``), and
prompted for twice, hidden, when it is.
"""

from __future__ import annotations

import json
import sys

import click

from daguerre.platform.catalog.models import UserRole
from daguerre.platform.cli import get_context

ROLES = [r.value for r in UserRole]  # least first, as services.users ranks them


def read_password() -> str:
    """The new password: the first line of standard input, or typed twice at a terminal."""
    if not sys.stdin.isatty():
        line = sys.stdin.readline()
        return line[:-1] if line.endswith("\n") else line  # spaces are part of a password
    return click.prompt("Password", hide_input=True, confirmation_prompt=True)


@click.group("users")
def users() -> None:
    """Manage the people who sign in (roles: viewer, curator, admin)."""


@users.command("create")
@click.argument("name")
@click.option("--role", type=click.Choice(ROLES), required=True,
              help="viewer: browse, search, export; curator: also rate, review, tag, "
                   "collections and jobs; admin: also libraries, users and tokens.")
@click.pass_context
def users_create(ctx: click.Context, name: str, role: str) -> None:
    """Create the user NAME; the password is read from standard input or prompted for."""
    from daguerre.platform.services.users import create_user

    info = create_user(get_context(ctx), name, role, read_password())
    click.echo(f"created user {info.name!r} ({info.role}, id {info.id})")


@users.command("list")
@click.option("--json", "as_json", is_flag=True, help="Print a JSON list.")
@click.pass_context
def users_list(ctx: click.Context, as_json: bool) -> None:
    """List users and their roles."""
    from daguerre.platform.services.users import list_users

    rows = list_users(get_context(ctx))
    if as_json:
        click.echo(json.dumps([r.as_dict() for r in rows], indent=2))
        return
    if not rows:
        click.echo("no users yet: create one with `daguerre users create NAME --role admin`, "
                   "or open the dashboard")
    for r in rows:
        click.echo(f"{r.id:>4}  {r.name:<24} {r.role:<8} created {r.created_at:%Y-%m-%d}")


@users.command("remove")
@click.argument("name")
@click.pass_context
def users_remove(ctx: click.Context, name: str) -> None:
    """Remove the user NAME (or id) and their API tokens. The last admin cannot be removed."""
    from daguerre.platform.services.users import remove_user

    info = remove_user(get_context(ctx), name)
    click.echo(f"removed user {info.name!r} and their tokens")


@users.command("password")
@click.argument("name")
@click.pass_context
def users_password(ctx: click.Context, name: str) -> None:
    """Set a new password for NAME (or id); their signed-in sessions end."""
    from daguerre.platform.services.users import change_password

    info = change_password(get_context(ctx), name, read_password())
    click.echo(f"changed the password of {info.name!r}")


@users.command("role")
@click.argument("name")
@click.argument("role", type=click.Choice(ROLES))
@click.pass_context
def users_role(ctx: click.Context, name: str, role: str) -> None:
    """Give NAME (or id) the role ROLE. The last admin cannot be demoted."""
    from daguerre.platform.services.users import update_user

    info = update_user(get_context(ctx), name, role=role)
    click.echo(f"{info.name!r} now has the role {info.role}")


def register(group: click.Group) -> None:
    group.add_command(users)
