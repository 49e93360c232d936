"""CPU kernels for convolution and pooling.

Convolution is im2col + one BLAS matrix product (the GEMM lives in minitorch/ops/conv.py):
`im2col` lays every receptive field out as a column, `col2im` sums columns back into an image
(the input gradient). Pooling kernels loop over (batch * channel) planes, one plane per task.

Layouts (all arrays C-contiguous unless said otherwise):
    x     (N, C, H, W)                 image
    cols  (C * kh * kw, N, oh * ow)    row r = (c, i, j) holds x[n, c, y*sh - pt + i*dh,
                                       xo*sw - pl + j*dw] at column (n, y*ow + xo); 0 in padding
Every kernel has a serial and a `prange` driver; `parallel(work)` picks one by the amount of work
(a parallel region costs more than small work: see kernels/cpu/__init__.py PARALLEL_MIN).
"""

from __future__ import annotations

import numpy as np
from numba import njit, prange

from . import PARALLEL_MIN

_OPTS = dict(cache=True, nogil=True, error_model="numpy")


def parallel(work: int) -> bool:
    """Whether `work` elements of memory traffic are worth a parallel region."""
    return work >= PARALLEL_MIN


@njit(inline="always")
def _valid_range(off, stride, size, n_out):
    """[lo, hi): the output positions o with 0 <= o*stride + off < size."""
    lo = 0 if off >= 0 else (-off + stride - 1) // stride
    last = size - 1 - off
    hi = 0 if last < 0 else min(n_out, last // stride + 1)
    return lo, max(lo, hi)


# ---- im2col / col2im ----------------------------------------------------------------------------
@njit(**_OPTS)
def _im2col_task(x, cols, t, kh, kw, sh, sw, pt, pl, dh, dw, oh, ow):
    """One (row r, sample n) task: for y, xo: cols[r, n, y*ow + xo] = x[n, c, h, w] or 0."""
    n_batch = x.shape[0]
    r = t // n_batch
    n = t % n_batch
    j = r % kw
    i = (r // kw) % kh
    c = r // (kw * kh)
    height, width = x.shape[2], x.shape[3]
    off_w = j * dw - pl
    lo, hi = _valid_range(off_w, sw, width, ow)
    for y in range(oh):
        h = y * sh + i * dh - pt
        base = y * ow
        if h < 0 or h >= height:
            for xo in range(ow):
                cols[r, n, base + xo] = 0
            continue
        for xo in range(lo):
            cols[r, n, base + xo] = 0
        for xo in range(lo, hi):
            cols[r, n, base + xo] = x[n, c, h, xo * sw + off_w]
        for xo in range(hi, ow):
            cols[r, n, base + xo] = 0


@njit(parallel=True, **_OPTS)
def _im2col_parallel(x, cols, kh, kw, sh, sw, pt, pl, dh, dw, oh, ow):
    for t in prange(cols.shape[0] * x.shape[0]):
        _im2col_task(x, cols, t, kh, kw, sh, sw, pt, pl, dh, dw, oh, ow)


@njit(**_OPTS)
def _im2col_serial(x, cols, kh, kw, sh, sw, pt, pl, dh, dw, oh, ow):
    for t in range(cols.shape[0] * x.shape[0]):
        _im2col_task(x, cols, t, kh, kw, sh, sw, pt, pl, dh, dw, oh, ow)


def im2col(x: np.ndarray, kernel, stride, padding, dilation, out_size) -> np.ndarray:
    """cols (C*kh*kw, N, oh*ow) of a contiguous image x (N, C, H, W).

    padding is (top, left); out_size (oh, ow) fixes how far right/bottom the windows reach.
    """
    n, c = x.shape[:2]
    kh, kw = kernel
    oh, ow = out_size
    cols = np.empty((c * kh * kw, n, oh * ow), dtype=x.dtype)
    if cols.size == 0:
        return cols
    kernel_fn = _im2col_parallel if parallel(cols.size) else _im2col_serial
    kernel_fn(x, cols, kh, kw, stride[0], stride[1], padding[0], padding[1], dilation[0],
              dilation[1], oh, ow)
    return cols


@njit(**_OPTS)
def _col2im_plane(out, cols, t, kh, kw, sh, sw, pt, pl, dh, dw, oh, ow):
    """One (n, c) plane: for i, j, y, xo: out[n, c, h, w] += cols[(c, i, j), n, y*ow + xo]."""
    channels = out.shape[1]
    n = t // channels
    c = t % channels
    height, width = out.shape[2], out.shape[3]
    for i in range(kh):
        for j in range(kw):
            r = (c * kh + i) * kw + j
            off_w = j * dw - pl
            lo, hi = _valid_range(off_w, sw, width, ow)
            for y in range(oh):
                h = y * sh + i * dh - pt
                if h < 0 or h >= height:
                    continue
                base = y * ow
                for xo in range(lo, hi):
                    out[n, c, h, xo * sw + off_w] += cols[r, n, base + xo]


@njit(parallel=True, **_OPTS)
def _col2im_parallel(out, cols, kh, kw, sh, sw, pt, pl, dh, dw, oh, ow):
    for t in prange(out.shape[0] * out.shape[1]):
        _col2im_plane(out, cols, t, kh, kw, sh, sw, pt, pl, dh, dw, oh, ow)


@njit(**_OPTS)
def _col2im_serial(out, cols, kh, kw, sh, sw, pt, pl, dh, dw, oh, ow):
    for t in range(out.shape[0] * out.shape[1]):
        _col2im_plane(out, cols, t, kh, kw, sh, sw, pt, pl, dh, dw, oh, ow)


def col2im(cols: np.ndarray, image_shape, kernel, stride, padding, dilation, out_size):
    """The adjoint of im2col: an image (N, C, H, W) where each column adds into its window.

    cols may be any (C*kh*kw, N, oh*ow)-shaped view (e.g. a transposed GEMM result).
    """
    out = np.zeros(image_shape, dtype=cols.dtype)
    if out.size == 0 or cols.size == 0:
        return out
    kh, kw = kernel
    oh, ow = out_size
    kernel_fn = _col2im_parallel if parallel(cols.size) else _col2im_serial
    kernel_fn(out, cols, kh, kw, stride[0], stride[1], padding[0], padding[1], dilation[0],
              dilation[1], oh, ow)
    return out


# ---- max pooling --------------------------------------------------------------------------------
@njit(**_OPTS)
def _max_pool_plane(out, idx, x, p, kh, kw, sh, sw, ph, pw, dh, dw):
    """out[p, y, xo] = max over the window of x[p] (NaN wins), idx = its flat h*W + w."""
    height, width = x.shape[1], x.shape[2]
    for y in range(out.shape[1]):
        h0 = y * sh - ph
        for xo in range(out.shape[2]):
            w0 = xo * sw - pw
            best = -np.inf
            where = -1
            for i in range(kh):
                h = h0 + i * dh
                if h < 0 or h >= height:
                    continue
                for j in range(kw):
                    w = w0 + j * dw
                    if w < 0 or w >= width:
                        continue
                    v = x[p, h, w]
                    if where < 0 or v > best or v != v:
                        best = v
                        where = h * width + w
                        if v != v:
                            break
                if best != best:
                    break
            out[p, y, xo] = best
            idx[p, y, xo] = where


@njit(parallel=True, **_OPTS)
def _max_pool_parallel(out, idx, x, kh, kw, sh, sw, ph, pw, dh, dw):
    for p in prange(x.shape[0]):
        _max_pool_plane(out, idx, x, p, kh, kw, sh, sw, ph, pw, dh, dw)


@njit(**_OPTS)
def _max_pool_serial(out, idx, x, kh, kw, sh, sw, ph, pw, dh, dw):
    for p in range(x.shape[0]):
        _max_pool_plane(out, idx, x, p, kh, kw, sh, sw, ph, pw, dh, dw)


def max_pool2d(x: np.ndarray, kernel, stride, padding, dilation, out_size):
    """(values, flat indices) of 2-D max pooling over planes x (P, H, W), contiguous."""
    planes = x.shape[0]
    out = np.empty((planes,) + tuple(out_size), dtype=x.dtype)
    idx = np.empty((planes,) + tuple(out_size), dtype=np.int64)
    if out.size:
        kernel_fn = _max_pool_parallel if parallel(x.size) and planes > 1 else _max_pool_serial
        kernel_fn(out, idx, x, kernel[0], kernel[1], stride[0], stride[1], padding[0],
                  padding[1], dilation[0], dilation[1])
    return out, idx


@njit(**_OPTS)
def _index_add_plane(out, g, idx, p):
    for k in range(g.shape[1]):
        out[p, idx[p, k]] += g[p, k]


@njit(parallel=True, **_OPTS)
def _index_add_parallel(out, g, idx):
    for p in prange(g.shape[0]):
        _index_add_plane(out, g, idx, p)


@njit(**_OPTS)
def _index_add_serial(out, g, idx):
    for p in range(g.shape[0]):
        _index_add_plane(out, g, idx, p)


def plane_index_add(g: np.ndarray, idx: np.ndarray, plane_size: int) -> np.ndarray:
    """out (P, plane_size) zeros with out[p, idx[p, k]] += g[p, k] (max pooling's backward)."""
    out = np.zeros((g.shape[0], plane_size), dtype=g.dtype)
    if g.size:
        kernel_fn = _index_add_parallel if parallel(g.size + out.size) else _index_add_serial
        kernel_fn(out, g, idx)
    return out


# ---- window sums (average pooling, adaptive average pooling) ----------------------------------
@njit(**_OPTS)
def _window_sum_plane(out, x, p, hs, he, ws, we, scale):
    """out[p, y, xo] = scale[y, xo] * sum(x[p, hs[y]:he[y], ws[xo]:we[xo]])."""
    for y in range(out.shape[1]):
        for xo in range(out.shape[2]):
            total = x[p, 0, 0] * 0
            for h in range(hs[y], he[y]):
                for w in range(ws[xo], we[xo]):
                    total += x[p, h, w]
            out[p, y, xo] = total * scale[y, xo]


@njit(parallel=True, **_OPTS)
def _window_sum_parallel(out, x, hs, he, ws, we, scale):
    for p in prange(x.shape[0]):
        _window_sum_plane(out, x, p, hs, he, ws, we, scale)


@njit(**_OPTS)
def _window_sum_serial(out, x, hs, he, ws, we, scale):
    for p in range(x.shape[0]):
        _window_sum_plane(out, x, p, hs, he, ws, we, scale)


def window_sum(x: np.ndarray, hs, he, ws, we, scale) -> np.ndarray:
    """Scaled sums over rectangular windows [hs, he) x [ws, we) of planes x (P, H, W)."""
    out = np.empty((x.shape[0], hs.shape[0], ws.shape[0]), dtype=x.dtype)
    if out.size and x.size:
        kernel_fn = _window_sum_parallel if parallel(x.size) and x.shape[0] > 1 \
            else _window_sum_serial
        kernel_fn(out, x, hs, he, ws, we, scale.astype(x.dtype))
    elif out.size:
        out[...] = 0
    return out


@njit(**_OPTS)
def _window_spread_plane(out, g, p, hs, he, ws, we, scale):
    """The adjoint of window_sum: out[p, h, w] += scale[y, xo] * g[p, y, xo] over windows."""
    for y in range(g.shape[1]):
        for xo in range(g.shape[2]):
            v = g[p, y, xo] * scale[y, xo]
            for h in range(hs[y], he[y]):
                for w in range(ws[xo], we[xo]):
                    out[p, h, w] += v


@njit(parallel=True, **_OPTS)
def _window_spread_parallel(out, g, hs, he, ws, we, scale):
    for p in prange(g.shape[0]):
        _window_spread_plane(out, g, p, hs, he, ws, we, scale)


@njit(**_OPTS)
def _window_spread_serial(out, g, hs, he, ws, we, scale):
    for p in range(g.shape[0]):
        _window_spread_plane(out, g, p, hs, he, ws, we, scale)


def window_spread(g: np.ndarray, plane_shape, hs, he, ws, we, scale) -> np.ndarray:
    """Planes (P, H, W) that receive scale * g spread over each window (window_sum's adjoint)."""
    out = np.zeros((g.shape[0],) + tuple(plane_shape), dtype=g.dtype)
    if g.size and out.size:
        kernel_fn = _window_spread_parallel if parallel(out.size) and g.shape[0] > 1 \
            else _window_spread_serial
        kernel_fn(out, g, hs, he, ws, we, scale.astype(g.dtype))
    return out
