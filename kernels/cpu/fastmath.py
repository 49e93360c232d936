"""Vectorisable float32 exp / log / tanh for Numba kernels (no SVML needed).

Without Intel SVML, LLVM lowers `math.exp` on float32 to one scalar `expf` call per element,
so a prange loop over exp runs at libm speed (~2x slower than numpy's SIMD exp). Here the
float32 functions are plain arithmetic (Cody-Waite range reduction, Cephes minimax
polynomials, bit tricks for 2**n and frexp) with every branch written as a conditional
expression that LLVM turns into a select, so the loop around them vectorises.

Use from njit code (e.g. a generated kernel)::

    from minitorch.kernels.cpu.fastmath import exp, log, tanh
    out[i] = exp(a[i])        # float32 -> fast path; float64 / ints -> math.exp

Accuracy: max 1 ulp for each of exp, log, tanh against libm float64 rounded to float32, over
all 2**32 float32 inputs (exhaustive run); NaN, +-inf, +-0, overflow to inf and gradual
underflow into denormals match exactly. tests/test_fastmath.py sweeps densely (<= 2 ulp).

The `_*_f32` bodies are the single source of each algorithm; only the bit casts
(`_bits`, `_f32`) and the overload dispatch below are CPU-specific. A CUDA target can compile
the same bodies as device functions with its own bit casts (`__float_as_int` and friends).
"""

from __future__ import annotations

import math

import numpy as np
from llvmlite import ir
from numba import njit, types
from numba.extending import intrinsic, overload

# ---------------------------------------------------------------------------- bit casts


@intrinsic
def _bits(typingctx, x):
    """Reinterpret float32 -> int32 or float64 -> int64 (a register move, no conversion)."""
    if x == types.float32:
        sig, width = types.int32(x), 32
    elif x == types.float64:
        sig, width = types.int64(x), 64
    else:
        return None

    def codegen(context, builder, signature, args):
        return builder.bitcast(args[0], ir.IntType(width))

    return sig, codegen


def _from_bits(float_type, llvm_float):
    """Build an intrinsic reinterpreting an integer's low bits as `float_type`."""
    width = float_type.bitwidth

    @intrinsic
    def cast(typingctx, n):
        if not isinstance(n, types.Integer):
            return None

        def codegen(context, builder, signature, args):
            v = args[0]
            # NOTE: numba widens int32 arithmetic to int64; truncating here lets LLVM's
            # instcombine narrow the whole integer chain back to 32-bit lanes.
            if n.bitwidth > width:
                v = builder.trunc(v, ir.IntType(width))
            elif n.bitwidth < width:
                v = builder.sext(v, ir.IntType(width))
            return builder.bitcast(v, llvm_float)

        return float_type(n), codegen

    return cast


_f32 = _from_bits(types.float32, ir.FloatType())
_f32.__doc__ = "Reinterpret the low 32 bits of an integer as a float32."
_f64 = _from_bits(types.float64, ir.DoubleType())
_f64.__doc__ = "Reinterpret the low 64 bits of an integer as a float64."

# ------------------------------------------------------------------------------ constants
# NOTE: every constant is an np.float32 / np.int32 global so numba freezes it with that type;
# a Python float literal would promote the whole expression to float64.

F = np.float32
I = np.int32  # noqa: E741

_ONE = F(1.0)
_TWO = F(2.0)
_HALF = F(0.5)
_INF = F(np.inf)
_NAN = F(np.nan)
_BIAS = I(127)
_MANT = I(23)

