"""Adadelta: steps scaled by the RMS of past steps over the RMS of past gradients."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from ..functional import zeros_like
from ..tensor import Tensor
from .optimizer import _FusedOptimizer
from .sgd import _no_differentiable

__all__ = ["Adadelta"]


class Adadelta(_FusedOptimizer):
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

    rule = "adadelta"

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

    def _init_state(self, group: dict[str, Any], param: Tensor, state: dict[str, Any]) -> None:
        state["square_avg"] = zeros_like(param)
        state["acc_delta"] = zeros_like(param)

    def _rule_args(self, group: dict[str, Any], state: dict[str, Any], step: float) -> tuple:
        rho = group["rho"]
        coefficients = (group["lr"], group["weight_decay"], rho, 1 - rho, group["eps"])
        return [state["square_avg"], state["acc_delta"]], coefficients, (group["maximize"],)
