"""Matrix products through MKL where it is installed (kernels/cpu/mkl.py), else numpy's BLAS,
on one thread when the product is small.

NOTE: minitorch makes OpenBLAS's workers sleep right after each product (minitorch/_openblas.py:
their idle spin starved Numba's parallel kernels), so a product that OpenBLAS splits over two
threads first wakes a worker. On this project's 2-core VM that costs more than the second
thread saves on small products: 64x128 @ 128x128 took 25 us on the calling thread and 35 us
on two; 64x512 @ 512x256 took 189 us on one and 133 us on two. Products of fewer than
SMALL_GEMM multiply-adds per matrix therefore run on the calling thread. A product of a few
rows with a transposed weight (x @ W.T) runs as (W @ x.T).T, OpenBLAS's faster orientation
there (see _swap_wins). Where numpy's BLAS is not OpenBLAS (or its thread setter cannot be
found) products run as numpy runs them.
"""

from __future__ import annotations

import ctypes
import glob
import math
import os

import numpy as np

from . import mkl

SMALL_GEMM = 4_000_000  # multiply-adds of one matrix product


def _openblas_thread_calls():
    """(set_num_threads, get_num_threads) of the OpenBLAS numpy loaded, or None."""
    folder = os.path.join(os.path.dirname(np.__file__), os.pardir, "numpy.libs")
    prefixes = ("scipy_openblas", "openblas")
    for path in glob.glob(os.path.join(folder, "*openblas*")):
        try:
            lib = ctypes.CDLL(path)  # already loaded by numpy: this only looks it up
        except OSError:
            continue
        for prefix in prefixes:
            for suffix in ("64_", ""):
                setter = getattr(lib, f"{prefix}_set_num_threads{suffix}", None)
                getter = getattr(lib, f"{prefix}_get_num_threads{suffix}", None)
                if setter is not None and getter is not None:
                    setter.argtypes, setter.restype = [ctypes.c_int], None
                    getter.argtypes, getter.restype = [], ctypes.c_int
                    return setter, getter
    return None


class _Threads:
    """Switches OpenBLAS between one thread and its default count, only when that changes."""

    def __init__(self):
        calls = _openblas_thread_calls()
        self.set = calls[0] if calls else None
        self.most = self.default = calls[1]() if calls else 1
        self.current = self.default

    def use(self, n: int) -> None:
        if n != self.current and self.set is not None:
            self.set(n)
            self.current = n


_threads = _Threads()


def limit_threads(n: int) -> None:
    """Products use at most n threads of MKL, and large ones n of OpenBLAS (set_num_threads)."""
    mkl.set_num_threads(n)
    _threads.default = min(n, _threads.most)
    if _threads.current > _threads.default:
        _threads.use(_threads.default)


def matmul(a: np.ndarray, b: np.ndarray, out=None) -> np.ndarray:
    """np.matmul(a, b) (into `out`, C-ordered, where given), on the calling thread when each
    matrix product is small."""
    product, transposed = matmul_or_transposed(a, b, out)
    return np.ascontiguousarray(product.T) if transposed else product


def matmul_or_transposed(a: np.ndarray, b: np.ndarray, out=None) -> tuple[np.ndarray, bool]:
    """(a @ b, False), or ((a @ b).T C-ordered, True) where BLAS computes that one faster (the
    caller then reads it transposed, e.g. in the pass that adds a bias, instead of copying);
    with `out`, (out holding a @ b, False)."""
    if a.ndim == b.ndim == 2:
        product = mkl.matmul(a, b, out)
        if product is not None:
            return product, False
    m = a.shape[-2] if a.ndim > 1 else 1
    k = a.shape[-1]
    n = b.shape[-1] if b.ndim > 1 else 1
    use_threads_for(math.prod((m, k, n)))
    if out is None and a.ndim == b.ndim == 2 and _transposed(b) and _swap_wins(m, k, n):
        return np.matmul(b.T, a.T), True
    return np.matmul(a, b, out=out), False


def use_threads_for(macs: int) -> None:
    """Set OpenBLAS's threads for products of `macs` multiply-adds (each matrix's): one below
    SMALL_GEMM, else its default. matmul calls it; so do callers that make their products
    themselves (through kernels/cpu/cblas.py)."""
    _threads.use(1 if macs < SMALL_GEMM else _threads.default)


def _transposed(b: np.ndarray) -> bool:
    """b is a transposed view of a C-ordered matrix (x @ weight.T)."""
    return b.strides[0] == b.itemsize and b.strides[1] != b.itemsize


def _swap_wins(m: int, k: int, n: int) -> bool:
    """Whether x @ W.T of a few rows runs faster as (W @ x.T).T.

    NOTE: OpenBLAS (0.3.31, SkylakeX kernels) runs the product of a few rows with a transposed
    weight far from its peak. Same process, alternating, float32, us (x @ W.T + bias vs
    (W @ x.T).T copied + bias): M=4 K=784 N=512 225 vs 100; M=8 K=784 N=512 255 vs 139; M=16
    0.53-0.75x the time for K 128-1024, N 128-1024; M=32 0.75-0.85x; M=48 N=512 0.82-0.87x but
    N=128 0.95-1.01x; M=64 with K >= 512 and N >= 256 0.82-0.96x, with K <= 256 0.94-1.15x;
    M=128 0.97-1.40x; M=1 (a matrix-vector product) 1.03-1.12x. Without a transposed operand
    (x @ W) the swap lost everywhere (1.03-1.47x). Measured on OpenBLAS only: another BLAS
    (MKL, Accelerate) keeps numpy's own call.
    """
    return _threads.set is not None and 2 <= m <= 64 and n >= 256 and (m <= 48 or k >= 512)
