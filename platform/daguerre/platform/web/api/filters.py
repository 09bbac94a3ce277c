"""The catalog filters that image listings and searches share, read from request parameters.

``library`` (id or name), ``folder`` (path prefix inside the library), ``date_from``/``date_to``
(capture time, ISO dates), ``tag``, ``min_rating``, ``origin``, ``format``, ``min_width``,
``min_height``. Each is checked here, at the edge, with an error naming the parameter.
"""

from __future__ import annotations

from daguerre.platform.catalog.models import ImageOrigin
from daguerre.platform.search import SearchFilters
from daguerre.platform.search import apply_filters as apply_filters  # re-exported for listings
from daguerre.platform.web.params import Params

FILTER_NAMES = ("library", "folder", "date_from", "date_to", "tag", "min_rating", "origin",
                "format", "min_width", "min_height")
ORIGINS = tuple(o.value for o in ImageOrigin)
MAX_SIDE = 1_000_000

# The API names the capture-date range date_from/date_to; the search service calls it
# after/before. The filtering itself is the search service's, shared with the CLI.
ImageFilters = SearchFilters


def parse_filters(params: Params) -> SearchFilters:
    # A folder is a plain prefix of catalog paths (never opened as a path), and a date range
    # that ends before it starts is simply empty: both are answered, not refused.
    folder = params.string("folder", max_len=4096)
    folder = folder.strip("/") if folder is not None else None
    fmt = params.string("format", max_len=16)
    return SearchFilters(
        library=params.string("library", max_len=200),
        folder=folder or None,
        after=params.date("date_from"),
        before=params.date("date_to", end=True),
        tag=params.string("tag", max_len=200),
        min_rating=params.integer("min_rating", minimum=0, maximum=5),
        origin=params.choice("origin", ORIGINS),
        format=fmt.upper() if fmt else None,
        min_width=params.integer("min_width", minimum=0, maximum=MAX_SIDE),
        min_height=params.integer("min_height", minimum=0, maximum=MAX_SIDE),
    )


def filters_as_params(f: SearchFilters) -> dict[str, object]:
    """The active filters under their API names, for echoing back in responses."""
    names = {"after": "date_from", "before": "date_to"}
    return {names.get(k, k): (v.isoformat() if hasattr(v, "isoformat") else v)
            for k, v in f.active().items()}
