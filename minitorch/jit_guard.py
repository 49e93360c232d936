"""Hook points the tracer (minitorch.jit) installs into eager code; all no-ops outside a trace.

- `check_host_sync`: Tensor methods that move data to Python (.item(), .numpy(), bool()) call
  it, so a trace can reject them with a clear error.
- `capture`: the active capture, or None. Eager code reports the effects a trace must replay
  that are not registry ops: gradients assigned to tensors (Tensor.grad's setter), in-place
  writes; and (`unreplayable`) what a replay cannot repeat.
- `opaque`: marks a method (optimizer.step, zero_grad) that a trace records as one call and
  replays by calling it again, so the Python numbers it reads (learning rates, step counts)
  stay live instead of being frozen into the trace; `sets_modes` does the same for
  Module.train (a step that calls model.train() itself). `OpaqueStep`: a base (Optimizer,
  LRScheduler) whose subclasses' `step` methods get the same treatment.
"""

from __future__ import annotations

import functools

_guard = [None]
capture = [None]
# Bumped whenever a hook (tensor, module or optimizer hook) is added or removed: a trace ran
# the hooks that existed when it was captured, so it holds only while this has not moved.
hooks_version = [0]


def hooks_changed() -> None:
    hooks_version[0] += 1


def hook_registered(hooks: dict, key, tensor=None) -> None:
    """Report a hook added as hooks[key] (on `tensor`, or a module's or optimizer's hook)."""
    hooks_changed()
    if capture[0] is not None:
        capture[0].on_hook_registered(hooks, key, tensor)


# Bumped whenever a module's attribute, parameter, buffer or submodule is set, added or
# removed: a trace's guards on the modules it ran (minitorch/jit) compare them only when this
# moved since they last did.
modules_version = [0]


def modules_changed() -> None:
    modules_version[0] += 1


def swapping_state(module) -> None:
    """Called by func.functional_call before it swaps tensors into `module`'s attributes and
    back: a trace records the module's state as the step found it, not the swapped one."""
    if capture[0] is not None:
        capture[0].on_state_swap(module)


def tracing() -> bool:
    """Whether minitorch.compile is capturing a step now."""
    return _guard[0] is not None


def check_host_sync(what: str) -> None:
    """Called by Tensor methods that move data to Python; a no-op outside a trace."""
    if _guard[0] is not None:
        _guard[0](what)


def unreplayable(what: str) -> None:
    """Called by eager code doing what a replay cannot repeat (reseeding a generator, reading
    its state, taking a DataLoader batch, anomaly mode's NaN checks); a no-op outside a
    trace."""
    if capture[0] is not None:
        capture[0].on_unreplayable(what)


def wrote(tensor, array) -> None:
    """Report that `array` was copied into tensor's storage (an in-place op)."""
    if capture[0] is not None:
        capture[0].on_write(tensor, array)


def opaque(method, hook: str = "on_call"):
    """Record calls of `method` made during a capture as one replayable call (the capture's
    `hook` records it and runs it)."""

    @functools.wraps(method)
    def wrapper(self, *args, **kwargs):
        active = capture[0]
        if active is None:
            return method(self, *args, **kwargs)
        return getattr(active, hook)(method, self, args, kwargs)

    return wrapper


# Module.train: recorded and replayed like an opaque call (the flags end as eager leaves them),
# and the flags the step sets itself are not guarded at its entry.
sets_modes = functools.partial(opaque, hook="on_set_modes")


class OpaqueStep:
    """A base class whose subclasses' own `step` methods are opaque too (optimizers, LR
    schedulers): a trace replays step() as one call, so the learning rates and step counts it
    reads stay live instead of being frozen into the trace."""

    def __init_subclass__(cls, **kwargs):
        super().__init_subclass__(**kwargs)
        if "step" in cls.__dict__:
            cls.step = opaque(cls.__dict__["step"])
