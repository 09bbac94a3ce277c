"""What a photo's EXIF block says about how it was taken, for the image screen (and anyone else
who wants it): the camera, the lens, the exposure, when and where.

Pure and tolerant: :func:`read_exif` reads only the file's header (Pillow opens lazily; no pixel
is decoded) and never raises. EXIF written by cameras, phones and editors is often broken (a
truncated block, a pointer past the end, a rational over zero, text in the wrong encoding): each
field is read on its own, so one bad field loses that field only, and a file that cannot be
opened at all gives an empty answer. The shapes are plain JSON values, so the API or the CLI
could return them as they are; :func:`describe` puts them into words for a person.
"""

from __future__ import annotations

import math
import os
import warnings
from collections.abc import Callable
from typing import Any

from daguerre.indexer.decode import parse_exif_time

# Tag numbers (EXIF 2.32). The base IFD (IFD0):
_MAKE, _MODEL, _ORIENTATION, _SOFTWARE, _DATETIME = 0x010F, 0x0110, 0x0112, 0x0131, 0x0132
# Pointers from IFD0 to the Exif and GPS sub-IFDs:
_EXIF_IFD, _GPS_IFD = 0x8769, 0x8825
# In the Exif sub-IFD:
_EXPOSURE, _FNUMBER, _ISO, _TAKEN, _OFFSET = 0x829A, 0x829D, 0x8827, 0x9003, 0x9011
_FOCAL, _FOCAL_35, _LENS_MAKE, _LENS_MODEL = 0x920A, 0xA405, 0xA433, 0xA434
# In the GPS sub-IFD:
_LAT_REF, _LAT, _LON_REF, _LON, _ALT_REF, _ALT = 1, 2, 3, 4, 5, 6

# What each orientation value means (the EXIF specification's table).
ORIENTATIONS = {
    1: "normal", 2: "mirrored", 3: "rotated 180°", 4: "mirrored and rotated 180°",
    5: "mirrored and rotated 90° counter-clockwise", 6: "rotated 90° clockwise",
    7: "mirrored and rotated 90° clockwise", 8: "rotated 90° counter-clockwise",
}
# Text longer than this is not a camera's name but garbage (or an attack on the page's layout).
MAX_TEXT = 200


def _text(value: Any) -> str | None:
    if isinstance(value, bytes):
        value = value.decode("utf-8", "replace")
    if not isinstance(value, str):
        return None
    clean = " ".join(value.replace("\x00", " ").split())
    return clean[:MAX_TEXT] or None


def _number(value: Any) -> float | None:
    """A finite float from an EXIF number (an int, an IFDRational, a (num, den) pair)."""
    if isinstance(value, tuple) and len(value) == 2:
        num, den = value
        value = num / den if den else None
    try:
        number = float(value)
    except (TypeError, ValueError, ZeroDivisionError):
        return None
    return number if math.isfinite(number) else None


def _whole(value: Any) -> int | None:
    """A positive whole number (the first, when a camera wrote several)."""
    if isinstance(value, tuple | list):
        value = value[0] if value else None
    number = _number(value)
    return int(number) if number is not None and number > 0 else None


def _taken_at(value: Any, offset: Any) -> str | None:
    """``2024:06:01 12:30:00`` (plus ``+02:00`` when the camera wrote its offset) as ISO 8601."""
    when = parse_exif_time(value)
    if when is None:
        return None
    out = when.isoformat()
    zone = _text(offset)
    if zone is not None and len(zone) == 6 and zone[0] in "+-" and zone[3] == ":":
        out += zone
    return out


def _degrees(value: Any, ref: Any) -> float | None:
    """Degrees, minutes, seconds and a hemisphere (N/S, E/W) as signed decimal degrees."""
    if not isinstance(value, tuple | list) or len(value) != 3:
        return None
    parts = [_number(v) for v in value]
    if any(p is None for p in parts):
        return None
    deg, minutes, seconds = parts  # type: ignore[misc]
    decimal = deg + minutes / 60 + seconds / 3600
    hemisphere = _text(ref)
    if hemisphere in ("S", "W"):
        decimal = -decimal
    return round(decimal, 6)


def _gps(gps: Any) -> dict[str, float] | None:
    lat = _degrees(gps.get(_LAT), gps.get(_LAT_REF))
    lon = _degrees(gps.get(_LON), gps.get(_LON_REF))
    if lat is None or lon is None or not (-90 <= lat <= 90 and -180 <= lon <= 180):
        return None
    out = {"latitude": lat, "longitude": lon}
    alt = _number(gps.get(_ALT))
    if alt is not None:
        below = gps.get(_ALT_REF) in (1, b"\x01")
        out["altitude"] = round(-alt if below else alt, 1)
    return out


def _safely(read: Callable[[], Any]) -> Any:
    try:
        return read()
    except Exception:  # noqa: BLE001 - one broken field must not cost the others
        return None


