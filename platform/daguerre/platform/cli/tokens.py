"""`daguerre tokens create|list|revoke`: API tokens for the JSON API; each acts for a user and
carries that user's role."""

from __future__ import annotations

import json

import click

from daguerre.platform.cli import get_context


@click.group("tokens")
def tokens() -> None:
    """Manage API tokens (send one as `Authorization: Bearer TOKEN`)."""


@tokens.command("create")
@click.argument("name")
@click.option("--user", "user", required=True,
              help="The user (name or id) the token acts for; it carries that user's role.")
@click.pass_context
def tokens_create(ctx: click.Context, name: str, user: str) -> None:
    """Create a token called NAME for a user and print it. It is shown only this once: only its
    hash is kept."""
    from daguerre.platform.tokens import create_token

    info, secret = create_token(get_context(ctx), name, user)
    click.echo(secret)
    click.echo(f"created token {info.name!r} (id {info.id}) for {info.user!r} ({info.role}); "
               "store it now, it cannot be shown again", err=True)


@tokens.command("list")
@click.option("--json", "as_json", is_flag=True, help="Print a JSON list.")
@click.pass_context
def tokens_list(ctx: click.Context, as_json: bool) -> None:
    """List tokens (names and dates; the secrets themselves are not stored)."""
    from daguerre.platform.tokens import list_tokens

    rows = list_tokens(get_context(ctx))
    if as_json:
        click.echo(json.dumps([r.as_dict() for r in rows], indent=2))
        return
    if not rows:
        click.echo("no tokens yet: create one with `daguerre tokens create NAME --user USER`")
    for r in rows:
        used = r.last_used_at.strftime("%Y-%m-%d %H:%M") if r.last_used_at else "never used"
        state = "revoked" if r.revoked else "active" if r.user else "refused"
        owner = f"{r.user} ({r.role})" if r.user else "no user: re-create with --user"
        click.echo(f"{r.id:>4}  {r.name:<24} {state:<8} {owner:<24} "
                   f"created {r.created_at:%Y-%m-%d}  {used}")


@tokens.command("revoke")
@click.argument("name")
@click.pass_context
def tokens_revoke(ctx: click.Context, name: str) -> None:
    """Revoke the token NAME (or its id); requests using it get 401 from now on."""
    from daguerre.platform.tokens import revoke_token

    info = revoke_token(get_context(ctx), name)
    click.echo(f"revoked token {info.name!r} (id {info.id})")


def register(group: click.Group) -> None:
    group.add_command(tokens)
