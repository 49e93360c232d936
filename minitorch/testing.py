"""minitorch.testing: assert_close, PyTorch's comparison for tests (tolerances by dtype)."""

from __future__ import annotations

import numbers
from collections.abc import Mapping, Sequence

import numpy as np

from .tensor import Size, Tensor

# (rtol, atol) by dtype when neither is given: PyTorch's defaults; exact for ints and bools
_TOLERANCES = {
    "float16": (1e-3, 1e-5),
    "bfloat16": (1.6e-2, 1e-5),
    "float32": (1.3e-6, 1e-5),
    "float64": (1e-7, 1e-7),
}


def assert_close(
    actual,
    expected,
    *,
    allow_subclasses: bool = True,
    rtol: float | None = None,
    atol: float | None = None,
    equal_nan: bool = False,
    check_device: bool = True,
    check_dtype: bool = True,
    check_layout: bool = True,
    check_stride: bool = False,
    msg: str | None = None,
) -> None:
    """Raise AssertionError unless actual and expected (tensors, numbers, numpy arrays, or
    sequences and mappings of them) agree: same shape, dtype and device (unless told not to
    check), and |actual - expected| <= atol + rtol * |expected| elementwise."""
    if (rtol is None) != (atol is None):
        missing = "rtol" if rtol is None else "atol"
        raise ValueError(
            f"Both 'rtol' and 'atol' must be either specified or omitted, but got no {missing}."
        )
    options = dict(rtol=rtol, atol=atol, equal_nan=equal_nan, check_device=check_device)
    _compare(actual, expected, options | {"check_dtype": check_dtype, "msg": msg}, "")


def _compare(actual, expected, options: dict, where: str) -> None:
    if isinstance(actual, Mapping) and isinstance(expected, Mapping):
        if set(actual) != set(expected):
            _fail(options, f"The keys of the mappings do not match{where}.")
        for key in actual:
            _compare(actual[key], expected[key], options, f"{where}[{key!r}]")
        return
    if _is_sequence(actual) and _is_sequence(expected):
        if len(actual) != len(expected):
            lengths = f"{len(actual)} != {len(expected)}"
            _fail(options, f"The length of the sequences mismatch: {lengths}")
        for i, (a, e) in enumerate(zip(actual, expected)):
            _compare(a, e, options, f"{where}[{i}]")
        return
    scalars = isinstance(actual, numbers.Number) and isinstance(expected, numbers.Number)
    a, e = _array(actual), _array(expected)
    at = f" at item {where}" if where else ""
    checks = [
        ("shape", Size(a.shape), Size(e.shape), True),
        ("dtype", _dtype_name(a), _dtype_name(e), options["check_dtype"]),
        ("device", _device(actual), _device(expected), options["check_device"]),
    ]
    for attribute, got, want, checked in checks:
        if checked and got != want:
            message = f"The values for attribute '{attribute}' do not match: {got} != {want}"
            _fail(options, f"{message}{at}.")
    rtol, atol = options["rtol"], options["atol"]
    if rtol is None:
        rtol, atol = max(_TOLERANCES.get(x.dtype.name, (0.0, 0.0)) for x in (a, e))
    kind = "Scalars" if scalars else "Tensor-likes"
    title = f"{kind} are not {'equal' if rtol == atol == 0 else 'close'}!"
    where = f"\n\nThe failure occurred for item {where}" if where else ""
    _check_values(a, e, rtol, atol, options, title, where)


def _check_values(a, e, rtol, atol, options, title: str, where: str) -> None:
    a64, e64 = a.astype(np.float64), e.astype(np.float64)
    close = np.isclose(a64, e64, rtol=rtol, atol=atol, equal_nan=options["equal_nan"])
    close |= a64 == e64  # infinities of one sign
    if close.all():
        return
    # differences in the inputs' dtype, as PyTorch reports them (float32 for integers' ratio)
    float_type = np.result_type(a, e) if a.dtype.kind == "f" else np.float32
    with np.errstate(all="ignore"):
        diff = np.abs(a - e) if a.dtype.kind in "fiu" else np.abs(a64 - e64)
        rel = np.abs(a - e).astype(float_type) / np.abs(e).astype(float_type)
    exact = rtol == atol == 0
    lines = [title, ""]
    if a.ndim == 0:
        lines += [
            f"Absolute difference: {diff.item()!r}{_allowed(atol, exact)}",
            f"Relative difference: {rel.item()!r}{_allowed(rtol, exact)}",
        ]
    else:
        bad = ~close
        n = int(bad.sum())
        lines.append(f"Mismatched elements: {n} / {a.size} ({100 * n / a.size:.1f}%)")
        for name, values, allowed in (("absolute", diff, atol), ("relative", rel, rtol)):
            shown = np.where(bad, np.nan_to_num(values.astype(np.float64), nan=np.inf), -1.0)
            at = np.unravel_index(int(np.argmax(shown)), a.shape)
            lines.append(
                f"Greatest {name} difference: {values[at].item()!r} at index "
                f"{tuple(map(int, at))}{_allowed(allowed, exact)}"
            )
    _fail(options, "\n".join(lines) + where)


def _allowed(tolerance: float, exact: bool) -> str:
    return "" if exact else f" (up to {tolerance!r} allowed)"


def _fail(options: dict, message: str) -> None:
    raise AssertionError(options["msg"] or message)


def _is_sequence(value) -> bool:
    return isinstance(value, Sequence) and not isinstance(value, (str, bytes))


def _array(value) -> np.ndarray:
    if isinstance(value, Tensor):
        return np.asarray(value.detach().cpu()._data)
    return np.asarray(value)


def _dtype_name(array) -> str:
    return f"minitorch.{array.dtype.name}"


def _device(value) -> str:
    return str(value.device) if isinstance(value, Tensor) else "cpu"
