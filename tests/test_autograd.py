"""Autograd: backward, accumulation, graphs kept or freed, higher order, grad modes, hooks,
custom Functions, gradcheck, anomaly detection and the in-place/version-counter rules."""

import minitorch as mt  # noqa: I001  (numba before torch)
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from minitorch import autograd

from op_table import ROWS
from strategies import TensorArg


def arr(t):
    return np.asarray(t.detach()._data)


def close(t, expected, **kw):
    np.testing.assert_allclose(arr(t), np.asarray(expected, dtype=np.float64), rtol=1e-5, **kw)


# ---- backward ------------------------------------------------------------------------------
def test_scalar_backward():
    x = mt.tensor([1.0, 2.0, 3.0], requires_grad=True)
    y = (x * x).sum()
    y.backward()
    close(x.grad, [2, 4, 6])
    assert x.grad.dtype is mt.float32 and x.grad.shape == x.shape
    assert not x.grad.requires_grad


def test_non_scalar_backward_needs_gradient():
    x = mt.tensor([1.0, 2.0], requires_grad=True)
    y = x * 3
    with pytest.raises(RuntimeError, match="scalar outputs"):
        y.backward()
    y.backward(mt.tensor([1.0, 10.0]))
    close(x.grad, [3, 30])


def test_gradient_shape_must_match():
    x = mt.tensor([1.0, 2.0], requires_grad=True)
    with pytest.raises(RuntimeError, match="shape"):
        (x * 2).backward(mt.ones(3))


def test_grads_accumulate_until_zeroed():
    x = mt.tensor([1.0, 2.0], requires_grad=True)
    (x * 2).sum().backward()
    (x * x).sum().backward()
    close(x.grad, [2 + 2, 2 + 4])
    x.grad.zero_()
    (x * 5).sum().backward()
    close(x.grad, [5, 5])
    x.grad = None
    (x * 1).sum().backward()
    close(x.grad, [1, 1])


def test_shared_subexpression_and_broadcast_gradients():
    x = mt.tensor([[1.0], [2.0]], requires_grad=True)  # (2, 1)
    b = mt.tensor([1.0, 2.0, 3.0], requires_grad=True)  # (3,)
    y = x * b  # (2, 3)
    z = (y + y * y).sum()
    z.backward()
    xs, bs = np.array([[1.0], [2.0]]), np.array([1.0, 2.0, 3.0])
    close(x.grad, ((1 + 2 * xs * bs) * bs).sum(1, keepdims=True))
    close(b.grad, ((1 + 2 * xs * bs) * xs).sum(0))


def test_only_float_tensors_can_require_grad():
    with pytest.raises(RuntimeError, match="floating point"):
        mt.tensor([1, 2], requires_grad=True)
    x = mt.tensor([1.0], requires_grad=True)
    assert not x.long().requires_grad  # integer results carry no gradient
    assert not (x > 0).requires_grad
    assert not x.argmax().requires_grad


def test_backward_without_any_grad_raises():
    with pytest.raises(RuntimeError, match="does not require grad"):
        mt.tensor([1.0]).sum().backward()


def test_long_chain_does_not_hit_recursion_limit():
    x = mt.tensor([1.0], requires_grad=True)
    y = x
    for _ in range(3000):
        y = y * 1.0
    y.sum().backward()
    close(x.grad, [1.0])


# ---- retain_graph / create_graph -----------------------------------------------------------
def test_second_backward_needs_retain_graph():
    x = mt.tensor([1.0, 2.0], requires_grad=True)
    y = x.exp().sum()
    y.backward(retain_graph=True)
    y.backward()  # allowed: the graph was kept
    close(x.grad, 2 * np.exp([1.0, 2.0]))
    with pytest.raises(RuntimeError, match="retain_graph=True"):
        y.backward()


def test_higher_order_gradients_of_cube():
    x = mt.tensor([1.0, 2.0, -3.0], requires_grad=True)
    y = (x**3).sum()
    (g,) = autograd.grad(y, x, create_graph=True)
    close(g, 3 * np.array([1.0, 4.0, 9.0]))
    assert g.requires_grad
    (g2,) = autograd.grad(g.sum(), x, create_graph=True)
    close(g2, 6 * np.array([1.0, 2.0, -3.0]))  # d2/dx2 x^3 = 6x
    (g3,) = autograd.grad(g2.sum(), x)
    close(g3, [6, 6, 6])


