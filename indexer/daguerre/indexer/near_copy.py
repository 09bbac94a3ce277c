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
is aligned to the first by the crop of each of its sides (searched up to :data:`SEARCH`) in three
steps: along each axis alone, the best few crops under which its row (or column) means fit the
first's on a coarse grid, apart from each other, and no crop at all (one best crop is not enough:
lines of text make the row means periodic and the column means nearly flat, so a wrong crop fits
about as well as the right one, and 4 of 60 cropped screenshots were refused); of those, the row
and column crops that together best map the pixels themselves, at half the size; then that pair
refined on finer grids, on the means of four bands across the other axis over what both show.

Then the two are compared over their overlap. A pixel has changed when a channel of one lies
:data:`LEVELS` or more outside what the other holds within one pixel of it, sharp or blurred over
3x3 (so the blend along an edge, the softer edges of a small copy, and what is left of the
alignment never count), or when its brightness lies :data:`LUMA_LEVELS` and more than
:data:`LUMA_SPREAD` of the brightness range there outside it (a line of small text is a faint grey
at this size); changed pixels count only where they fill a 2x2 block. Faint differences
(:data:`FAINT_LEVELS`) count apart, only where they fill a :data:`FAINT_BLOCK`-pixel square: a
shape within LEVELS of its background is a solid region of them. :func:`compare` gives the crop,
the changed and the faint fractions of the overlap; the two are one picture
(:attr:`Comparison.same`) when no side is cropped by more than :data:`MAX_CROP` (a larger crop, or
a shape moved further, is another picture), at most :data:`MAX_CHANGED` changed and at most
:data:`MAX_FAINT` faint.

