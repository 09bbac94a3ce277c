"""The filter panel the timeline and search screens share (``templates/_filters.html``).

The panel is a plain GET form, so its values live in the URL: a filtered view can be bookmarked,
shared and reloaded, and works without scripts. The values are checked by the one rule every
listing uses (:func:`daguerre.platform.catalog.filters.check_filters`); this module only gathers
what the form needs to offer (the libraries, the tags) and which filters are on.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from daguerre.platform.catalog.filters import FILTER_NAMES
from daguerre.platform.constants import IMAGE_ORIGINS, REVIEW_STATES
from daguerre.platform.context import Context
from daguerre.platform.services import collections as collections_svc
from daguerre.platform.services import libraries as libraries_svc
from daguerre.platform.services import tags as tags_svc

# Formats offered in the panel's list (any other can still be typed in the URL).
COMMON_FORMATS = ("JPEG", "PNG", "WEBP", "TIFF", "GIF", "BMP", "HEIC")


def filter_values(args: Mapping[str, Any]) -> dict[str, str]:
    """The filters present in a query string, as the text the person typed."""
    return {name: str(args[name]) for name in FILTER_NAMES if args.get(name) not in (None, "")}


def panel_context(ctx: Context, args: Mapping[str, Any]) -> dict[str, Any]:
    """What ``filter_panel`` renders: the current values, the choices, how many are on."""
    values = filter_values(args)
    return {
        "values": values,
        "active": len(values),
        "libraries": libraries_svc.library_names(ctx),
        "tags": [t["name"] for t in tags_svc.list_tags(ctx)],
        "origins": IMAGE_ORIGINS,
        "review_states": REVIEW_STATES,
        "formats": COMMON_FORMATS,
    }


def drop_boards(ctx: Context, can_curate: bool) -> list[dict[str, Any]]:
    """The boards a grid screen offers as drop targets (``templates/_board_drop.html``): only to
    a curator, who may add to them; nobody else pays for the query."""
    return collections_svc.list_collections(ctx) if can_curate else []
