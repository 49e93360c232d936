"""Reductions over dims: sum, amax, amin, prod (generated kernels), argmax/argmin, cumsum,
cumprod, sort, and the fused softmax / log_softmax kernels."""

from __future__ import annotations

import math

import numpy as np

from .. import dtypes
from ..kernels import cpu
from ..kernels.cpu import nn as nn_kernels
from .registry import Meta, Op, into, register


def normalize_dim(dim: int, ndim: int, op: str = "") -> int:
    """Map a possibly negative dim into range, with PyTorch's IndexError otherwise."""
    lo, hi = (-ndim, ndim - 1) if ndim else (-1, 0)
    if not lo <= dim <= hi:
        raise IndexError(
            f"{op + ': ' if op else ''}Dimension out of range (expected to be in range of "
            f"[{lo}, {hi}], but got {dim})"
        )
    return dim % ndim if ndim else 0


def normalize_dims(dim, ndim: int, op: str = "") -> tuple[int, ...]:
    """None -> all dims; int or sequence -> sorted unique non-negative dims."""
    if dim is None or (isinstance(dim, (tuple, list)) and len(dim) == 0):
        return tuple(range(ndim))
    if isinstance(dim, int):
        dim = (dim,)
    dims = sorted({normalize_dim(d, ndim, op) for d in dim})
    return tuple(dims)


def reduced_shape(shape: tuple, dims: tuple, keepdim: bool) -> tuple:
    if keepdim:
        return tuple(1 if i in dims else n for i, n in enumerate(shape))
    return tuple(n for i, n in enumerate(shape) if i not in dims)


def fold(a: np.ndarray, dims: tuple, combine: str, init: str, reassociate: bool, out_dtype):
    """Fold `dims` of `a` with the generated reduction kernel; returns keepdim=False shape."""
    if a.ndim == 0:
        return a.astype(out_dtype, copy=True)
    if a.dtype != out_dtype:
        a = a.astype(out_dtype)
    # NOTE: dims that are not one run (a conv bias gradient sums (N, C, H, W) over (0, 2, 3))
    # fold one run at a time, the last first, so the dims left keep their places: moving them
    # together instead made a transposing copy (5x slower on a (100, 6, 28, 28) gradient).
    for start, stop in reversed(runs_of(dims)):
        a = cpu.reduce(a, start, stop, combine, init, reassociate, out_dtype)
    return a


def runs_of(dims: tuple) -> list[tuple[int, int]]:
    """[start, stop) of each run of consecutive dims: (0, 2, 3) -> [(0, 1), (2, 4)]."""
    runs = []
    for d in dims:
        if runs and runs[-1][1] == d:
            runs[-1] = (runs[-1][0], d + 1)
        else:
            runs.append((d, d + 1))
    return runs


class Reduce(Op):
    """out = fold of `combine` over `dim` (None = all), keepdim like PyTorch.

    identity(np_dtype) gives the value the fold starts from (0 for sum, -inf for amax, ...).
    """

    def __init__(self, name, combine, identity, reassociate, backward, promote_ints=False):
        self.name = name
        self.combine = combine
        self.identity = identity
        self.reassociate = reassociate
        self._backward = backward
        self.promote_ints = promote_ints
        self.save = (0,) if name != "sum" else ()
        self.save_out = name != "sum"

    def infer(self, x, *, dim=None, keepdim=False):
        dims = normalize_dims(dim, x.ndim, self.name)
        dt = x.dtype
        if self.promote_ints and not dt.is_floating_point:
            dt = dtypes.int64
        if self.name in ("amax", "amin") and x.ndim and any(x.shape[d] == 0 for d in dims):
            raise IndexError(
                f"{self.name}: expected reduction dim {dims} to have non-zero size; got "
                f"input shape {tuple(x.shape)}. Specify a dim that is not empty."
            )
        return Meta(reduced_shape(x.shape, dims, keepdim), dt)

    def forward(self, meta, a, *, dim=None, keepdim=False):
        dims = normalize_dims(dim, a.ndim)
        init = self.identity(meta.dtype.np)
        out = fold(a, dims, self.combine, init, self.reassociate, meta.dtype.np)
        return out.reshape(meta.shape)

    def plan(self, meta, arrays, params, out):
        """forward as a function of an array of this one's shape and dtype (one fold of one
        run of dims), for a traced step's replay; None where forward does more."""
        (a,) = arrays
        return self.fold_plan(meta, a.shape, params) if a.dtype == meta.dtype.np else None

    def fold_plan(self, meta, shape: tuple, params: dict, expr: str = "{0}"):
        """The fold of expr(arrays of `shape`, of meta's dtype) as a function of those arrays
        (kernels/cpu reduce_plan), or None where forward does more than one fold."""
        runs = runs_of(normalize_dims(params.get("dim"), len(shape)))
        if not shape or len(runs) != 1:
            return None
        dt = meta.dtype.np
        init = self.identity(dt)
        fold = cpu.reduce_plan(shape, *runs[0], self.combine, init, self.reassociate, dt, expr)
        out_shape = meta.shape

        def folded(*xs, out=None):
            return fold(*xs, out=out).reshape(out_shape)

        folded.takes_out = True  # the replay's memory plan may hand it an array to fill
        return folded

    def backward(self, ctx, grad):
        x = ctx.inputs[0]
        dims = normalize_dims(ctx.params.get("dim"), x.ndim)
        keep = reduced_shape(x.shape, dims, True)
        return self._backward(ctx, grad.reshape(keep), keep)


