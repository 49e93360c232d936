"""CUDA forwards of the registry's ops: one table, `FORWARD[op name] -> fn(op, meta, *arrays,
**params)`, read by `registry.apply` when the inputs live on a cuda device.

An op's meta rule (infer) and backward rule are shared by both devices: only the kernel call
differs, so autograd and the error messages are the same on cuda. Elementwise ops reuse their
CPU forward logic through `Elementwise.run` with the CUDA array kit below; view ops reuse
their numpy view logic through `backend.cuda.view`. An op with no entry raises
NotImplementedError: nothing is silently copied to the host.

This module imports numba.cuda (through kernels/cuda): registry.apply imports it on the first
op on a cuda tensor.
"""

from __future__ import annotations

import math

import numpy as np

from ..backend import Device, cuda_device
from ..backend import cuda as B
from ..kernels import cuda as K
from ..kernels.cuda import conv as K_conv
from ..kernels.cuda import index as K_index
from ..kernels.cuda import matmul as K_matmul
from ..kernels.cuda import nn as K_nn
from ..kernels.cuda import norm as K_norm
from ..kernels.cuda import optim as K_optim
from ..kernels.cuda import pool as K_pool
from ..kernels.cuda import random as K_random
from ..kernels.cuda import rnn as K_rnn
from . import conv as C
from . import elementwise as E
from . import linalg as L
from . import movement as M
from . import reduce as R
from .random import FLOAT_KINDS, _filler
from .registry import REGISTRY, Meta, Op, register
from .rnn import _order as _rnn_order

FORWARD: dict = {}


def forward(op: Op, meta, arrays: list, params: dict):
    """Run op's CUDA forward; NotImplementedError naming the op when it has none yet."""
    fn = FORWARD.get(op.name)
    if fn is None:
        raise NotImplementedError(
            f"{op.name}: no CUDA kernel for this op yet (inputs on {cuda_device}). Run it on the "
            "CPU: move the inputs with .cpu(), and the result back with .cuda()."
        )
    return fn(op, meta, *arrays, **params)


def cuda_forward(*names: str):
    """Decorator: register fn as the CUDA forward of the named ops."""

    def add(fn):
        for name in names:
            FORWARD[name] = fn
        return fn

    return add


# ---- elementwise: the ops' own forward logic with device arrays -----------------------------
class Kit:
    """The array kit Elementwise.run calls (elementwise.CPU is the host one)."""

    empty = staticmethod(B.empty)

    @staticmethod
    def elementwise(exprs, outs, inputs):
        # NOTE: a 0-d CPU tensor mixed in (allowed, as PyTorch) enters as its number
        inputs = [x[()] if isinstance(x, np.ndarray) else x for x in inputs]
        K.elementwise(exprs, outs, inputs)

    @staticmethod
    def astype(a, np_dtype):
        out = B.empty(a.shape, np_dtype)
        K.copy(out, a)
        return out


def _elementwise(op, meta, *arrays, **params):
    return op.run(Kit, meta, arrays, **params)


for _op in list(REGISTRY.values()):
    if isinstance(_op, E.Elementwise):
        FORWARD[_op.name] = _elementwise
FORWARD[E.cast.name] = _elementwise


# ---- movement: views share device memory; copies run a kernel ------------------------------
@cuda_forward("view", "permute", "expand")
def _view(op, meta, a, **params):
    return B.view(a, lambda host: op.forward(meta, host, **params))


@cuda_forward("reshape")
def _reshape(op, meta, a, *, shape):
    if B.is_contiguous(a):
        return B.view(a, lambda host: host.reshape(meta.shape))
    try:
        return B.view(a, lambda host: np.reshape(host, meta.shape, copy=False))
    except ValueError:  # the strides do not allow a view: copy, as PyTorch's reshape does
        return B.view(B.copy(a), lambda host: host.reshape(meta.shape))


@cuda_forward("getitem")
def _getitem(op, meta, a, *, index):
    out = _basic_view(a, index)
    if out is not None:
        return out
    a, index = _split_index(a, _masks_as_indices(index))
    found = _index_arrays(tuple(a.shape), index)
    if found is None:
        raise NotImplementedError(_NO_INDEX_KERNEL.format(op="getitem", eg="x[i, 0.5]"))
    d, k, picked = found
    linear = _linear_index(picked, tuple(a.shape[d : d + k]), meta.shape[d])
    return _take(_merge_dims(a, d, k), d, linear)


_NO_INDEX_KERNEL = (
    "{op}: a cuda tensor has CUDA kernels for integer index tensors and bool masks (beside "
    "ints, slices and None), e.g. x[i], x[:, i, j], x[0, 1:, i], x[i, :, j], x[mask], "
    "x[mask, i]; not for forms such as {eg}. Run those on the CPU with .cpu()"
)


def _masks_as_indices(index):
    """index with each bool mask beside other index arrays replaced by its nonzero() index
    arrays, one per mask dim, which then broadcast with the others (PyTorch's rule). A lone
    mask stays: the take kernel reads its flat positions, counted by the op's meta. (0-d
    masks add a dim, as None does: left to the shape rule.)"""
    items = index if isinstance(index, tuple) else (index,)
    arrays = [i for i in items if K.is_array(i) or isinstance(i, np.ndarray)]
    masks = [i for i in arrays if i.dtype == np.bool_ and i.ndim > 0]
    if not masks or len(arrays) < 2:
        return index
    out = []
    for item in items:
        out += _nonzero(item) if any(item is m for m in masks) else [item]
    return tuple(out)


def _nonzero(mask) -> list:
    """mask.nonzero(as_tuple=True) on the device: int64 index arrays, one per dim, of the True
    elements in C order (their flat positions, unravelled). Reads the count on the host once:
    it sizes the arrays (a sync, as PyTorch's nonzero)."""
    mask = B.from_host(mask) if isinstance(mask, np.ndarray) else mask
    positions = _mask_positions(mask, None)
    if mask.ndim == 1:
        return [positions]
    indices, stride = [], mask.size
    for n in mask.shape:
        stride //= max(n, 1)
        index = B.empty(positions.shape, np.int64)
        step, size = np.int64(max(stride, 1)), np.int64(max(n, 1))
        K.elementwise(("(({0} // {1}) % {2})",), [index], [positions, step, size])
        indices.append(index)
    return indices


def _split_index(a, index):
    """(a[ints, slices, None], the rest of index): the basic items applied first, as a view, as
    PyTorch (and ops/movement.py) apply ints beside index tensors; the rest holds the index
    tensors with full slices around them."""
    basic, advanced = M.torch_order(index, always=True)
    view = None if advanced is None else _basic_view(a, basic)
    if view is None:  # no index arrays, or 0-d ones (not basic)
        return a, index
    return _arrays_to_front(view, advanced)


