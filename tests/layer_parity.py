"""Parity of a layer with its PyTorch twin: same weights (via state_dict), same inputs.

    from layer_parity import check_layer
    check_layer(mnn.Conv2d(3, 4, 3), tnn.Conv2d(3, 4, 3), (2, 3, 8, 8))

The torch module's state_dict is loaded into the minitorch module (so the keys must be
PyTorch's), both run on the same inputs, and outputs, input gradients and every parameter's
gradient must agree. Inputs are numpy arrays, shape tuples (seeded float32 data), tuples of
those (e.g. LSTM's (h0, c0)), None or plain values. Outputs may be nested tuples.
"""

from __future__ import annotations  # noqa: I001  (minitorch must come before torch)

import minitorch
import numpy as np
from parity import make_input, torch


def load_from_torch(mmod, tmod) -> None:
    """Copy tmod's state into mmod; the state_dict keys (and their order) must match."""
    tsd = tmod.state_dict()
    assert list(mmod.state_dict()) == list(tsd), (
        f"state_dict keys: minitorch={list(mmod.state_dict())} | torch={list(tsd)}"
    )
    mmod.load_state_dict({k: minitorch.tensor(v.detach().numpy()) for k, v in tsd.items()})


def _data(value, rng):
    """Shape tuples become seeded float32 arrays, recursively inside tuples of inputs."""
    if isinstance(value, tuple) and not all(isinstance(n, int) for n in value):
        return tuple(_data(v, rng) for v in value)
    return make_input(value, rng)


def _to(lib, value):
    if isinstance(value, tuple):
        return tuple(_to(lib, v) for v in value)
    if not isinstance(value, np.ndarray):
        return value
    grad = value.dtype.kind == "f"
    if lib is torch:
        return torch.tensor(value, requires_grad=grad)
    return minitorch.tensor(value, requires_grad=grad)


def _flat(value) -> list:
    if isinstance(value, (tuple, list)):
        return [leaf for v in value for leaf in _flat(v)]
    return [value]


def _np(t) -> np.ndarray:
    return np.asarray(t.detach().numpy())


def close(m, t, what: str, atol: float, rtol: float) -> None:
    a, b = _np(m), _np(t)
    assert a.shape == b.shape, f"{what}: shape mismatch: minitorch={a.shape} | torch={b.shape}"
    np.testing.assert_allclose(a, b, atol=atol, rtol=rtol, err_msg=what)


def check_layer(mmod, tmod, *inputs, forward=None, atol=1e-5, rtol=1e-4, seed=0, **kwargs):
    """Forward both layers on the same inputs; compare outputs and all gradients.

    forward(module, *inputs) replaces the call module(*inputs, **kwargs), e.g. to pass some
    inputs by keyword.
    """
    load_from_torch(mmod, tmod)
    rng = np.random.default_rng(seed)
    arrays = [_data(v, rng) for v in inputs]
    t_in, m_in = [_to(torch, a) for a in arrays], [_to(minitorch, a) for a in arrays]
    if forward is None:
        forward = lambda module, *xs: module(*xs, **kwargs)
    t_out, m_out = forward(tmod, *t_in), forward(mmod, *m_in)
    t_leaves, m_leaves = _flat(t_out), _flat(m_out)
    assert len(t_leaves) == len(m_leaves), f"outputs: minitorch={m_out!r} | torch={t_out!r}"
    t_loss = m_loss = 0
    for i, (m, t) in enumerate(zip(m_leaves, t_leaves)):
        if t is None:
            assert m is None, f"output {i}: minitorch={m!r} | torch=None"
            continue
        close(m, t, f"output {i}", atol, rtol)
        if t.requires_grad:
            w = rng.standard_normal(tuple(t.shape)).astype(np.float32)
            t_loss = t_loss + (t * torch.tensor(w)).sum()
            m_loss = m_loss + (m * minitorch.tensor(w)).sum()
    t_loss.backward()
    m_loss.backward()
    for i, (m, t) in enumerate(zip(_flat(m_in), _flat(t_in))):
        if isinstance(t, torch.Tensor) and t.grad is not None:
            close(m.grad, t.grad, f"grad of input {i}", atol, rtol)
    t_params = dict(tmod.named_parameters())
    for name, p in mmod.named_parameters():
        if t_params[name].grad is None:
            assert p.grad is None, f"grad of {name}: minitorch has one, torch None"
        else:
            close(p.grad, t_params[name].grad, f"grad of {name}", atol, rtol)
    return m_out, t_out
