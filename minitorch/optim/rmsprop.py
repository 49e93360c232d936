"""RMSprop: divide the gradient by a running RMS of recent gradients."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

from ..functional import zeros_like
from .optimizer import Optimizer, _advance, _fused_update, _new_step, batched_updates
from .sgd import _no_differentiable

__all__ = ["RMSprop"]


class RMSprop(Optimizer):
    """RMSprop, as torch.optim.RMSprop.

    Per parameter, with g its gradient (negated if maximize):
        g = g + weight_decay * p;  sq = alpha * sq + (1 - alpha) * g * g
        avg = sqrt(sq - ga * ga) + eps with ga = lerp(ga, g, 1 - alpha) if centered,
              else sqrt(sq) + eps
        buf = momentum * buf + g / avg; p = p - lr * buf   if momentum > 0
        p = p - lr * g / avg                                otherwise

    Example:
        >>> import minitorch as torch
        >>> w = torch.nn.Parameter(torch.ones(2))
        >>> opt = torch.optim.RMSprop([w], lr=0.01, alpha=0.75)
        >>> w.sum().backward()
        >>> opt.step()
        >>> w
        Parameter containing:
        tensor([0.9800, 0.9800], requires_grad=True)
    """

    def __init__(
        self,
        params: Iterable,
        lr: float = 1e-2,
        alpha: float = 0.99,
        eps: float = 1e-8,
        weight_decay: float = 0,
        momentum: float = 0,
        centered: bool = False,
        capturable: bool = False,
        foreach: bool | None = None,
        maximize: bool = False,
        differentiable: bool = False,
    ) -> None:
        if not 0.0 <= lr:
            raise ValueError(f"Invalid learning rate: {lr}")
        if not 0.0 <= eps:
            raise ValueError(f"Invalid epsilon value: {eps}")
        if not 0.0 <= momentum:
            raise ValueError(f"Invalid momentum value: {momentum}")
        if not 0.0 <= weight_decay:
            raise ValueError(f"Invalid weight_decay value: {weight_decay}")
        if not 0.0 <= alpha:
            raise ValueError(f"Invalid alpha value: {alpha}")
        _no_differentiable(differentiable)
        defaults = dict(
            lr=lr,
            momentum=momentum,
            alpha=alpha,
            eps=eps,
            centered=centered,
            weight_decay=weight_decay,
            capturable=capturable,
            foreach=foreach,
            maximize=maximize,
            differentiable=differentiable,
        )
        super().__init__(params, defaults)

    @batched_updates()
    def step(self, closure: Callable[[], Any] | None = None) -> Any:
        """One update of every parameter that has a gradient."""
        loss = self._evaluate(closure)
        for group in self.param_groups:
            momentum, centered, alpha = group["momentum"], group["centered"], group["alpha"]
            flags = (group["maximize"], centered, momentum > 0)
            for p in group["params"]:
                if p._grad is None:
                    continue
                state = self.state[p]
                if not state:
                    state["step"] = _new_step()
                    state["square_avg"] = zeros_like(p)
                if momentum > 0 and "momentum_buffer" not in state:
                    state["momentum_buffer"] = zeros_like(p)
                if centered and "grad_avg" not in state:
                    state["grad_avg"] = zeros_like(p)
                _advance(state)
                buffers = [
                    state["square_avg"],
                    state.get("momentum_buffer") if momentum > 0 else None,
                    state["grad_avg"] if centered else None,
                ]
                coefficients = (
                    group["lr"],
                    group["weight_decay"],
                    alpha,
                    1 - alpha,
                    group["eps"],
                    momentum,
                )
                _fused_update("rmsprop", p, buffers, coefficients, flags)
        return loss
