"""Counter-based random numbers (Philox4x32-10): a Generator is a (seed, offset) pair.

A draw of n numbers uses counters from offset on (at most n of them: a counter gives 1-4
numbers, see kernels/cpu/random.py) and advances the offset by n, so the same seed and offset
give the same numbers in eager, traced and CUDA code.
"""

from __future__ import annotations

import contextlib
import math
import weakref

import numpy as np

from . import dtypes, jit_guard
from .autograd import grad_mode
from .backend import to_device
from .kernels.cpu import random as K
from .ops import random as RandomOps
from .ops.registry import apply
from .tensor import Tensor, _check_inplace_allowed, _shape_arg, wrap

__all__ = [
    "Generator",
    "manual_seed",
    "seed",
    "initial_seed",
    "get_rng_state",
    "set_rng_state",
    "fork_rng",
    "rand",
    "randn",
    "randint",
    "randperm",
    "normal",
    "bernoulli",
    "rand_like",
    "randn_like",
    "randint_like",
    "multinomial",
]


class Generator:
    """torch.Generator: manual_seed, seed, initial_seed, get_state/set_state."""

    def __init__(self, device="cpu"):
        self._seed = 67280421310721
        self.offset = 0
        self.device = device
        _generators.add(self)

    def manual_seed(self, seed: int) -> Generator:
        jit_guard.unreplayable("reseed")  # (noticed even when the state stays the same)
        self._seed = int(seed) % 2**64
        self.offset = 0
        return self

    def seed(self) -> int:
        self.manual_seed(int.from_bytes(np.random.default_rng().bytes(8), "little"))
        return self._seed

    def initial_seed(self) -> int:
        jit_guard.unreplayable("read rng")
        return self._seed

    def get_state(self) -> Tensor:
        jit_guard.unreplayable("read rng")
        state = np.array([self._seed, self.offset], dtype=np.uint64).view(np.uint8)
        return wrap(state.copy(), dtypes.uint8)

    def set_state(self, new_state: Tensor) -> None:
        jit_guard.unreplayable("reseed")
        self._seed, self.offset = _seed_and_offset(new_state)

    def draw(self, n: int) -> tuple[int, int]:
        """Reserve n counters: returns (seed, offset) for them and advances the offset."""
        if _refuse_draws:
            raise RuntimeError(
                "vmap: called random operation while in randomness error mode. Please either "
                "use the 'same' or 'different' randomness flags on vmap or perform the "
                "randomness operation out of vmap"
            )
        start = self.offset
        self.offset += n
        return self._seed, start


# How many func.vmap(randomness="error") calls are open: any draw inside one is refused, as
# PyTorch refuses random operations there (every random op draws through Generator.draw).
_refuse_draws = 0

_STATE_BYTES = 16  # get_state(): the seed and the offset, two uint64s


def _seed_and_offset(new_state) -> tuple[int, int]:
    """The (seed, offset) in a state that get_state() returned; anything else is refused with
    the class PyTorch raises (TypeError: not a uint8 tensor, RuntimeError: the wrong size)."""
    if not isinstance(new_state, Tensor) or new_state.dtype is not dtypes.uint8:
        got = new_state.dtype if isinstance(new_state, Tensor) else type(new_state).__name__
        raise TypeError(
            "set_rng_state: expected the uint8 tensor that minitorch.get_rng_state() (or "
            f"Generator.get_state()) returned, got {got}"
        )
    n = new_state.numel()
    if n != _STATE_BYTES:
        # NOTE: PyTorch's CPU state is its Mersenne Twister's (5056 bytes); ours is Philox's
        # (seed, offset), so no state converts from one to the other
        what = " (PyTorch's Mersenne Twister state: it cannot be loaded)" if n == 5056 else ""
        raise RuntimeError(
            f"set_rng_state: expected a state of {_STATE_BYTES} bytes (the seed and offset of "
            f"minitorch's counter-based Philox generator), got {n} bytes{what}. To reproduce a "
            "run, call minitorch.manual_seed(seed) at its start (a seed always draws the same "
            "numbers), or restore a state saved with minitorch.get_rng_state()."
        )
    seed, offset = np.ascontiguousarray(new_state.cpu()._data).view(np.uint64)
    return int(seed), int(offset)


