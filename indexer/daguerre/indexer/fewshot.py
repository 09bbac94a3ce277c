"""Few-shot classifiers over image embeddings: "tag a few, find the rest".

A person's own vocabulary ("grandma's house", "approved for print") has no prompt that CLIP
knows; a handful of examples has. :func:`fit` trains scikit-learn's logistic regression on the
embeddings of images a person tagged (positives) against others (negatives), and returns it as
plain data: one weight vector, an intercept and a calibration, which :meth:`LinearClassifier.
predict_proba` applies with numpy alone. So a classifier is stored as JSON (never pickled: a
pickle is code, and ties the catalog to one scikit-learn version) and scoring a library is a
matrix product.

Methods (``fit(method=...)``), compared in ``benchmarks/fewshot_tags.py``:

* ``balanced`` (the default): features standardised on the training set, then logistic
  regression with ``class_weight="balanced"`` (each class weighs the same, whatever their
  counts). Its probability reads "how likely a tag, at even odds", which is what a person
  deciding on suggestions at ``probability >= 0.5`` wants: measured on the shapes CLIP with
  5, 10 and 20 positives, precision 0.92-0.99 and recall 0.94-1.0 at 0.5.
* ``sigmoid``: the same regression without class weights, its decision values calibrated with
  Platt's sigmoid fitted on cross-validated predictions (``CalibratedClassifierCV``). Honest to
  the training set's odds, which are a few positives among a sample of the rest; and since
  that sample holds positives nobody has tagged yet, it learns that even a sure match is
  rarely labelled: measured, it ranks as well but no image at all reaches 0.5.

Standardising first makes the regularisation strength mean the same for every embedding model
(a 64-d test model and a 512-d ViT-B-32 spread their coordinates very differently); the scaling
is folded into the weights, so applying the classifier needs no scaler.

Rows are L2-normalised before fitting and scoring, as everywhere in the indexer (the cosine is
the model's similarity). This module needs numpy and scikit-learn only: no database, no torch.
"""

from __future__ import annotations

import hashlib
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

# Fewer examples than this and a classifier mostly learns the accidents of the few it saw.
MIN_POSITIVES = 5
METHODS = ("balanced", "sigmoid")
DEFAULT_METHOD = "balanced"
# Inverse regularisation strength on standardised features, chosen on the shapes CLIP over
# 0.03-1.0 (benchmarks/fewshot_tags.py prints the comparison): weaker regularisation (larger C)
# gains a little precision at 0.5 and loses recall (0.63 at C=1 with 5 positives), stronger
# loses precision with 20.
DEFAULT_C = 0.1
PARAMS_VERSION = 1


class FewShotError(ValueError):
    """Examples or stored parameters a classifier cannot be made from or applied with; the
    message says which and why."""


def _rows(name: str, values: Any, dim: int | None = None) -> np.ndarray:
    """``values`` as a float32 (n, dim) matrix of unit rows; FewShotError naming ``name``."""
    x = np.asarray(values, dtype=np.float32)
    if x.ndim == 1 and x.size and dim is not None and x.size == dim:
        x = x[None]
    if x.ndim != 2:
        raise FewShotError(f"{name} must be a 2-D array of embeddings (one per row), "
                           f"got shape {x.shape}")
    if dim is not None and x.shape[0] and x.shape[1] != dim:
        raise FewShotError(f"{name} have dimension {x.shape[1]}, expected {dim} (embeddings "
                           "of another model?)")
    if not np.isfinite(x).all():
        raise FewShotError(f"{name} hold a value that is not a finite number")
    norms = np.linalg.norm(x, axis=1, keepdims=True)
    return x / np.maximum(norms, np.float32(1e-12))


def examples_digest(positive_ids: Sequence[int], negative_ids: Sequence[int]) -> str:
    """A SHA-256 (hex) of the sorted example ids of each class: two training sets with the same
    examples have the same digest, so a caller retrains only when it changes."""
    h = hashlib.sha256()
    for label, ids in (("+", positive_ids), ("-", negative_ids)):
        h.update(label.encode())
        h.update(",".join(str(int(i)) for i in sorted(set(int(i) for i in ids))).encode())
    return h.hexdigest()


