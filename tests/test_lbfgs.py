"""optim.LBFGS against torch.optim.LBFGS: the same iterates, evaluation counts and state on
least squares (with a quartic penalty, so the curvature changes) and logistic regression, in
float64 and float32, with and without the strong-Wolfe line search; its errors; and a compiled
step that calls opt.step(closure)."""

from __future__ import annotations  # noqa: I001  (minitorch must come before torch)

import minitorch
import numpy as np
import pytest
import torch

STATE_KEYS = {
    "func_evals",
    "n_iter",
    "d",
    "t",
    "old_dirs",
    "old_stps",
    "ro",
    "H_diag",
    "prev_flat_grad",
    "prev_loss",
    "al",
}
TOL = {"float64": dict(rtol=1e-10, atol=1e-12), "float32": dict(rtol=1e-5, atol=1e-6)}


def _problem(lib, dtype: str, kind: str, seed: int = 0):
    """(parameters, loss function) of a small least-squares or logistic-regression fit."""
    rng = np.random.default_rng(seed)
    x, y = rng.standard_normal((20, 4)), rng.standard_normal(20)
    if kind == "logistic":
        y = (y > 0).astype(np.float64)
    dt = getattr(lib, dtype)
    x, y = lib.tensor(x, dtype=dt), lib.tensor(y, dtype=dt)
    w = lib.nn.Parameter(lib.tensor(rng.standard_normal(4), dtype=dt))
    b = lib.nn.Parameter(lib.zeros(1, dtype=dt))

    def loss_fn():
        z = x @ w + b
        if kind == "logistic":
            return lib.nn.functional.binary_cross_entropy_with_logits(z, y)
        return ((z - y) ** 2).mean() + 0.1 * (w**4).sum()

    return [w, b], loss_fn


def _fit(lib, dtype: str, kind: str, steps: int, **kwargs):
    """Per step: the parameters and the returned loss; and the optimizer."""
    params, loss_fn = _problem(lib, dtype, kind)
    opt = lib.optim.LBFGS(params, **kwargs)

    def closure():
        opt.zero_grad()
        loss = loss_fn()
        loss.backward()
        return loss

    rows = []
    for _ in range(steps):
        loss = opt.step(closure)
        flat = [p.detach().numpy().reshape(-1) for p in params]
        rows.append(np.concatenate([*flat, [float(loss.detach())]]))
    return np.array(rows), opt


@pytest.mark.parametrize("dtype", ["float64", "float32"])
@pytest.mark.parametrize("line_search_fn", [None, "strong_wolfe"])
@pytest.mark.parametrize("kind", ["least_squares", "logistic"])
def test_iterates_match_torch(dtype, line_search_fn, kind):
    # float32 stops short of convergence, where rounding decides the stopping tests
    steps, max_iter = (3, 6) if dtype == "float64" else (2, 3)
    kwargs = dict(max_iter=max_iter, history_size=4, line_search_fn=line_search_fn)
    ours, opt = _fit(minitorch, dtype, kind, steps, **kwargs)
    theirs, topt = _fit(torch, dtype, kind, steps, **kwargs)
    np.testing.assert_allclose(ours, theirs, **TOL[dtype])
    state, tstate = opt.state_dict()["state"][0], topt.state_dict()["state"][0]
    assert set(state) == set(tstate) == STATE_KEYS
    for key in ("func_evals", "n_iter"):
        assert state[key] == tstate[key], key
    assert len(state["old_dirs"]) == len(tstate["old_dirs"])
    for key in ("d", "prev_flat_grad"):
        np.testing.assert_allclose(state[key].numpy(), tstate[key].numpy(), **TOL[dtype])
    np.testing.assert_allclose(float(state["H_diag"]), float(tstate["H_diag"]), **TOL[dtype])


def test_history_is_capped_at_history_size():
    _, opt = _fit(minitorch, "float64", "least_squares", 2, max_iter=8, history_size=2)
    _, topt = _fit(torch, "float64", "least_squares", 2, max_iter=8, history_size=2)
    state, tstate = opt.state_dict()["state"][0], topt.state_dict()["state"][0]
    assert len(state["old_dirs"]) == len(tstate["old_dirs"]) == 2
    for ours, theirs in zip(state["old_stps"], tstate["old_stps"]):
        np.testing.assert_allclose(ours.numpy(), theirs.numpy(), rtol=1e-10)


