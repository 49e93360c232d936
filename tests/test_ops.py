"""Every op-table row against numpy, with hypothesis.

test_forward: random shapes (broadcasting, 0-d, empty dims), non-contiguous views built with
view ops, float32 and float64 (mixed where the op promotes), Python numbers as operands;
values must match numpy's within the row's tolerance, shapes exactly, and result dtypes must
be PyTorch's (torch itself when importable, else the table's promotion rules).
test_dtypes: each accepted dtype (ints, bool) and each promotion mix (int + float, 0-d
tensors, Python numbers) on small contiguous 1-D inputs.
Half the forward examples run with the tracer's recorder installed, which also checks that
a row really dispatches the registry ops it claims to cover.
"""

from __future__ import annotations

import warnings
from contextlib import contextmanager

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from op_table import ROWS, dtype_combos, is_number_type, promote

import minitorch
from minitorch.ops import registry

try:
    import torch
except ImportError:  # the table's dtype rules stand in for torch
    torch = None


# ---- helpers -----------------------------------------------------------------------------------
def _outputs(result) -> tuple:
    return tuple(result) if isinstance(result, (tuple, list)) else (result,)


@contextmanager
def recording(seen: set | None):
    """Install the tracer hook (every op then goes through registry.apply) and collect names."""
    if seen is None:
        yield
        return
    prev = registry.recorder[0]
    registry.recorder[0] = lambda op, inputs, params, outs: seen.add(op.name)
    try:
        yield
    finally:
        registry.recorder[0] = prev


def _numpy_operands(case) -> list:
    """case.arrays(), with operands of the result's kind cast to the dtype PyTorch computes in:
    integers wrap around (uint8(5) + -2 is 3, uint8(5) <= -1 compares with 255, and so does
    uint8(5) < int8(-1) for a 0-d int8 tensor), a 0-d float64 next to float32 becomes float32
    (float32(0.82177013) == float64(0.82177012) is True). numpy computes with the exact values
    (or raises OverflowError for Python ints out of range)."""
    dt = promote(*case.args)
    kinds = {"i": "iu", "u": "iu", "f": "f"}.get(dt.kind, "")

    def cast(a):
        if type(a) in (int, float) and np.dtype(type(a)).kind in kinds:
            return np.array(a).astype(dt)[()]
        if isinstance(a, np.ndarray) and a.dtype.kind in kinds:
            return a.astype(dt)
        return a

    return [cast(a) for a in case.arrays()]


def reference(row, case) -> tuple:
    with np.errstate(all="ignore"), warnings.catch_warnings():
        warnings.simplefilter("ignore")
        outs = row.ref(*_numpy_operands(case), **case.params)
        return tuple(np.asarray(r) for r in _outputs(outs))


def expected_dtypes(row, case) -> tuple[str, ...]:
    """Result dtype names: torch's when importable (the table's rule must agree), else the
    table's."""
    rule = row.out(*case.args, **case.params)
    table = tuple(np.dtype(d).name for d in (rule if isinstance(rule, tuple) else (rule,)))
    if torch is None:
        return table
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        got = _outputs(row.fn(torch, *case.tensors(torch), **case.params))
    names = tuple(str(t.dtype).removeprefix("torch.") for t in got)
    assert names == table, f"{row.name}: op table dtype rule {table} disagrees with torch {names}"
    return names


def check_case(row, case, backend="cpu", seen=None) -> None:
    """Run one case on minitorch and compare with numpy (values, shapes) and torch (dtypes)."""
    with recording(seen):
        try:
            got = _outputs(
                row.fn(minitorch, *case.tensors(minitorch, device=backend), **case.params)
            )
        except NotImplementedError as e:
            if backend != "cuda":
                raise
            pytest.skip(f"{row.name}: {e}")  # an op with no CUDA kernel yet says so
    want = reference(row, case)
    dtypes = expected_dtypes(row, case)
    assert len(got) == len(want), f"{row.name}: {len(got)} outputs, numpy has {len(want)}"
    for k, (g, w, dt) in enumerate(zip(got, want, dtypes)):
        what = f"{row.name} output {k}"
        assert isinstance(g, minitorch.Tensor), f"{what}: got {type(g).__name__}, not a Tensor"
        assert g.dtype.name == dt, f"{what}: dtype mismatch: minitorch={g.dtype.name} | want={dt}"
        assert tuple(g.shape) == w.shape, (
            f"{what}: shape mismatch: minitorch={tuple(g.shape)} | numpy={w.shape}"
        )
        values = np.asarray(g.detach().cpu()._data)
        with np.errstate(all="ignore"):
            w = w.astype(dt)
        if np.dtype(dt).kind == "f":
            rtol, atol = row.tol[np.dtype(dt)]
            np.testing.assert_allclose(values, w, rtol=rtol, atol=atol, err_msg=what)
        else:
            np.testing.assert_array_equal(values, w, err_msg=what)


