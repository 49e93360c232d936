"""Tensor creation and the torch-level functions that are not Tensor methods."""

from __future__ import annotations

import functools
import math
import numbers
import warnings

import numpy as np

from . import dtypes, jit_guard
from .autograd.grad_mode import is_grad_enabled
from .ops import elementwise as E
from .ops import movement as M
from .ops.reduce import normalize_dim
from .ops.registry import apply
from .tensor import Tensor, _legacy_type_name, _shape_arg, dim_alias, wrap

__all__ = [
    "tensor",
    "as_tensor",
    "from_numpy",
    "asarray",
    "zeros",
    "ones",
    "full",
    "empty",
    "zeros_like",
    "ones_like",
    "full_like",
    "empty_like",
    "arange",
    "linspace",
    "eye",
    "cat",
    "concat",
    "concatenate",
    "stack",
    "hstack",
    "vstack",
    "where",
    "matmul",
    "einsum",
    "is_tensor",
    "numel",
    "broadcast_tensors",
    "meshgrid",
    "tril",
    "triu",
    "scalar_tensor",
    "logspace",
]


def _infer_dtype(data) -> dtypes.dtype:
    """dtype PyTorch gives a tensor built from Python data: bool, int64 or the default float
    for Python numbers, their own dtype for numpy arrays and scalars, promoted together."""
    if isinstance(data, (np.ndarray, np.generic)):
        return dtypes.from_numpy_dtype(data.dtype)
    flat = _flatten(data)
    if any(v is None for v in flat):  # numpy would make None a nan
        raise RuntimeError("tensor: Could not infer dtype of NoneType")
    if any(isinstance(v, Tensor) for v in flat):
        return dtypes.result_type(*[v for v in flat if isinstance(v, Tensor)])
    if not flat:
        return dtypes.get_default_dtype()
    return functools.reduce(dtypes.promote, map(_leaf_dtype, flat))


def _leaf_dtype(value) -> dtypes.dtype:
    if isinstance(value, (np.ndarray, np.generic)):
        return dtypes.from_numpy_dtype(value.dtype)
    if isinstance(value, numbers.Number) and not isinstance(value, numbers.Real):
        return dtypes.get_default_dtype()  # (complex: refused by the array conversion)
    return dtypes.scalar_dtype(value)


def _flatten(data):
    if isinstance(data, (list, tuple)):
        out = []
        for v in data:
            out.extend(_flatten(v))
        return out
    return [data]


def _to_array(data, dtype: dtypes.dtype) -> np.ndarray:
    if isinstance(data, Tensor):
        return np.array(data._data, dtype=dtype.np)
    if isinstance(data, (list, tuple)):
        data = _unpack_tensors(data)
    try:
        return np.array(data, dtype=dtype.np)
    except (ValueError, TypeError) as e:  # PyTorch's classes: ragged -> ValueError, else Type
        cls, why = _bad_data(data) or (type(e), str(e))
        raise cls(f"tensor: could not build a tensor from {type(data).__name__}: {why}") from None


def _bad_data(data, dim: int = 0) -> tuple[type, str] | None:
    """PyTorch's error for nested data that is not a tensor: a non-number leaf (TypeError),
    a scalar among sequences (TypeError) or sequences of different lengths (ValueError)."""
    if not isinstance(data, (list, tuple)):
        if isinstance(data, (numbers.Number, np.generic, np.ndarray)):
            return None
        if data is None:
            return RuntimeError, "Could not infer dtype of NoneType"
        return TypeError, f"invalid data type '{type(data).__name__}'"
    lengths = [len(v) if isinstance(v, (list, tuple, np.ndarray)) else None for v in data]
    if any(n is None for n in lengths) and any(n is not None for n in lengths):
        return TypeError, f"not a sequence: mixes numbers and sequences at dim {dim + 1}"
    for n in lengths[1:]:
        if n != lengths[0]:
            want = f"expected sequence of length {lengths[0]} at dim {dim + 1}"
            return ValueError, f"{want} (got {n})"
    return next((m for m in (_bad_data(v, dim + 1) for v in data) if m), None)


def _unpack_tensors(data):
    if isinstance(data, (list, tuple)):
        return [_unpack_tensors(v) for v in data]
    if isinstance(data, Tensor):
        return data._data
    return data


