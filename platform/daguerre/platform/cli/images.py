"""`daguerre images show|rate|review`: one image's provenance, and curating it."""

from __future__ import annotations

import json

import click

from daguerre.platform.cli import get_context

REVIEW_CHOICES = ("approved", "rejected", "unreviewed")


@click.group("images")
def images() -> None:
    """Show an image with where it came from; rate it, approve or reject it."""


@images.command("show")
@click.argument("image_id", type=int)
@click.option("--json", "as_json", is_flag=True, help="Print a JSON object.")
@click.pass_context
def images_show(ctx: click.Context, image_id: int, as_json: bool) -> None:
    """IMAGE_ID's file, rating and review state, what it was made from (parents, job,
    operation; --json adds the full parameters) and what was made from it."""
    from daguerre.platform.curation import describe

    info = describe(get_context(ctx), image_id)
    if as_json:
        click.echo(json.dumps(info, default=str))
        return
    rating = "unrated" if info["rating"] is None else f"rated {info['rating']}"
    click.echo(f"#{info['id']}  {info['path']}")
    click.echo(f"  {info['origin']}, {info['status']}, {info['width']}x{info['height']} "
               f"{info['format'] or ''}, {rating}, {info['review_state']}")
    for row in info["lineage"]:
        parent = f"#{row['parent_id']}" if row["parent_id"] is not None else "nothing"
        click.echo(f"  made from {parent} by job {row['job_id']} ({row['operation']})")
    for row in info["derived"]:
        click.echo(f"  made into #{row['image_id']} by job {row['job_id']} ({row['operation']})")


@images.command("rate")
@click.argument("image_id", type=int)
@click.argument("rating", type=click.Choice(["0", "1", "2", "3", "4", "5", "none"]))
@click.pass_context
def images_rate(ctx: click.Context, image_id: int, rating: str) -> None:
    """Set IMAGE_ID's rating, 0 to 5 (`none` clears it); search's --min-rating filters on it."""
    from daguerre.platform.curation import curate

    now = curate(get_context(ctx), image_id, {"rating": None if rating == "none" else int(rating)})
    click.echo(f"#{now['id']}: " + ("unrated" if now["rating"] is None
                                    else f"rated {now['rating']}"))


@images.command("review")
@click.argument("image_id", type=int)
@click.argument("state", type=click.Choice(REVIEW_CHOICES))
@click.pass_context
def images_review(ctx: click.Context, image_id: int, state: str) -> None:
    """Approve or reject IMAGE_ID (or put it back to unreviewed)."""
    from daguerre.platform.curation import curate

    now = curate(get_context(ctx), image_id, {"review_state": state})
    click.echo(f"#{now['id']}: {now['review_state']}")


def register(group: click.Group) -> None:
    group.add_command(images)
