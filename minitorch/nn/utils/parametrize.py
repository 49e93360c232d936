"""nn.utils.parametrize: compute a module's parameter from other tensors on each access.

`register_parametrization(m, "weight", P())` moves `m.weight` to
`m.parametrizations.weight.original` (or original0, original1, ... when P.right_inverse
returns several tensors) and makes `m.weight` return `P()(original)` at every read, so
gradients flow to the originals, which the optimizer updates. As in PyTorch, the module's
class is swapped for a subclass (`ParametrizedLinear`) holding a property per parametrized
name: a property is the one place Python consults before Module.__getattr__ and before
Module.__setattr__'s fallback, so nothing in Module itself has to know about parametrizations,
and state_dict keys, parameters() names and repr come out as PyTorch's.
"""

from __future__ import annotations

import copyreg
from collections.abc import Sequence
from contextlib import contextmanager
from copy import deepcopy

from ...autograd.grad_mode import no_grad
from ...tensor import Tensor
from ..modules.container import ModuleDict, ModuleList
from ..modules.module import Module
from ..parameter import Parameter

__all__ = [
    "cached",
    "ParametrizationList",
    "register_parametrization",
    "is_parametrized",
    "remove_parametrizations",
    "type_before_parametrizations",
]

_cache_enabled = 0
_cache: dict[tuple[int, str], Tensor] = {}


@contextmanager
def cached():
    """Compute each parametrized tensor once inside the block and reuse it (e.g. an RNN's
    parametrized recurrent weight read at every time step); the values are dropped on exit.

    Example:
        >>> import minitorch as torch
        >>> import minitorch.nn.utils.parametrize as P
        >>> m = torch.nn.Linear(3, 3)
        >>> _ = P.register_parametrization(m, "weight", torch.nn.Identity())
        >>> with P.cached():
        ...     m.weight is m.weight
        True
    """
    global _cache, _cache_enabled
    _cache_enabled += 1
    try:
        yield
    finally:
        _cache_enabled -= 1
        if not _cache_enabled:
            _cache = {}


def _register_parameter_or_buffer(module: Module, name: str, value: Tensor) -> None:
    if isinstance(value, Parameter):
        module.register_parameter(name, value)
    else:
        module.register_buffer(name, value)


def _set_keeping_identity(dest: Tensor, src: Tensor) -> None:
    """dest takes src's value (and shape) but stays the same object, as PyTorch's set_: an
    optimizer holding dest keeps updating the module's tensor."""
    with no_grad():
        dest.data = src


def _check_dtype(what: str, name: str, expected, got) -> None:
    if expected != got:
        raise ValueError(f"{what} has dtype {got} while `{name}` has dtype {expected}")


