"""nn.utils.parametrize and nn.utils.parametrizations (weight_norm, spectral_norm) against
PyTorch: values, gradients, state_dict keys, parameter names and order, errors; and a
parametrized model trained by minitorch.compile equal bit for bit to eager."""

# NOTE: minitorch (numba/LLVM) is imported before torch (see DESIGN.md, LLVM load order).
import copy
import pickle

import numpy as np
import pytest

import minitorch as mt
import minitorch.nn.functional as MF
import minitorch.nn.utils.parametrize as MP
from minitorch.nn.utils import parametrizations as MZ

torch = pytest.importorskip("torch")
TP = torch.nn.utils.parametrize
TZ = torch.nn.utils.parametrizations


def close(a, b, what="", atol=1e-5, rtol=1e-4):
    a, b = a.detach().numpy(), b.detach().numpy()
    assert a.shape == b.shape, f"{what} shape mismatch: minitorch={a.shape} | torch={b.shape}"
    np.testing.assert_allclose(a, b, atol=atol, rtol=rtol, err_msg=what)


def _to_mt(state: dict) -> dict:
    return {k: mt.tensor(v.detach().numpy()) for k, v in state.items()}


def _pair(make):
    """make(lib) on both libraries, minitorch's state loaded from torch's."""
    t, m = make(torch), make(mt)
    m.load_state_dict(_to_mt(t.state_dict()))
    return m, t


def _symmetric(lib):
    class Symmetric(lib.nn.Module):
        def forward(self, X):
            return X.triu() + X.triu(1).T

        def right_inverse(self, A):
            return A.triu()

    return Symmetric()


def _rank_one(lib):
    class RankOne(lib.nn.Module):
        def forward(self, x, y):
            return x.unsqueeze(-1) @ y.unsqueeze(-2)

        def right_inverse(self, Z):
            return Z.sum(1), Z.sum(0)

    return RankOne()


def _scale(lib, factor=2.0):
    class Scale(lib.nn.Module):
        def forward(self, X):
            return X * factor

        def right_inverse(self, Y):
            return Y / factor

    return Scale()


def _names(module):
    return [n for n, _ in module.named_parameters()]


def _compare_forward_backward(m, t, x_np):
    xm, xt = mt.tensor(x_np, requires_grad=True), torch.tensor(x_np, requires_grad=True)
    ym, yt = m(xm), t(xt)
    close(ym, yt, "output")
    (ym * ym).sum().backward()
    (yt * yt).sum().backward()
    close(xm.grad, xt.grad, "input grad")
    grads_t = dict(t.named_parameters())
    for name, p in m.named_parameters():
        close(p.grad, grads_t[name].grad, f"grad of {name}")


X = np.random.default_rng(0).standard_normal((5, 4)).astype(np.float32)


# ---- parametrize -----------------------------------------------------------------------------


def test_symmetric_weight_layout_values_and_gradients_match_torch():
    def make(lib):
        lib.manual_seed(0)
        module = lib.nn.Linear(4, 4)
        return lib.nn.utils.parametrize.register_parametrization(module, "weight", _symmetric(lib))

    m, t = _pair(make)
    assert type(m).__name__ == type(t).__name__ == "ParametrizedLinear"
    assert isinstance(m, mt.nn.Linear)
    assert _names(m) == _names(t) == ["bias", "parametrizations.weight.original"]
    assert list(m.state_dict()) == list(t.state_dict())
    assert repr(m) == repr(t)
    assert MP.is_parametrized(m) and MP.is_parametrized(m, "weight")
    assert not MP.is_parametrized(m, "bias")
    assert MP.type_before_parametrizations(m) is mt.nn.Linear
    close(m.weight, t.weight, "weight")
    _compare_forward_backward(m, t, X)


def test_assignment_goes_through_right_inverse_and_keeps_the_original_object():
    m = MP.register_parametrization(mt.nn.Linear(3, 3), "weight", _symmetric(mt))
    t = TP.register_parametrization(torch.nn.Linear(3, 3), "weight", _symmetric(torch))
    original = m.parametrizations.weight.original
    a = np.arange(9, dtype=np.float32).reshape(3, 3)
    m.weight = mt.tensor(a)
    t.weight = torch.tensor(a)
    assert m.parametrizations.weight.original is original
    close(m.parametrizations.weight.original, t.parametrizations.weight.original, "original")
    close(m.weight, t.weight, "weight")
    with pytest.raises(KeyError):  # a Parameter would replace the property: refused, as torch
        m.weight = mt.nn.Parameter(mt.tensor(a))
    with pytest.raises(KeyError):
        t.weight = torch.nn.Parameter(torch.tensor(a))


