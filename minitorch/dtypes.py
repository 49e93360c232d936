"""dtypes with PyTorch's names and type-promotion rules."""

from __future__ import annotations

from types import SimpleNamespace

import numpy as np

__all__ = ["dtype", "result_type", "get_default_dtype", "set_default_dtype", "to_dtype"]


class dtype:
    """A tensor element type: `minitorch.float32`, `minitorch.int64`, ...

    Each wraps the numpy dtype its storage uses. `category` orders the kinds PyTorch
    promotes between: bool (0) < integer (1) < floating point (2).
    """

    __slots__ = ("name", "np", "category", "itemsize", "is_floating_point", "is_signed")

    def __init__(self, name: str, np_dtype: type | None, category: int, itemsize: int = 0):
        self.name = name
        self.np = None if np_dtype is None else np.dtype(np_dtype)  # None: no storage (bfloat16)
        self.category = category
        self.itemsize = itemsize or self.np.itemsize
        self.is_floating_point = category == 2
        self.is_signed = category == 2 or self.np.kind == "i"

    def __repr__(self) -> str:
        return f"minitorch.{self.name}"

    def __reduce__(self):
        return (to_dtype, (self.name,))


bool_ = dtype("bool", np.bool_, 0)
uint8 = dtype("uint8", np.uint8, 1)
int8 = dtype("int8", np.int8, 1)
int16 = dtype("int16", np.int16, 1)
int32 = dtype("int32", np.int32, 1)
int64 = dtype("int64", np.int64, 1)
float16 = dtype("float16", np.float16, 2)
float32 = dtype("float32", np.float32, 2)
float64 = dtype("float64", np.float64, 2)
# NOTE: numpy, which holds every tensor, has no bfloat16: the name exists so that scripts can
# pass it to autocast (whose regions run in float32), and to_dtype refuses to make a tensor of it.
bfloat16 = dtype("bfloat16", None, 2, itemsize=2)

ALL = (bool_, uint8, int8, int16, int32, int64, float16, float32, float64)
_BY_NP = {d.np: d for d in ALL}
_BY_NAME = {d.name: d for d in ALL}
_BY_NAME.update(
    {
        "float": float32,
        "double": float64,
        "half": float16,
        "long": int64,
        "int": int32,
        "short": int16,
        "bool_": bool_,
    }
)

_default = [float32]


def get_default_dtype() -> dtype:
    """The floating dtype of tensors created from Python floats (float32 unless changed)."""
    return _default[0]


def set_default_dtype(d: dtype) -> None:
    """Set the default floating dtype (float32 or float64), like torch.set_default_dtype."""
    d = to_dtype(d)
    if not d.is_floating_point:
        raise TypeError(f"set_default_dtype: only floating-point dtypes are allowed, got {d}")
    _default[0] = d


def to_dtype(d) -> dtype:
    """Normalise a minitorch dtype, numpy dtype, Python type or name to a minitorch dtype."""
    if d is bfloat16 or d == "bfloat16":
        raise TypeError(
            "bfloat16: minitorch stores tensors in numpy arrays, which have no bfloat16, so it "
            "cannot make a bfloat16 tensor. Keep the tensors in float32 (or use float16), or "
            "run the region under torch.autocast(device_type, dtype=torch.bfloat16), which "
            "minitorch runs in float32."
        )
    if isinstance(d, dtype):
        return d
    if d is float:  # Python's float is a double, whatever the default dtype (as in PyTorch)
        return float64
    if d is int:
        return int64
    if d is bool:
        return bool_
    if isinstance(d, str) and d in _BY_NAME:
        return _BY_NAME[d]
    try:
        found = _BY_NP.get(np.dtype(d))
    except TypeError:
        found = None
    if found is None:
        raise TypeError(f"unsupported dtype {d!r}; expected one of {[x.name for x in ALL]}")
    return found


def from_numpy_dtype(np_dtype) -> dtype:
    found = _BY_NP.get(np_dtype)
    if found is None:
        raise TypeError(
            f"can't convert np.ndarray of type {np_dtype}. The only supported types are: "
            + ", ".join(d.np.name for d in ALL)
        )
    return found


