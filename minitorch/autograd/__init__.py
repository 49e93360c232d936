"""minitorch.autograd: backward, grad, Function, gradcheck, grad modes, anomaly detection,
and `functional` (vjp, jvp, jacobian, hessian, vhp, hvp)."""

from __future__ import annotations

from .engine import Node, run_backward
from .function import Function, FunctionCtx
from .grad_mode import (
    detect_anomaly,
    enable_grad,
    inference_mode,
    is_anomaly_enabled,
    is_grad_enabled,
    no_grad,
    set_detect_anomaly,
    set_grad_enabled,
)
from .gradcheck import gradcheck, gradgradcheck

__all__ = [
    "backward",
    "grad",
    "Function",
    "FunctionCtx",
    "gradcheck",
    "gradgradcheck",
    "no_grad",
    "enable_grad",
    "set_grad_enabled",
    "inference_mode",
    "detect_anomaly",
    "set_detect_anomaly",
    "is_anomaly_enabled",
    "is_grad_enabled",
    "Node",
    "functional",
]


def _seed_grads(tensors, grad_tensors, op: str):
    from ..tensor import Tensor  # noqa: PLC0415

    out = []
    for t, g in zip(tensors, grad_tensors):
        if not t.requires_grad:
            raise RuntimeError(
                f"{op}: element 0 of tensors does not require grad and does not have a grad_fn. "
                "Did you create it under no_grad, or forget requires_grad=True on the inputs?"
            )
        if g is None:
            if t.numel() != 1:
                raise RuntimeError(
                    f"{op}: grad can be implicitly created only for scalar outputs; got shape "
                    f"{tuple(t.shape)}. Pass a gradient, e.g. y.backward(minitorch.ones_like(y))."
                )
            g = t.new_ones(t.shape)
        elif not isinstance(g, Tensor):
            g = t.new_full(t.shape, g)
        elif g.shape != t.shape:
            raise RuntimeError(
                f"{op}: Mismatch in shape: grad_output[0] has a shape of {tuple(g.shape)} and "
                f"output[0] has a shape of {tuple(t.shape)}."
            )
        out.append(g)
    return out


def _as_list(x):
    if x is None:
        return None
    return list(x) if isinstance(x, (list, tuple)) else [x]


def backward(tensors, grad_tensors=None, retain_graph=None, create_graph=False, inputs=None):
    """Accumulate gradients of `tensors` into the .grad of the leaves they depend on."""
    tensors = _as_list(tensors)
    grads = _as_list(grad_tensors) or [None] * len(tensors)
    grads = _seed_grads(tensors, grads, "backward")
    if retain_graph is None:
        retain_graph = create_graph
    inputs = _as_list(inputs)
    captured = run_backward(tensors, grads, retain_graph, create_graph, inputs=inputs)
    if inputs is not None:  # backward(inputs=...) accumulates only into those
        for t in inputs:
            g = captured.get(id(t))
            if g is not None:
                g = g if create_graph else g.detach()
                t.grad = g if t.grad is None else t.grad + g


def grad(
    outputs,
    inputs,
    grad_outputs=None,
    retain_graph=None,
    create_graph=False,
    allow_unused=None,
    materialize_grads=False,
):
    """Return d(outputs)/d(inputs) without touching .grad."""
    outputs = _as_list(outputs)
    inputs_list = _as_list(inputs)
    grads = _as_list(grad_outputs) or [None] * len(outputs)
    grads = _seed_grads(outputs, grads, "grad")
    for t in inputs_list:
        if not t.requires_grad:
            raise RuntimeError("One of the differentiated Tensors does not require grad")
    if retain_graph is None:
        retain_graph = create_graph
    captured = run_backward(outputs, grads, retain_graph, create_graph, inputs=inputs_list)
    result = []
    for t in inputs_list:
        g = captured.get(id(t))
        if g is None:
            if materialize_grads:
                g = t.new_zeros(t.shape)
            elif not allow_unused:
                raise RuntimeError(
                    "One of the differentiated Tensors appears to not have been used in the "
                    "graph. Set allow_unused=True if this is the desired behavior."
                )
        elif not create_graph:
            g = g.detach()
        result.append(g)
    return tuple(result)


from . import functional  # noqa: E402  (it imports Tensor, which imports this package)
