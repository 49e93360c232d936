"""nn.Parameter and nn.Buffer: tensors a Module registers as its state."""

from __future__ import annotations

from .. import jit_guard
from ..tensor import Tensor, _rebuild

__all__ = ["Parameter", "Buffer", "UninitializedParameter", "UninitializedBuffer"]


class Parameter(Tensor):
    """A Tensor that a Module registers as a learnable parameter (requires_grad=True).

    Assigning a Parameter as a Module attribute adds it to `module.parameters()`. The
    Parameter shares storage (and version counter) with the tensor it wraps.

    Example:
        >>> import minitorch as torch
        >>> p = torch.nn.Parameter(torch.zeros(2))
        >>> p.requires_grad
        True
    """

    def __new__(cls, data: Tensor | None = None, requires_grad: bool = True):
        if data is None:
            from ..functional import empty  # noqa: PLC0415

            data = empty(0)
        if not isinstance(data, Tensor):
            raise TypeError(
                f"Parameter: expected a Tensor for data, got {type(data).__name__}; wrap it "
                "with minitorch.tensor(...) first."
            )
        p = object.__new__(cls)
        p._data = data._data
        p.dtype = data.dtype
        p._version_counter = data._version_counter
        if requires_grad:
            p.requires_grad = True
        return p

    def __init__(self, data=None, requires_grad: bool = True):
        pass  # everything happens in __new__ (Tensor has no __init__ to call)

    def __repr__(self) -> str:
        return "Parameter containing:\n" + super().__repr__()

    __str__ = __repr__

    def __reduce_ex__(self, protocol):
        jit_guard.check_host_sync("pickle")
        host = self.detach().cpu()._data  # pickles hold host arrays (a cuda one is copied)
        return (_rebuild_parameter, (host.copy(), self.dtype.name, self.requires_grad))

    def __deepcopy__(self, memo):
        if id(self) in memo:
            return memo[id(self)]
        out = self.__copy__()
        if self.grad is not None:
            out.grad = self.grad.clone()
        memo[id(self)] = out
        return out

    def __copy__(self):  # (as pickle's copy: a Parameter, without the gradient)
        return _rebuild_parameter(self.detach().clone()._data, self.dtype.name, self.requires_grad)


def _rebuild_parameter(array, dtype_name: str, requires_grad: bool) -> Parameter:
    return Parameter(_rebuild(array, dtype_name, False), requires_grad=requires_grad)


class Buffer(Tensor):
    """A Tensor marked as module state that is not learnable (e.g. BatchNorm running_mean).

    Assigning a Buffer as a Module attribute registers it like `register_buffer`;
    `persistent=False` keeps it out of the state_dict.
    """

    def __new__(cls, data: Tensor, *, persistent: bool = True):
        b = object.__new__(cls)
        b._data = data._data
        b.dtype = data.dtype
        b._version_counter = data._version_counter
        b.persistent = persistent
        return b

    def __init__(self, data=None, *, persistent: bool = True):
        pass


_UNINITIALIZED_HINT = (
    "This error happens when you are using a LazyModule or explicitly manipulating "
    "UninitializedParameter objects; call forward with a dummy batch to initialize the "
    "parameters first."
)


class _UninitializedTensor(Tensor):
    """Shared by UninitializedParameter and UninitializedBuffer: a tensor with no data yet.

    Any use of its data raises ValueError (shape access RuntimeError, as in PyTorch) until
    `materialize(shape)` gives it storage and turns it into `cls_to_become` in place, so
    modules and optimizers that already hold this object see the materialized tensor.
    """

    cls_to_become: type

    def __new__(cls, requires_grad: bool = True, device=None, dtype=None):
        from .. import dtypes  # noqa: PLC0415

        t = object.__new__(cls)
        t.dtype = dtypes.get_default_dtype() if dtype is None else dtypes.to_dtype(dtype)
        t._device = device
        if requires_grad:
            t._requires_grad = True
        return t

    def __init__(self, *args, **kwargs):
        pass

    @property
    def _data(self):
        raise ValueError(
            "Attempted to use an uninitialized parameter or buffer. " + _UNINITIALIZED_HINT
        )

    @property
    def shape(self):
        raise RuntimeError(
            "Can't access the shape of an uninitialized parameter or buffer. This error usually "
            "happens in load_state_dict when trying to load an uninitialized parameter into an "
            "initialized one. Call forward to initialize the parameters before accessing their "
            "attributes."
        )

    def materialize(self, shape, device=None, dtype=None) -> None:
        """Give the tensor storage of `shape` (uninitialized values) and its final class."""
        from .modules._factory import new_empty  # noqa: PLC0415

        data = new_empty(shape, device or self._device, dtype or self.dtype)
        self.__class__ = self.cls_to_become
        self._data = data._data
        self.dtype = data.dtype
        self._version_counter = data._version_counter
        del self._device

    def __repr__(self) -> str:
        return f"<{type(self).__name__}>"

    __str__ = __repr__

    def __deepcopy__(self, memo):
        out = type(self)(self.requires_grad, self._device, self.dtype)
        memo[id(self)] = out
        return out

    def __reduce_ex__(self, protocol):
        return (type(self), (self.requires_grad, self._device, self.dtype.name))


class UninitializedParameter(_UninitializedTensor, Parameter):
    """A Parameter whose shape is not known yet (lazy modules); see `materialize`."""

    cls_to_become = Parameter


class UninitializedBuffer(_UninitializedTensor, Buffer):
    """A buffer whose shape is not known yet (lazy modules); see `materialize`."""

    cls_to_become = Tensor  # as registered buffers are: plain tensors

    def __new__(cls, requires_grad: bool = False, device=None, dtype=None, persistent=True):
        b = super().__new__(cls, requires_grad, device, dtype)
        b.persistent = persistent
        return b
