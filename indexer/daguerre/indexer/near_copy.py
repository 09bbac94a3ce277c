"""Whether two thumbnails show the same picture: the pixel check that confirms a perceptual-hash
match in the ``near`` duplicate tier.

A 64-bit pHash keeps only the signs of the lowest DCT frequencies of a grey 32x32 version of a
picture. Pictures made of a flat background and a few flat shapes (generated assets, screenshots)
share most of those signs even when a shape has another colour, another outline or another place,
so a pHash match alone groups different graphics. Other 64-bit hashes were measured no better on
them (difference, wavelet and colour hashes all put some different graphics closer than some
copies; docs/benchmarks.md), so this check looks at the pixels themselves.

Both thumbnails are reduced to :data:`SIZE` x :data:`SIZE` colour pixels, ignoring the aspect
ratio as the pHash does, so that a crop becomes a scale and a shift along each axis. The second
is aligned to the first by the crop of each of its sides (searched up to :data:`SEARCH`) that best
maps its row and column means onto the first's, then the two are compared over their overlap. A
pixel has changed when a channel of one lies :data:`LEVELS` or more outside what the other holds
within one pixel of it (so the blend along an edge and what is left of the alignment never
count), and changed pixels count only where they fill a 2x2 block. :func:`compare` gives the crop
and the changed fraction of the overlap; the two are one picture (:attr:`Comparison.same`) when
no side is cropped by more than :data:`MAX_CROP` (a larger crop, or a shape moved further, is
another picture) and at most :data:`MAX_CHANGED` changed.

What a crop takes away is not compared: a change that lies only within the outer
:data:`MAX_CROP` of a picture reads as a crop. :func:`compare` costs about 3.6 ms of CPU.
"""

from __future__ import annotations

import io
from dataclasses import dataclass

import numpy as np
from PIL import Image

SIZE = 128  # pixels a side of the compared version: one pixel is 0.8 % of the picture
MAX_CROP = 0.05  # of each side: copies cropped 1-3 % (from one side or several) fit within 3.2 %
LEVELS = 48.0  # of 255, in one channel
# Measured (benchmarks/duplicates_quality.py): resized, JPEG (quality 60-90) and 1-3 % cropped
# copies of graphics and photographs left no changed block at all, while different graphics
# within 12 hash bits that align within the crop limit left 0.31 % of the overlap changed or
# more; the closest pair seen, 15 bits apart, 0.075 % (a rectangle, and the same one with
# rounded corners). Two 2x2 blocks of 128x128 are 0.05 %. Text is the weak spot: at this size a
# line of text is a grey smudge that a crop shifts, which fails some cropped screenshots.
MAX_CHANGED = 0.0005

