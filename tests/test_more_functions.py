"""Parity with PyTorch for arranging (splits, stacks, atleast_nd, diag_embed, block_diag,
combinations, rot90, tril/triu_indices), numeric compositions (var_mean, isin, cross, cov,
trapezoid, ...), scatter_reduce and unique_consecutive: values, shapes, dtypes, gradients and
exception types.

NOTE: minitorch (numba) is imported before torch: torch loading LLVM first can crash numba.
"""

import minitorch  # noqa: I001  (before torch, see DESIGN.md)
import numba  # noqa: F401
import numpy as np
import pytest

from parity import check, raises_like_torch

torch = pytest.importorskip("torch")

rng = np.random.default_rng(7)


def f32(*shape):
    return rng.standard_normal(shape).astype(np.float32)


def f64(*shape):
    return rng.standard_normal(shape)


def ints(*shape, lo=0, hi=4):
    return rng.integers(lo, hi, shape).astype(np.int64)


def check_row(fn, *inputs, **kw):
    if inputs and isinstance(inputs[-1], dict):
        *inputs, extra = inputs
        kw = {**kw, **extra}
    out = check(fn, *inputs, lib=fn.__code__.co_varnames[0] == "t", **kw)
    assert not isinstance(out, BaseException), f"both libraries raised: {out}"
    return out


ARRANGING = {
    "tril_indices": (lambda t: t.tril_indices(3, 4),),
    "tril_indices_offset": (lambda t: t.tril_indices(4, 3, -1),),
    "tril_indices_empty": (lambda t: t.tril_indices(0, 3, 2),),
    "triu_indices_offset": (lambda t: t.triu_indices(3, 5, 2, dtype=t.int32),),
    "triu_indices_negative": (lambda t: t.triu_indices(4, 4, -2),),
    "broadcast_shapes": (lambda t: tuple(t.broadcast_shapes((2, 1), (3,), 1, (1, 1, 3))),),
    "broadcast_shapes_empty": (lambda t: tuple(t.broadcast_shapes((0, 1), ())),),
    "tensor_split_sections": (lambda t, x: t.tensor_split(x, 3, dim=1), f32(2, 7)),
    "tensor_split_more_sections": (lambda t, x: t.tensor_split(x, 5), f32(3)),
    "tensor_split_indices": (lambda t, x: x.tensor_split([1, -2, 9], dim=-1), f32(2, 6)),
    "tensor_split_tensor": (lambda t, x: t.tensor_split(x, t.tensor([2, 2])), f32(5, 2)),
    "tensor_split_empty": (lambda t, x: t.tensor_split(x, 2), f32(0, 3)),
    "hsplit_1d": (lambda t, x: t.hsplit(x, 2), f32(6)),
    "hsplit_2d": (lambda t, x: x.hsplit([1, 3]), f32(2, 5)),
    "vsplit": (lambda t, x: t.vsplit(x, 2), f32(4, 3)),
    "dsplit": (lambda t, x: x.dsplit(3), f32(1, 2, 6)),
    "column_stack": (lambda t, x, y, z: t.column_stack([x, y, z]), f32(3), f32(3, 2), f32(3)),
    "row_stack": (lambda t, x, y: t.row_stack([x, y]), f32(3), f32(2, 3)),
    "dstack": (lambda t, x, y, z: t.dstack([x, y, z]), f32(1, 3), f32(3), f32(1, 3, 2)),
    "atleast_1d": (lambda t, x: t.atleast_1d(x), f32()),
    "atleast_2d": (lambda t, x, y, z: t.atleast_2d(x, y, z), f32(), f32(3), f32(2, 2, 2)),
    "atleast_3d_list": (lambda t, x, y, z: t.atleast_3d([x, y, z]), f32(), f32(3), f32(2, 4)),
    "diag_embed": (lambda t, x: t.diag_embed(x), f32(2, 3)),
    "diag_embed_offset": (lambda t, x: x.diag_embed(-1, 0, 2), f32(2, 3)),
    "diag_embed_dims": (lambda t, x: t.diag_embed(x, 2, dim1=-1, dim2=0), f32(4)),
    "diagflat": (lambda t, x: t.diagflat(x), f32(2, 2)),
    "diagflat_offset": (lambda t, x: x.diagflat(-2), f32(3)),
    "block_diag": (lambda t, x, y, z: t.block_diag(x, y, z), f32(2, 3), f32(), f32(2)),
    "block_diag_dtypes": (lambda t, x, y: t.block_diag(x, y), ints(2, 2), f64(1, 3)),
    "block_diag_none": (lambda t: t.block_diag(),),
    "block_diag_empty_block": (lambda t, x, y: t.block_diag(x, y), f32(0, 2), f32(2, 1)),
    "cartesian_prod": (lambda t, x, y, z: t.cartesian_prod(x, y, z), f32(2), f32(3), f32(2)),
    "cartesian_prod_one": (lambda t, x: t.cartesian_prod(x), f32(3)),
    "combinations": (lambda t, x: t.combinations(x), f32(4)),
    "combinations_r3": (lambda t, x: t.combinations(x, 3, with_replacement=True), f32(3)),
    "combinations_r1": (lambda t, x: t.combinations(x, r=1), f32(3)),
    "combinations_too_few": (lambda t, x: t.combinations(x, 3), f32(2)),
    "combinations_r0": (lambda t, x: t.combinations(x, 0), f32(3)),
    "rot90": (lambda t, x: t.rot90(x), f32(2, 3)),
    "rot90_k2": (lambda t, x: x.rot90(2, [1, 2]), f32(2, 3, 4)),
    "rot90_negative": (lambda t, x: t.rot90(x, -1, [-1, 0]), f32(2, 3, 4)),
    "rot90_k4": (lambda t, x: t.rot90(x, 4), f32(2, 3)),
}


