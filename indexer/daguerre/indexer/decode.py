"""Decoding one image file: everything the catalog and the encoder need, in one pass.

:func:`decode_file` is pure (reads a file, returns a :class:`Decoded` or raises
:class:`DecodeError` with a human reason) and picklable, so it runs in worker processes. JPEGs are
decoded at reduced size with Pillow's ``draft`` (libjpeg's DCT scaling: 1/2, 1/4 or 1/8 of the
size for a fraction of the work) when the model and thumbnail need fewer pixels than the file has.
"""

from __future__ import annotations

import hashlib
import io
import os
import threading
import warnings
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

import numpy as np
from PIL import Image, ImageOps, UnidentifiedImageError

# What `daguerre index` picks up; GIFs give their first frame.
IMAGE_SUFFIXES = frozenset({".jpg", ".jpeg", ".jpe", ".png", ".webp", ".tif", ".tiff", ".bmp",
                            ".gif"})

_EXIF_IFD = 0x8769
_DATETIME_ORIGINAL = 36867
_DATETIME_DIGITIZED = 36868
_DATETIME = 306


# Pillow reports a possible decompression bomb at open time as a warning (between the limit and
# twice it), which decode_bytes turns into an error. The warning filters are process-wide and
# decode threads share them (pipeline.py): one lock around the open, a header read of
# microseconds, keeps one thread's restored filters from unarming another's.
_OPEN_LOCK = threading.Lock()


class DecodeError(Exception):
    """The file is not an image Daguerre can index; ``str(exc)`` is the reason stored."""


@dataclass(frozen=True)
class DecodeOptions:
    pixel_stage: Callable[[Image.Image], np.ndarray] | None  # the model's PIL preprocessing
    model_size: int = 224  # the shorter side the model needs (bounds draft reduction)
    draft: bool = True
    thumbnail_size: int = 256
    max_pixels: int = 89_478_485
    # A DCT reduction may leave the image up to this much smaller than the model input; it is
    # then enlarged by at most 1/slack. Decoding 1/4 instead of 1/2 of a 1 MP JPEG halves the
    # work, and the embedding moves less than the draft itself moves it (see the fidelity test).
    draft_slack: float = 0.9


@dataclass(frozen=True)
class Decoded:
    """What one decode produced. ``pixels`` is the model input (None when no pixel stage)."""

    path: str
    size: int
    mtime: float
    sha256: str
    width: int  # after EXIF orientation
    height: int
    format: str
    captured_at: datetime | None
    phash: str
    thumbnail: bytes  # JPEG
    pixels: np.ndarray | None


def sha256_file(path: str | os.PathLike[str]) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def parse_exif_time(value: object) -> datetime | None:
    """An EXIF date-time (``2024:06:01 12:30:00``, text or bytes, NUL-padded as cameras write
    it) as a naive datetime, or None when it is not one."""
    if isinstance(value, bytes):
        value = value.decode("ascii", "ignore")
    if not isinstance(value, str):
        return None
    try:
        return datetime.strptime(value.strip("\x00 ")[:19], "%Y:%m:%d %H:%M:%S")
    except ValueError:
        return None


def _capture_time(img: Image.Image) -> datetime | None:
    try:
        exif = img.getexif()
    except Exception:  # noqa: BLE001 - a broken EXIF block must not fail the image
        return None
    candidates = []
    try:
        sub = exif.get_ifd(_EXIF_IFD)
        candidates += [sub.get(_DATETIME_ORIGINAL), sub.get(_DATETIME_DIGITIZED)]
    except Exception:  # noqa: BLE001
        pass
    candidates.append(exif.get(_DATETIME))
    return next((t for t in map(parse_exif_time, candidates) if t is not None), None)


def _oriented_size(img: Image.Image, size: tuple[int, int]) -> tuple[int, int]:
    try:
        orientation = img.getexif().get(0x0112, 1)
    except Exception:  # noqa: BLE001
        orientation = 1
    return (size[1], size[0]) if orientation in (5, 6, 7, 8) else size


def _phash(img: Image.Image) -> str:
    import imagehash

    return str(imagehash.phash(img))


def _thumbnail(img: Image.Image, size: int) -> Image.Image:
    # Bicubic (antialiased in Pillow) looks the same as Lanczos at thumbnail size for 30% less
    # work, and this runs once per indexed photo.
    thumb = img.copy()
    thumb.thumbnail((size, size), Image.Resampling.BICUBIC, reducing_gap=2.0)
    return thumb


def _jpeg(img: Image.Image) -> bytes:
    buf = io.BytesIO()
    img.save(buf, "JPEG", quality=85)
    return buf.getvalue()