SEARCH = 0.12  # of each side: how far the alignment looks, so a bigger crop is seen as one
# (k * step) grids of crops, each searched around the best of the one before: means of 4 pixels
# first, then every pixel.
_GRIDS = ((np.arange(-SEARCH, SEARCH + 1e-9, 0.01), SIZE // 4),
          (np.arange(-0.01, 0.01 + 1e-9, 0.0025), SIZE),
          (np.arange(-0.0025, 0.0025 + 1e-9, 0.000625), SIZE))
# A profile that is flat along an axis fits any crop equally well: ties go to the smallest.
_TIE_BREAK = 10.0  # levels of mean error per unit of crop


@dataclass(frozen=True)
class Layout:
    """A thumbnail reduced for comparison (about 50 KB)."""

    pixels: np.ndarray  # (SIZE, SIZE, 3) uint8
    cols: np.ndarray  # (SIZE, 3) float32: the mean of each column
    rows: np.ndarray  # (SIZE, 3) float32: the mean of each row


def layout(image: bytes | Image.Image) -> Layout:
    """The comparable form of a thumbnail, from its encoded bytes or a decoded image.
    Raises PIL's errors for bytes that are not an image."""
    img = Image.open(io.BytesIO(image)) if isinstance(image, bytes | bytearray) else image
    small = np.asarray(img.convert("RGB").resize((SIZE, SIZE), Image.Resampling.BOX))
    px = small.astype(np.float32)
    return Layout(small, px.mean(axis=0), px.mean(axis=1))


def _channel_max(x: np.ndarray) -> np.ndarray:
    """The largest of the last axis's three channels (numpy's own reduction over an axis of
    three is several times slower)."""
    return np.maximum(np.maximum(x[..., 0], x[..., 1]), x[..., 2])


def _mapping(starts: np.ndarray, ends: np.ndarray, size: int = SIZE
             ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """For each crop (the fraction ``start`` off the start and ``end`` off the end of the other
    picture's axis): where this axis's ``size`` pixel centres fall on the other's, as the lower
    of the two pixels to interpolate between and the weight of the upper one, and which centres
    fall inside the other; each (k, size)."""
    centres = (np.arange(size) + 0.5) / size
    mapped = (centres[None, :] - starts[:, None]) / (1.0 - starts[:, None] - ends[:, None])
    inside = (mapped >= 0.0) & (mapped <= 1.0)
    x = np.clip(mapped * size - 0.5, 0.0, size - 1.0)
    lo = np.minimum(np.floor(x).astype(np.int64), size - 2)
    return lo, (x - lo).astype(np.float32), inside


def _fit_axis(mine: np.ndarray, other: np.ndarray) -> tuple[float, float]:
    """The crop (start, end) of the other picture along one axis whose means best match mine:
    a coarse grid over +-SEARCH on means of 4 pixels, then finer ones around its best."""
    best = (0.0, 0.0)
    for grid, size in _GRIDS:
        m = mine.reshape(size, -1, 3).mean(axis=1)
        o = other.reshape(size, -1, 3).mean(axis=1)
        starts, ends = np.meshgrid(grid + best[0], grid + best[1], indexing="ij")
        starts, ends = starts.ravel(), ends.ravel()
        lo, frac, inside = _mapping(starts, ends, size)
        sampled = o[lo] * (1.0 - frac[..., None]) + o[lo + 1] * frac[..., None]
        err = _channel_max(np.abs(sampled - m[None]))
        count = np.maximum(inside.sum(axis=1), 1)
        score = (err * inside).sum(axis=1) / count + _TIE_BREAK * (np.abs(starts) + np.abs(ends))
        k = int(np.argmin(score))
        best = (float(starts[k]), float(ends[k]))
    return best


def _resample(pixels: np.ndarray, rows: tuple[float, float], cols: tuple[float, float]
              ) -> tuple[np.ndarray, np.ndarray]:
    """``pixels`` sampled at the first picture's pixel centres for the given crops of rows and
    columns, and which of those centres fall inside (SIZE, SIZE)."""
    ylo, yf, y_in = (v[0] for v in _mapping(np.array([rows[0]]), np.array([rows[1]])))
    xlo, xf, x_in = (v[0] for v in _mapping(np.array([cols[0]]), np.array([cols[1]])))
    yf, xf = yf[:, None, None], xf[None, :, None]
    top = pixels[ylo] * (1.0 - yf) + pixels[ylo + 1] * yf
    out = top[:, xlo] * (1.0 - xf) + top[:, xlo + 1] * xf
    return out, y_in[:, None] & x_in[None, :]


def _envelope(pixels: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The per-channel minimum and maximum over each pixel's 3x3 neighbourhood (separably:
    along rows, then along columns)."""
    out = []
    for reduce in (np.minimum, np.maximum):
        p = np.pad(pixels, ((1, 1), (1, 1), (0, 0)), mode="edge")
        p = reduce(reduce(p[:, :-2], p[:, 1:-1]), p[:, 2:])
        out.append(reduce(reduce(p[:-2], p[1:-1]), p[2:]))
    return out[0], out[1]


def _outside(mine: np.ndarray, other: np.ndarray) -> np.ndarray:
    """Where a channel of ``mine`` lies LEVELS or more outside what ``other`` holds within one
    pixel."""
    lo, hi = _envelope(other)
    return _channel_max(np.maximum(lo - mine, mine - hi)) >= LEVELS


def _opened(mask: np.ndarray) -> np.ndarray:
    """``mask`` without what does not fill a 2x2 block (erosion then dilation by 2x2)."""
    core = mask[:-1, :-1] & mask[1:, :-1] & mask[:-1, 1:] & mask[1:, 1:]
    out = np.zeros_like(mask)
    out[:-1, :-1] |= core
    out[1:, :-1] |= core
    out[:-1, 1:] |= core
    out[1:, 1:] |= core
    return out


@dataclass(frozen=True)
class Comparison:
    """How the second picture relates to the first."""

    crop: tuple[float, float, float, float]  # left, top, right, bottom (negative: it has more)
    changed: float  # fraction of the overlap, after alignment

    @property
    def same(self) -> bool:
        """One picture: at most a slight crop, and nothing changed."""
        return max(map(abs, self.crop)) <= MAX_CROP and self.changed <= MAX_CHANGED


def compare(a: Layout, b: Layout) -> Comparison:
    """Align ``b`` to ``a`` and measure what changed over their overlap."""
    cols = _fit_axis(a.cols, b.cols)
    rows = _fit_axis(a.rows, b.rows)
    aligned, overlap = _resample(b.pixels.astype(np.float32), rows, cols)
    mine = a.pixels.astype(np.float32)
    changed = (_outside(mine, aligned) | _outside(aligned, mine)) & overlap
    return Comparison((cols[0], rows[0], cols[1], rows[1]),
                      float(_opened(changed).sum()) / max(int(overlap.sum()), 1))


def same_picture(a: Layout, b: Layout) -> bool:
    """Whether ``a`` and ``b`` are one picture, resized, re-encoded or slightly cropped."""
    return compare(a, b).same
