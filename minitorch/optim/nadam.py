"""NAdam: Adam with Nesterov momentum and a warming-up momentum schedule."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from .. import dtypes
from ..functional import tensor, zeros_like
from ..tensor import Tensor
from .adam import _check_adam_arguments, _moment_coefficients
from .optimizer import _FusedOptimizer, _set_scalar

__all__ = ["NAdam"]


class NAdam(_FusedOptimizer):
    """NAdam, as torch.optim.NAdam.

    Per parameter, with g its gradient (negated if maximize) and t the step count:
        mu_t = beta1 * (1 - 0.5 * 0.96**(t * momentum_decay)); mu_product = mu_1 * ... * mu_t
        weight decay, m and v as in Adam;  d = sqrt(v / (1 - beta2**t)) + eps
        p = p - lr * (1 - mu_t) / (1 - mu_product) * g / d
              - lr * mu_{t+1} / (1 - mu_product * mu_{t+1}) * m / d

    Args:
        params: parameters or param groups to optimize.
        lr: learning rate. betas: decay rates of the two moments. eps: added to the
        denominator. weight_decay: L2 penalty (or decoupled decay, as AdamW, when
        decoupled_weight_decay). momentum_decay: how fast mu_t warms up to beta1.
        maximize: ascend instead.

    Example:
        >>> import minitorch as torch
        >>> w = torch.nn.Parameter(torch.ones(2))
        >>> opt = torch.optim.NAdam([w], lr=0.1)
        >>> w.sum().backward()
        >>> opt.step()
        >>> w
        Parameter containing:
        tensor([0.8944, 0.8944], requires_grad=True)
    """

    rule = "nadam"

    def __init__(
        self,
        params: Iterable,
        lr: float = 2e-3,
        betas: tuple[float, float] = (0.9, 0.999),
        eps: float = 1e-8,
        weight_decay: float = 0,
        momentum_decay: float = 4e-3,
        decoupled_weight_decay: bool = False,
        *,
        foreach: bool | None = None,
        maximize: bool = False,
        capturable: bool = False,
        differentiable: bool = False,
    ) -> None:
        _check_adam_arguments(lr, betas, eps, weight_decay, differentiable)
        if not 0.0 <= momentum_decay:
            raise ValueError(f"Invalid momentum_decay value: {momentum_decay}")
        defaults = dict(
            lr=lr,
            betas=tuple(betas),
            eps=eps,
            weight_decay=weight_decay,
            momentum_decay=momentum_decay,
            decoupled_weight_decay=decoupled_weight_decay,
            maximize=maximize,
            foreach=foreach,
            capturable=capturable,
            differentiable=differentiable,
        )
        super().__init__(params, defaults)

    def _init_state(self, group: dict[str, Any], param: Tensor, state: dict[str, Any]) -> None:
        state["mu_product"] = tensor(1.0, dtype=dtypes.float32)
        state["exp_avg"] = zeros_like(param)
        state["exp_avg_sq"] = zeros_like(param)

    def _rule_args(self, group: dict[str, Any], state: dict[str, Any], step: float) -> tuple:
        lr, (beta1, beta2) = group["lr"], group["betas"]
        mu = beta1 * (1.0 - 0.5 * 0.96 ** (step * group["momentum_decay"]))
        mu_next = beta1 * (1.0 - 0.5 * 0.96 ** ((step + 1) * group["momentum_decay"]))
        # NOTE: PyTorch multiplies the 0-d float32 tensor in float32: mu rounded first
        held = state["mu_product"]._data
        mu_product = _set_scalar(state, "mu_product", held * held.dtype.type(mu))
        coefficients = (
            *_moment_coefficients(group, lr),
            1 - beta2**step,
            group["eps"],
            -lr * (1.0 - mu) / (1.0 - mu_product),
            -lr * mu_next / (1.0 - mu_product * mu_next),
        )
        flags = (group["maximize"], group["decoupled_weight_decay"])
        return [state["exp_avg"], state["exp_avg_sq"]], coefficients, flags
