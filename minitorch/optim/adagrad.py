"""Adagrad: per-element learning rates scaled by the accumulated squared gradients."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from ..functional import full_like
from ..tensor import Tensor
from .optimizer import _FusedOptimizer
from .sgd import _no_differentiable

__all__ = ["Adagrad"]


class Adagrad(_FusedOptimizer):
    """Adagrad, as torch.optim.Adagrad (its state exists from construction, as in PyTorch).

    Per parameter, with g its gradient (negated if maximize) and t the step count:
        g = g + weight_decay * p;  sum = sum + g * g
        p = p - lr / (1 + (t - 1) * lr_decay) * g / (sqrt(sum) + eps)

    Example:
        >>> import minitorch as torch
        >>> w = torch.nn.Parameter(torch.ones(2))
        >>> opt = torch.optim.Adagrad([w], lr=0.5)
        >>> w.sum().backward()
        >>> opt.step()
        >>> w
        Parameter containing:
        tensor([0.5000, 0.5000], requires_grad=True)
    """

    rule = "adagrad"

    def __init__(
        self,
        params: Iterable,
        lr: float = 1e-2,
        lr_decay: float = 0,
        weight_decay: float = 0,
        initial_accumulator_value: float = 0,
        eps: float = 1e-10,
        foreach: bool | None = None,
        *,
        maximize: bool = False,
        differentiable: bool = False,
        fused: bool | None = None,
    ) -> None:
        if not 0.0 <= lr:
            raise ValueError(f"Invalid learning rate: {lr}")
        if not 0.0 <= lr_decay:
            raise ValueError(f"Invalid lr_decay value: {lr_decay}")
        if not 0.0 <= weight_decay:
            raise ValueError(f"Invalid weight_decay value: {weight_decay}")
        if not 0.0 <= initial_accumulator_value:
            raise ValueError(
                f"Invalid initial_accumulator_value value: {initial_accumulator_value}"
            )
        if not 0.0 <= eps:
            raise ValueError(f"Invalid epsilon value: {eps}")
        _no_differentiable(differentiable)
        defaults = dict(
            lr=lr,
            lr_decay=lr_decay,
            eps=eps,
            weight_decay=weight_decay,
            initial_accumulator_value=initial_accumulator_value,
            foreach=foreach,
            maximize=maximize,
            differentiable=differentiable,
            fused=fused,
        )
        super().__init__(params, defaults)
        for group in self.param_groups:
            for p in group["params"]:
                self._new_state(group, p)

    def _init_state(self, group: dict[str, Any], param: Tensor, state: dict[str, Any]) -> None:
        state["sum"] = full_like(param, group["initial_accumulator_value"])

    def _rule_args(self, group: dict[str, Any], state: dict[str, Any], step: float) -> tuple:
        clr = group["lr"] / (1 + (step - 1) * group["lr_decay"])
        coefficients = (clr, group["weight_decay"], group["eps"])
        return [state["sum"]], coefficients, (group["maximize"],)
