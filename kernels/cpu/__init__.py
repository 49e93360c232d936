"""CPU kernels: generated elementwise/reduction kernels plus hand-written ones.

Kernels take numpy arrays (any strides; broadcast inputs as size-1 dims) and preallocated
outputs. They know nothing of Tensor or autograd.
"""

from __future__ import annotations

import functools
import math
import os
import re
import sys
import warnings

import numba
import numpy as np
from numba.core.errors import NumbaIRAssumptionWarning

from ..codegen import COLS_BLOCK, Elementwise, Reduction, elementwise_source, reduction_source
from .compiler import load


def _select_threading_layer() -> None:
    """TBB when the `tbb` package is installed, else OpenMP with passive waiting.

    NOTE: the default workqueue layer aborts the process on nested or concurrent parallel
    calls (DataLoader threads, notebooks); TBB and OpenMP do not. libgomp's threads spin after
    each parallel region and starve BLAS's threads on a small machine: an MLP training step
    measured 29 ms with spinning OpenMP, 5.1 ms with OMP_WAIT_POLICY=passive, 4.4 ms with TBB.
    """
    if "NUMBA_THREADING_LAYER" in os.environ:
        return
    try:
        _preload_pip_tbb()
        from numba.np.ufunc import tbbpool  # noqa: F401  (loads only if libtbb is installed)
    except ImportError:
        numba.config.THREADING_LAYER = "omp"
        os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
    else:
        numba.config.THREADING_LAYER = "tbb"


def _preload_pip_tbb() -> None:
    """Load libtbb from `pip install tbb`, which puts it in <sys.prefix>/lib.

    NOTE: that folder is not on the loader path of a pyenv or venv Python, so numba's tbbpool
    fails with "libtbb.so.12: cannot open shared object file" although tbb is installed.
    """
    import ctypes  # noqa: PLC0415

    path = os.path.join(sys.prefix, "lib", "libtbb.so.12")
    if os.path.isfile(path):
        try:
            ctypes.CDLL(path, mode=ctypes.RTLD_GLOBAL)
        except OSError:
            pass


def _keep_freed_memory() -> None:
    """Make glibc's malloc keep freed buffers for reuse instead of handing them back to the OS.

    NOTE: by default glibc maps big arrays afresh (mmap) and trims freed heap memory, so a
    training step's temporaries land on new pages each time and every page faults on first
    touch; on this project's 2-core VM a fault measured ~13 us (a LeNet step spent 4.8 ms of
    9 faulting in one 1.5 MB gradient). Raising the mmap threshold to its maximum (32 MiB) and
    the trim threshold to 1 GiB keeps them in the heap: LeNet's eager step 17.5 -> 8.2 ms,
    traced 12.4 -> 7.5 ms. The cost: the process keeps up to 1 GiB of freed memory. Set
    MINITORCH_MALLOC_TUNING=0 to keep glibc's defaults (other platforms are left alone).
    """
    if os.environ.get("MINITORCH_MALLOC_TUNING", "1") == "0" or not sys.platform.startswith(
        "linux"
    ):
        return
    import ctypes  # noqa: PLC0415

    try:
        libc = ctypes.CDLL("libc.so.6")
    except OSError:  # not glibc (musl, ...)
        return
    m_trim_threshold, m_mmap_threshold = -1, -3  # from glibc's malloc.h
    libc.mallopt(m_mmap_threshold, 32 * 2**20)
    libc.mallopt(m_trim_threshold, 2**30)


_select_threading_layer()
_keep_freed_memory()
# NOTE: Numba's pedantic SSA check warns about the select-based fastmath overloads; the
# compiled code is verified exactly by tests/test_fastmath.py.
warnings.filterwarnings("ignore", category=NumbaIRAssumptionWarning)

# Below this many elements a parallel region costs more than the work (measured on 2 cores:
# prange pays off from ~32K float32 elements; see benchmarks/ops.py).
PARALLEL_MIN = 32768
# From this many elements up to PARALLEL_MIN * 8, a kernel variant (serial or prange) already
# compiled serves instead of compiling the other one (see _variant).
EITHER_VARIANT_MIN = PARALLEL_MIN // 8
# Arithmetic alone (adds, products, compares, selects, casts) is a memory pass: a prange
# region's start-up costs more than it saves up to ~64K elements. Float32, 2 cores, us, serial
# vs prange, one process: a * b 5.0 vs 13.5 at 32768, 9.7 vs 15.7 at 65536, 17.5 vs 17.4 at
# 114688, 32 vs 24 at 131072; a * b + c 11.4 vs 15.2 at 65536, 24.7 vs 20.0 at 98304; while
# tanh(a) * b gains from 32768 (38 vs 32). A prange kernel also takes ~0.4 s more to compile
# than its serial twin: the transformer workload had fourteen of them at 65536 elements.
ARITHMETIC_PARALLEL_MIN = 2 * PARALLEL_MIN + 1
# calls that cost no more than arithmetic (the rest, exp, tanh, division helpers..., do)
_CHEAP_CALLS = frozenset(
    "abs and not or maximum minimum relu sign np.sign np.float32 np.float64 np.ceil np.floor "
    "np.trunc round_half_even".split()
)
THREADS = numba.config.NUMBA_NUM_THREADS

