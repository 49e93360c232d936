"""Arranging tensors: splits, stacks, atleast_nd, diagonal and block matrices, products of
index sets (tril/triu indices, cartesian_prod, combinations) and rot90.

All values move through registry ops (narrow, cat, reshape, flip, index_put), so autograd,
tracing and CUDA need nothing more here; index sets are computed with numpy.
"""

from __future__ import annotations

import functools
import itertools

import numpy as np

from . import dtypes
from .functional import _placed, cat, hstack, meshgrid, stack, zeros
from .ops import elementwise as E
from .ops.reduce import normalize_dim
from .tensor import Size, Tensor


def _indices(values: np.ndarray, dtype, device) -> Tensor:
    dt = dtypes.to_dtype(dtype)
    return _placed(values.reshape(2, -1).astype(dt.np), dt, device, False)


def tril_indices(row: int, col: int, offset: int = 0, *, dtype=dtypes.int64, device=None, **_):
    """The (2, N) row and column indices of the lower triangle of a row x col matrix."""
    return _indices(np.stack(np.tril_indices(row, offset, col)), dtype, device)


def triu_indices(row: int, col: int, offset: int = 0, *, dtype=dtypes.int64, device=None, **_):
    """The (2, N) row and column indices of the upper triangle of a row x col matrix."""
    return _indices(np.stack(np.triu_indices(row, offset, col)), dtype, device)


def broadcast_shapes(*shapes) -> Size:
    shapes = [(s,) if isinstance(s, int) else tuple(s) for s in shapes]
    for s in shapes:
        if any(n < 0 for n in s):
            raise RuntimeError(
                f"broadcast_shapes: Trying to create tensor with negative dimension in {s}; "
                "sizes must be >= 0"
            )
    return Size(E.broadcast_shapes((), *shapes, op="broadcast_shapes"))


def tensor_split(input: Tensor, indices_or_sections, dim: int = 0) -> tuple:
    """Split into n parts of near-equal size (the first size % n one longer), or at the given
    indices along dim; parts are views."""
    d = normalize_dim(dim, input.ndim, "tensor_split")
    n = input.shape[d]
    if isinstance(indices_or_sections, Tensor):
        if indices_or_sections.ndim > 1 or indices_or_sections.dtype.is_floating_point:
            raise RuntimeError(
                "tensor_split expected tensor_indices_or_sections to be a zero-dimensional or "
                "one-dimensional tensor of dtype long, but got a tensor with "
                f"{indices_or_sections.ndim} dims and dtype {indices_or_sections.dtype}"
            )
        indices_or_sections = indices_or_sections.tolist()
    if isinstance(indices_or_sections, int):
        sections = indices_or_sections
        if sections <= 0:
            raise RuntimeError(f"number of sections must be larger than 0, got {sections}")
        small, extra = divmod(n, sections)
        bounds = list(itertools.accumulate([small + 1] * extra + [small] * (sections - extra)))
        indices_or_sections = bounds[:-1]
    starts = [0, *(min(max(i if i >= 0 else i + n, 0), n) for i in indices_or_sections)]
    ends = [*starts[1:], n]
    return tuple(input.narrow(d, s, max(e - s, 0)) for s, e in zip(starts, ends))


def _split_along(name: str, input: Tensor, indices_or_sections, dim: int, min_dims: int):
    if input.ndim < min_dims:
        raise RuntimeError(
            f"torch.{name} requires a tensor with at least {min_dims} dimension, but got a "
            f"tensor with {input.ndim} dimensions!"
        )
    if isinstance(indices_or_sections, int):
        size = input.shape[dim]
        if indices_or_sections == 0 or size % indices_or_sections:
            raise RuntimeError(
                f"torch.{name} attempted to split along dimension {dim}, but the size of the "
                f"dimension {size} is not divisible by the split_size {indices_or_sections}!"
            )
    return tensor_split(input, indices_or_sections, dim)


def hsplit(input: Tensor, indices_or_sections) -> tuple:
    return _split_along("hsplit", input, indices_or_sections, 0 if input.ndim == 1 else 1, 1)


def vsplit(input: Tensor, indices_or_sections) -> tuple:
    return _split_along("vsplit", input, indices_or_sections, 0, 2)


def dsplit(input: Tensor, indices_or_sections) -> tuple:
    return _split_along("dsplit", input, indices_or_sections, 2, 3)


def _at_least(shape_of, tensors):
    one = len(tensors) == 1 and isinstance(tensors[0], Tensor)
    tensors = tensors if not (len(tensors) == 1 and not one) else tuple(tensors[0])
    out = tuple(t.reshape(shape_of(tuple(t.shape))) for t in tensors)
    return out[0] if one else out


def atleast_1d(*tensors):
    return _at_least(lambda s: s or (1,), tensors)


def atleast_2d(*tensors):
    return _at_least(lambda s: s if len(s) >= 2 else (1, *s) if s else (1, 1), tensors)


