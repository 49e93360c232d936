"""The CUDA backend against the CPU backend: values, gradients, device semantics, memory stats
and a training step. Without a GPU these run on numba's CUDA simulator (tests/conftest.py
sets NUMBA_ENABLE_CUDASIM=1 before numba loads), so shapes stay small: the simulator runs
every kernel thread in Python.
"""

from __future__ import annotations

import math
import os
import subprocess
import sys

import numpy as np
import pytest

pytest.importorskip("numba_cuda", reason="the CUDA backend needs numba-cuda: pip install '.[cuda]'")

from cuda_compare import both as _both  # noqa: E402
from cuda_compare import close as _close  # noqa: E402

import minitorch as mt  # noqa: E402
import minitorch.nn as nn  # noqa: E402
from minitorch.backend import cuda as runtime  # noqa: E402

RNG = np.random.default_rng(0)


def _array(shape, dtype=np.float32, low=-2.0, high=2.0):
    return RNG.uniform(low, high, shape).astype(dtype)


def check(fn, *arrays, grad=True, what="", **tol):
    """fn on cuda tensors == fn on cpu tensors, values and (float inputs) gradients."""
    pairs = [_both(a, grad and a.dtype.kind == "f") for a in arrays]
    want = fn(*[p[0] for p in pairs])
    got = fn(*[p[1] for p in pairs])
    _close(got, want, what or "forward", **tol)
    if grad and want.requires_grad:
        seed = _array(tuple(want.shape), np.dtype(want.dtype.np))
        want.backward(mt.tensor(seed))
        got.backward(mt.tensor(seed, device="cuda"))
        for k, (c, g) in enumerate(pairs):
            if c.requires_grad:
                _close(g.grad, c.grad, f"{what} grad of input {k}", **tol)


# ---- elementwise ----------------------------------------------------------------------------
UNARY = {
    "neg": lambda x: -x,
    "exp": lambda x: x.exp(),
    "log": lambda x: x.abs().log(),
    "sqrt": lambda x: x.abs().sqrt(),
    "sin": lambda x: x.sin(),
    "tanh": lambda x: x.tanh(),
    "sigmoid": lambda x: x.sigmoid(),
    "relu": lambda x: x.relu(),
    "abs": lambda x: x.abs(),
    "sign": lambda x: x.sign(),
    "floor": lambda x: x.floor(),
    "clamp": lambda x: x.clamp(-0.5, 0.7),
    "to_float64": lambda x: x.double() * 3,
    "gelu": lambda x: nn.functional.gelu(x),
    "erfinv": lambda x: (x * 0.45).erfinv(),
    "lgamma": lambda x: (x.abs() + 0.1).lgamma(),
    "digamma": lambda x: (x * 0.2 - 0.5).digamma(),  # (reflected: in (-0.9, -0.1); grad: trigamma)
}


@pytest.mark.parametrize("name", list(UNARY))
def test_unary_matches_cpu(name):
    check(UNARY[name], _array((3, 4)), what=name)


def test_unary_on_strided_views():
    x = _array((4, 6))
    check(lambda t: (t.T * 2).exp(), x, what="transposed")
    check(lambda t: t[::2, 1::2].sigmoid(), x, what="sliced")


BINARY = {
    "add": lambda a, b: a + b,
    "sub": lambda a, b: a - b,
    "mul": lambda a, b: a * b,
    "div": lambda a, b: a / (b.abs() + 0.5),
    "pow": lambda a, b: a.abs() ** b,
    "maximum": lambda a, b: mt.maximum(a, b),
    "minimum": lambda a, b: mt.minimum(a, b),
    "lt": lambda a, b: (a < b).float(),
    "eq": lambda a, b: (a.round() == b.round()).float(),
    "where": lambda a, b: mt.where(a > 0, a, b),
}


