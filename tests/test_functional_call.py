"""func.functional_call (= nn.utils.stateless.functional_call) against PyTorch's."""

from __future__ import annotations  # noqa: I001  (minitorch must come before torch)

import warnings

import minitorch
import numpy as np
import pytest
from layer_parity import load_from_torch
from parity import torch


def _model(lib):
    nn = lib.nn
    return nn.Sequential(nn.Linear(3, 4), nn.BatchNorm1d(4), nn.Tanh(), nn.Linear(4, 2))


def _call(lib, model, values, *args, stateless: bool = False, **kwargs):
    if stateless:  # PyTorch's deprecated spelling warns; minitorch's is the same function
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", FutureWarning)
            return lib.nn.utils.stateless.functional_call(model, values, *args, **kwargs)
    return lib.func.functional_call(model, values, *args, **kwargs)


def _values(lib, arrays: dict, requires_grad: bool) -> dict:
    return {
        k: lib.tensor(v, requires_grad=requires_grad and v.dtype.kind == "f")
        for k, v in arrays.items()
    }


def _np(t) -> np.ndarray:
    return np.asarray(t.detach().numpy())


@pytest.mark.parametrize("stateless", [False, True])
@pytest.mark.parametrize("split", [False, True])
def test_functional_call_matches_torch(stateless, split):
    torch.manual_seed(0)
    tmod, mmod = _model(torch), _model(minitorch)
    load_from_torch(mmod, tmod)
    rng = np.random.default_rng(0)
    arrays = {k: v.detach().numpy() + 0.5 for k, v in tmod.state_dict().items()}
    arrays["1.num_batches_tracked"] = np.array(3, dtype=np.int64)
    x = rng.standard_normal((5, 3)).astype(np.float32)
    originals = {k: _np(v).copy() for k, v in mmod.state_dict().items()}
    outs, grads, buffers = [], [], []
    for lib, model in ((minitorch, mmod), (torch, tmod)):
        values = _values(lib, arrays, requires_grad=True)
        for k in ("1.running_mean", "1.running_var"):  # buffers take no gradient
            values[k].requires_grad_(False)
        given = values
        if split:  # parameters and buffers in two dicts
            params = {k: v for k, v in values.items() if k in dict(model.named_parameters())}
            given = (params, {k: v for k, v in values.items() if k not in params})
        out = _call(lib, model, given, (lib.tensor(x),), stateless=stateless and not split)
        out.sum().backward()
        outs.append(_np(out))
        grads.append({k: _np(v.grad) for k, v in values.items() if v.grad is not None})
        buffers.append({k: _np(values[k]) for k in arrays if "running" in k or "batches" in k})
        assert all(p.grad is None for p in model.parameters())  # the model's own got none
    np.testing.assert_allclose(outs[0], outs[1], rtol=1e-5, atol=1e-6)
    assert sorted(grads[0]) == sorted(grads[1]) and len(grads[0]) == 6
    for k in grads[1]:
        np.testing.assert_allclose(grads[0][k], grads[1][k], rtol=1e-5, atol=1e-6, err_msg=k)
    for k in buffers[1]:  # training-mode BatchNorm updated the passed buffers in place
        np.testing.assert_allclose(buffers[0][k], buffers[1][k], rtol=1e-5, atol=1e-6, err_msg=k)
    for k, v in mmod.state_dict().items():
        np.testing.assert_array_equal(_np(v), originals[k], err_msg=k)
    assert all(isinstance(p, minitorch.nn.Parameter) for p in mmod.parameters())


def test_functional_call_args_kwargs_and_partial_dict():
    results = []
    for lib in (minitorch, torch):
        lib.manual_seed(0)
        lin = lib.nn.Linear(2, 2, bias=False)
        weight = lib.tensor([[1.0, 2.0], [3.0, 4.0]])
        x = lib.tensor([[1.0, -1.0]])
        one = _call(lib, lin, {"weight": weight}, x)  # a bare argument is the only one
        kw = _call(lib, lin, {"weight": weight}, kwargs={"input": x})
        results.append((_np(one), _np(kw)))
    for a, b in zip(*results):
        np.testing.assert_array_equal(a, b)


