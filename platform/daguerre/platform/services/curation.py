"""Bulk curation: one change (rating, review state, tags to add or remove) applied to a
selection of images in one transaction.

The rules are those of one image, called rather than written again: what a rating or a review
state may be is :func:`~.images.check_changes`; tag names, "adding is a person's tag" and "a
person removing a tag removes it whoever set it" are :func:`~.tags.check_name`,
:func:`~.tags.add_user_tag` and :func:`~.tags.remove_any_tag`; the id list is
:func:`~.tags.check_image_ids` (at most ``MAX_IMAGE_IDS``). What bulk adds:

* **All or nothing.** Every id must be an *active* image (a missing, deleted or resolved
  duplicate is not on any screen a selection is made from): the first that is not refuses the
  whole batch (NotFound naming it) and nothing is changed. So does a tag to remove that none of
  the selected images carries.
* **Order.** Removals happen before additions, so a request that names a tag in both leaves it
  as a person's tag (the request is not refused: nothing in it is malformed).

Shape (the API returns it, ``daguerre images bulk --json`` prints it): ``{"updated": n,
"ids": [...]}``, the distinct ids in the order given.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from sqlalchemy import update

from daguerre.platform.catalog.models import Image
from daguerre.platform.context import Context
from daguerre.platform.errors import BadInput
from daguerre.platform.services.images import CURATED, check_changes
from daguerre.platform.services.tags import (
    add_user_tag,
    check_image_ids,
    check_name,
    remove_any_tag,
    require_images,
)

TAG_CHANGES = ("add_tags", "remove_tags")
CHANGES = (*CURATED, *TAG_CHANGES)
# Tags one request may add or remove (each list): a curator's handful, not a vocabulary.
MAX_BULK_TAGS = 50


def check_tag_list(names: Any, field: str) -> list[str]:
    """The distinct checked names of a list of tag names; BadInput naming ``field`` when it is
    not a non-empty list of at most MAX_BULK_TAGS valid names."""
    if isinstance(names, str | bytes) or not isinstance(names, Sequence):
        raise BadInput(f"{field} must be a list of tag names", field=field, value=names)
    if not names:
        raise BadInput(f"{field} must name at least one tag", field=field, value=[])
    if len(names) > MAX_BULK_TAGS:
        raise BadInput(f"{field} may name at most {MAX_BULK_TAGS} tags, got {len(names)}",
                       field=field)
    return list(dict.fromkeys(check_name(n, field=field) for n in names))


def check_bulk_changes(changes: Mapping[str, Any]) -> tuple[dict[str, Any], dict[str, list[str]]]:
    """(column values, tag lists) for ``changes``; BadInput naming the field for an unknown
    change, an empty request or a bad value."""
    unknown = sorted(set(changes) - set(CHANGES))
    if unknown:
        raise BadInput(f"{unknown[0]}: cannot be changed in bulk (only {', '.join(CHANGES)})",
                       field=unknown[0], value=changes[unknown[0]])
    if not changes:
        raise BadInput(f"nothing to change: give at least one of {', '.join(CHANGES)}",
                       field="body")
    columns = {k: v for k, v in changes.items() if k in CURATED}
    values = check_changes(columns) if columns else {}
    tags = {k: check_tag_list(changes[k], k) for k in TAG_CHANGES if k in changes}
    return values, tags


def curate_many(ctx: Context, ids: Any, changes: Mapping[str, Any]) -> dict[str, Any]:
    """Apply ``changes`` (``rating``, ``review_state``, ``add_tags``, ``remove_tags``) to the
    active images ``ids``, all or none: ``{"updated", "ids"}``."""
    image_ids = check_image_ids(ids, field="ids")
    values, tags = check_bulk_changes(changes)
    with ctx.catalog.session() as s:
        require_images(s, image_ids, field="ids", active=True)
        if values:
            s.execute(update(Image).where(Image.id.in_(image_ids)).values(**values))
        for name in tags.get("remove_tags", []):
            remove_any_tag(s, name, image_ids, field="remove_tags")
        for name in tags.get("add_tags", []):
            add_user_tag(s, name, image_ids)
    return {"updated": len(image_ids), "ids": image_ids}
