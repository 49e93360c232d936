"""minitorch.linalg: PyTorch's torch.linalg on numpy's LAPACK.

inv, det, slogdet, solve, cholesky, matrix_exp, svd, svdvals, qr, eigh and eigvalsh are
differentiable (svd, qr and eigh through autograd.Functions, as all their outputs carry a
gradient; a registry op's extra outputs do not). The norms are compositions of differentiable ops.
"""

from __future__ import annotations

import math

from .autograd.function import Function
from .autograd.grad_mode import state
from .ops import linalg as L
from .ops.linalg import LinAlgError
from .ops.reduce import normalize_dims
from .ops.registry import apply

__all__ = [
    "LinAlgError",
    "cholesky",
    "cross",
    "det",
    "eigh",
    "eigvalsh",
    "inv",
    "matmul",
    "matrix_exp",
    "matrix_norm",
    "norm",
    "qr",
    "slogdet",
    "solve",
    "svd",
    "svdvals",
    "vector_norm",
]


def _named(name, fields):
    from .tensor import _named as named  # noqa: PLC0415

    return named(name, fields)


def inv(A):
    """The inverse of each square matrix in A (..., n, n); LinAlgError when one is singular."""
    return apply(L.inv, A)


def det(A):
    return apply(L.det, A)


def matrix_exp(A):
    """exp(A) = I + A + A^2/2! + ... of each square matrix in A (..., n, n), by scaling and
    squaring over a Pade approximant; differentiable (the gradient is itself a matrix_exp, of
    a matrix twice the size)."""
    return apply(L.matrix_exp, A)


def slogdet(A):
    """(sign, logabsdet) of each determinant: det = sign * exp(logabsdet), without overflow."""
    logabsdet, sign = apply(L.slogdet, A)
    return _named("linalg_slogdet", ["sign", "logabsdet"])(sign, logabsdet)


def solve(A, B, *, left: bool = True):
    """X with A @ X = B (X @ A = B with left=False). B is a batch of vectors when it is 1-D or
    has A's shape without the last dim, as in PyTorch."""
    if not left:  # X A = B  <=>  A^T X^T = B^T
        return solve(A.mT, B.mT).mT
    vector = B.ndim == 1 or (B.ndim == A.ndim - 1 and tuple(B.shape) == tuple(A.shape[:-1]))
    if vector:
        return apply(L.solve, A, B.unsqueeze(-1)).squeeze(-1)
    return apply(L.solve, A, B)


def cholesky(A, *, upper: bool = False):
    """L lower-triangular with A = L @ L.mT (or U = L.mT with upper=True); LinAlgError when A
    is not positive-definite."""
    low = apply(L.cholesky, A)
    return low.mT if upper else low


def qr(A, mode: str = "reduced"):
    if mode not in ("reduced", "complete", "r"):
        raise RuntimeError(
            f"qr received unrecognized mode '{mode}' but expected one of 'reduced' (default), "
            "'r', or 'complete'"
        )
    if state.enabled and A.requires_grad:
        q, r = _Qr.apply(A, mode)
    else:
        q, r = apply(L.qr, A, mode=mode)
    return _named("linalg_qr", ["Q", "R"])(q, r)


class _Qr(Function):
    """linalg.qr with a gradient for Q and R (PyTorch's linalg_qr_backward). As in PyTorch, the
    backward raises for mode="r" (Q is not computed) and for mode="complete" with m > n."""

    @staticmethod
    def forward(ctx, A, mode):
        q, r = apply(L.qr, A, mode=mode)
        ctx.save_for_backward(q, r)
        ctx.mode = mode
        ctx.set_materialize_grads(False)
        return q, r

    @staticmethod
    def backward(ctx, gQ, gR):  # noqa: N803
        Q, R = ctx.saved_tensors
        if ctx.mode == "r":
            raise RuntimeError(
                "The derivative of linalg.qr depends on Q, which is not computed when mode='r'. "
                "Please use linalg.qr(A, mode='reduced') if you are going to differentiate "
                "through linalg.qr."
            )
        if ctx.mode == "complete" and Q.shape[-2] > R.shape[-1]:
            raise RuntimeError(
                "The QR decomposition is not differentiable when mode='complete' and nrows > ncols."
            )
        return qr_backward(gQ, gR, Q, R), None


