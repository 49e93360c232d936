"""Random tensors: seeding, Generators, offsets, ranges, dtypes and rough distributions."""

import math
import statistics

import numpy as np
import pytest

import minitorch as mt


def arr(t):
    return np.asarray(t._data)


DRAWS = {
    "rand": lambda g=None: mt.rand(4, 5, generator=g),
    "randn": lambda g=None: mt.randn(20, generator=g),
    "randint": lambda g=None: mt.randint(0, 100, (3, 3), generator=g),
    "randperm": lambda g=None: mt.randperm(10, generator=g),
    "normal": lambda g=None: mt.normal(2.0, 3.0, (6,), generator=g),
    "bernoulli": lambda g=None: mt.bernoulli(mt.full((16,), 0.5), generator=g),
    "uniform_": lambda g=None: mt.empty(7).uniform_(-1, 1, generator=g),
    "normal_": lambda g=None: mt.empty(7).normal_(generator=g),
    "exponential_": lambda g=None: mt.empty(7).exponential_(generator=g),
    "geometric_": lambda g=None: mt.empty(9, dtype=mt.int64).geometric_(0.2, generator=g),
    "cauchy_": lambda g=None: mt.empty(7, dtype=mt.float64).cauchy_(generator=g),
    "log_normal_": lambda g=None: mt.empty(7).log_normal_(generator=g),
}


@pytest.mark.parametrize("name", DRAWS)
def test_manual_seed_repeats_and_offsets_differ(name):
    draw = DRAWS[name]
    mt.manual_seed(123)
    first, second = arr(draw()).copy(), arr(draw()).copy()
    mt.manual_seed(123)
    np.testing.assert_array_equal(arr(draw()), first)  # same seed: same numbers
    np.testing.assert_array_equal(arr(draw()), second)
    assert not np.array_equal(first, second)  # the offset moved on
    mt.manual_seed(124)
    assert not np.array_equal(arr(draw()), first)  # another seed: other numbers


@pytest.mark.parametrize("name", DRAWS)
def test_generator_is_independent_of_default(name):
    draw = DRAWS[name]
    g = mt.Generator().manual_seed(7)
    a = arr(draw(g)).copy()
    mt.manual_seed(0)
    state = mt.get_rng_state()
    b = arr(draw(mt.Generator().manual_seed(7)))
    np.testing.assert_array_equal(a, b)
    assert np.array_equal(arr(mt.get_rng_state()), arr(state))  # default untouched


def test_rng_state_round_trip_and_initial_seed():
    mt.manual_seed(5)
    assert mt.initial_seed() == 5
    mt.rand(3)
    state = mt.get_rng_state()
    a = arr(mt.rand(3)).copy()
    mt.set_rng_state(state)
    np.testing.assert_array_equal(arr(mt.rand(3)), a)
    g = mt.Generator()
    g.manual_seed(9)
    s = g.get_state()
    x = arr(mt.randn(4, generator=g)).copy()
    g.set_state(s)
    np.testing.assert_array_equal(arr(mt.randn(4, generator=g)), x)
    assert isinstance(mt.manual_seed(1), mt.Generator)


