"""Losses (functional and modules) against PyTorch: values and input gradients for every
reduction, the fused cross-entropy kernel's options, numerics at extremes, and errors."""

# NOTE: minitorch (numba/LLVM) is imported before torch (see DESIGN.md, LLVM load order).
import warnings

import numpy as np
import pytest

import minitorch as mt
import minitorch.nn as mnn
import minitorch.nn.functional as MF

torch = pytest.importorskip("torch")
tnn = torch.nn
TF = torch.nn.functional

ATOL, RTOL = 1e-5, 1e-4
REDUCTIONS = ["mean", "sum", "none"]


def close(a, b, atol=ATOL, rtol=RTOL, what=""):
    a = a.detach().numpy() if hasattr(a, "detach") else np.asarray(a)
    b = b.detach().numpy() if hasattr(b, "detach") else np.asarray(b)
    assert a.shape == b.shape, f"{what} shape mismatch: minitorch={a.shape} | torch={b.shape}"
    np.testing.assert_allclose(a, b, atol=atol, rtol=rtol, err_msg=what)


def parity(mfn, tfn, *arrays, grad=(0,), atol=ATOL, rtol=RTOL, seed=0):
    """Run one loss on both libraries; compare value and the gradients of inputs in `grad`."""
    mins = [mt.tensor(a, requires_grad=i in grad) for i, a in enumerate(arrays)]
    tins = [torch.tensor(a, requires_grad=i in grad) for i, a in enumerate(arrays)]
    mout, tout = mfn(*mins), tfn(*tins)
    close(mout, tout, atol, rtol, "loss")
    assert mout.dtype.name == str(tout.dtype).split(".")[-1]
    g = np.asarray(
        np.random.default_rng(seed).standard_normal(tuple(tout.shape)) + 1.5, dtype=arrays[0].dtype
    )
    mout.backward(mt.tensor(g))
    tout.backward(torch.tensor(g))
    for i in grad:
        close(mins[i].grad, tins[i].grad, atol, rtol, f"grad of input {i}")
    return mout


def rand(*shape, seed=0, scale=1.0, dtype=np.float32):
    return (np.random.default_rng(seed).standard_normal(shape) * scale).astype(dtype)


def targets(shape, classes, seed=1, ignore=None):
    t = np.random.default_rng(seed).integers(0, classes, shape)
    if ignore is not None:
        t.reshape(-1)[::3] = ignore
    return t


def probs(*shape, seed=2, axis=1):
    p = np.random.default_rng(seed).random(shape).astype(np.float32) + 0.05
    return p / p.sum(axis, keepdims=True)


# ---- cross entropy -----------------------------------------------------------------------------


@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("weighted", [False, True])
@pytest.mark.parametrize("smoothing", [0.0, 0.2])
@pytest.mark.parametrize("ignore", [None, -100, 2])
def test_cross_entropy_class_indices(reduction, weighted, smoothing, ignore):
    x = rand(7, 5, scale=3.0)
    t = targets(7, 5, ignore=ignore)
    w = np.random.default_rng(3).random(5).astype(np.float32) + 0.5 if weighted else None
    kw = dict(reduction=reduction, label_smoothing=smoothing)
    if ignore is not None:
        kw["ignore_index"] = ignore
    parity(
        lambda a, b: MF.cross_entropy(a, b, None if w is None else mt.tensor(w), **kw),
        lambda a, b: TF.cross_entropy(a, b, None if w is None else torch.tensor(w), **kw),
        x,
        t,
    )


@pytest.mark.parametrize("shape", [(2, 4, 3), (2, 4, 3, 5)])
@pytest.mark.parametrize("reduction", REDUCTIONS)
def test_cross_entropy_spatial_dims(shape, reduction):
    x = rand(*shape, scale=2.0)
    t = targets((shape[0],) + shape[2:], shape[1], ignore=-100)
    w = np.linspace(0.5, 2.0, shape[1]).astype(np.float32)
    parity(
        lambda a, b: MF.cross_entropy(a, b, mt.tensor(w), reduction=reduction, label_smoothing=0.1),
        lambda a, b: TF.cross_entropy(
            a, b, torch.tensor(w), reduction=reduction, label_smoothing=0.1
        ),
        x,
        t,
    )


def test_cross_entropy_unbatched_and_float64():
    parity(MF.cross_entropy, TF.cross_entropy, rand(6), np.array(4))
    out = parity(
        MF.cross_entropy,
        TF.cross_entropy,
        rand(5, 3, dtype=np.float64),
        targets(5, 3),
        atol=1e-12,
        rtol=1e-10,
    )
    assert out.dtype is mt.float64