def qr_backward(gQ, gR, Q, R):  # noqa: N803
    """The gradient of A = Q R (reduced; Q m x k, R k x n, k = min(m, n)) from those of Q and R
    (either may be None). For m >= n, PyTorch's formula gA = (gQ + Q copyltu(M)) R^-T with
    M = R gR^T - gQ^T Q (copyltu: the lower triangle mirrored onto the upper). For m < n,
    A = [X | Y], R = [U | V]: X = Q U is a square QR and V = Q^T Y, so gY = Q gV and X's
    factors see gQ + Y gV^T and gU."""
    if gQ is None and gR is None:
        return None
    m, n = Q.shape[-2], R.shape[-1]
    if m >= n:
        return _qr_backward_tall(gQ, gR, Q, R)
    Y, U = Q @ R[..., m:], R[..., :m]  # Y: A's last n - m columns
    gU = gV = None
    if gR is not None:
        gU, gV = gR[..., :m], gR[..., m:]
        gQ = Y @ gV.mT if gQ is None else gQ + Y @ gV.mT
    gX = _qr_backward_tall(gQ, gU, Q, U)
    gY = Q @ gV if gV is not None else Q.new_zeros(Q.shape[:-1] + (n - m,))
    from .functional import cat  # noqa: PLC0415

    return cat([gX, gY], dim=-1)


def _qr_backward_tall(gQ, gR, Q, R):  # noqa: N803
    M = 0
    if gR is not None:
        M = R @ gR.mT
    if gQ is not None:
        M = M - gQ.mT @ Q
    # copyltu(M) = tril(M) + tril(M, -1)^T; the first term of gA is gQ + Q copyltu(M)
    low = M.tril()
    B = Q @ (low + low.tril(-1).mT)
    if gQ is not None:
        B = B + gQ
    # gA = B R^-T: solve gA R^T = B, i.e. R gA^T = B^T (R upper triangular)
    return solve(R, B.mT).mT


def svd(A, full_matrices: bool = True):
    """A = U diag(S) Vh, S descending. Differentiable where the singular values are distinct
    (and nonzero where U's or Vh's gradient is used on a non-square A); with full_matrices,
    the gradients of U's and Vh's extra columns / rows are ignored, as in PyTorch."""
    if state.enabled and A.requires_grad:
        u, s, vh = _Svd.apply(A, full_matrices)
    else:
        u, s, vh = apply(L.svd, A, full_matrices=full_matrices)
    return _named("linalg_svd", ["U", "S", "Vh"])(u, s, vh)


class _Svd(Function):
    """linalg.svd with a gradient: an autograd.Function, as its three outputs are all
    differentiable (a registry op's extra outputs are not)."""

    @staticmethod
    def forward(ctx, A, full_matrices):
        u, s, vh = apply(L.svd, A, full_matrices=full_matrices)
        ctx.save_for_backward(u, s, vh)
        ctx.full_matrices = full_matrices
        ctx.set_materialize_grads(False)
        return u, s, vh

    @staticmethod
    def backward(ctx, gU, gS, gVh):  # noqa: N803
        U, S, Vh = ctx.saved_tensors
        if ctx.full_matrices:  # only the first k = len(S) columns of U, rows of Vh count
            k = S.shape[-1]
            U, Vh = U[..., :k], Vh[..., :k, :]
            gU = None if gU is None else gU[..., :k]
            gVh = None if gVh is None else gVh[..., :k, :]
        return svd_backward(gU, gS, gVh, U, S, Vh), None