# Every generator alive: a trace watches them all, since a step may draw from any of them
# without a registry op (randint(generator=g)), and check=True restores them all.
_generators: weakref.WeakSet[Generator] = weakref.WeakSet()


def live_generators() -> list[Generator]:
    return list(_generators)


default_generator = Generator()


def manual_seed(seed: int) -> Generator:
    """Seed the default generator (and return it), like torch.manual_seed."""
    return default_generator.manual_seed(seed)


def seed() -> int:
    return default_generator.seed()


def initial_seed() -> int:
    return default_generator.initial_seed()


def get_rng_state() -> Tensor:
    return default_generator.get_state()


def set_rng_state(new_state: Tensor) -> None:
    default_generator.set_state(new_state)


@contextlib.contextmanager
def fork_rng(
    devices=None, enabled=True, _caller="fork_rng", _devices_kw="devices", device_type=None
):
    """Put the default generator back as it was on leaving the block (torch.random.fork_rng),
    so numbers drawn inside do not change the numbers drawn after it.

    Args:
        devices: PyTorch's CUDA devices to fork. Accepted for compatibility: minitorch's CUDA
            draws come from the same default generator as the CPU's (minitorch.cuda.
            manual_seed), so forking it forks every device.
        enabled: if False, the block runs without forking.
        device_type: "cuda" (the default), "cpu", or "meta" (nothing to fork).

    Inside a compiled step it is refused (a replay could not put the generator back), like
    reseeding there; use it around the compiled call instead.

    Example:
        >>> import minitorch as torch
        >>> _ = torch.manual_seed(0)
        >>> with torch.random.fork_rng():
        ...     _ = torch.rand(3)
        >>> after = torch.rand(2)
        >>> _ = torch.manual_seed(0)
        >>> torch.equal(torch.rand(2), after)
        True
    """
    if device_type not in (None, "cuda", "cpu", "meta"):
        raise RuntimeError(
            f"{_caller}: minitorch has no device type `{device_type}`; use 'cuda' or 'cpu'"
        )
    if not enabled or device_type == "meta":
        yield
        return
    jit_guard.unreplayable("fork rng")
    state = default_generator.get_state()
    try:
        yield
    finally:
        default_generator.set_state(state)


def _float_dtype(dtype, op: str) -> dtypes.dtype:
    dtype = dtypes.get_default_dtype() if dtype is None else dtypes.to_dtype(dtype)
    if not dtype.is_floating_point or dtype is dtypes.float16:
        raise RuntimeError(f"{op}: expected a float32 or float64 dtype, got {dtype}")
    return dtype


def _finish(out: np.ndarray, dtype, requires_grad: bool) -> Tensor:
    t = wrap(out, dtype)
    if requires_grad:
        t.requires_grad = True
    return t


def rand(*size, generator=None, dtype=None, device=None, requires_grad=False) -> Tensor:
    """Uniform numbers in [0, 1)."""
    dtype = _float_dtype(dtype, "rand")
    return _draw("uniform", _shape_arg(size), dtype, generator, requires_grad, device=device)


def randn(*size, generator=None, dtype=None, device=None, requires_grad=False) -> Tensor:
    """Standard normal numbers."""
    dtype = _float_dtype(dtype, "randn")
    return _draw("normal", _shape_arg(size), dtype, generator, requires_grad, device=device)


def randint(
    low, high=None, size=None, *, generator=None, dtype=None, device=None, requires_grad=False
) -> Tensor:
    """Integers uniform in [low, high); randint(high, size) starts at 0."""
    if high is None or (size is None and isinstance(high, (tuple, list))):
        low, high, size = 0, low, high
    if size is None:
        raise TypeError("randint() missing required argument 'size'")
    if high <= low:
        raise RuntimeError(
            f"random_ expects 'from' to be less than 'to', but got from={low} >= to={high}"
        )
    dtype = dtypes.int64 if dtype is None else dtypes.to_dtype(dtype)
    out = np.empty(tuple(size), np.int64)
    seed_, offset = (generator or default_generator).draw(out.size)
    K.fill_randint(out, seed_, offset, int(low), int(high))
    t = _finish(out.astype(dtype.np, copy=False), dtype, requires_grad)
    return t if device is None else t.to(device)  # the CPU's numbers, copied to the device


