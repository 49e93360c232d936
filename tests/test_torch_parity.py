"""The same lambdas on PyTorch and minitorch: values, shapes, dtypes, gradients and errors.

NOTE: minitorch (numba) is imported before torch: torch loading LLVM first can crash numba.
"""

import minitorch  # noqa: I001  (before torch, see DESIGN.md)
import numba  # noqa: F401
import numpy as np
import pytest

from parity import check, raises_like_torch

torch = pytest.importorskip("torch")

rng = np.random.default_rng(1234)


def f32(*shape):
    return rng.standard_normal(shape).astype(np.float32)


def f64(*shape):
    return rng.standard_normal(shape)


def pos(*shape):
    return (np.abs(rng.standard_normal(shape)) + 0.5).astype(np.float32)


def i64(*shape, lo=-5, hi=6):
    return rng.integers(lo, hi, shape).astype(np.int64)


def i32(*shape, lo=-5, hi=6):
    return rng.integers(lo, hi, shape).astype(np.int32)


def u8(*shape):
    return rng.integers(0, 200, shape).astype(np.uint8)


def bools(*shape):
    return rng.random(shape) > 0.5


def noncontig(*shape):
    """A transposed (non-contiguous) float32 array of the given shape."""
    return f32(*reversed(shape)).T


def test_parity_helper_reports_mismatches():
    def on_mt(mt_fn, th_fn):
        return lambda x: mt_fn(x) if isinstance(x, minitorch.Tensor) else th_fn(x)

    same = lambda x: x  # noqa: E731
    with pytest.raises(
        AssertionError, match=r"shape mismatch: minitorch=\(3, 4\) \| torch=\(4, 3\)"
    ):
        check(on_mt(same, lambda x: x.t()), (3, 4))
    with pytest.raises(AssertionError, match=r"dtype mismatch: minitorch=float32 \| torch=float64"):
        check(on_mt(same, lambda x: x.double()), (3,))
    with pytest.raises(AssertionError, match="value mismatch"):
        check(on_mt(lambda x: x + 1e-3, same), (3,))
    with pytest.raises(AssertionError, match="grad of input 0: value mismatch"):
        check(on_mt(lambda x: x.detach() * 2 + x, lambda x: x * 3), (3,))
    with pytest.raises(AssertionError, match="exception mismatch: minitorch raised IndexError"):
        check(on_mt(lambda x: x[5], same), (3,))
    with pytest.raises(AssertionError, match="exception mismatch: minitorch=IndexError"):
        check(on_mt(lambda x: x[5], lambda x: x.view(5)), (3,))


# ---- elementwise ---------------------------------------------------------------------------
UNARY = {
    "neg": lambda x: -x,
    "exp": lambda x: x.exp(),
    "sin": lambda x: x.sin(),
    "cos": lambda x: x.cos(),
    "tan": lambda x: x.tan(),
    "tanh": lambda x: x.tanh(),
    "sigmoid": lambda x: x.sigmoid(),
    "relu": lambda x: x.relu(),
    "abs": lambda x: x.abs(),
    "sign": lambda x: x.sign(),
    "floor": lambda x: x.floor(),
    "ceil": lambda x: x.ceil(),
    "round": lambda x: x.round(),
    "trunc": lambda x: x.trunc(),
    "frac": lambda x: x.frac(),
    "square": lambda x: x.square(),
    "erf": lambda x: x.erf(),
    "expm1": lambda x: x.expm1(),
    "exp2": lambda x: x.exp2(),
    "clamp": lambda x: x.clamp(-0.5, 0.5),
    "clamp_min": lambda x: x.clamp(min=0.1),
    "clamp_max": lambda x: x.clamp(max=0.1),
    "pow_int": lambda x: x**3,
    "pow_2": lambda x: x**2,
    "pos": lambda x: +x,
    "isnan": lambda x: x.isnan(),
    "nan_to_num": lambda x: (x / 0).nan_to_num(),
    "atan": lambda x: x.atan(),
    "sinh": lambda x: x.sinh(),
    "cosh": lambda x: x.cosh(),
    "asinh": lambda x: x.asinh(),
    "deg2rad": lambda x: x.deg2rad(),
    "rad2deg": lambda x: x.rad2deg(),
    "sgn": lambda x: x.detach().sgn(),  # torch: a ZeroTensor gradient numpy cannot read
    "logit_eps": lambda x: x.sigmoid().logit(eps=0.3),
}
UNIT = {  # inputs in (-0.9, 0.9)
    "asin": lambda x: x.asin(),
    "acos": lambda x: x.acos(),
    "atanh": lambda x: x.atanh(),
    "arcsin": lambda x: x.arcsin(),
    "logit": lambda x: (x * 0.5 + 0.5).logit(),
}
POSITIVE = {
    "log": lambda x: x.log(),
    "log2": lambda x: x.log2(),
    "log10": lambda x: x.log10(),
    "log1p": lambda x: x.log1p(),
    "sqrt": lambda x: x.sqrt(),
    "rsqrt": lambda x: x.rsqrt(),
    "reciprocal": lambda x: x.reciprocal(),
    "pow_half": lambda x: x**0.5,
    "pow_float": lambda x: x**1.7,
    "rpow": lambda x: 2.0**x,
}


@pytest.mark.parametrize("name", UNARY)
def test_unary(name):
    check(UNARY[name], (3, 4))


@pytest.mark.parametrize("name", POSITIVE)
def test_unary_positive(name):
    check(POSITIVE[name], pos(3, 4))


@pytest.mark.parametrize("name", UNIT)
def test_unary_on_minus_one_to_one(name):
    check(UNIT[name], np.tanh(f32(3, 4)) * np.float32(0.9))


def test_inverse_and_hyperbolic_functions():
    check(lambda x: x.acosh(), pos(3, 4) + np.float32(1))
    check(lambda t, x, y: t.atan2(x, y), (3, 4), (4,), lib=True)
    check(lambda x, y: x.arctan2(y), (3, 1), (1, 4))
    check(lambda t, x, y: t.hypot(x, y), (3, 4), (3, 4), lib=True)
    check(lambda t, x, y: t.logaddexp(x, y), (3, 4), (3, 4), lib=True)
    check(lambda t, x, y: t.xlogy(x, y), (3, 4), pos(3, 4), lib=True)
    check(lambda t, x: t.xlogy(x * 0, x.abs()), (3, 4), lib=True)
    check(lambda x: x.atan(), i64(3))  # ints promote to the default float dtype


@pytest.mark.parametrize("name", ["exp", "neg", "sigmoid", "abs"])
def test_unary_noncontiguous_and_float64(name):
    check(UNARY[name], noncontig(3, 5))
    check(UNARY[name], f64(2, 3))


BINARY = {
    "add": lambda x, y: x + y,
    "sub": lambda x, y: x - y,
    "mul": lambda x, y: x * y,
    "div": lambda x, y: x / y,
    "maximum": lambda x, y: x.maximum(y),
    "minimum": lambda x, y: x.minimum(y),
    "add_alpha": lambda x, y: x.add(y, alpha=2),
    "sub_alpha": lambda x, y: x.sub(y, alpha=0.5),
    "lerp": lambda x, y: x.lerp(y, 0.3),
    "lt": lambda x, y: x < y,
    "le": lambda x, y: x <= y,
    "gt": lambda x, y: x > y,
    "ge": lambda x, y: x >= y,
    "eq": lambda x, y: x == y,
    "ne": lambda x, y: x != y,
    "where": lambda x, y: x.where(x > y, y),
}


@pytest.mark.parametrize("name", BINARY)
@pytest.mark.parametrize("shapes", [((3, 4), (3, 4)), ((3, 1), (1, 4)), ((2, 3, 4), (4,))])
def test_binary_broadcast(name, shapes):
    check(BINARY[name], *shapes)


@pytest.mark.parametrize("name", ["add", "mul", "div", "sub"])
def test_binary_noncontiguous(name):
    check(BINARY[name], noncontig(3, 4), f32(3, 4))


def test_binary_with_python_scalars_and_reflected():
    check(lambda x: 2 + x, (3,))
    check(lambda x: 2 - x, (3,))
    check(lambda x: 2 * x, (3,))
    check(lambda x: 2 / x, pos(3))
    check(lambda x: x - 1.5, (3,))
    check(lambda x: x / 4, (3,))
    check(lambda x: x**2.5, pos(3))
    check(lambda x, y: x**y, pos(3), f32(3))


