"""linalg.qr's and linalg.eigh's backward against torch.autograd.grad: losses that do not
depend on the signs of Q's columns (R's rows) or of the eigenvectors, float64 tight and float32
looser, batched, both UPLO triangles, and PyTorch's errors (qr's mode="r", and mode="complete"
with more rows than columns)."""

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


# ---- qr ---------------------------------------------------------------------------------------
# Q D and D R (D = diag(+-1)) is the same factorization: these losses do not see D
QR_LOSSES = {
    "Q and R": lambda Q, R: (Q.unsqueeze(-1) * R.unsqueeze(-3)).sum(-2),  # Q_ik R_kj (no sum)
    "Q Q^T": lambda Q, R: Q @ Q.mT,
    "R^T R": lambda Q, R: R.mT @ R,
    "|R|": lambda Q, R: R.abs() + 0.0,
    "Q diag(R)": lambda Q, R: Q * R.diagonal(dim1=-2, dim2=-1).unsqueeze(-2)[..., : Q.shape[-1]],
}


@pytest.mark.parametrize("loss", sorted(QR_LOSSES))
@pytest.mark.parametrize("shape", [(5, 3), (4, 4), (3, 5), (2, 3, 6, 4), (2, 2, 6)])
def test_qr_gradient_matches_torch(loss, shape):
    f = QR_LOSSES[loss]
    a = RNG.standard_normal(shape)
    grads_agree(lambda x: f(*mt.linalg.qr(x)), lambda t: f(*torch.linalg.qr(t)), a)


@pytest.mark.filterwarnings("ignore:torch.qr is deprecated")
@pytest.mark.parametrize("shape", [(3, 5), (4, 4), (2, 3, 3)])
def test_qr_complete_gradient_where_m_le_n(shape):
    a = RNG.standard_normal(shape)
    f = QR_LOSSES["Q and R"]
    grads_agree(
        lambda x: f(*mt.linalg.qr(x, mode="complete")),
        lambda t: f(*torch.linalg.qr(t, mode="complete")),
        a,
    )
    grads_agree(lambda x: f(*mt.qr(x, some=False)), lambda t: f(*torch.qr(t, some=False)), a)


@pytest.mark.filterwarnings("ignore:torch.qr is deprecated")
def test_qr_one_output_and_old_api():
    a = RNG.standard_normal((6, 4))
    grads_agree(lambda x: mt.linalg.qr(x).R.abs(), lambda t: torch.linalg.qr(t).R.abs(), a)
    grads_agree(
        lambda x: mt.linalg.qr(x).Q @ mt.linalg.qr(x).Q.mT,
        lambda t: torch.linalg.qr(t).Q @ torch.linalg.qr(t).Q.mT,
        a,
    )
    f = QR_LOSSES["Q and R"]
    grads_agree(lambda x: f(*mt.qr(x)), lambda t: f(*torch.qr(t)), a)


def test_qr_float32_gradient():
    a = RNG.standard_normal((3, 5, 4)).astype(np.float32)
    f = QR_LOSSES["Q and R"]
    grads_agree(lambda x: f(*mt.linalg.qr(x)), lambda t: f(*torch.linalg.qr(t)), a, 1e-4, 1e-4)


def test_qr_gradient_errors_match_torch():
    x = mt.tensor(RNG.standard_normal((5, 3)), requires_grad=True)
    Q, R = mt.linalg.qr(x, mode="r")
    assert tuple(Q.shape) == (0,) and R.requires_grad
    with pytest.raises(RuntimeError, match="depends on Q, which is not computed when mode='r'"):
        R.sum().backward()
    Q, R = mt.linalg.qr(x, mode="complete")
    assert tuple(Q.shape) == (5, 5)
    with pytest.raises(RuntimeError, match="not differentiable when mode='complete' and nrows"):
        R.sum().backward()
    with pytest.raises(RuntimeError, match="not differentiable when mode='complete' and nrows"):
        mt.qr(x, some=False)[1].sum().backward()


