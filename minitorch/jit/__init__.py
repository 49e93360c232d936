"""minitorch.compile: trace a step once, replay it without eager dispatch.

    step = minitorch.compile(train_step)     # or @minitorch.compile
    loss = step(x, y)                        # 1st call eager, 2nd traced, then replayed

A trace records every registry op the step runs (forward and backward), the gradients it
assigns, its in-place writes, and calls of optimizer.step()/zero_grad(), which are replayed as
calls so that learning rates and step counts stay live. Passes fold constants, merge repeated
ops, drop dead ones and fuse (elementwise chains, product epilogues, elementwise producers of
column reductions); the result is one straight-line Python driver calling the ops' kernels
directly, with a memory plan: the outputs of elementwise kernels, products, reductions and
ops that write into given arrays (convolutions, norms, softmax, random draws...) go into
arrays it keeps from replay to replay; those that leave the step (gradients, returned tensors)
into arrays reused only once nothing outside holds them, so a replay never overwrites what the
caller holds (one compiled step is not to be replayed by two threads at once). `explain()`
shows it, with the fusion groups, the generated kernels (their source files under
MINITORCH_CACHE_DIR, compiled or loaded from Numba's disk cache), compile times and every
retrace with its reason.
"""

from __future__ import annotations

from ..nn.modules.module import Module
from .compiled import CompiledFunction, Stats
from .trace import TraceError

__all__ = ["compile", "CompiledFunction", "Stats", "TraceError"]


_MODES = (None, "default", "reduce-overhead", "max-autotune", "max-autotune-no-cudagraphs")


def compile(  # noqa: A001
    fn=None,
    *,
    fallback: str = "error",
    check: bool = False,
    cache: bool = True,
    fullgraph: bool = False,
    dynamic: bool | None = None,
    backend="inductor",
    mode: str | None = None,
    options: dict | None = None,
    disable: bool = False,
):
    """Compile a training or inference step (a function or an nn.Module); usable as decorator.

    Args:
        fn: the step. An nn.Module compiles its forward.
        fallback: "error" (default) raises on what a trace cannot hold (.item() inside the
            step); "eager" runs such a function eagerly, with one warning.
        check: compare the first replay with an eager run and raise naming the first op
            whose values differ.
        cache: True (default): generated kernels go through the disk cache
            (MINITORCH_CACHE_DIR), so a new process compiles nothing it has compiled before.
            False: the kernels this step is first to need are compiled in memory only (no
            file written, Numba's disk cache neither read nor written for them; the library's
            hand-written kernels keep theirs). Traces always live in memory (a new process
            traces again, which costs one eager step).
        fullgraph, dynamic, backend, mode, options: torch.compile's, accepted so that PyTorch
            scripts run; minitorch has one compiler, so they change nothing (an unknown mode
            is still an error). disable=True returns fn itself, as torch.compile does.
    """
    if mode not in _MODES:
        raise RuntimeError(f"Unrecognized mode={mode}, should be one of: {', '.join(_MODES[1:])}")
    if fn is None:
        return lambda f: compile(f, fallback=fallback, check=check, cache=cache, disable=disable)
    if disable:
        return fn
    if isinstance(fn, Module):
        return OptimizedModule(fn, fallback=fallback, check=check, cache=cache)
    return CompiledFunction(fn, fallback=fallback, check=check, cache=cache)


class OptimizedModule(Module):
    """What compile(module) returns, as torch._dynamo's OptimizedModule: an nn.Module holding
    the original as the submodule `_orig_mod` (so a parent module that stores it sees its
    parameters, its state_dict keys start with `_orig_mod.`, and train()/eval()/to() reach
    it and return this wrapper), whose calls go through a compiled forward. Every other
    attribute read or write goes to the original module."""

    # the wrapper's own attributes; every other name set on it is set on the original
    _own = frozenset({"_orig_mod", "_forward", "_options"})

    def __init__(self, module: Module, **options):
        super().__init__()
        del self.__dict__["training"]  # the property below reads and sets the original's
        self._orig_mod = module
        self._options = options
        self._forward = CompiledFunction(module.__call__, **options)

    def forward(self, *args, **kwargs):
        return self._forward(*args, **kwargs)

    def explain(self) -> str:
        return self._forward.explain()

    @property
    def stats(self) -> Stats:
        return self._forward.stats

    @property
    def training(self) -> bool:
        return self._orig_mod.training

    @training.setter
    def training(self, mode: bool) -> None:
        self._orig_mod.training = mode

    def __getattr__(self, name: str):
        orig = self.__dict__.get("_modules", {}).get("_orig_mod")
        if orig is None:  # half-built (by copy or pickle): no recursion through _orig_mod
            raise AttributeError(f"'{type(self).__name__}' object has no attribute '{name}'")
        return orig if name == "_orig_mod" else getattr(orig, name)

    def __setattr__(self, name: str, value) -> None:
        # (a class attribute, `training` included, keeps its own meaning, as in PyTorch)
        if name in self._own or hasattr(type(self), name):
            super().__setattr__(name, value)
        else:
            setattr(self._orig_mod, name, value)

    def __delattr__(self, name: str) -> None:
        if name in self._own or hasattr(type(self), name):
            super().__delattr__(name)
        else:
            delattr(self._orig_mod, name)

    def __dir__(self):
        return sorted(set(super().__dir__()) | set(dir(self._orig_mod)))

    # NOTE: the traces hold the arrays of this module's parameters; a copy (copy.deepcopy,
    # pickle) compiles a forward of its own on its own module instead of sharing them.
    def __getstate__(self) -> dict:
        state = dict(self.__dict__)
        del state["_forward"]
        return state

    def __setstate__(self, state: dict) -> None:
        self.__dict__.update(state)
        self._forward = CompiledFunction(self._orig_mod.__call__, **self._options)