def promote(a: dtype, b: dtype) -> dtype:
    """torch.promote_types: the higher category's dtype (bool < int < float), or within one
    category the smallest dtype both convert to without loss."""
    if a is b:
        return a
    if a.category != b.category:
        return a if a.category > b.category else b
    return _BY_NP[np.promote_types(a.np, b.np)]


def scalar_dtype(value) -> dtype:
    """dtype a bare Python number takes when it is the only operand."""
    if isinstance(value, (bool, np.bool_)):
        return bool_
    if isinstance(value, (int, np.integer)):
        return int64
    return get_default_dtype()


def result_type(*operands) -> dtype:
    """PyTorch's promotion: dimensioned tensors > zero-dim tensors > Python scalars.

    A lower-priority operand only matters when its category (bool < int < float) is higher
    than every higher-priority operand's, e.g. int64 tensor + 2.5 -> float32, but
    float32 tensor + float64 zero-dim tensor -> float32.
    """
    tiers: list[list[dtype]] = [[], [], []]
    for x in operands:
        d = getattr(x, "dtype", None)
        if not isinstance(d, dtype):  # Python and numpy scalars (np.float32(2) * t)
            tiers[2].append(scalar_dtype(x))
        elif x.ndim == 0:
            tiers[1].append(d)
        else:
            tiers[0].append(d)
    top = max(d.category for tier in tiers for d in tier)
    for i, tier in enumerate(tiers):
        same = [d for d in tier if d.category == top]
        if same:
            if i == 2:  # only Python scalars reach the top category
                return {0: bool_, 1: int64, 2: get_default_dtype()}[top]
            out = same[0]
            for d in same[1:]:
                out = promote(out, d)
            return out
    raise AssertionError("unreachable")


# numpy has no bfloat16 to ask: float32's 8 exponent bits with 7 mantissa bits, by hand
_BFLOAT16_INFO = SimpleNamespace(
    bits=16,
    eps=2.0**-7,
    max=float.fromhex("0x1.fep+127"),
    min=-float.fromhex("0x1.fep+127"),
    tiny=2.0**-126,
    precision=2,
)


class finfo:
    """Limits of a floating point dtype: bits, eps, max, min, tiny (= smallest_normal),
    resolution, and the dtype's name, as torch.finfo (numpy's np.finfo underneath).

    Example:
        >>> finfo(float32).eps
        1.1920928955078125e-07
    """

    def __init__(self, type: dtype | None = None):
        dt = get_default_dtype() if type is None else type
        if not dt.is_floating_point:
            raise TypeError(
                f"finfo() requires a floating point input type; got {dt}. Use iinfo for it."
            )
        info = _BFLOAT16_INFO if dt is bfloat16 else np.finfo(dt.np)
        self.bits = int(info.bits)
        self.eps, self.max, self.min = float(info.eps), float(info.max), float(info.min)
        self.tiny = self.smallest_normal = float(info.tiny)
        self.resolution = 10.0 ** -int(info.precision)  # (np.float16(0.001) is not 0.001)
        self.dtype = dt.name

    def __eq__(self, other) -> bool:
        return isinstance(other, finfo) and other.dtype == self.dtype

    def __repr__(self) -> str:
        return (
            f"finfo(resolution={self.resolution:g}, min={self.min:g}, max={self.max:g}, "
            f"eps={self.eps:g}, smallest_normal={self.tiny:g}, tiny={self.tiny:g}, "
            f"dtype={self.dtype})"
        )


class iinfo:
    """Limits of an integer dtype: bits, max, min and the dtype's name, as torch.iinfo.

    Example:
        >>> iinfo(uint8).max
        255
    """

    def __init__(self, type: dtype):
        if type is bool_:
            raise TypeError(f"{type} is not supported by iinfo")
        if type.is_floating_point:
            raise TypeError(f"iinfo() requires an integer input type; got {type}. Use finfo.")
        info = np.iinfo(type.np)
        self.bits, self.max, self.min = int(info.bits), int(info.max), int(info.min)
        self.dtype = type.name

    def __eq__(self, other) -> bool:
        return isinstance(other, iinfo) and other.dtype == self.dtype

    def __repr__(self) -> str:
        return f"iinfo(min={self.min:g}, max={self.max:g}, dtype={self.dtype})"
