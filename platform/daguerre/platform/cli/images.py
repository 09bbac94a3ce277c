"""`daguerre images list|show|rate|review|bulk`: listing images, one image's provenance, curating it
(one image, or a selection at once).

Each command calls one function of :mod:`daguerre.platform.services.images` (``bulk``: of
:mod:`~daguerre.platform.services.curation`), the same ones ``/api/v1/images`` calls;
``--json`` prints the object the API returns, without its URLs.
"""

from __future__ import annotations

import json
from typing import Any

import click

from daguerre.platform.catalog.filters import MAX_RATING
from daguerre.platform.cli import get_context
from daguerre.platform.constants import IMAGE_STATUSES, MAX_OFFSET, MAX_PAGE, REVIEW_STATES

# The orders `images list` offers (the service's IMAGE_SORTS; spelt here so `--help` stays
# free of the service's imports, and checked equal by the tests).
IMAGE_SORTS = ("id", "adherence")

RATINGS = tuple(str(r) for r in range(MAX_RATING + 1)) + ("none",)


@click.group("images")
def images() -> None:
    """List images; show one with where it came from; rate it, approve or reject it."""


def _line(info: dict[str, Any]) -> str:
    rating = "unrated" if info["rating"] is None else f"rated {info['rating']}"
    where = f"{info['library']}:" if info["library"] else ""
    adherence = ("" if info.get("adherence") is None
                 else f", adherence {info['adherence']:.3f}")
    return (f"#{info['id']}  {where}{info['path']}\n  {info['origin']}, {info['status']}, "
            f"{info['width']}x{info['height']} {info['format'] or ''}, {rating}, "
            f"{info['review_state']}{adherence}")


@images.command("list")
@click.option("--library", "-l", help="Only this library (name or id).")
@click.option("--folder", help="Only images under this folder of their library.")
@click.option("--tag", help="Only images with this tag.")
@click.option("--min-rating", type=click.IntRange(0, MAX_RATING), help="Rated at least this.")
@click.option("--status", type=click.Choice(IMAGE_STATUSES), help="Default: active.")
@click.option("--review-state", type=click.Choice(REVIEW_STATES), help="Only this state.")
@click.option("--generated", is_flag=True, help="Only generated images (outputs of jobs).")
@click.option("--job", type=click.IntRange(1), help="Only the images this job made.")
@click.option("--sort", type=click.Choice(IMAGE_SORTS), default="id", show_default=True,
              help="adherence: best prompt adherence first (unscored last).")
@click.option("--limit", "-n", type=click.IntRange(1, MAX_PAGE), default=50, show_default=True)
@click.option("--offset", type=click.IntRange(0, MAX_OFFSET), default=0, show_default=True)
@click.option("--json", "as_json", is_flag=True, help="Print the page as a JSON object.")
@click.pass_context
def images_list(ctx: click.Context, as_json: bool, generated: bool, **options: Any) -> None:
    """Images in id order (or by --sort), filtered and paged as `GET /api/v1/images` does."""
    from daguerre.platform.services.images import list_images

    if generated:
        options["origin"] = "generated"
    found = list_images(get_context(ctx), options)
    if as_json:
        click.echo(json.dumps(found))
        return
    for info in found["items"]:
        click.echo(_line(info))
    shown = len(found["items"])
    click.echo(f"{shown} of {found['total']} image(s)"
               + (f" from #{found['offset'] + 1}" if found["offset"] else ""))


@images.command("show")
@click.argument("image_id", type=int)
@click.option("--json", "as_json", is_flag=True, help="Print a JSON object.")
@click.pass_context
def images_show(ctx: click.Context, image_id: int, as_json: bool) -> None:
    """IMAGE_ID's file, rating and review state, tags, what it was made from (parents, job,
    operation; --json adds the full parameters) and what was made from it."""
    from daguerre.platform.services.images import get_image

    info = get_image(get_context(ctx), image_id)
    if as_json:
        click.echo(json.dumps(info))
        return
    click.echo(_line(info))
    if info["tags"]:
        click.echo("  tags: " + ", ".join(t["name"] for t in info["tags"]))
    for row in info["lineage"]:
        parent = f"#{row['parent_id']}" if row["parent_id"] is not None else "nothing"
        click.echo(f"  made from {parent} by job {row['job_id']} ({row['operation']})")
    for row in info["derived"]:
        click.echo(f"  made into #{row['image_id']} by job {row['job_id']} ({row['operation']})")


@images.command("rate")
@click.argument("image_id", type=int)
@click.argument("rating", type=click.Choice(RATINGS))
@click.pass_context
def images_rate(ctx: click.Context, image_id: int, rating: str) -> None:
    """Set IMAGE_ID's rating, 0 to 5 (`none` clears it); search's --min-rating filters on it."""
    from daguerre.platform.services.images import curate

    now = curate(get_context(ctx), image_id, {"rating": None if rating == "none" else int(rating)})
    click.echo(f"#{now['id']}: " + ("unrated" if now["rating"] is None
                                    else f"rated {now['rating']}"))


@images.command("review")
@click.argument("image_id", type=int)
@click.argument("state", type=click.Choice(REVIEW_STATES))
@click.pass_context
def images_review(ctx: click.Context, image_id: int, state: str) -> None:
    """Approve or reject IMAGE_ID (or put it back to unreviewed)."""
    from daguerre.platform.services.images import curate

    now = curate(get_context(ctx), image_id, {"review_state": state})
    click.echo(f"#{now['id']}: {now['review_state']}")


@images.command("bulk")
@click.argument("image_ids", type=int, nargs=-1, required=True)
@click.option("--rating", type=click.Choice(RATINGS), help="Set the rating (`none` clears it).")
@click.option("--review", type=click.Choice(REVIEW_STATES), help="Set the review state.")
@click.option("--add-tag", "add_tags", multiple=True, help="Add this tag (repeatable).")
@click.option("--remove-tag", "remove_tags", multiple=True,
              help="Remove this tag, whoever set it (repeatable).")
@click.option("--json", "as_json", is_flag=True, help="Print {updated, ids} as JSON.")
@click.pass_context
def images_bulk(ctx: click.Context, image_ids: tuple[int, ...], rating: str | None,
                review: str | None, add_tags: tuple[str, ...], remove_tags: tuple[str, ...],
                as_json: bool) -> None:
    """Curate the images IMAGE_IDS at once, all or none (as `POST /api/v1/images/bulk`): an
    id that is not an active image changes nothing. Tags are removed before tags are added."""
    from daguerre.platform.services.curation import curate_many

    changes: dict[str, Any] = {}
    if rating is not None:
        changes["rating"] = None if rating == "none" else int(rating)
    if review is not None:
        changes["review_state"] = review
    if add_tags:
        changes["add_tags"] = list(add_tags)
    if remove_tags:
        changes["remove_tags"] = list(remove_tags)
    out = curate_many(get_context(ctx), list(image_ids), changes)
    click.echo(json.dumps(out) if as_json else f"updated {out['updated']} image(s)")


def register(group: click.Group) -> None:
    group.add_command(images)
