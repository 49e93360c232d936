"""Matrix products called from njit code: numpy's own BLAS through its C address.

A kernel that loops over many small products (an RNN's recurrence: one per time step) would
otherwise return to Python for each one. `gemm_function(dtype)` finds `cblas_sgemm` /
`cblas_dgemm` in the BLAS numpy links (looked up from numpy's extension module, so whatever
library numpy loaded: the OpenBLAS of the pip wheels, whose numpy 2 symbols are renamed
`scipy_cblas_?gemm64_` and take 64-bit integers, or another with the plain cblas names) and
returns `(address, int bits)`; kernels take it as an argument and call `gemm(fn, a, b, c)`.
The address is an argument, never a constant in the compiled code, so Numba's on-disk cache
stays valid from process to process.

Where no cblas symbol is found (or the dtype is neither float32 nor float64) `gemm_function`
returns `(0, 0)` and `gemm` runs plain loops: right, but slower (a GRU (32, 100) sequence:
1280 us against 545 with OpenBLAS).
"""

from __future__ import annotations

import ctypes
import functools
import glob
import os

import numpy as np
from llvmlite import ir
from numba import njit, types
from numba.extending import intrinsic

_ROW_MAJOR, NO_TRANS, TRANS = 101, 111, 112  # CBLAS_ORDER, CBLAS_TRANSPOSE values
_PREFIXES = ("scipy_cblas_", "cblas_")  # numpy >= 2 wheels rename OpenBLAS's symbols
_SUFFIXES = (("64_", 64), ("", 32))  # ILP64 builds take 64-bit integers


@functools.cache
def gemm_function(dtype: np.dtype) -> tuple[int, int]:
    """(address of cblas_?gemm in numpy's BLAS, bits of its integers), or (0, 0)."""
    letter = {np.dtype(np.float32): "s", np.dtype(np.float64): "d"}.get(np.dtype(dtype))
    # NOTE: a symbol looked up through a library's handle is searched in the libraries it
    # loaded too, so numpy's extension module leads to its BLAS, whatever its file is named.
    folder = os.path.join(os.path.dirname(np.__file__), os.pardir, "numpy.libs")
    paths = [_numpy_extension(), *glob.glob(os.path.join(folder, "*openblas*"))]
    for path in paths if letter else ():
        try:
            lib = ctypes.CDLL(path)  # already loaded by numpy: this only looks it up
        except OSError:
            continue
        for prefix in _PREFIXES:
            for suffix, bits in _SUFFIXES:
                symbol = getattr(lib, f"{prefix}{letter}gemm{suffix}", None)
                if symbol is not None:
                    return ctypes.cast(symbol, ctypes.c_void_p).value, bits
    return 0, 0


def _numpy_extension() -> str:
    """The file of numpy's compiled core module (numpy._core from numpy 2, numpy.core before)."""
    try:
        from numpy._core import _multiarray_umath  # noqa: PLC0415
    except ImportError:  # numpy 1.x
        from numpy.core import _multiarray_umath  # noqa: PLC0415
    return _multiarray_umath.__file__


def _cblas_gemm(bits: int):
    """An intrinsic: (address, ta, tb, m, n, k, a, lda, b, ldb, c, ldc) -> c = op(a) @ op(b),
    calling the row-major cblas_?gemm at `address` (integers of `bits`; ta, tb: CBLAS_TRANSPOSE
    values, NO_TRANS or TRANS)."""

    @intrinsic
    def call(typingctx, address, ta, tb, m, n, k, a, lda, b, ldb, c, ldc):
        def codegen(context, builder, signature, args):
            address, ta, tb, m, n, k, a, lda, b, ldb, c, ldc = args
            real = context.get_value_type(signature.args[10].dtype)
            integer, enum = ir.IntType(bits), ir.IntType(32)
            ptr = real.as_pointer()
            fnty = ir.FunctionType(
                ir.VoidType(),
                [enum, enum, enum, integer, integer, integer, real, ptr, integer, ptr, integer]
                + [real, ptr, integer],
            )

            def data(i, value):
                return context.make_array(signature.args[i])(context, builder, value).data

            def int_(value):
                return builder.trunc(value, integer) if bits < 64 else value

            order = ir.Constant(enum, _ROW_MAJOR)
            builder.call(
                builder.inttoptr(address, fnty.as_pointer()),
                [order, builder.trunc(ta, enum), builder.trunc(tb, enum)]
                + [int_(m), int_(n), int_(k), ir.Constant(real, 1.0)]
                + [data(6, a), int_(lda), data(8, b), int_(ldb), ir.Constant(real, 0.0)]
                + [data(10, c), int_(ldc)],
            )
            return context.get_dummy_value()

        i64 = types.int64
        return types.void(address, i64, i64, m, n, k, a, i64, b, i64, c, i64), codegen

    return call


_cblas_gemm64 = _cblas_gemm(64)
_cblas_gemm32 = _cblas_gemm(32)


@njit(cache=True, nogil=True)
def gemm(fn, a, b, c):
    """c[...] = a @ b for 2-D arrays of one float dtype; fn = gemm_function(c.dtype). Arrays
    whose rows are contiguous (row slices of C arrays) go to BLAS."""
    address, bits = fn
    m, k = a.shape
    n = b.shape[1]
    if m == 0 or n == 0:
        return
    if k == 0 or bits == 0 or not (readable(a) and readable(b) and readable(c)):
        # no BLAS; or k = 0 (cblas wants leading dimensions >= 1); or strided rows: loops
        c[:, :] = 0
        for i in range(m):
            for p in range(k):
                x = a[i, p]
                for j in range(n):
                    c[i, j] += x * b[p, j]
    else:
        lda, ldb, ldc = leading(a), leading(b), leading(c)
        call(address, bits, NO_TRANS, NO_TRANS, m, n, k, a, lda, b, ldb, c, ldc)


@njit(inline="always")
def call(address, bits, ta, tb, m, n, k, a, lda, b, ldb, c, ldc):
    """c = op(a) @ op(b) by the cblas_?gemm at `address` (integers of `bits`)."""
    if bits == 64:
        _cblas_gemm64(address, ta, tb, m, n, k, a, lda, b, ldb, c, ldc)
    else:
        _cblas_gemm32(address, ta, tb, m, n, k, a, lda, b, ldb, c, ldc)


@intrinsic
def call_int(typingctx, address, value):
    """The C function `int f(int)` at `address`, called with `value` (MKL's
    mkl_set_num_threads_local: a kernel's threads run their own products on one thread)."""

    def codegen(context, builder, signature, args):
        int32 = ir.IntType(32)
        fn = builder.inttoptr(args[0], ir.FunctionType(int32, [int32]).as_pointer())
        return builder.sext(builder.call(fn, [builder.trunc(args[1], int32)]), ir.IntType(64))

    return types.int64(address, value), codegen


def blas_reads(x) -> bool:
    """Whether BLAS reads the 2-D x in place as a row-major matrix: its rows contiguous, and
    rows a whole number of elements apart, at least a row's length (any stride for one row).
    Plain Python, for plans that decide once; njit code calls `readable`, the same function."""
    rows, cols = x.strides
    size = x.itemsize
    contiguous = cols == size or x.shape[1] <= 1
    return contiguous and (x.shape[0] <= 1 or (rows % size == 0 and rows >= x.shape[1] * size))


readable = njit(inline="always")(blas_reads)


@njit(inline="always")
def leading(x):
    """The row stride of x in elements (any stride of a single row: BLAS wants >= columns)."""
    return x.strides[0] // x.itemsize if x.shape[0] > 1 else max(x.shape[1], 1)
