"""CPU random-number kernels on counter-based Philox4x32-10.

A counter ``c`` is the 128-bit Philox counter ``(c0, c1, 0, 0)`` with ``c1:c0 = c`` (64-bit,
wrapping), under the key ``(k0, k1)`` with ``k1:k0 = seed``; it yields four 32-bit words. A kind
that needs ``w`` words per element (1: bits, float32 uniforms, bernoulli, dropout; 2: float64
uniforms, float32 normals, randint; 4: float64 normals) takes ``k = 4 // w`` elements from each
counter: a fill of ``n`` elements at ``offset`` uses counters ``offset .. offset + m - 1`` with
``m = ceil(n / k)``, and element ``j * m + c`` takes words ``j*w .. j*w + w - 1`` of counter
``offset + c``. The caller advances its offset by ``n`` (>= m), so no two draws share a counter.
Values depend only on (seed, offset, n): never on threading, chunking, or the variant (serial
or parallel).

NOTE: element j of counter c goes to block j of the output, not next to the counter's other
elements, so each word's stores are unit-stride and the loop over counters vectorizes (stores
next to each other did not). One counter per element, as before, ran Philox's rounds four
times for a float32 fill: a dropout mask of 262144 took 396 -> 130 us in parallel (666 -> 207
serial).

Affine maps (``low + (high - low) * u``, ``mean + std * z``) are done in float64 and rounded
once to the output dtype. Bits, uniforms, randint and bernoulli are bit-exact across targets;
normals go through the target's log/cos/sqrt, so they may differ in the last ulp.
The public ``fill_*`` wrappers take C-contiguous arrays of any shape and fill them in C order.
"""

from collections.abc import Callable

import numpy as np
from numba import njit, prange

from ..codegen import philox as _pc

_SERIAL_MAX = 32768  # at most this many elements: the serial kernel (no thread start-up)
_CHUNK = 4096  # counters per task of a parallel fill
_MASK32 = np.uint64(0xFFFFFFFF)
_S32 = np.uint64(32)
_ZERO = np.uint32(0)
# Note: numba's cache keys on this file only; after editing codegen/philox.py, touch this file
# (or clear __pycache__) so the cached kernels, which inline Philox, are recompiled.

# Compiled scalar functions, callable from other njit code (e.g. fused dropout). Numba-IR
# inlining matters: with plain calls LLVM does not inline Philox and the serial loops do not
# vectorize (about 10x slower).
_inline = njit(inline="always")
philox4x32_10 = _inline(_pc.philox4x32_10)
u64_from_bits = _inline(_pc.u64_from_bits)
uniform32_from_bits = _inline(_pc.uniform32_from_bits)
uniform64_from_bits = _inline(_pc.uniform64_from_bits)
normal32_from_bits = _inline(_pc.normal32_from_bits)
normal64_from_bits = _inline(_pc.normal64_from_bits)


@_inline
def philox_words(seed, counter):
    """The four uint32 words for a 64-bit ``counter`` and 64-bit ``seed`` (both np.uint64)."""
    return philox4x32_10(
        counter & _MASK32, counter >> _S32, _ZERO, _ZERO, seed & _MASK32, seed >> _S32
    )


# ------------------------------------------------------------------ values of one element
# value(r, j, p, x0, x1): element j of a counter whose words are r; p is the element of the
# probability array (bernoulli) or unused; x0, x1 are the kind's numbers.
@_inline
def _bits_value(r, j, p, x0, x1):
    return r[j]


@_inline
def _uniform32_value(r, j, p, low, high):
    return low + (high - low) * np.float64(uniform32_from_bits(r[j]))


@_inline
def _bernoulli_value(r, j, p, x0, x1):
    return 1.0 if uniform32_from_bits(r[j]) < p else 0.0


@_inline
def _dropout_value(r, j, p, keep, scale):
    return scale if uniform32_from_bits(r[j]) < keep else 0.0


@_inline
def _uniform64_value(r, j, p, low, high):
    return low + (high - low) * uniform64_from_bits(r[2 * j], r[2 * j + 1])


@_inline
def _normal32_value(r, j, p, mean, std):
    return mean + std * normal32_from_bits(r[2 * j], r[2 * j + 1])


@_inline
def _randint_value(r, j, p, low, span):
    return low + np.int64(u64_from_bits(r[2 * j], r[2 * j + 1]) % span)


@_inline
def _normal64_value(r, j, p, mean, std):
    return mean + std * normal64_from_bits(r[0], r[1], r[2], r[3])


