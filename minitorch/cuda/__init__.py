"""minitorch.cuda: PyTorch's torch.cuda names for the CUDA backend.

Importing this module is free: numba.cuda loads on the first call that needs it. Without a GPU,
NUMBA_ENABLE_CUDASIM=1 (set before importing minitorch) runs every CUDA kernel on numba's
simulator, which is how the tests exercise this backend on CPU-only machines.

Example:
    >>> import minitorch as torch
    >>> device = "cuda" if torch.cuda.is_available() else "cpu"
    >>> torch.ones(2, device=device).sum().item()
    2.0
"""

from __future__ import annotations

from ..backend import cuda as _runtime

__all__ = [
    "device_count",
    "empty_cache",
    "get_rng_state",
    "is_available",
    "manual_seed",
    "manual_seed_all",
    "max_memory_allocated",
    "memory_allocated",
    "memory_reserved",
    "reset_peak_memory_stats",
    "set_rng_state",
    "synchronize",
]


def is_available() -> bool:
    """True with numba-cuda installed and a usable GPU (or NUMBA_ENABLE_CUDASIM=1)."""
    return _runtime.is_available()


def device_count() -> int:
    """The number of CUDA devices minitorch can use (0 without any)."""
    return _runtime.device_count()


def synchronize(device=None) -> None:
    """Wait for every kernel launched so far to finish."""
    _runtime.require()
    _runtime.synchronize()


def manual_seed(seed: int) -> None:
    """Seed the random numbers drawn on the GPU. minitorch's counter-based generator is shared
    by both devices (a seed draws the same numbers on either), so this seeds the CPU too."""
    from ..random import manual_seed as _seed  # noqa: PLC0415

    _seed(seed)


manual_seed_all = manual_seed


def get_rng_state(device="cuda"):
    """The state of the generator GPU draws come from: the CPU's default one (see
    manual_seed), so this is minitorch.get_rng_state()."""
    from ..random import get_rng_state as _get  # noqa: PLC0415

    return _get()


def set_rng_state(new_state, device="cuda") -> None:
    """Set the generator GPU draws come from (the CPU's default one, see manual_seed)."""
    from ..random import set_rng_state as _set  # noqa: PLC0415

    _set(new_state)


def memory_allocated(device=None) -> int:
    """Bytes in device memory blocks held by tensors now (rounded up to the allocator's
    block sizes, as PyTorch counts them)."""
    return _runtime.memory_allocated()


def max_memory_allocated(device=None) -> int:
    """The peak of memory_allocated() since the start or reset_peak_memory_stats()."""
    return _runtime.max_memory_allocated()


def memory_reserved(device=None) -> int:
    """Bytes held from the driver by the caching allocator: in use plus cached."""
    return _runtime.memory_reserved()


def reset_peak_memory_stats(device=None) -> None:
    _runtime.reset_peak_memory_stats()


def empty_cache() -> None:
    """Give the cached, unused blocks back to the driver (tensors in use are unaffected)."""
    _runtime.empty_cache()


from . import amp  # noqa: E402  (torch.cuda.amp; it imports minitorch.amp, not this module)
