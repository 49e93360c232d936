"""Products built from matmul and broadcasting: the add-product family (addmm, addmv,
addbmm, baddbmm), tensordot, kron and cdist (pairwise distances).

All are compositions of registry ops (matmul, permute, reshape, mul, add), so autograd,
tracing and CUDA need nothing more here.
"""

from __future__ import annotations

import math

from . import dtypes
from .linalg import root, vector_norm


def addmm(input, mat1, mat2, beta=1, alpha=1):
    """beta * input + alpha * (mat1 @ mat2); input broadcasts to (n, m)."""
    _expect_rank("addmm", mat1=mat1, mat2=mat2, rank=2)
    return _add_scaled("addmm", input, mat1.mm(mat2), beta, alpha)


def addmv(input, mat, vec, beta=1, alpha=1):
    """beta * input + alpha * (mat @ vec); input broadcasts to (n,)."""
    _expect_rank("addmv", mat=mat, rank=2)
    _expect_rank("addmv", vec=vec, rank=1)
    if mat.shape[1] != vec.shape[0]:
        raise RuntimeError(
            f"addmv: size mismatch, got input {tuple(input.shape)}, mat "
            f"({mat.shape[0]}x{mat.shape[1]}), vec ({vec.shape[0]}); mat.shape[1] must equal "
            "vec.shape[0]"
        )
    return _add_scaled("addmv", input, mat.matmul(vec), beta, alpha)


def addbmm(input, batch1, batch2, beta=1, alpha=1):
    """beta * input + alpha * sum over b of batch1[b] @ batch2[b]."""
    return _add_scaled("addbmm", input, _bmm("addbmm", batch1, batch2).sum(0), beta, alpha)


def baddbmm(input, batch1, batch2, beta=1, alpha=1):
    """beta * input + alpha * (batch1 @ batch2), batch by batch."""
    return _add_scaled("baddbmm", input, _bmm("baddbmm", batch1, batch2), beta, alpha)


def _bmm(op: str, batch1, batch2):
    _expect_rank(op, batch1=batch1, batch2=batch2, rank=3)
    if batch1.shape[0] != batch2.shape[0]:
        raise RuntimeError(
            f"{op}: batch1 and batch2 must have same number of batches, got "
            f"{batch1.shape[0]} and {batch2.shape[0]} (shapes {tuple(batch1.shape)} and "
            f"{tuple(batch2.shape)})"
        )
    return batch1.bmm(batch2)


def _expect_rank(op: str, rank: int, **tensors) -> None:
    for name, t in tensors.items():
        if t.ndim != rank:
            kind = "a matrix" if rank == 2 else ("a vector" if rank == 1 else f"a {rank}-D tensor")
            raise RuntimeError(
                f"{op}: {name} must be {kind}, got {t.ndim}-D tensor of shape {tuple(t.shape)}"
            )


def _add_scaled(op: str, input, product, beta, alpha):
    """beta * input + alpha * product, input broadcast to product's shape."""
    if input.dtype is not product.dtype:
        raise RuntimeError(
            f"{op}: self and mat2 must have the same dtype, but got {input.dtype} and "
            f"{product.dtype}; convert input with .to({product.dtype})"
        )
    term = input.expand(product.shape)  # raises PyTorch's error where input does not broadcast
    if beta == 0:  # NOTE: PyTorch ignores input then: its nan and inf must not leak (0 * nan)
        term = term.masked_fill(term.new_ones((), dtype=dtypes.bool_), 0)
    elif beta != 1:
        term = term * beta
    return term + (product if alpha == 1 else product * alpha)


def tensordot(a, b, dims=2):
    """Sum of products over dims of a and b: dims=n pairs a's last n dims with b's first n;
    dims=(dims_a, dims_b) pairs them one by one. The rest of a's dims come first, then b's."""
    dims_a, dims_b = _contracted_dims(a, b, dims)
    if a.dtype is not b.dtype:
        raise RuntimeError(
            f"tensordot: both inputs should have same dtype, got {a.dtype} and {b.dtype}"
        )
    for da, db in zip(dims_a, dims_b):
        if a.shape[da] != b.shape[db]:
            raise RuntimeError(
                f"tensordot: contracted dimensions need to match, but first has size "
                f"{a.shape[da]} in dim {da} and second has size {b.shape[db]} in dim {db}"
            )
    free_a = [d for d in range(a.ndim) if d not in dims_a]
    free_b = [d for d in range(b.ndim) if d not in dims_b]
    k = math.prod(a.shape[d] for d in dims_a)
    left = a.permute(*free_a, *dims_a).reshape(-1, k)
    right = b.permute(*dims_b, *free_b).reshape(k, -1)
    shape = [a.shape[d] for d in free_a] + [b.shape[d] for d in free_b]
    return left.mm(right).reshape(shape)


