"""Optimizers against PyTorch: same initial parameters, same gradients, same steps.

Every optimizer and option combination runs several steps in float32 and float64 on both
libraries and the parameters and state buffers must agree to float rounding. Also: state_dict
layout and round trips (resume mid-training == uninterrupted run, loading PyTorch's own
state_dict), the Optimizer base class API, in-place updates and version counters, and the
custom-optimizer guide in docs/custom_optimizer.md, whose code is executed here.
"""

from __future__ import annotations  # noqa: I001  (minitorch must come before torch)

import copy
import gc
import os
import re
import subprocess
import sys
import weakref
from pathlib import Path

import minitorch
import minitorch.nn as nn
import minitorch.optim as optim
import numpy as np
import pytest
from minitorch.kernels.cpu import optim as optim_kernels

torch = pytest.importorskip("torch")

SHAPES = [(5, 7), (7,), (2, 3, 4), ()]
TOL = {np.float32: dict(rtol=1e-5, atol=1e-6), np.float64: dict(rtol=1e-10, atol=1e-12)}

CASES = [
    ("SGD", dict(lr=0.1)),
    ("SGD", dict(lr=0.1, momentum=0.9)),
    ("SGD", dict(lr=0.1, momentum=0.9, dampening=0.5)),
    ("SGD", dict(lr=0.1, momentum=0.9, nesterov=True)),
    ("SGD", dict(lr=0.1, weight_decay=0.1)),
    ("SGD", dict(lr=0.1, momentum=0.5, nesterov=True, weight_decay=0.1, maximize=True)),
    ("SGD", dict(lr=0.1, momentum=0.9, dampening=0.3, weight_decay=0.2, maximize=True)),
    ("Adam", dict()),
    ("Adam", dict(lr=0.01, amsgrad=True)),
    ("Adam", dict(lr=0.01, weight_decay=0.1)),
    ("Adam", dict(lr=0.01, maximize=True)),
    (
        "Adam",
        dict(lr=0.01, betas=(0.3, 0.5), eps=1e-3, amsgrad=True, weight_decay=0.1, maximize=True),
    ),
    ("Adam", dict(lr=0.01, weight_decay=0.1, decoupled_weight_decay=True)),
    ("AdamW", dict()),
    ("AdamW", dict(lr=0.01, amsgrad=True)),
    ("AdamW", dict(lr=0.01, weight_decay=0.5, maximize=True, amsgrad=True)),
    ("Adagrad", dict()),
    ("Adagrad", dict(lr=0.1, lr_decay=0.1, weight_decay=0.1)),
    ("Adagrad", dict(lr=0.1, initial_accumulator_value=0.5, eps=1e-4, maximize=True)),
    ("RMSprop", dict()),
    ("RMSprop", dict(centered=True)),
    ("RMSprop", dict(momentum=0.9)),
    (
        "RMSprop",
        dict(lr=0.001, alpha=0.9, centered=True, momentum=0.5, weight_decay=0.1, maximize=True),
    ),
    ("Adadelta", dict()),
    ("Adadelta", dict(lr=0.5, rho=0.5, eps=1e-4, weight_decay=0.1)),
    ("Adadelta", dict(maximize=True)),
    ("Adamax", dict()),
    ("Adamax", dict(lr=0.01, betas=(0.5, 0.8), weight_decay=0.1, maximize=True)),
    ("NAdam", dict()),
    ("NAdam", dict(lr=0.01, weight_decay=0.1, momentum_decay=0.01)),
    ("NAdam", dict(lr=0.01, weight_decay=0.1, decoupled_weight_decay=True, maximize=True)),
    ("RAdam", dict()),
    ("RAdam", dict(lr=0.01, betas=(0.5, 0.6), weight_decay=0.1)),  # rectified from step 2
    ("RAdam", dict(lr=0.01, weight_decay=0.1, decoupled_weight_decay=True, maximize=True)),
    ("Rprop", dict()),
    ("Rprop", dict(lr=0.05, etas=(0.3, 1.5), step_sizes=(1e-3, 0.1), maximize=True)),
    ("ASGD", dict()),
    ("ASGD", dict(lr=0.05, lambd=0.01, alpha=0.5, t0=2, weight_decay=0.1, maximize=True)),
]


def _data(dtype, steps: int = 5, shapes=SHAPES, seed: int = 0):
    rng = np.random.default_rng(seed)
    init = [rng.standard_normal(s).astype(dtype) for s in shapes]
    grads = [[rng.standard_normal(s).astype(dtype) for s in shapes] for _ in range(steps)]
    return init, grads


