"""gather / scatter / scatter_add along one dim, on arrays viewed as (outer, dim, inner).

The ops (minitorch/ops/movement.py) take this path when the index has the input's sizes in
every dim but the gathered one, which covers the common cases (picking one logit per row,
DQN's chosen actions): a plain loop with the bounds check inside. NOTE: numpy's version
(np.indices grids, a fancy index, np.add.at, and min/max for the bounds) took 12-18 us per
call on a (64, 2) input, a small part of which was work.

A negative index is out of range, as in PyTorch (gather and scatter do not count from the
end as x[i] does; the check costs nothing inside the loop). Loops run in C order, so
scatter_add sums repeated targets in the order np.add.at does and scatter keeps the last
write: the same bits as the numpy path.
"""

from __future__ import annotations

import math

import numpy as np
from numba import njit

_OPTS = {"cache": True, "nogil": True}


@njit(**_OPTS)
def _along(src, index, dst, scatter, accumulate):
    """For each (a, j, b) of index, k = index[a, j, b], along dim
    1 of `src` (gather) or of `dst` (scatter):
    gather: dst[a, j, b] = src[a, k, b]; scatter: dst[a, k, b] = (or +=) src[a, j, b].
    Returns False at the first k out of range.

    NOTE: only dst is written in either mode, so a read-only src (a broadcast view) types.
    """
    n = dst.shape[1] if scatter else src.shape[1]
    for a in range(index.shape[0]):
        for j in range(index.shape[1]):
            for b in range(index.shape[2]):
                k = index[a, j, b]
                if k < 0 or k >= n:
                    return False
                if not scatter:
                    dst[a, j, b] = src[a, k, b]
                elif accumulate:
                    dst[a, k, b] += src[a, j, b]
                else:
                    dst[a, k, b] = src[a, j, b]
    return True


def fits(x: np.ndarray, index: np.ndarray, dim: int) -> bool:
    """Whether this module serves x and index: a numeric x, and an index with x's sizes in
    every dim but `dim`."""
    return (
        x.dtype.kind in "fiu"
        and x.ndim == index.ndim > 0
        and all(a == b for d, (a, b) in enumerate(zip(x.shape, index.shape)) if d != dim)
    )


def _along_shape(shape: tuple, dim: int) -> tuple[int, int, int]:
    return math.prod(shape[:dim]), shape[dim], math.prod(shape[dim + 1 :])


def gather(x: np.ndarray, index: np.ndarray, dim: int) -> np.ndarray | None:
    """x gathered along dim (index.shape), or None if an index is out of range."""
    return gather_plan(x.shape, index.shape, dim)(x, index)


def scatter(x: np.ndarray, index: np.ndarray, src, dim: int, accumulate: bool):
    """A copy of x with src scattered (or added) along dim, or None if an index is out of range.
    src is an array of index's shape or a number."""
    src = np.broadcast_to(np.asarray(src, x.dtype), index.shape)
    return scatter_plan(x.shape, index.shape, dim, accumulate)(x, index, src)


def gather_plan(x_shape: tuple, index_shape: tuple, dim: int):
    """gather(x, index, dim) as a function of arrays of these shapes, the views worked out once
    (a traced step's replay calls it on each replay's arrays)."""
    x3, i3 = _along_shape(x_shape, dim), _along_shape(index_shape, dim)

    def run(x, index):
        out = np.empty(index_shape, x.dtype)
        ok = _along(x.reshape(x3), index.reshape(i3), out.reshape(i3), False, False)
        return out if ok else None

    return run


def scatter_plan(x_shape: tuple, index_shape: tuple, dim: int, accumulate: bool):
    """scatter(x, index, src, dim, accumulate) for a src array of index's shape and x's dtype
    (a view will do: only the copy of x is written), as gather_plan."""
    x3, i3 = _along_shape(x_shape, dim), _along_shape(index_shape, dim)

    def run(x, index, src):
        out = np.array(x, order="C", copy=True)
        ok = _along(src.reshape(i3), index.reshape(i3), out.reshape(x3), True, accumulate)
        return out if ok else None

    return run
