"""Adadelta: steps scaled by the RMS of past steps over the RMS of past gradients."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

from ..functional import zeros_like
from .optimizer import Optimizer, _advance, _fused_update, _new_step, batched_updates
from .sgd import _no_differentiable

__all__ = ["Adadelta"]


class Adadelta(Optimizer):
    """Adadelta, as torch.optim.Adadelta.

    Per parameter, with g its gradient (negated if maximize):
        g = g + weight_decay * p;  sq = rho * sq + (1 - rho) * g * g
        delta = sqrt(acc + eps) / sqrt(sq + eps) * g;  acc = rho * acc + (1 - rho) * delta**2
        p = p - lr * delta

    Example:
        >>> import minitorch as torch
        >>> w = torch.nn.Parameter(torch.ones(2))
        >>> opt = torch.optim.Adadelta([w], lr=1.0, rho=0.0, eps=0.0)
        >>> w.sum().backward()
        >>> opt.step()
        >>> w
        Parameter containing:
        tensor([1., 1.], requires_grad=True)
    """

    def __init__(
        self,
        params: Iterable,
        lr: float = 1.0,
        rho: float = 0.9,
        eps: float = 1e-6,
        weight_decay: float = 0,
        foreach: bool | None = None,
        *,
        capturable: bool = False,
        maximize: bool = False,
        differentiable: bool = False,
    ) -> None:
        if not 0.0 <= lr:
            raise ValueError(f"Invalid learning rate: {lr}")
        if not 0.0 <= rho <= 1.0:
            raise ValueError(f"Invalid rho value: {rho}")
        if not 0.0 <= eps:
            raise ValueError(f"Invalid epsilon value: {eps}")
        if not 0.0 <= weight_decay:
            raise ValueError(f"Invalid weight_decay value: {weight_decay}")
        _no_differentiable(differentiable)
        defaults = dict(
            lr=lr,
            rho=rho,
            eps=eps,
            weight_decay=weight_decay,
            maximize=maximize,
            capturable=capturable,
            foreach=foreach,
            differentiable=differentiable,
        )
        super().__init__(params, defaults)

    @batched_updates()
    def step(self, closure: Callable[[], Any] | None = None) -> Any:
        """One update of every parameter that has a gradient."""
        loss = self._evaluate(closure)
        for group in self.param_groups:
            rho = group["rho"]
            for p in group["params"]:
                if p.grad is None:
                    continue
                state = self.state[p]
                if not state:
                    state["step"] = _new_step()
                    state["square_avg"] = zeros_like(p)
                    state["acc_delta"] = zeros_like(p)
                _advance(state)
                coefficients = (group["lr"], group["weight_decay"], rho, 1 - rho, group["eps"])
                buffers = [state["square_avg"], state["acc_delta"]]
                _fused_update("adadelta", p, buffers, coefficients, (group["maximize"],))
        return loss
