"""Hand-written fused CPU kernels for hot composite ops (softmax family)."""

from __future__ import annotations

import numpy as np
from numba import njit, prange

from . import PARALLEL_MIN
from .fastmath import exp, log


@njit(cache=True, nogil=True, error_model="numpy", fastmath={"reassoc", "nsz", "contract"})
def _softmax_row(out, x, take_log):
    """out = softmax(x) (or log_softmax) of one contiguous row: max, then exp-sum, then scale."""
    n = x.shape[0]
    m = x[0]  # NOTE: typed like x, so float32 rows stay in float32 arithmetic
    for j in range(1, n):
        v = x[j]
        if v > m or v != v:
            m = v
    if m == -np.inf:  # all -inf: avoid -inf - -inf = nan
        m = x[0] * 0
    total = 0.0
    for j in range(n):
        e = exp(x[j] - m)
        if not take_log:
            out[j] = e
        total += e
    if take_log:
        shift = m + log(total)
        for j in range(n):
            out[j] = x[j] - shift
    else:
        inv = 1.0 / total
        for j in range(n):
            out[j] = out[j] * inv


@njit(cache=True, nogil=True, parallel=True)
def _softmax_parallel(out, x, take_log):
    for r in prange(x.shape[0]):
        _softmax_row(out[r], x[r], take_log)


@njit(cache=True, nogil=True)
def _softmax_serial(out, x, take_log):
    for r in range(x.shape[0]):
        _softmax_row(out[r], x[r], take_log)


def softmax_rows(out: np.ndarray, x: np.ndarray, take_log: bool) -> None:
    """Row-wise (log-)softmax of a C-contiguous (rows, n) array into `out`."""
    if x.size == 0 or x.shape[1] == 0:
        return
    kernel = _softmax_parallel if x.size >= PARALLEL_MIN and x.shape[0] > 1 else _softmax_serial
    kernel(out, x, take_log)
