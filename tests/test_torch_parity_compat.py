"""PyTorch compatibility, case by case: custom Functions, gradients at edge values, errors
and the less common tensor functions, each run on PyTorch and minitorch (tests/parity.py).

NOTE: minitorch (numba) is imported before torch: torch loading LLVM first can crash numba.
"""

import minitorch  # noqa: F401, I001  (before torch, see DESIGN.md)
import numba  # noqa: F401
import inspect
import sys

import numpy as np
import pytest

from parity import check, raises_like_torch

torch = pytest.importorskip("torch")


# ---- autograd.Function --------------------------------------------------------------------
def _split_function(t):
    """A Function with two differentiable outputs, an index output and a non-differentiable one."""

    class Split(t.autograd.Function):
        @staticmethod
        def forward(ctx, x):
            frozen = x * 5
            ctx.mark_non_differentiable(frozen)
            ctx.save_for_backward(x)
            return x * 2, x * x, t.tensor([1, 2]), frozen

        @staticmethod
        def backward(ctx, grad_double, grad_square, grad_index, grad_frozen):
            (x,) = ctx.saved_tensors
            # missing gradients arrive as zeros (materialize_grads is on by default)
            assert grad_index.dtype == t.int64 and not grad_frozen.any()
            return grad_double * 2 + grad_square * 2 * x

    return Split


def test_function_tracks_every_differentiable_output():
    def outputs(t, x):
        double, square, index, frozen = _split_function(t).apply(x)
        return double, square, index, frozen, [o.requires_grad for o in (square, index, frozen)]

    check(outputs, (3,), lib=True)
    check(lambda t, x: _split_function(t).apply(x)[1].exp(), (3,), lib=True)  # one used


def test_function_output_gradients_with_materialize_off_are_none():
    def run(t, x):
        class Pair(t.autograd.Function):
            @staticmethod
            def forward(ctx, x):
                ctx.set_materialize_grads(False)
                return x * 2, x * 3

            @staticmethod
            def backward(ctx, grad_a, grad_b):
                return (
                    (grad_a * 2 if grad_a is not None else 0) + grad_b * 3 + 100 * (grad_a is None)
                )

        x = x.detach().requires_grad_()  # (check's inputs require no grad when grad=False)
        _, b = Pair.apply(x)
        b.sum().backward()
        return x.grad.clone()

    check(run, (3,), lib=True, grad=False)


def test_function_returning_an_input_returns_a_view_with_history():
    def run(t, x):
        class Passthrough(t.autograd.Function):
            @staticmethod
            def forward(ctx, x):
                return x, x * 2

            @staticmethod
            def backward(ctx, grad_same, grad_double):
                return grad_same + grad_double * 2

        same, double = Passthrough.apply(x)
        return same, double, same is x, same.is_leaf

    check(run, (3,), lib=True)


def test_function_with_setup_context():
    def run(t, x, y):
        class Mul(t.autograd.Function):
            @staticmethod
            def forward(x, y, scale=2.0):  # PyTorch 2 style: no ctx in forward
                return x * y * scale

            @staticmethod
            def setup_context(ctx, inputs, output):
                x, y, scale = inputs
                ctx.save_for_backward(x, y)
                ctx.scale = scale

            @staticmethod
            def backward(ctx, grad):
                x, y = ctx.saved_tensors
                return grad * y * ctx.scale, grad * x * ctx.scale, None

        out = Mul.apply(x, y)
        out3 = Mul.apply(x, y, scale=3.0)
        return out, out3, out.grad_fn is not None

    check(run, (3,), (3,), lib=True)


# ---- gradients at edge values -------------------------------------------------------------
@pytest.mark.parametrize(
    "values",
    [
        [1.0, 2.0, 3.0],
        [2.0, 0.0, 3.0, 4.0],  # one zero: it gets the product of the others, later ones 0
        [0.0, 0.0, 3.0],
        [[1.5, 0.0, 2.0, 0.0, -5.0], [3.0, -1.0, 2.0, 4.0, 0.5]],
    ],
)
def test_cumprod_gradient_with_and_without_zeros(values):
    x = np.array(values, np.float32)
    for dim in range(x.ndim):
        check(lambda x: x.cumprod(dim), x)
        check(lambda t, x: t.cumprod(x, dim, dtype=t.float64), x, lib=True)


