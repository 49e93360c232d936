"""Optimizer: the base class every optimizer subclasses (PyTorch's torch.optim.Optimizer).

An optimizer holds `param_groups` (a list of dicts: the group's "params" plus its
hyperparameters, filled in from `defaults`), and `state`, a dict keyed by parameter with that
parameter's buffers (created lazily on the first `step`). `state_dict()` replaces parameters by
their position, with PyTorch's layout:

    {"state": {0: {"step": tensor(3.), "exp_avg": ...}, ...},
     "param_groups": [{"lr": 0.001, ..., "params": [0, 1]}]}

The built-in optimizers update each parameter with one fused kernel (kernels/cpu/optim.py)
through `_fused_update`; docs/custom_optimizer.md shows how to write your own.
"""

from __future__ import annotations

import functools
import warnings
import weakref
from collections import defaultdict
from collections.abc import Callable, Iterable
from copy import deepcopy
from itertools import chain
from typing import Any

import numpy as np

from .. import dtypes, jit_guard
from ..autograd import enable_grad, no_grad
from ..functional import tensor
from ..kernels.cpu import optim as kernels
from ..nn.modules.module import RemovableHandle, _HookDict
from ..tensor import Tensor

__all__ = ["Optimizer", "required"]


class _Required:
    """Marks a default with no value: each param group must then give one."""

    def __repr__(self) -> str:
        return "<required parameter>"


required = _Required()


