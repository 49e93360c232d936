"""Parity with PyTorch for the less common API: index_add/copy/fill, the add-matmul family,
tensordot/kron, scans (cummax, logcumsumexp), counting and order statistics (bincount, unique,
searchsorted, median, quantile), cdist, diff, histc and minitorch.linalg.

Values, shapes, dtypes, gradients and exception types are compared with `check`.

NOTE: minitorch (numba) is imported before torch: torch loading LLVM first can crash numba.
"""

import minitorch  # noqa: I001  (before torch, see DESIGN.md)
import numba  # noqa: F401
import numpy as np
import pytest

from parity import check, raises_like_torch

torch = pytest.importorskip("torch")

rng = np.random.default_rng(2024)


def f32(*shape):
    return rng.standard_normal(shape).astype(np.float32)


def f64(*shape):
    return rng.standard_normal(shape)


def ints(*shape, lo=0, hi=4, dtype=np.int64):
    return rng.integers(lo, hi, shape).astype(dtype)


def check_row(fn, *inputs, **kw):
    """check() for a table row that must not raise: a lambda whose first argument is `t`
    takes the library."""
    out = check(fn, *inputs, lib=fn.__code__.co_varnames[0] == "t", **kw)
    assert not isinstance(out, BaseException), f"both libraries raised: {out}"
    return out


# ---- index_add / index_copy / index_fill ---------------------------------------------------------
INDEX_WRITES = {
    "add_dim0": (lambda x, i, s: x.index_add(0, i, s), f32(4, 3), ints(5), f32(5, 3)),
    "add_alpha_neg_dim": (
        lambda t, x, i, s: t.index_add(x, -1, i, s, alpha=-2.5),
        f64(2, 3, 4),
        ints(3),
        f64(2, 3, 3),
    ),
    "add_int32_index": (
        lambda x, i, s: x.index_add(1, i, s),
        f32(2, 3),
        ints(4, hi=3, dtype=np.int32),
        f32(2, 4),
    ),
    "add_int": (
        lambda x, i, s: x.index_add(0, i, s, alpha=3),
        ints(3, 2),
        ints(2, hi=3),
        ints(2, 2),
    ),
    "add_0d_index": (lambda x, i, s: x.index_add(0, i, s), f32(3, 2), np.array(2), f32(1, 2)),
    "copy": (lambda x, i, s: x.index_copy(1, i, s), f32(2, 5), np.array([4, 0, 2]), f32(2, 3)),
    "copy_fn": (
        lambda t, x, i, s: t.index_copy(x, 0, i, s),
        f64(3, 2),
        np.array([2, 1]),
        f64(2, 2),
    ),
    "fill": (lambda x, i: x.index_fill(1, i, -1.5), f32(3, 4), np.array([0, -1, 0])),
    "fill_int": (lambda x, i: x.index_fill(0, i, 7), ints(3, 2), np.array([1])),
    "fill_tensor_value": (lambda x, i, v: x.index_fill(0, i, v), f32(3, 2), ints(2, hi=3), f64()),
}


@pytest.mark.parametrize("name", INDEX_WRITES)
def test_index_writes(name):
    check_row(*INDEX_WRITES[name])


def test_index_writes_in_place():
    check(lambda x, i, s: (x * 1).index_add_(0, i, s, alpha=2), f32(4, 3), ints(3), f32(3, 3))
    check(lambda x, i, s: (x * 1).index_copy_(0, i, s), f32(4, 3), np.array([3, 0]), f32(2, 3))
    check(lambda x, i: (x * 1).index_fill_(-1, i, 2.0), f32(4, 3), np.array([2]))


