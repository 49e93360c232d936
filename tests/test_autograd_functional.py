"""autograd.functional (vjp, jvp, jacobian, hessian, vhp, hvp) and the func transforms (grad,
grad_and_value, vjp, jacrev, hessian) against PyTorch: the same functions of the same inputs
give the same values and output structure; create_graph=True (and nested transforms) give
results that differentiate further as torch's do; and errors match torch's types."""

from __future__ import annotations  # noqa: I001  (minitorch must come before torch)

import minitorch
import numpy as np
import pytest
import torch

RNG = np.random.default_rng(0)
X, Y, V = RNG.standard_normal((2, 3)), RNG.standard_normal(3), RNG.standard_normal((2, 3))


def _np(result):
    """result (Tensors in nested tuples) as numpy arrays in the same structure."""
    if isinstance(result, tuple):
        return tuple(_np(r) for r in result)
    return result.detach().numpy()


def _same(ours, theirs):
    assert isinstance(ours, tuple) == isinstance(theirs, tuple), (ours, theirs)
    if isinstance(ours, tuple):
        assert len(ours) == len(theirs)
        for a, b in zip(ours, theirs):
            _same(a, b)
        return
    assert ours.shape == theirs.shape
    np.testing.assert_allclose(ours, theirs, rtol=1e-10, atol=1e-12)


def _both(run):
    """run(lib, *tensors of X, Y, V) on both libraries, compared."""
    results = [run(lib, *(lib.tensor(a) for a in (X, Y, V))) for lib in (minitorch, torch)]
    _same(*(_np(r) for r in results))


def scalar(x, y):
    return (x.sin() * y.exp()).sum() * (x**2).sum()


def two_outputs(x, y):
    return (x.exp() * y).sum(0), x @ y


@pytest.mark.parametrize(
    "run",
    [
        lambda lib, x, y, v: lib.autograd.functional.jacobian(lambda x: x.exp() * x.sum(), x),
        lambda lib, x, y, v: lib.autograd.functional.jacobian(two_outputs, (x, y)),
        lambda lib, x, y, v: lib.autograd.functional.jacobian(scalar, (x, y)),
        lambda lib, x, y, v: lib.autograd.functional.jacobian(lambda x: (x @ y, x.cos()), x),
        lambda lib, x, y, v: lib.autograd.functional.hessian(lambda x: scalar(x, y), x),
        lambda lib, x, y, v: lib.autograd.functional.hessian(scalar, (x, y)),
        lambda lib, x, y, v: lib.autograd.functional.vjp(lambda x: x.exp() * x, x, v),
        lambda lib, x, y, v: lib.autograd.functional.vjp(two_outputs, (x, y), (y, x[:, 0])),
        lambda lib, x, y, v: lib.autograd.functional.vjp(scalar, (x, y)),
        lambda lib, x, y, v: lib.autograd.functional.jvp(lambda x: x.exp() @ y, x, v),
        lambda lib, x, y, v: lib.autograd.functional.jvp(two_outputs, (x, y), (v, y)),
        lambda lib, x, y, v: lib.autograd.functional.jvp(lambda x: x, x, v),
        lambda lib, x, y, v: lib.autograd.functional.vhp(lambda x: scalar(x, y), x, v),
        lambda lib, x, y, v: lib.autograd.functional.hvp(scalar, (x, y), (v, y)),
        # an output independent of an input: zeros (strict=False)
        lambda lib, x, y, v: lib.autograd.functional.jacobian(lambda x, y: x * 2, (x, y)),
        lambda lib, x, y, v: lib.autograd.functional.vjp(lambda x, y: y.sum(), (x, y)),
    ],
)
def test_autograd_functional_matches_torch(run):
    _both(run)


CREATE_GRAPH = {  # name: (function, whether v is passed)
    "jacobian": (lambda x: x.exp() * (x**2).sum(), False),
    "hessian": (lambda x: (x.sin() * x.exp()).sum() * (x**2).sum(), False),
    "vjp": (lambda x: x.exp() * (x**2).sum(), True),
    "jvp": (lambda x: x.exp() * (x**2).sum(), True),
    "vhp": (lambda x: (x.sin() * x.exp()).sum() * (x**2).sum(), True),
    "hvp": (lambda x: (x.sin() * x.exp()).sum() * (x**2).sum(), True),
}


@pytest.mark.parametrize("name", sorted(CREATE_GRAPH))
def test_create_graph_results_differentiate_further(name):
    """create_graph=True: the result's own gradient with respect to the inputs matches torch;
    without it the result is detached."""
    fn, with_v = CREATE_GRAPH[name]

    def run(lib, x, y, v):
        x = x.requires_grad_()
        transform = getattr(lib.autograd.functional, name)
        args = (x, v) if with_v else (x,)
        results = [transform(fn, *args, create_graph=flag) for flag in (True, False)]
        result, detached = (r[1] if with_v else r for r in results)
        assert result.requires_grad and not detached.requires_grad
        return result, lib.autograd.grad((result * result).sum(), x)[0]

    _both(run)


def test_strict_mode_refuses_an_independent_output():
    for lib in (minitorch, torch):
        with pytest.raises(RuntimeError, match="independent of input 1"):
            lib.autograd.functional.vjp(
                lambda x, y: x.sum(), (lib.ones(2), lib.ones(2)), strict=True
            )