def test_right_inverse_returning_a_tuple_registers_original0_original1():
    def make(lib):
        lib.manual_seed(0)
        return lib.nn.utils.parametrize.register_parametrization(
            lib.nn.Linear(4, 4), "weight", _rank_one(lib)
        )

    m, t = _pair(make)
    assert _names(m) == _names(t)
    assert _names(m) == [
        "bias",
        "parametrizations.weight.original0",
        "parametrizations.weight.original1",
    ]
    assert list(m.state_dict()) == list(t.state_dict())
    _compare_forward_backward(m, t, X)
    for lib, module in ((MP, m), (TP, t)):
        with pytest.raises(ValueError, match="leave_parametrized=False"):
            lib.remove_parametrizations(module, "weight", leave_parametrized=False)
    MP.remove_parametrizations(m, "weight")
    TP.remove_parametrizations(t, "weight")
    assert _names(m) == _names(t) == ["bias", "weight"]
    close(m.weight, t.weight, "weight after removal")


def test_chained_parametrizations_apply_in_registration_order():
    def make(lib):
        lib.manual_seed(0)
        module = lib.nn.Linear(4, 4)
        lib.nn.utils.parametrize.register_parametrization(module, "weight", _symmetric(lib))
        return lib.nn.utils.parametrize.register_parametrization(module, "weight", _scale(lib))

    m, t = _pair(make)
    assert repr(m) == repr(t)
    assert list(m.state_dict()) == list(t.state_dict())
    _compare_forward_backward(m, t, X)
    a = np.eye(4, dtype=np.float32) * 3
    m.weight, t.weight = mt.tensor(a), torch.tensor(a)
    close(m.parametrizations.weight.original, t.parametrizations.weight.original, "original")


@pytest.mark.parametrize("leave_parametrized", [True, False])
def test_remove_parametrizations_restores_the_class_and_a_plain_parameter(leave_parametrized):
    def make(lib):
        lib.manual_seed(0)
        return lib.nn.utils.parametrize.register_parametrization(
            lib.nn.Linear(4, 3), "weight", _scale(lib)
        )

    m, t = _pair(make)
    original = m.parametrizations.weight.original
    MP.remove_parametrizations(m, "weight", leave_parametrized=leave_parametrized)
    TP.remove_parametrizations(t, "weight", leave_parametrized=leave_parametrized)
    assert type(m) is mt.nn.Linear and not MP.is_parametrized(m)
    assert not hasattr(m, "parametrizations")
    assert m.weight is original  # an optimizer holding it keeps training the module
    assert _names(m) == _names(t) == ["bias", "weight"]
    close(m.weight, t.weight, "weight")


def test_buffers_can_be_parametrized():
    m, t = mt.nn.BatchNorm1d(3), torch.nn.BatchNorm1d(3)
    MP.register_parametrization(m, "running_var", _scale(mt))
    TP.register_parametrization(t, "running_var", _scale(torch))
    assert list(m.state_dict()) == list(t.state_dict())
    assert [n for n, _ in m.named_buffers()] == [n for n, _ in t.named_buffers()]
    close(m.running_var, t.running_var, "running_var")


def _shape_changing(lib):
    class FirstRow(lib.nn.Module):
        def forward(self, X):
            return X[0]

    return FirstRow()


def _errors(lib):
    return [
        lambda: lib.nn.utils.parametrize.register_parametrization(
            lib.nn.Linear(3, 3), "weight", _shape_changing(lib)
        ),
        lambda: lib.nn.utils.parametrize.register_parametrization(
            lib.nn.Linear(3, 3), "nothing", _scale(lib)
        ),
        lambda: lib.nn.utils.parametrize.remove_parametrizations(lib.nn.Linear(3, 3), "weight"),
        lambda: lib.nn.utils.parametrizations.spectral_norm(
            lib.nn.Linear(3, 3), n_power_iterations=0
        ),
        lambda: lib.nn.utils.parametrizations.spectral_norm(lib.nn.Linear(3, 3), dim=2),
        lambda: lib.nn.utils.parametrizations.spectral_norm(lib.nn.Linear(3, 3), name="nothing"),
    ]


@pytest.mark.parametrize("case", range(len(_errors(torch))))
def test_errors_match_torch(case):
    with pytest.raises(Exception) as t_err:
        _errors(torch)[case]()
    with pytest.raises(t_err.type):
        _errors(mt)[case]()