def _params(lib, arrays):
    return [lib.nn.Parameter(lib.tensor(np.array(a, copy=True))) for a in arrays]


def _run(lib, name, kwargs, init, grads, opt_state=None):
    """Run len(grads) steps of optim.<name>; return (final params as arrays, optimizer)."""
    params = _params(lib, init)
    opt = getattr(lib.optim, name)(params, **kwargs)
    if opt_state is not None:
        opt.load_state_dict(opt_state)
    for step_grads in grads:
        for p, g in zip(params, step_grads):
            p.grad = lib.tensor(np.array(g, copy=True))
        opt.step()
    return [p.detach().numpy().copy() for p in params], opt


def _state_arrays(opt) -> dict:
    """{(param index, key): array} of every tensor in the optimizer's state_dict."""
    out = {}
    for i, buffers in opt.state_dict()["state"].items():
        for key, value in buffers.items():
            out[i, key] = np.asarray(value.detach().numpy() if hasattr(value, "detach") else value)
    return out


def _assert_same(ours, theirs, dtype, what):
    for k, (a, b) in enumerate(zip(ours, theirs)):
        np.testing.assert_allclose(a, b, **TOL[dtype], err_msg=f"{what}: parameter {k}")


@pytest.mark.parametrize("dtype", [np.float32, np.float64], ids=["float32", "float64"])
@pytest.mark.parametrize("name, kwargs", CASES, ids=[f"{n}-{k}" for n, k in CASES])
def test_parity_with_torch(name, kwargs, dtype):
    init, grads = _data(dtype)
    ours, opt = _run(minitorch, name, kwargs, init, grads)
    theirs, topt = _run(torch, name, kwargs, init, grads)
    _assert_same(ours, theirs, dtype, f"{name}({kwargs})")
    mine, ref = _state_arrays(opt), _state_arrays(topt)
    assert mine.keys() == ref.keys()
    for key in ref:
        assert mine[key].dtype == ref[key].dtype, key
        np.testing.assert_allclose(mine[key], ref[key], **TOL[dtype], err_msg=str(key))
    assert opt.state_dict()["param_groups"] == topt.state_dict()["param_groups"]


@pytest.mark.parametrize("name", ["SGD", "Adam", "Adagrad", "RMSprop", "Adadelta"])
def test_large_parameters_use_the_parallel_kernel(name):
    kwargs = dict(lr=0.01, momentum=0.9) if name in ("SGD", "RMSprop") else dict(lr=0.01)
    shape = (optim_kernels.PARALLEL_MIN + 1001,)
    init, grads = _data(np.float32, steps=3, shapes=[shape, (3,)])
    ours, _ = _run(minitorch, name, kwargs, init, grads)
    theirs, _ = _run(torch, name, kwargs, init, grads)
    _assert_same(ours, theirs, np.float32, name)


def test_models_of_any_size_share_one_compiled_update():
    """The kernel reads parameters, gradients and state through a table of addresses, not
    tuples of arrays (whose length is part of a kernel's type: a 32-parameter tuple kernel took
    20 s to compile): models of 3, 8 and 19 parameters run one compiled Adam kernel."""
    for count in (3, 8, 19):
        init, grads = _data(np.float32, steps=2, shapes=[(5, 2)] * count)
        ours, _ = _run(minitorch, "Adam", dict(lr=0.01), init, grads)
        theirs, _ = _run(torch, "Adam", dict(lr=0.01), init, grads)
        _assert_same(ours, theirs, np.float32, f"{count} parameters")
    adam = [kernel for key, kernel in optim_kernels._kernels.items() if key[0] == "adam"]
    assert adam and all(len(kernel.signatures) <= 2 for kernel in adam)  # float32, float64


def test_an_update_refuses_arrays_unlike_those_it_was_planned_for():
    """The kernel writes through addresses: a gradient of the wrong size, dtype or layout is
    refused before the call (it would read past the array's end)."""
    params = [np.zeros(6, np.float32), np.zeros(4, np.float32)]
    states = [[np.zeros(6, np.float32), np.zeros(4, np.float32)] for _ in range(2)] + [None]
    plan = optim_kernels.UpdatePlan("adam", params, states, (False, False, False))
    coefficients = (0.0, 1.0, 0.1, 0.999, 0.001, 0.01, 1.0, 1e-8)
    good = [np.ones(6, np.float32), np.ones(4, np.float32)]
    plan.run(good, coefficients)
    assert params[0][0] < 0 and params[1][0] < 0
    for bad in (
        [np.ones(6, np.float32), np.ones(3, np.float32)],
        [np.ones(6, np.float64), np.ones(4, np.float32)],
        [np.ones(12, np.float32)[::2], np.ones(4, np.float32)],
        good[:1],
    ):
        with pytest.raises(ValueError, match="optimizer update"):
            plan.run(bad, coefficients)


