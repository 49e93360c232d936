"""Hand-written fused CPU kernels for hot composite ops (softmax family)."""

from __future__ import annotations

import numpy as np
from numba import njit, prange

from . import PARALLEL_MIN
from .fastmath import exp, log

# Reductions may reorder their arithmetic ("reassoc") so that they vectorise; the rest may not:
# reordering undoes the exact range reduction inside fastmath.exp (x - k*ln2_hi - k*ln2_lo),
# costing whole percents of accuracy, and would fold (x - m) - log(sum) into x - (m + log(sum)).
_REDUCE = {"reassoc", "nsz", "contract"}
_EXACT = {"nsz", "contract"}


@njit(cache=True, nogil=True, error_model="numpy", fastmath=_REDUCE)
def _row_max(x):
    m = x[0]
    for j in range(1, x.shape[0]):
        m = max(m, x[j])
    return m


@njit(cache=True, nogil=True, error_model="numpy", fastmath=_REDUCE)
def _row_sum(x):
    total = x.dtype.type(0)
    for j in range(x.shape[0]):
        total += x[j]
    return total


@njit(cache=True, nogil=True, error_model="numpy", fastmath=_EXACT)
def _softmax_row(out, x, take_log):
    """out = softmax(x) (or log_softmax) of one contiguous row: max, then exp-sum, then scale.

    Each loop is branch-free so that LLVM vectorises it, and every value is typed like x: one
    float64 value (a literal 0, say) would turn the row's arithmetic into scalar float64 and
    cost 5x. The max needs no NaN or infinity test: a NaN in the row, or a row of -inf, makes
    the outputs NaN through x - m, as in PyTorch.
    """
    n = x.shape[0]
    m = _row_max(x)
    for j in range(n):
        out[j] = exp(x[j] - m)
    total = _row_sum(out)
    if take_log:
        log_total = log(total)
        for j in range(n):
            out[j] = (x[j] - m) - log_total
    else:
        inv = x.dtype.type(1) / total
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
