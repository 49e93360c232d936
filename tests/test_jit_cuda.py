"""minitorch.compile on cuda tensors (numba's CUDA simulator where there is no GPU): the replay
runs each op's CUDA forward and the fused kernels of the CUDA emitter, and gives eager's
numbers bit for bit."""

from __future__ import annotations

import numpy as np
import pytest

pytest.importorskip("numba_cuda", reason="the CUDA backend needs numba-cuda: pip install '.[cuda]'")

import minitorch as mt  # noqa: E402

nn = mt.nn


def _training_step():
    """Linear-ReLU-Dropout-Linear, cross-entropy, Adam: a step on cuda tensors."""
    mt.manual_seed(0)
    model = nn.Sequential(nn.Linear(6, 8), nn.ReLU(), nn.Dropout(0.25), nn.Linear(8, 3))
    model.to("cuda")
    opt = mt.optim.Adam(model.parameters(), lr=1e-2)
    x = mt.randn(4, 6).to("cuda")
    y = mt.tensor([0, 2, 1, 2]).to("cuda")

    def step():
        opt.zero_grad()
        loss = nn.functional.cross_entropy(model(x), y)
        loss.backward()
        opt.step()
        return loss

    return step, model


def test_traced_cuda_training_step_matches_eager_bit_for_bit():
    eager, eager_model = _training_step()
    step, model = _training_step()
    traced = mt.compile(step)
    for i in range(4):  # eager call, trace, two replays; dropout on
        mt.manual_seed(i)
        want = eager()
        mt.manual_seed(i)
        got = traced()
        assert got.device == mt.device("cuda:0")
        assert got.item() == want.item()
    for p, q in zip(model.parameters(), eager_model.parameters()):
        assert p.device == mt.device("cuda:0")
        np.testing.assert_array_equal(p.detach().cpu().numpy(), q.detach().cpu().numpy())
    assert traced.stats.replays == 2
    report = traced.explain()
    assert "linear+[relu]" in report and "matmul+[mul,threshold_backward]" in report


def test_check_mode_compares_a_cuda_replay_with_eager():
    traced = mt.compile(lambda a, b: ((a * b).tanh() + 1).sum(dim=1), check=True)
    a, b = mt.randn(3, 5).to("cuda"), mt.randn(5).to("cuda")
    for _ in range(3):
        out = traced(a, b)
    expected = ((a.cpu() * b.cpu()).tanh() + 1).sum(dim=1)
    np.testing.assert_allclose(out.cpu().numpy(), expected.numpy(), rtol=1e-6)


def test_moving_an_argument_to_another_device_retraces_with_its_reason():
    traced = mt.compile(lambda x: (x * 2).sum())
    x = mt.ones(3)
    for _ in range(3):
        assert traced(x).item() == 6.0
    for _ in range(3):
        assert traced(x.to("cuda")).item() == 6.0
    assert traced.stats.retraces == [
        "argument 0 changed: ('tensor', (3,), 'float32', False, 'contiguous') -> "
        "('tensor', (3,), 'float32', False, 'contiguous', 'cuda:0')"
    ]
