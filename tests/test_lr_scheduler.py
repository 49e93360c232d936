"""Learning-rate schedulers against PyTorch's over many steps, and their state_dicts."""

from __future__ import annotations  # noqa: I001  (minitorch must come before torch)

import copy
import math
import warnings

import minitorch
import minitorch.nn  # noqa: F401
import minitorch.optim  # noqa: F401
import numpy as np
import pytest

torch = pytest.importorskip("torch")

STEPS = 60

# (scheduler name, optimizer name, scheduler kwargs); two param groups with different lrs
CASES = [
    ("StepLR", "SGD", dict(step_size=7, gamma=0.5)),
    ("MultiStepLR", "SGD", dict(milestones=[5, 12, 12, 40], gamma=0.3)),
    ("ExponentialLR", "SGD", dict(gamma=0.93)),
    ("CosineAnnealingLR", "SGD", dict(T_max=15, eta_min=1e-3)),
    ("CosineAnnealingLR", "Adam", dict(T_max=60)),
    ("LinearLR", "SGD", dict(start_factor=0.25, end_factor=0.9, total_iters=20)),
    ("LinearLR", "Adam", dict()),
    ("OneCycleLR", "SGD", dict(max_lr=[0.5, 1.0], total_steps=STEPS)),
    (
        "OneCycleLR",
        "Adam",
        dict(max_lr=0.01, epochs=6, steps_per_epoch=10, anneal_strategy="linear", pct_start=0.25),
    ),
    (
        "OneCycleLR",
        "SGD",
        dict(
            max_lr=0.1, total_steps=STEPS, three_phase=True, div_factor=10.0, final_div_factor=100.0
        ),
    ),
    ("OneCycleLR", "SGD", dict(max_lr=0.1, total_steps=STEPS, cycle_momentum=False)),
]


def _optimizer(lib, name: str):
    groups = [
        {"params": [lib.nn.Parameter(lib.zeros(2))]},
        {"params": [lib.nn.Parameter(lib.zeros(3))], "lr": 0.05},
    ]
    kwargs = dict(momentum=0.9) if name == "SGD" else {}
    return getattr(lib.optim, name)(groups, lr=0.1, **kwargs)


def _momenta(opt) -> list:
    return [g["betas"][0] if "betas" in g else g["momentum"] for g in opt.param_groups]


def _lambda(epoch):
    return 0.9**epoch + (epoch % 3) * 0.1


def _make(lib, name: str, opt, kwargs):
    cls = getattr(lib.optim.lr_scheduler, name)
    if name == "LambdaLR":
        return cls(opt, **kwargs)
    if name == "SequentialLR":
        S = lib.optim.lr_scheduler  # noqa: N806
        warmup = S.LinearLR(opt, start_factor=0.1, total_iters=5)
        cosine = S.CosineAnnealingLR(opt, T_max=20)
        decay = S.ExponentialLR(opt, gamma=0.9)
        return cls(opt, [warmup, cosine, decay], milestones=[5, 25])
    if name == "ChainedScheduler":
        S = lib.optim.lr_scheduler  # noqa: N806
        return cls([S.ConstantLR(opt, factor=0.5, total_iters=10), S.ExponentialLR(opt, 0.95)])
    return cls(opt, **kwargs)


def _trajectory(lib, sched_name, opt_name, kwargs, steps=STEPS):
    opt = _optimizer(lib, opt_name)
    sched = _make(lib, sched_name, opt, kwargs)
    lrs, momenta = [sched.get_last_lr()], [_momenta(opt)]
    for _ in range(steps - 1):
        opt.step()
        sched.step()
        lrs.append(sched.get_last_lr())
        momenta.append(_momenta(opt))
    return lrs, momenta


ALL = CASES + [
    ("LambdaLR", "SGD", dict(lr_lambda=_lambda)),
    ("LambdaLR", "SGD", dict(lr_lambda=[_lambda, lambda e: 1.0 / (e + 1)])),
    ("SequentialLR", "SGD", dict()),
    ("MultiplicativeLR", "SGD", dict(lr_lambda=lambda e: 0.95)),
    ("ConstantLR", "SGD", dict(factor=0.5, total_iters=4)),
    ("PolynomialLR", "SGD", dict(total_iters=40, power=2.0)),
    ("CosineAnnealingWarmRestarts", "SGD", dict(T_0=7, T_mult=2, eta_min=0.001)),
    ("CosineAnnealingWarmRestarts", "Adam", dict(T_0=10)),
    ("ChainedScheduler", "SGD", dict()),
    ("CyclicLR", "SGD", dict(base_lr=[0.01, 0.02], max_lr=0.1, step_size_up=4)),
    (
        "CyclicLR",
        "Adam",
        dict(
            base_lr=1e-3,
            max_lr=[0.01, 0.05],
            step_size_up=3,
            step_size_down=7,
            mode="triangular2",
            base_momentum=0.7,
            max_momentum=[0.95, 0.9],
        ),
    ),
    (
        "CyclicLR",
        "SGD",
        dict(base_lr=0.01, max_lr=0.1, step_size_up=5, mode="exp_range", gamma=0.97),
    ),
    (
        "CyclicLR",
        "SGD",
        dict(
            base_lr=0.01,
            max_lr=0.1,
            step_size_up=6,
            scale_fn=_lambda,
            scale_mode="iterations",
            cycle_momentum=False,
        ),
    ),
]