INDEX_WRITE_ERRORS = {
    "add_count": (lambda x, i, s: x.index_add(0, i, s), f32(3, 4), ints(2), f32(3, 4)),
    "add_float_index": (lambda x, i, s: x.index_add(0, i, s), f32(3, 4), f32(2), f32(2, 4)),
    "add_dtype": (lambda x, i, s: x.index_add(0, i, s), f32(3, 4), ints(2), f64(2, 4)),
    "add_bounds": (lambda x, i, s: x.index_add(0, i, s), f32(3, 4), np.array([0, 3]), f32(2, 4)),
    "add_negative": (lambda x, i, s: x.index_add(0, i, s), f32(3, 4), np.array([-1]), f32(1, 4)),
    "add_2d_index": (lambda x, i, s: x.index_add(0, i, s), f32(3, 4), ints(1, 2), f32(2, 4)),
    "add_dim": (lambda x, i, s: x.index_add(2, i, s), f32(3, 4), ints(2), f32(2, 4)),
    "add_shape": (lambda x, i, s: x.index_add(0, i, s), f32(3, 4), ints(2), f32(2, 5)),
    "copy_count": (lambda x, i, s: x.index_copy(0, i, s), f32(3, 4), ints(2), f32(3, 4)),
    "copy_bounds": (lambda x, i, s: x.index_copy(0, i, s), f32(3, 4), np.array([5]), f32(1, 4)),
    "copy_int32_index": (
        lambda x, i, s: x.index_copy(0, i, s),
        f32(3, 4),
        ints(2, dtype=np.int32),
        f32(2, 4),
    ),
    "fill_bounds": (lambda x, i: x.index_fill(0, i, 1.0), f32(3, 4), np.array([-4])),
    "fill_int32_index": (lambda x, i: x.index_fill(0, i, 1.0), f32(3, 4), ints(2, dtype=np.int32)),
    "fill_2d_index": (lambda x, i: x.index_fill(0, i, 1.0), f32(3, 4), ints(2, 1)),
    "fill_1d_value": (lambda x, i, v: x.index_fill(0, i, v), f32(3, 4), ints(2), f32(2)),
}


@pytest.mark.parametrize("name", INDEX_WRITE_ERRORS)
def test_index_write_errors(name):
    fn, *inputs = INDEX_WRITE_ERRORS[name]
    raises_like_torch(fn, *inputs)


def test_index_add_error_names_the_op_and_shapes():
    x, index, source = minitorch.zeros(3, 4), minitorch.tensor([0, 1]), minitorch.ones(3, 4)
    with pytest.raises(RuntimeError, match=r"index_add\(\): Number of indices \(2\)"):
        x.index_add(0, index, source)


# ---- add-products, tensordot, kron ---------------------------------------------------------------
PRODUCTS = {
    "addmm": (lambda t, c, a, b: t.addmm(c, a, b), f32(3, 5), f32(3, 4), f32(4, 5)),
    "addmm_bcast_beta_alpha": (
        lambda c, a, b: c.addmm(a, b, beta=0.5, alpha=-2),
        f64(5),
        f64(3, 4),
        f64(4, 5),
    ),
    "addmm_beta0_ignores_nan": (
        lambda t, c, a, b: t.addmm(c, a, b, beta=0),
        np.full((1, 5), np.nan, np.float32),
        f32(3, 4),
        f32(4, 5),
    ),
    "addmm_int": (
        lambda t, c, a, b: t.addmm(c, a, b, beta=2, alpha=3),
        ints(1),
        ints(2, 3),
        ints(3, 2),
    ),
    "addmv": (lambda t, c, a, b: t.addmv(c, a, b, alpha=2), f32(3), f32(3, 4), f32(4)),
    "addbmm": (lambda t, c, a, b: t.addbmm(c, a, b, beta=3), f32(3, 5), f32(2, 3, 4), f32(2, 4, 5)),
    "baddbmm": (
        lambda c, a, b: c.baddbmm(a, b, beta=0.5, alpha=0.25),
        f32(1, 3, 1),
        f32(2, 3, 4),
        f32(2, 4, 5),
    ),
    "addmm_": (lambda c, a, b: (c * 1).addmm_(a, b, alpha=2), f32(3, 5), f32(3, 4), f32(4, 5)),
    "baddbmm_": (lambda c, a, b: (c * 1).baddbmm_(a, b), f32(2, 3, 5), f32(2, 3, 4), f32(2, 4, 5)),
    "tensordot_int_dims": (lambda t, a, b: t.tensordot(a, b), f32(2, 3, 4), f32(3, 4, 5)),
    "tensordot_lists": (
        lambda t, a, b: t.tensordot(a, b, dims=([1, -1], [1, 0])),
        f64(2, 3, 4),
        f64(4, 3, 5),
    ),
    "tensordot_outer": (lambda t, a, b: t.tensordot(a, b, dims=0), f32(2, 3), f32(4)),
    "tensordot_single_lists": (
        lambda t, a, b: t.tensordot(a, b, dims=([0], [2])),
        f32(5, 2),
        f32(3, 4, 5),
    ),
    "tensordot_int": (lambda t, a, b: t.tensordot(a, b, dims=1), ints(2, 3), ints(3, 2)),
    "kron": (lambda t, a, b: t.kron(a, b), f32(2, 3), f32(4, 2)),
    "kron_ranks": (lambda a, b: a.kron(b), f64(2, 1, 3), f64(3, 2)),
    "kron_promotes": (lambda t, a, b: t.kron(a, b), ints(2, 2), f32(2)),
    "ger": (lambda t, a, b: t.ger(a, b), f32(3), f32(4)),
}


