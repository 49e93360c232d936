"""The scalar helpers of kernels/cpu/scalar.py, compiled as CUDA device functions.

Generated CUDA kernels import * from here, so an expression such as ``sigmoid({0})`` calls
the same body on both targets. Each helper's Python body is taken from the CPU module and
re-bound to globals in which the helpers it calls (and exp/log/tanh) are device functions:
CUDA has fast native exp/log/tanh, so the CPU's vectorisable float32 versions
(kernels/cpu/fastmath.py) are replaced by math.*.
"""

from __future__ import annotations

import math as _math
import types

import numpy as np
from numba import cuda
from numba.core import config
from numba.core.registry import CPUDispatcher

from ..cpu import scalar as _cpu


class _SimMath:
    """`math` for the simulator, where kernel bodies run as Python: numpy's functions, which
    give inf/nan where math raises (log(0), sqrt(-1)), as the GPU does. math's where numpy
    has none (erf)."""

    def __getattr__(self, name):
        found = getattr(np, name, None)
        return found if callable(found) or isinstance(found, float) else getattr(_math, name)


# NOTE: on a GPU, math.* compiles to CUDA's libdevice functions
math = _SimMath() if config.ENABLE_CUDASIM else _math


def device_functions(module, overrides: dict) -> dict:
    """Every njit function defined in `module`, compiled again as a CUDA device function.

    Their bodies run with module's globals plus `overrides`, in which each of them is replaced
    by its device version, so helpers calling helpers stay on the device. Returns the globals.
    """
    env = dict(vars(module))
    env["math"] = math
    env.update(overrides)
    for name, value in vars(module).items():
        if isinstance(value, CPUDispatcher) and value.py_func.__module__ == module.__name__:
            fn = value.py_func
            rebound = types.FunctionType(fn.__code__, env, fn.__name__, fn.__defaults__)
            env[name] = cuda.jit(device=True)(rebound)
    return env


exp, log, tanh = math.exp, math.log, math.tanh
_globals = device_functions(_cpu, {"exp": exp, "log": log, "tanh": tanh})
__all__ = ["exp", "log", "tanh", "math"] + [
    name
    for name, value in vars(_cpu).items()
    if isinstance(value, CPUDispatcher) and value.py_func.__module__ == _cpu.__name__
]

globals().update({name: _globals[name] for name in __all__[4:]})