What a crop takes away is not compared: a change that lies only within the outer
:data:`MAX_CROP` of a picture reads as a crop. :func:`compare` costs about 8-13 ms of CPU on the
2-core dev machine under load (3.6 ms before the alignment above).
"""

from __future__ import annotations

import io
from dataclasses import dataclass

import numpy as np
from PIL import Image

SIZE = 128  # pixels a side of the compared version: one pixel is 0.8 % of the picture
MAX_CROP = 0.05  # of each side: copies cropped 1-3 % (from one side or several) fit within 3.2 %
LEVELS = 48.0  # of 255, in one channel
LUMA_LEVELS = 24.0  # of 255, in brightness: a line of small text is a faint grey at this size
LUMA_SPREAD = 0.75  # of the brightness range within one pixel: a blurrier copy's edge ramps
# Measured (benchmarks/duplicates_quality.py): resized, JPEG (quality 60-90) and 1-3 % cropped
# copies of graphics and photographs left no changed block at all, while different graphics
# within 12 hash bits that align within the crop limit left 0.31 % of the overlap changed or
# more; the closest pair seen, 15 bits apart, 0.075 % (a rectangle, and the same one with
# rounded corners). Two 2x2 blocks of 128x128 are 0.05 %. Text is the weak spot: at this size a
# line of text is a grey smudge that a crop shifts, which fails some cropped screenshots.
MAX_CHANGED = 0.0005
# A shape within LEVELS of its background (a dark shape on a dark ground, a pale one on white)
# changes no pixel by LEVELS, so any other such shape, or none, passed: a dark circle, a dark
# rounded rectangle and the bare dark background were "one picture". Faint differences count
# apart: FAINT_LEVELS or more outside what the other holds within one pixel, only where they fill
# a FAINT_BLOCK x FAINT_BLOCK block (a recoloured, added or removed shape is a solid region;
# JPEG noise and resampling blur are thin or weaker), at most MAX_FAINT of the overlap. Measured
# (seeds 1 and 2 of benchmarks/duplicates_quality.py's libraries, with 0 of 3480 copies refused
# and 0 of 21820 pairs of different originals confirmed): at 10 levels and 4x4 blocks 4 resized
# graphics were refused; these values refused none. A dark circle against a dark rounded
# rectangle at one place leaves 0.46 % faint, against the bare background 11 %.
FAINT_LEVELS = 12.0
FAINT_BLOCK = 6
MAX_FAINT = 0.002
# The version of this check's rule: verdicts kept from another version are not reused
# (daguerre.platform.services.duplicates keeps them in the catalog). Raise it with any change
# to what ``compare`` decides.
VERSION = 2

SEARCH = 0.12  # of each side: how far the alignment looks, so a bigger crop is seen as one
# Crops tried on each axis's 1-D means, first coarsely (one in 4 pixels), then finer around the
# chosen one (every pixel): (offsets of the start and of the end, samples a side).
_COARSE = np.round(np.arange(-SEARCH, SEARCH + 1e-9, 0.01), 6)  # 0.0 exactly among them
_COARSE_SIZE = SIZE // 2
_FINE = ((np.arange(-0.02, 0.02 + 1e-9, 0.005), SIZE),
         (np.arange(-0.005, 0.005 + 1e-9, 0.00125), SIZE),
         (np.arange(-0.00125, 0.00125 + 1e-9, 0.000625), SIZE))
# Lines of text make the row means periodic and the column means nearly flat, so a wrong crop can
# fit an axis as well as the right one: the best few coarse crops of each axis, at least
# _APART grid steps apart, and no crop at all, go on to a joint choice by the pixels themselves
# at _JOINT_SIZE a side.
_CANDIDATES = 4
_APART = 2
_JOINT_SIZE = SIZE // 2
# A profile that is flat along an axis fits any crop equally well: ties go to the smallest.
_TIE_BREAK = 10.0  # levels of mean error per unit of crop
_JOINT_TIE_BREAK = 2.0
_BANDS = 4
_FINE_TIE_BREAK = 1.0
_LUMA = np.array([0.299, 0.587, 0.114], np.float32)  # ITU-R BT.601 brightness


@dataclass(frozen=True)
class Layout:
    """A thumbnail reduced for comparison (about 60 KB)."""

    pixels: np.ndarray  # (SIZE, SIZE, 3) uint8
    cols: np.ndarray  # (SIZE, 3) float32: the mean of each column
    rows: np.ndarray  # (SIZE, 3) float32: the mean of each row
    small: np.ndarray  # (_JOINT_SIZE, _JOINT_SIZE, 3) float32: means of square blocks


def layout(image: bytes | Image.Image) -> Layout:
    """The comparable form of a thumbnail, from its encoded bytes or a decoded image.
    Raises PIL's errors for bytes that are not an image."""
    img = Image.open(io.BytesIO(image)) if isinstance(image, bytes | bytearray) else image
    small = np.asarray(img.convert("RGB").resize((SIZE, SIZE), Image.Resampling.BOX))
    px = small.astype(np.float32)
    f = SIZE // _JOINT_SIZE
    return Layout(small, px.mean(axis=0), px.mean(axis=1),
                  px.reshape(_JOINT_SIZE, f, _JOINT_SIZE, f, 3).mean(axis=(1, 3)))


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


_COARSE_STARTS, _COARSE_ENDS = (g.ravel() for g in np.meshgrid(_COARSE, _COARSE, indexing="ij"))
_COARSE_MAP = _mapping(_COARSE_STARTS, _COARSE_ENDS, _COARSE_SIZE)


def _scores(mine: np.ndarray, other: np.ndarray, starts: np.ndarray, ends: np.ndarray,
            size: int, mapping: tuple[np.ndarray, np.ndarray, np.ndarray] | None = None,
            tie_break: float = _TIE_BREAK) -> np.ndarray:
    """How badly each crop (``starts[k]``, ``ends[k]``) of the other's means fits mine, at
    ``size`` samples: the mean over the overlap (and over bands, for means of several bands:
    (SIZE, bands, 3)) of the largest channel error, plus the tie break."""
    bands = mine.shape[1] if mine.ndim == 3 else 1
    m, o = mine.reshape(len(mine), bands * 3), other.reshape(len(other), bands * 3)
    if size < len(mine):
        m, o = m.reshape(size, -1, bands * 3).mean(axis=1), o.reshape(size, -1, bands * 3).mean(axis=1)
    lo, frac, inside = mapping if mapping is not None else _mapping(starts, ends, size)
    # In place, and np.take rather than indexing: this is most of compare's time.
    below = np.take(o, lo, axis=0)
    err = np.take(o, lo + 1, axis=0)
    err -= below
    err *= frac[..., None]
    err += below
    err -= m
    np.abs(err, out=err)
    worst = _channel_max(err.reshape(*err.shape[:2], bands, 3))
    worst = worst[..., 0] if bands == 1 else worst.mean(axis=2)
    fit = np.einsum("ij,ij->i", worst, inside.astype(np.float32))
    return fit / np.maximum(inside.sum(axis=1), 1) + tie_break * (np.abs(starts) + np.abs(ends))


