"""Classification metrics that agree with scikit-learn.

Arguments come in scikit-learn's order, `(y_true, y_pred)` or `(y_true, y_score)`, and may be
minitorch tensors, numpy arrays or lists:
- y_true: integer class labels, shape (N,).
- y_pred: labels (N,); or scores (N, C) (logits or probabilities), turned into labels by
  argmax; or binary scores (N,) that are not whole numbers: probabilities are thresholded at
  0.5, logits (values outside [0, 1]) go through a sigmoid first.
- y_score (roc_auc, top_k_accuracy): (N,) scores for the positive class, or (N, C).

Scalar results are Python floats; per-class results and confusion matrices numpy arrays.

Example:
    >>> import minitorch as torch
    >>> logits = torch.tensor([[2.0, 0.1], [0.3, 1.5], [1.0, 0.0]])
    >>> accuracy(torch.tensor([0, 1, 1]), logits)
    0.6666666666666666
"""

from __future__ import annotations

import warnings

import numpy as np

__all__ = [
    "accuracy",
    "precision",
    "recall",
    "f1_score",
    "confusion_matrix",
    "roc_auc",
    "top_k_accuracy",
]


def accuracy(y_true, y_pred, normalize: bool = True) -> float:
    """Fraction (or, with normalize=False, count) of samples whose label is predicted right."""
    y_true, y_pred = _labels_pair(y_true, y_pred, "accuracy")
    hits = float(np.sum(y_true == y_pred))
    return hits / len(y_true) if normalize else hits


def confusion_matrix(y_true, y_pred, labels=None, normalize: str | None = None) -> np.ndarray:
    """C[i, j] = number of samples of class labels[i] predicted as labels[j].

    Args:
        labels: the classes, in order (default: the sorted union of both inputs).
        normalize: None (counts), "true" (rows sum to 1), "pred" (columns) or "all".
    """
    y_true, y_pred = _labels_pair(y_true, y_pred, "confusion_matrix")
    labels = _label_set(y_true, y_pred, labels)
    cm = _counts(y_true, y_pred, labels)
    if normalize is None:
        return cm
    if normalize not in ("true", "pred", "all"):
        raise ValueError("normalize must be one of {'true', 'pred', 'all', None}")
    with np.errstate(all="ignore"):
        if normalize == "true":
            cm = cm / cm.sum(axis=1, keepdims=True)
        elif normalize == "pred":
            cm = cm / cm.sum(axis=0, keepdims=True)
        else:
            cm = cm / cm.sum()
    return np.nan_to_num(cm)


def precision(
    y_true, y_pred, average: str | None = "binary", labels=None, pos_label=1, zero_division="warn"
):
    """tp / (tp + fp): of the samples predicted as a class, the fraction that are.

    Args:
        average: "binary" (the pos_label class only; the default, as in scikit-learn),
            "micro" (global counts), "macro" (unweighted mean over classes), "weighted" (mean
            weighted by support) or None (one value per class).
        labels: classes to include (default: all that occur).
        pos_label: the positive class for average="binary".
        zero_division: the value when a denominator is 0 ("warn": 0.0 with a warning).
    """
    return _prf("precision", y_true, y_pred, average, labels, pos_label, zero_division)


def recall(
    y_true, y_pred, average: str | None = "binary", labels=None, pos_label=1, zero_division="warn"
):
    """tp / (tp + fn): of the samples of a class, the fraction found. Arguments as precision."""
    return _prf("recall", y_true, y_pred, average, labels, pos_label, zero_division)


def f1_score(
    y_true, y_pred, average: str | None = "binary", labels=None, pos_label=1, zero_division="warn"
):
    """2 tp / (2 tp + fp + fn), the harmonic mean of precision and recall, per class then
    averaged. Arguments as precision."""
    return _prf("f1", y_true, y_pred, average, labels, pos_label, zero_division)


