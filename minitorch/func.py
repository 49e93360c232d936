"""minitorch.func: function transforms (PyTorch's torch.func): functional_call, grad,
grad_and_value, vjp, jacrev, jacfwd, hessian and vmap.

There are no transform levels: each derivative transform differentiates with autograd.grad
(create_graph=True), so transforms nest (grad(grad(f)), hessian = jacrev(jacrev(f))) through
ordinary higher-order autograd; jacfwd gives jacrev's Jacobian (computed by reverse mode), and
vmap calls func once per sample and stacks the results (what PyTorch does for ops without a
batching rule), so it nests with itself and with the others. A result keeps its autograd
graph only where it depends on tensors that require grad outside the transform (an argument
that requires grad, a module's parameters); otherwise it is returned detached, as torch.func
returns it.
"""

from __future__ import annotations

import contextlib
import functools
from collections.abc import Callable

from . import random as _random
from .autograd.functional import _fill_zeros, _grad, _jacobian_rows
from .autograd.grad_mode import enable_grad
from .functional import stack
from .nn.utils.stateless import functional_call
from .tensor import Tensor

__all__ = [
    "functional_call",
    "grad",
    "grad_and_value",
    "vjp",
    "jacrev",
    "jacfwd",
    "hessian",
    "vmap",
]


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