def test_ranges_shapes_and_dtypes():
    mt.manual_seed(0)
    u = mt.rand(1000)
    assert u.dtype is mt.float32 and u.shape == (1000,)
    assert 0 <= arr(u).min() and arr(u).max() < 1
    assert mt.rand((2, 3)).shape == (2, 3)
    assert mt.rand(2, dtype=mt.float64).dtype is mt.float64
    assert mt.randn(2, 3, requires_grad=True).requires_grad
    r = mt.randint(-3, 4, (500,))
    assert r.dtype is mt.int64 and arr(r).min() == -3 and arr(r).max() == 3
    assert mt.randint(5, (3,)).dtype is mt.int64  # randint(high, size)
    assert arr(mt.randint(5, (100,))).max() <= 4
    assert mt.randint(0, 2, (3,), dtype=mt.int32).dtype is mt.int32
    p = mt.randperm(50)
    assert p.dtype is mt.int64 and sorted(p.tolist()) == list(range(50))
    b = mt.bernoulli(mt.tensor([0.0, 1.0, 0.0, 1.0]))
    np.testing.assert_array_equal(arr(b), [0, 1, 0, 1])
    assert b.dtype is mt.float32
    assert set(np.unique(arr(mt.bernoulli(mt.full((100,), 0.5))))) <= {0.0, 1.0}
    with mt.no_grad():
        w = mt.empty(3, 4)
        assert w.uniform_(-2, -1) is w
    assert -2 <= arr(w).min() and arr(w).max() < -1
    with pytest.raises(RuntimeError):
        mt.rand(2, dtype=mt.int64)
    with pytest.raises(RuntimeError):
        mt.bernoulli(mt.tensor([1.5]))


def test_rough_distributions():
    mt.manual_seed(2024)
    n = mt.randn(20000)
    assert abs(arr(n).mean()) < 0.03 and abs(arr(n).std() - 1) < 0.03
    m = mt.normal(2.0, 3.0, (20000,))
    assert abs(arr(m).mean() - 2) < 0.1 and abs(arr(m).std() - 3) < 0.1
    u = mt.rand(20000)
    assert abs(arr(u).mean() - 0.5) < 0.01
    b = mt.bernoulli(mt.full((20000,), 0.25))
    assert abs(arr(b).mean() - 0.25) < 0.02
    counts = np.bincount(arr(mt.randint(0, 4, (20000,))), minlength=4)
    assert counts.min() > 4500


def test_normal_with_tensor_arguments():
    mt.manual_seed(0)
    mean = mt.tensor([0.0, 100.0, -100.0])
    out = mt.normal(mean, 0.01)
    assert out.shape == (3,)
    np.testing.assert_allclose(arr(out), arr(mean), atol=0.1)
    out = mt.normal(0.0, mt.tensor([1e-6, 1e-6]))
    assert out.shape == (2,) and np.abs(arr(out)).max() < 1e-4


def test_uniform_on_parameter_requires_no_grad():
    w = mt.zeros(3, requires_grad=True)
    with pytest.raises(RuntimeError, match="leaf"):
        w.uniform_()
    with mt.no_grad():
        w.normal_()
    assert w.requires_grad and w.is_leaf and w._version == 1


@pytest.mark.parametrize("dtype", [mt.float32, mt.float64])
@pytest.mark.parametrize("shape,p", [((5, 7), 0.5), ((8, 64, 130), 0.1)])  # serial, parallel
def test_dropout_mask_is_bernoulli_times_scale_in_one_draw(dtype, shape, p):
    # the scaled mask must not change dropout's random numbers (saved masks, CUDA parity)
    from minitorch.random import dropout_mask  # noqa: PLC0415

    x = mt.ones(shape, dtype=dtype)
    mt.manual_seed(11)
    want = arr(mt.bernoulli(mt.full(shape, 1.0 - p, dtype=dtype)) * (1.0 / (1.0 - p)))
    after_want = arr(mt.rand(3)).copy()
    mt.manual_seed(11)
    got = dropout_mask(x, shape, p)
    assert got.dtype is dtype and not got.requires_grad
    np.testing.assert_array_equal(arr(got), want)
    np.testing.assert_array_equal(arr(mt.rand(3)), after_want)  # the same counters consumed


