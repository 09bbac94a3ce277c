"""One way to turn a caller's PIL image into the 8-bit RGB every pipeline works on."""

from __future__ import annotations

from typing import Any

from daguerre.generator.errors import InvalidArgument

# Pillow's convert("RGB") clips these to black or white: a silent ruin of a 16-bit scan.
HIGH_BIT_MODES = ("I", "I;16", "I;16B", "I;16L", "I;16N", "F")


def as_rgb(image: Any, name: str = "image") -> Any:
    """``image`` (PIL) as RGB; transparent areas become white, as a viewer shows them (Pillow's
    convert drops the alpha, leaving whatever colour the transparent pixels hold). A 16- or
    32-bit image is refused naming its mode: scale it to 8 bits first, as the platform does when
    it loads a catalog image."""
    from PIL import Image

    if image.mode in HIGH_BIT_MODES:
        raise InvalidArgument(name, image.mode, "a 16- or 32-bit image: convert it to 8-bit RGB "
                              "first (e.g. scaled by its maximum)")
    if "A" in image.getbands() or "transparency" in image.info:
        rgba = image.convert("RGBA")
        image = Image.alpha_composite(Image.new("RGBA", rgba.size, "white"), rgba)
    return image.convert("RGB")