def _differentiable(args: tuple, nums: tuple[int, ...], fn_name: str, trees: bool = False):
    """(args with those at nums made differentiable, those tensors, ids of the fresh leaves):
    a tensor that already requires grad (an outer transform's) becomes a view of itself, so
    the result stays differentiable with respect to it; others become fresh leaves. With
    trees, an argument may be a tuple/list/dict of tensors: the tensors come back flat, and
    the specs of the arguments at nums with them."""
    args, fresh, diff, specs = list(args), set(), [], []

    def leaf(x, i):
        if not isinstance(x, Tensor):
            raise TypeError(
                f"{fn_name}: argument {i} to differentiate must be a Tensor"
                f"{' (or a tuple/list/dict of Tensors)' if trees else ''}, got "
                f"{type(x).__name__}; pass the tensors as separate arguments."
            )
        if x.requires_grad:
            return x.view_as(x)
        x = x.detach().requires_grad_()
        fresh.add(id(x))
        return x

    with enable_grad():
        for i in nums:
            leaves, spec = _flatten(args[i]) if trees else ([args[i]], None)
            leaves = [leaf(x, i) for x in leaves]
            args[i] = _unflatten(iter(leaves), spec)
            diff += leaves
            specs.append(spec)
    return (args, tuple(diff), fresh, specs) if trees else (args, tuple(diff), fresh)


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
    at argnums, func's output) (with has_aux: (gradient, (output, aux))). An argument may be a
    tuple/list/dict of Tensors (a module's parameters): its gradient takes the same structure."""

    @functools.wraps(func)
    def wrapper(*args, **kwargs):
        nums = _argnums(argnums, len(args), "grad_and_value")
        args, diff, fresh, specs = _differentiable(args, nums, "grad_and_value", trees=True)
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
        grads = iter(grads)  # regrouped into the arguments' structures
        grads = _picked(tuple(_unflatten(grads, spec) for spec in specs), argnums)
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


def _jacobian_transform(func: Callable, argnums, has_aux: bool, fn_name: str) -> Callable:
    """jacrev and jacfwd: the Jacobian by reverse mode (one backward per output element)."""

    @functools.wraps(func)
    def wrapper(*args, **kwargs):
        nums = _argnums(argnums, len(args), fn_name)
        args, diff, fresh = _differentiable(args, nums, fn_name)
        with enable_grad():
            out, aux = _split_aux(func(*args, **kwargs), has_aux, fn_name)
        outputs = out if isinstance(out, tuple) else (out,)
        jac = tuple(
            _picked(_jacobian_rows(o, diff, True, False, fn_name), argnums) for o in outputs
        )
        jac = _release(jac if isinstance(out, tuple) else jac[0], fresh)
        return (jac, _release(aux, fresh)) if has_aux else jac

    return wrapper


def jacrev(func: Callable, argnums=0, has_aux: bool = False) -> Callable:
    """A function returning the Jacobian of func with respect to the arguments at argnums,
    by reverse mode (one backward per output element): output.shape + argument.shape; a
    tuple over argnums where it is a tuple, inside a tuple over func's outputs where func
    returns a tuple."""
    return _jacobian_transform(func, argnums, has_aux, "jacrev")


def jacfwd(func: Callable, argnums=0, has_aux: bool = False, *, randomness: str = "error"):
    """A function returning the Jacobian of func with respect to the arguments at argnums,
    as torch.func.jacfwd: output.shape + argument.shape; a tuple over argnums where it is a
    tuple, inside a tuple over func's outputs where func returns a tuple; with has_aux,
    (jacobian, aux).

    minitorch has no forward mode: the Jacobian is jacrev's (one backward per output element,
    so it costs more than PyTorch's for wide inputs and narrow outputs), equal to PyTorch's to
    rounding. func runs once; with randomness="error" a random op inside it raises, as in
    PyTorch ("same" and "different" both let it draw once).

    Example:
        >>> import minitorch as torch
        >>> torch.func.jacfwd(lambda x: x**2)(torch.tensor([1.0, 2.0]))
        tensor([[2., 0.],
                [0., 4.]])
    """
    jac = _jacobian_transform(func, argnums, has_aux, "jacfwd")

    @functools.wraps(func)
    def wrapper(*args, **kwargs):
        _check_randomness(randomness)
        with _randomness(randomness):
            return jac(*args, **kwargs)

    return wrapper


def hessian(func: Callable, argnums=0) -> Callable:
    """A function returning the Hessian of func's scalar output with respect to the
    arguments at argnums: jacrev of jacrev."""
    return jacrev(jacrev(func, argnums), argnums)


# vmap ------------------------------------------------------------------------------------------
# Inputs and outputs are pytrees: tuples, lists (and namedtuples) and dicts of leaves. A spec is
# None for a leaf, or (container type, its keys or length, the children's specs).


def _flatten(tree) -> tuple[list, object]:
    if isinstance(tree, dict):
        keys = list(tree)
        children = [tree[k] for k in keys]
    elif isinstance(tree, (tuple, list)):
        keys, children = len(tree), list(tree)
    else:
        return [tree], None
    leaves, specs = [], []
    for child in children:
        child_leaves, spec = _flatten(child)
        leaves += child_leaves
        specs.append(spec)
    return leaves, (type(tree), keys, tuple(specs))


def _unflatten(leaves, spec):
    """The tree of spec holding leaves (an iterator), in order."""
    if spec is None:
        return next(leaves)
    kind, keys, specs = spec
    children = [_unflatten(leaves, s) for s in specs]
    if issubclass(kind, dict):
        return kind(zip(keys, children))
    if hasattr(kind, "_fields"):  # a namedtuple
        return kind(*children)
    return kind(children)


def _n_leaves(spec) -> int:
    return 1 if spec is None else sum(_n_leaves(s) for s in spec[2])


def _broadcast_prefix(prefix, spec):
    """prefix (in_dims/out_dims: a tree whose leaves stand for whole subtrees of spec) as one
    entry per leaf of spec, or None where its structure does not match."""
    if not isinstance(prefix, (tuple, list, dict)):
        return [prefix] * _n_leaves(spec)
    if spec is None:
        return None
    kind, keys, specs = spec
    if type(prefix) is not kind:
        return None
    if isinstance(prefix, dict):
        if set(prefix) != set(keys):
            return None
        children = [prefix[k] for k in keys]
    elif len(prefix) != keys:
        return None
    else:
        children = list(prefix)
    flat = []
    for child, s in zip(children, specs):
        sub = _broadcast_prefix(child, s)
        if sub is None:
            return None
        flat += sub
    return flat


def _spec_str(spec) -> str:
    if spec is None:
        return "*"
    kind, keys, specs = spec
    inner = ", ".join(_spec_str(s) for s in specs)
    if issubclass(kind, dict):
        return "{" + ", ".join(f"{k!r}: {_spec_str(s)}" for k, s in zip(keys, specs)) + "}"
    return f"[{inner}]" if issubclass(kind, list) else f"({inner}{',' if len(specs) == 1 else ''})"


def _name(func) -> str:
    if hasattr(func, "__name__"):
        return func.__name__
    if isinstance(func, functools.partial):
        return f"functools.partial({_name(func.func)}, ...)"
    return repr(func)


def _check_randomness(randomness) -> None:
    if randomness not in ("error", "different", "same"):
        raise RuntimeError(
            "Only allowed values for randomness are 'error', 'different', or 'same'. "
            f"Got {randomness}"
        )


@contextlib.contextmanager
def _randomness(randomness: str):
    """Inside: random draws refused where randomness is "error"."""
    refuse = randomness == "error"
    _random._refuse_draws += refuse
    try:
        yield
    finally:
        _random._refuse_draws -= refuse


def _batched_inputs(func, in_dims, args: tuple) -> tuple[int, list, list, object]:
    """(batch size, per-leaf in_dim (non-negative or None), the leaves of args, their spec),
    checked as PyTorch checks them."""
    where = f"vmap({_name(func)}, in_dims={in_dims}, ...)(<inputs>)"
    if not isinstance(in_dims, (int, tuple)):
        raise ValueError(
            f"{where}: expected `in_dims` to be int or a (potentially nested) tuple matching "
            f"the structure of inputs, got: {type(in_dims)}."
        )
    if not args:
        raise ValueError(
            f"vmap({_name(func)})(<inputs>): got no inputs. Maybe you forgot to add inputs, or "
            "you are trying to vmap over a function with no inputs. The latter is unsupported."
        )
    flat_args, spec = _flatten(args)
    flat_dims = _broadcast_prefix(in_dims, spec)
    if flat_dims is None:
        raise ValueError(
            f"{where}: in_dims is not compatible with the structure of `inputs`. in_dims has "
            f"structure {_spec_str(_flatten(in_dims)[1])} but inputs has structure "
            f"{_spec_str(spec)}."
        )
    for i, (arg, dim) in enumerate(zip(flat_args, flat_dims)):
        if dim is None:
            continue
        if not isinstance(dim, int) or isinstance(dim, bool):
            raise ValueError(
                f"{where}: Got in_dim={dim} for an input but in_dim must be either an integer "
                "dimension or None."
            )
        if not isinstance(arg, Tensor):
            raise ValueError(
                f"{where}: Got in_dim={dim} for an input but the input is of type "
                f"{type(arg)}. We cannot vmap over non-Tensor arguments, please use None as "
                "the respective in_dim"
            )
        if not -arg.dim() <= dim < arg.dim():
            raise ValueError(
                f"{where}: Got in_dim={dim} for some input, but that input is a Tensor of "
                f"dimensionality {arg.dim()} so expected in_dim to satisfy "
                f"-{arg.dim()} <= in_dim < {arg.dim()}."
            )
        flat_dims[i] = dim % arg.dim()
    sizes = [arg.shape[d] for arg, d in zip(flat_args, flat_dims) if d is not None]
    if not sizes:
        raise ValueError("vmap: Expected at least one Tensor to vmap over")
    if any(size != sizes[0] for size in sizes):
        raise ValueError(
            "vmap: Expected all tensors to have the same size in the mapped dimension, got "
            f"sizes {sizes} for the mapped dimension"
        )
    return sizes[0], flat_dims, flat_args, spec


def _check_out_dims(func, out_dims) -> None:
    leaves = [out_dims] if isinstance(out_dims, int) else _flatten(out_dims)[0]
    if not all(d is None or (isinstance(d, int) and not isinstance(d, bool)) for d in leaves):
        raise ValueError(
            f"vmap({_name(func)}, ..., out_dims={out_dims}): `out_dims` must be an int, None or "
            "a python collection of ints representing where in the outputs the vmapped "
            "dimension should appear."
        )


def _unbatched(func, samples: list, out_dim):
    """One output leaf from its value in every sample: stacked along out_dim."""
    name = _name(func)
    first = samples[0]
    if out_dim is None:
        # NOTE: PyTorch knows whether an output depends on the batched inputs; here an output
        # counts as unbatched when every sample returned the same value
        if isinstance(first, Tensor) and not all(
            s.shape == first.shape and bool((s == first).all()) for s in samples[1:]
        ):
            raise ValueError(
                f"vmap({name}, ...): `{name}` can not return a BatchedTensor when out_dim is None"
            )
        return first
    if not isinstance(first, Tensor):
        raise ValueError(
            f"vmap({name}, ...): `{name}` must only return Tensors, got type {type(first)}. "
            "Did you mean to set out_dims= to None for output?"
        )
    return stack(samples, dim=out_dim)


def vmap(
    func: Callable,
    in_dims=0,
    out_dims=0,
    randomness: str = "error",
    *,
    chunk_size: int | None = None,
) -> Callable:
    """torch.vmap: a function that maps func over a dimension of its inputs, returning func's
    outputs stacked along out_dims.

    Args:
        in_dims: the dimension to map over, for all inputs (an int), or per positional
            argument (a tuple; an entry may be a tuple/list/dict matching that argument's
            structure, or None: not mapped, passed to every call as it is). Keyword arguments
            are never mapped.
        out_dims: where the mapped dimension goes in each output (an int, or a structure
            matching func's outputs; None for an output that does not depend on the inputs).
        randomness: "error" (a random op inside func raises), "different" (each sample draws
            its own numbers) or "same" (every sample draws the same numbers).
        chunk_size: accepted for compatibility (the samples run one at a time anyway).

    minitorch has no batching rules: func runs once per sample (each mapped input indexed
    with select) and the outputs are stacked, which is what PyTorch does for an op without a
    batching rule. Values and gradients are the same; it costs one call of func per sample.
    A mapped dimension of size 0 is refused (there is no sample to learn the output's shape
    from).

    Example:
        >>> import minitorch as torch
        >>> x, y = torch.ones(3, 2), torch.tensor([1.0, 2.0])
        >>> torch.vmap(torch.dot, in_dims=(0, None))(x, y)
        tensor([3., 3., 3.])
    """
    _check_randomness(randomness)
    if not (chunk_size is None or chunk_size > 0):
        raise ValueError(f"vmap: chunk_size should be None or greater than 0. (got {chunk_size})")

    @functools.wraps(func)
    def wrapper(*args, **kwargs):
        _check_out_dims(func, out_dims)
        size, flat_dims, flat_args, spec = _batched_inputs(func, in_dims, args)
        if size == 0:
            raise ValueError(
                f"vmap({_name(func)}): minitorch's vmap calls func once per sample and cannot "
                "map over a dimension of size 0."
            )
        generators = _random.live_generators() if randomness == "same" else []
        states = [g.get_state() for g in generators]
        outputs = []
        with _randomness(randomness):
            for i in range(size):
                for g, state in zip(generators, states):
                    g.set_state(state)
                leaves = (a if d is None else a.select(d, i) for a, d in zip(flat_args, flat_dims))
                outputs.append(_flatten(func(*_unflatten(leaves, spec), **kwargs)))
        out_spec = outputs[0][1]
        if out_spec is None:  # a single output: out_dims may also be a 1-tuple
            flat_out_dims = list(out_dims) if isinstance(out_dims, tuple) else [out_dims]
            flat_out_dims = flat_out_dims if len(flat_out_dims) == 1 else None
        else:
            flat_out_dims = _broadcast_prefix(out_dims, out_spec)
        if flat_out_dims is None:
            raise ValueError(
                f"vmap({_name(func)}, ..., out_dims={out_dims})(<inputs>): out_dims is not "
                "compatible with the structure of `outputs`. out_dims has structure "
                f"{_spec_str(_flatten(out_dims)[1])} but outputs has structure "
                f"{_spec_str(out_spec)}."
            )
        per_leaf = zip(*(leaves for leaves, _ in outputs))
        flat = [_unbatched(func, list(s), d) for s, d in zip(per_leaf, flat_out_dims)]
        return _unflatten(iter(flat), out_spec)

    return wrapper
