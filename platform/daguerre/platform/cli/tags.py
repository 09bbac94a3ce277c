"""`daguerre tags list|add|remove`: the tags people set, and a look at the model's.

The rules live in :mod:`daguerre.platform.services.tags`; ``--json`` prints the service's shapes,
the same the API returns.
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING

import click

from daguerre.platform.cli import get_context

if TYPE_CHECKING:
    from daguerre.platform.services.tags import TagChange


@click.group("tags")
def tags() -> None:
    """List and edit tags. Tags added here have source `user`; `daguerre classify` adds tags
    with source `model` and never changes or removes user tags. Removing a tag removes it
    whoever set it. Counts are of active images."""


@tags.command("list")
@click.argument("image_id", type=int, required=False)
# The service checks the source (importing the catalog's enums here would slow `--help`).
@click.option("--source", metavar="user|model",
              help="Only tags that this source set on at least one active image (listing "
                   "every tag; ignored with IMAGE_ID).")
@click.option("--json", "as_json", is_flag=True, help="Print a JSON list.")
@click.pass_context
def tags_list(ctx: click.Context, image_id: int | None, source: str | None,
              as_json: bool) -> None:
    """List every tag with its active image counts, or the tags of IMAGE_ID."""
    from daguerre.platform.services import tags as service

    app = get_context(ctx)
    if image_id is not None:
        rows = service.image_tags(app, image_id)
    else:
        rows = service.list_tags(app, source=source)
    if as_json:
        click.echo(json.dumps(rows))
        return
    if not rows:
        click.echo("no tags" + (f" on image {image_id}" if image_id is not None else ""))
    for r in rows:
        if image_id is not None:
            score = f" {r['score']:.2f}" if r["score"] is not None else ""
            click.echo(f"{r['name']}  ({r['source']}{score})")
        else:
            click.echo(f"{r['name']:<32} {r['images']:>6} images "
                       f"({r['user']} user, {r['model']} model)")


def _show(change: TagChange, as_json: bool, done: str) -> None:
    if as_json:
        click.echo(json.dumps(change.as_dict()))
    else:
        click.echo(done.format(n=change.changed, tag=change.tag))


@tags.command("add")
@click.argument("tag")
@click.argument("image_ids", type=int, nargs=-1, required=True)
@click.option("--json", "as_json", is_flag=True,
              help="Print {tag, changed, images: [{id, tags}]}.")
@click.pass_context
def tags_add(ctx: click.Context, tag: str, image_ids: tuple[int, ...], as_json: bool) -> None:
    """Add TAG to the images IMAGE_IDS (as a person's tag)."""
    from daguerre.platform.services.tags import add_tag

    _show(add_tag(get_context(ctx), tag, list(image_ids)), as_json, "tagged {n} image(s) {tag!r}")


@tags.command("remove")
@click.argument("tag")
@click.argument("image_ids", type=int, nargs=-1, required=True)
@click.option("--json", "as_json", is_flag=True,
              help="Print {tag, changed, images: [{id, tags}]}.")
@click.pass_context
def tags_remove(ctx: click.Context, tag: str, image_ids: tuple[int, ...],
                as_json: bool) -> None:
    """Remove TAG from the images IMAGE_IDS, whoever set it (a person or the model)."""
    from daguerre.platform.services.tags import remove_tag

    _show(remove_tag(get_context(ctx), tag, list(image_ids)), as_json,
          "removed {tag!r} from {n} image(s)")


def register(group: click.Group) -> None:
    group.add_command(tags)
