"""minitorch.distributions against torch.distributions: log_prob, entropy, kl_divergence and
moments (values and gradients, float32), shapes, validation errors; samples statistically
(minitorch draws from its own Philox generator, so the numbers differ from PyTorch's)."""

from __future__ import annotations  # noqa: I001  (minitorch must come before torch)

import minitorch
import numpy as np
import pytest
from parity import torch

RNG = np.random.default_rng(0)
LOGITS = RNG.standard_normal((2, 4)).astype(np.float32)
PROBS = RNG.uniform(0.05, 1, (2, 4)).astype(np.float32)
P01 = RNG.uniform(0.05, 0.95, (5,)).astype(np.float32)
LOC = RNG.standard_normal((2, 3)).astype(np.float32)
SCALE = RNG.uniform(0.5, 2, (3,)).astype(np.float32)
LOW = RNG.uniform(-2, 0, (3,)).astype(np.float32)
HIGH = RNG.uniform(1, 3, (3,)).astype(np.float32)

# name -> (build(lib, *params), params, a value in the support)
DISTS = {
    "normal": (lambda D, loc, scale: D.Normal(loc, scale), (LOC, SCALE), LOC * 0.5 + 0.3),
    "categorical_logits": (
        lambda D, logits: D.Categorical(logits=logits),
        (LOGITS,),
        np.array([[3, 0], [1, 2], [0, 0]]),
    ),
    "categorical_probs": (
        lambda D, probs: D.Categorical(probs=probs),
        (PROBS,),
        np.array([1, 3]),
    ),
    "bernoulli_probs": (
        lambda D, probs: D.Bernoulli(probs=probs),
        (P01,),
        np.array([1, 0, 0, 1, 1], np.float32),
    ),
    "bernoulli_logits": (
        lambda D, logits: D.Bernoulli(logits=logits),
        (LOGITS[0],),
        np.array([[1, 0, 0, 1]], np.float32),
    ),
    "uniform": (
        lambda D, low, high: D.Uniform(low, high),
        (LOW, HIGH),
        np.array([0.5, -0.1, 0.9], np.float32),
    ),
}


def _tensors(lib, arrays):
    return [lib.tensor(a, requires_grad=True) for a in arrays]


def _compare(fn, arrays, rtol=1e-5, atol=1e-6):
    """fn(lib, *params) in both libraries: values, then gradients of their sum."""
    results = []
    for lib in (minitorch, torch):
        params = _tensors(lib, arrays)
        out = fn(lib, *params)
        out.sum().backward()
        grads = [None if p.grad is None else p.grad.numpy() for p in params]
        results.append((out.detach().numpy(), grads))
    (m_out, m_grads), (t_out, t_grads) = results
    np.testing.assert_allclose(m_out, t_out, rtol=rtol, atol=atol)
    for m_grad, t_grad in zip(m_grads, t_grads):
        assert (m_grad is None) == (t_grad is None)
        if m_grad is not None:
            np.testing.assert_allclose(m_grad, t_grad, rtol=rtol, atol=atol)


@pytest.mark.parametrize("name", DISTS)
def test_log_prob_matches_torch(name):
    build, params, value = DISTS[name]
    _compare(lambda lib, *p: build(lib.distributions, *p).log_prob(lib.tensor(value)), params)


@pytest.mark.parametrize("name", DISTS)
def test_entropy_matches_torch(name):
    build, params, _ = DISTS[name]
    _compare(lambda lib, *p: build(lib.distributions, *p).entropy(), params)


