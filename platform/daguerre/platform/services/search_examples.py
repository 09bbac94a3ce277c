"""Example images a person searches by (the search screen's drop zone), kept content-addressed.

An uploaded example is checked to be an image (decoded, with the decompression-bomb limit every
decode has) and stored once under ``<data>/search-examples/`` named by the SHA-256 of its bytes,
with a JPEG preview beside it. The screen then searches by that key (``/search?image=<sha256>``),
so a search by example is a URL like any other: it can be bookmarked, reloaded and paged. The
ranking itself is :func:`daguerre.platform.services.search.search_upload`'s.

Deleting the folder is safe: a link to an example no longer stored says so (NotFound).
"""

from __future__ import annotations

import hashlib
from pathlib import Path

from daguerre.platform.context import Context
from daguerre.platform.errors import BadInput, NotFound
from daguerre.platform.files import atomic_write
from daguerre.platform.services import search as search_svc

_HEX = frozenset("0123456789abcdef")


def examples_dir(ctx: Context) -> Path:
    return ctx.settings.home / "search-examples"


def check_key(key: str, field: str = "image") -> str:
    """``key`` if it is a SHA-256 in hex (what :func:`store_example` returns), else BadInput."""
    if not isinstance(key, str) or len(key) != 64 or not set(key) <= _HEX:
        raise BadInput(f"{field} must be the SHA-256 of a stored example image (64 hex digits), "
                       f"got {str(key)[:80]!r}", field=field, value=key)
    return key


def _paths(ctx: Context, key: str) -> tuple[Path, Path]:
    folder = examples_dir(ctx)
    return folder / f"{key}.image", folder / f"{key}.jpg"


def store_example(ctx: Context, data: bytes, name: str) -> str:
    """Keep an uploaded example image; returns its key (the SHA-256 of ``data``).

    Refuses (BadInput, field ``image``) an empty file, a file over the upload limit, and
    anything that does not decode as an image or would decode to more pixels than allowed."""
    from daguerre.indexer.decode import DecodeError, decode_bytes
    from daguerre.platform.services.indexing import decode_options

    if not data:
        raise BadInput("image is empty (0 bytes)", field="image", value=name)
    limit = ctx.settings.max_upload_bytes
    if limit and len(data) > limit:
        raise BadInput(f"{name} is {len(data)} bytes: the limit is {limit} bytes", field="image",
                       value=name)
    try:
        decoded = decode_bytes(data, name, decode_options(ctx.settings, None))
    except DecodeError as exc:
        raise BadInput(f"{name} is not an image this server can read: {exc}", field="image",
                       value=name) from None
    key = hashlib.sha256(data).hexdigest()
    original, preview = _paths(ctx, key)
    if not original.is_file():
        atomic_write(preview, decoded.thumbnail)
        atomic_write(original, data)
    return key


def _existing(ctx: Context, key: str, which: int) -> Path:
    path = _paths(ctx, check_key(key))[which]
    if not path.is_file():
        raise NotFound(f"no stored example image {key}: upload it again", field="image",
                       value=key)
    return path


def example_preview(ctx: Context, key: str) -> Path:
    """The JPEG preview of a stored example (NotFound when it is not stored)."""
    return _existing(ctx, key, 1)


def search_example(ctx: Context, key: str, limit: int = 10, *, offset: int = 0,
                   filters: search_svc.Filters = None, min_score: float | None = None
                   ) -> list[search_svc.Hit]:
    """Images most like the stored example ``key``, best first."""
    data = _existing(ctx, key, 0).read_bytes()
    return search_svc.search_upload(ctx, data, key, limit, offset=offset, filters=filters,
                                    min_score=min_score)
