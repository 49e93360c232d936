"""Weight averaging (PyTorch's torch.optim.swa_utils): SWA and EMA copies of a model.

    swa_model = optim.swa_utils.AveragedModel(model)            # equal-weight average (SWA)
    ema_model = optim.swa_utils.AveragedModel(
        model, multi_avg_fn=optim.swa_utils.get_ema_multi_avg_fn(0.999))
    ...  # after each optimizer.step():
    ema_model.update_parameters(model)
    optim.swa_utils.update_bn(loader, swa_model)                # BatchNorm stats for the average

`update_parameters` is opaque to minitorch.compile (as optimizer.step is): called inside a
compiled step, a replay calls it again, so it reads the live n_averaged and equals eager.
"""

from __future__ import annotations

import copy
import math
from collections.abc import Callable, Iterable
from typing import Any

from .. import jit_guard
from ..autograd import no_grad
from ..dtypes import int64
from ..functional import tensor
from ..nn import Module
from ..nn.modules.normalization import _BatchNorm
from ..tensor import Tensor
from .lr_scheduler import LRScheduler, _per_group
from .optimizer import Optimizer

__all__ = [
    "AveragedModel",
    "SWALR",
    "get_ema_avg_fn",
    "get_ema_multi_avg_fn",
    "get_swa_avg_fn",
    "get_swa_multi_avg_fn",
    "update_bn",
]


def _check_decay(decay: float) -> None:
    if decay < 0.0 or decay > 1.0:
        raise ValueError(
            f"Invalid decay value {decay} provided. Please provide a value in [0,1] range."
        )


def _lerp_(averaged: Tensor, current: Tensor, weight: float) -> None:
    """averaged.lerp_(current, weight); integer tensors (buffers such as num_batches_tracked),
    which lerp does not take, store the rounded float result."""
    if averaged.dtype.is_floating_point:
        averaged.lerp_(current, weight)
    else:
        averaged.copy_(averaged * (1 - weight) + current * weight)


def get_ema_multi_avg_fn(decay: float = 0.999) -> Callable:
    """An in-place EMA over lists of tensors: ema = decay * ema + (1 - decay) * current."""
    _check_decay(decay)

    @no_grad()
    def ema_update(ema_params: list[Tensor], current_params: list[Tensor], _n_averaged) -> None:
        for ema, current in zip(ema_params, current_params):
            _lerp_(ema, current, 1 - decay)

    return ema_update


def get_swa_multi_avg_fn() -> Callable:
    """An in-place equal-weight running average over lists of tensors (SWA)."""

    @no_grad()
    def swa_update(averaged: list[Tensor], current: list[Tensor], n_averaged) -> None:
        weight = 1 / (float(n_averaged) + 1)
        for avg, cur in zip(averaged, current):
            _lerp_(avg, cur, weight)

    return swa_update


def get_ema_avg_fn(decay: float = 0.999) -> Callable:
    """An EMA of one tensor, returned (not in place): decay * ema + (1 - decay) * current."""
    _check_decay(decay)

    @no_grad()
    def ema_update(ema: Tensor, current: Tensor, _n_averaged) -> Tensor:
        return decay * ema + (1 - decay) * current

    return ema_update


def get_swa_avg_fn() -> Callable:
    """The equal-weight running average of one tensor, returned (not in place)."""

    @no_grad()
    def swa_update(averaged: Tensor, current: Tensor, n_averaged) -> Tensor:
        return averaged + (current - averaged) / (n_averaged + 1)

    return swa_update


class AveragedModel(Module):
    """A copy of `model` whose parameters are a running average of `model`'s (SWA or EMA).

    Args:
        model: the model to average; a deep copy is kept as `self.module`.
        device: where to keep the copy (default: where `model` is).
        avg_fn: avg_fn(averaged, current, n_averaged) -> new averaged tensor, per tensor.
        multi_avg_fn: multi_avg_fn(averaged_list, current_list, n_averaged), in place.
            With neither, an equal-weight average (SWA).
        use_buffers: average the buffers too (else they are copied from `model`).

    The first update_parameters() copies `model`; later ones average. The state_dict holds
    "n_averaged" and "module.<name>" entries, as PyTorch's.

    Example:
        >>> import minitorch as torch
        >>> model = torch.nn.Linear(2, 1)
        >>> ema = torch.optim.swa_utils.AveragedModel(
        ...     model, multi_avg_fn=torch.optim.swa_utils.get_ema_multi_avg_fn(0.9))
        >>> ema.update_parameters(model); int(ema.n_averaged)
        1
    """

    def __init__(
        self,
        model: Module,
        device=None,
        avg_fn: Callable | None = None,
        multi_avg_fn: Callable | None = None,
        use_buffers: bool = False,
    ) -> None:
        super().__init__()
        if avg_fn is not None and multi_avg_fn is not None:
            raise AssertionError("Only one of avg_fn and multi_avg_fn should be provided")
        self.module = copy.deepcopy(model)
        if device is not None:
            self.module = self.module.to(device)
        self.register_buffer("n_averaged", tensor(0, dtype=int64, device=device))
        self.avg_fn = avg_fn
        self.multi_avg_fn = multi_avg_fn
        self.use_buffers = use_buffers

    def forward(self, *args, **kwargs):
        return self.module(*args, **kwargs)

    def _averaged_pairs(self, model: Module) -> list[tuple[Tensor, Tensor]]:
        """(our tensor, model's tensor on our device) for each tensor that is averaged."""
        ours, theirs = self.module.parameters(), model.parameters()
        if self.use_buffers:
            ours = [*ours, *self.module.buffers()]
            theirs = [*theirs, *model.buffers()]
        return [(a.detach(), m.detach().to(a.device)) for a, m in zip(ours, theirs)]

    @jit_guard.opaque
    @no_grad()
    def update_parameters(self, model: Module) -> None:
        """Fold `model`'s current parameters into the average (the first call copies them)."""
        pairs = self._averaged_pairs(model)
        n = int(self.n_averaged.item())
        if n == 0:
            for averaged, current in pairs:
                averaged.copy_(current)
        elif self.avg_fn is not None:
            for averaged, current in pairs:
                averaged.copy_(self.avg_fn(averaged, current, self.n_averaged.to(averaged.device)))
        else:
            multi_avg_fn = self.multi_avg_fn or get_swa_multi_avg_fn()
            for averaged, current in _by_device_and_dtype(pairs):
                multi_avg_fn(averaged, current, self.n_averaged.to(averaged[0].device))
        if not self.use_buffers:  # the buffers follow the model's
            for ours, theirs in zip(self.module.buffers(), model.buffers()):
                ours.copy_(theirs.detach().to(ours.device))
        self.n_averaged.add_(1)


