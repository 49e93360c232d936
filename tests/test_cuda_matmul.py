"""The CUDA GEMM (kernels/cuda/matmul.py) against numpy and the CPU backend.

On numba's simulator `matmul` runs its small simulator tiles; the kernels with the GPU's tile
sizes (LARGE, SMALL) run here too, through `kernel_for`, on shapes with a partial tile in M, N
and K (the simulator runs each of their 256 threads per block as a Python thread, so those
shapes stay a few blocks). On a real GPU every test runs the GPU tiles.
"""

from __future__ import annotations

import numpy as np
import pytest

pytest.importorskip("numba_cuda", reason="the CUDA backend needs numba-cuda: pip install '.[cuda]'")

import minitorch as mt  # noqa: E402
import minitorch.nn as nn  # noqa: E402
from minitorch.backend import cuda as runtime  # noqa: E402

K = pytest.importorskip("minitorch.kernels.cuda.matmul")  # imports numba.cuda (after conftest)

RNG = np.random.default_rng(0)
TOL = {np.float32: {"rtol": 1e-5, "atol": 1e-5}, np.float64: {"rtol": 1e-12, "atol": 1e-12}}
TRANSPOSE = (0, 2, 1)


def _array(shape, dtype=np.float32):
    return RNG.uniform(-2.0, 2.0, shape).astype(dtype)


def _device(array, transposed=False):
    """array on the device; transposed: stored as its transpose and read through a view."""
    if not transposed:
        return runtime.from_host(array)
    stored = runtime.from_host(np.ascontiguousarray(array.transpose(TRANSPOSE)))
    return runtime.view(stored, lambda host: host.transpose(TRANSPOSE))


def _kernel_product(a, b, tiles=None, a_t=False, b_t=False, flat=None):
    """a @ b (3-D numpy arrays) through the device kernel: the given tiles, or matmul's."""
    da, db = _device(a, a_t), _device(b, b_t)
    out = runtime.empty((a.shape[0], a.shape[1], b.shape[2]), a.dtype)
    if tiles is None:
        K.matmul(out, da, db)
    else:
        K.product(out, da, db, tiles, flat)
    return runtime.to_host(out)


def _assert_product(a, b, got, what):
    want = np.matmul(a.astype(np.float64), b.astype(np.float64))
    assert got.shape == want.shape, f"{what}: shape {got.shape} vs {want.shape}"
    np.testing.assert_allclose(got, want, err_msg=what, **TOL[a.dtype.type])


# ---- the GPU's tile sizes ---------------------------------------------------------------------
@pytest.mark.parametrize("a_t,b_t", [(False, False), (False, True), (True, False), (True, True)])
def test_large_tiles_with_partial_tiles_in_m_n_and_k(a_t, b_t):
    """The exact SGEMM configuration of the GPU (128 x 128 x 8 tiles, 8 x 8 per thread, 256
    threads), in each operand layout: 2 x 2 blocks whose second row and column are nearly
    empty, and two K slices, the second partial (the double-buffered path)."""
    a, b = _array((1, 130, 12)), _array((1, 12, 131))
    got = _kernel_product(a, b, K.LARGE, a_t, b_t)
    _assert_product(a, b, got, f"LARGE tiles, a transposed {a_t}, b transposed {b_t}")


def test_large_tiles_indexing_the_3d_operands():
    """The general path (3-D indexing, taken for negative strides) with the GPU's tiles."""
    a, b = _array((1, 130, 12)), _array((1, 12, 131))
    got = _kernel_product(a, b, K.LARGE, b_t=True, flat=False)
    _assert_product(a, b, got, "LARGE tiles, 3-D indexing")


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_small_tiles_with_partial_tiles_and_a_batch(dtype):
    """The 64 x 64 tiles (small products and float64) on 2 batches x 2 x 2 blocks, 3 slices."""
    a, b = _array((2, 66, 20), dtype), _array((2, 20, 70), dtype)
    _assert_product(a, b, _kernel_product(a, b, K.SMALL, b_t=True), f"SMALL tiles {dtype}")


def test_tiles_for_picks_large_tiles_for_big_float32_products():
    if K.SIM:
        assert K.tiles_for(np.dtype(np.float32), 1, 4096, 4096) == K.SIMULATOR
        return
    assert K.tiles_for(np.dtype(np.float32), 1, 4096, 4096) == K.LARGE
    assert K.tiles_for(np.dtype(np.float32), 1, 256, 256) == K.SMALL
    assert K.tiles_for(np.dtype(np.float64), 1, 4096, 4096) == K.SMALL


@pytest.mark.skipif(K.SIM, reason="a real GPU only: thousands of blocks")
def test_large_product_on_the_gpu():
    a, b = _array((3, 520, 300)), _array((300, 1030))
    got = (mt.tensor(a, device="cuda") @ mt.tensor(b, device="cuda")).cpu().numpy()
    np.testing.assert_allclose(got, np.matmul(a, b), rtol=1e-4, atol=1e-4)


