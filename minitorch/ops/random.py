"""Random draws as registry ops, so that a trace replays them: each run of `forward` reserves
fresh counters from the generator, exactly as the eager call did, instead of a trace freezing
one draw as a constant."""

from __future__ import annotations

import functools

import numpy as np

from ..kernels.codegen.philox import FLOAT_KINDS
from ..kernels.cpu import random as K
from .registry import Meta, Op, register


class Draw(Op):
    """A tensor of `shape` and `dtype` filled by kernels/cpu/random's `fill_<kind>`.

    Inputs are data the kernel reads (bernoulli's probabilities); `args` are its numbers.
    """

    name = "random"
    differentiable = False
    random = True  # the tracer must neither merge two draws nor fold one into a constant
    writes_out = True

    def infer(self, *inputs, kind, shape, dtype, generator, args=(), device=None):
        return Meta(tuple(shape), dtype)

    def forward(self, meta, *arrays, kind, shape, dtype, generator, args=(), device=None, out=None):
        out = np.empty(meta.shape, meta.dtype.np) if out is None else out
        if kind == "bernoulli":
            probs = _probabilities(arrays[0])  # (checked before the generator advances)
            K.fill_bernoulli(out, probs, *generator.draw(out.size))
        else:
            fill = _filler(K, kind)
            fill(out, *generator.draw(out.size), *args)
        return out


def _filler(kernels, kind: str):
    """A target's (kernels/cpu or kernels/cuda random's) fill function for a draw of `kind`:
    fill_float(kind, ...) for the float kinds, fill_<kind> for the others."""
    if kind in FLOAT_KINDS:
        return functools.partial(kernels.fill_float, kind)
    return getattr(kernels, f"fill_{kind}")


def _probabilities(p: np.ndarray) -> np.ndarray:
    """bernoulli's probabilities as the kernel reads them (contiguous floats), checked: done
    here, in the op, so that a replay copies this call's values and raises what eager raises."""
    # (reshaped: ascontiguousarray makes a 0-d array 1-d)
    p = np.ascontiguousarray(p, dtype=p.dtype if p.dtype.kind == "f" else np.float64).reshape(
        p.shape
    )
    if p.size and (p.min() < 0 or p.max() > 1):
        raise RuntimeError("bernoulli: all probabilities must be in [0, 1]")
    return p


draw = register(Draw())
