"""Pooling and recurrent layers on the CUDA backend against the CPU backend: values and
gradients of max / average / adaptive average pooling and of RNN, GRU and LSTM layers, and a
GRU training step. Without a GPU these run on numba's CUDA simulator (tests/conftest.py), which
runs every kernel thread in Python: shapes stay tiny.
"""

from __future__ import annotations

import numpy as np
import pytest

pytest.importorskip("numba_cuda", reason="the CUDA backend needs numba-cuda: pip install '.[cuda]'")

from cuda_compare import both as _both  # noqa: E402
from cuda_compare import close as _close  # noqa: E402

import minitorch as mt  # noqa: E402
import minitorch.nn as nn  # noqa: E402
import minitorch.nn.functional as F  # noqa: E402
from minitorch.backend import cuda as runtime  # noqa: E402

RNG = np.random.default_rng(0)


def _array(shape, low=-2.0, high=2.0, dtype=np.float32):
    return RNG.uniform(low, high, shape).astype(dtype)


@pytest.fixture
def no_host_copies(monkeypatch):
    """Fail if a device array is copied to the host while the test body runs on cuda."""

    def refuse(array):
        raise AssertionError("a cuda op copied a device array to the host")

    def check(fn, *args):
        monkeypatch.setattr(runtime, "to_host", refuse)
        try:
            return fn(*args)
        finally:
            monkeypatch.undo()

    return check


def _check_pool(fn, shape=(2, 3, 6, 6), no_host_copies=None, dtype=np.float32):
    """fn on cuda == fn on cpu: every output (values, indices) and the input's gradient."""
    cpu, gpu = _both(_array(shape, dtype=dtype), requires_grad=True)
    want = fn(cpu)
    got = no_host_copies(fn, gpu)
    want, got = (want, got) if isinstance(want, tuple) else ((want,), (got,))
    for k, (g, w) in enumerate(zip(got, want)):
        _close(g, w, f"output {k}")
    seed = _array(tuple(want[0].shape), dtype=dtype)
    want[0].backward(mt.tensor(seed))
    no_host_copies(got[0].backward, mt.tensor(seed, device="cuda"))
    _close(gpu.grad, cpu.grad, "input gradient")


# ---- pooling --------------------------------------------------------------------------------
POOLS = {
    # overlapping windows (stride < kernel: the backward's atomics add up), padding, ceil_mode
    "max_k3_s2_p1_ceil_indices": lambda x: F.max_pool2d(
        x, 3, stride=2, padding=1, ceil_mode=True, return_indices=True
    ),
    "max_k2_module": lambda x: nn.MaxPool2d(2)(x),
    "max_k2_s1_dilation2": lambda x: F.max_pool2d(x, 2, stride=1, dilation=2),
    "avg_k3_s2_p1_ceil_exclude_pad": lambda x: F.avg_pool2d(
        x, 3, stride=2, padding=1, ceil_mode=True, count_include_pad=False
    ),
    "avg_k2_s1_p1_include_pad": lambda x: nn.AvgPool2d(2, stride=1, padding=1)(x),
    "avg_k3_divisor_override": lambda x: F.avg_pool2d(x, (3, 2), stride=(2, 3), divisor_override=5),
    "adaptive_4x3": lambda x: nn.AdaptiveAvgPool2d((4, 3))(x),  # uneven windows overlap
    "adaptive_1": lambda x: F.adaptive_avg_pool2d(x, 1),
}


@pytest.mark.parametrize("name", list(POOLS))
def test_pooling_matches_cpu(name, no_host_copies):
    _check_pool(POOLS[name], no_host_copies=no_host_copies)


@pytest.mark.parametrize("pool", [nn.MaxPool1d(3, stride=2, padding=1), nn.AvgPool1d(2)])
def test_pool1d_matches_cpu(pool, no_host_copies):
    """The 1-D layers run the 2-D ops on a height-1 image."""
    _check_pool(pool, (2, 3, 6), no_host_copies)


@pytest.mark.parametrize("name", ["max_k3_s2_p1_ceil_indices", "avg_k3_s2_p1_ceil_exclude_pad"])
def test_pooling_float64_matches_cpu(name, no_host_copies):
    _check_pool(POOLS[name], (1, 2, 5, 5), no_host_copies, dtype=np.float64)


def test_max_pool_without_gradient_matches_cpu(no_host_copies):
    """Inference wants no indices: the CUDA forward computes them and hands back an empty
    array, and the values match the CPU's values-only kernel."""
    cpu, gpu = _both(_array((2, 3, 6, 6)))
    with mt.no_grad():
        want = F.max_pool2d(cpu, 2)
        got = no_host_copies(F.max_pool2d, gpu, 2)
    _close(got, want, "values")


def test_max_pool_unbatched_and_window_in_padding(no_host_copies):
    """A 3-D input, and a 1-wide image whose windows need the padding checks."""
    _check_pool(lambda x: F.max_pool2d(x, 2, padding=1), (3, 1, 4), no_host_copies)


# ---- recurrent layers -----------------------------------------------------------------------
def _pair_of(cls, **kwargs):
    """A layer on the CPU and a copy of it (same weights) on cuda."""
    mt.manual_seed(0)
    cpu = cls(**kwargs)
    gpu = cls(**kwargs)
    gpu.load_state_dict(cpu.state_dict())
    return cpu, gpu.to("cuda")


