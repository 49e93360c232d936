"""minitorch.metrics against scikit-learn on random labels and scores."""

from __future__ import annotations

import warnings

import numpy as np
import pytest

import minitorch
from minitorch import metrics

skm = pytest.importorskip("sklearn.metrics")

SEEDS = range(5)


def _multiclass(seed: int, n: int = 60, classes: int = 4):
    rng = np.random.default_rng(seed)
    y_true = rng.integers(0, classes, n)
    logits = rng.standard_normal((n, classes)).astype(np.float32)
    logits[np.arange(n), y_true] += 1.0  # better than chance
    return y_true, logits


def test_accuracy_from_labels_logits_and_tensors():
    for seed in SEEDS:
        y_true, logits = _multiclass(seed)
        y_pred = logits.argmax(1)
        expected = skm.accuracy_score(y_true, y_pred)
        assert metrics.accuracy(y_true, y_pred) == pytest.approx(expected)
        assert metrics.accuracy(minitorch.tensor(y_true), minitorch.tensor(logits)) == (
            pytest.approx(expected)
        )
        assert metrics.accuracy(y_true.tolist(), y_pred.tolist(), normalize=False) == (
            skm.accuracy_score(y_true, y_pred, normalize=False)
        )
    w = minitorch.randn(4, 3, requires_grad=True)  # scores that still carry autograd history
    assert 0.0 <= metrics.accuracy(minitorch.tensor([0, 1, 2, 0]), w * 2) <= 1.0


def test_binary_probabilities_and_logits_are_thresholded():
    y_true = np.array([0, 1, 1, 0, 1])
    probs = np.array([0.2, 0.7, 0.4, 0.6, 0.9])
    assert metrics.accuracy(y_true, probs) == pytest.approx(0.6)
    logits = np.log(probs / (1 - probs))
    assert metrics.accuracy(y_true, logits) == pytest.approx(0.6)


@pytest.mark.parametrize("average", ["macro", "micro", "weighted", None])
def test_precision_recall_f1_multiclass(average):
    for seed in SEEDS:
        y_true, logits = _multiclass(seed, classes=5)
        y_pred = logits.argmax(1)
        for ours, theirs in [
            (metrics.precision, skm.precision_score),
            (metrics.recall, skm.recall_score),
            (metrics.f1_score, skm.f1_score),
        ]:
            got = ours(y_true, y_pred, average=average, zero_division=0)
            want = theirs(y_true, y_pred, average=average, zero_division=0)
            np.testing.assert_allclose(got, want, rtol=1e-12)


def test_precision_recall_f1_binary_and_labels():
    rng = np.random.default_rng(7)
    y_true, y_pred = rng.integers(0, 2, 40), rng.integers(0, 2, 40)
    for ours, theirs in [
        (metrics.precision, skm.precision_score),
        (metrics.recall, skm.recall_score),
        (metrics.f1_score, skm.f1_score),
    ]:
        assert ours(y_true, y_pred) == pytest.approx(theirs(y_true, y_pred))
        assert ours(y_true, y_pred, pos_label=0) == pytest.approx(
            theirs(y_true, y_pred, pos_label=0)
        )
    y_true, logits = _multiclass(1, classes=4)
    y_pred = logits.argmax(1)
    got = metrics.f1_score(y_true, y_pred, average="macro", labels=[2, 0])
    assert got == pytest.approx(skm.f1_score(y_true, y_pred, average="macro", labels=[2, 0]))
    with pytest.raises(ValueError, match="average='binary'"):
        metrics.precision(y_true, y_pred)
    with pytest.raises(ValueError, match="average has to be one of"):
        metrics.recall(y_true, y_pred, average="samples")