def to_rgb(img: Image.Image) -> Image.Image:
    """``img`` as 8-bit RGB as a viewer shows it: transparency composited on white, 16- and
    32-bit greyscale scaled by its maximum (a scan's 12 bits in a 16-bit file stay visible);
    Pillow's own ``convert("RGB")`` drops the alpha and clips high-bit images to black or white."""
    if img.mode == "RGB":
        return img
    if img.mode in ("RGBA", "LA", "PA") or (img.mode == "P" and "transparency" in img.info):
        # Composite transparency on white, as a viewer would show it, rather than on black.
        rgba = img.convert("RGBA")
        background = Image.new("RGBA", rgba.size, (255, 255, 255, 255))
        return Image.alpha_composite(background, rgba).convert("RGB")
    if img.mode in ("I;16", "I;16B", "I;16L", "I"):
        arr = np.asarray(img, dtype=np.float64)
        hi = arr.max() or 1.0
        return Image.fromarray((arr * (255.0 / hi)).astype(np.uint8)).convert("RGB")
    return img.convert("RGB")


# What Pillow raises on a file it cannot open or decode; _failure words each as a stored reason.
_PILLOW_ERRORS = (Image.DecompressionBombError, Image.DecompressionBombWarning, OSError,
                  SyntaxError, ValueError, EOFError, MemoryError)


def _failure(exc: BaseException) -> DecodeError:
    if isinstance(exc, Image.DecompressionBombError | Image.DecompressionBombWarning):
        return DecodeError(f"decompression bomb refused: {exc}")
    if isinstance(exc, UnidentifiedImageError):
        return DecodeError("not a recognised image format")
    if isinstance(exc, MemoryError):
        return DecodeError("image too large to decode in memory")
    msg = str(exc) or type(exc).__name__
    if "truncated" in msg:
        msg = f"truncated image ({msg})"
    return DecodeError(f"corrupt image: {msg}")


def _open(data: bytes, max_pixels: int) -> Image.Image:
    """Pillow's open (a header read), with its decompression-bomb warning made an error."""
    with _OPEN_LOCK, warnings.catch_warnings():
        Image.MAX_IMAGE_PIXELS = max_pixels
        # Pillow only warns between the limit and twice the limit: refuse those too.
        warnings.simplefilter("error", Image.DecompressionBombWarning)
        return Image.open(io.BytesIO(data))


def decode_bytes(data: bytes, path: str, options: DecodeOptions, *, mtime: float = 0.0) -> Decoded:
    """Decode an image held in memory; see :func:`decode_file`."""
    if not data:
        raise DecodeError("empty file (0 bytes)")
    sha = hashlib.sha256(data).hexdigest()
    try:
        img = _open(data, options.max_pixels)
        fmt = (img.format or "").upper()
        full_size = _oriented_size(img, img.size)
        if options.max_pixels and full_size[0] * full_size[1] > options.max_pixels:
            raise DecodeError(
                f"decompression bomb refused: {full_size[0]}x{full_size[1]} pixels is over "
                f"the limit of {options.max_pixels}")
        captured = _capture_time(img)
        if options.draft and fmt == "JPEG":
            # Ask for at least what the model (shorter side) and thumbnail (longer side)
            # need; libjpeg picks the largest DCT reduction that still covers it.
            w, h = img.size
            need = max(options.model_size,
                       options.thumbnail_size * min(w, h) / max(w, h, 1))
            scale = max(need * options.draft_slack / min(w, h), 1e-9)
            img.draft("RGB", (int(np.ceil(w * scale)), int(np.ceil(h * scale))))
        img.seek(0)  # first frame of GIFs and multi-page TIFFs
        img.load()
        img = ImageOps.exif_transpose(img)
        rgb = to_rgb(img)
    except _PILLOW_ERRORS as exc:
        raise _failure(exc) from None
    pixels = options.pixel_stage(rgb) if options.pixel_stage is not None else None
    thumb = _thumbnail(rgb, options.thumbnail_size)
    # The DCT hash looks at a 32x32 grey version: computed from the thumbnail it costs a tenth
    # of hashing the decoded image and differs by at most a bit or two of 64.
    return Decoded(path=path, size=len(data), mtime=mtime, sha256=sha, width=full_size[0],
                   height=full_size[1], format=fmt or "UNKNOWN", captured_at=captured,
                   phash=_phash(thumb), thumbnail=_jpeg(thumb), pixels=pixels)


def decode_file(path: str | os.PathLike[str], options: DecodeOptions) -> Decoded:
    """Read and decode one file: hash, size, orientation-corrected dimensions, EXIF capture time,
    perceptual hash, JPEG thumbnail and model pixels. Raises :class:`DecodeError`."""
    p = Path(path)
    try:
        st = p.stat()
        data = p.read_bytes()
    except PermissionError:
        raise DecodeError("permission denied") from None
    except IsADirectoryError:
        raise DecodeError("is a directory") from None
    except FileNotFoundError:
        raise DecodeError("file vanished while indexing") from None
    except OSError as exc:
        raise DecodeError(f"cannot read file: {exc.strerror or exc}") from None
    return decode_bytes(data, str(path), options, mtime=st.st_mtime)
