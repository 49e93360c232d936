"""kernels/cpu/fastmath: float32 exp/log/tanh accuracy, special values, dispatch, vectorisation.

The reference is numpy in float64 rounded to float32 (double rounding can be 1 ulp off the
true correctly rounded value, well inside the 2 ulp budget). An exhaustive run over all 2**32
float32 inputs found max 1 ulp for each function; these tests sweep densely instead.
"""

from __future__ import annotations

import math
import platform

import numpy as np
import pytest
from numba import njit, prange

from minitorch.kernels.cpu.fastmath import exp, log, tanh

F32 = np.float32
MAX_ULP = 2


def _kernels(f):
    """(serial, parallel) njit loops calling `f` by name, as a generated kernel does."""

    @njit(error_model="numpy")
    def serial(out, a):
        for i in range(a.shape[0]):
            out[i] = f(a[i])

    @njit(parallel=True, error_model="numpy")
    def parallel(out, a):
        for i in prange(a.shape[0]):
            out[i] = f(a[i])

    return serial, parallel


KERNELS = {f: _kernels(f) for f in (exp, log, tanh)}


def _apply(f, x: np.ndarray, parallel: bool = True) -> np.ndarray:
    out = np.empty(x.shape, np.float64 if x.dtype != F32 else F32)
    KERNELS[f][parallel](out, x)
    return out


def _reference(np_func, x: np.ndarray) -> np.ndarray:
    with np.errstate(all="ignore"):
        return np_func(x.astype(np.float64)).astype(x.dtype)


def _ulp(got: np.ndarray, want: np.ndarray) -> np.ndarray:
    """Distance in representable float32 steps (NaN vs NaN is 0, NaN vs number is huge)."""

    def key(v):  # float32 bits -> integers ordered like the floats (-0 and +0 both 0)
        b = v.view(np.int32).astype(np.int64)
        return np.where(b < 0, -(b & 0x7FFFFFFF), b)

    d = np.abs(key(got) - key(want))
    got_nan, want_nan = np.isnan(got), np.isnan(want)
    return np.where(got_nan | want_nan, np.where(got_nan & want_nan, 0, 1 << 40), d)


def _around(points, steps: int = 2000) -> np.ndarray:
    """Every float32 within `steps` ulps of each point (the exact boundaries and neighbours)."""
    out = []
    for p in np.asarray(points, F32):
        b = p.view(np.int32).astype(np.int64)
        bits = np.arange(b - steps, b + steps + 1)
        if b >= 0:  # keep the sign: do not walk from +0 into negative NaN-adjacent patterns
            bits = bits[bits >= 0]
        out.append(bits.astype(np.int32).view(F32))
    return np.concatenate(out)


def _assert_close(f, np_func, x: np.ndarray) -> None:
    got = _apply(f, x)
    want = _reference(np_func, x)
    err = _ulp(got, want)
    k = int(err.argmax())
    assert err[k] <= MAX_ULP, f"{err[k]} ulp at x={x[k]!r}: got {got[k]!r}, want {want[k]!r}"


def _assert_exact(f, np_func, values) -> None:
    x = np.array(values, F32)
    got, want = _apply(f, x), _reference(np_func, x)
    np.testing.assert_array_equal(np.isnan(got), np.isnan(want))
    ok = ~np.isnan(want)
    # bit equality, so the sign of zero and the exact denormal count too
    np.testing.assert_array_equal(
        got[ok].view(np.int32), want[ok].view(np.int32), err_msg=str(x[ok])
    )


# ---------------------------------------------------------------------------------- exp

# x where exp's float32 result changes regime: last finite / inf, min normal, 2**-149 / 0.
EXP_EDGES = [
    88.72283,
    88.72284,
    -87.33654,
    -87.33655,
    -103.27893,
    -103.97208,
    -103.972084,
    0.0,
    1e-7,
    -1e-7,
    0.34657359,
    -0.34657359,
    0.6931472,
]


def test_exp_dense_sweep():
    x = np.concatenate([np.linspace(-110, 90, 3_000_001, dtype=F32), _around(EXP_EDGES)])
    _assert_close(exp, np.exp, x)


def test_exp_random_bit_patterns():
    bits = np.random.default_rng(0).integers(-(2**31), 2**31, 1_000_000, dtype=np.int64)
    _assert_close(exp, np.exp, bits.astype(np.int32).view(F32))


def test_exp_special_values():
    fmax, fmin = np.finfo(F32).max, np.finfo(F32).tiny
    _assert_exact(
        exp,
        np.exp,
        [
            np.nan,
            -np.nan,
            np.inf,
            -np.inf,
            0.0,
            -0.0,
            fmax,
            -fmax,
            fmin,
            -fmin,
            1e-45,
            -1e-45,
            88.72283,
            88.72284,
            89.0,
            1000.0,
            -103.97208,
            -103.972084,
            -104.0,
            -1000.0,
        ],
    )
    got = _apply(exp, np.array([88.72283, 88.72284, -103.97208, -103.972084], F32))
    assert np.isfinite(got[0]) and got[1] == np.inf
    assert got[2] == np.float32(1e-45) and got[3] == 0  # smallest denormal, then zero