def test_cumprod_dtypes():
    for x in (np.arange(1, 5, dtype=np.int32), np.array([True, False]), np.float64([2, 3])):
        check(lambda x: x.cumprod(0), x)


def test_pow_gradients_at_zero():
    zeros_and_ones = np.float32([0, 1, 0, 2])
    exponents = np.float32([-1, 2, 0, 0])
    check(lambda x: x**x, zeros_and_ones)
    check(lambda x, y: x**y, zeros_and_ones, exponents)
    check(lambda x: x**0, zeros_and_ones)
    check(lambda x: x**-1.0, zeros_and_ones)
    check(lambda y: 0.0**y, np.float32([0, 1, -1]))
    check(lambda t, y: t.pow(0.0, y), np.float32([0, 1, 2]), lib=True)


def test_integer_to_negative_integer_power_raises():
    ints = np.int64([2, 3])
    for fn in (lambda x: x**-1, lambda x: x.pow(-2), lambda x: x.pow_(-1)):
        raises_like_torch(fn, ints)
    raises_like_torch(lambda x: x**-1, np.array([True]))
    raises_like_torch(lambda x: x ** np.int64(-1), ints)  # (a numpy int is a number too)
    check(lambda x: x**-1.0, ints)  # a float exponent: a float result
    check(lambda x, y: x**y, ints, np.int64([-1, 2]))  # a tensor exponent is not checked


# ---- bitwise ops --------------------------------------------------------------------------
FLOAT_BITWISE = {
    "&": lambda a, b: a & b,
    "|": lambda a, b: a | b,
    "^": lambda a, b: a ^ b,
    "<<": lambda a, b: a << b,
    ">>": lambda a, b: a >> b,
    "bitwise_and": lambda a, b: a.bitwise_and(b),
    "&=": lambda a, b: a.__iand__(b),
}


@pytest.mark.parametrize("name", FLOAT_BITWISE)
def test_bitwise_ops_on_floats_raise_like_torch(name):
    fn = FLOAT_BITWISE[name]
    floats, ints = np.float32([6, 3]), np.int64([6, 3])
    raises_like_torch(fn, floats, floats)
    raises_like_torch(fn, floats, ints)
    raises_like_torch(lambda a: fn(a, 1.5), ints)  # promoted to float


def test_bitwise_not_of_floats_raises_like_torch():
    err = raises_like_torch(lambda a: ~a, np.float64([1, 2]))
    assert isinstance(err, TypeError)
    err = raises_like_torch(lambda t, a: t.bitwise_not(a), np.float32([1]), lib=True)
    assert "bitwise_not" in str(err) and "float32" in str(err)
    check(lambda t, a: t.bitwise_not(a), np.int64([6, -1, 0]), lib=True)


def test_shifts_match_torch():
    ints = np.int64([-8, 5, 1, 7])
    counts = np.int64([1, 64, -1, 3])
    check(lambda a, b: (a << b, a >> b), ints, counts)
    check(lambda a: (a << 2, a >> 1, 1 << a.abs(), a.bitwise_left_shift(1)), ints)
    check(lambda a: (a << 33, a >> 40), ints.astype(np.int32))
    check(lambda a: (a << 1, a >> 2), np.uint8([200, 3]))
    check(lambda a: a << 1, np.array([True, False]))  # bool and int: int64
    raises_like_torch(lambda a: a << a, np.array([True]))

    def in_place(a):
        a <<= 2
        a ^= 1
        a >>= 1
        return a

    check(in_place, ints)