def _band_means(pixels: np.ndarray, inside: np.ndarray, axis: int) -> np.ndarray:
    """The means of ``pixels`` along ``axis`` (0: columns' means over rows, 1: rows' means over
    columns) in _BANDS bands of the lines ``inside``: (SIZE, _BANDS, 3)."""
    at = np.flatnonzero(inside)
    starts = at[np.linspace(0, len(at), _BANDS, endpoint=False).astype(np.int64)]
    px = pixels[at[0]:at[-1] + 1] if axis == 0 else pixels[:, at[0]:at[-1] + 1]
    sums = np.add.reduceat(px, starts - at[0], axis=axis)
    counts = np.diff(np.append(starts, at[-1] + 1)).astype(np.float32)
    if axis == 0:
        return (sums / counts[:, None, None]).transpose(1, 0, 2)
    return sums / counts[None, :, None]


def _candidates(mine: np.ndarray, other: np.ndarray) -> list[tuple[float, float]]:
    """The other's crops (start, end) along one axis worth a joint look: the best coarse fits
    of the means, each at least _APART grid steps from a better one, and no crop."""
    score = _scores(mine, other, _COARSE_STARTS, _COARSE_ENDS, _COARSE_SIZE, _COARSE_MAP)
    n = len(_COARSE)
    chosen: list[tuple[int, int]] = []
    for k in np.argsort(score, kind="stable").tolist():
        i, j = divmod(k, n)
        if all(max(abs(i - a), abs(j - b)) > _APART for a, b in chosen):
            chosen.append((i, j))
            if len(chosen) == _CANDIDATES:
                break
    out = [(float(_COARSE[i]), float(_COARSE[j])) for i, j in chosen]
    if (0.0, 0.0) not in out:
        out.append((0.0, 0.0))
    return out


def _joint(a: Layout, b: Layout, rows: list[tuple[float, float]],
           cols: list[tuple[float, float]]) -> tuple[tuple[float, float], tuple[float, float]]:
    """The pair of row and column crops under which ``b``'s small pixels best match ``a``'s:
    the mean over the overlap of the largest channel error, plus the tie break."""
    size = _JOINT_SIZE
    r0, r1 = np.array(rows).T
    c0, c1 = np.array(cols).T
    ylo, yf, y_in = _mapping(r0, r1, size)  # (R, size)
    xlo, xf, x_in = _mapping(c0, c1, size)  # (C, size)
    # Columns first on the transposed pixels, then rows: each np.take then moves whole rows.
    by_col = np.ascontiguousarray(b.small.transpose(1, 0, 2))  # x, y, channel
    left = np.take(by_col, xlo, axis=0)  # C, x, y, channel
    sampled = np.take(by_col, xlo + 1, axis=0)
    sampled -= left
    sampled *= xf[:, :, None, None]
    sampled += left
    sampled = np.ascontiguousarray(sampled.transpose(0, 2, 1, 3))  # C, y, x, channel
    below = np.take(sampled, ylo, axis=1)  # C, R, y, x, channel
    err = np.take(sampled, ylo + 1, axis=1)
    err -= below
    err *= yf[None, :, :, None, None]
    err += below
    err -= a.small
    np.abs(err, out=err)
    inside = (y_in[:, :, None] & x_in[:, None, None, :]).astype(np.float32)  # C, R, y, x
    mean = np.einsum("jiyx,jiyx->ji", _channel_max(err), inside) / np.maximum(
        inside.sum(axis=(2, 3)), 1)
    score = mean + _JOINT_TIE_BREAK * ((np.abs(c0) + np.abs(c1))[:, None] + np.abs(r0)
                                       + np.abs(r1))
    j, i = divmod(int(np.argmin(score)), len(rows))
    return rows[i], cols[j]