@dataclass(frozen=True)
class LinearClassifier:
    """A fitted classifier as data: ``probability = calibrate(X @ coef + intercept)`` for unit
    rows ``X``. ``calibration`` is ``{"method": "none"}`` (the logistic function of the
    decision value) or ``{"method": "sigmoid", "a": A, "b": B}`` (Platt's
    ``1 / (1 + exp(A * d + B))``, scikit-learn's convention)."""

    coef: np.ndarray
    intercept: float
    method: str = DEFAULT_METHOD
    calibration: Mapping[str, Any] = field(default_factory=lambda: {"method": "none"})
    c: float = DEFAULT_C

    @property
    def dim(self) -> int:
        return int(self.coef.shape[0])

    def decision(self, embeddings: Any) -> np.ndarray:
        """The decision value of each row (higher: more like the positives)."""
        x = _rows("embeddings", embeddings, self.dim)
        return x @ self.coef + np.float32(self.intercept)

    def predict_proba(self, embeddings: Any) -> np.ndarray:
        """The probability of the tag for each row of ``embeddings`` (an (n, dim) matrix, or one
        vector), as a float64 (n,) array in [0, 1]."""
        d = self.decision(embeddings).astype(np.float64)
        if self.calibration.get("method") == "sigmoid":
            z = -(float(self.calibration["a"]) * d + float(self.calibration["b"]))
        else:
            z = d
        # The logistic function without overflow for large |z|.
        out = np.empty_like(z)
        pos = z >= 0
        out[pos] = 1.0 / (1.0 + np.exp(-z[pos]))
        e = np.exp(z[~pos])
        out[~pos] = e / (1.0 + e)
        return out

    def to_params(self) -> dict[str, Any]:
        """The classifier as JSON-able data (:meth:`from_params` reads it back)."""
        return {"version": PARAMS_VERSION, "kind": "logistic", "method": self.method,
                "c": self.c, "dim": self.dim,
                "coef": [float(v) for v in self.coef], "intercept": float(self.intercept),
                "calibration": dict(self.calibration)}

    @classmethod
    def from_params(cls, params: Mapping[str, Any]) -> LinearClassifier:
        """The classifier :meth:`to_params` wrote; FewShotError when ``params`` is not one."""
        try:
            if params.get("version") != PARAMS_VERSION or params.get("kind") != "logistic":
                raise FewShotError(f"classifier parameters of an unknown kind or version: "
                                   f"{params.get('kind')!r} v{params.get('version')!r}")
            coef = np.asarray(params["coef"], dtype=np.float32)
            intercept = float(params["intercept"])
            calibration = dict(params.get("calibration") or {"method": "none"})
            if calibration.get("method") == "sigmoid":
                float(calibration["a"]), float(calibration["b"])
            elif calibration.get("method") != "none":
                raise FewShotError(f"unknown calibration {calibration.get('method')!r}")
            method, c = str(params.get("method", DEFAULT_METHOD)), float(params.get("c", 0.0))
        except (KeyError, TypeError, ValueError, AttributeError) as exc:
            if isinstance(exc, FewShotError):
                raise
            raise FewShotError(f"classifier parameters are malformed: {exc!r}") from None
        if coef.ndim != 1 or not coef.size or not np.isfinite(coef).all() \
                or not math.isfinite(intercept):
            raise FewShotError("classifier parameters are malformed: coef must be a non-empty "
                               "list of finite numbers")
        return cls(coef, intercept, method, calibration, c)


def _check(positives: Any, negatives: Any) -> tuple[np.ndarray, np.ndarray]:
    pos = _rows("positive embeddings", positives)
    neg = _rows("negative embeddings", negatives, pos.shape[1] if pos.shape[0] else None)
    if pos.shape[0] < MIN_POSITIVES:
        raise FewShotError(f"a classifier needs at least {MIN_POSITIVES} positive examples, "
                           f"got {pos.shape[0]}")
    if neg.shape[0] < 1:
        raise FewShotError("a classifier needs at least one negative example, got none")
    return pos, neg


def _regression(c: float, class_weight: str | None, seed: int) -> Any:
    """Standardised features, then logistic regression (a scikit-learn pipeline)."""
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    return make_pipeline(StandardScaler(), LogisticRegression(
        C=c, class_weight=class_weight, max_iter=5000, random_state=seed))


