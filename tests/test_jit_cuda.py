"""minitorch.compile on cuda tensors: refused with a clear error until the CUDA emitter exists;
fallback="eager" runs the step eagerly on the device (numba's simulator without a GPU)."""

from __future__ import annotations

import warnings

import pytest

pytest.importorskip("numba_cuda", reason="the CUDA backend needs numba-cuda: pip install '.[cuda]'")

import minitorch as mt  # noqa: E402
from minitorch.jit.trace import TraceError  # noqa: E402


def _step(x):
    return (x * 2).sum()


def test_tracing_a_cuda_step_names_the_op_device_and_the_fallback():
    compiled = mt.compile(_step)
    x = mt.ones(3, device="cuda")
    compiled(x)  # the eager warm-up call
    with pytest.raises(TraceError, match=r'ran mul on cuda:0 tensors.*fallback="eager"'):
        compiled(x)


def test_fallback_eager_runs_a_cuda_step_on_the_device_with_one_warning():
    compiled = mt.compile(_step, fallback="eager")
    x = mt.ones(3, device="cuda")
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        results = [compiled(x) for _ in range(3)]
    assert [r.item() for r in results] == [6.0] * 3
    assert all(r.device == mt.device("cuda:0") for r in results)
    assert len([w for w in caught if "minitorch.compile" in str(w.message)]) == 1
