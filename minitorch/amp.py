"""Mixed precision as PyTorch scripts spell it: autocast and GradScaler.

minitorch has no float16/bfloat16 arithmetic (and numpy cannot hold a bfloat16 tensor at all),
so `autocast` runs its region in the tensors' own dtypes (float32): a script written for mixed
precision runs, with float32's numbers. The region's state is still kept as PyTorch's is, for
code that asks: `is_autocast_enabled(device_type)` is True inside it and `get_autocast_dtype`
names its dtype; `custom_fwd`/`custom_bwd` read and restore that state.
`GradScaler` is PyTorch's dynamic loss scaling, in full: scale the loss, unscale the
gradients, skip the step when one is not finite, grow or back off the scale. (On float32 it
is rarely needed, but a script that uses it gets the behaviour it asks for.)
"""

from __future__ import annotations

import functools
import warnings

import numpy as np

from .autograd.grad_mode import no_grad
from .dtypes import bfloat16, float16, float32, float64
from .functional import full
from .tensor import Tensor

# device type -> [enabled, dtype]: what is_autocast_enabled and get_autocast_dtype report.
# Regions set and restore it; no op reads it, as every region runs in float32.
_STATE = {"cpu": [False, bfloat16], "cuda": [False, float16]}


def _state(device_type: str) -> list:
    if device_type not in _STATE:
        raise RuntimeError(
            f"User specified an unsupported autocast device_type '{device_type}'; use one "
            f"of {tuple(_STATE)}"
        )
    return _STATE[device_type]


class autocast:  # noqa: N801  (PyTorch's name)
    """Context manager and decorator; the region runs in float32 (see the module's doc).

    Example:
        >>> with autocast("cpu", dtype=bfloat16):
        ...     is_autocast_enabled("cpu"), get_autocast_dtype("cpu")
        (True, minitorch.bfloat16)
    """

    def __init__(self, device_type: str, dtype=None, enabled: bool = True, cache_enabled=None):
        default_dtype = _state(device_type)[1]  # (an unknown device_type raises here, as PyTorch's)
        self.device, self.fast_dtype = device_type, dtype or default_dtype
        if enabled and device_type == "cpu" and self.fast_dtype not in (bfloat16, float16):
            warnings.warn(
                "In CPU autocast, but the target dtype is not supported. Disabling autocast.\n"
                "CPU Autocast only supports dtypes of torch.bfloat16, torch.float16 currently.",
                UserWarning,
                stacklevel=2,
            )
            enabled = False
        self.enabled = enabled

    def __enter__(self):
        state = _state(self.device)
        self._previous = state[:]
        state[:] = [self.enabled, self.fast_dtype]
        return self

    def __exit__(self, *exc) -> None:
        _state(self.device)[:] = self._previous

    def __call__(self, fn):
        @functools.wraps(fn)
        def in_region(*args, **kwargs):
            with self:
                return fn(*args, **kwargs)

        return in_region


def is_autocast_available(device_type: str) -> bool:
    return device_type in _STATE


def is_autocast_enabled(device_type: str = "cuda") -> bool:
    """Inside an enabled autocast region of device_type (the ops still run in float32)."""
    return _state(device_type)[0]


def set_autocast_enabled(device_type, enabled=None) -> None:
    """set_autocast_enabled(device_type, enabled), or PyTorch's older (enabled) for cuda."""
    if enabled is None:
        device_type, enabled = "cuda", device_type
    _state(device_type)[0] = bool(enabled)


def get_autocast_dtype(device_type: str):
    """The dtype autocast regions of device_type name (bfloat16 on cpu, float16 on cuda)."""
    return _state(device_type)[1]


def set_autocast_dtype(device_type: str, dtype) -> None:
    _state(device_type)[1] = dtype