def _expand_back(ctx, g, keep):
    return g.expand(ctx.inputs[0].shape)


def _extreme_back(ctx, g, keep):
    # NOTE: ties share the gradient evenly, as PyTorch's amax/amin do.
    x = ctx.inputs[0]
    mask = (x == ctx.out.reshape(keep)).to(g.dtype)
    return g * mask / mask.sum(dim=ctx.params.get("dim"), keepdim=True)


def _prod_back(ctx, g, keep):
    # NOTE: out / x is undefined where x == 0. There the gradient is the product of the other
    # elements: nonzero only when x holds the single zero of its slice (as in PyTorch).
    x = ctx.inputs[0]
    dims = normalize_dims(ctx.params.get("dim"), x.ndim)
    zero = x == 0
    safe = x.masked_fill(zero, 1)
    others = safe.prod(dim=dims, keepdim=True) * (zero.sum(dim=dims, keepdim=True) == 1)
    return g * others.where(zero, ctx.out.reshape(keep) / safe)


def _lowest(dt: np.dtype):
    return -np.inf if dt.kind == "f" else (False if dt.kind == "b" else np.iinfo(dt).min)


def _highest(dt: np.dtype):
    return np.inf if dt.kind == "f" else (True if dt.kind == "b" else np.iinfo(dt).max)


sum = register(Reduce("sum", "({0} + {1})", lambda dt: 0, True, _expand_back, promote_ints=True))
prod = register(Reduce("prod", "({0} * {1})", lambda dt: 1, True, _prod_back, promote_ints=True))
amax = register(Reduce("amax", "maximum({0}, {1})", _lowest, False, _extreme_back))
amin = register(Reduce("amin", "minimum({0}, {1})", _highest, False, _extreme_back))


class ArgReduce(Op):
    """Index of the max/min along dim (first on ties; NaN counts as the largest)."""

    differentiable = False

    def __init__(self, name, fn):
        self.name = name
        self.fn = fn

    def infer(self, x, *, dim=None, keepdim=False):
        if dim is None:
            if 0 in tuple(x.shape):
                raise IndexError(
                    f"{self.name}(): Expected reduction dim to be specified for "
                    f"input.numel() == 0 (shape {tuple(x.shape)}); pass dim=..."
                )
            return Meta((1,) * x.ndim if keepdim else (), dtypes.int64)
        d = normalize_dim(dim, x.ndim, self.name)
        if x.ndim and x.shape[d] == 0:
            raise IndexError(
                f"{self.name}(): Expected reduction dim {d} to have non-zero size "
                f"(shape {tuple(x.shape)}); reduce over a non-empty dim"
            )
        return Meta(reduced_shape(x.shape, (d,), keepdim), dtypes.int64)

    def forward(self, meta, a, *, dim=None, keepdim=False):
        if dim is None or a.ndim == 0:
            return np.asarray(self.fn(a.reshape(-1)), dtype=np.int64).reshape(meta.shape)
        # NOTE: np.asarray: over a 1-D array numpy returns a scalar, which is no array to index
        # with or to track
        return np.asarray(self.fn(a, axis=dim % a.ndim), dtype=np.int64).reshape(meta.shape)


argmax = register(ArgReduce("argmax", np.argmax))
argmin = register(ArgReduce("argmin", np.argmin))