@pytest.mark.parametrize("name", list(BINARY))
@pytest.mark.parametrize("shapes", [((3, 4), (3, 4)), ((2, 3, 4), (3, 1)), ((4,), (2, 1, 4))])
def test_binary_broadcasts_like_cpu(name, shapes):
    check(BINARY[name], _array(shapes[0]), _array(shapes[1]), what=f"{name} {shapes}")


def test_python_numbers_and_cpu_scalars_mix_with_cuda_tensors():
    check(lambda a: 2.5 * a - 1, _array((3,)), what="number")
    x = mt.ones(3, device="cuda")
    assert (x * mt.tensor(2.0)).tolist() == [2.0, 2.0, 2.0]  # a 0-d cpu tensor is a scalar


def test_integer_and_bool_elementwise():
    a, b = _both(np.arange(6, dtype=np.int64).reshape(2, 3))
    _close((b * 3 + 1) // 2, (a * 3 + 1) // 2, "int arithmetic")
    _close(b > 2, a > 2, "compare")
    _close(~(b > 2), ~(a > 2), "logical not")


# ---- reductions -----------------------------------------------------------------------------
@pytest.mark.parametrize("dim", [None, 0, 1, -1, (0, 2)])
@pytest.mark.parametrize("keepdim", [False, True])
def test_sum_mean_max_min_match_cpu(dim, keepdim):
    x = _array((2, 3, 4))
    kw = {} if dim is None else {"dim": dim, "keepdim": keepdim}
    check(lambda t: t.sum(**kw), x, what=f"sum {kw}")
    check(lambda t: t.mean(**kw), x, what=f"mean {kw}")
    check(lambda t: t.amax(**kw), x, what=f"amax {kw}")
    check(lambda t: t.amin(**kw), x, what=f"amin {kw}")


@pytest.mark.parametrize("dim", [None, 0, 1])
def test_max_min_argmax_argmin_match_cpu(dim):
    x = _array((3, 21))  # rows longer than a block: the tree combines partial results
    x[1, 5] = x[1, 17] = 9.0  # ties: the first index wins
    cpu, gpu = _both(x)
    for name in ("argmax", "argmin"):
        kw = {} if dim is None else {"dim": dim}
        _close(getattr(gpu, name)(**kw), getattr(cpu, name)(**kw), f"{name} {kw}")
    if dim is not None:
        values, indices = gpu.max(dim=dim)
        want_values, want_indices = cpu.max(dim=dim)
        _close(values, want_values, "max values")
        _close(indices, want_indices, "max indices")


def test_cumsum_cumprod_and_flip_match_cpu():
    for dim in (0, 1, -1):
        check(lambda t: t.cumsum(dim), _array((2, 3, 4)), what=f"cumsum {dim}")
        check(lambda t: t.cumprod(dim), _array((2, 3, 4)), what=f"cumprod {dim}")
    check(lambda t: t.flip(0, 2), _array((2, 3, 4)), what="flip")
    a, b = _both(np.arange(6).reshape(2, 3))
    _close(b.cumsum(1), a.cumsum(1), "int cumsum")
    _close(b.cumprod(1), a.cumprod(1), "int cumprod")


def test_sort_argsort_topk_match_cpu():
    x = np.round(_array((3, 6)), 1)  # rounded: ties, which keep their order (stable)
    x[1, 2] = np.nan
    a, b = _both(x)
    for dim, descending in ((1, False), (1, True), (0, True)):
        _close(
            b.argsort(dim, descending=descending), a.argsort(dim, descending=descending), "argsort"
        )
    values, indices = b.sort(1)
    want_values, want_indices = a.sort(1)
    _close(values, want_values, "sort values")
    _close(indices, want_indices, "sort indices")
    _close(b.topk(2, dim=1)[1], a.topk(2, dim=1)[1], "topk indices")


def test_reductions_of_transposed_and_integer_inputs():
    check(lambda t: t.T.sum(0), _array((5, 3)), what="sum of a transpose")
    a, b = _both(np.arange(12).reshape(3, 4))
    _close(b.sum(1), a.sum(1), "int64 sum")
    _close((b > 4).sum(), (a > 4).sum(), "bool sum")


@pytest.mark.parametrize("dim", [0, 1, -1])
def test_softmax_and_log_softmax_match_cpu(dim):
    x = _array((3, 4, 2), low=-30, high=30)
    check(lambda t: t.softmax(dim), x, what=f"softmax {dim}")
    check(lambda t: t.log_softmax(dim), x, what=f"log_softmax {dim}", atol=1e-5)


# ---- matrix products and linear -------------------------------------------------------------
@pytest.mark.parametrize(
    "shapes", [((3, 5), (5, 4)), ((2, 3, 5), (5, 4)), ((2, 1, 5, 3), (3, 3, 2)), ((17, 9), (9, 10))]
)
def test_matmul_and_bmm_match_cpu(shapes):
    check(lambda a, b: a @ b, _array(shapes[0]), _array(shapes[1]), what=f"matmul {shapes}")


def test_matmul_reads_transposed_operands_in_place():
    check(lambda a, b: a.T @ b.mT, _array((5, 3)), _array((4, 5)), what="a.T @ b.T")
    check(lambda a, b: mt.bmm(a, b), _array((2, 3, 4)), _array((2, 4, 5)), what="bmm")


def test_linear_matches_cpu():
    check(
        lambda x, w, b: nn.functional.linear(x, w, b),
        _array((2, 3, 6)),
        _array((4, 6)),
        _array((4,)),
        what="linear",
    )


# ---- movement -------------------------------------------------------------------------------
def test_views_share_device_memory():
    x = mt.zeros(3, 4, device="cuda")
    for view in (
        x.view(12),
        x.reshape(4, 3),
        x.T,
        x[1],
        x[:, 1:3],
        x.unsqueeze(0),
        x.permute(1, 0),
    ):
        assert view.is_cuda and runtime.shares_memory(view._data, x._data)
    x.T[2, 1] = 5.0  # a write through a view shows in the base
    x[0].add_(1)
    assert x.tolist() == [[1, 1, 1, 1], [0, 0, 5, 0], [0, 0, 0, 0]]


def test_contiguous_and_reshape_copy_on_the_device():
    check(lambda t: t.T.contiguous(), _array((3, 4)), what="contiguous")
    check(lambda t: t.T.reshape(12), _array((3, 4)), what="reshape of a transpose")
    check(lambda t: t.expand(3, 4) * 1, _array((1, 4)), what="expand")
    y = mt.ones(3, 4, device="cuda").T.contiguous()
    assert y.is_contiguous() and y.is_cuda


def test_cat_gather_and_basic_index_writes_match_cpu():
    check(lambda a, b: mt.cat([a, b.T], dim=1) * 1, _array((3, 2)), _array((4, 3)), what="cat")
    index = np.array([[0, 2], [1, 1], [3, 0]])
    check(lambda a, i: a.gather(1, i) * 1, _array((3, 4)), index, grad=False, what="gather")
    check(lambda a: a[1:, ::2] * 1, _array((3, 4)), what="slice backward (index_put)")
    check(
        lambda a, i: a.gather(0, i).sum() * 1,
        _array((4, 2)),
        index[:, :2] % 4,
        what="gather backward (scatter_add)",
    )
    check(lambda a: a.max(dim=1)[0], _array((3, 5)), what="max(dim) values and gradient")
    ids = np.array([[1, 0, 3], [3, 3, 2]])
    check(lambda w, i: nn.functional.embedding(i, w), _array((4, 5)), ids, what="embedding")
    check(lambda w, i: w.index_select(1, i), _array((3, 4)), ids[1], what="index_select")
    x = mt.zeros(2, 3, device="cuda")
    x[1, 1:] = 4.0
    x[0] = mt.tensor([1.0, 2.0, 3.0], device="cuda")
    assert x.tolist() == [[1, 2, 3], [0, 4, 4]]


@pytest.mark.parametrize("affine", [True, False])
def test_layer_norm_matches_cpu(affine):
    ln = (lambda x, w, b: nn.functional.layer_norm(x, (4,), w, b)) if affine else None
    if affine:
        check(ln, _array((2, 3, 4)), _array((4,)), _array((4,)), what="layer_norm", atol=1e-5)
    else:
        check(lambda x: nn.functional.layer_norm(x, (3, 4)), _array((2, 3, 4)), atol=1e-5)


def test_batch_norm_matches_cpu():
    for shape in ((5, 3), (4, 2, 3)):
        results = []
        for device in ("cpu", "cuda"):
            bn = nn.BatchNorm1d(shape[1]).to(device)
            x = mt.tensor(
                np.linspace(-1, 2, math.prod(shape), dtype=np.float32).reshape(shape) ** 2,
                device=device,
                requires_grad=True,
            )
            (bn(x) * mt.arange(shape[-1], device=device)).sum().backward()
            bn.eval()
            results.append((bn(x), x.grad, bn.weight.grad, bn.bias.grad, bn.running_var))
        for got, want in zip(*reversed(results)):
            _close(got, want, f"batch norm {shape}", atol=1e-5)


# ---- fused loss, random numbers, optimizers -------------------------------------------------
@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
@pytest.mark.parametrize("smoothing", [0.0, 0.2])
def test_cross_entropy_matches_cpu(reduction, smoothing):
    logits = _array((6, 5))
    target = np.array([0, 4, 2, -100, 1, 3])

    def loss(x, t):
        return nn.functional.cross_entropy(
            x, t, reduction=reduction, label_smoothing=smoothing, ignore_index=-100
        )

    check(loss, logits, target, what=f"cross_entropy {reduction} {smoothing}")


def test_random_numbers_match_the_cpu_for_the_same_seed():
    for draw in (
        lambda device: mt.rand(5, 7, device=device),
        lambda device: mt.randn(6, 3, device=device, dtype=mt.float64),
        lambda device: nn.functional.dropout(mt.ones(4, 9, device=device), 0.4),
    ):
        mt.manual_seed(3)
        want = draw("cpu")
        mt.manual_seed(3)
        got = draw("cuda")
        _close(got, want, "random draw", rtol=1e-6, atol=1e-7)


@pytest.mark.parametrize("dtype", [mt.float32, mt.float64])
@pytest.mark.parametrize(
    ("kind", "args"),
    [("exponential", (2.0, 0.0)), ("cauchy", (1.0, 0.5)), ("log_normal", (0.5, 0.25))]
    + [("geometric", (math.log1p(-0.3), 0.0))],
)
def test_float_kind_draws_match_the_cpu_for_the_same_seed(kind, args, dtype):
    """The samplers' kinds (kernels/codegen/philox.py FLOAT_KINDS) drawn by the CUDA kernels:
    the CPU's numbers (up to the last ulp of log/exp/tan)."""
    from minitorch.random import _draw  # noqa: PLC0415

    def draw(device):
        return _draw(kind, (5, 7), dtype, None, False, args, device)

    mt.manual_seed(3)
    want = draw("cpu")
    mt.manual_seed(3)
    _close(draw("cuda"), want, f"{kind} draw", rtol=1e-6, atol=1e-7)


@pytest.mark.parametrize(
    "make",
    [
        lambda ps: mt.optim.SGD(ps, lr=0.1, momentum=0.9, weight_decay=0.01),
        lambda ps: mt.optim.Adam(ps, lr=0.01),
        lambda ps: mt.optim.AdamW(ps, lr=0.01, amsgrad=True),
        lambda ps: mt.optim.RMSprop(ps, lr=0.01, momentum=0.5, centered=True),
        lambda ps: mt.optim.Adagrad(ps, lr=0.1),
        lambda ps: mt.optim.Adadelta(ps),
        lambda ps: mt.optim.Adamax(ps, lr=0.01, weight_decay=0.1),
        lambda ps: mt.optim.NAdam(ps, lr=0.01, decoupled_weight_decay=True),
        lambda ps: mt.optim.RAdam(ps, lr=0.01, betas=(0.5, 0.6)),  # rectified from step 2
        lambda ps: mt.optim.Rprop(ps, lr=0.05, maximize=True),
        lambda ps: mt.optim.ASGD(ps, lr=0.05, t0=1),
    ],
)
def test_optimizer_updates_match_cpu(make):
    w, g = _array((3, 4)), _array((3, 4))
    results = []
    for device in ("cpu", "cuda"):
        p = nn.Parameter(mt.tensor(w, device=device))
        opt = make([p])
        for _ in range(3):
            p.grad = mt.tensor(g, device=device)
            opt.step()
        assert p.is_cuda == (device == "cuda")
        results.append(p)
    _close(results[1], results[0], "parameter after 3 steps")


@pytest.mark.parametrize(
    "make",
    [
        lambda ps: mt.optim.SGD(ps, lr=0.1, momentum=0.9, nesterov=True),
        lambda ps: mt.optim.RMSprop(ps, lr=0.01, momentum=0.5),
    ],
)
def test_optimizer_steps_after_double_match_cpu(make):
    """model.double() after a first step: the float32 state stays float32 (PyTorch's in-place
    updates keep it), on the GPU as on the CPU (tests/test_optim.py compares that with torch)."""
    w, g = _array((3, 4)), _array((3, 4))
    results = []
    for device in ("cpu", "cuda"):
        p = nn.Parameter(mt.tensor(w, device=device))
        opt = make([p])
        for step in range(3):
            if step == 1:
                p.data = p.data.double()
            p.grad = mt.tensor(g, device=device, dtype=p.dtype)
            opt.step()
        assert p.dtype == mt.float64
        assert all(v.dtype == mt.float32 for v in opt.state[p].values() if v.ndim)
        results.append(p)
    _close(results[1], results[0], "parameter after 3 steps")


# ---- device semantics -----------------------------------------------------------------------
def test_creation_and_moves():
    assert mt.cuda.is_available() and mt.cuda.device_count() == 1
    for t in (
        mt.zeros(2, 3, device="cuda"),
        mt.ones(2, 3, device="cuda:0"),
        mt.full((2, 3), 7.0, device=mt.device("cuda")),
        mt.empty(2, 3, device="cuda"),
        mt.tensor([[1, 2, 3], [4, 5, 6]], device="cuda"),
        mt.rand(2, 3, device="cuda"),
        mt.randn(2, 3, device="cuda"),
        mt.zeros(2, 3).cuda(),
        mt.zeros(2, 3).to("cuda"),
        mt.zeros(2, 3).to(mt.device("cuda", 0)),
        mt.zeros_like(mt.zeros(2, 3, device="cuda")),
        mt.zeros(1, device="cuda").new_ones(2, 3),
        mt.arange(6, device="cuda").reshape(2, 3),
        mt.linspace(0, 1, 6, device="cuda").reshape(2, 3),
        mt.eye(2, 3, device="cuda"),
        mt.randint(0, 5, (2, 3), device="cuda"),
        mt.normal(mt.zeros(2, 3, device="cuda"), 1.0),
    ):
        assert t.is_cuda and t.device == mt.device("cuda:0") and tuple(t.shape) == (2, 3)
    x = mt.tensor([[1.5, 2.0]], device="cuda")
    assert x.sum().item() == 3.5 and x.tolist() == [[1.5, 2.0]]
    assert x.cpu().device == mt.device("cpu") and x.cpu().numpy().tolist() == [[1.5, 2.0]]
    assert repr(x) == "tensor([[1.5000, 2.0000]], device='cuda:0')"
    assert x.to("cuda") is x and x.cpu().cpu() is not x


def test_moving_is_differentiable():
    w = mt.tensor([1.0, 2.0], requires_grad=True)
    (w.cuda() * 3).sum().backward()
    assert w.grad.device == mt.device("cpu") and w.grad.tolist() == [3.0, 3.0]


def test_module_to_cuda_moves_parameters_and_buffers():
    m = nn.Sequential(nn.Linear(3, 2), nn.BatchNorm1d(2))
    weight = m[0].weight
    assert m.to("cuda") is m and m[0].weight is weight and weight.is_cuda
    assert all(p.is_cuda for p in m.parameters()) and all(b.is_cuda for b in m.buffers())
    assert m.cpu() is m and not weight.is_cuda


def test_copies_checkpoints_and_optimizer_state_of_a_cuda_model(tmp_path):
    import copy  # noqa: PLC0415

    m = nn.Linear(3, 2).cuda()
    twin = copy.deepcopy(m)
    assert twin.weight.is_cuda and twin.weight.tolist() == m.weight.tolist()
    assert not runtime.shares_memory(twin.weight._data, m.weight._data)
    mt.save(m.state_dict(), tmp_path / "m.pt")
    loaded = mt.load(tmp_path / "m.pt")
    assert loaded["weight"].tolist() == m.weight.tolist()
    opt = mt.optim.Adam(m.parameters())
    m(mt.ones(1, 3, device="cuda")).sum().backward()
    opt.step()
    again = mt.optim.Adam(m.parameters())
    again.load_state_dict(opt.state_dict())
    state = again.state[m.weight]
    assert state["exp_avg"].is_cuda and not state["step"].is_cuda
    again.step()  # the loaded buffers are on the parameters' device


def test_numpy_of_a_cuda_tensor_says_cpu_first():
    x = mt.ones(2, device="cuda")
    with pytest.raises(TypeError) as info:
        x.numpy()
    assert str(info.value) == (
        "can't convert cuda:0 device type tensor to numpy. Use Tensor.cpu() to copy the tensor "
        "to host memory first."
    )
    with pytest.raises(TypeError, match="cpu"):
        np.asarray(x)


def test_mixing_devices_names_both():
    a, b = mt.ones(2, device="cuda"), mt.ones(2)
    for fn in (lambda: a + b, lambda: b * a, lambda: mt.ones(2, 2) @ mt.ones(2, 2, device="cuda")):
        with pytest.raises(RuntimeError) as info:
            fn()
        assert (
            "Expected all tensors to be on the same device, but found at least two devices, "
            "cuda:0 and cpu!"
        ) in str(info.value)


def test_op_without_a_cuda_kernel_says_so(monkeypatch):
    """Every registered op has a CUDA forward today: one is taken away to see the message."""
    from minitorch.ops import cuda as cuda_ops  # noqa: PLC0415

    monkeypatch.delitem(cuda_ops.FORWARD, "einsum")
    x = mt.ones(3, 3, device="cuda")
    with pytest.raises(NotImplementedError) as info:
        mt.einsum("ij->ji", x)
    assert "einsum" in str(info.value) and ".cpu()" in str(info.value)


def test_without_cuda_errors_name_the_simulator():
    """In a process with neither a GPU nor the simulator, "cuda" is refused clearly."""
    code = (
        "import minitorch as mt\n"
        "assert not mt.cuda.is_available() and mt.cuda.device_count() == 0\n"
        "for make in (lambda: mt.zeros(2, device='cuda'), lambda: mt.zeros(2).to('cuda:0')):\n"
        "    try:\n"
        "        make()\n"
        "    except RuntimeError as e:\n"
        "        m = str(e)\n"
        "        assert 'NUMBA_ENABLE_CUDASIM=1' in m and 'minitorch[cuda]' in m, m\n"
        "        assert \"device='cpu'\" in m, m\n"
        "    else:\n"
        "        raise AssertionError('no error')\n"
    )
    env = {**os.environ, "NUMBA_ENABLE_CUDASIM": "0", "CUDA_VISIBLE_DEVICES": ""}
    run = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True)
    assert run.returncode == 0, run.stderr


