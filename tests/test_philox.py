"""Tests for the Philox4x32-10 generator (kernels/codegen/philox.py, kernels/cpu/random.py)."""

import math

import numpy as np
import pytest

from minitorch.kernels.codegen import philox as P
from minitorch.kernels.cpu import random as R

F = 0xFFFFFFFF
# Random123 kat_vectors, philox4x32 with 10 rounds: (counter, key, expected output).
KAT = [
    ((0, 0, 0, 0), (0, 0), (0x6627E8D5, 0xE169C58D, 0xBC57AC4C, 0x9B00DBD8)),
    ((F, F, F, F), (F, F), (0x408F276D, 0x41C83B0E, 0xA20BC7C6, 0x6D5451FD)),
    (
        (0x243F6A88, 0x85A308D3, 0x13198A2E, 0x03707344),
        (0xA4093822, 0x299F31D0),
        (0xD16CFE09, 0x94FDCCEB, 0x5001E420, 0x24126EA1),
    ),
]
IMPLS = {"python": P, "njit": R}
FLOATS = [np.float32, np.float64]
N_STAT = 1_000_000


def ref_words(seed: int, counter: int) -> tuple[int, ...]:
    """Plain-Python Philox words for a 64-bit counter and seed (the documented layout)."""
    return P.philox4x32_10(counter & F, counter >> 32, 0, 0, seed & F, seed >> 32)


@pytest.mark.parametrize("impl", IMPLS)
@pytest.mark.parametrize("ctr,key,expected", KAT)
def test_known_answers(impl, ctr, key, expected):
    got = IMPLS[impl].philox4x32_10(*ctr, *key)
    assert [int(x) for x in got] == list(expected)
    if impl == "python":
        assert all(isinstance(x, np.uint32) for x in got)
    else:  # numba boxes uint32 as int: check the compiled return type instead
        assert {str(sig.return_type) for sig in R.philox4x32_10.nopython_signatures} == {
            "UniTuple(uint32 x 4)"
        }


@pytest.mark.parametrize("impl", IMPLS)
def test_scalar_conversions(impl):
    m = IMPLS[impl]
    assert m.uniform32_from_bits(0) == 0.0
    assert m.uniform32_from_bits(F) == 1.0 - 2.0**-24
    assert m.uniform64_from_bits(0, 0) == 0.0
    assert m.uniform64_from_bits(F, F) == 1.0 - 2.0**-53
    assert m.u64_from_bits(1, 2) == (2 << 32) | 1
    assert math.isfinite(m.normal32_from_bits(F, 0)) and math.isfinite(
        m.normal64_from_bits(F, F, 0, 0)
    )
    assert m.normal32_from_bits(0x12345678, 0x9ABCDEF0) == P.normal32_from_bits(
        0x12345678, 0x9ABCDEF0
    )


def test_philox_words_matches_python_with_counter_carry():
    seed = 0x0123456789ABCDEF
    for counter in (0, F, F + 1, 2**64 - 1):
        got = R.philox_words(np.uint64(seed), np.uint64(counter))
        assert [int(x) for x in got] == [int(x) for x in ref_words(seed, counter)]