def custom_fwd(fwd=None, *, device_type: str, cast_inputs=None):
    """Decorator for a custom autograd Function's forward, as torch.amp.custom_fwd: in an
    autocast region with cast_inputs set, floating tensor arguments are cast to cast_inputs
    (float64 ones excepted) and forward runs with autocast off."""
    if fwd is None:
        return functools.partial(custom_fwd, device_type=device_type, cast_inputs=cast_inputs)

    @functools.wraps(fwd)
    def decorate_fwd(ctx, *args, **kwargs):
        # custom_bwd runs backward under the autocast state forward ran under
        ctx._dtype = get_autocast_dtype(device_type)
        in_region = is_autocast_enabled(device_type)
        ctx._fwd_used_autocast = in_region and cast_inputs is None
        if not in_region or cast_inputs is None:
            return fwd(ctx, *args, **kwargs)
        with autocast(device_type, enabled=False):
            return fwd(ctx, *_cast(args, cast_inputs), **_cast(kwargs, cast_inputs))

    return decorate_fwd


def custom_bwd(bwd=None, *, device_type: str):
    """Decorator for a custom autograd Function's backward: the autocast state of forward."""
    if bwd is None:
        return functools.partial(custom_bwd, device_type=device_type)

    @functools.wraps(bwd)
    def decorate_bwd(ctx, *args, **kwargs):
        with autocast(device_type, dtype=ctx._dtype, enabled=ctx._fwd_used_autocast):
            return bwd(ctx, *args, **kwargs)

    return decorate_bwd


