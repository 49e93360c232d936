"""Hand-written fused CPU kernels for hot composite ops (softmax family)."""

from __future__ import annotations

import math

import numpy as np
from numba import njit, prange

from . import PARALLEL_MIN


@njit(cache=True, nogil=True, error_model="numpy", fastmath={"reassoc", "nsz", "contract"})
def _softmax_row(out, x, log):
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
        e = math.exp(x[j] - m)
        if not log:
            out[j] = e
        total += e
    if log:
        shift = m + math.log(total)
        for j in range(n):
            out[j] = x[j] - shift
    else:
        inv = 1.0 / total
        for j in range(n):
            out[j] = out[j] * inv


@njit(cache=True, nogil=True, parallel=True)
def _softmax_parallel(out, x, log):
    for r in prange(x.shape[0]):
        _softmax_row(out[r], x[r], log)


@njit(cache=True, nogil=True)
def _softmax_serial(out, x, log):
    for r in range(x.shape[0]):
        _softmax_row(out[r], x[r], log)


def softmax_rows(out: np.ndarray, x: np.ndarray, log: bool) -> None:
    """Row-wise (log-)softmax of a C-contiguous (rows, n) array into `out`."""
    if x.size == 0 or x.shape[1] == 0:
        return
    kernel = _softmax_parallel if x.size >= PARALLEL_MIN and x.shape[0] > 1 else _softmax_serial
    kernel(out, x, log)
