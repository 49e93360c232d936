"""Finite-difference gradient checks (use float64 inputs)."""

from __future__ import annotations

import numpy as np


def _numeric_jacobian(fn, inputs, i, eps):
    x = inputs[i]
    flat = x._data.reshape(-1)  # x is contiguous: a view we can perturb in place
    cols = []
    for k in range(flat.size):
        orig = flat[k]
        flat[k] = orig + eps
        plus = _outputs(fn, inputs)
        flat[k] = orig - eps
        minus = _outputs(fn, inputs)
        flat[k] = orig
        cols.append((plus - minus) / (2 * eps))
    return np.stack(cols, axis=0) if cols else np.zeros((0, _outputs(fn, inputs).size))


def _outputs(fn, inputs):
    from .grad_mode import no_grad  # noqa: PLC0415

    with no_grad():
        out = fn(*inputs)
    outs = out if isinstance(out, (tuple, list)) else (out,)
    return np.concatenate([np.asarray(o._data, np.float64).reshape(-1) for o in outs])


def _analytic_jacobian(fn, inputs, i):
    from . import grad  # noqa: PLC0415

    out = fn(*inputs)
    outs = out if isinstance(out, (tuple, list)) else (out,)
    rows = []
    for o in outs:
        flat_n = o.numel()
        for k in range(flat_n):
            seed = o.new_zeros(o.shape)
            seed._data.reshape(-1)[k] = 1
            if not o.requires_grad:
                rows.append(np.zeros(inputs[i].numel()))
                continue
            (g,) = grad(o, inputs[i], seed, retain_graph=True, allow_unused=True)
            rows.append(
                np.zeros(inputs[i].numel())
                if g is None
                else np.asarray(g._data, np.float64).reshape(-1)
            )
    return np.stack(rows, axis=1) if rows else np.zeros((inputs[i].numel(), 0))


def gradcheck(
    fn,
    inputs,
    *,
    eps: float = 1e-6,
    atol: float = 1e-5,
    rtol: float = 1e-3,
    raise_exception: bool = True,
    **_,
) -> bool:
    """Compare autograd's Jacobian with central differences for every input requiring grad."""
    from ..tensor import Tensor  # noqa: PLC0415

    inputs = tuple(inputs) if isinstance(inputs, (tuple, list)) else (inputs,)
    for i, x in enumerate(inputs):
        if not (isinstance(x, Tensor) and x.requires_grad):
            continue
        if not x._data.flags.c_contiguous or not x._data.flags.writeable:
            raise ValueError("gradcheck: inputs must be contiguous, writeable tensors")
        numeric = _numeric_jacobian(fn, inputs, i, eps)
        analytic = _analytic_jacobian(fn, inputs, i)
        if not np.allclose(analytic, numeric, rtol=rtol, atol=atol):
            bad = np.unravel_index(np.argmax(np.abs(analytic - numeric)), numeric.shape)
            msg = (
                f"Jacobian mismatch for output {bad[1]} with respect to input {i} element "
                f"{bad[0]}: numerical {numeric[bad]:.6g} vs analytical {analytic[bad]:.6g}"
            )
            if raise_exception:
                raise RuntimeError("gradcheck: " + msg)
            return False
    return True


def gradgradcheck(fn, inputs, grad_outputs=None, **kw) -> bool:
    """gradcheck of the first derivative (checks create_graph backward rules)."""
    from ..tensor import Tensor  # noqa: PLC0415
    from . import grad  # noqa: PLC0415

    inputs = tuple(inputs) if isinstance(inputs, (tuple, list)) else (inputs,)
    diff = [x for x in inputs if isinstance(x, Tensor) and x.requires_grad]

    def first_grad(*xs):
        from .grad_mode import enable_grad  # noqa: PLC0415

        with enable_grad():  # gradcheck evaluates this under no_grad for finite differences
            return _first_grad(*xs)

    def _first_grad(*xs):
        out = fn(*xs)
        seed = grad_outputs if grad_outputs is not None else out.new_ones(out.shape)
        wrt = [x for x in xs if isinstance(x, Tensor) and x.requires_grad]
        return grad(out, wrt, seed, create_graph=True, allow_unused=True, materialize_grads=True)

    del diff
    return gradcheck(first_grad, inputs, **kw)