def test_param_groups_and_missing_grads_match_torch():
    init, grads = _data(np.float32, steps=4)
    for step, step_grads in enumerate(grads):  # parameter 1 gets no gradient on odd steps
        if step % 2:
            step_grads[1] = None
    results = []
    for lib in (minitorch, torch):
        params = _params(lib, init)
        opt = lib.optim.Adam(
            [{"params": params[:2]}, {"params": params[2:], "lr": 0.1}], lr=0.01, weight_decay=0.01
        )
        for step_grads in grads:
            for p, g in zip(params, step_grads):
                p.grad = None if g is None else lib.tensor(g.copy())
            opt.step()
        results.append([p.detach().numpy().copy() for p in params])
        assert opt.param_groups[1]["lr"] == 0.1 and opt.param_groups[0]["lr"] == 0.01
    _assert_same(*results, np.float32, "groups")


def test_a_step_that_raises_updates_nothing():
    """batched_updates runs the queued updates only when the step's body finishes."""
    w = nn.Parameter(minitorch.ones(3))
    w.grad = minitorch.ones(3)
    opt = optim.Adam([w], lr=0.1)

    def closure():  # runs inside step(), before any update is queued... then fails
        raise ValueError("loss failed")

    with pytest.raises(ValueError, match="loss failed"):
        opt.step(closure)
    assert w.tolist() == [1.0, 1.0, 1.0]
    with optim.optimizer.batched_updates():  # nested blocks: the inner one runs its own queue
        opt.step()
        assert w.tolist() != [1.0, 1.0, 1.0]
    with pytest.raises(RuntimeError, match="stop"), optim.optimizer.batched_updates():
        before = w.tolist()
        optim.optimizer._fused_update(
            "sgd", w, [None], (0.5, 0.0, 0.0, 0.0, 1.0), (False, False, False)
        )
        raise RuntimeError("stop")
    assert w.tolist() == before  # the queued update was dropped


def test_lr_change_takes_effect_without_compiling():
    init, grads = _data(np.float32, steps=6)
    results = []
    for lib in (minitorch, torch):
        params = _params(lib, init)
        opt = lib.optim.Adam(params, lr=0.1)
        sched = lib.optim.lr_scheduler.StepLR(opt, step_size=2, gamma=0.5)
        for step_grads in grads:
            for p, g in zip(params, step_grads):
                p.grad = lib.tensor(g.copy())
            if lib is minitorch and sched.last_epoch == 2:
                compiled = len(optim_kernels._kernels)
            opt.step()
            sched.step()
            opt.param_groups[0]["betas"] = (0.8, 0.99)  # runtime hyperparameters too
        results.append([p.detach().numpy().copy() for p in params])
    assert len(optim_kernels._kernels) == compiled
    _assert_same(*results, np.float32, "scheduled")


NEWER = [
    ("Adamax", dict(lr=0.01, weight_decay=0.01)),
    ("NAdam", dict(lr=0.01, decoupled_weight_decay=True, weight_decay=0.01)),
    ("RAdam", dict(lr=0.01)),  # rho_t > 5 from step 6: both branches of the update
    ("RAdam", dict(lr=0.01, decoupled_weight_decay=True, weight_decay=0.01)),
    ("Rprop", dict(lr=0.01)),
    ("ASGD", dict(lr=0.05, t0=4)),  # averaging from step 5
]


@pytest.mark.parametrize("name, kwargs", NEWER, ids=[f"{n}-{k}" for n, k in NEWER])
def test_training_a_small_model_matches_torch(name, kwargs):
    """Ten steps of a real model (forward, backward, step), two param groups, rtol 1e-5."""
    rng = np.random.default_rng(4)
    x, y = rng.standard_normal((16, 4)), rng.standard_normal((16, 2))
    weights = [rng.standard_normal(s) * 0.5 for s in [(8, 4), (8,), (2, 8), (2,)]]
    results = []
    for lib in (minitorch, torch):
        model = lib.nn.Sequential(lib.nn.Linear(4, 8), lib.nn.Tanh(), lib.nn.Linear(8, 2))
        with lib.no_grad():
            for p, w in zip(model.parameters(), weights):
                p.copy_(lib.tensor(w.astype(np.float32)))
        groups = [{"params": model[0].parameters()}, {"params": model[2].parameters(), "lr": 0.02}]
        opt = getattr(lib.optim, name)(groups, **kwargs)
        xs, ys = lib.tensor(x.astype(np.float32)), lib.tensor(y.astype(np.float32))
        for _ in range(10):
            opt.zero_grad()
            ((model(xs) - ys) ** 2).mean().backward()
            opt.step()
        results.append([p.detach().numpy().copy() for p in model.parameters()])
    _assert_same(*results, np.float32, name)


