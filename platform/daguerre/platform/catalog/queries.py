"""Lookups every service shares: a library by name or id, an image by id, an image's file.

Each raises :class:`~daguerre.platform.errors.NotFound` naming the field and value, so a service
never writes its own "no such library" again, and the CLI and the API say the same thing.
"""

from __future__ import annotations

from pathlib import Path
from typing import TypeVar

from sqlalchemy import select
from sqlalchemy.orm import Session

from daguerre.platform.catalog.models import Image, ImageStatus, Library, Tag
from daguerre.platform.constants import MAX_ID
from daguerre.platform.errors import BadInput, NotFound

T = TypeVar("T")


def as_id(text: str | int) -> int | None:
    """``text`` as a catalog id when it is one (ASCII digits, at most MAX_ID), else None.
    (``str.isdigit`` alone admits ``"²"``, which ``int`` refuses.)"""
    if isinstance(text, bool):
        return None
    if isinstance(text, int):
        return text if 0 <= text <= MAX_ID else None
    text = text.strip()
    if text.isascii() and text.isdigit() and int(text) <= MAX_ID:
        return int(text)
    return None


def find_named(session: Session, model: type[T], name_or_id: str | int, *, what: str,
               field: str, listing: str) -> T:
    """The row of ``model`` (which has ``id`` and ``name``) with id ``name_or_id``, else the one
    with that name (whitespace runs collapsed); NotFound naming ``field`` and the command that
    lists them."""
    found = None
    row_id = as_id(name_or_id)
    if row_id is not None:
        found = session.get(model, row_id)
    if found is None and isinstance(name_or_id, str):
        name = " ".join(name_or_id.split())
        found = session.scalar(select(model).where(model.name == name))  # type: ignore[attr-defined]
    if found is None:
        raise NotFound(f"no {what} {str(name_or_id).strip()!r} (see `{listing}`)", field=field,
                       value=name_or_id)
    return found


def find_library(session: Session, name_or_id: str | int, *, field: str = "library") -> Library:
    """The library with id ``name_or_id`` (an int or a string of digits), else the one with
    that name."""
    return find_named(session, Library, name_or_id, what="library", field=field,
                      listing="daguerre library list")


def get_image(session: Session, image_id: int, *, field: str = "image_id",
              active: bool = False) -> Image:
    """Image ``image_id``; with ``active``, only an active one (others are NotFound too)."""
    if isinstance(image_id, bool) or not isinstance(image_id, int):
        raise BadInput(f"{field} must be an integer, got {image_id!r}", field=field,
                       value=image_id)
    img = session.get(Image, image_id) if 0 <= image_id <= MAX_ID else None
    if img is None or (active and img.status != ImageStatus.ACTIVE):
        what = "active image" if active else "image"
        raise NotFound(f"no {what} with id {image_id}", field=field, value=image_id)
    return img


def find_tag_id(session: Session, name: str, *, field: str = "tag") -> int:
    tag_id = session.scalar(select(Tag.id).where(Tag.name == name))
    if tag_id is None:
        raise NotFound(f"no tag {name!r} (see `daguerre tags list`)", field=field, value=name)
    return tag_id


def image_base(home: Path, library: Library | None) -> Path:
    """The folder an image's ``path`` is relative to: its library's root, or the data
    directory for uploaded and generated images."""
    return Path(library.root) if library is not None else Path(home)


def image_path(home: Path, image: Image, library: Library | None) -> str:
    """The absolute path of an image's file (not resolved; see files.inside for that)."""
    return str(image_base(home, library) / image.path)
