"""`daguerre search` and `daguerre similar`."""

from __future__ import annotations

import json

import click

from daguerre.platform.catalog.filters import FILTER_NAMES, MAX_HITS, MAX_RATING, check_filters
from daguerre.platform.cli import get_context
from daguerre.platform.constants import IMAGE_ORIGINS, REVIEW_STATES

# The orders of a search (the service's SORTS; spelt here so `--help` imports no service).
SORTS = ("relevance", "date")


def print_hits(hits: list, as_json: bool, *, stop=None, offset: int = 0) -> None:  # noqa: ANN001
    """The hits, numbered from ``offset + 1``; then where a cut-off stopped (``stop``, a
    :class:`~daguerre.platform.services.search.Stop`): on stdout after the list, or on stderr
    with ``--json``, so stdout stays one JSON list."""
    if as_json:
        click.echo(json.dumps([h.as_dict() for h in hits]))
    else:
        if not hits:
            click.echo("no results")
        for rank, h in enumerate(hits, offset + 1):
            click.echo(f"{rank:>3}. {h.score:.4f}  #{h.id:<7} {h.path}")
    if stop is not None:
        click.echo(stop_line(stop), err=as_json)


def stop_line(stop) -> str:  # noqa: ANN001
    """Where a cut-off stopped, in one line."""
    where = (f"stopped at score {stop.score:.4f}" if stop.score is not None
             else "stopped before the first result")
    return (f"cutoff {stop.method}: {stop.kept} of {stop.ranked} ranked kept, {where}: "
            f"{stop.reason}")


def order_options(f):  # noqa: ANN001, ANN201 - a click decorator
    """``--cutoff`` and ``--sort``, shared by `search` and `similar`."""
    f = click.option("--sort", type=click.Choice(SORTS), default="relevance",
                     show_default=True,
                     help="Order of the results: by relevance, or by capture date (newest "
                          "first, undated last). With --cutoff, the kept results are ordered; "
                          "without, the 100 best.")(f)
    return click.option("--cutoff", metavar="auto|SCORE",
                        help="Stop where the results stop matching: auto reads where from "
                             "this query's own scores (the largest drop among its best "
                             "results); a number is a fixed minimum score. Says where it "
                             "stopped and why.")(f)


def filter_options(f):  # noqa: ANN001, ANN201 - a click decorator
    """The catalog filters shared by `search` and `similar`."""
    options = [
        click.option("--library", "-l", help="Only this library (name or id)."),
        click.option("--folder", help="Only images under this folder of their library "
                                      "(a path prefix, e.g. 2023/summer)."),
        click.option("--after", help="Captured on or after this date (2024-07-01, or "
                                     "2024-07-01T18:00)."),
        click.option("--before", help="Captured on or before this date (a bare date includes "
                                      "that whole day)."),
        click.option("--tag", help="Only images with this tag (set by a person or a model)."),
        click.option("--min-rating", type=click.IntRange(0, MAX_RATING),
                     help="Rated at least this."),
        click.option("--review", "review_state", type=click.Choice(REVIEW_STATES),
                     help="Only images in this review state."),
        click.option("--origin", type=click.Choice(IMAGE_ORIGINS),
                     help="Only images of this origin."),
        click.option("--format", "fmt", help="Only this file format (JPEG, PNG, WEBP, ...)."),
        click.option("--min-width", type=click.IntRange(min=0), help="At least this wide."),
        click.option("--min-height", type=click.IntRange(min=0), help="At least this tall."),
        click.option("--limit", "-n", default=10, show_default=True,
                     type=click.IntRange(1, MAX_HITS), help="Results per page."),
        click.option("--offset", default=0, show_default=True, type=click.IntRange(min=0),
                     help="Skip this many results (paging; the order is stable)."),
        click.option("--min-score", type=click.FloatRange(-1.0, 1.0),
                     help="Leave out results scoring below this cosine similarity."),
        click.option("--json", "as_json", is_flag=True,
                     help="Print a JSON list of objects (id, path, score, ...), best first."),
    ]
    for option in reversed(options):
        f = option(f)
    return f


# How each filter is named in a message here: its option (the error's field stays the filter's
# own name, which the API uses too).
OPTION_LABELS = {**{name: "--" + name.replace("_", "-") for name in FILTER_NAMES},
                 "date_from": "--after", "date_to": "--before", "review_state": "--review"}


