"""The CUDA runtime: device arrays, copies between host and device, views, the allocator.

numba.cuda is imported on first use (`_nb()`), never at `import minitorch`. Two targets sit
behind the same functions:
- a real GPU: numba DeviceNDArrays, allocated through the caching allocator's EMM plugin;
- numba's CUDA simulator (NUMBA_ENABLE_CUDASIM=1, set before numba is imported): its
  FakeCUDAArray wraps a host numpy array, which we draw from the same BucketPool so memory
  statistics and empty_cache work and are tested without a GPU.

Device arrays made here carry `_owner`, the allocation's handle: every view keeps it alive,
and the block goes back to its bucket when the last one dies.
"""

from __future__ import annotations

import math
import os

import numpy as np

from .allocator import BucketPool, attach_release, make_emm_plugin

_NO_CUDA = (
    "cuda: no CUDA device found{what}; use device='cpu', or set NUMBA_ENABLE_CUDASIM=1 "
    "(before importing minitorch) to run the CUDA kernels on numba's simulator. The CUDA "
    "backend needs numba-cuda: pip install 'minitorch[cuda]'."
)

_nb_cuda = None  # the numba.cuda module, once loaded
_pool: BucketPool | None = None
SIM = False


def _nb():
    """numba.cuda, imported and set up on first use (None without numba-cuda)."""
    global _nb_cuda, _pool, SIM
    if _nb_cuda is None:
        try:
            from numba import cuda  # noqa: PLC0415
        except ImportError:
            return None
        from numba.core import config  # noqa: PLC0415

        SIM = bool(config.ENABLE_CUDASIM)
        if SIM:
            _pool = BucketPool(lambda size: np.empty(size, np.uint8), lambda block: None)
        elif os.environ.get("MINITORCH_CUDA_ALLOCATOR", "caching") == "caching":
            cuda.set_memory_manager(make_emm_plugin(_make_gpu_pool))
        _nb_cuda = cuda
    return _nb_cuda


def _make_gpu_pool(alloc, free) -> BucketPool:
    global _pool
    _pool = BucketPool(alloc, free)
    return _pool


def is_available() -> bool:
    """True with numba-cuda and either a usable GPU or the simulator switched on."""
    cuda = _nb()
    if cuda is None:
        return False
    try:
        return bool(cuda.is_available())
    except Exception:  # noqa: BLE001  (a broken driver install counts as no GPU)
        return False


def require(what: str = "") -> None:
    """Raise the clear 'no CUDA' RuntimeError unless a device (or the simulator) is usable."""
    if not is_available():
        raise RuntimeError(_NO_CUDA.format(what=f" for device={what!r}" if what else ""))


def pool() -> BucketPool | None:
    """The caching allocator's pool (None until the first allocation on a real GPU)."""
    _nb()
    return _pool


# ---- arrays ----------------------------------------------------------------------------------
def is_device_array(a) -> bool:
    return not isinstance(a, (np.ndarray, np.generic)) and hasattr(a, "__cuda_ndarray__")


def empty(shape: tuple, dtype) -> object:
    """An uninitialized C-contiguous device array."""
    cuda = _nb()
    dtype = np.dtype(dtype)
    shape = tuple(int(n) for n in shape)
    if not SIM:
        return cuda.device_array(shape, dtype)
    nbytes = math.prod(shape) * dtype.itemsize
    size, block = _pool.acquire(nbytes)
    out = _fake(block[:nbytes].view(dtype).reshape(shape), _Owner())
    attach_release(out._owner, _pool, size, block)
    return out


class _Owner:
    """Keeps a simulator allocation in use while any array made from it is alive."""

    __slots__ = ("__weakref__",)


def _fake(array: np.ndarray, owner):
    from numba.cuda.simulator.cudadrv.devicearray import FakeCUDAArray  # noqa: PLC0415

    out = FakeCUDAArray(array)
    out._owner = owner
    return out


def from_host(array) -> object:
    """A device copy of a host array (C-contiguous)."""
    array = np.asarray(array)
    out = empty(array.shape, array.dtype)
    if SIM:
        np.copyto(out._ary, array)
    else:
        out.copy_to_device(np.ascontiguousarray(array))
    return out


def to_host(a) -> np.ndarray:
    """A host copy of a device array (C-contiguous); waits for the kernels writing it."""
    if SIM:
        return np.array(a._ary, order="C", copy=True)
    if not is_contiguous(a):
        a = copy(a)
    return a.copy_to_host()


