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
    from ..nn.modules.module import Module  # noqa: PLC0415

    if isinstance(fn, Module):
        return _CompiledModule(fn, fallback=fallback, check=check, cache=cache)
    return CompiledFunction(fn, fallback=fallback, check=check, cache=cache)


class _CompiledModule:
    """module(...) through a compiled forward; attributes pass through to the module."""

    def __init__(self, module, **options):
        self._module = module
        self._forward = CompiledFunction(module.__call__, **options)

    def __call__(self, *args, **kwargs):
        return self._forward(*args, **kwargs)

    def explain(self) -> str:
        return self._forward.explain()

    @property
    def stats(self) -> Stats:
        return self._forward.stats

    def __getattr__(self, name):
        return getattr(self._module, name)