def test_create_graph_backward_accumulates_differentiable_grad():
    x = mt.tensor([2.0], requires_grad=True)
    (x**3).sum().backward(create_graph=True)
    assert x.grad.requires_grad
    close(x.grad, [12.0])
    grad_of_grad = autograd.grad(x.grad.sum(), x)[0]
    close(grad_of_grad, [12.0])  # 6x


def test_autograd_grad_leaves_dot_grad_alone():
    x = mt.tensor([1.0, 2.0], requires_grad=True)
    w = mt.tensor([3.0, 4.0], requires_grad=True)
    y = (x * w).sum()
    gx, gw = autograd.grad(y, [x, w])
    close(gx, [3, 4])
    close(gw, [1, 2])
    assert x.grad is None and w.grad is None
    y2 = (x * 2).sum()
    with pytest.raises(RuntimeError, match="allow_unused"):
        autograd.grad(y2, [x, w])
    y3 = (x * 2).sum()
    gx, gw = autograd.grad(y3, [x, w], allow_unused=True)
    assert gw is None
    close(gx, [2, 2])
    y4 = (x * x).sum()
    (g,) = autograd.grad(y4, x, grad_outputs=mt.tensor(0.5))
    close(g, [1, 2])


def test_grad_of_intermediate():
    x = mt.tensor([1.0, 2.0], requires_grad=True)
    h = x * 3
    y = (h * h).sum()
    (gh,) = autograd.grad(y, h)
    close(gh, [6, 12])


def test_backward_inputs_argument():
    x = mt.tensor([1.0], requires_grad=True)
    w = mt.tensor([2.0], requires_grad=True)
    (x * w).sum().backward(inputs=[w])
    assert x.grad is None
    close(w.grad, [1.0])


# ---- grad modes ----------------------------------------------------------------------------
def test_no_grad_and_enable_grad_contexts():
    x = mt.tensor([1.0], requires_grad=True)
    with mt.no_grad():
        y = x * 2
        assert not mt.is_grad_enabled()
        with mt.enable_grad():
            z = x * 2
    assert mt.is_grad_enabled()
    assert not y.requires_grad and y.grad_fn is None
    assert z.requires_grad


def test_grad_modes_as_decorators():
    x = mt.tensor([1.0], requires_grad=True)

    @mt.no_grad()
    def f(t):
        return t * 2

    @mt.enable_grad()
    def g(t):
        return t * 2

    @mt.inference_mode()
    def h(t):
        return t * 2

    @mt.no_grad
    def bare(t):
        return t * 2

    @mt.inference_mode
    def bare_inference(t):
        return t * 2

    @mt.inference_mode(False)
    def grads_on(t):
        return t * 2

    @mt.set_grad_enabled(False)
    def off(t):
        return t * 2

    assert mt.is_grad_enabled()  # decorating changed nothing outside
    assert not f(x).requires_grad
    assert f.__name__ == "f"  # functools.wraps
    with mt.no_grad():
        assert g(x).requires_grad
        assert grads_on(x).requires_grad
    assert not h(x).requires_grad
    assert not bare(x).requires_grad and bare.__name__ == "bare"
    assert not off(x).requires_grad and not bare_inference(x).requires_grad
    assert (x * 2).requires_grad
    assert mt.is_grad_enabled()


def test_set_grad_enabled_and_inference_mode():
    x = mt.tensor([1.0], requires_grad=True)
    with mt.set_grad_enabled(False):
        assert not (x * 2).requires_grad
    assert mt.is_grad_enabled()
    mt.set_grad_enabled(False)
    try:
        assert not (x * 2).requires_grad
    finally:
        mt.set_grad_enabled(True)
    assert (x * 2).requires_grad
    with mt.inference_mode():
        assert not (x * 2).requires_grad
    with mt.inference_mode(False):
        assert (x * 2).requires_grad


def test_grad_mode_restored_after_exception():
    with pytest.raises(ValueError):
        with mt.no_grad():
            raise ValueError("boom")
    assert mt.is_grad_enabled()


# ---- leaves, detach ------------------------------------------------------------------------
def test_requires_grad_detach_is_leaf():
    x = mt.zeros(2)
    assert x.is_leaf and not x.requires_grad
    assert x.requires_grad_() is x and x.requires_grad
    y = x * 2
    assert not y.is_leaf and y.grad_fn is not None
    assert y.grad_fn.name() == "MulBackward0"
    d = y.detach()
    assert d.is_leaf and not d.requires_grad and np.shares_memory(d._data, y._data)
    assert y.detach_() is y and y.is_leaf and not y.requires_grad
    with pytest.raises(RuntimeError, match="leaf"):
        (x * 2).requires_grad_(False)
    x.requires_grad_(False)
    assert not (x * 2).requires_grad