@pytest.mark.parametrize(
    "name, kwargs, message",
    [
        ("Adamax", dict(betas=(0.9, 1.0)), "Invalid beta parameter at index 1"),
        ("NAdam", dict(momentum_decay=-1.0), "Invalid momentum_decay value"),
        ("RAdam", dict(eps=-1.0), "Invalid epsilon value"),
        ("Rprop", dict(etas=(1.5, 1.2)), "Invalid eta values"),
        ("ASGD", dict(weight_decay=-0.1), "Invalid weight_decay value"),
    ],
)
def test_newer_optimizers_reject_bad_hyperparameters_as_torch(name, kwargs, message):
    for lib in (minitorch, torch):
        w = lib.nn.Parameter(lib.ones(2))
        with pytest.raises(ValueError, match=message):
            getattr(lib.optim, name)([w], **kwargs)


# ---- state_dict ----------------------------------------------------------------------------
@pytest.mark.parametrize(
    "name, kwargs",
    [
        ("SGD", dict(lr=0.1, momentum=0.9, nesterov=True)),
        ("Adam", dict(lr=0.01, amsgrad=True)),
        ("AdamW", dict(lr=0.01)),
        ("Adagrad", dict(lr=0.1, lr_decay=0.01)),
        ("RMSprop", dict(centered=True, momentum=0.5)),
        ("Adadelta", dict()),
        ("Adamax", dict(lr=0.01)),
        ("NAdam", dict(lr=0.01)),
        ("RAdam", dict(lr=0.01, betas=(0.5, 0.6))),
        ("Rprop", dict()),
        ("ASGD", dict(t0=2)),
    ],
)
def test_resume_from_state_dict_is_identical(name, kwargs):
    init, grads = _data(np.float32, steps=6)
    straight, _ = _run(minitorch, name, kwargs, init, grads)
    middle, opt = _run(minitorch, name, kwargs, init, grads[:3])
    saved = copy.deepcopy(opt.state_dict())
    _run(minitorch, name, kwargs, middle, grads[3:])  # the first run goes on: saved unaffected
    resumed, opt2 = _run(minitorch, name, kwargs, middle, grads[3:], opt_state=saved)
    for a, b in zip(straight, resumed):
        np.testing.assert_array_equal(a, b)
    assert opt2.state_dict()["param_groups"] == opt.state_dict()["param_groups"]


def test_state_dict_layout_matches_torch():
    init, grads = _data(np.float32, steps=2)
    _, opt = _run(minitorch, "Adam", dict(lr=0.01), init, grads)
    _, topt = _run(torch, "Adam", dict(lr=0.01), init, grads)
    sd, tsd = opt.state_dict(), topt.state_dict()
    assert list(sd) == ["state", "param_groups"] == list(tsd)
    assert sd["param_groups"] == tsd["param_groups"]
    assert list(sd["state"]) == list(tsd["state"]) == [0, 1, 2, 3]
    step = sd["state"][0]["step"]
    assert isinstance(step, minitorch.Tensor) and step.dtype == minitorch.float32
    assert step.item() == tsd["state"][0]["step"].item() == 2


@pytest.mark.parametrize(
    "name, kwargs",
    [
        ("SGD", dict(lr=0.1, momentum=0.9)),
        ("Adam", dict(lr=0.01, amsgrad=True)),
        ("RMSprop", dict(centered=True, momentum=0.5)),
        ("NAdam", dict(lr=0.01)),  # its 0-d "mu_product" becomes float64, as in PyTorch
        ("ASGD", dict(t0=1)),  # and "eta", "mu"
    ],
)
def test_load_torch_state_dict(name, kwargs):
    """A PyTorch optimizer's state_dict (tensors exported as numpy) resumes training here."""
    init, grads = _data(np.float64, steps=5)
    middle, topt = _run(torch, name, kwargs, init, grads[:2])
    tsd = topt.state_dict()
    # PyTorch resumed too: loading casts NAdam's and ASGD's 0-d float32 schedule numbers to
    # the parameters' float64, so its resumed run differs from an uninterrupted one by rounding
    theirs, _ = _run(torch, name, kwargs, middle, grads[2:], opt_state=copy.deepcopy(tsd))
    exported = {
        "state": {i: {k: v.numpy() for k, v in s.items()} for i, s in tsd["state"].items()},
        "param_groups": tsd["param_groups"],
    }
    ours, opt = _run(minitorch, name, kwargs, middle, grads[2:], opt_state=exported)
    _assert_same(ours, theirs, np.float64, name)
    for state in opt.state.values():  # buffers were cast to the parameters' float64
        assert all(v.dtype == minitorch.float64 for k, v in state.items() if k != "step")


