"""func.vmap (= minitorch.vmap) and func.jacfwd against PyTorch's: the same functions of the
same inputs give the same values and output structure, gradients flow through vmap (per-sample
gradients with grad and functional_call), and errors match torch's types and messages."""

from __future__ import annotations  # noqa: I001  (minitorch must come before torch)

import functools

import minitorch
import numpy as np
import pytest
import torch

RNG = np.random.default_rng(0)
A, B, C = RNG.standard_normal((4, 3)), RNG.standard_normal((3, 4)), RNG.standard_normal(3)
D = RNG.standard_normal((2, 4, 3))


def _np(result):
    """result (Tensors in nested tuples/lists/dicts) as numpy arrays in the same structure."""
    if isinstance(result, (tuple, list)):
        return type(result)(_np(r) for r in result)
    if isinstance(result, dict):
        return {k: _np(v) for k, v in result.items()}
    if isinstance(result, (minitorch.Tensor, torch.Tensor)):
        return result.detach().numpy()
    return result


def _same(ours, theirs):
    assert type(ours) is type(theirs), (ours, theirs)
    if isinstance(ours, (tuple, list)):
        assert len(ours) == len(theirs)
        for a, b in zip(ours, theirs):
            _same(a, b)
    elif isinstance(ours, dict):
        assert list(ours) == list(theirs)
        for k in ours:
            _same(ours[k], theirs[k])
    elif isinstance(ours, np.ndarray):
        assert ours.shape == theirs.shape
        np.testing.assert_allclose(ours, theirs, rtol=1e-10, atol=1e-12)
    else:
        assert ours == theirs


def _both(run):
    """run(lib, a, b, c, d) on both libraries (the tensors of A, B, C, D), compared."""
    results = [run(lib, *(lib.tensor(x) for x in (A, B, C, D))) for lib in (minitorch, torch)]
    _same(*(_np(r) for r in results))


@pytest.mark.parametrize(
    "run",
    [
        lambda lib, a, b, c, d: lib.vmap(lambda x: x.sin().sum())(a),
        lambda lib, a, b, c, d: lib.func.vmap(lib.dot, in_dims=(0, None))(a, c),
        lambda lib, a, b, c, d: lib.vmap(lib.dot, in_dims=(0, 1))(a, b),
        lambda lib, a, b, c, d: lib.vmap(lib.dot, in_dims=(0, -1))(a, b),
        lambda lib, a, b, c, d: lib.vmap(lambda x: x * 2, in_dims=-1)(a),
        lambda lib, a, b, c, d: lib.vmap(lambda x: x.cumsum(0), out_dims=1)(a),
        lambda lib, a, b, c, d: lib.vmap(lambda x: x.exp(), out_dims=-1)(d),
        lambda lib, a, b, c, d: lib.vmap(lambda x, y: (x @ y, x * 2), out_dims=(0, 1))(a, b.T),
        lambda lib, a, b, c, d: lib.vmap(lambda x: {"s": x.sum(), "p": [x, x.cos()]})(a),
        lambda lib, a, b, c, d: lib.vmap(lambda x: (x.sum(), {"t": x}), out_dims=(0, {"t": 1}))(a),
        # pytrees of inputs, with in_dims per argument or per leaf
        lambda lib, a, b, c, d: lib.vmap(lambda p: lib.dot(p["x"], p["y"]))({"x": a, "y": b.T}),
        lambda lib, a, b, c, d: lib.vmap(
            lambda p: lib.dot(p["x"], p["y"]), in_dims=({"x": 0, "y": None},)
        )({"x": a, "y": c}),
        lambda lib, a, b, c, d: lib.vmap(lambda p: p[0] * p[1].sum(), in_dims=((0, 1),))((a, b)),
        lambda lib, a, b, c, d: lib.vmap(lambda p, q: p[0] - p[1] + q, in_dims=([0, 1], None))(
            [a, b], c
        ),
        # non-tensor arguments (in_dim None) and keyword arguments pass through unmapped
        lambda lib, a, b, c, d: lib.vmap(lambda x, n: x * n, in_dims=(0, None))(a, 3.0),
        lambda lib, a, b, c, d: lib.vmap(lambda x, scale=1: x * scale)(a, scale=c),
        # outputs that do not depend on the inputs, with out_dims None
        lambda lib, a, b, c, d: lib.vmap(lambda x: (x * 2, lib.ones(2)), out_dims=(0, None))(a),
        # nested vmap
        lambda lib, a, b, c, d: lib.vmap(lib.vmap(lib.dot))(d, d.exp()),
        lambda lib, a, b, c, d: lib.vmap(lib.vmap(lib.mul, in_dims=(None, 0)), in_dims=(0, None))(
            c, a[:, 0]
        ),
        lambda lib, a, b, c, d: lib.vmap(lib.vmap(lambda x: x.sum(), in_dims=1), in_dims=2)(d),
        # chunk_size only changes how the samples are grouped
        lambda lib, a, b, c, d: lib.vmap(lambda x: x.softmax(0), chunk_size=3)(a),
        lambda lib, a, b, c, d: lib.vmap(
            lambda x, y: lib.nn.functional.linear(x, y), in_dims=(0, None)
        )(d, b.T),
    ],
)
def test_vmap_matches_torch(run):
    _both(run)


