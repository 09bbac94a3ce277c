"""Zero-shot classification: prompt ensembles as in CLIP's evaluation, probabilities from the
model's logit scale, label files, and accuracy with a model trained on coloured shapes."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from daguerre.indexer.classify import (
    DEFAULT_TEMPLATES,
    LabelError,
    ZeroShotClassifier,
    builtin_labels,
    label_classifier,
    load_labels,
    parse_labels,
    probabilities,
    top_labels,
)


@pytest.fixture(scope="module")
def trained_encoder():  # noqa: ANN201 - a ClipEncoder
    """The shapes model, loaded through the same factory users go through."""
    from daguerre.indexer.models import ClipSpec, load_clip
    from tests.support.trained_clip import trained_clip

    cfg, weights = trained_clip()
    return load_clip(ClipSpec(str(cfg), str(weights)), "cpu")


class FakeEncoder:
    """Text embeddings looked up from a table, so the ensemble arithmetic can be checked."""

    logit_scale = 10.0

    def __init__(self, table: dict[str, np.ndarray]) -> None:
        self.table = table
        self.calls: list[list[str]] = []

    def encode_text(self, texts: list[str]) -> np.ndarray:
        self.calls.append(list(texts))
        return np.stack([self.table[t] for t in texts]).astype(np.float32)


def test_ensemble_averages_normalised_prompts_then_renormalises() -> None:
    enc = FakeEncoder({
        "a {}".format("cat"): np.array([3.0, 0.0, 0.0]),  # long vector: must not dominate
        "the {}".format("cat"): np.array([0.0, 0.5, 0.0]),
        "a {}".format("dog"): np.array([0.0, 0.0, 1.0]),
        "the {}".format("dog"): np.array([0.0, 0.0, 2.0]),
    })
    w = label_classifier(enc, ["cat", "dog"], ["a {}", "the {}"])
    np.testing.assert_allclose(w[0], [np.sqrt(0.5), np.sqrt(0.5), 0.0], rtol=1e-6)
    np.testing.assert_allclose(w[1], [0.0, 0.0, 1.0], rtol=1e-6)
    assert enc.calls == [["a cat", "the cat", "a dog", "the dog"]]  # one batch


def test_probabilities_are_a_softmax_with_the_logit_scale() -> None:
    clf = np.array([[1.0, 0.0], [0.0, 1.0]], np.float32)
    img = np.array([[2.0, 0.0]], np.float32)  # normalised inside
    p = probabilities(img, clf, logit_scale=10.0)
    expected = np.exp([10.0, 0.0]) / np.exp([10.0, 0.0]).sum()
    np.testing.assert_allclose(p[0], expected, rtol=1e-5)
    # A larger scale makes the same cosine gap more decisive.
    assert probabilities(img, clf, 100.0)[0, 0] > p[0, 0]
    np.testing.assert_allclose(probabilities(np.eye(2), clf, 3.0).sum(axis=1), 1.0, rtol=1e-6)


def test_top_labels_respect_k_and_min_prob() -> None:
    probs = np.array([[0.6, 0.3, 0.1], [0.2, 0.2, 0.6]])
    out = top_labels(probs, ["a", "b", "c"], top=2, min_prob=0.25)
    assert [[(p.label, p.probability) for p in row] for row in out] == [
        [("a", 0.6), ("b", 0.3)], [("c", 0.6)]]
    with pytest.raises(ValueError, match="top"):
        top_labels(probs, ["a", "b", "c"], top=0)
    with pytest.raises(ValueError, match="min_prob"):
        top_labels(probs, ["a", "b", "c"], min_prob=1.5)


def test_label_files(tmp_path: Path) -> None:
    f = tmp_path / "labels.txt"
    f.write_text("# animals\ncat\n\n dog  # a comment\nCat\nbird\n", encoding="utf-8")
    assert load_labels(f) == ["cat", "dog", "bird"]
    with pytest.raises(LabelError, match="does not exist"):
        load_labels(tmp_path / "missing.txt")
    (tmp_path / "empty.txt").write_text("# nothing\n\n")
    with pytest.raises(LabelError, match="no labels"):
        load_labels(tmp_path / "empty.txt")
    with pytest.raises(LabelError, match="exactly one"):
        label_classifier(FakeEncoder({}), ["cat"], ["a photo"])


def test_builtin_labels_ship_with_the_package() -> None:
    labels = builtin_labels()
    assert len(labels) >= 50
    assert {"beach", "dog", "sunset", "screenshot"} <= set(labels)
    assert len(set(labels)) == len(labels)
    assert parse_labels("\n".join(labels)) == labels
    assert all(t.count("{}") == 1 for t in DEFAULT_TEMPLATES)


def test_zero_shot_accuracy_with_the_trained_model(trained_encoder) -> None:  # noqa: ANN001
    from tests.support.trained_clip import COLORS, SHAPES, ShapeSpec, draw_shape

    rng = np.random.default_rng(2024)
    specs = [ShapeSpec(c, s, str(rng.choice(["gray", "black", "white", "brown"])))
             for c in COLORS for s in SHAPES for _ in range(2)]
    emb = trained_encoder.encode_images([draw_shape(sp, rng) for sp in specs])
    shapes = ZeroShotClassifier(trained_encoder, list(SHAPES), ["a {}", "a photo of a {}"])
    colors = ZeroShotClassifier(trained_encoder, list(COLORS), ["a {} shape", "something {}"])
    shape_acc = np.mean([p[0].label == sp.shape
                         for p, sp in zip(shapes.predict(emb, top=1), specs, strict=True)])
    color_acc = np.mean([p[0].label == sp.color
                         for p, sp in zip(colors.predict(emb, top=1), specs, strict=True)])
    print(f"zero-shot accuracy on {len(specs)} images: shape {shape_acc:.3f}, "
          f"colour {color_acc:.3f}")
    assert shape_acc >= 0.8
    assert color_acc >= 0.8
    assert shapes.logit_scale == pytest.approx(trained_encoder.logit_scale)
