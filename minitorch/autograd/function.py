"""autograd.Function: user-defined ops with forward/backward static methods and a ctx."""

from __future__ import annotations

import inspect

from .. import jit_guard
from .engine import Node, PartialGrad, check_versions
from .grad_mode import no_grad, state


class FunctionCtx:
    """What forward leaves for backward: save_for_backward, saved_tensors, needs_input_grad."""

    def __init__(self):
        self._saved = ()
        self._saved_versions = ()
        self.needs_input_grad = ()
        self.non_differentiable = set()
        self.materialize_grads = True

    def save_for_backward(self, *tensors) -> None:
        self._saved = tensors
        self._saved_versions = tuple(
            (t._version_counter, t._version_counter[0]) for t in tensors if t is not None
        )

    @property
    def saved_tensors(self) -> tuple:
        check_versions(self._saved_versions, "a custom autograd.Function")
        return self._saved

    def mark_non_differentiable(self, *tensors) -> None:
        self.non_differentiable.update(id(t) for t in tensors)

    def mark_dirty(self, *tensors) -> None:
        pass

    def set_materialize_grads(self, value: bool) -> None:
        self.materialize_grads = value


class _FunctionOp:
    """Adapter so the engine can call a Function's backward like a registry op's."""

    save = ()
    save_out = False

    def __init__(self, cls, outs):
        self.cls = cls
        self.name = cls.__name__
        self.backward_name = cls.__name__ + "Backward"
        # shape, dtype and device of each output, to materialise a missing gradient from
        # (holding the outputs themselves would keep them alive as long as the graph)
        self.out_metas = tuple(_meta(o) for o in outs)

    def backward(self, node, grad):
        ctx = node.saved
        out_grads = grad if isinstance(grad, tuple) else (grad,)
        if ctx.materialize_grads:
            out_grads = tuple(_zeros_if_none(g, m) for g, m in zip(out_grads, self.out_metas))
        grads = self.cls.backward(ctx, *out_grads)
        grads = grads if isinstance(grads, tuple) else (grads,)
        n = len(node.inputs)
        if len(grads) != n:
            raise RuntimeError(
                f"function {self.backward_name} returned an incorrect number of gradients "
                f"(expected {n}, got {len(grads)})"
            )
        return grads


def _meta(out):
    from ..tensor import Tensor  # noqa: PLC0415

    return (out.shape, out.dtype, out.device) if isinstance(out, Tensor) else None


def _zeros_if_none(grad, meta):
    """PyTorch's materialize_grads: an output no gradient reached gets zeros (None for
    outputs that are not tensors)."""
    if grad is not None or meta is None:
        return grad
    from ..functional import zeros  # noqa: PLC0415

    shape, dtype, device = meta
    return zeros(shape, dtype=dtype, device=device)


class _OutputGrad(PartialGrad):
    """The gradient of output `index` of a multi-output Function, on its way to the Function's
    node; merge gathers every output's gradient into the tuple its backward takes."""

    def __init__(self, index: int, count: int, values):
        self.index, self.count, self.values = index, count, values

    @staticmethod
    def merge(parts: list) -> tuple:
        grads = [None] * parts[0].count
        for p in parts:
            grads[p.index] = p.values if grads[p.index] is None else grads[p.index] + p.values
        return tuple(grads)


class _OutputOp:
    """Engine op of one output of a multi-output Function: it passes the output's gradient on,
    tagged with the output's index. (The engine sums every gradient that reaches one node, so
    outputs sharing the Function's node could not be told apart.)"""

    save = ()
    save_out = False

    def __init__(self, function_op: _FunctionOp, index: int, count: int):
        self.name = function_op.name
        self.backward_name = function_op.backward_name  # what the user sees as out.grad_fn
        self.index, self.count = index, count

    def backward(self, node, grad):
        return (_OutputGrad(self.index, self.count, grad),)


class Function:
    """Subclass with static forward and backward(ctx, *grads), call .apply.

    forward is either forward(ctx, *args) or, PyTorch 2's style, forward(*args) together with a
    static setup_context(ctx, inputs, output) that fills ctx. backward gets one gradient per
    output of forward (zeros where none reached it, unless ctx.set_materialize_grads(False)).
    """

    @classmethod
    def apply(cls, *args, **kwargs):
        from ..tensor import Tensor  # noqa: PLC0415

        if jit_guard.capture[0] is not None:  # (the values its methods read are guarded)
            jit_guard.capture[0].on_function(cls)
        if _defines_setup_context(cls):  # (PyTorch passes defaults and keywords as inputs too)
            args, kwargs = _bound_args(cls.forward, args, kwargs), {}
        ctx = FunctionCtx()
        ctx.needs_input_grad = tuple(isinstance(a, Tensor) and a.requires_grad for a in args)
        with no_grad():
            out = _run_forward(cls, ctx, args, kwargs)
        if not (state.enabled and any(ctx.needs_input_grad)):
            return out
        outs = _record(cls, ctx, args, out if isinstance(out, tuple) else (out,))
        return outs if isinstance(out, tuple) else outs[0]

    @staticmethod
    def forward(ctx, *args, **kwargs):
        raise NotImplementedError("Function subclasses must implement forward(ctx, ...)")

    @staticmethod
    def setup_context(ctx, inputs, output):
        raise NotImplementedError("setup_context is not implemented.")

    @staticmethod
    def backward(ctx, *grads):
        raise NotImplementedError("Function subclasses must implement backward(ctx, ...)")


def _defines_setup_context(cls) -> bool:
    # PyTorch tells the two styles apart the same way: by setup_context being overridden
    return cls.setup_context is not Function.setup_context


def _run_forward(cls, ctx, args, kwargs):
    if not _defines_setup_context(cls):
        return cls.forward(ctx, *args, **kwargs)
    out = cls.forward(*args)
    cls.setup_context(ctx, args, out)
    return out


def _bound_args(forward, args, kwargs) -> tuple:
    bound = inspect.signature(forward).bind(*args, **kwargs)
    bound.apply_defaults()
    return bound.args


def _not_an_input(out, args):
    """An input returned as is comes back as a view of it (as in PyTorch): the Function's node
    must not become the history of the input itself (a leaf, say)."""
    if any(out is a for a in args):
        with no_grad():
            return out.view_as(out)
    return out


def _differentiable(out, ctx) -> bool:
    from ..tensor import Tensor  # noqa: PLC0415

    return (
        isinstance(out, Tensor)
        and out.dtype.is_floating_point
        and id(out) not in ctx.non_differentiable
    )


def _record(cls, ctx, args, outs: tuple) -> tuple:
    """Make the Function's node the history of each differentiable output; returns the outputs."""
    from ..tensor import wrap  # noqa: PLC0415

    tracked = [i for i, o in enumerate(outs) if _differentiable(o, ctx)]
    outs = tuple(_not_an_input(o, args) for o in outs)
    op = _FunctionOp(cls, outs)
    node = Node(op, args, {}, None, ctx)
    if len(outs) == 1:
        for i in tracked:
            _attach(outs[i], node)
        return outs
    if not tracked:
        return outs
    # one stand-in tensor for all the outputs together: the one input of each output's node
    first = outs[tracked[0]]
    together = wrap(first._data, first.dtype)
    _attach(together, node)
    for i in tracked:
        _attach(outs[i], Node(_OutputOp(op, i, len(outs)), (together,), {}, outs[i]))
    return outs


def _attach(out, node) -> None:
    out.grad_fn = node
    out._requires_grad = True
