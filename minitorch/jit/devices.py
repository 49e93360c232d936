"""What a trace does differently on each device: which forward runs an op, and how arrays are
copied, written, zeroed and brought to the host.

A node records whether its op ran on cuda (`OpNode.cuda`); everything else in the tracer is
device-independent. On cuda the replay calls the op's CUDA forward (ops/cuda.py's table)
where the CPU replay calls `op.forward`, and fused elementwise kernels come from the CUDA
emitter of the same kernels/codegen expressions. (Replaying the launches as one CUDA graph is
the next step: this replay still launches each kernel from Python.)
"""

from __future__ import annotations

import functools

import numpy as np

from ..backend import cuda as B
from ..ops import elementwise as E


def on_cuda(array) -> bool:
    return not isinstance(array, (np.ndarray, np.generic)) and B.is_device_array(array)


def forward_of(op, cuda: bool):
    """fn(meta, *arrays, **params) running op on its node's device."""
    if not cuda or not hasattr(op, "infer"):  # the tracer's own ops pick their device inside
        return op.forward
    return functools.partial(_cuda_forward, op)


def _cuda_forward(op, meta, *arrays, **params):
    from ..ops import cuda  # noqa: PLC0415  (imports numba.cuda: only once a step uses it)

    return cuda.forward(op, meta, list(arrays), params)


def kit(cuda: bool):
    """The array kit (empty, elementwise) of elementwise forwards on the device."""
    if not cuda:
        return E.CPU
    from ..ops.cuda import Kit  # noqa: PLC0415

    return Kit


def copy(array):
    """A new buffer holding array's values, on array's device."""
    return B.copy(array) if on_cuda(array) else np.array(array, copy=True)


def write(dst, src) -> None:
    """dst[...] = src, cast to dst's dtype (np.copyto with casting='unsafe')."""
    if on_cuda(dst):
        B.write(dst, src)
    else:
        np.copyto(dst, src, casting="unsafe")


def host(array) -> np.ndarray:
    """array's values as a host numpy array (a copy when it lives on a device)."""
    return B.to_host(array) if on_cuda(array) else np.array(array, copy=True)


def zeros(shape: tuple, np_dtype, cuda: bool):
    return B.full(shape, 0, np_dtype) if cuda else np.zeros(shape, np_dtype)
