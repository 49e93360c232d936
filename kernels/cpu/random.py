"""CPU random-number kernels on counter-based Philox4x32-10.

Element ``i`` of a fill uses the 128-bit counter ``(c0, c1, 0, 0)`` with ``c1:c0 = offset + i``
(64-bit, wrapping) and the key ``(k0, k1)`` with ``k1:k0 = seed`` (64-bit). Every fill consumes
exactly ``out.size`` counters, so the caller advances its offset by ``out.size``. Values depend
only on (seed, offset + i): never on threading, chunking, or the variant (serial or parallel).

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


# ------------------------------------------------------------------ kernels (serial, parallel)


@njit(cache=True)
def _uniform32_serial(out, seed, offset, low, high):
    """for i: r = philox(offset + i, seed); out[i] = low + (high - low) * uniform32(r[0])"""
    for i in range(out.shape[0]):
        r = philox_words(seed, offset + np.uint64(i))
        out[i] = low + (high - low) * np.float64(uniform32_from_bits(r[0]))


@njit(cache=True, parallel=True)
def _uniform32_parallel(out, seed, offset, low, high):
    """for i in prange: r = philox(offset + i, seed); out[i] = low + (high-low) * uniform32(r[0])"""
    for i in prange(out.shape[0]):
        r = philox_words(seed, offset + np.uint64(i))
        out[i] = low + (high - low) * np.float64(uniform32_from_bits(r[0]))


@njit(cache=True)
def _uniform64_serial(out, seed, offset, low, high):
    """for i: r = philox(offset + i, seed); out[i] = low + (high - low) * uniform64(r[0], r[1])"""
    for i in range(out.shape[0]):
        r = philox_words(seed, offset + np.uint64(i))
        out[i] = low + (high - low) * uniform64_from_bits(r[0], r[1])


@njit(cache=True, parallel=True)
def _uniform64_parallel(out, seed, offset, low, high):
    """for i in prange: r = philox(offset+i, seed); out[i] = low + (high-low) * uniform64(r0, r1)"""
    for i in prange(out.shape[0]):
        r = philox_words(seed, offset + np.uint64(i))
        out[i] = low + (high - low) * uniform64_from_bits(r[0], r[1])


@njit(cache=True)
def _normal32_serial(out, seed, offset, mean, std):
    """for i: r = philox(offset + i, seed); out[i] = mean + std * normal32(r[0], r[1])"""
    for i in range(out.shape[0]):
        r = philox_words(seed, offset + np.uint64(i))
        out[i] = mean + std * normal32_from_bits(r[0], r[1])


@njit(cache=True, parallel=True)
def _normal32_parallel(out, seed, offset, mean, std):
    """for i in prange: r = philox(offset + i, seed); out[i] = mean + std * normal32(r[0], r[1])"""
    for i in prange(out.shape[0]):
        r = philox_words(seed, offset + np.uint64(i))
        out[i] = mean + std * normal32_from_bits(r[0], r[1])


@njit(cache=True)
def _normal64_serial(out, seed, offset, mean, std):
    """for i: r = philox(offset + i, seed); out[i] = mean + std * normal64(r[0], .., r[3])"""
    for i in range(out.shape[0]):
        r = philox_words(seed, offset + np.uint64(i))
        out[i] = mean + std * normal64_from_bits(r[0], r[1], r[2], r[3])


@njit(cache=True, parallel=True)
def _normal64_parallel(out, seed, offset, mean, std):
    """for i in prange: r = philox(offset + i, seed); out[i] = mean + std * normal64(r0..r3)"""
    for i in prange(out.shape[0]):
        r = philox_words(seed, offset + np.uint64(i))
        out[i] = mean + std * normal64_from_bits(r[0], r[1], r[2], r[3])


@njit(cache=True)
def _bits_serial(out, seed, offset):
    """for i: out[i] = philox(offset + i, seed)[0]"""
    for i in range(out.shape[0]):
        out[i] = philox_words(seed, offset + np.uint64(i))[0]


@njit(cache=True, parallel=True)
def _bits_parallel(out, seed, offset):
    """for i in prange: out[i] = philox(offset + i, seed)[0]"""
    for i in prange(out.shape[0]):
        out[i] = philox_words(seed, offset + np.uint64(i))[0]


@njit(cache=True)
def _randint_serial(out, seed, offset, low, span):
    """for i: r = philox(offset + i, seed); out[i] = low + (r[1]:r[0]) % span  (int64 wrap)"""
    for i in range(out.shape[0]):
        r = philox_words(seed, offset + np.uint64(i))
        out[i] = low + np.int64(u64_from_bits(r[0], r[1]) % span)


@njit(cache=True, parallel=True)
def _randint_parallel(out, seed, offset, low, span):
    """for i in prange: r = philox(offset + i, seed); out[i] = low + (r[1]:r[0]) % span"""
    for i in prange(out.shape[0]):
        r = philox_words(seed, offset + np.uint64(i))
        out[i] = low + np.int64(u64_from_bits(r[0], r[1]) % span)


@njit(cache=True)
def _bernoulli_serial(out, p, seed, offset):
    """for i: out[i] = 1.0 if uniform32(philox(offset + i, seed)[0]) < p[i] else 0.0"""
    for i in range(out.shape[0]):
        u = uniform32_from_bits(philox_words(seed, offset + np.uint64(i))[0])
        out[i] = 1.0 if u < p[i] else 0.0


@njit(cache=True, parallel=True)
def _bernoulli_parallel(out, p, seed, offset):
    """for i in prange: out[i] = 1.0 if uniform32(philox(offset + i, seed)[0]) < p[i] else 0.0"""
    for i in prange(out.shape[0]):
        u = uniform32_from_bits(philox_words(seed, offset + np.uint64(i))[0])
        out[i] = 1.0 if u < p[i] else 0.0


@njit(cache=True)
def _dropout_serial(out, seed, offset, keep, scale):
    """for i: out[i] = scale if uniform32(philox(offset + i, seed)[0]) < keep else 0.0"""
    for i in range(out.shape[0]):
        u = uniform32_from_bits(philox_words(seed, offset + np.uint64(i))[0])
        out[i] = scale if u < keep else 0.0


@njit(cache=True, parallel=True)
def _dropout_parallel(out, seed, offset, keep, scale):
    """for i in prange: out[i] = scale if uniform32(philox(offset+i, seed)[0]) < keep else 0.0"""
    for i in prange(out.shape[0]):
        u = uniform32_from_bits(philox_words(seed, offset + np.uint64(i))[0])
        out[i] = scale if u < keep else 0.0


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