def roc_auc(
    y_true, y_score, average: str | None = "macro", multi_class: str = "ovr", labels=None
) -> float:
    """Area under the ROC curve.

    Binary: y_score (N,) holds scores for class 1 (or (N, 2): column 1 is used).
    Multiclass: y_score (N, C); one-vs-rest AUC per class, then the "macro" mean or the
    "weighted" (by prevalence) mean. Rows that do not sum to 1 (logits) get a softmax first.
    """
    y_true = _as_labels(y_true, "y_true", "roc_auc")
    score = _as_array(y_score).astype(np.float64)
    if len(score) != len(y_true):
        raise ValueError(f"roc_auc: y_true has {len(y_true)} samples but y_score has {len(score)}")
    classes = np.unique(y_true) if labels is None else np.asarray(labels)
    if score.ndim == 2 and score.shape[1] == 2 and len(classes) <= 2:
        score = score[:, 1]
    if score.ndim == 1:
        if len(classes) > 2:
            raise ValueError(
                "roc_auc: y_true has more than two classes; pass y_score of shape (N, C)"
            )
        return _binary_auc(y_true == classes.max(), score)
    if multi_class != "ovr":
        raise ValueError(f"roc_auc: multi_class={multi_class!r} is not supported; use 'ovr'")
    if score.shape[1] != len(classes):
        raise ValueError(
            f"roc_auc: number of classes in y_true ({len(classes)}) does not match "
            f"the number of columns in y_score ({score.shape[1]})"
        )
    if not np.allclose(score.sum(axis=1), 1.0):
        score = _softmax(score)
    per_class = np.array([_binary_auc(y_true == c, score[:, i]) for i, c in enumerate(classes)])
    if average is None:
        return per_class
    if average == "macro":
        return float(per_class.mean())
    if average == "weighted":
        support = np.array([np.sum(y_true == c) for c in classes], np.float64)
        return float(np.sum(per_class * support) / support.sum())
    raise ValueError(f"roc_auc: average={average!r}; expected 'macro', 'weighted' or None")


def top_k_accuracy(y_true, y_score, k: int = 2, normalize: bool = True, labels=None) -> float:
    """Fraction of samples whose true class is among the k highest scores (as scikit-learn's
    top_k_accuracy_score, ties included)."""
    y_true = _as_labels(y_true, "y_true", "top_k_accuracy")
    score = _as_array(y_score)
    classes = np.unique(y_true) if labels is None else np.asarray(labels)
    if score.ndim == 1:  # binary: the score is for the greater label
        threshold = 0.5 if score.min() >= 0 and score.max() <= 1 else 0.0
        if k == 1:
            hits = (score > threshold).astype(np.int64) == np.searchsorted(classes, y_true)
        else:
            hits = np.ones(len(y_true), bool)
    else:
        if labels is None:
            classes = np.arange(score.shape[1])
        if score.shape[1] != len(classes):
            raise ValueError(
                f"top_k_accuracy: y_score has {score.shape[1]} columns but there "
                f"are {len(classes)} classes"
            )
        encoded = np.searchsorted(classes, y_true)
        # NOTE: stable ascending sort, reversed: among equal scores the later class ranks first,
        # exactly as scikit-learn breaks ties.
        top = np.argsort(score, axis=1, kind="mergesort")[:, ::-1][:, :k]
        hits = (top == encoded[:, None]).any(axis=1)
    return float(hits.mean()) if normalize else float(hits.sum())


# ---- helpers ---------------------------------------------------------------------------------
def _as_array(x) -> np.ndarray:
    if hasattr(x, "detach"):  # a minitorch (or PyTorch) tensor that may require grad
        x = x.detach()
    if hasattr(x, "cpu") and not isinstance(x, np.ndarray):
        x = x.cpu()
    return np.asarray(x)


def _as_labels(x, what: str, fn: str) -> np.ndarray:
    a = _as_array(x)
    if a.ndim != 1:
        raise ValueError(
            f"{fn}: {what} must be 1-D class labels, got shape {a.shape}"
            + (
                " (scores? scikit-learn's order is y_true first, then y_pred)"
                if a.ndim == 2
                else ""
            )
        )
    if a.dtype.kind == "f":
        if not np.all(a == np.round(a)):
            raise ValueError(f"{fn}: {what} must hold class labels, got non-integer values")
        a = a.astype(np.int64)
    return a


def _to_labels(y_pred) -> np.ndarray:
    a = _as_array(y_pred)
    if a.ndim == 2:
        return a.argmax(axis=1)
    if a.ndim == 1 and a.dtype.kind == "f" and not np.all(a == np.round(a)):
        if a.min() < 0 or a.max() > 1:  # logits
            a = 1.0 / (1.0 + np.exp(-a))
        return (a > 0.5).astype(np.int64)
    return a


def _labels_pair(y_true, y_pred, fn: str) -> tuple[np.ndarray, np.ndarray]:
    t = _as_labels(y_true, "y_true", fn)
    p = _to_labels(y_pred)
    if p.ndim != 1:
        raise ValueError(f"{fn}: y_pred must be labels (N,) or scores (N, C), got shape {p.shape}")
    if p.dtype.kind == "f":
        p = p.astype(np.int64)
    if len(t) != len(p):
        raise ValueError(f"{fn}: y_true has {len(t)} samples but y_pred has {len(p)}")
    return t, p


