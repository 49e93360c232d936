"""RAdam: Adam whose adaptive learning rate is rectified while its variance is too large."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from ..functional import zeros_like
from ..tensor import Tensor
from .adam import _check_adam_arguments, _moment_coefficients
from .optimizer import _FusedOptimizer

__all__ = ["RAdam"]


class RAdam(_FusedOptimizer):
    """RAdam, as torch.optim.RAdam.

    Per parameter, with g its gradient (negated if maximize) and t the step count:
        weight decay, m and v as in Adam;  rho_inf = 2 / (1 - beta2) - 1
        rho_t = rho_inf - 2 t beta2**t / (1 - beta2**t)
        p = p - lr * m / (1 - beta1**t) * sqrt(1 - beta2**t) / (sqrt(v) + eps) * r_t
            with r_t = sqrt((rho_t - 4)(rho_t - 2) rho_inf / ((rho_inf - 4)(rho_inf - 2) rho_t))
            when rho_t > 5; else p = p - lr * m / (1 - beta1**t)  (the first few steps)

    Args:
        params: parameters or param groups to optimize.
        lr: learning rate. betas: decay rates of the two moments. eps: added to the
        denominator. weight_decay: L2 penalty (or decoupled decay, as AdamW, when
        decoupled_weight_decay). maximize: ascend instead.

    Example:
        >>> import minitorch as torch
        >>> w = torch.nn.Parameter(torch.ones(2))
        >>> opt = torch.optim.RAdam([w], lr=0.1)
        >>> w.sum().backward()
        >>> opt.step()
        >>> w
        Parameter containing:
        tensor([0.9000, 0.9000], requires_grad=True)
    """

    rule = "radam"

    def __init__(
        self,
        params: Iterable,
        lr: float = 1e-3,
        betas: tuple[float, float] = (0.9, 0.999),
        eps: float = 1e-8,
        weight_decay: float = 0,
        decoupled_weight_decay: bool = False,
        *,
        foreach: bool | None = None,
        maximize: bool = False,
        capturable: bool = False,
        differentiable: bool = False,
    ) -> None:
        _check_adam_arguments(lr, betas, eps, weight_decay, differentiable)
        defaults = dict(
            lr=lr,
            betas=tuple(betas),
            eps=eps,
            weight_decay=weight_decay,
            maximize=maximize,
            foreach=foreach,
            capturable=capturable,
            decoupled_weight_decay=decoupled_weight_decay,
            differentiable=differentiable,
        )
        super().__init__(params, defaults)

    def _init_state(self, group: dict[str, Any], param: Tensor, state: dict[str, Any]) -> None:
        state["exp_avg"] = zeros_like(param)
        state["exp_avg_sq"] = zeros_like(param)

    def _rule_args(self, group: dict[str, Any], state: dict[str, Any], step: float) -> tuple:
        lr, (beta1, beta2) = group["lr"], group["betas"]
        bias_correction2 = 1 - beta2**step
        rho_inf = 2 / (1 - beta2) - 1
        rho_t = rho_inf - 2 * step * (beta2**step) / bias_correction2
        rectified = rho_t > 5.0
        rect = 0.0
        if rectified:
            num = (rho_t - 4) * (rho_t - 2) * rho_inf
            rect = (num / ((rho_inf - 4) * (rho_inf - 2) * rho_t)) ** 0.5
        coefficients = (
            *_moment_coefficients(group, lr),
            1 - beta1**step,
            bias_correction2**0.5,
            lr,
            rect,
            group["eps"],
        )
        flags = (group["maximize"], group["decoupled_weight_decay"], rectified)
        return [state["exp_avg"], state["exp_avg_sq"]], coefficients, flags
