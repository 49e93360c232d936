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
    # NOTE: sign(nan) is 0 in PyTorch ((0 < x) - (x < 0)); numpy's is nan. int(): numpy
    # refuses bool - bool when the body runs as Python (the CUDA simulator).
    return int(x > 0) - int(x < 0)


@inline
def round_half_even(x):
    # NOTE: not floor(x + 0.5): that rounds 0.49999997 up (x + 0.5 rounds to 1) and turns
    # nan/inf into garbage integers. rint rounds half to even, like PyTorch.
    return np.rint(x)


@inline
def floor_div(a, b):
    # NOTE: floor(a / b) is wrong when a / b rounds up to an integer (1.0 // 0.1 is 9, since
    # 0.1 is slightly above 1/10); derive it from fmod, as PyTorch, numpy and Python do.
    if b == 0:
        return a / b
    mod = np.fmod(a, b)
    div = (a - mod) / b
    if mod != 0 and (b < 0) != (mod < 0):
        div -= 1
    if div == 0:
        return np.copysign(div * 0, a / b)
    q = np.floor(div)
    if div - q > 0.5:
        q += 1
    return q


@inline
def trunc_div(a, b):
    return np.trunc(a / b)  # NOTE: math.trunc returns an int: nan/inf would become garbage


@inline
def int_floor_div(a, b):
    return a // b


@inline
def int_trunc_div(a, b):
    q = a // b
    return q + 1 if (q < 0 and q * b != a) else q


@inline
def lshift(a, b):
    # NOTE: LLVM leaves a shift by 64 or more (or by a negative count) undefined; PyTorch gives 0.
    # Narrower types compute in int64 and keep the low bits, so a shift past their width is 0.
    return a << b if 0 <= b < 64 else a * 0


@inline
def rshift(a, b):
    # NOTE: as lshift; PyTorch then fills with the sign bit (a >> (width - 1)).
    return a >> b if 0 <= b < 64 else a >> 63


@inline
def remainder(a, b):
    r = np.fmod(a, b)  # NOTE: Numba's CPU target has no math.fmod
    return r + b if (r != 0 and ((r < 0) != (b < 0))) else r


@inline
def int_remainder(a, b):
    return a % b


@inline
def relu(x):
    # NOTE: not `x * 0` below zero: -inf * 0 is nan. sign(x) - sign(x) is a zero of x's type.
    return x if (x > 0 or x != x) else np.sign(x) - np.sign(x)


@inline
def gelu_tanh(x):
    return 0.5 * x * (1 + math.tanh(0.7978845608028654 * (x + 0.044715 * x * x * x)))


@inline
def erfinv(y):
    """The x with erf(x) = y: Giles' single-precision approximation ("Approximating the erfinv
    function", 2010), then two Newton steps on erf (for float64); +-inf at +-1, nan outside."""
    if y == 1 or y == -1:
        return y * np.inf
    if not -1 < y < 1:
        return y * np.nan  # (nan, in y's dtype)
    w = -log((1 - y) * (1 + y))
    if w < 5:
        w = w - 2.5
        p = 2.81022636e-08
        for c in (3.43273939e-07, -3.5233877e-06, -4.39150654e-06, 0.00021858087):
            p = c + p * w
        for c in (-0.00125372503, -0.00417768164, 0.246640727, 1.50140941):
            p = c + p * w
    else:
        w = math.sqrt(w) - 3
        p = -0.000200214257
        for c in (0.000100950558, 0.00134934322, -0.00367342844, 0.00573950773):
            p = c + p * w
        for c in (-0.0076224613, 0.00943887047, 1.00167406, 2.83297682):
            p = c + p * w
    x = p * y
    for _ in range(2):  # (each step roughly doubles the correct digits)
        x -= (math.erf(x) - y) / (1.1283791670955126 * exp(-x * x))
    return x


@inline
def digamma(x):
    """d/dx lgamma(x): reflection below 0, the recurrence up to 10, then the asymptotic
    series (PyTorch's conventions: -inf at +0, nan at negative integers)."""
    if x == 0:
        return -np.inf if not math.copysign(1.0, x) < 0 else np.inf
    reflection = 0.0
    if x < 0:
        if x == math.floor(x):
            return x * np.nan
        reflection = -math.pi / math.tan(math.pi * x)  # digamma(x) = digamma(1-x) - pi/tan(pi x)
        x = 1 - x
    result = 0.0
    while x < 10:
        result -= 1 / x
        x += 1
    f = 1 / (x * x)
    tail = f * (1 / 12 - f * (1 / 120 - f * (1 / 252 - f * (1 / 240 - f * (1 / 132)))))
    return reflection + result + log(x) - 0.5 / x - tail


@inline
def trigamma(x):
    """d/dx digamma(x): reflection below 1/2, the recurrence up to 10, then the asymptotic
    series; inf at 0 and the negative integers."""
    reflection = 0.0
    sign = 1.0
    if x < 0.5:
        if x == math.floor(x):
            return x * 0 + np.inf
        s = math.sin(math.pi * x)
        reflection = math.pi * math.pi / (s * s)  # trigamma(x) = pi^2/sin^2(pi x) - trigamma(1-x)
        sign = -1.0
        x = 1 - x
    result = 0.0
    while x < 10:
        result += 1 / (x * x)
        x += 1
    f = 1 / (x * x)
    series = 1 / 30 - f * (1 / 42 - f * (1 / 30 - f * (5 / 66 - f * (691 / 2730))))
    tail = 1 / x + f / 2 + f / x * (1 / 6 - f * series)
    return reflection + sign * (result + tail)


@inline
def lgamma(x):
    # NOTE: inf at the poles (0, -1, -2, ...), as PyTorch; math.lgamma raises there when run
    # as Python (the CUDA simulator)
    if x <= 0 and x == math.floor(x):
        return np.inf
    return math.lgamma(x)