class ParametrizationList(ModuleList):
    """The parametrizations of one tensor, applied in registration order, and the original
    tensor(s) they start from (`original`, or `original0`, `original1`, ...).

    It is the type of `module.parametrizations[tensor_name]`; register_parametrization makes
    it (do not build one yourself).
    """

    def __init__(self, modules: Sequence[Module], original: Tensor, unsafe: bool = False):
        if len(modules) == 0:
            raise ValueError("ParametrizationList requires one or more modules.")
        super().__init__(modules)
        self.unsafe = unsafe
        with no_grad():
            new = original
            for module in reversed(list(self)):
                if hasattr(module, "right_inverse"):
                    try:
                        new = module.right_inverse(new)
                    except NotImplementedError:
                        pass
        if not isinstance(new, (Tensor, Sequence)):
            raise ValueError(
                "'right_inverse' must return a Tensor or a Sequence of tensors (list, tuple...). "
                f"Got {type(new).__name__}"
            )
        self.is_tensor = isinstance(new, Tensor)
        self.ntensors = 1 if self.is_tensor else len(new)
        if self.is_tensor:
            self._register_single(original, new)
        else:
            for i, tensor in enumerate(new):
                if not isinstance(tensor, Tensor):
                    raise ValueError(
                        "'right_inverse' must return a Tensor or a Sequence of tensors "
                        f"(list, tuple...). Got element {i} of the sequence with type "
                        f"{type(tensor).__name__}."
                    )
                if isinstance(original, Parameter):
                    tensor = Parameter(tensor, original.requires_grad)
                tensor.requires_grad_(original.requires_grad)
                _register_parameter_or_buffer(self, f"original{i}", tensor)
        if not self.unsafe:
            _check_same_meta(original, self(), "Registering a parametrization", "unparametrized")

    def _register_single(self, original: Tensor, new: Tensor) -> None:
        for what in ("dtype", "device"):
            if getattr(original, what) != getattr(new, what):
                raise ValueError(
                    f"When `right_inverse` outputs one tensor, it may not change the {what}.\n"
                    f"original.{what}: {getattr(original, what)}\n"
                    f"right_inverse(original).{what}: {getattr(new, what)}"
                )
        _set_keeping_identity(original, new)
        _register_parameter_or_buffer(self, "original", original)

    def right_inverse(self, value: Tensor) -> None:
        """Store the originals that make this list return `value`: call the parametrizations'
        right_inverse in reverse registration order (what `module.weight = value` runs)."""
        with no_grad():
            for module in reversed(list(self)):
                if not hasattr(module, "right_inverse"):
                    raise RuntimeError(
                        f"parametrization {type(module).__name__} does not implement right_inverse."
                    )
                value = module.right_inverse(value)
        if self.is_tensor:
            if not isinstance(value, Tensor):
                raise ValueError(
                    f"`right_inverse` should return a tensor. Got {type(value).__name__}"
                )
            _check_dtype(
                "The tensor returned by `right_inverse`",
                "original",
                self.original.dtype,
                value.dtype,
            )
            _set_keeping_identity(self.original, value)
            return
        if not isinstance(value, Sequence):
            raise ValueError(
                f"'right_inverse' must return a sequence of tensors. Got {type(value).__name__}."
            )
        if len(value) != self.ntensors:
            raise ValueError(
                "'right_inverse' must return a sequence of tensors of length "
                f"{self.ntensors}. Got a sequence of length {len(value)}."
            )
        for i, tensor in enumerate(value):
            original_i = getattr(self, f"original{i}")
            _check_dtype(
                f"Tensor {i} returned by `right_inverse`",
                f"original{i}",
                original_i.dtype,
                tensor.dtype,
            )
            _set_keeping_identity(original_i, tensor)

    def forward(self) -> Tensor:
        if self.is_tensor:
            x = self[0](self.original)
        else:
            x = self[0](*(getattr(self, f"original{i}") for i in range(self.ntensors)))
        for module in list(self)[1:]:
            x = module(x)
        return x


def _check_same_meta(before: Tensor, after, what: str, label: str) -> None:
    """PyTorch's checks that a (safe) parametrization keeps the tensor's dtype and shape."""
    if not isinstance(after, Tensor):
        raise ValueError(f"A parametrization must return a tensor. Got {type(after).__name__}.")
    for attr in ("dtype", "shape"):
        if getattr(after, attr) != getattr(before, attr):
            raise ValueError(
                f"{what} may not change the {attr} of the tensor, unless `unsafe` flag is "
                f"enabled.\n{label} {attr}: {getattr(before, attr)}\n"
                f"parametrized {attr}: {getattr(after, attr)}"
            )


def _deepcopy(self, memo):
    """copy.deepcopy for a parametrized module (its __getstate__ refuses pickling)."""
    if id(self) in memo:
        return memo[id(self)]
    replica = self.__new__(self.__class__)
    memo[id(self)] = replica
    replica.__dict__ = deepcopy(self.__dict__, memo)
    for slot in copyreg._slotnames(self.__class__):
        if hasattr(self, slot):
            setattr(replica, slot, deepcopy(getattr(self, slot), memo))
    return replica


def _getstate(self):
    raise RuntimeError(
        "Serialization of parametrized modules is only supported through state_dict(). See:\n"
        "https://pytorch.org/tutorials/beginner/saving_loading_models.html"
        "#saving-loading-a-general-checkpoint-for-inference-and-or-resuming-training"
    )


def _inject_new_class(module: Module) -> None:
    """Give module a class of its own (a subclass of its class) to hold the properties."""
    cls = module.__class__
    body = {"__getstate__": _getstate}
    if not hasattr(cls, "__deepcopy__"):
        body["__deepcopy__"] = _deepcopy
    module.__class__ = type(f"Parametrized{cls.__name__}", (cls,), body)


def _inject_property(module: Module, tensor_name: str) -> None:
    """module.<tensor_name> reads the parametrization's output and assigns via right_inverse."""
    assert not hasattr(module, tensor_name), tensor_name

    def get_parametrized(self) -> Tensor:
        parametrization = self.parametrizations[tensor_name]
        if not _cache_enabled:
            return parametrization()
        key = (id(self), tensor_name)
        if key not in _cache:
            _cache[key] = parametrization()
        return _cache[key]

    def set_original(self, value: Tensor) -> None:
        self.parametrizations[tensor_name].right_inverse(value)

    setattr(module.__class__, tensor_name, property(get_parametrized, set_original))


