"""Numeric functions composed of registry ops: var_mean/std_mean, isin, inner, cross,
copysign, heaviside, logaddexp2, cov, corrcoef, trapezoid, cumulative_trapezoid, and
unique_consecutive (computed on the host, like unique).

Compositions get autograd, tracing and CUDA from the ops they use.
"""

from __future__ import annotations

import math
import warnings

import numpy as np

from . import dtypes
from .counting import searchsorted
from .functional import broadcast_tensors, stack
from .jit_guard import check_host_sync
from .ops.elementwise import broadcast_shapes
from .ops.reduce import normalize_dim
from .products import tensordot
from .tensor import Tensor, _scalar_tensor, wrap


def _as_tensor(value, like: Tensor) -> Tensor:
    if isinstance(value, Tensor):
        return value
    return _scalar_tensor(value, dtypes.result_type(like, value))


def _var_args(dim, unbiased, correction):
    if isinstance(dim, bool):  # the old overload var_mean(input, unbiased)
        dim, unbiased = None, dim
    return dim, (correction if unbiased is None else int(unbiased))


def var_mean(input: Tensor, dim=None, unbiased=None, keepdim: bool = False, *, correction=1):
    dim, correction = _var_args(dim, unbiased, correction)
    var = input.var(dim, correction=correction, keepdim=keepdim)
    return var, input.mean(dim=dim, keepdim=keepdim)


def std_mean(input: Tensor, dim=None, unbiased=None, keepdim: bool = False, *, correction=1):
    var, mean = var_mean(input, dim, unbiased, keepdim, correction=correction)
    return var.sqrt(), mean


def isin(elements, test_elements, *, assume_unique: bool = False, invert: bool = False):
    """Whether each element of `elements` is in `test_elements` (bool, elements' shape); found
    by a sorted search, so it traces."""
    if not isinstance(elements, Tensor) and not isinstance(test_elements, Tensor):
        raise TypeError("isin(): at least one of elements and test_elements must be a Tensor")
    elements = _as_tensor(elements, test_elements)
    test_elements = _as_tensor(test_elements, elements)
    dt = dtypes.promote(elements.dtype, test_elements.dtype)
    x, pool = elements.to(dt), test_elements.to(dt).flatten()
    if pool.numel() == 0:
        found = x.new_zeros(x.shape, dtype=dtypes.bool_)
    else:
        ordered = pool.sort().values
        at = searchsorted(ordered, x.reshape(-1)).clamp(max=pool.numel() - 1)
        found = (ordered[at] == x.reshape(-1)).reshape(x.shape)
    return ~found if invert else found


def inner(input: Tensor, other: Tensor) -> Tensor:
    """Sum of products over the last dims; a 0-d operand multiplies instead."""
    if input.ndim == 0 or other.ndim == 0:
        return input * other
    if input.shape[-1] != other.shape[-1]:
        raise RuntimeError(
            f"inner() the last dimension must match on both input tensors but got shapes "
            f"{list(input.shape)} and {list(other.shape)}"
        )
    return tensordot(input, other, dims=([-1], [-1]))


def cross(input: Tensor, other: Tensor, dim=None) -> Tensor:
    """torch.cross: with dim=None, the first dim of size 3 (PyTorch warns, and so do we)."""
    if dim is None:
        shape = broadcast_shapes(input.shape, other.shape, op="cross")
        dim = next((d for d, n in enumerate(shape) if n == 3), None)
        warnings.warn(
            "Using torch.cross without specifying the dim arg is deprecated. Please either pass "
            "the dim explicitly or simply use torch.linalg.cross. The default value of dim will "
            "change to agree with that of linalg.cross in a future release.",
            UserWarning,
            stacklevel=2,
        )
        if dim is None:
            raise RuntimeError(
                f"no dimension of size 3 in input (shapes {list(input.shape)} and "
                f"{list(other.shape)}); pass dim"
            )
    return linalg_cross(input, other, dim=dim, name="cross")