def view(a, fn) -> object:
    """A device array sharing a's memory, with the geometry that numpy view function fn
    (reshape without copy, transpose, broadcast_to, basic indexing) gives a host array.

    Raises ValueError when fn would have to copy (callers make a contiguous copy first)."""
    shape, strides, offset = view_geometry(a.shape, a.strides, a.dtype, fn)
    if SIM:
        out = fn(a._ary)
        # the simulator shadow-checks the geometry a real GPU builds its views from
        start = out.__array_interface__["data"][0] - a._ary.__array_interface__["data"][0]
        assert (out.shape, out.strides) == (shape, strides) and (start == offset or not out.size)
        return _fake(out, a._owner)
    from numba.cuda.cudadrv.devicearray import DeviceNDArray  # noqa: PLC0415

    data = a.gpu_data.view(offset) if offset else a.gpu_data
    return DeviceNDArray(shape, strides, a.dtype, gpu_data=data)


def view_geometry(shape: tuple, strides: tuple, dtype, fn) -> tuple:
    """(shape, strides, byte offset) of fn(x) for an array x with this shape and these byte
    strides: fn runs on a host stand-in of the same geometry, whose memory nobody reads.

    Raises ValueError when fn's result does not share x's memory (fn copied)."""
    dtype = np.dtype(dtype)
    shape, strides = tuple(int(n) for n in shape), tuple(int(s) for s in strides)
    extent = sum((n - 1) * s for n, s in zip(shape, strides)) if 0 not in shape else 0
    # NOTE: np.empty maps pages lazily: a stand-in for a large tensor costs no host memory
    base = np.empty(extent // dtype.itemsize + 1, dtype)
    out = fn(np.lib.stride_tricks.as_strided(base, shape, strides))
    if out.size and not np.may_share_memory(out, base):
        raise ValueError("not a view")
    offset = out.__array_interface__["data"][0] - base.__array_interface__["data"][0]
    return tuple(out.shape), tuple(out.strides), offset if out.size else 0


def full(shape: tuple, value, dtype) -> object:
    """A device array filled with value (a fill kernel: nothing crosses from the host)."""
    from ..kernels import cuda as kernels  # noqa: PLC0415

    out = empty(shape, dtype)
    kernels.elementwise(("{0}",), [out], [np.dtype(dtype).type(value)])
    return out


def copy(a) -> object:
    """A C-contiguous device copy of device array a (a copy kernel: any strides)."""
    from ..kernels import cuda as kernels  # noqa: PLC0415

    out = empty(a.shape, a.dtype)
    kernels.copy(out, a)
    return out


def write(dst, src) -> None:
    """dst[...] = src in place (src: a device array, a host array or a number; broadcast and
    cast to dst's dtype, as np.copyto with casting='unsafe')."""
    from ..kernels import cuda as kernels  # noqa: PLC0415

    if isinstance(src, np.ndarray):
        src = from_host(src) if src.ndim else src.astype(dst.dtype)[()]
    if 0 in dst.strides and dst.size > 1:
        raise RuntimeError(
            "unsupported operation: more than one element of the written-to tensor refers to "
            "a single memory location (an expanded tensor). Please clone() the tensor before "
            "performing the operation."
        )
    if is_device_array(src):
        kernels.copy(dst, src)
    else:
        kernels.elementwise(("{0}",), [dst], [dst.dtype.type(src)])


def is_contiguous(a) -> bool:
    return a.is_c_contiguous() or a.size == 0


def shares_memory(a, b) -> bool:
    """Whether two device arrays may overlap (same allocation)."""
    if SIM:
        return np.may_share_memory(a._ary, b._ary)
    return a.gpu_data.owner is b.gpu_data.owner


# ---- minitorch.cuda's runtime calls ---------------------------------------------------------
def synchronize() -> None:
    _nb().synchronize()


def device_count() -> int:
    if not is_available():
        return 0
    return 1 if SIM else len(_nb().gpus)


def memory_allocated() -> int:
    p = pool()
    return 0 if p is None else p.allocated


def max_memory_allocated() -> int:
    p = pool()
    return 0 if p is None else p.peak


def memory_reserved() -> int:
    p = pool()
    return 0 if p is None else p.reserved


def reset_peak_memory_stats() -> None:
    p = pool()
    if p is not None:
        p.reset_peak()


def empty_cache() -> None:
    p = pool()
    if p is not None:
        p.empty_cache()