class Optimizer(jit_guard.OpaqueStep):
    """Base class for optimizers.

    Args:
        params: an iterable of Tensors, of (name, Tensor) pairs, or of dicts each holding a
            group's "params" and any hyperparameters that differ from `defaults`.
        defaults: the hyperparameters of a group that does not set them.

    Example:
        >>> import minitorch as torch
        >>> from minitorch.optim import SGD
        >>> w = torch.nn.Parameter(torch.ones(2))
        >>> opt = SGD([w], lr=0.5)
        >>> w.grad = torch.ones(2)
        >>> opt.step()
        >>> w
        Parameter containing:
        tensor([0.5000, 0.5000], requires_grad=True)
    """

    def __init_subclass__(cls, **kwargs):
        # each step of a subclass runs the step hooks around it; OpaqueStep (the base's own
        # __init_subclass__, below) then makes the hooked step one replayable call, so a
        # minitorch.compile'd training step runs the hooks at every replay, as eager does
        if "step" in cls.__dict__:
            cls.step = _with_step_hooks(cls.__dict__["step"])
        super().__init_subclass__(**kwargs)

    def __init__(self, params: Iterable, defaults: dict[str, Any]) -> None:
        self.defaults = defaults
        self._optimizer_step_pre_hooks: _HookDict = _HookDict()
        self._optimizer_step_post_hooks: _HookDict = _HookDict()
        self.state: defaultdict[Tensor, dict[str, Any]] = defaultdict(dict)
        self.param_groups: list[dict[str, Any]] = []
        if isinstance(params, Tensor):
            raise TypeError(
                "params argument given to the optimizer should be an iterable of Tensors or "
                f"dicts, but got {type(params).__name__}; pass model.parameters() or [tensor]."
            )
        groups = list(params)
        if len(groups) == 0:
            raise ValueError("optimizer got an empty parameter list")
        if not isinstance(groups[0], dict):
            groups = [{"params": groups}]
        for group in groups:
            self.add_param_group(group)

    def add_param_group(self, param_group: dict[str, Any]) -> None:
        """Add a group of parameters (with its own hyperparameters) to optimize."""
        if not isinstance(param_group, dict):
            raise TypeError(f"param_group must be a dict, but got {type(param_group).__name__}")
        params = _param_list(param_group["params"])
        if params and isinstance(params[0], tuple):  # model.named_parameters()
            param_group["param_names"] = [name for name, _ in params]
            params = [p for _, p in params]
        param_group["params"] = params
        for name, default in self.defaults.items():
            if default is required and name not in param_group:
                raise ValueError(
                    f"parameter group didn't specify a value of required optimization "
                    f"parameter {name}"
                )
            param_group.setdefault(name, default)
        if len(params) != len({id(p) for p in params}):
            warnings.warn(
                "optimizer contains a parameter group with duplicate parameters; the same "
                "parameter would be updated twice per step.",
                stacklevel=3,
            )
        seen = {id(p) for group in self.param_groups for p in group["params"]}
        if any(id(p) in seen for p in params):
            raise ValueError("some parameters appear in more than one parameter group")
        self.param_groups.append(param_group)

    @jit_guard.opaque
    def zero_grad(self, set_to_none: bool = True) -> None:
        """Reset the gradients of all parameters: drop them (default) or fill them with 0."""
        for group in self.param_groups:
            for p in group["params"]:
                if p._grad is None:
                    continue
                if set_to_none:
                    p.grad = None
                else:
                    p.grad = p.grad.detach() if p.grad.grad_fn is not None else p.grad
                    p.grad.requires_grad_(False)
                    p.grad.zero_()

    @jit_guard.opaque
    def step(self, closure: Callable[[], Any] | None = None) -> Any:
        """Update every parameter that has a gradient; return closure()'s loss if given."""
        raise NotImplementedError(
            f"{type(self).__name__}.step is not implemented; subclasses of Optimizer define "
            "step (see docs/custom_optimizer.md)."
        )

    def register_step_pre_hook(self, hook: Callable) -> RemovableHandle:
        """Call hook(optimizer, args, kwargs) before each step; it may return a new
        (args, kwargs) for the step. Returns a handle whose remove() unregisters it."""
        handle = RemovableHandle(self._optimizer_step_pre_hooks)
        self._optimizer_step_pre_hooks[handle.id] = hook
        return handle

    def register_step_post_hook(self, hook: Callable) -> RemovableHandle:
        """Call hook(optimizer, args, kwargs) after each step. Returns a handle whose
        remove() unregisters it."""
        handle = RemovableHandle(self._optimizer_step_post_hooks)
        self._optimizer_step_post_hooks[handle.id] = hook
        return handle

    @staticmethod
    def _evaluate(closure: Callable[[], Any] | None) -> Any:
        """Run the closure (which re-computes the loss and its gradients) with grad enabled."""
        if closure is None:
            return None
        with enable_grad():
            return closure()

    # ---- state_dict ----------------------------------------------------------------------------
    def state_dict(self) -> dict[str, Any]:
        """{"state": {index: buffers}, "param_groups": [group with "params": [indices]]}.

        Parameters are numbered in the order the groups list them. The buffers are the
        optimizer's own tensors (not copies), as in PyTorch; save or deepcopy to keep a snapshot.
        """
        index: dict[int, int] = {}
        groups = []
        for group in self.param_groups:
            packed = {k: v for k, v in group.items() if k != "params"}
            for p in group["params"]:
                index.setdefault(id(p), len(index))
            packed["params"] = [index[id(p)] for p in group["params"]]
            groups.append(packed)
        state = {(index[id(k)] if isinstance(k, Tensor) else k): v for k, v in self.state.items()}
        return {"state": state, "param_groups": groups}

    def load_state_dict(self, state_dict: dict[str, Any]) -> None:
        """Load hyperparameters and buffers saved by state_dict() (of this or a PyTorch optimizer).

        Buffers are copied, and floating-point ones cast to their parameter's dtype ("step" is
        kept as it is).
        """
        saved_groups = deepcopy(state_dict["param_groups"])
        if len(self.param_groups) != len(saved_groups):
            raise ValueError("loaded state dict has a different number of parameter groups")
        for group, saved in zip(self.param_groups, saved_groups):
            if len(group["params"]) != len(saved["params"]):
                raise ValueError(
                    "loaded state dict contains a parameter group that doesn't match the size "
                    "of optimizer's group"
                )
        id_map = dict(
            zip(
                chain.from_iterable(g["params"] for g in saved_groups),
                chain.from_iterable(g["params"] for g in self.param_groups),
            )
        )
        self.state = defaultdict(dict)
        for key, value in state_dict["state"].items():
            if key in id_map:
                param = id_map[key]
                self.state[param] = {k: _copy_state(param, k, v) for k, v in value.items()}
            else:
                self.state[key] = deepcopy(value)
        for group, saved in zip(self.param_groups, saved_groups):
            saved["params"] = group["params"]
            group.clear()
            group.update(saved)

    def __repr__(self) -> str:
        text = type(self).__name__ + " ("
        for i, group in enumerate(self.param_groups):
            text += f"\nParameter Group {i}\n"
            for key in sorted(group):
                if key != "params":
                    text += f"    {key}: {group[key]}\n"
        return text + ")"


