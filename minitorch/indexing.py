"""index_add / index_copy / index_fill: writes into slices chosen along one dim.

Each is `index_put` with the index `(:, ..., :, index)` (the index array in `dim`), so
autograd, tracing and CUDA come from that op. The checks here follow PyTorch's, including
its exception class, which differs between the three ops for the same mistake.
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np

from . import dtypes
from .autograd.function import Function
from .autograd.grad_mode import is_grad_enabled
from .jit_guard import check_host_sync
from .ops.movement import _check_bounds, _check_scatter_index, index_put
from .ops.reduce import normalize_dim
from .ops.registry import apply
from .tensor import Tensor, _scalar_tensor, wrap


class _Rules(NamedTuple):
    """What PyTorch accepts for one op, and which exception class each mistake raises."""

    index_dtypes: tuple
    bad_dtype: type
    bad_rank: type
    out_of_bounds: type
    negative_ok: bool


_INTS = (dtypes.int64, dtypes.int32)
_RULES = {
    "index_add": _Rules(_INTS, RuntimeError, IndexError, RuntimeError, False),
    "index_copy": _Rules((dtypes.int64,), RuntimeError, IndexError, IndexError, False),
    "index_fill": _Rules((dtypes.int64,), IndexError, RuntimeError, IndexError, True),
}


def index_add(x, dim: int, index, source, alpha=1):
    """x with alpha * source[..., i, ...] added at x[..., index[i], ...] (repeats add up)."""
    _check_source("index_add", x, dim, index, source)
    values = source if alpha == 1 else source * alpha
    return _put(x, dim, index, values, "index_add", accumulate=True)


def index_copy(x, dim: int, index, source):
    """x with x[..., index[i], ...] = source[..., i, ...]."""
    _check_source("index_copy", x, dim, index, source)
    return _put(x, dim, index, source, "index_copy")


def index_fill(x, dim: int, index, value):
    """x with every x[..., index[i], ...] set to value (a number or a 0-d tensor)."""
    if isinstance(value, Tensor):
        if value.ndim:
            raise RuntimeError(
                "index_fill_ only supports a 0-dimensional value tensor, but got tensor with "
                f"{value.ndim} dimension(s). Pass value.item() or a 0-d tensor."
            )
        value = value.to(x.dtype)
    else:
        value = _scalar_tensor(value, x.dtype)
    return _put(x, dim, index, value, "index_fill")


def _put(x, dim, index, values, op, accumulate=False):
    """x.index_put((:, ..., index), values): the one write all three ops make."""
    if x.ndim == 0:  # PyTorch treats a 0-d tensor as one element along dim 0
        out = _put(x.reshape(1), dim, index, values.reshape(-1), op, accumulate)
        return out.reshape(())
    d = _check_index(op, x, dim, index)
    rules = _RULES[op]
    # the index's values are checked in index_put's forward (`bounds`), so that a traced
    # step's replay checks them too
    return apply(
        index_put,
        x,
        values,
        index=(slice(None),) * d + (index.reshape(-1)._data,),
        accumulate=accumulate,
        bounds=(op, rules.negative_ok, rules.out_of_bounds),
    )


def _check_index(op: str, x, dim: int, index) -> int:
    """dim normalized, after PyTorch's checks of the index's dtype and rank (index_put's
    forward checks its values)."""
    rules = _RULES[op]
    d = normalize_dim(dim, x.ndim, op)
    if index.dtype not in rules.index_dtypes:
        wanted = "/".join(t.name for t in rules.index_dtypes)
        raise rules.bad_dtype(
            f"{op}(): Expected dtype {wanted} for index but got {index.dtype}; convert it "
            "with index.long()"
        )
    if index.ndim > 1:
        raise rules.bad_rank(
            f"{op}(): Index is supposed to be a vector (0-d or 1-d), but got shape "
            f"{tuple(index.shape)}; flatten it with index.reshape(-1)"
        )
    return d


def _check_source(op: str, x, dim: int, index, source) -> None:
    """source must have x's dtype and shape, except len(index) entries along dim."""
    if source.dtype is not x.dtype:
        raise RuntimeError(
            f"{op}(): self ({x.dtype}) and source ({source.dtype}) must have the same dtype; "
            f"convert with source.to({x.dtype})"
        )
    d = normalize_dim(dim, x.ndim, op)
    expected = list(x.shape)
    if x.ndim:
        expected[d] = index.numel()
    if tuple(source.shape) != tuple(expected):
        raise _source_error(op, x, index, source, d)


def _source_error(op, x, index, source, d):
    count = source.shape[d] if source.ndim > d else None
    if count is not None and count != index.numel() and source.ndim == x.ndim:
        # the same mistake is a RuntimeError in index_add, an IndexError in index_copy
        cls = IndexError if op == "index_copy" else RuntimeError
        return cls(
            f"{op}(): Number of indices ({index.numel()}) should be equal to source.size(dim) "
            f"({count}), for dim: {d}"
        )
    return RuntimeError(
        f"{op}(): source tensor shape must match self tensor shape, excluding the specified "
        f"dimension. Got self.shape = {list(x.shape)} source.shape = {list(source.shape)}"
    )


_SCATTER_REDUCES = ("sum", "prod", "mean", "amax", "amin")


