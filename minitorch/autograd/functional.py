"""minitorch.autograd.functional: vjp, jvp, jacobian, hessian, vhp and hvp of a function
(PyTorch's torch.autograd.functional), built on autograd.grad.

Inputs and outputs are a Tensor or a tuple of Tensors, and results take the same structure:
jacobian(f, x) of one input and one output is a Tensor of shape output.shape + input.shape,
of a tuple of inputs a tuple over them, of a tuple of outputs a tuple over those (outer) of
tuples over the inputs. Results are detached unless create_graph=True. There is no forward
mode: jvp uses the double-backward trick (as PyTorch's does) and the Jacobian is built one
output element at a time (vectorize=True is accepted and loops the same way).
"""

from __future__ import annotations

from collections.abc import Callable

from ..tensor import Tensor
from .grad_mode import enable_grad

__all__ = ["vjp", "jvp", "jacobian", "hessian", "vhp", "hvp"]


def _as_tuple(x, what: str, fn_name: str) -> tuple[bool, tuple]:
    """(whether x was a tuple, x as a tuple of Tensors), or a TypeError naming fn_name."""
    is_tuple = isinstance(x, (tuple, list))
    items = tuple(x) if is_tuple else (x,)
    for i, item in enumerate(items):
        if not isinstance(item, Tensor):
            raise TypeError(
                f"The {what} given to {fn_name} must be either a Tensor or a tuple of Tensors "
                f"but the value at index {i} has type {type(item)}."
            )
    return is_tuple, items


def _unpack(result, is_tuple):
    """result (a tuple, or a tuple of tuples where is_tuple is a pair) unwrapped where the
    user gave a single Tensor."""
    if isinstance(is_tuple, tuple):
        outer, inner = is_tuple
        result = result if inner else tuple(r[0] for r in result)
        return result if outer else result[0]
    return result if is_tuple else result[0]


def _prepare(inputs: tuple, create_graph: bool) -> tuple:
    """Inputs to differentiate with respect to: views of the caller's tensors (keeping their
    history) with create_graph, fresh leaves otherwise."""
    with enable_grad():
        return tuple(
            x.view_as(x) if create_graph and x.requires_grad else x.detach().requires_grad_()
            for x in inputs
        )


def _finish(tensors: tuple, create_graph: bool) -> tuple:
    return tuple(t if create_graph or t is None else t.detach() for t in tensors)


def _grad(outputs: tuple, inputs: tuple, grad_outputs: tuple, create_graph: bool) -> tuple:
    """autograd.grad over the outputs that need a gradient; None for inputs none depends on."""
    from . import grad  # noqa: PLC0415  (the package imports this module)

    pairs = [(o, g) for o, g in zip(outputs, grad_outputs) if o.requires_grad]
    if not pairs:
        return (None,) * len(inputs)
    outs, gs = zip(*pairs)
    with enable_grad():
        return grad(
            outs, inputs, gs, retain_graph=True, create_graph=create_graph, allow_unused=True
        )


def _fill_zeros(grads: tuple, like: tuple, strict: bool, fn_name: str) -> tuple:
    """Zeros where a gradient is None (the output does not depend on that input); an error
    instead in strict mode."""
    for i, g in enumerate(grads):
        if g is None and strict:
            raise RuntimeError(
                f"{fn_name}: the output of the user-provided function is independent of input "
                f"{i}. This is not allowed in strict mode; pass strict=False to get zeros."
            )
    return tuple(x.new_zeros(x.shape) if g is None else g for g, x in zip(grads, like))


def _call(func: Callable, inputs: tuple, fn_name: str) -> tuple[bool, tuple]:
    with enable_grad():
        out = func(*inputs)
    return _as_tuple(out, "outputs of the user-provided function", fn_name)