def test_import_does_not_load_numba_cuda():
    code = "import sys, minitorch; assert 'numba.cuda' not in sys.modules"
    run = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert run.returncode == 0, run.stderr


# ---- memory statistics and the caching allocator --------------------------------------------
def test_memory_stats_and_empty_cache():
    mt.cuda.synchronize()
    mt.cuda.empty_cache()
    base = mt.cuda.memory_allocated()
    mt.cuda.reset_peak_memory_stats()
    x = mt.empty(1000, device="cuda")  # 4000 bytes: one 4096-byte block (512-byte buckets)
    assert mt.cuda.memory_allocated() == base + 4096
    view = x[10:20]
    del x
    assert mt.cuda.memory_allocated() == base + 4096  # a view keeps its block
    del view
    assert mt.cuda.memory_allocated() == base
    assert mt.cuda.max_memory_allocated() == base + 4096
    reserved = mt.cuda.memory_reserved()
    y = mt.empty(1000, device="cuda")  # served from the cache: nothing new is reserved
    assert mt.cuda.memory_reserved() == reserved
    del y
    mt.cuda.empty_cache()
    assert mt.cuda.memory_reserved() == reserved - 4096
    mt.cuda.reset_peak_memory_stats()
    assert mt.cuda.max_memory_allocated() == mt.cuda.memory_allocated()


