"""minitorch.compile: a traced step computes exactly what the eager step computes, replays
without the footguns (aliased outputs, frozen constants, repeated random numbers), and says
why it retraces."""

import re
import sys
from pathlib import Path

import numpy as np
import pytest

import minitorch as torch
import minitorch.nn as nn
import minitorch.nn.functional as F

sys.path.insert(0, str(Path(__file__).parents[1] / "benchmarks"))
import workloads  # noqa: E402


def _batch(n=16, features=8, classes=3, seed=0):
    rng = np.random.default_rng(seed)
    x = torch.from_numpy(rng.standard_normal((n, features)).astype(np.float32))
    y = torch.from_numpy(rng.integers(0, classes, n))
    return x, y


def _classifier(seed=0, dropout=0.2, optimizer="adam"):
    torch.manual_seed(seed)
    model = nn.Sequential(
        nn.Linear(8, 16), nn.ReLU(), nn.Dropout(dropout), nn.BatchNorm1d(16), nn.Linear(16, 3)
    )
    if optimizer == "adam":
        opt = torch.optim.Adam(model.parameters(), lr=1e-2)
    else:
        opt = torch.optim.SGD(model.parameters(), lr=0.1, momentum=0.9)

    def step(x, y):
        opt.zero_grad()
        loss = F.cross_entropy(model(x), y)
        loss.backward()
        opt.step()
        return loss

    return model, opt, step


def _run_both(n_steps=5, **kw):
    """The same step eagerly and compiled, from the same seed, batch by batch."""
    model_e, _, eager = _classifier(**kw)
    model_c, _, step = _classifier(**kw)
    compiled = torch.compile(step)
    x, y = _batch()
    for i in range(n_steps):
        torch.manual_seed(100 + i)
        a = eager(x, y)
        torch.manual_seed(100 + i)
        b = compiled(x, y)
        assert a.item() == b.item(), f"step {i}: eager {a.item()} traced {b.item()}"
    return model_e, model_c, compiled


def _assert_same_state(m1, m2):
    for (name, a), b in zip(m1.state_dict().items(), m2.state_dict().values()):
        np.testing.assert_array_equal(a.numpy(), b.numpy(), err_msg=name)


@pytest.mark.parametrize("optimizer", ["adam", "sgd"])
def test_traced_step_is_bit_exact(optimizer):
    m_eager, m_traced, compiled = _run_both(optimizer=optimizer)
    _assert_same_state(m_eager, m_traced)  # weights and BatchNorm running stats
    s = compiled.stats
    assert (s.eager_calls, s.traces, s.replays) == (1, 1, 3)
    assert not s.retraces


@pytest.mark.parametrize("name", sorted(workloads.WORKLOADS))
def test_benchmark_workloads_match_eager_for_50_steps(name):
    """Every suite workload, dropout on: traced and eager agree step by step for 50 steps
    (within 1e-5 relative, the issue's bound; in practice bit for bit)."""
    build = workloads.WORKLOADS[name]
    torch.manual_seed(0)
    eager = build(torch)
    torch.manual_seed(0)
    compiled = torch.compile(build(torch))
    for i in range(50):
        torch.manual_seed(i)
        a = eager().detach().numpy()
        torch.manual_seed(i)
        b = compiled().detach().numpy()
        np.testing.assert_allclose(b, a, rtol=1e-5, atol=0, err_msg=f"{name} step {i}")
    assert compiled.stats.replays == 48 and not compiled.stats.retraces


def test_replay_outputs_are_not_overwritten():
    _, _, step = _classifier()
    compiled = torch.compile(step)
    x, y = _batch()
    outs = [compiled(x, y) for _ in range(4)]
    values = [o.item() for o in outs]
    assert len(set(values)) == 4, values  # training moves the loss each step
    assert [o.item() for o in outs] == values  # earlier results survive later replays


def test_dropout_masks_differ_between_replays_like_eager():
    compiled = torch.compile(lambda x: F.dropout(x, 0.5))
    x = torch.ones(1000)
    masks = [compiled(x).numpy().copy() for _ in range(4)]
    for a, b in zip(masks, masks[1:]):
        assert not np.array_equal(a, b)
    torch.manual_seed(7)
    eager = F.dropout(x, 0.5)
    torch.manual_seed(7)
    assert np.array_equal(compiled(x).numpy(), eager.numpy())


def test_scheduler_lr_is_live_and_does_not_retrace():
    results = []
    for compile_it in (False, True):
        torch.manual_seed(0)
        w = nn.Parameter(torch.ones(4))
        opt = torch.optim.SGD([w], lr=1.0)
        sched = torch.optim.lr_scheduler.StepLR(opt, step_size=1, gamma=0.5)

        def step(x):
            opt.zero_grad()
            loss = (w * x).sum()
            loss.backward()
            opt.step()
            return loss

        fn = torch.compile(step) if compile_it else step
        for _ in range(5):
            fn(torch.ones(4))
            sched.step()
        results.append(w.detach().numpy().copy())
    np.testing.assert_array_equal(results[0], results[1])
    assert fn.stats.traces == 1 and not fn.stats.retraces


