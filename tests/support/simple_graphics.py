"""A generated library of simple graphics, the kind generated assets and screenshots often are:
a flat background and one to three flat shapes. Pictures come in families built to sit close in
perceptual hash on purpose (a shape recoloured, swapped for another kind, moved, added or removed,
the background changed): different pictures to a person, a few bits apart to a 64-bit pHash.

Each picture also has copies a person would call the same picture: resized, re-encoded as JPEG
at quality 60-90, and cropped by 1-3 % on some sides. :func:`text_screen` draws the other kind
of screenshot: lines of text. Used by the duplicate tests and by
``benchmarks/duplicates_quality.py``.
"""

from __future__ import annotations

import io
from dataclasses import dataclass, replace

import numpy as np
from PIL import Image, ImageDraw, ImageFont

PALETTE: tuple[tuple[int, int, int], ...] = (
    (220, 40, 40), (40, 160, 60), (40, 80, 220), (240, 200, 30), (150, 50, 190),
    (250, 130, 20), (20, 170, 180), (230, 90, 160), (90, 90, 90), (30, 30, 30),
)
BACKGROUNDS: tuple[tuple[int, int, int], ...] = (
    (255, 255, 255), (240, 240, 240), (250, 245, 230), (225, 235, 250), (40, 44, 52),
    (20, 20, 20), (200, 200, 200), (235, 250, 235),
)
KINDS = ("rect", "ellipse", "triangle", "rounded")
SIZES = ((320, 240), (256, 256), (300, 200), (240, 320), (360, 270))
WORDS = ("open", "save", "cancel", "file", "edit", "view", "help", "settings", "search",
         "results", "export", "import", "library", "image", "folder", "name", "size", "date",
         "rating", "tags", "keep", "delete", "copy", "paste", "undo", "print")
VARIATIONS = ("recolour", "reshape", "move", "add", "remove", "background")
MIN_CHANGED = 0.005  # of the pixels: a 20x20 patch of a 320x240 picture


@dataclass(frozen=True)
class Shape:
    kind: str
    colour: tuple[int, int, int]
    box: tuple[float, float, float, float]  # x0, y0, x1, y1 as fractions of the canvas


@dataclass(frozen=True)
class Graphic:
    size: tuple[int, int]
    background: tuple[int, int, int]
    shapes: tuple[Shape, ...]


def _pick(rng: np.random.Generator, options: tuple, avoid: object = None) -> object:
    choices = [o for o in options if o != avoid]
    return choices[int(rng.integers(len(choices)))]


def _shape(rng: np.random.Generator, small: bool = False) -> Shape:
    w, h = rng.uniform(0.1, 0.2, 2) if small else rng.uniform(0.18, 0.45, 2)
    x0, y0 = rng.uniform(0.05, 0.95 - w), rng.uniform(0.05, 0.95 - h)
    return Shape(str(_pick(rng, KINDS)), _pick(rng, PALETTE),  # type: ignore[arg-type]
                 (float(x0), float(y0), float(x0 + w), float(y0 + h)))


def base_graphic(rng: np.random.Generator) -> Graphic:
    size = SIZES[int(rng.integers(len(SIZES)))]
    shapes = tuple(_shape(rng) for _ in range(int(rng.integers(1, 4))))
    return Graphic(size, _pick(rng, BACKGROUNDS), shapes)  # type: ignore[arg-type]


def variant(g: Graphic, how: str, rng: np.random.Generator) -> Graphic:
    """``g`` changed in one way a person would notice."""
    k = int(rng.integers(len(g.shapes)))
    shapes = list(g.shapes)
    s = shapes[k]
    if how == "recolour":
        shapes[k] = replace(s, colour=_pick(rng, PALETTE, s.colour))  # type: ignore[arg-type]
    elif how == "reshape":
        shapes[k] = replace(s, kind=str(_pick(rng, KINDS, s.kind)))
    elif how == "move":
        # 10-20 % of the canvas along each axis, towards a side with room for it (a shape at
        # most 45 % wide always has room on one side): a smaller move would read as a crop.
        x0, y0, x1, y1 = s.box
        shift = []
        for lo, hi in ((x0, x1), (y0, y1)):
            step = float(rng.uniform(0.1, 0.2))
            room = {-1: lo - 0.02, 1: 0.98 - hi}
            sign = int(rng.choice([-1, 1]))
            shift.append(sign * step if room[sign] >= step else -sign * min(step, room[-sign]))
        dx, dy = shift
        shapes[k] = replace(s, box=(x0 + dx, y0 + dy, x1 + dx, y1 + dy))
    elif how == "add":
        shapes.append(_shape(rng, small=True))
    elif how == "remove" and len(shapes) > 1:
        shapes.pop(k)
    else:  # "background", or "remove" of a lone shape
        return replace(g, background=_pick(rng, BACKGROUNDS, g.background))  # type: ignore[arg-type]
    return replace(g, shapes=tuple(shapes))


