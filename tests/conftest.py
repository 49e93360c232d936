"""Shared test setup.

- minitorch (so numba and its LLVM) is imported before anything can import torch: torch
  loading LLVM first can crash numba (see DESIGN.md, "Known traps").
- hypothesis profiles: "default" (no deadline: the first call of an op compiles kernels) and
  "ci" (derandomized, for reproducible CI runs): HYPOTHESIS_PROFILE=ci pytest ...
- `backend` fixture: "cpu" always, "cuda" when numba.cuda finds a GPU and minitorch can use it.
"""

from __future__ import annotations

import os

import numba
import pytest
from hypothesis import HealthCheck, settings

import minitorch

settings.register_profile(
    "default",
    deadline=None,
    print_blob=True,
    suppress_health_check=[
        HealthCheck.too_slow,
        HealthCheck.filter_too_much,
        HealthCheck.data_too_large,
    ],
)
settings.register_profile("ci", parent=settings.get_profile("default"), derandomize=True)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "default"))


def _backends() -> list[str]:
    found = ["cpu"]
    try:
        if numba.cuda.is_available():
            minitorch.zeros(1, device="cuda")
            found.append("cuda")
    except Exception:  # noqa: BLE001  (no driver, no GPU, or no CUDA backend in minitorch yet)
        pass
    return found


BACKENDS = _backends()


@pytest.fixture(params=BACKENDS)
def backend(request) -> str:
    """The device every tensor of a test is created on."""
    return request.param