# ---- the in-place samplers: their distributions --------------------------------------------
_QUANTILES = np.array([0.01, 0.1, 0.25, 0.5, 0.75, 0.9, 0.99])
_Z = np.array([statistics.NormalDist().inv_cdf(q) for q in _QUANTILES])
SAMPLERS = {  # name: (fill, its distribution's quantiles at _QUANTILES)
    "exponential_": (lambda t: t.exponential_(2.5), -np.log1p(-_QUANTILES) / 2.5),
    "cauchy_": (lambda t: t.cauchy_(1.0, 0.5), 1.0 + 0.5 * np.tan(np.pi * (_QUANTILES - 0.5))),
    "log_normal_": (lambda t: t.log_normal_(), np.exp(1.0 + 2.0 * _Z)),  # mean=1, std=2
    "log_normal_args": (lambda t: t.log_normal_(-0.5, 0.25), np.exp(-0.5 + 0.25 * _Z)),
    "normal_": (lambda t: t.normal_(3.0, 0.5), 3.0 + 0.5 * _Z),
    "uniform_": (lambda t: t.uniform_(-2.0, 6.0), -2.0 + 8.0 * _QUANTILES),
}


@pytest.mark.parametrize("dtype", [mt.float32, mt.float64, mt.float16])
@pytest.mark.parametrize("name", SAMPLERS)
def test_in_place_samplers_match_their_distribution(name, dtype):
    """Of 200000 draws, the share below each of the distribution's quantiles q is q within
    0.005 (the empirical CDF's standard error is at most 0.0011); and each sampler fills in
    place, bumping the version once."""
    fill, quantiles = SAMPLERS[name]
    mt.manual_seed(7)
    t = mt.empty(400, 500, dtype=dtype)
    assert fill(t) is t and t.dtype is dtype and t.shape == (400, 500) and t._version == 1
    below = (arr(t).reshape(-1, 1) <= quantiles).mean(axis=0)
    np.testing.assert_allclose(below, _QUANTILES, atol=0.005)


@pytest.mark.parametrize("dtype", [mt.float32, mt.float64, mt.int64, mt.int32, mt.uint8])
@pytest.mark.parametrize("p", [0.05, 0.3, 0.9])
def test_geometric_counts_trials_to_the_first_success(p, dtype):
    """P(X = k) = (1 - p)**(k - 1) p for k >= 1, in any non-bool dtype (whole numbers)."""
    mt.manual_seed(3)
    x = arr(mt.empty(200_000, dtype=dtype).geometric_(p)).astype(np.int64)
    assert x.min() >= 1 and np.array_equal(x, np.round(x))
    k = np.arange(1, 6)
    freq = np.bincount(x, minlength=7)[1:6] / x.size
    np.testing.assert_allclose(freq, (1 - p) ** (k - 1) * p, atol=0.005)
    assert abs(x.mean() - 1 / p) < 0.02 / p


def test_exponential_cauchy_and_geometric_stay_finite_at_the_ends_of_the_uniforms():
    """The uniform behind exponential_, cauchy_ and geometric_ lies strictly inside (0, 1):
    never 0 (an exponential_ of 0 makes Gumbel noise -log(x) infinite), nor inf."""
    from minitorch.kernels.codegen import philox as P  # noqa: PLC0415
    from minitorch.kernels.cpu import random as R  # noqa: PLC0415

    ends = [P.open_uniform32_from_bits(w) for w in (0, 0xFFFFFFFF)]
    ends += [P.open_uniform64_from_bits(w, w) for w in (0, 0xFFFFFFFF)]
    for v in ends:
        assert 0 < v < 1 and 0 < -math.log(v) < 40
        assert math.isfinite(math.tan(math.pi * (v - 0.5)))
        assert P.geometric_from_uniform(v, math.log1p(-0.5)) >= 1
    assert R.open_uniform64_from_bits(0xFFFFFFFF, 0xFFFFFFFF) == ends[-1]  # (compiled alike)
    # past 2**63 trials (a tiny p) the count stays a float, not a wrapped int64
    huge = R.geometric_from_uniform(0.5, math.log1p(-1e-30))
    assert huge == pytest.approx(6.93e29, rel=0.01)
    mt.manual_seed(0)
    e = arr(mt.empty(1_000_000).exponential_())
    assert e.min() > 0 and np.isfinite(e).all()


