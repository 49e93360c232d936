"""Scalar helpers that generated CPU kernels call by name (compiled inline by Numba).

Written once as plain arithmetic; a CUDA target compiles the same bodies as device functions.
"""

import math

import numpy as np
from numba import njit

from .fastmath import exp, log, tanh  # noqa: F401  (float32: vectorisable; else math.*)

inline = njit(inline="always", cache=True, error_model="numpy")


@inline
def sigmoid(x):
    # NOTE: split by sign so exp never overflows: 1/(1+e^-x) for x>=0, e^x/(1+e^x) otherwise.
    if x >= 0:
        return 1 / (1 + exp(-x))
    z = exp(x)
    return z / (1 + z)


@inline
def maximum(a, b):
    """max that propagates NaN from either side, like torch.maximum."""
    return a if (a > b or a != a) else b


@inline
def minimum(a, b):
    return a if (a < b or a != a) else b


@inline
def sign(x):
    return (x > 0) - (x < 0) if x == x else x


@inline
def round_half_even(x):
    r = math.floor(x + 0.5)
    if r - x == 0.5 and r % 2 != 0:  # exactly halfway and rounded up to odd: go down
        r -= 1
    return r


@inline
def floor_div(a, b):
    return math.floor(a / b)


@inline
def trunc_div(a, b):
    return math.trunc(a / b)


@inline
def int_floor_div(a, b):
    return a // b


@inline
def int_trunc_div(a, b):
    q = a // b
    return q + 1 if (q < 0 and q * b != a) else q


@inline
def remainder(a, b):
    r = np.fmod(a, b)  # NOTE: Numba's CPU target has no math.fmod
    return r + b if (r != 0 and ((r < 0) != (b < 0))) else r


@inline
def int_remainder(a, b):
    return a % b


@inline
def relu(x):
    return x if x > 0 else x * 0


@inline
def gelu_tanh(x):
    return 0.5 * x * (1 + math.tanh(0.7978845608028654 * (x + 0.044715 * x * x * x)))