def _contracted_dims(a, b, dims) -> tuple[list, list]:
    """PyTorch's dims argument (an int, a pair of dim lists, or a tensor of either) as two
    lists of non-negative dims of a and b."""
    from .ops.reduce import normalize_dim  # noqa: PLC0415
    from .tensor import Tensor  # noqa: PLC0415

    if isinstance(dims, Tensor):
        dims = dims.item() if dims.numel() == 1 else dims.tolist()
    if isinstance(dims, int):
        if dims < 0:
            raise RuntimeError(f"tensordot expects dims >= 0, but got dims={dims}")
        if dims > min(a.ndim, b.ndim):
            raise RuntimeError(
                f"tensordot: dims={dims} is more than the dims of the inputs (shapes "
                f"{tuple(a.shape)} and {tuple(b.shape)})"
            )
        return list(range(a.ndim - dims, a.ndim)), list(range(dims))
    dims_a, dims_b = ([d] if isinstance(d, int) else list(d) for d in dims)
    if len(dims_a) != len(dims_b):
        raise RuntimeError(
            f"tensordot: both dimension lists should have same length, got {dims_a} and {dims_b}"
        )
    return (
        [normalize_dim(d, a.ndim, "tensordot") for d in dims_a],
        [normalize_dim(d, b.ndim, "tensordot") for d in dims_b],
    )


def kron(a, b):
    """Kronecker product: block (i, j, ...) of the result is a[i, j, ...] * b. The shorter
    shape is padded with leading 1s; the result has shape a.shape * b.shape."""
    n = max(a.ndim, b.ndim)
    shape_a = (1,) * (n - a.ndim) + tuple(a.shape)
    shape_b = (1,) * (n - b.ndim) + tuple(b.shape)
    # interleave: a's dims at even places, b's at odd ones, then merge each pair
    spread_a = [s for m in shape_a for s in (m, 1)]
    spread_b = [s for m in shape_b for s in (1, m)]
    product = a.reshape(spread_a) * b.reshape(spread_b)
    return product.reshape([p * q for p, q in zip(shape_a, shape_b)])


# NOTE: PyTorch's cdist default (compute_mode="use_mm_for_euclid_dist_if_necessary") takes the
# matmul form |a|^2 + |b|^2 - 2 a.b for p=2 above 25 rows on either side; so do we, so that
# values round alike (the form cancels digits where points are close).
_MM_ROWS = 25


def cdist(x1, x2, p: float = 2.0, compute_mode=None):
    """p-norm distances between each row of x1 (..., P, M) and each row of x2 (..., R, M):
    shape (..., P, R), batch dims broadcast."""
    _check_cdist(x1, x2, p)
    rows1, rows2 = x1.shape[-2], x2.shape[-2]
    by_mm = compute_mode == "use_mm_for_euclid_dist" or (
        compute_mode in (None, "use_mm_for_euclid_dist_if_necessary")
        and (rows1 > _MM_ROWS or rows2 > _MM_ROWS)
    )
    if p == 2 and by_mm:
        squared = (
            (x1 * x1).sum(-1, keepdim=True) + (x2 * x2).sum(-1).unsqueeze(-2) - 2 * x1.matmul(x2.mT)
        )
        return root(squared.clamp(min=0), 2)
    return vector_norm(x1.unsqueeze(-2) - x2.unsqueeze(-3), p, dim=-1)  # over (..., P, R, M)


def _check_cdist(x1, x2, p) -> None:
    for name, x in (("X1", x1), ("X2", x2)):
        if not x.dtype.is_floating_point:
            raise RuntimeError(f"cdist only supports floating-point dtypes, {name} got: {x.dtype}")
        if x.ndim < 2:
            raise RuntimeError(f"cdist only supports at least 2D tensors, {name} got: {x.ndim}D")
    if x1.dtype is not x2.dtype:
        raise RuntimeError(
            f"cdist: expected both inputs to have the same dtype, got {x1.dtype} and {x2.dtype}"
        )
    if x1.shape[-1] != x2.shape[-1]:
        raise RuntimeError(
            "cdist: X1 and X2 must have the same number of columns. X1: "
            f"{x1.shape[-1]} X2: {x2.shape[-1]}"
        )
    if p < 0:
        raise RuntimeError(f"cdist only supports non-negative p values, got p={p}")