@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("smoothing", [0.0, 0.3])
def test_cross_entropy_probability_targets(reduction, smoothing):
    w = np.array([0.5, 1.0, 2.0, 1.5], np.float32)
    for x, p in [(rand(6, 4), probs(6, 4)), (rand(2, 4, 3), probs(2, 4, 3))]:
        parity(
            lambda a, b: MF.cross_entropy(
                a, b, mt.tensor(w), reduction=reduction, label_smoothing=smoothing
            ),
            lambda a, b: TF.cross_entropy(
                a, b, torch.tensor(w), reduction=reduction, label_smoothing=smoothing
            ),
            x,
            p,
            grad=(0, 1),
        )


def test_cross_entropy_is_stable_for_huge_logits():
    x = rand(8, 10, scale=1e4)
    x[0] = [-1e30] * 9 + [1e30]
    out = parity(MF.cross_entropy, TF.cross_entropy, x, targets(8, 10))
    assert np.isfinite(out.item())
    x = rand(4, 3)
    x[:, 0] = -np.inf  # a class that is impossible but not the target
    parity(MF.cross_entropy, TF.cross_entropy, x, np.array([1, 2, 1, 2]))


def test_cross_entropy_large_batch_parallel_kernel():
    x = rand(512, 100, scale=2.0)  # above the kernels' parallel threshold
    t = targets(512, 100, ignore=-100)
    parity(
        lambda a, b: MF.cross_entropy(a, b, label_smoothing=0.1),
        lambda a, b: TF.cross_entropy(a, b, label_smoothing=0.1),
        x,
        t,
    )


def test_cross_entropy_all_ignored_is_nan_like_torch():
    x, t = rand(3, 4), np.array([-100, -100, -100])
    assert np.isnan(MF.cross_entropy(mt.tensor(x), mt.tensor(t)).item())
    assert np.isnan(TF.cross_entropy(torch.tensor(x), torch.tensor(t)).item())
    assert MF.cross_entropy(mt.tensor(x), mt.tensor(t), reduction="sum").item() == 0.0


def test_cross_entropy_double_backward():
    x, t = rand(5, 4), targets(5, 4, ignore=-100)
    w = np.array([1.0, 2.0, 0.5, 1.0], np.float32)
    a = mt.tensor(x, requires_grad=True)
    b = torch.tensor(x, requires_grad=True)
    (ga,) = mt.autograd.grad(
        MF.cross_entropy(a, mt.tensor(t), mt.tensor(w), label_smoothing=0.1), a, create_graph=True
    )
    (gb,) = torch.autograd.grad(
        TF.cross_entropy(b, torch.tensor(t), torch.tensor(w), label_smoothing=0.1),
        b,
        create_graph=True,
    )
    close(ga, gb)
    (ga * ga).sum().backward()
    (gb * gb).sum().backward()
    close(a.grad, b.grad)


def test_cross_entropy_errors_match_torch():
    x = mt.randn(3, 5)
    cases = [
        (
            ValueError,
            "Expected input batch_size \\(3\\) to match target batch_size \\(4\\)",
            lambda: MF.cross_entropy(x, mt.tensor([0, 1, 2, 3])),
        ),
        (
            IndexError,
            "Target 7 is out of bounds",
            lambda: MF.cross_entropy(x, mt.tensor([0, 1, 7])),
        ),
        (
            IndexError,
            "Target -1 is out of bounds",
            lambda: MF.cross_entropy(x, mt.tensor([0, 1, -1])),
        ),
        (
            RuntimeError,
            "expected target dtype to be Long",
            lambda: MF.cross_entropy(x, mt.tensor([0, 1, 2], dtype=mt.int32)),
        ),
        (
            RuntimeError,
            "Expected target size \\[3, 2\\], got \\[3\\]",
            lambda: MF.cross_entropy(mt.randn(3, 5, 2), mt.tensor([0, 1, 2])),
        ),
        (
            RuntimeError,
            "weight tensor should be defined either for all 5 classes",
            lambda: MF.cross_entropy(x, mt.tensor([0, 1, 2]), weight=mt.ones(4)),
        ),
        (
            ValueError,
            "foo is not a valid value for reduction",
            lambda: MF.cross_entropy(x, mt.tensor([0, 1, 2]), reduction="foo"),
        ),
        (
            RuntimeError,
            "label_smoothing must be between 0.0 and 1.0",
            lambda: MF.cross_entropy(x, mt.tensor([0, 1, 2]), label_smoothing=1.5),
        ),
        (
            NotImplementedError,
            "not implemented for 'int64'",
            lambda: MF.cross_entropy(mt.tensor([[1, 2]]), mt.tensor([0])),
        ),
        (RuntimeError, "multi-target not supported", lambda: MF.cross_entropy(x, mt.randn(3, 4))),
    ]
    for exc, msg, fn in cases:
        with pytest.raises(exc, match=msg):
            fn()


