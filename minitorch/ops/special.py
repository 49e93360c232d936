"""polygamma(n, x) for n >= 2: one registry entry with n as a parameter, its CPU kernel a
Numba loop here (trigamma and digamma, n = 1 and 0, are elementwise templates).

    polygamma(n, x) = (-1)^(n+1) n! zeta(n+1, x)

with the Hurwitz zeta function computed as PyTorch does (ATen's copy of Cephes' `zeta`): terms
(x+k)^-s summed until x+k > 9 (and at least 10 of them), then the Euler-Maclaurin tail. The
series is the true polygamma for negative non-integer x too; the poles (0, -1, -2, ...) give
+-inf. Always in float64 (PyTorch's CPU accumulates float32 in double as well), then cast.
No CUDA kernel: a CUDA input raises, naming the op.
"""

from __future__ import annotations

import math

import numba
import numpy as np

from .. import dtypes
from .registry import Meta, Op, apply, register

_MACHEP = 1.11022302462515654042e-16
# Euler-Maclaurin denominators, (2j)! / B_2j
_A = np.array(
    [
        12.0,
        -720.0,
        30240.0,
        -1209600.0,
        47900160.0,
        -1.8924375803183791606e9,
        7.47242496e10,
        -2.950130727918164224e12,
        1.1646782814350067249e14,
        -4.5979787224074726105e15,
        1.8152105401943546773e17,
        -7.1661652561756670113e18,
    ]
)


@numba.njit(cache=True)
def _zeta(x, q):
    """Hurwitz zeta(x, q) = sum over k >= 0 of (q + k)^-x (Cephes' algorithm, as ATen's)."""
    if x == 1.0:
        return np.inf
    if x < 1.0:
        return np.nan
    if q <= 0.0:
        if q == math.floor(q):
            return np.inf
        if x != math.floor(x):
            return np.nan
    s = q**-x
    a = q
    i = 0
    b = 0.0
    while i < 9 or a <= 9.0:
        i += 1
        a += 1.0
        b = a**-x
        s += b
        if -_MACHEP * s < b < _MACHEP * s:
            return s
    w = a
    s += b * w / (x - 1.0)
    s -= 0.5 * b
    a = 1.0
    k = 0.0
    for j in range(12):
        a *= x + k
        b /= w
        t = a * b / _A[j]
        s = s + t
        if abs(t / s) < _MACHEP:
            return s
        k += 1.0
        a *= x + k
        b /= w
        k += 1.0
    return s


@numba.njit(cache=True)
def _polygamma_into(out, x, n):
    scale = (1.0 if n % 2 else -1.0) * math.exp(math.lgamma(n + 1.0))
    for i in range(x.size):
        out[i] = scale * _zeta(n + 1.0, x[i])


class Polygamma(Op):
    """out = polygamma(n, x) for an int n >= 2; the gradient is polygamma(n + 1, x)."""

    name = "polygamma"
    save = (0,)

    def infer(self, x, *, n: int) -> Meta:
        dt = x.dtype if x.dtype.is_floating_point else dtypes.get_default_dtype()
        return Meta(tuple(x.shape), dt)

    def forward(self, meta, x, *, n: int):
        flat = np.ascontiguousarray(x, dtype=np.float64).reshape(-1)
        out = np.empty(flat.size, np.float64)
        _polygamma_into(out, flat, n)
        with np.errstate(over="ignore"):  # (to +-inf in float32, as PyTorch)
            return out.reshape(meta.shape).astype(meta.dtype.np, copy=False)

    def backward(self, ctx, grad):
        (x,) = ctx.inputs
        return (grad * apply(self, x, n=ctx.params["n"] + 1),)


polygamma = register(Polygamma())
