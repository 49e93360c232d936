"""Convolution on the device: im2col and col2im (the GEMM between them is kernels/cuda/matmul.py).

Same layouts as kernels/cpu/conv.py:
    x     (N, C, H, W)                 image
    cols  (C * kh * kw, N, oh * ow)    row r = (c, i, j) holds x[n, c, y*sh - pt + i*dh,
                                       xo*sw - pl + j*dw] at column (n, y*ow + xo); 0 in padding
but any strides: unfold and fold pass their (N, C*kh*kw, L) tensors as transposed views, read
and written in place. The geometry travels as one tuple of ints,
geo = (kh, kw, sh, sw, pt, pl, dh, dw, oh, ow), never as a host array.

# NOTE: the CPU kernels' bodies are serial loops over a whole row (im2col) or plane (col2im),
# shaped for SIMD; run as device functions they would give C*kh*kw or N*C threads. Here each
# thread owns one element (coalesced, and as many threads as elements), so only the formula
# above is common. col2im gathers (each pixel sums the columns that read it, taps in the CPU's
# (i, j) order) instead of scattering with atomics: no atomics, and the sums are deterministic
# and equal the CPU's.
"""

from __future__ import annotations

from numba import cuda

from . import BLOCK, grid


@cuda.jit(device=True)
def _tap_source(o, k, stride, dilation, pad):
    """The input position that output position o reads through kernel tap k."""
    return o * stride + k * dilation - pad


@cuda.jit(device=True)
def _tap_output(p, k, stride, dilation, pad, n_out):
    """The output position o with _tap_source(o, k, ...) == p, or -1 when there is none."""
    t = p + pad - k * dilation
    if t < 0 or t % stride:
        return -1
    o = t // stride
    return o if o < n_out else -1


@cuda.jit
def _im2col(cols, x, geo, zero):
    """for r = (c, i, j), n, q = (y, xo): cols[r, n, q] = x[n, c, h, w] or 0 outside x, with
    h = y*sh + i*dh - pt, w = xo*sw + j*dw - pl.

    One thread per element of cols (grid-stride loop over its C-order positions).
    """
    kh, kw, sh, sw, pt, pl, dh, dw, oh, ow = geo
    n_batch, plane = cols.shape[1], cols.shape[2]
    height, width = x.shape[2], x.shape[3]
    for t in range(cuda.grid(1), cols.size, cuda.gridsize(1)):
        r = t // (n_batch * plane)
        n = (t // plane) % n_batch
        q = t % plane  # the window (y, xo) = (q // ow, q % ow)
        c, i, j = r // (kh * kw), (r // kw) % kh, r % kw
        h = _tap_source(q // ow, i, sh, dh, pt)
        w = _tap_source(q % ow, j, sw, dw, pl)
        if 0 <= h < height and 0 <= w < width:
            cols[r, n, q] = x[n, c, h, w]
        else:
            cols[r, n, q] = zero


@cuda.jit
def _col2im(out, cols, geo, zero):
    """for n, c, h, w: out[n, c, h, w] = sum over taps (i, j) of cols[(c, i, j), n, (y, xo)]
    for the window (y, xo) whose tap (i, j) reads (h, w) (im2col's adjoint).

    One thread per element of out; it gathers, so nothing is written twice (no atomics).
    """
    kh, kw, sh, sw, pt, pl, dh, dw, oh, ow = geo
    channels, height, width = out.shape[1], out.shape[2], out.shape[3]
    for t in range(cuda.grid(1), out.size, cuda.gridsize(1)):
        n = t // (channels * height * width)
        c = (t // (height * width)) % channels
        h = (t // width) % height
        w = t % width
        acc = zero
        for i in range(kh):
            y = _tap_output(h, i, sh, dh, pt, oh)
            if y < 0:
                continue
            for j in range(kw):
                xo = _tap_output(w, j, sw, dw, pl, ow)
                if xo >= 0:
                    acc += cols[(c * kh + i) * kw + j, n, y * ow + xo]
        out[n, c, h, w] = acc


def im2col(cols, x, geo: tuple) -> None:
    """Fill cols (C*kh*kw, N, oh*ow) from the image x (N, C, H, W) (both any strides)."""
    if cols.size:
        _im2col[grid(cols.size), BLOCK](cols, x, geo, cols.dtype.type(0))


def col2im(out, cols, geo: tuple) -> None:
    """Fill the image out (N, C, H, W) with the column sums of cols (C*kh*kw, N, oh*ow)."""
    if out.size:
        _col2im[grid(out.size), BLOCK](out, cols, geo, out.dtype.type(0))