def test_grad_of_non_leaf_is_not_kept_unless_retained():
    x = mt.tensor([1.0, 2.0], requires_grad=True)
    h = x * 2
    k = x * 3
    k.retain_grad()
    assert k.retains_grad and not h.retains_grad
    (h * k).sum().backward()
    assert h.grad is None
    close(k.grad, arr(h))
    close(x.grad, 2 * arr(k) + 3 * arr(h))


# ---- hooks ---------------------------------------------------------------------------------
def test_register_hook_can_modify_and_be_removed():
    x = mt.tensor([1.0, 2.0], requires_grad=True)
    seen = []
    handle = x.register_hook(lambda g: seen.append(arr(g).copy()) or g * 10)
    (x * 3).sum().backward()
    close(x.grad, [30, 30])
    np.testing.assert_allclose(seen[0], [3, 3])
    handle.remove()
    x.grad = None
    (x * 3).sum().backward()
    close(x.grad, [3, 3])


def test_hook_on_intermediate_changes_upstream_gradient():
    x = mt.tensor([1.0, 2.0], requires_grad=True)
    h = x * 2
    h.register_hook(lambda g: g * 0.5)
    (h * h).sum().backward()
    close(x.grad, 2 * 0.5 * 2 * arr(h))
    with pytest.raises(RuntimeError):
        mt.zeros(1).register_hook(lambda g: g)


# ---- custom Function -----------------------------------------------------------------------
class Cube(autograd.Function):
    @staticmethod
    def forward(ctx, x, scale):
        ctx.save_for_backward(x)
        ctx.scale = scale
        return x * x * x * scale

    @staticmethod
    def backward(ctx, grad):
        (x,) = ctx.saved_tensors
        return grad * 3 * x * x * ctx.scale, None


def test_function_forward_backward_and_ctx():
    x = mt.tensor([1.0, 2.0], requires_grad=True)
    y = Cube.apply(x, 2.0)
    close(y, [2, 16])
    assert y.requires_grad and not y.is_leaf
    y.sum().backward()
    close(x.grad, [6, 24])


def test_function_needs_input_grad_and_no_grad_inputs():
    seen = {}

    class Mul(autograd.Function):
        @staticmethod
        def forward(ctx, a, b):
            seen["needs"] = ctx.needs_input_grad
            ctx.save_for_backward(a, b)
            return a * b

        @staticmethod
        def backward(ctx, grad):
            a, b = ctx.saved_tensors
            ga = grad * b if ctx.needs_input_grad[0] else None
            gb = grad * a if ctx.needs_input_grad[1] else None
            return ga, gb

    a = mt.tensor([2.0], requires_grad=True)
    b = mt.tensor([5.0])
    out = Mul.apply(a, b)
    assert seen["needs"] == (True, False)
    out.sum().backward()
    close(a.grad, [5.0])
    assert b.grad is None
    assert not Mul.apply(b, b).requires_grad  # nothing requires grad: no graph


def test_function_mark_non_differentiable():
    class SortWithIndex(autograd.Function):
        @staticmethod
        def forward(ctx, x):
            values, idx = x.sort()
            ctx.mark_non_differentiable(idx)
            ctx.save_for_backward(idx)
            return values, idx

        @staticmethod
        def backward(ctx, grad_values, grad_idx=None):
            (idx,) = ctx.saved_tensors
            return mt.zeros_like(grad_values).scatter(0, idx, grad_values)

    x = mt.tensor([3.0, 1.0, 2.0], requires_grad=True)
    values, idx = SortWithIndex.apply(x)
    assert values.requires_grad and not idx.requires_grad
    (values * mt.tensor([1.0, 2.0, 3.0])).sum().backward()
    close(x.grad, [3.0, 1.0, 2.0])


def test_function_saved_tensor_modified_in_place_is_caught():
    x = mt.tensor([1.0, 2.0], requires_grad=True)
    h = x * 1
    y = Cube.apply(h, 1.0)
    h.add_(1)
    with pytest.raises(RuntimeError, match="modified by an inplace operation"):
        y.sum().backward()