def test_cross_entropy_module_state_and_repr():
    w = mt.tensor([1.0, 2.0, 3.0])
    m = mnn.CrossEntropyLoss(weight=w, ignore_index=1, label_smoothing=0.1)
    t = tnn.CrossEntropyLoss(
        weight=torch.tensor([1.0, 2.0, 3.0]), ignore_index=1, label_smoothing=0.1
    )
    assert repr(m) == repr(t) == "CrossEntropyLoss()"
    assert list(m.state_dict()) == list(t.state_dict()) == ["weight"]
    assert list(mnn.CrossEntropyLoss().state_dict()) == []
    x, y = rand(4, 3), np.array([0, 1, 2, 2])
    close(m(mt.tensor(x), mt.tensor(y)), t(torch.tensor(x), torch.tensor(y)))
    assert m.to(mt.float64).weight.dtype is mt.float64
    legacy = mnn.CrossEntropyLoss(size_average=False)
    assert legacy.reduction == "sum"


def test_cross_entropy_non_contiguous_logits_and_empty_batch():
    x = rand(5, 3, scale=2.0)
    a, b = mt.tensor(x, requires_grad=True), torch.tensor(x, requires_grad=True)
    lm, lt = (
        MF.cross_entropy(a.t(), mt.tensor([0, 1, 4])),
        TF.cross_entropy(b.t(), torch.tensor([0, 1, 4])),
    )
    close(lm, lt)
    lm.backward()
    lt.backward()
    close(a.grad, b.grad)
    empty_m = MF.cross_entropy(mt.randn(0, 4), mt.tensor(np.zeros(0, np.int64)))
    empty_t = TF.cross_entropy(torch.randn(0, 4), torch.zeros(0, dtype=torch.long))
    assert np.isnan(empty_m.item()) and np.isnan(empty_t.item())


# ---- nll -----------------------------------------------------------------------------------------


@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("shape", [(6, 4), (2, 4, 3)])
def test_nll_loss(reduction, shape):
    logp = np.log(probs(*shape))
    t = targets((shape[0],) + shape[2:], shape[1], ignore=-100)
    w = np.array([0.5, 1.0, 2.0, 1.5], np.float32)
    parity(
        lambda a, b: MF.nll_loss(a, b, mt.tensor(w), reduction=reduction),
        lambda a, b: TF.nll_loss(a, b, torch.tensor(w), reduction=reduction),
        logp,
        t,
    )
    m, tm = (
        mnn.NLLLoss(reduction=reduction, ignore_index=0),
        tnn.NLLLoss(reduction=reduction, ignore_index=0),
    )
    parity(m, tm, logp, np.where(t == -100, 1, t))


def test_nll_loss_errors():
    with pytest.raises(ValueError, match="batch_size"):
        MF.nll_loss(mt.randn(3, 5), mt.tensor([0, 1]))
    with pytest.raises(IndexError, match="out of bounds"):
        MF.nll_loss(mt.randn(3, 5), mt.tensor([0, 1, 9]))


def test_log_softmax_plus_nll_equals_cross_entropy():
    x, t = mt.tensor(rand(5, 7)), mt.tensor(targets(5, 7))
    close(MF.nll_loss(MF.log_softmax(x, 1), t), MF.cross_entropy(x, t))


# ---- regression losses -----------------------------------------------------------------------