# ------------------------------------------------------------------ counters lo .. hi-1 of a fill
# NOTE: the loops run over slices from 0: with range(lo, hi) bounds LLVM does not vectorize.
@_inline
def _four_per_counter(out, p, n, m, seed, offset, lo, hi, value, x0, x1):
    full = min(hi, max(lo, n - 3 * m))  # counters lo .. full-1 fill all four blocks
    a0, a1 = out[lo:full], out[m + lo : m + full]
    a2, a3 = out[2 * m + lo : 2 * m + full], out[3 * m + lo : 3 * m + full]
    p0, p1 = p[lo:full], p[m + lo : m + full]
    p2, p3 = p[2 * m + lo : 2 * m + full], p[3 * m + lo : 3 * m + full]
    base = offset + np.uint64(lo)
    for i in range(a0.shape[0]):
        r = philox_words(seed, base + np.uint64(i))
        a0[i] = value(r, 0, p0[i], x0, x1)
        a1[i] = value(r, 1, p1[i], x0, x1)
        a2[i] = value(r, 2, p2[i], x0, x1)
        a3[i] = value(r, 3, p3[i], x0, x1)
    _last_counters(out, p, n, m, seed, offset, full, hi, 4, value, x0, x1)


@_inline
def _two_per_counter(out, p, n, m, seed, offset, lo, hi, value, x0, x1):
    full = min(hi, max(lo, n - m))  # counters lo .. full-1 fill both blocks
    a0, a1 = out[lo:full], out[m + lo : m + full]
    p0, p1 = p[lo:full], p[m + lo : m + full]
    base = offset + np.uint64(lo)
    for i in range(a0.shape[0]):
        r = philox_words(seed, base + np.uint64(i))
        a0[i] = value(r, 0, p0[i], x0, x1)
        a1[i] = value(r, 1, p1[i], x0, x1)
    _last_counters(out, p, n, m, seed, offset, full, hi, 2, value, x0, x1)


@_inline
def _one_per_counter(out, p, n, m, seed, offset, lo, hi, value, x0, x1):
    a0, p0 = out[lo:hi], p[lo:hi]
    base = offset + np.uint64(lo)
    for i in range(a0.shape[0]):
        a0[i] = value(philox_words(seed, base + np.uint64(i)), 0, p0[i], x0, x1)


@_inline
def _last_counters(out, p, n, m, seed, offset, lo, hi, k, value, x0, x1):
    """Counters lo .. hi-1 whose later blocks end early (at most k - 1 of them)."""
    for c in range(lo, hi):
        r = philox_words(seed, offset + np.uint64(c))
        for j in range(k):
            e = j * m + c
            if e < n:
                out[e] = value(r, j, p[e], x0, x1)


# ------------------------------------------------------------------ kernels (serial, parallel)
# Each kind's pair: the serial kernel runs its counters as one task, the parallel one in tasks
# of _CHUNK counters; both name k (elements per counter), the body for that k and the value.
@_inline
def _serial(out, p, seed, offset, k, body, value, x0, x1):
    n = out.shape[0]
    m = (n + k - 1) // k
    body(out, p, n, m, seed, offset, 0, m, value, x0, x1)


