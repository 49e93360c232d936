"""Adamax: Adam with the infinity norm in place of the second moment."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from ..functional import zeros_like
from ..tensor import Tensor
from .adam import _check_adam_arguments
from .optimizer import _FusedOptimizer

__all__ = ["Adamax"]


class Adamax(_FusedOptimizer):
    """Adamax, as torch.optim.Adamax.

    Per parameter, with g its gradient (negated if maximize) and t the step count:
        g = g + weight_decay * p;  m = m + (1 - beta1) * (g - m)
        u = max(beta2 * u, |g| + eps);  p = p - lr / (1 - beta1**t) * m / u

    Args:
        params: parameters or param groups to optimize.
        lr: learning rate. betas: decay rates of the first moment and of the infinity norm.
        eps: added to |g|. weight_decay: L2 penalty. maximize: ascend instead.

    Example:
        >>> import minitorch as torch
        >>> w = torch.nn.Parameter(torch.ones(2))
        >>> opt = torch.optim.Adamax([w], lr=0.1)
        >>> w.sum().backward()
        >>> opt.step()
        >>> w
        Parameter containing:
        tensor([0.9000, 0.9000], requires_grad=True)
    """

    rule = "adamax"

    def __init__(
        self,
        params: Iterable,
        lr: float = 2e-3,
        betas: tuple[float, float] = (0.9, 0.999),
        eps: float = 1e-8,
        weight_decay: float = 0,
        foreach: bool | None = None,
        *,
        maximize: bool = False,
        differentiable: bool = False,
        capturable: bool = False,
    ) -> None:
        _check_adam_arguments(lr, betas, eps, weight_decay, differentiable)
        defaults = dict(
            lr=lr,
            betas=tuple(betas),
            eps=eps,
            weight_decay=weight_decay,
            foreach=foreach,
            maximize=maximize,
            differentiable=differentiable,
            capturable=capturable,
        )
        super().__init__(params, defaults)

    def _init_state(self, group: dict[str, Any], param: Tensor, state: dict[str, Any]) -> None:
        state["exp_avg"] = zeros_like(param)
        state["exp_inf"] = zeros_like(param)

    def _rule_args(self, group: dict[str, Any], state: dict[str, Any], step: float) -> tuple:
        beta1, beta2 = group["betas"]
        coefficients = (
            group["weight_decay"],
            1 - beta1,
            beta2,
            group["eps"],
            group["lr"] / (1 - beta1**step),
        )
        return [state["exp_avg"], state["exp_inf"]], coefficients, (group["maximize"],)
