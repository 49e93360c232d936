"""Packed sequences (nn.utils.rnn) and RNN / GRU / LSTM on them, against PyTorch: layouts,
errors, values and gradients; and what minitorch.compile does with a step that packs."""

from __future__ import annotations  # noqa: I001  (minitorch must come before torch)

import minitorch as mt
import minitorch.nn as mnn
import numpy as np
import pytest
from layer_parity import load_from_torch
from parity import torch
from minitorch.jit import TraceError

M, T = mt.nn.utils.rnn, torch.nn.utils.rnn
LIBS = {"mt": (mt, M), "torch": (torch, T)}


def _np(t):
    return t.detach().numpy()


def _close(a, b, atol=1e-5, what=""):
    np.testing.assert_allclose(_np(a), _np(b), atol=atol, rtol=1e-4, err_msg=what)


# ---- packing and unpacking ---------------------------------------------------------------------
@pytest.mark.parametrize("batch_first", [False, True])
@pytest.mark.parametrize(
    "lengths, enforce_sorted", [([5, 3, 3, 1], True), ([2, 5, 1, 4], False), ([3], True)]
)
def test_pack_pad_roundtrip_values_and_grads(batch_first, lengths, enforce_sorted):
    rng = np.random.default_rng(0)
    shape = (len(lengths), 6, 3) if batch_first else (6, len(lengths), 3)
    x = rng.standard_normal(shape).astype(np.float32)
    w = rng.standard_normal((len(lengths), 7, 3) if batch_first else (7, len(lengths), 3))
    seen = {}
    for name, (lib, rnn) in LIBS.items():
        xi = lib.tensor(x, requires_grad=True)
        packed = rnn.pack_padded_sequence(xi, lengths, batch_first, enforce_sorted)
        padded, lens = rnn.pad_packed_sequence(packed, batch_first, -2.0, total_length=7)
        (padded * lib.tensor(w.astype(np.float32))).sum().backward()
        seen[name] = packed, padded, lens, xi.grad
    (mp, mpad, mlen, mgrad), (tp, tpad, tlen, tgrad) = seen["mt"], seen["torch"]
    _close(mp.data, tp.data, what="data")
    assert mp.batch_sizes.tolist() == tp.batch_sizes.tolist()
    assert mp.batch_sizes.dtype == mt.int64 and not mp.batch_sizes.is_cuda
    for field in ("sorted_indices", "unsorted_indices"):
        mi, ti = getattr(mp, field), getattr(tp, field)
        assert (mi is None) == (ti is None) and (mi is None or mi.tolist() == ti.tolist())
    _close(mpad, tpad, what="padded")
    assert mlen.tolist() == tlen.tolist() and mlen.dtype == mt.int64
    _close(mgrad, tgrad, what="input grad")


def test_pack_sequence_unpack_unpad():
    rng = np.random.default_rng(1)
    seqs = [rng.standard_normal((n, 2)).astype(np.float32) for n in (2, 4, 1)]
    mp = M.pack_sequence([mt.tensor(s) for s in seqs], enforce_sorted=False)
    tp = T.pack_sequence([torch.tensor(s) for s in seqs], enforce_sorted=False)
    _close(mp.data, tp.data)
    assert mp.batch_sizes.tolist() == tp.batch_sizes.tolist()
    for a, b in zip(M.unpack_sequence(mp), seqs, strict=True):
        np.testing.assert_array_equal(_np(a), b)
    with pytest.raises(RuntimeError, match="must be sorted in decreasing order"):
        M.pack_sequence([mt.tensor(s) for s in seqs])
    padded = M.pad_sequence([mt.tensor(s) for s in seqs])
    for a, b in zip(M.unpad_sequence(padded, mt.tensor([2, 4, 1])), seqs):
        np.testing.assert_array_equal(_np(a), b)
    assert padded.shape == (4, 3, 2)  # not transposed in place
    out = M.unpad_sequence(padded.transpose(0, 1), [2, 4, 1], batch_first=True)
    assert [tuple(o.shape) for o in out] == [(2, 2), (4, 2), (1, 2)]


def test_packed_sequence_is_torchs_named_tuple():
    p = M.pack_sequence([mt.ones(3, 2), mt.ones(1, 2)])
    data, batch_sizes, sorted_indices, unsorted_indices = p
    assert M.PackedSequence._fields == T.PackedSequence._fields
    assert batch_sizes.tolist() == [2, 1, 1] and sorted_indices is None
    assert not p.is_cuda and p.to("cpu") is p and p.cpu() is p
    assert p.double().data.dtype == mt.float64 and p.double().batch_sizes.dtype == mt.int64
    q = M.PackedSequence(p.data, p.batch_sizes, mt.tensor([1, 0]))
    assert q.unsorted_indices.tolist() == [1, 0]
    padded, lengths = M.pad_packed_sequence(M.PackedSequence((p.data, p.batch_sizes)))
    assert lengths.tolist() == [3, 1] and padded.shape == (3, 2, 2)


