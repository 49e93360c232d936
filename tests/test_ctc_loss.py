"""F.ctc_loss / nn.CTCLoss / torch.ctc_loss against PyTorch: values and gradients on random
problems (both target layouts, every reduction, repeated labels, impossible alignments),
PyTorch's errors, and the loss inside minitorch.compile."""

# NOTE: minitorch (numba/LLVM) is imported before torch (see DESIGN.md, LLVM load order).
import numpy as np  # noqa: I001  (minitorch must come before torch)
import pytest

import minitorch as mt
import minitorch.nn as mnn
import minitorch.nn.functional as MF
import torch

TF = torch.nn.functional


def _problem(seed, T, N, C, S, repeat=False):
    """Logits (T, N, C), padded targets (N, S) in 1..C-1, and lengths that fit."""
    rng = np.random.default_rng(seed)
    logits = rng.standard_normal((T, N, C))
    targets = rng.integers(1, C, (N, S))
    if repeat:  # runs of one label need a blank between them: a longer minimal alignment
        targets[:, : max(S // 2, 1)] = targets[:, :1]
    target_lengths = rng.integers(0, S + 1, N)
    target_lengths[0] = S
    input_lengths = rng.integers(1, T + 1, N)
    input_lengths[0] = T
    return logits, targets, input_lengths, target_lengths


def _both(logits, targets, input_lengths, target_lengths, concat, reduction, **kw):
    """The loss and the logits' gradient from both libraries (targets padded or concatenated)."""
    if concat:
        targets = np.concatenate([row[:n] for row, n in zip(targets, target_lengths)])
    out = []
    for lib, F in ((mt, MF), (torch, TF)):
        x = lib.tensor(logits, requires_grad=True)
        loss = F.ctc_loss(
            x.log_softmax(-1),
            lib.tensor(targets),
            tuple(int(n) for n in input_lengths),
            # (minitorch takes a tuple and a tensor mixed; torch wants one kind)
            lib.tensor(target_lengths) if lib is mt else tuple(int(n) for n in target_lengths),
            reduction=reduction,
            **kw,
        )
        loss.sum().backward()
        out.append((loss.detach().numpy(), x.grad.numpy()))
    return out


@pytest.mark.parametrize("concat", [False, True], ids=["padded", "concatenated"])
@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
@pytest.mark.parametrize(
    "T, N, C, S, repeat",
    [(1, 1, 2, 1, False), (6, 1, 4, 2, False), (8, 3, 5, 3, True), (12, 4, 6, 5, True)],
)
def test_values_and_gradients_match_torch(T, N, C, S, repeat, reduction, concat):
    problem = _problem(T * 100 + N, T, N, C, S, repeat)
    (got, got_grad), (want, want_grad) = _both(*problem, concat, reduction)
    assert got.shape == want.shape
    np.testing.assert_allclose(got, want, rtol=1e-10, atol=1e-10)
    # an impossible alignment (inf loss) has a nan gradient in both (PyTorch's nan covers all
    # of that sample's frames, ours some of them): compare the other samples
    possible = np.isfinite(TF.ctc_loss(*_torch_args(problem), reduction="none").numpy())
    assert not np.isfinite(got_grad[:, ~possible]).all(axis=(0, 2)).any()
    np.testing.assert_allclose(got_grad[:, possible], want_grad[:, possible], rtol=1e-9, atol=1e-10)


def _torch_args(problem):
    logits, targets, input_lengths, target_lengths = problem
    lp = torch.tensor(logits).log_softmax(-1)
    return lp, torch.tensor(targets), torch.tensor(input_lengths), torch.tensor(target_lengths)


def test_blank_elsewhere_and_float32():
    rng = np.random.default_rng(1)
    logits = rng.standard_normal((7, 2, 4)).astype(np.float32)
    targets = np.array([[0, 1, 1], [2, 0, 0]])
    out = []
    for lib, F in ((mt, MF), (torch, TF)):
        x = lib.tensor(logits, requires_grad=True)
        loss = F.ctc_loss(x.log_softmax(2), lib.tensor(targets), [7, 5], [3, 1], blank=3)
        loss.backward()
        out.append((loss.detach().numpy(), x.grad.numpy(), loss.dtype))
    assert str(out[0][2]).split(".")[-1] == str(out[1][2]).split(".")[-1] == "float32"
    np.testing.assert_allclose(out[0][0], out[1][0], rtol=1e-5)
    np.testing.assert_allclose(out[0][1], out[1][1], atol=1e-6)


@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
def test_zero_infinity_zeroes_an_impossible_alignment_and_its_gradient(reduction):
    # sample 1: target (2, 2) needs 3 frames (a blank between the repeats), it gets 2
    logits = np.random.default_rng(2).standard_normal((4, 2, 3))
    problem = (logits, np.array([[1, 2], [2, 2]]), np.array([4, 2]), np.array([2, 2]))
    for padded in (True, False):
        (inf, inf_grad), (want, _) = _both(*problem, not padded, "none")
        assert np.isinf(inf[1]) and np.isfinite(inf[0]) and inf[1] == want[1]
        assert np.isfinite(inf_grad[:, 0]).all() and np.isnan(inf_grad[:, 1]).any()
        (got, got_grad), (want, want_grad) = _both(
            *problem, not padded, reduction, zero_infinity=True
        )
        np.testing.assert_allclose(got, want, rtol=1e-10)
        np.testing.assert_allclose(got_grad, want_grad, atol=1e-10)
        assert (got_grad[:, 1] == 0).all()


def test_unbatched_and_length_types():
    logits = np.random.default_rng(3).standard_normal((5, 4))
    want = TF.ctc_loss(
        torch.tensor(logits).log_softmax(1),
        torch.tensor([1, 3, 3]),
        torch.tensor(5),
        torch.tensor(3),
        reduction="none",
    )
    lp = mt.tensor(logits).log_softmax(1)
    for lengths in ((mt.tensor(5), mt.tensor(3)), (5, 3), ([5], [3])):
        got = MF.ctc_loss(lp, mt.tensor([1, 3, 3]), *lengths, reduction="none")
        assert got.shape == () and got.item() == pytest.approx(want.item(), rel=1e-12)


def test_module_and_top_level_function():
    logits = np.random.default_rng(4).standard_normal((6, 2, 5))
    args = ([[1, 2, 2], [4, 0, 0]], (6, 4), (3, 1))
    for reduction, code in (("none", 0), ("mean", 1), ("sum", 2)):
        want = torch.nn.CTCLoss(blank=0, reduction=reduction)(
            torch.tensor(logits).log_softmax(2), torch.tensor(args[0]), *args[1:]
        )
        lp = mt.tensor(logits).log_softmax(2)
        module = mnn.CTCLoss(reduction=reduction)
        top = mt.ctc_loss(lp, mt.tensor(args[0]), *args[1:], 0, code, False)
        for got in (module(lp, mt.tensor(args[0]), *args[1:]), top):
            np.testing.assert_allclose(got.numpy(), want.numpy(), rtol=1e-12)
    default = mt.ctc_loss(lp, mt.tensor(args[0]), *args[1:])
    assert default.item() == pytest.approx(mnn.CTCLoss()(lp, mt.tensor(args[0]), *args[1:]).item())
    assert repr(mnn.CTCLoss()) == repr(torch.nn.CTCLoss()) == "CTCLoss()"


BAD = [  # (targets, input_lengths, target_lengths, kwargs, error, message)
    ([[1, 2], [1, 1]], (5, 5), (2, 6), {}, RuntimeError, "S at least 6 .*pad targets"),
    ([[1, 2], [1, 1]], (5, 6), (2, 2), {}, RuntimeError, "input_lengths .*at most 5.* 6"),
    ([[1, 2], [1, 1]], (5, -1), (2, 2), {}, RuntimeError, "input_lengths .*at least 0"),
    ([[1, 2], [1, 1]], (5, 5), (-1, 2), {}, RuntimeError, "target_lengths .*at least 0"),
    ([[1, 2], [1, 1]], (5,), (2, 2), {}, RuntimeError, "input_lengths must be of size batch"),
    ([[1, 2], [1, 1]], (5, 5), (2,), {}, RuntimeError, "target_lengths must be of size batch"),
    ([1, 2, 1], (5, 5), (2, 2), {}, RuntimeError, "size 4 .*sum of target_lengths.* size 3"),
    ([[1, 2], [1, 1]], (5, 5), (2, 2), {"blank": 4}, RuntimeError, "blank must be in label"),
    ([[1, 2], [1, 1]], (5, 5), (2, 2), {"reduction": "x"}, ValueError, "x is not a valid"),
]


@pytest.mark.parametrize("targets, il, tl, kw, error, message", BAD)
def test_errors_as_torch(targets, il, tl, kw, error, message):
    lp = np.log(np.full((5, 2, 4), 0.25))
    with pytest.raises(error):
        TF.ctc_loss(torch.tensor(lp), torch.tensor(targets), il, tl, **kw)
    with pytest.raises(error, match=message):
        MF.ctc_loss(mt.tensor(lp), mt.tensor(targets), il, tl, **kw)


def test_error_for_bad_log_probs_shape():
    with pytest.raises(RuntimeError, match=r"ctc_loss: expected log_probs of shape \(T, N, C\)"):
        MF.ctc_loss(mt.zeros(5, 2, 4, 1), mt.tensor([[1]]), (5, 5), (1, 1))


def _compiled_step(concat):
    """A training step on a linear layer ahead of the loss (lengths as the step's arguments)."""
    mt.manual_seed(0)
    layer = mnn.Linear(3, 5).double()

    def step(x, targets, input_lengths, target_lengths):
        lp = layer(x).log_softmax(2)
        loss = MF.ctc_loss(lp, targets, input_lengths, target_lengths)
        loss.backward()
        return loss

    return layer, step


@pytest.mark.parametrize("concat", [False, True], ids=["padded", "concatenated"])
@pytest.mark.parametrize("as_tensors", [False, True], ids=["tuples", "tensors"])
def test_compile_is_right_when_lengths_change(as_tensors, concat):
    """Lengths as tuples are part of the trace's key (new ones trace again); as tensors they
    are read by tensor ops only, so one trace replays right for any values."""
    layer, step = _compiled_step(concat)
    compiled = mt.compile(step)
    x = mt.tensor(np.random.default_rng(5).standard_normal((8, 3, 3)))
    padded = mt.tensor([[1, 2, 2, 3], [4, 4, 1, 1], [2, 0, 0, 0]])
    calls = [((8, 6, 5), (4, 2, 1)), ((8, 6, 5), (4, 2, 1)), ((8, 6, 5), (4, 2, 1))]
    calls += [((5, 8, 7), (4, 2, 1)), ((5, 8, 7), (2, 4, 1)), ((5, 8, 7), (2, 4, 1))]
    seen = set()
    for il, tl in calls:
        targets = padded
        if concat:  # (a fixed total length: the same argument shapes each call)
            targets = mt.cat([padded[i, : tl[i]] for i in range(3)])
        args = (mt.tensor(il), mt.tensor(tl)) if as_tensors else (il, tl)
        layer.zero_grad()
        got = compiled(x, targets, *args)
        got_grad = layer.weight.grad.clone()
        layer.zero_grad()
        want = step(x, targets, *args)
        assert got.item() == pytest.approx(want.item(), rel=1e-10), (il, tl)
        np.testing.assert_allclose(got_grad.numpy(), layer.weight.grad.numpy(), rtol=1e-9)
        seen.add(round(want.item(), 9))
    assert len(seen) == 3  # the lengths matter
    assert compiled.stats.traces == (1 if as_tensors else 3), compiled.stats