@pytest.mark.parametrize(
    "fill",
    [
        lambda t: t.exponential_(),
        lambda t: t.geometric_(0.5),
        lambda t: t.cauchy_(),
        lambda t: t.log_normal_(),
    ],
)
def test_samplers_refuse_a_leaf_that_requires_grad_and_cut_a_results_gradient(fill):
    w = mt.ones(3, requires_grad=True)
    state = arr(mt.get_rng_state()).copy()
    with pytest.raises(RuntimeError, match="leaf"):
        fill(w)
    np.testing.assert_array_equal(arr(mt.get_rng_state()), state)  # refused before drawing
    with mt.no_grad():
        fill(w)
    assert w.requires_grad and w.is_leaf and w._version == 1
    y = w * 2
    fill(y)  # (the old value gets a zero gradient, as in PyTorch)
    y.sum().backward()
    np.testing.assert_array_equal(arr(w.grad), [0.0, 0.0, 0.0])


# ---- fork_rng and loading states ------------------------------------------------------------
def test_fork_rng_leaves_the_numbers_after_it_unchanged():
    mt.manual_seed(5)
    want = arr(mt.rand(4)).copy(), arr(mt.randn(3)).copy()
    mt.manual_seed(5)
    with mt.random.fork_rng():
        inside = arr(mt.rand(4)).copy()
        mt.empty(100).exponential_()
        mt.manual_seed(99)  # (reseeding inside is forked too)
        mt.randint(0, 10, (5,))
    np.testing.assert_array_equal(inside, want[0])  # it starts from the same state
    np.testing.assert_array_equal(arr(mt.rand(4)), want[0])
    np.testing.assert_array_equal(arr(mt.randn(3)), want[1])
    mt.manual_seed(5)
    with pytest.raises(KeyError), mt.random.fork_rng(devices=[0], device_type="cuda"):
        mt.rand(7)
        raise KeyError  # restored on the way out of an exception too
    np.testing.assert_array_equal(arr(mt.rand(4)), want[0])


def test_fork_rng_disabled_or_on_meta_forks_nothing():
    for kw in ({"enabled": False}, {"device_type": "meta"}):
        mt.manual_seed(5)
        with mt.random.fork_rng(**kw):
            first = arr(mt.rand(4)).copy()
        assert not np.array_equal(arr(mt.rand(4)), first)  # the draws inside moved it on
    with (
        pytest.raises(RuntimeError, match="no device type `tpu`"),
        mt.random.fork_rng(device_type="tpu"),
    ):
        pass


def test_cuda_rng_state_is_the_shared_generators():
    mt.manual_seed(8)
    state = mt.cuda.get_rng_state()
    np.testing.assert_array_equal(arr(state), arr(mt.get_rng_state()))
    a = arr(mt.rand(3)).copy()
    mt.cuda.set_rng_state(state)
    np.testing.assert_array_equal(arr(mt.rand(3)), a)


@pytest.mark.parametrize(
    ("state", "error", "match"),
    [
        (mt.zeros(5056, dtype=mt.uint8), RuntimeError, "PyTorch's Mersenne Twister state"),
        (mt.zeros(8, dtype=mt.uint8), RuntimeError, "expected a state of 16 bytes .* got 8"),
        (mt.zeros(16), TypeError, "uint8 tensor .* got minitorch.float32"),
        ([0] * 16, TypeError, "got list"),
    ],
)
def test_set_rng_state_refuses_a_state_it_did_not_make(state, error, match):
    before = arr(mt.get_rng_state()).copy()
    for load in (mt.set_rng_state, mt.Generator().set_state, mt.cuda.set_rng_state):
        with pytest.raises(error, match=match) as info:
            load(state)
        assert "manual_seed" in str(info.value) or error is TypeError
    np.testing.assert_array_equal(arr(mt.get_rng_state()), before)  # left as it was