def draw_dtypes(data, row) -> tuple:
    """Per data input: float32/float64 (the row's first dtypes when it takes no floats),
    sometimes a Python number instead of a tensor (never all of them)."""
    choices = st.sampled_from(row.forward_dtypes)
    if row.mixed:
        dts = [data.draw(choices, label=f"dtype {i}") for i in range(row.n_data)]
    else:
        dts = [data.draw(choices, label="dtype")] * row.n_data
    if row.scalars and data.draw(st.integers(0, 3), label="python number") == 0:
        i = data.draw(st.sampled_from(row.scalars), label="number at")
        dts[i] = {"f": float, "b": bool}.get(np.dtype(dts[i]).kind, int)
    return tuple(dts)


# ---- tests ---------------------------------------------------------------------------------------
@pytest.mark.parametrize("row", ROWS, ids=lambda r: r.name)
def test_forward(row, backend):
    seen: set[str] = set()

    @settings(max_examples=row.max_examples)
    @given(data=st.data())
    def check(data):
        case = data.draw(row.build(draw_dtypes(data, row)), label="case")
        # the first example always records: with a row's few examples (10 for linalg) the
        # draw alone came out False every time about once in a few hundred runs
        record = not seen or data.draw(st.booleans(), label="via recorder")
        check_case(row, case, backend, seen if record else None)

    check()
    missing = set(row.ops) - seen
    assert not missing, f"{row.name}: claims to cover {sorted(missing)} but never dispatched it"


COMBOS = [(row, combo) for row in ROWS for combo in dtype_combos(row)]


def _combo_id(combo) -> str:
    def name(spec):
        if is_number_type(spec):
            return spec.__name__
        if isinstance(spec, tuple):
            return "0d_" + np.dtype(spec[1]).name
        return np.dtype(spec).name

    return "-".join(name(s) for s in combo)


@pytest.mark.parametrize(
    ("row", "combo"), COMBOS, ids=[f"{r.name}-{_combo_id(c)}" for r, c in COMBOS]
)
def test_dtypes(row, combo, backend):
    @settings(max_examples=3)
    @given(data=st.data())
    def check(data):
        case = data.draw(row.build(combo, layouts=("contiguous",), ranks=(1, 1)), label="case")
        check_case(row, case, backend)

    check()