def linalg_cross(input: Tensor, other: Tensor, *, dim: int = -1, name="linalg.cross") -> Tensor:
    """The 3-vector cross product along dim; the other dims broadcast."""
    if input.ndim != other.ndim:
        raise RuntimeError(
            f"{name}: inputs must have the same number of dimensions, got {input.ndim} and "
            f"{other.ndim} (shapes {list(input.shape)} and {list(other.shape)}); unsqueeze one"
        )
    a, b = broadcast_tensors(input, other)
    d = normalize_dim(dim, a.ndim, name)
    sizes = [input.shape[d], other.shape[d]]
    if sizes != [3, 3]:
        raise RuntimeError(
            f"{name}: inputs dimension {dim} must have length 3. Got {sizes[0]} and {sizes[1]}"
        )
    a1, a2, a3 = a.unbind(d)
    b1, b2, b3 = b.unbind(d)
    return stack([a2 * b3 - a3 * b2, a3 * b1 - a1 * b3, a1 * b2 - a2 * b1], d)


def _float(t: Tensor) -> Tensor:
    return t if t.dtype.is_floating_point else t.to(dtypes.get_default_dtype())


def copysign(input: Tensor, other) -> Tensor:
    """|input| with the sign of other (a -0.0 counts as negative)."""
    other = _as_tensor(other, input)
    dt = dtypes.result_type(input, other)
    dt = dt if dt.is_floating_point else dtypes.get_default_dtype()
    x, sign_of = input.to(dt), other.to(dt)
    negative = (sign_of < 0) | ((sign_of == 0) & ((1 / sign_of) < 0))
    magnitude = x.abs()
    return magnitude.where(~negative, -magnitude)


def heaviside(input: Tensor, values: Tensor) -> Tensor:
    """0 where input < 0, values where input == 0, 1 where input > 0."""
    if input.dtype is not values.dtype:
        raise RuntimeError(
            "heaviside is not yet implemented for tensors with different dtypes "
            f"({input.dtype} and {values.dtype}); convert values with .to(input.dtype)"
        )
    return values.expand_as(input + values).where(input == 0, (input > 0).to(input.dtype))


def logaddexp2(input: Tensor, other) -> Tensor:
    """log2(2**input + 2**other) without overflow."""
    other = _as_tensor(other, input)
    return (input * math.log(2)).logaddexp(other * math.log(2)) / math.log(2)


def cov(input: Tensor, *, correction: int = 1, fweights=None, aweights=None) -> Tensor:
    """Covariance of the variables in input's rows (observations in columns); fweights are
    integer repeat counts and aweights importance weights of the observations."""
    if input.ndim > 2:
        raise RuntimeError(
            "cov(): expected input to have two or fewer dimensions but got an input with "
            f"{input.ndim} dimensions; reshape it to (variables, observations)"
        )
    x = _float(input).reshape(1, -1) if input.ndim < 2 else _float(input)
    n = x.shape[1]
    w = _cov_weight("aweights", aweights, n, _cov_weight("fweights", fweights, n, None))
    w = x.new_ones((n,)) if w is None else w.to(x.dtype)
    w_sum = w.sum()
    avg = (x * w).sum(dim=1, keepdim=True) / w_sum
    if aweights is None:
        norm = w_sum - correction
    else:
        norm = w_sum - correction * (w * aweights).sum() / w_sum
    # NOTE: PyTorch also warns where norm <= 0; that would read the value on the host
    centered = x - avg
    out = (centered * w).matmul(centered.T) / norm.clamp(min=0)
    return out.squeeze() if x.shape[0] == 1 else out


