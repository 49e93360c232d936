"""Fused cross-entropy on the device: the CPU's per-row bodies (kernels/cpu/loss.py), compiled
as CUDA device functions, one thread per row.

# NOTE: one thread per row is simple and right; a block per row (shared-memory max and sum)
# is the phase-2 speed-up for many classes.
"""

from __future__ import annotations

from numba import cuda

from ..cpu import loss as _cpu
from . import BLOCK, grid
from .scalar import device_functions

_rows = device_functions(_cpu, {})
_forward_row, _backward_row = _rows["_forward_row"], _rows["_backward_row"]


@cuda.jit
def _forward(x, target, weight, ignore_index, smoothing, loss, row_weight):
    """for i in rows (one thread each): loss[i], row_weight[i] = forward_row(x[i], target[i])"""
    for i in range(cuda.grid(1), x.shape[0], cuda.gridsize(1)):
        _forward_row(i, x, target, weight, ignore_index, smoothing, loss, row_weight)


@cuda.jit
def _backward(x, target, weight, wsum, ignore_index, smoothing, scale, out):
    """for i in rows (one thread each): out[i, :] = scale[i] * d loss_i / d x[i, :]"""
    for i in range(cuda.grid(1), x.shape[0], cuda.gridsize(1)):
        _backward_row(i, x, target, weight, wsum, ignore_index, smoothing, scale, out)


def cross_entropy_forward(x, target, weight, ignore_index: int, smoothing: float, loss, row_weight):
    """Fill float64 loss[i] and row_weight[i] for the (rows, C) logits x (as the CPU kernel)."""
    if x.shape[0]:
        _forward[grid(x.shape[0]), BLOCK](
            x, target, weight, ignore_index, smoothing, loss, row_weight
        )


def cross_entropy_backward(x, target, weight, wsum, ignore_index, smoothing, scale, out):
    """out = d loss / d x for the (rows, C) logits, row i scaled by scale[i] (float64)."""
    if x.shape[0]:
        _backward[grid(x.shape[0]), BLOCK](
            x, target, weight, wsum, ignore_index, smoothing, scale, out
        )
