"""Philox4x32-10 (Salmon et al., SC'11 / Random123) as plain scalar Python functions.

No numba import and no decorators: each target compiles these itself (``numba.njit`` on the
CPU, ``numba.cuda.jit(device=True)`` later), so every target draws the same numbers for the
same (seed, counter). All integer work is done in ``np.uint64`` with ``np.uint64`` constants,
so numba never promotes a mixed signed/unsigned expression to float; the 32x32 -> 64 bit
product gives mulhi/mullo. The functions do not call each other (a compiled function cannot
call a plain one), and they also run as plain Python (slowly), for tests. `counter_lines` writes
the loop body of a fill kernel for each target's generated source (kernels/cpu/random.py,
kernels/cuda/random.py).
"""

import hashlib
import math
from pathlib import Path

import numpy as np

_MASK32 = np.uint64(0xFFFFFFFF)
_M0 = np.uint64(0xD2511F53)
_M1 = np.uint64(0xCD9E8D57)
_W0 = np.uint64(0x9E3779B9)  # golden ratio
_W1 = np.uint64(0xBB67AE85)  # sqrt(3) - 1
_S8 = np.uint64(8)
_S11 = np.uint64(11)
_S12 = np.uint64(12)
_S32 = np.uint64(32)
_TWO_M24 = np.float32(2.0**-24)
_TWO_M24_F64 = 2.0**-24
_TWO_M52 = 2.0**-52
_TWO_M53 = 2.0**-53
_TWO_PI = 2.0 * math.pi
_TWO_P52 = 2.0**52


def philox4x32_10(c0, c1, c2, c3, k0, k1):
    """Philox4x32 with 10 rounds: counter (c0..c3) and key (k0, k1) -> four np.uint32 words."""
    c0 = np.uint64(c0) & _MASK32
    c1 = np.uint64(c1) & _MASK32
    c2 = np.uint64(c2) & _MASK32
    c3 = np.uint64(c3) & _MASK32
    k0 = np.uint64(k0) & _MASK32
    k1 = np.uint64(k1) & _MASK32
    for _ in range(10):
        p0 = _M0 * c0  # hi = p0 >> 32, lo = p0 & mask
        p1 = _M1 * c2
        c0, c1, c2, c3 = (p1 >> _S32) ^ c1 ^ k0, p1 & _MASK32, (p0 >> _S32) ^ c3 ^ k1, p0 & _MASK32
        k0 = (k0 + _W0) & _MASK32
        k1 = (k1 + _W1) & _MASK32
    return np.uint32(c0), np.uint32(c1), np.uint32(c2), np.uint32(c3)


def u64_from_bits(lo, hi):
    """Join two 32-bit words into one np.uint64: ``hi << 32 | lo``."""
    return ((np.uint64(hi) & _MASK32) << _S32) | (np.uint64(lo) & _MASK32)


def uniform32_from_bits(bits):
    """np.float32 in [0, 1) from the top 24 bits of a 32-bit word (exact, 2**-24 steps)."""
    return np.float32((np.uint64(bits) & _MASK32) >> _S8) * _TWO_M24


def uniform64_from_bits(lo, hi):
    """np.float64 in [0, 1) from the top 53 bits of the 64-bit word ``hi:lo`` (2**-53 steps)."""
    x = ((np.uint64(hi) & _MASK32) << _S32) | (np.uint64(lo) & _MASK32)
    return np.float64(x >> _S11) * _TWO_M53


def open_uniform32_from_bits(bits):
    """np.float64 in (0, 1), never 0 or 1: the middle of uniform32's step, (top 24 bits + 0.5)
    * 2**-24."""
    return (np.float64((np.uint64(bits) & _MASK32) >> _S8) + 0.5) * _TWO_M24_F64


def open_uniform64_from_bits(lo, hi):
    """np.float64 in (0, 1), never 0 or 1: (top 52 bits of hi:lo + 0.5) * 2**-52. NOTE: 52
    bits, not 53: the middle of the last 53-bit step below 1 rounds to 1."""
    x = ((np.uint64(hi) & _MASK32) << _S32) | (np.uint64(lo) & _MASK32)
    return (np.float64(x >> _S12) + 0.5) * _TWO_M52


def normal32_from_bits(b0, b1):
    """Standard normal (float64) by Box-Muller from 24-bit uniforms of two 32-bit words.

    u1 = 1 - uniform32(b0) lies in (0, 1], so log(u1) is finite; z = sqrt(-2 ln u1) cos(2 pi u2).
    """
    u1 = 1.0 - np.float64((np.uint64(b0) & _MASK32) >> _S8) * _TWO_M24_F64
    u2 = np.float64((np.uint64(b1) & _MASK32) >> _S8) * _TWO_M24_F64
    return math.sqrt(-2.0 * math.log(u1)) * math.cos(_TWO_PI * u2)