@pytest.mark.parametrize("name", DISTS)
@pytest.mark.parametrize("moment", ["mean", "variance", "stddev", "mode"])
def test_moments_match_torch(name, moment):
    build, params, _ = DISTS[name]
    m, t = (
        getattr(build(lib.distributions, *(lib.tensor(a) for a in params)), moment)
        for lib in (minitorch, torch)
    )
    np.testing.assert_allclose(m.numpy(), t.numpy(), rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("name", DISTS)
def test_shapes_match_torch(name):
    build, params, _ = DISTS[name]
    m, t = (
        build(lib.distributions, *(lib.tensor(a) for a in params)) for lib in (minitorch, torch)
    )
    assert tuple(m.batch_shape) == tuple(t.batch_shape)
    assert tuple(m.event_shape) == tuple(t.event_shape)
    assert m.sample((7, 2)).shape == tuple(t.sample((7, 2)).shape)
    assert m.sample().dtype.is_floating_point == t.sample().dtype.is_floating_point
    assert m.has_rsample == t.has_rsample


def test_number_parameters_give_scalar_batch_shape():
    D = minitorch.distributions
    for d in (D.Normal(0.0, 1.0), D.Uniform(0.0, 2.0), D.Bernoulli(0.3)):
        assert d.batch_shape == () and d.sample().shape == ()
        assert d.sample((3,)).shape == (3,)
    assert D.Normal(minitorch.zeros(2, 1), 1.0).batch_shape == (2, 1)


def test_repr_matches_torch():
    for lib in (minitorch, torch):
        D = lib.distributions
        text = [repr(D.Normal(0.0, 1.0)), repr(D.Categorical(logits=lib.zeros(3)))]
        text = [s.replace("minitorch.Size", "torch.Size") for s in text]
        if lib is minitorch:
            mine = text
    assert mine == text


KL_PAIRS = {
    "normal": (
        lambda D, a, b, c, d: (D.Normal(a, b), D.Normal(c, d)),
        (LOC, SCALE, LOC[::-1].copy(), SCALE[::-1].copy()),
    ),
    "categorical": (
        lambda D, a, b: (D.Categorical(logits=a), D.Categorical(probs=b)),
        (LOGITS, PROBS),
    ),
    "bernoulli": (
        lambda D, a, b: (D.Bernoulli(probs=a), D.Bernoulli(logits=b)),
        (P01, LOGITS[1, :1].repeat(5)),
    ),
    "uniform": (
        lambda D, a, b, c, d: (D.Uniform(a, b), D.Uniform(c, d)),
        (LOW, HIGH, LOW - 1, HIGH + 0.5),
    ),
}


@pytest.mark.parametrize("name", ["normal", "uniform"])
@pytest.mark.parametrize("method", ["cdf", "icdf"])
def test_cdf_and_icdf_match_torch(name, method):
    build, params, value = DISTS[name]
    if method == "icdf":
        value = np.array([0.05, 0.5, 0.9], np.float32)
    _compare(
        lambda lib, *p: getattr(build(lib.distributions, *p), method)(lib.tensor(value)), params
    )


@pytest.mark.parametrize("name", KL_PAIRS)
def test_kl_divergence_matches_torch(name):
    build, params = KL_PAIRS[name]
    _compare(lambda lib, *p: lib.distributions.kl_divergence(*build(lib.distributions, *p)), params)


def test_kl_edge_cases_match_torch():
    """Zero probabilities and a support p leaves: inf and 0 as PyTorch."""
    for build in (
        lambda D, t: (
            D.Categorical(probs=t([[0.0, 0.5, 0.5]])),
            D.Categorical(probs=t([[0.5, 0.0, 0.5]])),
        ),
        lambda D, t: (D.Categorical(probs=t([0.0, 1.0])), D.Categorical(probs=t([0.5, 0.5]))),
        lambda D, t: (D.Bernoulli(t([0.0, 1.0, 0.3])), D.Bernoulli(t([0.5, 1.0, 0.0]))),
        lambda D, t: (
            D.Uniform(t([0.0, 0.0]), t([1.0, 2.0])),
            D.Uniform(t([-1.0, 0.5]), t([1.0, 3.0])),
        ),
    ):
        m, t = (
            lib.distributions.kl_divergence(*build(lib.distributions, lib.tensor))
            for lib in (minitorch, torch)
        )
        np.testing.assert_allclose(m.numpy(), t.numpy(), rtol=1e-5)


def test_kl_unregistered_pair_raises_and_register_kl_dispatches():
    D = minitorch.distributions
    with pytest.raises(NotImplementedError, match="p type Categorical and q type Normal"):
        D.kl_divergence(D.Categorical(logits=minitorch.zeros(2)), D.Normal(0.0, 1.0))

    class MyNormal(D.Normal):
        pass

    assert D.kl_divergence(MyNormal(0.0, 1.0), D.Normal(1.0, 1.0)).item() == pytest.approx(0.5)

    @D.register_kl(MyNormal, D.Normal)
    def _kl(p, q):
        return p.loc * 0 + 7

    assert D.kl_divergence(MyNormal(0.0, 1.0), D.Normal(1.0, 1.0)).item() == 7
    assert D.kl_divergence(D.Normal(0.0, 1.0), MyNormal(1.0, 1.0)).item() == pytest.approx(0.5)


@pytest.mark.parametrize("name", ["normal", "uniform"])
def test_rsample_gradients(name):
    """d rsample / d loc = 1 and d / d scale = the standard draw (Normal); d / d low = 1 - u,
    d / d high = u (Uniform)."""
    build, params, _ = DISTS[name]
    a, b = _tensors(minitorch, params)
    minitorch.manual_seed(3)
    x = build(minitorch.distributions, a, b).rsample((50,))
    x.sum().backward()
    xs = x.detach().numpy()
    if name == "normal":
        np.testing.assert_allclose(a.grad.numpy(), np.full(a.shape, 50.0 * 1))
        eps = (xs - params[0]) / params[1]
        np.testing.assert_allclose(b.grad.numpy(), eps.sum((0, 1)), rtol=1e-4, atol=1e-4)
    else:
        u = (xs - params[0]) / (params[1] - params[0])
        np.testing.assert_allclose(b.grad.numpy(), u.sum(0), rtol=1e-4, atol=1e-4)
        np.testing.assert_allclose(a.grad.numpy(), (1 - u).sum(0), rtol=1e-4, atol=1e-4)


def test_sample_has_no_gradient_and_rsample_raises_where_not_reparameterizable():
    D = minitorch.distributions
    loc = minitorch.zeros(3, requires_grad=True)
    assert not D.Normal(loc, 1.0).sample().requires_grad
    assert D.Normal(loc, 1.0).rsample().requires_grad
    with pytest.raises(NotImplementedError, match="Categorical has no rsample"):
        D.Categorical(logits=loc).rsample()


N = 40_000


@pytest.mark.parametrize(
    "build, mean, var",
    [
        (lambda D: D.Normal(1.5, 2.0), 1.5, 4.0),
        (lambda D: D.Uniform(-1.0, 3.0), 1.0, 16 / 12),
        (lambda D: D.Bernoulli(0.3), 0.3, 0.21),
        (lambda D: D.Bernoulli(logits=minitorch.tensor(-2.0)), 0.1192, 0.1050),
    ],
)
def test_sample_statistics(build, mean, var):
    minitorch.manual_seed(0)
    x = build(minitorch.distributions).sample((N,)).numpy().astype(np.float64)
    assert abs(x.mean() - mean) < 5 * np.sqrt(var / N)
    assert abs(x.var() - var) < 0.05 * var


@pytest.mark.parametrize("kind", ["probs", "logits"])
def test_categorical_sample_frequencies(kind):
    probs = np.array([[0.1, 0.0, 0.6, 0.3], [0.25, 0.25, 0.25, 0.25]], np.float32)
    with np.errstate(divide="ignore"):  # (log 0 = -inf: a category never drawn)
        param = probs if kind == "probs" else np.log(probs)
    minitorch.manual_seed(1)
    d = minitorch.distributions.Categorical(**{kind: minitorch.tensor(param)})
    s = d.sample((N,))
    assert s.shape == (N, 2) and s.dtype is minitorch.int64
    freq = np.stack([(s.numpy() == k).mean(0) for k in range(4)], -1)
    np.testing.assert_allclose(freq, probs, atol=0.015)
    assert (s.numpy()[:, 0] != 1).all()  # a zero-probability category is never drawn


def test_manual_seed_reproduces_samples():
    D = minitorch.distributions
    draws = []
    for _ in range(2):
        minitorch.manual_seed(123)
        draws.append(
            [
                d.sample((5,)).numpy()
                for d in (
                    D.Normal(0.0, 1.0),
                    D.Categorical(logits=minitorch.zeros(6)),
                    D.Bernoulli(0.5),
                    D.Uniform(0.0, 1.0),
                )
            ]
        )
    for a, b in zip(*draws):
        np.testing.assert_array_equal(a, b)
    assert not np.array_equal(draws[0][0], D.Normal(0.0, 1.0).sample((5,)).numpy())


# builds that PyTorch and minitorch refuse alike (same class, same message)
ERRORS = [
    lambda D, t: D.Normal(t.zeros(3), t.tensor([1.0, -1.0, 2.0])),
    lambda D, t: D.Normal(t.tensor([0.0, float("nan")]), 1.0),
    lambda D, t: D.Categorical(),
    lambda D, t: D.Categorical(probs=t.ones(2), logits=t.ones(2)),
    lambda D, t: D.Categorical(probs=t.tensor(0.5)),
    lambda D, t: D.Categorical(probs=t.tensor([0.5, -0.1])),
    lambda D, t: D.Bernoulli(probs=t.tensor([1.5])),
    lambda D, t: D.Bernoulli(),
    lambda D, t: D.Uniform(t.tensor([1.0]), t.tensor([0.0])),
    lambda D, t: D.Normal(0.0, 1.0).log_prob(t.tensor(float("nan"))),
    lambda D, t: D.Normal(t.zeros(3), 1.0).log_prob(t.zeros(2)),
    lambda D, t: D.Categorical(logits=t.zeros(3)).log_prob(t.tensor(3)),
    lambda D, t: D.Bernoulli(0.3).log_prob(t.tensor(0.5)),
    lambda D, t: D.Uniform(0.0, 1.0).log_prob(t.tensor(2.0)),
    lambda D, t: D.Normal(0.0, 1.0).log_prob(0.5),
]


@pytest.mark.parametrize("build", ERRORS)
def test_errors_match_torch(build):
    errors = []
    for lib in (minitorch, torch):
        with pytest.raises(Exception) as info:
            build(lib.distributions, lib)
        errors.append((type(info.value), str(info.value).replace("minitorch.Size", "torch.Size")))
    assert errors[0] == errors[1]


def test_validate_args_false_skips_checks():
    D = minitorch.distributions
    d = D.Normal(0.0, -1.0, validate_args=False)
    assert np.isnan(d.log_prob(minitorch.tensor(0.0)).item())
    D.Distribution.set_default_validate_args(False)
    try:
        D.Bernoulli(probs=minitorch.tensor([2.0]))
    finally:
        D.Distribution.set_default_validate_args(True)
    with pytest.raises(ValueError):
        D.Bernoulli(probs=minitorch.tensor([2.0]))


def _policy_gradient(compiled: bool, steps: int = 5):
    """Categorical(logits=net(x)).sample(), -log_prob * advantage, backward, Adam."""
    nn, D = minitorch.nn, minitorch.distributions
    minitorch.manual_seed(0)
    net = nn.Sequential(nn.Linear(4, 16), nn.Tanh(), nn.Linear(16, 3))
    opt = minitorch.optim.Adam(net.parameters(), lr=1e-2)
    x, advantage = minitorch.randn(32, 4), minitorch.randn(32)

    def step(x, advantage):
        dist = D.Categorical(logits=net(x))
        action = dist.sample()
        loss = -(dist.log_prob(action) * advantage).mean() - 0.01 * dist.entropy().mean()
        opt.zero_grad()
        loss.backward()
        opt.step()
        return action, loss

    run = minitorch.compile(step) if compiled else step
    outs = [run(x, advantage) for _ in range(steps)]
    if compiled:  # (replayed, not run eagerly again)
        assert f"{steps - 2} replayed" in str(run.explain())
    actions = [a.numpy().copy() for a, _ in outs]
    losses = [loss.item() for _, loss in outs]
    return actions, losses, [p.detach().numpy() for p in net.parameters()]


def test_policy_gradient_step_compiled_replays_like_eager():
    """The traced step replays: draws are new on every call (as eager, the same numbers for the
    same seed) and losses and parameters follow eager's."""
    eager, traced = _policy_gradient(False), _policy_gradient(True)
    for a, b in zip(eager[0], traced[0]):
        np.testing.assert_array_equal(a, b)
    assert len({a.tobytes() for a in traced[0]}) == len(traced[0])  # every call drew anew
    np.testing.assert_allclose(eager[1], traced[1], rtol=1e-4, atol=1e-6)
    for a, b in zip(eager[2], traced[2]):
        np.testing.assert_allclose(a, b, rtol=1e-4, atol=1e-5)


def test_vae_style_rsample_step_compiled_replays_like_eager():
    """Normal.rsample + kl_divergence to N(0, 1) in a traced step: new noise every replay."""
    D = minitorch.distributions

    def run(compiled):
        minitorch.manual_seed(0)
        enc = minitorch.nn.Linear(3, 4)
        opt = minitorch.optim.SGD(enc.parameters(), lr=0.1)
        x = minitorch.randn(8, 3)

        def step(x):
            loc, log_scale = enc(x).chunk(2, dim=-1)
            q = D.Normal(loc, log_scale.exp())
            z = q.rsample()
            loss = (z * z).mean() + D.kl_divergence(q, D.Normal(0.0, 1.0)).mean()
            opt.zero_grad()
            loss.backward()
            opt.step()
            return z, loss

        fn = minitorch.compile(step) if compiled else step
        return [(z.detach().numpy().copy(), loss.item()) for z, loss in (fn(x) for _ in range(5))]

    for (z1, l1), (z2, l2) in zip(run(False), run(True)):
        np.testing.assert_allclose(z1, z2, rtol=1e-4, atol=1e-5)
        assert l1 == pytest.approx(l2, rel=1e-4)


def test_every_sampler_draws_anew_in_a_compiled_step():
    """sample() of each distribution inside minitorch.compile: the same numbers as eager for
    the same seed, and new numbers on every replay (never a draw frozen into the trace)."""
    D = minitorch.distributions

    def step(p):
        return (
            D.Bernoulli(probs=p).sample((4,)),
            D.Normal(p, 1.0).sample(),
            D.Uniform(p - 1, p).sample(),
            D.Categorical(probs=p).sample((4,)),
        )

    p = minitorch.tensor([0.2, 0.5, 0.9])
    runs = []
    for fn in (step, minitorch.compile(step)):
        minitorch.manual_seed(5)
        runs.append([[x.numpy().copy() for x in fn(p)] for _ in range(4)])
    for eager_call, traced_call in zip(*runs):
        for a, b in zip(eager_call, traced_call):
            np.testing.assert_array_equal(a, b)
    for k in range(4):  # replays (calls 3 and 4) differ from each other
        assert not np.array_equal(runs[1][2][k], runs[1][3][k])