@pytest.mark.parametrize("name", PRODUCTS)
def test_products(name):
    check_row(*PRODUCTS[name])


PRODUCT_ERRORS = {
    "addmm_vector": (lambda t, c, a, b: t.addmm(c, a, b), f32(5), f32(4), f32(4, 5)),
    "addmm_dtype": (lambda t, c, a, b: t.addmm(c, a, b), f64(3, 5), f32(3, 4), f32(4, 5)),
    "addmm_bcast": (lambda t, c, a, b: t.addmm(c, a, b), f32(2, 5), f32(3, 4), f32(4, 5)),
    "addmv_size": (lambda t, c, a, b: t.addmv(c, a, b), f32(3), f32(3, 4), f32(5)),
    "addbmm_batches": (lambda t, c, a, b: t.addbmm(c, a, b), f32(3, 5), f32(2, 3, 4), f32(3, 4, 5)),
    "baddbmm_bcast": (
        lambda t, c, a, b: t.baddbmm(c, a, b),
        f32(2, 3, 5),
        f32(2, 3, 4),
        f32(2, 4, 6),
    ),
    "tensordot_negative": (lambda t, a, b: t.tensordot(a, b, dims=-1), f32(2, 3), f32(3, 2)),
    "tensordot_sizes": (lambda t, a, b: t.tensordot(a, b, dims=([1], [0])), f32(2, 3), f32(4, 3)),
    "tensordot_lengths": (
        lambda t, a, b: t.tensordot(a, b, dims=([0, 1], [0])),
        f32(2, 3),
        f32(2, 3),
    ),
    "tensordot_dtype": (lambda t, a, b: t.tensordot(a, b, dims=1), f32(2, 3), f64(3, 2)),
}


@pytest.mark.parametrize("name", PRODUCT_ERRORS)
def test_product_errors(name):
    fn, *inputs = PRODUCT_ERRORS[name]
    raises_like_torch(fn, *inputs, lib=True)


# ---- scans ---------------------------------------------------------------------------------------
NAN_TIES = np.array([[1.0, 3.0, 3.0, np.nan, 2.0], [4.0, 4.0, -1.0, 5.0, 5.0]], np.float32)

SCANS = {
    "cummax": (lambda x: x.cummax(1), f32(3, 4)),
    "cummax_neg_dim": (lambda t, x: t.cummax(x, -3), f64(3, 2, 4)),
    "cummin": (lambda x: x.cummin(0), f32(4, 3)),
    "cummax_ties_nan": (lambda x: x.cummax(1), NAN_TIES),
    "cummin_ties_nan": (lambda t, x: t.cummin(x, dim=-1), NAN_TIES),
    "cummax_int": (lambda x: x.cummax(0), ints(6, 2)),
    "cummin_bool": (lambda x: x.cummin(0), ints(5) > 1),
    "cummax_0d": (lambda x: x.cummax(0), np.array(2.5, np.float32)),
    "cummin_empty": (lambda x: x.cummin(0), np.zeros((0, 3), np.float32)),
    "logcumsumexp": (lambda x: x.logcumsumexp(1), f32(3, 5)),
    "logcumsumexp_fn": (lambda t, x: t.logcumsumexp(x, dim=-2), f64(4, 3)),
    "logcumsumexp_far_apart": (
        lambda x: x.logcumsumexp(0),
        np.array([-1000.0, 0.0, 3.0, -50.0], np.float32),
    ),
    "logcumsumexp_0d": (lambda x: x.logcumsumexp(0), np.array(1.5)),
}