def _with_step_hooks(step: Callable) -> Callable:
    """step, run between the optimizer's step pre-hooks and post-hooks (PyTorch's order and
    contract: args are the step's positional arguments, self included)."""

    @functools.wraps(step)
    def hooked(*args, **kwargs):
        self = args[0]
        self._opt_called = True  # read by LRScheduler.step: was the optimizer stepped yet?
        pre = self.__dict__.get("_optimizer_step_pre_hooks")
        post = self.__dict__.get("_optimizer_step_post_hooks")
        # no hook (the common case), or a subclass's step calling super().step(): hooks once
        if not (pre or post) or self.__dict__.get("_in_hooked_step"):
            return step(*args, **kwargs)
        self._in_hooked_step = True
        try:
            return _run_hooked(step, self, pre, post, args, kwargs)
        finally:
            self._in_hooked_step = False

    return hooked


def _run_hooked(step: Callable, optimizer, pre, post, args: tuple, kwargs: dict) -> Any:
    for hook in list(pre.values()) if pre else ():
        result = hook(optimizer, args, kwargs)
        if result is None:
            continue
        if not (isinstance(result, tuple) and len(result) == 2):
            raise RuntimeError(
                f"{step} must return None or a tuple of (new_args, new_kwargs), but got {result}."
            )
        args, kwargs = result
    out = step(*args, **kwargs)
    for hook in list(post.values()) if post else ():
        hook(optimizer, args, kwargs)
    return out


def _param_list(params) -> list:
    """A group's parameters as a list, checked to be leaf Tensors (or (name, Tensor) pairs)."""
    if isinstance(params, Tensor):
        return [params]
    if isinstance(params, set):
        raise TypeError(
            "optimizer parameters need to be organized in ordered collections, but the "
            "ordering of tensors in sets will change between runs. Please use a list instead."
        )
    params = list(params)
    for p in params:
        p = p[1] if isinstance(p, tuple) else p
        if not isinstance(p, Tensor):
            raise TypeError(
                f"optimizer can only optimize Tensors, but one of the params is {type(p).__name__}"
            )
        if not p.is_leaf:
            raise ValueError("can't optimize a non-leaf Tensor")
    return params


_HOST_SCALARS = {"step", "mu_product", "eta", "mu"}


def _copy_state(param: Tensor, key: str, value: Any) -> Any:
    """A contiguous copy of one saved buffer, cast to param's dtype unless it is "step"."""
    if isinstance(value, np.ndarray):  # a state_dict exported from PyTorch as numpy arrays
        value = tensor(value)
    if not isinstance(value, Tensor):
        return deepcopy(value)
    dtype = value.dtype
    if key != "step" and param.dtype.is_floating_point and dtype.is_floating_point:
        dtype = param.dtype
    host = value.detach().cpu()._data
    # state buffers live on their parameter's device; the 0-d schedule numbers ("step",
    # NAdam's "mu_product", ASGD's "eta" and "mu") stay on the cpu, where step() reads them
    device = None if key in _HOST_SCALARS else param.device
    return tensor(np.array(host, dtype=dtype.np, order="C"), dtype=dtype, device=device)


# ---- helpers for the built-in optimizers ---------------------------------------------------------
def _new_step() -> Tensor:
    """The step counter, a 0-d float32 tensor as in PyTorch's state_dicts."""
    return tensor(0.0, dtype=dtypes.float32)


def _advance(state: dict[str, Any]) -> float:
    """Add 1 to state["step"] in place and return the new count."""
    step = state["step"]
    if not isinstance(step, Tensor):  # a plain number from an old checkpoint
        step = state["step"] = tensor(float(step), dtype=dtypes.float32)
    # NOTE: a Python add and a 0-d store round like the float32 `+= 1` (0.2 us against 1.3)
    step._data[()] = float(step._data) + 1
    step._version_counter[0] += 1
    return float(step._data)


def _set_scalar(state: dict[str, Any], key: str, value: float) -> float:
    """Store value in the 0-d state tensor state[key] (rounded to its dtype, as PyTorch's
    in-place update of the tensor rounds) and return the stored value as a Python float."""
    data = state[key]._data
    data[()] = value
    state[key]._version_counter[0] += 1
    return float(data)


def _fused_update(
    rule: str,
    param: Tensor,
    buffers: list[Tensor | None],
    coefficients: tuple,
    flags: tuple[bool, ...],
) -> None:
    """Update param (and its state buffers) in place with the fused kernel of `rule`.

    param.grad is read (made contiguous and of param's dtype if it is not); buffers are the
    rule's state tensors in its order (None where absent), contiguous and of param's dtype.
    Inside `batched_updates()` the update waits for the end of the block, where it runs in one
    kernel call together with every other parameter that shares its rule and coefficients.
    """
    data = param._data
    if not isinstance(data, np.ndarray):  # a cuda parameter: the same rule, a CUDA kernel
        grad = _checked_grad(param)
        _cuda_update(rule, param, grad, buffers, coefficients, flags)
        return
    present = tuple([b is not None for b in buffers])
    key = (rule, coefficients, flags, data.dtype, present)
    if _queue is None:
        _Batch(key, [(param, buffers)], None).run()
    else:
        _queue.setdefault(key, []).append((param, buffers))


