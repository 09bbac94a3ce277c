"""`daguerre search` and `daguerre similar`."""

from __future__ import annotations

import json

import click
from daguerre.platform.cli import get_context


def print_hits(hits: list, as_json: bool) -> None:
    if as_json:
        click.echo(json.dumps([h.as_dict() for h in hits]))
        return
    if not hits:
        click.echo("no results")
    for rank, h in enumerate(hits, 1):
        click.echo(f"{rank:>3}. {h.score:.4f}  #{h.id:<7} {h.path}")


@click.command("search")
@click.argument("text", required=False)
@click.option("--image", "image", type=click.Path(dir_okay=False),
              help="Search by an example image file instead of text.")
@click.option("--limit", "-n", default=10, show_default=True, type=click.IntRange(min=1))
@click.option("--json", "as_json", is_flag=True, help="Print a JSON list, best first.")
@click.pass_context
def search(ctx: click.Context, text: str | None, image: str | None, limit: int,
           as_json: bool) -> None:
    """Search indexed images by TEXT, or by an example image with --image."""
    from daguerre.platform import search as svc
    from daguerre.platform.errors import UserError

    if (text is None) == (image is None):
        raise UserError("give either TEXT or --image PATH")
    app = get_context(ctx)
    hits = svc.search_image(app, image, limit) if image else svc.search_text(app, text, limit)
    print_hits(hits, as_json)


@click.command("similar")
@click.argument("image_id", type=int)
@click.option("--limit", "-n", default=10, show_default=True, type=click.IntRange(min=1))
@click.option("--json", "as_json", is_flag=True, help="Print a JSON list, best first.")
@click.pass_context
def similar(ctx: click.Context, image_id: int, limit: int, as_json: bool) -> None:
    """Images most similar to the indexed image IMAGE_ID."""
    from daguerre.platform import search as svc

    print_hits(svc.similar(get_context(ctx), image_id, limit), as_json)


def register(group: click.Group) -> None:
    group.add_command(search)
    group.add_command(similar)
