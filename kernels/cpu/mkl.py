"""Matrix products through Intel MKL, where the optional `mkl` package is installed.

NOTE: numpy's pip wheels link OpenBLAS, which on this project's Intel host ran the transformer
layer's twelve 512-row products in 3.7 ms against 2.6 ms for PyTorch (MKL), and a small
64x128 @ 128x128 product in 59 us against 17-25 us (it wakes a sleeping worker per call).
`pip install minitorch[fast]` brings MKL; its products then run here, on MKL's TBB threading
layer, the same thread pool as Numba's parallel kernels (MKL's default OpenMP workers spin
after each product and would hold the cores those kernels need). Without MKL (or on an
operand layout it cannot take) `matmul` returns None and the caller uses numpy.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import functools
import math
import os
import sys

import numba
import numpy as np
from numba import njit

from ..codegen import ProductEpilogue, product_epilogue_source
from . import cblas
from .compiler import load

_LETTER = {np.dtype(np.float32): "s", np.dtype(np.float64): "d"}


@functools.cache
def library():
    """MKL's single dynamic library (libmkl_rt), loaded on TBB threads, or None."""
    if os.environ.get("MINITORCH_NO_MKL"):
        return None
    # TBB only where Numba runs on it (libtbb loaded, kernels/cpu/__init__.py); else MKL's own
    # sequential layer: its OpenMP workers would spin on the cores Numba's threads need
    tbb = numba.config.THREADING_LAYER == "tbb"
    os.environ.setdefault("MKL_THREADING_LAYER", "TBB" if tbb else "SEQUENTIAL")
    names = [os.path.join(sys.prefix, "lib", "libmkl_rt.so.3"), "libmkl_rt.so.3"]
    names.append(ctypes.util.find_library("mkl_rt"))
    for name in filter(None, names):
        try:
            return ctypes.CDLL(name)
        except OSError:
            continue
    return None


@functools.cache
def _address(dtype: np.dtype) -> int:
    """The address of MKL's cblas_?gemm for `dtype` (32-bit integers), or 0."""
    lib, letter = library(), _LETTER.get(np.dtype(dtype))
    if lib is None or letter is None:
        return 0
    return ctypes.cast(getattr(lib, f"cblas_{letter}gemm"), ctypes.c_void_p).value


def set_num_threads(n: int) -> None:
    lib = library()
    if lib is not None:
        lib.MKL_Set_Num_Threads(ctypes.c_int(n))


def matmul(a: np.ndarray, b: np.ndarray, out=None) -> np.ndarray | None:
    """a @ b (2-D, one float dtype, each row- or column-contiguous) by MKL (into `out`, C-ordered,
    where given), or None."""
    address = _operands_address(a, b)
    if not address:
        return None
    c = np.empty((a.shape[0], b.shape[1]), a.dtype) if out is None else out
    return c if _gemm(address, _local_threads(), *_stored(a), *_stored(b), c) else None


def product_plan(a: np.ndarray, b: np.ndarray):
    """`matmul` for operands laid out as a and b, as a function (a, b, out=None) -> a @ b that
    skips the checks (into `out`, a C-ordered array of the product's shape and dtype, where
    given; None: rows not contiguous after all), or None where MKL does not take them.

    A traced step's replay calls it: its operands keep their layouts from replay to replay,
    and the checks and lookups were ~3 us of a ~5 us product of DQN's sizes."""
    address, local, dtype = _operands_address(a, b), _local_threads(), a.dtype
    (ta, stored_a), (tb, stored_b) = _stored(a), _stored(b)
    # NOTE: decided here, not found out on every replay (a broadcast constant's zero-stride
    # rows made _gemm refuse each call, then numpy ran the product)
    if not (address and cblas.blas_reads(stored_a) and cblas.blas_reads(stored_b)):
        return None
    flip_a, flip_b = ta == cblas.TRANS, tb == cblas.TRANS

    def product(a, b, out=None):
        c = np.empty((a.shape[0], b.shape[1]), dtype) if out is None else out
        done = _gemm(address, local, ta, a.T if flip_a else a, tb, b.T if flip_b else b, c)
        return c if done else None

    return product


# Products of fewer elements keep MKL's own threads and a separate epilogue: below this a
# parallel region costs more than it saves (64x128 @ 128x128: 8 us as one MKL call, 13 us
# as two row blocks). So do wide ones (fewer rows than columns): in blocks of rows each
# thread reads all of b (64x784 @ 784x512 with two masks: 169 us against 152).
EPILOGUE_MIN = 1 << 15


