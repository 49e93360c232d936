"""Tensor: a device array plus autograd fields; methods forward to registered ops.

The array is a numpy ndarray on the CPU (it carries shape, strides and offset itself).
View ops return tensors sharing that storage and its version counter.
"""

from __future__ import annotations

import builtins
import functools
import math
import numbers
import warnings
from collections import namedtuple

import numpy as np

from . import dtypes, jit_guard
from .autograd import engine
from .autograd.grad_mode import no_grad, state
from .backend import Device, device_of, to_device
from .ops import elementwise as E
from .ops import movement as M
from .ops import reduce as R
from .ops import special as S
from .ops.registry import apply

__all__ = ["Tensor", "wrap"]

_VIEW_OPS = (M.view, M.reshape, M.permute, M.expand, M.getitem)
_return_types = {}


def _named(name, fields):
    if name not in _return_types:
        _return_types[name] = namedtuple(name, fields)
    return _return_types[name]


def wrap(array: np.ndarray, dtype: dtypes.dtype) -> Tensor:
    """Make a Tensor around an array without copying (no autograd history)."""
    t = object.__new__(Tensor)
    t._data = array
    t.dtype = dtype
    t._version_counter = [0]
    if jit_guard.capture[0] is not None:  # a trace tells tensors the step made from older ones
        jit_guard.capture[0].on_new_tensor(t)
    return t


def _view_result(op, x, *args, **params):
    """Apply a movement op; when the result shares x's storage it shares its version too."""
    out = apply(op, x, *args, **params)
    if _shares_memory(out._data, x._data):
        out._version_counter = x._version_counter
        out._base = x._base if x._base is not None else x
        # how to make this view from its base again (in-place autograd through views)
        out._view_chain = (x._view_chain if x._base is not None else ()) + ((op, params),)
    return out


def _shares_memory(a, b) -> bool:
    if isinstance(a, np.ndarray) and isinstance(b, np.ndarray):
        return np.may_share_memory(a, b)
    from .backend import cuda  # noqa: PLC0415

    return cuda.is_device_array(a) and cuda.is_device_array(b) and cuda.shares_memory(a, b)


def _host(array) -> np.ndarray:
    """The array itself on the CPU; a host copy of a cuda array (for item, tolist, print)."""
    if isinstance(array, np.ndarray):
        return array
    from .backend import cuda  # noqa: PLC0415

    return cuda.to_host(array)


def _copy(array):
    """A contiguous copy on the array's own device."""
    if isinstance(array, np.ndarray):
        return array.copy()
    from .backend import cuda  # noqa: PLC0415

    return cuda.copy(array)


def _shape_arg(shape) -> tuple:
    if len(shape) == 1 and isinstance(shape[0], (tuple, list, Size)):
        return tuple(shape[0])
    return tuple(shape)


class Size(tuple):
    """torch.Size: a tuple of ints with numel()."""

    def numel(self) -> int:
        return math.prod(self)

    def __repr__(self) -> str:
        return f"minitorch.Size({list(self)})"

    def __getitem__(self, index):
        got = super().__getitem__(index)
        return Size(got) if isinstance(index, slice) else got


class _HookHandle:
    def __init__(self, hooks: dict, hook, tensor):
        """Add hook to a tensor's table of hooks, under a key of its own."""
        self.hooks, self.key = hooks, object()
        hooks[self.key] = hook
        jit_guard.hook_registered(hooks, self.key, tensor)

    def remove(self):
        self.hooks.pop(self.key, None)
        jit_guard.hooks_changed()


