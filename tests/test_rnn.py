"""RNN, LSTM, GRU and their cells against PyTorch: state_dict keys, values and gradients."""

from __future__ import annotations  # noqa: I001  (minitorch must come before torch)

import math
import multiprocessing
import os
import threading

import minitorch as mt
import minitorch.nn as mnn
import numpy as np
import pytest
from layer_parity import check_layer, load_from_torch
from parity import torch

tnn = torch.nn
STATES = {"RNN": 1, "GRU": 1, "LSTM": 2}


def _hx(cls, shape):
    """The h0 argument: a shape for RNN/GRU, a (h0, c0) pair of shapes for LSTM."""
    return shape if STATES[cls] == 1 else (shape, shape)


@pytest.mark.parametrize("cls", ["RNN", "GRU", "LSTM"])
@pytest.mark.parametrize(
    "kwargs, x, h0",
    [
        ({}, (6, 3, 5), None),
        (dict(num_layers=2, bidirectional=True, batch_first=True), (3, 6, 5), (4, 3, 7)),
        (dict(num_layers=3, bias=False), (4, 2, 5), (3, 2, 7)),
        (dict(bidirectional=True), (6, 5), (2, 7)),  # unbatched
        ({}, (1, 1, 5), (1, 1, 7)),
    ],
)
def test_recurrent_layers(cls, kwargs, x, h0):
    m, t = getattr(mnn, cls)(5, 7, **kwargs), getattr(tnn, cls)(5, 7, **kwargs)
    inputs = (x,) if h0 is None else (x, _hx(cls, h0))
    check_layer(m, t, *inputs)


def test_rnn_relu():
    kw = dict(nonlinearity="relu", num_layers=2, bidirectional=True)
    check_layer(mnn.RNN(4, 6, **kw), tnn.RNN(4, 6, **kw), (5, 3, 4), (4, 3, 6))


@pytest.mark.parametrize("cls", ["RNN", "GRU", "LSTM"])
def test_parameter_names_repr_and_init(cls):
    kw = dict(num_layers=2, bidirectional=True, dropout=0.25, batch_first=True)
    m, t = getattr(mnn, cls)(5, 16, **kw), getattr(tnn, cls)(5, 16, **kw)
    assert [(n, tuple(p.shape)) for n, p in m.named_parameters()] == [
        (n, tuple(p.shape)) for n, p in t.named_parameters()
    ]
    assert repr(m) == repr(t)
    bound = 1 / math.sqrt(16)
    values = np.concatenate([p.detach().numpy().ravel() for p in m.parameters()])
    assert np.abs(values).max() <= bound and values.std() == pytest.approx(bound / 3**0.5, 0.1)


@pytest.mark.parametrize("cls, chunks", [("RNNCell", 1), ("GRUCell", 3), ("LSTMCell", 4)])
def test_cells(cls, chunks):
    m, t = getattr(mnn, cls)(5, 7), getattr(tnn, cls)(5, 7)
    assert tuple(m.weight_ih.shape) == (chunks * 7, 5)
    check_layer(m, t, (3, 5))
    h = (3, 7) if cls != "LSTMCell" else ((3, 7), (3, 7))
    check_layer(m, t, (3, 5), h)
    check_layer(m, t, (5,), (7,) if cls != "LSTMCell" else ((7,), (7,)))


@pytest.mark.parametrize("cls", ["GRU", "LSTM"])
def test_dropout_between_layers(cls):
    m, t = (
        getattr(mnn, cls)(4, 8, num_layers=2, dropout=0.5),
        getattr(tnn, cls)(4, 8, 2, dropout=0.5),
    )
    load_from_torch(m, t)
    x = np.random.default_rng(0).standard_normal((5, 3, 4)).astype(np.float32)
    mt.manual_seed(0)
    train = m(mt.tensor(x))[0].detach().numpy()
    m.eval()
    t.eval()
    evald = m(mt.tensor(x))[0].detach().numpy()
    np.testing.assert_allclose(evald, t(torch.tensor(x))[0].detach().numpy(), atol=1e-5)
    assert not np.allclose(train, evald)


def test_gru_sequence_model_with_carried_hidden_state():
    """Truncated BPTT: the hidden state of one chunk (detached) starts the next."""
    m, t = mnn.GRU(3, 6, batch_first=True), tnn.GRU(3, 6, batch_first=True)
    load_from_torch(m, t)
    rng = np.random.default_rng(0)
    mh, th = mt.zeros(1, 2, 6), torch.zeros(1, 2, 6)
    for _ in range(3):
        x = rng.standard_normal((2, 4, 3)).astype(np.float32)
        mo, mh = m(mt.tensor(x), mh.detach())
        to, th = t(torch.tensor(x), th.detach())
        mo[:, -1].sum().backward()
        to[:, -1].sum().backward()
        np.testing.assert_allclose(mh.detach().numpy(), th.detach().numpy(), atol=1e-5)
    for (name, p), q in zip(m.named_parameters(), t.parameters()):
        np.testing.assert_allclose(p.grad.numpy(), q.grad.numpy(), atol=1e-4, err_msg=name)