def _check_v(v, outputs: tuple, fn_name: str, what: str = "output") -> tuple:
    """v as a tuple matching outputs' shapes; None allowed only for one single-element output."""
    if v is None:
        if len(outputs) != 1 or outputs[0].numel() != 1:
            raise RuntimeError(
                f"{fn_name}: The vector v can only be None if the user-provided function "
                f"returns a single Tensor with a single element; got {what} shapes "
                f"{[tuple(o.shape) for o in outputs]}. Pass v of those shapes."
            )
        return (outputs[0].new_ones(outputs[0].shape),)
    _, v = _as_tuple(v, "v", fn_name)
    if len(v) != len(outputs):
        raise RuntimeError(
            f"{fn_name}: v is a tuple of invalid length: should be {len(outputs)} but got {len(v)}."
        )
    for i, (vi, o) in enumerate(zip(v, outputs)):
        if vi.shape != o.shape:
            raise RuntimeError(
                f"{fn_name}: Entry {i} in v has invalid size: should be {tuple(o.shape)} but "
                f"got {tuple(vi.shape)}."
            )
    return v


def vjp(func: Callable, inputs, v=None, create_graph: bool = False, strict: bool = False):
    """(func(inputs), v^T J): the vector-Jacobian product of func at inputs.

    Example:
        >>> import minitorch as torch
        >>> out, g = torch.autograd.functional.vjp(lambda x: (x**2).sum(), torch.tensor([1.0, 2.0]))
        >>> g
        tensor([2., 4.])
    """
    is_in_tuple, inputs = _as_tuple(inputs, "inputs", "vjp")
    inputs = _prepare(inputs, create_graph)
    is_out_tuple, outputs = _call(func, inputs, "vjp")
    v = _check_v(v, outputs, "vjp")
    grads = _fill_zeros(_grad(outputs, inputs, v, create_graph), inputs, strict, "vjp")
    return (
        _unpack(_finish(outputs, create_graph), is_out_tuple),
        _unpack(_finish(grads, create_graph), is_in_tuple),
    )


def jvp(func: Callable, inputs, v=None, create_graph: bool = False, strict: bool = False):
    """(func(inputs), J v): the Jacobian-vector product, by the double-backward trick: the vjp
    u -> u^T J is linear in u, and its own vjp with v is J v."""
    is_in_tuple, inputs = _as_tuple(inputs, "inputs", "jvp")
    inputs = _prepare(inputs, create_graph)
    v = _check_v(v, inputs, "jvp", what="input")
    is_out_tuple, outputs = _call(func, inputs, "jvp")
    us = tuple(o.new_zeros(o.shape).requires_grad_() for o in outputs)
    grad_inputs = _fill_zeros(_grad(outputs, inputs, us, create_graph=True), inputs, strict, "jvp")
    jv = _fill_zeros(_grad(grad_inputs, us, v, create_graph), outputs, strict, "jvp")
    return (
        _unpack(_finish(outputs, create_graph), is_out_tuple),
        _unpack(_finish(jv, create_graph), is_out_tuple),
    )


def _jacobian_rows(output: Tensor, inputs: tuple, create_graph: bool, strict: bool, fn_name):
    """d output / d inputs: per input, a Tensor of shape output.shape + input.shape (one
    backward per element of output)."""
    from ..functional import stack  # noqa: PLC0415

    flat = output.reshape(-1)
    rows = []
    for k in range(flat.numel()):
        e_k = flat.new_zeros(flat.shape)
        e_k[k] = 1
        grads = _grad((flat,), inputs, (e_k,), create_graph)
        rows.append(_fill_zeros(grads, inputs, strict, fn_name))
    return tuple(
        stack([row[i] for row in rows]).reshape(*output.shape, *x.shape)
        if rows
        else x.new_zeros((*output.shape, *x.shape))
        for i, x in enumerate(inputs)
    )


