"""Fused cross-entropy kernels: log_softmax + NLL (+ label smoothing) in one pass per row.

Rows are the C logits of one sample, C-contiguous in a (rows, C) array. Sums are taken in
float64 whatever the input dtype; each row is independent, so rows run in parallel above
PARALLEL_MIN elements.
"""

from __future__ import annotations

import math

import numpy as np
from numba import njit, prange

from . import PARALLEL_MIN


@njit(cache=True, nogil=True, inline="always")
def _row_lse(x):
    """log(sum(exp(x))) of one row, shifted by the row max (no overflow)."""
    n = x.shape[0]
    m = x[0]
    for j in range(1, n):
        if x[j] > m or x[j] != x[j]:
            m = x[j]
    if m == -np.inf or m == np.inf:
        m = x[0] * 0
    s = 0.0
    for j in range(n):
        s += math.exp(x[j] - m)
    return m + math.log(s)


@njit(cache=True, nogil=True, inline="always")
def _forward_row(i, x, target, weight, ignore_index, smoothing, loss, row_weight):
    """for row i: loss[i] = w[t] * (lse - x[t]) mixed with smoothing/C * sum_c w[c](lse - x[c])."""
    row = x[i]
    t = target[i]
    if t == ignore_index:
        loss[i] = 0.0
        row_weight[i] = 0.0
        return
    lse = _row_lse(row)
    has_w = weight.shape[0] > 0
    wt = weight[t] if has_w else 1.0
    value = wt * (lse - row[t])
    if smoothing > 0.0:
        n = row.shape[0]
        total = 0.0
        for j in range(n):
            wj = weight[j] if has_w else 1.0
            total += wj * (lse - row[j])
        value = (1.0 - smoothing) * value + smoothing / n * total
    loss[i] = value
    row_weight[i] = wt


@njit(cache=True, nogil=True, parallel=True)
def _forward_parallel(x, target, weight, ignore_index, smoothing, loss, row_weight):
    for i in prange(x.shape[0]):
        _forward_row(i, x, target, weight, ignore_index, smoothing, loss, row_weight)


@njit(cache=True, nogil=True)
def _forward_serial(x, target, weight, ignore_index, smoothing, loss, row_weight):
    for i in range(x.shape[0]):
        _forward_row(i, x, target, weight, ignore_index, smoothing, loss, row_weight)


def cross_entropy_forward(
    x: np.ndarray, target: np.ndarray, weight: np.ndarray, ignore_index: int, smoothing: float
):
    """Per-row losses and per-row target weights (0 for ignored rows), both float64.

    Pseudo-loop: for i: lse = log(sum_c exp(x[i, c])); loss[i] = w[t_i] * (lse - x[i, t_i])
    (label smoothing adds smoothing / C * sum_c w[c] * (lse - x[i, c])).
    """
    n = x.shape[0]
    loss = np.empty(n, np.float64)
    row_weight = np.empty(n, np.float64)
    if n == 0:
        return loss, row_weight
    kernel = _forward_parallel if x.size >= PARALLEL_MIN and n > 1 else _forward_serial
    kernel(x, target, weight, ignore_index, smoothing, loss, row_weight)
    return loss, row_weight


@njit(cache=True, nogil=True, inline="always")
def _first_bad(target, classes, ignore_index):
    """The first row whose target is neither ignore_index nor a class, or -1."""
    for i in range(target.shape[0]):
        t = target[i]
        if t != ignore_index and (t < 0 or t >= classes):
            return i
    return -1


@njit(cache=True, nogil=True, inline="always")
def _reduce_rows(loss, row_weight, mean):
    """The losses' sum, or their mean weighted as the rows' target weights say (0 / 0: nan,
    as PyTorch's where every row is ignored)."""
    total = 0.0
    weights = 0.0
    for i in range(loss.shape[0]):
        total += loss[i]
        weights += row_weight[i]
    return total / weights if mean else total


@njit(cache=True, nogil=True, error_model="numpy")
def reduce_rows(loss, row_weight, mean):
    return _reduce_rows(loss, row_weight, mean)