class Tensor:
    """An n-dimensional array with autograd. Create with minitorch.tensor(...), zeros, ..."""

    # class-level defaults keep construction cheap (only _data, dtype, _version_counter are set)
    _grad = None
    grad_fn = None
    _requires_grad = False
    _hooks = None
    _post_accumulate_hooks = None
    _base = None
    _view_chain = ()
    _retains_grad = False
    __array_priority__ = 1000  # numpy scalars defer to Tensor's reflected operators

    def __new__(cls, *args, **kwargs):
        from .functional import _legacy_constructor  # noqa: PLC0415

        return _legacy_constructor(cls, args, kwargs)

    # ---- basic properties --------------------------------------------------------------------
    @property
    def grad(self) -> Tensor | None:
        """The gradient backward accumulated into this tensor (None until one reaches it)."""
        if self._grad is not None and jit_guard.capture[0] is not None:
            jit_guard.capture[0].on_grad_read(self, self._grad)  # (p.grad.zero_() in a step)
        return self._grad

    @grad.setter
    def grad(self, value: Tensor | None) -> None:
        # NOTE: reported to an active trace (as autograd's own assignments are), so a step that
        # zeroes gradients itself (p.grad = None) replays that instead of guarding on them
        self._grad = value
        if jit_guard.capture[0] is not None:
            jit_guard.capture[0].on_set_grad(self, value)

    @property
    def shape(self) -> Size:
        return Size(self._data.shape)

    def size(self, dim: int | None = None):
        if dim is None:
            return Size(self._data.shape)
        return self._data.shape[R.normalize_dim(dim, self.ndim, "size")]

    @property
    def ndim(self) -> int:
        return self._data.ndim

    def dim(self) -> int:
        return self._data.ndim

    ndimension = dim

    def numel(self) -> int:
        return self._data.size

    nelement = numel

    def element_size(self) -> int:
        return self.dtype.itemsize

    @property
    def itemsize(self) -> int:
        return self.dtype.itemsize

    @property
    def nbytes(self) -> int:
        """numel() * itemsize, as PyTorch's (an expanded view counts every element)."""
        return self.numel() * self.dtype.itemsize

    @property
    def device(self) -> Device:
        return device_of(self._data)

    @property
    def is_cuda(self) -> bool:
        return not isinstance(self._data, np.ndarray)

    @property
    def is_leaf(self) -> bool:
        return self.grad_fn is None

    @property
    def requires_grad(self) -> bool:
        return self._requires_grad

    @requires_grad.setter
    def requires_grad(self, value: bool) -> None:
        if value and not self.dtype.is_floating_point:
            raise RuntimeError(
                f"only Tensors of floating point dtype can require gradients; got {self.dtype}"
            )
        if not value and self.grad_fn is not None:
            raise RuntimeError(
                "you can only change requires_grad flags of leaf variables. If you want to use "
                "a computed variable in a subgraph that doesn't require differentiation use "
                "var_no_grad = var.detach()."
            )
        self._requires_grad = bool(value)
        if jit_guard.capture[0] is not None:  # (on a step's argument: replayed)
            jit_guard.capture[0].on_set_flags(self, Tensor.requires_grad_, (bool(value),))

    def requires_grad_(self, requires_grad: bool = True) -> Tensor:
        self.requires_grad = requires_grad
        return self

    @property
    def data(self) -> Tensor:
        out = wrap(self._data, self.dtype)
        if jit_guard.capture[0] is not None:
            jit_guard.capture[0].on_alias(out, self)
        return out

    @data.setter
    def data(self, other: Tensor) -> None:
        if jit_guard.capture[0] is not None:
            jit_guard.capture[0].on_data_set(self, other)
        self._data = other._data
        self.dtype = other.dtype

    @property
    def _version(self) -> int:
        """How many times this tensor was written in place (PyTorch's read-only int). Views,
        detach() and Parameters share their base's counter (_version_counter, a one-item list
        that in-place writes bump), so a write through any of them counts for all."""
        return self._version_counter[0]

    # NOTE: flags["C_CONTIGUOUS"], not flags.c_contiguous: numba's DeviceNDArray has a dict
    @property
    def is_contiguous_(self) -> bool:
        return self._data.flags["C_CONTIGUOUS"]

    def is_contiguous(self) -> bool:
        return self._data.flags["C_CONTIGUOUS"]

    def is_floating_point(self) -> bool:
        return self.dtype.is_floating_point

    def stride(self, dim: int | None = None):
        strides = tuple(s // self.dtype.itemsize for s in self._data.strides)
        return strides if dim is None else strides[R.normalize_dim(dim, self.ndim, "stride")]

    def storage_offset(self) -> int:
        base = self._base._data if self._base is not None else self._data
        start = self._data.__array_interface__["data"][0]
        return (start - base.__array_interface__["data"][0]) // self.dtype.itemsize

    def data_ptr(self) -> int:
        return self._data.__array_interface__["data"][0]

    def __len__(self) -> int:
        if self.ndim == 0:
            raise TypeError("len() of a 0-d tensor")
        return self._data.shape[0]

    def __iter__(self):
        if self.ndim == 0:
            raise TypeError("iteration over a 0-d tensor")
        return (self[i] for i in range(self._data.shape[0]))

    # NOTE: object's own (by identity), not a Python method returning id(self): tensors key
    # optimizer state and guard tables, and a Python __hash__ cost ~0.15 us per lookup
    __hash__ = object.__hash__

    def __repr__(self) -> str:
        from .printing import tensor_repr  # noqa: PLC0415

        jit_guard.check_host_sync("repr")  # print(t), str(t), f"{t}": the values as text
        return tensor_repr(self)

    __str__ = __repr__

    def __format__(self, spec: str) -> str:
        jit_guard.check_host_sync("repr")
        if self.ndim == 0:
            return format(self.item(), spec)
        return repr(self)

    def __reduce_ex__(self, protocol):
        jit_guard.check_host_sync("pickle")
        return (_rebuild, (np.array(self._data), self.dtype.name, self.requires_grad))

    def __deepcopy__(self, memo):
        """copy.deepcopy: a new leaf holding a copy of the values, requires_grad kept. A clone,
        which a trace records: each replay copies its own call's values, not the traced one's."""
        if id(self) not in memo:
            memo[id(self)] = self.detach().clone().requires_grad_(self.requires_grad)
        return memo[id(self)]

    def __copy__(self):
        return self.__deepcopy__({})  # (a tensor's values are all it holds)

    # ---- conversion ----------------------------------------------------------------------------
    def numpy(self, *, force: bool = False) -> np.ndarray:
        from .jit_guard import check_host_sync  # noqa: PLC0415

        check_host_sync("numpy")
        if self.is_cuda:
            _refuse_numpy(self)
        if self.requires_grad and not force:
            raise RuntimeError(
                "Can't call numpy() on Tensor that requires grad. Use tensor.detach().numpy() "
                "instead."
            )
        return self._data

    def __array__(self, dtype=None, copy=None):
        from .jit_guard import check_host_sync  # noqa: PLC0415

        check_host_sync("__array__")  # np.asarray(t), np.mean(t), ...: numpy reads the values
        if self.is_cuda:
            _refuse_numpy(self)
        a = self._data
        return a if dtype is None else a.astype(dtype)

    def tolist(self):
        from .jit_guard import check_host_sync  # noqa: PLC0415

        check_host_sync("tolist")
        return _host(self._data).tolist()

    def item(self):
        from .jit_guard import check_host_sync  # noqa: PLC0415

        check_host_sync("item")
        if self._data.size != 1:
            raise RuntimeError(
                f"a Tensor with {self._data.size} elements cannot be converted to Scalar; "
                "use .tolist() for all values, or index one element first"
            )
        return _host(self._data).reshape(()).item()

    def __bool__(self) -> bool:
        from .jit_guard import check_host_sync  # noqa: PLC0415

        check_host_sync("bool")
        if self._data.size != 1:
            raise RuntimeError(
                f"Boolean value of Tensor with more than one value is ambiguous (shape "
                f"{tuple(self.shape)}); use .any() or .all()"
            )
        return bool(_host(self._data).reshape(()))

    def __float__(self):
        jit_guard.check_host_sync("float")
        return float(self.item())

    def __int__(self):
        jit_guard.check_host_sync("int")
        return int(self.item())

    def __index__(self):
        if self.dtype.is_floating_point or self.numel() != 1:
            raise TypeError("only integer tensors of a single element can be converted to an index")
        return int(self.item())

    def to(self, *args, **kwargs) -> Tensor:
        """to(dtype) / to(device) / to(device, dtype) / to(other): a converted tensor."""
        dtype, device = kwargs.get("dtype"), kwargs.get("device")
        copy = kwargs.get("copy", False)
        for a in args:
            if isinstance(a, Tensor):
                dtype, device = a.dtype, a.device
            elif isinstance(a, (dtypes.dtype, type)) or (isinstance(a, np.dtype)):
                dtype = a
            else:
                device = a
        out = self
        if device is not None:
            device = to_device(device)
            if device != self.device:
                out = _to_device(self, device)
        if dtype is not None:
            dtype = dtypes.to_dtype(dtype)
            if dtype is not self.dtype:
                out = apply(E.cast, self, dtype=dtype)
        if copy and out is self:
            out = self.clone()
        return out

    def type(self, dtype=None):
        if dtype is None:  # PyTorch's names: scripts compare them with "torch.FloatTensor"
            device = "cuda." if self.device.type == "cuda" else ""
            return f"torch.{device}{_legacy_type_name(self.dtype)}"
        if isinstance(dtype, str):
            dtype = _type_from_name(dtype)
        return self.to(getattr(dtype, "dtype", dtype))  # (torch.FloatTensor: its dtype)

    def cpu(self) -> Tensor:
        return self.to("cpu")

    def cuda(self, device=None) -> Tensor:
        return self.to("cuda" if device is None else device)

    def float(self) -> Tensor:
        return self.to(dtypes.float32)

    def double(self) -> Tensor:
        return self.to(dtypes.float64)

    def half(self) -> Tensor:
        return self.to(dtypes.float16)

    def bfloat16(self) -> Tensor:
        return self.to(dtypes.bfloat16)  # (raises: numpy has no bfloat16; see dtypes.to_dtype)

    def long(self) -> Tensor:
        return self.to(dtypes.int64)

    def int(self) -> Tensor:
        return self.to(dtypes.int32)

    def short(self) -> Tensor:
        return self.to(dtypes.int16)

    def bool(self) -> Tensor:
        return self.to(dtypes.bool_)

    def byte(self) -> Tensor:
        return self.to(dtypes.uint8)

    def clone(self, *, memory_format=None) -> Tensor:
        return apply(M.clone, self)

    def detach(self) -> Tensor:
        out = wrap(self._data, self.dtype)
        out._version_counter = self._version_counter
        if jit_guard.capture[0] is not None:
            jit_guard.capture[0].on_alias(out, self)
        return out

    def detach_(self) -> Tensor:
        self.grad_fn = None
        self._requires_grad = False
        if jit_guard.capture[0] is not None:  # (on a step's argument: replayed)
            jit_guard.capture[0].on_set_flags(self, Tensor.detach_, ())
        return self

    def contiguous(self, memory_format=None) -> Tensor:
        return self if self._data.flags["C_CONTIGUOUS"] else apply(M.contiguous, self)

    # ---- autograd ------------------------------------------------------------------------------
    def backward(self, gradient=None, retain_graph=None, create_graph=False, inputs=None):
        """Accumulate d(self)/d(leaf) into every leaf's .grad (see minitorch.autograd)."""
        from .autograd import backward  # noqa: PLC0415

        backward(self, gradient, retain_graph, create_graph, inputs=inputs)

    def register_hook(self, hook):
        """Call hook(grad) when this tensor's gradient is computed; it may return a new grad."""
        if not self.requires_grad:
            raise RuntimeError("cannot register a hook on a tensor that doesn't require gradient")
        if self._hooks is None:
            self._hooks = {}
            if self.grad_fn is not None:
                self.grad_fn.hooks = self._hooks
        return _HookHandle(self._hooks, hook, self)

    def register_post_accumulate_grad_hook(self, hook):
        """Call hook(self) after a backward has accumulated this leaf's gradient into .grad
        (an optimizer stepping each parameter as soon as its gradient is ready)."""
        if not self.requires_grad:
            raise RuntimeError("cannot register a hook on a tensor that doesn't require gradient")
        if self.grad_fn is not None:
            raise RuntimeError(
                "post accumulate grad hooks cannot be registered on non-leaf tensors"
            )
        if self._post_accumulate_hooks is None:
            self._post_accumulate_hooks = {}
        return _HookHandle(self._post_accumulate_hooks, hook, self)

    def retain_grad(self) -> None:
        if self.grad_fn is None or self._retains_grad:
            return
        import weakref  # noqa: PLC0415

        ref = weakref.ref(self)

        def keep(grad):
            t = ref()
            if t is not None:
                t.grad = grad.detach() if t.grad is None else t.grad + grad.detach()

        self._retains_grad = True
        self.register_hook(keep)

    @property
    def retains_grad(self) -> bool:
        return self._retains_grad

    def sum_to_size(self, *shape) -> Tensor:
        """Sum broadcast dims away so the result has `shape` (used for gradients)."""
        shape = _shape_arg(shape)
        lead = self.ndim - len(shape)
        dims = tuple(range(lead)) + tuple(
            lead + i for i, n in enumerate(shape) if n == 1 and self.shape[lead + i] != 1
        )
        out = self.sum(dim=dims, keepdim=True) if dims else self
        return out.reshape(shape) if out.shape != shape else out

    # ---- in-place machinery --------------------------------------------------------------------
    def _shell(self, copy: bool = False) -> Tensor:
        """Another Tensor object for this tensor's current value and history."""
        if copy and jit_guard.capture[0] is not None:  # a copy a trace must make again
            t = apply(M.clone, self.detach())
        else:
            t = wrap(_copy(self._data) if copy else self._data, self.dtype)
        if not copy:
            t._version_counter = self._version_counter
        t.grad_fn = self.grad_fn
        t._requires_grad = self._requires_grad
        return t

    def _inplace(self, fn, *args, **kwargs) -> Tensor:
        """Compute fn(self, *args) out of place, write it into self, and take over its history."""
        tracking = state.enabled and (
            self._requires_grad or any(getattr(a, "requires_grad", False) for a in args)
        )
        if tracking:
            _check_inplace_allowed(self)
        # NOTE: the input is a copy, so a backward rule that saved it (mul_ saves self for
        # other's gradient) still sees the value from before the write, as PyTorch's
        # "original self" does.
        src = self._shell(copy=True) if tracking else self
        result = fn(src, *args, **kwargs)
        if result.shape != self.shape:
            raise RuntimeError(
                f"output with shape {list(self.shape)} doesn't match the broadcast shape "
                f"{list(result.shape)}"
            )
        if result.dtype is not self.dtype and (result.dtype.category > self.dtype.category):
            raise RuntimeError(
                f"result type {result.dtype} can't be cast to the desired output type "
                f"{self.dtype} of this in-place op; convert first (x = x.to({result.dtype})) "
                "or use the out-of-place op"
            )
        self._write(result._data)
        if tracking:
            if result.grad_fn is not None:
                _rebase(self, result)
                if self._base is not None:
                    _rebase_base(self)
            else:  # overwritten by a constant: no history left
                self.grad_fn, self._requires_grad = None, False
        return self

    def _write(self, array) -> None:
        if isinstance(self._data, np.ndarray):
            _copy_into(self._data, array)
        else:  # a cuda tensor: a copy kernel on the device
            from .backend import cuda  # noqa: PLC0415

            cuda.write(self._data, array)
        self._version_counter[0] += 1
        if jit_guard.capture[0] is not None:
            jit_guard.wrote(self, array)

    # ---- shape and views -----------------------------------------------------------------------
    def view(self, *shape) -> Tensor:
        if len(shape) == 1 and isinstance(shape[0], (dtypes.dtype, type, np.dtype)):
            return self._view_dtype(dtypes.to_dtype(shape[0]))
        return _view_result(M.view, self, shape=_shape_arg(shape))

    def _view_dtype(self, dtype) -> Tensor:
        jit_guard.check_host_sync("view dtype")
        out = wrap(self._data.view(dtype.np), dtype)
        out._version_counter = self._version_counter
        return out

    def view_as(self, other: Tensor) -> Tensor:
        return self.view(other.shape)

    def reshape(self, *shape) -> Tensor:
        shape = _shape_arg(shape)
        if shape == self._data.shape:
            return self
        return _view_result(M.reshape, self, shape=shape)

    def reshape_as(self, other: Tensor) -> Tensor:
        return self.reshape(other.shape)

    def ravel(self) -> Tensor:
        return self.reshape(-1)

    def flatten(self, start_dim: int = 0, end_dim: int = -1) -> Tensor:
        if self.ndim == 0:
            return self.reshape(1)
        s = R.normalize_dim(start_dim, self.ndim, "flatten")
        e = R.normalize_dim(end_dim, self.ndim, "flatten")
        if s > e:
            raise RuntimeError("flatten() has invalid args: start_dim cannot come after end_dim")
        shape = self.shape
        return self.reshape(shape[:s] + (math.prod(shape[s : e + 1]),) + shape[e + 1 :])

    def unflatten(self, dim: int, sizes) -> Tensor:
        d = R.normalize_dim(dim, self.ndim, "unflatten")
        sizes = tuple(sizes)
        if -1 in sizes:
            known = math.prod(s for s in sizes if s != -1)
            sizes = tuple(self.shape[d] // known if s == -1 else s for s in sizes)
        if math.prod(sizes) != self.shape[d]:
            raise RuntimeError(
                f"unflatten: Provided sizes {list(sizes)} don't multiply up to the size of dim "
                f"{dim} ({self.shape[d]}) in the input tensor"
            )
        return self.view(self.shape[:d] + sizes + self.shape[d + 1 :])

    def permute(self, *dims) -> Tensor:
        return _view_result(M.permute, self, dims=_shape_arg(dims))

    def transpose(self, dim0: int, dim1: int) -> Tensor:
        if self.ndim == 0:
            return self
        d0 = R.normalize_dim(dim0, self.ndim, "transpose")
        d1 = R.normalize_dim(dim1, self.ndim, "transpose")
        dims = list(range(self.ndim))
        dims[d0], dims[d1] = dims[d1], dims[d0]
        return self.permute(*dims)

    swapaxes = transpose
    swapdims = transpose

    def t(self) -> Tensor:
        if self.ndim > 2:
            raise RuntimeError(
                f"t() expects a tensor with <= 2 dimensions, but self is {self.ndim}D"
            )
        return self.transpose(0, 1) if self.ndim == 2 else self

    @property
    def T(self) -> Tensor:
        return self.permute(*reversed(range(self.ndim)))

    @property
    def mT(self) -> Tensor:
        if self.ndim < 2:
            raise RuntimeError(
                f"tensor.mT is only supported on matrices or batches of matrices. "
                f"Got {self.ndim}-D tensor."
            )
        return self.transpose(-2, -1)

    def squeeze(self, dim=None) -> Tensor:
        if dim is None:
            shape = tuple(n for n in self.shape if n != 1)
        else:
            dims = R.normalize_dims(dim, self.ndim, "squeeze") if self.ndim else ()
            shape = tuple(n for i, n in enumerate(self.shape) if not (i in dims and n == 1))
        return self.reshape(shape)

    def unsqueeze(self, dim: int) -> Tensor:
        d = R.normalize_dim(dim, self.ndim + 1, "unsqueeze")
        shape = self.shape
        return self.reshape(shape[:d] + (1,) + shape[d:])

    def expand(self, *shape) -> Tensor:
        shape = _shape_arg(shape)
        if shape == self._data.shape:
            return self
        return _view_result(M.expand, self, shape=shape)

    def expand_as(self, other: Tensor) -> Tensor:
        return self.expand(other.shape)

    def broadcast_to(self, shape) -> Tensor:
        return self.expand(tuple(shape))

    def repeat(self, *sizes) -> Tensor:
        sizes = _shape_arg(sizes)
        if len(sizes) < self.ndim:
            raise RuntimeError(
                "Number of dimensions of repeat dims can not be smaller than number of "
                "dimensions of tensor"
            )
        x = self.reshape((1,) * (len(sizes) - self.ndim) + tuple(self.shape))
        # interleave a new size-r dim before each dim, expand it, and merge: no Python loop
        inter = []
        for n in x.shape:
            inter += [1, n]
        big = []
        for r, n in zip(sizes, x.shape):
            big += [r, n]
        out = x.reshape(inter).expand(big)
        return out.reshape([r * n for r, n in zip(sizes, x.shape)])

    def tile(self, *dims) -> Tensor:
        dims = _shape_arg(dims)
        dims = (1,) * (self.ndim - len(dims)) + dims
        return self.repeat(*dims)

    def narrow(self, dim: int, start: int, length: int) -> Tensor:
        d = R.normalize_dim(dim, self.ndim, "narrow")
        if start < 0:
            start += self.shape[d]
        if not (0 <= start and start + length <= self.shape[d]):
            raise RuntimeError(
                f"narrow: start ({start}) + length ({length}) exceeds dimension size "
                f"({self.shape[d]})."
            )
        index = (slice(None),) * d + (slice(start, start + length),)
        return self[index]

    def split(self, split_size_or_sections, dim: int = 0):
        d = R.normalize_dim(dim, self.ndim, "split")
        n = self.shape[d]
        if isinstance(split_size_or_sections, int):
            step = split_size_or_sections
            if step <= 0 and n:
                raise RuntimeError(
                    f"split: split_size can only be 0 if dimension size is 0, "
                    f"but got split_size={step} for dimension {d} of size {n}"
                )
            sizes = [min(step, n - i) for i in range(0, n, step)] if n else [0]
        else:
            sizes = list(split_size_or_sections)
            if sum(sizes) != n:
                raise RuntimeError(
                    f"split_with_sizes expects split_sizes to sum exactly to {n} (input tensor's "
                    f"size at dimension {d}), but got split_sizes={sizes}"
                )
        out, start = [], 0
        for s in sizes:
            out.append(self.narrow(d, start, s))
            start += s
        return tuple(out)

    def chunk(self, chunks: int, dim: int = 0):
        d = R.normalize_dim(dim, self.ndim, "chunk")
        step = -(-self.shape[d] // chunks) if self.shape[d] else 1
        return self.split(max(step, 1), d)

    def unbind(self, dim: int = 0):
        d = R.normalize_dim(dim, self.ndim, "unbind")
        return tuple(self.select(d, i) for i in range(self.shape[d]))

    def select(self, dim: int, index: int) -> Tensor:
        d = R.normalize_dim(dim, self.ndim, "select")
        return self[(slice(None),) * d + (index,)]

    def flip(self, *dims) -> Tensor:
        dims = _shape_arg(dims)
        dims = tuple(R.normalize_dim(d, self.ndim, "flip") for d in dims)
        return apply(M.flip, self, dims=dims)

    def fliplr(self) -> Tensor:
        if self.ndim < 2:
            raise RuntimeError("fliplr: Input must be >= 2-d.")
        return self.flip(1)

    def flipud(self) -> Tensor:
        if self.ndim < 1:
            raise RuntimeError("flipud: Input must be >= 1-d.")
        return self.flip(0)

    def movedim(self, source, destination) -> Tensor:
        """The dims `source` moved to positions `destination`, the others kept in order."""
        source = (source,) if isinstance(source, int) else tuple(source)
        destination = (destination,) if isinstance(destination, int) else tuple(destination)
        if len(source) != len(destination):
            raise RuntimeError(
                f"movedim: Invalid source or destination dims: source ({list(source)} dims) "
                f"should contain the same number of dims as destination ({list(destination)} "
                "dims)"
            )
        src = [R.normalize_dim(d, self.ndim, "movedim") for d in source]
        dst = [R.normalize_dim(d, self.ndim, "movedim") for d in destination]
        if len(set(src)) < len(src) or len(set(dst)) < len(dst):
            raise RuntimeError("movedim: repeated dim in `source` or `destination`")
        rest = iter(d for d in range(self.ndim) if d not in src)
        moved = dict(zip(dst, src))
        return self.permute(*[moved[k] if k in moved else next(rest) for k in range(self.ndim)])

    moveaxis = movedim

    def diagonal(self, offset: int = 0, dim1: int = 0, dim2: int = 1) -> Tensor:
        """The elements (i, i + offset) of dims dim1 and dim2 as the last dim: a view."""
        d1 = R.normalize_dim(dim1, self.ndim, "diagonal")
        d2 = R.normalize_dim(dim2, self.ndim, "diagonal")
        if d1 == d2:
            raise RuntimeError(f"diagonal dimensions cannot be identical {dim1}, {dim2}")
        # NOTE: the two dims, moved last, merge into one dim of a view when their strides
        # allow (a contiguous tensor's do, in one order or the other: diagonal (d1, d2, k) is
        # diagonal (d2, d1, -k)); the diagonal is then a strided slice of it, so in-place
        # writes reach self. Other layouts get a copy.
        for rows, cols, k in ((d1, d2, offset), (d2, d1, -offset)):
            square = self.movedim((rows, cols), (-2, -1))
            n, m = square.shape[-2:]
            row_stride, col_stride = square._data.strides[-2:]
            if row_stride == m * col_stride or n <= 1:
                start = k if k >= 0 else -k * m
                count = _diagonal_length(n, m, k)
                flat = square.reshape(square.shape[:-2] + (n * m,))
                stop = start + (count - 1) * (m + 1) + 1 if count else start
                return flat[..., start : stop : m + 1] if count else flat[..., :0]
        i = np.arange(_diagonal_length(self.shape[d1], self.shape[d2], offset)) + max(0, -offset)
        square = self.movedim((d1, d2), (-2, -1))
        return square[
            ...,
            self.new_tensor(i, dtype=dtypes.int64),
            self.new_tensor(i + offset, dtype=dtypes.int64),
        ]

    def diag(self, diagonal: int = 0) -> Tensor:
        """A 1-D tensor's matrix with it on a diagonal; a matrix's diagonal (a copy)."""
        if self.ndim == 2:
            return self.diagonal(diagonal).clone()
        if self.ndim != 1:
            raise RuntimeError(f"diag(): Supports 1D or 2D tensors. Got {self.ndim}D")
        n = self.shape[0] + builtins.abs(diagonal)
        rows = np.arange(self.shape[0]) + builtins.max(0, -diagonal)
        index = (
            self.new_tensor(rows, dtype=dtypes.int64),
            self.new_tensor(rows + diagonal, dtype=dtypes.int64),
        )
        return self.new_zeros((n, n)).index_put(index, self)

    def trace(self) -> Tensor:
        if self.ndim != 2:
            raise RuntimeError(f"trace: expected a matrix, but got tensor with dim {self.ndim}")
        return self.diagonal().sum()

    def tril(self, diagonal: int = 0) -> Tensor:
        from .functional import tril  # noqa: PLC0415

        return tril(self, diagonal)

    def triu(self, diagonal: int = 0) -> Tensor:
        from .functional import triu  # noqa: PLC0415

        return triu(self, diagonal)

    # ---- defined in arranging.py, numeric.py and indexing.py -----------------------------------
    def tensor_split(self, indices_or_sections, dim: int = 0):
        from .arranging import tensor_split  # noqa: PLC0415

        return tensor_split(self, indices_or_sections, dim)

    def hsplit(self, indices_or_sections):
        from .arranging import hsplit  # noqa: PLC0415

        return hsplit(self, indices_or_sections)

    def vsplit(self, indices_or_sections):
        from .arranging import vsplit  # noqa: PLC0415

        return vsplit(self, indices_or_sections)

    def dsplit(self, indices_or_sections):
        from .arranging import dsplit  # noqa: PLC0415

        return dsplit(self, indices_or_sections)

    def diag_embed(self, offset: int = 0, dim1: int = -2, dim2: int = -1) -> Tensor:
        from .arranging import diag_embed  # noqa: PLC0415

        return diag_embed(self, offset, dim1, dim2)

    def diagflat(self, offset: int = 0) -> Tensor:
        from .arranging import diagflat  # noqa: PLC0415

        return diagflat(self, offset)

    def rot90(self, k: int = 1, dims=(0, 1)) -> Tensor:
        from .arranging import rot90  # noqa: PLC0415

        return rot90(self, k, dims)

    def msort(self) -> Tensor:
        return self.sort(dim=0).values

    def inner(self, other: Tensor) -> Tensor:
        from .numeric import inner  # noqa: PLC0415

        return inner(self, other)

    def cross(self, other: Tensor, dim=None) -> Tensor:
        from .numeric import cross  # noqa: PLC0415

        return cross(self, other, dim)

    def copysign(self, other) -> Tensor:
        from .numeric import copysign  # noqa: PLC0415

        return copysign(self, other)

    def heaviside(self, values: Tensor) -> Tensor:
        from .numeric import heaviside  # noqa: PLC0415

        return heaviside(self, values)

    def logaddexp2(self, other) -> Tensor:
        from .numeric import logaddexp2  # noqa: PLC0415

        return logaddexp2(self, other)

    def cov(self, *, correction: int = 1, fweights=None, aweights=None) -> Tensor:
        from .numeric import cov  # noqa: PLC0415

        return cov(self, correction=correction, fweights=fweights, aweights=aweights)

    def corrcoef(self) -> Tensor:
        from .numeric import corrcoef  # noqa: PLC0415

        return corrcoef(self)

    def unique_consecutive(self, return_inverse=False, return_counts=False, dim=None):
        from .numeric import unique_consecutive  # noqa: PLC0415

        return unique_consecutive(self, return_inverse, return_counts, dim)

    def scatter_reduce(
        self, dim: int, index: Tensor, src: Tensor, reduce: str, *, include_self=True
    ):
        from .indexing import scatter_reduce  # noqa: PLC0415

        return scatter_reduce(self, dim, index, src, reduce, include_self)

    def scatter_reduce_(
        self, dim: int, index: Tensor, src: Tensor, reduce: str, *, include_self=True
    ):
        return self._inplace(
            lambda s, i, v: s.scatter_reduce(dim, i, v, reduce, include_self=include_self),
            index,
            src,
        )

    def type_as(self, other: Tensor) -> Tensor:
        return self.to(other.dtype)

    def repeat_interleave(self, repeats=None, dim=None, *, output_size=None) -> Tensor:
        """Each element repeated `repeats` times along dim (over the flattened tensor if dim is
        None); repeats: a number or one count per element. Called on a tensor of counts
        alone, the indices repeated by those counts."""
        if repeats is None:  # torch.repeat_interleave(counts)
            counts = self.numpy(force=True)
            return self.new_tensor(np.repeat(np.arange(len(counts)), counts), dtype=dtypes.int64)
        x = self.flatten() if dim is None else self
        d = 0 if dim is None else R.normalize_dim(dim, x.ndim, "repeat_interleave")
        if isinstance(repeats, Tensor) and repeats.numel() == 1:
            repeats = int(repeats.item())
        if isinstance(repeats, int):
            if repeats < 0:
                raise RuntimeError("repeat_interleave: repeats can not be negative")
            wide = list(x.shape[: d + 1]) + [repeats] + list(x.shape[d + 1 :])
            merged = list(x.shape[:d]) + [x.shape[d] * repeats] + list(x.shape[d + 1 :])
            return x.unsqueeze(d + 1).expand(wide).reshape(merged)
        counts = repeats.numpy(force=True) if isinstance(repeats, Tensor) else np.asarray(repeats)
        if counts.shape != (x.shape[d],):
            raise RuntimeError(
                f"repeat_interleave: repeats must have the same size as input along dim, but "
                f"got repeats.size(0) = {counts.size} and input.size({d}) = {x.shape[d]}"
            )
        index = self.new_tensor(np.repeat(np.arange(x.shape[d]), counts), dtype=dtypes.int64)
        return x.index_select(d, index)

    def take_along_dim(self, indices: Tensor, dim=None) -> Tensor:
        """gather with indices broadcast against self (over the flattened tensor if dim is None)."""
        if dim is None:
            return self.flatten().gather(0, indices.flatten())
        d = R.normalize_dim(dim, self.ndim, "take_along_dim")
        if indices.ndim != self.ndim:
            raise RuntimeError(
                f"torch.take_along_dim(): input and indices should have the same number of "
                f"dimensions, but got {self.ndim} dimensions for input, and {indices.ndim} "
                "dimensions for indices"
            )
        shape = [builtins.max(a, b) for a, b in zip(self.shape, indices.shape)]
        x_shape, i_shape = list(shape), list(shape)
        x_shape[d], i_shape[d] = self.shape[d], indices.shape[d]
        return self.expand(x_shape).gather(d, indices.expand(i_shape))

    def roll(self, shifts, dims=None) -> Tensor:
        if dims is None:
            return self.flatten().roll(shifts, 0).view(self.shape)
        shifts = (shifts,) if isinstance(shifts, int) else tuple(shifts)
        dims = (dims,) if isinstance(dims, int) else tuple(dims)
        out = self
        for s, d in zip(shifts, dims):
            n = out.shape[d]
            if n == 0:
                continue
            s %= n
            if s:
                out = _cat([out.narrow(d, n - s, s), out.narrow(d, 0, n - s)], d)
        return out

    # ---- indexing ------------------------------------------------------------------------------
    def __getitem__(self, index) -> Tensor:
        return _view_result(M.getitem, self, index=_convert_index(index))

    def __setitem__(self, index, value) -> None:
        index = _convert_index(index)
        tracking = state.enabled and (self._requires_grad or getattr(value, "requires_grad", False))
        # on cuda: the index_put kernel, then a copy back in place; in a trace: the same, so
        # that the write is recorded (a numpy assignment would be invisible to it)
        if not tracking and (self.is_cuda or jit_guard.capture[0] is not None):
            value = value if isinstance(value, Tensor) else _scalar_tensor(value, self.dtype)
            self._write(apply(M.index_put, self, value, index=index)._data)
            return
        if not tracking:
            data = value._data if isinstance(value, Tensor) else value
            try:
                basic, advanced = M.torch_order(index)
                if advanced is None:
                    self._data[index] = data
                else:
                    self._data[basic][advanced] = data
            except ValueError as e:
                if "read-only" in str(e):
                    self._write(self._data)  # raises the PyTorch-style error
                raise RuntimeError(f"setitem: {e} (tensor shape {tuple(self.shape)})") from None
            self._version_counter[0] += 1
            return
        _check_inplace_allowed(self)
        value = value if isinstance(value, Tensor) else _scalar_tensor(value, self.dtype)
        result = apply(M.index_put, self._shell(), value, index=index, accumulate=False)
        self._write(result._data)
        _rebase(self, result)
        if self._base is not None:
            _rebase_base(self)

    def index_put_(self, indices, values, accumulate: bool = False) -> Tensor:
        index = _convert_index(tuple(indices))
        return self._inplace(
            lambda s, v: apply(M.index_put, s, v, index=index, accumulate=accumulate), values
        )

    def index_put(self, indices, values, accumulate: bool = False) -> Tensor:
        index = _convert_index(tuple(indices))
        return apply(M.index_put, self, values, index=index, accumulate=accumulate)

    def gather(self, dim: int, index: Tensor) -> Tensor:
        return apply(M.gather, self, index, dim=dim)

    def scatter(self, dim: int, index: Tensor, src=None, value=None, *, reduce=None) -> Tensor:
        src = value if src is None else src
        op = M.scatter_add if reduce == "add" else M.scatter
        return apply(op, self, index, src, dim=dim)

    def scatter_(self, dim: int, index: Tensor, src=None, value=None, *, reduce=None) -> Tensor:
        return self._inplace(
            lambda s, i, v: s.scatter(dim, i, v, reduce=reduce),
            index,
            value if src is None else src,
        )

    def scatter_add(self, dim: int, index: Tensor, src: Tensor) -> Tensor:
        return apply(M.scatter_add, self, index, src, dim=dim)

    def scatter_add_(self, dim: int, index: Tensor, src: Tensor) -> Tensor:
        return self._inplace(lambda s, i, v: s.scatter_add(dim, i, v), index, src)

    def index_select(self, dim: int, index: Tensor) -> Tensor:
        d = R.normalize_dim(dim, self.ndim, "index_select")
        if index.dtype not in (dtypes.int64, dtypes.int32):
            raise RuntimeError(
                f"index_select(): Expected dtype int32 or int64 for index, got {index.dtype}"
            )
        if index.ndim > 1:
            raise IndexError("index_select(): Index is supposed to be a vector")
        return self[(slice(None),) * d + (index.reshape(-1),)]

    def index_add(self, dim: int, index: Tensor, source: Tensor, *, alpha=1) -> Tensor:
        from . import indexing  # noqa: PLC0415

        return indexing.index_add(self, dim, index, source, alpha)

    def index_add_(self, dim: int, index: Tensor, source: Tensor, *, alpha=1) -> Tensor:
        return self._inplace(lambda s, i, v: s.index_add(dim, i, v, alpha=alpha), index, source)

    def index_copy(self, dim: int, index: Tensor, source: Tensor) -> Tensor:
        from . import indexing  # noqa: PLC0415

        return indexing.index_copy(self, dim, index, source)

    def index_copy_(self, dim: int, index: Tensor, source: Tensor) -> Tensor:
        return self._inplace(lambda s, i, v: s.index_copy(dim, i, v), index, source)

    def index_fill(self, dim: int, index: Tensor, value) -> Tensor:
        from . import indexing  # noqa: PLC0415

        return indexing.index_fill(self, dim, index, value)

    def index_fill_(self, dim: int, index: Tensor, value) -> Tensor:
        return self._inplace(lambda s, i, v: s.index_fill(dim, i, v), index, value)

    def masked_fill(self, mask: Tensor, value) -> Tensor:
        if mask.dtype is not dtypes.bool_:
            raise RuntimeError(
                f"masked_fill only supports boolean masks, but got mask with dtype {mask.dtype}"
            )
        if isinstance(value, Tensor):
            value = value.to(self.dtype)
        else:
            value = _scalar_tensor(value, self.dtype)
        return apply(E.where, mask, value, self)

    def masked_fill_(self, mask: Tensor, value) -> Tensor:
        return self._inplace(lambda s, m: s.masked_fill(m, value), mask)

    def masked_select(self, mask: Tensor) -> Tensor:
        return self[mask.expand(self.shape) if mask.shape != self.shape else mask]

    def argwhere(self) -> Tensor:
        return self.nonzero()

    def take(self, index: Tensor) -> Tensor:
        """Elements of the flattened tensor at index (shaped like index)."""
        return self.reshape(-1)[index]

    def nonzero(self, *, as_tuple: bool = False):
        from .jit_guard import check_host_sync  # noqa: PLC0415

        check_host_sync("nonzero")  # its shape depends on the values: a trace cannot replay it
        idx = np.nonzero(self._data if self.ndim else self._data.reshape(1))
        if not self.ndim:  # a 0-d tensor has one element and no dims to index
            idx = (idx[0],) if as_tuple else ()
        if as_tuple:
            return tuple(wrap(i.astype(np.int64), dtypes.int64) for i in idx)
        return wrap(
            np.stack(idx, axis=1).astype(np.int64)
            if idx
            else np.zeros((int(bool(self._data)), 0), np.int64),
            dtypes.int64,
        )

    def where(self, condition: Tensor, other) -> Tensor:
        return apply(E.where, condition, self, other)

    # ---- math ----------------------------------------------------------------------------------
    def add(self, other, *, alpha=1) -> Tensor:
        return E.add(self, other if alpha == 1 else other * alpha)

    def sub(self, other, *, alpha=1) -> Tensor:
        return E.sub(self, other if alpha == 1 else other * alpha)

    subtract = sub

    def mul(self, other) -> Tensor:
        return E.mul(self, other)

    multiply = mul

    def div(self, other, *, rounding_mode=None) -> Tensor:
        if rounding_mode is None:
            return E.div(self, other)
        if rounding_mode == "floor":
            return E.floor_divide(self, other)
        if rounding_mode == "trunc":
            return E.trunc_divide(self, other)
        raise RuntimeError(
            f"div expected rounding_mode to be one of None, 'trunc', or 'floor' but found "
            f"'{rounding_mode}'"
        )

    divide = div
    true_divide = div

    def floor_divide(self, other) -> Tensor:
        return E.floor_divide(self, other)

    def remainder(self, other) -> Tensor:
        return E.remainder(self, other)

    def fmod(self, other) -> Tensor:
        # trunc division keeps integer inputs integer (self / other would make them float)
        return self - self.div(other, rounding_mode="trunc") * other

    def pow(self, exponent) -> Tensor:
        # shortcuts only where they keep pow's dtype (int ** 2.0 is float, int * int is not;
        # bool ** 2 is int64, bool * bool is bool)
        if (
            isinstance(exponent, (int, float))
            and not isinstance(exponent, bool)
            and (self.dtype.is_floating_point or isinstance(exponent, int))
            and self.dtype is not dtypes.bool_
        ):
            if exponent == 2:
                return E.mul(self, self)
            if exponent == 1:
                return self.clone() if not self.requires_grad else apply(E.mul, self, 1)
            if exponent == 0.5:
                return self.sqrt()
        return apply(E.pow, self, exponent)

    def neg(self) -> Tensor:
        return E.neg(self)

    negative = neg

    def exp(self) -> Tensor:
        return E.exp(self)

    def exp2(self) -> Tensor:
        return E.exp(self * math.log(2))

    def log(self) -> Tensor:
        return E.log(self)

    def log2(self) -> Tensor:
        return E.log(self) * (1 / math.log(2))

    def log10(self) -> Tensor:
        return E.log(self) * (1 / math.log(10))

    def log1p(self) -> Tensor:
        return E.log1p(self)

    def expm1(self) -> Tensor:
        return E.expm1(self)

    def sqrt(self) -> Tensor:
        return E.sqrt(self)

    def rsqrt(self) -> Tensor:
        return E.rsqrt(self)

    def reciprocal(self) -> Tensor:
        return E.reciprocal(self)

    def square(self) -> Tensor:
        return E.mul(self, self)

    def abs(self) -> Tensor:
        return E.abs(self)

    absolute = abs

    def sign(self) -> Tensor:
        return E.sign(self)

    sgn = sign  # the same for real numbers

    def sin(self) -> Tensor:
        return E.sin(self)

    def cos(self) -> Tensor:
        return E.cos(self)

    def tan(self) -> Tensor:
        return self.sin() / self.cos()

    def tanh(self) -> Tensor:
        return E.tanh(self)

    def sigmoid(self) -> Tensor:
        return E.sigmoid(self)

    def relu(self) -> Tensor:
        return E.relu(self)

    def erf(self) -> Tensor:
        return E.erf(self)

    def erfc(self) -> Tensor:
        return E.erfc(self)

    def erfinv(self) -> Tensor:
        return E.erfinv(self)

    def lgamma(self) -> Tensor:
        return E.lgamma(self)

    def digamma(self) -> Tensor:
        return E.digamma(self)

    def polygamma(self, n: int) -> Tensor:
        """The n-th derivative of digamma (n >= 0), with gradient polygamma(n + 1, x)."""
        if isinstance(n, bool) or not isinstance(n, numbers.Integral):
            raise TypeError(f"polygamma(): argument 'n' must be int, not {type(n).__name__}")
        if n < 0:
            raise RuntimeError("polygamma(n, x) does not support negative n.")
        if n == 0:
            return E.digamma(self)
        if n == 1:
            return apply(E.trigamma, self)
        return apply(S.polygamma, self, n=int(n))

    def float_power(self, exponent) -> Tensor:
        """pow in float64 (both sides), as PyTorch's float_power."""
        exponent = exponent.double() if isinstance(exponent, Tensor) else exponent
        return self.double().pow(exponent)

    def asin(self) -> Tensor:
        return E.asin(self)

    def acos(self) -> Tensor:
        return E.acos(self)

    def atan(self) -> Tensor:
        return E.atan(self)

    def sinh(self) -> Tensor:
        return E.sinh(self)

    def cosh(self) -> Tensor:
        return E.cosh(self)

    def asinh(self) -> Tensor:
        return E.asinh(self)

    def acosh(self) -> Tensor:
        return E.acosh(self)

    def atanh(self) -> Tensor:
        return E.atanh(self)

    def atan2(self, other) -> Tensor:
        return E.atan2(self, other)

    def hypot(self, other) -> Tensor:
        return E.hypot(self, other)

    arcsin, arccos, arctan, arcsinh, arccosh, arctanh, arctan2 = (
        asin,
        acos,
        atan,
        asinh,
        acosh,
        atanh,
        atan2,
    )

    def deg2rad(self) -> Tensor:
        return self * (math.pi / 180)

    def rad2deg(self) -> Tensor:
        return self * (180 / math.pi)

    def logit(self, eps=None) -> Tensor:
        """log(p / (1 - p)), with p clamped to [eps, 1 - eps] where eps is given."""
        p = self if eps is None else self.clamp(eps, 1 - eps)
        return (p / (1 - p)).log()

    def logaddexp(self, other) -> Tensor:
        """log(exp(self) + exp(other)) without overflow; equal infinities give themselves."""
        top = self.maximum(other)
        out = top + (-(self - other).abs()).exp().log1p()
        return out.where(top.isfinite() | (self != other), top)

    def xlogy(self, other) -> Tensor:
        """self * log(other), 0 where self is 0 (unless other is nan)."""
        other = other if isinstance(other, Tensor) else _scalar_tensor(other, self.dtype)
        zero = (self == 0) & ~other.isnan()
        return (self * other.log()).masked_fill(zero, 0)

    def floor(self) -> Tensor:
        return E.floor(self)

    def ceil(self) -> Tensor:
        return E.ceil(self)

    def round(self, decimals: int = 0) -> Tensor:
        if decimals:
            scale = 10.0**decimals
            return E.round(self * scale) / scale
        return E.round(self)

    def trunc(self) -> Tensor:
        return E.trunc(self)

    def frac(self) -> Tensor:
        return self - self.trunc()

    def clamp(self, min=None, max=None) -> Tensor:
        if isinstance(min, Tensor) or isinstance(max, Tensor):
            out = self
            if min is not None:
                out = out.maximum(min)
            if max is not None:
                out = out.minimum(max)
            return out
        if min is None and max is None:
            raise RuntimeError("clamp: At least one of 'min' or 'max' must not be None")
        return apply(E.clamp, self, min=min, max=max)

    clip = clamp

    def clamp_min(self, min) -> Tensor:
        return self.clamp(min=min)

    def clamp_max(self, max) -> Tensor:
        return self.clamp(max=max)

    def maximum(self, other) -> Tensor:
        return E.maximum(self, other)

    def minimum(self, other) -> Tensor:
        return E.minimum(self, other)

    def lerp(self, end, weight) -> Tensor:
        # torch.lerp's two forms: from self below weight 0.5, from end from 0.5 on (weight 1
        # gives end exactly); PyTorch's kernel also fuses the multiply-add, so the last bit
        # may still differ
        if not isinstance(weight, Tensor):
            if weight < 0.5:
                return self + (end - self) * weight
            return end - (end - self) * (1 - weight)
        step = end - self
        return apply(E.where, weight < 0.5, self + step * weight, end - step * (1 - weight))

    def addcmul(self, t1, t2, *, value=1) -> Tensor:
        return self + t1 * t2 * value

    def addcdiv(self, t1, t2, *, value=1) -> Tensor:
        return self + t1 / t2 * value

    def isnan(self) -> Tensor:
        return apply(E.isnan, self)

    def isinf(self) -> Tensor:
        return apply(E.isinf, self)

    def isfinite(self) -> Tensor:
        return apply(E.isfinite, self)

    def nan_to_num(self, nan=0.0, posinf=None, neginf=None) -> Tensor:
        info = np.finfo(self.dtype.np) if self.dtype.is_floating_point else None
        out = self.masked_fill(self.isnan(), nan)
        if info is not None:
            out = out.masked_fill(out == math.inf, info.max if posinf is None else posinf)
            out = out.masked_fill(out == -math.inf, info.min if neginf is None else neginf)
        return out

    def logical_not(self) -> Tensor:
        return apply(E.logical_not, self)

    def logical_and(self, other) -> Tensor:
        return apply(E.logical_and, self, other)

    def logical_or(self, other) -> Tensor:
        return apply(E.logical_or, self, other)

    def logical_xor(self, other) -> Tensor:
        return apply(E.logical_xor, self, other)

    def eq(self, other) -> Tensor:
        return apply(E.eq, self, other)

    def ne(self, other) -> Tensor:
        return apply(E.ne, self, other)

    def lt(self, other) -> Tensor:
        return apply(E.lt, self, other)

    def le(self, other) -> Tensor:
        return apply(E.le, self, other)

    def gt(self, other) -> Tensor:
        return apply(E.gt, self, other)

    def ge(self, other) -> Tensor:
        return apply(E.ge, self, other)

    greater, greater_equal, less, less_equal, not_equal = gt, ge, lt, le, ne

    def equal(self, other: Tensor) -> bool:
        return self.shape == other.shape and bool((self == other).all())

    def allclose(self, other, rtol=1e-5, atol=1e-8, equal_nan=False) -> bool:
        jit_guard.check_host_sync("allclose")
        return bool(np.allclose(self._data, _data_of(other), rtol, atol, equal_nan))

    def isclose(self, other, rtol=1e-5, atol=1e-8, equal_nan=False) -> Tensor:
        jit_guard.check_host_sync("isclose")
        return wrap(np.isclose(self._data, _data_of(other), rtol, atol, equal_nan), dtypes.bool_)

    def matmul(self, other: Tensor) -> Tensor:
        from .functional import matmul  # noqa: PLC0415

        return matmul(self, other)

    def mm(self, other: Tensor) -> Tensor:
        if self.ndim != 2 or other.ndim != 2:
            raise RuntimeError(
                f"mm: expected 2-D tensors, got {self.ndim}-D and {other.ndim}-D; use matmul for "
                "batches"
            )
        return apply(M.matmul, self, other)

    def bmm(self, other: Tensor) -> Tensor:
        if self.ndim != 3 or other.ndim != 3 or self.shape[0] != other.shape[0]:
            raise RuntimeError(
                f"bmm: expected two 3-D tensors with the same batch size, got shapes "
                f"{tuple(self.shape)} and {tuple(other.shape)}"
            )
        return apply(M.matmul, self, other)

    def dot(self, other: Tensor) -> Tensor:
        if self.ndim != 1 or other.ndim != 1:
            raise RuntimeError(
                f"1D tensors expected, but got {self.ndim}D and {other.ndim}D tensors"
            )
        return self.matmul(other)

    def outer(self, other: Tensor) -> Tensor:
        return self.reshape(-1, 1) * other.reshape(1, -1)

    def ger(self, vec2: Tensor) -> Tensor:
        return self.outer(vec2)

    def kron(self, other: Tensor) -> Tensor:
        from . import products  # noqa: PLC0415

        return products.kron(self, other)

    # ---- linear algebra (linalg.py) --------------------------------------------------------------
    def inverse(self) -> Tensor:
        from . import linalg  # noqa: PLC0415

        return linalg.inv(self)

    def det(self) -> Tensor:
        from . import linalg  # noqa: PLC0415

        return linalg.det(self)

    def matrix_exp(self) -> Tensor:
        from . import linalg  # noqa: PLC0415

        return linalg.matrix_exp(self)

    def slogdet(self):
        from . import linalg  # noqa: PLC0415

        return _named("slogdet", ["sign", "logabsdet"])(*linalg.slogdet(self))

    def logdet(self) -> Tensor:
        """log(det): NaN for a negative determinant, -inf for a zero one."""
        sign, logabsdet = self.slogdet()
        return logabsdet + sign.log()

    # beta * self + alpha * product: products.py (the in-place forms write the result back)
    def addmm(self, mat1: Tensor, mat2: Tensor, *, beta=1, alpha=1) -> Tensor:
        from . import products  # noqa: PLC0415

        return products.addmm(self, mat1, mat2, beta, alpha)

    def addmm_(self, mat1: Tensor, mat2: Tensor, *, beta=1, alpha=1) -> Tensor:
        return self._inplace(lambda s, a, b: s.addmm(a, b, beta=beta, alpha=alpha), mat1, mat2)

    def addmv(self, mat: Tensor, vec: Tensor, *, beta=1, alpha=1) -> Tensor:
        from . import products  # noqa: PLC0415

        return products.addmv(self, mat, vec, beta, alpha)

    def addmv_(self, mat: Tensor, vec: Tensor, *, beta=1, alpha=1) -> Tensor:
        return self._inplace(lambda s, a, b: s.addmv(a, b, beta=beta, alpha=alpha), mat, vec)

    def addbmm(self, batch1: Tensor, batch2: Tensor, *, beta=1, alpha=1) -> Tensor:
        from . import products  # noqa: PLC0415

        return products.addbmm(self, batch1, batch2, beta, alpha)

    def addbmm_(self, batch1: Tensor, batch2: Tensor, *, beta=1, alpha=1) -> Tensor:
        return self._inplace(lambda s, a, b: s.addbmm(a, b, beta=beta, alpha=alpha), batch1, batch2)

    def baddbmm(self, batch1: Tensor, batch2: Tensor, *, beta=1, alpha=1) -> Tensor:
        from . import products  # noqa: PLC0415

        return products.baddbmm(self, batch1, batch2, beta, alpha)

    def baddbmm_(self, batch1: Tensor, batch2: Tensor, *, beta=1, alpha=1) -> Tensor:
        return self._inplace(
            lambda s, a, b: s.baddbmm(a, b, beta=beta, alpha=alpha), batch1, batch2
        )

    def mv(self, vec: Tensor) -> Tensor:
        if self.ndim != 2 or vec.ndim != 1:
            raise RuntimeError(f"vector + matrix @ vector expected, got 1, {self.ndim}, {vec.ndim}")
        return self.matmul(vec)

    def dist(self, other: Tensor, p: float = 2) -> Tensor:
        return (self - other).norm(p)

    # ---- reductions ----------------------------------------------------------------------------
    def sum(self, dim=None, keepdim: bool = False, *, dtype=None) -> Tensor:
        x = self if dtype is None else self.to(dtype)
        return apply(R.sum, x, dim=_dims(dim), keepdim=keepdim)

    def nansum(self, dim=None, keepdim=False) -> Tensor:
        return self.masked_fill(self.isnan(), 0).sum(dim, keepdim)

    def nanmean(self, dim=None, keepdim: bool = False, *, dtype=None) -> Tensor:
        x = self if dtype is None else self.to(dtype)
        counted = (~x.isnan()).sum(dim, keepdim)
        return x.nansum(dim, keepdim) / counted

    def aminmax(self, *, dim=None, keepdim: bool = False):
        if self.numel() == 0:  # (amin/amax raise IndexError there; PyTorch's aminmax this)
            raise RuntimeError(
                "aminmax(): cannot compute aminmax over an empty dimension as the operation "
                "has no identity."
            )
        dims = () if dim is None else dim
        low, high = self.amin(dims, keepdim), self.amax(dims, keepdim)
        return _named("aminmax", ["min", "max"])(low, high)

    def mean(self, dim=None, keepdim: bool = False, *, dtype=None) -> Tensor:
        x = self if dtype is None else self.to(dtype)
        if not x.dtype.is_floating_point:
            raise RuntimeError(
                f"mean(): could not infer output dtype. Input dtype must be either a floating "
                f"point or complex dtype. Got: {x.dtype}"
            )
        dims = R.normalize_dims(_dims(dim), x.ndim, "mean")
        count = math.prod(x.shape[d] for d in dims) if x.ndim else 1
        return x.sum(dim, keepdim) * (1.0 / count if count else math.nan)

    def prod(self, dim=None, keepdim: bool = False, *, dtype=None) -> Tensor:
        x = self if dtype is None else self.to(dtype)
        return apply(R.prod, x, dim=_dims(dim), keepdim=keepdim)

    def amax(self, dim=(), keepdim: bool = False) -> Tensor:
        return apply(R.amax, self, dim=_dims(dim), keepdim=keepdim)

    def amin(self, dim=(), keepdim: bool = False) -> Tensor:
        return apply(R.amin, self, dim=_dims(dim), keepdim=keepdim)

    def max(self, dim=None, keepdim: bool = False):
        """max() -> value; max(dim) -> (values, indices); max(other) -> maximum."""
        return self._extreme(dim, keepdim, R.amax, R.argmax, E.maximum, "max")

    def min(self, dim=None, keepdim: bool = False):
        return self._extreme(dim, keepdim, R.amin, R.argmin, E.minimum, "min")

    def _extreme(self, dim, keepdim, reduce_op, arg_op, binary_op, name):
        if isinstance(dim, Tensor):
            return apply(binary_op, self, dim)
        if dim is None:
            if self.numel() == 0:
                raise RuntimeError(
                    f"{name}(): Expected reduction dim to be specified for input.numel() == 0. "
                    "Specify the reduction dim with the 'dim' argument."
                )
            return apply(reduce_op, self, dim=None, keepdim=False)
        R.normalize_dim(dim, self.ndim, name)  # a bad dim names max/min, not argmax/argmin
        idx = apply(arg_op, self, dim=dim, keepdim=True)
        values = self.gather(dim, idx) if self.ndim else self.clone()
        if not keepdim and self.ndim:
            values, idx = values.squeeze(dim), idx.squeeze(dim)
        return _named(f"{name}_return", ["values", "indices"])(values, idx)

    def argmax(self, dim=None, keepdim: bool = False) -> Tensor:
        return apply(R.argmax, self, dim=dim, keepdim=keepdim)

    def argmin(self, dim=None, keepdim: bool = False) -> Tensor:
        return apply(R.argmin, self, dim=dim, keepdim=keepdim)

    def var(self, dim=None, *, correction=1, keepdim: bool = False, unbiased=None) -> Tensor:
        if unbiased is not None:
            correction = 1 if unbiased else 0
        dims = R.normalize_dims(_dims(dim), self.ndim, "var")
        n = math.prod(self.shape[d] for d in dims) if self.ndim else 1
        centered = self - self.mean(dim=dims, keepdim=True)
        return (centered * centered).sum(dim=dims, keepdim=keepdim) / builtins.max(
            n - correction, 0
        )

    def std(self, dim=None, *, correction=1, keepdim: bool = False, unbiased=None) -> Tensor:
        return self.var(dim, correction=correction, keepdim=keepdim, unbiased=unbiased).sqrt()

    def logsumexp(self, dim, keepdim: bool = False) -> Tensor:
        dims = R.normalize_dims(_dims(dim), self.ndim, "logsumexp")
        if self.ndim and any(self.shape[d] == 0 for d in dims):  # amax of nothing: an error
            m = self.new_zeros(R.reduced_shape(self.shape, dims, True))  # the result is -inf
        else:
            m = self.amax(dim=dim, keepdim=True).detach()
            m = m.masked_fill(m.isinf(), 0.0)
        out = (self - m).exp().sum(dim=dim, keepdim=True).log() + m
        return out if keepdim else out.squeeze(dim)

    def norm(self, p="fro", dim=None, keepdim: bool = False) -> Tensor:
        if p in ("fro", 2, 2.0):
            return root_of_sum((self * self).sum(dim=_dims(dim), keepdim=keepdim), Tensor.sqrt)
        if p in (math.inf, "inf"):
            return self.abs().amax(dim=_dims(dim), keepdim=keepdim)
        if p == 1:
            return self.abs().sum(dim=_dims(dim), keepdim=keepdim)
        if p == 0:
            return (self != 0).to(self.dtype).sum(dim=_dims(dim), keepdim=keepdim)
        total = (self.abs() ** p).sum(dim=_dims(dim), keepdim=keepdim)
        return root_of_sum(total, lambda s: s ** (1.0 / p))

    # NOTE: counts, not amin/amax: those refuse empty dims, where all() is True, any() False.
    def all(self, dim=None, keepdim: bool = False) -> Tensor:
        return (self == 0).sum(dim=_dims(dim), keepdim=keepdim) == 0

    def any(self, dim=None, keepdim: bool = False) -> Tensor:
        return (self != 0).sum(dim=_dims(dim), keepdim=keepdim) > 0

    def count_nonzero(self, dim=None) -> Tensor:
        return (self != 0).sum(dim)

    def cumsum(self, dim: int, *, dtype=None) -> Tensor:
        x = self if dtype is None else self.to(dtype)
        return apply(R.cumsum, x, dim=dim)

    def cummax(self, dim: int):
        """(values, indices) of the running max along dim; ties take the later index."""
        return self._cum_extreme(R.cummax_indices, dim, "cummax")

    def cummin(self, dim: int):
        return self._cum_extreme(R.cummin_indices, dim, "cummin")

    def _cum_extreme(self, index_op, dim, name):
        idx = apply(index_op, self, dim=dim)
        values = self.gather(dim, idx) if self.ndim else self.clone()
        return _named(name, ["values", "indices"])(values, idx)

    def logcumsumexp(self, dim: int) -> Tensor:
        return apply(R.logcumsumexp, self, dim=dim)

    def cumprod(self, dim: int, *, dtype=None) -> Tensor:
        x = self if dtype is None else self.to(dtype)
        return apply(R.cumprod, x, dim=dim)

    def sort(self, dim: int = -1, descending: bool = False, stable: bool = False):
        idx = apply(R.argsort, self, dim=dim, descending=descending)
        values = self.gather(dim, idx) if self.ndim else self.clone()
        return _named("sort_return", ["values", "indices"])(values, idx)

    def argsort(self, dim: int = -1, descending: bool = False, stable: bool = False) -> Tensor:
        return apply(R.argsort, self, dim=dim, descending=descending)

    def topk(self, k: int, dim: int = -1, largest: bool = True, sorted: bool = True):
        d = R.normalize_dim(dim, self.ndim, "topk") if self.ndim else 0
        n = self.shape[d] if self.ndim else 1
        if not 0 <= k <= n:
            raise RuntimeError(f"topk: selected index k={k} out of range for dimension of size {n}")
        idx = (
            apply(R.argsort, self, dim=d, descending=largest).narrow(d, 0, k)
            if self.ndim
            else apply(R.argsort, self, dim=0)
        )
        values = self.gather(d, idx) if self.ndim else self.clone()
        return _named("topk_return", ["values", "indices"])(values, idx)

    # ---- order statistics and counting (order_stats.py, counting.py) --------------------------
    def median(self, dim=None, keepdim: bool = False):
        from . import order_stats  # noqa: PLC0415

        return order_stats.median(self, dim, keepdim)

    def nanmedian(self, dim=None, keepdim: bool = False):
        from . import order_stats  # noqa: PLC0415

        return order_stats.median(self, dim, keepdim, skip_nan=True)

    def kthvalue(self, k: int, dim: int = -1, keepdim: bool = False):
        from . import order_stats  # noqa: PLC0415

        return order_stats.kthvalue(self, k, dim, keepdim)

    def quantile(self, q, dim=None, keepdim: bool = False, *, interpolation="linear"):
        from . import order_stats  # noqa: PLC0415

        return order_stats.quantile(self, q, dim, keepdim, interpolation=interpolation)

    def nanquantile(self, q, dim=None, keepdim: bool = False, *, interpolation="linear"):
        from . import order_stats  # noqa: PLC0415

        return order_stats.quantile(
            self, q, dim, keepdim, interpolation=interpolation, skip_nan=True
        )

    def bincount(self, weights=None, minlength: int = 0) -> Tensor:
        from . import counting  # noqa: PLC0415

        return counting.bincount(self, weights, minlength)

    def unique(self, sorted=True, return_inverse=False, return_counts=False, dim=None):
        from . import counting  # noqa: PLC0415

        return counting.unique(self, sorted, return_inverse, return_counts, dim)

    def histc(self, bins: int = 100, min=0, max=0) -> Tensor:
        from . import counting  # noqa: PLC0415

        return counting.histc(self, bins, min, max)

    def diff(self, n: int = 1, dim: int = -1, prepend=None, append=None) -> Tensor:
        """The n-th forward difference along dim (x[i + 1] - x[i]; for bool, x[i + 1] != x[i]),
        after prepend and append are joined to the ends."""
        if self.ndim == 0:
            raise RuntimeError("diff expects input to be at least one-dimensional, got 0-d")
        if n < 0:
            raise RuntimeError(f"diff: order must be non-negative but got {n}")
        d = R.normalize_dim(dim, self.ndim, "diff")
        parts = [t for t in (prepend, self, append) if t is not None]
        x = _cat(parts, d) if len(parts) > 1 else self
        for _ in range(n):
            if x.shape[d] == 0:
                break
            later, earlier = x.narrow(d, 1, x.shape[d] - 1), x.narrow(d, 0, x.shape[d] - 1)
            x = later.logical_xor(earlier) if x.dtype is dtypes.bool_ else later - earlier
        return x

    def softmax(self, dim: int, dtype=None) -> Tensor:
        x = self if dtype is None else self.to(dtype)
        return apply(R.softmax, x, dim=dim)

    def log_softmax(self, dim: int, dtype=None) -> Tensor:
        x = self if dtype is None else self.to(dtype)
        return apply(R.log_softmax, x, dim=dim)

    # ---- new tensors like self -----------------------------------------------------------------
    def new_zeros(self, *size, dtype=None, device=None, requires_grad=False) -> Tensor:
        return _filled(
            _shape_arg(size), 0, dtype or self.dtype, requires_grad, device or self.device
        )

    def new_ones(self, *size, dtype=None, device=None, requires_grad=False) -> Tensor:
        return _filled(
            _shape_arg(size), 1, dtype or self.dtype, requires_grad, device or self.device
        )

    def new_full(self, size, fill_value, *, dtype=None, device=None, requires_grad=False):
        return _filled(
            tuple(size), fill_value, dtype or self.dtype, requires_grad, device or self.device
        )

    def new_empty(self, *size, dtype=None, device=None, requires_grad=False) -> Tensor:
        return _filled(
            _shape_arg(size), None, dtype or self.dtype, requires_grad, device or self.device
        )

    def new_tensor(self, data, dtype=None, device=None, requires_grad=False) -> Tensor:
        from .functional import tensor  # noqa: PLC0415

        # as PyTorch: on self's device unless told otherwise
        device = self.device if device is None else device
        return tensor(data, dtype=dtype or self.dtype, device=device, requires_grad=requires_grad)

    # ---- in-place ops --------------------------------------------------------------------------
    def add_(self, other, *, alpha=1) -> Tensor:
        return self._inplace(lambda s, o: s.add(o, alpha=alpha), other)

    def sub_(self, other, *, alpha=1) -> Tensor:
        return self._inplace(lambda s, o: s.sub(o, alpha=alpha), other)

    def mul_(self, other) -> Tensor:
        return self._inplace(Tensor.mul, other)

    def div_(self, other, *, rounding_mode=None) -> Tensor:
        return self._inplace(lambda s, o: s.div(o, rounding_mode=rounding_mode), other)

    def pow_(self, exponent) -> Tensor:
        return self._inplace(Tensor.pow, exponent)

    def neg_(self) -> Tensor:
        return self._inplace(Tensor.neg)

    def exp_(self) -> Tensor:
        return self._inplace(Tensor.exp)

    def log_(self) -> Tensor:
        return self._inplace(Tensor.log)

    def sqrt_(self) -> Tensor:
        return self._inplace(Tensor.sqrt)

    def abs_(self) -> Tensor:
        return self._inplace(Tensor.abs)

    def relu_(self) -> Tensor:
        return self._inplace(Tensor.relu)

    def sigmoid_(self) -> Tensor:
        return self._inplace(Tensor.sigmoid)

    def tanh_(self) -> Tensor:
        return self._inplace(Tensor.tanh)

    def clamp_(self, min=None, max=None) -> Tensor:
        return self._inplace(lambda s: s.clamp(min, max))

    clip_ = clamp_

    def floor_(self) -> Tensor:
        return self._inplace(Tensor.floor)

    def round_(self) -> Tensor:
        return self._inplace(Tensor.round)

    def addcmul_(self, t1, t2, *, value=1) -> Tensor:
        return self._inplace(lambda s, a, b: s.addcmul(a, b, value=value), t1, t2)

    def addcdiv_(self, t1, t2, *, value=1) -> Tensor:
        return self._inplace(lambda s, a, b: s.addcdiv(a, b, value=value), t1, t2)

    def lerp_(self, end, weight) -> Tensor:
        return self._inplace(lambda s, e: s.lerp(e, weight), end)

    def copy_(self, src, non_blocking: bool = False) -> Tensor:
        src = src if isinstance(src, Tensor) else _scalar_tensor(src, self.dtype)

        def copied(s, o):
            if state.enabled and s.requires_grad:  # keep a (zero) gradient path to old self
                return apply(E.where, _scalar_tensor(True, dtypes.bool_), o.to(s.dtype), s)
            return o.to(s.dtype).expand(s.shape)

        return self._inplace(copied, src)

    def fill_(self, value) -> Tensor:
        if isinstance(value, Tensor):
            value = value.item()
        if state.enabled and self._requires_grad:
            # recorded like PyTorch's fill_: the old value gets a zero gradient
            every = _scalar_tensor(True, dtypes.bool_)
            return self._inplace(lambda s: s.masked_fill(every, value))
        self._write(value)
        return self

    def zero_(self) -> Tensor:
        return self.fill_(0)

    def masked_scatter(self, mask: Tensor, source: Tensor) -> Tensor:
        """self with the positions where mask (broadcast to self) is True filled, in row-major
        order, from source's first elements: source[cumsum(mask) - 1], picked by where."""
        if mask.dtype is not dtypes.bool_:
            raise RuntimeError(
                f"masked_scatter_ only supports boolean masks, but got mask with dtype {mask.dtype}"
            )
        if source.dtype is not self.dtype:
            raise RuntimeError(
                f"masked_scatter: expected self and source to have same dtypes but got "
                f"{self.dtype} and {source.dtype}"
            )
        mask = mask.expand(self.shape)
        taken = mask.reshape(-1).to(dtypes.int64).cumsum(0)
        if taken.numel() and taken[-1].item() > source.numel():
            raise RuntimeError(
                "masked_scatter: expected source to have at least as many elements as ones in mask"
            )
        if not source.numel():  # (then mask is all False)
            return self.clone()
        picked = source.reshape(-1)[(taken - 1).clamp(min=0)]
        return apply(E.where, mask, picked.reshape(self.shape), self)

    def masked_scatter_(self, mask: Tensor, source: Tensor) -> Tensor:
        return self._inplace(lambda s, m, v: s.masked_scatter(m, v), mask, source)

    # the in-place samplers: numbers from the registry's draw (minitorch/random.py sample_)
    def uniform_(self, a: float = 0.0, b: float = 1.0, *, generator=None) -> Tensor:
        return _sample_(self, "uniform", a, b, generator)

    def normal_(self, mean: float = 0.0, std: float = 1.0, *, generator=None) -> Tensor:
        return _sample_(self, "normal", mean, std, generator)

    def log_normal_(self, mean: float = 1, std: float = 2, *, generator=None) -> Tensor:
        return _sample_(self, "log_normal", mean, std, generator)

    def exponential_(self, lambd: float = 1, *, generator=None) -> Tensor:
        return _sample_(self, "exponential", lambd, 0.0, generator)

    def cauchy_(self, median: float = 0, sigma: float = 1, *, generator=None) -> Tensor:
        return _sample_(self, "cauchy", median, sigma, generator)

    def geometric_(self, p: float, *, generator=None) -> Tensor:
        return _sample_(self, "geometric", p, 0.0, generator)

    def bernoulli_(self, p: float | Tensor = 0.5, *, generator=None) -> Tensor:
        from .random import bernoulli  # noqa: PLC0415

        # a tensor p broadcast by a view, not read into new_full (a trace replays the view)
        probs = p.expand(self.shape) if isinstance(p, Tensor) else self.new_full(self.shape, p)
        return self.copy_(bernoulli(probs, generator=generator))

    def random_(self, low: int = 0, high: int | None = None, *, generator=None) -> Tensor:
        from .random import randint  # noqa: PLC0415

        if high is None:
            low, high = 0, low if low else 2**24
        return self.copy_(randint(low, high, self.shape, generator=generator))

    # ---- operators -----------------------------------------------------------------------------
    def __add__(self, other):
        return E.add(self, other)

    def __radd__(self, other):
        return apply(E.add, other, self)

    def __sub__(self, other):
        return E.sub(self, other)

    def __rsub__(self, other):
        return apply(E.sub, other, self)

    def __mul__(self, other):
        return E.mul(self, other)

    def __rmul__(self, other):
        return apply(E.mul, other, self)

    def __truediv__(self, other):
        return E.div(self, other)

    def __rtruediv__(self, other):
        return apply(E.div, other, self)

    def __floordiv__(self, other):
        return E.floor_divide(self, other)

    def __rfloordiv__(self, other):
        return apply(E.floor_divide, other, self)

    def __mod__(self, other):
        return E.remainder(self, other)

    def __rmod__(self, other):
        return apply(E.remainder, other, self)

    def __pow__(self, other):
        return self.pow(other)

    def __rpow__(self, other):
        return apply(E.pow, other, self)

    def __matmul__(self, other):
        return self.matmul(other)

    def __rmatmul__(self, other):
        from .functional import matmul  # noqa: PLC0415

        return matmul(other, self)

    def __neg__(self):
        return E.neg(self)

    def __pos__(self):
        return self

    def __abs__(self):
        return E.abs(self)

    def __invert__(self):
        if self.dtype is dtypes.bool_:
            return apply(E.logical_not, self)
        if self.dtype.is_floating_point:  # (bitwise_not raises NotImplementedError, as torch's)
            raise TypeError(
                "~ (operator.invert) is only implemented on integer and Boolean-type tensors; "
                f"got {self.dtype}"
            )
        return apply(E.bitwise_not, self)

    def bitwise_not(self) -> Tensor:
        return apply(E.bitwise_not, self)

    def bitwise_and(self, other) -> Tensor:
        return apply(E.bitwise_and, self, other)

    def bitwise_or(self, other) -> Tensor:
        return apply(E.bitwise_or, self, other)

    def bitwise_xor(self, other) -> Tensor:
        return apply(E.bitwise_xor, self, other)

    def bitwise_left_shift(self, other) -> Tensor:
        return apply(E.bitwise_left_shift, self, other)

    def bitwise_right_shift(self, other) -> Tensor:
        return apply(E.bitwise_right_shift, self, other)

    __lshift__ = bitwise_left_shift
    __rshift__ = bitwise_right_shift

    def __rlshift__(self, other):
        return apply(E.bitwise_left_shift, other, self)

    def __rrshift__(self, other):
        return apply(E.bitwise_right_shift, other, self)

    def __and__(self, other):
        return apply(_bitwise_or_logical(self, other, E.bitwise_and, E.logical_and), self, other)

    __rand__ = __and__

    def __or__(self, other):
        return apply(_bitwise_or_logical(self, other, E.bitwise_or, E.logical_or), self, other)

    __ror__ = __or__

    def __xor__(self, other):
        return apply(_bitwise_or_logical(self, other, E.bitwise_xor, E.logical_xor), self, other)

    __rxor__ = __xor__

    def __eq__(self, other):
        if other is None:  # `t == None` is a Python identity test, as in PyTorch
            return False
        return E.eq(self, other)

    def __ne__(self, other):
        if other is None:
            return True
        return E.ne(self, other)

    def __lt__(self, other):
        return E.lt(self, other)

    def __le__(self, other):
        return E.le(self, other)

    def __gt__(self, other):
        return E.gt(self, other)

    def __ge__(self, other):
        return E.ge(self, other)

    def __iadd__(self, other):
        return self.add_(other)

    def __isub__(self, other):
        return self.sub_(other)

    def __imul__(self, other):
        return self.mul_(other)

    def __itruediv__(self, other):
        return self.div_(other)

    def __ifloordiv__(self, other):
        return self.floor_divide_(other)

    def __imod__(self, other):
        return self.remainder_(other)

    def __ipow__(self, other):
        return self.pow_(other)

    # NOTE: no __imatmul__: PyTorch has none, so `a @= b` makes a new tensor and rebinds a

    def __iand__(self, other):
        return self._inplace(Tensor.__and__, other)

    def __ior__(self, other):
        return self._inplace(Tensor.__or__, other)

    def __ixor__(self, other):
        return self._inplace(Tensor.__xor__, other)

    def __ilshift__(self, other):
        return self._inplace(Tensor.__lshift__, other)

    def __irshift__(self, other):
        return self._inplace(Tensor.__rshift__, other)


def _bitwise_or_logical(a, b, bitwise, logical):
    bools = all(getattr(x, "dtype", None) is dtypes.bool_ or isinstance(x, bool) for x in (a, b))
    return logical if bools else bitwise


def _check_inplace_allowed(t: Tensor) -> None:
    if t.grad_fn is None and t._requires_grad:
        raise RuntimeError(
            "a leaf Variable that requires grad is being used in an in-place operation. Wrap it "
            "in `with minitorch.no_grad():` (e.g. for a parameter update) or use an "
            "out-of-place op."
        )
    base = t._base
    if base is not None and base.grad_fn is None and base._requires_grad:
        raise RuntimeError(
            "a view of a leaf Variable that requires grad is being used in an in-place "
            "operation. Wrap it in `with minitorch.no_grad():`, or clone() the leaf first."
        )


def _rebase(t: Tensor, result: Tensor) -> None:
    """Make t the output of result's node (t's storage already holds result's values)."""
    node = result.grad_fn
    t.grad_fn = node
    t._requires_grad = True
    if node.out is result:
        node.out = t
    node.versions = tuple(
        (t._version_counter, t._version_counter[0]) if box is result._version_counter else (box, v)
        for box, v in node.versions
    )
    if t._hooks is not None:
        node.hooks = t._hooks


def _rebase_base(view: Tensor) -> None:
    """After an in-place write through a view, record its base as "the old base with the
    view's elements replaced by the view's new value" (PyTorch's CopySlices), so gradients
    reach both the old base and whatever the new value came from.

    NOTE: other views of the same base taken before the write keep their old history.
    """
    base = view._base
    positions = wrap(np.arange(base.numel()).reshape(base.shape), dtypes.int64)
    with no_grad():  # replay the view ops on element positions to find the view's elements
        for op, params in view._view_chain:
            positions = apply(M.reshape if op is M.view else op, positions, **params)
    index = np.unravel_index(positions._data, base.shape)
    result = apply(M.index_put, base._shell(), view, index=index, accumulate=False)
    _rebase(base, result)


def _dims(dim):
    if isinstance(dim, list):
        return tuple(dim)
    return dim


def _data_of(x):
    return x._data if isinstance(x, Tensor) else x


def _sample_(t: Tensor, kind: str, x0, x1, generator) -> Tensor:
    from .random import sample_  # noqa: PLC0415  (minitorch/random.py imports this module)

    return sample_(t, kind, x0, x1, generator)


def _scalar_tensor(value, dtype) -> Tensor:
    return wrap(np.asarray(value, dtype=dtype.np), dtype)


def _copy_into(target: np.ndarray, array) -> None:
    try:
        np.copyto(target, array, casting="unsafe")
    except ValueError as e:
        if "read-only" not in str(e):
            raise
        raise RuntimeError(
            "unsupported operation: more than one element of the written-to tensor refers "
            "to a single memory location (an expanded tensor). Please clone() the tensor "
            "before performing the operation."
        ) from None


def _refuse_numpy(t: Tensor):
    raise TypeError(
        f"can't convert {t.device} device type tensor to numpy. Use Tensor.cpu() to copy the "
        "tensor to host memory first."
    )


def _to_device(t: Tensor, device: Device) -> Tensor:
    """A copy of t on device, differentiable (its gradient is copied back), like PyTorch."""
    from .ops import cuda as cuda_ops  # noqa: PLC0415

    return apply(cuda_ops.to_copy, t, device=device)


def _filled(shape, value, dtype, requires_grad, device=None) -> Tensor:
    if device is not None and to_device(device).type == "cuda":
        from .functional import full  # noqa: PLC0415

        return full(
            shape,
            0 if value is None else value,
            dtype=dtype,
            device=device,
            requires_grad=requires_grad,
        )
    dtype = dtypes.to_dtype(dtype)
    if value is None:
        arr = np.empty(shape, dtype.np)
    else:
        arr = np.full(shape, value, dtype.np)
    t = wrap(arr, dtype)
    if requires_grad:
        t.requires_grad = True
    return t


def _cat(tensors, dim):
    return apply(M.cat, *tensors, dim=dim)


def _diagonal_length(rows: int, cols: int, offset: int) -> int:
    """How many elements (i, i + offset) a rows x cols matrix has."""
    return max(0, min(rows, cols - offset) if offset >= 0 else min(rows + offset, cols))


def _convert_index(index):
    """Tensors in an index become numpy arrays; Python lists become integer arrays."""
    if isinstance(index, tuple):
        return tuple(_convert_one(i) for i in index)
    return _convert_one(index)


def _convert_one(i):
    if isinstance(i, slice) and i.step is not None and i.step <= 0:
        raise ValueError(
            f"index: step must be greater than zero, got {i.step}; use flip() to reverse a tensor"
        )
    if isinstance(i, Tensor):
        if i.dtype not in (dtypes.int64, dtypes.int32, dtypes.uint8, dtypes.bool_):
            raise IndexError(
                f"tensors used as indices must be long, int, byte or bool tensors; got {i.dtype}"
            )
        if i.dtype is dtypes.uint8:  # PyTorch (deprecated): a byte tensor index is a mask
            warnings.warn(
                "indexing with dtype minitorch.uint8 is now deprecated, please use a dtype "
                "minitorch.bool instead.",
                UserWarning,
                stacklevel=4,
            )
            return i._data.astype(np.bool_)
        return i._data
    if isinstance(i, list):
        if any(isinstance(v, Tensor) for v in i):
            jit_guard.check_host_sync("index of tensors")
        arr = np.asarray([_data_of(v) for v in i])
        if arr.dtype == object or arr.dtype.kind == "f":
            raise IndexError(f"index: unsupported list index {i!r}; use integers or booleans")
        return arr
    return i


def _rebuild(array, dtype_name, requires_grad):
    t = wrap(array, dtypes.to_dtype(dtype_name))
    t._requires_grad = requires_grad
    return t


def _legacy_type_name(d: dtypes.dtype) -> str:
    return {
        "float32": "FloatTensor",
        "float64": "DoubleTensor",
        "float16": "HalfTensor",
        "int64": "LongTensor",
        "int32": "IntTensor",
        "int16": "ShortTensor",
        "int8": "CharTensor",
        "uint8": "ByteTensor",
        "bool": "BoolTensor",
    }[d.name]


def _type_from_name(name: str) -> dtypes.dtype:
    short = name.rsplit(".", 1)[-1]
    for d in dtypes.ALL:
        if _legacy_type_name(d) == short:
            return d
    raise ValueError(f"invalid type: {name!r}")


def root_of_sum(total: Tensor, root) -> Tensor:
    """root(total) for a norm's sum of powers, with PyTorch's norm gradient where the sum is 0:
    zero (the chain rule alone gives 0 * inf = NaN, e.g. for a padding row of zeros)."""
    if not total.requires_grad:
        return root(total)
    zero = total == 0
    return root(total.masked_fill(zero, 1)).masked_fill(zero, 0)


def dim_alias(function):
    """PyTorch also takes numpy's name `axis` for a `dim` argument (x.sum(axis=1))."""

    @functools.wraps(function)
    def takes_axis(*args, **kwargs):
        if "axis" in kwargs:
            if "dim" in kwargs:
                raise TypeError(f"{function.__name__}() got both 'dim' and its alias 'axis'")
            kwargs["dim"] = kwargs.pop("axis")
        return function(*args, **kwargs)

    return takes_axis


def _takes_dim(function) -> bool:
    code = function.__code__
    return "dim" in code.co_varnames[: code.co_argcount + code.co_kwonlyargcount]


# Tensor methods whose in-place twin (x.sin_()) computes them out of place and writes the result
# into self (Tensor._inplace: dtype and shape checks, autograd history); comparisons write 1 / 0
# in self's dtype, as PyTorch's eq_ does
_INPLACE_TWINS = """
    absolute acos acosh arccos arccosh arcsin arcsinh arctan arctan2 arctanh asin asinh atan atan2
    atanh bitwise_and bitwise_left_shift bitwise_not bitwise_or bitwise_right_shift bitwise_xor
    ceil clamp_max clamp_min cos cosh cumprod cumsum deg2rad digamma divide eq erf erfc erfinv exp2
    expm1 lgamma
    floor_divide fmod frac ge greater greater_equal gt hypot le less less_equal log10 log1p log2
    logical_and logical_not logical_or logical_xor logit lt multiply nan_to_num ne negative
    not_equal rad2deg reciprocal remainder rsqrt sgn sign sin sinh square subtract tan tril triu
    true_divide trunc xlogy
""".split()


# twins of ops with a boolean result, whose gradient PyTorch defines as zero
_BOOLEAN = set(
    "eq ne lt le gt ge greater greater_equal less less_equal not_equal logical_and logical_or "
    "logical_xor logical_not".split()
)


def _inplace_twin(name: str):
    out_of_place = getattr(Tensor, name)

    def method(self, *args, **kwargs):
        if name in _BOOLEAN:  # (copy_ keeps self's graph, with a zero gradient, as PyTorch)
            return self.copy_(out_of_place(self, *args, **kwargs))
        return self._inplace(lambda s, *a: out_of_place(s, *a, **kwargs), *args)

    method.__name__ = method.__qualname__ = f"{name}_"
    method.__doc__ = f"In-place {name}: self.{name}(...) written into self."
    return method


for _name in _INPLACE_TWINS:
    setattr(Tensor, f"{_name}_", _inplace_twin(_name))

# (not size/stride: hot, and x.size(axis=0) is not something scripts write)
for _name, _method in list(vars(Tensor).items()):
    if callable(_method) and hasattr(_method, "__code__") and not _name.startswith("_"):
        if _name not in ("size", "stride") and _takes_dim(_method):
            setattr(Tensor, _name, dim_alias(_method))

engine.Tensor = Tensor
E.Tensor = Tensor
