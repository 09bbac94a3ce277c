"""Where a ranked list of scores stops being relevant (daguerre.indexer.cutoff), on scores whose
answer is plain to see."""

from __future__ import annotations

import numpy as np
import pytest

from daguerre.indexer import cutoff

# Eight matches around 0.7, a tier of near misses around 0.45, and a long tail with a wide gap
# near its bottom (the sparse end of a ranking, which must not be taken for the edge).
MATCHES = [0.74, 0.73, 0.72, 0.72, 0.71, 0.70, 0.69, 0.68]
RANKED = np.array(MATCHES + list(np.linspace(0.50, 0.40, 12)) + list(np.linspace(0.30, 0.20, 20))
                  + [-0.05])


def test_auto_stops_after_the_matches_and_says_where() -> None:
    found = cutoff.cut(RANKED, "auto")
    assert found.kept == len(MATCHES)
    assert found.score == pytest.approx(0.68)
    assert found.method == cutoff.AUTO == "gap"
    assert "after rank 8" in found.reason and "0.180" in found.reason


def test_the_drop_at_the_bottom_of_the_ranking_is_not_the_edge() -> None:
    # Over the whole ranking the widest gap is the last one (0.20 to -0.05): auto looks for its
    # drop only among the scores nearer the best than the median.
    assert cutoff.largest_gap(RANKED, reach=None).kept == len(RANKED) - 1
    assert cutoff.cut(RANKED).kept == len(MATCHES)


def test_a_sparse_drop_high_in_the_ranking_is_not_the_edge() -> None:
    # Three matches, then a long tier of near misses thinning out (wider and wider steps) into
    # the unrelated images. The drop where the near misses end (0.17 to 0.00) is wider than the
    # one after the matches and lies in the upper half by rank, so a window by rank took it
    # (a query of the benchmark kept 87 images for 3 matches); it lies below halfway from the
    # best score to the median, so auto does not.
    near = 0.57 - np.cumsum(np.linspace(0.002, 0.008, 80))
    unrelated = np.linspace(0.0, -0.2, 230)
    ranked = np.concatenate([[0.72, 0.716, 0.65], near, unrelated])
    assert near[-1] - unrelated[0] > 2 * (0.65 - near[0])
    assert 3 + len(near) < len(ranked) / 2
    assert cutoff.cut(ranked).kept == 3
    assert cutoff.largest_gap(ranked, reach=None).kept == 3 + len(near)


def test_scores_at_another_level_are_cut_at_their_own_drop() -> None:
    # The same shape of ranking 0.3 lower: a fixed threshold right for one is wrong for the
    # other, the cut-off is right for both.
    lower = RANKED - 0.3
    assert cutoff.cut(lower).kept == len(MATCHES)
    assert cutoff.cut(lower).score == pytest.approx(0.38)


def test_few_or_equal_scores_are_kept_whole() -> None:
    assert cutoff.cut([]).kept == 0 and cutoff.cut([]).score is None
    assert cutoff.cut([0.5, 0.1]).kept == 2
    assert "too few" in cutoff.cut([0.5, 0.1]).reason
    same = cutoff.cut([0.3] * 10)
    assert same.kept == 10 and "same" in same.reason


def test_the_other_methods_split_two_clear_groups() -> None:
    two = np.array([0.8, 0.79, 0.78, 0.77] + [0.3, 0.29, 0.28, 0.27, 0.26, 0.25, 0.24])
    assert cutoff.cut(two, "otsu").kept == 4
    assert cutoff.cut(two, "mixture").kept == 4
    background = np.random.default_rng(0).normal(0.27, 0.02, 500)
    assert cutoff.cut(two, "background", background=background).kept == 4
    assert "two-component fit" in cutoff.cut(two, "mixture").reason


def test_bad_input_is_refused_with_the_reason() -> None:
    with pytest.raises(ValueError, match="best first"):
        cutoff.cut([0.1, 0.5, 0.3])
    with pytest.raises(ValueError, match="finite"):
        cutoff.cut([0.5, float("nan")])
    with pytest.raises(ValueError, match="unknown cut-off method"):
        cutoff.cut([0.5, 0.4, 0.3], "elbow")
    with pytest.raises(ValueError, match="background scores"):
        cutoff.cut([0.5, 0.4, 0.3], "background")
    with pytest.raises(ValueError, match="reach must be between 0 and 1, got 1.5"):
        cutoff.largest_gap([0.5, 0.4, 0.3], reach=1.5)
