"""Fused layer-norm kernels: statistics, normalisation and affine in one pass per row.

Rows are the N normalised elements of one sample, C-contiguous in a (rows, N) array. Row
statistics are accumulated in float64 whatever the input dtype; rows are independent, so
they run in parallel above PARALLEL_MIN elements.
"""

from __future__ import annotations

import math

import numpy as np
from numba import njit, prange

from . import PARALLEL_MIN, scratch

# NOTE: reassociation lets LLVM vectorise the row sums; no 'nnan'/'ninf', so nan and inf
# propagate as in PyTorch.
_FAST = {"reassoc", "contract", "nsz", "arcp"}


@njit(cache=True, nogil=True, inline="always", fastmath=_FAST)
def _row_stats(row, eps):
    """(mean, 1 / sqrt(var + eps)) of one row, two passes (no cancellation)."""
    n = row.shape[0]
    s = 0.0
    for j in range(n):
        s += row[j]
    mean = s / n
    v = 0.0
    for j in range(n):
        d = row[j] - mean
        v += d * d
    return mean, 1.0 / math.sqrt(v / n + eps)


@njit(cache=True, nogil=True, inline="always", fastmath=_FAST)
def _forward_row(i, x, weight, bias, eps, out):
    """for row i: out[i, j] = (x[i, j] - mean) * rstd * weight[j] + bias[j]."""
    row = x[i]
    mean, rstd = _row_stats(row, eps)
    mean, rstd = x.dtype.type(mean), x.dtype.type(rstd)  # the rows' own arithmetic: vectorised
    o = out[i]
    for j in range(row.shape[0]):
        o[j] = (row[j] - mean) * rstd * weight[j] + bias[j]


@njit(cache=True, nogil=True, parallel=True, fastmath=_FAST)
def _forward_parallel(x, weight, bias, eps, out):
    for i in prange(x.shape[0]):
        _forward_row(i, x, weight, bias, eps, out)


@njit(cache=True, nogil=True, fastmath=_FAST)
def _forward_serial(x, weight, bias, eps, out):
    for i in range(x.shape[0]):
        _forward_row(i, x, weight, bias, eps, out)


def layer_norm_forward(x: np.ndarray, weight: np.ndarray, bias: np.ndarray, eps: float, out=None):
    """Normalised rows of x (rows, N), scaled by weight (N,) and shifted by bias (N,), into
    `out` where given.

    Pseudo-loop: for i: mean, rstd of x[i]; for j: out[i, j] = (x[i, j] - mean) * rstd
    * weight[j] + bias[j].
    """
    out = np.empty(x.shape, x.dtype) if out is None else out
    if x.size:
        parallel = x.size >= PARALLEL_MIN and x.shape[0] > 1
        (_forward_parallel if parallel else _forward_serial)(x, weight, bias, eps, out)
    return out


@njit(cache=True, nogil=True, inline="always", fastmath=_FAST)
def _backward_row(i, x, weight, grad, eps, grad_x, xh):
    """gx = rstd * (gy - mean(gy) - x_hat * mean(gy * x_hat)), gy = grad * weight; xh (N,)
    receives row i's x_hat."""
    row = x[i]
    g = grad[i]
    gx = grad_x[i]
    n = row.shape[0]
    mean, rstd = _row_stats(row, eps)
    mean, rstd = x.dtype.type(mean), x.dtype.type(rstd)
    sum_gy = 0.0
    sum_gy_xhat = 0.0
    for j in range(n):
        xh[j] = (row[j] - mean) * rstd
        gy = g[j] * weight[j]
        sum_gy += gy
        sum_gy_xhat += gy * xh[j]
    a = x.dtype.type(sum_gy / n)
    c = x.dtype.type(sum_gy_xhat / n)
    for j in range(n):
        gx[j] = rstd * (g[j] * weight[j] - a - xh[j] * c)


# NOTE: grad_weight and grad_bias are sums over all rows. Each chunk of CHUNK_ROWS rows adds
# its rows into its own float64 partial sums, and the partials are then added in chunk order:
# the same chunks and the same order whatever the thread count, so the result is deterministic.
# Computing them here instead of with numpy afterwards ((grad * x_hat).sum(0), grad.sum(0) over
# a materialised x_hat) took the (512, 128) rows of the transformer step from 130 to 73 us
# (same-process A/B, median of 15 blocks).
CHUNK_ROWS = 32