@pytest.mark.parametrize("name", SCANS)
def test_scans(name):
    check_row(*SCANS[name])


def test_scan_errors():
    raises_like_torch(lambda x: x.cummax(2), f32(3, 4))
    raises_like_torch(lambda x: x.logcumsumexp(0), ints(3))
    raises_like_torch(lambda x: x.logcumsumexp(-3), f32(3, 4))


def test_logcumsumexp_second_order_gradient_matches_torch():
    def second(t, x):
        (g,) = t.autograd.grad((x.logcumsumexp(0) * x).sum(), x, create_graph=True)
        return g

    check(second, f64(5), lib=True)


# ---- counting and searching ----------------------------------------------------------------------
WITH_NAN = np.array([[1.0, np.nan, 3.0, 0.5], [2.0, 5.0, -4.0, 1.5], [np.nan] * 4], np.float32)
SORTED_ROWS = np.sort(rng.integers(0, 10, (2, 3, 6)), axis=-1)

COUNTING = {
    "bincount": (lambda t, x: t.bincount(x), np.array([3, 1, 1, 0, 5])),
    "bincount_minlength": (lambda x: x.bincount(minlength=9), ints(7, dtype=np.int32)),
    "bincount_weights32": (lambda x, w: x.bincount(w), np.array([2, 0, 2]), f32(3)),
    "bincount_weights64": (lambda t, x, w: t.bincount(x, w, 6), np.array([2, 0, 2]), f64(3)),
    "bincount_int_weights": (lambda x, w: x.bincount(w), np.array([2, 0, 2]), ints(3)),
    "bincount_empty": (lambda x: x.bincount(), np.zeros(0, np.int64)),
    "unique": (lambda t, x: t.unique(x), ints(4, 3, hi=5)),
    "unique_nan": (lambda x: x.unique(), np.array([3.0, 1.0, np.nan, 1.0, np.nan])),
    "unique_all": (
        lambda t, x: t.unique(x, return_inverse=True, return_counts=True),
        ints(3, 4, hi=4),
    ),
    "unique_counts": (lambda x: x.unique(sorted=False, return_counts=True), f64(5).round()),
    "searchsorted": (
        lambda t, s, v: t.searchsorted(s, v),
        np.array([1, 3, 5, 7]),
        ints(2, 3, hi=9),
    ),
    "searchsorted_right": (
        lambda t, s, v: t.searchsorted(s, v, right=True, out_int32=True),
        np.array([1.0, 3.0, 3.0, 7.0]),
        np.array([[3.0, 0.0], [7.5, 3.0]]),
    ),
    "searchsorted_rows_side": (
        lambda t, s, v: t.searchsorted(s, v, side="right"),
        SORTED_ROWS,
        ints(2, 3, 4, hi=11),
    ),
    "searchsorted_sorter": (
        lambda t, s, v, i: t.searchsorted(s, v, sorter=i),
        np.array([5, 1, 7, 3]),
        ints(5, hi=9),
        np.array([1, 3, 0, 2]),
    ),
    "searchsorted_scalar": (lambda t, s: t.searchsorted(s, 4), np.array([1, 3, 5, 7])),
    "bucketize": (lambda t, v, b: t.bucketize(v, b), ints(3, 2, hi=9), np.array([1, 3, 5, 7])),
    "bucketize_right": (
        lambda t, v, b: t.bucketize(v, b, right=True, out_int32=True),
        np.array([1.0, 2.5, 3.0]),
        np.array([1.0, 3.0]),
    ),
    "histc": (lambda t, x: t.histc(x, bins=4, min=0, max=3), np.array([1.0, 2, 1, 4, 3, -1])),
    "histc_data_range": (lambda x: x.histc(bins=7), f32(50)),
    "histc_one_value": (lambda x: x.histc(bins=3), np.array([2.0, 2.0])),
}


@pytest.mark.parametrize("name", COUNTING)
def test_counting(name):
    check_row(*COUNTING[name], grad=False)