def atleast_3d(*tensors):
    shapes = {0: lambda s: (1, 1, 1), 1: lambda s: (1, *s, 1), 2: lambda s: (*s, 1)}
    return _at_least(lambda s: shapes.get(len(s), lambda s: s)(s), tensors)


def column_stack(tensors) -> Tensor:

    return hstack([t.reshape(-1, 1) if t.ndim <= 1 else t for t in tensors])


def dstack(tensors) -> Tensor:

    return cat(atleast_3d(tuple(tensors)), 2)


def diag_embed(input: Tensor, offset: int = 0, dim1: int = -2, dim2: int = -1) -> Tensor:
    """Each last-dim vector of input placed on the offset diagonal of dims dim1, dim2 of a new
    tensor with one more dim (the other dims keep their order)."""
    d1 = normalize_dim(dim1, input.ndim + 1, "diag_embed")
    d2 = normalize_dim(dim2, input.ndim + 1, "diag_embed")
    if d1 == d2:
        raise RuntimeError(f"diag_embed: diagonal dimensions cannot be identical {dim1}, {dim2}")
    k = input.shape[-1] if input.ndim else 1
    n = k + abs(offset)
    rows = np.arange(k) + max(0, -offset)
    index = (
        Ellipsis,
        input.new_tensor(rows, dtype=dtypes.int64),
        input.new_tensor(rows + offset, dtype=dtypes.int64),
    )
    square = input.new_zeros((*input.shape[:-1], n, n)).index_put(index, input)
    return square.movedim((-2, -1), (d1, d2))


def diagflat(input: Tensor, offset: int = 0) -> Tensor:
    return input.flatten().diag(offset)


def block_diag(*tensors) -> Tensor:
    """The matrices (0-d and 1-d tensors as one-row matrices) along the diagonal of a larger
    one, zeros elsewhere; dtype promoted over all."""

    for i, t in enumerate(tensors):
        if t.ndim > 2:
            raise RuntimeError(
                f"torch.block_diag: Input tensors must have 2 or fewer dimensions. Input {i} has "
                f"{t.ndim} dimensions"
            )
    mats = [t.reshape(1, -1) if t.ndim < 2 else t for t in tensors]
    dt = functools.reduce(dtypes.promote, [t.dtype for t in mats]) if mats else None
    width = sum(m.shape[1] for m in mats)
    rows, left = [], 0
    for m in mats:
        right = width - left - m.shape[1]
        pads = [m.new_zeros((m.shape[0], left), dtype=dt), m.to(dt)]
        rows.append(cat([*pads, m.new_zeros((m.shape[0], right), dtype=dt)], 1))
        left += m.shape[1]
    return cat(rows, 0) if rows else zeros(1, 0)  # (1, 0), as PyTorch


def cartesian_prod(*tensors) -> Tensor:
    """All tuples of one element from each 1-D tensor, as rows (the first tensor varies
    slowest); one tensor is returned as it is."""

    for t in tensors:
        if t.ndim != 1:
            raise RuntimeError(
                f"cartesian_prod: Expect a 1D vector, but got shape {list(t.shape)}; "
                "flatten it first"
            )
    if len(tensors) == 1:
        return tensors[0]
    return stack([g.flatten() for g in meshgrid(*tensors, indexing="ij")], 1)


def combinations(input: Tensor, r: int = 2, with_replacement: bool = False) -> Tensor:
    """The r-element combinations of a 1-D tensor's elements, one per row, in
    itertools.combinations order."""
    if input.ndim != 1:
        raise RuntimeError(
            f"Expect a 1D vector, but got shape {list(input.shape)}; flatten it for combinations"
        )
    if r < 0:
        raise RuntimeError(f"Expect a non-negative number, but got {r}")
    if r == 0:
        return input.new_empty((0,))
    pick = itertools.combinations_with_replacement if with_replacement else itertools.combinations
    index = np.array(list(pick(range(input.shape[0]), r)), dtype=np.int64).reshape(-1, r)
    return input[input.new_tensor(index, dtype=dtypes.int64)]


def rot90(input: Tensor, k: int = 1, dims=(0, 1)) -> Tensor:
    """input rotated by k quarter turns in the plane of dims, from the first towards the second."""
    dims = list(dims)
    if len(dims) != 2:
        raise RuntimeError(f"expected total rotation dims == 2, but got dims = {len(dims)}")
    if input.ndim < 2:
        raise RuntimeError(f"expected total dims >= 2, but got total dims = {input.ndim}")
    d0, d1 = (normalize_dim(d, input.ndim, "rot90") for d in dims)
    if d0 == d1:
        raise RuntimeError(
            f"expected rotation dims to be different, but got dim0 = {d0} and dim1 = {d1}"
        )
    k %= 4
    if k == 1:
        return input.flip(d1).transpose(d0, d1)
    if k == 2:
        return input.flip(d0, d1)
    if k == 3:
        return input.flip(d0).transpose(d0, d1)
    return input.clone()