@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize(
    "name,mcls,tcls,kw",
    [
        ("mse", mnn.MSELoss, tnn.MSELoss, {}),
        ("l1", mnn.L1Loss, tnn.L1Loss, {}),
        ("smooth_l1", mnn.SmoothL1Loss, tnn.SmoothL1Loss, {}),
        ("smooth_l1_beta", mnn.SmoothL1Loss, tnn.SmoothL1Loss, {"beta": 0.3}),
        ("smooth_l1_beta0", mnn.SmoothL1Loss, tnn.SmoothL1Loss, {"beta": 0.0}),
        ("huber", mnn.HuberLoss, tnn.HuberLoss, {}),
        ("huber_delta", mnn.HuberLoss, tnn.HuberLoss, {"delta": 2.5}),
    ],
)
def test_regression_losses(reduction, name, mcls, tcls, kw):
    x, y = rand(4, 5, scale=2.0), rand(4, 5, seed=1, scale=2.0)
    parity(mcls(reduction=reduction, **kw), tcls(reduction=reduction, **kw), x, y, grad=(0, 1))


def test_regression_functional_and_broadcast_warning():
    x, y = rand(3, 4), rand(3, 4, seed=1)
    parity(
        lambda a, b: MF.mse_loss(a, b, reduction="sum"),
        lambda a, b: TF.mse_loss(a, b, reduction="sum"),
        x,
        y,
    )
    parity(
        lambda a, b: MF.smooth_l1_loss(a, b, beta=0.5),
        lambda a, b: TF.smooth_l1_loss(a, b, beta=0.5),
        x,
        y,
    )
    parity(
        lambda a, b: MF.huber_loss(a, b, delta=0.5),
        lambda a, b: TF.huber_loss(a, b, delta=0.5),
        x,
        y,
    )
    parity(
        lambda a, b: MF.l1_loss(a, b, size_average=False),
        lambda a, b: TF.l1_loss(a, b, size_average=False),
        x,
        y,
    )
    with pytest.warns(UserWarning, match="different to the input size"):
        MF.mse_loss(mt.randn(3, 4), mt.randn(4))


# ---- binary cross entropy ----------------------------------------------------------------------


@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("weighted", [False, True])
def test_bce(reduction, weighted):
    rng = np.random.default_rng(0)
    p = rng.random((6, 3)).astype(np.float32) * 0.98 + 0.01
    y = (rng.random((6, 3)) > 0.5).astype(np.float32)
    w = np.array([0.5, 1.0, 2.0], np.float32) if weighted else None
    parity(
        mnn.BCELoss(None if w is None else mt.tensor(w), reduction=reduction),
        tnn.BCELoss(None if w is None else torch.tensor(w), reduction=reduction),
        p,
        y,
    )


def test_bce_clamps_log_at_minus_100():
    p = np.array([0.0, 1.0, 0.5], np.float32)
    y = np.array([1.0, 0.0, 1.0], np.float32)
    m = MF.binary_cross_entropy(mt.tensor(p), mt.tensor(y), reduction="none")
    close(m, TF.binary_cross_entropy(torch.tensor(p), torch.tensor(y), reduction="none"))
    with pytest.raises(ValueError, match="target size"):
        MF.binary_cross_entropy(mt.rand(3), mt.rand(4))
    for bad in ([1.5, 0.5], [-0.1, 0.5], [float("nan"), 0.5]):
        with pytest.raises(RuntimeError, match="between 0 and 1"):
            MF.binary_cross_entropy(mt.tensor(bad), mt.tensor([1.0, 0.0]))
        with pytest.raises(RuntimeError, match="between 0 and 1"):
            TF.binary_cross_entropy(torch.tensor(bad), torch.tensor([1.0, 0.0]))


@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("pos_weight", [False, True])
@pytest.mark.parametrize("weighted", [False, True])
def test_bce_with_logits(reduction, pos_weight, weighted):
    x = rand(6, 3, scale=4.0)
    x[0] = [0.0, 60.0, -60.0]  # zero (gradient -0.5) and saturated logits
    y = (np.random.default_rng(1).random((6, 3)) > 0.5).astype(np.float32)
    pw = np.array([1.0, 3.0, 0.5], np.float32) if pos_weight else None
    w = np.array([0.5, 1.0, 2.0], np.float32) if weighted else None

    def mk(lib, nn):
        return nn.BCEWithLogitsLoss(
            None if w is None else lib.tensor(w),
            reduction=reduction,
            pos_weight=None if pw is None else lib.tensor(pw),
        )

    parity(mk(mt, mnn), mk(torch, tnn), x, y, grad=(0, 1))