def svd_backward(gU, gS, gVh, U, S, Vh):  # noqa: N803
    """The gradient of A = U diag(S) Vh (reduced) from those of U, S and Vh (each may be None):
    PyTorch's svd_backward (Townsend 2016; the real case of its FunctionsManual.cpp)."""
    if gU is None and gVh is None:
        return None if gS is None else (U * gS.unsqueeze(-2)) @ Vh
    from .functional import eye  # noqa: PLC0415

    m, n, k = U.shape[-2], Vh.shape[-1], S.shape[-1]
    S2 = S * S
    # E[i, j] = S_j^2 - S_i^2, with 1 on the diagonal (where it is 0): the off-diagonal parts
    # below are divided by it (a repeated singular value makes the gradient inf, as PyTorch)
    E = S2.unsqueeze(-2) - S2.unsqueeze(-1) + eye(k, dtype=S.dtype)
    inner = 0
    if gU is not None:
        UhgU = U.mT @ gU
        inner = (UhgU - UhgU.mT) * S.unsqueeze(-2)
    if gVh is not None:
        VhgV = Vh @ gVh.mT
        inner = inner + S.unsqueeze(-1) * (VhgV - VhgV.mT)
    gA = inner / E
    if gS is not None:
        gA = gA + gS.diag_embed()
    if m > n and gU is not None:  # gA = [U gA + (I_m - U U^T) gU S^-1] Vh
        gUSinv = gU / S.unsqueeze(-2)
        gA = (U @ gA + gUSinv - U @ (U.mT @ gUSinv)) @ Vh
    elif m < n and gVh is not None:  # gA = U [gA Vh + S^-1 gVh (I_n - V Vh)]
        SinvgVh = gVh / S.unsqueeze(-1)
        gA = U @ (gA @ Vh + SinvgVh - (SinvgVh @ Vh.mT) @ Vh)
    else:
        gA = U @ gA @ Vh
    return gA


def svdvals(A):
    """The singular values of each matrix, in descending order."""
    return apply(L.svdvals, A)


def eigh(A, UPLO: str = "L"):  # noqa: N803  (PyTorch's name)
    """Eigenvalues (ascending) and eigenvectors of symmetric matrices, read from the lower
    (UPLO="L") or upper triangle."""
    if state.enabled and A.requires_grad:
        values, vectors = _Eigh.apply(A, _uplo(UPLO))
    else:
        values, vectors = apply(L.eigh, A, UPLO=_uplo(UPLO))
    return _named("linalg_eigh", ["eigenvalues", "eigenvectors"])(values, vectors)


class _Eigh(Function):
    """linalg.eigh with a gradient for the eigenvalues and eigenvectors (PyTorch's
    linalg_eig_backward, Hermitian case). As in PyTorch, the gradient is the symmetric matrix
    gA below whichever triangle UPLO read."""

    @staticmethod
    def forward(ctx, A, UPLO):  # noqa: N803
        w, v = apply(L.eigh, A, UPLO=UPLO)
        ctx.save_for_backward(w, v)
        ctx.set_materialize_grads(False)
        return w, v

    @staticmethod
    def backward(ctx, gL, gV):  # noqa: N803
        L_, V = ctx.saved_tensors
        return eigh_backward(gL, gV, L_, V), None


def eigh_backward(gL, gV, L_, V):  # noqa: N803
    """gA = V (diag(gL) + skew(V^T gV) / E) V^T with E[i, j] = L_j - L_i (skew(X) = (X - X^T)
    / 2; a repeated eigenvalue makes the eigenvectors' gradient inf/nan, as in PyTorch)."""
    if gV is None:
        return None if gL is None else (V * gL.unsqueeze(-2)) @ V.mT
    from .functional import eye  # noqa: PLC0415

    VtgV = V.mT @ gV
    E = L_.unsqueeze(-2) - L_.unsqueeze(-1) + eye(L_.shape[-1], dtype=L_.dtype)
    inner = (VtgV - VtgV.mT) * 0.5 / E  # its diagonal is 0
    if gL is not None:
        inner = inner + gL.diag_embed()
    return V @ inner @ V.mT


def eigvalsh(A, UPLO: str = "L"):  # noqa: N803
    return apply(L.eigvalsh, A, UPLO=_uplo(UPLO))


def _uplo(uplo: str) -> str:
    if uplo not in ("L", "U"):
        raise RuntimeError(f"Expected UPLO argument to be 'L' or 'U', but got {uplo}")
    return uplo


def cross(input, other, *, dim: int = -1):
    from .numeric import linalg_cross  # noqa: PLC0415

    return linalg_cross(input, other, dim=dim)


