"""ASGD: averaged stochastic gradient descent (Polyak-Ruppert averaging of the iterates)."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from .. import dtypes
from ..functional import tensor, zeros_like
from ..tensor import Tensor
from .optimizer import _FusedOptimizer, _set_scalar
from .sgd import _no_differentiable

__all__ = ["ASGD"]


class ASGD(_FusedOptimizer):
    """ASGD, as torch.optim.ASGD; the averaged parameters are state["ax"].

    Per parameter, with g its gradient (negated if maximize), t the step count, and eta and
    mu from the previous step (eta = lr, mu = 1 at first):
        g = g + weight_decay * p;  p = p * (1 - lambd * eta) - eta * g
        ax = ax + mu * (p - ax) if mu != 1, else ax = p
        eta = lr / (1 + lambd * lr * t)**alpha;  mu = 1 / max(1, t - t0)

    Args:
        params: parameters or param groups to optimize.
        lr: learning rate. lambd: decay term. alpha: power of the eta update. t0: the step at
        which averaging starts. weight_decay: L2 penalty. maximize: ascend instead.

    Example:
        >>> import minitorch as torch
        >>> w = torch.nn.Parameter(torch.ones(2))
        >>> opt = torch.optim.ASGD([w], lr=0.5, lambd=0.0)
        >>> w.sum().backward()
        >>> opt.step()
        >>> w
        Parameter containing:
        tensor([0.5000, 0.5000], requires_grad=True)
    """

    rule = "asgd"

    def __init__(
        self,
        params: Iterable,
        lr: float = 1e-2,
        lambd: float = 1e-4,
        alpha: float = 0.75,
        t0: float = 1e6,
        weight_decay: float = 0,
        foreach: bool | None = None,
        maximize: bool = False,
        differentiable: bool = False,
        capturable: bool = False,
    ) -> None:
        if not 0.0 <= lr:
            raise ValueError(f"Invalid learning rate: {lr}")
        if not 0.0 <= weight_decay:
            raise ValueError(f"Invalid weight_decay value: {weight_decay}")
        _no_differentiable(differentiable)
        defaults = dict(
            lr=lr,
            lambd=lambd,
            alpha=alpha,
            t0=t0,
            weight_decay=weight_decay,
            foreach=foreach,
            maximize=maximize,
            differentiable=differentiable,
            capturable=capturable,
        )
        super().__init__(params, defaults)

    def _init_state(self, group: dict[str, Any], param: Tensor, state: dict[str, Any]) -> None:
        state["eta"] = tensor(float(group["lr"]), dtype=dtypes.float32)
        state["mu"] = tensor(1.0, dtype=dtypes.float32)
        state["ax"] = zeros_like(param)

    def _rule_args(self, group: dict[str, Any], state: dict[str, Any], step: float) -> tuple:
        lr, lambd = group["lr"], group["lambd"]
        # this step uses eta and mu as the previous step left them (rounded to float32)
        eta, mu = float(state["eta"]._data), float(state["mu"]._data)
        coefficients = (group["weight_decay"], 1 - lambd * eta, eta, mu)
        flags = (group["maximize"], mu != 1)
        _set_scalar(state, "eta", _as_tensor(lr / ((1 + lambd * lr * step) ** group["alpha"])))
        _set_scalar(state, "mu", _as_tensor(1 / max(1, step - group["t0"])))
        return [state["ax"]], coefficients, flags


def _as_tensor(value: float) -> float:
    """value rounded to the default dtype: PyTorch passes the new eta and mu through
    torch.as_tensor before copying them into the state (float64 after a load_state_dict)."""
    return float(dtypes.get_default_dtype().np.type(value))
