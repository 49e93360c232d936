"""optim.swa_utils (AveragedModel, EMA/SWA functions, update_bn, SWALR) against PyTorch's."""

from __future__ import annotations  # noqa: I001  (minitorch must come before torch)

import minitorch
import numpy as np
import pytest
from layer_parity import load_from_torch
from parity import torch

STEPS = 6


def _model(lib):
    nn = lib.nn
    return nn.Sequential(nn.Linear(4, 8), nn.BatchNorm1d(8), nn.ReLU(), nn.Linear(8, 2))


def _pair():
    """The same model in both libraries (torch's weights loaded into minitorch's)."""
    torch.manual_seed(0)
    tmod, mmod = _model(torch), _model(minitorch)
    load_from_torch(mmod, tmod)
    return mmod, tmod


def _batches(n: int = STEPS, seed: int = 0) -> list[tuple[np.ndarray, np.ndarray]]:
    rng = np.random.default_rng(seed)
    return [
        (rng.standard_normal((16, 4)).astype(np.float32), rng.standard_normal((16, 2)))
        for _ in range(n)
    ]


def _averaging(lib, kind: str) -> dict:
    swa = lib.optim.swa_utils
    return {
        "swa": {},
        "ema_multi": dict(multi_avg_fn=swa.get_ema_multi_avg_fn(0.8)),
        "ema": dict(avg_fn=swa.get_ema_avg_fn(0.8)),
        "swa_fn": dict(avg_fn=swa.get_swa_avg_fn()),
        "swa_multi": dict(multi_avg_fn=swa.get_swa_multi_avg_fn()),
    }[kind]


def _train_averaged(lib, model, kind: str, use_buffers: bool):
    """SGD on `model`, folding it into an AveragedModel after every step."""
    opt = lib.optim.SGD(model.parameters(), lr=0.1, momentum=0.9)
    averaged = lib.optim.swa_utils.AveragedModel(
        model, use_buffers=use_buffers, **_averaging(lib, kind)
    )
    for x, y in _batches():
        opt.zero_grad()
        loss = ((model(lib.tensor(x)) - lib.tensor(y, dtype=lib.float32)) ** 2).mean()
        loss.backward()
        opt.step()
        averaged.update_parameters(model)
    return averaged


KINDS = ["swa", "ema_multi", "ema", "swa_fn", "swa_multi"]
# (not swa_multi with use_buffers: PyTorch's SWA multi_avg_fn raises on integer buffers)
CASES = [(k, u) for k in KINDS for u in (False, True) if (k, u) != ("swa_multi", True)]


@pytest.mark.parametrize("kind, use_buffers", CASES)
def test_averaged_model_matches_torch(kind, use_buffers):
    mmod, tmod = _pair()
    m_avg = _train_averaged(minitorch, mmod, kind, use_buffers)
    t_avg = _train_averaged(torch, tmod, kind, use_buffers)
    msd, tsd = m_avg.state_dict(), t_avg.state_dict()
    assert list(msd) == list(tsd)
    for key in tsd:
        a, b = np.asarray(msd[key].numpy()), tsd[key].numpy()
        assert a.dtype == b.dtype, key
        np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-6, err_msg=key)
    x = _batches(1, seed=1)[0][0]
    m_avg.eval(), t_avg.eval()
    out_m, out_t = m_avg(minitorch.tensor(x)), t_avg(torch.tensor(x))
    np.testing.assert_allclose(out_m.detach().numpy(), out_t.detach().numpy(), rtol=1e-5, atol=1e-6)


