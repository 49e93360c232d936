"""index_add / index_copy / index_fill: writes into slices chosen along one dim.

Each is `index_put` with the index `(:, ..., :, index)` (the index array in `dim`), so
autograd, tracing and CUDA come from that op. The checks here follow PyTorch's, including
its exception class, which differs between the three ops for the same mistake.
"""

from __future__ import annotations

from typing import NamedTuple

from . import dtypes
from .ops.movement import index_put
from .ops.reduce import normalize_dim
from .ops.registry import apply


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
    from .tensor import Tensor, _scalar_tensor  # noqa: PLC0415

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