def matmul(input, other):
    return input.matmul(other)


def vector_norm(x, ord=2, dim=None, keepdim: bool = False, *, dtype=None):  # noqa: A002
    """(sum |x|^ord)^(1/ord) over dim (all by default); ord inf/-inf: max/min |x|, 0: the
    count of nonzeros. The gradient at x = 0 is 0 (where the root's is infinite)."""
    if dtype is not None:
        x = x.to(dtype)
    if not x.dtype.is_floating_point:
        raise RuntimeError(
            "linalg.vector_norm: Expected a floating point or complex tensor as input. Got "
            f"{x.dtype}; convert it with .float()"
        )
    dims = normalize_dims(dim, x.ndim, "linalg.vector_norm")
    magnitude = x.abs()
    if ord == math.inf:
        return magnitude.amax(dim=dims, keepdim=keepdim)
    if ord == -math.inf:
        return magnitude.amin(dim=dims, keepdim=keepdim)
    if ord == 0:
        return (x != 0).to(x.dtype).sum(dim=dims, keepdim=keepdim)
    if ord == 1:
        return magnitude.sum(dim=dims, keepdim=keepdim)
    powered = x * x if ord == 2 else magnitude**ord
    return root(powered.sum(dim=dims, keepdim=keepdim), ord)


def root(s, p):
    """s ** (1 / p), with gradient 0 where s == 0 (the true one is infinite there; PyTorch's
    norms give 0)."""
    positive = s > 0
    safe = s.where(positive, 1)
    out = safe.sqrt() if p == 2 else safe ** (1.0 / p)
    return out.masked_fill(~positive, 0)


def matrix_norm(A, ord="fro", dim=(-2, -1), keepdim: bool = False, *, dtype=None):  # noqa: A002
    """Norms of the matrices in dims `dim`: 'fro', 'nuc', 1/-1 (max/min column sum of |A|),
    inf/-inf (max/min row sum), 2/-2 (largest/smallest singular value)."""
    if dtype is not None:
        A = A.to(dtype)
    if ord not in ("fro", "nuc", 1, -1, 2, -2, math.inf, -math.inf):
        raise RuntimeError(f"linalg.matrix_norm: Order {ord} not supported.")
    L.check_matrices("matrix_norm", A, square=False)
    rows, cols = (d % A.ndim for d in dim)
    if ord == "fro":
        return vector_norm(A, 2, dim=(rows, cols), keepdim=keepdim)
    if ord in ("nuc", 2, -2):  # singular values of the matrices moved to the last two dims
        s = svdvals(A.movedim((rows, cols), (-2, -1)))
        out = s.sum(-1) if ord == "nuc" else (s.amax(-1) if ord == 2 else s.amin(-1))
        return _keep_dims(out, (rows, cols)) if keepdim else out
    summed, across = (rows, cols) if abs(ord) == 1 else (cols, rows)
    sums = A.abs().sum(dim=summed, keepdim=True)
    out = sums.amax(dim=across, keepdim=True) if ord > 0 else sums.amin(dim=across, keepdim=True)
    return out if keepdim else out.squeeze((rows, cols))


def _keep_dims(out, dims: tuple):
    for d in sorted(dims):
        out = out.unsqueeze(d)
    return out


def norm(A, ord=None, dim=None, keepdim: bool = False, *, dtype=None):  # noqa: A002
    """A vector norm (over all elements when ord and dim are None, or over one dim) or, for a
    2-tuple dim or a 2-D input with ord given, a matrix norm."""
    if isinstance(dim, int):
        dim = (dim,)
    two_dims = len(dim) == 2 if dim is not None else (ord is not None and A.ndim == 2)
    if two_dims:
        return matrix_norm(A, "fro" if ord is None else ord, dim or (-2, -1), keepdim, dtype=dtype)
    if ord is not None and not isinstance(ord, (int, float)):
        raise RuntimeError(f"linalg.norm: ord {ord!r} is a matrix norm; pass a 2-tuple dim")
    return vector_norm(A, 2 if ord is None else ord, dim, keepdim, dtype=dtype)
