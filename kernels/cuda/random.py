"""Counter-based random numbers on the device: the same Philox4x32-10 bodies as the CPU
(kernels/codegen/philox.py), so a seed and offset give the same numbers on both devices.

Element i of a fill uses counter offset + i and key seed, as kernels/cpu/random.py documents.
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


@cuda.jit
def _bernoulli(out, p, seed, offset):
    """for i: out[i] = 1.0 if uniform32(philox(offset + i, seed)[0]) < p[i] else 0.0"""
    for i in range(cuda.grid(1), out.shape[0], cuda.gridsize(1)):
        u = uniform32_from_bits(philox_words(seed, offset + np.uint64(i))[0])
        out[i] = 1.0 if u < p[i] else 0.0


@cuda.jit
def _dropout(out, seed, offset, keep, scale):
    """for i: out[i] = scale if uniform32(philox(offset + i, seed)[0]) < keep else 0.0"""
    for i in range(cuda.grid(1), out.shape[0], cuda.gridsize(1)):
        u = uniform32_from_bits(philox_words(seed, offset + np.uint64(i))[0])
        out[i] = scale if u < keep else 0.0


@cuda.jit
def _uniform32(out, seed, offset, low, high):
    """for i: out[i] = low + (high - low) * uniform32(philox(offset + i, seed)[0])"""
    for i in range(cuda.grid(1), out.shape[0], cuda.gridsize(1)):
        r = philox_words(seed, offset + np.uint64(i))
        out[i] = low + (high - low) * np.float64(uniform32_from_bits(r[0]))


@cuda.jit
def _uniform64(out, seed, offset, low, high):
    """for i: out[i] = low + (high - low) * uniform64(philox(offset + i, seed)[0:2])"""
    for i in range(cuda.grid(1), out.shape[0], cuda.gridsize(1)):
        r = philox_words(seed, offset + np.uint64(i))
        out[i] = low + (high - low) * uniform64_from_bits(r[0], r[1])


@cuda.jit
def _normal32(out, seed, offset, mean, std):
    """for i: out[i] = mean + std * box_muller(philox(offset + i, seed)[0:2]) (24-bit)"""
    for i in range(cuda.grid(1), out.shape[0], cuda.gridsize(1)):
        r = philox_words(seed, offset + np.uint64(i))
        out[i] = mean + std * normal32_from_bits(r[0], r[1])


@cuda.jit
def _normal64(out, seed, offset, mean, std):
    """for i: out[i] = mean + std * box_muller(philox(offset + i, seed)) (53-bit)"""
    for i in range(cuda.grid(1), out.shape[0], cuda.gridsize(1)):
        r = philox_words(seed, offset + np.uint64(i))
        out[i] = mean + std * normal64_from_bits(r[0], r[1], r[2], r[3])


def _u64(x: int) -> np.uint64:
    return np.uint64(int(x) & 0xFFFF_FFFF_FFFF_FFFF)


def fill_bernoulli(out, p, seed: int, offset: int) -> None:
    """out (1-D, float) = 1.0 where uniform32 < p (1-D, same size), as the CPU kernel."""
    if out.shape[0]:
        _bernoulli[grid(out.shape[0]), BLOCK](out, p, _u64(seed), _u64(offset))


def fill_dropout(out, seed: int, offset: int, keep: float, scale: float) -> None:
    """out (1-D, float) = scale where uniform32 < keep (in out's dtype), as the CPU kernel."""
    if out.shape[0]:
        keep = out.dtype.type(keep)
        _dropout[grid(out.shape[0]), BLOCK](out, _u64(seed), _u64(offset), keep, float(scale))


def fill_uniform(out, seed: int, offset: int, low: float = 0.0, high: float = 1.0) -> None:
    kernel = _uniform32 if out.dtype == np.float32 else _uniform64
    if out.shape[0]:
        kernel[grid(out.shape[0]), BLOCK](out, _u64(seed), _u64(offset), float(low), float(high))


def fill_normal(out, seed: int, offset: int, mean: float = 0.0, std: float = 1.0) -> None:
    kernel = _normal32 if out.dtype == np.float32 else _normal64
    if out.shape[0]:
        kernel[grid(out.shape[0]), BLOCK](out, _u64(seed), _u64(offset), float(mean), float(std))