def test_stops_at_once_where_the_gradient_is_zero():
    w = minitorch.nn.Parameter(minitorch.ones(3))
    opt = minitorch.optim.LBFGS([w])

    def closure():
        opt.zero_grad()
        loss = ((w - 1) ** 2).sum()
        loss.backward()
        return loss

    assert float(opt.step(closure)) == 0.0
    assert opt.state[w] == {"func_evals": 1, "n_iter": 0}


def test_step_requires_a_closure():
    opt = minitorch.optim.LBFGS([minitorch.nn.Parameter(minitorch.ones(2))])
    for call in (lambda: opt.step(), lambda: opt.step(None)):
        with pytest.raises(TypeError, match="LBFGS.step: a closure is required"):
            call()


@pytest.mark.parametrize(
    "make, error, message",
    [
        (lambda lib, p, q: lib.optim.LBFGS([{"params": [p]}, {"params": [q]}]), ValueError, ""),
        (lambda lib, p, q: lib.optim.LBFGS([p], lr=-1.0), ValueError, "Invalid learning rate"),
    ],
)
def test_constructor_errors_match_torch(make, error, message):
    for lib in (minitorch, torch):
        p, q = lib.nn.Parameter(lib.ones(2)), lib.nn.Parameter(lib.ones(2))
        with pytest.raises(error, match=message or "parameter groups"):
            make(lib, p, q)


def test_unknown_line_search_raises_as_torch():
    for lib in (minitorch, torch):
        w = lib.nn.Parameter(lib.ones(2))
        opt = lib.optim.LBFGS([w], line_search_fn="armijo")

        def closure():
            opt.zero_grad()
            loss = (w * w).sum()
            loss.backward()
            return loss

        with pytest.raises(RuntimeError, match="only 'strong_wolfe' is supported"):
            opt.step(closure)


COMPILED = dict(max_iter=4, line_search_fn="strong_wolfe")


def _compiled_fit(fallback: str):
    params, loss_fn = _problem(minitorch, "float64", "least_squares")
    opt = minitorch.optim.LBFGS(params, **COMPILED)

    def closure():
        opt.zero_grad()
        loss = loss_fn()
        loss.backward()
        return loss

    @minitorch.compile(fallback=fallback)
    def train_step():
        return opt.step(closure)

    return params, train_step


def test_compiled_step_with_a_closure_is_refused_before_it_runs():
    params, train_step = _compiled_fit("error")
    expected, _ = _fit(minitorch, "float64", "least_squares", 1, **COMPILED)
    assert float(train_step().detach()) == expected[0, -1]  # the first call runs eagerly
    for _ in range(2):  # the trace refuses the closure before the step runs
        with pytest.raises(RuntimeError, match=r"LBFGS.step\(\) .* given a function \(a closure"):
            train_step()
    flat = np.concatenate([p.detach().numpy().reshape(-1) for p in params])
    np.testing.assert_array_equal(flat, expected[0, :-1])


def test_compiled_step_with_fallback_runs_eagerly_as_eager():
    params, train_step = _compiled_fit("eager")
    with pytest.warns(RuntimeWarning, match="closure"):
        losses = [float(train_step().detach()) for _ in range(3)]
    expected, _ = _fit(minitorch, "float64", "least_squares", 3, **COMPILED)
    np.testing.assert_allclose(losses, expected[:, -1], rtol=1e-12)
    flat = np.concatenate([p.detach().numpy().reshape(-1) for p in params])
    np.testing.assert_allclose(flat, expected[-1, :-1], rtol=1e-12)


def test_resume_from_state_dict_is_identical():
    kwargs = dict(max_iter=3, history_size=4, line_search_fn="strong_wolfe")
    uninterrupted, _ = _fit(minitorch, "float64", "least_squares", 2, **kwargs)
    params, loss_fn = _problem(minitorch, "float64", "least_squares")
    opts = []

    def closure():
        opts[-1].zero_grad()
        loss = loss_fn()
        loss.backward()
        return loss

    opts.append(minitorch.optim.LBFGS(params, **kwargs))
    opts[-1].step(closure)
    saved = opts[-1].state_dict()
    opts.append(minitorch.optim.LBFGS(params, **kwargs))
    opts[-1].load_state_dict(saved)
    loss = opts[-1].step(closure)
    flat = np.concatenate([p.detach().numpy().reshape(-1) for p in params])
    np.testing.assert_array_equal(np.append(flat, float(loss.detach())), uninterrupted[-1])