def _arrays_to_front(a, index):
    """(a with the dims of integer index arrays moved to the front, those arrays) when they sit
    on dims apart among full slices: x[i, :, j] selects as x.permute(0, 2, 1)[i, j], the
    broadcast index dims first, as numpy and PyTorch order them. Else (a, index) as given."""
    items, is_array = _expanded(index, a.ndim)
    arrays = [k for k, array in enumerate(is_array) if array]
    if not arrays or arrays == list(range(arrays[0], arrays[-1] + 1)):
        return a, index
    order = arrays + [d for d in range(a.ndim) if d not in arrays]
    return B.view(a, lambda h: h.transpose(order)), tuple(items[k] for k in arrays)


@cuda_forward("scatter", "scatter_add")
def _scatter(op, meta, a, index, src, *, dim):
    """One scatter kernel into the part of the output that index covers off dim (infer
    checked index is no larger than a there, and than src): a view, through a contiguous copy
    when index is smaller than a (copied back after)."""
    if a.ndim == 0:  # as a 1-element 1-D tensor
        flat = _scatter(op, meta, _as_1d(a), _as_1d(index), _as_1d(src), dim=0)
        return B.view(flat, lambda h: h.reshape(()))
    out = B.copy(a)
    d = dim % a.ndim
    shape = tuple(index.shape)
    covered = B.view(out, lambda h: h[_cut(shape, d)])
    work = covered if B.is_contiguous(covered) else B.copy(covered)
    outer, inner = math.prod(shape[:d]), math.prod(shape[d + 1 :])
    src_full = B.empty(shape, a.dtype)
    if K.is_array(src):  # src may be larger than index: its leading part is read
        K.copy(src_full, B.view(src, lambda h: h[tuple(slice(0, n) for n in shape)]))
    else:
        K.elementwise(("{0}",), [src_full], [a.dtype.type(src)])
    K.scatter(
        B.view(work, lambda h: h.reshape(outer, a.shape[d], inner)),
        _contiguous_as(index, (outer, shape[d], inner), np.int64),
        B.view(src_full, lambda h: h.reshape(outer, shape[d], inner)),
        op.name == "scatter_add",
    )
    if work is not covered:
        K.copy(covered, work)
    return out


def _as_1d(a):
    """A device array viewed as 1-D (a number as it is)."""
    return B.view(a, lambda h: h.reshape(a.size)) if K.is_array(a) else a


def _cut(shape: tuple, d: int) -> tuple:
    """The basic index of the leading part of an array that an index of this shape covers:
    all of dim d, the first shape[k] elements of each other dim k (gather and scatter)."""
    return tuple(slice(None) if k == d else slice(n) for k, n in enumerate(shape))


def _basic_view(a, index):
    """The view a[index] of a basic index (ints, slices, None, Ellipsis): always an array."""
    items = index if isinstance(index, tuple) else (index,)
    if not all(_is_basic_item(i) for i in items):
        return None
    if not any(i is Ellipsis for i in items):
        items = items + (Ellipsis,)  # all ints: a 0-d view, not a number
    return B.view(a, lambda host: host[items])


def _is_basic_item(item) -> bool:
    """An int, slice, None or Ellipsis (not a bool, an array or a list: those gather)."""
    if item is None or item is Ellipsis or isinstance(item, slice):
        return True
    return isinstance(item, (int, np.integer)) and not isinstance(item, (bool, np.bool_))


@cuda_forward("cat")
def _cat(op, meta, *arrays, dim=0):
    """Each input copied (and cast) into its slice of the output along dim."""
    out = B.empty(meta.shape, meta.dtype.np)
    d, start = dim % meta.ndim, 0
    for a in arrays:
        if a.ndim == 1 and a.shape[0] == 0 and meta.ndim != 1:
            continue  # PyTorch skips legacy empty tensors
        part = (slice(None),) * d + (slice(start, start + a.shape[d]),)
        K.copy(B.view(out, lambda host, part=part: host[part]), a)
        start += a.shape[d]
    return out


# ---- advanced indexing: index arrays on adjacent dims, as one index into those dims merged --
def _index_arrays(shape: tuple, index):
    """(d, k, arrays) when index is full slices, then index arrays (integer ones, or one bool
    mask) covering the adjacent dims d .. d+k-1, then full slices (an Ellipsis anywhere counts
    as full slices): the form the take and put kernels serve. None for any other index."""
    items, is_array = _expanded(index, len(shape))
    arrays = [k for k, a in enumerate(is_array) if a]
    if not arrays or arrays != list(range(arrays[0], arrays[-1] + 1)):
        return None
    full = slice(None)
    if not all(isinstance(i, slice) and i == full for k, i in enumerate(items) if k not in arrays):
        return None
    picked = [items[k] for k in arrays]
    masks = [i for i in picked if i.dtype == np.bool_]
    if (masks and len(picked) > 1) or any(i.dtype.kind not in "iub" for i in picked):
        return None
    return arrays[0], masks[0].ndim if masks else len(picked), picked


def _expanded(index, ndim: int):
    """(index items with an Ellipsis replaced by the full slices it stands for, which items are
    index arrays); a bool mask spans as many dims as it has."""
    items = index if isinstance(index, tuple) else (index,)
    is_array = [K.is_array(i) or isinstance(i, np.ndarray) for i in items]
    spans = [i.ndim if a and i.dtype == np.bool_ else 1 for i, a in zip(items, is_array)]
    ellipses = [k for k, i in enumerate(items) if i is Ellipsis]  # NOTE: `is`: arrays compare
    if len(ellipses) == 1:  # elementwise
        at = ellipses[0]
        fill = ndim - sum(n for n, i in zip(spans, items) if i is not Ellipsis)
        items = items[:at] + (slice(None),) * fill + items[at + 1 :]
        is_array = is_array[:at] + [False] * fill + is_array[at + 1 :]
    return items, is_array


def _linear_index(picked: list, sizes: tuple, count: int | None = None):
    """The integer index into dims of these sizes merged (C order) that the index arrays
    picked select: one integer array as it is; several combined by one kernel (negative
    indices wrapped); a bool mask's True positions (count of them, or read from the device)."""
    picked = [B.from_host(i) if isinstance(i, np.ndarray) else i for i in picked]  # cpu indices
    if picked[0].dtype == np.bool_:
        return _mask_positions(picked[0], count)
    if len(picked) == 1:
        return picked[0]
    shape = np.broadcast_shapes(*(tuple(i.shape) for i in picked))
    terms, inputs, stride = [], [], 1
    for size, i in reversed(list(zip(sizes, picked))):
        a, n, s = (f"{{{len(inputs) + j}}}" for j in range(3))
        terms.append(f"((({a} + {n}) if {a} < 0 else {a}) * {s})")
        inputs += [i, np.int64(size), np.int64(stride)]
        stride *= size
    linear = B.empty(shape, np.int64)
    K.elementwise(("(" + " + ".join(terms) + ")",), [linear], inputs)
    return linear