class Scan(Op):
    """Running sums (cumsum) or products (cumprod) along dim; integers and bools give int64."""

    def __init__(self, name, fn, backward, uses_values=False):
        self.name = name
        self.fn = fn  # np.cumsum / np.cumprod
        self._backward = backward
        self.save = (0,) if uses_values else ()
        self.save_out = uses_values

    def infer(self, x, *, dim):
        normalize_dim(dim, x.ndim, self.name)
        dt = x.dtype if x.dtype.is_floating_point else dtypes.int64
        return Meta(x.shape, dt)

    def forward(self, meta, a, *, dim):
        if a.ndim == 0:
            return a.astype(meta.dtype.np)
        if meta.dtype.is_floating_point and meta.dtype.itemsize < 8:
            # accumulate in float64 as PyTorch's CPU scans do: a float32 running sum drifts
            # (0.1 summed 10**6 times read 100958)
            wide = self.fn(a, axis=dim % a.ndim, dtype=np.float64)
            return wide.astype(meta.dtype.np)
        return self.fn(a, axis=dim % a.ndim, dtype=meta.dtype.np)

    def backward(self, ctx, grad):
        return grad if ctx.inputs[0].ndim == 0 else self._backward(ctx, grad, ctx.params["dim"])


def _reversed_cumsum(t, dim: int):
    """out[k] = t[k] + t[k+1] + ... along dim."""
    return t.flip(dim).cumsum(dim).flip(dim)


def _cumsum_back(ctx, grad, dim):
    return _reversed_cumsum(grad, dim)


def _cumprod_back(ctx, grad, dim):
    # NOTE: d out[j] / d x[k] = out[j] / x[k] (j >= k) divides by zero where x has zeros. With
    # z the first zero along dim (as PyTorch's cumprod_backward): positions before z use that
    # quotient, z itself gets sum_{j>=z} grad[j] * prod(x[:j+1] without x[z]), and positions
    # after z get 0 (each of their products holds x[z]). No branch on the data: it traces.
    x = ctx.inputs[0]
    zero = x == 0
    zeros_so_far = zero.cumsum(dim)
    before = zeros_so_far == 0
    first_zero = zero & (zeros_so_far == 1)
    quotient = _reversed_cumsum(ctx.out * grad, dim) / x.masked_fill(~before, 1)
    without_zero = x.masked_fill(first_zero, 1).cumprod(dim)  # (later zeros stay)
    at_zero = _reversed_cumsum(grad * without_zero, dim).masked_fill(~first_zero, 0)
    return quotient.where(before, at_zero)


cumsum = register(Scan("cumsum", np.cumsum, _cumsum_back))
cumprod = register(Scan("cumprod", np.cumprod, _cumprod_back, uses_values=True))


class CumExtremeIndices(Op):
    """Where the running max (min) along dim was last reached: cummax/cummin's indices (their
    values gather x there, so the gradient flows through gather)."""

    differentiable = False

    def __init__(self, name, accumulate, reached):
        self.name = name
        self.accumulate = accumulate  # np.maximum.accumulate: NaN, once seen, stays
        self.reached = reached  # x reaches the running extreme (ties: the later index wins)

    def infer(self, x, *, dim):
        normalize_dim(dim, x.ndim, self.name.removesuffix("_indices"))
        return Meta(x.shape, dtypes.int64)

    def forward(self, meta, a, *, dim):
        if a.ndim == 0:
            return np.zeros((), np.int64)
        axis = dim % a.ndim
        reached = self.reached(a, self.accumulate(a, axis=axis))
        if a.dtype.kind == "f":  # a NaN is the new extreme, as in PyTorch
            reached |= np.isnan(a)
        place = [1] * a.ndim
        place[axis] = a.shape[axis]
        positions = np.arange(a.shape[axis]).reshape(place)
        return np.maximum.accumulate(np.where(reached, positions, 0), axis=axis)


cummax_indices = register(
    CumExtremeIndices("cummax_indices", np.maximum.accumulate, np.greater_equal)
)
cummin_indices = register(CumExtremeIndices("cummin_indices", np.minimum.accumulate, np.less_equal))


class LogCumSumExp(Op):
    """out[i] = log(sum over j <= i of exp(x[j])) along dim, without overflow or underflow."""

    name = "logcumsumexp"
    save = (0,)
    save_out = True

    def infer(self, x, *, dim):
        normalize_dim(dim, x.ndim, self.name)
        if not x.dtype.is_floating_point:
            raise NotImplementedError(
                f'"logcumsumexp" not implemented for {x.dtype}; convert the input with .float()'
            )
        return Meta(x.shape, x.dtype)

    def forward(self, meta, a, *, dim):
        if a.ndim == 0:
            return a.copy()
        return np.logaddexp.accumulate(a, axis=dim % a.ndim)

    def backward(self, ctx, grad):
        # d out[j] / d x[i] = exp(x[i] - out[j]) for j >= i: a reversed cumulative sum, done
        # in log space (positive and negative parts of grad apart) so that it cannot overflow.
        # NOTE: each part is clamped to the smallest normal number, not to 0: log(0) would
        # make the second derivative 0 * inf = nan; the terms this adds are below n * tiny.
        x, out, d = ctx.inputs[0], ctx.out, ctx.params["dim"]
        tiny = float(np.finfo(x.dtype.np).tiny)

        def part(g):
            log_g = g.clamp(min=tiny).log() - out
            return (x + log_g.flip(d).logcumsumexp(d).flip(d)).exp()

        return part(grad) - part(-grad)


