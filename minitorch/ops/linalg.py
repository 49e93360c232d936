"""Linear algebra ops: einsum (forward by numpy's optimised einsum, backward by einsum with
swapped roles), and minitorch.linalg's factorizations and solves (numpy's LAPACK forward,
gradients from the standard formulas, written with ops)."""

from __future__ import annotations

import string

import numpy as np

from .. import dtypes
from .registry import Meta, Op, apply, register


def parse_equation(equation: str, n: int) -> tuple[list[str], str]:
    """The operands' subscripts and the output's (implicit output: letters seen once, sorted)."""
    lhs, arrow, rhs = equation.partition("->")
    subs = _operand_subscripts(lhs, n)
    if not arrow:
        rhs = _seen_once("".join(subs))
    return subs, rhs


def _operand_subscripts(lhs: str, n: int) -> list[str]:
    subs = lhs.split(",")
    if len(subs) != n:
        raise RuntimeError(f"einsum(): {len(subs)} operand subscripts for {n} operands")
    return subs


def _seen_once(letters: str) -> str:
    """An implicit output's letters: those that appear once, sorted."""
    return "".join(sorted(c for c in set(letters) if letters.count(c) == 1))


def spell_ellipsis(equation: str, ranks: list[int]) -> str:
    """equation with each "..." written out as letters it does not use: the dims an operand's
    letters leave over, aligned from the right as broadcasting aligns them. An implicit output
    gets PyTorch's order: the ellipsis dims, then the letters seen once, sorted."""
    if "." not in equation:
        return equation
    lhs, arrow, rhs = equation.partition("->")
    subs = _operand_subscripts(lhs, len(ranks))
    spans = []
    for k, (s, rank) in enumerate(zip(subs, ranks)):
        if s.count("...") > 1 or "." in s.replace("...", "", 1):
            raise RuntimeError(f"einsum(): operand {k} has a '.' that is not part of one ellipsis")
        named = len(s) - 3 if "..." in s else len(s)
        if named > rank:
            raise RuntimeError(
                f"einsum(): the number of subscripts in the equation ({named}) is more than the "
                f"number of dimensions ({rank}) for operand {k}"
            )
        spans.append(rank - named if "..." in s else 0)
    free = [c for c in string.ascii_letters if c not in equation]
    dims = "".join(free[: max(spans)])
    subs = [s.replace("...", dims[len(dims) - n :]) for s, n in zip(subs, spans)]
    if not arrow:
        rhs = dims + _seen_once(lhs.replace("...", "").replace(",", ""))
    return ",".join(subs) + "->" + rhs.replace("...", dims)


def letter_sizes(subs: list[str], operands) -> dict[str, int]:
    """Each subscript letter's size across the operands: a size-1 dim broadcasts, whichever
    operand has it; other differing sizes raise PyTorch's error."""
    sizes = {}
    for s, x in zip(subs, operands):
        for c, n in zip(s, x.shape):
            have = sizes.setdefault(c, n)
            if have == 1:
                sizes[c] = n
            elif n not in (1, have):
                raise RuntimeError(f"einsum(): operands do not broadcast for subscript {c}")
    return sizes


class Einsum(Op):
    name = "einsum"
    save = (0, 1)

    def infer(self, *xs, equation):
        subs, rhs = parse_equation(equation, len(xs))
        for s, x in zip(subs, xs):
            if len(s) != x.ndim:
                raise RuntimeError(
                    f"einsum(): the number of subscripts in the equation ({len(s)}) does not "
                    f"match the number of dimensions ({x.ndim}) for operand {subs.index(s)}"
                )
        for k, (s, x) in enumerate(zip(subs, xs)):
            _check_diagonal(s, tuple(x.shape), k)
        sizes = letter_sizes(subs, xs)
        return Meta(tuple(sizes[c] for c in rhs), dtypes.result_type(*xs))

    def forward(self, meta, *arrays, equation):
        subs, rhs = parse_equation(equation, len(arrays))
        arrays = [a.astype(meta.dtype.np, copy=False) for a in arrays]
        return np.asarray(np.einsum(f"{','.join(subs)}->{rhs}", *arrays, optimize=True))

    def backward(self, ctx, grad):
        subs, rhs = parse_equation(ctx.params["equation"], len(ctx.inputs))
        grads = []
        # NOTE: each operand's gradient is built at its letters' broadcast sizes; the engine
        # sums it back over the operand's size-1 dims
        size = letter_sizes(subs, ctx.inputs)
        for i, (s, x) in enumerate(zip(subs, ctx.inputs)):
            u = "".join(dict.fromkeys(s))  # s without repeats ("ii" -> "i": a diagonal)
            others = [(subs[j], ctx.inputs[j]) for j in range(len(subs)) if j != i]
            eq = ",".join([rhs] + [o for o, _ in others]) + "->" + u
            missing = [c for c in u if c not in rhs and all(c not in o for o, _ in others)]
            g = apply(self, grad, *[t for _, t in others], equation=_fill(eq, missing))
            if missing:  # re-insert the dims only this operand summed over, then broadcast
                g = g.reshape([1 if c in missing else size[c] for c in u])
                g = g.expand([size[c] for c in u])
            grads.append(g if u == s else _on_diagonal(g, s, tuple(x.shape)))
        return tuple(grads)