@pytest.mark.parametrize("name", ARRANGING)
def test_arranging(name):
    check_row(*ARRANGING[name])


NUMERIC = {
    "var_mean": (lambda t, x: t.var_mean(x), f32(3, 4)),
    "var_mean_keepdim": (lambda t, x: t.var_mean(x, keepdim=True), f32(2, 3)),
    "var_mean_dim": (lambda t, x: t.var_mean(x, 1, keepdim=True), f32(3, 4)),
    "var_mean_correction": (lambda t, x: t.var_mean(x, (0, -1), correction=0), f32(2, 3, 4)),
    "var_mean_unbiased": (lambda t, x: t.var_mean(x, False), f32(5)),
    "var_mean_unbiased_dim": (lambda t, x: t.var_mean(x, 0, False, True), f32(5, 2)),
    "std_mean": (lambda t, x: t.std_mean(x, dim=-1), f64(3, 4)),
    "std_mean_unbiased": (lambda t, x: t.std_mean(x, 0, unbiased=False), f32(4, 2)),
    "isin": (lambda t, x, y: t.isin(x, y), ints(3, 4, hi=8), ints(5, hi=8)),
    "isin_invert": (lambda t, x, y: t.isin(x, y, invert=True), ints(6, hi=8), ints(2, 2, hi=8)),
    "isin_scalar": (lambda t, x: t.isin(x, 2), ints(5)),
    "isin_scalar_elements": (lambda t, y: t.isin(3, y), ints(5)),
    "isin_empty": (lambda t, x, y: t.isin(x, y), ints(3), ints(0)),
    "isin_float_nan": (
        lambda t, x, y: t.isin(x, y),
        np.array([1.0, np.nan, 2.5], np.float32),
        np.array([np.nan, 2.5], np.float32),
    ),
    "isin_mixed_dtypes": (lambda t, x, y: t.isin(x, y), ints(4), np.array([1.0, 2.5])),
    "msort": (lambda t, x: t.msort(x), f32(4, 3)),
    "inner": (lambda t, x, y: t.inner(x, y), f32(2, 3), f32(4, 3)),
    "inner_1d": (lambda t, x, y: x.inner(y), f32(3), f32(3)),
    "inner_scalar": (lambda t, x, y: t.inner(x, y), f32(), f32(2, 3)),
    "cross": (lambda t, x, y: t.cross(x, y, dim=1), f32(2, 3), f32(2, 3)),
    "cross_negative_dim": (lambda t, x, y: x.cross(y, -2), f32(4, 3, 2), f32(4, 3, 2)),
    "linalg_cross_broadcast": (lambda t, x, y: t.linalg.cross(x, y), f32(2, 1, 3), f32(1, 4, 3)),
    "linalg_cross_dim": (lambda t, x, y: t.linalg.cross(x, y, dim=0), f64(3, 2), f64(3, 2)),
    # other takes no part in the gradient (PyTorch gives it zeros, minitorch None)
    "copysign": (lambda t, x: t.copysign(x, t.tensor([1.0, -2.0, -0.0, 0.0])), f32(3, 4)),
    "copysign_zeros": (
        lambda t, x: x.copysign(t.tensor([-0.0, 0.0, -1.0, np.inf])),
        np.array([1.0, -2.0, 0.0, 3.0], np.float32),
    ),
    "copysign_scalar": (lambda t, x: t.copysign(x, -1), f32(3)),
    "copysign_int": (lambda t, x, y: t.copysign(x, y), ints(4, lo=-3), ints(4, lo=-3)),
    "copysign_int_float": (lambda t, x: t.copysign(t.tensor([-1, 2]), x), f64(2), {"grad": False}),
    "heaviside": (  # PyTorch has no derivative for heaviside
        lambda t, x, y: t.heaviside(x, y),
        np.array([-1.0, 0.0, 2.0, 0.0], np.float32),
        np.array([0.5], np.float32),
        {"grad": False},
    ),
    "heaviside_int": (lambda t, x, y: x.heaviside(y), ints(5, lo=-2, hi=3), ints(5)),
    "logaddexp2": (lambda t, x, y: t.logaddexp2(x, y), f32(3, 4), f32(4)),
    "logaddexp2_large": (
        lambda t, x, y: x.logaddexp2(y),
        np.array([1000.0, -1000.0, 3.0]),
        np.array([999.0, -1000.0, 3.0]),
    ),
    "cov": (lambda t, x: t.cov(x), f32(3, 6)),
    "cov_1d": (lambda t, x: t.cov(x, correction=0), f64(5)),
    "cov_one_row": (lambda t, x: x.cov(), f32(1, 5)),
    "cov_int": (lambda t, x: t.cov(x), ints(2, 4)),
    "cov_fweights": (lambda t, x, w: t.cov(x, fweights=w), f64(2, 4), ints(4, lo=1)),
    "cov_aweights": (
        lambda t, x, w: t.cov(x, aweights=w),
        f64(3, 4),
        np.array([0.5, 1.0, 2.0, 0.25]),
    ),
    "cov_both_weights": (
        lambda t, x, f, a: t.cov(x, correction=2, fweights=f, aweights=a),
        f64(2, 5),
        ints(5, lo=1),
        np.array([0.5, 1.0, 2.0, 0.25, 3.0]),
    ),
    "corrcoef": (lambda t, x: t.corrcoef(x), f64(3, 5)),
    "corrcoef_1d": (lambda t, x: x.corrcoef(), f64(5)),
    "trapezoid": (lambda t, y: t.trapezoid(y), f32(3, 4)),
    "trapezoid_dx": (lambda t, y: t.trapezoid(y, dx=0.5, dim=0), f32(3, 4)),
    "trapezoid_x": (lambda t, y, x: t.trapezoid(y, x), f32(2, 4), f32(4)),
    "trapezoid_x_full": (lambda t, y, x: t.trapezoid(y, x, dim=0), f32(3, 2), f32(3, 2)),
    "trapezoid_int": (lambda t, y: t.trapezoid(y), ints(2, 3)),
    "trapezoid_empty": (lambda t, y: t.trapezoid(y), f32(2, 0)),
    "trapezoid_one": (lambda t, y: t.trapezoid(y, dim=0), f32(1, 3)),
    "cumulative_trapezoid": (lambda t, y: t.cumulative_trapezoid(y), f32(2, 5)),
    "cumulative_trapezoid_x": (
        lambda t, y, x: t.cumulative_trapezoid(y, x, dim=0),
        f32(4, 2),
        f32(4),
    ),
    "cumulative_trapezoid_dx": (lambda t, y: t.cumulative_trapezoid(y, dx=2), f64(3)),
}