def _mask_positions(mask, count: int | None):
    """The flat positions of mask's True elements, in order: a running count, then each True
    element writes its position at its rank. The count comes from the op's meta when it has
    it (getitem); index_put reads it from the device (a sync, as PyTorch's nonzero)."""
    flags = _contiguous_as(mask, (1, mask.size), np.int64)
    running = B.empty((1, mask.size), np.int64)
    K.cumsum_rows(running, flags)
    if count is None:
        count = int(B.to_host(B.view(running, lambda h: h[0, -1:]))[0]) if mask.size else 0
    positions = B.empty((count,), np.int64)
    K_index.compact(positions, K.flat(flags), K.flat(running))
    return positions


def _merge_dims(a, d: int, k: int):
    """a with dims d .. d+k-1 merged into one (a view, or a C-contiguous copy when needed)."""
    shape = tuple(a.shape)
    merged = shape[:d] + (math.prod(shape[d : d + k]),) + shape[d + k :]
    return a if k == 1 else _contiguous_as(a, merged)


def _take_layout(a_shape: tuple, d: int, index):
    """(outer, size at d, inner) of a and the index broadcast to (outer, m, inner) (a view)."""
    outer, inner = math.prod(a_shape[:d]), math.prod(a_shape[d + 1 :])
    if isinstance(index, np.ndarray):  # a cpu index tensor, as PyTorch allows: copied over
        index = B.from_host(index)
    flat = _contiguous_as(index, (index.size,), np.int64)
    shape = (outer, index.size, inner)
    return outer, inner, B.view(flat, lambda h: np.broadcast_to(h[None, :, None], shape))


@cuda_forward("index_put")
def _index_put(op, meta, base, values, *, index, accumulate=False, bounds=None):
    # NOTE: `bounds` (index_add and co.) is not checked: cuda indices are not read back
    out = B.copy(base)
    target = _basic_view(out, index)
    if target is None:  # out[:, i, j] (+)= values (embedding and gather backward), out[mask] = v
        view, rest = _split_index(out, _masks_as_indices(index))
        found = _index_arrays(tuple(view.shape), rest)
        if found is None:
            raise NotImplementedError(_NO_INDEX_KERNEL.format(op="index_put", eg="x[i, 0.5] = v"))
        _put(view, *found, values, accumulate)
        return out
    if not K.is_array(values):
        values = out.dtype.type(values)
    if accumulate:  # a basic index selects each element once: a plain add
        K.elementwise(("({0} + {1})",), [target], [target, values])
    else:
        K.elementwise(("{0}",), [target], [values])
    return out


def _put(target, d: int, k: int, picked: list, values, accumulate: bool) -> None:
    """target[:, picked...] (+)= values in place, the index arrays picked on dims d .. d+k-1:
    one scatter into those dims merged (through a contiguous copy when target is a strided
    view, copied back after)."""
    work = target if B.is_contiguous(target) else B.copy(target)
    merged = _merge_dims(work, d, k)  # a view: work is C-contiguous
    linear = _linear_index(picked, tuple(target.shape[d : d + k]))
    outer, inner, i3 = _take_layout(tuple(merged.shape), d, linear)
    shape = tuple(target.shape[:d]) + tuple(linear.shape) + tuple(target.shape[d + k :])
    if not K.is_array(values):
        values = B.full(shape, values, work.dtype)
    src = B.empty(shape, work.dtype)
    K.copy(src, values)  # broadcast and cast to the written dtype
    src3 = B.view(src, lambda h: h.reshape(outer, linear.size, inner))
    out3 = B.view(merged, lambda h: h.reshape(outer, merged.shape[d], inner))
    K.scatter(out3, i3, src3, accumulate)
    if work is not target:
        K.copy(target, work)


@cuda_forward("gather")
def _gather(op, meta, a, index, *, dim):
    if a.ndim == 0:
        return B.copy(a)
    d = dim % a.ndim
    shape = tuple(index.shape)
    a = B.view(a, lambda host: host[_cut(shape, d)])  # then (outer, A_d, inner) copies
    outer, inner = math.prod(shape[:d]), math.prod(shape[d + 1 :])
    a3 = _contiguous_as(a, (outer, a.shape[d], inner))
    i3 = _contiguous_as(index, (outer, shape[d], inner), np.int64)
    out = B.empty(shape, a.dtype)
    K.gather(B.view(out, lambda host: host.reshape(outer, shape[d], inner)), a3, i3)
    return out


def _contiguous_as(a, shape: tuple, np_dtype=None):
    """a as a C-contiguous device array of the given shape (and dtype), copying if needed."""
    np_dtype = a.dtype if np_dtype is None else np.dtype(np_dtype)
    if not B.is_contiguous(a) or a.dtype != np_dtype:
        a = Kit.astype(a, np_dtype)
    return B.view(a, lambda host: host.reshape(shape))


@cuda_forward("clone", "contiguous")
def _copy(op, meta, a):
    return B.copy(a)


# ---- reductions -----------------------------------------------------------------------------
def _rows(a, dims: tuple, np_dtype):
    """A (outer, R) C-contiguous device array of a's values cast to np_dtype: the kept dims
    first (C order), the reduced dims flattened last. Copies only when needed."""
    keep = [d for d in range(a.ndim) if d not in dims]
    order = keep + list(dims)
    if order != list(range(a.ndim)):
        a = B.view(a, lambda host: host.transpose(order))
    if not B.is_contiguous(a) or a.dtype != np_dtype:
        copied = B.empty(a.shape, np_dtype)
        K.copy(copied, a)
        a = copied
    outer = math.prod(a.shape[: len(keep)])
    # NOTE: explicit sizes, never -1: numpy cannot infer a dim of an empty array
    return B.view(a, lambda host: host.reshape(outer, math.prod(a.shape[len(keep) :])))


@cuda_forward("sum", "prod", "amax", "amin")
def _reduce(op, meta, a, *, dim=None, keepdim=False):
    dims = R.normalize_dims(dim, a.ndim)
    if a.ndim == 0:
        return Kit.astype(a, meta.dtype.np)
    np_dtype = meta.dtype.np
    rows = _rows(a, dims, np_dtype)
    out = B.empty((rows.shape[0],), np_dtype)
    K.reduce_rows(out, rows, op.combine, op.identity(np_dtype))
    return B.view(out, lambda host: host.reshape(meta.shape))


@cuda_forward("argmax", "argmin")
def _argreduce(op, meta, a, *, dim=None, keepdim=False):
    dims = tuple(range(a.ndim)) if dim is None else (dim % max(a.ndim, 1),)
    if a.ndim == 0:
        return B.full((), 0, np.int64)
    rows = _rows(a, dims, a.dtype)
    out = B.empty((rows.shape[0],), np.int64)
    K.argreduce_rows(out, rows, largest=op.name == "argmax")
    return B.view(out, lambda host: host.reshape(meta.shape))