def draw(g: Graphic) -> Image.Image:
    w, h = g.size
    img = Image.new("RGB", g.size, g.background)
    d = ImageDraw.Draw(img)
    for s in g.shapes:
        box = (s.box[0] * w, s.box[1] * h, s.box[2] * w, s.box[3] * h)
        if s.kind == "rect":
            d.rectangle(box, fill=s.colour)
        elif s.kind == "ellipse":
            d.ellipse(box, fill=s.colour)
        elif s.kind == "rounded":
            d.rounded_rectangle(box, radius=min(box[2] - box[0], box[3] - box[1]) / 4,
                                fill=s.colour)
        else:
            d.polygon([((box[0] + box[2]) / 2, box[1]), (box[2], box[3]), (box[0], box[3])],
                      fill=s.colour)
    return img


def visibly_different(a: Image.Image, b: Image.Image, min_fraction: float = MIN_CHANGED) -> bool:
    """Whether at least ``min_fraction`` of the pixels differ by 48 levels or more in a channel
    (a variant whose change is hidden behind another shape is the same picture)."""
    if a.size != b.size:
        return True
    diff = np.abs(np.asarray(a, np.int16) - np.asarray(b, np.int16)).max(-1)
    return float((diff >= 48).mean()) >= min_fraction


def crop_explains(a: Graphic, b: Graphic, within: float = 0.08) -> bool:
    """Whether ``b`` could be ``a`` cropped: the same shapes, each corner within ``within`` of
    the canvas (a crop of 5 % a side moves a corner by 5.6 % at most). A shape moved back near
    where a family member has it is such a pair, however many pixels changed."""
    if a.size != b.size or a.background != b.background or len(a.shapes) != len(b.shapes):
        return False
    return all(sa.kind == sb.kind and sa.colour == sb.colour
               and max(abs(p - q) for p, q in zip(sa.box, sb.box, strict=True)) < within
               for sa, sb in zip(a.shapes, b.shapes, strict=True))


def families(count: int, per_family: int, seed: int) -> list[list[Graphic]]:
    """``count`` families of ``per_family`` different pictures: a base and its variants, each
    visibly different from every other member, and none a crop of another."""
    rng = np.random.default_rng(seed)
    out = []
    for _ in range(count):
        fam = [base_graphic(rng)]
        drawn = [draw(fam[0])]
        while len(fam) < per_family:
            v = variant(fam[int(rng.integers(len(fam)))], str(_pick(rng, VARIATIONS)), rng)
            img = draw(v)
            if (all(visibly_different(img, d) for d in drawn)
                    and not any(crop_explains(m, v) for m in fam)):
                fam.append(v)
                drawn.append(img)
        out.append(fam)
    return out


def text_screen(rng: np.random.Generator) -> Image.Image:
    """A screenshot of text: a title bar, then lines of words, on a flat background. Two of
    them differ in their words (and their lines' lengths) only."""
    w, h = ((1280, 800), (1024, 768), (800, 600))[int(rng.integers(3))]
    img = Image.new("RGB", (w, h), (250, 250, 250))
    d = ImageDraw.Draw(img)
    d.rectangle((0, 0, w, 40), fill=(40, 60, 90))
    font = ImageFont.load_default(size=int(rng.integers(12, 22)))
    for y in range(60, h - 20, int(rng.integers(22, 34))):
        d.text((20, y), " ".join(rng.choice(WORDS, int(rng.integers(3, 12)))), fill=(20, 20, 20),
               font=font)
    return img


def encode(img: Image.Image, fmt: str = "PNG", **kw: object) -> bytes:
    buf = io.BytesIO()
    img.save(buf, fmt, **kw)
    return buf.getvalue()


def copies(img: Image.Image, rng: np.random.Generator) -> dict[str, bytes]:
    """The same picture stored three other ways: resized, re-encoded, slightly cropped."""
    w, h = img.size
    scale = rng.uniform(0.4, 0.8)
    resized = img.resize((round(w * scale), round(h * scale)),
                         _pick(rng, (Image.Resampling.LANCZOS, Image.Resampling.BILINEAR,
                                     Image.Resampling.BICUBIC)))  # type: ignore[arg-type]
    # 1-3 % of the width and/or the height off: one side, two opposite sides, or all four
    frac = rng.uniform(0.01, 0.03)
    mode = int(rng.integers(3))
    if mode == 0:
        side = np.zeros(4)
        side[int(rng.integers(4))] = frac
    elif mode == 1:
        side = np.array([frac / 2, 0, frac / 2, 0]) if rng.integers(2) else \
            np.array([0, frac / 2, 0, frac / 2])
    else:
        side = np.full(4, frac / 2)
    crop = (round(side[0] * w), round(side[1] * h), w - round(side[2] * w),
            h - round(side[3] * h))
    cropped = img.crop(crop)
    return {
        "resized": encode(resized, "PNG"),
        "jpeg": encode(img, "JPEG", quality=int(rng.integers(60, 91))),
        "cropped": encode(cropped, "JPEG", quality=int(rng.integers(75, 96))),
    }
