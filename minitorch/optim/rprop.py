"""Rprop: resilient backpropagation, per-element step sizes driven by the gradient's sign."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from ..functional import full_like, zeros_like
from ..tensor import Tensor
from .optimizer import _FusedOptimizer
from .sgd import _no_differentiable

__all__ = ["Rprop"]


class Rprop(_FusedOptimizer):
    """Rprop, as torch.optim.Rprop (full-batch training: it reads only the gradient's sign).

    Per element, with g its gradient (negated if maximize) and g_prev the previous one:
        s = clamp(s * (etaplus if g * g_prev > 0, etaminus if < 0, else 1), *step_sizes)
        g = 0 where g * g_prev < 0 (a flipped sign: skip this step);  p = p - sign(g) * s

    Args:
        params: parameters or param groups to optimize.
        lr: the initial step size s. etas: (etaminus, etaplus), the factors that shrink and
        grow s. step_sizes: (min, max) bounds of s. maximize: ascend instead.

    Example:
        >>> import minitorch as torch
        >>> w = torch.nn.Parameter(torch.ones(2))
        >>> opt = torch.optim.Rprop([w], lr=0.25)
        >>> w.sum().backward()
        >>> opt.step()
        >>> w
        Parameter containing:
        tensor([0.7500, 0.7500], requires_grad=True)
    """

    rule = "rprop"

    def __init__(
        self,
        params: Iterable,
        lr: float = 1e-2,
        etas: tuple[float, float] = (0.5, 1.2),
        step_sizes: tuple[float, float] = (1e-6, 50),
        *,
        capturable: bool = False,
        foreach: bool | None = None,
        maximize: bool = False,
        differentiable: bool = False,
    ) -> None:
        if not 0.0 <= lr:
            raise ValueError(f"Invalid learning rate: {lr}")
        if not 0.0 < etas[0] < 1.0 < etas[1]:
            raise ValueError(f"Invalid eta values: {etas[0]}, {etas[1]}")
        _no_differentiable(differentiable)
        defaults = dict(
            lr=lr,
            etas=tuple(etas),
            step_sizes=tuple(step_sizes),
            foreach=foreach,
            maximize=maximize,
            differentiable=differentiable,
            capturable=capturable,
        )
        super().__init__(params, defaults)

    def _init_state(self, group: dict[str, Any], param: Tensor, state: dict[str, Any]) -> None:
        state["prev"] = zeros_like(param)
        state["step_size"] = full_like(param, group["lr"])

    def _rule_args(self, group: dict[str, Any], state: dict[str, Any], step: float) -> tuple:
        coefficients = (*group["etas"], *group["step_sizes"])
        return [state["prev"], state["step_size"]], coefficients, (group["maximize"],)
