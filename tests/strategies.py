"""Hypothesis strategies for op tests: shapes, broadcastable shapes, values in an op's domain,
and tensor arguments whose tensors are built through view ops (non-contiguous layouts).

A `TensorArg` holds the logical values (what the numpy reference sees) and a recipe for the
tensor: a contiguous base array plus view steps (permute, strided slice, expand). `make(lib)`
runs the recipe with minitorch or torch, so both libraries see the same layout:

    arg = data.draw(tensor_args((2, 3), np.float32, REAL))
    x = arg.make(minitorch)          # e.g. base(3, 2).permute(1, 0): non-contiguous
    np.testing.assert_array_equal(x.detach().numpy(), arg.value)

Values come from a numpy generator seeded by hypothesis (fast, and shrinks to seed 0);
hypothesis explores shapes, dtypes and layouts.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np
from hypothesis import strategies as st

FLOATS = (np.float32, np.float64)
INTS = (np.int32, np.int64)
SIGNED = (np.int8, np.int16, np.int32, np.int64)
BOOL = (np.bool_,)
ALL = FLOATS + (np.uint8,) + SIGNED + BOOL

LAYOUTS = ("contiguous", "transposed", "strided", "expanded")
MAX_RANK = 3
MAX_SIDE = 4


# ---- value domains ---------------------------------------------------------------------------
@dataclass(frozen=True)
class Domain:
    """Where an op's inputs may lie.

    Floats are uniform in [lo, hi], kept at least `gap` away from `exclude` (a pole or kink,
    e.g. 0 for 1/x); integers are in [int_lo, int_hi] (never `exclude` when it is set).
    `grid`: forward tests may snap values to multiples of 0.5 (ties, exact halves, zeros).
    `special`: forward tests may mix in nan and +-inf (only where numpy and PyTorch agree).
    """

    lo: float = -3.0
    hi: float = 3.0
    exclude: float | None = None
    gap: float = 0.25
    int_lo: int = -5
    int_hi: int = 5
    grid: bool = True
    special: bool = False

    def but(self, **changes) -> Domain:
        return Domain(**{**self.__dict__, **changes})


REAL = Domain()
SPECIAL = Domain(special=True)
POSITIVE = Domain(0.25, 3.0, int_lo=1, int_hi=5)
NONZERO = Domain(exclude=0.0, int_lo=-5, int_hi=5)
UNIT = Domain(-0.9, 0.9, int_lo=0, int_hi=0)
ABOVE_MINUS_ONE = Domain(-0.75, 3.0, int_lo=0, int_hi=5)
SMALL = Domain(-2.0, 2.0, int_lo=-3, int_hi=3)
NONNEGATIVE_INT = Domain(0.0, 3.0, int_lo=0, int_hi=3)
KINK_AT_ZERO = Domain(exclude=0.0, grid=False)  # |x|, relu, max: no ties or kinks in gradcheck


def fill(
    rng: np.random.Generator, shape: tuple, dtype, domain: Domain, *, grid=False, special=False
) -> np.ndarray:
    """An array of `shape` and `dtype` with values in `domain`."""
    dtype = np.dtype(dtype)
    if dtype == np.bool_:
        return rng.random(shape) < 0.5
    if dtype.kind in "iu":
        lo = max(domain.int_lo, np.iinfo(dtype).min)
        out = rng.integers(lo, domain.int_hi + 1, shape)
        if domain.exclude is not None:
            out[out == domain.exclude] = domain.exclude + 1
        return out.astype(dtype)
    x = rng.uniform(domain.lo, domain.hi, shape)
    if grid:
        x = np.clip(np.round(x * 2) / 2, domain.lo, domain.hi)
    if domain.exclude is not None:
        e, gap = domain.exclude, domain.gap
        near = np.abs(x - e) < gap
        x = np.where(near, e + np.where(x >= e, gap, -gap) * (1 + rng.random(shape)), x)
    if special and x.size:
        pick = rng.random(shape) < 0.3
        x = np.where(pick, rng.choice([np.nan, np.inf, -np.inf], shape), x)
    return x.astype(dtype)


# ---- shapes ----------------------------------------------------------------------------------
@st.composite
def shapes(draw, min_rank=0, max_rank=MAX_RANK, min_side=0, max_side=MAX_SIDE) -> tuple:
    """A shape: 0-d, empty dims (size 0) and size-1 dims included."""
    rank = draw(st.integers(min_rank, max_rank))
    return tuple(draw(st.integers(min_side, max_side)) for _ in range(rank))


@st.composite
def broadcastable(
    draw, n: int, min_rank=0, max_rank=MAX_RANK, min_side=0, max_side=MAX_SIDE
) -> tuple[tuple, ...]:
    """n shapes that broadcast together: each drops leading dims and sets some dims to 1."""
    out = draw(shapes(min_rank, max_rank, min_side, max_side))
    result = []
    for _ in range(n):
        rank = draw(st.integers(0, len(out)))
        shape = tuple(
            1 if draw(st.booleans()) and draw(st.booleans()) else s for s in out[len(out) - rank :]
        )
        result.append(shape)
    return tuple(result)


def result_shape(*shapes_: tuple) -> tuple:
    return np.broadcast_shapes(*shapes_)


# ---- tensor arguments ------------------------------------------------------------------------
@dataclass
class TensorArg:
    """Values for the numpy reference plus the recipe that builds the same tensor in a library.

    base: a contiguous array; steps: view ops applied to the tensor made from it, each
    ("permute", dims) | ("getitem", index) | ("expand", shape). value == base after steps.
    """

    value: np.ndarray
    base: np.ndarray
    steps: tuple = ()
    layout: str = "contiguous"

    @property
    def dtype(self):
        return self.value.dtype

    @property
    def shape(self):
        return self.value.shape

    def leaf(self, lib, requires_grad=False, device=None):
        """The contiguous tensor the views start from (gradcheck perturbs this one)."""
        kw = {"device": device} if device is not None else {}
        return lib.tensor(self.base.copy(), requires_grad=requires_grad, **kw)

    def view(self, t):
        """Apply the view steps to a tensor made by leaf()."""
        for kind, arg in self.steps:
            if kind == "permute":
                t = t.permute(*arg)
            elif kind == "getitem":
                t = t[arg]
            elif kind == "expand":
                t = t.expand(*arg)
            else:
                raise AssertionError(kind)
        return t

    def numpy_view(self) -> np.ndarray:
        """The same view steps on the numpy base (for layout checks, e.g. contiguity)."""
        a = self.base
        for kind, arg in self.steps:
            a = {"permute": np.transpose, "getitem": lambda a, i: a[i], "expand": np.broadcast_to}[
                kind
            ](a, arg)
        return a

    def make(self, lib, requires_grad=False, device=None):
        return self.view(self.leaf(lib, requires_grad, device))

    def __repr__(self) -> str:  # what hypothesis prints for a falsifying example
        return (
            f"TensorArg({self.layout}, shape={self.value.shape}, dtype={self.value.dtype}, "
            f"steps={self.steps}, value={self.value.tolist()!r})"
        )


def _c(a) -> np.ndarray:
    """A C-contiguous copy that keeps 0-d arrays 0-d (np.ascontiguousarray makes them 1-d)."""
    return np.array(a, order="C", copy=True)


def contiguous_arg(value: np.ndarray) -> TensorArg:
    value = _c(value)
    return TensorArg(value, value.copy())


@st.composite
def tensor_args(
    draw, shape: tuple, dtype, domain: Domain = REAL, *, layouts=LAYOUTS, forward=True
) -> TensorArg:
    """A TensorArg of `shape`/`dtype`; its layout is drawn from `layouts` where possible.

    forward=True allows the domain's grid and special values (not for gradcheck).
    """
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
    grid = forward and domain.grid and draw(st.booleans())
    special = forward and domain.special and draw(st.booleans())
    value = fill(rng, shape, dtype, domain, grid=grid, special=special)
    layout = draw(st.sampled_from(layouts))
    ndim = len(shape)
    if layout == "transposed" and ndim >= 2:
        perm = draw(st.permutations(range(ndim)).filter(lambda p: list(p) != sorted(p)))
        base = _c(value.transpose(np.argsort(perm)))
        return TensorArg(value, base, (("permute", tuple(perm)),), layout)
    if layout == "strided" and ndim >= 1:
        d = draw(st.integers(0, ndim - 1))
        step = draw(st.integers(2, 3))
        start = draw(st.integers(0, 1))
        n = shape[d]
        big = list(shape)
        big[d] = start + step * n + draw(st.integers(0, 1))
        base = fill(rng, tuple(big), dtype, domain)  # garbage between the picked elements
        index = (slice(None),) * d + (slice(start, start + step * n, step),)
        base[index] = value
        return TensorArg(value, base, (("getitem", index),), layout)
    if layout == "expanded" and ndim >= 1 and math.prod(shape) > 0:
        d = draw(st.integers(0, ndim - 1))
        if draw(st.booleans()) and d == 0:  # a new leading dim
            base = _c(value[0])
        else:
            base = _c(value[(slice(None),) * d + (slice(0, 1),)])
        value = _c(np.broadcast_to(base, shape))
        return TensorArg(value, base, (("expand", tuple(shape)),), layout)
    return contiguous_arg(value)


@dataclass
class Case:
    """One call: positional args (TensorArgs or plain Python values) and keyword params."""

    args: list
    params: dict = field(default_factory=dict)

    def tensors(self, lib, requires_grad=False, device=None) -> list:
        return [
            a.make(lib, requires_grad and a.dtype.kind == "f", device)
            if isinstance(a, TensorArg)
            else a
            for a in self.args
        ]

    def arrays(self) -> list:
        return [a.value if isinstance(a, TensorArg) else a for a in self.args]


def python_scalar(draw, dtype, domain: Domain):
    """A Python number of dtype's kind (float for float dtypes, int, or bool)."""
    dtype = np.dtype(dtype)
    rng = np.random.default_rng(draw(st.integers(0, 2**16)))
    value = fill(rng, (), dtype, domain, grid=True)[()]
    if dtype.kind == "f":
        return float(value)
    if dtype.kind == "b":
        return bool(value)
    return int(value)