def test_function_wrong_number_of_grads():
    class Bad(autograd.Function):
        @staticmethod
        def forward(ctx, a, b):
            return a + b

        @staticmethod
        def backward(ctx, grad):
            return grad

    a, b = mt.ones(1, requires_grad=True), mt.ones(1, requires_grad=True)
    with pytest.raises(RuntimeError, match="incorrect number of gradients"):
        Bad.apply(a, b).sum().backward()


# ---- gradcheck -----------------------------------------------------------------------------
def test_gradcheck_passes_for_correct_gradients():
    x = mt.tensor(np.random.default_rng(0).standard_normal((3, 2)), requires_grad=True)
    w = mt.tensor(np.random.default_rng(1).standard_normal((2, 4)), requires_grad=True)
    assert x.dtype is mt.float64
    assert autograd.gradcheck(lambda a, b: (a @ b).tanh(), (x, w))
    assert autograd.gradcheck(lambda a: Cube.apply(a, 0.5), (x,))
    assert autograd.gradgradcheck(lambda a: (a**3).sum(), (x,))


def test_gradcheck_catches_a_wrong_gradient():
    class WrongExp(autograd.Function):
        @staticmethod
        def forward(ctx, x):
            ctx.save_for_backward(x)
            return x.exp()

        @staticmethod
        def backward(ctx, grad):
            (x,) = ctx.saved_tensors
            return grad * x.exp() * 1.1

    x = mt.tensor([0.5, -0.2], dtype=mt.float64, requires_grad=True)
    with pytest.raises(RuntimeError, match="Jacobian mismatch"):
        autograd.gradcheck(WrongExp.apply, (x,))
    assert autograd.gradcheck(WrongExp.apply, (x,), raise_exception=False) is False


# ---- gradients of slices (chunk/split) ------------------------------------------------------
def _ops_during(fn):
    """Names of the ops fn runs (the tracer's hook on the registry)."""
    from minitorch.ops import registry  # noqa: PLC0415

    names, before = [], registry.recorder[0]
    registry.recorder[0] = lambda op, inputs, params, outs: names.append(op.name)
    try:
        fn()
    finally:
        registry.recorder[0] = before
    return names


@pytest.mark.parametrize("used", [(1, 2, 3), (1, 0, 3), (0, 0, 3), (2, 0, 0)])
def test_chunk_gradients_are_one_cat_with_zeros_for_unused_chunks(used):
    rng = np.random.default_rng(0)
    x0 = rng.standard_normal((2, 3, 12)).astype(np.float32)
    x = mt.tensor(x0, requires_grad=True)
    chunks = (x * 2).chunk(3, dim=-1)
    loss = sum((c * c * w).sum() for c, w in zip(chunks, used) if w)
    names = _ops_during(loss.backward)
    assert "cat" in names and "index_put" not in names
    expected = np.concatenate([8 * x0[..., 4 * i : 4 * i + 4] * w for i, w in enumerate(used)], -1)
    close(x.grad, expected)


def test_slice_gradients_mixed_with_dense_overlapping_and_on_leaves():
    rng = np.random.default_rng(1)
    x0 = rng.standard_normal((6, 4))
    x = mt.tensor(x0, requires_grad=True)
    a, b = x.split([2, 4])  # of a leaf: merged at the leaf
    (a.sum() * 2 + (b * b).sum() + x[1:3].sum() + (x * 3).sum()).backward()  # overlaps a, b
    expected = np.full((6, 4), 3.0)
    expected[:2] += 2
    expected[2:] += 2 * x0[2:]
    expected[1:3] += 1
    close(x.grad, expected)
    y = mt.tensor(x0, requires_grad=True)
    (y[:, 1:3].sum() + y[2:4].sum() + y[::2].sum()).backward()  # other dims, steps: index_put
    expected = np.zeros((6, 4))
    expected[:, 1:3] += 1
    expected[2:4] += 1
    expected[::2] += 1
    close(y.grad, expected)


def test_slice_gradients_double_backward():
    x = mt.tensor(np.random.default_rng(2).standard_normal((2, 6)), requires_grad=True)

    def chunked(a):
        q, k, v = (a * a).chunk(3, dim=-1)
        return (q * k).sum() + (v[:, :1] ** 3).sum()

    assert autograd.gradcheck(chunked, (x,))
    assert autograd.gradgradcheck(chunked, (x,))