def scatter_reduce(x, dim: int, index, src, reduce: str, include_self: bool = True):
    """x with src[i][j] reduced into x[i][index[i][j]] (dim 1 shown); include_self=False
    leaves x's own values out of the positions that index writes."""
    if reduce not in _SCATTER_REDUCES:
        raise RuntimeError(
            f"reduce argument must be either sum, prod, mean, amax or amin, got {reduce}"
        )
    d = normalize_dim(dim, x.ndim, "scatter_reduce")
    if reduce in ("sum", "mean"):  # compositions: they trace, and autograd comes with them
        base = x if include_self else x.scatter(d, index, 0)
        total = base.scatter_add(d, index, src)
        if reduce == "sum":
            return total
        count = x.new_ones(x.shape) if include_self else x.new_ones(x.shape).scatter(d, index, 0)
        count = count.scatter_add(d, index, src.new_ones(src.shape, dtype=x.dtype))
        return (
            total / count if x.dtype.is_floating_point else total.div(count, rounding_mode="floor")
        )
    return _scatter_extreme(x, d, index, src, reduce, include_self)


def _scatter_extreme(x, d: int, index, src, reduce: str, include_self: bool):
    """prod, amax, amin: reduced on the host (numpy's ufunc.at)."""
    check_host_sync("scatter_reduce")
    _check_scatter_reduce_index(x, d, index, src)
    needs_grad = is_grad_enabled() and (x.requires_grad or src.requires_grad)
    part = src[tuple(slice(0, n) for n in index.shape)]
    if needs_grad and reduce == "prod":
        return _ScatterProd.apply(x, part, d, index, include_self)
    value = wrap(_scatter_on_host(x, d, index, part, reduce, include_self), x.dtype)
    value = value.to(x.device)
    return _spread_ties(x, d, index, part, value, include_self) if needs_grad else value


class _ScatterProd(Function):
    """scatter_reduce(reduce="prod") with PyTorch's gradient (scatter_reduce_backward): the
    product of the other factors of an element's group, zeros included: a zero in self or a
    single zero in src gets the product of the rest, any other element of a group with a zero
    gets 0. Written with scatter_reduce itself, so it differentiates again."""

    @staticmethod
    def forward(ctx, x, part, d, index, include_self):
        ctx.save_for_backward(x, part, index)
        ctx.d, ctx.include_self = d, include_self
        value = _scatter_on_host(x, d, index, part, "prod", include_self)
        return wrap(value, x.dtype).to(x.device)

    @staticmethod
    def backward(ctx, grad):
        x, part, index = ctx.saved_tensors
        d, include_self = ctx.d, ctx.include_self

        def prod(base, factors):
            return scatter_reduce(base, d, index, factors, "prod", include_self)

        grad_x = grad_part = None
        if ctx.needs_input_grad[0]:
            ones_for_zeros = x.masked_fill(x == 0, 1)
            grad_x = grad * prod(ones_for_zeros, part) / ones_for_zeros
            if not include_self:
                grad_x = grad_x.scatter(d, index, 0)
        if ctx.needs_input_grad[1]:
            zero = part == 0
            zeros_in_group = x.new_zeros(x.shape).scatter_add(d, index, zero.to(x.dtype))
            single_zero = zero & (zeros_in_group.gather(d, index) == 1)
            without_it = prod(x, part.masked_fill(single_zero, 1))
            grad_part = (
                (grad * without_it)
                .gather(d, index)
                .where(
                    single_zero, (grad * prod(x, part)).gather(d, index) / part.masked_fill(zero, 1)
                )
            )
        return grad_x, grad_part, None, None, None


def _check_scatter_reduce_index(x, d: int, index, src) -> None:
    """The checks the scatter op makes on the sum/mean path (PyTorch's, the same for all)."""
    if index.dtype not in _INTS:
        raise RuntimeError(
            f"scatter_reduce(): Expected dtype int32/int64 for index, got {index.dtype}; convert "
            "it with index.long()"
        )
    _check_scatter_index("scatter_reduce", x, index, src, d)
    size = x.shape[d] if x.ndim else 1
    _check_bounds(np.asarray(index.cpu()._data), size, d, "scatter_reduce")


def _scatter_on_host(x, d: int, index, part, reduce: str, include_self: bool):
    out = np.array(x.cpu()._data)
    where = list(np.indices(tuple(index.shape)))
    where[d] = np.asarray(index.cpu()._data)
    where = tuple(where)
    if not include_self:  # the written positions start from the reduction's identity
        out[where] = _identity(out.dtype, reduce)
    ufunc = {"prod": np.multiply, "amax": np.maximum, "amin": np.minimum}[reduce]
    ufunc.at(out, where, np.asarray(part.detach().cpu()._data))
    return out


def _identity(dtype, reduce: str):
    if reduce == "prod":
        return 1
    if dtype.kind == "f":
        return -np.inf if reduce == "amax" else np.inf
    if dtype.kind == "b":
        return reduce == "amin"
    return np.iinfo(dtype).min if reduce == "amax" else np.iinfo(dtype).max


def _spread_ties(x, d: int, index, part, value, include_self: bool):
    """value, with gradient reaching the elements equal to it, split evenly among them."""
    # NOTE: t - t.detach() is 0 in value with gradient 1, so the sum below adds nothing to the
    # host-computed value; infinite ties are left out (inf - inf is nan) and get no gradient.
    tie_src = part == value.gather(d, index)
    tie_self = x == value
    # NOTE: as PyTorch's backward, x's ties count in the split even with include_self=False,
    # though they then get no share
    count = tie_self.to(x.dtype).scatter_add(d, index, tie_src.to(x.dtype)).clamp(min=1)
    if not include_self:
        tie_self = tie_self & (x.new_zeros(x.shape).scatter(d, index, 1) == 0)
    gain_self = (x - x.detach()).where(tie_self & x.isfinite(), 0)
    gain_src = (part - part.detach()).where(tie_src & part.isfinite(), 0)
    return value + gain_self.scatter_add(d, index, gain_src) / count.detach()