# ---- dtype limits and constants -----------------------------------------------------------
@pytest.mark.parametrize("name", ["float16", "float32", "float64", None])
def test_finfo_matches_torch(name):
    def limits(t):
        info = t.finfo() if name is None else t.finfo(getattr(t, name))
        fields = ("bits", "eps", "max", "min", "tiny", "smallest_normal", "resolution", "dtype")
        return [getattr(info, f) for f in fields] + [repr(info)]

    assert limits(minitorch) == limits(torch)


@pytest.mark.parametrize("name", ["uint8", "int8", "int16", "int32", "int64"])
def test_iinfo_matches_torch(name):
    def limits(t):
        info = t.iinfo(getattr(t, name))
        return info.bits, info.max, info.min, info.dtype, repr(info)

    assert limits(minitorch) == limits(torch)


def test_finfo_iinfo_refuse_the_other_kind_like_torch():
    for call in (
        lambda t: t.finfo(t.int32),
        lambda t: t.iinfo(t.float32),
        lambda t: t.iinfo(t.bool),
        lambda t: t.finfo(t.bool),
    ):
        raises_like_torch(call, lib=True)


def test_constants():
    for name in ("pi", "e", "inf"):
        assert getattr(minitorch, name) == getattr(torch, name)
    assert np.isnan(minitorch.nan)


# ---- composites ---------------------------------------------------------------------------
def test_flat_views_and_indexing():
    check(lambda x: x.ravel(), np.float32(np.arange(12).reshape(3, 4)).T)
    check(lambda t, x: t.ravel(x), (2, 3), lib=True)
    check(lambda x: x.take(minitorch_or_torch_index(x, [[0, 5], [3, 3]])), (2, 3))
    check(lambda t, x: t.argwhere(x), np.float32([[0, 1], [2, 0]]), lib=True)


def minitorch_or_torch_index(like, values):
    lib = torch if isinstance(like, torch.Tensor) else minitorch
    return lib.tensor(values)


def test_erfc_and_float_power():
    check(lambda x: x.erfc(), np.float32([-2, -0.5, 0, 0.5, 2]))
    check(lambda x: x.erfc(), np.float32([4, 5, 9]), rtol=1e-6)  # (1 - erf(x) gave 0 there)
    check(lambda t, x: t.erfc(x), np.float64([0.1, 1.5]), lib=True)
    check(lambda x: x.float_power(2), (3,))
    check(lambda t, x, y: t.float_power(x, y), np.float32([1, 2]), np.float32([0.5, 3]), lib=True)
    check(lambda t, x: t.float_power(x, 2), np.int64([2, 3]), lib=True)


def test_mv_and_dist():
    check(lambda a, v: a.mv(v), (3, 4), (4,))
    check(lambda t, a, v: t.mv(a, v), (2, 3), (3,), lib=True)
    raises_like_torch(lambda a, v: a.mv(v), (2, 3), (2, 3))
    for p in (2, 1, 3, float("inf")):
        check(lambda x, y: x.dist(y, p), (3, 4), (4,))
    check(lambda t, x, y: t.dist(x, y), (3,), (3,), lib=True)


def test_nanmean_and_aminmax():
    with_nan = np.float32([[1, np.nan, 3], [np.nan, 4, 2]])
    check(lambda x: x.nanmean(), with_nan)
    check(lambda x: x.nanmean(1), with_nan)
    check(lambda t, x: t.nanmean(x, 0, keepdim=True), with_nan, lib=True)
    check(lambda x: x.aminmax(), (3, 4))
    check(lambda x: x.aminmax(dim=1, keepdim=True), (3, 4))
    check(lambda t, x: t.aminmax(x, dim=0), np.int64([[3, 1], [2, 5]]), lib=True)
    raises_like_torch(lambda x: x.aminmax(), np.zeros(0, np.float32))