def test_integer_arithmetic():
    a, b = i64(4, 3), i64(4, 3, lo=1, hi=5)
    check(lambda x, y: x // y, a, b)
    check(lambda x, y: x % y, a, b)
    check(lambda x, y: x / y, a, b)
    check(lambda x, y: x * y + 3, a, b)
    check(lambda x, y: x.div(y, rounding_mode="floor"), a, b)
    check(lambda x, y: x.div(y, rounding_mode="trunc"), a, b)
    check(lambda x: x**2, a)
    check(lambda x: -x, a)
    check(lambda x: x.abs(), a)
    check(lambda x, y: x & y, a, b)
    check(lambda x, y: x | y, a, b)
    check(lambda x, y: x ^ y, a, b)
    check(lambda x: ~x, a)


def test_float_floor_div_and_remainder():
    check(lambda x, y: x // y, f32(5), pos(5), grad=False)
    check(lambda x, y: x % y, f32(5), pos(5), grad=False)
    check(lambda x, y: x.fmod(y), f32(5), pos(5), grad=False)


def test_bool_ops():
    a, b = bools(3, 4), bools(3, 4)
    check(lambda x, y: x & y, a, b)
    check(lambda x, y: x | y, a, b)
    check(lambda x, y: x ^ y, a, b)
    check(lambda x: ~x, a)
    check(lambda x, y: x.logical_and(y), a, b)
    check(lambda x: x.logical_not(), a)
    check(lambda x: x.sum(), a)
    check(lambda x: x.any(), a)
    check(lambda x: x.all(dim=1), a)


# ---- type promotion ------------------------------------------------------------------------
PROMOTION = [
    ("int64+float", lambda x: x + 2.5, [i64(3)]),
    ("int64*int", lambda x: x * 2, [i64(3)]),
    ("int32+int", lambda x: x + 2, [i32(3)]),
    ("int32+int64", lambda x, y: x + y, [i32(3), i64(3)]),
    ("uint8+int8", None, [u8(3), i64(3)]),
    ("uint8+int", lambda x: x + 300, [u8(3)]),
    ("bool+bool", lambda x: x + True, [bools(3)]),
    ("bool+int", lambda x: x + 1, [bools(3)]),
    ("bool*float", lambda x: x * 1.5, [bools(3)]),
    ("float32+float64", lambda x, y: x + y, [f32(3), f64(3)]),
    ("float32+0d_float64", lambda x, y: x + y, [f32(3), np.array(2.0)]),
    ("int32+0d_int64", lambda x, y: x + y, [i32(3), np.array(7)]),
    ("int64+0d_float64", lambda x, y: x + y, [i64(3), np.array(2.0)]),
    ("0d_int+0d_float64", lambda x, y: x + y, [np.array(3), np.array(2.0)]),
    ("0d_float32+0d_float64", lambda x, y: x + y, [np.array(3.0, np.float32), np.array(2.0)]),
    ("float32+int64", lambda x, y: x + y, [f32(3), i64(3)]),
    ("float64*int", lambda x: x * 3, [f64(3)]),
    ("int_div_int", lambda x, y: x / y, [i64(3), np.array([1, 2, 4])]),
    ("int_pow_float", lambda x: x**0.5, [np.array([1, 4, 9])]),
    ("int_lt_float", lambda x: x < 2.5, [i64(3)]),
    ("int32_eq_int64", lambda x, y: x == y, [i32(3), i64(3)]),
    ("where_mixed", lambda x, y: x.where(x > 0, y), [f32(3), i64(3)]),
    ("cat_mixed", None, [f32(2), i64(2)]),
    ("sum_int32", lambda x: x.sum(), [i32(3)]),
    ("sum_bool", lambda x: x.sum(dim=0), [bools(3, 2)]),
    ("mean_float64", lambda x: x.mean(), [f64(3)]),
    ("exp_int", lambda x: x.exp(), [i64(3, lo=0, hi=3)]),
    ("sqrt_int", lambda x: x.sqrt(), [i64(3, lo=0, hi=9)]),
    ("cumsum_int32", lambda x: x.cumsum(0), [i32(4)]),
    ("clamp_int_float", lambda x: x.clamp(min=0.5), [i64(3)]),
    ("neg_uint8", lambda x: x.float(), [u8(3)]),
]


@pytest.mark.parametrize("case", PROMOTION, ids=[c[0] for c in PROMOTION])
def test_type_promotion(case):
    name, fn, inputs = case
    if name == "uint8+int8":
        check(lambda t, x, y: x + y.to(t.int8), *inputs, lib=True)
    elif name == "cat_mixed":
        check(lambda t, x, y: t.cat([x, y]), *inputs, lib=True)
    else:
        check(fn, *inputs)


def test_promotion_functions():
    check(lambda t: t.promote_types(t.int32, t.float32), lib=True)
    check(lambda t: t.promote_types(t.uint8, t.int8), lib=True)
    check(lambda t: t.result_type(t.tensor([1, 2]), 1.0), lib=True)
    check(lambda t: t.result_type(t.tensor([1, 2], dtype=t.int32), t.tensor(5)), lib=True)


def test_default_dtype_float64():
    minitorch.set_default_dtype(minitorch.float64)
    torch.set_default_dtype(torch.float64)
    try:
        check(lambda t: t.tensor([1.0, 2.0]), lib=True)
        check(lambda t: t.zeros(2), lib=True)
        check(lambda t: t.arange(3.0), lib=True)
        check(lambda x: x / 2, i64(3))
        check(lambda x: x * 2.5, i64(3))
    finally:
        minitorch.set_default_dtype(minitorch.float32)
        torch.set_default_dtype(torch.float32)


# ---- reductions ----------------------------------------------------------------------------
REDUCTIONS = {
    "sum": lambda x: x.sum(),
    "sum_dim": lambda x: x.sum(1),
    "sum_neg_keepdim": lambda x: x.sum(-1, keepdim=True),
    "sum_dims": lambda x: x.sum((0, 2)),
    "sum_list": lambda x: x.sum([0, 1]),
    "mean": lambda x: x.mean(),
    "mean_dim": lambda x: x.mean(dim=0, keepdim=True),
    "prod": lambda x: x.prod(1),
    "amax": lambda x: x.amax(dim=(0, 1)),
    "amin": lambda x: x.amin(2),
    "max": lambda x: x.max(),
    "min": lambda x: x.min(),
    "max_dim": lambda x: x.max(dim=1),
    "min_dim_keepdim": lambda x: x.min(dim=-1, keepdim=True),
    "max_other": lambda x: x.max(x * 0.5),
    "argmax": lambda x: x.argmax(),
    "argmax_dim": lambda x: x.argmax(dim=1),
    "argmin_keepdim": lambda x: x.argmin(dim=2, keepdim=True),
    "var": lambda x: x.var(),
    "var_dim": lambda x: x.var(1, keepdim=True),
    "var_unbiased_false": lambda x: x.var(0, unbiased=False),
    "std": lambda x: x.std(dim=2, correction=0),
    "logsumexp": lambda x: x.logsumexp(1),
    "norm": lambda x: x.norm(),
    "norm_dim": lambda x: x.norm(dim=1),
    "norm_p1": lambda x: x.norm(p=1, dim=0),
    "cumsum": lambda x: x.cumsum(1),
    "softmax": lambda x: x.softmax(-1),
    "log_softmax": lambda x: x.log_softmax(dim=1),
    "sort": lambda x: x.sort(dim=1),
    "sort_desc": lambda x: x.sort(dim=-1, descending=True),
    "argsort": lambda x: x.argsort(dim=0),
    "topk": lambda x: x.topk(2, dim=1),
    "topk_smallest": lambda x: x.topk(2, dim=-1, largest=False),
    "count_nonzero": lambda x: (x > 0).count_nonzero(),
    "all": lambda x: (x > -5).all(),
    "any_dim": lambda x: (x > 1).any(dim=1),
}


@pytest.mark.parametrize("name", REDUCTIONS)
def test_reduction(name):
    check(REDUCTIONS[name], (2, 3, 4), atol=1e-5)


@pytest.mark.parametrize("name", ["sum", "sum_dim", "mean", "max_dim", "softmax", "var_dim"])
def test_reduction_noncontiguous(name):
    check(REDUCTIONS[name], np.transpose(f32(4, 3, 2), (2, 1, 0)), atol=1e-5)


def test_reductions_integer_and_empty():
    check(lambda x: x.sum(), i64(3, 4))
    check(lambda x: x.sum(0), i32(3, 4))
    check(lambda x: x.max(dim=0), i64(3, 4))
    check(lambda x: x.prod(), i64(3, lo=1, hi=4))
    check(lambda x: x.sum(), np.zeros((0, 3), np.float32))
    check(lambda x: x.sum(0), np.zeros((0, 3), np.float32))
    check(lambda x: x.mean(), np.zeros((0,), np.float32))
    check(lambda x: x.sum(), np.array(2.5, np.float32))
    check(lambda x: x.max(), np.zeros((0,), np.float32))


def test_reduction_ties_gradient():
    x = np.array([[1.0, 3.0, 3.0], [2.0, 2.0, 2.0]], np.float32)
    check(lambda x: x.amax(1), x)
    check(lambda x: x.max(), x)


def test_mean_of_int_raises():
    raises_like_torch(lambda x: x.mean(), i64(3))


# ---- matmul --------------------------------------------------------------------------------
MATMUL = [
    ((3, 4), (4, 5)),
    ((4,), (4,)),
    ((4,), (4, 2)),
    ((3, 4), (4,)),
    ((2, 3, 4), (4, 5)),
    ((2, 1, 3, 4), (5, 4, 2)),
]


@pytest.mark.parametrize("shapes", MATMUL, ids=str)
def test_matmul(shapes):
    check(lambda x, y: x @ y, *shapes, atol=1e-5)


def test_matmul_variants():
    check(lambda x, y: x.mm(y), (3, 4), (4, 2), atol=1e-5)
    check(lambda x, y: x.bmm(y), (2, 3, 4), (2, 4, 2), atol=1e-5)
    check(lambda x, y: x.dot(y), (4,), (4,), atol=1e-5)
    check(lambda x, y: x.outer(y), (3,), (4,))
    check(lambda x, y: x @ y.T, noncontig(3, 4), (5, 4), atol=1e-5)
    check(lambda x, y: x.matmul(y), f64(3, 4), f64(4, 2))
    check(lambda t, x, y: t.einsum("ij,jk->ik", x, y), (3, 4), (4, 2), lib=True, atol=1e-5)
    check(lambda t, x: t.einsum("bij->bji", x), (2, 3, 4), lib=True)
    check(lambda t, x, y: t.einsum("bii,bj->bij", x, y), (2, 3, 3), (1, 4), lib=True, atol=1e-5)
    error = raises_like_torch(lambda t, x: t.einsum("ii->i", x), (1, 3), lib=True)
    assert "subscript i is repeated for operand 0" in str(error)


# ---- creation ------------------------------------------------------------------------------
CREATION = {
    "tensor_int": lambda t: t.tensor([[1, 2], [3, 4]]),
    "tensor_float": lambda t: t.tensor([1.0, 2]),
    "tensor_bool": lambda t: t.tensor([True, False]),
    "tensor_scalar": lambda t: t.tensor(3.5),
    "tensor_dtype": lambda t: t.tensor([1, 2], dtype=t.float64),
    "tensor_empty": lambda t: t.tensor([]),
    "zeros": lambda t: t.zeros(2, 3),
    "zeros_tuple": lambda t: t.zeros((2, 3), dtype=t.int32),
    "ones": lambda t: t.ones([4], dtype=t.bool),
    "full": lambda t: t.full((2, 2), 7),
    "full_float": lambda t: t.full((2,), 1.5),
    "full_bool": lambda t: t.full((2,), True),
    "zeros_like": lambda t: t.zeros_like(t.ones(2, 3, dtype=t.int64)),
    "ones_like": lambda t: t.ones_like(t.zeros(3), dtype=t.float64),
    "full_like": lambda t: t.full_like(t.zeros(3, dtype=t.int32), 4),
    "empty_shape": lambda t: t.empty(2, 5).shape,
    "arange": lambda t: t.arange(5),
    "arange_start": lambda t: t.arange(2, 10, 3),
    "arange_float": lambda t: t.arange(0, 1, 0.25),
    "arange_neg": lambda t: t.arange(5, 0, -2),
    "arange_float64": lambda t: t.arange(4, dtype=t.float64),
    "linspace": lambda t: t.linspace(0, 1, 5),
    "linspace_one": lambda t: t.linspace(-1, 1, 1),
    "eye": lambda t: t.eye(3),
    "eye_rect": lambda t: t.eye(2, 4, dtype=t.int64),
    "FloatTensor": lambda t: t.FloatTensor([1, 2]),
    "LongTensor": lambda t: t.LongTensor([1, 2]),
    "FloatTensor_shape": lambda t: t.FloatTensor(2, 3).shape,
    "tensor_of_tensors": lambda t: t.tensor([t.tensor(1.5), t.tensor(2.0)]),
    "stack": lambda t: t.stack([t.ones(2), t.zeros(2)], dim=1),
    "tril": lambda t: t.tril(t.ones(3, 3)),
    "triu_k": lambda t: t.triu(t.ones(3, 4), 1),
    "meshgrid": lambda t: t.meshgrid(t.arange(2), t.arange(3), indexing="ij"),
}


@pytest.mark.parametrize("name", CREATION)
def test_creation(name):
    check(lambda t: CREATION[name](t), lib=True)


# ---- shape and movement --------------------------------------------------------------------
MOVEMENT = {
    "view": lambda x: x.view(4, 6),
    "view_infer": lambda x: x.view(-1, 3),
    "view_tuple": lambda x: x.view((2, 12)),
    "reshape": lambda x: x.reshape(6, -1),
    "flatten": lambda x: x.flatten(),
    "flatten_range": lambda x: x.flatten(1),
    "unflatten": lambda x: x.unflatten(2, (2, 2)),
    "permute": lambda x: x.permute(2, 0, 1),
    "permute_neg": lambda x: x.permute(-1, 0, 1),
    "transpose": lambda x: x.transpose(0, 2),
    "mT": lambda x: x.mT,
    "T2": lambda x: x[0].T,
    "t": lambda x: x[0].t(),
    "squeeze": lambda x: x[:, :1].squeeze(),
    "squeeze_dim": lambda x: x[:, :1].squeeze(1),
    "squeeze_noop": lambda x: x.squeeze(0),
    "unsqueeze": lambda x: x.unsqueeze(1),
    "unsqueeze_neg": lambda x: x.unsqueeze(-1),
    "expand": lambda x: x[:, :1].expand(2, 3, 4),
    "expand_new_dim": lambda x: x[0, 0].expand(3, 4),
    "expand_minus1": lambda x: x[:, :1].expand(-1, 5, -1),
    "expand_as": lambda x: x[:1].expand_as(x),
    "repeat": lambda x: x.repeat(2, 1, 1),
    "repeat_more_dims": lambda x: x[0].repeat(2, 1, 2),
    "split": lambda x: x.split(2, dim=2),
    "split_sizes": lambda x: x.split([1, 2], dim=1),
    "chunk": lambda x: x.chunk(3, dim=-1),
    "unbind": lambda x: x.unbind(1),
    "flip": lambda x: x.flip(0, 2),
    "flip_list": lambda x: x.flip([1]),
    "narrow": lambda x: x.narrow(1, 1, 2),
    "narrow_neg": lambda x: x.narrow(-1, -2, 2),
    "roll": lambda x: x.roll(1, 2),
    "contiguous_of_t": lambda x: x.transpose(0, 1).contiguous(),
    "clone": lambda x: x.clone(),
    "select": lambda x: x.select(1, 2),
    "tile": lambda x: x.tile(2),
    "movedim_combo": lambda x: x.permute(1, 2, 0).reshape(3, 8),
    "movedim": lambda x: x.movedim(0, -1),
    "movedim_tuple": lambda x: x.movedim((0, 1), (2, 0)),
    "moveaxis": lambda x: x.moveaxis(-1, 0),
    "diagonal": lambda x: x.diagonal(),
    "diagonal_offset_dims": lambda x: x.diagonal(1, -1, 1),
    "diagonal_negative_offset": lambda x: x.diagonal(-1, 2, 1),
    "diagonal_past_the_end": lambda x: x.diagonal(7, 1, 2),
    "diagonal_of_transposed": lambda x: x.transpose(1, 2).diagonal(1, 1, 2),
    "diagonal_of_strided": lambda x: x[:, :, ::2].diagonal(0, 1, 2),
    "diag": lambda x: x[0].diag(1),
    "diag_of_vector": lambda x: x[0, 0].diag(-2),
    "trace": lambda x: x[1].trace(),
    "tril": lambda x: x.tril(),
    "triu": lambda x: x.triu(1),
    "type_as": lambda x: x.type_as(x.double()),
    "fliplr": lambda x: x.fliplr(),
    "flipud": lambda x: x.flipud(),
    "repeat_interleave": lambda x: x.repeat_interleave(2, dim=1),
    "repeat_interleave_flat": lambda x: x.repeat_interleave(2),
    "broadcast_to": lambda x: x[:, :1].broadcast_to((2, 5, 4)),
}


@pytest.mark.parametrize("name", MOVEMENT)
def test_movement(name):
    check(MOVEMENT[name], (2, 3, 4))


def test_index_driven_movement():
    check(lambda t, x: t.repeat_interleave(x, t.tensor([1, 0, 2]), dim=1), (2, 3), lib=True)
    check(lambda t: t.repeat_interleave(t.tensor([2, 0, 1])), lib=True)
    check(lambda t, x: t.take_along_dim(x, x.argsort(dim=1), dim=1), (3, 4), lib=True)
    check(lambda t, x: t.take_along_dim(x, t.tensor([[0], [2], [1]]), 1), (3, 4), lib=True)
    check(lambda x: x.take_along_dim(torch_or_mt(x).tensor([0, 5, 3])), (3, 4))
    check(lambda t, x: t.diagonal(x, offset=1, dim1=1, dim2=0), (3, 4), lib=True)
    check(lambda t, x: t.diag(x), (3,), lib=True)
    check(lambda t, x: t.trace(x), (3, 4), lib=True)
    check(lambda t, x: t.movedim(x, 1, 0), (2, 3), lib=True)
    raises_like_torch(lambda x: x.diagonal(0, 1, 1), (2, 3))
    raises_like_torch(lambda x: x.movedim((0, 1), (0,)), (2, 3))
    raises_like_torch(lambda x: x.fliplr(), (3,))


def torch_or_mt(x):
    return minitorch if isinstance(x, minitorch.Tensor) else torch


def test_writes_through_a_diagonal_view_reach_the_tensor():
    for lib in (minitorch, torch):
        x = lib.zeros(3, 4)
        x.diagonal().fill_(1)
        x.t().diagonal(-1).fill_(2)  # x[i, i + 1]: a view through the transpose
        assert x.tolist() == [[1, 2, 0, 0], [0, 1, 2, 0], [0, 0, 1, 2]], lib
    check(lambda x: (lambda y: (y.diagonal().mul_(3), y)[1])(x * 2), (3, 3))


def test_cat_stack_and_friends():
    check(lambda t, a, b: t.cat([a, b]), (2, 3), (4, 3), lib=True)
    check(lambda t, a, b: t.cat([a, b], dim=-1), (2, 3), (2, 1), lib=True)
    check(lambda t, a, b: t.cat((a, b), 1), (2, 3, 1), (2, 3, 2), lib=True)
    check(lambda t, a, b: t.stack([a, b]), (2, 3), (2, 3), lib=True)
    check(lambda t, a, b: t.stack([a, b], dim=-1), (2, 3), (2, 3), lib=True)
    check(lambda t, a, b: t.hstack([a, b]), (2, 3), (2, 3), lib=True)
    check(lambda t, a, b: t.vstack([a, b]), (3,), (3,), lib=True)
    check(lambda t, a, b: t.broadcast_tensors(a, b), (3, 1), (1, 4), lib=True)
    check(lambda t, a: t.where(a > 0), (3, 4), lib=True)


def test_view_and_reshape_of_noncontiguous():
    check(lambda x: x.reshape(-1), noncontig(3, 4))
    check(lambda x: x.flatten(), noncontig(3, 4))
    check(lambda x: x.view(4, 3), noncontig(4, 3).T.T)
    raises_like_torch(lambda x: x.view(-1), noncontig(3, 4))


# ---- indexing ------------------------------------------------------------------------------
INDEXING = {
    "int": lambda x: x[1],
    "neg_int": lambda x: x[-1, -2],
    "scalar_elem": lambda x: x[1, 2, 3],
    "slice": lambda x: x[1:],
    "slice_step": lambda x: x[:, ::2],
    "slice_neg": lambda x: x[..., -3:-1],
    "slice_step_start": lambda x: x[:, 1::2, ::3],
    "none": lambda x: x[None],
    "none_mid": lambda x: x[:, None, 1],
    "ellipsis": lambda x: x[..., 0],
    "ellipsis_none": lambda x: x[0, ..., None],
    "bool_mask": lambda x: x[x > 0],
    "bool_mask_row": lambda x: x[:, x[0, :, 0] > 0],
    "int_tensor": lambda x: x[x.new_tensor([1, 0, 1]).long()],
    "int_tensor_2d": lambda x: x[:, x.new_tensor([[0, 2], [1, 1]]).long()],
    "int_list": lambda x: x[[0, 1, 1]],
    "two_int_tensors": lambda x: x[x.new_tensor([0, 1]).long(), x.new_tensor([2, 0]).long()],
    "int_tensor_neg": lambda x: x[:, x.new_tensor([-1, 0]).long()],
    "int32_tensor": lambda x: x[x.new_tensor([1, 0]).int()],
    "uint8_mask": lambda x: x[:, (x[0, :, 0] > 0).byte()],
    "mixed_slice_tensor": lambda x: x[1:, x.new_tensor([0, 2]).long(), ::2],
    "gather": lambda x: x.gather(2, x.new_tensor([[[0, 3], [1, 1], [2, 0]]] * 2).long()),
    "gather_dim0": lambda x: x[0].gather(0, x.new_tensor([[0, 1, 2, 0], [2, 2, 1, 0]]).long()),
    "index_select": lambda x: x.index_select(1, x.new_tensor([2, 0, 2]).long()),
    "index_select_neg_dim": lambda x: x.index_select(-1, x.new_tensor([3]).long()),
    "masked_fill": lambda x: x.masked_fill(x > 0.5, -1.0),
    "masked_fill_bcast": lambda x: x.masked_fill(x[0, 0] > 0, 0.0),
    "masked_select": lambda x: x.masked_select(x < 0),
    "nonzero": lambda x: (x > 0).nonzero(),
    "nonzero_tuple": lambda x: (x > 0).nonzero(as_tuple=True),
    "where": lambda x: x.where(x > 0, x * 2),
}


@pytest.mark.parametrize("name", INDEXING)
def test_indexing(name):
    check(INDEXING[name], (2, 3, 4))


def test_scatter():
    idx = np.array([[0, 1, 2, 0], [2, 0, 0, 1]])
    check(lambda x, s, i: x.scatter(0, i, s), (3, 4), (2, 4), idx)
    check(lambda x, s, i: x.scatter_add(0, i, s), (3, 4), (2, 4), idx)
    check(lambda x, i: x.scatter(1, i, 5.0), (2, 4), np.array([[0], [3]]))
    check(lambda x, s, i: x.clone().scatter_(0, i, s), (3, 4), (2, 4), idx)
    check(lambda x, s, i: x.clone().scatter_add_(0, i, s), (3, 4), (2, 4), idx)
    check(
        lambda x, i: x.clone().index_put_((i,), x.new_tensor(1.0), accumulate=True),
        (4,),
        np.array([0, 0, 2]),
    )


SETITEM = {
    "int": lambda y, v: y.__setitem__(1, 0.5),
    "slice_step": lambda y, v: y.__setitem__((slice(None), slice(None, None, 2)), v[:, ::2]),
    "neg": lambda y, v: y.__setitem__((-1, -1), 7.0),
    "none_ellipsis": lambda y, v: y.__setitem__((None, ..., 0), 3.0),
    "bool_mask": lambda y, v: y.__setitem__(y > 0, 0.0),
    "bool_mask_values": lambda y, v: y.__setitem__(v > 0, v[v > 0]),
    "int_tensor": lambda y, v: y.__setitem__(y.new_tensor([0, 2]).long(), v[:2]),
    "int_list": lambda y, v: y.__setitem__([1, 2], v[:2]),
    "tensor_value_bcast": lambda y, v: y.__setitem__(slice(0, 2), v[0]),
    "two_int_tensors": lambda y, v: y.__setitem__(
        (y.new_tensor([0, 1]).long(), y.new_tensor([3, 0]).long()), v[0, :2]
    ),
}


@pytest.mark.parametrize("name", SETITEM)
def test_setitem(name):
    def fn(x, v):
        y = x * 1  # a non-leaf: in-place writes are allowed and differentiable
        SETITEM[name](y, v)
        return y

    check(fn, (3, 4), (3, 4))


def test_setitem_on_plain_tensor():
    def fn(x):
        y = x.detach().clone()
        y[0, 1:3] = 5
        y[..., -1] = y[..., 0]
        return y

    check(fn, (3, 4), grad=False)
    check(lambda t: _setitem_int(t), lib=True)


def _setitem_int(t):
    y = t.arange(6).reshape(2, 3)
    y[y % 2 == 0] = -1
    y[1] = t.tensor([7, 8, 9])
    y[:, 0] += 100
    return y


# ---- in-place ops and operators ------------------------------------------------------------
def _inplace(op):
    def fn(x, y):
        z = x * 1
        if op == "+=":
            z += y
        elif op == "-=":
            z -= y
        elif op == "*=":
            z *= y
        elif op == "/=":
            z /= y
        elif op == "**=":
            z **= 2
        elif op == "@=":
            z @= y.reshape(4, 4)[:4, :4]
        return z

    return fn


@pytest.mark.parametrize("op", ["+=", "-=", "*=", "/=", "**="])
def test_inplace_operators_non_leaf(op):
    check(_inplace(op), (3, 4), pos(3, 4))


def test_inplace_methods_non_leaf():
    for name in ["add_", "sub_", "mul_", "div_"]:
        check(lambda x, y: getattr(x * 1, name)(y), (3, 4), pos(3, 4))
    for name in ["exp_", "neg_", "relu_", "sigmoid_", "tanh_", "abs_"]:
        check(lambda x: getattr(x * 1, name)(), (3, 4))
    check(lambda x: (x * 1).clamp_(-0.5, 0.5), (3, 4))
    check(lambda x, y: (x * 1).copy_(y), (3, 4), (4,))
    check(lambda x: (x * 1).fill_(2.0), (3, 4))
    check(lambda x: (x * 1).zero_(), (3, 4))
    check(lambda x: (x * 1).masked_fill_(x > 0, 0.0), (3, 4))
    check(lambda x: x.sin().add_(2).sum(), (3, 4))  # sin's backward reads x, not its output
    check(lambda x: x.log1p().mul_(x).log1p(), pos(3, 4))


def test_inplace_views_of_non_leaf():
    def fn(x, w):
        y = x * w
        y[:, 1] *= 3
        y[0].add_(y[1])
        y.t()[2:].mul_(w.t()[2:])
        y.view(-1)[::5] = 0.0
        y[1:, ::2][0, 1] = w[0, 0]
        return y.sin()

    check(fn, (3, 4), (3, 4), atol=1e-5)

    def from_constant(w):
        buf = w.new_zeros((2, 3))
        buf[0] = w
        buf[1, 1:].add_(w[:2] * 2)
        return buf

    check(from_constant, (3,))


def test_inplace_integer_and_dtype_rules():
    check(lambda x: x.clone().add_(2), i64(3))
    raises_like_torch(lambda x: x.clone().add_(2.5), i64(3))
    raises_like_torch(lambda x: x.clone().div_(2), i64(3))
    check(lambda x, y: x.clone().add_(y), f32(3), i64(3))
    raises_like_torch(lambda x, y: x.clone().add_(y), (3,), (2, 3))


# ---- conversion ----------------------------------------------------------------------------
def test_conversions():
    check(lambda x: x.long(), f32(5) * 3)
    check(lambda x: x.int(), f32(5) * 3)
    check(lambda x: x.bool(), np.array([0.0, 1.5, -2.0], np.float32))
    check(lambda x: x.double(), (3,))
    check(lambda x: x.float(), i64(3))
    check(lambda t, x: x.to(t.float64), (3,), lib=True)
    check(lambda t, x: x.to(t.uint8), np.array([1.0, 2.7, 255.0], np.float32), lib=True)
    check(lambda t, x: x.to("cpu", t.int32), np.array([1.5, -2.5], np.float32), lib=True)
    check(lambda x: x.tolist(), (2, 3), atol=1e-7)
    check(lambda x: x.tolist(), i64(2, 3))
    check(lambda x: x.sum().item(), (4,), atol=1e-6)
    check(lambda x: x[0].item(), i64(4))
    check(lambda x: (x > 0)[0].item(), (4,))
    check(lambda x: float(x[0]), (4,))
    check(lambda x: int(x[0]), i64(4))
    check(lambda x: x.shape, (2, 3))
    check(lambda x: x.size(), (2, 3))
    check(lambda x: x.size(-1), (2, 3))
    check(lambda x: x.dtype, i32(2))
    check(lambda x: (x.dim(), x.ndim, x.numel(), x.is_contiguous()), (2, 3))
    check(lambda x: x.t().is_contiguous(), (2, 3))
    check(lambda x: x.t().stride(), (2, 3))
    check(lambda x: x[:, 1:].storage_offset(), (2, 3))
    check(lambda x: x.requires_grad, (2,))
    check(lambda x: (x * 2).is_leaf, (2,))
    check(lambda x: len(x), (5, 2))
    check(lambda x: [v.item() for v in x], i64(3))
    check(lambda x: x.equal(x.clone()), (3,))
    check(lambda x, y: x.allclose(y), (3,), (3,))


# ---- functional ---------------------------------------------------------------------------
def test_misc_math():
    check(lambda x, y, z: x.addcmul(y, z, value=0.5), (3,), (3,), (3,))
    check(lambda x, y, z: x.addcdiv(y, z, value=2), (3,), (3,), pos(3))
    check(lambda x: x.isclose(x + 1e-9), (3,))
    check(lambda x: x.isinf(), np.array([1.0, np.inf, -np.inf, np.nan], np.float32))
    check(lambda x: x.isfinite(), np.array([1.0, np.inf, -np.inf, np.nan], np.float32))
    check(lambda x: x.sign(), np.array([-2.0, 0.0, 3.0], np.float32))
    check(lambda x: x.round(), np.array([0.5, 1.5, 2.5, -0.5, -1.5], np.float32))
    check(lambda x: x.round(decimals=1), np.array([0.123, 1.456], np.float32))
    check(lambda x: x.relu(), np.array([-1.0, 0.0, 2.0], np.float32))
    check(lambda x: x.abs(), np.array([-1.0, 0.5, 2.0], np.float32))


# ---- edge cases: 0-d, empty, NaN, dtype corners, odd operands -----------------------------
EDGE = {
    "neg_step": (lambda x: x[::-1], [(3,)]),
    "0d_add": (lambda x, y: x + y, [np.array(1.5, np.float32), np.array(2.0, np.float32)]),
    "0d_sum_dim": (lambda x: x.sum(0), [np.array(1.5, np.float32)]),
    "0d_unsqueeze": (lambda x: x.unsqueeze(0), [np.array(1.5, np.float32)]),
    "empty_mul": (lambda x: x * 2, [np.zeros((0, 3), np.float32)]),
    "empty_matmul": (lambda x, y: x @ y, [np.zeros((0, 3), np.float32), (3, 2)]),
    "empty_softmax": (lambda x: x.softmax(1), [np.zeros((0, 3), np.float32)]),
    "empty_max_dim": (lambda x: x.max(1), [np.zeros((0, 3), np.float32)]),
    "empty_cat": (lambda t, x, y: t.cat([x, y]), [np.zeros((0,), np.float32), (2,)]),
    "idx_0d_tensor": (lambda x, i: x[i], [(3, 4), np.array(1)]),
    "mask_0d": (lambda x: x[x.sum() > 0], [(3,)]),
    "int_pow_neg": (lambda x: x**2, [np.array([-2, 3])]),
    "int_tensor_pow_tensor": (lambda x, y: x**y, [np.array([2, 3]), np.array([3, 2])]),
    "float_pow_int_tensor": (lambda x, y: x**y, [(2,), np.array([3, 2])]),
    "sum_keepdim_all": (lambda x: x.sum(dim=(0, 1), keepdim=True), [(2, 3)]),
    "mean_int_dtype": (lambda t, x: x.mean(dtype=t.float64), [np.array([1, 2])]),
    "std_single": (lambda x: x.std(), [(1,)]),
    "prod_zero": (lambda x: x.prod(1), [np.array([[0.0, 2.0], [3.0, 4.0]], np.float32)]),
    "div_zero": (lambda x: x / 0, [(3,)]),
    "int_div_zero": (lambda x: x // 0, [np.array([1, 2])]),
    "clamp_tensor": (lambda x, y: x.clamp(min=y), [(3,), (3,)]),
    "maximum_nan": (lambda x: x.maximum(x * 0 + float("nan")), [(3,)]),
    "amax_nan": (lambda x: (x / 0 * 0).amax(), [(3,)]),
    "argmax_nan": (lambda x: x.argmax(), [np.array([1.0, np.nan, 3.0], np.float32)]),
    "sort_nan": (lambda x: x.sort(), [np.array([1.0, np.nan, 3.0], np.float32)]),
    "topk_ties": (lambda x: x.topk(2), [np.array([1.0, 3.0, 3.0], np.float32)]),
    "where_scalar": (lambda t, x: t.where(x > 0, 1.0, 0), [(3,)]),
    "where_int_scalar": (lambda t, x: t.where(x > 0, 1, 0), [(3,)]),
    "masked_fill_int": (lambda x: x.masked_fill(x > 0, 2.5), [np.array([1, -1])]),
    "index_neg_step": (lambda x: x.flip(0)[1:], [(3,)]),
    "expand_0d": (lambda x: x.expand(3), [np.array(1.0, np.float32)]),
    "repeat_0": (lambda x: x.repeat(0, 2), [(2,)]),
    "reshape_0d": (lambda x: x.reshape(1, 1), [np.array(1.0, np.float32)]),
    "squeeze_0d": (lambda x: x.squeeze(), [np.array(1.0, np.float32)]),
    "t_0d": (lambda x: x.t(), [np.array(1.0, np.float32)]),
    "log_softmax_int": (lambda x: x.float().log_softmax(0), [np.array([1, 2])]),
    "cumsum_bool": (lambda x: (x > 0).cumsum(0), [(4,)]),
    "bool_neg": (lambda x: -(x > 0), [(3,)]),
    "bool_sub": (lambda x: (x > 0) - (x > 0), [(3,)]),
    "uint8_neg": (lambda x: -x, [np.array([1, 2], np.uint8)]),
    "abs_int": (lambda x: x.abs(), [np.array([-1, 2], np.int32)]),
    "sign_bool": (lambda x: (x > 0).sign(), [(3,)]),
    "round_int": (lambda x: x.round(), [np.array([1, 2])]),
    "floor_int": (lambda x: x.floor(), [np.array([1, 2])]),
    "sqrt_neg": (lambda x: x.sqrt(), [np.array([-1.0], np.float32)]),
    "log_zero": (lambda x: x.log(), [np.array([0.0], np.float32)]),
    "remainder_neg_div": (lambda x, y: x % y, [np.array([5, -5]), np.array([-3, 3])]),
    "fmod_int": (lambda x, y: x.fmod(y), [np.array([5, -5]), np.array([-3, 3])]),
    "pow_scalar_int": (lambda x: 2**x, [np.array([1, 2])]),
    "gather_grad_dup": (lambda x, i: x.gather(0, i), [(3,), np.array([0, 0, 2])]),
    "index_dup_grad": (lambda x, i: x[i], [(3,), np.array([0, 0, 2])]),
    "index_put_dup": (
        lambda x: (
            x.detach().clone().index_put_((x.new_tensor([0, 0]).long(),), x.new_tensor([1.0, 2.0]))
        ),
        [(3,)],
    ),
    "norm_inf": (lambda x: x.norm(p=float("inf")), [(3,)]),
    "var_correction0": (lambda x: x.var(correction=0), [(3,)]),
    "addmm_like": (lambda x, y: x @ y + 1, [(2, 3), (3, 4)]),
    "sum_int_dtype_keep": (lambda x: x.sum(0, keepdim=True), [np.array([[True, False]])]),
    "mean_tuple_dims": (lambda x: x.mean((0, -1)), [(2, 3, 4)]),
    "amax_list": (lambda x: x.amax([0, 1]), [(2, 3)]),
    "max_0d_dim": (lambda x: x.max(0), [np.array(1.0, np.float32)]),
    "argmax_0d": (lambda x: x.argmax(), [np.array(1.0, np.float32)]),
    "split_0": (lambda x: x.split(0), [(3,)]),
    "chunk_more": (lambda x: x.chunk(5), [(3,)]),
    "unflatten_neg": (lambda x: x.unflatten(0, (-1, 2)), [(6,)]),
    "float_index_scalar": (lambda x: x[1.0], [(3,)]),
    "list_of_bools": (lambda x: x[[True, False, True]], [(3,)]),
    "tensor_list_idx": (lambda x: x[[0, 2], [1, 0]], [(3, 2)]),
    "slice_beyond": (lambda x: x[5:], [(3,)]),
    "bool_0d_index": (lambda x: x[True], [(3,)]),
    "bool_tensor_index_grad": (lambda x: x[x > 0] * 2, [(3, 4)]),
    "nonzero_0d": (lambda x: x.nonzero(), [np.array(1.0, np.float32)]),
    "sub_bool": (lambda x: x - True, [(3,)]),
    "lerp_tensor_weight": (lambda x, y, w: x.lerp(y, w), [(3,), (3,), (3,)]),
    "add_alpha_int": (lambda x, y: x.add(y, alpha=2), [np.array([1]), np.array([2])]),
    "eq_scalar_bool": (lambda x: (x > 0) == True, [(3,)]),  # noqa: E712
    "tensor_eq_none": (lambda x: x == None, [(3,)]),  # noqa: E711
    "add_string": (lambda x: x + "a", [(3,)]),
    "add_list": (lambda x: x + [1.0, 2.0, 3.0], [(3,)]),
    "matmul_int": (lambda x, y: x @ y, [np.array([[1, 2]]), np.array([[3], [4]])]),
    "matmul_1d_1d_bad": (lambda x, y: x @ y, [(3,), (4,)]),
    "matmul_batch_bad": (lambda x, y: x @ y, [(2, 3, 4), (3, 4, 5)]),
    "to_same_dtype_copy": (lambda x: x.to(x.dtype) is x, [(3,)]),
    "contiguous_same": (lambda x: x.contiguous() is x, [(3,)]),
    "view_neg1_0": (lambda x: x.view(-1, 0), [np.zeros((0,), np.float32)]),
    "stride_expand": (lambda x: x.expand(2, 3).stride(), [(3,)]),
    "is_contiguous_expand": (lambda x: x.expand(2, 3).is_contiguous(), [(3,)]),
    "stride_unsqueeze": (lambda x: x.unsqueeze(1).stride(), [(3,)]),
}


@pytest.mark.parametrize("name", EDGE)
def test_edge_cases(name):
    fn, inputs = EDGE[name]
    lib = fn.__code__.co_varnames[:1] == ("t",)
    check(fn, *inputs, lib=lib)


# ---- errors: same exception types as PyTorch -----------------------------------------------
ERRORS = {
    "add_shape_mismatch": (lambda x, y: x + y, [(3, 4), (2, 4)]),
    "mul_shape_mismatch": (lambda x, y: x * y, [(3,), (4,)]),
    "matmul_shapes": (lambda x, y: x @ y, [(64, 784), (512, 784)]),
    "matmul_0d": (lambda x, y: x @ y, [np.array(1.0, np.float32), (3,)]),
    "matmul_dtype": (lambda x, y: x @ y, [(2, 3), f64(3, 2)]),
    "mm_3d": (lambda x, y: x.mm(y), [(2, 2, 2), (2, 2)]),
    "index_out_of_range": (lambda x: x[5], [(3, 4)]),
    "index_out_of_range_neg": (lambda x: x[:, -5], [(3, 4)]),
    "too_many_indices": (lambda x: x[0, 0, 0], [(3, 4)]),
    "index_tensor_out_of_range": (lambda x, i: x[i], [(3,), np.array([0, 3])]),
    "float_index": (lambda x, i: x[i], [(3,), np.array([0.0, 1.0], np.float32)]),
    "bad_dim_sum": (lambda x: x.sum(3), [(3, 4)]),
    "bad_dim_softmax": (lambda x: x.softmax(-3), [(3, 4)]),
    "bad_dim_transpose": (lambda x: x.transpose(0, 2), [(3, 4)]),
    "bad_dim_unsqueeze": (lambda x: x.unsqueeze(3), [(3, 4)]),
    "bad_dim_cat": (lambda t, x: t.cat([x, x], 2), [(3, 4)]),
    "bad_dim_size": (lambda x: x.size(2), [(3, 4)]),
    "bad_dim_max": (lambda x: x.max(dim=2), [(3, 4)]),
    "view_noncontiguous": (lambda x: x.view(12), [noncontig(3, 4)]),
    "view_bad_size": (lambda x: x.view(5, 2), [(3, 4)]),
    "reshape_bad_size": (lambda x: x.reshape(5, -1), [(3, 4)]),
    "reshape_two_minus1": (lambda x: x.reshape(-1, -1), [(3, 4)]),
    "expand_bad": (lambda x: x.expand(3, 5), [(3, 4)]),
    "cat_shapes": (lambda t, x, y: t.cat([x, y]), [(3, 4), (3, 5)]),
    "stack_shapes": (lambda t, x, y: t.stack([x, y]), [(3, 4), (3, 5)]),
    "backward_non_scalar": (lambda x: (x * 2).backward(), [(3,)]),
    "backward_no_grad_fn": (lambda x: x.detach().sum().backward(), [(3,)]),
    "item_many": (lambda x: x.item(), [(3,)]),
    "bool_many": (lambda x: bool(x), [(3,)]),
    "numpy_requires_grad": (lambda x: x.numpy(), [(3,)]),
    "int_requires_grad": (lambda t: t.ones(3, dtype=t.int64, requires_grad=True), []),
    "leaf_inplace": (lambda x: x.add_(1), [(3,)]),
    "leaf_view_inplace": (lambda x: x[0].mul_(2), [(3,)]),
    "leaf_setitem": (lambda x: x.__setitem__(0, 1.0), [(3,)]),
    "saved_output_modified": (lambda x: x.sigmoid().mul_(2).sum().backward(), [(3,)]),
    "saved_input_modified": (lambda x: _mul_then_modify(x).sum().backward(), [(3,)]),
    "second_backward": (lambda x: _backward_twice(x), [(3,)]),
    "gather_index_dtype": (lambda x, i: x.gather(0, i), [(3,), np.array([0, 1], np.float32)]),
    "gather_out_of_range": (lambda x, i: x.gather(0, i), [(3,), np.array([0, 5])]),
    "gather_bool_index": (lambda x, i: x.gather(0, i), [(3,), np.array([True, False])]),
    "gather_negative_index": (lambda x, i: x.gather(0, i), [(3,), np.array([0, -1])]),
    "scatter_add_negative_index": (
        lambda x, i: x.scatter_add(0, i, x[:2]),
        [(3,), np.array([-3, 1])],
    ),
    "scatter_index_dtype": (lambda x, i: x.scatter(0, i, 1.0), [(3,), np.array([0.0], np.float32)]),
    "index_select_float": (lambda x, i: x.index_select(0, i), [(3,), np.array([0.0], np.float32)]),
    "index_select_int16": (lambda x, i: x.index_select(0, i), [(3,), np.array([0], np.int16)]),
    "index_int16": (lambda x, i: x[i], [(3,), np.array([0], np.int16)]),
    "masked_fill_float_mask": (lambda x: x.masked_fill(x, 0.0), [(3,)]),
    "split_sizes": (lambda x: x.split([1, 1], 0), [(3,)]),
    "narrow_too_long": (lambda x: x.narrow(0, 2, 5), [(3,)]),
    "permute_wrong_len": (lambda x: x.permute(0, 1), [(2, 3, 4)]),
    "permute_repeated": (lambda x: x.permute(0, 0), [(2, 3)]),
    "permute_bad_dim": (lambda x: x.permute(0, 5), [(2, 3)]),
    "t_3d": (lambda x: x.t(), [(2, 3, 4)]),
    "squeeze_bad_dim": (lambda x: x.squeeze(4), [(2, 3)]),
    "randint_bad_range": (lambda t: t.randint(5, 3, (2,)), []),
    "arange_zero_step": (lambda t: t.arange(0, 5, 0), []),
    "len_0d": (lambda x: len(x), [np.array(1.0, np.float32)]),
    "tensor_ragged": (lambda t: t.tensor([[1, 2], [3]]), []),
    "tensor_ragged_deep": (lambda t: t.tensor([[[1], [2]], [[1], [2, 3]]]), []),
    "tensor_number_among_lists": (lambda t: t.tensor([[1, 2], 3]), []),
    "tensor_string": (lambda t: t.tensor([1.0, "a"]), []),
    "tensor_none": (lambda t: t.tensor([[1.0, 2.0], [3.0, None]]), []),
    "inplace_bcast_output": (lambda x, y: (x * 1).add_(y), [(3,), (2, 3)]),
    "where_shapes": (lambda x, y: x.where(x > 0, y), [(3,), (4,)]),
    "cross_entropy_style_index": (lambda x, i: x[i], [(3, 4), np.array([[0, 9]])]),
}


def _mul_then_modify(x):
    y = x * 1
    z = y * y  # saves y
    y.add_(1)
    return z


def _backward_twice(x):
    y = x.exp().sum()
    y.backward()
    y.backward()


@pytest.mark.parametrize("name", ERRORS)
def test_error_types_match_torch(name):
    fn, inputs = ERRORS[name]
    lib = fn.__code__.co_varnames[:1] == ("t",)
    raises_like_torch(fn, *inputs, lib=lib)


def test_error_messages_name_shapes():
    err = raises_like_torch(lambda x, y: x @ y, (64, 784), (512, 784))
    assert "64x784" in str(err) or "(64, 784)" in str(err)
    assert "512x784" in str(err) or "(512, 784)" in str(err)
    err = raises_like_torch(lambda x, y: x + y, (3, 4), (2, 4))
    assert "(3, 4)" in str(err) and "(2, 4)" in str(err)


# ---- autograd parity ----------------------------------------------------------------------
def test_gather_rejects_negative_indices_with_torchs_message():
    """gather does not count a negative index from the end (x[i] does): PyTorch's error,
    from the loop kernel and the numpy path (an index smaller than the input) alike."""
    x = np.arange(12.0).reshape(4, 3)
    for index in ([[0], [1], [-1], [1]], [[0], [-1]]):
        i = np.array(index)
        err = raises_like_torch(lambda x, i: x.gather(1, i), x, i)
        with pytest.raises(RuntimeError) as want:
            torch.tensor(x).gather(1, torch.tensor(i))
        assert str(want.value) in str(err)


def test_grad_through_views_and_composites():
    check(lambda x: (x.t() @ x).tanh().sum(1), (3, 4), atol=1e-5)
    check(lambda x: x.reshape(2, 6).softmax(1)[:, ::2], (3, 4), atol=1e-5)
    check(lambda x: x.expand(2, 3, 4).permute(2, 0, 1).sum(0), (3, 4))
    check(lambda x: x[x > 0].sum() + x[1:, ::2].mean(), (3, 4))
    check(lambda x: x.unsqueeze(0).repeat(2, 1, 1).flip(0), (3, 4))
    check(lambda t, x, y: t.cat([x, y * 2], 0).var(0), (2, 4), (3, 4), lib=True)
    check(lambda t, x: t.stack(x.unbind(1), 0).cumsum(1), (3, 4), lib=True)
    check(lambda x: (x**3).mean(1) / x.norm(), (3, 4), atol=1e-5)
    check(lambda x: x.max(1).values * x.min(0).values.sum(), (3, 4))


def test_inplace_non_leaf_gradient_matches_torch():
    def fn(x, w):
        y = x * w
        y.add_(1)
        y.mul_(x)
        y[0] = 0.0
        y[:, 1] *= 3
        return y.sin()

    check(fn, (3, 4), (3, 4), atol=1e-5)

    def earlier_consumer(x):
        y = x * 2
        z = y + 1  # uses y before the in-place op: its gradient must not see the mul_
        y.mul_(x)
        return z + y

    check(earlier_consumer, (3, 4))


def test_retain_grad_and_hooks_match_torch():
    def fn(x):
        y = x * 2
        y.retain_grad()
        y.register_hook(lambda g: g * 3)
        z = (y * y).sum()
        z.backward()
        return x.grad.clone(), y.grad.clone()

    check(fn, (3,), grad=False)


def test_higher_order_grad_matches_torch():
    def fn(t, x):
        y = (x**3).sum()
        (g,) = t.autograd.grad(y, x, create_graph=True)
        (g2,) = t.autograd.grad(g.sum(), x)
        return g.detach(), g2

    check(fn, (4,), lib=True, grad=False, atol=1e-5)


# ---- repr --------------------------------------------------------------------------------
REPRS = [
    f32(3, 4),
    f32(2, 3) * 1000,
    f32(5) * 1e-6,
    np.array([1e10, 1.0], np.float32),
    np.array([0.0, -0.5, 12.25], np.float32),
    np.arange(12, dtype=np.float32).reshape(3, 4),
    i64(2, 3) * 1000,
    bools(4),
    i32(3),
    u8(3),
    f64(2, 2),
    np.arange(2000, dtype=np.float32),
    np.arange(3000, dtype=np.float64).reshape(10, 300) / 7,
    np.arange(5000).reshape(5, 10, 100),
    np.zeros((0, 2), np.float32),
    np.array(2.5, np.float32),
    np.array([np.nan, -np.inf, 0.5], np.float32),
]


@pytest.mark.parametrize("data", REPRS, ids=lambda a: f"{a.dtype}{a.shape}")
def test_repr_matches_torch(data):
    want = repr(torch.from_numpy(data.copy())).replace("torch.", "minitorch.")
    assert repr(minitorch.tensor(data)) == want


# ---- what a PyTorch script writes (found by running tutorial-style scripts on both) ---------
AXIS_ALIAS = {
    "sum": lambda x: x.sum(axis=1),
    "mean keepdim": lambda x: x.mean(axis=0, keepdim=True),
    "torch.max": lambda lib, x: lib.max(x, axis=1).values,
    "torch.cat": lambda lib, x: lib.cat([x, x], axis=1),
    "softmax": lambda x: x.softmax(axis=-1),
    "argmax": lambda x: x.argmax(axis=1),
}


@pytest.mark.parametrize("name", AXIS_ALIAS)
def test_axis_is_another_name_for_dim(name):
    fn = AXIS_ALIAS[name]
    check(fn, (3, 4), lib=fn.__code__.co_argcount == 2)


def test_python_and_numpy_types_give_torchs_dtypes():
    cases = [
        lambda lib: lib.zeros(2, dtype=float),
        lambda lib: lib.ones(2).to(float),
        lambda lib: lib.ones(2).to(int),
        lambda lib: lib.tensor(np.float64(1.5)),
        lambda lib: lib.tensor(np.int32(3)),
        lambda lib: lib.tensor([np.ones(2), np.zeros(2)]),
        lambda lib: lib.tensor([np.float32(1.0), 2]),
        lambda lib: lib.tensor([np.int32(1), 2]),
        lambda lib: lib.tensor([1, 2.5]),
    ]
    for fn in cases:
        check(fn, lib=True, grad=False)
    for a, b in [
        ("int64", "float32"),
        ("uint8", "int8"),
        ("bool", "int16"),
        ("float16", "float64"),
    ]:
        assert str(minitorch.promote_types(getattr(minitorch, a), getattr(minitorch, b))) == str(
            torch.promote_types(getattr(torch, a), getattr(torch, b))
        ).replace("torch.", "minitorch.")


def test_legacy_tensor_types_are_classes():
    x = minitorch.ones(2, dtype=minitorch.int64)
    assert x.type(minitorch.FloatTensor).dtype is minitorch.float32
    assert isinstance(x.double(), minitorch.DoubleTensor) and isinstance(x, minitorch.LongTensor)
    assert not isinstance(x, minitorch.FloatTensor) and not isinstance(3, minitorch.LongTensor)
    assert minitorch.FloatTensor([1, 2]).tolist() == [1.0, 2.0]
    assert minitorch.LongTensor(2, 3).shape == (2, 3)


@pytest.mark.parametrize(
    "fn",
    [
        lambda lib, x: (x * 0).norm(),
        lambda lib, x: (x * 0).norm(p=3, dim=1).sum(),
        lambda lib, x: lib.nn.functional.normalize(x * 0, dim=0).sum(),
        lambda lib, x: lib.nn.functional.cosine_similarity(x * 0, x, dim=1).sum(),
    ],
    ids=["norm", "norm p=3", "normalize", "cosine_similarity"],
)
def test_norm_gradients_at_zero_are_finite_like_torchs(fn):
    check(fn, (3, 4), lib=True)


def test_binary_cross_entropy_of_saturated_probabilities_has_finite_gradients():
    p = np.array([0.0, 1.0, 0.5, 1.0, 0.0], np.float32)
    y = np.array([1.0, 0.0, 1.0, 1.0, 0.0], np.float32)
    for reduction in ("mean", "sum", "none"):
        check(lambda lib, p: lib.nn.BCELoss(reduction=reduction)(p, lib.tensor(y)), p, lib=True)
    check(
        lambda lib, p, y: lib.nn.functional.binary_cross_entropy(p, y),
        f32(6).clip(0, 1),
        pos(6) / 3,
        lib=True,
    )


def test_torch_compile_keywords_are_accepted():
    step = minitorch.compile(lambda x: x * 2, mode="max-autotune", fullgraph=True, dynamic=False)
    assert step(minitorch.ones(2)).tolist() == [2.0, 2.0]
    plain = lambda x: x  # noqa: E731
    assert minitorch.compile(plain, disable=True) is plain
    with pytest.raises(RuntimeError, match="Unrecognized mode=fastest"):
        minitorch.compile(plain, mode="fastest")


def test_long_float32_reductions_keep_their_precision():
    """Long folds combine blocks in float64 and cumsum accumulates in float64 (PyTorch's
    cascade sums and double cumsum accumulator): float32 running sums drift by 1e-4 here."""
    assert abs(minitorch.full((10**7,), 0.1).mean().item() - 0.1) < 1e-6
    assert minitorch.ones(2**24 + 8, 2).sum(0).tolist() == [2.0**24 + 8] * 2
    c = np.random.default_rng(0).random((4 * 10**6, 2), dtype=np.float32)
    np.testing.assert_allclose(minitorch.tensor(c).mean(0).numpy(), c.mean(0, np.float64), 1e-6)
    x = f32(50, 3000)
    np.testing.assert_array_equal(
        minitorch.tensor(x).cumsum(1).numpy(), torch.tensor(x).cumsum(1).numpy()
    )
    assert minitorch.full((10**6,), 0.1).cumsum(0)[-1].item() == pytest.approx(1e5, rel=1e-6)


OUT_VARIANTS = {
    "add": lambda lib, o: lib.add(lib.ones(2), 1, out=o),
    "exp": lambda lib, o: lib.exp(lib.ones(2), out=o),
    "matmul": lambda lib, o: lib.matmul(lib.ones(2, 3), lib.ones(3), out=o),
    "cat": lambda lib, o: lib.cat([lib.ones(1), lib.zeros(1)], out=o),
    "stack": lambda lib, o: lib.stack([lib.ones(1), lib.zeros(1)], out=o).flatten(),
    "float into long": lambda lib, o: lib.add(lib.ones(2), 1.5, out=o.long()),
}


@pytest.mark.parametrize("name", OUT_VARIANTS)
def test_out_arguments_receive_the_result(name):
    for size in (2, 0):  # the right size, and an empty tensor resized
        results = []
        for lib in (minitorch, torch):
            out = lib.zeros(size)
            try:
                got = OUT_VARIANTS[name](lib, out)
                results.append((got.tolist(), out.tolist(), got is out))
            except RuntimeError as e:
                results.append(type(e))
        assert results[0] == results[1], results
    with pytest.raises(RuntimeError, match="don't support automatic differentiation"):
        minitorch.exp(minitorch.ones(2, requires_grad=True), out=minitorch.zeros(2))


ASSERT_CLOSE_CASES = [
    lambda lib: (lib.ones(3), lib.ones(3) + 1e-7, {}),
    lambda lib: (lib.ones(3), lib.tensor([1.0, 1.5, 1.0]), {}),
    lambda lib: (lib.ones(3), lib.tensor([1.0, 1.5, 1.0]), {"rtol": 0.5, "atol": 0.0}),
    lambda lib: (lib.ones(3), lib.ones(3, dtype=lib.float64), {}),
    lambda lib: (lib.ones(3), lib.ones(3, dtype=lib.float64), {"check_dtype": False}),
    lambda lib: (lib.ones(2), lib.ones(3), {}),
    lambda lib: (lib.tensor([1, 2]), lib.tensor([1, 3]), {}),
    lambda lib: (lib.tensor([float("nan")]), lib.tensor([float("nan")]), {}),
    lambda lib: (lib.tensor([float("nan")]), lib.tensor([float("nan")]), {"equal_nan": True}),
    lambda lib: ([lib.ones(2), {"a": lib.zeros(1)}], [lib.ones(2), {"a": lib.ones(1)}], {}),
    lambda lib: (1.0, 1.0 + 1e-9, {}),
    lambda lib: (lib.ones(2), lib.ones(2), {"rtol": 1e-3}),
]


@pytest.mark.parametrize("case", range(len(ASSERT_CLOSE_CASES)))
def test_testing_assert_close_agrees_with_torchs(case):
    outcomes = []
    for lib in (minitorch, torch):
        actual, expected, options = ASSERT_CLOSE_CASES[case](lib)
        try:
            lib.testing.assert_close(actual, expected, **options)
            outcomes.append(None)
        except (AssertionError, ValueError) as e:
            message = str(e) if lib is minitorch else str(e).replace("torch.", "minitorch.")
            outcomes.append((type(e), message.splitlines()))
    assert outcomes[0] == outcomes[1]


def test_settings_scripts_make_are_kept():
    minitorch.backends.cudnn.benchmark = True
    assert minitorch.backends.cudnn.benchmark and not minitorch.backends.mps.is_available()
    minitorch.set_float32_matmul_precision("high")
    assert minitorch.get_float32_matmul_precision() == "high"
    minitorch.set_float32_matmul_precision("highest")
    minitorch.use_deterministic_algorithms(True)
    assert minitorch.are_deterministic_algorithms_enabled()
    minitorch.use_deterministic_algorithms(False)
    assert (
        minitorch.ones(2, 3).shape[1:] == (3,)
        and type(minitorch.ones(2, 3).shape[1:]) is minitorch.Size
    )


def test_grad_scaler_skips_non_finite_steps_and_moves_its_scale_like_torchs(monkeypatch):
    runs = []
    for lib in (minitorch, torch):
        w = lib.nn.Parameter(lib.ones(3))
        opt = lib.optim.SGD([w], lr=0.1)
        scaler = lib.amp.GradScaler("cpu", init_scale=4.0, growth_interval=2)
        run = []
        for i in range(6):
            opt.zero_grad()
            with lib.autocast("cpu"):
                loss = (w * lib.tensor([1.0, float("inf") if i == 2 else 2.0, 3.0])).sum()
            scaler.scale(loss).backward()
            scaler.step(opt)
            scaler.update()
            run.append((scaler.get_scale(), w.detach().numpy().copy()))
        runs.append((run, scaler.state_dict()))
    (ours, our_state), (theirs, their_state) = runs
    assert [s for s, _ in ours] == [s for s, _ in theirs] and our_state == their_state
    for (_, a), (_, b) in zip(ours, theirs):  # (SGD's float32 rounding differs by an ulp)
        np.testing.assert_allclose(a, b, rtol=1e-6)
    monkeypatch.setattr(minitorch.cuda, "is_available", lambda: False)  # (the simulator's on)
    with pytest.warns(UserWarning, match="CUDA is not available"):
        disabled = minitorch.cuda.amp.GradScaler()
    loss = minitorch.ones(1)
    assert disabled.scale(loss) is loss and disabled.get_scale() == 1.0
