"""minitorch.special: torch.special's names for functions minitorch has, composed of its ops
(so they have gradients, trace and fuse like any other composite).

gammaln, digamma (psi), polygamma (any n >= 0) call registry ops; not here: multigammaln,
i0 and the other Bessel functions, zeta, gammainc (no kernels yet).
"""

from __future__ import annotations

import functools
import math

from .dtypes import float64
from .functional import tensor, where, write_out
from .tensor import Tensor

__all__ = [
    "entr",
    "erf",
    "erfc",
    "erfinv",
    "exp2",
    "expit",
    "expm1",
    "gammaln",
    "digamma",
    "polygamma",
    "psi",
    "log1p",
    "log_ndtr",
    "log_softmax",
    "logit",
    "logsumexp",
    "ndtr",
    "sinc",
    "softmax",
    "xlogy",
]


def _takes_out(fn):
    """fn with PyTorch's out= keyword (the result copied into out)."""

    @functools.wraps(fn)
    def wrapper(*args, out=None, **kwargs):
        result = fn(*args, **kwargs)
        return result if out is None else write_out(out, result, f"special.{fn.__name__}")

    return wrapper


@_takes_out
def erf(input: Tensor) -> Tensor:
    return input.erf()


@_takes_out
def erfc(input: Tensor) -> Tensor:
    return input.erfc()


@_takes_out
def erfinv(input: Tensor) -> Tensor:
    return input.erfinv()


@_takes_out
def gammaln(input: Tensor) -> Tensor:
    """log |Gamma(x)|."""
    return input.lgamma()


@_takes_out
def digamma(input: Tensor) -> Tensor:
    """d/dx log Gamma(x): -inf at 0, nan at the negative integers (as PyTorch)."""
    return input.digamma()


psi = digamma


@_takes_out
def polygamma(n: int, input: Tensor) -> Tensor:
    """The n-th derivative of digamma (n >= 0); its gradient is polygamma(n + 1, x)."""
    return input.polygamma(n)


@_takes_out
def expit(input: Tensor) -> Tensor:
    """The logistic sigmoid, 1 / (1 + exp(-x))."""
    return input.sigmoid()


@_takes_out
def logit(input: Tensor, eps: float | None = None) -> Tensor:
    return input.logit(eps)


@_takes_out
def xlogy(input, other) -> Tensor:
    """input * log(other), 0 where input is 0; either may be a number."""
    if not isinstance(input, Tensor):
        input = tensor(input, dtype=other.dtype)
    return input.xlogy(other)


@_takes_out
def log1p(input: Tensor) -> Tensor:
    return input.log1p()


@_takes_out
def expm1(input: Tensor) -> Tensor:
    return input.expm1()


@_takes_out
def exp2(input: Tensor) -> Tensor:
    return input.exp2()


@_takes_out
def logsumexp(input: Tensor, dim, keepdim: bool = False) -> Tensor:
    return input.logsumexp(dim, keepdim)


def softmax(input: Tensor, dim: int, *, dtype=None) -> Tensor:
    return input.softmax(dim, dtype=dtype)


def log_softmax(input: Tensor, dim: int, *, dtype=None) -> Tensor:
    return input.log_softmax(dim, dtype=dtype)


@_takes_out
def sinc(input: Tensor) -> Tensor:
    """sin(pi x) / (pi x), 1 at 0."""
    zero = input == 0
    # NOTE: divided by a safe x (1 where x is 0): 0 / 0 in the unused branch would make the
    # gradient at 0 nan (0 * nan); PyTorch's is 0 there
    px = where(zero, 1.0, input) * math.pi
    return where(zero, 1.0, px.sin() / px)


@_takes_out
def entr(input: Tensor) -> Tensor:
    """-x log x for x > 0, 0 at 0, -inf for x < 0.

    What differs from PyTorch: the gradient at x <= 0 is 0 (PyTorch's is inf at 0 and nan
    below), since the function is computed on a safe x there.
    """
    positive = input > 0
    x = where(positive, input, 1.0)
    outside = where(input == 0, 0.0, -math.inf) + input * 0  # (nan stays nan)
    return where(positive, -x * x.log(), outside)


@_takes_out
def ndtr(input: Tensor) -> Tensor:
    """The standard normal CDF, erfc(-x / sqrt 2) / 2 (no cancellation for negative x)."""
    return (input * -math.sqrt(0.5)).erfc() * 0.5


# log_ndtr's pieces: log1p(-ndtr(-x)) above -1, log(ndtr(x)) down to -10 (float64: -20), an
# asymptotic series below (where ndtr(x) would underflow: float32 below about -13)
_LOG_SQRT_2PI = 0.5 * math.log(2 * math.pi)


@_takes_out
def log_ndtr(input: Tensor) -> Tensor:
    """log of the standard normal CDF, accurate far into both tails."""
    low = -20.0 if input.dtype is float64 else -10.0
    upper = input.clamp(min=-1.0)
    middle = input.clamp(min=low, max=-1.0)
    tail = input.clamp(max=low)
    above = (-ndtr(-upper)).log1p()
    between = ndtr(middle).log()
    # 1 - z + 3z^2 - 15z^3 + 105z^4 - 945z^5: the next term is 1e-8 at -10, 3e-12 at -20
    z = 1 / (tail * tail)
    series = 1 - z * (1 - 3 * z * (1 - 5 * z * (1 - 7 * z * (1 - 9 * z))))
    below = -0.5 * tail * tail - (-tail).log() - _LOG_SQRT_2PI + series.log()
    return where(input > -1, above, where(input > low, between, below))