@njit(cache=True, nogil=True, inline="always", fastmath=_FAST)
def _backward_chunk(k, x, weight, grad, eps, grad_x, part_w, part_b):
    """for rows i of chunk k: grad_x[i]; part_w[k] += grad[i] * x_hat[i]; part_b[k] += grad[i]."""
    n = x.shape[1]
    xh = np.empty(n, x.dtype)
    pw = part_w[k]
    pb = part_b[k]
    for i in range(k * CHUNK_ROWS, min(x.shape[0], (k + 1) * CHUNK_ROWS)):
        _backward_row(i, x, weight, grad, eps, grad_x, xh)
        g = grad[i]
        for j in range(n):
            pw[j] += g[j] * xh[j]
            pb[j] += g[j]


@njit(cache=True, nogil=True, inline="always")
def _sum_chunks(part, out):
    """out[j] = part[0, j] + part[1, j] + ..., in chunk order."""
    for j in range(part.shape[1]):
        s = 0.0
        for k in range(part.shape[0]):
            s += part[k, j]
        out[j] = s


@njit(cache=True, nogil=True, parallel=True, fastmath=_FAST)
def _backward_parallel(x, weight, grad, eps, grad_x, part_w, part_b, grad_w, grad_b):
    for k in prange(part_w.shape[0]):
        _backward_chunk(k, x, weight, grad, eps, grad_x, part_w, part_b)
    _sum_chunks(part_w, grad_w)
    _sum_chunks(part_b, grad_b)


@njit(cache=True, nogil=True, fastmath=_FAST)
def _backward_serial(x, weight, grad, eps, grad_x, part_w, part_b, grad_w, grad_b):
    for k in range(part_w.shape[0]):
        _backward_chunk(k, x, weight, grad, eps, grad_x, part_w, part_b)
    _sum_chunks(part_w, grad_w)
    _sum_chunks(part_b, grad_b)


