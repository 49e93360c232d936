"""Lazy layers (LazyLinear, LazyConv1d/2d, LazyBatchNorm1d/2d) against PyTorch's."""

import copy

import numpy as np
import pytest

import minitorch

torch = pytest.importorskip("torch")
nn = minitorch.nn

CASES = [  # (lazy class, args, kwargs, input shape, the class it becomes, the inferred size)
    ("LazyLinear", (3,), {}, (4, 5), "Linear", 5),
    ("LazyLinear", (3,), {"bias": False}, (2, 4, 5), "Linear", 5),
    ("LazyConv1d", (4, 3), {"padding": 1}, (2, 6, 7), "Conv1d", 6),
    ("LazyConv1d", (4, 3), {"groups": 2, "bias": False}, (6, 7), "Conv1d", 6),
    ("LazyConv2d", (4, 3), {"stride": 2}, (2, 3, 7, 6), "Conv2d", 3),
    ("LazyBatchNorm1d", (), {}, (8, 5), "BatchNorm1d", 5),
    ("LazyBatchNorm2d", (), {"momentum": None}, (4, 3, 2, 2), "BatchNorm2d", 3),
]
NAMES = ("name", "args", "kwargs", "shape", "regular", "in_size")


@pytest.mark.parametrize(NAMES, CASES)
def test_first_call_materializes_and_matches_torch(name, args, kwargs, shape, regular, in_size):
    m, t = getattr(nn, name)(*args, **kwargs), getattr(torch.nn, name)(*args, **kwargs)
    assert m.has_uninitialized_params() and t.has_uninitialized_params()
    assert repr(m) == repr(t)
    x = np.random.default_rng(0).standard_normal(shape).astype(np.float32)
    y = m(minitorch.tensor(x, requires_grad=True))
    t(torch.tensor(x))  # materializes torch's; then give it minitorch's values to compare
    assert type(m).__name__ == type(t).__name__ == regular
    assert repr(m) == repr(t)
    assert list(m.state_dict()) == list(t.state_dict())
    t.load_state_dict({k: torch.tensor(v.numpy()) for k, v in m.state_dict().items()})
    xt = torch.tensor(x, requires_grad=True)
    yt = t(xt)
    np.testing.assert_allclose(y.detach().numpy(), yt.detach().numpy(), rtol=1e-5, atol=1e-5)
    y.sum().backward()
    yt.sum().backward()
    for (k, p), pt in zip(m.named_parameters(), t.parameters()):
        np.testing.assert_allclose(p.grad.numpy(), pt.grad.numpy(), rtol=1e-4, atol=1e-5, err_msg=k)


@pytest.mark.parametrize(NAMES, CASES)
def test_initialized_as_the_regular_layer(name, args, kwargs, shape, regular, in_size):
    """Same seed: the lazy layer's values are those the regular layer starts with."""
    x = minitorch.randn(*shape)  # (drawn first: the draws below must be the layers' alone)
    minitorch.manual_seed(3)
    lazy = getattr(nn, name)(*args, **kwargs)
    lazy(x)
    minitorch.manual_seed(3)
    ref = getattr(nn, regular)(in_size, *args, **kwargs)
    for (k, a), b in zip(lazy.state_dict().items(), ref.state_dict().values()):
        if k in ("running_mean", "running_var", "num_batches_tracked"):
            continue  # (the lazy one has run a training forward)
        np.testing.assert_array_equal(a.numpy(), b.numpy(), err_msg=k)


def test_uninitialized_parameter_errors_like_torch():
    m, t = nn.LazyLinear(3), torch.nn.LazyLinear(3)
    assert repr(m.weight) == repr(t.weight) == "<UninitializedParameter>"
    assert isinstance(m.weight, nn.UninitializedParameter)
    assert isinstance(m.weight, nn.Parameter) and m.weight.requires_grad
    for f in (lambda w: w.shape, lambda w: w.sum(), lambda w: w.numel()):
        with pytest.raises(Exception) as ours:
            f(m.weight)
        with pytest.raises(Exception) as theirs:
            f(t.weight)
        assert type(ours.value) is type(theirs.value)
        assert "uninitialized" in str(ours.value) and "forward" in str(ours.value)


