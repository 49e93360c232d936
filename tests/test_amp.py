"""Mixed precision: GradScaler's dynamic loss scaling and the autocast API, against PyTorch."""

import importlib

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


def _autocast_states(lib):
    """What is_autocast_enabled / get_autocast_dtype report in and out of nested regions."""
    seen = [(lib.is_autocast_enabled("cpu"), lib.get_autocast_dtype("cpu"))]
    with lib.autocast(device_type="cpu", dtype=lib.bfloat16):
        seen.append((lib.is_autocast_enabled("cpu"), lib.is_autocast_cpu_enabled()))
        with lib.autocast("cpu", enabled=False):
            seen.append((lib.is_autocast_enabled("cpu"), lib.get_autocast_dtype("cpu")))
        with lib.cpu.amp.autocast(dtype=lib.float16):
            seen.append((lib.is_autocast_enabled("cpu"), lib.get_autocast_cpu_dtype()))
        seen.append((lib.is_autocast_enabled("cuda"), lib.get_autocast_dtype("cuda")))
    seen.append((lib.is_autocast_enabled("cpu"), lib.amp.is_autocast_available("cpu")))
    return [(a, str(b).split(".")[-1]) for a, b in seen]


def test_autocast_regions_report_their_state_like_torchs_and_run_in_float32():
    """`torch.bfloat16` did not exist, so the usual CPU autocast spelling failed before any op;
    is_autocast_enabled was False inside a region."""
    assert _autocast_states(minitorch) == _autocast_states(torch)
    with minitorch.autocast("cpu", dtype=minitorch.bfloat16):
        out = minitorch.nn.Linear(4, 2)(minitorch.randn(3, 4))
    assert out.dtype is minitorch.float32  # (PyTorch's would be bfloat16; see amp's doc)
    with pytest.raises(RuntimeError, match="unsupported autocast device_type 'tpu'"):
        minitorch.autocast("tpu", dtype=minitorch.bfloat16)


@pytest.mark.parametrize(
    "make",
    [
        lambda t: t.zeros(3, dtype=t.bfloat16),
        lambda t: t.tensor([1.0], dtype=t.bfloat16),
        lambda t: t.ones(2).bfloat16(),
        lambda t: t.ones(2).to(t.bfloat16),
        lambda t: t.nn.Linear(2, 2).bfloat16(),
    ],
)
def test_a_bfloat16_tensor_is_refused_with_what_to_do_instead(make):
    with pytest.raises(TypeError, match=r"^bfloat16: .*float32.*autocast"):
        make(minitorch)


def test_finfo_of_bfloat16_is_torchs():
    ours, theirs = minitorch.finfo(minitorch.bfloat16), torch.finfo(torch.bfloat16)
    assert repr(ours) == repr(theirs) and (ours.bits, ours.max) == (theirs.bits, theirs.max)
    assert minitorch.bfloat16.itemsize == 2 and minitorch.bfloat16.is_floating_point


def _custom_function_run(lib, cast_inputs):
    """Autocast states seen inside a custom Function's forward and backward, and the grad."""
    seen = []

    class Square(lib.autograd.Function):
        @staticmethod
        @lib.amp.custom_fwd(device_type="cpu", cast_inputs=cast_inputs)
        def forward(ctx, x):
            seen.append(("fwd", lib.is_autocast_enabled("cpu"), str(x.dtype).split(".")[-1]))
            ctx.save_for_backward(x)
            return x * x

        @staticmethod
        @lib.amp.custom_bwd(device_type="cpu")
        def backward(ctx, grad):
            seen.append(("bwd", lib.is_autocast_enabled("cpu")))
            (x,) = ctx.saved_tensors
            return 2 * x * grad

    x = lib.tensor([1.0, 2.0], requires_grad=True)
    with lib.autocast("cpu", dtype=lib.bfloat16):
        y = Square.apply(x)
    y.sum().backward()
    return seen, x.grad.tolist()


@pytest.mark.parametrize("cast_inputs", [None, "float32"])
def test_custom_fwd_and_bwd_set_the_autocast_state_like_torchs(cast_inputs):
    def run(lib):
        return _custom_function_run(lib, cast_inputs and getattr(lib, cast_inputs))

    assert run(minitorch) == run(torch)


@pytest.mark.parametrize(
    "device, names",
    [("cuda", ["autocast", "GradScaler", "custom_fwd", "custom_bwd"]), ("cpu", ["autocast"])],
)
def test_amp_submodules_import_like_torchs(device, names):
    """`from torch.cuda.amp import autocast, GradScaler` (and torch.cpu.amp): real submodules."""
    ours = importlib.import_module(f"minitorch.{device}.amp")
    theirs = importlib.import_module(f"torch.{device}.amp")
    assert ours is getattr(minitorch, device).amp
    for name in names:
        assert hasattr(ours, name) and hasattr(theirs, name), name
    # (CPU-only torch turns its cuda autocast off with a warning, so the state is ours alone)
    with ours.autocast(dtype=minitorch.bfloat16):
        assert minitorch.is_autocast_enabled(device)
    assert not minitorch.is_autocast_enabled(device)