def test_forward_mode_and_unknown_strategies_are_refused():
    jacobian = minitorch.autograd.functional.jacobian
    with pytest.raises(ValueError, match="Expected strategy"):  # torch: an assert
        jacobian(lambda x: x, minitorch.ones(2), strategy="x")
    with pytest.raises(NotImplementedError, match='strategy="forward-mode" is not supported'):
        jacobian(lambda x: x, minitorch.ones(2), strategy="forward-mode", vectorize=True)


@pytest.mark.parametrize(
    "call, error, message",
    [
        (
            lambda lib: lib.autograd.functional.vjp(lambda x: x * 2, lib.ones(2)),
            RuntimeError,
            "v can only be None",
        ),
        (
            lambda lib: lib.autograd.functional.vjp(lambda x: x * 2, lib.ones(2), lib.ones(3)),
            RuntimeError,
            "has invalid size: should be",
        ),
        (
            lambda lib: lib.autograd.functional.jacobian(lambda x: x, [1.0]),
            TypeError,
            "must be either a Tensor or a tuple of Tensors",
        ),
        (
            lambda lib: lib.autograd.functional.jacobian(lambda x: 1.0, lib.ones(2)),
            TypeError,
            "outputs of the user-provided function",
        ),
        (
            lambda lib: lib.autograd.functional.hessian(lambda x: x * 2, lib.ones(2)),
            RuntimeError,
            "should contain a single element",
        ),
        (
            lambda lib: lib.func.grad(lambda x: x * 2)(lib.ones(2)),
            RuntimeError,
            "Expected f\\(\\*args\\) to return a scalar Tensor, got tensor with 1 dims",
        ),
        (
            lambda lib: lib.func.grad(lambda x: x.sum(), argnums=1)(lib.ones(2)),
            RuntimeError,
            "Got argnum=1, but only 1 positional inputs",
        ),
        (
            lambda lib: lib.func.grad(lambda x: x.sum(), has_aux=True)(lib.ones(2)),
            RuntimeError,
            "should be a tuple: \\(output, aux\\)",
        ),
    ],
)
def test_errors_match_torch(call, error, message):
    for lib in (minitorch, torch):
        with pytest.raises(error, match=message):
            call(lib)


@pytest.mark.parametrize(
    "run",
    [
        lambda lib, x, y, v: lib.func.grad(scalar)(x, y),
        lambda lib, x, y, v: lib.func.grad(scalar, argnums=(0, 1))(x, y),
        lambda lib, x, y, v: lib.func.grad_and_value(scalar, argnums=1)(x, y),
        lambda lib, x, y, v: lib.func.grad(lambda x: (scalar(x, y), x.exp()), has_aux=True)(x),
        lambda lib, x, y, v: lib.func.grad_and_value(lambda x: (x.sum(), x * 2), has_aux=True)(x),
        lambda lib, x, y, v: lib.func.jacrev(two_outputs, argnums=(0, 1))(x, y),
        lambda lib, x, y, v: lib.func.jacrev(lambda x: x.exp() * x.sum())(x),
        lambda lib, x, y, v: lib.func.jacrev(two_outputs, argnums=1)(x, y),
        lambda lib, x, y, v: lib.func.hessian(scalar)(x, y),
        lambda lib, x, y, v: lib.func.hessian(scalar, argnums=(0, 1))(x, y),
        # nested: the gradient of a gradient's sum, and a gradient of a gradient's entry
        lambda lib, x, y, v: lib.func.grad(lambda x: lib.func.grad(scalar)(x, y).sum())(x),
        lambda lib, x, y, v: lib.func.grad(lambda y: lib.func.grad(scalar)(x, y)[0, 1])(y),
    ],
)
def test_func_transforms_match_torch(run):
    _both(run)


def test_func_vjp_matches_torch():
    def run(lib, x, y, v):
        out, vjp_fn, aux = lib.func.vjp(
            lambda x, y: (two_outputs(x, y), x.sum()), x, y, has_aux=True
        )
        assert not out[0].requires_grad and not aux.requires_grad
        grads = vjp_fn((y, x[:, 0]))
        assert isinstance(grads, tuple) and len(grads) == 2 and not grads[0].requires_grad
        return out, aux, grads, vjp_fn((y * 2, x[:, 1]))  # vjp_fn can be called again

    _both(run)


def test_func_results_keep_the_graph_of_outside_tensors_only():
    """A result that depends on a tensor requiring grad outside the transform (a weight the
    function closes over, an argument) keeps its graph; one that does not is detached."""

    def run(lib, x, y, v):
        w = y.clone().requires_grad_()
        g = lib.func.grad(lambda x: ((x * w).sum(1) ** 2).sum())(x)
        assert g.requires_grad
        plain = lib.func.grad(lambda x: (x**3).sum())(x)
        assert not plain.requires_grad and plain.grad_fn is None
        x = x.clone().requires_grad_()
        h = lib.func.grad(lambda x: (x**3).sum())(x)
        assert h.requires_grad
        return g, lib.autograd.grad(g.sum(), w)[0], lib.autograd.grad(h.sum(), x)[0]

    _both(run)