def _label_set(y_true, y_pred, labels) -> np.ndarray:
    if labels is not None:
        labels = np.asarray(labels)
        if labels.size == 0:
            raise ValueError("'labels' should contain at least one label.")
        return labels
    return np.union1d(y_true, y_pred)


def _counts(y_true, y_pred, labels) -> np.ndarray:
    """Confusion counts over `labels` (in their given order); other values are ignored."""
    n = len(labels)
    ti, pi = _position(labels, y_true), _position(labels, y_pred)
    keep = (ti >= 0) & (pi >= 0)
    return np.bincount(ti[keep] * n + pi[keep], minlength=n * n).reshape(n, n).astype(np.int64)


def _position(labels: np.ndarray, values: np.ndarray) -> np.ndarray:
    """Index of each value in labels, or -1 when it is not one of them."""
    sorter = np.argsort(labels, kind="stable")
    pos = np.minimum(np.searchsorted(labels, values, sorter=sorter), len(labels) - 1)
    found = labels[sorter[pos]] == values
    return np.where(found, sorter[pos], -1)


def _prf(metric, y_true, y_pred, average, labels, pos_label, zero_division):
    if average not in ("binary", "micro", "macro", "weighted", None):
        raise ValueError(
            f"average has to be one of ('binary', 'micro', 'macro', 'weighted', "
            f"None), got {average!r}"
        )
    y_true, y_pred = _labels_pair(y_true, y_pred, metric)
    present = np.union1d(y_true, y_pred)
    if average == "binary":
        if len(present) > 2:
            raise ValueError(
                "Target is multiclass but average='binary'. Please choose another "
                "average setting, one of [None, 'micro', 'macro', 'weighted']."
            )
        if pos_label not in present and len(present) == 2:
            raise ValueError(
                f"pos_label={pos_label} is not a valid label. It should be one of "
                f"{present.tolist()}"
            )
        labels = [pos_label]
    chosen = _label_set(y_true, y_pred, labels)
    everything = np.union1d(present, chosen)
    cm = _counts(y_true, y_pred, everything)
    idx = np.searchsorted(everything, chosen)
    tp = np.diag(cm)[idx].astype(np.float64)
    pred = cm.sum(axis=0)[idx].astype(np.float64)
    true = cm.sum(axis=1)[idx].astype(np.float64)
    if average == "micro":
        tp, pred, true = tp.sum(keepdims=True), pred.sum(keepdims=True), true.sum(keepdims=True)
    if metric == "precision":
        values = _divide(tp, pred, zero_division, metric)
    elif metric == "recall":
        values = _divide(tp, true, zero_division, metric)
    else:
        values = _divide(2 * tp, pred + true, zero_division, metric)
    if average is None:
        return values
    if average == "weighted":
        if true.sum() == 0:
            return _zero_value(zero_division)
        return float(np.average(values, weights=true))
    return float(values.mean())


def _divide(num, den, zero_division, metric) -> np.ndarray:
    out = np.empty_like(num)
    ok = den != 0
    out[ok] = num[ok] / den[ok]
    if (~ok).any():
        if zero_division == "warn":
            warnings.warn(
                f"{metric} is ill-defined and being set to 0.0 for labels with no "
                "samples; use zero_division to control this.",
                RuntimeWarning,
                stacklevel=3,
            )
        out[~ok] = _zero_value(zero_division)
    return out


def _zero_value(zero_division) -> float:
    return 0.0 if zero_division == "warn" else float(zero_division)


def _binary_auc(positive: np.ndarray, score: np.ndarray) -> float:
    """Mann-Whitney U with mid-ranks for ties: the trapezoidal ROC area."""
    n_pos = int(positive.sum())
    n_neg = len(positive) - n_pos
    if n_pos == 0 or n_neg == 0:
        raise ValueError(
            "Only one class present in y_true. ROC AUC score is not defined in that case."
        )
    order = np.argsort(score, kind="mergesort")
    sorted_score = score[order]
    ranks = np.empty(len(score), np.float64)
    # mid-ranks: every tied group gets the mean of the ranks it spans
    starts = np.r_[0, np.flatnonzero(np.diff(sorted_score)) + 1]
    ends = np.r_[starts[1:], len(score)]
    mid = (starts + ends + 1) / 2.0
    ranks[order] = np.repeat(mid, ends - starts)
    return float((ranks[positive].sum() - n_pos * (n_pos + 1) / 2.0) / (n_pos * n_neg))


def _softmax(x: np.ndarray) -> np.ndarray:
    e = np.exp(x - x.max(axis=1, keepdims=True))
    return e / e.sum(axis=1, keepdims=True)