def _cast(value, dtype):
    """value with its floating tensors (float64 ones excepted) cast to dtype, in containers too."""
    if isinstance(value, Tensor):
        cast = value.dtype.is_floating_point and value.dtype is not float64
        return value.to(dtype) if cast else value
    if isinstance(value, dict):
        return {k: _cast(v, dtype) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return type(value)(_cast(v, dtype) for v in value)
    return value


class GradScaler:
    """Dynamic loss scaling (torch.amp.GradScaler), its arguments, methods and state_dict."""

    def __init__(
        self,
        device: str = "cuda",
        init_scale: float = 2.0**16,
        growth_factor: float = 2.0,
        backoff_factor: float = 0.5,
        growth_interval: int = 2000,
        enabled: bool = True,
    ):
        from . import cuda  # noqa: PLC0415

        if enabled and device == "cuda" and not cuda.is_available():
            warnings.warn(
                "torch.cuda.amp.GradScaler is enabled, but CUDA is not available.  Disabling.",
                UserWarning,
                stacklevel=2,
            )
            enabled = False
        if not growth_factor > 1.0 or not 0.0 < backoff_factor < 1.0:
            raise ValueError("growth_factor must be > 1.0 and backoff_factor in (0, 1)")
        self._enabled = enabled
        # a tensor, as PyTorch's: a compiled step that scales the loss reads its value at each
        # replay (a Python float would be frozen into the trace); update() writes it in place
        on = device if enabled and str(device).startswith("cuda") else "cpu"
        self._scale = full((), float(init_scale), dtype=float32, device=on)
        self._growth_factor, self._backoff_factor = growth_factor, backoff_factor
        self._growth_interval, self._growth_tracker = growth_interval, 0
        # PyTorch's per-optimizer stage since the last update(): absent (ready), "unscaled" or
        # "stepped"; and whether the optimizer's unscaled gradients held an inf or nan
        self._stage: dict[int, str] = {}
        self._found_inf: dict[int, bool] = {}

    def is_enabled(self) -> bool:
        return self._enabled

    def get_scale(self) -> float:
        return self._scale.item() if self._enabled else 1.0

    def scale(self, outputs):
        """outputs (a tensor or nested lists/tuples of them) times the current scale."""
        if not self._enabled:
            return outputs
        if isinstance(outputs, Tensor):
            scale = self._scale
            return outputs * (scale if scale.device == outputs.device else scale.to(outputs.device))
        if isinstance(outputs, (list, tuple)):
            return type(outputs)(self.scale(o) for o in outputs)
        raise ValueError("outputs must be a Tensor or an iterable of Tensors")

    def unscale_(self, optimizer) -> None:
        """Divide the optimizer's gradients by the scale, once per update() and before step()."""
        if not self._enabled:
            return
        stage = self._stage.get(id(optimizer))
        if stage == "unscaled":
            raise RuntimeError(
                "unscale_() has already been called on this optimizer since the last update()."
            )
        if stage == "stepped":
            raise RuntimeError("unscale_() is being called after step().")
        inverse, finite = 1.0 / self.get_scale(), True
        with no_grad():
            for group in optimizer.param_groups:
                for p in group["params"]:
                    if p.grad is not None:
                        # checked before scaling, as PyTorch's kernel: a scale below 1 could
                        # overflow a finite gradient
                        finite = finite and bool(p.grad.isfinite().all())
                        p.grad.mul_(inverse)
        self._stage[id(optimizer)], self._found_inf[id(optimizer)] = "unscaled", not finite

    def step(self, optimizer, *args, **kwargs):
        """optimizer.step(*args, **kwargs) unless a gradient is inf or nan (then skipped)."""
        if not self._enabled:
            return optimizer.step(*args, **kwargs)
        if "closure" in kwargs:
            raise RuntimeError("Closure use is not currently supported if GradScaler is enabled.")
        if self._stage.get(id(optimizer)) == "stepped":
            raise RuntimeError("step() has already been called since the last update().")
        if id(optimizer) not in self._stage:
            self.unscale_(optimizer)
        result = None if self._found_inf[id(optimizer)] else optimizer.step(*args, **kwargs)
        self._stage[id(optimizer)] = "stepped"
        return result

    def update(self, new_scale: float | Tensor | None = None) -> None:
        """Back off the scale after a skipped step, grow it after growth_interval good ones."""
        if not self._enabled:
            return
        if new_scale is not None:
            self._scale.fill_(float(new_scale))
        elif not self._found_inf:
            raise AssertionError("No inf checks were recorded prior to update.")
        else:
            self._update_scale(any(self._found_inf.values()))
        self._stage.clear()
        self._found_inf.clear()

    def _update_scale(self, found_inf: bool) -> None:
        """torch._amp_update_scale_: back off after a skipped step; after growth_interval good
        steps in a row, grow, unless the grown scale overflows float32 (then keep it)."""
        if found_inf:
            self._scale.fill_(self.get_scale() * self._backoff_factor)
            self._growth_tracker = 0
            return
        self._growth_tracker += 1
        if self._growth_tracker == self._growth_interval:
            with np.errstate(over="ignore"):  # NOTE: float32 rounding decides, not float64's
                grown = np.float32(self.get_scale() * self._growth_factor)
            if np.isfinite(grown):
                self._scale.fill_(float(grown))
            self._growth_tracker = 0

    def state_dict(self) -> dict:
        if not self._enabled:
            return {}
        return {
            "scale": self.get_scale(),
            "growth_factor": self._growth_factor,
            "backoff_factor": self._backoff_factor,
            "growth_interval": self._growth_interval,
            "_growth_tracker": self._growth_tracker,
        }

    def load_state_dict(self, state_dict: dict) -> None:
        if not self._enabled:
            return
        if not state_dict:
            raise RuntimeError(
                "The source state dict is empty, possibly because it was saved "
                "from a disabled instance of GradScaler."
            )
        self._scale.fill_(float(state_dict["scale"]))
        self._growth_factor = float(state_dict["growth_factor"])
        self._backoff_factor = float(state_dict["backoff_factor"])
        self._growth_interval = int(state_dict["growth_interval"])
        self._growth_tracker = int(state_dict["_growth_tracker"])


class _CudaAutocast(autocast):
    """torch.cuda.amp.autocast(enabled, dtype, cache_enabled): autocast("cuda", ...)."""

    def __init__(self, enabled: bool = True, dtype=None, cache_enabled=True):
        super().__init__("cuda", dtype, enabled)


class _CpuAutocast(autocast):
    """torch.cpu.amp.autocast(enabled, dtype, cache_enabled): autocast("cpu", ...)."""

    def __init__(self, enabled: bool = True, dtype=None, cache_enabled=True):
        super().__init__("cpu", dtype, enabled)
