"""SGD: stochastic gradient descent with momentum, dampening, Nesterov and weight decay."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

from ..functional import zeros_like
from .optimizer import Optimizer, _fused_update, batched_updates

__all__ = ["SGD"]


class SGD(Optimizer):
    """Stochastic gradient descent (optionally with momentum), as torch.optim.SGD.

    Per parameter, with g its gradient (negated if maximize):
        g = g + weight_decay * p
        buf = g on the first step, else momentum * buf + (1 - dampening) * g
        g = g + momentum * buf if nesterov else buf        (when momentum != 0)
        p = p - lr * g

    Args:
        params: parameters or param groups to optimize.
        lr: learning rate. momentum: momentum factor. dampening: dampening of the momentum.
        weight_decay: L2 penalty. nesterov: Nesterov momentum. maximize: ascend instead.

    Example:
        >>> import minitorch as torch
        >>> w = torch.nn.Parameter(torch.ones(3))
        >>> opt = torch.optim.SGD([w], lr=0.1, momentum=0.9)
        >>> (w * w).sum().backward()
        >>> opt.step()
        >>> w
        Parameter containing:
        tensor([0.8000, 0.8000, 0.8000], requires_grad=True)
    """

    def __init__(
        self,
        params: Iterable,
        lr: float = 1e-3,
        momentum: float = 0,
        dampening: float = 0,
        weight_decay: float = 0,
        nesterov: bool = False,
        *,
        maximize: bool = False,
        foreach: bool | None = None,
        differentiable: bool = False,
        fused: bool | None = None,
    ) -> None:
        if lr < 0.0:
            raise ValueError(f"Invalid learning rate: {lr}")
        if momentum < 0.0:
            raise ValueError(f"Invalid momentum value: {momentum}")
        if weight_decay < 0.0:
            raise ValueError(f"Invalid weight_decay value: {weight_decay}")
        if nesterov and (momentum <= 0 or dampening != 0):
            raise ValueError("Nesterov momentum requires a momentum and zero dampening")
        _no_differentiable(differentiable)
        defaults = dict(
            lr=lr,
            momentum=momentum,
            dampening=dampening,
            weight_decay=weight_decay,
            nesterov=nesterov,
            maximize=maximize,
            foreach=foreach,
            differentiable=differentiable,
            fused=fused,
        )
        super().__init__(params, defaults)

    @batched_updates()
    def step(self, closure: Callable[[], Any] | None = None) -> Any:
        """One update of every parameter that has a gradient."""
        loss = self._evaluate(closure)
        for group in self.param_groups:
            momentum = group["momentum"]
            flags = (group["maximize"], group["nesterov"], momentum != 0)
            for p in group["params"]:
                if p._grad is None:
                    continue
                buf = None
                decay, scale = momentum, 1 - group["dampening"]
                if momentum != 0:
                    state = self.state[p]
                    if state.get("momentum_buffer") is None:  # first step: buf = g
                        state["momentum_buffer"] = zeros_like(p)
                        decay, scale = 0.0, 1.0
                    buf = state["momentum_buffer"]
                coefficients = (group["lr"], group["weight_decay"], momentum, decay, scale)
                _fused_update("sgd", p, [buf], coefficients, flags)
        return loss


def _no_differentiable(differentiable: bool) -> None:
    if differentiable:
        raise NotImplementedError(
            "differentiable=True (backpropagating through the optimizer step) is not supported; "
            "the update runs as a fused kernel outside autograd."
        )
