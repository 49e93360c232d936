"""Shared helper for layers' `device=` / `dtype=` factory keyword arguments."""

from __future__ import annotations

from ... import dtypes
from ...backend import to_device
from ...functional import empty
from ...tensor import Tensor


def new_empty(shape, device=None, dtype=None) -> Tensor:
    """An uninitialised tensor for a parameter (float32 unless dtype says otherwise)."""
    to_device(device)
    dt = dtypes.get_default_dtype() if dtype is None else dtypes.to_dtype(dtype)
    return empty(tuple(shape), dtype=dt)