def _unrows(rows, shape: tuple, d: int):
    """Rows made by _rows(a, (d,), ...) back in a's dim order (a view)."""
    order = [k for k in range(len(shape)) if k != d] + [d]
    moved = tuple(shape[k] for k in order)
    back = [int(k) for k in np.argsort(order)]
    return B.view(rows, lambda host: host.reshape(moved).transpose(back))


@cuda_forward("cumsum", "cumprod")
def _scan(op, meta, a, *, dim):
    np_dtype = meta.dtype.np
    if a.ndim == 0:
        return Kit.astype(a, np_dtype)
    d = dim % a.ndim
    rows = _rows(a, (d,), np_dtype)
    out = B.empty(rows.shape, np_dtype)
    (K.cumprod_rows if op.name == "cumprod" else K.cumsum_rows)(out, rows)
    return _unrows(out, tuple(a.shape), d)


@cuda_forward("argsort")
def _argsort(op, meta, a, *, dim=-1, descending=False):
    if a.ndim == 0:
        return B.full((), 0, np.int64)
    d = dim % a.ndim
    rows = _rows(a, (d,), a.dtype)
    out = B.empty(rows.shape, np.int64)
    K.argsort_rows(out, rows, bool(descending))
    return _unrows(out, tuple(a.shape), d)


@cuda_forward("flip")
def _flip(op, meta, a, *, dims):
    """One take (index_select) per flipped dim, with the reversed positions as the index."""
    for d in (k % a.ndim for k in (dims if a.ndim else ())):
        reverse = B.from_host(np.arange(a.shape[d] - 1, -1, -1, dtype=np.int64))
        a = _take(a, d, reverse)
    return a if a.ndim and dims else B.copy(a)


def _take(a, d: int, index):
    """a indexed by the integer device array index along dim d (index_select)."""
    outer, inner, i3 = _take_layout(tuple(a.shape), d, index)
    a3 = _contiguous_as(a, (outer, a.shape[d], inner))
    shape = tuple(a.shape[:d]) + tuple(index.shape) + tuple(a.shape[d + 1 :])
    out = B.empty(shape, a.dtype)
    K.gather(B.view(out, lambda h: h.reshape(outer, index.size, inner)), a3, i3)
    return out


@cuda_forward("softmax", "log_softmax")
def _softmax(op, meta, a, *, dim):
    """Rows along dim: m = max, e = exp(x - m), s = sum(e); out = e / s, or x - m - log(s).

    # NOTE: four launches over rows (max, exp, sum, divide); phase 2 fuses them into one
    # block-per-row kernel as the CPU does.
    """
    np_dtype = meta.dtype.np
    if a.ndim == 0:
        return B.full((), 0 if op.log else 1, np_dtype)
    d = dim % a.ndim
    rows = _rows(a, (d,), np_dtype)
    n = rows.shape[0]
    m = B.empty((n,), np_dtype)
    K.reduce_rows(m, rows, "maximum({0}, {1})", -np.inf)
    m = B.view(m, lambda host: host.reshape(n, 1))
    e = B.empty(rows.shape, np_dtype)
    K.elementwise(("exp(({0} - {1}))",), [e], [rows, m])
    s = B.empty((n,), np_dtype)
    K.reduce_rows(s, e, "({0} + {1})", 0)
    s = B.view(s, lambda host: host.reshape(n, 1))
    if op.log:
        K.elementwise(("(({0} - {1}) - log({2}))",), [e], [rows, m, s])
    else:
        K.elementwise(("({0} / {1})",), [e], [e, s])
    return _unrows(e, tuple(a.shape), d)


# ---- matrix products ------------------------------------------------------------------------
def _batched(a, batch: tuple):
    """a (..., M, K) broadcast to batch + (M, K), as a 3-D (B, M, K) device array."""
    shape = batch + tuple(a.shape[-2:])
    a = B.view(a, lambda host: np.broadcast_to(host, shape))
    if len(batch) == 0:
        return B.view(a, lambda host: host[None])
    if len(batch) > 1:  # several batch dims rarely flatten into one stride: copy
        a = B.copy(a)
    return B.view(a, lambda host: host.reshape((math.prod(batch),) + shape[-2:]))


@cuda_forward("matmul")
def _matmul(op, meta, a, b):
    batch = meta.shape[:-2]
    out = B.empty(meta.shape, meta.dtype.np)
    out3 = B.view(out, lambda host: host.reshape((math.prod(batch),) + meta.shape[-2:]))
    K_matmul.matmul(out3, _batched(a, batch), _batched(b, batch))
    return out


@cuda_forward("linear")
def _linear(op, meta, x, weight, *bias):
    rows = math.prod(x.shape[:-1])
    x2 = x if B.is_contiguous(x) else B.copy(x)
    x3 = B.view(x2, lambda host: host.reshape(1, rows, weight.shape[1]))
    out = B.empty(meta.shape, meta.dtype.np)
    out3 = B.view(out, lambda host: host.reshape(1, rows, weight.shape[0]))
    w_t = B.view(weight, lambda host: host.T[None])
    K_matmul.matmul(out3, x3, w_t)
    if bias:  # in place: each element reads only itself
        K.elementwise(("({0} + {1})",), [out], [out, bias[0]])
    return out


# ---- convolution: im2col + the tiled GEMM, as ops/conv.py does on the CPU --------------------
# Layouts as there: cols (C*kh*kw, N, L) with L = oh*ow; a group's rows and output channels are
# contiguous, so each GEMM runs batched over the groups (G, rows/G, ...) as views.
def _geometry(kernel, stride, padding, dilation, out_hw) -> tuple:
    """The ints kernels/cuda/conv.py reads; padding is (top, left)."""
    return (*kernel, *stride, *padding, *dilation, *out_hw)


def _im2col(x, kernel, stride, padding, dilation, out_hw):
    """cols (C*kh*kw, N, oh*ow) of the image x (N, C, H, W), a new C-contiguous array."""
    rows = x.shape[1] * kernel[0] * kernel[1]
    cols = B.empty((rows, x.shape[0], out_hw[0] * out_hw[1]), x.dtype)
    K_conv.im2col(cols, x, _geometry(kernel, stride, padding, dilation, out_hw))
    return cols


