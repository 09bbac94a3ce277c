"""`daguerre tags list|add|remove`: the tags people set (and a look at the model's)."""

from __future__ import annotations

import json

import click

from daguerre.platform.cli import get_context


@click.group("tags")
def tags() -> None:
    """List and edit tags. Tags set here have source `user`; `daguerre classify` adds tags
    with source `model`, and never changes or removes user tags."""


@tags.command("list")
@click.argument("image_id", type=int, required=False)
@click.option("--json", "as_json", is_flag=True, help="Print a JSON list.")
@click.pass_context
def tags_list(ctx: click.Context, image_id: int | None, as_json: bool) -> None:
    """List every tag with its image counts, or the tags of IMAGE_ID."""
    from daguerre.platform import tagging

    app = get_context(ctx)
    rows = tagging.image_tags(app, image_id) if image_id is not None else tagging.list_tags(app)
    if as_json:
        click.echo(json.dumps(rows))
        return
    if not rows:
        click.echo("no tags" + (f" on image {image_id}" if image_id is not None else ""))
    for r in rows:
        if image_id is not None:
            score = f" {r['score']:.2f}" if r["score"] is not None else ""
            click.echo(f"{r['tag']}  ({r['source']}{score})")
        else:
            click.echo(f"{r['tag']:<32} {r['user']:>6} user {r['model']:>6} model")


@tags.command("add")
@click.argument("tag")
@click.argument("image_ids", type=int, nargs=-1, required=True)
@click.pass_context
def tags_add(ctx: click.Context, tag: str, image_ids: tuple[int, ...]) -> None:
    """Add TAG to the images IMAGE_IDS (as a person's tag)."""
    from daguerre.platform import tagging

    added = tagging.add_tag(get_context(ctx), tag, image_ids)
    click.echo(f"tagged {added} image(s) {tag!r}")


@tags.command("remove")
@click.argument("tag")
@click.argument("image_ids", type=int, nargs=-1, required=True)
@click.pass_context
def tags_remove(ctx: click.Context, tag: str, image_ids: tuple[int, ...]) -> None:
    """Remove TAG from the images IMAGE_IDS, whoever set it."""
    from daguerre.platform import tagging

    removed = tagging.remove_tag(get_context(ctx), tag, image_ids)
    click.echo(f"removed {tag!r} from {removed} image tag(s)")


def register(group: click.Group) -> None:
    group.add_command(tags)