def test_state_dict_survives_save_and_load(tmp_path):
    if not hasattr(minitorch, "save"):
        pytest.skip("minitorch.save is not available")
    init, grads = _data(np.float32, steps=4)
    straight, _ = _run(minitorch, "Adam", dict(lr=0.01), init, grads)
    middle, opt = _run(minitorch, "Adam", dict(lr=0.01), init, grads[:2])
    minitorch.save({"optim": opt.state_dict(), "epoch": 2}, tmp_path / "ckpt.pt")
    saved = minitorch.load(tmp_path / "ckpt.pt")
    resumed, _ = _run(minitorch, "Adam", dict(lr=0.01), middle, grads[2:], opt_state=saved["optim"])
    for a, b in zip(straight, resumed):
        np.testing.assert_array_equal(a, b)


def test_load_state_dict_checks_groups():
    p = _params(minitorch, [np.ones(2, np.float32), np.ones(3, np.float32)])
    sd = optim.SGD(p, lr=0.1).state_dict()
    with pytest.raises(ValueError, match="different number of parameter groups"):
        optim.SGD([{"params": p[:1]}, {"params": p[1:]}], lr=0.1).load_state_dict(sd)
    with pytest.raises(ValueError, match="doesn't match the size"):
        optim.SGD(p[:1], lr=0.1).load_state_dict(sd)


# ---- Optimizer base class ------------------------------------------------------------------
def test_zero_grad():
    w = nn.Parameter(minitorch.ones(3))
    opt = optim.SGD([w], lr=0.1)
    (w * w).sum().backward()
    opt.zero_grad(set_to_none=False)
    assert w.grad is not None and w.grad.tolist() == [0.0, 0.0, 0.0]
    opt.zero_grad()
    assert w.grad is None


def test_add_param_group_and_errors():
    a, b = nn.Parameter(minitorch.ones(2)), nn.Parameter(minitorch.ones(2))
    opt = optim.SGD([a], lr=0.1, momentum=0.9)
    opt.add_param_group({"params": b, "lr": 0.5})
    assert opt.param_groups[1]["lr"] == 0.5 and opt.param_groups[1]["momentum"] == 0.9
    with pytest.raises(ValueError, match="more than one parameter group"):
        opt.add_param_group({"params": [a]})
    with pytest.raises(ValueError, match="empty parameter list"):
        optim.Adam([])
    with pytest.raises(TypeError, match="iterable of Tensors"):
        optim.Adam(a)
    with pytest.raises(TypeError, match="ordered collections"):
        opt.add_param_group({"params": {nn.Parameter(minitorch.ones(1))}})
    with pytest.raises(ValueError, match="non-leaf"):
        optim.Adam([a * 2])
    with pytest.raises(ValueError, match="Invalid learning rate"):
        optim.Adam([a], lr=-1.0)
    with pytest.raises(ValueError, match="Invalid beta parameter at index 1"):
        optim.Adam([a], betas=(0.9, 1.0))
    with pytest.raises(ValueError, match="Nesterov momentum requires"):
        optim.SGD([a], lr=0.1, nesterov=True)


def test_named_parameters_and_repr():
    model = nn.Linear(3, 2)
    opt = optim.Adam(model.named_parameters(), lr=0.01)
    assert opt.param_groups[0]["param_names"] == ["weight", "bias"]
    assert opt.param_groups[0]["params"][0] is model.weight
    text = repr(opt)
    assert text.startswith("Adam (\nParameter Group 0\n") and "    lr: 0.01\n" in text


def test_closure_is_evaluated_with_grad():
    w = nn.Parameter(minitorch.tensor([1.0, -2.0]))
    opt = optim.SGD([w], lr=0.25)

    def closure():
        opt.zero_grad()
        loss = (w * w).sum()
        loss.backward()
        return loss

    with minitorch.no_grad():
        loss = opt.step(closure)
    assert loss.item() == 5.0
    assert w.tolist() == [0.5, -1.0]


