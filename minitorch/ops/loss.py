"""Fused cross entropy with class-index targets: log_softmax + NLL in one kernel pass.

`cross_entropy` takes logits (C,), (N, C) or (N, C, d1, ...), int64 targets of shape (),
(N,) or (N, d1, ...), and an optional per-class weight (C,). The backward is a second
kernel, (softmax - onehot) * weight * grad / normaliser; under create_graph (double
backward) it is the same formula in differentiable Tensor ops instead.
"""

from __future__ import annotations

import numpy as np

from .. import dtypes
from ..autograd.grad_mode import state
from ..kernels.cpu import loss as K
from .registry import Meta, Op, apply, register

REDUCTIONS = ("none", "mean", "sum")


def check_reduction(reduction: str) -> None:
    if reduction not in REDUCTIONS:
        raise ValueError(f"{reduction} is not a valid value for reduction")


def _check(x, target, weight, label_smoothing, reduction, op: str) -> None:
    """PyTorch's checks and messages for class-index cross entropy / nll_loss."""
    check_reduction(reduction)
    if not x.dtype.is_floating_point:
        raise NotImplementedError(
            f"{op}: \"log_softmax_lastdim_kernel_impl\" not implemented for '{x.dtype.name}'; "
            "pass float logits (e.g. input.float())"
        )
    if target.dtype is not dtypes.int64 and target.dtype is not dtypes.uint8:
        raise RuntimeError(
            f"expected target dtype to be Long or Byte, but got {target.dtype.name}; class-index "
            "targets must be integers (use target.long())"
        )
    if not 0.0 <= label_smoothing <= 1.0:
        raise RuntimeError(f"label_smoothing must be between 0.0 and 1.0. Got: {label_smoothing}")
    if x.ndim == 0:
        raise RuntimeError(f"{op}: input must have at least 1 dimension, got a 0-d tensor")
    if x.ndim == 1:
        if target.ndim != 0:
            raise RuntimeError("0D or 1D target tensor expected, multi-target not supported")
    elif x.ndim == 2:
        if target.ndim != 1:
            raise RuntimeError("0D or 1D target tensor expected, multi-target not supported")
        if target.shape[0] != x.shape[0]:
            raise ValueError(
                f"Expected input batch_size ({x.shape[0]}) to match target "
                f"batch_size ({target.shape[0]})."
            )
    else:
        want = (x.shape[0],) + tuple(x.shape[2:])
        if tuple(target.shape) != want:
            raise RuntimeError(f"Expected target size {list(want)}, got {list(target.shape)}")
    classes = x.shape[0] if x.ndim == 1 else x.shape[1]
    if weight is not None and tuple(weight.shape) != (classes,):
        raise RuntimeError(
            f"weight tensor should be defined either for all {classes} classes or no classes "
            f"but got weight tensor of shape: {list(weight.shape)}"
        )


def _rows(x: np.ndarray) -> np.ndarray:
    """Logits as C-contiguous (rows, C): (C,) -> (1, C); (N, C, d...) -> (N*d..., C)."""
    if x.ndim == 1:
        return np.ascontiguousarray(x).reshape(1, -1)
    if x.ndim > 2:
        x = np.moveaxis(x, 1, -1).reshape(-1, x.shape[1])
    return np.ascontiguousarray(x)


def _unrows(g: np.ndarray, shape: tuple) -> np.ndarray:
    """Inverse of _rows for a gradient array."""
    if len(shape) == 1:
        return g.reshape(shape)
    if len(shape) > 2:
        moved = (shape[0],) + tuple(shape[2:]) + (shape[1],)
        return np.ascontiguousarray(np.moveaxis(g.reshape(moved), -1, 1))
    return g


def _targets(target: np.ndarray, classes: int, ignore_index: int) -> np.ndarray:
    t = _int64_targets(target)
    bad = (t != ignore_index) & ((t < 0) | (t >= classes))
    _raise_if_bad(t, int(np.argmax(bad)) if bad.any() else -1)
    return t


def _int64_targets(target: np.ndarray) -> np.ndarray:
    return np.ascontiguousarray(target, dtype=np.int64).reshape(-1)


def _raise_if_bad(t: np.ndarray, bad: int) -> None:
    """PyTorch's error for the target at row `bad` (-1: none is out of range)."""
    if bad >= 0:
        raise IndexError(f"Target {int(t[bad])} is out of bounds.")


class CheckClasses(Op):
    """Its input unchanged (a view), after a check that its values are class indices in
    [0, classes) (ignore_index let through), raising PyTorch's error of the op `of` that
    reads them: nll_loss's targets, one_hot's class values. An op, so that a traced step's
    replay checks each call's values as eager does; the ops reading them would not raise,
    or raise another error."""

    name = "check_classes"
    differentiable = False

    def infer(self, x, *, of, classes, ignore_index=None):
        return Meta(tuple(x.shape), x.dtype)

    def forward(self, meta, a, *, of, classes, ignore_index=None):
        if a.size and (a.min() < 0 or a.max() >= classes):
            _raise_bad_classes(a, of, classes, ignore_index)
        return a.view()


def _raise_bad_classes(a: np.ndarray, of: str, classes: int, ignore_index) -> None:
    if of == "one_hot":
        if a.min() < 0:
            raise RuntimeError("Class values must be non-negative.")
        raise RuntimeError("Class values must be smaller than num_classes.")
    t = a.reshape(-1)
    bad = ((t < 0) | (t >= classes)) & (t != ignore_index)
    _raise_if_bad(t, int(np.argmax(bad)) if bad.any() else -1)