def read_exif(path: str | os.PathLike[str]) -> dict[str, Any]:
    """What the EXIF block of the image at ``path`` says, as far as it can be read: any of
    ``make``, ``model``, ``lens``, ``software`` (text), ``exposure_s``, ``f_number``,
    ``focal_length_mm`` (numbers), ``focal_length_35mm`` and ``iso`` (whole numbers),
    ``taken_at`` (ISO 8601), ``orientation`` (1 to 8) and ``gps`` (``latitude``,
    ``longitude``, maybe ``altitude`` in metres). A field that is absent or unreadable is left
    out; a file with no EXIF, or none that can be read, gives ``{}``. Never raises."""
    from PIL import Image

    try:
        # Pillow warns on a truncated block and reads on: the warning is not the caller's.
        with warnings.catch_warnings(), Image.open(path) as img:
            warnings.simplefilter("ignore")
            exif = img.getexif()
            base = {tag: exif.get(tag) for tag in (_MAKE, _MODEL, _ORIENTATION, _SOFTWARE,
                                                   _DATETIME)}
            sub = _safely(lambda: exif.get_ifd(_EXIF_IFD)) or {}
            gps = _safely(lambda: exif.get_ifd(_GPS_IFD)) or {}
    except Exception:  # noqa: BLE001 - not an image, a truncated header, a decompression bomb
        return {}
    lens_make, lens_model = _text(sub.get(_LENS_MAKE)), _text(sub.get(_LENS_MODEL))
    if lens_make and lens_model and lens_model.startswith(lens_make):
        lens_make = None  # "Canon EF 50mm" already names its maker
    orientation = _whole(base[_ORIENTATION])
    fields: dict[str, Callable[[], Any]] = {
        "make": lambda: _text(base[_MAKE]),
        "model": lambda: _text(base[_MODEL]),
        "lens": lambda: " ".join(p for p in (lens_make, lens_model) if p) or None,
        "exposure_s": lambda: _positive(_number(sub.get(_EXPOSURE))),
        "f_number": lambda: _positive(_number(sub.get(_FNUMBER))),
        "iso": lambda: _whole(sub.get(_ISO)),
        "focal_length_mm": lambda: _positive(_number(sub.get(_FOCAL))),
        "focal_length_35mm": lambda: _whole(sub.get(_FOCAL_35)),
        "taken_at": lambda: (_taken_at(sub.get(_TAKEN), sub.get(_OFFSET))
                             or _taken_at(base[_DATETIME], None)),
        "gps": lambda: _gps(gps) if gps else None,
        "orientation": lambda: orientation if orientation in ORIENTATIONS else None,
        "software": lambda: _text(base[_SOFTWARE]),
    }
    out = {name: _safely(read) for name, read in fields.items()}
    return {name: value for name, value in out.items() if value is not None}


def _positive(value: float | None) -> float | None:
    return round(value, 6) if value is not None and value > 0 else None


def _exposure(seconds: float) -> str:
    """1/250 s for short exposures, 2.5 s for long ones, as cameras print them."""
    if seconds >= 0.5:
        return f"{seconds:g} s"
    return f"1/{round(1 / seconds)} s"


def describe(exif: dict[str, Any]) -> list[tuple[str, str]]:
    """(label, words) for each field of :func:`read_exif`'s answer, in a reading order."""
    rows: list[tuple[str, str]] = []
    camera = " ".join(p for p in (exif.get("make"), exif.get("model")) if p)
    model = exif.get("model") or ""
    make = exif.get("make") or ""
    if make and model.lower().startswith(make.lower()):
        camera = model  # "Canon Canon EOS 5D" reads as "Canon EOS 5D"
    if camera:
        rows.append(("Camera", camera))
    if "lens" in exif:
        rows.append(("Lens", exif["lens"]))
    if "taken_at" in exif:
        rows.append(("Taken", exif["taken_at"].replace("T", " ")))
    if "exposure_s" in exif:
        rows.append(("Exposure", _exposure(exif["exposure_s"])))
    if "f_number" in exif:
        rows.append(("Aperture", f"f/{exif['f_number']:g}"))
    if "iso" in exif:
        rows.append(("ISO", str(exif["iso"])))
    if "focal_length_mm" in exif:
        focal = f"{exif['focal_length_mm']:g} mm"
        if "focal_length_35mm" in exif:
            focal += f" ({exif['focal_length_35mm']} mm in 35 mm terms)"
        rows.append(("Focal length", focal))
    if "gps" in exif:
        g = exif["gps"]
        where = f"{g['latitude']:.5f}, {g['longitude']:.5f}"
        if "altitude" in g:
            where += f", {g['altitude']:g} m"
        rows.append(("Location", where))
    if "orientation" in exif:
        rows.append(("Orientation", ORIENTATIONS[exif["orientation"]]))
    if "software" in exif:
        rows.append(("Software", exif["software"]))
    return rows