@pytest.mark.parametrize("name", NUMERIC)
def test_numeric(name):
    check_row(*NUMERIC[name])


def test_cross_default_dim():
    with pytest.warns(UserWarning):
        check_row(lambda t, x, y: t.cross(x, y), f32(2, 3, 3), f32(2, 3, 3))


IDX = np.array([[0, 1, 0, 2], [2, 2, 0, 1]])
REDUCES = ["sum", "mean", "amax", "amin", "prod"]


@pytest.mark.parametrize("reduce", REDUCES)
@pytest.mark.parametrize("include_self", [True, False])
def test_scatter_reduce(reduce, include_self):
    x, src = f32(3, 5), f32(2, 4)
    check_row(
        lambda t, x, s: t.scatter_reduce(x, 0, t.tensor(IDX), s, reduce, include_self=include_self),
        x,
        src,
    )
    check_row(
        lambda t, x, s: x.scatter_reduce(-1, t.tensor(IDX), s, reduce, include_self=include_self),
        f32(2, 3),
        f32(2, 4),
    )
    # src larger than index: only its leading part is read (PyTorch's backward fails then)
    check_row(
        lambda t, x, s: x.scatter_reduce(-1, t.tensor(IDX), s, reduce, include_self=include_self),
        f32(3, 3),
        f32(3, 6),
        grad=False,
    )


