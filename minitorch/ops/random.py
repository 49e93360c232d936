"""Random draws as registry ops, so that a trace replays them: each run of `forward` reserves
fresh counters from the generator, exactly as the eager call did, instead of a trace freezing
one draw as a constant."""

from __future__ import annotations

import numpy as np

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
        seed, offset = generator.draw(out.size)
        if kind == "bernoulli":
            K.fill_bernoulli(out, arrays[0], seed, offset)
        else:
            getattr(K, f"fill_{kind}")(out, seed, offset, *args)
        return out


draw = register(Draw())
