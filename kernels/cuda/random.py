"""Counter-based random numbers on the device: the same Philox4x32-10 bodies as the CPU
(kernels/codegen/philox.py), so a seed and offset give the same numbers on both devices.

Element j*m + c of a fill takes word group j of counter offset + c under key seed, as
kernels/cpu/random.py documents.
"""

from __future__ import annotations

import numpy as np
from numba import cuda

from ..codegen import philox as _pc
from . import BLOCK, grid

_MASK32 = np.uint64(0xFFFFFFFF)
_S32 = np.uint64(32)
_ZERO = np.uint32(0)

philox4x32_10 = cuda.jit(device=True)(_pc.philox4x32_10)
uniform32_from_bits = cuda.jit(device=True)(_pc.uniform32_from_bits)
uniform64_from_bits = cuda.jit(device=True)(_pc.uniform64_from_bits)
normal32_from_bits = cuda.jit(device=True)(_pc.normal32_from_bits)
normal64_from_bits = cuda.jit(device=True)(_pc.normal64_from_bits)


@cuda.jit(device=True)
def philox_words(seed, counter):
    """The four uint32 words for a 64-bit counter and 64-bit seed (both np.uint64)."""
    return philox4x32_10(
        counter & _MASK32, counter >> _S32, _ZERO, _ZERO, seed & _MASK32, seed >> _S32
    )


# One thread per counter c; its k = 4 // (words per element) elements are j*m + c, m = ceil(n / k).
@cuda.jit
def _bernoulli(out, p, seed, offset):
    """out[e] = 1.0 if uniform32(word j of philox(offset + c)) < p[e] else 0.0, e = j*m + c"""
    n = out.shape[0]
    m = (n + 3) // 4
    for c in range(cuda.grid(1), m, cuda.gridsize(1)):
        r = philox_words(seed, offset + np.uint64(c))
        for j in range(4):
            e = j * m + c
            if e < n:
                out[e] = 1.0 if uniform32_from_bits(r[j]) < p[e] else 0.0


@cuda.jit
def _dropout(out, seed, offset, keep, scale):
    """out[j*m + c] = scale if uniform32(word j of philox(offset + c)) < keep else 0.0"""
    n = out.shape[0]
    m = (n + 3) // 4
    for c in range(cuda.grid(1), m, cuda.gridsize(1)):
        r = philox_words(seed, offset + np.uint64(c))
        for j in range(4):
            if j * m + c < n:
                out[j * m + c] = scale if uniform32_from_bits(r[j]) < keep else 0.0


@cuda.jit
def _uniform32(out, seed, offset, low, high):
    """out[j*m + c] = low + (high - low) * uniform32(word j of philox(offset + c))"""
    n = out.shape[0]
    m = (n + 3) // 4
    for c in range(cuda.grid(1), m, cuda.gridsize(1)):
        r = philox_words(seed, offset + np.uint64(c))
        for j in range(4):
            if j * m + c < n:
                out[j * m + c] = low + (high - low) * np.float64(uniform32_from_bits(r[j]))


@cuda.jit
def _uniform64(out, seed, offset, low, high):
    """out[j*m + c] = low + (high - low) * uniform64(words 2j, 2j+1 of philox(offset + c))"""
    n = out.shape[0]
    m = (n + 1) // 2
    for c in range(cuda.grid(1), m, cuda.gridsize(1)):
        r = philox_words(seed, offset + np.uint64(c))
        for j in range(2):
            if j * m + c < n:
                out[j * m + c] = low + (high - low) * uniform64_from_bits(r[2 * j], r[2 * j + 1])


@cuda.jit
def _normal32(out, seed, offset, mean, std):
    """out[j*m + c] = mean + std * box_muller(words 2j, 2j+1 of philox(offset + c)) (24-bit)"""
    n = out.shape[0]
    m = (n + 1) // 2
    for c in range(cuda.grid(1), m, cuda.gridsize(1)):
        r = philox_words(seed, offset + np.uint64(c))
        for j in range(2):
            if j * m + c < n:
                out[j * m + c] = mean + std * normal32_from_bits(r[2 * j], r[2 * j + 1])


@cuda.jit
def _normal64(out, seed, offset, mean, std):
    """out[c] = mean + std * box_muller(philox(offset + c, seed)) (53-bit)"""
    for c in range(cuda.grid(1), out.shape[0], cuda.gridsize(1)):
        r = philox_words(seed, offset + np.uint64(c))
        out[c] = mean + std * normal64_from_bits(r[0], r[1], r[2], r[3])


def _u64(x: int) -> np.uint64:
    return np.uint64(int(x) & 0xFFFF_FFFF_FFFF_FFFF)


def _counters(out, per_counter: int) -> int:
    return -(-out.shape[0] // per_counter)


def fill_bernoulli(out, p, seed: int, offset: int) -> None:
    """out (1-D, float) = 1.0 where uniform32 < p (1-D, same size), as the CPU kernel."""
    if out.shape[0]:
        _bernoulli[grid(_counters(out, 4)), BLOCK](out, p, _u64(seed), _u64(offset))


def fill_dropout(out, seed: int, offset: int, keep: float, scale: float) -> None:
    """out (1-D, float) = scale where uniform32 < keep (in out's dtype), as the CPU kernel."""
    if out.shape[0]:
        keep = out.dtype.type(keep)
        _dropout[grid(_counters(out, 4)), BLOCK](out, _u64(seed), _u64(offset), keep, float(scale))


def fill_uniform(out, seed: int, offset: int, low: float = 0.0, high: float = 1.0) -> None:
    kernel, k = (_uniform32, 4) if out.dtype == np.float32 else (_uniform64, 2)
    if out.shape[0]:
        kernel[grid(_counters(out, k)), BLOCK](
            out, _u64(seed), _u64(offset), float(low), float(high)
        )


def fill_normal(out, seed: int, offset: int, mean: float = 0.0, std: float = 1.0) -> None:
    kernel, k = (_normal32, 2) if out.dtype == np.float32 else (_normal64, 1)
    if out.shape[0]:
        kernel[grid(_counters(out, k)), BLOCK](
            out, _u64(seed), _u64(offset), float(mean), float(std)
        )
