"""Index helpers on the device for advanced indexing (minitorch/ops/cuda.py): the positions of
a bool mask's True elements, from a running count of them.
"""

from __future__ import annotations

from numba import cuda

from . import BLOCK, grid


@cuda.jit
def _compact(out, flags, running):
    """for p (one thread each): out[running[p] - 1] = p where flags[p] (its rank among them)"""
    for p in range(cuda.grid(1), flags.size, cuda.gridsize(1)):
        if flags[p]:
            out[running[p] - 1] = p


def compact(out, flags, running) -> None:
    """out (int64, one entry per set flag) = the positions p with flags[p] != 0, in order;
    running = the inclusive running sum of flags (all 1-D)."""
    if out.size:
        _compact[grid(flags.size), BLOCK](out, flags, running)
