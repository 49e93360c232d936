"""Call a module with other tensors in place of its parameters and buffers (PyTorch's
torch.func.functional_call; also torch.nn.utils.stateless.functional_call).

    params = {name: p.detach().clone().requires_grad_() for name, p in model.named_parameters()}
    out = minitorch.func.functional_call(model, params, (x,))
    out.sum().backward()            # gradients reach params[...], not model's own parameters
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from ... import jit_guard
from ...tensor import Tensor
from ..modules.module import Module

__all__ = ["functional_call"]

_MISSING = object()  # "no such attribute": restoring it deletes what was set


def functional_call(
    module: Module,
    parameter_and_buffer_dicts: dict[str, Tensor] | Sequence[dict[str, Tensor]],
    args: Any = None,
    kwargs: dict[str, Any] | None = None,
    *,
    tie_weights: bool = True,
    strict: bool = False,
) -> Any:
    """Run module(*args, **kwargs) with the given tensors standing in for its parameters and
    buffers, named as in named_parameters() ("0.weight"); the originals are put back after.

    Args:
        module: the module to call.
        parameter_and_buffer_dicts: {dotted name: tensor}, or a list/tuple of such dicts with
            no name in two of them.
        args: the positional arguments, a tuple (anything else is the only argument).
        kwargs: the keyword arguments.
        tie_weights: a tensor the module holds under several names (tied weights) is
            replaced under all of them when one name is given.
        strict: every parameter and buffer must be given, and nothing else.

    Example:
        >>> import minitorch as torch
        >>> lin = torch.nn.Linear(2, 1)
        >>> params = {"weight": torch.ones(1, 2), "bias": torch.zeros(1)}
        >>> torch.func.functional_call(lin, params, torch.tensor([[1.0, 2.0]]))
        tensor([[3.]])
    """
    values = _merge(parameter_and_buffer_dicts)
    if tie_weights:
        values = _with_tied_names(module, values)
    if strict:
        _check_names(module, values)
    if args is None:
        args = ()
    elif not isinstance(args, tuple):
        args = (args,)
    originals: dict[str, Any] = {}
    jit_guard.swapping_state(module)
    try:
        for name, value in values.items():
            originals[name] = _swap(module, name, value)
        return module(*args, **(kwargs or {}))
    finally:
        # NOTE: a module that reassigned a tensor (self.foo = self.foo + 1) leaves the new one
        # in the caller's dict, as PyTorch does.
        swapped_out = {name: _swap(module, name, old) for name, old in originals.items()}
        if isinstance(parameter_and_buffer_dicts, dict):
            for name in parameter_and_buffer_dicts:
                if name in swapped_out:
                    parameter_and_buffer_dicts[name] = swapped_out[name]


def _merge(dicts) -> dict[str, Tensor]:
    if isinstance(dicts, dict):
        return dicts
    if not isinstance(dicts, Sequence) or isinstance(dicts, str):
        raise ValueError(
            "Expected parameter_and_buffer_dicts to be a dict, or a list/tuple of dicts, but "
            f"got {type(dicts)}"
        )
    if not all(isinstance(d, dict) for d in dicts):
        raise ValueError("Expected all elements of parameter_and_buffer_dicts to be dictionaries")
    names = [name for d in dicts for name in d]
    repeated = sorted({name for name in names if names.count(name) > 1})
    if repeated:
        raise ValueError(
            f"{repeated} appeared in multiple dictionaries; behavior of functional call is "
            "ambiguous"
        )
    return {name: value for d in dicts for name, value in d.items()}


def _named_tensors(module: Module) -> list[tuple[str, Tensor]]:
    return [
        *module.named_parameters(remove_duplicate=False),
        *module.named_buffers(remove_duplicate=False),
    ]


def _with_tied_names(module: Module, values: dict[str, Tensor]) -> dict[str, Tensor]:
    """values plus, for each given name of a tied tensor, its other names (same value)."""
    names_of: dict[int, list[str]] = {}
    for name, tensor in _named_tensors(module):
        names_of.setdefault(id(tensor), []).append(name)
    out = dict(values)
    for tied in (names for names in names_of.values() if len(names) > 1):
        given = {id(values[n]): values[n] for n in tied if n in values}
        if len(given) > 1:
            raise ValueError(
                f"functional_call got multiple values for keys {sorted(tied)}, which are tied. "
                "Consider using tie_weights=False"
            )
        for value in given.values():
            out.update(dict.fromkeys(tied, value))
    return out


def _check_names(module: Module, values: dict[str, Tensor]) -> None:
    valid = {name for name, _ in _named_tensors(module)}
    unexpected, missing = sorted(set(values) - valid), sorted(valid - set(values))
    errors = []
    if unexpected:
        errors.append(f"Unexpected key(s): {', '.join(map(repr, unexpected))}.")
    if missing:
        errors.append(f"Missing key(s): {', '.join(map(repr, missing))}.")
    if errors:
        raise RuntimeError(
            f"Error(s) in reparametrizing for {module._get_name()}:\n\t" + "\n\t".join(errors)
        )


def _swap(module: Module, name: str, value) -> Any:
    """Put `value` at dotted `name` and return what was there (_MISSING: nothing).

    Parameters and buffers are replaced in their dicts directly: Module.__setattr__ would
    refuse a plain tensor where a Parameter is registered.
    """
    path, _, attr = name.rpartition(".")
    owner = module.get_submodule(path)
    jit_guard.modules_changed()  # a compiled step's guards must see the swap
    for slots in (owner._parameters, owner._buffers):
        if attr in slots:
            old, slots[attr] = slots[attr], value
            return old
    old = getattr(owner, attr, _MISSING)
    if old is not _MISSING and not isinstance(old, Tensor):
        raise TypeError(f"attribute `{attr}`: {old} is not an instance of minitorch.Tensor")
    if value is _MISSING:
        delattr(owner, attr)
    else:
        setattr(owner, attr, value)
    return old