def randperm(n: int, *, generator=None, dtype=None, device=None, requires_grad=False) -> Tensor:
    """A random permutation of 0..n-1 (argsort of random 62-bit keys)."""
    keys = np.empty(n, np.int64)
    seed_, offset = (generator or default_generator).draw(n)
    K.fill_randint(keys, seed_, offset, 0, 2**62)
    dtype = dtypes.int64 if dtype is None else dtypes.to_dtype(dtype)
    t = wrap(np.argsort(keys, kind="stable").astype(dtype.np), dtype)
    return t if device is None else t.to(device)  # the CPU's permutation, copied to the device


def normal(
    mean=0.0, std=1.0, size=None, *, generator=None, dtype=None, device=None, requires_grad=False
) -> Tensor:
    """Normal numbers; mean/std may be tensors (broadcast) or numbers with a size."""
    if isinstance(mean, Tensor) or isinstance(std, Tensor):
        ref = mean if isinstance(mean, Tensor) else std
        shape = np.broadcast_shapes(
            np.shape(mean._data if isinstance(mean, Tensor) else mean),
            np.shape(std._data if isinstance(std, Tensor) else std),
        )
        z = randn(shape, generator=generator, dtype=ref.dtype, device=ref.device)
        return z * std + mean
    if size is None:
        raise TypeError("normal() with number mean and std needs a size")
    dtype = _float_dtype(dtype, "normal")
    args = (float(mean), float(std))
    return _draw("normal", tuple(size), dtype, generator, requires_grad, args, device)


def bernoulli(input: Tensor, p=None, *, generator=None) -> Tensor:
    """1 with probability input (elementwise, or p), else 0; same dtype as input."""
    # NOTE: the draw op checks the probabilities on the CPU; in a cuda tensor they are not
    # checked (that would be a host synchronization; PyTorch checks them with a device-side
    # assert), so a number p is checked here.
    if p is not None and not 0 <= p <= 1:
        raise RuntimeError("bernoulli: all probabilities must be in [0, 1]")
    probs = input if p is None else input.new_full(input.shape, p)
    return apply(
        RandomOps.draw,
        probs,
        kind="bernoulli",
        shape=tuple(probs.shape),
        dtype=input.dtype,
        generator=generator or default_generator,
    )


def dropout_mask(like: Tensor, shape: tuple, p: float, *, generator=None) -> Tensor:
    """1 / (1 - p) with probability 1 - p, else 0, in like's dtype and on its device.

    The same draws as bernoulli(full(shape, 1 - p)) * (1 / (1 - p)), in one pass, without
    the probability array. NOTE: masks of the transformer step's shapes ((32, 64, 64),
    (8, 64, 128), (8, 64, 512)) took 760 us as a bernoulli draw then a scaling mul, 456 us so
    (same-process A/B).
    """
    args = (1.0 - p, 1.0 / (1.0 - p))
    return _draw("dropout", tuple(shape), like.dtype, generator, False, args, like.device)


def _draw(kind, shape, dtype, generator, requires_grad, args=(), device=None) -> Tensor:
    """A tensor of random numbers from the registry's draw op (a trace replays it)."""
    device = to_device(device)
    out = apply(
        RandomOps.draw,
        kind=kind,
        shape=shape,
        dtype=dtype,
        generator=generator or default_generator,
        args=args,
        **({} if device.type == "cpu" else {"device": device}),
    )
    if requires_grad:
        out.requires_grad = True
    return out


def multinomial(
    input: Tensor, num_samples: int, replacement: bool = False, *, generator=None
) -> Tensor:
    """Sample category indices by weight (rows of a 2-D input are independent)."""
    jit_guard.check_host_sync("multinomial")  # (reads the weights into numpy)
    probs = np.atleast_2d(np.asarray(input._data, np.float64))
    if not replacement and num_samples > probs.shape[1]:
        raise RuntimeError(
            "multinomial: cannot sample n_sample > prob_dist.size(-1) samples without replacement"
        )
    rows = []
    for row in probs:
        u = rand(num_samples, generator=generator, dtype=dtypes.float64)._data
        picked, weights = [], row.copy()
        for k in range(num_samples):
            cdf = np.cumsum(weights)
            j = int(np.searchsorted(cdf, u[k] * cdf[-1], side="right"))
            j = min(j, len(row) - 1)
            picked.append(j)
            if not replacement:
                weights[j] = 0.0
        rows.append(picked)
    out = np.asarray(rows, np.int64)
    return wrap(out if input.ndim == 2 else out[0], dtypes.int64)