def test_new_batch_size_retraces_with_a_reason():
    _, _, step = _classifier()
    compiled = torch.compile(step)
    x, y = _batch(16)
    for _ in range(3):
        compiled(x, y)
    x2, y2 = _batch(5, seed=1)
    for _ in range(3):
        compiled(x2, y2)
    assert compiled.stats.traces == 2
    assert "argument 0 changed" in compiled.stats.retraces[0]
    assert "(16, 8)" in compiled.stats.retraces[0] and "(5, 8)" in compiled.stats.retraces[0]
    compiled(x, y)  # the first trace is still there
    assert compiled.stats.traces == 2


def test_eval_mode_is_noticed():
    model, _, _ = _classifier()
    compiled = torch.compile(model)
    x, _ = _batch()
    with torch.no_grad():
        for _ in range(3):
            compiled(x)
        model.eval()
        out = compiled(x)
        np.testing.assert_array_equal(out.numpy(), model(x).numpy())
    assert "training changed from True to False" in compiled.stats.retraces[0]


def test_changed_closure_number_is_noticed():
    scale = 2.0

    def f(x):
        return x * scale

    compiled = torch.compile(f)
    x = torch.ones(3)
    for _ in range(3):
        compiled(x)
    scale = 5.0
    assert compiled(x).tolist() == [5.0, 5.0, 5.0]
    assert "closure scale changed from 2.0 to 5.0" in compiled.stats.retraces[0]


def test_changed_attribute_of_a_closure_object_is_noticed():
    from types import SimpleNamespace

    cfg = SimpleNamespace(loss=SimpleNamespace(scale=2.0))

    def f(x):
        return x * cfg.loss.scale

    compiled = torch.compile(f)
    x = torch.ones(3)
    for _ in range(3):
        compiled(x)
    cfg.loss.scale = 5.0
    assert compiled(x).tolist() == [5.0, 5.0, 5.0]
    assert "attribute cfg.loss.scale changed from 2.0 to 5.0" in compiled.stats.retraces[0]
    cfg.loss = SimpleNamespace(scale=7.0)  # the chain is reread from its root
    assert compiled(x).tolist() == [7.0, 7.0, 7.0]


def test_changed_number_of_a_module_is_noticed():
    class Scaled(nn.Module):
        def __init__(self):
            super().__init__()
            self.linear = nn.Linear(3, 2)
            self.scale = 2.0

        def forward(self, x):
            return self.linear(x) * self.scale

    model = Scaled()
    compiled = torch.compile(model)
    x = torch.randn(4, 3)
    with torch.no_grad():
        for _ in range(3):
            compiled(x)
        model.scale = -1.0
        assert np.array_equal(compiled(x).numpy(), model(x).numpy())
    assert "scale (read by Scaled.forward) changed from 2.0 to -1.0" in compiled.stats.retraces[0]


def test_item_inside_a_step_names_the_line():
    def step(x):
        y = x * 2
        if y.sum().item() > 0:  # a Python branch on a value
            return y
        return -y

    compiled = torch.compile(step)
    compiled(torch.ones(2))  # eager warm-up
    with pytest.raises(torch.jit.TraceError, match=r"\.item\(\) at .*test_jit\.py:\d+"):
        compiled(torch.ones(2))


def test_numpy_conversion_inside_a_step_names_the_line():
    def step(x):
        scale = float(np.asarray(x).max())  # numpy reads the values: frozen in a trace
        return x * scale

    compiled = torch.compile(step)
    compiled(torch.ones(2))  # eager warm-up
    with pytest.raises(torch.jit.TraceError, match=r"numpy conversion .* at .*test_jit\.py:\d+"):
        compiled(torch.ones(2))
    loose = torch.compile(step, fallback="eager")
    loose(torch.ones(2))
    with pytest.warns(RuntimeWarning, match="numpy conversion"):
        loose(torch.ones(2))
    assert loose(torch.full((2,), 3.0)).tolist() == [9.0, 9.0]  # eager: the new values count


def test_fallback_eager_warns_once_and_runs():
    def step(x):
        return x * (2 if x.sum().item() > 0 else 3)

    compiled = torch.compile(step, fallback="eager")
    compiled(torch.ones(2))
    with pytest.warns(RuntimeWarning, match="eagerly"):
        assert compiled(torch.ones(2)).tolist() == [2.0, 2.0]
    assert compiled(-torch.ones(2)).tolist() == [-3.0, -3.0]  # really eager: the branch is live
    assert "item" in compiled.explain()