@pytest.mark.parametrize(
    "cls, kwargs", [("GRU", {}), ("LSTM", {}), ("RNN", {"nonlinearity": "relu"})]
)
@pytest.mark.parametrize("blas", [True, False], ids=["openblas", "loops"])
def test_batch_split_over_threads(cls, kwargs, blas, monkeypatch):
    """Batch rows in three ranges, each running the whole sequence on its own thread (forward
    and backward, both directions): the same values and gradients as PyTorch, with the step
    products through OpenBLAS or through the loops used where it cannot be found."""
    from minitorch.kernels.cpu import cblas  # noqa: PLC0415
    from minitorch.ops import rnn  # noqa: PLC0415

    monkeypatch.setattr(rnn, "MIN_ROWS", 2)
    monkeypatch.setattr(rnn, "MIN_STEP_MACS", 1)
    monkeypatch.setattr(rnn.numba, "get_num_threads", lambda: 3)
    if not blas:
        monkeypatch.setattr(cblas, "gemm_function", lambda dtype: (0, 0))
    calls = []
    mode = {"GRU": "gru", "LSTM": "lstm", "RNN": "rnn_relu"}[cls]
    for direction, kernel in enumerate(rnn.K.SEQUENCES[mode]):

        def spy(*args, kernel=kernel, direction=direction):
            calls.append((direction, threading.get_ident(), args[-3:-1]))
            kernel(*args)

        sequences = dict(rnn.K.SEQUENCES)
        sequences[mode] = tuple(spy if k is kernel else k for k in sequences[mode])
        monkeypatch.setattr(rnn.K, "SEQUENCES", sequences)
    kw = dict(num_layers=2, bidirectional=True, **kwargs)
    m, t = getattr(mnn, cls)(5, 7, **kw), getattr(tnn, cls)(5, 7, **kw)
    check_layer(m, t, (6, 7, 5), _hx(cls, (4, 7, 7)))
    for direction in (0, 1):
        mine = [(thread, rows) for d, thread, rows in calls if d == direction]
        assert {rows for _, rows in mine} == {(0, 2), (2, 4), (4, 7)}
        assert len({thread for thread, _ in mine}) >= 2  # not all on the caller


def _split_gru_in_child(queue):
    m = mnn.GRU(5, 7)
    queue.put(m(mt.randn(4, 8, 5))[0].shape == (4, 8, 7))


@pytest.mark.skipif(not hasattr(os, "fork"), reason="no fork on this platform")
def test_row_range_threads_work_in_a_forked_child(monkeypatch):
    """A forked child (a DataLoader worker) gets a fresh thread pool, not the parent's dead
    one: its split recurrences finish."""
    from minitorch.ops import rnn  # noqa: PLC0415

    monkeypatch.setattr(rnn, "MIN_ROWS", 2)
    monkeypatch.setattr(rnn, "MIN_STEP_MACS", 1)
    monkeypatch.setattr(rnn.numba, "get_num_threads", lambda: 2)
    mnn.GRU(5, 7)(mt.randn(4, 8, 5))
    assert rnn._pool[0] is not None
    context = multiprocessing.get_context("fork")
    queue = context.Queue()
    child = context.Process(target=_split_gru_in_child, args=(queue,))
    child.start()
    child.join(timeout=120)
    if child.is_alive():
        child.kill()
    assert child.exitcode == 0 and queue.get(timeout=5)


def test_long_sequence():
    check_layer(mnn.LSTM(2, 3), tnn.LSTM(2, 3), (400, 2, 2), atol=1e-4)


def test_errors():
    lstm = mnn.LSTM(5, 7)
    with pytest.raises(RuntimeError, match="input_size"):
        lstm(mt.randn(4, 2, 6))
    with pytest.raises(RuntimeError, match=r"Expected hidden\[0\] size"):
        lstm(mt.randn(4, 2, 5), (mt.zeros(1, 3, 7), mt.zeros(1, 2, 7)))
    with pytest.raises(RuntimeError, match="Expected hidden size"):
        mnn.GRU(5, 7)(mt.randn(4, 2, 5), mt.zeros(2, 2, 7))
    with pytest.raises(ValueError, match="nonlinearity"):
        mnn.RNN(5, 7, nonlinearity="sigmoid")
    with pytest.warns(UserWarning, match="num_layers greater than 1"):
        mnn.GRU(5, 7, dropout=0.5)