def test_counting_errors():
    raises_like_torch(lambda x: x.bincount(), np.array([1, -1]))
    raises_like_torch(lambda x: x.bincount(), ints(2, 2))
    raises_like_torch(lambda x: x.bincount(), f32(3))
    raises_like_torch(lambda x: x.bincount(minlength=-1), ints(3))
    raises_like_torch(lambda x, w: x.bincount(w), ints(3), f32(4))
    raises_like_torch(lambda t, s, v: t.searchsorted(s, v), SORTED_ROWS, ints(3, 2), lib=True)
    raises_like_torch(lambda t, s, v: t.searchsorted(s, v, side="mid"), ints(3), ints(2), lib=True)
    raises_like_torch(
        lambda t, s, v: t.searchsorted(s, v, side="left", right=True), ints(3), ints(2), lib=True
    )
    raises_like_torch(lambda t, v, b: t.bucketize(v, b), ints(3), SORTED_ROWS, lib=True)
    raises_like_torch(lambda x: x.histc(bins=0), f32(3))
    raises_like_torch(lambda x: x.histc(min=2, max=1), f32(3))
    raises_like_torch(lambda x: x.histc(), ints(3))
    raises_like_torch(lambda x: x.histc(), np.array([1.0, np.nan]))


def test_unique_by_dim_names_the_limit():
    with pytest.raises(NotImplementedError, match="unique: dim=0"):
        minitorch.tensor([[1, 2], [1, 2]]).unique(dim=0)


# ---- order statistics ----------------------------------------------------------------------------
DISTINCT = rng.permutation(24).reshape(2, 3, 4).astype(np.float32) * np.float32(0.5)

ORDER_STATS = {
    "median": (lambda x: x.median(), f32(4, 5)),
    "median_ties_share_grad": (lambda x: x.median(), np.array([1.0, 2.0, 2.0, 3.0], np.float32)),
    "median_dim": (lambda x: x.median(1), DISTINCT),
    "median_neg_dim_keepdim": (lambda t, x: t.median(x, dim=-1, keepdim=True), DISTINCT),
    "median_nan": (lambda x: x.median(dim=1), WITH_NAN),
    "median_nan_global": (lambda x: x.median(), WITH_NAN),
    "median_int": (lambda x: x.median(), np.array([4, 1, 3, 0])),
    "median_0d": (lambda x: x.median(0), np.array(2.5)),
    "median_empty": (lambda x: x.median(), np.zeros(0, np.float32)),
    "nanmedian": (lambda x: x.nanmedian(), WITH_NAN),
    "nanmedian_dim": (lambda t, x: t.nanmedian(x, 1), WITH_NAN[:2]),
    "quantile": (lambda t, x: t.quantile(x, 0.4), f32(7)),
    "quantile_dim_keepdim": (
        lambda t, x, q: t.quantile(x, q, dim=1, keepdim=True),
        f32(2, 5, 3),
        np.array([0.0, 0.3, 1.0], np.float32),
    ),
    "quantile_flat_keepdim": (lambda x: x.quantile(0.75, keepdim=True), f64(3, 4)),
    "quantile_neg_dim": (lambda x: x.quantile(0.5, dim=-1), f64(3, 4)),
    "quantile_nan": (lambda x: x.quantile(0.5, dim=1), WITH_NAN),
    "nanquantile": (lambda x: x.nanquantile(0.3, dim=1), WITH_NAN),
    "nanquantile_global": (lambda t, x: t.nanquantile(x, 0.9), WITH_NAN),
}
for _mode in ("lower", "higher", "nearest", "midpoint"):
    ORDER_STATS[f"quantile_{_mode}"] = (
        lambda x, q, _mode=_mode: x.quantile(q, dim=0, interpolation=_mode),
        f32(9, 2),
        np.array([0.125, 0.3, 0.5, 0.625, 1.0], np.float32),
    )


@pytest.mark.parametrize("name", ORDER_STATS)
def test_order_statistics(name):
    check_row(*ORDER_STATS[name])


def test_nanmedian_of_a_row_of_nan_only():
    # NOTE: values only: which NaN PyTorch's nth_element leaves in the middle (its index, and
    # so the element the gradient goes to) is not specified
    check(lambda x: x.nanmedian(1).values, WITH_NAN, grad=False)


