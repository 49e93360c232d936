"""minitorch.func: function transforms (PyTorch's torch.func): functional_call, grad,
grad_and_value, vjp, jacrev and hessian.

There is no vmap and no transform levels: each transform differentiates with autograd.grad
(create_graph=True), so transforms nest (grad(grad(f)), hessian = jacrev(jacrev(f))) through
ordinary higher-order autograd. A result keeps its autograd graph only where it depends on
tensors that require grad outside the transform (an argument that requires grad, a module's
parameters); otherwise it is returned detached, as torch.func returns it.
"""

from __future__ import annotations

import functools
from collections.abc import Callable

from .autograd.functional import _fill_zeros, _grad, _jacobian_rows
from .autograd.grad_mode import enable_grad
from .nn.utils.stateless import functional_call
from .tensor import Tensor

__all__ = ["functional_call", "grad", "grad_and_value", "vjp", "jacrev", "hessian"]


def _argnums(argnums, n_args: int, fn_name: str) -> tuple[int, ...]:
    nums = (argnums,) if isinstance(argnums, int) else tuple(argnums)
    if not nums or not all(isinstance(i, int) for i in nums):
        raise RuntimeError(
            f"{fn_name}: argnums must be an int or a non-empty tuple of ints, got {argnums!r}."
        )
    for i in nums:
        if not -n_args <= i < n_args:
            raise RuntimeError(
                f"{fn_name}: Got argnum={i}, but only {n_args} positional inputs; pass "
                "argnums below the number of positional arguments."
            )
    return tuple(i % n_args for i in nums)


def _differentiable(args: tuple, nums: tuple[int, ...], fn_name: str):
    """(args with those at nums made differentiable, those tensors, ids of the fresh leaves):
    a tensor that already requires grad (an outer transform's) becomes a view of itself, so
    the result stays differentiable with respect to it; others become fresh leaves."""
    args, fresh = list(args), set()
    with enable_grad():
        for i in nums:
            x = args[i]
            if not isinstance(x, Tensor):
                raise TypeError(
                    f"{fn_name}: argument {i} to differentiate must be a Tensor, got "
                    f"{type(x).__name__}; pass the tensors as separate arguments."
                )
            if x.requires_grad:
                args[i] = x.view_as(x)
            else:
                args[i] = x.detach().requires_grad_()
                fresh.add(id(args[i]))
    return args, tuple(args[i] for i in nums), fresh


def _tracked(t: Tensor, fresh: set) -> bool:
    """Whether t's graph reaches a leaf that requires grad other than the fresh ones."""
    stack, seen = [t.grad_fn], set()
    while stack:
        node = stack.pop()
        if node is None or id(node) in seen:
            continue
        seen.add(id(node))
        for x, need, parent in zip(node.inputs, node.needs_input_grad, node.parents):
            if need and parent is None and id(x) not in fresh:
                return True
            stack.append(parent)
    return False


def _release(value, fresh: set):
    """value (Tensors in tuples/lists/dicts), each detached unless it is tracked outside."""
    if isinstance(value, Tensor):
        keep = value.requires_grad and _tracked(value, fresh)
        return value if keep else value.detach()
    if isinstance(value, (tuple, list)):
        return type(value)(_release(v, fresh) for v in value)
    if isinstance(value, dict):
        return {k: _release(v, fresh) for k, v in value.items()}
    return value


def _split_aux(out, has_aux: bool, fn_name: str):
    if not has_aux:
        return out, None
    if not (isinstance(out, tuple) and len(out) == 2):
        raise RuntimeError(
            f"{fn_name}(f, ...)(*args): output of function f should be a tuple: (output, aux) "
            "if has_aux is True"
        )
    return out


def _picked(items: tuple, argnums):
    """One entry per argnum: unwrapped where argnums is an int."""
    return items[0] if isinstance(argnums, int) else items


