"""Matrix products through numpy's BLAS, on one thread when the product is small.

NOTE: minitorch makes OpenBLAS's workers sleep right after each product (minitorch/_openblas.py:
their idle spin starved Numba's parallel kernels), so a product that OpenBLAS splits over two
threads first wakes a worker. On this project's 2-core VM that costs more than the second
thread saves on small products: 64x128 @ 128x128 took 25 us on the calling thread and 35 us
on two; 64x512 @ 512x256 took 189 us on one and 133 us on two. Products of fewer than
SMALL_GEMM multiply-adds per matrix therefore run on the calling thread. Where numpy's BLAS is
not OpenBLAS (or its thread setter cannot be found) products run as numpy runs them.
"""

from __future__ import annotations

import ctypes
import glob
import math
import os

import numpy as np

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
        self.default = calls[1]() if calls else 1
        self.current = self.default

    def use(self, n: int) -> None:
        if n != self.current and self.set is not None:
            self.set(n)
            self.current = n


_threads = _Threads()


def matmul(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """np.matmul(a, b), on the calling thread when each matrix product is small."""
    m = a.shape[-2] if a.ndim > 1 else 1
    n = b.shape[-1] if b.ndim > 1 else 1
    small = math.prod((m, a.shape[-1], n)) < SMALL_GEMM
    _threads.use(1 if small else _threads.default)
    return np.matmul(a, b)
