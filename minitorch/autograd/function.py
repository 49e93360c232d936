"""autograd.Function: user-defined ops with forward/backward static methods and a ctx."""

from __future__ import annotations

from .engine import Node, check_versions
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
        self._saved_versions = tuple((t._version, t._version[0]) for t in tensors if t is not None)

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

    def __init__(self, cls):
        self.cls = cls
        self.name = cls.__name__
        self.backward_name = cls.__name__ + "Backward"

    def backward(self, node, grad):
        grads = self.cls.backward(node.saved, grad)
        grads = grads if isinstance(grads, tuple) else (grads,)
        n = len(node.inputs)
        if len(grads) != n:
            raise RuntimeError(
                f"function {self.backward_name} returned an incorrect number of gradients "
                f"(expected {n}, got {len(grads)})"
            )
        return grads


class Function:
    """Subclass with static forward(ctx, *args) and backward(ctx, *grads); call .apply."""

    @classmethod
    def apply(cls, *args, **kwargs):
        from ..tensor import Tensor  # noqa: PLC0415

        ctx = FunctionCtx()
        ctx.needs_input_grad = tuple(isinstance(a, Tensor) and a.requires_grad for a in args)
        with no_grad():
            out = cls.forward(ctx, *args, **kwargs)
        tracked = state.enabled and any(ctx.needs_input_grad)
        if not tracked:
            return out
        outs = out if isinstance(out, tuple) else (out,)
        first = next(
            o for o in outs if isinstance(o, Tensor) and id(o) not in ctx.non_differentiable
        )
        op = _FunctionOp(cls)
        node = Node(op, args, {}, first, ctx)
        first.grad_fn = node
        first._requires_grad = True
        return out

    @staticmethod
    def forward(ctx, *args, **kwargs):
        raise NotImplementedError("Function subclasses must implement forward(ctx, ...)")

    @staticmethod
    def backward(ctx, *grads):
        raise NotImplementedError("Function subclasses must implement backward(ctx, ...)")
