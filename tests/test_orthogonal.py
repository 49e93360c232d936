"""nn.utils.parametrizations.orthogonal ("matrix_exp", "cayley", "householder") against
PyTorch: outputs and gradients over training steps, state_dict keys, assignment (right_inverse),
errors."""

# NOTE: minitorch (numba/LLVM) is imported before torch (see DESIGN.md, LLVM load order).
import numpy as np
import pytest

import minitorch as mt

torch = pytest.importorskip("torch")


def close(a, b, what, atol=1e-5, rtol=1e-4):
    a, b = a.detach().numpy(), b.detach().numpy()
    assert a.shape == b.shape, f"{what} shape mismatch: minitorch={a.shape} | torch={b.shape}"
    np.testing.assert_allclose(a, b, atol=atol, rtol=rtol, err_msg=what)


def _pair(in_f, out_f, orthogonal_map):
    """Linear(in_f, out_f) under orthogonal in both libraries, minitorch's state (base too)
    torch's."""
    torch.manual_seed(0)
    t = torch.nn.utils.parametrizations.orthogonal(
        torch.nn.Linear(in_f, out_f), "weight", orthogonal_map
    )
    m = mt.nn.utils.parametrizations.orthogonal(mt.nn.Linear(in_f, out_f), "weight", orthogonal_map)
    assert list(m.state_dict()) == list(t.state_dict())
    m.load_state_dict({k: mt.tensor(v.detach().numpy()) for k, v in t.state_dict().items()})
    return m, t


@pytest.mark.parametrize("orthogonal_map", ["matrix_exp", "cayley", "householder", None])
@pytest.mark.parametrize("in_f, out_f", [(4, 4), (3, 5), (5, 3)])
def test_training_steps_match_torch(orthogonal_map, in_f, out_f):
    m, t = _pair(in_f, out_f, orthogonal_map)
    x = np.random.default_rng(0).standard_normal((6, in_f)).astype(np.float32)
    opt_m = mt.optim.SGD(m.parameters(), lr=0.1)
    opt_t = torch.optim.SGD(t.parameters(), lr=0.1)
    for step in range(3):
        w = m.weight
        k = min(w.shape)
        eye = mt.eye(k)
        gram = w.T @ w if w.shape[0] >= w.shape[1] else w @ w.T
        assert ((gram - eye).abs() < 1e-5).all().item(), f"step {step}: not orthogonal"
        ym, yt = m(mt.tensor(x)), t(torch.tensor(x))
        close(ym, yt, f"step {step} output")
        (ym**3).sum().backward()
        (yt**3).sum().backward()
        for (name, p), q in zip(m.named_parameters(), t.parameters()):
            # (matrix_exp: minitorch computes exp in float64, PyTorch in float32; gradients of
            # size ~100 after two steps differ by ~1e-4 relative)
            rtol = 1e-3 if orthogonal_map in ("matrix_exp", None) else 1e-4
            close(p.grad, q.grad, f"step {step} grad of {name}", atol=1e-4, rtol=rtol)
        opt_m.step()
        opt_t.step()
        opt_m.zero_grad()
        opt_t.zero_grad()


@pytest.mark.parametrize("orthogonal_map", ["matrix_exp", "cayley", "householder"])
def test_assigning_a_matrix_keeps_its_orthogonal_factor_as_torch(orthogonal_map):
    m, t = _pair(3, 5, orthogonal_map)
    a = np.random.default_rng(1).standard_normal((5, 3)).astype(np.float32)
    q = np.linalg.qr(a)[0].astype(np.float32)
    for value, what in ((a, "a general matrix"), (q, "an orthogonal matrix")):
        with mt.no_grad():
            m.weight = mt.tensor(value)
        with torch.no_grad():
            t.weight = torch.tensor(value)
        close(m.weight, t.weight, f"weight after assigning {what}")
        close(m.parametrizations.weight.original, t.parametrizations.weight.original, "original")
    close(m.weight, mt.tensor(q), "an orthogonal matrix comes back as itself")


def test_errors():
    orthogonal = mt.nn.utils.parametrizations.orthogonal
    with pytest.raises(NotImplementedError, match="use_trivialization=False"):
        orthogonal(mt.nn.Linear(3, 4), use_trivialization=False)
    with pytest.raises(ValueError, match='has to be one of "matrix_exp"'):
        orthogonal(mt.nn.Linear(3, 4), orthogonal_map="qr")
    with pytest.raises(ValueError, match="Got a tensor of 1 dimensions"):
        orthogonal(mt.nn.Linear(3, 4), "bias")
    m = orthogonal(mt.nn.Linear(3, 4))
    with pytest.raises(ValueError, match="Expected a matrix or batch of matrices of shape"):
        with mt.no_grad():
            m.weight = mt.ones(3, 4)


def test_square_default_is_matrix_exp_as_torch():
    m, t = _pair(4, 4, None)
    assert m.parametrizations.weight[0].orthogonal_map == "matrix_exp"
    assert t.parametrizations.weight[0].orthogonal_map.name == "matrix_exp"


def test_matrix_exp_map_on_a_batch_of_matrices_matches_torch():
    rng = np.random.default_rng(2)
    w = rng.standard_normal((2, 3, 5, 4)).astype(np.float32)  # a batch of tall matrices
    x = rng.standard_normal((2, 3, 5, 4)).astype(np.float32) * 0.3  # a trained `original`
    tm, mm = torch.nn.Module(), mt.nn.Module()
    tm.weight = torch.nn.Parameter(torch.tensor(w))
    mm.weight = mt.nn.Parameter(mt.tensor(w))
    torch.nn.utils.parametrizations.orthogonal(tm, orthogonal_map="matrix_exp")
    mt.nn.utils.parametrizations.orthogonal(mm, orthogonal_map="matrix_exp")
    mm.load_state_dict({k: mt.tensor(v.detach().numpy()) for k, v in tm.state_dict().items()})
    with torch.no_grad():
        tm.parametrizations.weight.original.copy_(torch.tensor(x))
    with mt.no_grad():
        mm.parametrizations.weight.original.copy_(mt.tensor(x))
    close(mm.weight, tm.weight, "parametrized weight")
    (mm.weight**3).sum().backward()
    (tm.weight**3).sum().backward()
    close(
        mm.parametrizations.weight.original.grad,
        tm.parametrizations.weight.original.grad,
        "grad of original",
        atol=1e-4,
    )