def test_exp_denormal_outputs():
    # every exp result below the smallest normal, including the last nonzero one
    x = np.linspace(-103.98, -87.3, 1_000_001, dtype=F32)
    _assert_close(exp, np.exp, x)
    assert (_apply(exp, x) > 0).sum() == (_reference(np.exp, x) > 0).sum()


def test_serial_kernel_matches_parallel():
    x = np.linspace(-110, 90, 100_003, dtype=F32)
    np.testing.assert_array_equal(_apply(exp, x, parallel=False), _apply(exp, x))


# -------------------------------------------------------------------------------- log


def test_log_dense_sweep():
    positive = np.geomspace(1e-45, 3.4e38, 2_000_000, dtype=np.float64).astype(F32)
    near_one = np.linspace(0.5, 2.0, 1_000_001, dtype=F32)
    edges = _around([1.0, 0.70710677, 1.4142135, 2.0, 0.5, np.finfo(F32).tiny, 1e-45])
    _assert_close(log, np.log, np.concatenate([positive, near_one, edges]))


def test_log_special_values():
    fmax, fmin = np.finfo(F32).max, np.finfo(F32).tiny
    _assert_exact(
        log,
        np.log,
        [np.nan, np.inf, -np.inf, 0.0, -0.0, -1.0, -1e-45, 1.0, fmax, fmin, 1e-45, 1e-40],
    )
    got = _apply(log, np.array([0.0, -0.0, -1.0, np.inf], F32))
    assert got[0] == -np.inf and got[1] == -np.inf and np.isnan(got[2]) and got[3] == np.inf


# ------------------------------------------------------------------------------- tanh


def test_tanh_dense_sweep():
    x = np.concatenate(
        [
            np.linspace(-12, 12, 2_000_001, dtype=F32),
            np.geomspace(1e-45, 12, 500_000).astype(F32),
            _around([0.625, -0.625, 9.010913, -9.010913]),
        ]
    )
    _assert_close(tanh, np.tanh, np.concatenate([x, -x]))


def test_tanh_special_values():
    _assert_exact(
        tanh,
        np.tanh,
        [
            np.nan,
            np.inf,
            -np.inf,
            0.0,
            -0.0,
            1e-45,
            -1e-45,
            1e-20,
            20.0,
            -20.0,
            100.0,
            np.finfo(F32).max,
        ],
    )


# --------------------------------------------------------------------------- dispatch


@pytest.mark.parametrize(("f", "libm"), [(exp, math.exp), (log, math.log), (tanh, math.tanh)])
def test_float64_is_libm(f, libm):
    x = np.linspace(0.001, 80.0, 10_001)
    np.testing.assert_array_equal(_apply(f, x, parallel=False), [libm(v) for v in x])


def test_int_and_python_scalars():
    out = _apply(exp, np.array([0, 1, -3], np.int64), parallel=False)
    np.testing.assert_array_equal(out, [1.0, math.e, math.exp(-3)])
    assert exp(1.0) == math.e and log(2.0) == math.log(2.0)
    assert exp(F32(1.0)) == _apply(exp, np.array([1.0], F32))[0]  # Python call: same code


@pytest.mark.skipif(platform.machine().lower() not in ("x86_64", "amd64"), reason="x86 asm")
@pytest.mark.parametrize("f", [exp, log, tanh])
def test_float32_loop_is_vectorised(f):
    serial = KERNELS[f][0]
    _apply(f, np.ones(16, F32), parallel=False)
    asm = serial.inspect_asm(next(s for s in serial.signatures if str(s[1].dtype) == "float32"))
    assert "expf" not in asm and "logf" not in asm and "tanhf" not in asm  # no libm call
    assert "mulps" in asm  # packed single-precision multiplies: the loop runs in SIMD lanes


def test_bit_casts():
    from minitorch.kernels.cpu.fastmath import _bits, _f32, _f64

    @njit
    def casts(x32, x64):
        return _bits(x32), _bits(x64), _f32(_bits(x32)), _f64(_bits(x64)), _f32(np.int64(127 << 23))

    b32, b64, back32, back64, one = casts(F32(-1.5), -1.5)
    assert b32 == np.array(-1.5, F32).view(np.int32) and b64 == np.array(-1.5).view(np.int64)
    assert back32 == -1.5 and back64 == -1.5 and one == 1.0


# ------------------------------------------------------------- same bits in every kernel
# A generated kernel inlines these helpers; eager runs one kernel per op and traced code runs
# fused ones, compiled in other processes at other times (the on-disk cache keeps both). Every
# compilation must give the same bits, or a traced step replays values an ulp away from eager.

HELPERS = ("sigmoid", "exp", "log", "tanh", "gelu_tanh")


def _bit_values(n: int = 4099) -> np.ndarray:
    """n float32 values (an odd count: a vector body and a scalar remainder) with edges."""
    rng = np.random.default_rng(7)
    edges = [0.0, -0.0, np.inf, -np.inf, np.nan, 1e-40, -1e-40, 88.8, -88.8, -104.0, 0.625]
    x = (rng.standard_normal(n - len(edges)) * 4).astype(F32)
    return np.concatenate([np.array(edges, F32), x])