def test_bce_with_logits_extreme_is_finite():
    x = np.array([-1e4, -100.0, 0.0, 100.0, 1e4], np.float32)
    y = np.array([1.0, 0.0, 1.0, 0.0, 1.0], np.float32)
    out = parity(
        lambda a, b: MF.binary_cross_entropy_with_logits(a, b, reduction="none"),
        lambda a, b: TF.binary_cross_entropy_with_logits(a, b, reduction="none"),
        x,
        y,
    )
    assert np.isfinite(out.detach().numpy()).all()
    with pytest.raises(ValueError, match="must be the same as input size"):
        MF.binary_cross_entropy_with_logits(mt.rand(3), mt.rand(4))


# ---- KL divergence and embedding / ranking losses ----------------------------------------------


@pytest.mark.parametrize("reduction", REDUCTIONS + ["batchmean"])
@pytest.mark.parametrize("log_target", [False, True])
def test_kl_div(reduction, log_target):
    inp = np.log(probs(4, 5))
    tgt = probs(4, 5, seed=7)
    tgt[0, 0] = 0.0  # 0 * log 0 = 0
    if log_target:
        tgt = np.log(probs(4, 5, seed=7))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        parity(
            mnn.KLDivLoss(reduction=reduction, log_target=log_target),
            tnn.KLDivLoss(reduction=reduction, log_target=log_target),
            inp,
            tgt,
        )
    if reduction == "mean":
        with pytest.warns(UserWarning, match="batchmean"):
            MF.kl_div(mt.tensor(inp), mt.tensor(tgt), log_target=log_target)


@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("margin", [0.0, 0.3])
def test_cosine_embedding_loss(reduction, margin):
    x1, x2 = rand(6, 4), rand(6, 4, seed=1)
    y = np.array([1, -1, 1, -1, -1, 1], np.float32)
    parity(
        mnn.CosineEmbeddingLoss(margin=margin, reduction=reduction),
        tnn.CosineEmbeddingLoss(margin=margin, reduction=reduction),
        x1,
        x2,
        y,
        grad=(0, 1),
    )
    parity(
        lambda a, b, c: MF.cosine_embedding_loss(a, b, c, margin),
        lambda a, b, c: TF.cosine_embedding_loss(a, b, c, margin),
        x1[0],
        x2[0],
        y[0],
    )


@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("margin", [0.0, 0.5])
def test_margin_ranking_loss(reduction, margin):
    x1, x2 = rand(8), rand(8, seed=1)
    y = np.array([1, -1, 1, 1, -1, -1, 1, -1], np.float32)
    parity(
        mnn.MarginRankingLoss(margin=margin, reduction=reduction),
        tnn.MarginRankingLoss(margin=margin, reduction=reduction),
        x1,
        x2,
        y,
        grad=(0, 1),
    )


@pytest.mark.parametrize("reduction", REDUCTIONS)
def test_other_losses(reduction):
    x, y = rand(5, 4, scale=2.0), rand(5, 4, seed=1)
    sign = np.where(y > 0, 1.0, -1.0).astype(np.float32)
    parity(
        mnn.HingeEmbeddingLoss(reduction=reduction),
        tnn.HingeEmbeddingLoss(reduction=reduction),
        x,
        sign,
    )
    parity(
        mnn.SoftMarginLoss(reduction=reduction), tnn.SoftMarginLoss(reduction=reduction), x, sign
    )
    parity(
        mnn.TripletMarginLoss(reduction=reduction, swap=True),
        tnn.TripletMarginLoss(reduction=reduction, swap=True),
        x,
        y,
        y * 2,
        grad=(0, 1, 2),
    )
    counts = np.abs(y) * 3
    parity(
        mnn.PoissonNLLLoss(full=True, reduction=reduction),
        tnn.PoissonNLLLoss(full=True, reduction=reduction),
        x,
        counts,
    )
    parity(
        mnn.GaussianNLLLoss(reduction=reduction, full=True),
        tnn.GaussianNLLLoss(reduction=reduction, full=True),
        x,
        y,
        np.abs(y) + 0.1,
        grad=(0, 2),
    )
    multi = (y > 0).astype(np.float32)
    parity(
        mnn.MultiLabelSoftMarginLoss(reduction=reduction),
        tnn.MultiLabelSoftMarginLoss(reduction=reduction),
        x,
        multi,
    )


