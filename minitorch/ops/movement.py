"""Movement, indexing and matrix ops: views share storage; the rest copy once."""

from __future__ import annotations

import math

import numpy as np

from .. import dtypes
from ..autograd.engine import PartialGrad
from ..kernels.cpu import index as K_index
from .linear import blas_matmul, matmul_plan
from .reduce import normalize_dim
from .registry import Meta, Op, apply, into, register


def infer_size(shape, numel: int, op: str) -> tuple:
    """Resolve one -1 in a requested shape, checking the element count."""
    shape = tuple(int(s) for s in shape)
    if shape.count(-1) > 1:
        raise RuntimeError(f"{op}: only one dimension can be inferred; got shape {shape}")
    known = math.prod(s for s in shape if s != -1)
    if -1 in shape:
        if known == 0 or numel % known:
            raise RuntimeError(f"{op}: shape '{list(shape)}' is invalid for input of size {numel}")
        shape = tuple(numel // known if s == -1 else s for s in shape)
    elif known != numel:
        raise RuntimeError(f"{op}: shape '{list(shape)}' is invalid for input of size {numel}")
    return shape


class Reshape(Op):
    """view (never copies; errors when impossible) and reshape (copies only when needed)."""

    def __init__(self, name, copy_ok):
        self.name = name
        self.copy_ok = copy_ok

    def infer(self, x, *, shape):
        return Meta(infer_size(shape, math.prod(x.shape), self.name), x.dtype)

    def forward(self, meta, a, *, shape):
        if self.copy_ok:
            return a.reshape(meta.shape)
        try:
            return np.reshape(a, meta.shape, copy=False)
        except ValueError:
            raise RuntimeError(
                "view size is not compatible with input tensor's size and stride (at least one "
                "dimension spans across two contiguous subspaces). Use .reshape(...) instead."
                f" (view of shape {a.shape} as {meta.shape})"
            ) from None

    def inline(self, meta, params) -> tuple[str, tuple]:
        """forward as a Python expression over the input {0} and constants {1}.. (for a traced
        step's driver, whose guards keep layouts as traced: a view then stays a view)."""
        return "{0}.reshape({1})", (meta.shape,)

    def plan(self, meta, arrays, params, out):
        """For a traced step's replay: None where the reshape was a view (the driver inlines
        it), else the copy as a function (a, out=None) that may write into a given array."""
        if np.may_share_memory(out, arrays[0]):
            return None

        def copy(a, out=None):
            if out is None:
                return a.reshape(meta.shape)
            np.copyto(out.reshape(a.shape), a)  # out's C order is the reshape's element order
            return out

        copy.takes_out = True
        return copy

    def backward(self, ctx, grad):
        return grad.reshape(ctx.inputs[0].shape)


view = register(Reshape("view", False))
reshape = register(Reshape("reshape", True))


class Permute(Op):
    name = "permute"

    def infer(self, x, *, dims):
        if len(dims) != x.ndim:
            raise RuntimeError(
                f"permute: number of dims don't match: the tensor has {x.ndim} dims "
                f"(shape {tuple(x.shape)}) but got {len(dims)} dims {tuple(dims)}; pass one "
                "entry per dim"
            )
        normal = [normalize_dim(d, x.ndim, "permute") for d in dims] if x.ndim else []
        if sorted(normal) != list(range(x.ndim)):
            raise RuntimeError(f"permute: repeated dim in {tuple(dims)}; each dim must appear once")
        return Meta(tuple(x.shape[d] for d in dims), x.dtype)

    def forward(self, meta, a, *, dims):
        return a.transpose([d % a.ndim for d in dims]) if a.ndim else a

    def inline(self, meta, params) -> tuple[str, tuple]:
        ndim = len(meta.shape)
        return (
            ("{0}.transpose({1})", (tuple(d % ndim for d in params["dims"]),))
            if ndim
            else ("{0}", ())
        )

    def backward(self, ctx, grad):
        dims = [d % grad.ndim for d in ctx.params["dims"]] if grad.ndim else []
        return grad.permute(*np.argsort(dims).tolist())


permute = register(Permute())


class Expand(Op):
    """Broadcast size-1 dims to larger sizes as a stride-0 view (read-only, like PyTorch)."""

    name = "expand"

    def infer(self, x, *, shape):
        shape = tuple(shape)
        if len(shape) < x.ndim:
            raise RuntimeError(
                f"expand: the number of sizes provided ({len(shape)}) must be greater or equal "
                f"to the number of dimensions in the tensor ({x.ndim})"
            )
        lead = len(shape) - x.ndim
        out = list(shape)
        for i, n in enumerate(x.shape):
            want = shape[lead + i]
            if want == -1:
                out[lead + i] = n
            elif n != want and n != 1:
                raise RuntimeError(
                    f"expand: the expanded size of the tensor ({want}) must match the existing "
                    f"size ({n}) at non-singleton dimension {lead + i}.  Target sizes: "
                    f"{list(shape)}.  Tensor sizes: {list(x.shape)}"
                )
        return Meta(tuple(out), x.dtype)

    def forward(self, meta, a, *, shape):
        return np.broadcast_to(a, meta.shape)

    def inline(self, meta, params) -> tuple[str, tuple]:
        return "{1}({0}, {2})", (np.broadcast_to, meta.shape)

    def backward(self, ctx, grad):
        return grad  # the engine sums it back to the input's shape


expand = register(Expand())


class GetItem(Op):
    """x[index]: basic indexing makes a view, integer/bool index arrays make a copy."""

    name = "getitem"

    def infer(self, x, *, index):
        shape = _index_shape(x.shape, index)
        return Meta(shape, x.dtype)

    def forward(self, meta, a, *, index):
        try:
            out = _take(a, index)
        except IndexError as e:  # infer's error, for a traced step's replay of another index
            raise IndexError(f"index: {e} (tensor of shape {a.shape})") from None
        if not isinstance(out, np.ndarray):  # all-int index: a 0-d view, not a numpy scalar
            index = index if isinstance(index, tuple) else (index,)
            out = a[index + (Ellipsis,)]
        return out

    def backward(self, ctx, grad):
        index = ctx.params["index"]
        if _slice_span(index, ctx.inputs[0].shape) is not None:
            return SliceGrad(grad, index, tuple(ctx.inputs[0].shape))
        return _put_into_zeros(grad, index, ctx.inputs[0].shape)


def _put_into_zeros(values, index, shape):
    """zeros(shape) with values added at index: getitem's gradient on its own."""
    return apply(index_put, values.new_zeros(shape), values, index=index, accumulate=True)


class SliceGrad(PartialGrad):
    """getitem's gradient for x[..., a:b] (slices in one dim, full elsewhere): `values` at
    that slice, zeros elsewhere. The engine merges the parts of one tensor: chunk/split's
    pieces become one `cat`, gaps (pieces whose gradient is None) filled with zeros, as
    PyTorch's SplitBackward does.

    NOTE: the transformer step's qkv.chunk(3) backward was three zero-filled (8, 64, 384)
    index_puts and two full-size adds (0.33-0.47 ms in the traced step's profile); as one cat
    it takes 0.17 ms there, and autograd.grad through the chunks 1153 -> 304 us eagerly
    (same-process A/B).
    """

    __slots__ = ("values", "index", "shape")

    def __init__(self, values, index, shape):
        self.values, self.index, self.shape = values, index, shape

    @staticmethod
    def merge(parts):
        tiles = _tiles(parts)
        if tiles is None:  # overlapping parts, or slices in different dims
            total = None
            for p in parts:
                g = _put_into_zeros(p.values, p.index, p.shape)
                total = g if total is None else total + g
            return total
        dim, tensors = tiles
        return tensors[0] if len(tensors) == 1 else apply(cat, *tensors, dim=dim)


def _slice_span(index, shape):
    """(dim, start, stop) when index is slices only, step 1 in one dim and full in the others
    (chunk, split, narrow); None otherwise."""
    items = index if isinstance(index, tuple) else (index,)
    if not shape or len(items) > len(shape) or not all(isinstance(i, slice) for i in items):
        return None
    spans = [(d, *i.indices(n)) for d, (i, n) in enumerate(zip(items, shape))]
    if any(step != 1 or stop < start for _, start, stop, step in spans):
        return None
    narrowed = [(d, start, stop) for d, start, stop, _ in spans if (start, stop) != (0, shape[d])]
    if len(narrowed) > 1:
        return None
    return narrowed[0] if narrowed else (0, 0, shape[0])  # all full: x[:]


def _tiles(parts):
    """(dim, tensors) whose cat along dim is the sum of parts: their values in order, zeros in
    the gaps; None when parts overlap or lie in different dims."""
    spans = sorted((_slice_span(p.index, p.shape) + (p.values,) for p in parts), key=lambda s: s[1])
    dim, shape = spans[0][0], parts[0].shape
    tensors, end = [], 0
    for d, start, stop, values in spans:
        if d != dim or start < end:
            return None
        if start > end:
            tensors.append(_zeros_span(values, shape, dim, end, start))
        if stop > start:
            tensors.append(values)
        end = stop
    if end < shape[dim]:
        tensors.append(_zeros_span(spans[0][3], shape, dim, end, shape[dim]))
    return (dim, tensors) if tensors else None


def _zeros_span(like, shape, dim, start, stop):
    return like.new_zeros(shape[:dim] + (stop - start,) + shape[dim + 1 :])


def torch_order(index, always: bool = False):
    """Split an index into (basic, advanced) parts applied one after the other, as PyTorch does:
    it selects integer indices first, whereas numpy would count an int beside an index array as
    one more array and could move the indexed dims to the front. `advanced` is None when the
    index has no such mix. With `always`, any index with index arrays is split (the same result
    when those arrays are adjacent: the CUDA forward applies the basic part as a view first)."""
    items = index if isinstance(index, tuple) else (index,)
    # NOTE: device index arrays (cuda tensors' data) count too: the order is the same
    arrays = [_is_array(i) and i.ndim > 0 for i in items]
    ints = [isinstance(i, (int, np.integer)) and not isinstance(i, bool) for i in items]
    if not (any(arrays) and (always or any(ints))):
        return index, None
    basic, advanced = [], []
    for item, is_array, is_int in zip(items, arrays, ints):
        if is_array:  # a k-dim mask spans k dims
            span = item.ndim if item.dtype == np.bool_ else 1
            basic += [slice(None)] * span
            advanced.append(item)
        elif is_int:
            basic.append(item)
        else:  # None, slice, Ellipsis: applied in the basic part, their dims kept after it
            basic.append(item)
            advanced.append(Ellipsis if item is Ellipsis else slice(None))
    return tuple(basic), tuple(advanced)


def _is_array(item) -> bool:
    return isinstance(item, np.ndarray) or hasattr(item, "__cuda_ndarray__")


def _is_basic(index) -> bool:
    items = index if isinstance(index, tuple) else (index,)
    return not any(isinstance(i, (np.ndarray, list)) for i in items)


def _take(a, index):
    basic, advanced = torch_order(index)
    out = a[basic]
    return out if advanced is None else out[advanced]


def _index_shape(shape, index):
    """Result shape of PyTorch indexing, validating bounds with PyTorch's errors (host index
    arrays only: device ones are not read, see _shape_only)."""
    try:  # index a zero-stride stand-in: numpy's rules, no data touched
        return _take(np.broadcast_to(_FALSE, shape), _shape_only(index)).shape
    except IndexError as e:
        raise IndexError(f"index: {e} (tensor of shape {tuple(shape)})") from None


def _shape_only(index):
    """index with each integer device array replaced by zeros of its shape and dtype: the
    shape rule needs no index values, and numpy reading a device array's values copies it to
    the host on a GPU (DeviceNDArray.__array__), a sync per embedding lookup. Bool masks stay:
    their values set the shape (PyTorch's nonzero syncs too)."""
    items = index if isinstance(index, tuple) else (index,)
    if all(isinstance(i, _HOST_INDEX_ITEMS) for i in items):  # the CPU's case: kept fast
        return index
    out = tuple(
        np.broadcast_to(np.zeros((), i.dtype), tuple(i.shape))
        if _is_array(i) and not isinstance(i, np.ndarray) and i.dtype != np.bool_
        else i
        for i in items
    )
    return out if isinstance(index, tuple) else out[0]


_HOST_INDEX_ITEMS = (np.ndarray, slice, int, np.integer, type(None), type(Ellipsis))


getitem = register(GetItem())


_FALSE = np.zeros((), np.bool_)


class IndexPut(Op):
    """out = copy of base with out[index] = values (or += with accumulate, summing repeats)."""

    name = "index_put"
    writes_out = True

    def infer(self, base, values, *, index, accumulate=False, bounds=None):
        return Meta(base.shape, base.dtype)

    def forward(self, meta, base, values, *, index, accumulate=False, bounds=None, out=None):
        if bounds is not None:
            _check_put_bounds(bounds, index, base.shape)
        out = base.copy() if out is None else into(out, base)
        values = (
            np.asarray(values, dtype=out.dtype)
            if not isinstance(values, np.ndarray)
            else values.astype(out.dtype, copy=False)
        )
        basic, advanced = torch_order(index)
        target, index = (out, basic) if advanced is None else (out[basic], advanced)
        if accumulate and _is_basic(index):  # slices and ints select each element once
            target[index] += values
        elif accumulate:  # np.add.at sums repeated indices (slow: only when needed)
            np.add.at(target, index, values)
        else:
            target[index] = values
        return out

    def backward(self, ctx, grad):
        index = ctx.params["index"]
        g_base = grad
        if not ctx.params.get("accumulate"):
            g_base = apply(index_put, grad, 0.0, index=index, accumulate=False)
        g_values = apply(getitem, grad, index=index)
        return g_base, g_values


index_put = register(IndexPut())


def _check_put_bounds(bounds, index, shape) -> None:
    """The value check of index_add / index_copy / index_fill (see indexing.py), whose index
    is `(:, ..., :, array)`: bounds = (op, negative_ok, error class). It runs in index_put's
    forward, so that a traced step's replay checks each call's index as eager does (numpy
    would count a negative index from the end)."""
    op, negative_ok, error = bounds
    d = len(index) - 1
    values, size = index[d], shape[d]
    if not values.size:
        return
    low = -size if negative_ok else 0
    if values.min() < low or values.max() >= size:
        bad = values[(values < low) | (values >= size)][0]
        raise error(
            f"{op}(): index {bad} is out of bounds for dimension {d} with size {size} "
            f"(tensor of shape {tuple(shape)})"
        )


class Copy(Op):
    """A contiguous copy (clone, contiguous, flip, ...): forward copies, backward is identity."""

    def __init__(self, name, fn, back=None):
        self.name = name
        self.fn = fn
        self.back = back

    def infer(self, x, **params):
        return Meta(tuple(x.shape), x.dtype)

    def forward(self, meta, a, **params):
        return self.fn(a, **params)

    def backward(self, ctx, grad):
        return self.back(grad, **ctx.params) if self.back else grad


clone = register(Copy("clone", lambda a: np.array(a, copy=True)))
# NOTE: np.array(order="C"), not np.ascontiguousarray, which turns 0-d arrays into 1-d ones.
contiguous = register(Copy("contiguous", lambda a: np.array(a, order="C", copy=True)))
flip = register(
    Copy(
        "flip",
        lambda a, dims: np.array(np.flip(a, dims) if a.ndim else a, order="C", copy=True),
        lambda g, dims: g.flip(dims),
    )
)


class Cat(Op):
    """Concatenate tensors along an existing dim."""

    name = "cat"
    writes_out = True

    def infer(self, *xs, dim=0):
        if not xs:
            raise RuntimeError("cat: expected a non-empty list of Tensors")
        ref = max(xs, key=lambda t: t.ndim)
        d = normalize_dim(dim, ref.ndim, "cat")
        total = 0
        dt = dtypes.result_type(*xs)
        for i, x in enumerate(xs):
            if x.ndim == 1 and x.shape[0] == 0:
                continue  # PyTorch skips legacy empty tensors
            if x.ndim != ref.ndim or any(
                a != b for j, (a, b) in enumerate(zip(x.shape, ref.shape)) if j != d
            ):
                raise RuntimeError(
                    f"cat: sizes of tensors must match except in dimension {d}. Expected size "
                    f"{tuple(ref.shape)} but got size {tuple(x.shape)} for tensor number {i} in "
                    "the list."
                )
            total += x.shape[d]
        shape = list(ref.shape)
        shape[d] = total
        return Meta(tuple(shape), dt)

    def forward(self, meta, *arrays, dim=0, out=None):
        keep = [a for a in arrays if not (a.ndim == 1 and a.shape[0] == 0 and meta.ndim != 1)]
        d = dim % meta.ndim
        parts = [a.astype(meta.dtype.np, copy=False) for a in keep]
        return np.concatenate(parts, axis=d, out=out)

    def backward(self, ctx, grad):
        d = ctx.params.get("dim", 0) % grad.ndim
        grads, start = [], 0
        for x in ctx.inputs:
            if x.ndim == 1 and x.shape[0] == 0 and grad.ndim != 1:
                grads.append(None)
                continue
            n = x.shape[d]
            grads.append(grad.narrow(d, start, n))
            start += n
        return tuple(grads)


cat = register(Cat())


def _gather_index(shape, index, dim):
    """Full numpy index tuple addressing out[i][j][k] = x[i][index[i][j][k]][k] style."""
    grids = np.indices(index.shape, sparse=True)
    return tuple(index if d == dim else grids[d] for d in range(index.ndim))


class Gather(Op):
    """out[i][j] = x[i][index[i][j]] along dim (index smaller than x elsewhere is allowed)."""

    name = "gather"
    save = ()

    def infer(self, x, index, *, dim):
        d = normalize_dim(dim, x.ndim, "gather")
        if index.dtype not in (dtypes.int64, dtypes.int32):
            raise RuntimeError(
                f"gather(): Expected dtype int32/int64 for index, got {index.dtype}; convert "
                "it with index.long()"
            )
        if index.ndim != x.ndim or any(
            i != d and index.shape[i] > x.shape[i] for i in range(x.ndim)
        ):
            raise RuntimeError(
                f"gather: index {tuple(index.shape)} must have the same number of dims as input "
                f"{tuple(x.shape)} and be no larger in dims other than {d}"
            )
        return Meta(tuple(index.shape), x.dtype)

    def forward(self, meta, a, index, *, dim):
        d = dim % max(a.ndim, 1)
        if K_index.fits(a, index, d):
            out = K_index.gather(a, index, d)
            if out is not None:
                return out
        _check_bounds(index, a.shape[d] if a.ndim else 1, d, "gather")
        return a[_gather_index(a.shape, index, d)] if a.ndim else a.copy()

    def plan(self, meta, arrays, params, out):
        """forward for arrays laid out as these, for a traced step's replay (None where the
        loop kernel does not serve them); an index out of range goes back to forward, which
        raises."""
        a, index = arrays
        d = params["dim"] % max(a.ndim, 1)
        if not K_index.fits(a, index, d):
            return None
        run = K_index.gather_plan(a.shape, index.shape, d)

        def gather(a, index):
            out = run(a, index)
            return self.forward(meta, a, index, dim=d) if out is None else out

        return gather

    def backward(self, ctx, grad):
        x, index = ctx.inputs
        return grad.new_zeros(x.shape).scatter_add(ctx.params["dim"], index, grad), None


gather = register(Gather())


def _check_bounds(index, size, dim, op):
    """PyTorch's check: gather and scatter take indices in [0, size), negative ones too are
    out of bounds (x[i] and index_select count those from the end)."""
    if not index.size:
        return
    low, high = index.min(), index.max()
    if low < 0 or high >= size:
        bad = low if low < 0 else high
        raise RuntimeError(  # PyTorch raises RuntimeError here (IndexError for x[i])
            f"{op}: index {bad} is out of bounds for dimension {dim} with size {size}"
        )


class Scatter(Op):
    """out = copy of x with out[i][index[i][j]] = src[i][j] (or += with scatter_add)."""

    def __init__(self, name, accumulate):
        self.name = name
        self.accumulate = accumulate

    def infer(self, x, index, src, *, dim):
        d = normalize_dim(dim, x.ndim, self.name)
        if index.dtype not in (dtypes.int64, dtypes.int32):
            raise RuntimeError(
                f"{self.name}(): Expected dtype int32/int64 for index, got {index.dtype}; "
                "convert it with index.long()"
            )
        _check_scatter_index(self.name, x, index, src, d)
        return Meta(tuple(x.shape), x.dtype)

    def forward(self, meta, a, index, src, *, dim):
        d = dim % max(a.ndim, 1)
        if K_index.fits(a, index, d) and np.shape(src) in ((), index.shape):
            out = K_index.scatter(a, index, src, d, self.accumulate)
            if out is not None:
                return out
        _check_bounds(index, a.shape[d] if a.ndim else 1, d, self.name)
        out = a.copy()
        where = _gather_index(a.shape, index, d)
        if isinstance(src, np.ndarray):
            src = src[tuple(slice(0, n) for n in index.shape)]
        if self.accumulate:
            np.add.at(out, where, src)
        else:
            out[where] = src
        return out

    def plan(self, meta, arrays, params, out):
        """forward for arrays laid out as these and a src array of index's shape and the
        input's dtype, as Gather.plan."""
        a, index, src = arrays
        d = params["dim"] % max(a.ndim, 1)
        if not (
            K_index.fits(a, index, d)
            and isinstance(src, np.ndarray)
            and (src.shape, src.dtype) == (index.shape, a.dtype)
        ):
            return None
        run = K_index.scatter_plan(a.shape, index.shape, d, self.accumulate)

        def scatter(a, index, src):
            out = run(a, index, src)
            return self.forward(meta, a, index, src, dim=d) if out is None else out

        return scatter

    def backward(self, ctx, grad):
        _, index, src = ctx.inputs
        d = ctx.params["dim"]
        g_src = grad.gather(d, index) if hasattr(src, "shape") else None
        if g_src is not None and tuple(g_src.shape) != tuple(src.shape):
            # src may be larger than index: its unread elements get zero gradient
            full = g_src.new_zeros(tuple(src.shape))
            full[tuple(slice(0, n) for n in index.shape)] = g_src
            g_src = full
        g_x = grad if self.accumulate else grad.scatter(d, index, 0.0)
        return g_x, None, g_src


def _check_scatter_index(name: str, x, index, src, d: int) -> None:
    """PyTorch's rule: index has self's (and a tensor src's) number of dims and is no larger
    than src in any dim, nor than self in the dims other than d (an empty index: any sizes)."""
    shape, src_shape = tuple(index.shape), tuple(getattr(src, "shape", index.shape))
    for what, other in (("self", tuple(x.shape)), ("src", src_shape)):
        if max(len(other), 1) != max(len(shape), 1):
            raise RuntimeError(
                f"{name}(): Index tensor must have the same number of dimensions as {what} "
                f"tensor (index {list(shape)}, {what} {list(other)})"
            )
    if not math.prod(shape) or len(shape) != x.ndim or len(shape) != len(src_shape):
        return
    if any(n > m for n, m in zip(shape, src_shape)) or any(
        k != d and n > m for k, (n, m) in enumerate(zip(shape, x.shape))
    ):
        raise RuntimeError(
            f"{name}(): Expected index {list(shape)} to be no larger than self {list(x.shape)} "
            f"apart from dimension {d} and to be no larger size than src {list(src_shape)}"
        )


scatter = register(Scatter("scatter", False))
scatter_add = register(Scatter("scatter_add", True))


class Matmul(Op):
    """Batched matrix product of >=2-D operands with broadcast batch dims (BLAS)."""

    name = "matmul"
    save = (0, 1)
    writes_out = True
    finishes = True  # plan() takes an epilogue

    def infer(self, a, b):
        if a.shape[-1] != b.shape[-2]:
            hint = " Did you mean b.T?" if a.shape[-1] == b.shape[-1] else ""
            raise RuntimeError(
                f"matmul: mat1 and mat2 shapes cannot be multiplied ({_mat(a.shape)} and "
                f"{_mat(b.shape)}): a.shape[-1]={a.shape[-1]} does not match "
                f"b.shape[-2]={b.shape[-2]}.{hint}"
            )
        if a.dtype is not b.dtype:
            raise RuntimeError(
                f"matmul: expected both operands to have the same dtype, but got {a.dtype} and "
                f"{b.dtype}. Convert one with .to({a.dtype})."
            )
        from .elementwise import broadcast_shapes  # noqa: PLC0415

        batch = broadcast_shapes(a.shape[:-2], b.shape[:-2], op="matmul")
        return Meta(batch + (a.shape[-2], b.shape[-1]), a.dtype)

    def forward(self, meta, a, b, out=None):
        return blas_matmul(a, b, out)

    def plan(self, meta, arrays, params, out, epilogue=None):
        """forward for operands laid out as these, for a traced step's replay (MKL), or None;
        `epilogue` finishes the product in its kernel (matmul_plan)."""
        return matmul_plan(*arrays, epilogue)

    def backward(self, ctx, grad):
        a, b = ctx.inputs
        return grad @ b.mT, a.mT @ grad


def _mat(shape):
    return "x".join(str(n) for n in shape)


matmul = register(Matmul())
