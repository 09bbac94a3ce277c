"""Few-shot classifiers (indexer/fewshot.py) on synthetic embeddings: a concept that is a
direction in embedding space is found from a few examples, the fitted classifier survives a
round trip through JSON exactly, and examples it cannot learn from are refused by name."""

from __future__ import annotations

import json

import numpy as np
import pytest

from daguerre.indexer.fewshot import (
    MIN_POSITIVES,
    FewShotError,
    LinearClassifier,
    cross_validate,
    examples_digest,
    fit,
)

DIM = 32


def concept_library(seed: int = 0, n: int = 400, members: int = 40
                    ) -> tuple[np.ndarray, np.ndarray]:
    """(unit embeddings, truth): ``members`` rows lean towards one hidden direction, the rest
    scatter around a shared offset, as image embeddings do."""
    rng = np.random.default_rng(seed)
    offset = rng.normal(size=DIM)
    concept = rng.normal(size=DIM)
    x = rng.normal(size=(n, DIM)) + offset
    truth = np.zeros(n, bool)
    truth[rng.choice(n, members, replace=False)] = True
    x[truth] += 1.5 * concept
    return x / np.linalg.norm(x, axis=1, keepdims=True), truth


@pytest.mark.parametrize("method", ["balanced", "sigmoid"])
def test_ten_examples_rank_the_rest_of_the_concept_first(method: str) -> None:
    x, truth = concept_library()
    pos = np.flatnonzero(truth)[:10]
    rest = np.setdiff1d(np.arange(len(x)), pos)
    clf = fit(x[pos], x[rest], method=method)
    probs = clf.predict_proba(x[rest])
    assert probs.shape == (len(rest),) and ((probs >= 0) & (probs <= 1)).all()
    top = rest[np.argsort(-probs)[:20]]
    precision = truth[top].mean()
    assert precision >= 0.9, precision


def test_balanced_probabilities_read_as_even_odds() -> None:
    # The default method: at 0.5 it keeps most of the concept and little else, although the
    # negatives (the whole rest) hold 30 unlabelled members of it.
    x, truth = concept_library(seed=1)
    pos = np.flatnonzero(truth)[:10]
    rest = np.setdiff1d(np.arange(len(x)), pos)
    probs = fit(x[pos], x[rest]).predict_proba(x[rest])
    kept = probs >= 0.5
    assert truth[rest][kept].mean() >= 0.8
    assert (kept & truth[rest]).sum() >= 0.8 * truth[rest].sum()


def test_parameters_are_json_and_give_the_same_probabilities() -> None:
    x, truth = concept_library(seed=2)
    pos, neg = x[truth][:8], x[~truth]
    for method in ("balanced", "sigmoid"):
        clf = fit(pos, neg, method=method)
        params = json.loads(json.dumps(clf.to_params()))
        again = LinearClassifier.from_params(params)
        assert params["method"] == method and len(params["coef"]) == DIM
        np.testing.assert_allclose(again.predict_proba(x), clf.predict_proba(x), rtol=1e-6)
        # One vector is scored as a matrix of one row; scale does not matter (rows are unit).
        assert again.predict_proba(3 * x[0]).shape == (1,)
        np.testing.assert_allclose(again.predict_proba(3 * x[0]), clf.predict_proba(x[:1]),
                                   rtol=1e-6)


def test_fitting_is_deterministic() -> None:
    x, truth = concept_library(seed=3)
    a = fit(x[truth][:6], x[~truth]).to_params()
    b = fit(x[truth][:6], x[~truth]).to_params()
    assert a == b


def test_too_few_positives_and_bad_inputs_are_refused_by_name() -> None:
    x, truth = concept_library(seed=4)
    with pytest.raises(FewShotError, match=f"at least {MIN_POSITIVES} positive"):
        fit(x[truth][:MIN_POSITIVES - 1], x[~truth])
    with pytest.raises(FewShotError, match="at least one negative"):
        fit(x[truth][:6], np.empty((0, DIM)))
    with pytest.raises(FewShotError, match="dimension 16, expected 32"):
        fit(x[truth][:6], x[~truth][:, :16])
    with pytest.raises(FewShotError, match="finite"):
        bad = x[truth][:6].copy()
        bad[0, 0] = np.nan
        fit(bad, x[~truth])
    with pytest.raises(FewShotError, match="method must be one of"):
        fit(x[truth][:6], x[~truth], method="svm")
    clf = fit(x[truth][:6], x[~truth])
    with pytest.raises(FewShotError, match="expected 32"):
        clf.predict_proba(np.ones((2, 8)))
    for broken in ({}, {"version": 1, "kind": "logistic", "coef": "abc", "intercept": 0},
                   {**clf.to_params(), "calibration": {"method": "isotonic"}},
                   {**clf.to_params(), "coef": [float("nan")] * DIM}):
        with pytest.raises(FewShotError):
            LinearClassifier.from_params(broken)


def test_cross_validation_reports_held_out_recall() -> None:
    x, truth = concept_library(seed=5)
    pos = x[truth][:10]
    neg = x[~truth][:200]  # true negatives only: the figures are not a lower bound here
    held = cross_validate(pos, neg)
    assert held["folds"] == 5
    assert held["recall"] >= 0.8 and held["precision"] >= 0.8
    assert held["average_precision"] >= 0.9


def test_digest_depends_on_the_examples_not_their_order() -> None:
    assert examples_digest([3, 1, 2], [9]) == examples_digest([1, 2, 3, 3], [9])
    assert examples_digest([1, 2, 3], [9]) != examples_digest([1, 2, 3], [])
    assert examples_digest([1, 2], [3]) != examples_digest([1, 2, 3], [])