_X = rand(4, 3, scale=1.5)
_Y = rand(4, 3, seed=1)
_P = 1 / (1 + np.exp(-_X))
_B = (_Y > 0).astype(np.float32)
FUNCTIONAL_LOSSES = [
    ("mse_loss", (_X, _Y), {}, (0, 1)),
    ("l1_loss", (_X, _Y), {}, (0, 1)),
    ("smooth_l1_loss", (_X, _Y), {"beta": 0.7}, (0, 1)),
    ("huber_loss", (_X, _Y), {"delta": 0.7}, (0, 1)),
    ("binary_cross_entropy", (_P, _B), {}, (0,)),
    ("binary_cross_entropy", (_P, 1 - _P), {}, (0, 1)),
    ("binary_cross_entropy_with_logits", (_X, _B), {}, (0, 1)),
    ("kl_div", (np.log(_P), 1 - _P), {}, (0, 1)),
    ("kl_div", (np.log(_P), np.log(1 - _P)), {"log_target": True}, (0, 1)),
    ("soft_margin_loss", (_X, np.sign(_Y)), {}, (0,)),
    ("hinge_embedding_loss", (_X, np.sign(_Y)), {"margin": 0.5}, (0,)),
    ("poisson_nll_loss", (_X, np.abs(_Y)), {}, (0,)),
    ("mse_loss", (_X, _Y[0].copy()), {}, (0, 1)),  # broadcast target (warns in both)
    ("l1_loss", (_X, _Y[:, :1].copy()), {}, (0, 1)),
    ("huber_loss", (_X, _Y[0].copy()), {}, (0, 1)),
]


@pytest.mark.parametrize("case", range(len(FUNCTIONAL_LOSSES)))
@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_functional_losses_float32_and_float64(case, reduction, dtype):
    name, arrays, kw, grad = FUNCTIONAL_LOSSES[case]
    arrays = [a.astype(dtype) for a in arrays]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        parity(
            lambda a, b: getattr(MF, name)(a, b, reduction=reduction, **kw),
            lambda a, b: getattr(TF, name)(a, b, reduction=reduction, **kw),
            *arrays,
            grad=grad,
        )


@pytest.mark.parametrize("reduction", REDUCTIONS)
def test_weights_broadcast_over_the_last_dim(reduction):
    w = np.array([1.0, 2.0, 3.0], np.float32)
    parity(
        lambda a, b: MF.binary_cross_entropy_with_logits(
            a, b, pos_weight=mt.tensor(w), reduction=reduction
        ),
        lambda a, b: TF.binary_cross_entropy_with_logits(
            a, b, pos_weight=torch.tensor(w), reduction=reduction
        ),
        _X,
        _B,
    )
    parity(
        lambda a, b: MF.binary_cross_entropy(a, b, weight=mt.tensor(w), reduction=reduction),
        lambda a, b: TF.binary_cross_entropy(a, b, weight=torch.tensor(w), reduction=reduction),
        _P,
        _B,
    )


def test_loss_reprs_and_bad_reduction():
    for name in [
        "MSELoss",
        "L1Loss",
        "SmoothL1Loss",
        "HuberLoss",
        "NLLLoss",
        "BCELoss",
        "BCEWithLogitsLoss",
        "KLDivLoss",
        "CosineEmbeddingLoss",
        "MarginRankingLoss",
    ]:
        assert repr(getattr(mnn, name)()) == repr(getattr(tnn, name)())
    with pytest.raises(ValueError, match="not a valid value for reduction"):
        MF.mse_loss(mt.randn(2), mt.randn(2), reduction="avg")


def test_classifier_training_with_fused_cross_entropy():
    """A few SGD steps of a classifier: minitorch and torch losses agree step by step."""

    def build(nn):
        return nn.Sequential(nn.Linear(12, 24), nn.ReLU(), nn.Linear(24, 6))

    m, t = build(mnn), build(tnn)
    m.load_state_dict({k: mt.tensor(v.numpy()) for k, v in t.state_dict().items()})
    rng = np.random.default_rng(0)
    w = np.linspace(0.5, 1.5, 6).astype(np.float32)
    for _ in range(6):
        x = rng.standard_normal((32, 12)).astype(np.float32)
        y = rng.integers(0, 6, 32)
        y[:4] = -100
        losses = []
        for lib, model, F in ((mt, m, MF), (torch, t, TF)):
            model.zero_grad()
            loss = F.cross_entropy(
                model(lib.tensor(x)), lib.tensor(y), lib.tensor(w), label_smoothing=0.1
            )
            loss.backward()
            with lib.no_grad():
                for p in model.parameters():
                    p.sub_(p.grad * 0.5)
            losses.append(loss.item())
        assert losses[0] == pytest.approx(losses[1], rel=1e-4, abs=1e-5)