def grad_and_value(func: Callable, argnums=0, has_aux: bool = False) -> Callable:
    """A function returning (gradient of func's scalar output with respect to the arguments
    at argnums, func's output) (with has_aux: (gradient, (output, aux)))."""

    @functools.wraps(func)
    def wrapper(*args, **kwargs):
        nums = _argnums(argnums, len(args), "grad_and_value")
        args, diff, fresh = _differentiable(args, nums, "grad_and_value")
        with enable_grad():
            out, aux = _split_aux(func(*args, **kwargs), has_aux, "grad_and_value")
        if not isinstance(out, Tensor):
            raise RuntimeError(
                f"grad_and_value(f)(*args): Expected f(*args) to return a Tensor, got {type(out)}"
            )
        if out.dim() != 0:
            raise RuntimeError(
                "grad_and_value(f)(*args): Expected f(*args) to return a scalar Tensor, got "
                f"tensor with {out.dim()} dims. Maybe you wanted to use the vjp or jacrev APIs "
                "instead?"
            )
        grads = _grad((out,), diff, (out.new_ones(()),), create_graph=True)
        grads, out, aux = _release((_fill_zeros(grads, diff, False, "grad"), out, aux), fresh)
        grads = _picked(grads, argnums)
        return (grads, (out, aux)) if has_aux else (grads, out)

    return wrapper


def grad(func: Callable, argnums=0, has_aux: bool = False) -> Callable:
    """A function returning the gradient of func's scalar output with respect to the
    arguments at argnums (with has_aux: (gradient, aux)).

    Example:
        >>> import minitorch as torch
        >>> torch.func.grad(lambda x: (x**3).sum())(torch.tensor([1.0, 2.0]))
        tensor([ 3., 12.])
    """
    with_value = grad_and_value(func, argnums, has_aux)

    @functools.wraps(func)
    def wrapper(*args, **kwargs):
        grads, value = with_value(*args, **kwargs)
        return (grads, value[1]) if has_aux else grads

    return wrapper


def vjp(func: Callable, *primals, has_aux: bool = False):
    """(func(*primals), vjp_fn) (with has_aux: and aux); vjp_fn(cotangents) returns the
    vector-Jacobian products, a tuple with one entry per primal. cotangents take the
    structure of func's output (a Tensor or a tuple of Tensors)."""
    args, diff, fresh = _differentiable(primals, tuple(range(len(primals))), "vjp")
    with enable_grad():
        out, aux = _split_aux(func(*args), has_aux, "vjp")
    outputs = out if isinstance(out, tuple) else (out,)

    def vjp_fn(cotangents):
        cots = cotangents if isinstance(cotangents, tuple) else (cotangents,)
        shapes = [tuple(o.shape) for o in outputs], [tuple(c.shape) for c in cots]
        if shapes[0] != shapes[1]:
            raise RuntimeError(
                f"vjp: Expected cotangents of the output's shapes {shapes[0]}, got {shapes[1]}."
            )
        grads = _grad(outputs, diff, cots, create_graph=True)
        return _release(_fill_zeros(grads, diff, False, "vjp"), fresh)

    result = (_release(out, fresh), vjp_fn)
    return (*result, _release(aux, fresh)) if has_aux else result


def jacrev(func: Callable, argnums=0, has_aux: bool = False) -> Callable:
    """A function returning the Jacobian of func with respect to the arguments at argnums,
    by reverse mode (one backward per output element): output.shape + argument.shape; a
    tuple over argnums where it is a tuple, inside a tuple over func's outputs where func
    returns a tuple."""

    @functools.wraps(func)
    def wrapper(*args, **kwargs):
        nums = _argnums(argnums, len(args), "jacrev")
        args, diff, fresh = _differentiable(args, nums, "jacrev")
        with enable_grad():
            out, aux = _split_aux(func(*args, **kwargs), has_aux, "jacrev")
        outputs = out if isinstance(out, tuple) else (out,)
        jac = tuple(
            _picked(_jacobian_rows(o, diff, True, False, "jacrev"), argnums) for o in outputs
        )
        jac = _release(jac if isinstance(out, tuple) else jac[0], fresh)
        return (jac, _release(aux, fresh)) if has_aux else jac

    return wrapper


def hessian(func: Callable, argnums=0) -> Callable:
    """A function returning the Hessian of func's scalar output with respect to the
    arguments at argnums: jacrev of jacrev."""
    return jacrev(jacrev(func, argnums), argnums)
