"""Fused layer norm: statistics, normalisation and affine in one kernel pass per row.

`layer_norm(x, weight, bias, normalized_ndim=k, eps=...)` normalises over the last k dims
of x; weight and bias (shape x.shape[-k:]) may be None. The backward is a second kernel
that recomputes the row statistics (cheaper than saving them); under create_graph (double
backward) it is the same formula in differentiable Tensor ops instead.
"""

from __future__ import annotations

import math

import numpy as np

from ..autograd.grad_mode import state
from ..kernels.cpu import contiguous
from ..kernels.cpu import norm as K
from .registry import Meta, Op, apply, keeping_workspace, register


def _rows(x: np.ndarray, k: int, work=None, name: str = "x") -> np.ndarray:
    """x as C-ordered rows of its last k dims (a copy into work's `name` where strided)."""
    n = math.prod(x.shape[x.ndim - k :])
    return contiguous(x, work, name).reshape(-1, n)


def _affine(w, n: int, dtype, default: float) -> np.ndarray:
    """weight or bias as a flat (n,) array; ones or zeros when absent (one kernel serves all)."""
    if w is None:
        return np.full(n, default, dtype)
    return np.ascontiguousarray(w, dtype=dtype).reshape(-1)


class LayerNorm(Op):
    """out = (x - mean) / sqrt(var + eps) * weight + bias, statistics over the last k dims."""

    name = "layer_norm"
    save = (0, 1)
    writes_out = True

    def infer(self, x, weight, bias, *, normalized_ndim, eps):
        if not x.dtype.is_floating_point:
            raise RuntimeError(
                f"layer_norm: \"LayerNormKernelImpl\" not implemented for '{x.dtype.name}'; "
                "pass a floating point input (e.g. input.float())"
            )
        shape = tuple(x.shape[x.ndim - normalized_ndim :])
        for name, t in (("weight", weight), ("bias", bias)):
            if t is not None and tuple(t.shape) != shape:
                raise RuntimeError(
                    f"layer_norm: expected {name} of shape {list(shape)} (normalized_shape), "
                    f"got {list(t.shape)}"
                )
        return Meta(tuple(x.shape), x.dtype)

    def forward(self, meta, x, weight, bias, *, normalized_ndim, eps, out=None):
        rows = _rows(x, normalized_ndim)
        n, dt = rows.shape[1], rows.dtype
        w, b = _affine(weight, n, dt, 1.0), _affine(bias, n, dt, 0.0)
        dest = None if out is None else out.reshape(rows.shape)
        return K.layer_norm_forward(rows, w, b, float(eps), dest).reshape(meta.shape)

    def backward(self, ctx, grad):
        x, weight, bias = ctx.inputs
        if state.enabled:  # create_graph: the same formula in differentiable Tensor ops
            return _backward_composite(x, weight, bias, grad, **ctx.params)
        affine = weight is not None or bias is not None
        gx, gw, gb = apply(layer_norm_backward, x, weight, grad, affine=affine, **ctx.params)
        return gx, (gw if weight is not None else None), (gb if bias is not None else None)


layer_norm = register(LayerNorm())


class LayerNormBackward(Op):
    """(grad_x, grad_weight, grad_bias) of layer_norm, one kernel pass per row."""

    name = "layer_norm_backward"
    differentiable = False  # double backward goes through _backward_composite instead
    n_outputs = 3
    writes_out = True

    def infer(self, x, weight, grad, *, affine, normalized_ndim, eps):
        shape = tuple(x.shape[x.ndim - normalized_ndim :])
        return (Meta(tuple(x.shape), x.dtype), Meta(shape, x.dtype), Meta(shape, x.dtype))

    def forward(self, meta, x, weight, grad, *, affine, normalized_ndim, eps, out=None, work=None):
        """work: scratch arrays kept between calls (keeping_workspace)."""
        rows = _rows(x, normalized_ndim, work)
        g = _rows(np.asarray(grad, dtype=rows.dtype), normalized_ndim, work, "grad")
        w = _affine(weight, rows.shape[1], rows.dtype, 1.0)
        if out is not None:
            out = out[0].reshape(rows.shape), out[1].reshape(-1), out[2].reshape(-1)
        gx, gw, gb = K.layer_norm_backward(rows, w, g, float(eps), affine, out, work)
        if gw is None:  # no affine (group_norm's rows): zeros as placeholders, never used
            gw, gb = out[1:] if out is not None else np.empty((2, rows.shape[1]), rows.dtype)
            gw.fill(0)
            gb.fill(0)
        return gx.reshape(meta[0].shape), gw.reshape(meta[1].shape), gb.reshape(meta[2].shape)

    plan = keeping_workspace  # the replay keeps forward's scratch arrays between calls