def _refine(mine: np.ndarray, other: np.ndarray, best: tuple[float, float]
            ) -> tuple[float, float]:
    """``best`` refined on the means by finer and finer grids around it."""
    for grid, size in _FINE:
        starts, ends = (g.ravel() for g in np.meshgrid(grid + best[0], grid + best[1],
                                                       indexing="ij"))
        k = int(np.argmin(_scores(mine, other, starts, ends, size, tie_break=_FINE_TIE_BREAK)))
        best = (float(starts[k]), float(ends[k]))
    return best


def _onto_rows(pixels: np.ndarray, rows: tuple[float, float]) -> tuple[np.ndarray, np.ndarray]:
    """``pixels``' rows sampled at the first picture's row centres for the given crop of rows,
    and which of those centres fall inside: (SIZE, SIZE, 3), (SIZE,)."""
    lo, frac, inside = (v[0] for v in _mapping(np.array([rows[0]]), np.array([rows[1]])))
    flat = pixels.reshape(SIZE, SIZE * 3)  # a row's channels side by side: np.take is faster
    below = np.take(flat, lo, axis=0)
    out = np.take(flat, lo + 1, axis=0)
    out -= below
    out *= frac[:, None]
    out += below
    return out.reshape(SIZE, SIZE, 3), inside


def _onto_cols(pixels: np.ndarray, cols: tuple[float, float]) -> tuple[np.ndarray, np.ndarray]:
    """``pixels``' columns sampled at the first picture's column centres for the given crop of
    columns, and which of those centres fall inside: (SIZE, SIZE, 3), (SIZE,)."""
    lo, frac, inside = (v[0] for v in _mapping(np.array([cols[0]]), np.array([cols[1]])))
    flat = pixels.reshape(SIZE, SIZE * 3)
    at = (lo[:, None] * 3 + np.arange(3)).ravel()
    left = np.take(flat, at, axis=1)
    out = np.take(flat, at + 3, axis=1)
    out -= left
    out *= np.repeat(frac, 3)[None]
    out += left
    return out.reshape(SIZE, SIZE, 3), inside


def _resample(pixels: np.ndarray, rows: tuple[float, float], cols: tuple[float, float]
              ) -> tuple[np.ndarray, np.ndarray]:
    """``pixels`` sampled at the first picture's pixel centres for the given crops of rows and
    columns, and which of those centres fall inside (SIZE, SIZE)."""
    by_rows, y_in = _onto_rows(pixels, rows)
    out, x_in = _onto_cols(by_rows, cols)
    return out, y_in[:, None] & x_in[None, :]


def _spread(x: np.ndarray, reduce: np.ufunc) -> np.ndarray:
    """``reduce`` (np.minimum or np.maximum) over each pixel's 3x3 neighbourhood, the border
    repeated (separably: along rows, then along columns)."""
    out = x.copy()
    reduce(out[1:], x[:-1], out=out[1:])
    reduce(out[:-1], x[1:], out=out[:-1])
    rows = out.copy()
    reduce(out[:, 1:], rows[:, :-1], out=out[:, 1:])
    reduce(out[:, :-1], rows[:, 1:], out=out[:, :-1])
    return out


def _blur(x: np.ndarray) -> np.ndarray:
    p = np.concatenate([x[:1], x, x[-1:]], axis=0)
    r = (p[:-2] + p[1:-1] + p[2:]) / 3
    p = np.concatenate([r[:, :1], r, r[:, -1:]], axis=1)
    return (p[:, :-2] + p[:, 1:-1] + p[:, 2:]) / 3