def tensor(
    data, *, dtype=None, device=None, requires_grad: bool = False, pin_memory: bool = False
) -> Tensor:
    """A new tensor holding a copy of data (nested lists, numbers, arrays, tensors)."""
    from .backend import to_device  # noqa: PLC0415

    if isinstance(data, Tensor):  # a copy through ops, so a trace replays it with new values
        out = data.detach().to(device=device or data.device, dtype=dtype or data.dtype, copy=True)
        return out.requires_grad_() if requires_grad else out
    if isinstance(data, (list, tuple)) and any(isinstance(v, Tensor) for v in _flatten(data)):
        jit_guard.check_host_sync("tensor of tensors")
    device = to_device(device)
    dt = _infer_dtype(data) if dtype is None else dtypes.to_dtype(dtype)
    array = _to_array(data, dt)
    if device.type == "cuda":
        from .backend import cuda  # noqa: PLC0415

        array = cuda.from_host(array)
    t = wrap(array, dt)
    if requires_grad:
        t.requires_grad = True
    return t


def scalar_tensor(value, *, dtype=None, device=None, requires_grad=False) -> Tensor:
    return tensor(value, dtype=dtype or dtypes.get_default_dtype(), requires_grad=requires_grad)


def as_tensor(data, dtype=None, device=None) -> Tensor:
    """Like tensor(), but shares memory with a tensor or ndarray when no conversion is needed."""
    if isinstance(data, Tensor):
        return data if dtype is None else data.to(dtype)
    if isinstance(data, np.ndarray):
        dt = dtypes.from_numpy_dtype(data.dtype) if dtype is None else dtypes.to_dtype(dtype)
        return wrap(data if data.dtype == dt.np else data.astype(dt.np), dt)
    return tensor(data, dtype=dtype, device=device)


asarray = as_tensor


def from_numpy(array: np.ndarray) -> Tensor:
    """A tensor sharing memory with a numpy array (writes show through both ways)."""
    if not isinstance(array, np.ndarray):
        raise TypeError(f"expected np.ndarray (got {type(array).__name__})")
    return wrap(array, dtypes.from_numpy_dtype(array.dtype))


def is_tensor(obj) -> bool:
    return isinstance(obj, Tensor)


def numel(input: Tensor) -> int:
    return input.numel()


def _creation(shape, fill, dtype, requires_grad, device=None):
    from .backend import to_device  # noqa: PLC0415

    device = to_device(device)
    dt = dtypes.get_default_dtype() if dtype is None else dtypes.to_dtype(dtype)
    if device.type == "cuda":  # filled by a kernel on the device
        from .backend import cuda  # noqa: PLC0415

        arr = cuda.empty(shape, dt.np) if fill is None else cuda.full(shape, fill, dt.np)
    else:
        arr = np.empty(shape, dt.np) if fill is None else np.full(shape, fill, dt.np)
    t = wrap(arr, dt)
    if requires_grad:
        t.requires_grad = True
    return t


def zeros(*size, dtype=None, device=None, requires_grad=False, **_) -> Tensor:
    return _creation(_shape_arg(size), 0, dtype, requires_grad, device)


def ones(*size, dtype=None, device=None, requires_grad=False, **_) -> Tensor:
    return _creation(_shape_arg(size), 1, dtype, requires_grad, device)


def empty(*size, dtype=None, device=None, requires_grad=False, **_) -> Tensor:
    return _creation(_shape_arg(size), None, dtype, requires_grad, device)


def full(size, fill_value, *, dtype=None, device=None, requires_grad=False) -> Tensor:
    if dtype is None:
        dtype = dtypes.scalar_dtype(fill_value)
    return _creation(tuple(size), fill_value, dtype, requires_grad, device)


def _like(input, fill, dtype, requires_grad, device=None):
    device = input.device if device is None else device
    return _creation(tuple(input.shape), fill, dtype or input.dtype, requires_grad, device)


def zeros_like(input, *, dtype=None, device=None, requires_grad=False, **_) -> Tensor:
    return _like(input, 0, dtype, requires_grad, device)


def ones_like(input, *, dtype=None, device=None, requires_grad=False, **_) -> Tensor:
    return _like(input, 1, dtype, requires_grad, device)


def empty_like(input, *, dtype=None, device=None, requires_grad=False, **_) -> Tensor:
    return _like(input, None, dtype, requires_grad, device)


def full_like(input, fill_value, *, dtype=None, device=None, requires_grad=False) -> Tensor:
    return _like(input, fill_value, dtype, requires_grad, device)