def test_qr_without_grad_and_double_backward():
    x = mt.tensor(RNG.standard_normal((4, 3)))
    Q, R = mt.linalg.qr(x)
    assert not Q.requires_grad and not R.requires_grad
    np.testing.assert_allclose((Q @ R).numpy(), x.numpy(), atol=1e-12)
    # the backward is made of differentiable ops: a second-order gradient exists and matches
    a = RNG.standard_normal((4, 3))
    xm = mt.tensor(a, requires_grad=True)
    xt = torch.tensor(a, requires_grad=True)
    (gm,) = mt.autograd.grad((mt.linalg.qr(xm).R.abs() ** 3).sum(), xm, create_graph=True)
    (gt,) = torch.autograd.grad((torch.linalg.qr(xt).R.abs() ** 3).sum(), xt, create_graph=True)
    (hm,) = mt.autograd.grad((gm * gm).sum(), xm)
    (ht,) = torch.autograd.grad((gt * gt).sum(), xt)
    close(hm, ht, "second-order gradient", 1e-9, 1e-8)


# ---- eigh -------------------------------------------------------------------------------------
# v and -v are both eigenvectors: these losses do not see the sign
EIGH_LOSSES = {
    "eigenvalues": lambda w, V: w * 1.0,
    "V diag(w) V^T": lambda w, V: (V * w.unsqueeze(-2)) @ V.mT,
    "V V^T weighted": lambda w, V: (V * V.new_tensor(np.arange(V.shape[-1]) + 1.0)) @ V.mT,
    "V * V": lambda w, V: V * V,
    "w and V * V": lambda w, V: (V * V) * w.unsqueeze(-2),
}


def _sym(a):
    return a + np.swapaxes(a, -1, -2)


@pytest.mark.parametrize("loss", sorted(EIGH_LOSSES))
@pytest.mark.parametrize("shape", [(1, 1), (4, 4), (2, 3, 5, 5)])
@pytest.mark.parametrize("uplo", ["L", "U"])
def test_eigh_gradient_matches_torch(loss, shape, uplo):
    f = EIGH_LOSSES[loss]
    a = _sym(RNG.standard_normal(shape))
    grads_agree(
        lambda x: f(*mt.linalg.eigh(x, UPLO=uplo)),
        lambda t: f(*torch.linalg.eigh(t, UPLO=uplo)),
        a,
        atol=1e-9,
    )


@pytest.mark.parametrize("uplo", ["L", "U"])
def test_eigh_reads_one_triangle_and_its_gradient_is_symmetric_as_torch(uplo):
    a = RNG.standard_normal((5, 5))  # not symmetric: only the UPLO triangle is read
    f = EIGH_LOSSES["w and V * V"]
    grads_agree(
        lambda x: f(*mt.linalg.eigh(x, UPLO=uplo)),
        lambda t: f(*torch.linalg.eigh(t, UPLO=uplo)),
        a,
        atol=1e-9,
    )


def test_eigh_float32_gradient():
    a = _sym(RNG.standard_normal((3, 4, 4))).astype(np.float32)
    f = EIGH_LOSSES["w and V * V"]
    grads_agree(lambda x: f(*mt.linalg.eigh(x)), lambda t: f(*torch.linalg.eigh(t)), a, 1e-4, 1e-3)


def test_eigh_eigenvalues_gradient_agrees_with_eigvalsh():
    a = _sym(RNG.standard_normal((2, 4, 4)))
    w = mt.tensor(RNG.standard_normal((2, 4)))
    x = mt.tensor(a, requires_grad=True)
    (g1,) = mt.autograd.grad((mt.linalg.eigh(x).eigenvalues * w).sum(), x)
    (g2,) = mt.autograd.grad((mt.linalg.eigvalsh(x) * w).sum(), x)
    np.testing.assert_allclose(g1.numpy(), g2.numpy(), atol=1e-12)


def test_eigh_repeated_eigenvalues_as_torch():
    # the eigenvalues' gradient is defined; the eigenvectors' is not (nan, as PyTorch)
    x = mt.eye(3, dtype=mt.float64, requires_grad=True)
    (g,) = mt.autograd.grad(mt.linalg.eigh(x).eigenvalues.sum(), x)
    np.testing.assert_allclose(g.numpy(), np.eye(3))
    with np.errstate(all="ignore"):
        (g,) = mt.autograd.grad(mt.linalg.eigh(x).eigenvectors.sum(), x)
    assert np.isnan(g.numpy()).all()