def _linear(pipeline: Any) -> tuple[np.ndarray, float]:
    """A fitted :func:`_regression` as (coef, intercept) on the unscaled features: the scaler
    folded into the weights, so applying it needs numpy only."""
    scaler, regression = pipeline[0], pipeline[-1]
    w = regression.coef_[0] / scaler.scale_
    return w.astype(np.float32), float(regression.intercept_[0] - np.dot(w, scaler.mean_))


def _fit(x: np.ndarray, y: np.ndarray, method: str, c: float, seed: int) -> LinearClassifier:
    if method == "balanced":
        coef, intercept = _linear(_regression(c, "balanced", seed).fit(x, y))
        return LinearClassifier(coef, intercept, method, {"method": "none"}, c)
    # Platt's sigmoid fitted on cross-validated decision values, and one regression fitted on
    # every example (ensemble=False): one linear model and one sigmoid, so still data.
    from sklearn.calibration import CalibratedClassifierCV
    from sklearn.model_selection import StratifiedKFold

    folds = min(5, int(y.sum()), int(len(y) - y.sum()))
    if folds < 2:
        raise FewShotError("sigmoid calibration needs at least 2 examples of each class")
    calibrated = CalibratedClassifierCV(
        _regression(c, None, seed), method="sigmoid", ensemble=False,
        cv=StratifiedKFold(n_splits=folds, shuffle=True, random_state=seed)).fit(x, y)
    fitted = calibrated.calibrated_classifiers_[0]
    sigmoid = fitted.calibrators[0]
    coef, intercept = _linear(fitted.estimator)
    return LinearClassifier(coef, intercept, method,
                            {"method": "sigmoid", "a": float(sigmoid.a_), "b": float(sigmoid.b_)},
                            c)


def _check_method(method: str, c: float) -> None:
    if method not in METHODS:
        raise FewShotError(f"method must be one of {', '.join(METHODS)}, got {method!r}")
    if not (isinstance(c, int | float) and math.isfinite(c) and c > 0):
        raise FewShotError(f"c must be a positive number, got {c!r}")


def _labelled(pos: np.ndarray, neg: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    return np.vstack([pos, neg]), np.r_[np.ones(len(pos)), np.zeros(len(neg))]


def fit(positives: Any, negatives: Any, *, method: str = DEFAULT_METHOD, c: float = DEFAULT_C,
        seed: int = 0) -> LinearClassifier:
    """A classifier of ``positives`` (an (n, dim) matrix of embeddings, n >= MIN_POSITIVES)
    against ``negatives`` ((m, dim), m >= 1). FewShotError when the examples cannot make one."""
    _check_method(method, c)
    x, y = _labelled(*_check(positives, negatives))
    return _fit(x, y, method, c, seed)


def cross_validate(positives: Any, negatives: Any, *, method: str = DEFAULT_METHOD,
                   c: float = DEFAULT_C, seed: int = 0, threshold: float = 0.5
                   ) -> dict[str, float]:
    """How a classifier of these examples does on examples it did not see: stratified k-fold
    (k = min(5, positives, negatives)), the held-out probabilities pooled. Returns ``folds``,
    ``average_precision``, and ``precision`` and ``recall`` at ``threshold`` (``folds`` 0 and
    nothing else with a single negative). The negatives count as labelled: when they are a
    sample of untagged images, some of which show the tag, the figures are a lower bound."""
    from sklearn.metrics import average_precision_score
    from sklearn.model_selection import StratifiedKFold

    _check_method(method, c)
    pos, neg = _check(positives, negatives)
    x, y = _labelled(pos, neg)
    k = min(5, len(pos), len(neg))
    if k < 2:
        return {"folds": 0}
    probs = np.empty(len(y))
    for train, test in StratifiedKFold(n_splits=k, shuffle=True, random_state=seed).split(x, y):
        probs[test] = _fit(x[train], y[train], method, c, seed).predict_proba(x[test])
    chosen = probs >= threshold
    hits = float((chosen & (y == 1)).sum())
    return {"folds": k,
            "average_precision": round(float(average_precision_score(y, probs)), 4),
            "precision": round(hits / float(chosen.sum()), 4) if chosen.any() else 0.0,
            "recall": round(hits / len(pos), 4)}