def test_in_place_ops_and_grad_clipping_are_replayed():
    def build():
        torch.manual_seed(0)
        net = nn.Sequential(nn.Linear(4, 8), nn.ReLU(inplace=True), nn.Linear(8, 2))
        opt = torch.optim.Adam(net.parameters(), lr=0.1)

        def step(x, actions, target):
            q = net(x).gather(1, actions).squeeze(1)
            loss = F.smooth_l1_loss(q, target)
            opt.zero_grad()
            loss.backward()
            nn.utils.clip_grad_norm_(net.parameters(), 0.1)
            opt.step()
            return loss

        return net, step

    rng = np.random.default_rng(0)
    x = torch.from_numpy(rng.standard_normal((8, 4)).astype(np.float32))
    actions = torch.from_numpy(rng.integers(0, 2, (8, 1)))
    target = torch.from_numpy(rng.standard_normal(8).astype(np.float32))
    (n1, eager), (n2, step) = build(), build()
    compiled = torch.compile(step)
    for _ in range(4):
        assert eager(x, actions, target).item() == compiled(x, actions, target).item()
    _assert_same_state(n1, n2)


def test_custom_optimizer_written_with_in_place_ops():
    class PlainSGD(torch.optim.Optimizer):
        def __init__(self, params, lr):
            super().__init__(params, dict(lr=lr))

        def step(self):
            with torch.no_grad():
                for group in self.param_groups:
                    for p in group["params"]:
                        p.add_(p.grad, alpha=-group["lr"])

    def build():
        torch.manual_seed(0)
        w = nn.Parameter(torch.randn(5))
        opt = PlainSGD([w], lr=0.1)

        def step(x):
            opt.zero_grad()
            loss = ((w - x) ** 2).sum()
            loss.backward()
            opt.step()
            return loss

        return w, step

    (w1, eager), (w2, step) = build(), build()
    compiled = torch.compile(step)
    x = torch.arange(5.0)
    for _ in range(5):
        assert eager(x).item() == compiled(x).item()
    np.testing.assert_array_equal(w1.detach().numpy(), w2.detach().numpy())


def test_passes_fold_merge_and_drop():

    def f(x):
        unused = x.exp()  # noqa: F841  (dead)
        a = x * 2
        b = x * 2  # a duplicate
        return a + b + torch.arange(4.0) * 3  # a constant made in the step: folds

    compiled = torch.compile(f)
    x = torch.ones(4)
    for _ in range(3):
        out = compiled(x)
    assert out.tolist() == [4.0, 7.0, 10.0, 13.0]
    text = compiled.explain()
    assert "1 folded to constants, 1 merged as duplicates, 1 dead" in text
    assert "def replay" in text


def test_compile_as_decorator_and_on_module():
    @torch.compile
    def double(x):
        return x * 2

    assert double(torch.ones(2)).tolist() == [2.0, 2.0]
    model = nn.Linear(3, 2)
    compiled = torch.compile(model)
    x = torch.randn(4, 3)
    with torch.no_grad():
        for _ in range(3):
            np.testing.assert_array_equal(compiled(x).numpy(), model(x).numpy())
    assert compiled.weight is model.weight
    assert compiled.stats.replays == 1


def test_check_mode_passes_a_correct_trace():
    _, _, step = _classifier()
    compiled = torch.compile(step, check=True)
    _, _, eager = _classifier()
    x, y = _batch()
    for i in range(4):
        torch.manual_seed(i)
        a = eager(x, y).item()
        torch.manual_seed(i)
        assert compiled(x, y).item() == a


def test_check_mode_names_the_op_that_differs():
    compiled = torch.compile(lambda x: (x * 3).exp(), check=True)
    x = torch.ones(3)
    compiled(x), compiled(x)

    class MiscompiledExp:  # stands in for a wrong kernel in the replay only
        name, random, n_outputs = "exp", False, 1

        def forward(self, meta, *arrays):  # the last node may be a fused x * 3 -> exp
            return np.zeros(meta.shape, meta.dtype.np)

    replayer = compiled.replayers()[0]
    replayer.nodes[-1].op = MiscompiledExp()
    with pytest.raises(AssertionError, match="replayed op 'exp'.*max abs difference 20.1"):
        compiled(x)


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
def test_elementwise_chains_fuse_and_stay_bit_exact(dtype):
    def step(x, y):
        shared = x * y  # read twice: must stay a separate result
        return ((shared + 1).tanh() * 0.5).exp() - y.sigmoid() + shared.abs()

    compiled = torch.compile(step)
    x, y = torch.randn(64, 33, dtype=dtype), torch.randn(33, dtype=dtype)
    for _ in range(3):
        out = compiled(x, y)
    assert np.array_equal(out.numpy(), step(x, y).numpy())
    report = compiled.explain()
    assert "fused[add,tanh,mul,exp,sub,abs,add]" in report
    assert "6 fused into their neighbours" in report