@pytest.mark.parametrize("n", [1, 2, 3, 5, 6, 13, 40_003])  # blocks of every length
def test_kernels_match_scalar_reference(n):
    """Element j*m + c takes word group j of counter offset + c, m = ceil(n / groups)."""
    seed, offset = 77, F - 2  # the counters cross the 32-bit boundary
    u32 = R.fill_uniform(np.empty(n, np.float32), seed, offset)
    u64 = R.fill_uniform(np.empty(n, np.float64), seed, offset)
    z32 = R.fill_normal(np.empty(n, np.float32), seed, offset)
    z64 = R.fill_normal(np.empty(n, np.float64), seed, offset)
    bits = R.fill_bits(np.empty(n, np.uint32), seed, offset)
    ints = R.fill_randint(np.empty(n, np.int64), seed, offset, -10, 1000)
    drop = R.fill_dropout(np.empty(n, np.float32), seed, offset, 0.5, 2.0)
    exp32 = R.fill_float("exponential", np.empty(n, np.float32), seed, offset, 2.0)
    geo64 = R.fill_float("geometric", np.empty(n), seed, offset, math.log1p(-0.25))
    lnorm64 = R.fill_float("log_normal", np.empty(n), seed, offset, 0.5, 0.25)
    quarter, half = -(-n // 4), -(-n // 2)
    for e in sorted({*range(min(n, 9)), quarter, half, n - 2, n - 1} & set(range(n))):
        j, w = e // quarter, ref_words(seed, offset + e % quarter)
        assert bits[e] == w[j], e
        assert u32[e] == P.uniform32_from_bits(w[j])
        assert drop[e] == (2.0 if P.uniform32_from_bits(w[j]) < np.float32(0.5) else 0.0)
        assert exp32[e] == np.float32(-math.log(P.open_uniform32_from_bits(w[j])) / 2.0)
        j, w = e // half, ref_words(seed, offset + e % half)
        assert u64[e] == P.uniform64_from_bits(w[2 * j], w[2 * j + 1])
        assert z32[e] == np.float32(P.normal32_from_bits(w[2 * j], w[2 * j + 1]))
        assert ints[e] == -10 + int(P.u64_from_bits(w[2 * j], w[2 * j + 1])) % 1010
        v = P.open_uniform64_from_bits(w[2 * j], w[2 * j + 1])
        assert geo64[e] == P.geometric_from_uniform(v, math.log1p(-0.25))
        assert z64[e] == P.normal64_from_bits(*ref_words(seed, offset + e))
        assert lnorm64[e] == math.exp(0.5 + 0.25 * z64[e])


@pytest.mark.parametrize("dtype", FLOATS)
def test_uniform_statistics(dtype):
    u = R.fill_uniform(np.empty(N_STAT, dtype), seed=1234, offset=0)
    assert u.min() >= 0.0 and u.max() < 1.0
    assert abs(u.mean() - 0.5) < 3e-3
    assert abs(u.var(dtype=np.float64) - 1 / 12) < 3e-3
    v = R.fill_uniform(np.empty(N_STAT, dtype), 1234, 0, low=-2.0, high=3.0)
    assert v.min() >= -2.0 and v.max() <= 3.0
    np.testing.assert_allclose(v, -2.0 + 5.0 * u.astype(np.float64), rtol=1e-6, atol=1e-6)


@pytest.mark.parametrize("dtype", FLOATS)
def test_normal_statistics(dtype):
    z = R.fill_normal(np.empty(N_STAT, dtype), seed=99, offset=5)
    assert np.isfinite(z).all()
    assert abs(z.mean(dtype=np.float64)) < 5e-3
    assert abs(z.std(dtype=np.float64) - 1.0) < 5e-3
    assert abs(np.mean(np.abs(z) < 1.0) - 0.6827) < 3e-3
    w = R.fill_normal(np.empty(N_STAT, dtype), 99, 5, mean=3.0, std=0.5)
    assert abs(w.mean(dtype=np.float64) - 3.0) < 3e-3


FILLS = {
    "uniform32": lambda n, s, o: R.fill_uniform(np.empty(n, np.float32), s, o),
    "uniform64": lambda n, s, o: R.fill_uniform(np.empty(n, np.float64), s, o),
    "normal32": lambda n, s, o: R.fill_normal(np.empty(n, np.float32), s, o),
    "normal64": lambda n, s, o: R.fill_normal(np.empty(n, np.float64), s, o),
    "bits": lambda n, s, o: R.fill_bits(np.empty(n, np.uint32), s, o),
    "randint": lambda n, s, o: R.fill_randint(np.empty(n, np.int64), s, o, -5, 17),
    "bernoulli": lambda n, s, o: R.fill_bernoulli(np.empty(n), np.full(n, 0.5), s, o),
    "cauchy32": lambda n, s, o: R.fill_float("cauchy", np.empty(n, np.float32), s, o),
    "geometric64": lambda n, s, o: R.fill_float("geometric", np.empty(n), s, o, -0.5),
}


@pytest.mark.parametrize("kind", FILLS)
@pytest.mark.parametrize("n", [1000, 100_003])  # serial and parallel variants
def test_reproducible_and_offset_changes_stream(kind, n):
    fill = FILLS[kind]
    a = fill(n, 42, 0)
    np.testing.assert_array_equal(a, fill(n, 42, 0))
    assert not np.array_equal(a, fill(n, 43, 0))
    b = fill(n, 42, n)  # the next draw: counters n.., none shared with this one
    assert np.mean(a == b) < 0.6  # (bits of 0/1 bernoulli draws agree half the time)


def test_seed_and_offset_wrap_modulo_2_64():
    a = R.fill_uniform(np.empty(10), -1, -3)
    np.testing.assert_array_equal(a, R.fill_uniform(np.empty(10), 2**64 - 1, 2**64 - 3))


@pytest.mark.parametrize("n", [4, 1000, 70_004])
def test_serial_equals_parallel(n):
    seed, offset = np.uint64(2024), np.uint64(3)
    p = R.fill_uniform(np.empty(n), 5, 0)
    cases = [
        ("uniform32", np.float32, (-1.0, 2.0)),
        ("uniform64", np.float64, (-1.0, 2.0)),
        ("normal32", np.float32, (1.0, 2.0)),
        ("normal64", np.float64, (1.0, 2.0)),
        ("bits", np.uint32, (0, 0)),
        ("randint", np.int64, (np.int64(-9), np.uint64(100))),
        ("bernoulli", np.float32, (0, 0)),
        ("dropout", np.float32, (np.float32(0.75), 4.0)),
    ]
    for kind, dtype, numbers in cases:
        a, b = np.empty(n, dtype), np.empty(n, dtype)
        probs = p if kind == "bernoulli" else a
        R._kernel(kind, False)(a, probs, seed, offset, *numbers)
        R._kernel(kind, True)(b, p if kind == "bernoulli" else b, seed, offset, *numbers)
        np.testing.assert_array_equal(a, b, err_msg=kind)


@pytest.mark.parametrize("out_dtype", FLOATS)
@pytest.mark.parametrize("p_dtype", FLOATS)
def test_bernoulli(out_dtype, p_dtype):
    n = 200_000
    zeros = R.fill_bernoulli(np.empty(n, out_dtype), np.zeros(n, p_dtype), 1, 0)
    ones = R.fill_bernoulli(np.empty(n, out_dtype), np.ones(n, p_dtype), 1, 0)
    assert (zeros == 0.0).all() and (ones == 1.0).all()
    p = np.linspace(0.0, 1.0, n, dtype=p_dtype)
    m = R.fill_bernoulli(np.empty(n, out_dtype), p, 1, 0)
    assert set(np.unique(m)) <= {0.0, 1.0}
    assert abs(m.mean() - 0.5) < 5e-3
    u = R.fill_uniform(np.empty(n, np.float32), 1, 0)
    np.testing.assert_array_equal(m, (u < p).astype(out_dtype))


def test_bernoulli_keeps_shape():
    p = np.full((3, 4, 5), 0.25, np.float32)
    out = R.fill_bernoulli(np.empty((3, 4, 5), np.float32), p, 8, 0)
    assert out.shape == (3, 4, 5)
    np.testing.assert_array_equal(
        out.ravel(), R.fill_bernoulli(np.empty(60, np.float32), p.ravel(), 8, 0)
    )


def test_randint_bounds():
    r = R.fill_randint(np.empty(100_000, np.int64), 3, 0, -3, 7)
    assert r.min() == -3 and r.max() == 6
    assert np.bincount(r + 3).min() > 9000
    assert (R.fill_randint(np.empty(100, np.int64), 3, 0, 5, 6) == 5).all()
    full = R.fill_randint(np.empty(1000, np.int64), 3, 0, -(2**63), 2**63 - 1)
    assert (full < 0).any() and (full > 0).any()
    with pytest.raises(ValueError):
        R.fill_randint(np.empty(3, np.int64), 0, 0, 5, 5)
    with pytest.raises(ValueError):
        R.fill_randint(np.empty(3, np.int64), 0, 0, 0, 2**63)


def test_bad_arguments():
    with pytest.raises(ValueError):
        R.fill_uniform(np.empty(10)[::2], 0, 0)
    with pytest.raises(TypeError):
        R.fill_uniform(np.empty(10, np.int32), 0, 0)
    with pytest.raises(TypeError):
        R.fill_bits(np.empty(10, np.int64), 0, 0)
    with pytest.raises(ValueError):
        R.fill_bernoulli(np.empty(10), np.zeros(9), 0, 0)
