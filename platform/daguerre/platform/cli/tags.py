"""`daguerre tags list|add|remove`: the tags people set, and a look at the model's; `daguerre
tags learn|suggest|confirm|refuse`: personal tags learned from a few examples.

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


# -- few-shot personal tags: learn, suggest, confirm, refuse (services/tag_suggestions.py) -----


@tags.command("learn")
@click.argument("tag")
@click.option("--json", "as_json", is_flag=True,
              help="Print {tag, model_key, positives, negatives, trained_at, metrics, ...}.")
@click.pass_context
def tags_learn(ctx: click.Context, tag: str, as_json: bool) -> None:
    """Train TAG's classifier from the images a person tagged TAG (at least 5) against the
    images refused as its suggestions and a sample of the others, for the configured
    embedding model. Then `daguerre tags suggest TAG` finds the rest."""
    from daguerre.platform.services.tag_suggestions import learn

    out = learn(get_context(ctx), tag)
    if as_json:
        click.echo(json.dumps(out))
        return
    held = out["metrics"].get("held_out") or {}
    found = (f"; finds {held['recall']:.0%} of its examples when each is held out"
             if "recall" in held else "")
    click.echo(f"learned {out['tag']!r} from {out['positives']} tagged and "
               f"{out['negatives']} other images ({out['metrics'].get('refused', 0)} refused)"
               f"{found}")


@tags.command("suggest")
@click.argument("tag")
# Defaults and the largest limit are the service's (not repeated here, nor imported: --help
# stays fast); the service checks them and names the option.
@click.option("--min-probability", type=click.FloatRange(0.0, 1.0),
              help="Only images at least this likely (default 0.5).")
@click.option("--limit", type=click.IntRange(min=1),
              help="At most this many suggestions, best first (default 50).")
@click.option("--json", "as_json", is_flag=True,
              help="Print {tag, classifier, min_probability, limit, items: [{id, probability, "
                   "source, path, ...}]}.")
@click.pass_context
def tags_suggest(ctx: click.Context, tag: str, min_probability: float | None,
                 limit: int | None, as_json: bool) -> None:
    """Images that do not carry TAG yet, as TAG's classifier scores them, best first. They are
    suggestions (source `suggested`), not tags: confirm or refuse them."""
    from daguerre.platform.services.tag_suggestions import suggest

    out = suggest(get_context(ctx), tag, min_probability=min_probability, limit=limit)
    if as_json:
        click.echo(json.dumps(out))
        return
    if not out["items"]:
        click.echo(f"no suggestions for {out['tag']!r} at probability "
                   f"{out['min_probability']:g} or more")
    for item in out["items"]:
        where = f"{item['library']}:" if item["library"] else ""
        click.echo(f"#{item['id']:<7} {item['probability']:.3f}  {where}{item['path']}")


def _answer(ctx: click.Context, action: str, tag: str, image_ids: tuple[int, ...],
            as_json: bool) -> None:
    """Confirm or refuse; a retraining job it queues runs here when no worker serves its
    queue (as `daguerre restore` and the other job commands do)."""
    from daguerre.platform.jobs.registry import get_kind
    from daguerre.platform.services import tag_suggestions as service
    from daguerre.platform.services.jobs import Jobs
    from daguerre.platform.services.workers import live_for

    app = get_context(ctx)
    here = not live_for(app, get_kind(service.LEARN_KIND).queue)
    jobs = Jobs(app, send=(lambda _id, _queue: None) if here else None)
    out = getattr(service, action)(app, tag, list(image_ids), jobs=jobs)
    job = out["retrain"]
    if job is not None and here:
        import os
        import socket

        from daguerre.platform.jobs.runner import execute

        execute(app, job["id"], f"inline-{os.getpid()}@{socket.gethostname()}")
        out["retrain"] = job = Jobs(app).get(job["id"])
    if as_json:
        click.echo(json.dumps(out))
        return
    done = "confirmed" if action == "confirm" else "refused"
    click.echo(f"{done} {out[done]} image(s) for {out['tag']!r}")
    if job is None:
        return
    if not job["finished"]:
        click.echo(f"retraining {out['tag']!r}: job {job['id']} queued")
    elif job["status"] == "succeeded":
        click.echo(f"retrained {out['tag']!r} (job {job['id']})")
    else:
        click.echo(f"retraining {out['tag']!r} {job['status']} (job {job['id']}): "
                   f"{job['error'] or ''}", err=True)


@tags.command("confirm")
@click.argument("tag")
@click.argument("image_ids", type=int, nargs=-1, required=True)
@click.option("--json", "as_json", is_flag=True,
              help="Print {tag, confirmed, image_ids, retrain: job or null}.")
@click.pass_context
def tags_confirm(ctx: click.Context, tag: str, image_ids: tuple[int, ...],
                 as_json: bool) -> None:
    """Confirm suggestions: IMAGE_IDS get TAG as a person's tag. The classifier retrains (a
    job) when its examples changed."""
    _answer(ctx, "confirm", tag, image_ids, as_json)


@tags.command("refuse")
@click.argument("tag")
@click.argument("image_ids", type=int, nargs=-1, required=True)
@click.option("--json", "as_json", is_flag=True,
              help="Print {tag, refused, image_ids, retrain: job or null}.")
@click.pass_context
def tags_refuse(ctx: click.Context, tag: str, image_ids: tuple[int, ...],
                as_json: bool) -> None:
    """Refuse suggestions: IMAGE_IDS do not show TAG. They are never suggested again and
    teach the classifier what TAG is not (it retrains, as a job)."""
    _answer(ctx, "refuse", tag, image_ids, as_json)


def register(group: click.Group) -> None:
    group.add_command(tags)
