"""Counting and searching: bincount, unique, histc, searchsorted, bucketize.

bincount, unique and histc read the values on the host (the size of bincount's and unique's
results depends on them), so a traced step refuses them with the tracer's host-sync error
rather than replaying a frozen result. searchsorted and bucketize are a registry op and
trace like any other.
"""

from __future__ import annotations

import numpy as np

from . import dtypes
from .jit_guard import check_host_sync
from .ops import reduce as R
from .ops.registry import apply

_INTEGRAL = (dtypes.uint8, dtypes.int8, dtypes.int16, dtypes.int32, dtypes.int64)


def bincount(input, weights=None, minlength: int = 0):
    """How often each value 0..max(input) occurs in the 1-D integer tensor input (or the sum of
    `weights` at its positions), at least `minlength` bins."""
    from .functional import zeros  # noqa: PLC0415

    check_host_sync("bincount")
    if input.dtype not in _INTEGRAL:
        raise NotImplementedError(
            f'"bincount" not implemented for {input.dtype}; convert the input with .long()'
        )
    if minlength < 0:
        raise RuntimeError(f"bincount: minlength should be >= 0, got {minlength}")
    values = np.asarray(input.cpu()._data)
    if input.ndim != 1 or (values.size and values.min() < 0):
        raise RuntimeError(
            "bincount only supports 1-d non-negative integral inputs; got shape "
            f"{tuple(input.shape)}" + (f" with minimum {values.min()}" if values.size else "")
        )
    if weights is not None and tuple(weights.shape) != tuple(input.shape):
        raise RuntimeError(
            "bincount: weights should be 1-d and have the same length as input; got weights "
            f"{tuple(weights.shape)} for input {tuple(input.shape)}"
        )
    size = max(int(values.max()) + 1 if values.size else 0, minlength)
    if weights is None:
        return zeros(size, dtype=dtypes.int64, device=input.device).index_add(
            0, input.long(), input.new_ones(input.shape, dtype=dtypes.int64)
        )
    # PyTorch sums float32 weights in float32, any other weights in float64
    dt = dtypes.float32 if weights.dtype is dtypes.float32 else dtypes.float64
    return zeros(size, dtype=dt, device=input.device).index_add(0, input.long(), weights.to(dt))


def unique(
    input, sorted: bool = True, return_inverse: bool = False, return_counts: bool = False, dim=None
):
    """The distinct values of input, sorted (each NaN counts as distinct, as in PyTorch); with
    return_inverse, where each element of input is among them; with return_counts, how often
    each occurs."""
    from .tensor import wrap  # noqa: PLC0415

    check_host_sync("unique")
    if dim is not None:
        raise NotImplementedError(
            f"unique: dim={dim} is not supported by minitorch; flatten the dims you compare into "
            "one value (or call unique with dim=None)"
        )
    found = np.unique(
        np.asarray(input.cpu()._data).reshape(-1),
        return_inverse=True,
        return_counts=True,
        equal_nan=False,
    )
    values = wrap(found[0], input.dtype)
    extra = []
    if return_inverse:
        extra.append(wrap(found[1].reshape(tuple(input.shape)).astype(np.int64), dtypes.int64))
    if return_counts:
        extra.append(wrap(found[2].astype(np.int64), dtypes.int64))
    return (values, *extra) if extra else values


def histc(input, bins: int = 100, min=0, max=0):  # noqa: A002  (PyTorch's names)
    """Counts of input's values in `bins` equal-width bins over [min, max] (the data's range
    when min == max); values outside are not counted."""
    from .tensor import wrap  # noqa: PLC0415

    check_host_sync("histc")
    if not input.dtype.is_floating_point:
        raise NotImplementedError(f'"histc" not implemented for {input.dtype}; use .float()')
    if bins <= 0:
        raise RuntimeError(f"torch.histc(): bins must be > 0, but got {bins}")
    if min > max:
        raise RuntimeError(f"torch.histc: max must be larger than min (min={min}, max={max})")
    values = np.asarray(input.cpu()._data).reshape(-1)
    low, high = _histc_range(values, min, max)
    counts, _ = np.histogram(values[~np.isnan(values)], bins, range=(low, high))
    return wrap(counts.astype(input.dtype.np), input.dtype)


def _histc_range(values, low, high) -> tuple[float, float]:
    if low == high and values.size:
        low, high = float(values.min()), float(values.max())
    if not (np.isfinite(low) and np.isfinite(high)):
        raise RuntimeError(
            f"torch.histc: range of [{low}, {high}] is not finite; pass min and max, or drop "
            "the nan and inf values"
        )
    return (low - 1, high + 1) if low == high else (low, high)


def searchsorted(
    sorted_sequence, input, *, out_int32: bool = False, right: bool = False, side=None, sorter=None
):
    """Indices where input's values would be inserted into sorted_sequence (along its last
    dim) to keep it sorted: before equal values, or after them with right=True/side="right"."""
    from .tensor import Tensor, _scalar_tensor  # noqa: PLC0415

    if side is not None:
        if side not in ("left", "right"):
            raise RuntimeError(
                f"torch.searchsorted(): side can only be 'left' or 'right' but got {side}"
            )
        if right and side == "left":
            raise RuntimeError(
                "torch.searchsorted(): side and right can't be set to opposites, got side of "
                "left while right was True"
            )
        right = side == "right"
    if sorter is not None:
        sorted_sequence = sorted_sequence.gather(-1, sorter)
    if not isinstance(input, Tensor):
        input = _scalar_tensor(input, dtypes.scalar_dtype(input))
    return apply(R.searchsorted, sorted_sequence, input, right=right, out_int32=out_int32)


def bucketize(input, boundaries, *, out_int32: bool = False, right: bool = False):
    """The bucket of each value of input among the 1-D sorted boundaries (searchsorted with
    the arguments swapped; right=True puts a value equal to a boundary after it)."""
    if boundaries.ndim != 1:
        raise RuntimeError(
            f"bucketize: boundaries tensor must be 1 dimension, but got dim({boundaries.ndim})"
            f" (shape {tuple(boundaries.shape)}); use searchsorted for rows of boundaries"
        )
    return searchsorted(boundaries, input, out_int32=out_int32, right=right)