def test_vmap_keeps_the_function_name():
    def f(x):
        return x

    assert minitorch.vmap(f).__name__ == torch.vmap(f).__name__ == "f"


def test_gradients_flow_through_vmap():
    grads = []
    for lib in (minitorch, torch):
        x, y = lib.tensor(A, requires_grad=True), lib.tensor(C, requires_grad=True)
        out = lib.vmap(lambda r, s: (r * s).tanh().sum() * r[0], in_dims=(0, None))(x, y)
        (out * lib.arange(4.0, dtype=out.dtype)).sum().backward()
        grads.append((x.grad.numpy(), y.grad.numpy()))
    _same(*grads)


def test_per_sample_gradients_with_grad_and_functional_call():
    x, y = RNG.standard_normal((5, 3)), RNG.standard_normal((5, 2))
    weights = {"weight": RNG.standard_normal((2, 3)), "bias": RNG.standard_normal(2)}
    results = []
    for lib in (minitorch, torch):
        model = lib.nn.Linear(3, 2).double()
        params = {k: lib.tensor(v) for k, v in weights.items()}

        def loss(params, x, y, lib=lib, model=model):
            out = lib.func.functional_call(model, params, (x.unsqueeze(0),))
            return lib.nn.functional.mse_loss(out, y.unsqueeze(0))

        per_sample = lib.func.vmap(lib.func.grad(loss), in_dims=(None, 0, 0))
        results.append(_np(per_sample(params, lib.tensor(x), lib.tensor(y))))
    _same(*results)
    assert results[0]["weight"].shape == (5, 2, 3)


def test_vmap_of_jacrev_and_hessian():
    _both(lambda lib, a, b, c, d: lib.vmap(lib.func.jacrev(lambda x: x.sin() * x.sum()))(a))
    _both(lambda lib, a, b, c, d: lib.vmap(lib.func.hessian(lambda x: (x**3).sum()))(a))


def _raises_alike(run, error, match):
    """run(lib, a, b, c, d) raises error matching match on both libraries."""
    for lib in (minitorch, torch):
        with pytest.raises(error, match=match):
            run(lib, *(lib.tensor(x) for x in (A, B, C, D)))


def f(x, *rest):
    return x


@pytest.mark.parametrize(
    ("run", "match"),
    [
        (
            lambda lib, a, b, c, d: lib.vmap(lib.add)(a, b),
            r"vmap: Expected all tensors to have the same size in the mapped dimension, got "
            r"sizes \[4, 3\] for the mapped dimension",
        ),
        (
            lambda lib, a, b, c, d: lib.vmap(f, in_dims=2)(a),
            r"vmap\(f, in_dims=2, \.\.\.\)\(<inputs>\): Got in_dim=2 for some input, but that "
            r"input is a Tensor of dimensionality 2 so expected in_dim to satisfy -2 <= in_dim < 2",
        ),
        (
            lambda lib, a, b, c, d: lib.vmap(f, in_dims=-3)(a),
            r"expected in_dim to satisfy -2 <= in_dim < 2",
        ),
        (
            lambda lib, a, b, c, d: lib.vmap(f, in_dims=(None, None))(a, b),
            r"vmap: Expected at least one Tensor to vmap over",
        ),
        (
            lambda lib, a, b, c, d: lib.vmap(f, in_dims=(0, 0))(a, 2),
            r"Got in_dim=0 for an input but the input is of type <class 'int'>\. We cannot vmap "
            r"over non-Tensor arguments, please use None as the respective in_dim",
        ),
        (
            lambda lib, a, b, c, d: lib.vmap(f, in_dims=(0,))(a, b),
            r"in_dims is not compatible with the structure of `inputs`",
        ),
        (
            lambda lib, a, b, c, d: lib.vmap(f, in_dims=[0])(a),
            r"expected `in_dims` to be int or a \(potentially nested\) tuple",
        ),
        (
            lambda lib, a, b, c, d: lib.vmap(f, in_dims=(0.5,))(a),
            r"Got in_dim=0\.5 for an input but in_dim must be either an integer dimension or None",
        ),
        (lambda lib, a, b, c, d: lib.vmap(f)(), r"vmap\(f\)\(<inputs>\): got no inputs"),
        (
            lambda lib, a, b, c, d: lib.vmap(lambda x: 3)(a),
            r"`<lambda>` must only return Tensors, got type <class 'int'>\. Did you mean to set "
            r"out_dims= to None for output\?",
        ),
        (
            lambda lib, a, b, c, d: lib.vmap(lambda x: (x, x), out_dims=(0, 0, 0))(a),
            r"out_dims is not compatible with the structure of `outputs`",
        ),
        (
            lambda lib, a, b, c, d: lib.vmap(f, out_dims="x")(a),
            r"`out_dims` must be an int, None or a python collection of ints",
        ),
        (
            lambda lib, a, b, c, d: lib.vmap(f, out_dims=None)(a),
            r"can not return a BatchedTensor when out_dim is None",
        ),
        (
            lambda lib, a, b, c, d: lib.vmap(f, chunk_size=0),
            r"vmap: chunk_size should be None or greater than 0\. \(got 0\)",
        ),
    ],
)
def test_vmap_errors_match_torch(run, match):
    _raises_alike(run, ValueError, match)