# ---- a training step ------------------------------------------------------------------------
def _train(device, steps=3):
    mt.manual_seed(0)
    model = nn.Sequential(nn.Linear(6, 8), nn.ReLU(), nn.Dropout(0.3), nn.Linear(8, 3))
    model.to(device)
    opt = mt.optim.Adam(model.parameters(), lr=0.01)
    loss_fn = nn.CrossEntropyLoss()
    rng = np.random.default_rng(1)
    x = mt.tensor(rng.standard_normal((5, 6)).astype(np.float32), device=device)
    y = mt.tensor(rng.integers(0, 3, 5), device=device)
    losses = []
    for _ in range(steps):
        opt.zero_grad()
        loss = loss_fn(model(x), y)
        loss.backward()
        opt.step()
        losses.append(loss.detach())
    return losses, list(model.parameters())


def test_mlp_training_step_matches_cpu(monkeypatch):
    """Linear-ReLU-Dropout-Linear + CrossEntropyLoss + Adam: the same losses and parameters on
    both devices (dropout draws the same masks), and no device-to-host copy on the way."""
    want_losses, want_params = _train("cpu")

    def no_host_copies(array):
        raise AssertionError("a training step copied a device array to the host")

    monkeypatch.setattr(runtime, "to_host", no_host_copies)
    got_losses, got_params = _train("cuda")
    monkeypatch.undo()
    for got, want in zip(got_losses, want_losses):
        _close(got, want, "loss", rtol=1e-5)
    for got, want in zip(got_params, want_params):
        _close(got, want, "parameter after 3 steps")