def rand_like(input: Tensor, *, dtype=None, **kw) -> Tensor:
    return rand(input.shape, dtype=dtype or input.dtype, **kw)


def randn_like(input: Tensor, *, dtype=None, **kw) -> Tensor:
    return randn(input.shape, dtype=dtype or input.dtype, **kw)


def randint_like(input: Tensor, low=0, high=None, *, dtype=None, **kw) -> Tensor:
    if high is None:
        low, high = 0, low
    return randint(low, high, input.shape, dtype=dtype or input.dtype, **kw)


# PyTorch's checks of the in-place samplers' numbers: kind -> (refuses(x0, x1), message)
_SAMPLE_CHECKS = {
    "uniform": (
        lambda a, b: a > b,
        "uniform_ expects to return a [from, to) range, but found from={0:g} > to={1:g}",
    ),
    "normal": (lambda mean, std: not std >= 0, "normal expects std >= 0.0, but found std {1:g}"),
    "log_normal": (
        lambda mean, std: not std > 0,
        "log_normal_ expects std > 0.0, but found std={1:g}",
    ),
    "exponential": (
        lambda lambd, _: not lambd > 0,
        "exponential_ expects lambda > 0.0, but found lambda={0:g}",
    ),
    "cauchy": (
        lambda median, sigma: not sigma > 0,
        "cauchy_ expects sigma > 0.0, but found sigma={1:g}",
    ),
    "geometric": (
        lambda p, _: not 0 < p < 1,
        "geometric_ expects p to be in (0, 1), but got p={0:g}",
    ),
}


def sample_(t: Tensor, kind: str, x0=0.0, x1=1.0, generator=None) -> Tensor:
    """t.<kind>_(x0, x1): fill t in place with numbers of a float kind (kernels/codegen/
    philox.py's FLOAT_KINDS: uniform_, normal_, log_normal_, exponential_, cauchy_,
    geometric_), its version bumped. The numbers come from the registry's draw, so a traced
    step replays the fill; its arguments and dtype are checked as PyTorch checks them."""
    x0, x1 = float(x0), float(x1)
    refuses, message = _SAMPLE_CHECKS[kind]
    if refuses(x0, x1):
        raise RuntimeError(message.format(x0, x1))
    dtype = _sample_dtype(kind, t.dtype)
    args = (math.log1p(-x0), 0.0) if kind == "geometric" else (x0, x1)  # (kernel: log(1 - p))
    tracking = grad_mode.state.enabled and t.requires_grad
    if tracking:
        _check_inplace_allowed(t)  # (a leaf: refused before the generator moves on)
    values = _draw(kind, tuple(t.shape), dtype, generator, False, args)
    if tracking:  # a zero gradient to t's old value, as PyTorch's samplers record (copy_ does)
        return t.copy_(values.to(t.device))
    with np.errstate(over="ignore"):  # (float16: cauchy_'s far tails round to inf)
        t._write(values._data)
    return t


def _sample_dtype(kind: str, dtype: dtypes.dtype) -> dtypes.dtype:
    """The dtype sample_ draws for a tensor of `dtype`, refused as PyTorch refuses it: float16
    gets float32 numbers and geometric_'s integer tensors float64 ones (whole, exact up to
    2**53), cast as they are written."""
    if dtype.is_floating_point:
        return dtypes.float64 if dtype is dtypes.float64 else dtypes.float32
    if kind in ("exponential", "cauchy"):
        raise RuntimeError(
            f"{kind.capitalize()} distribution is a continuous probability distribution. "
            f"dtype must be a floating point but you specified {dtype}"
        )
    if kind != "geometric" or dtype is dtypes.bool_:
        raise NotImplementedError(f'"{kind}_" not implemented for {dtype} tensors')
    return dtypes.float64


def _numel(shape) -> int:
    return math.prod(shape)
