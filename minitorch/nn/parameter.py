"""nn.Parameter and nn.Buffer: tensors a Module registers as its state."""

from __future__ import annotations

from .. import jit_guard
from ..tensor import Tensor, _rebuild

__all__ = ["Parameter", "Buffer"]


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