# ---- anomaly detection ---------------------------------------------------------------------
def test_detect_anomaly_names_the_op_that_made_nan():
    x = mt.tensor([0.0, 1.0], requires_grad=True)
    y = x.sqrt() * 0  # d sqrt at 0 is inf; times 0 -> nan in SqrtBackward
    with autograd.detect_anomaly():
        assert autograd.is_anomaly_enabled()
        with pytest.raises(RuntimeError, match="SqrtBackward0"):
            y.sum().backward()
    assert not autograd.is_anomaly_enabled()
    x2 = mt.tensor([0.0], requires_grad=True)
    (x2.sqrt() * 0).sum().backward()  # without detection: silently nan
    assert np.isnan(arr(x2.grad)).all()


# ---- in-place rules ------------------------------------------------------------------------
def test_inplace_on_leaf_requiring_grad_raises():
    x = mt.tensor([1.0, 2.0], requires_grad=True)
    with pytest.raises(RuntimeError, match="leaf Variable"):
        x.add_(1)
    with pytest.raises(RuntimeError, match="leaf Variable"):
        x += 1
    with pytest.raises(RuntimeError, match="leaf Variable"):
        x[0] = 5.0
    with pytest.raises(RuntimeError, match="leaf Variable"):
        x[:1].mul_(2)
    with mt.no_grad():  # how optimizers update parameters
        x.sub_(0.5)
        x[1] = 0.0
    close(x, [0.5, 0.0])
    assert x.is_leaf and x.requires_grad


def test_modifying_a_saved_tensor_is_caught_at_backward():
    x = mt.tensor([1.0, 2.0], requires_grad=True)
    h = x * 2
    y = h * h  # saves h
    h.add_(1)
    with pytest.raises(RuntimeError, match="modified by an inplace operation") as err:
        y.sum().backward()
    assert "MulBackward0" in str(err.value) and "version" in str(err.value)


def test_modifying_a_saved_output_is_caught():
    x = mt.tensor([1.0, 2.0], requires_grad=True)
    y = x.exp()  # exp's backward reads its output
    y.mul_(2)
    with pytest.raises(RuntimeError, match="ExpBackward0"):
        y.sum().backward()


def test_inplace_on_unsaved_tensor_is_fine():
    x = mt.tensor([1.0, 2.0], requires_grad=True)
    h = x * 2
    y = h + 1  # add saves nothing
    h.add_(5)
    y.sum().backward()
    close(x.grad, [2, 2])


def test_inplace_on_a_tensor_only_an_unneeded_gradient_reads_is_fine():
    """x * 2 and x / 3 keep no x for backward (x's gradient reads the number), as in PyTorch:
    h[:, 1:3] = h[:, 1:3] * 2 then backward works; x * w with w requiring grad keeps x."""
    x = mt.tensor([1.0, 2.0], requires_grad=True)
    h = x * 1
    y = h * 2 + h / 4
    h.add_(5)
    y.sum().backward()
    close(x.grad, [2.25, 2.25])
    lin = mt.nn.Linear(3, 3)
    h = lin(mt.ones(2, 3))
    h[:, 1:3] = h[:, 1:3] * 2
    h.sum().backward()
    close(lin.bias.grad, [2.0, 4.0, 4.0])
    w = mt.ones(2, requires_grad=True)
    h = x * 1
    y = h * w  # w's gradient reads h
    h.add_(1)
    with pytest.raises(RuntimeError, match="MulBackward0"):
        y.sum().backward()


def test_inplace_on_non_leaf_has_right_gradient():
    x = mt.tensor([1.0, 2.0, 3.0], requires_grad=True)
    y = x * 2  # 2x
    y.mul_(x)  # 2x^2
    y.add_(1)  # 2x^2 + 1
    y.pow_(2)  # (2x^2 + 1)^2
    assert not y.is_leaf and y.requires_grad
    y.sum().backward()
    xs = np.array([1.0, 2.0, 3.0])
    close(x.grad, 2 * (2 * xs**2 + 1) * 4 * xs)


def test_inplace_through_view_of_non_leaf():
    x = mt.tensor([1.0, 2.0, 3.0, 4.0], requires_grad=True)
    y = x * 1
    y[1:3] *= 10  # view in-place, then written back
    y[0].mul_(x[3])  # 0-d view in-place
    y.view(2, 2)[1, 1] = 0.0  # setitem through a reshaped view
    y.sum().backward()
    close(y, [4.0, 20.0, 30.0, 0.0])
    close(x.grad, [4.0, 10.0, 10.0, 1.0])  # x[3] reaches y[0] = x0*x3