@pytest.mark.parametrize(
    "name, opt_name, kwargs", ALL, ids=[f"{n}-{o}-{i}" for i, (n, o, _) in enumerate(ALL)]
)
def test_same_values_as_torch(name, opt_name, kwargs):
    ours = _trajectory(minitorch, name, opt_name, kwargs)
    theirs = _trajectory(torch, name, opt_name, kwargs)
    np.testing.assert_allclose(ours[0], theirs[0], rtol=1e-14, atol=0)
    np.testing.assert_allclose(ours[1], theirs[1], rtol=1e-14, atol=0)


@pytest.mark.parametrize(
    "mode, threshold_mode, cooldown",
    [("min", "rel", 0), ("min", "abs", 2), ("max", "rel", 1), ("max", "abs", 0)],
)
def test_reduce_lr_on_plateau_matches_torch(mode, threshold_mode, cooldown):
    rng = np.random.default_rng(0)
    metrics = np.cumsum(rng.standard_normal(80)) * 0.1 + 5  # a wandering metric
    runs = []
    for lib in (minitorch, torch):
        opt = _optimizer(lib, "SGD")
        sched = lib.optim.lr_scheduler.ReduceLROnPlateau(
            opt,
            mode=mode,
            factor=0.5,
            patience=3,
            threshold=0.01,
            threshold_mode=threshold_mode,
            cooldown=cooldown,
            min_lr=[1e-3, 1e-4],
        )
        lrs = []
        for m in metrics:
            opt.step()
            sched.step(float(m))
            lrs.append(sched.get_last_lr())
        runs.append(lrs)
    assert runs[0] == runs[1]
    assert runs[0][-1] != runs[0][0]  # it did reduce


@pytest.mark.parametrize(
    "name, opt_name, kwargs",
    [
        ("StepLR", "SGD", dict(step_size=3, gamma=0.5)),
        ("MultiStepLR", "SGD", dict(milestones=[2, 5, 5], gamma=0.5)),
        ("ExponentialLR", "SGD", dict(gamma=0.9)),
        ("CosineAnnealingLR", "SGD", dict(T_max=10, eta_min=0.01)),
        ("LinearLR", "SGD", dict(total_iters=6)),
        ("ConstantLR", "SGD", dict(total_iters=6)),
        ("PolynomialLR", "SGD", dict(total_iters=9)),
        ("CosineAnnealingWarmRestarts", "SGD", dict(T_0=3, T_mult=2)),
    ],
)
def test_step_with_explicit_epoch_uses_the_closed_form(name, opt_name, kwargs):
    runs = []
    for lib in (minitorch, torch):
        opt = _optimizer(lib, opt_name)
        sched = getattr(lib.optim.lr_scheduler, name)(opt, **kwargs)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            lrs = []
            for epoch in [3, 7, 1, 12]:
                opt.step()
                sched.step(epoch)
                lrs.append(sched.get_last_lr())
        runs.append(lrs)
    np.testing.assert_allclose(runs[0], runs[1], rtol=1e-14)


RESUMED = [
    "StepLR",
    "CosineAnnealingLR",
    "OneCycleLR",
    "SequentialLR",
    "ChainedScheduler",
    "CosineAnnealingWarmRestarts",
    "CyclicLR",
]


@pytest.mark.parametrize(
    "name, opt_name, kwargs", [next(c for c in ALL if c[0] == n) for n in RESUMED], ids=RESUMED
)
def test_resume_from_state_dict(name, opt_name, kwargs):
    straight, _ = _trajectory(minitorch, name, opt_name, kwargs)
    opt = _optimizer(minitorch, opt_name)
    sched = _make(minitorch, name, opt, kwargs)
    for _ in range(20):
        opt.step()
        sched.step()
    saved = copy.deepcopy((opt.state_dict(), sched.state_dict()))
    assert "optimizer" not in saved[1]
    opt2 = _optimizer(minitorch, opt_name)
    sched2 = _make(minitorch, name, opt2, kwargs)
    opt2.load_state_dict(saved[0])
    sched2.load_state_dict(saved[1])
    lrs = [sched2.get_last_lr()]
    for _ in range(STEPS - 21):
        opt2.step()
        sched2.step()
        lrs.append(sched2.get_last_lr())
    assert lrs == straight[20:]


def test_lambda_state_dict_keeps_callable_objects_state():
    class Decay:
        def __init__(self, rate):
            self.rate = rate

        def __call__(self, epoch):
            return self.rate**epoch

    opt = _optimizer(minitorch, "SGD")
    sched = minitorch.optim.lr_scheduler.LambdaLR(opt, [Decay(0.5), lambda e: 1.0])
    sd = sched.state_dict()
    assert sd["lr_lambdas"] == [{"rate": 0.5}, None]
    other = minitorch.optim.lr_scheduler.LambdaLR(
        _optimizer(minitorch, "SGD"), [Decay(0.9), lambda e: 1.0]
    )
    other.load_state_dict(sd)
    assert other.lr_lambdas[0].rate == 0.5


