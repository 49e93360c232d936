"""LazyModuleMixin: layers whose input size is inferred from the first forward call.

A lazy layer (LazyLinear, LazyConv2d, ...) starts with UninitializedParameter/Buffer
placeholders. Its first call reads the input's size, materializes them, initializes them as the
regular layer would, and turns the module into that layer (`cls_to_become`), as in PyTorch.
"""

from __future__ import annotations

from ...autograd.grad_mode import no_grad
from ..parameter import _UninitializedTensor
from .module import Module

__all__ = ["LazyModuleMixin"]


class LazyModuleMixin:
    """Put first among a lazy layer's bases; the layer defines `initialize_parameters(input)`."""

    cls_to_become: type | None = None
    _in_size: str  # the attribute the first input fills: "in_features", "in_channels", ...

    def reset_parameters(self) -> None:
        # the regular __init__ calls this on zero-size stand-ins; initialize_parameters again
        if not self.has_uninitialized_params() and getattr(self, self._in_size) != 0:
            super().reset_parameters()

    def has_uninitialized_params(self) -> bool:
        """True while some parameter or buffer of this module is still uninitialized."""
        tensors = (*self._parameters.values(), *self._buffers.values())
        return any(isinstance(t, _UninitializedTensor) for t in tensors)

    def __call__(self, *args, **kwargs):
        # (called also when load_state_dict materialized the tensors: it still reads the size)
        with no_grad():
            self.initialize_parameters(*args, **kwargs)
        if self.has_uninitialized_params():
            raise RuntimeError(
                f"module {self._get_name()} has not been fully initialized by initialize_parameters"
            )
        if self.cls_to_become is not None:
            self.__class__ = self.cls_to_become
        return Module.__call__(self, *args, **kwargs)  # (super() fails once the class changed)

    def _load_from_state_dict(self, state_dict, prefix, *args) -> None:
        # a loaded tensor gives a placeholder its shape; the copy in super() then fills it
        for name, tensor in (*self._parameters.items(), *self._buffers.items()):
            loaded = state_dict.get(prefix + name)
            if isinstance(tensor, _UninitializedTensor) and loaded is not None:
                if not isinstance(loaded, _UninitializedTensor):
                    with no_grad():
                        tensor.materialize(loaded.shape)
        super()._load_from_state_dict(state_dict, prefix, *args)