def test_averaged_model_first_update_copies_and_state_dict_loads():
    model = minitorch.nn.Linear(3, 2)
    ema = minitorch.optim.swa_utils.AveragedModel(
        model, multi_avg_fn=minitorch.optim.swa_utils.get_ema_multi_avg_fn(0.5)
    )
    assert ema.module is not model and ema.module.weight is not model.weight
    with minitorch.no_grad():
        model.weight.fill_(2.0)
    ema.update_parameters(model)
    assert (ema.module.weight.detach().numpy() == 2.0).all() and int(ema.n_averaged) == 1
    with minitorch.no_grad():
        model.weight.fill_(4.0)
    ema.update_parameters(model)
    assert (ema.module.weight.detach().numpy() == 3.0).all() and int(ema.n_averaged) == 2
    assert not ema.module.weight.requires_grad or ema.module.weight.grad is None
    other = minitorch.optim.swa_utils.AveragedModel(minitorch.nn.Linear(3, 2))
    other.load_state_dict(ema.state_dict())
    assert int(other.n_averaged) == 2 and (other.module.weight.detach().numpy() == 3.0).all()


def test_swa_errors_match_torch():
    for lib in (minitorch, torch):
        swa = lib.optim.swa_utils
        for make in (swa.get_ema_multi_avg_fn, swa.get_ema_avg_fn):
            with pytest.raises(ValueError, match="Invalid decay value"):
                make(1.5)
        with pytest.raises(AssertionError, match="Only one of avg_fn and multi_avg_fn"):
            swa.AveragedModel(
                lib.nn.Linear(2, 2), avg_fn=swa.get_swa_avg_fn(), multi_avg_fn=lambda *a: None
            )
        opt = lib.optim.SGD([lib.nn.Parameter(lib.zeros(2))], lr=0.1)
        with pytest.raises(ValueError, match="anneal_strategy must be one of"):
            swa.SWALR(opt, swa_lr=0.05, anneal_strategy="exp")
        with pytest.raises(ValueError, match="anneal_epochs must be equal or greater than 0"):
            swa.SWALR(opt, swa_lr=0.05, anneal_epochs=-1)


def _bn_stats(model) -> list[np.ndarray]:
    return [np.asarray(b.numpy()) for name, b in model.named_buffers()]


@pytest.mark.parametrize("tuples", [False, True])
def test_update_bn_matches_torch(tuples):
    mmod, tmod = _pair()
    mmod.eval(), tmod.eval()
    batches = _batches(4, seed=2)
    for lib, model in ((minitorch, mmod), (torch, tmod)):
        loader = [(lib.tensor(x), lib.tensor(y)) if tuples else lib.tensor(x) for x, y in batches]
        lib.optim.swa_utils.update_bn(loader, model)
        assert not model.training and model[1].momentum == 0.1
    assert [n for n, _ in mmod.named_buffers()] == [n for n, _ in tmod.named_buffers()]
    for a, b in zip(_bn_stats(mmod), _bn_stats(tmod)):
        np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-6)


def test_update_bn_without_batchnorm_is_a_no_op():
    model = minitorch.nn.Linear(2, 2).eval()
    minitorch.optim.swa_utils.update_bn([minitorch.ones(3, 2)], model)
    assert not model.training


def _swalr(lib, kwargs):
    groups = [
        {"params": [lib.nn.Parameter(lib.zeros(2))]},
        {"params": [lib.nn.Parameter(lib.zeros(3))], "lr": 0.5},
    ]
    opt = lib.optim.SGD(groups, lr=0.1)
    return opt, lib.optim.swa_utils.SWALR(opt, **kwargs)


@pytest.mark.parametrize(
    "kwargs",
    [
        dict(swa_lr=0.05),
        dict(swa_lr=[0.01, 0.2], anneal_epochs=3, anneal_strategy="linear"),
        dict(swa_lr=0.3, anneal_epochs=0),
        dict(swa_lr=0.02, anneal_epochs=1, anneal_strategy="cos"),
    ],
)
def test_swalr_matches_torch(kwargs):
    (m_opt, m_sched), (t_opt, t_sched) = _swalr(minitorch, kwargs), _swalr(torch, kwargs)
    for _ in range(15):
        assert m_sched.get_last_lr() == t_sched.get_last_lr()
        m_opt.step(), t_opt.step()
        m_sched.step(), t_sched.step()
    assert [g["lr"] for g in m_opt.param_groups] == [g["lr"] for g in t_opt.param_groups]
    theirs = set(t_sched.state_dict()) - {"_get_lr_called_within_step"}  # as test_lr_scheduler
    assert set(m_sched.state_dict()) == theirs