def _checked_grad(param: Tensor, dtype=None):
    """param's gradient array, of param's shape (else an error), as a C-contiguous array of
    `dtype` where given (the kernel's)."""
    grad = param._grad._data
    if dtype is not None and (grad.dtype != dtype or not grad.flags.c_contiguous):
        grad = np.ascontiguousarray(grad, dtype=dtype)
    if grad.shape != param._data.shape:
        raise RuntimeError(
            f"optimizer step: the gradient of a parameter has shape {tuple(grad.shape)} but the "
            f"parameter has shape {tuple(param._data.shape)}; assign a gradient of the "
            "parameter's shape."
        )
    return grad


def _cuda_update(rule, param, grad, buffers, coefficients, flags) -> None:
    from ..ops import cuda  # noqa: PLC0415

    # a state buffer of another dtype (see _Plan._state_array): updated as a copy of the
    # parameter's dtype, written back rounded
    work = [b if b is None or b.dtype == param.dtype else b.to(param.dtype) for b in buffers]
    arrays = [None if b is None else _flat(b._data, param._data) for b in work]
    cuda.fused_update(rule, param._data, grad, arrays, coefficients, flags)
    with no_grad():
        for buffer, copy in zip(buffers, work):
            if copy is not buffer:
                buffer.copy_(copy)
    param._version_counter[0] += 1


_queue: dict | None = None  # rule key -> queued (param, buffers), inside batched_updates()
# optimizer -> {ids: _Plan} of its last step: what a step over the same parameters and state
# buffers reuses
_plans: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()


class batched_updates:  # noqa: N801  (used as a function: `with batched_updates():`)
    """Run the `_fused_update`s of the block as one kernel call per rule and coefficients; as
    a decorator (`@batched_updates()`) of an optimizer's step, of each call of the step, and
    what the call works out about its parameters (kernel, flat arrays) is kept for the next.

    A per-parameter call costs ~20 us of Python and dispatch; an optimizer step over a model's
    parameters pays it once instead. Nothing is written if the block raises.
    NOTE: a class, not @contextmanager: the generator-based decorator cost ~1.4 us of a
    6-parameter Adam step (40.1 -> 38.7 us).
    """

    def __init__(self, owner=None):
        self.owner = owner

    def __call__(self, step):
        @functools.wraps(step)
        def batched(optimizer, *args, **kwargs):
            with batched_updates(optimizer):
                return step(optimizer, *args, **kwargs)

        return batched

    def __enter__(self):
        global _queue
        self.outer, _queue = _queue, {}

    def __exit__(self, kind, error, trace):
        global _queue
        queued, _queue = _queue, self.outer
        if kind is None and queued:
            known = _plans_of(self.owner)
            batches = [_Batch(key, updates, known) for key, updates in queued.items()]
            if known is not None:  # keep this step's plans only (old state dies with them)
                _plans[self.owner] = {b.ids: b.plan for b in batches}
            for batch in batches:  # all checked before any runs
                batch.run()


def _plans_of(owner) -> dict | None:
    """The plans of owner's last step; None where it cannot key a weak dict (no plans kept)."""
    if owner is None:
        return None
    try:
        return _plans.get(owner, {})
    except TypeError:  # unhashable (an __eq__ without __hash__) or no weak references
        return None


class _Batch:
    """Queued updates of one rule and coefficients with this step's gradients, checked."""

    def __init__(self, key: tuple, updates: list, known: dict | None):
        rule, self.coefficients, flags, dtype, present = key
        # NOTE: one loop for the gradients and the ids: this runs at every step, and its
        # Python was most of a small model's update (DQN's 6 parameters: ~30 us of ~45)
        self.grads, ids = [], [rule, flags, present]
        for p, buffers in updates:
            self.grads.append(_checked_grad(p, dtype))
            ids += (id(p), id(p._data), *[id(b._data) for b in buffers if b is not None])
        # the plan keeps these objects alive, so while it exists no other object has their ids
        self.ids = tuple(ids)
        self.plan = None if known is None else known.get(self.ids)
        if self.plan is None:
            arrays = [(p, p._data, *[b._data for b in bs if b is not None]) for p, bs in updates]
            self.plan = _Plan(rule, flags, present, updates, arrays)

    def run(self) -> None:
        self.plan.run(self.grads, self.coefficients)