logcumsumexp = register(LogCumSumExp())


class Argsort(Op):
    """Stable argsort along dim (sort and topk gather values with these indices)."""

    name = "argsort"
    differentiable = False

    def infer(self, x, *, dim=-1, descending=False):
        normalize_dim(dim, x.ndim, self.name)
        return Meta(x.shape, dtypes.int64)

    def forward(self, meta, a, *, dim=-1, descending=False):
        if a.ndim == 0:
            return np.zeros((), np.int64)
        axis = dim % a.ndim
        if descending:
            # stable descending: sort the reversed array ascending, map indices back
            n = a.shape[axis]
            rev = np.flip(a, axis)
            idx = np.argsort(rev, axis=axis, kind="stable")
            idx = np.flip(n - 1 - idx, axis)
            # NOTE: flipping a stable ascending order gives a descending order whose ties
            # are in original order, like torch.sort(stable=True, descending=True).
            return np.ascontiguousarray(idx)
        return np.argsort(a, axis=axis, kind="stable")


argsort = register(Argsort())


class SearchSorted(Op):
    """Insertion points of `values` in `sorted_sequence` along its last dim: 1-D boundaries for
    every value, or one row of boundaries per row of values (their leading dims match)."""

    name = "searchsorted"
    differentiable = False

    def infer(self, sorted_sequence, values, *, right=False, out_int32=False):
        s, v = tuple(sorted_sequence.shape), tuple(values.shape)
        if len(s) != 1 and s[:-1] != v[:-1]:
            raise RuntimeError(
                "torch.searchsorted(): boundaries tensor should be 1 dimension or the first N-1 "
                "dimensions of boundaries tensor and input value tensor must match, but we got "
                f"boundaries tensor {list(s)} and input value tensor {list(v)}"
            )
        return Meta(v, dtypes.int32 if out_int32 else dtypes.int64)

    def forward(self, meta, sorted_sequence, values, *, right=False, out_int32=False):
        side = "right" if right else "left"
        common = np.result_type(sorted_sequence, values)
        rows, vals = sorted_sequence.astype(common), np.asarray(values, common)
        if rows.ndim == 1:
            out = np.searchsorted(rows, vals, side=side)
        else:  # one search per row (numpy's searchsorted takes 1-D boundaries only)
            lines = math.prod(rows.shape[:-1])  # (not -1: a dim may be 0)
            pairs = zip(rows.reshape(lines, rows.shape[-1]), vals.reshape(lines, vals.shape[-1]))
            out = np.array([np.searchsorted(r, w, side=side) for r, w in pairs], np.int64)
        return np.asarray(out, meta.dtype.np).reshape(meta.shape)


searchsorted = register(SearchSorted())


class Softmax(Op):
    """softmax / log_softmax over one dim, fused: one pass per row for max, sum and output."""

    save_out = True
    writes_out = True

    def __init__(self, name, log):
        self.name = name
        self.log = log

    def infer(self, x, *, dim):
        normalize_dim(dim, x.ndim, self.name)
        dt = x.dtype if x.dtype.is_floating_point else dtypes.get_default_dtype()
        return Meta(x.shape, dt)

    def forward(self, meta, a, *, dim, out=None):
        if a.ndim == 0:
            value = np.zeros((), meta.dtype.np) if self.log else np.ones((), meta.dtype.np)
            return into(out, value)
        if a.size == 0:  # no rows (or empty rows): nothing to compute, nothing to reshape
            return np.empty(a.shape, meta.dtype.np) if out is None else out
        a = a.astype(meta.dtype.np, copy=False)
        axis = dim % a.ndim
        moved = np.moveaxis(a, axis, -1)
        rows = np.ascontiguousarray(moved).reshape(-1, a.shape[axis])
        last = out is not None and axis == a.ndim - 1  # out's rows are the kernel's rows
        result = out.reshape(rows.shape) if last else np.empty_like(rows)
        nn_kernels.softmax_rows(result, rows, self.log)
        return into(out, np.moveaxis(result.reshape(moved.shape), -1, axis))

    def backward(self, ctx, grad):
        d = ctx.params["dim"]
        y = ctx.out
        if self.log:  # d log_softmax: g - softmax * sum(g)
            return grad - y.exp() * grad.sum(dim=d, keepdim=True)
        return y * (grad - (grad * y).sum(dim=d, keepdim=True))


softmax = register(Softmax("softmax", False))
log_softmax = register(Softmax("log_softmax", True))