def test_zero_division_warns_like_sklearn():
    y_true, y_pred = np.array([0, 0, 1, 1]), np.array([0, 0, 0, 0])
    with pytest.warns(RuntimeWarning, match="ill-defined"):
        got = metrics.precision(y_true, y_pred, average=None)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        want = skm.precision_score(y_true, y_pred, average=None)
    np.testing.assert_allclose(got, want)
    assert metrics.precision(y_true, y_pred, zero_division=1.0) == 1.0


def test_confusion_matrix():
    for seed in SEEDS:
        y_true, logits = _multiclass(seed, classes=4)
        y_pred = logits.argmax(1)
        np.testing.assert_array_equal(
            metrics.confusion_matrix(y_true, y_pred), skm.confusion_matrix(y_true, y_pred)
        )
        np.testing.assert_array_equal(
            metrics.confusion_matrix(y_true, logits), skm.confusion_matrix(y_true, y_pred)
        )
        for normalize in ("true", "pred", "all"):
            np.testing.assert_allclose(
                metrics.confusion_matrix(y_true, y_pred, normalize=normalize),
                skm.confusion_matrix(y_true, y_pred, normalize=normalize),
            )
        np.testing.assert_array_equal(
            metrics.confusion_matrix(y_true, y_pred, labels=[3, 1, 7]),
            skm.confusion_matrix(y_true, y_pred, labels=[3, 1, 7]),
        )
    with pytest.raises(ValueError, match="y_true has 3 samples but y_pred has 2"):
        metrics.confusion_matrix([0, 1, 1], [0, 1])
    with pytest.raises(ValueError, match="y_true first"):
        metrics.confusion_matrix(np.zeros((3, 2)), [0, 1, 1])


def test_roc_auc_binary_with_ties():
    for seed in SEEDS:
        rng = np.random.default_rng(seed)
        y_true = rng.integers(0, 2, 50)
        score = np.round(rng.random(50) + 0.3 * y_true, 1)  # rounding makes many ties
        assert metrics.roc_auc(y_true, score) == pytest.approx(skm.roc_auc_score(y_true, score))
        two_col = np.stack([1 - score, score], axis=1)
        assert metrics.roc_auc(minitorch.tensor(y_true), minitorch.tensor(two_col)) == (
            pytest.approx(skm.roc_auc_score(y_true, score))
        )
    with pytest.raises(ValueError, match="Only one class present"):
        metrics.roc_auc([1, 1, 1], [0.2, 0.4, 0.9])


@pytest.mark.parametrize("average", ["macro", "weighted"])
def test_roc_auc_multiclass_ovr(average):
    for seed in SEEDS:
        y_true, logits = _multiclass(seed, classes=4)
        probs = np.exp(logits) / np.exp(logits).sum(1, keepdims=True)
        want = skm.roc_auc_score(y_true, probs, multi_class="ovr", average=average)
        assert metrics.roc_auc(y_true, probs, average=average) == pytest.approx(want)
        assert metrics.roc_auc(y_true, logits, average=average) == pytest.approx(want)  # softmax
    with pytest.raises(ValueError, match="does not match the number of columns"):
        metrics.roc_auc([0, 1, 2], np.full((3, 4), 0.25))


def test_top_k_accuracy():
    for seed in SEEDS:
        y_true, logits = _multiclass(seed, classes=6)
        for k in (1, 2, 3):
            want = skm.top_k_accuracy_score(y_true, logits, k=k, labels=np.arange(6))
            assert metrics.top_k_accuracy(y_true, logits, k=k) == pytest.approx(want)
        assert metrics.top_k_accuracy(
            minitorch.tensor(y_true), minitorch.tensor(logits), k=2, normalize=False
        ) == pytest.approx(
            skm.top_k_accuracy_score(y_true, logits, k=2, normalize=False, labels=np.arange(6))
        )
    ties = np.array([[0.5, 0.5, 0.0], [0.2, 0.2, 0.6]])
    assert metrics.top_k_accuracy([0, 1], ties, k=1) == pytest.approx(
        skm.top_k_accuracy_score([0, 1], ties, k=1, labels=[0, 1, 2])
    )