def test_setitem_with_grad_values():
    w = mt.tensor([1.0, 2.0], requires_grad=True)
    buf = mt.zeros(2, 2)
    buf[0] = w * 3
    buf[1, 1] = w[0]
    assert buf.requires_grad and not buf.is_leaf
    (buf * mt.tensor([[1.0, 2.0], [3.0, 4.0]])).sum().backward()
    close(w.grad, [3 * 1 + 4, 3 * 2])


def test_version_counter_counts_writes():
    x = mt.zeros(3)
    v = x[1:]
    assert x._version == 0
    x.add_(1)
    v.mul_(2)
    x[0] = 3
    x.copy_(mt.ones(3))
    assert x._version == v._version == 4
    x.detach().zero_()  # detach shares the counter too
    assert x._version == 5


# ---- gradcheck of every differentiable op-table row ---------------------------------------
GRAD_ROWS = [r for r in ROWS if r.grad]


@pytest.mark.parametrize("row", GRAD_ROWS, ids=lambda r: r.name)
def test_gradcheck_op_table(row):
    """float64 finite differences against autograd for each differentiable row: random shapes
    (broadcasting, 0-d), non-contiguous inputs (the views are part of the checked function, so
    gradients flow back through permute/slice/expand to the contiguous leaves)."""

    @settings(max_examples=4)
    @given(data=st.data())
    def check(data):
        case = data.draw(row.build((np.float64,) * row.n_data, grad=True), label="case")
        leaves = [
            a.leaf(mt, requires_grad=a.dtype.kind == "f") if isinstance(a, TensorArg) else a
            for a in case.args
        ]

        def fn(*xs):
            args = [a.view(x) if isinstance(a, TensorArg) else x for a, x in zip(case.args, xs)]
            return row.fn(mt, *args, **case.params)

        assert any(isinstance(x, mt.Tensor) and x.requires_grad for x in leaves)
        assert autograd.gradcheck(fn, leaves, **{"atol": 1e-6, **row.grad_kw})

    check()


@pytest.mark.parametrize("row", GRAD_ROWS, ids=lambda r: r.name)
def test_gradgradcheck_op_table(row):
    """Backward rules are written with ops, so they are differentiable: check second order."""

    @settings(max_examples=2)
    @given(data=st.data())
    def check(data):
        case = data.draw(row.build((np.float64,) * row.n_data, grad=True), label="case")
        leaves = [
            a.leaf(mt, requires_grad=a.dtype.kind == "f") if isinstance(a, TensorArg) else a
            for a in case.args
        ]

        def fn(*xs):
            args = [a.view(x) if isinstance(a, TensorArg) else x for a, x in zip(case.args, xs)]
            out = row.fn(mt, *args, **case.params)
            outs = out if isinstance(out, tuple) else (out,)
            return sum((o * o).sum() for o in outs if o.dtype.is_floating_point)

        assert autograd.gradgradcheck(fn, leaves, **{"atol": 1e-5, **row.grad_kw})

    check()


@pytest.mark.parametrize("dim", [None, 1])
def test_prod_gradient_where_inputs_are_zero(dim):
    """The gradient at a slice's only zero is the product of the others; with two zeros in a
    slice every element's gradient is 0 (as PyTorch; out / x would give nan there)."""
    x = np.array([[2.0, 0.0, 3.0], [0.0, 0.0, 5.0], [1.0, 2.0, 4.0]])
    t = mt.tensor(x, requires_grad=True)
    (t.prod() if dim is None else t.prod(dim)).sum().backward()
    if dim is None:  # two zeros in the whole tensor
        want = np.zeros_like(x)
    else:
        want = np.array([[0.0, 6.0, 0.0], [0.0, 0.0, 0.0], [8.0, 4.0, 2.0]])
    np.testing.assert_array_equal(t.grad.numpy(), want)


def test_post_accumulate_grad_hooks_run_after_the_gradient_is_stored():
    """An optimizer per parameter, stepped from the hook (PyTorch's optimizer-in-backward)."""
    w = mt.tensor([1.0, 2.0], requires_grad=True)
    seen = []
    handle = w.register_post_accumulate_grad_hook(lambda p: seen.append(p.grad.tolist()))
    (w * 3).sum().backward()
    (w * 2).sum().backward()
    assert seen == [[3.0, 3.0], [5.0, 5.0]]
    handle.remove()
    (w * 2).sum().backward()
    assert len(seen) == 2
    with pytest.raises(RuntimeError, match="non-leaf"):
        (w * 2).register_post_accumulate_grad_hook(print)