_LOG2E = F(1.44269504088896341)
# Cody-Waite split of ln2: _LN2_HI = 355/512 has 9 significant bits, so n * _LN2_HI is exact.
_LN2_HI = F(0.693359375)
_LN2_LO = F(-2.12194440e-4)
# Adding 1.5 * 2**23 rounds a float32 |t| < 2**22 to an integer held in the low mantissa bits.
_ROUND = F(12582912.0)
_ROUND_BITS = I(0x4B400000)
# exp(88.75) overflows to inf and exp(-104) rounds to 0 through the plain arithmetic below
# (the last float32 with a nonzero exp is -103.97208), so clamping x there is exact.
_EXP_HI = F(88.75)
_EXP_LO = F(-104.0)
# Cephes expf minimax polynomial on [-ln2/2, ln2/2]: exp(r) ~ 1 + r + r**2 * P(r).
_EP0 = F(1.9875691500e-4)
_EP1 = F(1.3981999507e-3)
_EP2 = F(8.3334519073e-3)
_EP3 = F(4.1665795894e-2)
_EP4 = F(1.6666665459e-1)
_EP5 = F(5.0000001201e-1)

_MIN_NORMAL = F(1.17549435e-38)
_TWO25 = F(33554432.0)
_MANT_MASK = I(0x007FFFFF)
_HALF_BITS = I(0x3F000000)  # exponent field of 0.5: mantissa | this is in [0.5, 1)
_SQRTHF = F(0.707106781186547524)
# Cephes logf minimax polynomial on [sqrt(1/2) - 1, sqrt(2) - 1]:
# log(1 + f) ~ f - f**2 / 2 + f**3 * P(f).
_LP0 = F(7.0376836292e-2)
_LP1 = F(-1.1514610310e-1)
_LP2 = F(1.1676998740e-1)
_LP3 = F(-1.2420140846e-1)
_LP4 = F(1.4249322787e-1)
_LP5 = F(-1.6668057665e-1)
_LP6 = F(2.0000714765e-1)
_LP7 = F(-2.4999993993e-1)
_LP8 = F(3.3333331174e-1)

# Cephes tanhf: odd polynomial below 0.625, where 1 - 2 / (e**2x + 1) loses bits to cancellation.
_TANH_SMALL = F(0.625)
_TP0 = F(-5.70498872745e-3)
_TP1 = F(2.06390887954e-2)
_TP2 = F(-5.37397155531e-2)
_TP3 = F(1.33314422036e-1)
_TP4 = F(-3.33332819422e-1)

# ------------------------------------------------------------------------------ algorithms
# Every `a if c else b` below is a select after LLVM's if-conversion: no branch in the loop.

# NOTE: compiled once each, not inline="always": Numba then types and lowers each body once
# instead of once per call site, and LLVM still inlines it into the caller's loop at link time
# (the loop vectorises). Fresh cache, same script, one run each way: a tanh kernel compiled in
# 0.9-1.0 s against 1.7 s inlined and ran 45 against 59 us (64K float32); sigmoid 0.6-0.7 vs
# 1.4 s, 69-74 vs 98 us; the softmax kernels 2.1-2.3 vs 3.1 s, same speed.
#
# NOTE: fastmath=False is explicit, not left to the default: Numba makes a callee that does not
# set fastmath inherit its first caller's flags, and keeps that one compilation for every later
# caller (in memory and in the on-disk cache, whose key has no flags). The softmax kernels
# (nn.py, fastmath={"nsz", "contract"}) compiled _exp_f32 with `contract`, LLVM fused its
# polynomial into FMAs, and every kernel built afterwards, in that process or from that cache,
# inlined the FMA version: a sigmoid kernel gave 0.27531525 or 0.27531528 for x = -0.96781987
# depending on which ran first, and traced (fused) kernels replayed eager's values 1 ulp off.
_NO_FASTMATH = {"error_model": "numpy", "fastmath": False}
_compiled = njit(cache=True, **_NO_FASTMATH)