def _check_diagonal(s: str, shape: tuple, k: int) -> None:
    """A letter repeated within one operand (a diagonal) needs equal sizes: no broadcasting."""
    for d, c in enumerate(s):
        first = s.index(c)
        if shape[d] != shape[first]:
            raise RuntimeError(
                f"einsum(): subscript {c} is repeated for operand {k} but the sizes don't "
                f"match, {shape[d]} != {shape[first]}"
            )


def _on_diagonal(g, s: str, shape: tuple):
    """The gradient of an operand with repeated subscripts (e.g. "ii"): g (over the distinct
    letters, in order of first occurrence) on the diagonal positions, zero elsewhere."""
    first = [s.index(c) for c in s]
    g = g.reshape([n if f == k else 1 for k, (n, f) in enumerate(zip(shape, first))])
    idx = np.indices(shape)
    on = np.logical_and.reduce([idx[k] == idx[f] for k, f in enumerate(first)])
    return g.expand(shape) * g.new_tensor(on)


def _fill(eq, missing):
    # a letter summed away in only this operand gets its gradient by broadcasting (expand)
    if not missing:
        return eq
    lhs, rhs = eq.split("->")
    return lhs + "->" + "".join(c for c in rhs if c not in missing)


einsum_op = register(Einsum())


# ---- minitorch.linalg: factorizations and solves on numpy's LAPACK ------------------------------
class LinAlgError(RuntimeError):
    """A matrix that the operation cannot handle (singular, not positive-definite): PyTorch's
    torch.linalg.LinAlgError, a RuntimeError."""


def check_matrices(op: str, *tensors, square: bool = True) -> None:
    """PyTorch's checks of linalg inputs: float, at least 2-D, square where asked."""
    for a in tensors:
        if a.ndim < 2:
            raise RuntimeError(
                f"linalg.{op}: The input tensor A must have at least 2 dimensions (got shape "
                f"{tuple(a.shape)})."
            )
        if not a.dtype.is_floating_point:
            raise RuntimeError(
                f"linalg.{op}: Expected a floating point or complex tensor as input. Got "
                f"{a.dtype}; convert it with .float()"
            )
        if square and a.shape[-1] != a.shape[-2]:
            raise RuntimeError(
                f"linalg.{op}: A must be batches of square matrices, but they are "
                f"{a.shape[-2]} by {a.shape[-1]} matrices"
            )


class Lapack(Op):
    """One numpy.linalg call on a batch of matrices (the last two dims).

    `shapes(shape, **params)` gives the output shapes; `gradient(ctx, *grads)`, when given,
    the input's gradient from the outputs' (a tuple for several), else backward says that
    minitorch has none.
    """

    def __init__(self, name, fn, shapes, gradient=None, n_outputs=1, square=True, save_out=False):
        self.name = name  # "linalg_inv": PyTorch's user-facing name is "linalg.inv"
        self.fn = fn
        self.shapes = shapes
        self.gradient = gradient
        self.n_outputs = n_outputs
        self.square = square
        self.save = (0,) if gradient else ()
        self.save_out = save_out

    @property
    def label(self) -> str:
        return self.name.replace("_", ".", 1)

    def infer(self, a, **params):
        check_matrices(self.name.removeprefix("linalg_"), a, square=self.square)
        shapes = self.shapes(tuple(a.shape), **params)
        if self.n_outputs == 1:
            return Meta(shapes, a.dtype)
        return tuple(Meta(s, a.dtype) for s in shapes)

    def forward(self, meta, a, **params):
        try:
            out = self.fn(a, **params)
        except np.linalg.LinAlgError as e:
            raise LinAlgError(
                f"{self.label}: {e} (input of shape {a.shape}); the matrix is singular or not "
                "positive-definite"
            ) from None
        if isinstance(out, tuple):
            return tuple(np.asarray(o, m.dtype.np) for o, m in zip(out, meta))
        return np.asarray(out, meta.dtype.np)

    def backward(self, ctx, grad):
        if self.gradient is None:
            raise NotImplementedError(
                f"{self.label}: minitorch has no gradient for this op yet; detach its input "
                "(A.detach()) or compute what you need from ops that have one"
            )
        return self.gradient(ctx, grad)


