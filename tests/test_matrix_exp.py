"""linalg.matrix_exp / torch.matrix_exp / Tensor.matrix_exp against PyTorch: values (float64
tight, float32 looser), gradients, batches, errors; and linalg.svd's backward (pinverse's
gradient) on losses that do not depend on the singular vectors' signs."""

# NOTE: minitorch (numba/LLVM) is imported before torch (see DESIGN.md, LLVM load order).
import functools

import numpy as np
import parity
import pytest
from parity import close

import minitorch as mt

torch = pytest.importorskip("torch")

RNG = np.random.default_rng(0)


grads_agree = functools.partial(parity.grads_agree, rng=RNG)


@pytest.mark.parametrize("shape", [(1, 1), (4, 4), (2, 3, 5, 5)])
@pytest.mark.parametrize("scale", [0.0, 0.1, 1.0, 20.0])  # 20: scaled and squared several times
def test_values_and_gradients_match_torch_float64(shape, scale):
    a = RNG.standard_normal(shape) * scale
    tol = 1e-12 if scale <= 1 else 1e-9
    grads_agree(mt.linalg.matrix_exp, torch.linalg.matrix_exp, a, atol=tol, rtol=tol)


def test_float32_and_the_three_spellings():
    a = RNG.standard_normal((3, 6, 6)).astype(np.float32)
    want = torch.matrix_exp(torch.tensor(a))
    for f in (mt.matrix_exp, mt.linalg.matrix_exp, lambda x: x.matrix_exp()):
        y = f(mt.tensor(a))
        assert y.dtype == mt.float32
        close(y, want, "float32 value", atol=1e-5, rtol=1e-5)


def test_float32_gradient():
    a = RNG.standard_normal((5, 5)).astype(np.float32)
    grads_agree(mt.matrix_exp, torch.matrix_exp, a, atol=1e-4, rtol=1e-4)


def test_known_values():
    # exp of a skew-symmetric matrix is a rotation; of a nilpotent one, a finite series
    t = 0.7
    rot = mt.linalg.matrix_exp(mt.tensor([[0.0, -t], [t, 0.0]], dtype=mt.float64)).numpy()
    np.testing.assert_allclose(rot, [[np.cos(t), -np.sin(t)], [np.sin(t), np.cos(t)]], atol=1e-15)
    nil = mt.matrix_exp(mt.tensor([[0.0, 1.0], [0.0, 0.0]], dtype=mt.float64)).numpy()
    np.testing.assert_allclose(nil, [[1.0, 1.0], [0.0, 1.0]], atol=1e-15)


def test_second_derivative_matches_torch():
    a = RNG.standard_normal((3, 3))
    x = mt.tensor(a, requires_grad=True)
    t = torch.tensor(a, requires_grad=True)
    (g,) = mt.autograd.grad((mt.matrix_exp(x) ** 2).sum(), x, create_graph=True)
    (gt,) = torch.autograd.grad((torch.matrix_exp(t) ** 2).sum(), t, create_graph=True)
    (h,) = mt.autograd.grad(g.sum(), x)
    (ht,) = torch.autograd.grad(gt.sum(), t)
    close(h, ht, "second derivative", atol=1e-9, rtol=1e-9)


def test_errors_name_the_op_as_torch():
    with pytest.raises(RuntimeError, match="linalg.matrix_exp: A must be batches of square "):
        mt.matrix_exp(mt.ones(2, 3))
    with pytest.raises(RuntimeError, match="but they are 2 by 3 matrices"):
        mt.linalg.matrix_exp(mt.ones(4, 2, 3))
    with pytest.raises(RuntimeError, match="linalg.matrix_exp: The input tensor A must have at"):
        mt.matrix_exp(mt.ones(3))
    with pytest.raises(RuntimeError, match="linalg.matrix_exp: Expected a floating point"):
        mt.matrix_exp(mt.ones(2, 2, dtype=mt.int64))


# ---- linalg.svd's backward ------------------------------------------------------------------
def _k(U, S, Vh):
    """The reduced factors (full_matrices=True gives U and Vh extra columns / rows)."""
    k = S.shape[-1]
    return U[..., :k], S, Vh[..., :k, :]


def _rebuilt(U, S, Vh):
    return (U * S.unsqueeze(-2)) @ Vh


# losses that do not change when a singular pair (u_i, v_i) flips sign
SVD_LOSSES = {
    "S": lambda U, S, Vh: S,
    "rebuilt": lambda U, S, Vh: _rebuilt(U, S, Vh) ** 2,
    "U and Vh squared": lambda U, S, Vh: (
        (U * U * S.unsqueeze(-2)).sum(-1, keepdim=True) + (Vh * Vh).sum(-2, keepdim=True)
    ),
    "U only": lambda U, S, Vh: (U**2).sum(-2) ** 2,
    "Vh only": lambda U, S, Vh: (Vh**2).sum(-1) ** 2 * S,
}


@pytest.mark.parametrize("loss", list(SVD_LOSSES))
@pytest.mark.parametrize("shape", [(4, 4), (5, 3), (3, 5), (2, 4, 3)])
@pytest.mark.parametrize("full_matrices", [False, True])
def test_svd_gradient_matches_torch(loss, shape, full_matrices):
    a = RNG.standard_normal(shape)
    f = SVD_LOSSES[loss]
    grads_agree(
        lambda x: f(*_k(*mt.linalg.svd(x, full_matrices=full_matrices))),
        lambda t: f(*_k(*torch.linalg.svd(t, full_matrices=full_matrices))),
        a,
        atol=1e-9,
        rtol=1e-8,
    )


def test_old_svd_and_pinverse_gradients_match_torch():
    a = RNG.standard_normal((2, 5, 3))
    grads_agree(lambda x: mt.pinverse(x), lambda t: torch.pinverse(t), a, atol=1e-9, rtol=1e-8)
    grads_agree(
        lambda x: (lambda U, S, V: (U * S.unsqueeze(-2)) @ V.mT)(*mt.svd(x)),
        lambda t: (lambda U, S, V: (U * S.unsqueeze(-2)) @ V.mT)(*torch.svd(t)),
        a,
        atol=1e-9,
        rtol=1e-8,
    )


def test_svd_without_grad_is_unchanged():
    x = mt.tensor(RNG.standard_normal((3, 4)), requires_grad=True)
    with mt.no_grad():
        U, S, Vh = mt.linalg.svd(x)
    assert not (U.requires_grad or S.requires_grad or Vh.requires_grad)
    U, S, Vh = mt.linalg.svd(x)
    assert U.requires_grad and S.requires_grad and Vh.requires_grad