@pytest.mark.parametrize("reduce", ["amax", "amin", "mean", "sum"])
def test_scatter_reduce_ties_share_gradient(reduce):
    x = np.array([1.0, 5.0, 3.0], np.float32)
    src = np.array([5.0, 2.0, 5.0, 3.0], np.float32)
    index = np.array([1, 0, 1, 2])
    for include_self in (True, False):
        check_row(
            lambda t, x, s: x.scatter_reduce(
                0, t.tensor(index), s, reduce, include_self=include_self
            ),
            x,
            src,
        )


@pytest.mark.parametrize("reduce", REDUCES)
def test_scatter_reduce_int(reduce):
    check_row(
        lambda t, x, s: x.scatter_reduce(1, t.tensor(IDX), s, reduce, include_self=False),
        ints(2, 3, lo=-5, hi=5),
        ints(2, 4, lo=-5, hi=5),
    )


def test_scatter_reduce_inplace():
    check_row(
        lambda t, x, s: x.clone().scatter_reduce_(0, t.tensor(IDX), s, "mean"),
        f32(3, 4),
        f32(2, 4),
    )
    check_row(
        lambda t, x, s: x.clone().scatter_reduce_(0, t.tensor(IDX), s, "amax", include_self=False),
        f32(3, 4),
        f32(2, 4),
    )