@pytest.mark.parametrize(
    "shape, lengths, kwargs",
    [
        ((4, 3, 2), [2, 3, 1], {}),  # not sorted
        ((4, 3, 2), [3, 2, 0], {}),  # a zero length
        ((4, 3, 2), [3, 0, 2], dict(enforce_sorted=False)),
        ((4, 3, 2), [3, 2], {}),  # len(lengths) != batch
        ((4,), [4], {}),
    ],
)
def test_pack_errors_match_torch(shape, lengths, kwargs):
    with pytest.raises(Exception) as expected:
        T.pack_padded_sequence(torch.zeros(shape), lengths, **kwargs)
    with pytest.raises(expected.type) as got:
        M.pack_padded_sequence(mt.zeros(shape), lengths, **kwargs)
    # torch's message (its first sentence), with the function's name and what was passed
    if expected.type is not IndexError:  # (torch's is about a dimension of its C++ code)
        assert str(expected.value).split(". ")[0] in str(got.value), str(got.value)


def test_pack_and_pad_errors_of_our_own():
    with pytest.raises(RuntimeError, match=r"pack_padded_sequence\(\): a length of 5 .* 4 time"):
        M.pack_padded_sequence(mt.zeros(4, 2, 1), [5, 2])  # torch reads past the input
    with pytest.raises(RuntimeError, match="Cannot pack empty tensors"):
        M.pack_padded_sequence(mt.zeros(0, 2, 1), [1, 1])
    p = M.pack_sequence([mt.ones(3, 2)])
    with pytest.raises(ValueError, match="total_length=2 and max sequence length being 3"):
        M.pad_packed_sequence(p, total_length=2)


# ---- recurrent layers on packed input ----------------------------------------------------------
def _run_packed(lib, rnn, module, x, lengths, states, batch_first, enforce_sorted, w):
    """Pack x, run module, unpack; backward of a weighted sum of everything it returns."""
    xi = lib.tensor(x, requires_grad=True)
    hx = [lib.tensor(s, requires_grad=True) for s in states]
    packed = rnn.pack_padded_sequence(xi, lengths, batch_first, enforce_sorted)
    arg = None if not hx else (hx[0] if len(hx) == 1 else tuple(hx))
    out, final = module(packed, arg)
    finals = list(final) if isinstance(final, tuple) else [final]
    padded, _ = rnn.pad_packed_sequence(out, batch_first)
    loss = (padded * lib.tensor(w[0])).sum()
    for f, wf in zip(finals, w[1:]):
        loss = loss + (f * lib.tensor(wf)).sum()
    loss.backward()
    grads = [xi.grad] + [h.grad for h in hx] + [p.grad for p in module.parameters()]
    return [out.data, padded] + finals, grads


CASES = [  # (kwargs, lengths, enforce_sorted, with h0)
    (dict(), [5, 3, 3, 1], True, False),
    (dict(bidirectional=True), [2, 5, 1, 4, 5], False, True),
    (dict(num_layers=2, batch_first=True), [4, 1, 3], False, False),
    (dict(num_layers=2, bidirectional=True, batch_first=True), [3, 5, 3, 2], False, True),
    (dict(num_layers=2, bidirectional=True), [4, 4], True, True),  # one run of one length
]


@pytest.mark.parametrize("cls", ["RNN", "GRU", "LSTM"])
@pytest.mark.parametrize("kwargs, lengths, enforce_sorted, with_h0", CASES)
def test_recurrent_layers_on_packed_input(cls, kwargs, lengths, enforce_sorted, with_h0):
    rng = np.random.default_rng(len(lengths))
    batch, steps, hidden = len(lengths), max(lengths), 6
    batch_first = kwargs.get("batch_first", False)
    x = rng.standard_normal((batch, steps, 4) if batch_first else (steps, batch, 4))
    n_states = 2 if cls == "LSTM" else 1
    d = (2 if kwargs.get("bidirectional") else 1) * kwargs.get("num_layers", 1)
    state_shape = (d, batch, hidden)
    states = [rng.standard_normal(state_shape).astype(np.float32) for _ in range(n_states)]
    out_shape = x.shape[:2] + (hidden * (2 if kwargs.get("bidirectional") else 1),)
    w = [rng.standard_normal(out_shape).astype(np.float32)]
    w += [rng.standard_normal(state_shape).astype(np.float32) for _ in range(n_states)]
    t = getattr(torch.nn, cls)(4, hidden, **kwargs)
    m = getattr(mnn, cls)(4, hidden, **kwargs)
    load_from_torch(m, t)
    args = (x.astype(np.float32), lengths, states if with_h0 else [], batch_first)
    m_vals, m_grads = _run_packed(mt, M, m, *args, enforce_sorted, w)
    t_vals, t_grads = _run_packed(torch, T, t, *args, enforce_sorted, w)
    for name, a, b in zip(["packed data", "padded", "h_n", "c_n"], m_vals, t_vals):
        _close(a, b, what=name)
    names = ["input", *(f"state {i}" for i in range(len(args[2])))]
    names += [n for n, _ in t.named_parameters()]
    for name, a, b in zip(names, m_grads, t_grads, strict=True):
        _close(a, b, atol=1e-4, what=f"grad of {name}")