def test_replays_call_elementwise_and_sum_kernels_directly_and_stay_bit_exact():
    w = torch.randn(6, 6)

    def step(x, scale, mask):
        y = torch.where(mask, x * w + scale, x.T - 1.5)  # a broadcast operand, a transposed view
        return (y.exp() * 0.5).sum(0) + (y > 0).to(torch.float32).sum(0)  # compare, cast

    compiled = torch.compile(step)
    x, scale, mask = torch.randn(6, 6), torch.randn(6), torch.randn(6, 6) > 0
    for i in range(4):
        x = torch.randn(6, 6)
        assert np.array_equal(compiled(x, scale, mask).numpy(), step(x, scale, mask).numpy()), i
    replayer = compiled.replayers()[0]
    assert replayer.direct >= 5  # the chain into where, where, exp * 0.5 and the two sums
    assert f"({replayer.direct} as direct kernel calls or plans: elementwise ops, reductions" in (
        compiled.explain()
    )
    assert "= buf" in replayer.source and "= plan" in replayer.source  # elementwise, sums


def test_replayed_gather_and_scatter_add_follow_the_index_and_check_its_bounds():
    def step(q, actions, g):
        picked = q.gather(1, actions)  # DQN's chosen actions
        spread = torch.zeros(8, 3).scatter_add(1, actions, g)
        return picked, spread

    compiled = torch.compile(step)
    q, g = torch.randn(8, 3), torch.randn(8, 1)
    for _ in range(4):
        actions = torch.randint(0, 3, (8, 1))  # new index values each call: no retrace
        for got, want in zip(compiled(q, actions, g), step(q, actions, g)):
            assert np.array_equal(got.numpy(), want.numpy())
    replayer = compiled.replayers()[0]
    for op in ("gather", "scatter_add"):  # the op's plan: its loop kernel, views worked out once
        assert re.search(rf"= plan\d+\(.*# {op}$", replayer.source, re.M), replayer.source
    bad = torch.tensor([[0]] * 7 + [[3]])
    with pytest.raises(RuntimeError, match="gather: index 3 is out of bounds"):
        compiled(q, bad, g)


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
def test_replayed_products_call_mkl_directly_and_stay_bit_exact(dtype):
    """Linear layers and 2-D products (transposed views, a 3-D input, an epilogue) replay as
    their ops' plans: straight to MKL where it is installed, with eager's results."""
    from minitorch.kernels.cpu import mkl  # noqa: PLC0415

    w, b = torch.randn(5, 7, dtype=dtype), torch.randn(5, dtype=dtype)

    def step(x, x3):
        h = torch.nn.functional.linear(x, w, b)
        seq_first = torch.nn.functional.linear(x3.transpose(0, 1), w, b)  # rows copied first
        return h, torch.nn.functional.linear(x3, w), x.mT @ h, (h @ w).relu(), x3 @ w.T, seq_first

    compiled = torch.compile(step)
    for i in range(4):
        x, x3 = torch.randn(6, 7, dtype=dtype), torch.randn(2, 3, 7, dtype=dtype)
        for got, want in zip(compiled(x, x3), step(x, x3)):
            assert got.dtype == want.dtype and np.array_equal(got.numpy(), want.numpy()), i
    replayer = compiled.replayers()[0]
    if mkl.library() is not None:  # the dev extra installs it (CI)
        for op, count in (("linear", 3), ("matmul", 2), (r"matmul\+\[relu\]", 1)):
            assert len(re.findall(rf"= plan\d+\(.*# {op}$", replayer.source, re.M)) == count, (
                replayer.source
            )


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
def test_products_finish_their_epilogues_in_their_own_kernel(dtype, monkeypatch):
    """Products of at least mkl.EPILOGUE_MIN elements with no more columns than rows run
    their epilogue (bias, activation, masks, numbers) in the product's kernel, each thread
    over its own rows, with eager's results bit for bit: a transposed operand, a 3-D input,
    operands of the product's shape and repeated rows. Wider or smaller products keep the
    separate pass."""
    from minitorch.kernels.cpu import mkl  # noqa: PLC0415

    if mkl.library() is None:  # the dev extra installs it (CI)
        pytest.skip("MKL is not installed: products run on numpy's BLAS")
    made = []
    plan = mkl.epilogue_plan
    monkeypatch.setattr(mkl, "epilogue_plan", lambda *a: made.append(plan(*a)) or made[-1])
    w, b = torch.randn(128, 64, dtype=dtype), torch.randn(128, dtype=dtype)
    wide = torch.randn(512, 64, dtype=dtype)

    def step(x, x3, mask):
        h = torch.nn.functional.linear(x, w, b).relu()  # bias and ReLU: (256, 128)
        g = ((x3 @ w.T) * mask - h.reshape(4, 64, 128)) * 0.5  # 3-D, full operands, a number
        t = (x.mT @ h).sigmoid()  # a transposed operand: (64, 128), too small
        return h, g, t, torch.nn.functional.linear(x, wide, None).relu()  # wide: (256, 512)

    compiled = torch.compile(step)
    for i in range(3):
        x, x3 = torch.randn(256, 64, dtype=dtype), torch.randn(4, 64, 64, dtype=dtype)
        mask = (torch.rand(4, 64, 128) > 0.2).to(dtype)
        for got, want in zip(compiled(x, x3, mask), step(x, x3, mask)):
            assert np.array_equal(got.numpy(), want.numpy()), i
    source = compiled.replayers()[0].source
    assert re.search(r"plan\d+\(.*# linear\+\[relu\]$", source, re.M), source
    assert sum(p is not None for p in made) == 2, made  # h's, g's; not t's nor the wide one
    big, made[:] = torch.randn(64, 128, dtype=dtype), []

    def transposed(x):
        return ((x.mT @ big) * 2).relu()  # (512, 64) @ (64, 128): a is a transposed view

    compiled = torch.compile(transposed)
    for _ in range(3):  # traced, planned, replayed
        x = torch.randn(64, 512, dtype=dtype)
        assert np.array_equal(compiled(x).numpy(), transposed(x).numpy())
    assert len(made) == 1 and made[0] is not None


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
def test_stacks_of_matrices_run_on_mkl_eager_and_replayed_alike(dtype, monkeypatch):
    """Batched products of at least mkl.EPILOGUE_MIN elements (3-D, a batch of one
    broadcast, 4-D stacks, transposed matrices) run on MKL a matrix per thread at a time,
    eagerly and in a replay, where their epilogues (attention's scale and dropout mask) run
    in the same kernel; results equal numpy's products to rounding and eager's bit for bit."""
    from minitorch.kernels.cpu import mkl  # noqa: PLC0415

    if mkl.library() is None:  # the dev extra installs it (CI)
        pytest.skip("MKL is not installed: products run on numpy's BLAS")
    made = []
    plan = mkl.epilogue_plan
    monkeypatch.setattr(mkl, "epilogue_plan", lambda *a: made.append(plan(*a)) or made[-1])

    def attention(q, k, v, mask):
        scores = (q @ k.mT) * 0.125  # (8, 4, 64, 64): 4-D stacks, k's matrices transposed
        p = scores.softmax(-1) * mask
        return p @ v, q[:1, 0] @ k[:, 0].mT  # a batch of one broadcast against eight

    compiled = torch.compile(attention)
    rtol = 1e-5 if dtype == torch.float32 else 1e-12
    for i in range(3):
        q, k, v = (torch.randn(8, 4, 64, 32, dtype=dtype) for _ in range(3))
        mask = (torch.rand(8, 4, 64, 64) > 0.1).to(dtype)
        want = attention(q, k, v, mask)
        for got, eager in zip(compiled(q, k, v, mask), want):
            assert np.array_equal(got.numpy(), eager.numpy()), i
        qn, kn, vn, mn = (t.numpy() for t in (q, k, v, mask))
        p = np.exp((qn @ kn.swapaxes(-1, -2)) * 0.125)
        p = p / p.sum(-1, keepdims=True) * mn
        np.testing.assert_allclose(want[0].numpy(), p @ vn, rtol=rtol, atol=rtol)
        np.testing.assert_allclose(want[1].numpy(), qn[:1, 0] @ kn[:, 0].swapaxes(-1, -2), rtol)
    assert made and all(p is not None for p in made)
    source = compiled.replayers()[0].source
    assert re.search(r"plan\d+\(.*# matmul\+\[mul\]$", source, re.M), source
    made.clear()
    small = torch.randn(4, 8, 16, dtype=dtype)
    assert np.allclose((small @ small.mT).numpy(), small.numpy() @ small.numpy().swapaxes(1, 2))
    assert not made  # below EPILOGUE_MIN elements: numpy's loop