def epilogue_plan(a: np.ndarray, b: np.ndarray, expr: str, operands: list):
    """product_plan finished by an elementwise expression: a function (a, b, *arrays, out) ->
    out whose element [i, j] is expr with placeholder {k} read from operands[k]: the product's
    own element where that is None, else a number, an array of the product's shape (m, n) or
    an (n,) array repeated along the rows. `arrays` are the operands but the None, laid out as
    these; `out` is C-ordered (m, n). Batched: a (batch or 1, m, k) @ b (batch or 1, k, n),
    operands of the product's shape (batch, m, n). Returns None where MKL or this kernel does
    not take them.

    One kernel does both: each thread multiplies its own block of rows (batched: its own
    matrices) by MKL and finishes it while it is in its cache. NOTE: a (512, 128) @ (128,
    512) product with a dropout mask and ReLU's gradient as its epilogue, on 2 threads: 267 us
    as MKL's product then a parallel elementwise pass, 178 us this way, the product alone 179
    (/tmp measurement, hot caches)."""
    batched = a.ndim == b.ndim == 3
    shape = product_shape(a, b) if batched or a.ndim == b.ndim == 2 else None
    if shape is None or a.dtype != b.dtype or a.shape[-1] == 0 or not _address(a.dtype):
        return None
    m, n = shape[-2:]
    kinds = tuple(_operand_kind(x, shape) for x in operands)
    if math.prod(shape) < EPILOGUE_MIN or (m < n and not batched):
        return None
    if None in kinds or "out" not in kinds:
        return None
    (ta, stored_a), (tb, stored_b) = _stored(a), _stored(b)
    if not (
        cblas.blas_reads(stored_a[0] if batched else stored_a)
        and cblas.blas_reads(stored_b[0] if batched else stored_b)
    ):
        return None
    flip_a, flip_b = ta == cblas.TRANS, tb == cblas.TRANS
    kernel = _finishing_kernel(ProductEpilogue(expr, kinds, batched))
    address, local, dtype = _address(a.dtype), _local_threads(), a.dtype

    def product(a, b, *arrays, out=None):
        c = np.empty(shape, dtype) if out is None else out
        stored_a, stored_b = _swap_last(a) if flip_a else a, _swap_last(b) if flip_b else b
        threads = numba.get_num_threads()
        done = kernel(address, local, threads, ta, stored_a, tb, stored_b, c, *arrays)
        return c if done else None

    return product


def product_shape(a: np.ndarray, b: np.ndarray) -> tuple | None:
    """The shape of a @ b for two 2-D or two 3-D arrays whose batches are equal or 1."""
    if a.shape[-1] != b.shape[-2]:
        return None
    if a.ndim == 2:
        return a.shape[0], b.shape[1]
    batch = max(a.shape[0], b.shape[0])
    if {a.shape[0], b.shape[0]} - {1, batch}:
        return None
    return batch, a.shape[1], b.shape[2]


def _swap_last(x: np.ndarray) -> np.ndarray:
    return x.swapaxes(-1, -2)


@functools.cache
def _finishing_kernel(spec: ProductEpilogue):
    return load(product_epilogue_source(spec))


def _operand_kind(x, shape: tuple) -> str | None:
    """How the epilogue kernel reads operand x of a product of `shape`
    (codegen.ProductEpilogue), or None where it cannot."""
    if x is None:
        return "out"
    if not isinstance(x, np.ndarray):
        return "scalar"
    return {shape: "full", shape[-1:]: "vector"}.get(x.shape)


@functools.cache
def _local_threads() -> int:
    """The address of MKL's mkl_set_num_threads_local (0 without MKL)."""
    lib = library()
    return 0 if lib is None else ctypes.cast(lib.MKL_Set_Num_Threads_Local, ctypes.c_void_p).value


def _operands_address(a: np.ndarray, b: np.ndarray) -> int:
    """The cblas_?gemm that multiplies 2-D a and b of one float dtype, or 0."""
    return _address(a.dtype) if a.ndim == b.ndim == 2 and a.dtype == b.dtype else 0


def _stored(x: np.ndarray) -> tuple[int, np.ndarray]:
    """(CBLAS_TRANSPOSE, the row-major matrix BLAS reads): a transposed view's own matrix
    (of each matrix of a stack).

    NOTE: so that the kernel sees C-ordered arrays (and row slices) only: passed as they are,
    transposed views gave it 'F' and 'A' layouts, each combination one more compile (CIFAR's
    cold compile 41 Numba compiles against 33 without MKL)."""
    rows, cols = x.strides[-2:]
    if rows == x.itemsize and cols != x.itemsize and x.shape[-2] > 1:
        return cblas.TRANS, _swap_last(x)
    return cblas.NO_TRANS, x


# Products of fewer multiply-adds run on the calling thread alone. NOTE: MKL's own choice
# woke its second thread for them; us per product, default vs one thread (a 256 KiB sum
# between calls): 64x4x128 3.3 vs 2.1, 64x128x2 5.9 vs 3.0, 64x32x128 4.9 vs 4.3, 64x64x128
# 7.1 vs 7.6, 64x128x128 10.8 vs 13.5 (m x k x n).
ONE_THREAD_MACS = 300_000


# NOTE: the call goes through njit code (kernels/cpu/cblas.py's intrinsic) rather than ctypes:
# ctypes took ~9.5 us per call (three `.ctypes.data` lookups, fourteen converted arguments)
# where numpy's own matmul takes ~1 us.
@njit(cache=True, nogil=True)
def _gemm(address, local, ta, a, tb, b, c):
    """c = op(a) @ op(b) by the cblas_?gemm at `address` (op: transposed where ta / tb say);
    False (c untouched) where a stored matrix's rows are not contiguous. `local`: the address
    of mkl_set_num_threads_local, for the small products that run on this thread alone."""
    m, n = c.shape
    k = a.shape[0] if ta == cblas.TRANS else a.shape[1]
    if not (cblas.readable(a) and cblas.readable(b)):
        return False
    if m and n and k == 0:
        c[:, :] = 0
    elif m and n:
        alone = m * n * k < ONE_THREAD_MACS
        saved = cblas.call_int(local, 1) if alone else 0
        cblas.call(address, 32, ta, tb, m, n, k, a, cblas.leading(a), b, cblas.leading(b), c, n)
        if alone:
            cblas.call_int(local, saved)
    return True