def arange(start, end=None, step=1, *, dtype=None, device=None, requires_grad=False) -> Tensor:
    """Values from start (default 0) to end, exclusive, by step."""
    if end is None:
        start, end = 0, start
    values = [_num(v) for v in (start, end, step)]
    if step == 0:
        raise RuntimeError("arange: step must be nonzero")
    if dtype is None:
        integral = all(isinstance(v, numbers.Integral) for v in values)
        dtype = dtypes.int64 if integral else dtypes.get_default_dtype()
    dt = dtypes.to_dtype(dtype)
    n = max(math.ceil((values[1] - values[0]) / values[2]), 0)
    arr = (
        (values[0] + np.arange(n, dtype=np.float64) * values[2]).astype(dt.np)
        if dt.is_floating_point
        else np.arange(values[0], values[1], values[2], dtype=dt.np)
    )
    return _placed(arr, dt, device, requires_grad)


def _placed(array: np.ndarray, dt, device, requires_grad: bool) -> Tensor:
    """A tensor of host-computed values on device (copied over for cuda), as creation makes."""
    from .backend import to_device  # noqa: PLC0415

    if to_device(device).type == "cuda":
        from .backend import cuda  # noqa: PLC0415

        array = cuda.from_host(array)
    t = wrap(array, dt)
    if requires_grad:
        t.requires_grad = True
    return t


def _num(v):
    return v.item() if isinstance(v, Tensor) else v


def linspace(start, end, steps: int, *, dtype=None, device=None, requires_grad=False):
    dt = dtypes.get_default_dtype() if dtype is None else dtypes.to_dtype(dtype)
    values = np.linspace(_num(start), _num(end), steps).astype(dt.np)
    return _placed(values, dt, device, requires_grad)


def logspace(start, end, steps: int, base: float = 10.0, *, dtype=None, device=None):
    dt = dtypes.get_default_dtype() if dtype is None else dtypes.to_dtype(dtype)
    return _placed(np.logspace(start, end, steps, base=base).astype(dt.np), dt, device, False)


def eye(n: int, m: int | None = None, *, dtype=None, device=None, requires_grad=False):
    dt = dtypes.get_default_dtype() if dtype is None else dtypes.to_dtype(dtype)
    return _placed(np.eye(n, m, dtype=dt.np), dt, device, requires_grad)


def takes_out(function):
    """torch.f(..., out=t): f's result written into t, as PyTorch's out= variants do."""

    @functools.wraps(function)
    def with_out(*args, out=None, **kwargs):
        result = function(*args, **kwargs)
        return result if out is None else write_out(out, result, function.__name__)

    return with_out


def write_out(out, result, name: str):
    """Copy result (a tensor, or a tuple of them for a tuple out) into out, resizing a tensor
    of another size with PyTorch's warning; returns out."""
    if isinstance(out, (tuple, list)) and isinstance(result, tuple) and len(out) == len(result):
        written = [write_out(o, r, name) for o, r in zip(out, result)]
        return type(result)(*written) if hasattr(result, "_fields") else tuple(written)
    if not isinstance(out, Tensor) or not isinstance(result, Tensor):
        raise TypeError(f"{name}(): argument 'out' must be Tensor, not {type(out).__name__}")
    if is_grad_enabled() and (out.requires_grad or result.requires_grad):
        raise RuntimeError(
            f"{name}(): functions with out=... arguments don't support automatic "
            "differentiation, but one of the arguments requires grad."
        )
    if result.dtype.category > out.dtype.category:
        got, want = (_legacy_type_name(t.dtype).removesuffix("Tensor") for t in (result, out))
        raise RuntimeError(f"result type {got} can't be cast to the desired output type {want}")
    if out.shape == result.shape:
        return out.copy_(result)
    if out.numel():
        warnings.warn(
            f"An output with one or more elements was resized since it had shape "
            f"{list(out.shape)}, which does not match the required output shape "
            f"{list(result.shape)}. This behavior is deprecated, and in a future PyTorch "
            "release outputs will not be resized unless they have zero elements.",
            UserWarning,
            stacklevel=3,
        )
    out.data = result.to(out.dtype)
    return out


@takes_out
@dim_alias
def cat(tensors, dim: int = 0) -> Tensor:
    """Concatenate along an existing dim."""
    tensors = list(tensors)
    if not tensors:
        raise RuntimeError("cat(): expected a non-empty list of Tensors")
    return apply(M.cat, *tensors, dim=dim)


