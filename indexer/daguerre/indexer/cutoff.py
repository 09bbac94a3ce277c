"""Where a query's ranked results stop being relevant: a cut-off read from that query's own scores.

One fixed similarity threshold cannot serve every query: under one model, "a red circle" and
"something red" score their true matches at different levels (0.6-0.7 against 0.35-0.55 with the
tests' shapes CLIP), so a threshold right for one cuts the other in the wrong place. What every
query shares is the *shape* of its ranking: the images that match it sit together at the top, and
the score drops where they end.

:func:`cut` takes the scores of one query, ranked best first, and says how many to keep and why.
The methods (``benchmarks/search_cutoff.py`` measures them all, and picked ``gap`` as ``auto``):

``gap`` (``auto``)
    The largest drop between two consecutive scores, looked for among the scores that lie nearer
    the best score than the ranking's median (:data:`GAP_REACH`): a match of a query scores closer
    to its best match than to what it scores against a typical image. Below that, where the
    related-but-wrong images thin out into the unrelated ones, gaps are wide because the scores
    are sparse, not because relevance ends there: a window by rank (the upper half, which this
    replaced) let such a gap win for a query with three matches over a long tier of near misses
    (benchmarks/search_cutoff.py; docs/benchmarks.md).
``otsu``
    Otsu's split: the one threshold that makes the kept and the dropped scores each as tight as
    possible (two-class k-means in one dimension).
``mixture``
    A two-component Gaussian mixture fitted to the scores (EM, started from Otsu's split); keeps
    the scores more likely under the upper component.
``background``
    The scores that stand out from a background sample of the library (the same query against
    random images): above its median by ``BACKGROUND_Z`` robust standard deviations (MAD).

The module is pure numpy: no model, no store, no catalog.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

METHODS = ("gap", "otsu", "mixture", "background")
AUTO = "gap"
# Below this many ranked scores there is no distribution to read: everything is kept.
MIN_SCORES = 3
# ``gap`` looks for its drop among the scores within this fraction of the way from the best score
# down to the ranking's median.
GAP_REACH = 0.5
# ``background`` keeps scores this many robust standard deviations above the background median.
BACKGROUND_Z = 3.0


@dataclass(frozen=True)
class Cut:
    """Keep the first ``kept`` of the ranked scores. ``score`` is the lowest kept score (None
    when nothing is kept), ``method`` the method that decided and ``reason`` why, in words."""

    kept: int
    score: float | None
    method: str
    reason: str


def _checked(scores: Sequence[float] | np.ndarray) -> np.ndarray:
    s = np.asarray(scores, dtype=np.float64).ravel()
    if not np.all(np.isfinite(s)):
        raise ValueError("scores must be finite numbers")
    if len(s) > 1 and np.any(np.diff(s) > 1e-9):
        raise ValueError("scores must be ranked best first (non-increasing)")
    return s


def _cut(s: np.ndarray, kept: int, method: str, reason: str) -> Cut:
    return Cut(kept, float(s[kept - 1]) if kept else None, method, reason)


def largest_gap(scores: Sequence[float] | np.ndarray, *, reach: float | None = GAP_REACH
                ) -> Cut:
    """Cut at the largest drop between consecutive scores that starts from a score within
    ``reach`` of the way from the best score down to the median score (0: only below the best;
    1: down to the median); ``reach=None`` looks over the whole ranking."""
    s = _checked(scores)
    n = len(s)
    if n < MIN_SCORES:
        return _cut(s, n, "gap", f"only {n} result{'s' * (n != 1)}: too few to find a drop")
    gaps = s[:-1] - s[1:]
    if reach is not None:
        if not 0.0 <= reach <= 1.0:
            raise ValueError(f"reach must be between 0 and 1, got {reach}")
        level = s[0] - reach * (s[0] - float(np.median(s)))
        gaps = np.where(s[:-1] >= level, gaps, -np.inf)  # the best score is always within
    k = int(np.argmax(gaps)) + 1  # the first of equal gaps: the higher cut
    if gaps[k - 1] <= 0:
        return _cut(s, n, "gap", "every score is the same: nothing to cut")
    return _cut(s, k, "gap", f"largest drop in the scores: {gaps[k - 1]:.3f} after rank {k} "
                             f"({s[k - 1]:.3f} to {s[k]:.3f})")


def _otsu_index(s: np.ndarray) -> int:
    n = len(s)
    csum = np.cumsum(s)
    k = np.arange(1, n)
    upper = csum[:-1] / k
    lower = (csum[-1] - csum[:-1]) / (n - k)
    # Between-class variance (times n^2) of the split after rank k: the largest is Otsu's.
    return int(np.argmax(k * (n - k) * (upper - lower) ** 2)) + 1


def otsu(scores: Sequence[float] | np.ndarray) -> Cut:
    """Otsu's two-class split of the scores."""
    s = _checked(scores)
    n = len(s)
    if n < MIN_SCORES:
        return _cut(s, n, "otsu", f"only {n} result{'s' * (n != 1)}: too few to split")
    if s[0] == s[-1]:
        return _cut(s, n, "otsu", "every score is the same: nothing to cut")
    k = _otsu_index(s)
    return _cut(s, k, "otsu", f"two-class split: {k} scores around {s[:k].mean():.3f} kept, "
                              f"{n - k} around {s[k:].mean():.3f} dropped")


