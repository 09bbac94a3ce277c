"""Libraries: the read-only folders of photos the catalog indexes, and their whole lifecycle.

This module owns every rule about a library, for the CLI (``daguerre library ...``) and the API
(``/api/v1/libraries``) alike: which folders may become a library (resolved first, an existing
folder, not a system folder, not inside the data directory), what a name may be, and what
adding, listing, renaming, moving and removing one does to the catalog, the vector stores and the
thumbnails. Originals under a library root are never written, moved or deleted by anything here.

Every function returns plain dicts (the shapes the API and ``--json`` print) and raises only the
errors of :mod:`daguerre.platform.errors`.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any

from sqlalchemy import delete, func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from daguerre.platform.catalog.models import (
    Image,
    ImageStatus,
    IndexFailure,
    Library,
    Lineage,
    iso,
)
from daguerre.platform.catalog.queries import find_library
from daguerre.platform.constants import MAX_ID, MAX_PATH_CHARS
from daguerre.platform.context import Context
from daguerre.platform.errors import BadInput, Conflict, Forbidden, NotFound, Unavailable
from daguerre.platform.files import is_inside, resolve_inside
from daguerre.platform.services.tags import check_name

if TYPE_CHECKING:
    from daguerre.platform.vectors.backend import VectorBackend

# Folders that hold the operating system: indexing one exposes system files through the API's
# original-file endpoint, so they are refused outright. The first set is refused only as the
# root itself (a photo folder may well live under /home or /var/lib); below the second, no
# folder is ever a photo library (kernel and device views, configuration, boot files).
SYSTEM_FOLDERS = frozenset({
    "/", "/bin", "/boot", "/dev", "/etc", "/home", "/lib", "/lib32", "/lib64", "/libx32",
    "/media", "/mnt", "/opt", "/proc", "/root", "/run", "/sbin", "/snap", "/srv", "/sys",
    "/tmp", "/usr", "/var", "/private", "/private/etc", "/private/tmp", "/private/var",
    "/System", "/Library", "/Applications", "/Users", "/Volumes",
})
SYSTEM_TREES = ("/proc", "/sys", "/dev", "/etc", "/boot", "/run", "/private/etc")

# A lease owner that never passes for a dead local process (its last part is not a pid), so an
# indexer of this same process is refused too while a library is being removed or moved.
_OWNER_SUFFIX = "library-admin"
# Rows per IN (...) list: SQLite's limit on bound parameters is far above this.
_CHUNK = 500


def library_info(lib: Library, images: int) -> dict[str, Any]:
    """A library as the API and ``--json`` show it; ``images`` counts its active images."""
    return {"id": lib.id, "name": lib.name, "root": lib.root, "images": images,
            "created_at": iso(lib.created_at), "last_indexed_at": iso(lib.last_indexed_at)}


def _active_counts(session: Session, library_id: int | None = None) -> dict[int, int]:
    query = (select(Image.library_id, func.count()).where(Image.status == ImageStatus.ACTIVE)
             .group_by(Image.library_id))
    if library_id is not None:
        query = query.where(Image.library_id == library_id)
    return dict(session.execute(query).all())


def _field(ref: str | int) -> str:
    """The input a library reference came in: the API's path id or the CLI's argument."""
    return "library_id" if isinstance(ref, int) else "library"


def _load(session: Session, ref: str | int) -> Library:
    """The library ``ref`` names: an int is an id (the API's ``library_id``), a string a name
    or an id (the CLI's argument)."""
    if isinstance(ref, int) and not isinstance(ref, bool):
        lib = session.get(Library, ref) if 0 <= ref <= MAX_ID else None
        if lib is None:
            raise NotFound(f"no library with id {ref}", field="library_id", value=ref)
        return lib
    return find_library(session, ref, field="library")


# ------------------------------------------------------------------------------ the rules

def is_system_folder(root: Path) -> bool:
    """Whether the resolved folder ``root`` belongs to the operating system."""
    text = str(root)
    top_lib = root.parent == Path("/") and root.name.startswith("lib")  # /lib, /lib64, ...
    return text in SYSTEM_FOLDERS or top_lib or any(is_inside(text, t) for t in SYSTEM_TREES)


def check_root(ctx: Context, path: Any, *, field: str = "path") -> Path:
    """The folder ``path`` names, resolved (links and ``..`` followed, so
    ``photos/../../../etc`` is ``/etc``), when it may become a library root.

    ``path`` must be absolute (``~`` is expanded): a relative one means nothing on a server;
    the CLI makes it absolute against the user's working folder first."""
    if not isinstance(path, str):
        raise BadInput(f"{field} must be a string, got {path!r}", field=field, value=path)
    if not path.strip() or "\x00" in path or len(path) > MAX_PATH_CHARS:
        raise BadInput(f"{field} must be a folder path of 1 to {MAX_PATH_CHARS} characters "
                       f"without NUL", field=field, value=path)
    raw = Path(path).expanduser()
    if not raw.is_absolute():
        raise BadInput(f"{field} must be an absolute path on the server, got {path!r}",
                       field=field, value=path)
    try:
        root = raw.resolve(strict=True)
    except (OSError, RuntimeError):
        raise NotFound(f"{field} {path!r} does not exist", field=field, value=path) from None
    if not root.is_dir():
        raise NotFound(f"{field} {path!r} is not a folder", field=field, value=path)
    # A well-formed path to a place no library may be is forbidden, not malformed (403).
    if is_system_folder(root):
        raise Forbidden(f"{field} {path!r} is the system folder {root}: a library must be a "
                       f"folder of photos", field=field, value=path)
    home = Path(ctx.settings.home).resolve()
    if is_inside(str(root), str(home)):
        raise Forbidden(f"{field} {path!r} ({root}) is inside the data directory {home}, where "
                       f"Daguerre keeps its own files", field=field, value=path)
    return root


def _check_free(session: Session, *, name: str | None = None, root: Path | None = None,
                but: int | None = None) -> None:
    """Conflict when another library (than ``but``) has ``name`` or ``root``."""
    for field, column, value in (("name", Library.name, name),
                                 ("path", Library.root, None if root is None else str(root))):
        if value is None:
            continue
        clash = session.scalar(select(Library).where(column == value, Library.id != (but or -1)))
        if clash is not None:
            raise Conflict(f"a library with that {field} exists already: {clash.name} "
                           f"({clash.root})", field=field, value=value)


def _flush(session: Session) -> None:
    """Flush; a unique constraint hit by a concurrent writer is the same Conflict."""
    try:
        session.flush()
    except IntegrityError:
        session.rollback()
        raise Conflict("a library with that name or path exists already") from None


@contextmanager
def _held(ctx: Context, lib: Library, ref: str | int) -> Iterator[None]:
    """Hold the library's indexing lease, so no index run writes to it meanwhile."""
    from daguerre.platform.services.indexing_lease import (
        LibraryBusy,
        default_owner,
        indexing_lease,
    )

    try:
        with indexing_lease(ctx.catalog, lib.id, f"{default_owner()}:{_OWNER_SUFFIX}"):
            yield
    except LibraryBusy as exc:  # raised on entry only: nothing was changed
        raise Conflict(str(exc), field=_field(ref), value=ref) from None


# ------------------------------------------------------------------------------ operations

def add_library(ctx: Context, path: str, name: str | None = None) -> dict[str, Any]:
    """Add the folder ``path`` as a library named ``name`` (default: the folder's name)."""
    root = check_root(ctx, path)
    name = check_name(root.name if name is None else name)
    with ctx.catalog.session() as s:
        _check_free(s, name=name, root=root)
        lib = Library(name=name, root=str(root))
        s.add(lib)
        _flush(s)
        return library_info(lib, 0)


def library_names(ctx: Context) -> list[str]:
    """Every library's name, by id: what a filter offers, without the image counts (which
    cost a scan of the catalog on every page that shows the filters)."""
    with ctx.catalog.session() as s:
        return list(s.scalars(select(Library.name).order_by(Library.id)))


def list_libraries(ctx: Context) -> list[dict[str, Any]]:
    """Every library, by id, with its count of active images."""
    with ctx.catalog.session() as s:
        counts = _active_counts(s)
        return [library_info(lib, counts.get(lib.id, 0))
                for lib in s.scalars(select(Library).order_by(Library.id))]


def get_library(ctx: Context, ref: str | int, *, available: bool = False) -> dict[str, Any]:
    """One library; with ``available``, Conflict when its root folder is not reachable now
    (a disk unplugged), since indexing it would mark every image missing."""
    with ctx.catalog.session() as s:
        lib = _load(s, ref)
        if available and not Path(lib.root).is_dir():
            raise Conflict(f"library {lib.name!r}: root folder {lib.root} is not available "
                           f"(if the disk moved, see `daguerre library move`)",
                           field=_field(ref), value=ref)
        return library_info(lib, _active_counts(s, lib.id).get(lib.id, 0))


def rename_library(ctx: Context, ref: str | int, new_name: str) -> dict[str, Any]:
    """Give library ``ref`` the name ``new_name`` (Conflict when another has it)."""
    name = check_name(new_name)
    with ctx.catalog.session() as s:
        lib = _load(s, ref)
        _check_free(s, name=name, but=lib.id)
        lib.name = name
        _flush(s)
        return library_info(lib, _active_counts(s, lib.id).get(lib.id, 0))


def move_library(ctx: Context, ref: str | int, new_root: str) -> dict[str, Any]:
    """Point library ``ref`` at ``new_root``, where its disk now is. Every image keeps its row
    (id, tags, ratings, vectors); ``found`` counts those whose file is under the new root,
    ``not_found`` the others, which the next index run marks missing."""
    root = check_root(ctx, new_root)
    with ctx.catalog.session() as s:
        lib = _load(s, ref)
        _check_free(s, root=root, but=lib.id)
    with _held(ctx, lib, ref), ctx.catalog.session() as s:
        lib = _load(s, lib.id)
        paths = s.scalars(select(Image.path).where(Image.library_id == lib.id)).all()
        # resolve_inside: a file reached through a link leaving the new root does not count.
        found = sum(resolve_inside(root, p) is not None for p in paths)
        lib.root = str(root)
        _flush(s)
        info = library_info(lib, _active_counts(s, lib.id).get(lib.id, 0))
    return {"library": info, "found": found, "not_found": len(paths) - found}


def remove_library(ctx: Context, ref: str | int) -> dict[str, Any]:
    """Remove library ``ref`` from Daguerre: its catalog rows (images, tags, embedding rows,
    index failures), its vectors in every model's store, and the thumbnails no other image
    uses. Its original files are never touched. Images generated from its photos stay: their
    lineage rows lose the parent id (the foreign key sets it to NULL) but keep, under
    ``params["removed_parent"]``, which library, file and content it was."""
    with ctx.catalog.session() as s:
        lib = _load(s, ref)
    with _held(ctx, lib, ref):
        with ctx.catalog.session() as s:
            ids = s.scalars(select(Image.id).where(Image.library_id == lib.id)).all()
            thumbs = set(s.scalars(select(Image.thumbnail).where(
                Image.library_id == lib.id, Image.thumbnail.is_not(None))))
        # Vectors first: if a store cannot be edited nothing else is gone, and the command can
        # simply be run again; a vector left behind a deleted row could later be taken for a
        # new image that reuses its id.
        vectors = sum(_remove_vectors(store, ids) for store in open_stores(ctx))
        with ctx.catalog.session() as s:
            noted = _note_lineage(s, lib)
            s.execute(delete(Image).where(Image.library_id == lib.id)
                      .execution_options(synchronize_session=False))
            s.execute(delete(Library).where(Library.id == lib.id)
                      .execution_options(synchronize_session=False))
        thumbnails = _remove_unused_thumbnails(ctx, thumbs)
    return {"id": lib.id, "name": lib.name, "root": lib.root, "images": len(ids),
            "vectors": vectors, "thumbnails": thumbnails, "kept_children": noted}


# ------------------------------------------------------------------------------ removal steps

def open_stores(ctx: Context) -> list[VectorBackend]:
    """Every model's vector store in both backends (FAISS files, the catalog's pgvector),
    opened without loading a model (each store's metadata names its model and dimension)."""
    from daguerre.indexer.store import StoreError

    try:
        return ctx.all_stores()
    except StoreError as exc:
        raise Unavailable(f"cannot read a vector store under {ctx.settings.vectors_dir}: "
                          f"{exc}") from None


def _remove_vectors(store: VectorBackend, ids: list[int]) -> int:
    if not ids:
        return 0
    with store.edit() as st:
        return st.remove(ids)


def _note_lineage(session: Session, lib: Library) -> int:
    """Record in each lineage row whose parent is in ``lib`` what that parent was, before the
    parent's row goes; returns how many rows were annotated."""
    rows = session.execute(
        select(Lineage, Image.path, Image.sha256).join(Image, Lineage.parent_id == Image.id)
        .where(Image.library_id == lib.id)).all()
    for row, path, sha256 in rows:
        # A new dict, not an in-place change: the JSON column only notices reassignment.
        row.params = {**(row.params or {}), "removed_parent": {
            "id": row.parent_id, "library": lib.name, "root": lib.root, "path": path,
            "sha256": sha256}}
    session.flush()
    return len(rows)


def _remove_unused_thumbnails(ctx: Context, thumbs: set[str]) -> int:
    """Delete the thumbnail files in ``thumbs`` that no remaining image uses (thumbnails are
    content-addressed, so an identical photo elsewhere shares the file)."""
    candidates = sorted(thumbs)
    used: set[str] = set()
    with ctx.catalog.session() as s:
        for i in range(0, len(candidates), _CHUNK):
            used.update(s.scalars(select(Image.thumbnail).where(
                Image.thumbnail.in_(candidates[i:i + _CHUNK]))))
    home = Path(ctx.settings.home)
    fence = ctx.settings.thumbnails_dir.resolve()
    removed = 0
    for rel in candidates:
        path = None if rel in used else resolve_inside(home, rel)
        if path is None or not is_inside(str(path), str(fence)):
            continue  # still used, already gone, or a catalog path pointing elsewhere
        try:
            os.unlink(path)
            removed += 1
        except FileNotFoundError:
            pass
    return removed


# ------------------------------------------------------------------------------ index failures

def failure_counts(ctx: Context) -> dict[int, int]:
    """How many files the last index run of each library could not index, by library id
    (a library without failures is absent). Each run replaces its library's failures, so this
    is always the last run's count."""
    with ctx.catalog.session() as s:
        return dict(s.execute(select(IndexFailure.library_id, func.count())
                              .group_by(IndexFailure.library_id)).all())


def library_failures(ctx: Context, ref: str | int, *, limit: int = 50, offset: int = 0
                     ) -> dict[str, Any]:
    """The files the last index run of library ``ref`` could not index, with their reasons,
    by path: ``total`` counts them all, ``items`` holds the page (``limit`` from ``offset``).
    Paths are relative to the library root, as the catalog keeps them."""
    with ctx.catalog.session() as s:
        lib = _load(s, ref)
        total = s.scalar(select(func.count()).select_from(IndexFailure)
                         .where(IndexFailure.library_id == lib.id)) or 0
        rows = s.scalars(select(IndexFailure).where(IndexFailure.library_id == lib.id)
                         .order_by(IndexFailure.path, IndexFailure.id)
                         .limit(limit).offset(offset)).all()
        return {"library_id": lib.id, "total": total,
                "items": [{"path": r.path, "reason": r.reason,
                           "recorded_at": iso(r.recorded_at)} for r in rows]}