def test_order_statistic_errors():
    raises_like_torch(lambda x: x.median(0), np.zeros((0, 3), np.float32))
    raises_like_torch(lambda x: x.nanmedian(2), f32(2, 3))
    raises_like_torch(lambda x: x.quantile(0.5), ints(4))
    raises_like_torch(lambda x: x.quantile(1.5), f32(4))
    raises_like_torch(lambda x, q: x.quantile(q), f32(4), f64(2))
    raises_like_torch(lambda x, q: x.quantile(q), f32(4), f32(2, 2))
    raises_like_torch(lambda x: x.quantile(0.5, interpolation="cubic"), f32(4))
    raises_like_torch(lambda x: x.quantile(0.5), np.zeros(0, np.float32))


# ---- cdist, diff ---------------------------------------------------------------------------------
DISTANCES = {
    "cdist": (lambda t, a, b: t.cdist(a, b), f32(3, 4), f32(5, 4)),
    "cdist_p1": (lambda t, a, b: t.cdist(a, b, p=1), f64(3, 4), f64(2, 4)),
    "cdist_p3_batched": (lambda t, a, b: t.cdist(a, b, p=3.0), f32(2, 3, 4), f32(1, 5, 4)),
    "cdist_pinf": (lambda t, a, b: t.cdist(a, b, p=float("inf")), f64(3, 2), f64(4, 2)),
    "cdist_zero_distance": (lambda t, a: t.cdist(a, a), f64(3, 2)),
    "cdist_many_rows_mm": (lambda t, a, b: t.cdist(a, b), f64(30, 3), f64(4, 3)),
    "diff": (lambda t, x: t.diff(x), f32(3, 5)),
    "diff_dim0_n2": (lambda x: x.diff(n=2, dim=0), f64(5, 3)),
    "diff_prepend_append": (
        lambda t, x, a, b: t.diff(x, dim=-1, prepend=a, append=b),
        f32(2, 3),
        f32(2, 1),
        f32(2, 2),
    ),
    "diff_int": (lambda x: x.diff(dim=0), ints(4, 2, hi=9)),
    "diff_bool": (lambda x: x.diff(), ints(6) > 1),
    "diff_too_many": (lambda x: x.diff(n=5), f32(3)),
}


@pytest.mark.parametrize("name", DISTANCES)
def test_distances_and_differences(name):
    check_row(*DISTANCES[name], atol=1e-5)


def test_distance_and_difference_errors():
    raises_like_torch(lambda t, a, b: t.cdist(a, b), f32(3, 4), f32(5, 3), lib=True)
    raises_like_torch(lambda t, a, b: t.cdist(a, b, p=-1), f32(3, 4), f32(5, 4), lib=True)
    raises_like_torch(lambda t, a, b: t.cdist(a, b), ints(3, 4), ints(5, 4), lib=True)
    raises_like_torch(lambda t, a, b: t.cdist(a, b), f32(4), f32(5, 4), lib=True)
    raises_like_torch(lambda t, a, b: t.cdist(a, b), f32(3, 4), f64(5, 4), lib=True)
    raises_like_torch(lambda x: x.diff(), np.array(3.0))
    raises_like_torch(lambda x: x.diff(n=-1), f32(3))
    raises_like_torch(lambda x: x.diff(dim=2), f32(3, 2))


# ---- linalg --------------------------------------------------------------------------------------
def well_conditioned(*shape, dtype=np.float64):
    """Random square matrices with n added to the diagonal: far from singular."""
    n = shape[-1]
    return (rng.standard_normal(shape) + n * np.eye(n)).astype(dtype)


def positive_definite(*shape, dtype=np.float64):
    a = rng.standard_normal(shape)
    return (a @ np.swapaxes(a, -1, -2) + shape[-1] * np.eye(shape[-1])).astype(dtype)


