"""PyTorch-style tensor repr: tensor([[0.1000, 2.0000]], requires_grad=True)."""

from __future__ import annotations

import numpy as np

from . import dtypes


def _formatter(a: np.ndarray):
    if a.dtype == np.bool_:
        return lambda v: "True" if v else "False"
    if a.dtype.kind in "iu":
        return str
    finite = a[np.isfinite(a)] if a.size else a
    mx = float(np.abs(finite).max()) if finite.size else 0.0
    mn = float(np.abs(finite[finite != 0]).min()) if np.any(finite != 0) else 0.0
    if finite.size and np.all(finite == np.round(finite)) and mx < 1e8:
        return lambda v: _special(v) or f"{v:.0f}."
    if mx >= 1e8 or (mn and mn < 1e-4) or (mn and mx / mn > 1e3 and mx > 1e3):
        return lambda v: _special(v) or f"{v:.4e}"
    return lambda v: _special(v) or f"{v:.4f}"


def _special(v) -> str:
    if np.isnan(v):
        return "nan"
    if np.isinf(v):
        return "inf" if v > 0 else "-inf"
    return ""


def tensor_repr(t) -> str:
    a = np.asarray(t._data)
    if a.dtype == np.float16:
        a = a.astype(np.float32)
    fmt = _formatter(a)
    body = np.array2string(a, separator=", ", formatter={"all": fmt}, prefix="tensor(",
                           threshold=1000, edgeitems=3, max_line_width=80)
    extras = []
    default_float = t.dtype is dtypes.get_default_dtype()
    if not (default_float or t.dtype in (dtypes.int64, dtypes.bool_)) or (
        a.size == 0 and t.dtype is not dtypes.get_default_dtype()
    ):
        extras.append(f"dtype={t.dtype!r}".replace("minitorch.", "minitorch."))
    if a.size == 0 and a.ndim != 1:
        extras.insert(0, f"size={tuple(a.shape)}")
    if t.grad_fn is not None:
        extras.append(f"grad_fn=<{t.grad_fn.name()}>")
    elif t.requires_grad:
        extras.append("requires_grad=True")
    return "tensor(" + body + "".join(", " + e for e in extras) + ")"