def mixture(scores: Sequence[float] | np.ndarray, *, iterations: int = 100) -> Cut:
    """A two-component Gaussian mixture fitted by EM; keeps the leading scores more likely under
    the upper component."""
    s = _checked(scores)
    n = len(s)
    if n < MIN_SCORES:
        return _cut(s, n, "mixture", f"only {n} result{'s' * (n != 1)}: too few to fit")
    if s[0] == s[-1]:
        return _cut(s, n, "mixture", "every score is the same: nothing to cut")
    k = _otsu_index(s)
    resp = np.zeros((n, 2))
    resp[:k, 0] = 1.0
    resp[k:, 1] = 1.0
    floor = max(1e-8, float(np.var(s)) * 1e-4)  # a component on one repeated score stays finite
    for _ in range(iterations):
        weight = resp.sum(axis=0) + 1e-12
        mean = (resp * s[:, None]).sum(axis=0) / weight
        var = np.maximum((resp * (s[:, None] - mean) ** 2).sum(axis=0) / weight, floor)
        log = (-0.5 * (s[:, None] - mean) ** 2 / var - 0.5 * np.log(var)
               + np.log(weight / n))
        log -= log.max(axis=1, keepdims=True)
        new = np.exp(log)
        new /= new.sum(axis=1, keepdims=True)
        if np.allclose(new, resp, atol=1e-6):
            break
        resp = new
    upper = int(np.argmax(mean))
    below = np.nonzero(resp[:, upper] < 0.5)[0]
    kept = int(below[0]) if len(below) else n
    return _cut(s, kept, "mixture", f"two-component fit: upper component {mean[upper]:.3f} "
                                    f"± {np.sqrt(var[upper]):.3f}, lower "
                                    f"{mean[1 - upper]:.3f} ± {np.sqrt(var[1 - upper]):.3f}")


def over_background(scores: Sequence[float] | np.ndarray,
                    background: Sequence[float] | np.ndarray, *, z: float = BACKGROUND_Z
                    ) -> Cut:
    """Keep the scores more than ``z`` robust standard deviations above the median of the
    query's scores against a background sample of the library."""
    s = _checked(scores)
    bg = np.asarray(background, dtype=np.float64).ravel()
    if len(bg) < MIN_SCORES:
        raise ValueError(f"a background needs at least {MIN_SCORES} scores, got {len(bg)}")
    median = float(np.median(bg))
    spread = max(float(np.median(np.abs(bg - median))) * 1.4826, 1e-6)
    level = median + z * spread
    kept = int(np.sum(s > level))
    return _cut(s, kept, "background", f"{z:g} robust deviations above the background: scores "
                                       f"over {level:.3f} (background median {median:.3f}, "
                                       f"spread {spread:.3f})")


def cut(scores: Sequence[float] | np.ndarray, method: str = "auto", *,
        background: Sequence[float] | np.ndarray | None = None) -> Cut:
    """How many of ``scores`` (one query's, ranked best first) to keep, by ``method`` (one of
    :data:`METHODS`, or ``auto``: :data:`AUTO`). ``background`` (the query's scores against a
    random sample of the library) is needed by ``background`` only."""
    name = AUTO if method == "auto" else method
    if name == "gap":
        return largest_gap(scores)
    if name == "otsu":
        return otsu(scores)
    if name == "mixture":
        return mixture(scores)
    if name == "background":
        if background is None:
            raise ValueError("the background method needs the background scores")
        return over_background(scores, background)
    raise ValueError(f"unknown cut-off method {method!r}: one of auto, {', '.join(METHODS)}")