_TWIN_ARGUMENTS = {  # the in-place twins that take more than self, and their other operand
    **dict.fromkeys(["cumsum", "cumprod"], 1),
    **dict.fromkeys(["atan2", "arctan2", "hypot", "xlogy", "logical_and", "logical_or"], 1.5),
    **dict.fromkeys(["clamp_max", "clamp_min", "floor_divide", "fmod", "remainder"], 0.75),
    **dict.fromkeys(["divide", "true_divide", "multiply", "subtract", "logical_xor"], 0.75),
    **dict.fromkeys(["eq", "ne", "lt", "le", "gt", "ge", "greater", "greater_equal"], 0.5),
    **dict.fromkeys(["less", "less_equal", "not_equal"], 0.5),
}
_INTEGER_TWINS = ["bitwise_and", "bitwise_or", "bitwise_xor", "bitwise_not"]
_INTEGER_TWINS += ["bitwise_left_shift", "bitwise_right_shift"]


@pytest.mark.parametrize("name", sys.modules["minitorch.tensor"]._INPLACE_TWINS)
def test_inplace_twins_match_pytorch(name):
    """x.sin_() and the other in-place twins: values, dtype and gradients through a clone."""
    other = () if name == "bitwise_not" else (_TWIN_ARGUMENTS.get(name, 2),)
    if name in ("atan2", "arctan2", "hypot", "xlogy", "logical_and", "logical_or", "logical_xor"):
        other = (np.float32([other[0]]),)  # a tensor operand (PyTorch takes no number there)
    data = np.int64([[1, 6, 3], [4, 5, 12]]) if name in _INTEGER_TWINS else (2, 3)

    def twin(x, *other):
        y = x.clone()
        assert getattr(y, f"{name}_")(*other) is y
        return y

    # (PyTorch: floor_divide_ has no derivative, logical_or_'s passes self's gradient through)
    check(twin, data, *other, grad=name != "floor_divide" and not name.startswith("logical"))


# ---- the in-place version counter ---------------------------------------------------------
def _version_trail(t) -> list:
    """Tensor._version after each write, read through the tensor, its views and its aliases."""
    x = t.ones(3, 4)
    v, d, p = x[1:], x.detach(), t.nn.Parameter(t.zeros(2))
    seen = [x._version]
    for write in (
        lambda: v.add_(1),  # through a view: the base counts it
        lambda: x.mul_(2),
        lambda: x.t()[0].zero_(),  # a view of a view
        lambda: d.add_(1),  # detach() shares the counter
        lambda: x.data.add_(1),  # .data does not
        lambda: x.__setitem__(0, 5.0),
        lambda: x.clone().add_(1),  # a copy has its own
        lambda: t.nn.init.ones_(p),  # (under no_grad)
    ):
        write()
        seen.append((x._version, v._version, d._version, p._version))
    return seen


def test_version_is_an_int_shared_by_views_like_pytorch():
    assert _version_trail(minitorch) == _version_trail(torch)
    x = minitorch.ones(2)
    assert type(x._version) is int
    with pytest.raises(AttributeError):
        x._version = 3  # (PyTorch: "attribute '_version' ... is not writable")


# ---- the in-place samplers and generator states ------------------------------------------
_SAMPLERS = ["exponential_", "geometric_", "cauchy_", "log_normal_", "normal_", "bernoulli_"]


def _torch_signature(name: str) -> list:
    """(name, kind, default) of each argument in PyTorch's documented signature, e.g.
    'exponential_(lambd=1, *, generator=None) -> Tensor'."""
    line = getattr(torch.Tensor, name).__doc__.strip().splitlines()[0]
    fake = f"def f({line[line.index('(') + 1 : line.rindex(')')]}): pass"
    scope: dict = {}
    exec(fake, scope)
    return _arguments(scope["f"])


def _arguments(fn) -> list:
    params = list(inspect.signature(fn).parameters.values())
    return [(p.name, p.kind, p.default) for p in params if p.name != "self"]


@pytest.mark.parametrize("name", _SAMPLERS)
def test_sampler_signatures_match_pytorch(name):
    assert _arguments(getattr(minitorch.Tensor, name)) == _torch_signature(name)


