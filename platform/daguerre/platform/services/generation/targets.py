"""Targets of a generator job, and the path safety of every file a job reads.

A target is ``#ID``, an image file or a folder; ``--library``/``--tag`` select more. Files and
folders must lie inside a library root (links resolved first) or under the data directory's
``outputs/``: a client can never make a worker read an arbitrary file. :func:`source_path` keeps
the same rule for an image that is already in the catalog.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

from sqlalchemy import select

from daguerre.platform.catalog.models import Image, ImageStatus, ImageTag, Library
from daguerre.platform.catalog.queries import (
    as_id,
    find_library,
    find_tag_id,
    get_image,
    image_base,
)
from daguerre.platform.context import Context
from daguerre.platform.errors import BadInput, Conflict, NotFound
from daguerre.platform.files import is_inside
from daguerre.platform.services.indexing import scan_library

MAX_TARGETS = 100_000

SkipFn = Callable[[str, str], None]
"""``on_skip(path, reason)`` for a file in a folder target that could not be added to the catalog."""


def _library_roots(ctx: Context) -> list[tuple[int, Path]]:
    with ctx.catalog.session() as s:
        rows = s.execute(select(Library.id, Library.root)).all()
    return [(lib_id, Path(root).resolve()) for lib_id, root in rows]


def resolve_targets(ctx: Context, targets: Iterable[str] = (), *, library: str | int | None = None,
                    tag: str | None = None, on_skip: SkipFn | None = None) -> list[int]:
    """Catalog ids of the images that ``targets`` and the ``library``/``tag`` selection name.

    Library files the catalog does not know yet are added to it first (decoded and thumbnailed,
    embedded at the next index: see :func:`~daguerre.platform.services.indexing.catalog_files`),
    so restoring a scan never waits for CLIP weights or a full index. Raises BadInput naming the
    target that is wrong; in a folder, an unreadable file is reported to ``on_skip`` and the
    others go on.
    """
    ids: list[int] = []
    roots = None
    for target in targets:
        text = str(target).strip()
        if text.startswith("#"):
            ids.append(_image_id(ctx, text))
            continue
        if roots is None:
            roots = _library_roots(ctx)
        ids.extend(_path_target(ctx, text, roots, on_skip or (lambda path, reason: None)))
    if library is not None or tag is not None:
        ids.extend(select_images(ctx, library, tag))
    out = list(dict.fromkeys(ids))
    if not out:
        raise BadInput("no images to work on: name image files, folders, #IDs, --library or --tag",
                       field="targets", value=list(targets))
    if len(out) > MAX_TARGETS:
        raise BadInput(f"too many images ({len(out)}); at most {MAX_TARGETS} per job",
                       field="targets", value=len(out))
    return out


def _image_id(ctx: Context, text: str) -> int:
    digits = text[1:]
    if as_id(digits) is None:
        raise BadInput(f"target {text!r}: expected #ID with a numeric catalog id",
                       field="targets", value=text)
    try:
        with ctx.catalog.session() as s:
            return get_image(s, int(digits), field="targets", active=True).id
    except NotFound as exc:
        raise NotFound(f"target {text}: {exc}", field="targets", value=text) from None


def _refuse(text: str, reason: str) -> BadInput:
    return BadInput(f"target {text!r}{reason}", field="targets", value=text)


def _path_target(ctx: Context, text: str, roots: list[tuple[int, Path]], on_skip: SkipFn) -> list[int]:
    raw = Path(text).expanduser()
    if not raw.exists():
        raise _refuse(text, ": no such file or folder")
    path = raw.resolve()
    where: tuple[int | None, Path] | None = None
    for lib_id, root in roots:
        if is_inside(path, root) and (where is None or len(str(root)) > len(str(where[1]))):
            where = (lib_id, root)
    if where is None and is_inside(path, ctx.settings.outputs_dir.resolve()):
        where = (None, ctx.settings.home.resolve())
    if where is None:
        raise _refuse(text, " is outside every library: only images in a library (or outputs "
                            "under the data directory) can be used; add its folder with "
                            "`daguerre library add`")
    lib_id, base = where
    rel = path.relative_to(base).as_posix()
    with ctx.catalog.session() as s:
        query = select(Image.path, Image.id, Image.status)
        query = query.where(Image.library_id.is_(None) if lib_id is None
                            else Image.library_id == lib_id)
        if path.is_dir():
            if rel != ".":
                query = query.where(Image.path.startswith(rel.rstrip("/") + "/", autoescape=True))
        else:
            query = query.where(Image.path == rel)
        rows = s.execute(query).all()
    # Retired images (deleted, resolved duplicates) are not brought back by naming their folder.
    known = {p: (i if st == ImageStatus.ACTIVE else None)
             for p, i, st in rows if st != ImageStatus.MISSING}
    if path.is_dir():
        return _folder_target(ctx, text, path, lib_id, base, rel, known, on_skip)
    if rel in known:
        if known[rel] is None:
            raise _refuse(text, " was retired in the catalog (deleted or a resolved duplicate)")
        return [known[rel]]
    if lib_id is None:
        raise _refuse(text, " is not in the catalog")
    from daguerre.indexer.decode import IMAGE_SUFFIXES

    if path.suffix.lower() not in IMAGE_SUFFIXES:
        raise _refuse(text, f" is not an image file (suffix {path.suffix or 'none'!r})")
    added = _catalog(ctx, lib_id, [rel], text)
    if added.failures:
        raise _refuse(text, f": {added.failures[0][1]}")
    return list(added.ids.values())


def _folder_target(ctx: Context, text: str, path: Path, lib_id: int | None, base: Path, rel: str,
                   known: dict[str, int | None], on_skip: SkipFn) -> list[int]:
    new: list[str] = []
    if lib_id is not None:
        scanned, refused = scan_library(path, boundary=base)
        for file_rel, reason in refused:
            on_skip(str(path / file_rel), reason)
        prefix = "" if rel == "." else rel.rstrip("/") + "/"
        new = [prefix + f.rel for f in scanned if prefix + f.rel not in known]
    found = {p: i for p, i in known.items() if i is not None}
    if len(found) + len(new) > MAX_TARGETS:
        raise _refuse(text, f" holds {len(found) + len(new)} images; at most {MAX_TARGETS} "
                            "per job")
    if new and lib_id is not None:
        added = _catalog(ctx, lib_id, new, text)
        for file_rel, reason in added.failures:
            on_skip(str(base / file_rel), reason)
        found.update(added.ids)
    if not found:
        raise _refuse(text, ": no images in this folder")
    return [found[p] for p in sorted(found)]


def _catalog(ctx: Context, lib_id: int, rels: list[str], text: str) -> Any:
    from daguerre.platform.services.indexing import catalog_files

    try:
        return catalog_files(ctx, lib_id, rels)
    except Conflict as exc:
        raise Conflict(f"target {text!r}: {exc}", field="targets", value=text) from None


def select_images(ctx: Context, library: str | int | None, tag: str | None) -> list[int]:
    """Active images of ``library`` (name or id) with ``tag``, either optional. NotFound names
    the library or tag that does not exist; BadInput says the selection is empty."""
    with ctx.catalog.session() as s:
        query = select(Image.id).where(Image.status == ImageStatus.ACTIVE)
        if library is not None:
            lib = find_library(s, library, field="library")
            query = query.where(Image.library_id == lib.id)
        if tag is not None:
            tag_id = find_tag_id(s, tag, field="tag")
            query = query.where(Image.id.in_(select(ImageTag.image_id)
                                             .where(ImageTag.tag_id == tag_id)))
        found = list(s.scalars(query.order_by(Image.id)))
    if not found:
        raise BadInput("the --library/--tag selection matches no active images",
                       field="library" if library is not None else "tag",
                       value=library if library is not None else tag)
    return found


def source_path(ctx: Context, image_id: int, field: str = "image_id") -> Path:
    """The file of catalog image ``image_id``; refused unless it resolves inside its library
    root (or the data directory for generated and uploaded images)."""
    with ctx.catalog.session() as s:
        img = get_image(s, image_id, field=field)
        if img.status != ImageStatus.ACTIVE:
            raise BadInput(f"image {image_id} is {img.status.value}, not active", field=field,
                           value=image_id)
        lib = s.get(Library, img.library_id) if img.library_id is not None else None
        base = image_base(ctx.settings.home, lib).resolve()
        path = (base / img.path).resolve()
    if not is_inside(path, base):
        raise BadInput(f"image {image_id}: its file resolves outside {base}; refused",
                       field=field, value=image_id)
    return path