def _cov_weight(name: str, weights, n: int, w):
    if weights is None:
        return w
    if weights.ndim > 1:
        raise RuntimeError(
            f"cov(): expected {name} to have one or fewer dimensions but got {weights.ndim}"
        )
    if weights.numel() != n:
        raise RuntimeError(
            f"cov(): expected {name} to have the same numel as there are observations in the "
            f"input but got {weights.numel()} != {n}"
        )
    if name == "fweights" and weights.dtype.is_floating_point:
        raise RuntimeError(
            f"cov(): expected fweights to have integral dtype but got {weights.dtype}"
        )
    if name == "aweights" and not weights.dtype.is_floating_point:
        raise RuntimeError(
            f"cov(): expected aweights to have floating point dtype but got {weights.dtype}"
        )
    return weights if w is None else w * weights


def corrcoef(input: Tensor) -> Tensor:
    """Pearson correlation coefficients of the variables in input's rows, clamped to [-1, 1]."""
    c = cov(input)
    if c.ndim == 0:
        return c / c
    d = c.diagonal().sqrt()
    return (c / d.unsqueeze(1) / d.unsqueeze(0)).clamp(-1, 1)


def _trapezoid_terms(y: Tensor, x, dx, dim: int, name: str) -> Tensor:
    d = normalize_dim(dim, y.ndim, name)
    n = y.shape[d]
    head = (slice(None),) * d
    pairs = y[(*head, slice(1, None))] + y[(*head, slice(0, max(n - 1, 0)))]
    if x is None:
        return pairs * (1 if dx is None else dx) / 2
    if x.ndim == 1:
        if x.shape[0] != n:
            raise RuntimeError(
                f"{name}: There must be one `x` value for each sample point; got x of shape "
                f"{list(x.shape)} for y of size {n} in dim {dim}"
            )
        spacing = x.diff().reshape([-1 if k == d else 1 for k in range(y.ndim)])
    else:
        spacing = x.diff(dim=dim)
    return pairs * spacing / 2


def trapezoid(y: Tensor, x=None, *, dx=None, dim: int = -1) -> Tensor:
    """The integral of y along dim by the trapezoidal rule, at points x or spacing dx."""
    if isinstance(x, (int, float)):
        x, dx = None, x
    return _float(_trapezoid_terms(y, x, dx, dim, "trapezoid")).sum(dim=dim)


def cumulative_trapezoid(y: Tensor, x=None, *, dx=None, dim: int = -1) -> Tensor:
    if isinstance(x, (int, float)):
        x, dx = None, x
    terms = _float(_trapezoid_terms(y, x, dx, dim, "cumulative_trapezoid"))
    return terms.cumsum(dim=dim)


def unique_consecutive(input: Tensor, return_inverse=False, return_counts=False, dim=None):
    """input with each run of equal consecutive values (or slices along dim) kept once; with
    return_inverse, each element's (slice's) run; with return_counts, each run's length."""
    check_host_sync("unique_consecutive")
    values = np.asarray(input.cpu()._data)
    if dim is None:
        values = values.reshape(-1, 1)
    else:
        d = normalize_dim(dim, input.ndim, "unique_consecutive")
        values = np.moveaxis(values, d, 0)
    rows = values.reshape(values.shape[0], math.prod(values.shape[1:]))
    starts = np.ones(rows.shape[0], bool)
    starts[1:] = (rows[1:] != rows[:-1]).any(axis=1)
    keep = np.flatnonzero(starts)
    out = values[keep].reshape(-1) if dim is None else np.moveaxis(values[keep], 0, d)
    extra = []
    if return_inverse:
        run = np.cumsum(starts) - 1
        shape = tuple(input.shape) if dim is None else (input.shape[d],)
        extra.append(wrap(run.reshape(shape).astype(np.int64), dtypes.int64))
    if return_counts:
        counts = np.diff(np.append(keep, rows.shape[0])).astype(np.int64)
        extra.append(wrap(counts, dtypes.int64))
    result = wrap(np.ascontiguousarray(out), input.dtype).to(input.device)
    return (result, *extra) if extra else result
