"""Order statistics: median, nanmedian, kthvalue, quantile, nanquantile.

Each sorts (argsort, a registry op) and gathers the elements it picks, so gradients flow to
those elements through gather, as in PyTorch. NaN sorts last: median and quantile return NaN
for a slice holding one, the nan- variants skip them.
"""

from __future__ import annotations

import math

from . import dtypes
from .ops.reduce import normalize_dim

_INTERPOLATIONS = ("linear", "lower", "higher", "midpoint", "nearest")


def median(x, dim=None, keepdim=False, *, skip_nan=False):
    """The lower of the two middle values (no averaging): over all elements, or along dim as
    (values, indices)."""
    op = "nanmedian" if skip_nan else "median"
    if dim is None:
        flat = x.reshape(-1)
        if flat.shape[0] == 0:  # PyTorch: nan for an empty tensor (still in the graph)
            return flat.sum() + math.nan
        value = flat.gather(0, _middle_index(flat, 0, skip_nan)).reshape(())
        return _shared_by_ties(x, value)
    d = normalize_dim(dim, x.ndim, op)
    if x.ndim and x.shape[d] == 0:
        raise IndexError(
            f"{op}(): Expected reduction dim {d} to have non-zero size (shape {tuple(x.shape)})"
        )
    return _picked(op, x, d, _middle_index(x, d, skip_nan) if x.ndim else None, keepdim)


def kthvalue(x, k: int, dim: int = -1, keepdim: bool = False):
    """The k-th smallest element (k counts from 1) along dim, as (values, indices); NaN sorts
    last."""
    d = normalize_dim(dim, x.ndim, "kthvalue")
    if not 1 <= k <= (x.shape[d] if x.ndim else 1):
        raise RuntimeError(f"kthvalue(): selected number k out of range for dimension {d}")
    return _picked(
        "kthvalue", x, d, x.argsort(dim=d).narrow(d, k - 1, 1) if x.ndim else None, keepdim
    )


def _picked(op: str, x, d: int, idx, keepdim: bool):
    """(values, indices) named as op's result: the elements of x at idx (size 1 along d), or
    x itself when it is 0-d (idx None)."""
    from .tensor import _named  # noqa: PLC0415

    result = _named(op, ["values", "indices"])
    if idx is None:
        return result(x.clone(), x.new_zeros((), dtype=dtypes.int64))
    values = x.gather(d, idx)
    if not keepdim:
        values, idx = values.squeeze(d), idx.squeeze(d)
    return result(values, idx)


def _middle_index(x, d: int, skip_nan: bool):
    """Per slice along d (kept as size 1), the index in x of its median element: the middle of
    its non-NaN values when skip_nan, else the first NaN where there is one."""
    order = x.argsort(dim=d)  # stable, NaN last
    n = x.shape[d]
    nans = x.isnan().sum(dim=d, keepdim=True)
    if skip_nan:  # a slice of NaN only: the middle one, as PyTorch's k = (n - 1) // 2
        valid = n - nans
        rank = (valid.masked_fill(valid == 0, n) - 1) // 2
    else:  # the first NaN, where the slice has one
        rank = (nans * 0 + (n - 1) // 2).where(nans == 0, n - nans)
    return order.gather(d, rank)


def _shared_by_ties(x, value):
    """value (a 0-d element of x) whose gradient is shared evenly by the elements equal to it,
    as PyTorch's median() and max() do."""
    if not x.requires_grad:
        return value
    v = value.detach()
    same = (x == v) | (x.isnan() & v.isnan())
    # NOTE: (x - v) * same is exactly 0, so the value stays v bit for bit
    return v + ((x - v).masked_fill(~same, 0) / same.sum()).sum()


def quantile(x, q, dim=None, keepdim=False, *, interpolation="linear", skip_nan=False):
    """The q-th quantiles of x (over all elements, or along dim), interpolating between the
    two nearest sorted values as `interpolation` says; a 1-D q adds a leading dim."""
    from .tensor import Tensor  # noqa: PLC0415

    op = "nanquantile" if skip_nan else "quantile"
    qs = _check_quantile_args(op, x, q, interpolation)
    if dim is None:
        values, d = x.reshape(-1), 0
    else:
        d = normalize_dim(dim, x.ndim, op)
        values = x if x.ndim else x.reshape(1)
    rows = values.movedim(d, -1).sort(dim=-1).values  # (..., n), NaN last
    ranks = _ranks(rows, qs, skip_nan)  # (..., Q)
    out = _interpolate(rows, ranks, interpolation).movedim(-1, 0)  # (Q, ...)
    if keepdim:
        kept = (1,) * x.ndim if dim is None else _with_one_at(out.shape[1:], d, x.ndim)
        out = out.reshape((out.shape[0],) + kept)
    return out if isinstance(q, Tensor) and q.ndim == 1 else out.squeeze(0)


def _check_quantile_args(op: str, x, q, interpolation: str):
    """q as a 1-D tensor of x's dtype and device, after PyTorch's checks."""
    from .tensor import Tensor  # noqa: PLC0415

    if not x.dtype.is_floating_point:
        raise RuntimeError(
            f"{op}() input tensor must be either float or double dtype, got {x.dtype}"
        )
    if x.numel() == 0:
        raise RuntimeError(f"{op}() input tensor must be non-empty (shape {tuple(x.shape)})")
    if interpolation not in _INTERPOLATIONS:
        raise RuntimeError(
            f"{op}() interpolation must be one of linear, lower, higher, midpoint or nearest, "
            f"but got {interpolation}"
        )
    if isinstance(q, Tensor):
        if q.ndim > 1:
            raise RuntimeError(f"{op}() q must be a scalar or 1D tensor, got shape {q.shape}")
        if q.dtype is not x.dtype:
            raise RuntimeError(
                f"{op}() q tensor must be same dtype as the input tensor ({q.dtype} vs "
                f"{x.dtype}); convert it with q.to({x.dtype})"
            )
        qs = q.reshape(-1)  # (PyTorch differentiates the interpolation weight by q too)
    else:
        qs = x.new_tensor([float(q)])
    if qs.numel() and bool(((qs < 0) | (qs > 1)).any()):
        raise RuntimeError(f"{op}() q values must be in the range [0, 1], got {q}")
    return qs


def _ranks(rows, qs, skip_nan: bool):
    """Fractional positions q * (count - 1) in each sorted row, shape (..., Q): count is the
    row's non-NaN values (skip_nan) or its length, where a NaN makes the rank its last one."""
    n = rows.shape[-1]
    nans = rows.isnan().sum(dim=-1, keepdim=True)
    if skip_nan:
        last = (n - nans - 1).clamp(min=0).to(rows.dtype)
        return qs * last
    ranks = qs * (n - 1) + nans * 0  # broadcast to (..., Q)
    return ranks.masked_fill(nans > 0, n - 1)


def _interpolate(rows, ranks, interpolation: str):
    below = ranks.floor()
    lower = rows.gather(-1, below.long())
    if interpolation == "lower":
        return lower
    upper = rows.gather(-1, ranks.ceil().long())
    if interpolation == "higher":
        return upper
    if interpolation == "nearest":  # round half to even, as PyTorch
        return rows.gather(-1, ranks.round().long())
    if interpolation == "midpoint":
        return lower + (upper - lower) * 0.5
    return lower.lerp(upper, ranks - below)


def _with_one_at(shape, d: int, ndim: int) -> tuple:
    shape = tuple(shape)
    return shape[:d] + (1,) + shape[d:] if ndim else ()