def test_packed_output_keeps_the_packing():
    lstm = mnn.LSTM(3, 5)
    packed = M.pack_padded_sequence(mt.randn(4, 3, 3), [2, 4, 1], enforce_sorted=False)
    out, (h, c) = lstm(packed)
    assert isinstance(out, M.PackedSequence) and out.data.shape == (7, 5)
    assert out.batch_sizes is packed.batch_sizes and out.batch_sizes.tolist() == [3, 2, 1, 1]
    assert out.sorted_indices.tolist() == [1, 0, 2] and out.unsorted_indices.tolist() == [1, 0, 2]
    assert h.shape == c.shape == (1, 3, 5)


def test_packed_input_errors():
    gru = mnn.GRU(3, 5)
    packed = M.pack_sequence([mt.ones(2, 4)])
    with pytest.raises(RuntimeError, match=r"GRU: a PackedSequence's data must be \(N, input"):
        gru(packed)
    packed = M.pack_sequence([mt.ones(2, 3), mt.ones(1, 3)])
    with pytest.raises(RuntimeError, match=r"Expected hidden size \(1, 2, 5\), got \[1, 3, 5\]"):
        gru(packed, mt.zeros(1, 3, 5))


# ---- minitorch.compile -------------------------------------------------------------------------
def _step_and_model():
    mt.manual_seed(0)
    model = mnn.GRU(3, 4, bidirectional=True)

    def step(x, lengths):
        packed = M.pack_padded_sequence(x, lengths, enforce_sorted=False)
        out, h = model(packed)
        padded, _ = M.pad_packed_sequence(out)
        loss = (padded * padded).sum() + h.sum()
        loss.backward()
        return loss

    return model, step


def test_compile_guards_lengths_given_as_a_list():
    """Lengths as a Python list are part of the trace's key: new lengths trace again, and each
    call agrees with an eager run of the same step."""
    model, step = _step_and_model()
    compiled = mt.compile(step)
    x = mt.tensor(np.random.default_rng(0).standard_normal((5, 3, 3)).astype(np.float32))
    losses = {}
    for lengths in ([5, 2, 3], [5, 2, 3], [5, 2, 3], [1, 5, 4], [1, 5, 4], [1, 5, 4], [5, 2, 3]):
        model.zero_grad()
        got = compiled(x, lengths)
        got_grads = [p.grad.clone() for p in model.parameters()]
        model.zero_grad()
        want = step(x, lengths)
        _close(got, want, what=f"loss, lengths={lengths}")
        for a, p in zip(got_grads, model.parameters()):
            _close(a, p.grad, what=f"grad, lengths={lengths}")
        losses[tuple(lengths)] = got.item()
    assert losses[(5, 2, 3)] != pytest.approx(losses[(1, 5, 4)])  # the lengths matter
    assert compiled.stats.traces == 2 and compiled.stats.replays == 4, compiled.stats
    assert compiled.stats.retraces[0].startswith("argument 1[0] changed")  # lengths[0]: 5 -> 1


def test_compile_refuses_lengths_given_as_a_tensor():
    model, step = _step_and_model()
    compiled = mt.compile(step)
    x = mt.randn(5, 3, 3)
    lengths = mt.tensor([5, 2, 3])
    compiled(x, lengths)  # the first call runs eagerly
    with pytest.raises(TraceError, match="pack_padded_sequence"):
        compiled(x, lengths)


def test_compile_refuses_a_packed_sequence_argument():
    """A trace's key holds only the shape of an argument's batch_sizes: two packings of one
    shape ([3, 2, 2] and [3, 3, 1]) would share a trace, so reading them is refused."""
    model = mnn.GRU(3, 4)

    def step(packed):
        out, h = model(packed)
        loss = h.sum() + out.data.sum()
        loss.backward()
        return loss

    compiled = mt.compile(step)
    x = mt.randn(3, 3, 3)
    compiled(M.pack_padded_sequence(x, [3, 2, 2]))
    with pytest.raises(TraceError, match=r"forward, called at .*\.tolist\(\) at .*_batch_sizes"):
        compiled(M.pack_padded_sequence(x, [3, 3, 1]))
    eager = mt.compile(step, fallback="eager")
    with pytest.warns(RuntimeWarning, match="step eagerly"):
        for lengths in ([3, 2, 2], [3, 2, 2], [3, 3, 1], [3, 3, 1]):
            packed = M.pack_padded_sequence(x, lengths)
            _close(eager(packed), step(packed), what=f"lengths={lengths}")