def test_swalr_after_another_scheduler_and_state_dict_round_trip():
    """The usual recipe: a cosine schedule, then SWALR from wherever the lr is."""
    runs = []
    for lib in (minitorch, torch):
        opt = lib.optim.SGD([lib.nn.Parameter(lib.zeros(2))], lr=1.0)
        cosine = lib.optim.lr_scheduler.CosineAnnealingLR(opt, T_max=20)
        swa = lib.optim.swa_utils.SWALR(opt, swa_lr=0.05, anneal_epochs=4)
        lrs = []
        for epoch in range(12):
            opt.step()
            (swa if epoch >= 6 else cosine).step()
            lrs.append(opt.param_groups[0]["lr"])
        runs.append(lrs)
    assert runs[0] == runs[1]
    opt = minitorch.optim.SGD([minitorch.nn.Parameter(minitorch.zeros(2))], lr=1.0)
    sched = minitorch.optim.swa_utils.SWALR(opt, swa_lr=0.05, anneal_strategy="linear")
    restored = minitorch.optim.swa_utils.SWALR(opt, swa_lr=0.05)
    restored.load_state_dict(sched.state_dict())
    assert restored.anneal_func(0.5) == 0.5  # the strategy came back with the state


def _ema_training(compiled: bool) -> dict:
    minitorch.manual_seed(0)
    model = _model(minitorch)
    opt = minitorch.optim.SGD(model.parameters(), lr=0.1, momentum=0.9)
    swa = minitorch.optim.swa_utils
    ema = swa.AveragedModel(model, multi_avg_fn=swa.get_ema_multi_avg_fn(0.9), use_buffers=True)

    def step(x, y):
        opt.zero_grad()
        loss = ((model(x) - y) ** 2).mean()
        loss.backward()
        opt.step()
        ema.update_parameters(model)
        return loss

    if compiled:
        step = minitorch.compile(step)
    for x, y in _batches(STEPS, seed=3):
        step(minitorch.tensor(x), minitorch.tensor(y, dtype=minitorch.float32))
    assert int(ema.n_averaged) == STEPS
    if compiled:  # an eager warm-up, one trace, then replays: the update ran as a replayed call
        assert step.stats.traces == 1 and step.stats.replays == STEPS - 2, step.stats
    return {k: np.asarray(v.numpy()).copy() for k, v in ema.state_dict().items()}


def test_ema_update_inside_compiled_step_equals_eager():
    """update_parameters replays as a call (like optimizer.step): bit for bit equal."""
    eager, compiled = _ema_training(False), _ema_training(True)
    assert list(eager) == list(compiled)
    for key in eager:
        np.testing.assert_array_equal(eager[key], compiled[key], err_msg=key)


def test_ema_update_outside_compiled_step():
    minitorch.manual_seed(0)
    model = _model(minitorch)
    opt = minitorch.optim.SGD(model.parameters(), lr=0.1)
    swa = minitorch.optim.swa_utils
    ema = swa.AveragedModel(model, multi_avg_fn=swa.get_ema_multi_avg_fn(0.9))

    @minitorch.compile
    def step(x, y):
        opt.zero_grad()
        loss = ((model(x) - y) ** 2).mean()
        loss.backward()
        opt.step()
        return loss

    expected = None
    for x, y in _batches(STEPS, seed=4):
        step(minitorch.tensor(x), minitorch.tensor(y, dtype=minitorch.float32))
        before = np.asarray(ema.module[0].weight.detach().numpy()).copy()
        ema.update_parameters(model)
        current = np.asarray(model[0].weight.detach().numpy())
        expected = current if expected is None else before + (current - before) * np.float32(0.1)
        got = ema.module[0].weight.detach().numpy()
        np.testing.assert_allclose(got, expected, rtol=1e-6, atol=1e-7)
