"""The pixel check of near duplicates (:mod:`daguerre.indexer.near_copy`) on screenshots of
text, its weak spot: at thumbnail size lines of text are grey smudges, which make the row means
periodic and the column means nearly flat, so a wrong crop fits them about as well as the right
one, and a screenshot with other words looks much like the first.

Thumbnails come from :func:`daguerre.indexer.decode.decode_bytes`, as indexing makes them.
"""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image

from daguerre.indexer import near_copy
from daguerre.indexer.decode import DecodeOptions, decode_bytes
from tests.support import simple_graphics as sg

OPTS = DecodeOptions(pixel_stage=None)
# Fractions cut off (left, top, right, bottom): one side, two opposite sides, all four, 1-3 %
# in all along an axis, as simple_graphics.copies crops.
CROPS = (
    (0.02, 0.0, 0.0, 0.0),
    (0.0, 0.03, 0.0, 0.0),
    (0.0, 0.0, 0.025, 0.0),
    (0.0, 0.0, 0.0, 0.015),
    (0.01, 0.0, 0.01, 0.0),
    (0.0, 0.0125, 0.0, 0.0125),
    (0.0075, 0.0075, 0.0075, 0.0075),
)


def _layout(img: Image.Image, fmt: str = "PNG", **kw: object) -> near_copy.Layout:
    return near_copy.layout(decode_bytes(sg.encode(img, fmt, **kw), "x.img", OPTS).thumbnail)


def _crop(img: Image.Image, crop: tuple[float, float, float, float]
          ) -> tuple[Image.Image, np.ndarray]:
    """``img`` cropped, and the fractions really cut off once rounded to whole pixels."""
    w, h = img.size
    box = (round(crop[0] * w), round(crop[1] * h), w - round(crop[2] * w),
           h - round(crop[3] * h))
    cut = np.array([box[0] / w, box[1] / h, 1 - box[2] / w, 1 - box[3] / h])
    return img.crop(box), cut


@pytest.fixture(scope="module")
def screens() -> list[tuple[Image.Image, near_copy.Layout]]:
    out = []
    for seed in (1, 2, 5, 7):
        img = sg.text_screen(np.random.default_rng(seed))
        out.append((img, _layout(img)))
    return out


def test_cropped_copies_of_text_screenshots_are_the_same_picture(
        screens: list[tuple[Image.Image, near_copy.Layout]]) -> None:
    wrong = []
    for k, (img, original) in enumerate(screens):
        for crop in CROPS:
            cropped, cut = _crop(img, crop)
            copy = _layout(cropped, "JPEG", quality=85)
            found = near_copy.compare(original, copy)
            back = near_copy.compare(copy, original)
            # the crop seen from the copy: the original has more on the cropped sides
            if not (found.same and back.same and np.abs(np.array(found.crop) - cut).max() <= 0.005):
                wrong.append((k, crop, np.round(found.crop, 4).tolist(), found.changed,
                              back.same))
    assert not wrong, f"(screen, crop, crop found, changed, same back) refused or misplaced: {wrong}"


def test_the_crop_found_from_the_copy_is_the_original_having_more(
        screens: list[tuple[Image.Image, near_copy.Layout]]) -> None:
    img, original = screens[0]
    cropped, cut = _crop(img, (0.0, 0.025, 0.0, 0.0))
    back = near_copy.compare(_layout(cropped, "JPEG", quality=85), original)
    # seen from the copy, the original reaches beyond its top: a negative crop of about the
    # cut stretched to the copy's height
    assert back.same
    assert abs(back.crop[1] + cut[1] / (1 - cut[1])) <= 0.005
    assert max(abs(back.crop[0]), abs(back.crop[2]), abs(back.crop[3])) <= 0.005


def _same_layout(layout: tuple[int, int, int]) -> tuple[int, int]:
    """The first two seeds whose screenshots share their size, font size and line spacing
    (text_screen's first three draws: ``layout``) and so differ in their words only."""
    seeds = []
    for seed in range(10_000):
        rng = np.random.default_rng(seed)
        if (int(rng.integers(3)), int(rng.integers(12, 22)), int(rng.integers(22, 34))) == layout:
            seeds.append(seed)
            if len(seeds) == 2:
                return seeds[0], seeds[1]
    raise AssertionError(f"no two seeds draw the layout {layout}")


# (size, font size, line spacing): small fonts on widely spaced lines, which the check once
# confirmed as one picture (nothing changed by 48 levels at this size), and a large font.
@pytest.mark.parametrize("layout", [(0, 12, 30), (1, 12, 30), (1, 13, 30), (1, 14, 30),
                                    (2, 21, 25)])
def test_screenshots_that_differ_by_their_words_only_are_different_pictures(
        layout: tuple[int, int, int]) -> None:
    s, t = _same_layout(layout)
    a, b = sg.text_screen(np.random.default_rng(s)), sg.text_screen(np.random.default_rng(t))
    assert a.size == b.size and not np.array_equal(np.asarray(a), np.asarray(b))
    la, lb = _layout(a), _layout(b)
    for x, y in ((la, lb), (lb, la)):
        c = near_copy.compare(x, y)
        assert not c.same, f"seeds {s} and {t} confirmed as one: crop {c.crop}, changed {c.changed}"


def test_a_cropped_copy_of_another_screenshot_is_not_the_same_picture(
        screens: list[tuple[Image.Image, near_copy.Layout]]) -> None:
    (_, first), (second, _) = screens[0], screens[1]
    cropped, _ = _crop(second, (0.01, 0.0, 0.01, 0.0))
    assert not near_copy.compare(first, _layout(cropped, "JPEG", quality=85)).same


def _flat(shape: str, ground: tuple[int, int, int], ink: tuple[int, int, int]) -> Image.Image:
    """A flat ground with one flat shape (or none) in the middle."""
    from PIL import ImageDraw

    img = Image.new("RGB", (512, 384), ground)
    draw = ImageDraw.Draw(img)
    if shape == "circle":
        draw.ellipse((196, 132, 316, 252), fill=ink)
    elif shape == "rounded":
        draw.rounded_rectangle((176, 142, 336, 242), 16, fill=ink)
    elif shape == "triangle":
        draw.polygon([(256, 122), (176, 262), (336, 262)], fill=ink)
    return img


@pytest.mark.parametrize("ground,ink", [((40, 44, 52), (30, 30, 30)),
                                        ((240, 240, 240), (222, 226, 230))])
def test_faint_shapes_tell_pictures_apart_and_their_copies_stay_one(
        ground: tuple[int, int, int], ink: tuple[int, int, int]) -> None:
    # Within 48 levels of its ground, a shape changed no pixel enough to count: a dark circle,
    # a dark rounded rectangle and the bare dark ground were all "one picture".
    pictures = {s: _flat(s, ground, ink) for s in ("circle", "rounded", "triangle", "none")}
    layouts = {s: _layout(img) for s, img in pictures.items()}
    for a in layouts:
        for b in layouts:
            if a != b:
                c = near_copy.compare(layouts[a], layouts[b])
                assert not c.same, f"{a} and {b} confirmed as one: faint {c.faint}"
    rng = np.random.default_rng(3)
    for shape, img in pictures.items():
        for kind, data in sg.copies(img, rng).items():
            copy = near_copy.layout(decode_bytes(data, "x.img", OPTS).thumbnail)
            c = near_copy.compare(layouts[shape], copy)
            assert c.same, (shape, kind, c)
