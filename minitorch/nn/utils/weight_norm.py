"""nn.utils.weight_norm / remove_weight_norm: PyTorch's older, deprecated weight norm.

The weight becomes two parameters, `weight_g` (magnitude) and `weight_v` (direction), and a
forward pre-hook recomputes `module.weight` from them before every forward. New code should
use nn.utils.parametrizations.weight_norm, which loads these state_dicts too.
"""

from __future__ import annotations

import warnings

from ... import jit_guard
from ...tensor import Tensor
from ..modules.module import Module
from ..parameter import Parameter
from .parametrizations import _norm_except_dim, _weight_norm

__all__ = ["WeightNorm", "weight_norm", "remove_weight_norm"]


def _hook_key(module: Module, kind: type, name: str):
    """The key of module's forward pre-hook of class `kind` on parameter `name`, or None.
    (Shared by the old hook-based weight_norm and spectral_norm.)"""
    for key, hook in module._forward_pre_hooks.items():
        if isinstance(hook, kind) and hook.name == name:
            return key
    return None


def _remove_hook(module: Module, kind: type, name: str, what: str) -> Module:
    """Undo the hook-based `what` (weight_norm, spectral_norm) of module.<name>."""
    key = _hook_key(module, kind, name)
    if key is None:
        raise ValueError(f"{what} of '{name}' not found in {module}")
    module._forward_pre_hooks.pop(key).remove(module)
    jit_guard.hooks_changed()  # a trace that ran this hook no longer holds
    return module


class WeightNorm:
    """The forward pre-hook that sets module.<name> = g * v / ||v|| before each forward."""

    def __init__(self, name: str, dim: int | None) -> None:
        self.name = name
        self.dim = -1 if dim is None else dim

    def compute_weight(self, module: Module) -> Tensor:
        g = getattr(module, self.name + "_g")
        v = getattr(module, self.name + "_v")
        return _weight_norm(v, g, self.dim)

    @staticmethod
    def apply(module: Module, name: str, dim: int | None) -> WeightNorm:
        warnings.warn(
            "`torch.nn.utils.weight_norm` is deprecated in favor of "
            "`torch.nn.utils.parametrizations.weight_norm`.",
            FutureWarning,
            stacklevel=3,
        )
        if _hook_key(module, WeightNorm, name) is not None:
            raise RuntimeError(
                f"Cannot register two weight_norm hooks on the same parameter {name}"
            )
        fn = WeightNorm(name, dim)
        weight = getattr(module, name)
        del module._parameters[name]
        module.register_parameter(name + "_g", Parameter(_norm_except_dim(weight, fn.dim).data))
        module.register_parameter(name + "_v", Parameter(weight.data))
        setattr(module, name, fn.compute_weight(module))
        module.register_forward_pre_hook(fn)
        return fn

    def remove(self, module: Module) -> None:
        weight = self.compute_weight(module)
        delattr(module, self.name)
        del module._parameters[self.name + "_g"]
        del module._parameters[self.name + "_v"]
        setattr(module, self.name, Parameter(weight.data))

    def __call__(self, module: Module, inputs) -> None:
        setattr(module, self.name, self.compute_weight(module))


def weight_norm(module: Module, name: str = "weight", dim: int | None = 0) -> Module:
    """Replace module.<name> by `<name>_g` and `<name>_v` parameters (deprecated in PyTorch;
    see nn.utils.parametrizations.weight_norm).

    Example:
        >>> import warnings
        >>> import minitorch as torch
        >>> with warnings.catch_warnings():
        ...     warnings.simplefilter("ignore")
        ...     m = torch.nn.utils.weight_norm(torch.nn.Linear(20, 40))
        >>> [name for name, _ in m.named_parameters()]
        ['bias', 'weight_g', 'weight_v']
    """
    WeightNorm.apply(module, name, dim)
    return module


def remove_weight_norm(module: Module, name: str = "weight") -> Module:
    """Undo weight_norm: module.<name> is one parameter again, holding the current weight."""
    return _remove_hook(module, WeightNorm, name, "weight_norm")