def _excess(mine: np.ndarray, other: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    lo, hi = _spread(other, np.minimum), _spread(other, np.maximum)
    spread = hi - lo
    blurred = _blur(other)  # a small copy's edges, resized up, are ramps up to 3 pixels wide
    lo = np.minimum(lo, _spread(blurred, np.minimum))
    hi = np.maximum(hi, _spread(blurred, np.maximum))
    return np.maximum(lo - mine, mine - hi), spread


def _outside(mine: np.ndarray, other: np.ndarray, mine_luma: np.ndarray,
             other_luma: np.ndarray) -> np.ndarray:
    """Where ``mine`` has changed from ``other``: a channel LEVELS or more outside what
    ``other`` holds within one pixel, or the brightness LUMA_LEVELS and LUMA_SPREAD of the
    range there outside."""
    excess, _ = _excess(mine, other)
    luma, spread = _excess(mine_luma, other_luma)
    return ((_channel_max(excess) >= LEVELS)
            | (luma >= np.maximum(LUMA_LEVELS, LUMA_SPREAD * spread)))


def _opened(mask: np.ndarray) -> np.ndarray:
    """``mask`` without what does not fill a 2x2 block (erosion then dilation by 2x2)."""
    core = mask[:-1, :-1] & mask[1:, :-1] & mask[:-1, 1:] & mask[1:, 1:]
    out = np.zeros_like(mask)
    out[:-1, :-1] |= core
    out[1:, :-1] |= core
    out[:-1, 1:] |= core
    out[1:, 1:] |= core
    return out


def _faint(mine: np.ndarray, other: np.ndarray) -> np.ndarray:
    """Where a channel of ``mine`` lies FAINT_LEVELS or more outside what ``other`` holds
    within one pixel."""
    excess, _ = _excess(mine, other)
    return _channel_max(excess) >= FAINT_LEVELS


def _opened_by(mask: np.ndarray, k: int) -> np.ndarray:
    """``mask`` without what does not fill a k x k block (erosion then dilation)."""
    n, m = mask.shape
    core = np.ones((n - k + 1, m - k + 1), bool)
    for dy in range(k):
        for dx in range(k):
            core &= mask[dy:n - k + 1 + dy, dx:m - k + 1 + dx]
    out = np.zeros_like(mask)
    for dy in range(k):
        for dx in range(k):
            out[dy:n - k + 1 + dy, dx:m - k + 1 + dx] |= core
    return out


@dataclass(frozen=True)
class Comparison:
    """How the second picture relates to the first."""

    crop: tuple[float, float, float, float]  # left, top, right, bottom (negative: it has more)
    changed: float  # fraction of the overlap, after alignment
    faint: float = 0.0  # fraction of the overlap with a faint difference in a solid block

    @property
    def same(self) -> bool:
        """One picture: at most a slight crop, and nothing changed."""
        return (max(map(abs, self.crop)) <= MAX_CROP and self.changed <= MAX_CHANGED
                and self.faint <= MAX_FAINT)


def compare(a: Layout, b: Layout) -> Comparison:
    """Align ``b`` to ``a`` and measure what changed over their overlap."""
    rows, cols = _joint(a, b, _candidates(a.rows, b.rows), _candidates(a.cols, b.cols))
    mine, theirs = a.pixels.astype(np.float32), b.pixels.astype(np.float32)
    # Refined on the means of what both show along the other axis: cropping rows takes, say,
    # part of a title bar out of every column's mean, which would pull the columns' fit.
    by_rows, y_in = _onto_rows(theirs, rows)
    cols = _refine(_band_means(mine, y_in, 0), _band_means(by_rows, y_in, 0), cols)
    by_cols, x_in = _onto_cols(theirs, cols)
    rows = _refine(_band_means(mine, x_in, 1), _band_means(by_cols, x_in, 1), rows)
    aligned, overlap = _resample(theirs, rows, cols)
    mine_luma, aligned_luma = mine @ _LUMA, aligned @ _LUMA
    changed = (_outside(mine, aligned, mine_luma, aligned_luma)
               | _outside(aligned, mine, aligned_luma, mine_luma)) & overlap
    faint = (_faint(mine, aligned) | _faint(aligned, mine)) & overlap
    area = max(int(overlap.sum()), 1)
    return Comparison((cols[0], rows[0], cols[1], rows[1]), float(_opened(changed).sum()) / area,
                      float(_opened_by(faint, FAINT_BLOCK).sum()) / area)


def same_picture(a: Layout, b: Layout) -> bool:
    """Whether ``a`` and ``b`` are one picture, resized, re-encoded or slightly cropped."""
    return compare(a, b).same