# ---- the kernel's contract ----------------------------------------------------------------------
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize(
    "m,k,n", [(1, 9, 1), (9, 1, 7), (1, 6, 11), (10, 13, 1), (17, 9, 19), (3, 0, 4)]
)
def test_matmul_matches_numpy(dtype, m, k, n):
    """1 x K, K x 1, a single K, vectors on either side, partial tiles, and K = 0 (zeros)."""
    a, b = _array((1, m, k), dtype), _array((1, k, n), dtype)
    _assert_product(a, b, _kernel_product(a, b), f"({m}, {k}) @ ({k}, {n}) {dtype}")


@pytest.mark.parametrize("a_t,b_t", [(False, True), (True, False), (True, True)])
def test_matmul_reads_strided_operands_in_place(a_t, b_t):
    a, b = _array((2, 11, 9)), _array((2, 9, 10))
    _assert_product(a, b, _kernel_product(a, b, a_t=a_t, b_t=b_t), f"transposed {a_t} {b_t}")


def test_operands_with_negative_strides_take_the_3d_path():
    assert K._flat_operand(np.ones((2, 3, 4), np.float32)[:, ::-1]) is None
    if not K.SIM:
        return
    a, b = _array((2, 7, 5)), _array((2, 5, 6))
    da = runtime.view(_device(a[:, ::-1].copy()), lambda host: host[:, ::-1])
    out = runtime.empty((2, 7, 6), np.float32)
    K.matmul(out, da, _device(b))
    _assert_product(a, b, runtime.to_host(out), "a[:, ::-1]")


def test_matmul_writes_a_strided_out_and_loops_past_the_grid_limit(monkeypatch):
    """out as a transposed view; gridDim.y and z capped at 1, so each block walks every tile
    row and every batch (what happens past CUDA's 65535 limit)."""
    monkeypatch.setattr(K, "MAX_GRID_YZ", 1)
    a, b = _array((3, 10, 5)), _array((3, 5, 6))
    stored = runtime.empty((3, 6, 10), np.float32)
    out = runtime.view(stored, lambda host: host.transpose(TRANSPOSE))
    K.matmul(out, _device(a), _device(b))
    _assert_product(a, b, runtime.to_host(stored).transpose(TRANSPOSE), "strided out")


# ---- through the ops: matmul, bmm, linear, autograd ----------------------------------------------
def _both(array):
    cpu = mt.tensor(array, requires_grad=True)
    gpu = mt.tensor(array, device="cuda", requires_grad=True)
    return cpu, gpu


def _close(got, want, what, rtol=1e-5, atol=1e-5):
    assert got.device == mt.device("cuda:0"), f"{what}: result on {got.device}"
    assert got.dtype is want.dtype, f"{what}: dtype {got.dtype} vs {want.dtype}"
    np.testing.assert_allclose(
        got.detach().cpu().numpy(), want.detach().numpy(), rtol=rtol, atol=atol, err_msg=what
    )


def check(fn, *arrays, what):
    """fn on cuda == fn on cpu, values and the gradients of every input."""
    pairs = [_both(a) for a in arrays]
    want = fn(*[cpu for cpu, _ in pairs])
    got = fn(*[gpu for _, gpu in pairs])
    _close(got, want, what)
    seed = _array(tuple(want.shape), np.dtype(want.dtype.np))
    want.backward(mt.tensor(seed))
    got.backward(mt.tensor(seed, device="cuda"))
    for k, (cpu, gpu) in enumerate(pairs):
        _close(gpu.grad, cpu.grad, f"{what}: grad of input {k}")


@pytest.mark.parametrize(
    "shapes",
    [((7,), (7, 5)), ((5, 7), (7,)), ((1, 9), (9, 1)), ((9, 1), (1, 6)), ((10, 12), (12, 9))],
)
def test_matmul_and_its_gradient_match_cpu(shapes):
    check(lambda a, b: a @ b, *(_array(s) for s in shapes), what=f"matmul {shapes}")


def test_float64_matmul_gradient_matches_cpu():
    check(lambda a, b: a @ b.T, _array((6, 5), np.float64), _array((7, 5), np.float64), what="f64")


def test_batched_and_broadcast_matmul_match_cpu():
    check(lambda a, b: mt.bmm(a, b.mT), _array((3, 5, 4)), _array((3, 6, 4)), what="bmm")
    check(lambda a, b: a @ b, _array((2, 1, 5, 3)), _array((3, 3, 2)), what="broadcast batch")


def test_linear_with_bias_matches_cpu():
    """linear reads weight.T in place (the column-major B of the kernel) and adds the bias."""
    x, w, bias = _array((2, 3, 9)), _array((10, 9)), _array((10,))
    check(lambda x, w, b: nn.functional.linear(x, w, b), x, w, bias, what="linear")