def register_parametrization(
    module: Module, tensor_name: str, parametrization: Module, *, unsafe: bool = False
) -> Module:
    """Make `module.<tensor_name>` return `parametrization(original)` at every access.

    The first registration moves the parameter (or buffer) to
    `module.parametrizations[tensor_name].original` (after `parametrization.right_inverse`,
    when it has one); later ones on the same name chain after it. With unsafe=False the
    parametrization may not change the tensor's dtype or shape.

    Args:
        module: the module holding the tensor.
        tensor_name: name of the parameter or buffer (or an already parametrized name).
        parametrization: a Module whose forward maps the original(s) to the tensor.
        unsafe: skip the dtype and shape checks.

    Example:
        >>> import minitorch as torch
        >>> import minitorch.nn.utils.parametrize as P
        >>> class Symmetric(torch.nn.Module):
        ...     def forward(self, X):
        ...         return X.triu() + X.triu(1).T
        >>> m = P.register_parametrization(torch.nn.Linear(3, 3), "weight", Symmetric())
        >>> bool((m.weight == m.weight.T).all())
        True
        >>> [name for name, _ in m.named_parameters()]
        ['bias', 'parametrizations.weight.original']
    """
    parametrization.train(module.training)
    if is_parametrized(module, tensor_name):
        if not unsafe:
            _check_chained(module, tensor_name, parametrization)
        plist = module.parametrizations[tensor_name]
        plist.append(parametrization)
        plist.unsafe |= unsafe
    elif tensor_name in module._buffers or tensor_name in module._parameters:
        original = getattr(module, tensor_name)
        plist = ParametrizationList([parametrization], original, unsafe=unsafe)
        delattr(module, tensor_name)
        if not is_parametrized(module):
            _inject_new_class(module)
            module.parametrizations = ModuleDict()
        _inject_property(module, tensor_name)
        module.parametrizations[tensor_name] = plist
    else:
        raise ValueError(
            f"Module '{module}' does not have a parameter, a buffer, or a parametrized "
            f"element with name '{tensor_name}'"
        )
    return module


def _check_chained(module: Module, tensor_name: str, parametrization: Module) -> None:
    """A parametrization added on top of others must keep dtype and shape both ways."""
    Y = getattr(module, tensor_name)
    X = parametrization(Y)
    _check_same_meta(Y, X, "Registering a parametrization", f"module.{tensor_name}")
    if hasattr(parametrization, "right_inverse"):
        try:
            Z = parametrization.right_inverse(X)
        except NotImplementedError:
            return
        if not isinstance(Z, Tensor):
            raise ValueError(
                f"parametrization.right_inverse must return a tensor. Got: {type(Z).__name__}"
            )
        _check_same_meta(
            Y, Z, "The tensor returned by parametrization.right_inverse", f"module.{tensor_name}"
        )


def is_parametrized(module: Module, tensor_name: str | None = None) -> bool:
    """Whether module has a parametrization on tensor_name (on any tensor when None)."""
    parametrizations = getattr(module, "parametrizations", None)
    if not isinstance(parametrizations, ModuleDict):
        return False
    if tensor_name is None:
        return len(parametrizations) > 0
    return tensor_name in parametrizations


def remove_parametrizations(
    module: Module, tensor_name: str, leave_parametrized: bool = True
) -> Module:
    """Undo register_parametrization on tensor_name: module.<tensor_name> becomes a plain
    parameter (or buffer) again, holding the current parametrized value
    (leave_parametrized=True) or the original (False; only when there is one original).
    The original Parameter object is kept, so an optimizer holding it still works."""
    if not is_parametrized(module, tensor_name):
        raise ValueError(f"Module {module} does not have a parametrization on {tensor_name}")
    plist = module.parametrizations[tensor_name]
    if plist.is_tensor:
        original = plist.original
        if leave_parametrized:
            with no_grad():
                value = getattr(module, tensor_name)
            _set_keeping_identity(original, value)
    elif leave_parametrized:
        t = getattr(module, tensor_name)
        original = Parameter(t.detach()) if t.requires_grad else t
    else:
        raise ValueError(
            "Cannot leave unparametrized (`leave_parametrized=False`) a tensor that is "
            "parametrized in terms of a sequence of tensors."
        )
    delattr(module.__class__, tensor_name)
    del module.parametrizations[tensor_name]
    _register_parameter_or_buffer(module, tensor_name, original)
    if not is_parametrized(module):
        delattr(module, "parametrizations")
        module.__class__ = module.__class__.__bases__[0]
    return module


def type_before_parametrizations(module: Module) -> type:
    """The module's class before register_parametrization swapped it (else its class)."""
    if is_parametrized(module):
        return module.__class__.__bases__[0]
    return type(module)
