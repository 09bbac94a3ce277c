"""Decoding: metadata from one pass, and a clear reason for every kind of bad file."""

from __future__ import annotations

import io
from pathlib import Path

import pytest
from PIL import Image

from daguerre.indexer.decode import DecodeError, DecodeOptions, decode_bytes, decode_file
from tests.support.images import noise_image, photo, write_bomb

OPTS = DecodeOptions(pixel_stage=None, thumbnail_size=64)


def test_metadata_orientation_and_capture_time(tmp_path: Path):
    img = noise_image(1, (120, 80))
    exif = Image.Exif()
    exif[0x0112] = 6  # rotate 90° CW when displayed
    exif.get_ifd(0x8769)[36867] = "2021:07:04 18:30:00"
    path = tmp_path / "rotated.jpg"
    img.save(path, exif=exif)
    d = decode_file(path, OPTS)
    assert (d.width, d.height) == (80, 120)  # as displayed, after EXIF orientation
    assert d.format == "JPEG"
    assert d.captured_at is not None and d.captured_at.isoformat() == "2021-07-04T18:30:00"
    assert len(d.sha256) == 64 and len(d.phash) == 16
    thumb = Image.open(io.BytesIO(d.thumbnail))
    assert max(thumb.size) == 64 and thumb.height > thumb.width


@pytest.mark.parametrize("fmt", ["PNG", "WEBP", "TIFF", "BMP", "GIF"])
def test_formats(tmp_path: Path, fmt: str):
    path = tmp_path / f"x.{fmt.lower()}"
    noise_image(2).save(path, fmt)
    d = decode_file(path, OPTS)
    assert d.format == fmt and (d.width, d.height) == (96, 64)


def test_rgba_png_is_composited(tmp_path: Path):
    path = tmp_path / "alpha.png"
    Image.new("RGBA", (10, 10), (255, 0, 0, 0)).save(path)
    d = decode_file(path, DecodeOptions(pixel_stage=lambda im: __import__("numpy").asarray(im)))
    assert d.pixels[0, 0].tolist() == [255, 255, 255]  # transparent shows as white


def _jpeg_bytes() -> bytes:
    buf = io.BytesIO()
    photo("coffee").save(buf, "JPEG")
    return buf.getvalue()


@pytest.mark.parametrize(
    ("data", "reason"),
    [
        (b"", "empty file"),
        (b"just some text, not a picture\n", "not a recognised image format"),
        (_jpeg_bytes()[:5000], "truncated"),
        (_jpeg_bytes()[:200] + b"\x00" * 5000, "corrupt"),
    ],
    ids=["zero-byte", "text-named-jpg", "truncated", "corrupt"],
)
def test_bad_files_raise_with_reason(data: bytes, reason: str):
    with pytest.raises(DecodeError, match=reason):
        decode_bytes(data, "bad.jpg", OPTS)


def test_decompression_bomb_refused(tmp_path: Path):
    path = write_bomb(tmp_path / "bomb.png")
    with pytest.raises(DecodeError, match="decompression bomb"):
        decode_file(path, OPTS)


def test_unreadable_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    path = tmp_path / "secret.jpg"
    photo("coffee").save(path)

    def deny(self):  # root ignores chmod, so simulate what a user without access sees
        raise PermissionError(13, "Permission denied")

    monkeypatch.setattr(Path, "read_bytes", deny)
    with pytest.raises(DecodeError, match="permission denied"):
        decode_file(path, OPTS)
