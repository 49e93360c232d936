"""The older, hook-based nn.utils.spectral_norm / remove_spectral_norm against PyTorch: outputs,
gradients and the power-iteration buffers u, v over training steps, eval mode, state_dict
layout (and the version-0 conversion), removal, errors, and minitorch.compile's refusal."""

# NOTE: minitorch (numba/LLVM) is imported before torch (see DESIGN.md, LLVM load order).
import numpy as np
import pytest

import minitorch as mt

torch = pytest.importorskip("torch")


def close(a, b, what, atol=1e-5, rtol=1e-4):
    a, b = a.detach().numpy(), b.detach().numpy()
    assert a.shape == b.shape, f"{what} shape mismatch: minitorch={a.shape} | torch={b.shape}"
    np.testing.assert_allclose(a, b, atol=atol, rtol=rtol, err_msg=what)


def _to_mt(state: dict) -> dict:
    return {k: mt.tensor(v.detach().numpy()) for k, v in state.items()}


LAYERS = {
    "linear": (lambda lib: lib.nn.Linear(5, 3), (4, 5)),
    "linear_tall": (lambda lib: lib.nn.Linear(3, 5), (4, 3)),  # W^T W invertible
    "conv2d": (lambda lib: lib.nn.Conv2d(2, 3, 3), (2, 2, 6, 6)),
    "conv_transpose2d": (lambda lib: lib.nn.ConvTranspose2d(2, 3, 3), (2, 2, 5, 5)),  # dim 1
}


def _pair(layer, **kwargs):
    """The layer under spectral_norm in both libraries, minitorch's state (u, v too) torch's."""
    make, shape = LAYERS[layer]
    torch.manual_seed(0)
    t = torch.nn.utils.spectral_norm(make(torch), **kwargs)
    m = mt.nn.utils.spectral_norm(make(mt), **kwargs)
    m.load_state_dict(_to_mt(t.state_dict()))
    x = np.random.default_rng(0).standard_normal(shape).astype(np.float32)
    return m, t, x


@pytest.mark.parametrize(
    "layer, kwargs",
    [
        ("linear", {}),
        ("linear", {"n_power_iterations": 3, "dim": 1}),
        ("conv2d", {}),
        ("conv_transpose2d", {}),
        ("conv_transpose2d", {"dim": 0, "eps": 1e-6}),
    ],
)
def test_training_steps_match_torch_outputs_grads_and_u_v(layer, kwargs):
    m, t, x = _pair(layer, **kwargs)
    assert list(m.state_dict()) == list(t.state_dict())
    assert list(m.state_dict())[-3:] == ["weight_orig", "weight_u", "weight_v"]
    opt_m = mt.optim.SGD(m.parameters(), lr=0.1)
    opt_t = torch.optim.SGD(t.parameters(), lr=0.1)
    for step in range(4):
        ym, yt = m(mt.tensor(x)), t(torch.tensor(x))
        close(ym, yt, f"step {step} output")
        close(m.weight, t.weight, f"step {step} weight")
        for name in ("weight_u", "weight_v"):
            close(getattr(m, name), getattr(t, name), f"step {step} {name}")
        (ym**2).sum().backward()
        (yt**2).sum().backward()
        for (name, p), q in zip(m.named_parameters(), t.parameters()):
            close(p.grad, q.grad, f"step {step} grad of {name}", atol=1e-4)
        opt_m.step()
        opt_t.step()
        opt_m.zero_grad()
        opt_t.zero_grad()


def test_eval_mode_leaves_u_v_alone_and_matches_torch():
    m, t, x = _pair("linear")
    m(mt.tensor(x)), t(torch.tensor(x))  # one training step moves u, v
    m.eval(), t.eval()
    u, v = m.weight_u.numpy().copy(), m.weight_v.numpy().copy()
    for _ in range(2):
        close(m(mt.tensor(x)), t(torch.tensor(x)), "eval output")
    np.testing.assert_array_equal(m.weight_u.numpy(), u)
    np.testing.assert_array_equal(m.weight_v.numpy(), v)
    close(m.weight_v, t.weight_v, "weight_v")


def test_remove_restores_a_plain_weight_parameter():
    m, t, x = _pair("conv2d")
    m(mt.tensor(x)), t(torch.tensor(x))
    mt.nn.utils.remove_spectral_norm(m)
    torch.nn.utils.remove_spectral_norm(t)
    assert [n for n, _ in m.named_parameters()] == [n for n, _ in t.named_parameters()]
    assert list(m.state_dict()) == list(t.state_dict()) == ["bias", "weight"]
    assert isinstance(m.weight, mt.nn.Parameter)
    close(m.weight, t.weight, "weight after removal")
    assert not m._forward_pre_hooks and not m._load_state_dict_pre_hooks
    close(m(mt.tensor(x)), t(torch.tensor(x)), "output after removal")
    with pytest.raises(ValueError, match="spectral_norm of 'weight' not found"):
        mt.nn.utils.remove_spectral_norm(m)


def test_errors_match_torch():
    m = mt.nn.utils.spectral_norm(mt.nn.Linear(4, 3))
    with pytest.raises(RuntimeError, match="two spectral_norm hooks"):
        mt.nn.utils.spectral_norm(m)
    with pytest.raises(ValueError, match="n_power_iterations=0"):
        mt.nn.utils.spectral_norm(mt.nn.Linear(4, 3), n_power_iterations=0)
    with pytest.raises(ValueError, match="parameter `bias` is None"):
        mt.nn.utils.spectral_norm(mt.nn.Linear(4, 3, bias=False), name="bias")


def test_loads_a_version_0_state_dict_as_torch_does():
    """PyTorch < 1.0 saved <name> (the normalized weight), <name>_orig and <name>_u, no _v:
    v is solved for so that u^T W v gives back that weight's sigma."""
    m, t, x = _pair("linear_tall")
    t(torch.tensor(x))
    old = dict(t.state_dict())
    old["weight"] = t.weight.detach().clone()
    del old["weight_v"]
    t.load_state_dict(old)  # (no _metadata: version None, so torch converts it too)
    m.load_state_dict(_to_mt(old))
    close(m.weight_v, t.weight_v, "solved weight_v", atol=1e-4)
    m.eval(), t.eval()
    close(m(mt.tensor(x)), t(torch.tensor(x)), "output after loading", atol=1e-4)


def test_compile_refuses_the_hook_and_says_why():
    """The pre-hook assigns module.weight a new tensor at each forward, which a replay (no
    Python) cannot repeat (parametrizations.spectral_norm traces fine)."""
    model = mt.nn.utils.spectral_norm(mt.nn.Linear(4, 3))
    opt = mt.optim.SGD(model.parameters(), lr=0.1)

    def step(x):
        opt.zero_grad()
        loss = (model(x) ** 2).mean()
        loss.backward()
        opt.step()
        return loss

    compiled, x = mt.compile(step), mt.ones(2, 4)
    compiled(x)  # (the first call runs eagerly; the second traces)
    with pytest.raises(mt.jit.TraceError, match="assigns Linear.weight a new value"):
        compiled(x)
