"""float32 exp over 16M elements: numpy vs numba prange math.exp vs fastmath exp.

Every variant writes into a preallocated output (np.exp(x, out=out)), so no timing includes
allocation or page faults. Median of 7 repeats after one warm-up call. Also reports whether
the fastmath kernel's loop compiled to SIMD (zmm/ymm packed ops, no expf calls), and the
same comparison for log and tanh.

    python benchmarks/fastmath_exp.py
"""

from __future__ import annotations

import math
import re
import time
from collections import Counter

import numba
import numpy as np
from numba import njit, prange

from minitorch.kernels.cpu import fastmath

N = 1 << 24
REPEATS = 7


def _kernel(f):
    """A prange loop calling `f` by name, like a generated elementwise kernel."""

    @njit(parallel=True, nogil=True, error_model="numpy")
    def kernel(out, a):
        for i in prange(a.shape[0]):
            out[i] = f(a[i])

    return kernel


def _median_ms(fn) -> float:
    fn()  # warm-up: compile, fault in pages, start the thread pool
    times = []
    for _ in range(REPEATS):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return 1e3 * float(np.median(times))


def _simd_report(kernel, out, x) -> str:
    """Count packed-vector instructions in the kernel's serial twin (same loop, no threads)."""
    f = kernel.py_func.__closure__[0].cell_contents

    @njit(error_model="numpy")
    def serial(out, a):
        for i in range(a.shape[0]):
            out[i] = f(a[i])

    serial(out[:64], x[:64])
    asm = serial.inspect_asm(serial.signatures[0])
    ops = Counter(m.group(1) for m in re.finditer(r"^\s*(v\w+)\s+.*%(?:zmm|ymm)", asm, re.M))
    libm = [name for name in ("expf", "logf", "tanhf") if name in asm]
    return f"{sum(ops.values())} zmm/ymm ops, libm calls: {libm or 'none'}"


def compare(name: str, np_func, libm, fast, x: np.ndarray) -> None:
    out = np.empty_like(x)
    libm_kernel, fast_kernel = _kernel(libm), _kernel(fast)
    rows = [
        (f"np.{name}(x, out=out)", _median_ms(lambda: np_func(x, out=out))),
        (f"numba prange math.{name}", _median_ms(lambda: libm_kernel(out, x))),
        (f"numba prange fastmath.{name}", _median_ms(lambda: fast_kernel(out, x))),
    ]
    print(f"{name}: {x.size:,} float32 (2**24), out preallocated, median of {REPEATS}")
    for label, ms in rows:
        print(f"  {label:<30} {ms:8.2f} ms   {rows[0][1] / ms:5.2f}x numpy")
    print(f"  fastmath loop: {_simd_report(fast_kernel, out, x)}")


def main() -> None:
    print(
        f"numba {numba.__version__}, threading layer {numba.config.THREADING_LAYER}, "
        f"{numba.config.NUMBA_NUM_THREADS} threads"
    )
    rng = np.random.default_rng(0)
    x = rng.uniform(-20, 20, N).astype(np.float32)
    compare("exp", np.exp, math.exp, fastmath.exp, x)
    compare("log", np.log, math.log, fastmath.log, np.abs(x) + np.float32(1e-3))
    compare("tanh", np.tanh, math.tanh, fastmath.tanh, x)


if __name__ == "__main__":
    main()