@pytest.mark.parametrize("cls", ["RNN", "GRU", "LSTM"])
def test_float64_gradcheck(cls):
    m = getattr(mnn, cls)(3, 4, num_layers=2, bidirectional=True).double()
    rng = np.random.default_rng(0)
    x = mt.tensor(rng.standard_normal((5, 2, 3)), requires_grad=True)
    h = mt.tensor(rng.standard_normal((4, 2, 4)), requires_grad=True)
    hx = lambda h: (h, h * 0.5) if cls == "LSTM" else h
    assert mt.autograd.gradcheck(lambda x, h: m(x, hx(h))[0], (x, h))


# ---- LSTM proj_size ---------------------------------------------------------------------------
# torch's CPU LSTM warns that oneDNN has no projections and runs its default implementation
PROJ_WARNING = "ignore:LSTM with projections is not supported with oneDNN"


@pytest.mark.filterwarnings(PROJ_WARNING)
@pytest.mark.parametrize(
    "kwargs, x, hx",
    [
        ({}, (6, 3, 5), None),
        (
            dict(num_layers=2, bidirectional=True, batch_first=True),
            (3, 6, 5),
            ((4, 3, 4), (4, 3, 7)),
        ),
        (dict(num_layers=3, bias=False), (4, 2, 5), ((3, 2, 4), (3, 2, 7))),
        (dict(bidirectional=True), (6, 5), ((2, 4), (2, 7))),  # unbatched
    ],
)
def test_lstm_proj_size_matches_torch(kwargs, x, hx):
    m, t = mnn.LSTM(5, 7, proj_size=4, **kwargs), tnn.LSTM(5, 7, proj_size=4, **kwargs)
    check_layer(m, t, *((x,) if hx is None else (x, hx)))


def test_lstm_proj_size_parameters_state_dict_and_repr():
    kw = dict(num_layers=2, bidirectional=True, proj_size=3)
    m, t = mnn.LSTM(5, 8, **kw), tnn.LSTM(5, 8, **kw)
    assert [(n, tuple(p.shape)) for n, p in m.named_parameters()] == [
        (n, tuple(p.shape)) for n, p in t.named_parameters()
    ]
    assert list(m.state_dict()) == list(t.state_dict())
    assert repr(m) == repr(t)
    bound = 1 / math.sqrt(8)
    values = np.concatenate([p.detach().numpy().ravel() for p in m.parameters()])
    assert np.abs(values).max() <= bound


@pytest.mark.filterwarnings(PROJ_WARNING)
def test_lstm_proj_size_packed_sequence():
    lengths = [5, 3, 3, 1]
    x = np.random.default_rng(1).standard_normal((5, 4, 2)).astype(np.float32)
    kw = dict(bidirectional=True, proj_size=2)
    m, t = mnn.LSTM(2, 3, **kw), tnn.LSTM(2, 3, **kw)
    load_from_torch(m, t)
    pm = mnn.utils.rnn.pack_padded_sequence(mt.tensor(x), lengths, enforce_sorted=False)
    pt = tnn.utils.rnn.pack_padded_sequence(torch.tensor(x), lengths, enforce_sorted=False)
    (om, (hm, cm)), (ot, (ht, ct)) = m(pm), t(pt)
    for a, b in ((om.data, ot.data), (hm, ht), (cm, ct)):
        np.testing.assert_allclose(a.detach().numpy(), b.detach().numpy(), atol=1e-5)


def test_lstm_proj_size_errors_and_gradcheck():
    with pytest.raises(ValueError, match="proj_size has to be smaller than hidden_size"):
        mnn.LSTM(5, 7, proj_size=7)
    with pytest.raises(ValueError, match="proj_size should be a positive integer or zero"):
        mnn.LSTM(5, 7, proj_size=-1)
    with pytest.raises(ValueError, match="only supported for LSTM"):
        mnn.RNNBase("GRU", 5, 7, proj_size=3)
    lstm = mnn.LSTM(5, 7, proj_size=3)
    with pytest.raises(RuntimeError, match=r"Expected hidden\[0\] size \(1, 2, 3\)"):
        lstm(mt.randn(4, 2, 5), (mt.zeros(1, 2, 7), mt.zeros(1, 2, 7)))
    m = mnn.LSTM(3, 4, num_layers=2, bidirectional=True, proj_size=2).double()
    rng = np.random.default_rng(0)
    x = mt.tensor(rng.standard_normal((5, 2, 3)), requires_grad=True)
    h = mt.tensor(rng.standard_normal((4, 2, 2)), requires_grad=True)
    c = mt.tensor(rng.standard_normal((4, 2, 4)), requires_grad=True)
    assert mt.autograd.gradcheck(lambda x, h, c: m(x, (h, c))[0], (x, h, c))
