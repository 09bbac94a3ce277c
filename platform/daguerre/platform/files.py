"""Files the platform writes or serves: atomic writes, containment, thumbnails.

One place for the two rules every writer and reader of the data directory keeps:

* a file is written whole or not at all (temporary file in the same folder, fsync, rename), so a
  crash leaves the previous version readable and a concurrent reader never sees half a file;
* a path taken from the catalog is served or read only when its real location (links resolved)
  stays inside the folder it belongs to, so a link planted in a library exposes nothing else.
"""

from __future__ import annotations

import os
import threading
from pathlib import Path


def atomic_write(path: Path, data: bytes, *, fsync: bool = True) -> None:
    """Write ``data`` to ``path`` atomically (its folder is created)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.{threading.get_ident()}.tmp")
    try:
        with open(tmp, "wb") as fh:
            fh.write(data)
            if fsync:
                fh.flush()
                os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


def is_inside(path: Path | str, root: Path | str) -> bool:
    """Whether ``path`` is ``root`` or below it (both taken as given: resolve them first)."""
    return os.path.commonpath([str(path), str(root)]) == str(root)


def resolve_inside(base: Path, relative: str, *, must_be_file: bool = True) -> Path | None:
    """``base/relative`` with links resolved, or None when that leaves ``base`` or does not
    exist (or, with ``must_be_file``, is not a regular file)."""
    try:
        real_base = Path(base).resolve(strict=True)
        target = (real_base / relative).resolve(strict=True)
    except (OSError, RuntimeError):
        return None
    if not is_inside(target, real_base):
        return None
    if must_be_file and not target.is_file():
        return None
    return target


def thumbnail_relpath(sha256: str) -> str:
    """Where the thumbnail of content ``sha256`` lives, relative to the data directory."""
    return f"thumbnails/{sha256[:2]}/{sha256}.jpg"


def write_thumbnail(home: Path, sha256: str, data: bytes) -> str:
    """Store a thumbnail (content-addressed: the same bytes make the same file, written once);
    returns its path relative to the data directory."""
    rel = thumbnail_relpath(sha256)
    path = Path(home) / rel
    if not path.exists():
        atomic_write(path, data, fsync=False)  # a lost thumbnail is remade by the next index
    return rel