def jacobian(
    func: Callable,
    inputs,
    create_graph: bool = False,
    strict: bool = False,
    vectorize: bool = False,
    strategy: str = "reverse-mode",
):
    """The Jacobian of func at inputs: output.shape + input.shape per (output, input) pair.

    Example:
        >>> import minitorch as torch
        >>> torch.autograd.functional.jacobian(lambda x: x * 3, torch.ones(2))
        tensor([[3., 0.],
                [0., 3.]])
    """
    if strategy not in ("forward-mode", "reverse-mode"):
        raise ValueError(
            'Expected strategy to be either "forward-mode" or "reverse-mode". Hint: If your '
            'function has more outputs than inputs, "forward-mode" tends to be more performant. '
            'Otherwise, prefer to use "reverse-mode".'
        )
    if strategy == "forward-mode":
        raise NotImplementedError(
            'jacobian: strategy="forward-mode" is not supported (minitorch has no forward-mode '
            'AD); use strategy="reverse-mode".'
        )
    is_in_tuple, inputs = _as_tuple(inputs, "inputs", "jacobian")
    inputs = _prepare(inputs, create_graph)
    is_out_tuple, outputs = _call(func, inputs, "jacobian")
    jac = tuple(
        _finish(_jacobian_rows(out, inputs, create_graph, strict, "jacobian"), create_graph)
        for out in outputs
    )
    return _unpack(jac, (is_out_tuple, is_in_tuple))


def _check_single(is_tuple: bool, outputs: tuple, fn_name: str) -> Tensor:
    """The one single-element Tensor func returned (hessian, vhp and hvp need a scalar)."""
    if is_tuple:
        raise RuntimeError(f"The function given to {fn_name} should return a single Tensor")
    if outputs[0].numel() != 1:
        raise RuntimeError(
            f"The Tensor returned by the function given to {fn_name} should contain a single "
            f"element; got shape {tuple(outputs[0].shape)}. Reduce it (e.g. .sum())."
        )
    return outputs[0]


def hessian(
    func: Callable,
    inputs,
    create_graph: bool = False,
    strict: bool = False,
    vectorize: bool = False,
    outer_jacobian_strategy: str = "reverse-mode",
):
    """The Hessian of a scalar func: per pair of inputs (i, j), shape inputs[i].shape +
    inputs[j].shape; the Jacobian of its gradient."""
    is_in_tuple, inputs = _as_tuple(inputs, "inputs", "hessian")

    def scalar(*xs):
        return _check_single(*_call(func, xs, "hessian"), "hessian").reshape(())

    def gradient(*xs):
        return jacobian(scalar, xs, create_graph=True, strict=strict)

    hess = jacobian(gradient, inputs, create_graph, strict, vectorize, outer_jacobian_strategy)
    return _unpack(hess, (is_in_tuple, is_in_tuple))


def vhp(func: Callable, inputs, v=None, create_graph: bool = False, strict: bool = False):
    """(func(inputs), v^T H): the vector-Hessian product of a scalar func."""
    return _hessian_product(func, inputs, v, create_graph, strict, "vhp")


def hvp(func: Callable, inputs, v=None, create_graph: bool = False, strict: bool = False):
    """(func(inputs), H v): the Hessian-vector product of a scalar func. NOTE: computed as
    v^T H, equal for the symmetric Hessian of a twice continuously differentiable func."""
    return _hessian_product(func, inputs, v, create_graph, strict, "hvp")


def _hessian_product(func, inputs, v, create_graph: bool, strict: bool, fn_name: str):
    is_in_tuple, inputs = _as_tuple(inputs, "inputs", fn_name)
    inputs = _prepare(inputs, create_graph)
    v = _check_v(v, inputs, fn_name, what="input")
    out = _check_single(*_call(func, inputs, fn_name), fn_name)
    one = (out.new_ones(out.shape),)
    jac = _fill_zeros(_grad((out,), inputs, one, create_graph=True), inputs, strict, fn_name)
    product = _fill_zeros(_grad(jac, inputs, v, create_graph), inputs, strict, fn_name)
    return out if create_graph else out.detach(), _unpack(
        _finish(product, create_graph), is_in_tuple
    )