def test_product_plans_fall_back_to_numpy_for_layouts_blas_cannot_read():
    """A plan made for BLAS-readable operands, called with ones whose matrices have strided
    columns, computes the product and its epilogue with numpy (2-D, stacks, 4-D stacks)."""
    from minitorch.kernels.cpu import mkl  # noqa: PLC0415
    from minitorch.ops.linear import matmul_plan  # noqa: PLC0415

    if mkl.library() is None:  # the dev extra installs it (CI)
        pytest.skip("MKL is not installed: no plan to fall back from")
    rng = np.random.default_rng(0)
    for batch in ((), (8,), (4, 2)):
        a = rng.standard_normal((*batch, 256, 32)).astype(np.float32)
        b = rng.standard_normal((*batch, 32, 128)).astype(np.float32)
        plan = matmul_plan(a, b, ("({0} * {1})", [None, np.float32(2)]))
        assert plan is not None, batch
        strided = rng.standard_normal((*batch, 256, 64)).astype(np.float32)[..., ::2]
        for x in (a, strided):
            np.testing.assert_allclose(plan(x, b, np.float32(2)), (x @ b) * 2, rtol=1e-5)


def test_memory_plan_reuses_intermediates_and_recycles_outputs_only_once_released():
    """Intermediates are written into buffers of the driver's own, the same arrays every
    replay; returned outputs, views of them and gradients go into arrays that a later replay
    reuses only once the caller has let go of them, so what a caller holds survives."""
    import weakref

    w = torch.randn(5, 4, requires_grad=True)

    def step(x):
        a = x * 2 + 1  # planned: read by the exp and the relu only
        b = a.exp() * 3  # returned through a view: recycled
        c = (a - 1).relu()  # planned: read by the products
        loss = (c @ w).pow(2).sum()  # the product: planned (MKL's plan fills a given array)
        loss.backward()  # w.grad (a product too): set as the gradient
        return b[0], loss, (x * 5).reshape(-1)

    compiled = torch.compile(step)
    held = []
    for i in range(5):
        x = torch.randn(3, 5)
        w.grad = None
        want, want_grad = step(x), w.grad
        w.grad = None
        got, grad = compiled(x), w.grad
        for g, e in zip((*got, grad), (*want, want_grad)):
            assert np.array_equal(g.detach().numpy(), e.detach().numpy()), i
        held.append([(g, g.detach().numpy().copy()) for g in (*got, grad)])
    for pairs in held:  # later replays wrote none of them
        for g, copy in pairs:
            assert np.array_equal(copy, g.detach().numpy())
    replayer = compiled.replayers()[0]
    arena = replayer.arena
    assert len(replayer.recycled) == 4, replayer.source  # b, the loss, x * 5 and w.grad
    # the intermediates live in views of one array
    views = [v for v in replayer._run.__globals__.values() if getattr(v, "base", None) is arena]
    assert len(views) == replayer.planned - len(replayer.recycled) >= 2, replayer.source
    assert arena.nbytes < sum(v.nbytes for v in views)  # intermediates share its bytes

    def owners(outs):  # weak references to the arrays the outputs live in
        arrays = [o.detach().numpy() for o in outs]
        return [weakref.ref(a if a.base is None else a.base) for a in arrays]

    del held, got, grad, g, pairs
    w.grad = None
    first = owners((*compiled(x), w.grad))  # the caller lets go of them at once
    w.grad = None
    again = owners((*compiled(x), w.grad))
    recycled = {id(a) for r in replayer.recycled for a in r.arrays}
    reused = [f() is a() and id(a()) in recycled for f, a in zip(first, again)]
    assert reused == [True] * 4, reused
    assert replayer.arena is arena  # the same array, replay after replay
    assert f"memory plan: {replayer.planned} outputs" in compiled.explain()


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
def test_elementwise_producers_fold_into_column_reductions_bit_exactly(dtype):
    """An elementwise node read only by a reduction over leading dims runs inside that fold
    (one loop, its output never written) with eager's results; a fold along the last dim,
    which LLVM reorders to vectorise, keeps the two kernels."""

    def step(a, b, c):
        cols = (a - b).sum(0)  # fused: a column fold
        mid = (c * c).amax(1)  # fused: dims before the last
        rows = (a * b + a).sum(-1)  # the producer stays its own kernel
        return cols, mid, rows

    compiled = torch.compile(step)
    for i in range(4):
        a, b = torch.randn(64, 333, dtype=dtype), torch.randn(64, 333, dtype=dtype)
        c = torch.randn(4, 16, 33, dtype=dtype)
        for got, want in zip(compiled(a, b, c), step(a, b, c)):
            assert np.array_equal(got.numpy(), want.numpy()), i
    report = compiled.explain()
    assert "2 folded by the reduction reading them" in report, report
    assert "fusion group sum+[sub]: ({0} - {1}) (one loop)" in report
    assert "fusion group amax+[mul]: ({0} * {1}) (one loop)" in report
    replayer = compiled.replayers()[0]
    assert re.search(r"= plan\d+\(.*# sum$", replayer.source, re.M)  # the rows sum, alone


