"""Mixed precision: GradScaler's dynamic loss scaling and the autocast API, against PyTorch."""

import numpy as np
import pytest

import minitorch

torch = pytest.importorskip("torch")


def _scaler_run(lib, init_scale, growth_factor, growth_interval, bad_steps, steps):
    """(scale, state_dict, weights) after each scaled SGD step; bad_steps get an inf gradient."""
    w = lib.nn.Parameter(lib.ones(3))
    opt = lib.optim.SGD([w], lr=0.1)
    scaler = lib.amp.GradScaler(
        "cpu", init_scale=init_scale, growth_factor=growth_factor, growth_interval=growth_interval
    )
    run = []
    for i in range(steps):
        opt.zero_grad()
        loss = (w * lib.tensor([1.0, float("inf") if i in bad_steps else 2.0, 3.0])).sum() * 1e-3
        scaler.scale(loss).backward()
        scaler.step(opt)
        scaler.update()
        run.append((scaler.get_scale(), scaler.state_dict(), w.detach().numpy().copy()))
    return run


@pytest.mark.parametrize(
    "init_scale, growth_factor, growth_interval",
    [(2.0**127, 2.0, 1), (2.0**125, 2.0, 2), (3.0e38, 1.1, 1), (2.0**125, 1.7, 3)],
)
def test_grad_scaler_never_grows_its_scale_past_float32_like_torchs(
    init_scale, growth_factor, growth_interval
):
    """Growing 2**127 gave inf, and every later step was skipped; PyTorch keeps a scale whose
    growth overflows float32 (and restarts the growth count)."""
    args = (init_scale, growth_factor, growth_interval, {5, 6, 14}, 24)
    ours, theirs = _scaler_run(minitorch, *args), _scaler_run(torch, *args)
    for k, ((s, state, w), (ts, tstate, tw)) in enumerate(zip(ours, theirs)):
        assert s == ts and np.isfinite(s), f"step {k}: scale {s} vs torch {ts}"
        assert state == tstate, f"step {k}"
        np.testing.assert_allclose(w, tw, rtol=1e-6, err_msg=f"step {k}")


@pytest.mark.parametrize(
    "calls, message",
    [
        (("step", "step"), "step() has already been called since the last update()."),
        (("step", "unscale_"), "unscale_() is being called after step()."),
        (
            ("unscale_", "unscale_"),
            "unscale_() has already been called on this optimizer since the last update().",
        ),
        (("update",), "No inf checks were recorded prior to update."),
    ],
)
def test_grad_scaler_refuses_calls_out_of_order_like_torch(calls, message):
    """A second step() before update() stepped the optimizer twice with the same gradients."""
    for lib in (minitorch, torch):
        w = lib.nn.Parameter(lib.ones(2))
        opt = lib.optim.SGD([w], lr=0.1)
        scaler = lib.amp.GradScaler("cpu")
        scaler.scale((w * 2).sum()).backward()
        for call in calls[:-1]:
            getattr(scaler, call)(opt)
        last = calls[-1]
        with pytest.raises(AssertionError if last == "update" else RuntimeError) as raised:
            getattr(scaler, last)(*(() if last == "update" else (opt,)))
        assert str(raised.value) == message, lib.__name__
        if calls == ("step", "step"):
            np.testing.assert_allclose(w.detach().numpy(), [0.8, 0.8], rtol=1e-6)
