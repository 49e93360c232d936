"""The op registry: one entry per op, holding everything the op means.

An op has
- `infer(*inputs, **params) -> Meta`: output shape and dtype, with every check and error
  message. It reads only `.shape`, `.dtype`, `.ndim` of its inputs, so it runs on Tensors
  in eager mode and on Metas in the tracer;
- `forward(meta, *arrays, **params)`: the kernel call for CPU arrays; the CUDA forward of
  each op lives in ops/cuda.py's table (`apply` picks by the inputs' device, or by a
  `device` param for ops without tensor inputs, and refuses mixed devices);
- `backward(ctx, grad)`: gradients for each input, written with Tensor ops (so they are
  differentiable and traceable). Shapes may be broadcast: the engine sums them back.

`apply` is the only path from Tensor code to kernels: infer, forward, tape node, and the
tracer hook all happen there.
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np

from ..autograd.engine import Node
from ..autograd.grad_mode import state
from ..backend import common_device, cpu_device
from ..dtypes import float16

REGISTRY: dict[str, Op] = {}

# The tracer (later) installs a callable here; eager mode leaves it None.
recorder = [None]


class Meta(NamedTuple):
    """Shape and dtype of a value, without data."""

    shape: tuple
    dtype: object

    @property
    def ndim(self) -> int:
        return len(self.shape)


class Op:
    """Base of registry entries. Subclasses set `name` and override the three rules."""

    name = ""
    save: tuple[int, ...] = ()  # inputs backward reads: version-checked at backward
    # per input, the inputs its gradient reads, where not all of `save`: only those of inputs
    # that need a gradient are checked (x * 2 then x.add_(1): PyTorch saves no x either)
    reads: tuple[tuple[int, ...], ...] | None = None
    save_out = False  # backward reads the output (e.g. exp)
    differentiable = True
    n_outputs = 1  # extra outputs (e.g. max's indices) are never differentiable
    crosses_devices = False  # forward moves data between devices itself (only to_copy)
    # forward takes `out=`: a fresh C-ordered array per output (a tuple for several), which it
    # fills and returns (or views of); a traced step's memory plan hands these (jit/replay.py)
    writes_out = False

    @property
    def backward_name(self) -> str:
        return "".join(p.capitalize() for p in self.name.split("_")) + "Backward0"

    def infer(self, *inputs, **params) -> Meta:
        raise NotImplementedError

    def forward(self, meta: Meta, *arrays, **params):
        raise NotImplementedError

    def backward(self, ctx: Node, grad):
        raise RuntimeError(f"{self.name}: this op is not differentiable")

    def __repr__(self) -> str:
        return f"<op {self.name}>"


def into(out, result):
    """result, or, where a forward was given `out` (see Op.writes_out), out holding it: a path
    that did not write into out (a rare layout, an edge case) copies its result there."""
    if out is None or np.may_share_memory(result, out):  # written in place (or a view of out)
        return result
    np.copyto(out, result)
    return out


def keeping_workspace(op: Op, meta, arrays, params: dict, out):
    """An Op's `plan` (set `plan = keeping_workspace` in its class) for a traced step's
    replay, which one caller at a time runs: its forward as a function of its arrays (and
    `out=`, see Op.writes_out) that keeps its kernels' scratch arrays from call to call
    (forward's `work=`, kernels/cpu scratch)."""
    work: dict = {}

    def run(*arrays, out=None):
        # (without `out`, an output could be one of the scratch arrays the next call rewrites)
        return op.forward(meta, *arrays, out=out, work=None if out is None else work, **params)

    run.takes_out = True
    return run


def register(op: Op) -> Op:
    """Add an op instance to the registry (names are unique)."""
    if op.name in REGISTRY:
        raise AssertionError(f"op {op.name!r} registered twice")
    REGISTRY[op.name] = op
    return op


def _refuse_half(op: Op, inputs, meta, error) -> None:
    """Raise PyTorch's kind of error where a float16 tensor reached a kernel (Numba has no
    float16 arithmetic); return otherwise."""
    metas = meta if op.n_outputs > 1 else (meta,)
    dtypes_seen = [getattr(x, "dtype", None) for x in inputs] + [m.dtype for m in metas]
    if float16 in dtypes_seen:
        raise RuntimeError(
            f"\"{op.name}\" not implemented for 'Half' on the CPU in minitorch (float16 tensors "
            "are stored and converted, not computed); convert with .float() first"
        ) from error


def apply(op: Op, *inputs, **params):
    """Run op eagerly on Tensors (and plain numbers), recording a tape node if needed."""
    from ..tensor import Tensor, wrap  # noqa: PLC0415

    meta = op.infer(*inputs, **params)
    arrays = [x._data if isinstance(x, Tensor) else x for x in inputs]
    if op.crosses_devices or common_device(op.name, inputs, params.get("device")) is cpu_device:
        try:
            result = op.forward(meta, *arrays, **params)
        except NotImplementedError as error:  # Numba's own, on a float16 array
            _refuse_half(op, inputs, meta, error)
            raise
    else:  # the op's CUDA forward from ops/cuda.py's table (imported on first cuda use)
        from . import cuda  # noqa: PLC0415

        result = cuda.forward(op, meta, arrays, params)
    if op.n_outputs == 1:
        out = wrap(result, meta.dtype)
        outs = (out,)
    else:
        outs = tuple(wrap(r, m.dtype) for r, m in zip(result, meta))
        out = outs[0]
    if (
        state.enabled
        and op.differentiable
        and out.dtype.is_floating_point
        and any(isinstance(x, Tensor) and x.requires_grad for x in inputs)
    ):
        saved = result[1:] if op.n_outputs > 1 else None
        out.grad_fn = Node(op, inputs, params, out, saved)
        out.requires_grad = True
    if recorder[0] is not None:
        recorder[0](op, inputs, params, outs)
    return out if op.n_outputs == 1 else outs