def test_unsafe_allows_a_shape_change():
    m = MP.register_parametrization(mt.nn.Linear(3, 3), "weight", _shape_changing(mt), unsafe=True)
    assert m.weight.shape == (3,)


def test_cached_computes_the_weight_once_per_block():
    m = MP.register_parametrization(mt.nn.Linear(3, 3), "weight", _scale(mt))
    assert m.weight is not m.weight
    with MP.cached():
        w = m.weight
        assert m.weight is w
        with MP.cached():  # nested blocks share the cache
            assert m.weight is w
        assert m.weight is w
    assert m.weight is not w


def test_deepcopy_works_and_pickle_refuses_like_torch():
    m = MP.register_parametrization(mt.nn.Linear(3, 3), "weight", _scale(mt))
    c = copy.deepcopy(m)
    assert type(c) is type(m)
    assert c.parametrizations.weight.original is not m.parametrizations.weight.original
    np.testing.assert_array_equal(c.weight.detach().numpy(), m.weight.detach().numpy())
    with pytest.raises(RuntimeError, match="state_dict"):
        pickle.dumps(m)


def test_training_mode_follows_the_module():
    m = mt.nn.Linear(3, 3).eval()
    scale = _scale(mt)
    MP.register_parametrization(m, "weight", scale)
    assert not scale.training
    m.train()
    assert scale.training


# ---- weight_norm -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    "layer, dim, shape",
    [
        ("Linear", 0, (5, 4)),
        ("Linear", 1, (5, 4)),
        ("Linear", None, (5, 4)),
        ("Conv2d", 0, (2, 3, 6, 6)),
    ],
)
def test_weight_norm_matches_torch(layer, dim, shape):
    def make(lib):
        lib.manual_seed(0)
        module = lib.nn.Linear(4, 3) if layer == "Linear" else lib.nn.Conv2d(3, 4, 3)
        return lib.nn.utils.parametrizations.weight_norm(module, dim=dim)

    m, t = _pair(make)
    assert _names(m) == _names(t)
    assert list(m.state_dict()) == list(t.state_dict())
    pm, pt = m.parametrizations.weight, t.parametrizations.weight
    assert pm.original0.shape == pt.original0.shape
    x = np.random.default_rng(1).standard_normal(shape).astype(np.float32)
    _compare_forward_backward(m, t, x)
    a = np.random.default_rng(2).standard_normal(tuple(t.weight.shape)).astype(np.float32)
    m.weight, t.weight = mt.tensor(a), torch.tensor(a)  # right_inverse: g = ||w||, v = w
    close(pm.original0, pt.original0, "g")
    close(m.weight, t.weight, "weight")


def test_weight_norm_loads_a_state_dict_of_the_old_weight_g_weight_v_layout():
    torch.manual_seed(0)
    old = torch.nn.Linear(4, 3)
    g = torch.rand(3, 1) + 0.5
    sd = {"weight_g": g, "weight_v": old.weight.detach(), "bias": old.bias.detach()}
    m = MZ.weight_norm(mt.nn.Linear(4, 3))
    t = TZ.weight_norm(torch.nn.Linear(4, 3))
    m.load_state_dict(_to_mt(sd))
    t.load_state_dict(sd)
    close(m.weight, t.weight, "weight")


# ---- spectral_norm ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    "layer, n_power_iterations, shape",
    [
        ("Linear", 1, (5, 4)),
        ("Linear", 3, (5, 4)),
        ("Conv2d", 1, (2, 3, 6, 6)),
        ("ConvTranspose2d", 2, (2, 3, 5, 5)),  # the output dim is 1 there
    ],
)
def test_spectral_norm_power_iteration_matches_torch(layer, n_power_iterations, shape):
    def make(lib):
        lib.manual_seed(0)
        module = getattr(lib.nn, layer)(*((4, 3) if layer == "Linear" else (3, 4, 3)))
        return lib.nn.utils.parametrizations.spectral_norm(
            module, n_power_iterations=n_power_iterations
        )

    m, t = _pair(make)  # the same weights and the same u, v
    assert _names(m) == _names(t)
    assert list(m.state_dict()) == list(t.state_dict())
    assert [n for n, _ in m.named_buffers()] == [n for n, _ in t.named_buffers()]
    x = np.random.default_rng(1).standard_normal(shape).astype(np.float32)
    for _ in range(3):  # training mode: each access moves u and v
        _compare_forward_backward(m, t, x)
        for name, buf in t.named_buffers():
            close(m.get_buffer(name), buf, name)
    m.eval(), t.eval()
    u = m.parametrizations.weight[0]._u.numpy().copy()
    close(m.weight, t.weight, "eval weight")
    np.testing.assert_array_equal(m.parametrizations.weight[0]._u.numpy(), u)