class _Tied:
    """Two linears sharing one weight, as a tied embedding/decoder."""

    @staticmethod
    def make(lib):
        class Tied(lib.nn.Module):
            def __init__(self):
                super().__init__()
                self.a = lib.nn.Linear(2, 2, bias=False)
                self.b = lib.nn.Linear(2, 2, bias=False)
                self.b.weight = self.a.weight

            def forward(self, x):
                return self.a(x) + self.b(x)

        return Tied()


@pytest.mark.parametrize("tie_weights", [True, False])
def test_functional_call_tied_weights_match_torch(tie_weights):
    outs = []
    for lib in (minitorch, torch):
        model = _Tied.make(lib)
        with lib.no_grad():
            model.a.weight.copy_(lib.tensor([[1.0, 2.0], [3.0, 4.0]]))
        x = lib.ones(1, 2)
        outs.append(
            _np(_call(lib, model, {"a.weight": lib.zeros(2, 2)}, x, tie_weights=tie_weights))
        )
        with pytest.raises(ValueError, match="which are tied"):
            values = {"a.weight": lib.zeros(2, 2), "b.weight": lib.ones(2, 2)}
            _call(lib, model, values, x, tie_weights=True)
    np.testing.assert_array_equal(outs[0], outs[1])


def _error(fn):
    try:
        fn()
    except Exception as e:  # noqa: BLE001  (compared between the libraries)
        return type(e), str(e)
    return None


@pytest.mark.parametrize(
    "values",
    [
        {"0.foo": "t"},  # unknown leaf with strict
        {"0.weight": "t"},  # missing keys with strict
        {"nosuch.weight": "t"},  # unknown submodule
    ],
)
def test_functional_call_errors_match_torch(values):
    errors = []
    for lib in (minitorch, torch):
        model = _model(lib)
        given = {k: lib.ones(4, 3) for k in values}
        strict = "nosuch" not in next(iter(values))
        errors.append(_error(lambda: _call(lib, model, given, lib.ones(2, 3), strict=strict)))
        assert all(isinstance(p, lib.nn.Parameter) for p in model.parameters())
        assert not hasattr(model[0], "foo")
    assert errors[0] is not None and errors[0] == errors[1]


def test_functional_call_bad_dicts_match_torch():
    for bad in (({"a": 1}, {"a": 2}), 5, ({"a": 1}, 3)):
        errors = [
            _error(lambda lib=lib: lib.func.functional_call(lib.nn.Linear(1, 1), bad, ()))
            for lib in (minitorch, torch)
        ]
        assert errors[0] == errors[1] and errors[0][0] is ValueError


def test_functional_call_unknown_name_without_strict_is_set_then_removed():
    model = minitorch.nn.Linear(2, 2)
    minitorch.func.functional_call(model, {"extra": minitorch.ones(1)}, minitorch.ones(1, 2))
    assert not hasattr(model, "extra")


def test_functional_call_traces_and_replays_with_the_dicts_values():
    """Under minitorch.compile, functional_call's swap in and back out is not an assignment
    the step leaves behind (it was refused as one): the step replays with each call's dict
    values, its gradients through grad() equal eager's, and the module keeps its parameters."""
    model = _model(minitorch)
    weight = model[0].weight
    x = minitorch.randn(6, 3)

    def loss(params, x):
        return _call(minitorch, model, params, (x,)).pow(2).sum()

    def step(params, x):
        return minitorch.func.grad_and_value(loss)(params, x)

    compiled = minitorch.compile(step)
    base = {k: v.detach().clone() for k, v in model.named_parameters()}
    for i in range(4):
        params = {k: v + 0.1 * i for k, v in base.items()}
        (grads, value), (want_grads, want) = compiled(params, x), step(params, x)
        assert value.item() == want.item(), i
        for k in want_grads:
            np.testing.assert_array_equal(grads[k].numpy(), want_grads[k].numpy(), err_msg=k)
    assert compiled.stats.replays >= 2
    assert model[0].weight is weight and isinstance(weight, minitorch.nn.Parameter)