@_compiled
def _exp_f32(x):
    """exp of a float32: Cody-Waite reduction to r in [-ln2/2, ln2/2], polynomial, * 2**n."""
    # NaN passes both clamps (comparisons are false) and propagates through the arithmetic.
    x = _EXP_HI if x > _EXP_HI else x
    x = _EXP_LO if x < _EXP_LO else x
    t = x * _LOG2E + _ROUND
    n = _bits(t) - _ROUND_BITS  # round(x / ln2) as an integer, no float->int conversion
    fn = t - _ROUND
    r = x - fn * _LN2_HI - fn * _LN2_LO
    p = ((((_EP0 * r + _EP1) * r + _EP2) * r + _EP3) * r + _EP4) * r + _EP5
    y = p * (r * r) + r + _ONE
    # 2**n as two factors: each stays a normal float32 for n in [-150, 128], and the last
    # multiply rounds once into the denormals (a single 2**n factor cannot go below 2**-126).
    h = n >> 1
    return y * _f32((h + _BIAS) << _MANT) * _f32((n - h + _BIAS) << _MANT)


@_compiled
def _log_f32(x):
    """log of a float32: x = 2**e * m via the bits, m in [sqrt(1/2), sqrt(2)), polynomial."""
    tiny = x < _MIN_NORMAL
    b = _bits(x * _TWO25 if tiny else x)  # denormals scaled up to normals first
    e = (b >> _MANT) - (_BIAS - 1) - (25 if tiny else 0)
    m = _f32((b & _MANT_MASK) | _HALF_BITS)
    low = m < _SQRTHF
    e = e - 1 if low else e
    f = (m + m - _ONE) if low else (m - _ONE)  # exact (Sterbenz)
    fe = F(I(e))  # via int32: numba widens int arithmetic to int64, which halves the lanes
    z = f * f
    p = (
        ((((((_LP0 * f + _LP1) * f + _LP2) * f + _LP3) * f + _LP4) * f + _LP5) * f + _LP6) * f
        + _LP7
    ) * f + _LP8
    y = p * f * z + fe * _LN2_LO - _HALF * z
    r = f + y + fe * _LN2_HI
    r = r if x < _INF else x  # +inf and NaN return themselves
    r = -_INF if x == 0 else r
    return _NAN if x < 0 else r


@_compiled
def _tanh_f32(x):
    """tanh of a float32: 1 - 2 / (e**2|x| + 1) with the sign of x, polynomial near 0."""
    ax = abs(x)
    big = _ONE - _TWO / (_exp_f32(ax + ax) + _ONE)  # exp overflow to inf gives exactly 1
    big = -big if x < 0 else big
    z = x * x
    small = ((((_TP0 * z + _TP1) * z + _TP2) * z + _TP3) * z + _TP4) * z * x + x
    small = small if z != 0 else x  # keeps tanh(-0) = -0: -0 + (+0) rounds to +0
    return big if ax >= _TANH_SMALL else small  # NaN takes `small`, which is NaN


# ------------------------------------------------------------------------------- dispatch


def _elementwise(name: str, fast_f32, libm):
    """A function `name` that njit code can call on any real scalar.

    float32 compiles to `fast_f32` (vectorisable), other floats/ints/bools to `libm`
    (math.exp & co., so float64 results are exactly libm's). Called from Python it runs the
    same compiled code, so it gives the kernels' exact results.
    """

    def func(x):
        return scalar(x)

    @overload(func, jit_options=_NO_FASTMATH)  # NOTE: see _compiled on why fastmath=False
    def _overload(x):
        if x == types.float32:
            return lambda x: fast_f32(x)
        if isinstance(x, (types.Float, types.Integer, types.Boolean)):
            return lambda x: libm(x)
        return None

    scalar = njit(**_NO_FASTMATH)(lambda x: func(x))
    func.__name__ = func.__qualname__ = name
    func.__doc__ = f"{name}(x): float32 via a vectorisable polynomial, else math.{name}."
    return func


exp = _elementwise("exp", _exp_f32, math.exp)
log = _elementwise("log", _log_f32, math.log)
tanh = _elementwise("tanh", _tanh_f32, math.tanh)