def build_filters(library, folder, after, before, tag, min_rating, review_state,  # noqa: ANN001
                  origin, fmt, min_width, min_height):  # noqa: ANN001, ANN201
    """The options under the names the filters have everywhere, checked by the one rule."""
    return check_filters(
        {"library": library, "folder": folder, "date_from": after, "date_to": before,
         "tag": tag, "min_rating": min_rating, "review_state": review_state, "origin": origin,
         "format": fmt, "min_width": min_width, "min_height": min_height}, labels=OPTION_LABELS)


SEARCH_HELP = """Search indexed images by QUERY, or by an example image with --image.

\b
A query is a sum of weighted terms:
  daguerre search "a dog on a beach"
  daguerre search '"a beach" + "sunset" - "people"'
  daguerre search '"zebra" + "stripes":0.5'
  daguerre search '#1234 - "snow"'            (an indexed image, minus a concept)
  daguerre search 'photos/red-car.jpg + "at night"'

\b
  "text" or 'text'   a text term (quotes are optional for a single term)
  #ID                the indexed image with that id (left out of the results)
  path/to/file.jpg   an image file (a term ending in an image suffix, with
                     no spaces or with a /)
  + / -              add or subtract the next term (operators need a space
                     before them when terms are unquoted: black-and-white
                     is one word)
  term:W             weigh a term by W (e.g. "stripes":0.5); default 1

Each term is embedded and normalised, the weighted sum is normalised again, and
images are ranked by cosine similarity (the score shown). Filters narrow the
candidates before ranking, so a page is full whenever enough images match.
"""


@click.command("search", help=SEARCH_HELP)
@click.argument("query", nargs=-1)
@click.option("--image", "image", type=click.Path(dir_okay=False),
              help="Search by an example image file (added to QUERY when both are given).")
@filter_options
@order_options
@click.pass_context
def search(ctx: click.Context, query: tuple[str, ...], image: str | None, library: str | None,
           folder: str | None, after: str | None, before: str | None, tag: str | None,
           min_rating: int | None, review_state: str | None, origin: str | None,
           fmt: str | None, min_width: int | None, min_height: int | None, limit: int,
           offset: int, min_score: float | None, as_json: bool, cutoff: str | None,
           sort: str) -> None:
    from daguerre.platform.errors import BadInput
    from daguerre.platform.services import search as svc

    # Several arguments are joined: `daguerre search "a beach" + "sunset"` reaches us as
    # ['a beach', '+', 'sunset'], which joins into the bare-term query a beach + sunset.
    text = " ".join(query).strip()
    if not text and image is None:
        raise BadInput("give a QUERY or --image PATH (see `daguerre search --help`)",
                       field="query")
    filters = build_filters(library, folder, after, before, tag, min_rating, review_state,
                            origin, fmt, min_width, min_height)
    checked = svc.check_cutoff(cutoff, label="--cutoff")
    app = get_context(ctx)
    if image is not None and not text:
        def fetch(n: int, skip: int) -> list[svc.Hit]:
            return svc.search_image(app, image, n, offset=skip, filters=filters,
                                    min_score=min_score)
    else:
        def fetch(n: int, skip: int) -> list[svc.Hit]:
            return svc.search(app, text, limit=n, offset=skip, filters=filters,
                              min_score=min_score, images=[image] if image else [])
    page = svc.results(fetch, limit=limit, offset=offset, sort=sort, cutoff=checked)
    print_hits(page.hits, as_json, stop=page.cutoff, offset=offset)


@click.command("similar")
@click.argument("image_id", type=int)
@filter_options
@order_options
@click.pass_context
def similar(ctx: click.Context, image_id: int, library: str | None, folder: str | None,
            after: str | None, before: str | None, tag: str | None, min_rating: int | None,
            review_state: str | None, origin: str | None, fmt: str | None, min_width: int | None,
            min_height: int | None, limit: int, offset: int, min_score: float | None,
            as_json: bool, cutoff: str | None, sort: str) -> None:
    """Images most similar to the indexed image IMAGE_ID (itself left out)."""
    from daguerre.platform.services import search as svc

    filters = build_filters(library, folder, after, before, tag, min_rating, review_state,
                            origin, fmt, min_width, min_height)
    checked = svc.check_cutoff(cutoff, label="--cutoff")
    app = get_context(ctx)

    def fetch(n: int, skip: int) -> list[svc.Hit]:
        return svc.similar(app, image_id, n, offset=skip, filters=filters, min_score=min_score)

    page = svc.results(fetch, limit=limit, offset=offset, sort=sort, cutoff=checked)
    print_hits(page.hits, as_json, stop=page.cutoff, offset=offset)


def register(group: click.Group) -> None:
    group.add_command(search)
    group.add_command(similar)
