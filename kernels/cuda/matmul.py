"""Batched matrix product on the device: a shared-memory tiled GEMM.

# NOTE: one output per thread with TILE x TILE shared tiles (the textbook kernel: ~6.9 TFLOP/s
# at 4096 on an H100, DESIGN.md). Phase 2 replaces it with a register-tiled, double-buffered
# kernel (several outputs per thread) behind the same `matmul(out, a, b)`.
"""

from __future__ import annotations

import numpy as np
from numba import cuda, from_dtype

from . import SIM

TILE = 4 if SIM else 16  # the simulator runs TILE * TILE Python threads per block
_kernels: dict = {}


def _make(dtype: np.dtype):
    value_type = from_dtype(dtype)
    zero = dtype.type(0)

    @cuda.jit
    def kernel(out, a, b):
        """for n, i, j: out[n, i, j] = sum_k a[n, i, k] * b[n, k, j]

        Block (TILE, TILE) computes one TILE x TILE tile of out[n]; grid (ceil(N / TILE),
        ceil(M / TILE), batch). The loop walks the tiles along K (not gridDim: the trap in the
        numba docs' example, wrong for non-square shapes). Any strides: transposed operands
        are read in place.
        """
        sa = cuda.shared.array((TILE, TILE), value_type)
        sb = cuda.shared.array((TILE, TILE), value_type)
        tx, ty = cuda.threadIdx.x, cuda.threadIdx.y
        n = cuda.blockIdx.z
        i = cuda.blockIdx.y * TILE + ty
        j = cuda.blockIdx.x * TILE + tx
        m_rows, k_len, n_cols = a.shape[1], a.shape[2], b.shape[2]
        acc = zero
        for k0 in range(0, k_len, TILE):
            sa[ty, tx] = a[n, i, k0 + tx] if (i < m_rows and k0 + tx < k_len) else zero
            sb[ty, tx] = b[n, k0 + ty, j] if (k0 + ty < k_len and j < n_cols) else zero
            cuda.syncthreads()
            for kk in range(TILE):
                acc += sa[ty, kk] * sb[kk, tx]
            cuda.syncthreads()
        if i < m_rows and j < n_cols:
            out[n, i, j] = acc

    return kernel


def matmul(out, a, b) -> None:
    """out = a @ b for 3-D (batch, M, K) and (batch, K, N) device arrays of out's dtype."""
    batch, m_rows, n_cols = out.shape
    if out.size == 0:
        return
    kernel = _kernels.get(out.dtype.str)
    if kernel is None:
        kernel = _kernels[out.dtype.str] = _make(out.dtype)
    blocks = (-(-n_cols // TILE), -(-m_rows // TILE), batch)
    kernel[blocks, (TILE, TILE)](out, a, b)