def test_fork_rng_signature_matches_pytorch():
    assert _arguments(minitorch.random.fork_rng) == _arguments(torch.random.fork_rng)


@pytest.mark.parametrize(
    "fill",
    [
        lambda x: x.exponential_(0),
        lambda x: x.exponential_(-1e-5),
        lambda x: x.exponential_(float("nan")),
        lambda x: x.geometric_(0),
        lambda x: x.geometric_(1),
        lambda x: x.geometric_(1.5),
        lambda x: x.geometric_(),
        lambda x: x.cauchy_(0, 0),
        lambda x: x.cauchy_(0, -1),
        lambda x: x.log_normal_(1, 0),
        lambda x: x.log_normal_(1, float("nan")),
        lambda x: x.normal_(0, -1),
        lambda x: x.uniform_(1, 0),
        lambda x: x.exponential_(1, None),  # generator is keyword-only
        lambda x: x.long().exponential_(),
        lambda x: x.int().cauchy_(),
        lambda x: x.long().log_normal_(),
        lambda x: x.long().normal_(),
        lambda x: x.long().uniform_(),
        lambda x: x.bool().geometric_(0.5),
        lambda x: x.exponential_(),  # a leaf that requires grad
    ],
)
def test_sampler_errors_match_pytorch(fill):
    raises_like_torch(fill, np.ones(3, np.float32))


@pytest.mark.parametrize("dtype", ["float32", "float64", "float16", "int64", "int32", "uint8"])
def test_geometric_fills_any_dtype_but_bool_like_pytorch(dtype):
    def fill(t):
        x = t.zeros(2, 3, dtype=getattr(t, dtype))
        y = x.geometric_(0.4)
        return y is x, y.shape, y.dtype, x._version, bool((x.double() >= 1).all())

    check(fill, lib=True)


@pytest.mark.parametrize("name", ["exponential_", "cauchy_", "log_normal_", "uniform_"])
@pytest.mark.parametrize("dtype", ["float32", "float64", "float16"])
def test_continuous_samplers_keep_identity_dtype_and_bump_the_version_like_pytorch(name, dtype):
    def fill(t):
        x = t.zeros(4, 2, dtype=getattr(t, dtype))
        view = x[1:]
        y = getattr(view, name)()
        return y is view, y.shape, y.dtype, x._version, bool((x[0].double() == 0).all())

    check(fill, lib=True)


def test_sampling_into_a_result_gives_its_old_value_a_zero_gradient_like_pytorch():
    def fill(x):
        y = x * 2
        y.exponential_(3.0).cauchy_().log_normal_()
        return y.requires_grad, y.is_leaf, y.shape

    def grad(x):
        y = x * 2
        y.geometric_(0.5)
        (y * x).sum().backward()
        return x.grad  # only the (y * x) term: y's old value gets none

    for fn in (fill, grad):
        check(fn, np.ones(3, np.float32), grad=False)


def test_fork_rng_restores_the_state_like_pytorch():
    def forked(t):
        t.manual_seed(0)
        before = t.get_rng_state()
        with t.random.fork_rng(devices=[]):
            t.rand(5)
            t.manual_seed(1)
        with t.random.fork_rng(enabled=False):
            t.rand(5)
        return t.equal(t.get_rng_state(), before)

    check(forked, lib=True)  # False: the draw outside the fork moved the state
    assert not minitorch.equal(minitorch.get_rng_state(), minitorch.manual_seed(0).get_state())


def test_loading_a_pytorch_rng_state_says_why_it_cannot():
    state = torch.get_rng_state()
    with pytest.raises(RuntimeError, match=r"got 5056 bytes \(PyTorch's Mersenne Twister"):
        minitorch.set_rng_state(minitorch.tensor(state.numpy()))
    raises_like_torch(lambda t: t.set_rng_state(t.zeros(16)), lib=True)  # not uint8
    raises_like_torch(lambda t: t.set_rng_state(t.zeros(8, dtype=t.uint8)), lib=True)  # size