# zeros: one in self, one in src, two in src of one group, a zero in self and in src together
ZEROS_X = np.array(
    [[0.0, 1.5, -2.0, 0.7, 3.0], [1.2, 0.0, 0.5, 2.0, -1.0], [0.0, 2.0, 1.0, 0.3, 0.9]]
)
ZEROS_SRC = np.array([[0.0, -1.1, 0.8, 0.0], [0.0, 1.3, 0.0, 2.2]])


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("include_self", [True, False])
def test_scatter_reduce_prod_gradient_with_zeros(include_self, dtype):
    """PyTorch's prod gradient: each element gets the product of the rest of its group, a
    single zero included; with two zeros in a group every element of it gets 0."""
    for dim, x, src in ((0, ZEROS_X, ZEROS_SRC), (1, ZEROS_X[:2, :3], ZEROS_SRC)):
        check_row(
            lambda t, x, s, dim=dim: x.scatter_reduce(
                dim, t.tensor(IDX), s, "prod", include_self=include_self
            ),
            x.astype(dtype),
            src.astype(dtype),
        )
    # src larger than index: its leading part gets the gradient, the rest 0
    x = minitorch.tensor(ZEROS_X[:2, :3], requires_grad=True)
    src = minitorch.tensor(np.concatenate([ZEROS_SRC, ZEROS_SRC], 1), requires_grad=True)
    x.scatter_reduce(
        1, minitorch.tensor(IDX), src, "prod", include_self=include_self
    ).sum().backward()
    assert not src.grad.numpy()[:, 4:].any()


@pytest.mark.parametrize("include_self", [True, False])
def test_scatter_reduce_prod_second_derivative(include_self):
    """The gradient is itself differentiable (double backward, as PyTorch's, where no group
    holds two zeros of src)."""
    x = ZEROS_X.copy()
    src = np.array([[0.0, -1.1, 0.8, 1.7], [0.6, 1.3, 0.0, 2.2]])
    grads = []
    for lib in (minitorch, torch):
        xt, st = lib.tensor(x, requires_grad=True), lib.tensor(src, requires_grad=True)
        out = xt.scatter_reduce(0, lib.tensor(IDX), st, "prod", include_self=include_self)
        gx, gs = lib.autograd.grad((out * out).sum(), (xt, st), create_graph=True)
        ((gx * gx).sum() + (gs * gs).sum()).backward()
        grads.append([a.detach().numpy() for a in (gx, gs, xt.grad, st.grad)])
    for m, t in zip(*grads):
        np.testing.assert_allclose(m, t, rtol=1e-10, atol=1e-12)


UNIQUE = {
    "flat": (lambda t, x: t.unique_consecutive(x), np.array([1, 1, 2, 2, 3, 1, 1, 2])),
    "inverse_counts": (
        lambda t, x: t.unique_consecutive(x, return_inverse=True, return_counts=True),
        np.array([[1, 1, 2], [2, 2, 1]]),
    ),
    "counts_only": (lambda t, x: x.unique_consecutive(return_counts=True), ints(9)),
    "float": (lambda t, x: t.unique_consecutive(x), np.array([0.5, 0.5, -1.0, 0.5], np.float32)),
    "empty": (lambda t, x: t.unique_consecutive(x, return_inverse=True), ints(0)),
    "dim0": (
        lambda t, x: t.unique_consecutive(x, True, True, dim=0),
        np.array([[1, 2], [1, 2], [3, 4], [1, 2]]),
    ),
    "dim_negative": (
        lambda t, x: x.unique_consecutive(return_inverse=True, dim=-1),
        np.array([[1, 1, 2, 2], [3, 3, 4, 5]]),
    ),
}


@pytest.mark.parametrize("name", UNIQUE)
def test_unique_consecutive(name):
    check_row(*UNIQUE[name], grad=False)