def layer_norm_backward(
    x: np.ndarray,
    weight: np.ndarray,
    grad: np.ndarray,
    eps: float,
    affine: bool = True,
    out=None,
    work=None,
):
    """(grad_x, grad_weight, grad_bias) of layer norm over the rows of x (rows, N), into the
    three arrays of `out` where given; its partial sums in work's scratch arrays (see scratch).

    With affine=False the weight and bias gradients are not returned (None).

    Pseudo-loop: for chunk k of CHUNK_ROWS rows (in parallel), for i in chunk k:
    x_hat = normalised x[i]; gy = grad[i] * weight;
    grad_x[i] = rstd * (gy - mean(gy) - x_hat * mean(gy * x_hat));
    part_w[k] += grad[i] * x_hat, part_b[k] += grad[i];
    then grad_weight = sum_k part_w[k], grad_bias = sum_k part_b[k] (in order of k).
    """
    rows, n = x.shape
    if out is None:
        out = np.empty(x.shape, x.dtype), np.empty(n, x.dtype), np.empty(n, x.dtype)
    grad_x, grad_w, grad_b = out
    part_w = scratch(work, "part_w", (-(-rows // CHUNK_ROWS), n), np.float64)
    part_b = scratch(work, "part_b", part_w.shape, np.float64)
    part_w.fill(0)
    part_b.fill(0)
    if x.size:
        parallel = x.size >= PARALLEL_MIN and part_w.shape[0] > 1
        kernel = _backward_parallel if parallel else _backward_serial
        kernel(x, weight, grad, eps, grad_x, part_w, part_b, grad_w, grad_b)
    else:
        grad_w.fill(0)
        grad_b.fill(0)
    if not affine:
        return grad_x, None, None
    return grad_x, grad_w, grad_b


# ---- batch norm (training): statistics per channel over (N, spatial) --------------------------


@njit(cache=True, nogil=True, inline="always", fastmath=_FAST)
def _channel_stats(x, c, eps):
    """(mean, biased var, rstd) of channel c of x (N, C, S), two passes."""
    n, s = x.shape[0], x.shape[2]
    total = 0.0
    for i in range(n):
        for k in range(s):
            total += x[i, c, k]
    mean = total / (n * s)
    v = 0.0
    for i in range(n):
        for k in range(s):
            d = x[i, c, k] - mean
            v += d * d
    var = v / (n * s)
    return mean, var, 1.0 / math.sqrt(var + eps)


@njit(cache=True, nogil=True, inline="always", fastmath=_FAST)
def _bn_forward_channel(c, x, weight, bias, eps, out, mean, var):
    """mean[c], var[c] over x[:, c, :]; out[:, c, :] = (x - mean) * rstd * w + b (the body of
    one channel, shared with kernels/cuda/norm.py)."""
    m, v, rstd = _channel_stats(x, c, eps)
    mean[c] = m
    var[c] = v
    scale = rstd * weight[c]
    for i in range(x.shape[0]):
        for k in range(x.shape[2]):
            out[i, c, k] = (x[i, c, k] - m) * scale + bias[c]


@njit(cache=True, nogil=True, parallel=True, fastmath=_FAST)
def _bn_forward(x, weight, bias, eps, out, mean, var):
    """for c: _bn_forward_channel(c, ...)."""
    for c in prange(x.shape[1]):
        _bn_forward_channel(c, x, weight, bias, eps, out, mean, var)


def batch_norm_forward(x: np.ndarray, weight: np.ndarray, bias: np.ndarray, eps: float):
    """(out, mean, biased var) of training-mode batch norm of x (N, C, S).

    Pseudo-loop: for c: mean, var of x[:, c, :]; out[:, c, :] = (x[:, c, :] - mean)
    / sqrt(var + eps) * weight[c] + bias[c].
    """
    c = x.shape[1]
    out = np.empty(x.shape, x.dtype)
    mean = np.empty(c, np.float64)
    var = np.empty(c, np.float64)
    _bn_forward(x, weight, bias, eps, out, mean, var)
    return out, mean, var


@njit(cache=True, nogil=True, inline="always", fastmath=_FAST)
def _bn_backward_channel(c, x, weight, grad, eps, grad_x, grad_w, grad_b):
    """gx[:, c] = w * rstd * (g - mean(g) - x_hat * mean(g * x_hat)); gw[c], gb[c]: the sums
    (the body of one channel, shared with kernels/cuda/norm.py)."""
    count = x.shape[0] * x.shape[2]
    m, v, rstd = _channel_stats(x, c, eps)
    sum_g = 0.0
    sum_g_xhat = 0.0
    for i in range(x.shape[0]):
        for k in range(x.shape[2]):
            g = grad[i, c, k]
            sum_g += g
            sum_g_xhat += g * (x[i, c, k] - m) * rstd
    grad_w[c] = sum_g_xhat
    grad_b[c] = sum_g
    a = sum_g / count
    b = sum_g_xhat / count
    scale = weight[c] * rstd
    for i in range(x.shape[0]):
        for k in range(x.shape[2]):
            x_hat = (x[i, c, k] - m) * rstd
            grad_x[i, c, k] = scale * (grad[i, c, k] - a - x_hat * b)


@njit(cache=True, nogil=True, parallel=True, fastmath=_FAST)
def _bn_backward(x, weight, grad, eps, grad_x, grad_w, grad_b):
    """for c: _bn_backward_channel(c, ...)."""
    for c in prange(x.shape[1]):
        _bn_backward_channel(c, x, weight, grad, eps, grad_x, grad_w, grad_b)


def batch_norm_backward(x: np.ndarray, weight: np.ndarray, grad: np.ndarray, eps: float):
    """(grad_x, grad_weight, grad_bias) of training-mode batch norm of x (N, C, S)."""
    c = x.shape[1]
    grad_x = np.empty(x.shape, x.dtype)
    grad_w = np.empty(c, x.dtype)
    grad_b = np.empty(c, x.dtype)
    _bn_backward(x, weight, grad, eps, grad_x, grad_w, grad_b)
    return grad_x, grad_w, grad_b