concat = concatenate = cat


@takes_out
@dim_alias
def stack(tensors, dim: int = 0) -> Tensor:
    """Join tensors of equal shape along a new dim."""
    tensors = list(tensors)
    if not tensors:
        raise RuntimeError("stack expects a non-empty TensorList")
    shape = tensors[0].shape
    for i, t in enumerate(tensors):
        if t.shape != shape:
            raise RuntimeError(
                f"stack expects each tensor to be equal size, but got {list(shape)} at entry 0 "
                f"and {list(t.shape)} at entry {i}"
            )
    d = normalize_dim(dim, len(shape) + 1, "stack")
    return cat([t.unsqueeze(d) for t in tensors], d)


def hstack(tensors) -> Tensor:
    tensors = list(tensors)
    return cat(tensors, 0 if tensors[0].ndim == 1 else 1)


def vstack(tensors) -> Tensor:
    return cat([t.reshape(1, -1) if t.ndim == 1 else t for t in tensors], 0)


def where(condition: Tensor, input=None, other=None) -> Tensor:
    """where(cond, a, b) picks elementwise; where(cond) is cond.nonzero(as_tuple=True)."""
    if input is None and other is None:
        return condition.nonzero(as_tuple=True)
    return apply(E.where, condition, input, other)


@takes_out
def matmul(a: Tensor, b: Tensor) -> Tensor:
    """torch.matmul: 1-D operands are promoted to matrices and the added dim removed after."""
    if a.ndim == 0 or b.ndim == 0:
        raise RuntimeError(
            f"matmul: both arguments need at least 1 dimension, but got {a.ndim}D and {b.ndim}D"
        )
    a2 = a.unsqueeze(0) if a.ndim == 1 else a
    b2 = b.unsqueeze(-1) if b.ndim == 1 else b
    out = apply(M.matmul, a2, b2)
    if a.ndim == 1:
        out = out.squeeze(-2)
    if b.ndim == 1:
        out = out.squeeze(-1)
    return out


def einsum(equation: str, *operands) -> Tensor:
    """Einstein summation, PyTorch's equations ("...", implicit output); forward by numpy,
    backward by einsum."""
    if len(operands) == 1 and isinstance(operands[0], (list, tuple)):
        operands = tuple(operands[0])
    from .ops.linalg import einsum_op, spell_ellipsis  # noqa: PLC0415

    equation = spell_ellipsis(equation.replace(" ", ""), [x.ndim for x in operands])
    return apply(einsum_op, *operands, equation=equation)


def broadcast_tensors(*tensors) -> tuple:
    shape = E.broadcast_shapes(*[t.shape for t in tensors], op="broadcast_tensors")
    return tuple(t.expand(shape) for t in tensors)


def meshgrid(*tensors, indexing: str = "ij") -> tuple:
    if len(tensors) == 1 and isinstance(tensors[0], (list, tuple)):
        tensors = tuple(tensors[0])
    n = len(tensors)
    shape = [t.numel() for t in tensors]
    if indexing == "xy" and n >= 2:
        shape[0], shape[1] = shape[1], shape[0]
    out = []
    for i, t in enumerate(tensors):
        view = [1] * n
        pos = i
        if indexing == "xy" and n >= 2 and i < 2:
            pos = 1 - i
        view[pos] = -1
        out.append(t.reshape(view).expand(shape))
    return tuple(out)


def tril(input: Tensor, diagonal: int = 0) -> Tensor:
    rows, cols = input.shape[-2:]
    keep = np.tril(np.ones((rows, cols), bool), diagonal)
    return input.masked_fill(wrap(~keep, dtypes.bool_), 0)


def triu(input: Tensor, diagonal: int = 0) -> Tensor:
    rows, cols = input.shape[-2:]
    keep = np.triu(np.ones((rows, cols), bool), diagonal)
    return input.masked_fill(wrap(~keep, dtypes.bool_), 0)


def _legacy_constructor(cls, args, kwargs):
    """minitorch.Tensor(2, 3) (uninitialised float) or minitorch.Tensor([1, 2]) (data)."""
    if len(args) == 1 and not isinstance(args[0], numbers.Integral):
        if isinstance(args[0], Tensor):
            return args[0]
        return tensor(args[0], dtype=dtypes.get_default_dtype())
    return empty(*args, dtype=kwargs.get("dtype"))