LINALG = {
    "inv": (lambda t, a: t.linalg.inv(a), well_conditioned(3, 3)),
    "inv_batched_f32": (lambda t, a: t.linalg.inv(a), well_conditioned(2, 4, 4, dtype=np.float32)),
    "inverse_method": (lambda a: a.inverse(), well_conditioned(3, 3)),
    "det": (lambda t, a: t.linalg.det(a), well_conditioned(2, 3, 3)),
    "det_fn_f32": (lambda t, a: t.det(a), well_conditioned(3, 3, dtype=np.float32)),
    "slogdet": (lambda t, a: t.linalg.slogdet(a), f64(2, 3, 3)),
    "logdet": (lambda a: a.logdet(), positive_definite(3, 3)),
    "solve": (lambda t, a, b: t.linalg.solve(a, b), well_conditioned(3, 3), f64(3, 2)),
    "solve_vector": (lambda t, a, b: t.linalg.solve(a, b), well_conditioned(3, 3), f64(3)),
    "solve_batch_vectors": (
        lambda t, a, b: t.linalg.solve(a, b),
        well_conditioned(2, 3, 3),
        f64(2, 3),
    ),
    "solve_broadcast": (
        lambda t, a, b: t.linalg.solve(a, b),
        well_conditioned(2, 1, 3, 3),
        f64(4, 3, 2),
    ),
    "solve_right": (
        lambda t, a, b: t.linalg.solve(a, b, left=False),
        well_conditioned(3, 3),
        f64(2, 3),
    ),
    "cholesky": (lambda t, a: t.linalg.cholesky(a), positive_definite(4, 4)),
    "cholesky_upper_batched": (
        lambda t, a: t.linalg.cholesky(a, upper=True),
        positive_definite(2, 3, 3),
    ),
    "svdvals": (lambda t, a: t.linalg.svdvals(a), f64(4, 3)),
    "eigvalsh": (lambda t, a: t.linalg.eigvalsh(a), positive_definite(3, 3)),
    "vector_norm": (lambda t, x: t.linalg.vector_norm(x), f32(3, 4)),
    "vector_norm_ord_dim": (
        lambda t, x: t.linalg.vector_norm(x, ord=3, dim=-1, keepdim=True),
        f64(3, 4),
    ),
    "vector_norm_inf": (lambda t, x: t.linalg.vector_norm(x, ord=float("inf"), dim=0), f64(3, 4)),
    "vector_norm_zero_grad": (lambda t, x: t.linalg.vector_norm(x), np.zeros(3)),
    "norm_default": (lambda t, x: t.linalg.norm(x), f32(2, 3, 4)),
    "norm_matrix_2": (lambda t, x: t.linalg.norm(x, ord=2), f64(3, 4)),
    "norm_vector_dim": (lambda t, x: t.linalg.norm(x, ord=1, dim=1), f64(3, 4)),
}
for _ord in ("fro", "nuc", 1, -1, float("inf"), -float("inf"), -2):
    LINALG[f"matrix_norm_{_ord}"] = (
        lambda t, x, _ord=_ord: t.linalg.matrix_norm(x, ord=_ord, dim=(0, -1), keepdim=True),
        f64(3, 2, 4),
    )


@pytest.mark.parametrize("name", LINALG)
def test_linalg(name):
    check_row(*LINALG[name])


def test_linalg_factorizations_up_to_signs():
    """qr, svd and eigh forward (their gradients: test_linalg_grad.py, test_matrix_exp.py):
    LAPACK builds may flip signs of vectors, so compare what signs do not change."""

    def qr(t, a, mode):
        q, r = t.linalg.qr(a, mode=mode)
        return (q @ r, q.abs(), r.abs()) if mode != "r" else (r.abs(), q.shape)

    for mode in ("reduced", "complete", "r"):
        check(lambda t, a, mode=mode: qr(t, a, mode), f64(4, 3), lib=True, grad=False)

    def svd(t, a, full):
        u, s, vh = t.linalg.svd(a, full_matrices=full)
        k = s.shape[-1]
        return (u[..., :k] * s.unsqueeze(-2)) @ vh[..., :k, :], s, u.abs(), vh.abs()

    check(lambda t, a: svd(t, a, True), f64(2, 4, 3), lib=True, grad=False)
    check(lambda t, a: svd(t, a, False), f32(3, 5), lib=True, grad=False, atol=1e-5)

    def eigh(t, a, uplo):
        values, vectors = t.linalg.eigh(a, UPLO=uplo)
        return values, vectors.abs(), (vectors * values.unsqueeze(-2)) @ vectors.mT

    check(lambda t, a: eigh(t, a, "L"), positive_definite(2, 3, 3), lib=True, grad=False)
    check(lambda t, a: eigh(t, a, "U"), f64(3, 3), lib=True, grad=False)