def test_spectral_norm_of_a_vector_normalizes_it():
    m, t = mt.nn.LayerNorm(5), torch.nn.LayerNorm(5)
    a = np.arange(5, dtype=np.float32) + 1
    m.weight.data, t.weight.data = mt.tensor(a), torch.tensor(a)
    MZ.spectral_norm(m), TZ.spectral_norm(t)
    assert list(m.state_dict()) == list(t.state_dict())
    close(m.weight, t.weight, "weight")


# ---- compile ---------------------------------------------------------------------------------


def _parametrized_classifier(kind, optimizer):
    mt.manual_seed(0)
    model = mt.nn.Sequential(mt.nn.Linear(8, 16), mt.nn.ReLU(), mt.nn.Linear(16, 3))
    getattr(MZ, kind)(model[0])
    MP.register_parametrization(model[2], "weight", _scale(mt, 0.5))
    params = model.parameters()
    opt = (
        mt.optim.Adam(params, lr=1e-2)
        if optimizer == "adam"
        else mt.optim.SGD(params, lr=0.1, momentum=0.9)
    )

    def step(x, y):
        opt.zero_grad()
        loss = MF.cross_entropy(model(x), y)
        loss.backward()
        opt.step()
        return loss

    return model, step


@pytest.mark.parametrize("kind", ["weight_norm", "spectral_norm"])
@pytest.mark.parametrize("optimizer", ["adam", "sgd"])
def test_compiled_step_trains_a_parametrized_model_bit_exactly(kind, optimizer):
    rng = np.random.default_rng(0)
    x = mt.tensor(rng.standard_normal((16, 8)).astype(np.float32))
    y = mt.tensor(rng.integers(0, 3, 16))
    model_e, eager = _parametrized_classifier(kind, optimizer)
    model_c, step = _parametrized_classifier(kind, optimizer)
    compiled = mt.compile(step)
    for i in range(5):
        a, b = eager(x, y), compiled(x, y)
        assert a.item() == b.item(), f"step {i}: eager {a.item()} traced {b.item()}"
    for (name, p), q in zip(model_e.state_dict().items(), model_c.state_dict().values()):
        np.testing.assert_array_equal(p.numpy(), q.numpy(), err_msg=name)  # u, v too
    s = compiled.stats
    assert (s.eager_calls, s.traces, s.replays) == (1, 1, 3)
    assert not s.retraces


# ---- the older nn.utils.weight_norm ----------------------------------------------------------


def _old_weight_norm(lib, dim):
    lib.manual_seed(0)
    with pytest.warns(FutureWarning, match="deprecated"):
        return lib.nn.utils.weight_norm(lib.nn.Linear(4, 3), dim=dim)


@pytest.mark.parametrize("dim", [0, 1, None])
def test_old_weight_norm_matches_torch_and_removes(dim):
    m, t = _pair(lambda lib: _old_weight_norm(lib, dim))
    assert _names(m) == _names(t) == ["bias", "weight_g", "weight_v"]
    assert list(m.state_dict()) == list(t.state_dict())
    _compare_forward_backward(m, t, X)
    with pytest.raises(RuntimeError, match="two weight_norm hooks"), pytest.warns(FutureWarning):
        mt.nn.utils.weight_norm(m, dim=dim)
    mt.nn.utils.remove_weight_norm(m)
    torch.nn.utils.remove_weight_norm(t)
    assert _names(m) == _names(t) == ["bias", "weight"]
    close(m.weight, t.weight, "weight")
    assert not m._forward_pre_hooks
    with pytest.raises(ValueError, match="not found"):
        mt.nn.utils.remove_weight_norm(m)


def test_compile_refuses_the_old_weight_norm_hook_and_says_why():
    """Its pre-hook assigns module.weight a new tensor at each forward, which a replay (no
    Python) cannot repeat: the tracer says so (parametrizations.weight_norm traces fine)."""
    model = _old_weight_norm(mt, 0)
    opt = mt.optim.SGD(model.parameters(), lr=0.1)

    def step(x):
        opt.zero_grad()
        loss = (model(x) ** 2).mean()
        loss.backward()
        opt.step()
        return loss

    compiled, x = mt.compile(step), mt.tensor(X)
    compiled(x)  # (the first call runs eagerly; the second traces)
    with pytest.raises(mt.jit.TraceError, match="assigns Linear.weight a new value"):
        compiled(x)
