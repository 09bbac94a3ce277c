"""Collections: named, hand-picked sets of images (an album, a shortlist, a delivery).

The rules, the same from the CLI and the API:

* A collection's name follows the tag name rule (:func:`~.tags.check_name`) and is unique:
  a second collection with the same name, or a rename onto a taken name, is a Conflict.
* A collection is named by its id, or (from the command line) by its name
  (:func:`find_collection`).
* Adding or removing images names them by id; every id must be an image in the catalog
  (NotFound naming the first that is not). Adding an image that is already in it, or removing
  one that is not, changes nothing and is not an error.
* Counts and listings are of *active* images, as everywhere else: an image that goes missing
  stays in its collections and is back in the count when it is found again.
* Deleting a collection deletes only the collection: its images stay in the catalog, on disk
  and in their other collections.

* A collection's cover is its most recently added active image (its id, or None when it has
  none): computed, never stored, so it follows additions, removals and images going missing.

Shapes: a collection is ``{id, name, images, cover, created_at}``; a page of its images is
``{items, total, limit, offset}``, each item ``{id, library, path, width, height, format,
rating, review_state, added_at}``, the most recently added first.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from sqlalchemy import delete, func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from daguerre.platform.catalog.filters import page_of
from daguerre.platform.catalog.models import (
    Collection,
    CollectionImage,
    Image,
    ImageStatus,
    Library,
    iso,
)
from daguerre.platform.catalog.queries import find_named
from daguerre.platform.context import Context
from daguerre.platform.errors import Conflict
from daguerre.platform.services.tags import check_image_ids, check_name, require_images

# A collection page when the caller names no limit.
COLLECTION_PAGE = 50


def find_collection(session: Session, name_or_id: Any, *, field: str = "collection_id"
                    ) -> Collection:
    """The collection with id ``name_or_id`` (an int, or a string of digits), else the one with
    that name. NotFound naming ``field`` otherwise."""
    return find_named(session, Collection, name_or_id, what="collection", field=field,
                      listing="daguerre collections list")


def _count(session: Session, collection_ids: list[int]) -> dict[int, int]:
    return dict(session.execute(
        select(CollectionImage.collection_id, func.count())
        .join(Image, Image.id == CollectionImage.image_id)
        .where(CollectionImage.collection_id.in_(collection_ids),
               Image.status == ImageStatus.ACTIVE)
        .group_by(CollectionImage.collection_id)).all())


def _covers(session: Session, collection_ids: list[int]) -> dict[int, int]:
    # The first image of collection_images' order (the most recently added active image), one
    # correlated subquery per collection in a single statement.
    if not collection_ids:
        return {}
    newest = (select(CollectionImage.image_id)
              .join(Image, Image.id == CollectionImage.image_id)
              .where(CollectionImage.collection_id == Collection.id,
                     Image.status == ImageStatus.ACTIVE)
              .order_by(CollectionImage.added_at.desc(), CollectionImage.image_id.desc())
              .limit(1).correlate(Collection).scalar_subquery())
    rows = session.execute(select(Collection.id, newest)
                           .where(Collection.id.in_(collection_ids))).all()
    return {cid: cover for cid, cover in rows if cover is not None}


def _as_dict(c: Collection, images: int, cover: int | None) -> dict[str, Any]:
    return {"id": c.id, "name": c.name, "images": images, "cover": cover,
            "created_at": iso(c.created_at)}


def _one(session: Session, c: Collection) -> dict[str, Any]:
    return _as_dict(c, _count(session, [c.id]).get(c.id, 0), _covers(session, [c.id]).get(c.id))


def _check_free(session: Session, name: str, but: int | None = None) -> None:
    other = session.scalar(select(Collection.id).where(Collection.name == name))
    if other is not None and other != but:
        raise Conflict(f"a collection named {name!r} exists already (id {other})",
                       field="name", value=name)


def _flush(session: Session, name: str) -> None:
    # Two writers racing for one name: the unique index decides, and the loser hears why.
    try:
        session.flush()
    except IntegrityError:
        raise Conflict(f"a collection named {name!r} exists already", field="name",
                       value=name) from None


def create_collection(ctx: Context, name: Any) -> dict[str, Any]:
    """A new, empty collection named ``name``."""
    name = check_name(name)
    with ctx.catalog.session() as s:
        _check_free(s, name)
        c = Collection(name=name)
        s.add(c)
        _flush(s, name)
        return _one(s, c)


def list_collections(ctx: Context) -> list[dict[str, Any]]:
    """Every collection by name, with its count of active images and its cover."""
    with ctx.catalog.session() as s:
        rows = s.scalars(select(Collection).order_by(Collection.name, Collection.id)).all()
        ids = [c.id for c in rows]
        counts, covers = _count(s, ids), _covers(s, ids)
        return [_as_dict(c, counts.get(c.id, 0), covers.get(c.id)) for c in rows]


def get_collection(ctx: Context, collection: Any) -> dict[str, Any]:
    with ctx.catalog.session() as s:
        return _one(s, find_collection(s, collection))


def rename_collection(ctx: Context, collection: Any, new_name: Any) -> dict[str, Any]:
    """Rename a collection; renaming it to its own name changes nothing."""
    new_name = check_name(new_name)
    with ctx.catalog.session() as s:
        c = find_collection(s, collection)
        _check_free(s, new_name, but=c.id)
        c.name = new_name
        _flush(s, new_name)
        return _one(s, c)


def delete_collection(ctx: Context, collection: Any) -> dict[str, Any]:
    """Delete a collection (never its images); returns what it was."""
    with ctx.catalog.session() as s:
        c = find_collection(s, collection)
        out = _one(s, c)
        s.execute(delete(CollectionImage).where(CollectionImage.collection_id == c.id))
        s.delete(c)
        return out


def add_images(ctx: Context, collection: Any, image_ids: Any) -> dict[str, Any]:
    """Put images in a collection: ``{added, collection}``, ``added`` counting those that were
    not in it yet."""
    ids = check_image_ids(image_ids)
    with ctx.catalog.session() as s:
        c = find_collection(s, collection)
        require_images(s, ids)
        have = set(s.scalars(select(CollectionImage.image_id).where(
            CollectionImage.collection_id == c.id, CollectionImage.image_id.in_(ids))))
        new = [i for i in ids if i not in have]
        s.add_all(CollectionImage(collection_id=c.id, image_id=i) for i in new)
        s.flush()
        return {"added": len(new), "collection": _one(s, c)}


def remove_images(ctx: Context, collection: Any, image_ids: Any) -> dict[str, Any]:
    """Take images out of a collection: ``{removed, collection}``."""
    ids = check_image_ids(image_ids)
    with ctx.catalog.session() as s:
        c = find_collection(s, collection)
        require_images(s, ids)
        result = s.execute(delete(CollectionImage).where(
            CollectionImage.collection_id == c.id, CollectionImage.image_id.in_(ids)))
        return {"removed": int(result.rowcount or 0), "collection": _one(s, c)}


def collection_images(ctx: Context, collection: Any, params: Mapping[str, Any] | None = None
                      ) -> dict[str, Any]:
    """A page of a collection's active images, the most recently added first. ``params`` holds
    ``limit`` (default COLLECTION_PAGE) and ``offset``, as values or their text."""
    limit, offset = page_of(params or {}, default_limit=COLLECTION_PAGE)
    with ctx.catalog.session() as s:
        c = find_collection(s, collection)
        base = (select(CollectionImage, Image, Library)
                .join(Image, Image.id == CollectionImage.image_id)
                .outerjoin(Library, Library.id == Image.library_id)
                .where(CollectionImage.collection_id == c.id,
                       Image.status == ImageStatus.ACTIVE))
        total = s.scalar(select(func.count()).select_from(base.subquery()))
        rows = s.execute(base.order_by(CollectionImage.added_at.desc(),
                                       CollectionImage.image_id.desc())
                         .limit(limit).offset(offset)).all()
        items = [{"id": img.id, "library": lib.name if lib is not None else None,
                  "path": img.path, "width": img.width, "height": img.height,
                  "format": img.format, "rating": img.rating,
                  "review_state": str(img.review_state.value),
                  "added_at": iso(link.added_at)} for link, img, lib in rows]
    return {"items": items, "total": int(total or 0), "limit": limit, "offset": offset}