_elementwise: dict = {}


def scratch(work: dict | None, name: str, shape: tuple, dtype) -> np.ndarray:
    """An uninitialised array for a kernel's own use: work[name] where `work` (a dict that a
    traced step's plan keeps: ops/registry.py keeping_workspace) holds one of this shape and
    dtype, else a new one, kept there for the next call when work is given."""
    array = None if work is None else work.get(name)
    if array is None or array.shape != tuple(shape) or array.dtype != dtype:
        array = np.empty(shape, dtype)
        if work is not None:
            work[name] = array
    return array


def contiguous(x: np.ndarray, work: dict | None, name: str) -> np.ndarray:
    """x as a C-contiguous array: itself, or a copy (into work's scratch array `name`)."""
    if x.flags.c_contiguous:
        return x
    copy = scratch(work, name, x.shape, x.dtype)
    np.copyto(copy, x)
    return copy


_reduction: dict = {}


def elementwise(exprs: tuple[str, ...], outs: list[np.ndarray], inputs: list) -> None:
    """outs[k][...] = exprs[k](*inputs), broadcasting inputs to outs[0].shape.

    inputs are arrays or plain numbers (numpy scalars of the compute dtype).
    """
    if outs[0].size:
        elementwise_for(exprs, outs[0], inputs)(*outs, *inputs)


def compile_for(kernel, *args) -> None:
    """Compile kernel for these arguments' types now (or load it from the disk cache), not at
    its first call: a replay's plan makes kernels its first replay never ran."""
    kernel.compile(tuple(numba.typeof(a) for a in args))


def elementwise_for(exprs: tuple[str, ...], out: np.ndarray, inputs: list):
    """The compiled kernel elementwise() runs for these operands: kernel(*outs, *inputs).

    A traced step's replay asks once and then calls the kernel itself (its operands keep their
    shapes and layouts from one replay to the next), skipping this choice on every call.
    """
    # NOTE: a plain loop, not generator expressions: this runs once per op, eager or replayed,
    # and its Python cost is most of a small op's time.
    shape, flat, scalars, inplace = out.shape, out.flags.c_contiguous, [], ()
    for i, x in enumerate(inputs):
        is_array = isinstance(x, np.ndarray)
        scalars.append(not is_array)
        if flat and is_array and (x.shape != shape or not x.flags.c_contiguous):
            flat = False
        if x is out:
            inplace += (i,)
    vectors = () if flat else _row_vectors(out, inputs)
    ndim = None if flat or vectors else out.ndim
    return elementwise_sized(exprs, tuple(scalars), ndim, out.size, inplace, vectors)


def _row_vectors(out: np.ndarray, inputs: list) -> tuple[int, ...]:
    """The inputs repeated along out's leading dims (a bias), where the rows layout
    (codegen.Elementwise.vectors) takes all of them: out and every other array C-contiguous
    and of out's shape, the repeated ones C-contiguous and all covering out's same last dims.
    Else ()."""
    if not (out.flags.c_contiguous and out.size):
        return ()
    vectors, shape, cover = (), out.shape, None
    for i, x in enumerate(inputs):
        if not isinstance(x, np.ndarray):
            continue
        if not x.flags.c_contiguous:
            return ()
        if x.shape == shape:
            continue
        tail = x.shape[next((d for d, n in enumerate(x.shape) if n != 1), x.ndim) :]
        if not tail or tail != shape[len(shape) - len(tail) :] or cover not in (None, tail):
            return ()
        vectors, cover = vectors + (i,), tail
    return vectors


def elementwise_sized(
    exprs: tuple[str, ...], scalars: tuple[bool, ...], ndim, size: int, inplace=(), vectors=()
):
    """The kernel of an Elementwise spec for `size` elements (serial or prange: see _variant);
    `inplace`: the inputs that are the (first) output array itself; `vectors`: the inputs
    repeated along the output's rows (codegen.Elementwise)."""
    return _variant(
        _elementwise,
        (exprs, scalars, ndim, inplace, vectors),
        size,
        lambda key: elementwise_kernel(exprs, scalars, ndim, key[-1], inplace, vectors),
        _parallel_min(exprs),
    )


@functools.cache
def _parallel_min(exprs: tuple[str, ...]) -> int:
    """The size from which the exprs' kernel runs in a prange (arithmetic alone: later)."""
    calls = {name for e in exprs for name in re.findall(r"([A-Za-z_][\w.]*)\s*\(", e)}
    powers = any("**" in e for e in exprs)  # a call of pow, like exp's cost
    return ARITHMETIC_PARALLEL_MIN if calls <= _CHEAP_CALLS and not powers else PARALLEL_MIN