def test_update_is_in_place_and_bumps_the_version():
    w = nn.Parameter(minitorch.ones(4))
    storage, version = w._data, w._version
    opt = optim.Adam([w], lr=0.1)
    loss = (w * w).sum()
    w.grad = minitorch.ones(4)
    opt.step()
    assert w._data is storage and w._version > version
    with pytest.raises(RuntimeError):  # w was saved for backward and then modified
        loss.backward()


def test_non_contiguous_parameter_and_gradient():
    base = np.random.default_rng(1).standard_normal((4, 6)).astype(np.float32)
    g = np.random.default_rng(2).standard_normal((6, 4)).astype(np.float32)
    results = []
    for lib in (minitorch, torch):
        leaf = lib.tensor(base.copy())
        w = leaf.t()  # a transposed view: updated through the view, seen in the base
        w.requires_grad_(True)
        opt = lib.optim.SGD([w], lr=0.1, momentum=0.9)
        for _ in range(2):
            w.grad = lib.tensor(g.T.copy()).t()  # a non-contiguous gradient
            opt.step()
        results.append(leaf.numpy().copy())
    np.testing.assert_allclose(*results, rtol=1e-6)


def test_a_reused_step_plan_follows_replaced_state_data_and_gradients():
    """An optimizer keeps what a step worked out about its parameters for the next step: a
    replaced state_dict, a parameter given new data, a missing gradient and a non-contiguous
    parameter changed between steps must all be seen, as PyTorch sees them."""
    init, grads = _data(np.float32, steps=6)
    results = []
    for lib in (minitorch, torch):
        params = _params(lib, init)
        opt = lib.optim.Adam(params, lr=0.05, amsgrad=True)
        other = lib.optim.Adam(_params(lib, init), lr=0.05, amsgrad=True)
        leaf = lib.tensor(init[1].T.copy())
        strided = leaf.t()  # updated through a transposed view of `leaf`
        strided.requires_grad_(True)
        side = lib.optim.Adam([strided], lr=0.05)

        def step(k, skip=None):
            for i, (p, g) in enumerate(zip(params, grads[k])):
                p.grad = None if i == skip else lib.tensor(g.copy())
            opt.step()
            strided.grad = lib.tensor(grads[k][1].copy())
            side.step()

        step(0)
        step(1)
        for p, g in zip(other.param_groups[0]["params"], grads[2]):
            p.grad = lib.tensor(g.copy())
        other.step()
        opt.load_state_dict(other.state_dict())  # new state tensors
        step(2)
        params[0].data = lib.tensor(init[0] * 2)  # new storage for a parameter
        with lib.no_grad():
            leaf.mul_(0.5)  # the strided parameter changes between steps
        step(3)
        step(4, skip=1)  # one parameter without a gradient
        step(5)
        results.append([p.detach().numpy().copy() for p in params] + [leaf.detach().numpy().copy()])
    _assert_same(*results, np.float32, "reused plans")


def test_a_kept_plan_does_not_keep_replaced_state_alive():
    w = nn.Parameter(minitorch.ones(8))
    opt = optim.Adam([w], lr=0.1)
    w.grad = minitorch.ones(8)
    opt.step()
    old = weakref.ref(opt.state[w]["exp_avg"]._data)
    opt.load_state_dict(copy.deepcopy(opt.state_dict()))
    opt.step()
    gc.collect()
    assert old() is None


def test_an_unhashable_optimizer_steps_without_kept_plans():
    class Unhashable(optim.SGD):
        __hash__ = None  # as a subclass defining __eq__ alone gets

    w = nn.Parameter(minitorch.ones(3))
    opt = Unhashable([w], lr=0.5)
    for _ in range(2):
        w.grad = minitorch.ones(3)
        opt.step()
    np.testing.assert_array_equal(w.detach().numpy(), np.zeros(3, np.float32))


def test_empty_parameter_is_fine():
    w = nn.Parameter(minitorch.zeros(0, 3))
    w.grad = minitorch.zeros(0, 3)
    optim.Adam([w]).step()
    assert w.shape == (0, 3)


def test_gradient_shape_mismatch_is_a_clear_error():
    w = nn.Parameter(minitorch.zeros(3))
    w.grad = minitorch.zeros(4)
    with pytest.raises(RuntimeError, match=r"gradient .* shape \(4,\).* shape \(3,\)"):
        optim.SGD([w], lr=0.1).step()