def _by_device_and_dtype(pairs: list) -> list[tuple[list, list]]:
    """Group the pairs so each multi_avg_fn call sees one device and dtype (as PyTorch's,
    whose functions look at the first tensor's dtype only)."""
    groups: dict[Any, tuple[list, list]] = {}
    for averaged, current in pairs:
        group = groups.setdefault((str(averaged.device), averaged.dtype), ([], []))
        group[0].append(averaged)
        group[1].append(current)
    return list(groups.values())


@no_grad()
def update_bn(loader: Iterable, model: Module, device=None) -> None:
    """Recompute the BatchNorm running statistics of `model` with one pass over `loader`.

    Each batch is a tensor or a list/tuple whose first item is the input. The statistics are
    an equal-weight (momentum=None) average over the batches; momenta and the training mode
    are restored afterwards.
    """
    momenta = {m: m.momentum for m in model.modules() if isinstance(m, _BatchNorm)}
    if not momenta:
        return
    was_training = model.training
    model.train()
    for module in momenta:
        module.reset_running_stats()
        module.momentum = None
    for batch in loader:
        if isinstance(batch, (list, tuple)):
            batch = batch[0]
        if device is not None:
            batch = batch.to(device)
        model(batch)
    for module, momentum in momenta.items():
        module.momentum = momentum
    model.train(was_training)


class SWALR(LRScheduler):
    """Anneal each group's lr to `swa_lr` over `anneal_epochs` epochs, then hold it there.

    Args:
        optimizer: the wrapped optimizer.
        swa_lr: the final lr, one number or one per param group.
        anneal_epochs: epochs of annealing (0: jump to swa_lr at the first step).
        anneal_strategy: "cos" or "linear".

    Example:
        >>> import minitorch as torch
        >>> opt = torch.optim.SGD([torch.nn.Parameter(torch.zeros(1))], lr=1.0)
        >>> sched = torch.optim.swa_utils.SWALR(opt, swa_lr=0.5, anneal_epochs=2,
        ...                                      anneal_strategy="linear")
        >>> for _ in range(2):
        ...     opt.step(); sched.step()
        >>> sched.get_last_lr()
        [0.5]
    """

    def __init__(
        self,
        optimizer: Optimizer,
        swa_lr: float | list[float],
        anneal_epochs: int = 10,
        anneal_strategy: str = "cos",
        last_epoch: int = -1,
    ) -> None:
        for lr, group in zip(_per_group("swa_lr", optimizer, swa_lr), optimizer.param_groups):
            group["swa_lr"] = lr
        if anneal_strategy not in ("cos", "linear"):
            raise ValueError(
                f"anneal_strategy must be one of 'cos' or 'linear', instead got {anneal_strategy}"
            )
        if not isinstance(anneal_epochs, int) or anneal_epochs < 0:
            raise ValueError(f"anneal_epochs must be equal or greater than 0, got {anneal_epochs}")
        self._anneal_strategy = anneal_strategy
        self.anneal_epochs = anneal_epochs
        super().__init__(optimizer, last_epoch)

    def anneal_func(self, t: float) -> float:
        """The fraction of the way from the starting lr to swa_lr at progress t in [0, 1]."""
        if self._anneal_strategy == "linear":
            return t
        return (1 - math.cos(math.pi * t)) / 2

    def get_lr(self) -> list[float]:
        # Recursive, as PyTorch's: recover the starting lr from the current one and the previous
        # step's alpha, then move to this step's alpha (so other schedulers may change lr too).
        step = self._step_count - 1
        if self.anneal_epochs == 0:
            step = max(1, step)
        prev_alpha = self.anneal_func(max(0, min(1, (step - 1) / max(1, self.anneal_epochs))))
        alpha = self.anneal_func(max(0, min(1, step / max(1, self.anneal_epochs))))
        lrs = []
        for group in self.optimizer.param_groups:
            lr, swa_lr = group["lr"], group["swa_lr"]
            start = swa_lr if prev_alpha == 1 else (lr - prev_alpha * swa_lr) / (1 - prev_alpha)
            lrs.append(swa_lr * alpha + start * (1 - alpha))
        return lrs