def test_randomness_flag_is_checked():
    for lib in (minitorch, torch):
        with pytest.raises(RuntimeError, match="Only allowed values for randomness are"):
            lib.vmap(f, randomness="other")
        with pytest.raises(RuntimeError, match="Only allowed values for randomness are"):
            lib.func.jacfwd(f, randomness="other")(lib.tensor(C))


RANDOM_OPS = [
    lambda lib, x: x + lib.rand(3, dtype=x.dtype),
    lambda lib, x: lib.randn_like(x),
    lambda lib, x: lib.nn.functional.dropout(x, 0.5),
]


@pytest.mark.parametrize("op", RANDOM_OPS)
def test_random_ops_raise_in_randomness_error_mode(op):
    match = "vmap: called random operation while in randomness error mode"
    for lib in (minitorch, torch):
        x = lib.tensor(A)
        with pytest.raises(RuntimeError, match=match):
            lib.vmap(functools.partial(op, lib))(x)
        with pytest.raises(RuntimeError, match=match):  # an outer level in error mode
            lib.vmap(lib.vmap(functools.partial(op, lib), randomness="same"))(x[None])
        assert lib.rand(2).shape == (2,)  # random ops work again outside


@pytest.mark.parametrize("op", RANDOM_OPS)
def test_randomness_different_and_same(op):
    x = A + 5  # dropout keeps (scaled) or zeroes each element
    for lib in (minitorch, torch):
        different = lib.vmap(functools.partial(op, lib), randomness="different")(lib.tensor(x))
        same = lib.vmap(functools.partial(op, lib), randomness="same")(lib.tensor(x[[0] * 4]))
        assert not all(bool((row == different[0]).all()) for row in different[1:])
        assert all(bool((row == same[0]).all()) for row in same[1:])


def test_randomness_same_draws_what_one_unmapped_call_draws():
    minitorch.manual_seed(3)
    out = minitorch.vmap(lambda x: x + minitorch.randn(3), randomness="same")(minitorch.zeros(4, 3))
    after = minitorch.rand(2)
    minitorch.manual_seed(3)
    np.testing.assert_array_equal(out.numpy(), np.tile(minitorch.randn(3).numpy(), (4, 1)))
    np.testing.assert_array_equal(minitorch.rand(2).numpy(), after.numpy())


def two_outputs(x, y):
    return (x.exp() * y).sum(0), x @ y


@pytest.mark.parametrize(
    "run",
    [
        lambda lib, a, b, c, d: lib.func.jacfwd(lambda x: x.exp() * x.sum())(a),
        lambda lib, a, b, c, d: lib.func.jacfwd(two_outputs)(a, c),
        lambda lib, a, b, c, d: lib.func.jacfwd(two_outputs, argnums=(0, 1))(a, c),
        lambda lib, a, b, c, d: lib.func.jacfwd(two_outputs, argnums=1)(a, c),
        lambda lib, a, b, c, d: lib.func.jacfwd(lambda x, y: (x @ y).sin().sum(), 1)(a, c),
        lambda lib, a, b, c, d: lib.func.jacfwd(lambda x: (x.cos(), x.sum()), has_aux=True)(c),
        lambda lib, a, b, c, d: lib.func.jacfwd(lib.func.jacrev(lambda x: (x**3).prod()))(c),
        lambda lib, a, b, c, d: lib.func.jacfwd(lib.func.jacfwd(lambda x: x.sin() * x[0]))(c),
        lambda lib, a, b, c, d: lib.func.hessian(lambda x, y: (x @ y).tanh().sum(), (0, 1))(a, c),
    ],
)
def test_jacfwd_matches_torch(run):
    _both(run)


def test_jacfwd_differentiates_further_and_refuses_random_ops():
    grads = []
    for lib in (minitorch, torch):
        x = lib.tensor(C, requires_grad=True)
        lib.func.jacfwd(lambda v: v.sin() * v.sum())(x).sum().backward()
        grads.append(x.grad.numpy())
        with pytest.raises(RuntimeError, match="called random operation while in randomness"):
            lib.func.jacfwd(lambda v: v * lib.rand(3, dtype=v.dtype))(x)
    _same(*grads)
    out = minitorch.func.jacfwd(lambda v: v * minitorch.rand(()), randomness="same")(
        minitorch.tensor(C)
    )
    assert out.shape == (3, 3)