def test_scheduler_errors_match_torch():
    S = minitorch.optim.lr_scheduler  # noqa: N806
    opt = _optimizer(minitorch, "SGD")
    with pytest.raises(TypeError, match="is not an Optimizer"):
        S.StepLR(object(), step_size=1)
    with pytest.raises(KeyError, match="initial_lr"):
        S.StepLR(_optimizer(minitorch, "SGD"), step_size=1, last_epoch=3)
    with pytest.raises(ValueError, match="total_steps"):
        S.OneCycleLR(opt, max_lr=0.1)
    sched = S.OneCycleLR(opt, max_lr=0.1, total_steps=2)
    with pytest.warns(UserWarning, match=r"before `optimizer.step\(\)`"):
        sched.step()
    with pytest.raises(ValueError, match="Tried to step 3 times"):
        sched.step()
        sched.step()
    with pytest.raises(ValueError, match="Factor should be < 1.0"):
        S.ReduceLROnPlateau(opt, factor=1.0)
    with pytest.raises(ValueError, match="ReduceLROnPlateau"):
        S.SequentialLR(opt, [S.ReduceLROnPlateau(opt)], milestones=[])


def test_cyclic_lr_errors_and_state_dict_match_torch():
    for lib in (minitorch, torch):
        S = lib.optim.lr_scheduler  # noqa: N806
        with pytest.raises(ValueError, match="mode is invalid and scale_fn is None"):
            S.CyclicLR(_optimizer(lib, "SGD"), 0.01, 0.1, mode="sawtooth")
        params = [lib.nn.Parameter(lib.zeros(2))]
        with pytest.raises(ValueError, match="must support momentum or beta1"):
            S.CyclicLR(lib.optim.Adagrad(params), 0.01, 0.1)
    ours = minitorch.optim.lr_scheduler.CyclicLR(_optimizer(minitorch, "SGD"), 0.01, 0.1)
    theirs = torch.optim.lr_scheduler.CyclicLR(_optimizer(torch, "SGD"), 0.01, 0.1)
    # PyTorch's base keeps one more private flag (_get_lr_called_within_step)
    assert set(ours.state_dict()) == set(theirs.state_dict()) - {"_get_lr_called_within_step"}
    assert ours.state_dict()["_scale_fn_custom"] is None


def test_scheduled_lr_reaches_the_update():
    """The lr a scheduler sets is the one the next optimizer step uses."""
    w = minitorch.nn.Parameter(minitorch.zeros(1, dtype=minitorch.float64))
    opt = minitorch.optim.SGD([w], lr=1.0)
    sched = minitorch.optim.lr_scheduler.ExponentialLR(opt, gamma=0.5)
    for _ in range(4):
        w.grad = minitorch.ones(1, dtype=minitorch.float64)
        opt.step()
        sched.step()
    assert math.isclose(-w.item(), 1 + 0.5 + 0.25 + 0.125)


@pytest.mark.parametrize("lib", [minitorch, torch], ids=["minitorch", "torch"])
def test_a_group_added_after_the_scheduler_is_an_error_not_left_unscheduled(lib):
    a, b = lib.nn.Parameter(lib.ones(1)), lib.nn.Parameter(lib.ones(1))
    opt = lib.optim.SGD([a], lr=1.0)
    scheduler = lib.optim.lr_scheduler.LambdaLR(opt, lambda epoch: 0.5**epoch)
    opt.add_param_group({"params": [b], "lr": 1.0})
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # PyTorch's "scheduler stepped before the optimizer"
        with pytest.raises(ValueError):
            scheduler.step()


def _order_warnings(lib, sched_name, opt_name, kwargs, sched_first: bool) -> list[str]:
    """The "scheduler stepped before the optimizer" warnings three steps in one order give."""
    opt = _optimizer(lib, opt_name)
    sched = _make(lib, sched_name, opt, kwargs)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        for _ in range(3):
            for call in (sched.step, opt.step) if sched_first else (opt.step, sched.step):
                call()
    return [str(w.message) for w in caught if "before `optimizer.step()`" in str(w.message)]


@pytest.mark.parametrize("sched_first", [True, False], ids=["sched-first", "opt-first"])
@pytest.mark.parametrize(
    "name, opt_name, kwargs", ALL, ids=[f"{n}-{o}-{i}" for i, (n, o, _) in enumerate(ALL)]
)
def test_stepping_the_scheduler_first_warns_like_torch(name, opt_name, kwargs, sched_first):
    ours = _order_warnings(minitorch, name, opt_name, kwargs, sched_first)
    theirs = _order_warnings(torch, name, opt_name, kwargs, sched_first)
    assert ours == theirs
    assert not sched_first or name in ("CosineAnnealingWarmRestarts", "ReduceLROnPlateau") or ours