LAYERS = {
    "rnn_tanh_2_layers_batch_first_h0": (nn.RNN, dict(num_layers=2, batch_first=True), 1),
    "rnn_relu_bidirectional": (nn.RNN, dict(nonlinearity="relu", bidirectional=True), 0),
    "gru_2_layers_bidirectional_h0": (nn.GRU, dict(num_layers=2, bidirectional=True), 1),
    "lstm_2_layers_bidirectional_batch_first_h0_c0": (
        nn.LSTM,
        dict(num_layers=2, bidirectional=True, batch_first=True),
        2,
    ),
}


@pytest.mark.parametrize("name", list(LAYERS))
def test_recurrent_layer_matches_cpu(name, no_host_copies):
    """Output, h_n (and c_n), and the gradients of the input, the initial states and every
    weight, for a seed gradient on all outputs."""
    cls, kwargs, n_states = LAYERS[name]
    cpu, gpu = _pair_of(cls, input_size=3, hidden_size=4, **kwargs)
    layers = kwargs.get("num_layers", 1) * (2 if kwargs.get("bidirectional") else 1)
    shape = (2, 3, 3) if kwargs.get("batch_first") else (3, 2, 3)  # batch 2, 3 steps
    x = _both(_array(shape), requires_grad=True)
    states = [_both(_array((layers, 2, 4)), requires_grad=True) for _ in range(n_states)]

    def run(model, k):
        hx = [s[k] for s in states]
        hx = None if not hx else hx[0] if len(hx) == 1 else tuple(hx)
        out, h_n = model(x[k], hx)
        return [out] + (list(h_n) if isinstance(h_n, tuple) else [h_n])

    want, got = run(cpu, 0), no_host_copies(run, gpu, 1)
    seeds = [_array(tuple(w.shape)) for w in want]
    for k, (g, w) in enumerate(zip(got, want)):
        _close(g, w, f"output {k}")
    mt.autograd.backward(want, [mt.tensor(s) for s in seeds])
    no_host_copies(mt.autograd.backward, got, [mt.tensor(s, device="cuda") for s in seeds])
    for k, (c, g) in enumerate([x] + states):
        _close(g.grad, c.grad, f"gradient of input {k}")
    for (name_, w), (_, g) in zip(cpu.named_parameters(), gpu.named_parameters()):
        _close(g.grad, w.grad, f"gradient of {name_}", rtol=1e-4, atol=1e-5)


def test_float64_gru_matches_cpu(no_host_copies):
    """The gate kernels in float64 (their `one` and math follow the arrays' dtype)."""
    cpu, gpu = _pair_of(nn.GRU, input_size=3, hidden_size=4)
    cpu, gpu = cpu.double(), gpu.double()
    x = _both(_array((3, 2, 3), dtype=np.float64), requires_grad=True)
    want, got = cpu(x[0])[0], no_host_copies(lambda t: gpu(t)[0], x[1])
    _close(got, want, "output", rtol=1e-12, atol=1e-12)
    seed = _array(tuple(want.shape), dtype=np.float64)
    want.backward(mt.tensor(seed))
    no_host_copies(got.backward, mt.tensor(seed, device="cuda"))
    _close(x[1].grad, x[0].grad, "input gradient", rtol=1e-12, atol=1e-12)
    _close(gpu.weight_hh_l0.grad, cpu.weight_hh_l0.grad, "weight_hh gradient", rtol=1e-12)


@pytest.mark.parametrize("cls", [nn.RNNCell, nn.GRUCell, nn.LSTMCell])
def test_cell_matches_cpu(cls, no_host_copies):
    """One step from zero states (created on the input's device), values and gradients."""
    cpu, gpu = _pair_of(cls, input_size=3, hidden_size=4)
    x = _both(_array((2, 3)), requires_grad=True)
    want, got = cpu(x[0]), no_host_copies(gpu, x[1])
    want, got = (want, got) if isinstance(want, tuple) else ((want,), (got,))
    seeds = [_array((2, 4)) for _ in want]
    for k, (g, w) in enumerate(zip(got, want)):
        _close(g, w, f"state {k}")
    mt.autograd.backward(list(want), [mt.tensor(s) for s in seeds])
    no_host_copies(mt.autograd.backward, list(got), [mt.tensor(s, device="cuda") for s in seeds])
    _close(x[1].grad, x[0].grad, "input gradient")
    _close(gpu.weight_hh.grad, cpu.weight_hh.grad, "weight_hh gradient")


def _gru_step(device):
    """One SGD step of a tiny GRU + linear head on a regression loss."""
    mt.manual_seed(0)
    gru, head = nn.GRU(3, 4, batch_first=True).to(device), nn.Linear(4, 2).to(device)
    params = list(gru.parameters()) + list(head.parameters())
    opt = mt.optim.SGD(params, lr=0.5)
    rng = np.random.default_rng(1)
    x = mt.tensor(rng.standard_normal((2, 3, 3)).astype(np.float32), device=device)
    y = mt.tensor(rng.standard_normal((2, 2)).astype(np.float32), device=device)
    out, _ = gru(x)
    loss = F.mse_loss(head(out[:, -1]), y)
    opt.zero_grad()
    loss.backward()
    opt.step()
    return loss.detach(), params


def test_gru_training_step_matches_cpu(no_host_copies):
    want_loss, want_params = _gru_step("cpu")
    got_loss, got_params = no_host_copies(_gru_step, "cuda")
    _close(got_loss, want_loss, "loss")
    for k, (got, want) in enumerate(zip(got_params, want_params)):
        _close(got, want, f"parameter {k} after one step", rtol=1e-5, atol=1e-6)