def test_linalg_second_order_gradient_of_inv():
    def second(t, a):
        (g,) = t.autograd.grad(t.linalg.inv(a).square().sum(), a, create_graph=True)
        return g

    check(second, well_conditioned(3, 3), lib=True)


LINALG_ERRORS = {
    "inv_singular": (lambda t, a: t.linalg.inv(a), np.ones((3, 3))),
    "inv_not_square": (lambda t, a: t.linalg.inv(a), f64(2, 3)),
    "inv_vector": (lambda t, a: t.linalg.inv(a), f64(3)),
    "inv_int": (lambda t, a: t.linalg.inv(a), ints(2, 2)),
    "det_int": (lambda t, a: t.linalg.det(a), ints(2, 2)),
    "cholesky_not_pd": (lambda t, a: t.linalg.cholesky(a), -positive_definite(3, 3)),
    "solve_shapes": (lambda t, a, b: t.linalg.solve(a, b), well_conditioned(2, 2), f64(3)),
    "solve_dtypes": (lambda t, a, b: t.linalg.solve(a, b), well_conditioned(2, 2), f32(2)),
    "solve_right_shapes": (
        lambda t, a, b: t.linalg.solve(a, b, left=False),
        well_conditioned(2, 2),
        f64(2, 3),
    ),
    "matrix_norm_ord": (lambda t, a: t.linalg.matrix_norm(a, ord=3), f64(3, 3)),
    "matrix_norm_vector": (lambda t, a: t.linalg.matrix_norm(a), f64(3)),
    "norm_ord_0_matrix": (lambda t, a: t.linalg.norm(a, ord=0), f64(3, 3)),
    "vector_norm_int": (lambda t, a: t.linalg.vector_norm(a), ints(3)),
    "qr_mode": (lambda t, a: t.linalg.qr(a, mode="full"), f64(3, 3)),
}


@pytest.mark.parametrize("name", LINALG_ERRORS)
def test_linalg_errors(name):
    fn, *inputs = LINALG_ERRORS[name]
    raises_like_torch(fn, *inputs, lib=True)


def test_linalg_singular_error_is_a_linalg_error():
    with pytest.raises(minitorch.linalg.LinAlgError, match="linalg.inv"):
        minitorch.linalg.inv(minitorch.ones(2, 2))


@pytest.mark.parametrize(
    "k, dim, keepdim", [(1, -1, False), (2, 1, True), (3, 0, False), (1, 0, True)]
)
def test_kthvalue_values_indices_and_grad_match_torch(k, dim, keepdim):
    data = np.array([[3.0, 1.0, 2.0, 7.0], [np.nan, 0.0, 5.0, -1.0], [4.0, 6.0, -2.0, 8.0]])
    results = []
    for lib in (minitorch, torch):
        x = lib.tensor(data, requires_grad=True)
        out = lib.kthvalue(x, k, dim, keepdim)
        (out.values * lib.arange(out.values.numel()).reshape(out.values.shape)).sum().backward()
        results.append((type(out).__name__, out.values.tolist(), out.indices.tolist(), x.grad))
    (name, values, indices, grad), (t_name, t_values, t_indices, t_grad) = results
    assert name == t_name == "kthvalue" and indices == t_indices
    np.testing.assert_array_equal(values, t_values)
    np.testing.assert_array_equal(grad.numpy(), t_grad.numpy())
    scalar = minitorch.tensor(3.0).kthvalue(1)
    assert scalar.values.item() == 3.0 and scalar.indices.item() == 0
    raises_like_torch(lambda lib: lib.ones(2, 3).kthvalue(4, 1), lib=True)


def test_nbytes_and_itemsize_match_torch():
    for make in (
        lambda lib: lib.zeros(2, 3, dtype=lib.float64),
        lambda lib: lib.zeros(3).expand(4, 3),
    ):
        ours, theirs = make(minitorch), make(torch)
        assert (ours.nbytes, ours.itemsize) == (theirs.nbytes, theirs.itemsize)
