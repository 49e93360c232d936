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
from numba import njit, prange, uintp

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
# NOTE: kernels index flat arrays with unsigned (uintp) positions: with signed indices Numba
# emits a negative-index wraparound select per access, which blocks vectorization (4-5x slower).
@njit(**_OPTS)
def _im2col_row(xf, cf, r, shape, kh, kw, sh, sw, pt, pl, dh, dw, oh, ow):
    """Row r = (c, i, j) for every sample n: cols[r, n, y*ow + xo] = x[n, c, h, w] or 0.

    NOTE: one task per row, looping over the samples inside: with a task per (row, sample)
    the per-task set-up outweighed copying a few short rows (2.2x slower on LeNet's conv2).
    """
    n_batch, channels, height, width = shape
    j = r % kw
    i = (r // kw) % kh
    c = r // (kw * kh)
    off_w = j * dw - pl
    lo, hi = _valid_range(off_w, sw, width, ow)
    for n in range(n_batch):
        dst0 = (r * n_batch + n) * oh * ow
        src0 = (n * channels + c) * height * width + off_w
        for y in range(oh):
            h = y * sh + i * dh - pt
            d = dst0 + y * ow
            if h < 0 or h >= height:
                for xo in range(ow):
                    cf[uintp(d + xo)] = 0
                continue
            for xo in range(lo):
                cf[uintp(d + xo)] = 0
            s = src0 + h * width
            if sw == 1:
                for xo in range(lo, hi):
                    cf[uintp(d + xo)] = xf[uintp(s + xo)]
            else:
                for xo in range(lo, hi):
                    cf[uintp(d + xo)] = xf[uintp(s + xo * sw)]
            for xo in range(hi, ow):
                cf[uintp(d + xo)] = 0


@njit(parallel=True, **_OPTS)
def _im2col_parallel(xf, cf, shape, kh, kw, sh, sw, pt, pl, dh, dw, oh, ow):
    for r in prange(shape[1] * kh * kw):
        _im2col_row(xf, cf, r, shape, kh, kw, sh, sw, pt, pl, dh, dw, oh, ow)


@njit(**_OPTS)
def _im2col_serial(xf, cf, shape, kh, kw, sh, sw, pt, pl, dh, dw, oh, ow):
    for r in range(shape[1] * kh * kw):
        _im2col_row(xf, cf, r, shape, kh, kw, sh, sw, pt, pl, dh, dw, oh, ow)


def im2col(x: np.ndarray, kernel, stride, padding, dilation, out_size) -> np.ndarray:
    """cols (C*kh*kw, N, oh*ow) of an image x (N, C, H, W).

    padding is (top, left); out_size (oh, ow) fixes how far right/bottom the windows reach.
    """
    x = np.ascontiguousarray(x)
    n, c = x.shape[:2]
    kh, kw = kernel
    oh, ow = out_size
    cols = np.empty((c * kh * kw, n, oh * ow), dtype=x.dtype)
    if cols.size == 0:
        return cols
    kernel_fn = _im2col_parallel if parallel(2 * cols.size) else _im2col_serial
    kernel_fn(
        x.reshape(-1),
        cols.reshape(-1),
        x.shape,
        kh,
        kw,
        stride[0],
        stride[1],
        padding[0],
        padding[1],
        dilation[0],
        dilation[1],
        oh,
        ow,
    )
    return cols


@njit(**_OPTS)
def _col2im_plane(of, cf, t, shape, kh, kw, sh, sw, pt, pl, dh, dw, oh, ow):
    """One (n, c) plane: for i, j, y, xo: out[n, c, h, w] += cols[(c, i, j), n, y*ow + xo]."""
    n_batch, channels, height, width = shape
    n = t // channels
    c = t - n * channels
    plane = t * height * width
    for i in range(kh):
        for j in range(kw):
            r = (c * kh + i) * kw + j
            off_w = j * dw - pl
            lo, hi = _valid_range(off_w, sw, width, ow)
            src0 = (r * n_batch + n) * oh * ow
            for y in range(oh):
                h = y * sh + i * dh - pt
                if h < 0 or h >= height:
                    continue
                s = src0 + y * ow
                d = plane + h * width + off_w
                if sw == 1:
                    for xo in range(lo, hi):
                        of[uintp(d + xo)] += cf[uintp(s + xo)]
                else:
                    for xo in range(lo, hi):
                        of[uintp(d + xo * sw)] += cf[uintp(s + xo)]


@njit(parallel=True, **_OPTS)
def _col2im_parallel(of, cf, shape, kh, kw, sh, sw, pt, pl, dh, dw, oh, ow):
    for t in prange(shape[0] * shape[1]):
        _col2im_plane(of, cf, t, shape, kh, kw, sh, sw, pt, pl, dh, dw, oh, ow)


@njit(**_OPTS)
def _col2im_serial(of, cf, shape, kh, kw, sh, sw, pt, pl, dh, dw, oh, ow):
    for t in range(shape[0] * shape[1]):
        _col2im_plane(of, cf, t, shape, kh, kw, sh, sw, pt, pl, dh, dw, oh, ow)


def col2im(cols: np.ndarray, image_shape, kernel, stride, padding, dilation, out_size):
    """The adjoint of im2col: an image (N, C, H, W) where each column adds into its window.

    cols is (C*kh*kw, N, oh*ow)-shaped (copied to contiguous if it is a view).
    """
    out = np.zeros(image_shape, dtype=cols.dtype)
    if out.size == 0 or cols.size == 0:
        return out
    cols = np.ascontiguousarray(cols)
    kh, kw = kernel
    oh, ow = out_size
    kernel_fn = _col2im_parallel if parallel(cols.size + out.size) else _col2im_serial
    kernel_fn(
        out.reshape(-1),
        cols.reshape(-1),
        tuple(image_shape),
        kh,
        kw,
        stride[0],
        stride[1],
        padding[0],
        padding[1],
        dilation[0],
        dilation[1],
        oh,
        ow,
    )
    return out


# ---- max pooling --------------------------------------------------------------------------------
@njit(inline="always")
def _window_range(start, dilation, kernel, size):
    """[lo, hi): the taps k of a window starting at `start` with start + k*dilation in bounds."""
    if dilation == 1:
        return max(0, -start), min(kernel, size - start)
    lo = 0 if start >= 0 else (-start + dilation - 1) // dilation
    return lo, min(kernel, (size - 1 - start) // dilation + 1)


@njit(**_OPTS)
def _max_pool_plane(of, idxf, xf, p, shape, kh, kw, sh, sw, ph, pw, dh, dw):
    """out[p, y, xo] = max over the window of x[p], idx = its flat h*W + w.

    Like PyTorch: the first maximum wins ties; a NaN wins over numbers (the last NaN).
    """
    height, width, oh, ow = shape
    src = p * height * width
    dst = p * oh * ow
    for y in range(oh):
        h0 = y * sh - ph
        i_lo, i_hi = _window_range(h0, dh, kh, height)
        for xo in range(ow):
            w0 = xo * sw - pw
            j_lo, j_hi = _window_range(w0, dw, kw, width)
            if i_lo >= i_hi or j_lo >= j_hi:  # a window entirely in the padding
                of[uintp(dst + y * ow + xo)] = -np.inf
                idxf[uintp(dst + y * ow + xo)] = max(h0, 0) * width + max(w0, 0)
                continue
            where = (h0 + i_lo * dh) * width + w0 + j_lo * dw
            best = xf[uintp(src + where)]
            nan = False
            # NOTE: no NaN test inside the hot loop: it defeats branch-free selects (5x slower);
            # a second pass runs only for windows that hold a NaN.
            for i in range(i_lo, i_hi):
                row = (h0 + i * dh) * width + w0
                for j in range(j_lo, j_hi):
                    v = xf[uintp(src + row + j * dw)]
                    nan |= v != v
                    if v > best:
                        best = v
                        where = row + j * dw
            if nan:
                for i in range(i_lo, i_hi):
                    row = (h0 + i * dh) * width + w0
                    for j in range(j_lo, j_hi):
                        v = xf[uintp(src + row + j * dw)]
                        if v != v:
                            best = v
                            where = row + j * dw
            of[uintp(dst + y * ow + xo)] = best
            idxf[uintp(dst + y * ow + xo)] = where


@njit(**_OPTS)
def _max_pool_plane_2x2(of, idxf, xf, p, shape, sh, sw):
    """_max_pool_plane for 2x2 windows that lie inside the image (the common MaxPool2d(2)).

    NOTE: a fixed trip count lets LLVM unroll the window into branch-free selects; the generic
    kernel's runtime-sized window loop measured ~4x slower on LeNet's pooling.
    """
    height, width, oh, ow = shape
    src = p * height * width
    dst = p * oh * ow
    for y in range(oh):
        for xo in range(ow):
            top = (y * sh) * width + xo * sw
            where = top
            best = xf[uintp(src + top)]
            nan = best != best
            for q in (top + 1, top + width, top + width + 1):
                v = xf[uintp(src + q)]
                nan |= v != v
                if v > best:
                    best = v
                    where = q
            if nan:
                for q in (top, top + 1, top + width, top + width + 1):
                    v = xf[uintp(src + q)]
                    if v != v:
                        best = v
                        where = q
            of[uintp(dst + y * ow + xo)] = best
            idxf[uintp(dst + y * ow + xo)] = where


@njit(parallel=True, **_OPTS)
def _max_pool_parallel(of, idxf, xf, planes, shape, kh, kw, sh, sw, ph, pw, dh, dw, fast):
    for p in prange(planes):
        if fast:
            _max_pool_plane_2x2(of, idxf, xf, p, shape, sh, sw)
        else:
            _max_pool_plane(of, idxf, xf, p, shape, kh, kw, sh, sw, ph, pw, dh, dw)


@njit(**_OPTS)
def _max_pool_serial(of, idxf, xf, planes, shape, kh, kw, sh, sw, ph, pw, dh, dw, fast):
    for p in range(planes):
        if fast:
            _max_pool_plane_2x2(of, idxf, xf, p, shape, sh, sw)
        else:
            _max_pool_plane(of, idxf, xf, p, shape, kh, kw, sh, sw, ph, pw, dh, dw)


def max_pool2d(x: np.ndarray, kernel, stride, padding, dilation, out_size):
    """(values, flat indices) of 2-D max pooling over planes x (P, H, W)."""
    x = np.ascontiguousarray(x)
    planes, height, width = x.shape
    oh, ow = out_size
    out = np.empty((planes, oh, ow), dtype=x.dtype)
    idx = np.empty((planes, oh, ow), dtype=np.int64)
    if out.size:
        fast = (
            tuple(kernel) == (2, 2)
            and tuple(padding) == (0, 0)
            and tuple(dilation) == (1, 1)
            and (oh - 1) * stride[0] + 2 <= height
            and (ow - 1) * stride[1] + 2 <= width
        )
        kernel_fn = _max_pool_parallel if parallel(x.size) and planes > 1 else _max_pool_serial
        kernel_fn(
            out.reshape(-1),
            idx.reshape(-1),
            x.reshape(-1),
            planes,
            (height, width, oh, ow),
            kernel[0],
            kernel[1],
            stride[0],
            stride[1],
            padding[0],
            padding[1],
            dilation[0],
            dilation[1],
            fast,
        )
    return out, idx


@njit(**_OPTS)
def _index_add_plane(of, gf, idxf, p, size, plane):
    for k in range(p * size, (p + 1) * size):
        of[uintp(p * plane + idxf[k])] += gf[k]


@njit(parallel=True, **_OPTS)
def _index_add_parallel(of, gf, idxf, planes, size, plane):
    for p in prange(planes):
        _index_add_plane(of, gf, idxf, p, size, plane)


@njit(**_OPTS)
def _index_add_serial(of, gf, idxf, planes, size, plane):
    for p in range(planes):
        _index_add_plane(of, gf, idxf, p, size, plane)


def plane_index_add(g: np.ndarray, idx: np.ndarray, plane_size: int) -> np.ndarray:
    """out (P, plane_size) zeros with out[p, idx[p, k]] += g[p, k] (max pooling's backward)."""
    g = np.ascontiguousarray(g)
    idx = np.ascontiguousarray(idx)
    out = np.zeros((g.shape[0], plane_size), dtype=g.dtype)
    if g.size:
        kernel_fn = _index_add_parallel if parallel(g.size + out.size) else _index_add_serial
        kernel_fn(
            out.reshape(-1), g.reshape(-1), idx.reshape(-1), g.shape[0], g.shape[1], plane_size
        )
    return out


# ---- window sums (average pooling, adaptive average pooling) ----------------------------------
@njit(**_OPTS)
def _window_sum_plane(of, xf, p, shape, hs, he, ws, we, scale):
    """out[p, y, xo] = scale[y, xo] * sum(x[p, hs[y]:he[y], ws[xo]:we[xo]])."""
    height, width, oh, ow = shape
    src = p * height * width
    dst = p * oh * ow
    for y in range(oh):
        for xo in range(ow):
            total = scale[0, 0] * 0
            for h in range(hs[y], he[y]):
                row = src + h * width
                for w in range(ws[xo], we[xo]):
                    total += xf[uintp(row + w)]
            of[uintp(dst + y * ow + xo)] = total * scale[y, xo]


@njit(parallel=True, **_OPTS)
def _window_sum_parallel(of, xf, planes, shape, hs, he, ws, we, scale):
    for p in prange(planes):
        _window_sum_plane(of, xf, p, shape, hs, he, ws, we, scale)


@njit(**_OPTS)
def _window_sum_serial(of, xf, planes, shape, hs, he, ws, we, scale):
    for p in range(planes):
        _window_sum_plane(of, xf, p, shape, hs, he, ws, we, scale)


def window_sum(x: np.ndarray, hs, he, ws, we, scale) -> np.ndarray:
    """Scaled sums over rectangular windows [hs, he) x [ws, we) of planes x (P, H, W)."""
    x = np.ascontiguousarray(x)
    planes = x.shape[0]
    out_hw = (hs.shape[0], ws.shape[0])
    out = np.zeros((planes,) + out_hw, dtype=x.dtype)
    if out.size and x.size:
        kernel_fn = _window_sum_parallel if parallel(x.size) and planes > 1 else _window_sum_serial
        kernel_fn(
            out.reshape(-1),
            x.reshape(-1),
            planes,
            x.shape[1:] + out_hw,
            hs,
            he,
            ws,
            we,
            scale.astype(x.dtype),
        )
    return out


@njit(**_OPTS)
def _window_spread_plane(of, gf, p, shape, hs, he, ws, we, scale):
    """The adjoint of window_sum: out[p, h, w] += scale[y, xo] * g[p, y, xo] over windows."""
    height, width, oh, ow = shape
    src = p * oh * ow
    dst = p * height * width
    for y in range(oh):
        for xo in range(ow):
            v = gf[uintp(src + y * ow + xo)] * scale[y, xo]
            for h in range(hs[y], he[y]):
                row = dst + h * width
                for w in range(ws[xo], we[xo]):
                    of[uintp(row + w)] += v


@njit(parallel=True, **_OPTS)
def _window_spread_parallel(of, gf, planes, shape, hs, he, ws, we, scale):
    for p in prange(planes):
        _window_spread_plane(of, gf, p, shape, hs, he, ws, we, scale)


@njit(**_OPTS)
def _window_spread_serial(of, gf, planes, shape, hs, he, ws, we, scale):
    for p in range(planes):
        _window_spread_plane(of, gf, p, shape, hs, he, ws, we, scale)


def window_spread(g: np.ndarray, plane_shape, hs, he, ws, we, scale) -> np.ndarray:
    """Planes (P, H, W) that receive scale * g spread over each window (window_sum's adjoint)."""
    g = np.ascontiguousarray(g)
    planes = g.shape[0]
    out = np.zeros((planes,) + tuple(plane_shape), dtype=g.dtype)
    if g.size and out.size:
        kernel_fn = (
            _window_spread_parallel if parallel(out.size) and planes > 1 else _window_spread_serial
        )
        kernel_fn(
            out.reshape(-1),
            g.reshape(-1),
            planes,
            tuple(plane_shape) + g.shape[1:],
            hs,
            he,
            ws,
            we,
            scale.astype(g.dtype),
        )
    return out
