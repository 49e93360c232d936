"""Make numpy's OpenBLAS threads sleep right after a matrix product instead of spinning.

Imported first by minitorch/__init__.py, before anything imports numpy: OpenBLAS reads
OPENBLAS_THREAD_TIMEOUT once, when numpy loads it, so the setting takes effect only when
minitorch is imported before numpy (or when the variable is set in the environment).

NOTE: by default an OpenBLAS worker spins for 2**28 cycles after each product, holding a core
that Numba's parallel kernel right after it needs: on this project's 2-core VM, six alternating
runs of the traced cifar_cnn step measured 13.2-16.7 ms with the default and 9.0-9.7 ms with
a timeout of 2**4 cycles (mlp 2.2-5.4 vs 2.2-2.5 ms). A value already in the environment wins.
"""

from __future__ import annotations

import os

IDLE_SPIN_LOG2_CYCLES = "4"  # OpenBLAS's minimum

os.environ.setdefault("OPENBLAS_THREAD_TIMEOUT", IDLE_SPIN_LOG2_CYCLES)
