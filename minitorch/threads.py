"""torch.set_num_threads / torch.get_num_threads for minitorch's CPU work.

The count bounds Numba's parallel kernels (numba.set_num_threads: for parallel regions this
thread starts), OpenBLAS's threads for large products, and the RNN layers' row ranges. Numba
cannot run more threads than it started with (NUMBA_NUM_THREADS, the core count by default):
a larger count is kept and reported, as PyTorch does, and the kernels use what they have.
"""

from __future__ import annotations

import operator

import numba

from .kernels.cpu import blas, fpenv

__all__ = ["get_num_threads", "set_flush_denormal", "set_num_threads"]

_requested: list[int | None] = [None]  # the count set_num_threads was given, if ever called


def set_num_threads(num: int) -> None:
    """Use at most `num` threads for intra-op parallelism on the CPU."""
    try:
        num = operator.index(num)
    except TypeError:
        raise RuntimeError(
            f"set_num_threads expects an int, but got {type(num).__name__}"
        ) from None
    if num < 1:
        raise RuntimeError("set_num_threads expects a positive integer")
    _requested[0] = num
    numba.set_num_threads(min(num, numba.config.NUMBA_NUM_THREADS))
    blas.limit_threads(num)


def get_num_threads() -> int:
    """The count set by set_num_threads, or the threads minitorch starts with."""
    return _requested[0] or numba.get_num_threads()


def set_flush_denormal(mode: bool) -> bool:
    """Flush denormal floats to zero on the CPU (or stop), as torch.set_flush_denormal.

    Sets the calling thread's flush-to-zero and denormals-are-zero bits (x86 only; returns
    False elsewhere, True when set). As in PyTorch it is a per-thread setting: the serial
    kernels, numpy and MKL calls of this thread follow it; the worker threads of parallel
    kernels keep IEEE denormals.
    """
    if not fpenv.SUPPORTED:
        return False
    bits = fpenv.FLUSH_TO_ZERO | fpenv.DENORMALS_ARE_ZERO
    current = fpenv.mxcsr()
    fpenv.set_mxcsr(current | bits if mode else current & ~bits)
    return True
