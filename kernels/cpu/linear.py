"""Matrix products c = a @ b in register tiles (kernels/cpu/tiles.py), for the skinny shapes
of small-batch layers, where OpenBLAS runs far from its peak.

A tile is ROWS rows of a by TILE_VECTORS vectors of one row of c: every step over k loads
TILE_VECTORS vectors of b's row k and broadcasts ROWS elements of a's column k, and the
ROWS x TILE_VECTORS accumulators stay in registers through all of k (b's rows are the tile's
"shifted runs": shifts[k] = k * N). a and b are read in place, C-contiguous; no packing.
A row's last pass is moved back to end at N (recomputing a few columns the same way), so no
vector reads past a row of b; rows of a past the last whole block of ROWS go one at a time
(no read past a's end). With `transpose`, the tile writes a small scratch block that the task
copies into c.T: x @ w.T + bias is computed as (w @ x.T + bias[:, None]).T, reading the
weight in its own layout (only the small x.T is copied).
"""

from __future__ import annotations

import functools

import numpy as np
from numba import intp, njit, prange, uintp

from . import PARALLEL_MIN, tiles

_OPTS = dict(cache=True, nogil=True, error_model="numpy")
# rows of a by vectors of c's row per tile: with AVX-512's 32 registers 16 accumulators, 2
# loads and 8 broadcasts a k; with 16 registers (AVX2) 8 accumulators (unmeasured: no such host)
ROWS = 8 if tiles.vector_registers() >= 32 else 4
TILE_VECTORS = 2
VECTOR_BYTES = tiles.vector_bytes()
_tile = tiles.shifted_tile(ROWS, TILE_VECTORS)
_tile_1 = tiles.shifted_tile(1, TILE_VECTORS)


@njit(inline="always")
def _rows(dst, at, pitch, a, b, bias, shifts, k, n, r0, rows, tail):
    """dst[at + r*pitch + j] = bias[r0 + r] + a[r0 + r] @ b[:, j] for r < rows, j < n."""
    n_lanes = VECTOR_BYTES // dst.itemsize
    begin = 0
    while begin < n:
        nv = min(TILE_VECTORS, (n - begin + n_lanes - 1) // n_lanes, n // n_lanes)
        start = min(begin, n - nv * n_lanes)  # whole vectors inside the row (n >= n_lanes)
        begin = start + nv * n_lanes
        if rows == ROWS:
            _tile(dst, at + start, pitch, nv * n_lanes, ROWS, tail, b, start, shifts, a, r0 * k,
                  k, bias, r0, nv)  # fmt: skip
        else:
            for r in range(rows):
                _tile_1(dst, at + r * pitch + start, pitch, nv * n_lanes, 1, tail, b, start,
                        shifts, a, (r0 + r) * k, k, bias, r0 + r, nv)  # fmt: skip


@njit(**_OPTS)
def _task(c, a, b, bias, shifts, m, k, n, t, transpose):
    tail = np.empty((ROWS + 1) * VECTOR_BYTES // c.itemsize, dtype=c.dtype)  # never written
    r0 = t * ROWS
    rows = min(ROWS, m - r0)
    if not transpose:
        _rows(c, r0 * n, n, a, b, bias, shifts, k, n, r0, rows, tail)
        return
    block = np.empty(rows * n, dtype=c.dtype)
    _rows(block, 0, n, a, b, bias, shifts, k, n, r0, rows, tail)
    for j in range(n):  # c is (n, m): c[j, r0 + r] = block[r, j]
        for r in range(rows):
            c[uintp(j * m + r0 + r)] = block[uintp(r * n + j)]


@njit(parallel=True, **_OPTS)
def _matmul_parallel(c, a, b, bias, shifts, m, k, n, transpose):
    for t in prange((m + ROWS - 1) // ROWS):
        _task(c, a, b, bias, shifts, m, k, n, intp(t), transpose)  # intp: see kernels/cpu/conv.py


@njit(**_OPTS)
def _matmul_serial(c, a, b, bias, shifts, m, k, n, transpose):
    for t in range((m + ROWS - 1) // ROWS):
        _task(c, a, b, bias, shifts, m, k, n, intp(t), transpose)


@functools.lru_cache(maxsize=64)
def _row_starts(k: int, n: int) -> np.ndarray:
    return np.arange(0, k * n, n, dtype=np.int64)


def lanes(dtype) -> int:
    return tiles.lanes(np.dtype(dtype).itemsize)


def matmul(a: np.ndarray, b: np.ndarray, bias=None, transpose: bool = False) -> np.ndarray:
    """a (M, K) @ b (K, N) (+ bias (M,) down the rows), C-ordered; its transpose (N, M) when
    `transpose`. a and b C-contiguous, of one float dtype; N >= lanes(dtype)."""
    (m, k), n = a.shape, b.shape[1]
    if n < lanes(a.dtype):  # a pass is whole vectors inside a row of b
        raise ValueError(f"tiled matmul: b has {n} columns, fewer than a vector's {lanes(a.dtype)}")
    bias = np.zeros(m, a.dtype) if bias is None else bias
    c = np.empty((n, m) if transpose else (m, n), dtype=a.dtype)
    args = (a.reshape(-1), b.reshape(-1), bias, _row_starts(k, n), m, k, n, transpose)
    kernel = _matmul_parallel if m * k * n >= 32 * PARALLEL_MIN else _matmul_serial
    kernel(c.reshape(-1), *args)
    return c


def linear_wins(m: int, k: int, n: int) -> bool:
    """Whether x (m, k) @ w.T (n outputs) + bias runs faster here than through OpenBLAS.

    NOTE: same process, alternating, float32, us (OpenBLAS's best orientation + bias vs
    linear()): 64x784 -> 512 537 vs 385, 16x784 -> 512 145 vs 105, 128x784 -> 512 634 vs 536,
    64x512 -> 256 221 vs 179, 32x100 -> 300 0.81x, 32x28 -> 300 0.89-1.01x, 64x128 -> 128
    1.17x, 100x400 -> 120 1.00x, 512 rows 1.2-1.5x (OpenBLAS's blocking wins there). The
    other products of a layer's backward (g @ w, g.T @ x) gained too little (0.77-1.3x).
    """
    return 16 <= m <= 128 and k >= 256 and n >= 256


def linear(x: np.ndarray, w: np.ndarray, bias=None) -> np.ndarray:
    """x (M, K) @ w (N, K).T + bias as (w @ x.T + bias[:, None]).T; M >= lanes(dtype)."""
    xt = aligned_empty(x.shape[::-1], x.dtype)
    xt[...] = x.T
    return matmul(w, xt, bias, transpose=True)


def aligned_empty(shape: tuple, dtype) -> np.ndarray:
    """np.empty on a cache-line boundary. NOTE: x.T copied into the heap's 16-byte-aligned
    buffers made every vector load of the 64x784 -> 512 product straddle two cache lines:
    257-354 us against 191-221 aligned (same process)."""
    size, itemsize = int(np.prod(shape)), np.dtype(dtype).itemsize
    raw = np.empty(size + VECTOR_BYTES // itemsize, dtype)
    start = (-raw.ctypes.data % VECTOR_BYTES) // itemsize
    return raw[start : start + size].reshape(shape)
