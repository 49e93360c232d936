"""Adagrad: per-element learning rates scaled by the accumulated squared gradients."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

from ..functional import full_like
from .optimizer import Optimizer, _advance, _fused_update, _new_step, batched_updates
from .sgd import _no_differentiable

__all__ = ["Adagrad"]


class Adagrad(Optimizer):
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
                self._init_state(p, group)

    def _init_state(self, p, group) -> None:
        state = self.state[p]
        state["step"] = _new_step()
        state["sum"] = full_like(p, group["initial_accumulator_value"])

    @batched_updates()
    def step(self, closure: Callable[[], Any] | None = None) -> Any:
        """One update of every parameter that has a gradient."""
        loss = self._evaluate(closure)
        for group in self.param_groups:
            for p in group["params"]:
                if p.grad is None:
                    continue
                state = self.state[p]
                if not state:  # added by add_param_group after construction
                    self._init_state(p, group)
                t = _advance(state)
                clr = group["lr"] / (1 + (t - 1) * group["lr_decay"])
                coefficients = (clr, group["weight_decay"], group["eps"])
                _fused_update("adagrad", p, [state["sum"]], coefficients, (group["maximize"],))
        return loss
