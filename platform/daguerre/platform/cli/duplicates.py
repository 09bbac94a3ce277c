"""`daguerre duplicates` and `daguerre duplicates resolve`."""

from __future__ import annotations

import json

import click

from daguerre.indexer.duplicates import TIERS
from daguerre.platform.cli import get_context
from daguerre.platform.cli.progress import Progress


class _DefaultFind(click.Group):
    """`daguerre duplicates [OPTIONS]` finds; `daguerre duplicates resolve ...` resolves."""

    def parse_args(self, ctx: click.Context, args: list[str]) -> list[str]:
        if args in (["-h"], ["--help"]) or (args and args[0] in self.commands):
            return super().parse_args(ctx, args)
        return super().parse_args(ctx, ["find", *args])


@click.group("duplicates", cls=_DefaultFind, invoke_without_command=False)
def duplicates() -> None:
    """Find duplicate photos, in three separate tiers, and resolve them.

    \b
      exact    byte-identical files (same SHA-256)
      near     the same picture resized, re-compressed or slightly cropped
               (perceptual-hash distance)
      similar  different pictures that look alike (embedding cosine similarity);
               listed for review, never called duplicates

    Each group has a stable id and a suggested keeper (largest resolution, then oldest).
    `daguerre duplicates resolve GROUP --keep ID` marks the others as duplicates of the
    keeper and merges their tags and rating into it. Files are never deleted.
    """


@duplicates.command("find")
@click.option("--tier", "tiers", multiple=True, type=click.Choice(TIERS),
              help="Only this tier (repeatable; default: all three).")
@click.option("--library", "-l", help="Only this library (name or id).")
@click.option("--max-distance", type=click.IntRange(0, 64),
              help="Near tier: largest perceptual-hash distance in bits (default 8 of 64).")
@click.option("--threshold", type=click.FloatRange(-1.0, 1.0),
              help="Similar tier: smallest cosine similarity (default 0.9).")
@click.option("--json", "as_json", is_flag=True, help="Print a JSON list of groups.")
@click.option("--async", "run_async", is_flag=True,
              help="Queue a duplicates job for the workers and print its id.")
@click.pass_context
def find(ctx: click.Context, tiers: tuple[str, ...], library: str | None,
         max_distance: int | None, threshold: float | None, as_json: bool,
         run_async: bool) -> None:
    """List duplicate groups (this is what `daguerre duplicates` runs)."""
    from daguerre.platform.services.duplicates import find_duplicates

    if run_async:
        from daguerre.platform.cli.jobs import enqueue

        enqueue(get_context(ctx), "duplicates",
                {"tiers": list(tiers) or None, "library": library,
                 "max_distance": max_distance, "threshold": threshold}, as_json)
        return

    with Progress("duplicates", quiet=as_json, unit="img") as bar:
        groups = find_duplicates(get_context(ctx), tiers=tiers or TIERS,
                                 library=library, near_max_distance=max_distance,
                                 similar_min_cosine=threshold, progress=bar)
    if as_json:
        click.echo(json.dumps([g.as_dict() for g in groups]))
        return
    if not groups:
        click.echo("no duplicate groups")
    for g in groups:
        click.echo(f"{g.id}  {g.tier}  {len(g.members)} images, keep #{g.keeper}")
        for m in g.members:
            mark = "*" if m.id == g.keeper else " "
            click.echo(f"  {mark} #{m.id:<7} {m.width}x{m.height}  {m.path}")


@duplicates.command("resolve")
@click.argument("group")
@click.option("--keep", type=int, required=True, help="Id of the image to keep.")
@click.option("--json", "as_json", is_flag=True, help="Print the outcome as JSON.")
@click.pass_context
def resolve(ctx: click.Context, group: str, keep: int, as_json: bool) -> None:
    """Keep image --keep of GROUP; mark the others as its duplicates (files stay on disk)."""
    from daguerre.platform.services.duplicates import resolve as run

    out = run(get_context(ctx), group, keep)
    if as_json:
        click.echo(json.dumps(out))
        return
    click.echo(f"kept #{out['keeper']}; marked {len(out['duplicates'])} as duplicates "
               f"({', '.join('#' + str(i) for i in out['duplicates'])}); merged "
               f"{out['tags_merged']} tag(s)")


def register(group: click.Group) -> None:
    group.add_command(duplicates)