check_classes = register(CheckClasses())


def _weights(weight) -> np.ndarray:
    if weight is None:
        return np.empty(0, np.float64)
    return np.ascontiguousarray(weight, dtype=np.float64)


class CrossEntropy(Op):
    """loss = reduce_i w[t_i] * (logsumexp(x_i) - x_i[t_i]), label smoothing optional.

    reduction 'mean' divides by the sum of the target weights of non-ignored rows (the
    row count without weights), as PyTorch does.
    """

    name = "cross_entropy"
    save = (0,)

    def infer(self, x, target, *weight, ignore_index=-100, reduction="mean", label_smoothing=0.0):
        _check(
            x, target, weight[0] if weight else None, label_smoothing, reduction, "cross_entropy"
        )
        shape = tuple(target.shape) if reduction == "none" else ()
        return Meta(shape, x.dtype)

    def forward(
        self, meta, x, target, *weight, ignore_index=-100, reduction="mean", label_smoothing=0.0
    ):
        rows, w = _rows(x), _weights(weight[0] if weight else None)
        mean, smoothing = reduction == "mean", float(label_smoothing)
        if reduction != "none" and rows.size < K.PARALLEL_MIN:
            t = _int64_targets(target)
            out, bad = K.reduced_forward(rows, t, w, ignore_index, smoothing, mean)
            _raise_if_bad(t, bad)
            return np.asarray(out, dtype=meta.dtype.np)
        t = _targets(target, rows.shape[1], ignore_index)
        loss, row_weight = K.cross_entropy_forward(rows, t, w, ignore_index, smoothing)
        if reduction == "none":
            return np.asarray(loss.reshape(meta.shape), dtype=meta.dtype.np)
        return np.asarray(K.reduce_rows(loss, row_weight, mean), dtype=meta.dtype.np)

    def backward(self, ctx, grad):
        x, target, *weight = ctx.inputs
        if state.enabled:  # create_graph: the same formula in differentiable Tensor ops
            return (
                _backward_composite(x, target, weight[0] if weight else None, grad, **ctx.params),
                None,
            ) + (None,) * len(weight)
        gx = apply(cross_entropy_backward, x, target, *weight, grad, **ctx.params)
        return (gx, None) + (None,) * len(weight)


cross_entropy = register(CrossEntropy())


class CrossEntropyBackward(Op):
    """Gradient of cross_entropy w.r.t. the logits, one kernel pass per row."""

    name = "cross_entropy_backward"
    differentiable = False  # double backward goes through _backward_composite instead

    def infer(self, x, target, *rest, ignore_index=-100, reduction="mean", label_smoothing=0.0):
        return Meta(tuple(x.shape), x.dtype)

    def forward(
        self, meta, x, target, *rest, ignore_index=-100, reduction="mean", label_smoothing=0.0
    ):
        *weight, grad = rest
        rows = _rows(x)
        w = _weights(weight[0] if weight else None)
        if reduction != "none" and rows.size < K.PARALLEL_MIN:
            t = _int64_targets(target)
            mean, smoothing = reduction == "mean", float(label_smoothing)
            out, bad = K.reduced_backward(rows, t, w, ignore_index, smoothing, float(grad), mean)
            _raise_if_bad(t, bad)
            return _unrows(out, tuple(x.shape))
        t = _targets(target, rows.shape[1], ignore_index)
        g = np.asarray(grad, dtype=np.float64)
        if reduction == "none":
            scale = np.ascontiguousarray(g.reshape(-1))
        else:
            if reduction == "mean":
                valid = t != ignore_index
                total = (w[np.where(valid, t, 0)] * valid).sum() if w.size else valid.sum()
                g = g / total
            scale = np.full(rows.shape[0], float(g))
        out = K.cross_entropy_backward(rows, t, w, ignore_index, float(label_smoothing), scale)
        return _unrows(out, tuple(x.shape))


cross_entropy_backward = register(CrossEntropyBackward())


def _backward_composite(x, target, weight, grad, *, ignore_index, reduction, label_smoothing):
    """(softmax - onehot) * w * grad / normaliser, with label smoothing, in Tensor ops."""
    cdim = 0 if x.ndim == 1 else 1
    classes = x.shape[cdim]
    shape = [1] * x.ndim
    shape[cdim] = classes
    p = x.softmax(cdim)
    valid = target != ignore_index
    safe = target.masked_fill(~valid, 0)
    onehot = (safe.unsqueeze(cdim) == _arange(classes, x.dtype).reshape(shape)).to(x.dtype)
    w = weight.to(x.dtype).reshape(shape) if weight is not None else None
    wt = (weight.to(x.dtype)[safe] if weight is not None else valid.to(x.dtype)) * valid
    g = wt.unsqueeze(cdim) * (p - onehot) * (1 - label_smoothing)
    if label_smoothing:
        wsum = w.sum() if w is not None else classes
        wc = w if w is not None else 1.0
        g = g + (p * wsum - wc) * valid.unsqueeze(cdim).to(x.dtype) * (label_smoothing / classes)
    if reduction == "mean":
        grad = grad / wt.sum()
    elif reduction == "none":
        grad = grad.unsqueeze(cdim)
    return g * grad


def _arange(n: int, dtype):
    from ..tensor import wrap  # noqa: PLC0415

    return wrap(np.arange(n, dtype=dtype.np), dtype)