def _same_bits(got: np.ndarray, want: np.ndarray, what: str) -> None:
    got, want = np.ravel(got), np.ravel(want)
    np.testing.assert_array_equal(np.isnan(got), np.isnan(want), err_msg=what)
    ok = ~np.isnan(want)
    diff = np.flatnonzero(got[ok].view(np.int32) != want[ok].view(np.int32))
    assert not diff.size, f"{what}: {diff.size} values differ, first {got[ok][diff[0]]!r} vs " + (
        f"{want[ok][diff[0]]!r}"
    )


def _kernel_values(helper: str, x: np.ndarray) -> np.ndarray:
    from minitorch.kernels import cpu

    out = np.empty(x.shape, x.dtype)
    cpu.elementwise_for((f"{helper}({{0}})",), out, [x])(out, x)
    return out


@pytest.mark.parametrize("helper", HELPERS)
def test_helper_bits_same_in_every_layout(helper):
    """1-D and 2-D signatures, vector lanes and the scalar remainder, a strided view, the
    parallel variant: one set of bits."""
    from minitorch.kernels import cpu

    x = _bit_values(63 * 65)
    flat = _kernel_values(helper, x)
    _same_bits(_kernel_values(helper, x.reshape(63, 65)), flat, f"{helper} 2-D")
    _same_bits(_kernel_values(helper, x[::-1].copy())[::-1], flat, f"{helper} reversed")
    strided = np.empty((63, 130), F32)[:, ::2]
    strided[...] = x.reshape(63, 65)
    _same_bits(_kernel_values(helper, strided), flat, f"{helper} strided")
    for parallel in (False, True):  # both variants, whichever elementwise_for picked above
        out = np.empty_like(x)
        cpu.elementwise_kernel((f"{helper}({{0}})",), (False,), None, parallel)(out, x)
        _same_bits(out, flat, f"{helper} parallel={parallel}")
    for i in range(0, x.size, 509):  # one element at a time: a loop with no vector body
        _same_bits(_kernel_values(helper, x[i : i + 1].copy()), flat[i : i + 1], f"{helper} [{i}]")


def test_fused_sigmoid_matches_eager():
    """silu and sigmoid(x) + c traced (one fused kernel) give eager's bits (separate kernels)."""
    import minitorch as torch

    F = torch.nn.functional
    x = _bit_values(36 * 6)
    for f in (F.silu, lambda a: torch.sigmoid(a) + 0.0, lambda a: torch.tanh(a) * torch.exp(a)):
        compiled = torch.compile(f)
        for shape in ((36, 6), (216,)):
            t = torch.tensor(x.reshape(shape))
            _same_bits(compiled(t).numpy(), f(t).numpy(), f"fused {shape}")


_CHILD = """
import sys
import numpy as np
import minitorch as torch
from minitorch.kernels import cpu
from minitorch.kernels.cpu import nn

if sys.argv[1] == "softmax_first":  # a caller compiled with fastmath={"nsz", "contract"}
    a = np.ones((2, 8), np.float32)
    nn.softmax_rows(np.empty_like(a), a, False)
x = np.load(sys.argv[2])
out = {}
for helper in sys.argv[4:]:
    o = np.empty_like(x)
    cpu.elementwise_for((helper + "({0})",), o, [x])(o, x)
    out[helper] = o
t = torch.tensor(x)
out["silu"] = torch.nn.functional.silu(t).numpy()
out["silu_traced"] = torch.compile(torch.nn.functional.silu)(t).numpy()
np.savez(sys.argv[3], **out)
"""


def test_helper_bits_do_not_depend_on_the_first_caller(tmp_path):
    """Two fresh processes, one compiling a fastmath={"contract"} caller (softmax) before the
    kernels, give the same bits: Numba makes a callee that leaves fastmath unset inherit its
    first caller's flags, and keeps that compilation (also on disk) for every later kernel."""
    import os
    import subprocess
    import sys

    x = _bit_values()
    np.save(tmp_path / "x.npy", x)
    runs = {}
    for order in ("plain", "softmax_first"):
        env = dict(os.environ)
        env["MINITORCH_CACHE_DIR"] = str(tmp_path / order / "minitorch")
        env["NUMBA_CACHE_DIR"] = str(tmp_path / order / "numba")  # the helpers' own cache too
        args = [order, str(tmp_path / "x.npy"), str(tmp_path / f"{order}.npz"), *HELPERS]
        runs[order] = subprocess.Popen([sys.executable, "-c", _CHILD, *args], env=env)
    for order, proc in runs.items():
        assert proc.wait(timeout=600) == 0, order
    plain, first = (np.load(tmp_path / f"{order}.npz") for order in runs)
    for name in plain.files:
        _same_bits(first[name], plain[name], name)
    _same_bits(first["silu_traced"], plain["silu"], "traced silu vs eager (other process)")
    _same_bits(plain["silu_traced"], first["silu"], "traced silu vs eager (other process)")