def test_floor_divide_rounds_like_torch():
    # NOTE: floor(a / b) is wrong when a / b rounds up to an integer: 1.0 // 0.1 is 9.0
    # (0.1 is slightly above 1/10), as in Python, numpy and PyTorch.
    a = minitorch.tensor([1.0, -1.0, 0.3, 7.0], dtype=minitorch.float64)
    b = minitorch.tensor([0.1, 0.1, 0.1, -0.7], dtype=minitorch.float64)
    want = np.floor_divide(a.numpy(), b.numpy())
    np.testing.assert_array_equal((a // b).numpy(), want)
    np.testing.assert_array_equal((a % b).numpy(), np.remainder(a.numpy(), b.numpy()))


FOUNDATION = ("elementwise", "reduce", "movement", "linalg")


def test_every_foundation_op_has_a_row():
    """Each op registered by minitorch/ops/{elementwise,reduce,movement,linalg}.py is the
    table entry of some row (so test_forward and test_gradcheck_op_table run it)."""
    from op_table import COVERED  # noqa: PLC0415

    ours = {
        name
        for name, op in registry.REGISTRY.items()
        if type(op).__module__.rsplit(".", 1)[-1] in FOUNDATION
    }
    assert len(ours) > 50
    assert not ours - COVERED, f"ops without an op-table row: {sorted(ours - COVERED)}"


@pytest.fixture
def without_mkl(monkeypatch):
    """Products as on a machine without MKL: through numpy's BLAS (and register tiles)."""
    from minitorch.kernels.cpu import mkl  # noqa: PLC0415

    monkeypatch.setattr(mkl, "library", lambda: None)
    monkeypatch.setattr(mkl, "matmul", lambda a, b, out=None: None)


def test_small_products_run_on_the_calling_blas_thread(without_mkl):
    """kernels/cpu/blas.py: products under SMALL_GEMM multiply-adds use one OpenBLAS thread
    (waking a sleeping worker cost more than it saved), larger ones OpenBLAS's default."""
    from minitorch.kernels.cpu import blas  # noqa: PLC0415

    if blas._threads.set is None:
        pytest.skip("numpy's BLAS is not a bundled OpenBLAS: its threads are left alone")
    _, get_threads = blas._openblas_thread_calls()
    rng = np.random.default_rng(0)
    small = rng.standard_normal((64, 128)), rng.standard_normal((128, 128))
    big = rng.standard_normal((256, 256)), rng.standard_normal((256, 256))
    for (a, b), threads in ((small, 1), (big, blas._threads.default), (small, 1)):
        np.testing.assert_array_equal(blas.matmul(a, b), np.matmul(a, b))
        assert get_threads() == threads


def test_small_mkl_products_run_on_the_calling_thread_and_restore_mkls_count():
    """kernels/cpu/mkl.py: a product under ONE_THREAD_MACS multiply-adds sets MKL's count
    for this thread to one for its call only; products of every size (and the row blocks of
    the epilogue kernel) leave the count as it was, and equal numpy's to rounding."""
    from minitorch.kernels.cpu import mkl  # noqa: PLC0415

    if mkl.library() is None:
        pytest.skip("MKL is not installed: products run on numpy's BLAS")
    count = mkl.library().MKL_Get_Max_Threads
    before = count()
    rng = np.random.default_rng(0)
    for m, k, n in ((64, 4, 128), (100, 5, 1), (64, 128, 128), (512, 64, 256)):
        a, b = rng.standard_normal((m, k)), rng.standard_normal((k, n))
        np.testing.assert_allclose(mkl.matmul(a, b), a @ b, rtol=1e-12, atol=1e-12)
        assert count() == before, (m, k, n)
        x, w = minitorch.tensor(a), minitorch.tensor(b.T.copy())
        h = minitorch.nn.functional.linear(x, w, minitorch.zeros(n, dtype=x.dtype)).relu()
        np.testing.assert_allclose(h.numpy(), np.maximum(a @ b, 0), rtol=1e-12, atol=1e-12)
        assert count() == before, (m, k, n)
    w, bias = minitorch.randn(256, 64), minitorch.randn(256)
    step = minitorch.compile(lambda x: minitorch.nn.functional.linear(x, w, bias).relu())
    for _ in range(3):  # traced, planned, replayed: the row blocks of the epilogue kernel
        x = minitorch.randn(512, 64)
        want = np.maximum(x.numpy() @ w.numpy().T + bias.numpy(), 0)
        np.testing.assert_allclose(step(x).numpy(), want, rtol=1e-5, atol=1e-5)
        assert count() == before


def test_set_num_threads_bounds_numba_openblas_and_rnn_row_ranges():
    """torch.set_num_threads: minitorch's kernels use at most that many threads (Numba's
    parallel regions, OpenBLAS's large products, an RNN's row ranges); errors as PyTorch's."""
    import numba  # noqa: PLC0415

    from minitorch import threads  # noqa: PLC0415
    from minitorch.kernels.cpu import blas  # noqa: PLC0415
    from minitorch.ops import rnn  # noqa: PLC0415

    mt = minitorch
    before = mt.get_num_threads()
    assert before == numba.get_num_threads()
    try:
        mt.set_num_threads(1)
        assert mt.get_num_threads() == numba.get_num_threads() == 1
        assert blas._threads.default == 1
        big = np.ones((256, 256))
        blas.matmul(big, big)
        if blas._threads.set is not None:
            assert blas._openblas_thread_calls()[1]() == 1
        ranges = []
        rnn._over_rows(lambda lo, hi: ranges.append((lo, hi)), 64, 10**9)
        assert ranges == [(0, 64)]
        mt.set_num_threads(1000)  # more than Numba started: kept and reported, as in PyTorch
        assert mt.get_num_threads() == 1000
        assert numba.get_num_threads() == numba.config.NUMBA_NUM_THREADS
        for bad, message in ((0, "positive integer"), (-2, "positive integer"), (1.5, "an int")):
            with pytest.raises(RuntimeError, match=message):
                mt.set_num_threads(bad)
    finally:
        mt.set_num_threads(before)
        threads._requested[0] = None
    assert blas._threads.default == blas._threads.most


@pytest.mark.parametrize("m, k, n", [(4, 784, 512), (16, 128, 256), (64, 512, 256), (64, 256, 256)])
def test_a_few_rows_times_a_transposed_weight_is_computed_swapped(m, k, n, without_mkl):
    """kernels/cpu/blas.py without MKL: x @ W.T of a few rows runs as (W @ x.T).T (OpenBLAS's faster
    orientation there); the result is the same product, C-ordered."""
    from minitorch.kernels.cpu import blas  # noqa: PLC0415

    if blas._threads.set is None:
        pytest.skip("numpy's BLAS is not a bundled OpenBLAS: products run as numpy runs them")
    rng = np.random.default_rng(0)
    x, w = rng.standard_normal((m, k), np.float32), rng.standard_normal((n, k), np.float32)
    got = blas.matmul(x, w.T)
    assert got.flags.c_contiguous and got.dtype == np.float32
    swapped = blas._swap_wins(m, k, n)
    assert swapped == ((m, k) != (64, 256))  # M=64 swaps only from K=512 on
    want = (w @ x.T).T if swapped else x @ w.T
    np.testing.assert_array_equal(got, want)
    np.testing.assert_allclose(got, x.astype(np.float64) @ w.T.astype(np.float64), atol=2e-4)


@pytest.mark.parametrize("bias_shape", [(512,), ()])
def test_linear_adds_its_bias_while_reading_a_swapped_product_transposed(bias_shape, without_mkl):
    """linear's product of a few rows comes back as (W @ x.T) C-ordered; one pass adds the
    bias and transposes it: the same values as a transposing copy plus the bias, C-ordered."""
    from minitorch.kernels.cpu import blas  # noqa: PLC0415

    if blas._threads.set is None:
        pytest.skip("numpy's BLAS is not a bundled OpenBLAS: products run as numpy runs them")
    rng = np.random.default_rng(0)
    x, w = rng.standard_normal((8, 784), np.float32), rng.standard_normal((512, 784), np.float32)
    b = rng.standard_normal(bias_shape).astype(np.float32)
    got = minitorch.nn.functional.linear(
        minitorch.tensor(x), minitorch.tensor(w), minitorch.tensor(b)
    )
    assert got.is_contiguous() and got.dtype == minitorch.float32
    np.testing.assert_array_equal(got.numpy(), np.ascontiguousarray((w @ x.T).T) + b)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize(
    "m, k, n, transpose",
    [(1, 3, 16, False), (7, 5, 17, True), (9, 33, 28, False), (17, 2, 31, True)]
    + [(33, 70, 47, False)],
)
def test_tiled_products_match_float64(m, k, n, transpose, dtype):
    """kernels/cpu/linear.py: rows past whole blocks of 8, rows of c whose last pass is moved
    back to end at n (n not a multiple of the vector), transposed output."""
    from minitorch.kernels.cpu import linear as tiled  # noqa: PLC0415

    rng = np.random.default_rng(1)
    a, b = rng.standard_normal((m, k)).astype(dtype), rng.standard_normal((k, n)).astype(dtype)
    bias = rng.standard_normal(m).astype(dtype)
    got = tiled.matmul(a, b, bias, transpose=transpose)
    want = a.astype(np.float64) @ b + bias[:, None]
    tol = 1e-12 if dtype == np.float64 else 1e-5
    np.testing.assert_allclose(got, want.T if transpose else want, rtol=tol, atol=tol)
    assert got.dtype == dtype and got.flags.c_contiguous


@pytest.mark.parametrize("m, n, bias", [(64, 512, True), (37, 260, False), (16, 256, True)])
def test_linear_of_a_small_batch_runs_in_register_tiles(m, n, bias, without_mkl, monkeypatch):
    """Without MKL, linear of 16-128 rows into >= 256 outputs from >= 256 inputs runs in
    register tiles (kernels/cpu/linear.py): values and gradients as computed in float64."""
    from minitorch.kernels.cpu import linear as tiled  # noqa: PLC0415

    assert tiled.linear_wins(m, 300, n)
    calls, original = [], tiled.matmul
    monkeypatch.setattr(tiled, "matmul", lambda *a, **k: calls.append(1) or original(*a, **k))
    rng = np.random.default_rng(2)
    x, w, g = (rng.standard_normal(s, np.float32) for s in ((m, 300), (n, 300), (m, n)))
    b = rng.standard_normal(n).astype(np.float32) if bias else None
    x64, w64, g64 = (a.astype(np.float64) for a in (x, w, g))
    args = [minitorch.tensor(a, requires_grad=True) for a in (x, w)]
    args += [minitorch.tensor(b, requires_grad=True)] if bias else []
    got = minitorch.nn.functional.linear(*args)
    assert got.is_contiguous()
    np.testing.assert_allclose(got.detach().numpy(), x64 @ w64.T + (b if bias else 0), atol=1e-4)
    got.backward(minitorch.tensor(g))
    for arg, want in zip(args, (g64 @ w64, g64.T @ x64, g64.sum(0))):
        np.testing.assert_allclose(arg.grad.numpy(), want, rtol=1e-5, atol=1e-3)
    assert calls, "the forward did not run in register tiles"


def test_gemm_is_found_through_numpys_extension_module(monkeypatch):
    """kernels/cpu/cblas.py looks cblas_?gemm up from numpy's compiled module (its BLAS is
    searched as one of the libraries that module loaded), not only in the wheel's folder."""
    from minitorch.kernels.cpu import cblas  # noqa: PLC0415

    found = cblas.gemm_function(np.dtype(np.float32))
    if found == (0, 0):
        pytest.skip("numpy's BLAS has no cblas interface here: gemm runs its loops")
    cblas.gemm_function.cache_clear()
    monkeypatch.setattr(cblas.glob, "glob", lambda pattern: [])
    try:
        assert cblas.gemm_function(np.dtype(np.float32)) == found
    finally:
        cblas.gemm_function.cache_clear()


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("blas", [True, False], ids=["openblas", "loops"])
def test_products_called_from_njit_code(dtype, blas):
    """kernels/cpu/cblas.py: gemm(fn, a, b, c) from a compiled kernel, through numpy's
    OpenBLAS (found by address) or plain loops, on row slices, one row, k = 0, m = 0 and
    columns with a stride (which BLAS cannot take: loops)."""
    from numba import njit  # noqa: PLC0415

    from minitorch.kernels.cpu import cblas  # noqa: PLC0415

    fn = cblas.gemm_function(np.dtype(dtype)) if blas else (0, 0)
    if blas and fn == (0, 0):
        pytest.skip("numpy's BLAS is not a bundled OpenBLAS: gemm runs its loops")
    product = njit(lambda fn, a, b, c: cblas.gemm(fn, a, b, c))
    rng = np.random.default_rng(0)
    for m, k, n in [(5, 7, 3), (1, 4, 6), (3, 0, 2), (0, 3, 2), (16, 100, 300)]:
        a = rng.standard_normal((m + 2, k)).astype(dtype)[1 : m + 1]  # a row slice
        b = rng.standard_normal((k, n)).astype(dtype)
        c = np.full((m + 1, n), 7, dtype)
        product(fn, a, b, c[1:])
        np.testing.assert_allclose(c[1:], a @ b, rtol=1e-5, atol=1e-5)
        assert (c[0] == 7).all()
    a = rng.standard_normal((6, 8)).astype(dtype)[:, ::2]
    b, c = rng.standard_normal((4, 3)).astype(dtype), np.empty((6, 3), dtype)
    product(fn, a, b, c)
    np.testing.assert_allclose(c, a @ b, rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("shapes", [((1, 3, 4), (2, 5)), ((2, 3, 4), (1, 5))])
def test_einsum_broadcasts_size_one_dims_in_either_operand(shapes):
    """As PyTorch: a size-1 dim broadcasts against its letter's size in the other operand, and
    its gradient sums back over it."""
    torch = pytest.importorskip("torch")
    rng = np.random.default_rng(0)
    a, b = (rng.standard_normal(s) for s in shapes)
    ours = [minitorch.tensor(x, requires_grad=True) for x in (a, b)]
    theirs = [torch.tensor(x, requires_grad=True) for x in (a, b)]
    out = minitorch.einsum("bij,bk->bik", *ours)
    want = torch.einsum("bij,bk->bik", *theirs)
    np.testing.assert_allclose(out.numpy(force=True), want.detach().numpy(), rtol=1e-12)
    out.sum().backward()
    want.sum().backward()
    for x, y in zip(ours, theirs):
        np.testing.assert_allclose(x.grad.numpy(), y.grad.numpy(), rtol=1e-12)


@pytest.mark.parametrize(
    "equation, shapes",
    [
        ("...ij,...jk->...ik", [(2, 1, 3, 4), (5, 4, 2)]),  # batch dims broadcast
        ("...ij,...jk", [(2, 3, 4), (4, 5)]),  # implicit output: ellipsis dims first
        ("i...->...", [(3, 2, 4)]),
        ("b...,b...->b", [(2, 3, 4), (2, 3, 4)]),
        ("ii...->i...", [(3, 3, 2)]),
        ("i,...->...i", [(3,), (2, 4)]),
        ("...qd,...kd->...qk", [(2, 2, 3, 4), (2, 2, 5, 4)]),
        ("...ij->", [(2, 3)]),
    ],
)
def test_einsum_ellipsis_as_pytorch(equation, shapes):
    torch = pytest.importorskip("torch")
    rng = np.random.default_rng(0)
    xs = [rng.standard_normal(s) for s in shapes]
    ours = [minitorch.tensor(x, requires_grad=True) for x in xs]
    theirs = [torch.tensor(x, requires_grad=True) for x in xs]
    out, want = minitorch.einsum(equation, *ours), torch.einsum(equation, *theirs)
    np.testing.assert_allclose(out.numpy(force=True), want.detach().numpy(), rtol=1e-12)
    weights = np.arange(out.numel(), dtype=np.float64).reshape(out.shape)
    (out * minitorch.tensor(weights)).sum().backward()
    (want * torch.tensor(weights)).sum().backward()
    for x, y in zip(ours, theirs):
        np.testing.assert_allclose(x.grad.numpy(), y.grad.numpy(), rtol=1e-12)


@pytest.mark.parametrize(
    "equation, shapes, message",
    [
        ("...ijk,jk", [(2, 3), (3, 4)], r"subscripts in the equation \(3\) is more than .* \(2\)"),
        ("i..j", [(2, 3)], "not part of one ellipsis"),
        ("i......", [(2,)], "not part of one ellipsis"),
    ],
)
def test_einsum_ellipsis_errors(equation, shapes, message):
    with pytest.raises(RuntimeError, match=message):
        minitorch.einsum(equation, *[minitorch.zeros(*s) for s in shapes])


def test_arithmetic_kernels_run_serially_up_to_64k_elements_others_from_32k():
    """kernels/cpu: a prange region costs more than a memory pass of arithmetic saves up to
    ~64K elements, not more than tanh's work saves; the serial and parallel variants agree."""
    from minitorch.kernels import cpu  # noqa: PLC0415

    arithmetic = ("(np.float32(({0} * {1})) if not ({1} <= 0) else -{0})",)  # no other test's
    assert cpu._parallel_min(arithmetic) == cpu.ARITHMETIC_PARALLEL_MIN == 2 * 32768 + 1
    assert cpu._parallel_min(("tanh({0}) * {1}",)) == cpu.PARALLEL_MIN == 32768
    assert cpu._parallel_min(("relu({0}) + np.sign({1})",)) == cpu.ARITHMETIC_PARALLEL_MIN
    assert cpu._parallel_min(("({0} ** {1})",)) == cpu.PARALLEL_MIN
    a, b = (np.random.default_rng(0).standard_normal(70000, np.float32) for _ in range(2))
    outs = []
    # serial; then parallel (beyond the band where a compiled variant of either kind serves)
    for size, parallel in ((65536, False), (8 * cpu.ARITHMETIC_PARALLEL_MIN, True)):
        kernel = cpu.elementwise_sized(arithmetic, (False, False), None, size)
        assert kernel is cpu.elementwise_kernel(arithmetic, (False, False), None, parallel)
        outs.append(np.empty(65537, np.float32))
        kernel(outs[-1], a[:65537], b[:65537])
    np.testing.assert_array_equal(outs[0], outs[1])
    np.testing.assert_array_equal(
        outs[0], np.where(b[:65537] <= 0, -a[:65537], a[:65537] * b[:65537])
    )


@pytest.mark.parametrize("shape", [(64, 128), (3, 1, 5)])
def test_in_place_kernel_reads_its_output_and_matches_out_of_place(shape):
    """An elementwise kernel whose input is its own output (a product's epilogue, relu_) is
    compiled to read that input through the output (so its loop vectorises) and computes what
    the out-of-place kernel computes, also with a broadcast operand beside it."""
    from minitorch.kernels import cpu
    from minitorch.kernels.codegen import Elementwise, elementwise_source

    rng = np.random.default_rng(0)
    x = rng.standard_normal(shape).astype(np.float32)
    bias = rng.standard_normal(shape[-1]).astype(np.float32)
    expr = ("relu(({0} + {1}))",)
    expected = np.empty_like(x)
    cpu.elementwise_for(expr, expected, [x, bias])(expected, x, bias)
    in_place = x.copy()
    cpu.elementwise_for(expr, in_place, [in_place, bias])(in_place, in_place, bias)
    np.testing.assert_array_equal(in_place, expected)
    source = elementwise_source(Elementwise(expr, (False, False), x.ndim, False, (0,)))
    assert "relu((out0[" in source and "a0[" not in source.split('"""')[-1]


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_products_through_mkl_for_every_operand_layout(dtype):
    """kernels/cpu/mkl.py: a @ b for row- and column-contiguous operands (x @ W.T reads W in
    place), row slices, single rows and columns, k = 0; other layouts decline (None, numpy
    runs them); the result does not depend on the operands' alignment."""
    from minitorch.kernels.cpu import mkl  # noqa: PLC0415

    if mkl.library() is None:
        pytest.skip("MKL is not installed (pip install minitorch[fast])")
    rng = np.random.default_rng(3)
    big = rng.standard_normal((40, 70)).astype(dtype)
    cases = [
        (big[:7, :13], big[20:33, 30:35]),  # row slices (leading dimension > columns)
        (big[:7, :13], big[:5, 40:53].T),  # a transposed view
        (big[:13, :7].T, big[27:40, :5]),
        (big[:1, :13], big[:13, :1]),  # a single row times a single column
        (big[:6, :0], big[:0, :4]),  # k = 0: zeros
    ]
    for a, b in cases:
        got = mkl.matmul(a, b)
        np.testing.assert_allclose(got, a.astype(np.float64) @ b, rtol=1e-5, atol=1e-4)
        assert got.flags.c_contiguous and got.dtype == dtype
    assert mkl.matmul(big[:7, :26:2], big[:13, :5]) is None  # no unit stride in a
    # a plan declines what its calls would (a broadcast row: rows 0 apart), once, up front
    rows = np.broadcast_to(big[:1, :5], (13, 5))
    assert mkl.matmul(big[:7, :13], rows) is None
    assert mkl.product_plan(big[:7, :13], rows) is None
    assert mkl.product_plan(big[:7, :26:2], big[:13, :5]) is None
    product = mkl.product_plan(*cases[1])
    np.testing.assert_array_equal(product(*cases[1]), mkl.matmul(*cases[1]))
    assert mkl.matmul(big[:5, :5].astype(np.int64), big[:5, :5].astype(np.int64)) is None
    a, b = big[:8, :16], big[16:32, :9]
    raw = np.empty(a.size + 8, dtype)
    moved = raw[1 : 1 + a.size].reshape(a.shape)  # one element off the first's alignment
    moved[...] = a
    np.testing.assert_array_equal(mkl.matmul(moved, b), mkl.matmul(np.ascontiguousarray(a), b))


def test_set_flush_denormal_flushes_on_this_thread_as_pytorch_does():
    """torch.set_flush_denormal: with it on, denormal operands and results of this thread's
    kernels become 0 (float32 and float64), as PyTorch's; off again, they survive."""
    import platform  # noqa: PLC0415

    import torch  # noqa: PLC0415

    if platform.machine().lower() not in ("x86_64", "amd64"):
        assert minitorch.set_flush_denormal(True) is False
        return
    values = {np.float32: [1e-39, 3.0, -2e-40], np.float64: [1e-310, 3.0, -5e-324]}
    try:
        for mode in (True, False):
            assert minitorch.set_flush_denormal(mode) is True
            torch.set_flush_denormal(mode)
            for dtype, xs in values.items():
                ours = (minitorch.tensor(np.array(xs, dtype)) * 1.0).numpy()
                theirs = (torch.tensor(np.array(xs, dtype)) * 1.0).numpy()
                np.testing.assert_array_equal(ours, theirs)
                assert (ours[0] == 0) == mode
    finally:
        minitorch.set_flush_denormal(False)
        torch.set_flush_denormal(False)