def test_fused_fold_that_differs_from_eager_replays_as_two_kernels_without_allocating(
    monkeypatch,
):
    """A fused producer-and-fold whose first result is not eager's bit for bit (jit/passes.py
    FusedReduction.plan) replays as eager's two kernels, its producer's output kept between
    replays (no array per replay), its results eager's."""
    import tracemalloc

    from minitorch.ops.reduce import Reduce  # noqa: PLC0415

    fold_plan = Reduce.fold_plan

    def skewed(self, meta, shape, params, expr="{0}"):  # the fused loop rounds otherwise
        plan = fold_plan(self, meta, shape, params, expr)
        if expr == "{0}" or plan is None:
            return plan
        return lambda *xs, out=None: plan(*xs, out=out) + 1

    monkeypatch.setattr(Reduce, "fold_plan", skewed)
    step = lambda a, b: ((a - b).sum(0) * 2).sum()  # noqa: E731
    a, b = torch.randn(300, 200), torch.randn(300, 200)
    compiled = torch.compile(step)
    for _ in range(4):
        tracemalloc.start()
        got = compiled(a, b)
        peak = tracemalloc.get_traced_memory()[1]
        tracemalloc.stop()
    assert np.array_equal(got.numpy(), step(a, b).numpy())
    assert peak < 4096, peak  # not the (300, 200) difference
    replayer = compiled.replayers()[0]
    folds = [getattr(getattr(n, "op", None), "fused", None) for n in replayer.nodes]
    assert [f for f in folds if f is not None] == [False]


