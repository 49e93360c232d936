"""Pooling on the device: max pooling and (adaptive) average pooling, forward and backward.

The window arithmetic and the per-output bodies are kernels/cpu/conv.py's own functions
(`_max_pool_at`, `avg_window`, `adaptive_window`, `window_scale`, `_window_total`), compiled
again as CUDA device functions: the CPU loops them over a plane, here one thread runs one
output element. Arrays are flat views of C-contiguous (P, H, W) planes; the geometry travels
as ints and tuples of ints, never as host arrays.

    max pool      out[p, y, xo], idx[p, y, xo] = max, argmax (flat h*W + w) over the window
    its backward  out[p].flat[idx[p, k]] += grad[p].flat[k]     (atomic: windows may overlap)
    window sum    out[p, y, xo] = scale(y, xo) * sum of x[p] over window (y, xo)
    its adjoint   out[p, h, w] = sum over the windows (y, xo) holding (h, w) of scale * g

# NOTE: the adjoint gathers (each input element sums the windows that cover it, in the CPU's
# (y, xo) order) instead of scattering with atomics: deterministic, and no float atomics.
# Windows are ordered along each dim (lo and hi never decrease): the scan starts at the first
# window that can hold the element and stops at the first that starts past it.
"""

from __future__ import annotations

from numba import cuda

from ..cpu import conv as _cpu
from . import BLOCK, grid
from .scalar import device_functions

_conv = device_functions(_cpu, {})
_max_pool_at = _conv["_max_pool_at"]
_window_total = _conv["_window_total"]
_avg_window, _adaptive_window = _conv["avg_window"], _conv["adaptive_window"]
_window_scale = _conv["window_scale"]


@cuda.jit(device=True)
def _unravel(t, oh, ow):
    """(p, y, xo) of flat position t in (P, oh, ow)."""
    p = t // (oh * ow)
    r = t - p * oh * ow
    y = r // ow
    return p, y, r - y * ow


@cuda.jit
def _max_pool(of, idxf, xf, shape, kernel, stride, pad, dilation):
    """for p, y, xo (one thread per output element): the CPU's _max_pool_at"""
    kh, kw, sh, sw = kernel[0], kernel[1], stride[0], stride[1]
    for t in range(cuda.grid(1), of.size, cuda.gridsize(1)):
        p, y, xo = _unravel(t, shape[2], shape[3])
        _max_pool_at(
            of, idxf, xf, p, y, xo, shape, kh, kw, sh, sw, pad[0], pad[1], dilation[0], dilation[1]
        )


@cuda.jit
def _index_add(of, gf, idxf, grad_plane, out_plane):
    """for k (one thread per gradient element): out[p * out_plane + idx[k]] += g[k]"""
    for k in range(cuda.grid(1), gf.size, cuda.gridsize(1)):
        p = k // grad_plane
        cuda.atomic.add(of, p * out_plane + idxf[k], gf[k])


def max_pool2d(of, idxf, xf, shape: tuple, kernel, stride, padding, dilation) -> None:
    """Max pooling of flat planes xf (P*H*W) into flat of and idxf (P*oh*ow); shape = (H, W,
    oh, ow); kernel, stride, padding, dilation are (h, w) pairs of ints."""
    if of.size:
        _max_pool[grid(of.size), BLOCK](of, idxf, xf, shape, kernel, stride, padding, dilation)


def max_pool2d_backward(of, gf, idxf, grad_plane: int, out_plane: int) -> None:
    """of (zeros, P*out_plane) += each gradient at its max's flat index (idxf, like gf)."""
    if gf.size:
        _index_add[grid(gf.size), BLOCK](of, gf, idxf, grad_plane, out_plane)


# ---- window sums: average pooling (adaptive when kernel is (0, 0)) ----------------------------
@cuda.jit(device=True)
def _window(o, size, n_out, kernel, stride, pad):
    """(lo, hi, span) of window o along one dim: adaptive pooling's when kernel is 0."""
    if kernel == 0:
        return _adaptive_window(o, size, n_out)
    return _avg_window(o, size, kernel, stride, pad)


@cuda.jit(device=True)
def _first_window(p, size, n_out, kernel, stride, pad):
    """The first window (along one dim) whose end lies past input position p: windows before it
    cannot hold p, so the adjoint's scan starts there. Adaptive: ceil((o+1)*size/n_out) > p
    from o = floor(p*n_out/size); average: o*stride - pad + kernel > p."""
    if kernel == 0:
        return (p * n_out) // size
    return max(0, (p + pad - kernel) // stride + 1)


@cuda.jit
def _window_sum(of, xf, shape, kernel, stride, pad, count_include_pad, divisor):
    """for p, y, xo (one thread per output element): scale * sum of x[p] over the window"""
    height, width, oh, ow = shape
    for t in range(cuda.grid(1), of.size, cuda.gridsize(1)):
        p, y, xo = _unravel(t, oh, ow)
        rows = _window(y, height, oh, kernel[0], stride[0], pad[0])
        cols = _window(xo, width, ow, kernel[1], stride[1], pad[1])
        src = p * height * width
        total = _window_total(xf, src, width, rows[0], rows[1], cols[0], cols[1], xf[0] * 0)
        of[t] = total * _window_scale(rows, cols, count_include_pad, divisor)


@cuda.jit
def _window_spread(of, gf, shape, kernel, stride, pad, count_include_pad, divisor):
    """for p, h, w (one thread per input element): sum of scale * g over the windows holding it"""
    height, width, oh, ow = shape
    for t in range(cuda.grid(1), of.size, cuda.gridsize(1)):
        p, h, w = _unravel(t, height, width)
        total = gf[0] * 0
        for y in range(_first_window(h, height, oh, kernel[0], stride[0], pad[0]), oh):
            rows = _window(y, height, oh, kernel[0], stride[0], pad[0])
            if rows[0] > h:
                break
            if h >= rows[1]:
                continue
            for xo in range(_first_window(w, width, ow, kernel[1], stride[1], pad[1]), ow):
                cols = _window(xo, width, ow, kernel[1], stride[1], pad[1])
                if cols[0] > w:
                    break
                if w < cols[1]:
                    scale = _window_scale(rows, cols, count_include_pad, divisor)
                    total += gf[(p * oh + y) * ow + xo] * scale
        of[t] = total


def window_sum(of, xf, shape: tuple, kernel, stride, padding, count_include_pad, divisor):
    """Average pooling of flat planes xf into flat of; shape = (H, W, oh, ow). kernel (0, 0)
    means adaptive windows; divisor is divisor_override (0 = none)."""
    if of.size and xf.size:
        _window_sum[grid(of.size), BLOCK](
            of, xf, shape, kernel, stride, padding, count_include_pad, divisor
        )


def window_spread(of, gf, shape: tuple, kernel, stride, padding, count_include_pad, divisor):
    """The adjoint of window_sum: flat input-plane gradients of from flat gf (P*oh*ow)."""
    if of.size and gf.size:
        _window_spread[grid(of.size), BLOCK](
            of, gf, shape, kernel, stride, padding, count_include_pad, divisor
        )