def _variant(table: dict, spec: tuple, size: int, build, parallel_min: int = PARALLEL_MIN):
    """The kernel of `spec` for `size` elements: its prange variant from parallel_min on,
    else its serial one. Near that threshold a variant already compiled serves instead (it
    computes the same values): a short last batch of an epoch then compiles nothing new."""
    parallel = size >= parallel_min
    kernel = table.get((*spec, parallel))
    if kernel is None and parallel_min // 8 <= size < parallel_min * 8:
        kernel = table.get((*spec, not parallel))
    return kernel if kernel is not None else build((*spec, parallel))


def elementwise_kernel(
    exprs: tuple[str, ...],
    scalars: tuple[bool, ...],
    ndim,
    parallel: bool,
    inplace=(),
    vectors=(),
):
    """The compiled kernel for an Elementwise spec (ndim None = flat contiguous path)."""
    key = (exprs, scalars, ndim, inplace, vectors, parallel)
    kernel = _elementwise.get(key)
    if kernel is None:
        spec = Elementwise(exprs, scalars, ndim, parallel, inplace, vectors)
        kernel = _elementwise[key] = load(elementwise_source(spec))
    return kernel


def reduce(
    x: np.ndarray, start: int, stop: int, combine: str, init, reassociate: bool, out_dtype
) -> np.ndarray:
    """Fold dims [start, stop) of x with `combine` from `init` (the fold's identity)."""
    return reduce_plan(x.shape, start, stop, combine, init, reassociate, out_dtype)(x)


def reduce_plan(
    shape: tuple, start: int, stop: int, combine: str, init, reassociate, out_dtype, expr="{0}"
):
    """reduce(x, ...) as a function of any x of `shape`: kernels and sizes chosen once (a traced
    step's replay keeps the function and calls it on each replay's array). With an `expr` over
    several inputs ({0}, {1}...), a function of that many arrays of `shape` that folds
    expr(*elements) (a fused elementwise prologue). It writes into `out=` where given (a
    C-ordered array of the result's shape and dtype)."""
    n_inputs = 1 if expr == "{0}" else 1 + max(map(int, re.findall(r"\{(\d+)\}", expr)))
    outer = math.prod(shape[:start])
    red = math.prod(shape[start:stop])
    inner = math.prod(shape[stop:])
    out_shape = shape[:start] + shape[stop:]
    init = np.dtype(out_dtype).type(init)
    # long float folds combine their blocks in float64 (see codegen.reduction_source)
    wide = np.float64(init) if np.dtype(out_dtype).kind == "f" else init
    no_work = _no_work(type(wide))
    if red == 0 or outer * inner == 0:
        return lambda *xs, out=None: np.full(out_shape, init, dtype=out_dtype)
    if inner == 1:
        chunks = 4 * THREADS if outer < 2 * THREADS and red >= PARALLEL_MIN else 1
        size = outer * red if outer * chunks > 1 else 0  # one task: no parallel region
        fold = _reduction_kernel(combine, reassociate, True, size, expr, n_inputs)
        combine_parts = _reduction_kernel(combine, reassociate, True, 0) if chunks > 1 else None

        def fold_rows(*xs, out=None):
            into = np.empty((outer, 1), out_dtype) if out is None else out.reshape(outer, 1)
            parts = into if combine_parts is None else np.empty((outer, chunks), out_dtype)
            fold(parts, chunks, init, wide, no_work, *[x.reshape(outer, red) for x in xs])
            if combine_parts is not None:  # combine per-thread partial folds
                combine_parts(into, 1, init, wide, no_work, parts)
            return into.reshape(out_shape)

        return fold_rows
    chunks = min(4 * THREADS, inner // 256) if outer < 2 * THREADS and inner >= 1024 else 1
    size = math.prod(shape) if outer * chunks > 1 else 0  # one task: no parallel region
    fold = _reduction_kernel(combine, reassociate, False, size, expr, n_inputs)
    # the blocks' float64 partial sums: kept with the plan (a replay allocates nothing)
    work = np.empty((outer, inner), type(wide)) if red > COLS_BLOCK else no_work

    def fold_columns(*xs, out=None):
        into = np.empty((outer, inner), out_dtype) if out is None else out.reshape(outer, inner)
        fold(into, chunks, init, wide, work, *[x.reshape(outer, red, inner) for x in xs])
        return into.reshape(out_shape)

    return fold_columns


@functools.cache
def _no_work(dtype) -> np.ndarray:
    """The 0 x 0 `work` array of a fold that needs none (see codegen.reduction_source)."""
    return np.empty((0, 0), dtype)


def _reduction_kernel(combine, reassociate, rows: bool, size: int, expr="{0}", n_inputs=1):
    spec = (reassociate, expr, combine, n_inputs, rows)
    return _variant(_reduction, spec, size, _load_reduction)


def _load_reduction(key: tuple):
    reassociate, *spec, parallel = key
    kernel = _reduction[key] = load(reduction_source(Reduction(*spec, parallel, reassociate)))
    return kernel