def _same(shape, **_):
    return shape


def _batch(shape, **_):
    return shape[:-2]


def _inv_grad(ctx, g):
    a_inv = ctx.out.mT
    return -(a_inv @ g @ a_inv)


def _det_grad(ctx, g):
    (a,) = ctx.inputs
    return (g * ctx.out)[..., None, None] * apply(inv, a).mT


def _slogdet_grad(ctx, g):  # g: the gradient of logabsdet (sign has none)
    (a,) = ctx.inputs
    return g[..., None, None] * apply(inv, a).mT


def _cholesky_grad(ctx, g):
    # A = L L^T: gA = sym(L^-T phi(L^T gL) L^-1), phi = lower triangle with the diagonal halved
    low = ctx.out
    n = low.shape[-1]
    phi = low.new_tensor(np.tril(np.ones((n, n))) - 0.5 * np.eye(n))
    l_inv = apply(inv, low)
    s = l_inv.mT @ ((low.mT @ g) * phi) @ l_inv
    return (s + s.mT) * 0.5


def _svdvals_grad(ctx, g):
    u, _, vh = apply(svd, ctx.inputs[0], full_matrices=False)
    return (u * g.unsqueeze(-2)) @ vh


def _eigvalsh_grad(ctx, g):
    _, v = apply(eigh, ctx.inputs[0], UPLO=ctx.params.get("UPLO", "L"))
    return (v * g.unsqueeze(-2)) @ v.mT


def _qr_shapes(shape, mode="reduced"):
    m, n = shape[-2:]
    k = min(m, n)
    if mode == "r":
        return (0,), shape[:-2] + (k, n)
    cols = m if mode == "complete" else k
    return shape[:-2] + (m, cols), shape[:-2] + (cols, n)


def _qr(a, mode="reduced"):
    if mode == "r":  # PyTorch returns an empty Q
        return np.zeros((0,), a.dtype), np.linalg.qr(a, mode="r")
    return tuple(np.linalg.qr(a, mode=mode))


def _svd_shapes(shape, full_matrices=True):
    m, n = shape[-2:]
    k = min(m, n)
    batch = shape[:-2]
    u_cols, vh_rows = (m, n) if full_matrices else (k, k)
    return batch + (m, u_cols), batch + (k,), batch + (vh_rows, n)


inv = register(Lapack("linalg_inv", np.linalg.inv, _same, _inv_grad, save_out=True))
det = register(Lapack("linalg_det", np.linalg.det, _batch, _det_grad, save_out=True))
slogdet = register(
    Lapack(
        "linalg_slogdet",
        lambda a: tuple(reversed(np.linalg.slogdet(a))),  # (logabsdet, sign): the first is
        lambda shape: (shape[:-2], shape[:-2]),  # the differentiable output
        _slogdet_grad,
        n_outputs=2,
    )
)
cholesky = register(
    Lapack("linalg_cholesky", np.linalg.cholesky, _same, _cholesky_grad, save_out=True)
)
qr = register(Lapack("linalg_qr", _qr, _qr_shapes, n_outputs=2, square=False))
svd = register(
    Lapack(
        "linalg_svd",
        lambda a, full_matrices=True: tuple(np.linalg.svd(a, full_matrices=full_matrices)),
        _svd_shapes,
        n_outputs=3,
        square=False,
    )
)
svdvals = register(
    Lapack(
        "linalg_svdvals",
        lambda a: np.linalg.svd(a, compute_uv=False),
        lambda shape: shape[:-2] + (min(shape[-2:]),),
        _svdvals_grad,
        square=False,
    )
)
eigh = register(
    Lapack(
        "linalg_eigh",
        lambda a, UPLO="L": tuple(np.linalg.eigh(a, UPLO=UPLO)),  # noqa: N803  (PyTorch's name)
        lambda shape, UPLO="L": (shape[:-1], shape),  # noqa: N803
        n_outputs=2,
    )
)
eigvalsh = register(
    Lapack(
        "linalg_eigvalsh",
        lambda a, UPLO="L": np.linalg.eigvalsh(a, UPLO=UPLO),  # noqa: N803
        lambda shape, UPLO="L": shape[:-1],  # noqa: N803
        _eigvalsh_grad,
    )
)


