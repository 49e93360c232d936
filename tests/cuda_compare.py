"""Helpers the CUDA test files share: the same values on both devices, and comparisons of a
cuda result with the CPU's."""

from __future__ import annotations

import contextlib

import numpy as np

import minitorch as mt
from minitorch.backend import cuda as runtime


def both(array, requires_grad=False):
    """The same values as a cpu tensor and a cuda tensor."""
    cpu = mt.tensor(array, requires_grad=requires_grad)
    gpu = mt.tensor(array, device="cuda", requires_grad=requires_grad)
    return cpu, gpu


def close(got, want, what, rtol=1e-5, atol=1e-6):
    """got (on cuda:0) has want's shape, dtype and values within rtol/atol."""
    assert got.device == mt.device("cuda:0"), f"{what}: result on {got.device}, not cuda:0"
    assert tuple(got.shape) == tuple(want.shape), f"{what}: shape {got.shape} vs {want.shape}"
    assert got.dtype is want.dtype, f"{what}: dtype {got.dtype} vs {want.dtype}"
    np.testing.assert_allclose(
        got.detach().cpu().numpy(), want.detach().numpy(), rtol=rtol, atol=atol, err_msg=what
    )


@contextlib.contextmanager
def device_only(what: str = "a cuda op"):
    """Fail if anything copies a device array to the host inside the block."""

    def refuse(array):
        raise AssertionError(f"{what} copied a device array to the host")

    real, runtime.to_host = runtime.to_host, refuse
    try:
        yield
    finally:
        runtime.to_host = real
