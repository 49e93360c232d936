"""Shared test setup.

- minitorch (so numba and its LLVM) is imported before anything can import torch: torch
  loading LLVM first can crash numba (see DESIGN.md, "Known traps").
- hypothesis profiles: "default" (no deadline: the first call of an op compiles kernels) and
  "ci" (derandomized, for reproducible CI runs): HYPOTHESIS_PROFILE=ci pytest ...
- `backend` fixture: "cpu" always, "cuda" when numba.cuda finds a real GPU and minitorch can
  use it.
- NUMBA_ENABLE_CUDASIM=1 unless set or an NVIDIA driver is present: the CUDA backend's tests
  (tests/test_cuda.py) then run on numba's simulator.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path


def _has_nvidia_driver() -> bool:
    return Path("/dev/nvidiactl").exists() or Path("/proc/driver/nvidia").exists()


# The CUDA backend's tests run on numba's simulator where there is no GPU. numba reads the
# switch into numba.core.config when it is first imported, which pytest has already done (it
# resolves pyproject's filterwarnings category), so the config is read again; numba.cuda itself
# loads only on first cuda use, after this.
if "NUMBA_ENABLE_CUDASIM" not in os.environ and not _has_nvidia_driver():
    os.environ["NUMBA_ENABLE_CUDASIM"] = "1"
    if "numba.core.config" in sys.modules:
        sys.modules["numba.core.config"].reload_config()

import pytest  # noqa: E402
from hypothesis import HealthCheck, settings  # noqa: E402

import minitorch  # noqa: E402

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
    # NOTE: the op-table tests run on cuda on a real GPU; on the simulator, which runs each
    # kernel thread in Python, only with MINITORCH_TEST_CUDA_OPS=1 (slow: tests/test_cuda.py
    # covers the kernels there, on small shapes).
    sim = os.environ.get("NUMBA_ENABLE_CUDASIM") == "1"
    if sim and os.environ.get("MINITORCH_TEST_CUDA_OPS") != "1":
        return found
    if minitorch.cuda.is_available():
        minitorch.zeros(1, device="cuda")
        found.append("cuda")
    return found


BACKENDS = _backends()


@pytest.fixture(params=BACKENDS)
def backend(request) -> str:
    """The device every tensor of a test is created on."""
    return request.param
