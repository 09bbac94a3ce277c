"""`daguerre collections create|list|rename|delete|add|remove|show`: hand-picked sets of images.

The rules live in :mod:`daguerre.platform.services.collections`; ``--json`` prints the service's
shapes, the same the API returns (less the API's file URLs). A collection is named by its name
or its id.
"""

from __future__ import annotations

import json
from typing import Any

import click

from daguerre.platform.cli import get_context

JSON_HELP = "Print the result as JSON."


def _echo(result: Any, as_json: bool, text: str) -> None:
    click.echo(json.dumps(result) if as_json else text)


def _summary(c: dict[str, Any]) -> str:
    return f"#{c['id']:<5} {c['name']}  ({c['images']} images)"


@click.group("collections")
def collections() -> None:
    """Collections: named sets of images (albums, shortlists). Names are unique; deleting a
    collection never deletes its images. Counts and listings are of active images."""


@collections.command("create")
@click.argument("name")
@click.option("--json", "as_json", is_flag=True, help=JSON_HELP)
@click.pass_context
def create(ctx: click.Context, name: str, as_json: bool) -> None:
    """Create an empty collection called NAME."""
    from daguerre.platform.services.collections import create_collection

    c = create_collection(get_context(ctx), name)
    _echo(c, as_json, f"created collection {_summary(c)}")


@collections.command("list")
@click.option("--json", "as_json", is_flag=True, help=JSON_HELP)
@click.pass_context
def list_(ctx: click.Context, as_json: bool) -> None:
    """List collections by name, with their image counts."""
    from daguerre.platform.services.collections import list_collections

    rows = list_collections(get_context(ctx))
    _echo(rows, as_json, "\n".join(_summary(c) for c in rows) or "no collections")


@collections.command("rename")
@click.argument("collection")
@click.argument("new_name")
@click.option("--json", "as_json", is_flag=True, help=JSON_HELP)
@click.pass_context
def rename(ctx: click.Context, collection: str, new_name: str, as_json: bool) -> None:
    """Rename COLLECTION (a name or an id) to NEW_NAME."""
    from daguerre.platform.services.collections import rename_collection

    c = rename_collection(get_context(ctx), collection, new_name)
    _echo(c, as_json, f"renamed collection {_summary(c)}")


@collections.command("delete")
@click.argument("collection")
@click.option("--json", "as_json", is_flag=True, help=JSON_HELP)
@click.pass_context
def delete(ctx: click.Context, collection: str, as_json: bool) -> None:
    """Delete COLLECTION; its images stay in the catalog and on disk."""
    from daguerre.platform.services.collections import delete_collection

    c = delete_collection(get_context(ctx), collection)
    _echo(c, as_json, f"deleted collection {_summary(c)}; its images are kept")


@collections.command("add")
@click.argument("collection")
@click.argument("image_ids", type=int, nargs=-1, required=True)
@click.option("--json", "as_json", is_flag=True, help=JSON_HELP)
@click.pass_context
def add(ctx: click.Context, collection: str, image_ids: tuple[int, ...], as_json: bool) -> None:
    """Add the images IMAGE_IDS to COLLECTION."""
    from daguerre.platform.services.collections import add_images

    out = add_images(get_context(ctx), collection, list(image_ids))
    _echo(out, as_json, f"added {out['added']} image(s) to {_summary(out['collection'])}")


@collections.command("remove")
@click.argument("collection")
@click.argument("image_ids", type=int, nargs=-1, required=True)
@click.option("--json", "as_json", is_flag=True, help=JSON_HELP)
@click.pass_context
def remove(ctx: click.Context, collection: str, image_ids: tuple[int, ...],
           as_json: bool) -> None:
    """Take the images IMAGE_IDS out of COLLECTION (the images themselves stay)."""
    from daguerre.platform.services.collections import remove_images

    out = remove_images(get_context(ctx), collection, list(image_ids))
    _echo(out, as_json, f"removed {out['removed']} image(s) from {_summary(out['collection'])}")


@collections.command("show")
@click.argument("collection")
@click.option("--limit", default=None, type=int,
              help="At most this many images (default 50, at most 500).")
@click.option("--offset", default=0, show_default=True, type=int, help="Images to skip.")
@click.option("--json", "as_json", is_flag=True, help="Print {items, total, limit, offset}.")
@click.pass_context
def show(ctx: click.Context, collection: str, limit: int | None, offset: int,
         as_json: bool) -> None:
    """List the images of COLLECTION, the most recently added first."""
    from daguerre.platform.services.collections import collection_images

    given = {"limit": limit, "offset": offset}
    page = collection_images(get_context(ctx), collection,
                             {k: v for k, v in given.items() if v is not None})
    lines = [f"#{i['id']:<7} {i['library'] or '-'}:{i['path']}  added {i['added_at']}"
             for i in page["items"]]
    shown = f"{offset + 1}-{offset + len(lines)} of " if lines else ""
    _echo(page, as_json, "\n".join([*lines, f"{shown}{page['total']} image(s)"]))


def register(group: click.Group) -> None:
    group.add_command(collections)