def normal64_from_bits(b0, b1, b2, b3):
    """Standard normal (float64) by Box-Muller from 53-bit uniforms of words b0:b1 and b2:b3.

    u1 = 1 - uniform64(b0, b1) lies in (0, 1], so log(u1) is finite.
    """
    x1 = ((np.uint64(b1) & _MASK32) << _S32) | (np.uint64(b0) & _MASK32)
    x2 = ((np.uint64(b3) & _MASK32) << _S32) | (np.uint64(b2) & _MASK32)
    u1 = 1.0 - np.float64(x1 >> _S11) * _TWO_M53
    u2 = np.float64(x2 >> _S11) * _TWO_M53
    return math.sqrt(-2.0 * math.log(u1)) * math.cos(_TWO_PI * u2)


def geometric_from_uniform(v, log_q):
    """Trials up to the first success (a whole float64 >= 1) of success probability p, from v
    uniform in (0, 1) and log_q = log(1 - p): ceil(log(v) / log_q), P(>= k + 1) = (1 - p)**k.

    NOTE: math.ceil compiles to an int64 that wraps past 2**63 (p below ~1e-17); every float
    from 2**52 on is whole already, so only smaller ones go through it.
    """
    y = math.log(v) / log_q
    return y if y >= _TWO_P52 else np.float64(math.ceil(y))


# ---- fills: the numbers of one counter, as source lines for every target ----------------------
# kind: (words per number, the number from its words {0}.. (p: bernoulli's probability; x0, x1:
# the kind's two numbers)). A counter c gives k = 4 // words numbers: element j*m + c takes word
# group j (m = ceil(n / k)), so each group's stores are contiguous.
FILL_KINDS = {
    "bits": (1, "{0}"),
    "bernoulli": (1, "1.0 if uniform32_from_bits({0}) < {p} else 0.0"),
    "dropout": (1, "x1 if uniform32_from_bits({0}) < x0 else 0.0"),
    "randint": (2, "x0 + np.int64(u64_from_bits({0}, {1}) % x1)"),
}
# Float kinds: each has a float32 kind ("uniform32", from 24-bit draws) and a float64 one
# ("uniform64", 52-53 bits), written from one standard draw: {u} uniform in [0, 1), {v} uniform
# in (0, 1) (its log is finite and never 0, so exponential_ never gives 0, which Gumbel noise
# -log(exponential) needs), {z} standard normal.
FLOAT_KINDS = {
    "uniform": "x0 + (x1 - x0) * {u}",  # x0, x1: from, to
    "normal": "x0 + x1 * {z}",  # mean, std
    "log_normal": "math.exp(x0 + x1 * {z})",  # mean, std (of the log)
    "exponential": "-math.log({v}) / x0",  # lambd
    "cauchy": "x0 + x1 * math.tan(math.pi * ({v} - 0.5))",  # median, sigma
    "geometric": "geometric_from_uniform({v}, x0)",  # x0 = log(1 - p)
}
_STANDARD = {  # per output width: words for {u} and {v}, {u}, {v}; words for {z}, {z}
    32: (
        (1, "np.float64(uniform32_from_bits({0}))", "open_uniform32_from_bits({0})"),
        (2, "normal32_from_bits({0}, {1})"),
    ),
    64: (
        (2, "uniform64_from_bits({0}, {1})", "open_uniform64_from_bits({0}, {1})"),
        (4, "normal64_from_bits({0}, {1}, {2}, {3})"),
    ),
}
for _kind, _expr in FLOAT_KINDS.items():
    for _bits, ((_u_words, _u, _v), (_z_words, _z)) in _STANDARD.items():
        _words = _z_words if "{z}" in _expr else _u_words
        FILL_KINDS[f"{_kind}{_bits}"] = (_words, _expr.format(u=_u, v=_v, z=_z))


def float_kind(kind: str, dtype) -> str:
    """The fill kind drawing FLOAT_KINDS[kind] numbers for a float32 or float64 out."""
    return f"{kind}{32 if np.dtype(dtype) == np.float32 else 64}"


def per_counter(kind: str) -> int:
    """How many numbers of `kind` one counter gives."""
    return 4 // FILL_KINDS[kind][0]


def counter_lines(kind: str, at: str, guarded: bool) -> list[str]:
    """Statements storing counter c's numbers of `kind` into out (p: bernoulli's probabilities);
    `at` writes element j*m + c's index from {j}; `guarded` skips indices >= n."""
    words, expr = FILL_KINDS[kind]
    lines = ["r0, r1, r2, r3 = philox_words(seed, offset + np.uint64(c))"]
    for j in range(4 // words):
        e = at.format(j=j)
        number = expr.format(*[f"r{j * words + w}" for w in range(words)], p=f"p[{e}]")
        lines += (
            [f"if {e} < n:", f"    out[{e}] = {number}"] if guarded else [f"out[{e}] = {number}"]
        )
    return lines


def fill_digest(kernel_file: str) -> str:
    """A digest of a target's fill module and of this file, for its generated kernels' header:
    Numba's cache watches only a generated file, so editing either must change that file."""
    text = Path(kernel_file).read_text() + Path(__file__).read_text()
    return hashlib.sha256(text.encode()).hexdigest()[:12]


def fill_doc(kind: str) -> str:
    words, expr = FILL_KINDS[kind]
    shown = expr.format(*[f"w{w}" for w in range(words)], p="p")
    return f'"""{kind}: out[j*m + c] = {shown}, w* = word group j of philox(offset + c)"""'