@_inline
def _parallel(out, p, seed, offset, k, body, value, x0, x1):
    n = out.shape[0]
    m = (n + k - 1) // k
    for t in prange((m + _CHUNK - 1) // _CHUNK):
        body(out, p, n, m, seed, offset, t * _CHUNK, min(m, (t + 1) * _CHUNK), value, x0, x1)


@njit(cache=True)
def _bits_serial(out, seed, offset):
    """out[j*m + c] = word j of philox(offset + c, seed), m = ceil(n / 4)"""
    _serial(out, out, seed, offset, 4, _four_per_counter, _bits_value, 0, 0)


@njit(cache=True)
def _uniform32_serial(out, seed, offset, low, high):
    """out[j*m + c] = low + (high - low) * uniform32(word j of philox(offset + c, seed))"""
    _serial(out, out, seed, offset, 4, _four_per_counter, _uniform32_value, low, high)


@njit(cache=True)
def _bernoulli_serial(out, p, seed, offset):
    """out[e] = 1.0 if uniform32(word j) < p[e] else 0.0, e = j*m + c, m = ceil(n / 4)"""
    _serial(out, p, seed, offset, 4, _four_per_counter, _bernoulli_value, 0, 0)


@njit(cache=True)
def _dropout_serial(out, seed, offset, keep, scale):
    """out[j*m + c] = scale if uniform32(word j of philox(offset + c)) < keep else 0.0"""
    _serial(out, out, seed, offset, 4, _four_per_counter, _dropout_value, keep, scale)


@njit(cache=True)
def _uniform64_serial(out, seed, offset, low, high):
    """out[j*m + c] = low + (high - low) * uniform64(words 2j, 2j+1), m = ceil(n / 2)"""
    _serial(out, out, seed, offset, 2, _two_per_counter, _uniform64_value, low, high)


@njit(cache=True)
def _normal32_serial(out, seed, offset, mean, std):
    """out[j*m + c] = mean + std * normal32(words 2j, 2j+1 of philox(offset + c))"""
    _serial(out, out, seed, offset, 2, _two_per_counter, _normal32_value, mean, std)


@njit(cache=True)
def _randint_serial(out, seed, offset, low, span):
    """out[j*m + c] = low + (words 2j+1:2j of philox(offset + c)) % span  (int64 wrap)"""
    _serial(out, out, seed, offset, 2, _two_per_counter, _randint_value, low, span)


@njit(cache=True)
def _normal64_serial(out, seed, offset, mean, std):
    """out[c] = mean + std * normal64(all four words of philox(offset + c))"""
    _serial(out, out, seed, offset, 1, _one_per_counter, _normal64_value, mean, std)


@njit(cache=True, parallel=True)
def _bits_parallel(out, seed, offset):
    """_bits_serial in tasks of _CHUNK counters"""
    _parallel(out, out, seed, offset, 4, _four_per_counter, _bits_value, 0, 0)


@njit(cache=True, parallel=True)
def _uniform32_parallel(out, seed, offset, low, high):
    """_uniform32_serial in tasks of _CHUNK counters"""
    _parallel(out, out, seed, offset, 4, _four_per_counter, _uniform32_value, low, high)


@njit(cache=True, parallel=True)
def _bernoulli_parallel(out, p, seed, offset):
    """_bernoulli_serial in tasks of _CHUNK counters"""
    _parallel(out, p, seed, offset, 4, _four_per_counter, _bernoulli_value, 0, 0)


@njit(cache=True, parallel=True)
def _dropout_parallel(out, seed, offset, keep, scale):
    """_dropout_serial in tasks of _CHUNK counters"""
    _parallel(out, out, seed, offset, 4, _four_per_counter, _dropout_value, keep, scale)


@njit(cache=True, parallel=True)
def _uniform64_parallel(out, seed, offset, low, high):
    """_uniform64_serial in tasks of _CHUNK counters"""
    _parallel(out, out, seed, offset, 2, _two_per_counter, _uniform64_value, low, high)


@njit(cache=True, parallel=True)
def _normal32_parallel(out, seed, offset, mean, std):
    """_normal32_serial in tasks of _CHUNK counters"""
    _parallel(out, out, seed, offset, 2, _two_per_counter, _normal32_value, mean, std)


@njit(cache=True, parallel=True)
def _randint_parallel(out, seed, offset, low, span):
    """_randint_serial in tasks of _CHUNK counters"""
    _parallel(out, out, seed, offset, 2, _two_per_counter, _randint_value, low, span)


@njit(cache=True, parallel=True)
def _normal64_parallel(out, seed, offset, mean, std):
    """_normal64_serial in tasks of _CHUNK counters"""
    _parallel(out, out, seed, offset, 1, _one_per_counter, _normal64_value, mean, std)


# ------------------------------------------------------------------ public wrappers

_F32, _F64 = np.dtype(np.float32), np.dtype(np.float64)
_UNIFORM = {
    _F32: (_uniform32_serial, _uniform32_parallel),
    _F64: (_uniform64_serial, _uniform64_parallel),
}
_NORMAL = {
    _F32: (_normal32_serial, _normal32_parallel),
    _F64: (_normal64_serial, _normal64_parallel),
}


def _parallel_or_serial(n: int, serial: Callable, parallel: Callable) -> Callable:
    """The kernel variant for ``n`` elements: serial up to ``_SERIAL_MAX``, else parallel."""
    return serial if n <= _SERIAL_MAX else parallel


def _u64(x: int) -> np.uint64:
    """Any Python/NumPy integer as np.uint64, modulo 2**64 (so negative seeds are fine)."""
    return np.uint64(int(x) & 0xFFFF_FFFF_FFFF_FFFF)


def _flat(a: np.ndarray, name: str, dtypes: tuple[np.dtype, ...], write: bool) -> np.ndarray:
    """A 1-D view of the C-contiguous array ``a``, after checking its dtype."""
    if not isinstance(a, np.ndarray) or not a.flags.c_contiguous:
        raise ValueError(f"{name} must be a C-contiguous numpy array")
    if write and not a.flags.writeable:
        raise ValueError(f"{name} must be writeable")
    if a.dtype not in dtypes:
        raise TypeError(f"{name} has dtype {a.dtype}; expected one of {[str(d) for d in dtypes]}")
    return a.reshape(-1)


def fill_uniform(
    out: np.ndarray, seed: int, offset: int, low: float = 0.0, high: float = 1.0
) -> np.ndarray:
    """Fill float32/float64 ``out`` with U[low, high); uses counters offset .. offset+size-1.

    float32 takes 24 bits (word 0), float64 53 bits (words 0, 1). Returns ``out``. For a
    float32 ``out`` and a wide range, rounding the float64 result can give exactly ``high``.
    """
    flat = _flat(out, "out", (_F32, _F64), True)
    kernel = _parallel_or_serial(flat.size, *_UNIFORM[flat.dtype])
    kernel(flat, _u64(seed), _u64(offset), float(low), float(high))
    return out


def fill_normal(
    out: np.ndarray, seed: int, offset: int, mean: float = 0.0, std: float = 1.0
) -> np.ndarray:
    """Fill float32/float64 ``out`` with N(mean, std**2), one Box-Muller draw per counter.

    float32 uses 24-bit uniforms from words 0, 1; float64 53-bit ones from (0, 1), (2, 3).
    """
    flat = _flat(out, "out", (_F32, _F64), True)
    kernel = _parallel_or_serial(flat.size, *_NORMAL[flat.dtype])
    kernel(flat, _u64(seed), _u64(offset), float(mean), float(std))
    return out


def fill_bits(out: np.ndarray, seed: int, offset: int) -> np.ndarray:
    """Fill uint32 ``out`` with raw Philox word 0 of each counter."""
    flat = _flat(out, "out", (np.dtype(np.uint32),), True)
    _parallel_or_serial(flat.size, _bits_serial, _bits_parallel)(flat, _u64(seed), _u64(offset))
    return out


def fill_randint(out: np.ndarray, seed: int, offset: int, low: int, high: int) -> np.ndarray:
    """Fill int64 ``out`` with integers in [low, high): ``low + (word1:word0) % (high - low)``.

    The modulo bias is below ``(high - low) / 2**64``.
    """
    flat = _flat(out, "out", (np.dtype(np.int64),), True)
    low, high = int(low), int(high)
    if not (-(2**63) <= low < high < 2**63):
        raise ValueError(f"randint needs -2**63 <= low < high < 2**63, got [{low}, {high})")
    kernel = _parallel_or_serial(flat.size, _randint_serial, _randint_parallel)
    kernel(flat, _u64(seed), _u64(offset), np.int64(low), np.uint64(high - low))
    return out


def fill_bernoulli(out: np.ndarray, p: np.ndarray, seed: int, offset: int) -> np.ndarray:
    """Fill float ``out`` with 1.0 where ``uniform32(word 0) < p`` else 0.0 (``p`` same shape).

    p = 0 gives exactly 0 and p = 1 exactly 1, since uniform32 lies in [0, 1 - 2**-24].
    """
    flat = _flat(out, "out", (_F32, _F64), True)
    pflat = _flat(p, "p", (_F32, _F64), False)
    if p.shape != out.shape:
        raise ValueError(f"p has shape {p.shape}, out has shape {out.shape}")
    kernel = _parallel_or_serial(flat.size, _bernoulli_serial, _bernoulli_parallel)
    kernel(flat, pflat, _u64(seed), _u64(offset))
    return out


def fill_dropout(out: np.ndarray, seed: int, offset: int, keep: float, scale: float) -> np.ndarray:
    """Fill float ``out`` with ``scale`` where ``uniform32(word 0) < keep`` else 0.0: a dropout
    mask already scaled by 1 / (1 - p), one pass. The same draws as fill_bernoulli with every
    probability ``keep`` (compared in out's dtype, as bernoulli compares a p array of that
    dtype), times scale.
    """
    flat = _flat(out, "out", (_F32, _F64), True)
    kernel = _parallel_or_serial(flat.size, _dropout_serial, _dropout_parallel)
    kernel(flat, _u64(seed), _u64(offset), flat.dtype.type(keep), float(scale))
    return out