def test_planned_replay_writes_reductions_into_its_buffers_too():
    import tracemalloc

    def step(x):
        y = (x * 2).sum(0)  # a column sum, read by the next line only
        z = (x.exp() * y).sum(-1)  # a row sum, read by the next line only
        return (z * z).sum()

    x = torch.randn(300, 200)
    compiled = torch.compile(step)
    for _ in range(4):  # warm-up, capture, first replay (plans), then a planned replay
        tracemalloc.start()
        got = compiled(x)
        peak = tracemalloc.get_traced_memory()[1]
        tracemalloc.stop()
    assert np.array_equal(got.numpy(), step(x).numpy())
    assert peak < 4096, peak  # nothing but the returned scalar
    replayer = compiled.replayers()[0]
    assert len(re.findall(r"= plan\d+\(s\d+, out=buf\d+\)  # sum", replayer.source)) == 2


def test_arena_offsets_never_overlap_outputs_alive_at_once():
    """The memory plan's arena (jit/replay.py _arena_offsets): outputs whose lifetimes overlap
    get disjoint byte ranges, 64-byte aligned, in an arena no larger than needed when every
    output is alive at once and no smaller than the most bytes alive at one node."""
    from minitorch.jit.replay import _arena_offsets  # noqa: PLC0415

    rng = np.random.default_rng(0)
    for case in range(200):
        n = int(rng.integers(1, 25))
        firsts = rng.integers(0, 40, n)
        lifetimes = {k: (int(f), int(f + rng.integers(0, 12))) for k, f in enumerate(firsts)}
        sizes = {k: int(rng.choice([0, 4, 64, 100, 256, 4096, 10000])) for k in range(n)}
        total, offsets = _arena_offsets(lifetimes, sizes)
        for a in range(n):
            assert offsets[a] % 64 == 0 and offsets[a] + sizes[a] <= total, case
            for b in range(a + 1, n):
                (fa, la), (fb, lb) = lifetimes[a], lifetimes[b]
                if fa <= lb and fb <= la and sizes[a] and sizes[b]:  # alive at once
                    apart = (
                        offsets[a] + sizes[a] <= offsets[b] or offsets[b] + sizes[b] <= offsets[a]
                    )
                    assert apart, (case, a, b, offsets, sizes, lifetimes)
        live = max(
            sum(sizes[k] for k, (f, e) in lifetimes.items() if f <= i <= e) for i in range(60)
        )
        assert live <= total <= sum(-(-size // 64) * 64 for size in sizes.values()), case


def test_planned_replay_writes_convolutions_norms_draws_and_recurrences_into_its_arrays():
    """Every op that can fill a given array does so on a planned replay (conv2d, pooling, layer
    norm, dropout's draw, softmax, cat, batched products, the GRU and all their backward ops),
    with eager's results, and the replay allocates a fraction of what the eager step does."""
    import tracemalloc

    F = torch.nn.functional
    torch.manual_seed(0)
    conv, norm = torch.nn.Conv2d(2, 6, 3), torch.nn.LayerNorm(6)
    gru = torch.nn.GRU(6, 5, batch_first=True)
    params = [*conv.parameters(), *norm.parameters(), *gru.parameters()]

    def step(x):
        y = F.max_pool2d(conv(x), 2).relu()
        seq = y.flatten(2).transpose(1, 2)  # (4, 9, 6), not contiguous
        h = F.dropout(norm(seq), 0.2)
        att = (h @ h.transpose(1, 2)).softmax(-1)
        both = torch.cat([att @ h, seq], 1)
        out, _ = gru(both)
        loss = out[:, -1].pow(2).sum() + both.reshape(-1)[::3].sum()
        loss.backward()
        return loss

    compiled = torch.compile(step)
    x = torch.randn(4, 2, 8, 8)
    peaks = []
    for i in range(5):  # warm-up, capture, first replay (plans), two planned replays
        for run in (step, compiled):
            for p in params:
                p.grad = None
            torch.manual_seed(i)
            tracemalloc.start()
            loss = run(x)
            peaks.append(tracemalloc.get_traced_memory()[1])
            tracemalloc.stop()
            grads = [p.grad.numpy().copy() for p in params]
            if run is step:
                want = loss.item(), grads
        assert (loss.item(), *map(np.ndarray.tolist, grads)) == (
            want[0],
            *map(np.ndarray.tolist, want[1]),
        ), i
    eager, planned = peaks[-2], peaks[-1]
    assert planned < eager / 3, peaks
    source = compiled.replayers()[0].source
    filled = re.findall(r"^ *s\d+.*(?:out=|= buf).*# ([\w+\[\],]+)$", source, re.M)
    ops = {op.split("+")[0] for op in filled}
    assert {
        "conv2d",
        "max_pool2d",
        "layer_norm",
        "random",
        "softmax",
        "cat",
        "matmul",
        "rnn_sequence",
        "rnn_sequence_backward",
        "layer_norm_backward",
        "max_pool2d_backward",
        "conv2d_weight",
        "index_put",
    } <= ops, source


def test_direct_calls_keep_no_intermediate_alive():
    import tracemalloc

    def step(x):
        for _ in range(6):
            x = (x * x).tanh()  # six intermediates, each dead after the next op
        return x.sum()

    x = torch.randn(300, 200)
    warm = torch.compile(step)
    for _ in range(3):  # compiles the kernels: the compiler's own memory stays out of the peaks
        warm(x)
    compiled = torch.compile(step)
    peaks = []
    for _ in range(4):  # warm-up, capture, first replay (picks the kernels), a planned replay
        tracemalloc.start()
        compiled(x)
        peaks.append(tracemalloc.get_traced_memory()[1])
        tracemalloc.stop()
    one = x.numel() * 4
    assert peaks[2] < 3 * one, peaks  # not six intermediates at once
    assert peaks[3] < 4096, peaks  # a planned replay allocates no intermediate array at all
    # the driver holds no array but views of its arena, room for two intermediates in turn
    replayer = compiled.replayers()[0]
    held = [v for v in replayer._run.__globals__.values() if isinstance(v, np.ndarray) and v.ndim]
    arena = replayer.arena
    assert all(v.base is arena for v in held) and arena.nbytes == 2 * one, held
    assert replayer.planned == 7 and len(replayer.recycled) == 1  # the six and the sum


def test_a_tensor_read_by_the_step_changing_its_strides_retraces():
    w = torch.randn(5, 5)

    def step(x):
        return x * w + 1

    compiled = torch.compile(step)
    x = torch.randn(5, 5)
    for _ in range(3):
        compiled(x)
    w.data = torch.randn(5, 5).T  # same shape and dtype, another layout
    assert np.array_equal(compiled(x).numpy(), step(x).numpy())
    assert "changed its strides" in compiled.stats.retraces[-1]


def test_elementwise_epilogues_run_in_place_on_products_and_stay_bit_exact():
    F = torch.nn.functional
    w1, b1 = torch.randn(32, 20), torch.randn(32)
    w2, scale = torch.randn(6, 3, 3, 3), torch.randn(6, 1, 1)
    image = torch.randn(2, 3, 8, 8)

    def step(x):
        hidden = F.relu(F.linear(x, w1, b1))  # linear -> relu: one node
        kept = x @ w1.T  # read twice below: stays a separate product
        feature = (F.conv2d(image, w2) * scale).tanh()  # conv -> fused chain, broadcast operand
        return hidden.sum() + (kept + 1).sum() + kept.mean() + feature.sum()

    compiled = torch.compile(step)
    x = torch.randn(5, 20)
    for _ in range(4):  # warm-up, capture, first replay (picks kernels), a planned replay
        out = compiled(x)
        assert out.item() == step(x).item()
    assert "plan" in compiled.replayers()[0].source
    report = compiled.explain()
    assert "linear+[relu]" in report and "conv2d+[mul,tanh]" in report
    assert "2 run as epilogues" in report
    assert "matmul+" not in report


def test_conv_epilogue_keeps_the_columns_its_weight_gradient_reads():
    # stride 2, 16 output channels: im2col + GEMM, whose columns the weight gradient reuses
    conv = torch.nn.Conv2d(3, 16, 3, stride=2)

    def step(x):
        conv.zero_grad()
        loss = torch.nn.functional.relu(conv(x)).square().mean()
        loss.backward()
        return loss, conv.weight.grad.clone(), conv.bias.grad.clone()

    compiled = torch.compile(step)
    x = torch.randn(2, 3, 9, 9)
    for _ in range(3):
        got, want = compiled(x), step(x)
        for a, b in zip(got, want):
            assert np.array_equal(a.detach().numpy(), b.detach().numpy())
    assert "conv2d+[relu]" in compiled.explain()


def test_relu_after_max_pooling_runs_in_place_and_keeps_the_indices_for_backward():
    F = torch.nn.functional
    conv = torch.nn.Conv2d(2, 4, 3)

    def step(x):
        conv.zero_grad()
        loss = F.relu(F.max_pool2d(conv(x), 2)).square().mean()
        loss.backward()
        return loss, conv.weight.grad.clone(), conv.bias.grad.clone()

    compiled = torch.compile(step)
    x = torch.randn(3, 2, 10, 10)
    for _ in range(4):
        for a, b in zip(compiled(x), step(x)):
            assert np.array_equal(a.detach().numpy(), b.detach().numpy())
    assert "max_pool2d+[relu]" in compiled.explain()


def test_epilogue_is_not_merged_across_a_write_to_the_products_input():
    w = torch.randn(4, 4)

    def step(x):
        y = x @ w
        x.add_(1.0)  # moving the product after this write would read the new x
        return (y * 2).sum()

    compiled = torch.compile(step)
    x, eager_x = torch.randn(3, 4), torch.randn(3, 4)
    eager_x.copy_(x)
    for _ in range(3):
        assert compiled(x).item() == step(eager_x).item()
    assert "0 run as epilogues" in compiled.explain()
