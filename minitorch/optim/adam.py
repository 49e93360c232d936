"""Adam and AdamW: adaptive moment estimation, with L2 or decoupled weight decay."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

from ..functional import zeros_like
from .optimizer import Optimizer, _advance, _fused_update, _new_step, batched_updates
from .sgd import _no_differentiable

__all__ = ["Adam", "AdamW"]


class Adam(Optimizer):
    """Adam, as torch.optim.Adam (AdamW is Adam with decoupled_weight_decay=True).

    Per parameter, with g its gradient (negated if maximize) and t the step count:
        p = p * (1 - lr * weight_decay) if decoupled_weight_decay, else g = g + weight_decay * p
        m = m + (1 - beta1) * (g - m);  v = beta2 * v + (1 - beta2) * g * g
        v_max = max(v_max, v) if amsgrad
        p = p - lr / (1 - beta1**t) * m / (sqrt(v or v_max) / sqrt(1 - beta2**t) + eps)

    Args:
        params: parameters or param groups to optimize.
        lr: learning rate. betas: decay rates of the two moments. eps: added to the
        denominator. weight_decay: L2 penalty (or decoupled decay). amsgrad: use the maximum
        of past second moments. maximize: ascend instead.

    Example:
        >>> import minitorch as torch
        >>> w = torch.nn.Parameter(torch.ones(2))
        >>> opt = torch.optim.Adam([w], lr=0.1)
        >>> w.sum().backward()
        >>> opt.step()
        >>> w
        Parameter containing:
        tensor([0.9000, 0.9000], requires_grad=True)
    """

    def __init__(
        self,
        params: Iterable,
        lr: float = 1e-3,
        betas: tuple[float, float] = (0.9, 0.999),
        eps: float = 1e-8,
        weight_decay: float = 0,
        amsgrad: bool = False,
        *,
        foreach: bool | None = None,
        maximize: bool = False,
        capturable: bool = False,
        differentiable: bool = False,
        fused: bool | None = None,
        decoupled_weight_decay: bool = False,
    ) -> None:
        _check_adam_arguments(lr, betas, eps, weight_decay, differentiable)
        defaults = dict(
            lr=lr,
            betas=tuple(betas),
            eps=eps,
            weight_decay=weight_decay,
            amsgrad=amsgrad,
            maximize=maximize,
            foreach=foreach,
            capturable=capturable,
            differentiable=differentiable,
            fused=fused,
            decoupled_weight_decay=decoupled_weight_decay,
        )
        super().__init__(params, defaults)

    @batched_updates()
    def step(self, closure: Callable[[], Any] | None = None) -> Any:
        """One update of every parameter that has a gradient."""
        loss = self._evaluate(closure)
        for group in self.param_groups:
            lr, (beta1, beta2), wd = group["lr"], group["betas"], group["weight_decay"]
            amsgrad = group["amsgrad"]
            flags = (group["maximize"], amsgrad, group["decoupled_weight_decay"])
            last_t = coefficients = None
            for p in group["params"]:
                if p._grad is None:
                    continue
                state = self.state[p]
                if not state:
                    state["step"] = _new_step()
                    state["exp_avg"] = zeros_like(p)
                    state["exp_avg_sq"] = zeros_like(p)
                if amsgrad and "max_exp_avg_sq" not in state:
                    state["max_exp_avg_sq"] = zeros_like(p)
                t = _advance(state)
                buffers = [
                    state["exp_avg"],
                    state["exp_avg_sq"],
                    state["max_exp_avg_sq"] if amsgrad else None,
                ]
                if t != last_t:  # a group's parameters share their step count (nearly always)
                    last_t, coefficients = (
                        t,
                        (
                            wd,
                            1 - lr * wd,
                            1 - beta1,
                            beta2,
                            1 - beta2,
                            lr / (1 - beta1**t),
                            (1 - beta2**t) ** 0.5,
                            group["eps"],
                        ),
                    )
                _fused_update("adam", p, buffers, coefficients, flags)
        return loss


class AdamW(Adam):
    """AdamW: Adam with decoupled weight decay (default 1e-2), as torch.optim.AdamW.

    Example:
        >>> import minitorch as torch
        >>> w = torch.nn.Parameter(torch.ones(2))
        >>> opt = torch.optim.AdamW([w], lr=0.1, weight_decay=0.5)
        >>> w.sum().backward()
        >>> opt.step()
        >>> w
        Parameter containing:
        tensor([0.8500, 0.8500], requires_grad=True)
    """

    def __init__(
        self,
        params: Iterable,
        lr: float = 1e-3,
        betas: tuple[float, float] = (0.9, 0.999),
        eps: float = 1e-8,
        weight_decay: float = 1e-2,
        amsgrad: bool = False,
        *,
        maximize: bool = False,
        foreach: bool | None = None,
        capturable: bool = False,
        differentiable: bool = False,
        fused: bool | None = None,
    ) -> None:
        super().__init__(
            params,
            lr,
            betas,
            eps,
            weight_decay,
            amsgrad,
            foreach=foreach,
            maximize=maximize,
            capturable=capturable,
            differentiable=differentiable,
            fused=fused,
            decoupled_weight_decay=True,
        )


def _check_adam_arguments(lr, betas, eps, weight_decay, differentiable) -> None:
    """The checks of the Adam family (Adam, AdamW, Adamax, NAdam, RAdam), PyTorch's messages."""
    if not 0.0 <= lr:
        raise ValueError(f"Invalid learning rate: {lr}")
    if not 0.0 <= eps:
        raise ValueError(f"Invalid epsilon value: {eps}")
    if not 0.0 <= betas[0] < 1.0:
        raise ValueError(f"Invalid beta parameter at index 0: {betas[0]}")
    if not 0.0 <= betas[1] < 1.0:
        raise ValueError(f"Invalid beta parameter at index 1: {betas[1]}")
    if not 0.0 <= weight_decay:
        raise ValueError(f"Invalid weight_decay value: {weight_decay}")
    _no_differentiable(differentiable)


def _moment_coefficients(group: dict, lr: float) -> tuple:
    """(weight_decay, decay, 1 - beta1, beta2, 1 - beta2): how the Adam family applies weight
    decay (decay = 1 - lr * weight_decay multiplies p when it is decoupled) and moves its two
    moments."""
    (beta1, beta2), wd = group["betas"], group["weight_decay"]
    return wd, 1 - lr * wd, 1 - beta1, beta2, 1 - beta2