def test_training_a_model_matches_torch():
    """A short regression run: model, loss, backward and optimizer together, 20 steps."""
    rng = np.random.default_rng(3)
    x, y = rng.standard_normal((32, 4)).astype(np.float32), rng.standard_normal((32, 1))
    w1, w2 = rng.standard_normal((8, 4)) * 0.5, rng.standard_normal((1, 8)) * 0.5
    losses = []
    for lib in (minitorch, torch):
        model = lib.nn.Sequential(lib.nn.Linear(4, 8), lib.nn.Tanh(), lib.nn.Linear(8, 1))
        with lib.no_grad():
            model[0].weight.copy_(lib.tensor(w1.astype(np.float32)))
            model[2].weight.copy_(lib.tensor(w2.astype(np.float32)))
            model[0].bias.zero_()
            model[2].bias.zero_()
        opt = lib.optim.AdamW(model.parameters(), lr=0.05)
        xs, ys = lib.tensor(x), lib.tensor(y.astype(np.float32))
        run = []
        for _ in range(20):
            opt.zero_grad()
            loss = ((model(xs) - ys) ** 2).mean()
            loss.backward()
            opt.step()
            run.append(loss.item())
        losses.append(run)
    np.testing.assert_allclose(*losses, rtol=1e-4)
    assert losses[0][-1] < losses[0][0]


def test_custom_optimizer_guide_runs():
    """Every python block of docs/custom_optimizer.md, in order, in one namespace."""
    text = (Path(__file__).parents[1] / "docs" / "custom_optimizer.md").read_text()
    blocks = re.findall(r"```python\n(.*?)```", text, flags=re.S)
    assert blocks
    namespace: dict = {}
    for block in blocks:
        exec(compile(block, "docs/custom_optimizer.md", "exec"), namespace)  # noqa: S102


def test_state_of_the_wrong_shape_is_a_clear_error():
    a = nn.Parameter(minitorch.zeros(3))
    b = nn.Parameter(minitorch.zeros(4))
    a.grad, b.grad = minitorch.ones(3), minitorch.ones(4)
    opt = optim.Adam([a])
    opt.step()
    other = optim.Adam([b])
    other.load_state_dict(opt.state_dict())
    with pytest.raises(RuntimeError, match=r"state buffer has shape \(3,\)"):
        other.step()


def test_kernels_are_cached_on_disk_and_reused(tmp_path):
    """A second process loads the compiled update kernels instead of compiling them again."""
    env = dict(os.environ, MINITORCH_CACHE_DIR=str(tmp_path / "cache"))
    code = (
        "import minitorch as t, minitorch.nn as nn, minitorch.optim as optim\n"
        "w = nn.Parameter(t.ones(3))\n"
        "opt = optim.Adam([w], lr=0.1, amsgrad=True)\n"
        "w.grad = t.ones(3)\n"
        "opt.step()\n"
        "print(w.tolist())\n"
    )
    first = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, env=env, check=True
    )
    cache = tmp_path / "cache"
    sources = [p.read_text() for p in cache.rglob("minitorch_gen_*.py")]
    assert any("def adam(" in s and "def kernel(" in s for s in sources)
    stamp = {p: p.stat().st_mtime_ns for p in cache.rglob("*.nbc")}
    second = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, env=env, check=True
    )
    assert first.stdout == second.stdout
    assert np.allclose(eval(first.stdout), 0.9)  # noqa: S307
    assert {p: p.stat().st_mtime_ns for p in cache.rglob("*.nbc")} == stamp


# ---- step hooks ----------------------------------------------------------------------------
def _hooked_run(lib, steps: int = 4):
    """SGD steps with a pre-hook that halves the gradients and a post-hook that counts; both
    removed before the last step. Returns (parameter values, calls seen by the hooks)."""
    w = lib.nn.Parameter(lib.ones(3))
    opt = lib.optim.SGD([w], lr=0.5)
    calls = []

    def halve(optimizer, args, kwargs):
        calls.append(("pre", optimizer is opt, len(args), dict(kwargs)))
        for p in optimizer.param_groups[0]["params"]:
            p.grad.mul_(0.5)

    pre = opt.register_step_pre_hook(halve)
    post = opt.register_step_post_hook(lambda o, a, k: calls.append(("post", w.tolist())))
    for step in range(steps):
        if step == steps - 1:
            pre.remove()
            post.remove()
        w.grad = lib.ones(3)
        opt.step()
    return w.tolist(), calls


def test_step_hooks_match_torch():
    ours, theirs = _hooked_run(minitorch), _hooked_run(torch)
    assert ours == theirs
    assert ours[1][0] == ("pre", True, 1, {}) and len(ours[1]) == 6  # removed for the last