class Solve(Op):
    """X with A X = B for a batch of square A and matrices B (batch dims broadcast)."""

    name = "linalg_solve"
    save = (0,)
    save_out = True

    def infer(self, a, b):
        check_matrices("solve", a)
        check_matrices("solve", b, square=False)
        if a.dtype is not b.dtype:
            raise RuntimeError(
                "linalg.solve: Expected A and B to have the same dtype, but found A of type "
                f"{a.dtype} and B of type {b.dtype} instead; convert one with .to()"
            )
        if b.shape[-2] != a.shape[-1]:
            raise RuntimeError(
                "linalg.solve: Incompatible shapes of A and B for the equation AX = B "
                f"({_mat(a.shape)} and {_mat(b.shape)})"
            )
        from .elementwise import broadcast_shapes  # noqa: PLC0415

        batch = broadcast_shapes(a.shape[:-2], b.shape[:-2], op="linalg.solve")
        return Meta(batch + tuple(b.shape[-2:]), a.dtype)

    def forward(self, meta, a, b):
        a, b = np.broadcast_to(a, meta.shape[:-2] + a.shape[-2:]), np.broadcast_to(b, meta.shape)
        try:
            return np.linalg.solve(a, b).astype(meta.dtype.np, copy=False)
        except np.linalg.LinAlgError as e:
            raise LinAlgError(f"linalg.solve: {e}: the matrix A is singular") from None

    def backward(self, ctx, grad):
        a, _ = ctx.inputs
        g_b = apply(self, a.mT, grad)
        return -(g_b @ ctx.out.mT), g_b


def _mat(shape) -> str:
    return "x".join(str(n) for n in shape[-2:])


solve = register(Solve())


# ---- matrix_exp: scaling and squaring over a Pade approximant -----------------------------------
# Higham (2005), "The scaling and squaring method for the matrix exponential revisited": the
# [13/13] Pade approximant is accurate to float64's eps for 1-norms up to theta13; a larger
# matrix is scaled by 2^-s into that range and the result squared s times.
_PADE13 = (
    64764752532480000.0,
    32382376266240000.0,
    7771770303897600.0,
    1187353796428800.0,
    129060195264000.0,
    10559470521600.0,
    670442572800.0,
    33522128640.0,
    1323241920.0,
    40840800.0,
    960960.0,
    16380.0,
    182.0,
    1.0,
)
_THETA13 = 5.371920351148152


def expm(a: np.ndarray) -> np.ndarray:
    """exp of each square matrix in a (..., n, n), computed in float64."""
    a = np.array(a, dtype=np.float64)  # a copy: scaled in place below
    if a.size == 0:
        return a
    norms = np.abs(a).sum(axis=-2).max(axis=-1)  # the 1-norm of each matrix
    with np.errstate(divide="ignore", invalid="ignore"):
        s = np.ceil(np.log2(norms / _THETA13))
    s = np.where(np.isfinite(s) & (s > 0), s, 0).astype(np.int64)  # (inf/nan: propagate)
    a *= np.exp2(-s.astype(np.float64))[..., None, None]
    b = _PADE13
    ident = np.eye(a.shape[-1])
    a2 = a @ a
    a4 = a2 @ a2
    a6 = a4 @ a2
    u = a @ (
        a6 @ (b[13] * a6 + b[11] * a4 + b[9] * a2)
        + b[7] * a6
        + b[5] * a4
        + b[3] * a2
        + b[1] * ident
    )
    v = a6 @ (b[12] * a6 + b[10] * a4 + b[8] * a2) + b[6] * a6 + b[4] * a4 + b[2] * a2
    v = v + b[0] * ident
    r = np.linalg.solve(v - u, v + u)
    for step in range(int(s.max(initial=0))):  # square each matrix its own s times
        more = s > step
        r[more] = r[more] @ r[more]
    return r


class MatrixExp(Op):
    """exp(A) = sum A^k / k! of each square matrix in A (..., n, n)."""

    name = "linalg_matrix_exp"
    save = (0,)

    def infer(self, a):
        check_matrices("matrix_exp", a)
        return Meta(tuple(a.shape), a.dtype)

    def forward(self, meta, a):
        return expm(a).astype(meta.dtype.np, copy=False)

    def backward(self, ctx, grad):
        # the Frechet derivative of exp at A^T applied to grad is the upper-right block of
        # exp([[A^T, grad], [0, A^T]]) (Mathias 1996; PyTorch computes it the same way)
        from ..functional import cat  # noqa: PLC0415

        (a,) = ctx.inputs
        n = a.shape[-1]
        at = a.mT.expand(*grad.shape)
        top = cat([at, grad], dim=-1)
        bottom = cat([at.new_zeros(*grad.shape), at], dim=-1)
        return (apply(self, cat([top, bottom], dim=-2))[..., :n, n:],)


matrix_exp = register(MatrixExp())
