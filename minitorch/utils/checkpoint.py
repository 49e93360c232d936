"""torch.utils.checkpoint's API: checkpoint and checkpoint_sequential.

NOTE: they save no memory here. PyTorch frees a checkpointed segment's activations and
recomputes them in backward; minitorch runs the segment once and keeps its graph, so results
and gradients are exactly those of the plain call (also under minitorch.compile, which traces
the call like any other code). Scripts written for PyTorch run unchanged.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable
from typing import Any

__all__ = ["checkpoint", "checkpoint_sequential"]


def checkpoint(
    function: Callable,
    *args,
    use_reentrant: bool | None = None,
    context_fn: Callable | None = None,
    determinism_check: str = "default",
    debug: bool = False,
    early_stop: bool = True,
    **kwargs,
) -> Any:
    """function(*args, **kwargs), with PyTorch's checks of the arguments (see module note:
    nothing is recomputed, nothing freed)."""
    use_reentrant = _reentrant("torch.utils.checkpoint", use_reentrant)
    kwargs.pop("preserve_rng_state", True)  # nothing is re-run, so the RNG needs no saving
    if use_reentrant and (context_fn is not None or debug):
        raise ValueError(
            "Passing `context_fn` or `debug` is only supported when use_reentrant=False."
        )
    if use_reentrant and kwargs:
        raise ValueError("Unexpected keyword arguments: " + ",".join(arg for arg in kwargs))
    return function(*args, **kwargs)


def checkpoint_sequential(functions, segments: int, input, use_reentrant=None, **kwargs) -> Any:
    """Run the modules (a Sequential or a list) in `segments` checkpointed chunks, in order."""
    use_reentrant = _reentrant("torch.utils.checkpoint.checkpoint_sequential", use_reentrant)
    kwargs.pop("preserve_rng_state", True)
    if kwargs:
        raise ValueError("Unexpected keyword arguments: " + ",".join(arg for arg in kwargs))
    modules = list(functions.children()) if hasattr(functions, "children") else list(functions)
    for module in modules:
        input = module(input)
    return input


def _reentrant(name: str, use_reentrant: bool | None) -> bool:
    if use_reentrant is None:
        warnings.warn(
            f"{name}: the use_reentrant parameter should be passed explicitly. "
            "use_reentrant=False is recommended.",
            stacklevel=3,
        )
        return True
    return use_reentrant