def test_step_pre_hook_can_replace_arguments_and_bad_returns_raise():
    for lib in (minitorch, torch):
        w = lib.nn.Parameter(lib.ones(1))
        opt = lib.optim.SGD([w], lr=1.0)
        closure = lambda: lib.tensor(7.0)  # noqa: E731
        handle = opt.register_step_pre_hook(lambda o, a, k: (a, {"closure": closure}))
        w.grad = lib.ones(1)
        assert opt.step().item() == 7.0  # the hook's closure was passed to step
        handle.remove()
        opt.register_step_pre_hook(lambda o, a, k: "nope")
        with pytest.raises(RuntimeError, match=r"must return None or a tuple of \(new_args"):
            opt.step()


def test_step_hooks_run_once_when_a_subclass_step_calls_super():
    class Logged(optim.SGD):
        def step(self, closure=None):
            return super().step(closure)

    w = nn.Parameter(minitorch.ones(2))
    opt = Logged([w], lr=0.1)
    calls = []
    opt.register_step_post_hook(lambda o, a, k: calls.append(1))
    w.grad = minitorch.ones(2)
    opt.step()
    assert calls == [1]


def test_step_hooks_run_at_every_replay_of_a_compiled_step():
    """A compiled training step replays optimizer.step() as one call, hooks included: a
    pre-hook scaling the gradients changes the traced run exactly as the eager one."""
    rng = np.random.default_rng(5)
    x = minitorch.tensor(rng.standard_normal((8, 4)).astype(np.float32))
    y = minitorch.tensor(rng.standard_normal((8, 1)).astype(np.float32))
    runs = []
    for compiled in (False, True):
        minitorch.manual_seed(0)
        model = nn.Linear(4, 1)
        opt = optim.NAdam(model.parameters(), lr=0.05)
        calls = []

        def scale_grads(optimizer, args, kwargs):
            calls.append("pre")
            for p in model.parameters():
                p.grad.mul_(0.1)

        opt.register_step_pre_hook(scale_grads)
        opt.register_step_post_hook(lambda o, a, k: calls.append("post"))

        def train_step():
            opt.zero_grad()
            loss = ((model(x) - y) ** 2).mean()
            loss.backward()
            opt.step()
            return loss

        step = minitorch.compile(train_step) if compiled else train_step
        losses = [step().item() for _ in range(5)]
        if compiled:
            assert step.stats.replays >= 3
        assert calls == ["pre", "post"] * 5
        runs.append((losses, [p.detach().numpy().copy() for p in model.parameters()]))
    assert runs[0][0] == runs[1][0]
    _assert_same(runs[0][1], runs[1][1], np.float32, "compiled with hooks")


def _steps_across_double(lib, name, kwargs, steps=4):
    """A float32 Linear stepped once, converted with .double(), then stepped `steps` more."""
    m = lib.nn.Linear(3, 2)
    with lib.no_grad():
        m.weight.copy_(lib.tensor(np.arange(6.0).reshape(2, 3) / 7))
        m.bias.copy_(lib.tensor([0.1, -0.2]))
    opt = getattr(lib.optim, name)(m.parameters(), **kwargs)
    x = np.linspace(-1, 1, 12).reshape(4, 3)
    for i in range(1 + steps):
        if i == 1:
            m.double()
        opt.zero_grad()
        (m(lib.tensor(x, dtype=m.weight.dtype)) ** 2).sum().backward()
        opt.step()
    name = lambda dtype: str(dtype).split(".")[-1]  # noqa: E731
    buffers = {k: name(v.dtype) for k, v in opt.state[m.weight].items() if k != "step"}
    return [p.detach().numpy() for p in m.parameters()], name(m.weight.dtype), buffers


@pytest.mark.parametrize(
    "name, kwargs",
    [
        ("SGD", dict(lr=0.1, momentum=0.9)),
        ("SGD", dict(lr=0.1, momentum=0.9, nesterov=True, weight_decay=0.01)),
        ("SGD", dict(lr=0.1, momentum=0.9, dampening=0.3)),
        ("RMSprop", dict(lr=0.01)),
        ("RMSprop", dict(lr=0.01, momentum=0.5)),
    ],
)
def test_model_double_after_a_step_keeps_training_like_torch(name, kwargs):
    """PyTorch's in-place updates keep a float32 state buffer float32 when the parameters
    become float64 and compute the parameter update in float64; minitorch refused the step."""
    ours, ours_dtype, ours_buffers = _steps_across_double(minitorch, name, kwargs)
    theirs, theirs_dtype, theirs_buffers = _steps_across_double(torch, name, kwargs)
    assert ours_dtype == theirs_dtype == "float64"
    assert ours_buffers == theirs_buffers  # the state keeps its float32
    for p, q in zip(ours, theirs):
        np.testing.assert_allclose(p, q, rtol=1e-6, atol=1e-7)