layer_norm_backward = register(LayerNormBackward())


def _backward_composite(x, weight, bias, grad, *, normalized_ndim, eps):
    dims = tuple(range(x.ndim - normalized_ndim, x.ndim))
    mean = x.mean(dims, keepdim=True)
    centered = x - mean
    rstd = ((centered * centered).mean(dims, keepdim=True) + eps).rsqrt()
    x_hat = centered * rstd
    gy = grad * weight if weight is not None else grad
    gx = rstd * (gy - gy.mean(dims, keepdim=True) - x_hat * (gy * x_hat).mean(dims, keepdim=True))
    # weight/bias gradients in the output shape: the engine sums them to (normalized_shape)
    return gx, (grad * x_hat if weight is not None else None), (grad if bias is not None else None)


def _channels(x: np.ndarray) -> np.ndarray:
    """x (N, C, *spatial) as a C-contiguous (N, C, S) array."""
    return np.ascontiguousarray(x).reshape(x.shape[0], x.shape[1], -1)


class BatchNorm(Op):
    """Training-mode batch norm: out = (x - mean_c) / sqrt(var_c + eps) * weight + bias.

    Statistics are per channel (dim 1) over the batch and spatial dims. Outputs (out, mean,
    biased var); the last two feed the running statistics and are not differentiable.
    """

    name = "batch_norm"
    save = (0, 1)
    n_outputs = 3

    def infer(self, x, weight, bias, *, eps):
        if not x.dtype.is_floating_point:
            raise RuntimeError(
                f"batch_norm: \"batch_norm\" not implemented for '{x.dtype.name}'; pass a "
                "floating point input (e.g. input.float())"
            )
        c = x.shape[1]
        for name, t in (("weight", weight), ("bias", bias)):
            if t is not None and tuple(t.shape) != (c,):
                raise RuntimeError(
                    f"batch_norm: expected {name} of shape [{c}] (one per channel), got "
                    f"{list(t.shape)}"
                )
        stat = Meta((c,), x.dtype)
        return (Meta(tuple(x.shape), x.dtype), stat, stat)

    def forward(self, meta, x, weight, bias, *, eps):
        rows = _channels(x)
        c, dt = rows.shape[1], rows.dtype
        w, b = _affine(weight, c, dt, 1.0), _affine(bias, c, dt, 0.0)
        out, mean, var = K.batch_norm_forward(rows, w, b, float(eps))
        return out.reshape(meta[0].shape), mean.astype(dt), var.astype(dt)

    def backward(self, ctx, grad):
        x, weight, bias = ctx.inputs
        if state.enabled:  # create_graph: the same formula in differentiable Tensor ops
            return _batch_norm_backward_composite(x, weight, bias, grad, **ctx.params)
        gx, gw, gb = apply(batch_norm_backward, x, weight, grad, **ctx.params)
        return gx, (gw if weight is not None else None), (gb if bias is not None else None)


batch_norm = register(BatchNorm())


class BatchNormBackward(Op):
    """(grad_x, grad_weight, grad_bias) of training-mode batch_norm, one pass per channel."""

    name = "batch_norm_backward"
    differentiable = False  # double backward goes through the composite instead
    n_outputs = 3

    def infer(self, x, weight, grad, *, eps):
        stat = Meta((x.shape[1],), x.dtype)
        return (Meta(tuple(x.shape), x.dtype), stat, stat)

    def forward(self, meta, x, weight, grad, *, eps):
        rows = _channels(x)
        g = _channels(np.asarray(grad, dtype=rows.dtype))
        w = _affine(weight, rows.shape[1], rows.dtype, 1.0)
        gx, gw, gb = K.batch_norm_backward(rows, w, g, float(eps))
        return gx.reshape(meta[0].shape), gw, gb


batch_norm_backward = register(BatchNormBackward())


def _batch_norm_backward_composite(x, weight, bias, grad, *, eps):
    dims = (0,) + tuple(range(2, x.ndim))
    shape = (1, x.shape[1]) + (1,) * (x.ndim - 2)
    mean = x.mean(dims, keepdim=True)
    centered = x - mean
    rstd = ((centered * centered).mean(dims, keepdim=True) + eps).rsqrt()
    x_hat = centered * rstd
    gy = grad * weight.reshape(shape) if weight is not None else grad
    gx = rstd * (gy - gy.mean(dims, keepdim=True) - x_hat * (gy * x_hat).mean(dims, keepdim=True))
    gw = (grad * x_hat).sum(dims) if weight is not None else None
    return gx, gw, (grad.sum(dims) if bias is not None else None)