def _by_group(a, groups: int):
    """A C-contiguous (R, N, L) array as (G, R/G, N*L) (a view)."""
    r, n, plane = a.shape
    return B.view(a, lambda h: h.reshape(groups, r // groups, n * plane))


def _grad_by_group(g, groups: int):
    """g (N, O, oh, ow) -> (G, O/G, N*L) C-contiguous (a copy unless N == 1)."""
    n, out_ch, oh, ow = g.shape
    moved = B.view(g, lambda h: h.transpose(1, 0, 2, 3))
    return _contiguous_as(moved, (groups, out_ch // groups, n * oh * ow))


def _add_channel_bias(out, bias) -> None:
    """out (N, O, ...) += bias (O,), in place (each element reads only itself)."""
    shape = (1, bias.shape[0]) + (1,) * (out.ndim - 2)
    K.elementwise(("({0} + {1})",), [out], [out, B.view(bias, lambda h: h.reshape(shape))])


@cuda_forward("conv2d")
def _conv2d(op, meta, x, w, b=None, *, stride, padding, dilation, groups):
    """out = W @ im2col(x) per group (+ bias); also returns the columns when meta keeps them."""
    n, out_ch, oh, ow = meta[0].shape
    cols = _im2col(x, w.shape[2:], stride, padding[::2], dilation, (oh, ow))
    rows = cols.shape[0]
    prod = B.empty((groups, out_ch // groups, n * oh * ow), x.dtype)
    wm = _contiguous_as(w, (groups, out_ch // groups, rows // groups))
    K_matmul.matmul(prod, wm, _by_group(cols, groups))
    # (O, N, L) -> (N, O, L): one transposing copy, the bias added in place after it
    out = B.empty((n, out_ch, oh * ow), x.dtype)
    K.copy(out, B.view(prod, lambda h: h.reshape(out_ch, n, oh * ow).transpose(1, 0, 2)))
    if b is not None:
        _add_channel_bias(out, b)
    kept = (
        B.view(cols, lambda h: h.reshape(cols.size)) if meta[1].shape[0] else B.empty((0,), x.dtype)
    )
    return B.view(out, lambda h: h.reshape(meta[0].shape)), kept


@cuda_forward("conv2d_weight")
def _conv2d_weight(op, meta, x, g, cols=None, *, kernel_size, stride, padding, dilation, groups):
    """dW = g @ im2col(x)^T per group; cols, when given, is conv2d's kept im2col(x)."""
    n, out_ch, oh, ow = g.shape
    rows = x.shape[1] * kernel_size[0] * kernel_size[1]
    if cols is None:
        cols = _im2col(x, kernel_size, stride, padding[::2], dilation, (oh, ow))
    else:
        cols = B.view(cols, lambda h: h.reshape(rows, n, oh * ow))
    cols_t = B.view(_by_group(cols, groups), lambda h: h.transpose(0, 2, 1))  # read in place
    dw = B.empty((groups, out_ch // groups, rows // groups), meta.dtype.np)
    K_matmul.matmul(dw, _grad_by_group(g, groups), cols_t)
    return B.view(dw, lambda h: h.reshape(meta.shape))


@cuda_forward("conv_transpose2d")
def _conv_transpose2d(op, meta, g, w, b=None, *, stride, padding, dilation, groups, output_size):
    """out = col2im(W^T @ g) per group (+ bias): conv2d's adjoint in its input."""
    n, out_ch = meta.shape[:2]
    in_ch, kernel = w.shape[0], tuple(w.shape[2:])
    rows = out_ch * kernel[0] * kernel[1]
    wm = _contiguous_as(w, (groups, in_ch // groups, rows // groups))
    cols = B.empty((groups, rows // groups, n * g.shape[2] * g.shape[3]), g.dtype)
    K_matmul.matmul(cols, B.view(wm, lambda h: h.transpose(0, 2, 1)), _grad_by_group(g, groups))
    cols = B.view(cols, lambda h: h.reshape(rows, n, g.shape[2] * g.shape[3]))
    out = B.empty(meta.shape, meta.dtype.np)
    geo = _geometry(kernel, stride, padding[::2], dilation, g.shape[2:])
    K_conv.col2im(out, cols, geo)
    if b is not None:
        _add_channel_bias(out, b)
    return out


@cuda_forward("im2col")
def _unfold(op, meta, x, *, kernel_size, dilation, padding, stride):
    """F.unfold: im2col writes straight into the (N, C*kh*kw, L) output through a view."""
    out = B.empty(meta.shape, meta.dtype.np)
    out_hw = C._block_grid(x.shape[2:], kernel_size, dilation, padding, stride)
    cols = B.view(out, lambda h: h.transpose(1, 0, 2))
    K_conv.im2col(cols, x, _geometry(kernel_size, stride, padding, dilation, out_hw))
    return out


@cuda_forward("col2im")
def _fold(op, meta, c, *, output_size, kernel_size, dilation, padding, stride):
    """F.fold: col2im reads the (N, C*kh*kw, L) input in place through a view."""
    out = B.empty(meta.shape, meta.dtype.np)
    out_hw = C._block_grid(output_size, kernel_size, dilation, padding, stride)
    cols = B.view(c, lambda h: h.transpose(1, 0, 2))
    K_conv.col2im(out, cols, _geometry(kernel_size, stride, padding, dilation, out_hw))
    return out


@cuda_forward("constant_pad_nd")
def _constant_pad(op, meta, x, *, pad, value=0.0):
    """A fill, then x's kept part copied into place (negative pads crop: views of x)."""
    out = B.full(meta.shape, value, meta.dtype.np)
    src, dst = C.pad_slices(tuple(x.shape), meta.shape, pad)
    K.copy(B.view(out, lambda h: h[dst]), B.view(x, lambda h: h[src]))
    return out


# ---- einsum: sums, permuted copies and one batched GEMM -----------------------------------
@cuda_forward("einsum")
def _einsum(op, meta, *arrays, equation):
    """A letter repeated within one operand is its diagonal (a view); then letters only one
    operand has and the output lacks are summed; a single operand is then permuted, two are
    arranged as (batch, left, contracted) @ (batch, contracted, right)."""
    subs, rhs = L.parse_equation(equation, len(arrays))
    arrays, subs = zip(*[_diagonal(a, s) for s, a in zip(subs, arrays)])
    sizes = L.letter_sizes(subs, arrays)  # size-1 dims broadcast
    operands = []
    for i, (s, a) in enumerate(zip(subs, arrays)):
        elsewhere = rhs + "".join(subs[:i] + subs[i + 1 :])
        kept = "".join(c for c in s if c in elsewhere)
        if kept != s:
            shape = tuple(a.shape[s.index(c)] for c in kept)
            lone = tuple(d for d, c in enumerate(s) if c not in elsewhere)
            a = _reduce(REGISTRY["sum"], Meta(shape, meta.dtype), a, dim=lone)
        operands.append((kept, a))
    np_dtype = meta.dtype.np
    if len(operands) == 1:
        ((s, a),) = operands
        return _arranged(a, s, rhs, sizes, np_dtype)
    (sa, a), (sb, b) = operands
    batch = "".join(c for c in rhs if c in sa and c in sb)
    left = "".join(c for c in rhs if c in sa and c not in sb)
    right = "".join(c for c in rhs if c in sb and c not in sa)
    inner = "".join(c for c in sa if c in sb and c not in rhs)
    n_batch, n_left, n_inner, n_right = (
        math.prod(sizes[c] for c in g) for g in (batch, left, inner, right)
    )
    a3 = _arranged(a, sa, batch + left + inner, sizes, np_dtype, (n_batch, n_left, n_inner))
    b3 = _arranged(b, sb, batch + inner + right, sizes, np_dtype, (n_batch, n_inner, n_right))
    out = B.empty((n_batch, n_left, n_right), np_dtype)
    K_matmul.matmul(out, a3, b3)
    got = batch + left + right
    out = B.view(out, lambda host: host.reshape(tuple(sizes[c] for c in got)))
    return _arranged(out, got, rhs, sizes, np_dtype)


def _diagonal(a, letters: str):
    """(a on the diagonal of each letter repeated in letters, the letters without repeats): a
    strided view, no copy. One step along a repeated letter steps along all its dims at once,
    so its stride is the sum of theirs ("ii" on (n, n): shape (n,), stride n + 1 elements)."""
    kept = "".join(dict.fromkeys(letters))
    if kept == letters:
        return a, letters
    shape = tuple(a.shape[letters.index(c)] for c in kept)  # sizes checked equal by infer

    def on_diagonal(host):
        strides = [sum(s for s, d in zip(host.strides, letters) if d == c) for c in kept]
        return np.lib.stride_tricks.as_strided(host, shape, strides)

    return B.view(a, on_diagonal), kept


def _arranged(a, letters: str, order: str, sizes: dict, np_dtype, shape=None):
    """a (dims named by letters) permuted to order, size-1 dims broadcast to sizes, as a
    C-contiguous array of np_dtype in the given shape (default: order's sizes)."""
    perm = [letters.index(c) for c in order]
    full = tuple(sizes[c] for c in order)
    view = B.view(a, lambda host: np.broadcast_to(host.transpose(perm), full))
    return _contiguous_as(view, full if shape is None else shape, np_dtype)


# ---- cross entropy (fused, as on the CPU) ---------------------------------------------------
def _ce_inputs(op_name, x, target, weight, ignore_index):
    """Logit rows (N, C), int64 targets (N,) and float64 class weights (or an empty array)."""
    if x.ndim > 2 or getattr(target, "dtype", None) is None or target.dtype.kind not in "iu":
        raise NotImplementedError(
            f"{op_name}: the CUDA kernel takes (N, C) or (C,) logits and class-index targets; "
            f"got logits {tuple(x.shape)} and target dtype {getattr(target, 'dtype', None)}. "
            "Run it on the CPU with .cpu()."
        )
    rows = x if x.ndim == 2 else B.view(x, lambda host: host.reshape(1, x.size))
    t = Kit.astype(target, np.int64) if target.dtype != np.int64 else target
    t = t if t.ndim == 1 else B.view(t, lambda host: host.reshape(1))
    w = Kit.astype(weight[0], np.float64) if weight else B.empty((0,), np.float64)
    return rows, t, w


def _sum(a):
    """The sum of a 1-D device array, as a 0-d device array of its dtype."""
    out = B.empty((1,), a.dtype)
    K.reduce_rows(out, B.view(a, lambda host: host.reshape(1, a.size)), "({0} + {1})", 0)
    return B.view(out, lambda host: host.reshape(()))


@cuda_forward("cross_entropy")
def _cross_entropy(
    op, meta, x, target, *weight, ignore_index=-100, reduction="mean", label_smoothing=0.0
):
    rows, t, w = _ce_inputs(op.name, x, target, weight, ignore_index)
    loss = B.empty((rows.shape[0],), np.float64)
    row_weight = B.empty((rows.shape[0],), np.float64)
    K_nn.cross_entropy_forward(rows, t, w, ignore_index, float(label_smoothing), loss, row_weight)
    out = B.empty(meta.shape, meta.dtype.np)
    if reduction == "none":
        K.copy(out, B.view(loss, lambda host: host.reshape(meta.shape)))
    elif reduction == "sum":
        K.copy(out, _sum(loss))
    else:  # all rows ignored: 0 / 0 = nan, as PyTorch
        K.elementwise(("({0} / {1})",), [out], [_sum(loss), _sum(row_weight)])
    return out


@cuda_forward("cross_entropy_backward")
def _cross_entropy_backward(
    op, meta, x, target, *rest, ignore_index=-100, reduction="mean", label_smoothing=0.0
):
    *weight, grad = rest
    rows, t, w = _ce_inputs(op.name, x, target, weight, ignore_index)
    n = rows.shape[0]
    grad = B.from_host(np.asarray(grad)) if not K.is_array(grad) else grad
    scale = B.empty((n,), np.float64)
    if reduction == "none":
        K.copy(scale, B.view(grad, lambda host: host.reshape(n)))
    elif reduction == "sum":
        K.copy(scale, grad)
    else:  # the normaliser is the total weight of the non-ignored rows, as in forward
        loss, row_weight = B.empty((n,), np.float64), B.empty((n,), np.float64)
        K_nn.cross_entropy_forward(rows, t, w, ignore_index, 0.0, loss, row_weight)
        K.elementwise(("({0} / {1})",), [scale], [grad, _sum(row_weight)])
    # NOTE: wsum (label smoothing's total class weight) is a host number in the CPU kernel's
    # signature; read once here, it is the only host transfer, and only with class weights.
    wsum = float(B.to_host(_sum(w))[0]) if w.shape[0] else float(rows.shape[1])
    out = B.empty(rows.shape, rows.dtype)
    K_nn.cross_entropy_backward(rows, t, w, wsum, ignore_index, float(label_smoothing), scale, out)
    return B.view(out, lambda host: host.reshape(meta.shape))


# ---- layer norm (fused, as on the CPU) ------------------------------------------------------
def _norm_rows(x, k: int):
    n = math.prod(x.shape[x.ndim - k :])
    return _contiguous_as(x, (x.size // n if n else 0, n))


def _norm_affine(w, n: int, np_dtype, default: float):
    return B.full((n,), default, np_dtype) if w is None else _contiguous_as(w, (n,), np_dtype)


@cuda_forward("layer_norm")
def _layer_norm(op, meta, x, weight, bias, *, normalized_ndim, eps):
    rows = _norm_rows(x, normalized_ndim)
    n = rows.shape[1]
    w = _norm_affine(weight, n, rows.dtype, 1.0)
    b = _norm_affine(bias, n, rows.dtype, 0.0)
    out = B.empty(rows.shape, rows.dtype)
    K_norm.layer_norm_forward(rows, w, b, float(eps), out)
    return B.view(out, lambda h: h.reshape(meta.shape))


@cuda_forward("layer_norm_backward")
def _layer_norm_backward(op, meta, x, weight, grad, *, affine, normalized_ndim, eps):
    rows = _norm_rows(x, normalized_ndim)
    g = _contiguous_as(grad, rows.shape, rows.dtype)
    w = _norm_affine(weight, rows.shape[1], rows.dtype, 1.0)
    grad_x, x_hat = B.empty(rows.shape, rows.dtype), B.empty(rows.shape, rows.dtype)
    K_norm.layer_norm_backward(rows, w, g, float(eps), grad_x, x_hat)
    shape = meta[1].shape
    grad_w, grad_b = B.empty((rows.shape[1],), rows.dtype), B.empty((rows.shape[1],), rows.dtype)
    if (
        affine
    ):  # sums over the rows: grad_weight = sum_i grad[i] * x_hat[i], grad_bias = sum_i grad[i]
        K.elementwise(("({0} * {1})",), [x_hat], [x_hat, g])
        K.reduce_rows(grad_w, _rows(x_hat, (0,), rows.dtype), "({0} + {1})", 0)
        K.reduce_rows(grad_b, _rows(g, (0,), rows.dtype), "({0} + {1})", 0)
    else:  # placeholders, never used (as on the CPU)
        K.elementwise(("{0}",), [grad_w], [rows.dtype.type(0)])
        K.elementwise(("{0}",), [grad_b], [rows.dtype.type(0)])
    return (
        B.view(grad_x, lambda h: h.reshape(meta[0].shape)),
        B.view(grad_w, lambda h: h.reshape(shape)),
        B.view(grad_b, lambda h: h.reshape(shape)),
    )


def _channels(x):
    """x (N, C, *spatial) as a C-contiguous (N, C, S) device array."""
    n, c = x.shape[0], x.shape[1]
    return _contiguous_as(x, (n, c, x.size // (n * c) if n * c else 0))


@cuda_forward("batch_norm")
def _batch_norm(op, meta, x, weight, bias, *, eps):
    rows = _channels(x)
    c, dt = rows.shape[1], rows.dtype
    w, b = _norm_affine(weight, c, dt, 1.0), _norm_affine(bias, c, dt, 0.0)
    out = B.empty(rows.shape, dt)
    mean, var = B.empty((c,), np.float64), B.empty((c,), np.float64)
    K_norm.batch_norm_forward(rows, w, b, float(eps), out, mean, var)
    return (
        B.view(out, lambda h: h.reshape(meta[0].shape)),
        Kit.astype(mean, dt),
        Kit.astype(var, dt),
    )


@cuda_forward("batch_norm_backward")
def _batch_norm_backward(op, meta, x, weight, grad, *, eps):
    rows = _channels(x)
    c, dt = rows.shape[1], rows.dtype
    g = _contiguous_as(grad, rows.shape, dt)
    w = _norm_affine(weight, c, dt, 1.0)
    grad_x = B.empty(rows.shape, dt)
    grad_w, grad_b = B.empty((c,), dt), B.empty((c,), dt)
    K_norm.batch_norm_backward(rows, w, g, float(eps), grad_x, grad_w, grad_b)
    return B.view(grad_x, lambda h: h.reshape(meta[0].shape)), grad_w, grad_b


# ---- pooling: the CPU's window bodies, one thread per output (kernels/cuda/pool.py) ---------
def _planes(x):
    """x (N, C, H, W) as a flat C-contiguous device array of its N*C planes."""
    return _contiguous_as(x, (x.size,))


def _pair(values) -> tuple:
    return (int(values[0]), int(values[1]))


@cuda_forward("max_pool2d")
def _max_pool2d(op, meta, x, *, kernel_size, stride, padding, dilation, ceil_mode, indices=True):
    shape = meta[0].shape
    out, idx = B.empty(shape, x.dtype), B.empty(shape, np.int64)
    geometry = _pair(x.shape[2:]) + _pair(shape[2:])
    pairs = [_pair(p) for p in (kernel_size, stride, padding, dilation)]
    K_pool.max_pool2d(K.flat(out), K.flat(idx), _planes(x), geometry, *pairs)
    return out, (idx if indices else B.empty(meta[1].shape, np.int64))


@cuda_forward("max_pool2d_backward")
def _max_pool2d_backward(op, meta, grad, idx, *, input_size):
    out = B.full(meta.shape, 0, grad.dtype)
    plane = grad.shape[2] * grad.shape[3]
    flat_idx = _contiguous_as(idx, (idx.size,), np.int64)
    K_pool.max_pool2d_backward(K.flat(out), _planes(grad), flat_idx, plane, math.prod(input_size))
    return out


def _windows(pool, params: dict) -> tuple:
    """(kernel, stride, padding, count_include_pad, divisor_override or 0) of a WindowPool op
    as ints; adaptive pooling's kernel is (0, 0), which the kernels read as 'adaptive'."""
    if pool.name == "adaptive_avg_pool2d":
        return (0, 0), (1, 1), (0, 0), False, 0
    return (
        _pair(params["kernel_size"]),
        _pair(params["stride"]),
        _pair(params["padding"]),
        bool(params["count_include_pad"]),
        int(params["divisor_override"] or 0),
    )


@cuda_forward("avg_pool2d", "adaptive_avg_pool2d")
def _avg_pool2d(op, meta, x, **params):
    out = B.empty(meta.shape, x.dtype) if x.size else B.full(meta.shape, 0, x.dtype)
    geometry = _pair(x.shape[2:]) + _pair(meta.shape[2:])
    K_pool.window_sum(K.flat(out), _planes(x), geometry, *_windows(op, params))
    return out


@cuda_forward("avg_pool2d_backward", "adaptive_avg_pool2d_backward")
def _avg_pool2d_backward(op, meta, grad, *, input_size, **params):
    out = B.empty(meta.shape, grad.dtype) if grad.size else B.full(meta.shape, 0, grad.dtype)
    geometry = _pair(input_size) + _pair(grad.shape[2:])
    K_pool.window_spread(K.flat(out), _planes(grad), geometry, *_windows(op.pool, params))
    return out


# ---- recurrent layers: per step the GEMM h @ W_hh^T and one fused gate kernel ---------------
def _steps3(a) -> list:
    """The views a[t:t+1] of a device array for each t along dim 0: the GEMM's 3-D operands."""
    return [B.view(a, lambda h, t=t: h[t : t + 1]) for t in range(a.shape[0])]


@cuda_forward("rnn_sequence")
def _rnn_sequence(op, meta, gi, h0, c0, w_hh, b_hh, *, mode, reverse=False):
    """ops/rnn.py's recurrence on the device: for t: gh = h @ W_hh^T; h = cell(gi[t], gh)."""
    steps, n, g = gi.shape
    dt = gi.dtype
    out, saved = B.empty(meta[0].shape, dt), B.empty(meta[1].shape, dt)
    b = B.full((g,), 0, dt) if b_hh is None else _contiguous_as(b_hh, (g,))
    w_t = B.view(w_hh, lambda h: h.T[None])  # (1, H, G): the GEMM reads W_hh^T in place
    gh3 = B.empty((1, n, g), dt)
    gh = B.view(gh3, lambda h: h[0])
    h0 = _contiguous_as(h0, tuple(h0.shape))
    state0 = _contiguous_as(c0, tuple(c0.shape)) if mode == "lstm" else h0
    h3, outs3, prev = B.view(h0, lambda h: h[None]), _steps3(out), -1
    for t in _rnn_order(steps, reverse):
        K_matmul.matmul(gh3, h3, w_t)
        K_rnn.step_forward(mode, gi, gh, b, state0, out, saved, t, prev)
        h3, prev = outs3[t], t
    if mode == "lstm":  # c_T after the hidden states
        c_last = state0 if prev < 0 else B.view(saved, lambda h: h[prev, 4])
        K.copy(B.view(out, lambda h: h[steps]), c_last)
    return out, saved


@cuda_forward("rnn_sequence_backward")
def _rnn_sequence_backward(op, meta, grad, h0, c0, w_hh, out, saved, *, needs, mode, reverse=False):
    """ops/rnn.py's backward on the device: time in reverse, per step one gate kernel and one
    GEMM dgh[t] @ W_hh; then dW_hh and db_hh as one GEMM each over all steps."""
    steps, _, n, hidden = saved.shape
    g, dt = w_hh.shape[0], grad.dtype
    grad = _contiguous_as(grad, tuple(grad.shape), dt)
    h0 = _contiguous_as(h0, (n, hidden), dt)
    state0 = _contiguous_as(c0, (n, hidden), dt) if mode == "lstm" else h0
    w3 = B.view(w_hh, lambda h: h[None])
    dgi = B.empty((steps, n, g), dt)
    dgh = B.empty((steps, n, g), dt) if mode == "gru" else dgi
    d_mm = B.full((n, hidden), 0, dt)
    d_mm3 = B.view(d_mm, lambda h: h[None])
    if mode == "lstm":  # the gradient of c_T starts the cell-state carry
        carry = B.copy(B.view(grad, lambda h: h[steps]))
    else:
        carry = B.full((n, hidden), 0, dt)
    dghs3 = _steps3(dgh)
    order = list(_rnn_order(steps, reverse))
    for k in range(steps - 1, -1, -1):
        t, prev = order[k], order[k - 1] if k else -1
        K_rnn.step_backward(mode, grad, d_mm, carry, saved, state0, out, dgi, dgh, t, prev)
        K_matmul.matmul(d_mm3, dghs3[t], w3)
    empty = B.empty((0,), dt)
    dh0 = d_mm
    if mode == "gru":
        dh0 = B.empty((n, hidden), dt)
        K.elementwise(("({0} + {1})",), [dh0], [d_mm, carry])
    dc0 = carry if mode == "lstm" and needs[2] else empty
    dw = _rnn_weight_grad(dgh, out, h0, reverse) if needs[3] else empty
    db = empty
    if needs[4]:  # a (1, T*N) @ (T*N, G) GEMM with ones, beside dW's
        db = B.empty((g,), dt)
        ones = B.full((1, 1, steps * n), 1, dt)
        flat = B.view(dgh, lambda h: h.reshape(1, steps * n, g))
        K_matmul.matmul(B.view(db, lambda h: h.reshape(1, 1, g)), ones, flat)
    return (dgi if needs[0] else empty, dh0 if needs[1] else empty, dc0, dw, db)


def _rnn_weight_grad(dgh, out, h0, reverse: bool):
    """dW_hh = sum over steps of dgh[t]^T @ h_prev[t], as one (G, T*N) @ (T*N, H) GEMM; h_prev
    is h0 at the first step run and the previous step's output after it (one shifted copy)."""
    steps, n, g = dgh.shape
    hidden = h0.shape[1]
    h_prev = B.empty((steps, n, hidden), dgh.dtype)
    if steps:
        first = steps - 1 if reverse else 0
        K.copy(B.view(h_prev, lambda h: h[first]), h0)
        later, earlier = (slice(0, steps - 1), slice(1, steps))
        dst, src = (later, earlier) if reverse else (earlier, later)
        K.copy(B.view(h_prev, lambda h: h[dst]), B.view(out, lambda h: h[src]))
    dw = B.empty((g, hidden), dgh.dtype)
    K_matmul.matmul(
        B.view(dw, lambda h: h[None]),
        B.view(dgh, lambda h: h.reshape(steps * n, g).T[None]),
        B.view(h_prev, lambda h: h.reshape(steps * n, hidden)[None]),
    )
    return dw


# ---- random numbers: the CPU's Philox stream, drawn on the device ---------------------------
@cuda_forward("random")
def _random(op, meta, *arrays, kind, shape, dtype, generator, args=(), device=None):
    if kind not in ("bernoulli", "dropout", *FLOAT_KINDS):
        raise NotImplementedError(
            f"random: no CUDA kernel for {kind} draws yet; draw on the CPU and move with .cuda()"
        )
    out = B.empty(meta.shape, meta.dtype.np)
    seed, offset = generator.draw(out.size)
    flat = K.flat(out)
    if kind == "bernoulli":
        p = arrays[0]
        p = p if B.is_contiguous(p) and p.dtype.kind == "f" else Kit.astype(p, np.float64)
        K_random.fill_bernoulli(flat, K.flat(p), seed, offset)
    else:
        _filler(K_random, kind)(flat, seed, offset, *args)
    return out


# ---- moving between devices -----------------------------------------------------------------
class ToCopy(Op):
    """A copy of a tensor on another device (PyTorch's _to_copy): the one op whose input and
    output devices differ. Differentiable: the gradient is copied back."""

    name = "to_copy"
    crosses_devices = True

    def infer(self, x, *, device):
        return Meta(tuple(x.shape), x.dtype)

    def forward(self, meta, a, *, device: Device):
        if device.type == "cuda":
            return B.from_host(a) if isinstance(a, np.ndarray) else B.copy(a)
        return B.to_host(a) if B.is_device_array(a) else np.array(a, copy=True)

    def backward(self, ctx, grad):
        return grad.to(ctx.inputs[0].device)


to_copy = register(ToCopy())


# ---- optimizer updates ----------------------------------------------------------------------
def fused_update(rule: str, param, grad, buffers: list, coefficients: tuple, flags) -> None:
    """Apply optimizer rule in place to device arrays param (and its state buffers), as
    optim.optimizer._fused_update does on the CPU."""
    if grad.dtype != param.dtype or not B.is_contiguous(grad):
        grad = Kit.astype(grad, param.dtype)
    flat = param if B.is_contiguous(param) else B.copy(param)
    K_optim.update(
        rule,
        K.flat(flat),
        K.flat(grad),
        [None if b is None else K.flat(b) for b in buffers],
        coefficients,
        flags,
    )
    if flat is not param:  # a non-contiguous parameter: write back through its view
        K.copy(param, flat)