# NOTE: one compiled call for checks, losses and their reduction: a small batch's cross
# entropy spent ~15 us in ten numpy calls around its ~1 us kernel (40-70 us inside a training
# step, its code and data out of cache).
@njit(cache=True, nogil=True, error_model="numpy")
def reduced_forward(x, target, weight, ignore_index, smoothing, mean):
    """(the rows' loss summed or averaged (reduce_rows), -1), or (nan, i) where target[i] is
    out of range; serially (for fewer than PARALLEL_MIN logits)."""
    bad = _first_bad(target, x.shape[1], ignore_index)
    if bad >= 0:
        return np.nan, bad
    loss = np.empty(x.shape[0], np.float64)
    row_weight = np.empty(x.shape[0], np.float64)
    for i in range(x.shape[0]):
        _forward_row(i, x, target, weight, ignore_index, smoothing, loss, row_weight)
    return _reduce_rows(loss, row_weight, mean), -1


@njit(cache=True, nogil=True, error_model="numpy")
def reduced_backward(x, target, weight, ignore_index, smoothing, grad, mean):
    """(d loss / d x of reduced_forward's loss, times grad, -1), or (unset, i) where target[i]
    is out of range; serially."""
    n, classes = x.shape
    out = np.empty(x.shape, x.dtype)
    bad = _first_bad(target, classes, ignore_index)
    if bad >= 0:
        return out, bad
    has_w = weight.shape[0] > 0
    if mean:
        total = 0.0
        for i in range(n):
            if target[i] != ignore_index:
                total += weight[target[i]] if has_w else 1.0
        grad = grad / total
    scale = np.full(n, grad)
    wsum = weight.sum() if has_w else float(classes)
    for i in range(n):
        _backward_row(i, x, target, weight, wsum, ignore_index, smoothing, scale, out)
    return out, -1


@njit(cache=True, nogil=True, inline="always")
def _backward_row(i, x, target, weight, wsum, ignore_index, smoothing, scale, out):
    """out[i, c] = scale[i] * ((1-s) w_t (p_c - [c == t]) + s/C (wsum p_c - w_c))."""
    row = x[i]
    o = out[i]
    n = row.shape[0]
    t = target[i]
    if t == ignore_index:
        for j in range(n):
            o[j] = 0.0
        return
    lse = _row_lse(row)
    has_w = weight.shape[0] > 0
    wt = weight[t] if has_w else 1.0
    a = scale[i] * (1.0 - smoothing) * wt
    b = scale[i] * smoothing / n
    for j in range(n):
        p = math.exp(row[j] - lse)
        wj = weight[j] if has_w else 1.0
        o[j] = a * p + b * (wsum * p - wj)
    o[t] -= a


@njit(cache=True, nogil=True, parallel=True)
def _backward_parallel(x, target, weight, wsum, ignore_index, smoothing, scale, out):
    for i in prange(x.shape[0]):
        _backward_row(i, x, target, weight, wsum, ignore_index, smoothing, scale, out)


@njit(cache=True, nogil=True)
def _backward_serial(x, target, weight, wsum, ignore_index, smoothing, scale, out):
    for i in range(x.shape[0]):
        _backward_row(i, x, target, weight, wsum, ignore_index, smoothing, scale, out)


def cross_entropy_backward(
    x: np.ndarray,
    target: np.ndarray,
    weight: np.ndarray,
    ignore_index: int,
    smoothing: float,
    scale: np.ndarray,
) -> np.ndarray:
    """d loss / d x for the rows of x, each row's gradient multiplied by scale[i] (float64).

    Pseudo-loop: for i, c: out[i, c] = scale[i] * w[t_i] * (softmax(x[i])[c] - [c == t_i])
    (plus the label-smoothing term).
    """
    out = np.empty(x.shape, x.dtype)
    if x.size == 0:
        return out
    wsum = float(weight.sum()) if weight.shape[0] > 0 else float(x.shape[1])
    kernel = _backward_parallel if x.size >= PARALLEL_MIN and x.shape[0] > 1 else _backward_serial
    kernel(x, target, weight, wsum, ignore_index, smoothing, scale, out)
    return out