def test_state_dict_of_uninitialized_module_and_load_materializes():
    m, t = nn.LazyLinear(3), torch.nn.LazyLinear(3)
    sd = m.state_dict()
    assert {k: type(v).__name__ for k, v in sd.items()} == {
        k: type(v).__name__ for k, v in t.state_dict().items()
    }
    bn = nn.LazyBatchNorm1d()
    tbn = torch.nn.LazyBatchNorm1d()
    assert {k: type(v).__name__ for k, v in bn.state_dict().items()} == {
        k: type(v).__name__ for k, v in tbn.state_dict().items()
    }
    src = nn.Linear(5, 3)
    m.load_state_dict(src.state_dict())
    assert type(m) is nn.LazyLinear and not m.has_uninitialized_params()  # as torch's
    np.testing.assert_array_equal(m.weight.detach().numpy(), src.weight.detach().numpy())
    x = minitorch.randn(2, 5)
    np.testing.assert_array_equal(m(x).detach().numpy(), src(x).detach().numpy())
    assert type(m) is nn.Linear and m.in_features == 5


def test_optimizer_made_before_first_forward_updates_materialized_params():
    """torch accepts the placeholders (they materialize in place); so do we."""
    m = nn.Sequential(nn.LazyLinear(4), nn.ReLU(), nn.LazyLinear(1))
    opt = minitorch.optim.SGD(m.parameters(), lr=0.1)
    x = minitorch.randn(8, 3)
    m(x)
    before = [p.detach().numpy().copy() for p in m.parameters()]
    opt.zero_grad()
    m(x).pow(2).mean().backward()
    opt.step()
    for p, b in zip(m.parameters(), before):
        np.testing.assert_allclose(p.detach().numpy(), b - 0.1 * p.grad.numpy(), rtol=1e-6)
    assert [p.shape for p in opt.param_groups[0]["params"]] == [(4, 3), (4,), (1, 4), (1,)]


def test_deepcopy_and_groups_check():
    c = copy.deepcopy(nn.LazyConv2d(4, 3))
    assert c.has_uninitialized_params()
    bn = nn.LazyBatchNorm2d(affine=False, track_running_stats=False)
    tbn = torch.nn.LazyBatchNorm2d(affine=False, track_running_stats=False)
    bn(minitorch.randn(2, 3, 2, 2))
    tbn(torch.randn(2, 3, 2, 2))
    assert repr(bn) == repr(tbn)
    with pytest.raises(ValueError, match="divisible by groups"):
        nn.LazyConv1d(4, 3, groups=2)(minitorch.randn(1, 3, 5))


def _train(compiled: bool, steps: int = 5):
    minitorch.manual_seed(0)
    model = nn.Sequential(nn.LazyLinear(8), nn.Tanh(), nn.LazyLinear(1))
    opt = minitorch.optim.Adam(model.parameters(), lr=1e-2)
    x, y = minitorch.randn(16, 3), minitorch.randn(16, 1)

    def step(x, y):
        loss = (model(x) - y).pow(2).mean()
        opt.zero_grad()
        loss.backward()
        opt.step()
        return loss

    run = minitorch.compile(step) if compiled else step
    losses = [run(x, y).item() for _ in range(steps)]
    if compiled:  # the first (eager) call materialized the layers; later calls replay
        assert f"{steps - 2} replayed" in str(run.explain())
    return losses, [p.detach().numpy() for p in model.parameters()]


def test_compiled_step_with_lazy_layers_replays_like_eager():
    (eager_losses, eager_params), (losses, params) = _train(False), _train(True)
    np.testing.assert_allclose(losses, eager_losses, rtol=1e-5)
    for a, b in zip(params, eager_params):
        np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-6)