class _Plan:
    """An optimizer's update of fixed parameters and state buffers (kernels.UpdatePlan), with
    the parameters it keeps (and copies of the non-contiguous ones and of state buffers of
    another dtype, written back)."""

    def __init__(self, rule: str, flags: tuple, present: tuple, updates: list, keep: list):
        self.keep = keep  # the objects whose ids key this plan
        self.params = [param for param, _ in updates]
        # (a non-contiguous parameter's or other-dtype state buffer's array, the copy the kernel
        # updates)
        self.copies = []
        params = []
        for p in self.params:
            flat = p._data if p._data.flags.c_contiguous else np.ascontiguousarray(p._data)
            if flat is not p._data:
                self.copies.append((p._data, flat))
            params.append(flat.reshape(-1))
        states = [
            [self._state_array(buffers[k]._data, p._data) for p, buffers in updates]
            if here
            else None
            for k, here in enumerate(present)
        ]
        self.update = kernels.UpdatePlan(rule, params, states, flags)

    def _state_array(self, buffer: np.ndarray, param: np.ndarray) -> np.ndarray:
        """The flat state array the kernel updates: the buffer itself, or a copy of the
        parameter's dtype written back (rounded) after each run where the dtypes differ."""
        if buffer.dtype != param.dtype and buffer.shape == param.shape:
            # NOTE: a model converted (.double()) after a first step: PyTorch's in-place state
            # updates keep the buffer's dtype (float32) and step the parameter in its own
            flat = np.ascontiguousarray(buffer, dtype=param.dtype)
            self.copies.append((buffer, flat))
            buffer = flat
        return _flat(buffer, param)

    def run(self, grads: list, coefficients: tuple) -> None:
        for data, flat in self.copies:  # the parameter may have changed since the last step
            flat[...] = data
        self.update.run(grads, coefficients)
        for data, flat in self.copies:  # write back through the view (or rounding to its dtype)
            data[...] = flat
        for param in self.params:
            param._version_counter[0] += 1


def _flat(buffer: np.ndarray, like: np.ndarray) -> np.ndarray:
    if buffer.shape != like.shape or buffer.dtype != like.dtype:
        raise RuntimeError(
            f"optimizer step: a state buffer has shape {tuple(buffer.shape)} and dtype "
            f"{buffer.dtype} but its parameter has shape {tuple(like.shape)} and dtype "
            f"{like.dtype}; was the state_dict saved for different parameters?"
        )
    # NOTE: buffers come from zeros_like/full_like or _copy_state, both contiguous; a reshape of
    # a non-contiguous array would copy and the update would be lost.
    assert buffer.flags["C_CONTIGUOUS"]
    return buffer.reshape(-1) if isinstance(buffer, np.ndarray) else buffer


class _FusedOptimizer(Optimizer):
    """An optimizer whose step updates every parameter with one fused rule of
    kernels/cpu/optim.py. A subclass names its `rule` and says how a parameter's state starts
    (`_init_state`, after "step" exists) and what one step passes to the rule (`_rule_args`,
    after "step" was advanced): the loop over parameters, the lazy state and the batching are
    written once, here.
    """

    rule: str

    def _init_state(self, group: dict[str, Any], param: Tensor, state: dict[str, Any]) -> None:
        raise NotImplementedError

    def _rule_args(self, group: dict[str, Any], state: dict[str, Any], step: float) -> tuple:
        """(state buffers in the rule's order, coefficients, flags) of one parameter's update."""
        raise NotImplementedError

    def _new_state(self, group: dict[str, Any], param: Tensor) -> dict[str, Any]:
        state = self.state[param]
        state["step"] = _new_step()
        self._init_state(group, param, state)
        return state

    @batched_updates()
    def step(self, closure: Callable[[], Any] | None = None) -> Any:
        """One update of every parameter that has a gradient."""
        loss = self._evaluate(closure)
        for group in self.param_groups:
            for p in group["params"]:
                if p._grad is None:  # (not the property: read for every parameter)
                    continue
                state = self.state[p] or self._new_state(group, p)
                buffers, coefficients, flags = self._rule_args(group, state, _advance(state))
                _fused_update(self.rule, p, buffers, coefficients, flags)
        return loss
