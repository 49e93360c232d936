"""PyTorch-style tensor repr: tensor([[0.1000, 2.0000]], requires_grad=True)."""

from __future__ import annotations

import sys

import numpy as np

from . import dtypes

# torch.set_printoptions's settings (PyTorch's defaults and profiles)
OPTIONS = {"precision": 4, "threshold": 1000, "edgeitems": 3, "linewidth": 80, "sci_mode": None}
_PROFILES = {
    "default": {"precision": 4, "threshold": 1000, "edgeitems": 3, "linewidth": 80},
    "short": {"precision": 2, "threshold": 1000, "edgeitems": 2, "linewidth": 80},
    "full": {"precision": 4, "threshold": 2**63 - 1, "edgeitems": 3, "linewidth": 80},
}


def set_printoptions(
    precision=None, threshold=None, edgeitems=None, linewidth=None, profile=None, sci_mode=None
) -> None:
    """How tensors print: digits after the point, the size past which a repr summarises,
    items kept at each edge then, line width, and scientific notation (None: automatic)."""
    if profile is not None:
        OPTIONS.update(_PROFILES[profile])
    given = dict(precision=precision, threshold=threshold, edgeitems=edgeitems, linewidth=linewidth)
    OPTIONS.update({k: v for k, v in given.items() if v is not None})
    OPTIONS["sci_mode"] = sci_mode


def _formatter(a: np.ndarray):
    if a.dtype == np.bool_:
        return lambda v: "True" if v else "False"
    if a.dtype.kind in "iu":
        return str
    finite = a[np.isfinite(a)] if a.size else a
    mx = float(np.abs(finite).max()) if finite.size else 0.0
    mn = float(np.abs(finite[finite != 0]).min()) if np.any(finite != 0) else 0.0
    # PyTorch's _Formatter rules: integers print as "1.", scientific notation when the
    # nonzero magnitudes span more than 1e3, exceed 1e8 or (for non-integers) go below 1e-4
    p, sci = OPTIONS["precision"], OPTIONS["sci_mode"]
    wide = mn and (mx / mn > 1e3 or mx > 1e8)
    if finite.size and np.all(finite == np.round(finite)):
        if not (wide if sci is None else sci):
            return lambda v: _special(v) or f"{v:.0f}."
    elif not (wide or (mn and mn < 1e-4) if sci is None else sci):
        return lambda v: _special(v) or f"{v:.{p}f}"
    return lambda v: _special(v) or f"{v:.{p}e}"


def _shown(a: np.ndarray) -> np.ndarray:
    """The elements a summarised repr prints (edge items of every long dim)."""
    threshold, edge = OPTIONS["threshold"], OPTIONS["edgeitems"]
    if a.size <= threshold:
        return a
    for axis, n in enumerate(a.shape):
        if n > 2 * edge:
            a = np.take(a, np.r_[0:edge, n - edge : n], axis=axis)
    return a


def _padded(fmt, a: np.ndarray):
    """PyTorch right-aligns every element to the widest one printed."""
    shown = _shown(a)
    if shown.dtype.kind == "f" and np.isfinite(shown).any():  # nan/inf do not widen columns
        shown = shown[np.isfinite(shown)]
    width = max((len(fmt(v)) for v in shown.flat), default=0)
    return lambda v: fmt(v).rjust(width)


def _special(v) -> str:
    if np.isnan(v):
        return "nan"
    if np.isinf(v):
        return "inf" if v > 0 else "-inf"
    return ""


def tensor_repr(t) -> str:
    a = t._data if isinstance(t._data, np.ndarray) else t.detach().cpu()._data
    if a.dtype == np.float16:
        a = a.astype(np.float32)
    fmt = _padded(_formatter(_shown(a)), a)  # PyTorch picks the format from what it prints
    body = np.array2string(
        a,
        separator=", ",
        formatter={"all": fmt},
        prefix="tensor(",
        threshold=min(OPTIONS["threshold"], sys.maxsize),
        edgeitems=OPTIONS["edgeitems"],
        max_line_width=OPTIONS["linewidth"],
    )
    body = body.replace(", ..., ", ",  ..., ")  # PyTorch prints a skipped run as " ..."
    extras = []
    default_float = t.dtype is dtypes.get_default_dtype()
    if not (default_float or t.dtype in (dtypes.int64, dtypes.bool_)) or (
        a.size == 0 and t.dtype is not dtypes.get_default_dtype()
    ):
        extras.append(f"dtype={t.dtype!r}".replace("minitorch.", "minitorch."))
    if a.size == 0 and a.ndim != 1:
        extras.insert(0, f"size={tuple(a.shape)}")
    if t.is_cuda:
        extras.append(f"device='{t.device}'")
    if t.grad_fn is not None:
        extras.append(f"grad_fn=<{t.grad_fn.name()}>")
    elif t.requires_grad:
        extras.append("requires_grad=True")
    return "tensor(" + body + "".join(", " + e for e in extras) + ")"