ERRORS = {
    "tensor_split_zero": (lambda t, x: t.tensor_split(x, 0), f32(3)),
    "tensor_split_bad_dim": (lambda t, x: t.tensor_split(x, 2, dim=2), f32(3, 2)),
    "hsplit_uneven": (lambda t, x: t.hsplit(x, 3), f32(2, 4)),
    "hsplit_0d": (lambda t, x: t.hsplit(x, 1), f32()),
    "vsplit_1d": (lambda t, x: t.vsplit(x, 1), f32(4)),
    "dsplit_2d": (lambda t, x: t.dsplit(x, 1), f32(2, 2)),
    "diag_embed_same_dims": (lambda t, x: t.diag_embed(x, 0, 1, -2), f32(2, 3)),
    "block_diag_3d": (lambda t, x: t.block_diag(x), f32(1, 2, 2)),
    "cartesian_prod_2d": (lambda t, x: t.cartesian_prod(x, x), f32(2, 2)),
    "combinations_2d": (lambda t, x: t.combinations(x), f32(2, 2)),
    "combinations_negative_r": (lambda t, x: t.combinations(x, -1), f32(3)),
    "rot90_one_dim": (lambda t, x: t.rot90(x, 1, [0]), f32(2, 2)),
    "rot90_1d": (lambda t, x: t.rot90(x), f32(3)),
    "rot90_same_dims": (lambda t, x: t.rot90(x, 1, [1, 1]), f32(2, 2)),
    "inner_mismatch": (lambda t, x, y: t.inner(x, y), f32(2, 3), f32(4)),
    "cross_ranks_differ": (lambda t, x, y: t.linalg.cross(x, y), f32(2, 1, 3), f32(4, 3)),
    "cross_broadcast_not_3": (lambda t, x, y: t.linalg.cross(x, y), f32(2, 1), f32(2, 3)),
    "cross_not_3": (lambda t, x, y: t.linalg.cross(x, y), f32(2, 4), f32(2, 4)),
    "heaviside_dtypes": (lambda t, x, y: t.heaviside(x, y), f32(3), f64(3)),
    "cov_3d": (lambda t, x: t.cov(x), f32(2, 2, 2)),
    "cov_float_fweights": (lambda t, x, w: t.cov(x, fweights=w), f32(2, 3), f32(3)),
    "cov_int_aweights": (lambda t, x, w: t.cov(x, aweights=w), f32(2, 3), ints(3)),
    "cov_weights_length": (lambda t, x, w: t.cov(x, fweights=w), f32(2, 3), ints(4)),
    "scatter_reduce_bad_reduce": (
        lambda t, x: x.scatter_reduce(0, t.tensor([0]), x, "maximum"),
        f32(3),
    ),
    "broadcast_shapes": (lambda t: t.broadcast_shapes((2, 3), (4,)),),
    "scatter_reduce_out_of_bounds": (
        lambda t, x: x.scatter_reduce(0, t.tensor([[5]]), x, "amax"),
        f32(2, 3),
    ),
    "scatter_reduce_float_index": (
        lambda t, x: x.scatter_reduce(0, t.tensor([[0.0]]), x, "amin"),
        f32(2, 3),
    ),
    "scatter_reduce_index_rank": (
        lambda t, x: x.scatter_reduce(0, t.tensor([0]), x, "prod"),
        f32(2, 3),
    ),
    "isin_no_tensor": (lambda t: t.isin(1, 2),),
}


@pytest.mark.parametrize("name", ERRORS)
def test_errors_match_torch(name):
    fn, *inputs = ERRORS[name]
    err = raises_like_torch(fn, *inputs, lib=True)
    assert str(err)


def test_compositions_trace_like_eager():
    index = minitorch.tensor([0, 2, 0, 1])

    def step(x, y):
        a = x.scatter_reduce(0, index, y, "mean", include_self=False)
        crossed = minitorch.linalg.cross(x[:3], y[:3], dim=0)
        return a.sum() + minitorch.trapezoid(y) + crossed.sum() + minitorch.isin(y, x).sum()

    compiled = minitorch.compile(step)
    for _ in range(3):
        x, y = f32(4), f32(4)
        y[0] = x[1]  # one match for isin
        args = (minitorch.tensor(x), minitorch.tensor(y))
        np.testing.assert_allclose(compiled(*args).item(), step(*args).item(), rtol=1e-6)