def _transformer_step(device):
    mt.manual_seed(0)
    model = nn.ModuleList(
        [
            nn.Embedding(7, 4),
            nn.TransformerEncoderLayer(4, 2, dim_feedforward=8, dropout=0.1, batch_first=True),
            nn.Linear(4, 7),
        ]
    ).to(device)
    emb, layer, head = model
    opt = mt.optim.SGD(model.parameters(), lr=0.1)
    x = mt.tensor(np.arange(8).reshape(2, 4) % 7, device=device)
    mask = mt.triu(mt.ones(4, 4, dtype=mt.bool), diagonal=1).to(device)
    loss = nn.functional.cross_entropy(
        head(layer(emb(x), src_mask=mask)).reshape(-1, 7), x.reshape(-1)
    )
    loss.backward()
    opt.step()
    return loss, list(model.parameters())


def test_transformer_encoder_step_matches_cpu():
    """Embedding, attention with a causal mask, layer norm, dropout and an FFN: one step."""
    want_loss, want_params = _transformer_step("cpu")
    got_loss, got_params = _transformer_step("cuda")
    _close(got_loss, want_loss, "loss")
    for got, want in zip(got_params, want_params):
        _close(got, want, "parameter after one step", atol=1e-6)


@pytest.mark.parametrize(
    "equation, shapes",
    [
        ("ij,jk->ik", [(3, 4), (4, 5)]),
        ("bij,bjk->bik", [(2, 3, 4), (2, 4, 2)]),
        ("bhqd,bhkd->bhqk", [(2, 2, 3, 4), (2, 2, 5, 4)]),
        ("i,j->ij", [(3,), (4,)]),
        ("ij,ij->", [(3, 4), (3, 4)]),
        ("ab,b->a", [(3, 4), (4,)]),
        ("ij,kj", [(3, 4), (2, 4)]),  # implicit output: ik
        ("abc,cd->dba", [(2, 3, 4), (4, 3)]),
        ("ij->ji", [(3, 4)]),
        ("ijk->k", [(2, 3, 4)]),
        ("bij,bk->bik", [(2, 3, 4), (1, 5)]),  # a size-1 batch dim broadcasts
        ("bij,bk->bik", [(1, 3, 4), (2, 5)]),  # in either operand
        # a letter repeated within one operand: its diagonal (a strided view)
        ("ii->i", [(3, 3)]),
        ("ii->", [(3, 3)]),
        ("ii", [(3, 3)]),  # implicit output: the trace
        ("iij->j", [(2, 2, 4)]),
        ("iji->ij", [(3, 2, 3)]),
        ("iii->i", [(2, 2, 2)]),
        ("bii,bj->bj", [(2, 3, 3), (2, 4)]),
        ("bii,bj->bij", [(2, 3, 3), (1, 4)]),  # beside a broadcast batch dim
        ("ii,i->i", [(3, 3), (3,)]),
        ("ij,jj->ij", [(2, 3), (3, 3)]),
    ],
)
def test_einsum_matches_cpu(equation, shapes):
    """Values and gradients of einsum on cuda (diagonal views, sums, permutes, one batched GEMM)
    against the CPU."""
    pairs = [_both(_array(s), requires_grad=True) for s in shapes]
    want = mt.einsum(equation, *[cpu for cpu, _ in pairs])
    got = mt.einsum(equation, *[gpu for _, gpu in pairs])
    _close(got, want, equation, rtol=1e-5, atol=1e-5)
    grad = _array(tuple(want.shape))
    want.backward(mt.tensor(grad))
    got.backward(mt.tensor(grad, device="cuda"))
    for k, (cpu, gpu) in enumerate(pairs):
        _close(gpu.grad, cpu.grad, f"{equation}: grad of operand {k}", rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("name", ["Normal", "Uniform", "Categorical", "Bernoulli"])
def test_distributions_sample_on_their_parameters_device(name):
    from minitorch import distributions as D  # noqa: PLC0415

    zeros, ones = mt.zeros(3, device="cuda"), mt.ones(3, device="cuda")
    made = {
        "Normal": lambda: D.Normal(zeros, ones),
        "Uniform": lambda: D.Uniform(zeros, ones),
        "Categorical": lambda: D.Categorical(logits=mt.zeros(3, 4, device="cuda")),
        "Bernoulli": lambda: D.Bernoulli(probs=ones * 0.5),
    }[name]()
    sample = made.sample((2,))
    assert sample.device.type == "cuda"
    assert made.log_prob(sample).device.type == "cuda"
