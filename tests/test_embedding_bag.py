"""F.embedding_bag and nn.EmbeddingBag against PyTorch: values, gradients, errors."""

import numpy as np
import pytest

import minitorch

torch = pytest.importorskip("torch")
MF, TF = minitorch.nn.functional, torch.nn.functional
RNG = np.random.default_rng(0)
WEIGHT = RNG.standard_normal((10, 3)).astype(np.float32)
IDS = np.array([1, 2, 4, 5, 4, 3, 2, 9])

INPUTS = {  # name: (input, offsets, include_last_offset)
    "2d": (IDS.reshape(2, 4), None, False),
    "offsets_with_empty_bag": (IDS, np.array([0, 4, 4, 6]), False),
    "include_last_offset": (IDS, np.array([0, 3, 7, 8]), True),
}


def _both(fn_m, fn_t, inp, offsets, psw=None, **kw):
    """Run one embedding_bag call in both libraries; return outputs and weight grads."""
    results = []
    for lib, fn in ((minitorch, fn_m), (torch, fn_t)):
        w = lib.tensor(WEIGHT, requires_grad=True)
        off = None if offsets is None else lib.tensor(offsets)
        p = None if psw is None else lib.tensor(psw, requires_grad=True)
        out = fn(lib.tensor(inp), w, off, per_sample_weights=p, **kw)
        out.backward(lib.tensor(np.arange(out.numel(), dtype=np.float32).reshape(out.shape)))
        results.append((out, w.grad, None if p is None else p.grad))
    return results


@pytest.mark.parametrize("case", INPUTS)
@pytest.mark.parametrize("mode", ["sum", "mean", "max"])
@pytest.mark.parametrize("padding_idx", [None, 2])
def test_values_and_grads_match_torch(case, mode, padding_idx):
    inp, offsets, last = INPUTS[case]
    kw = {"mode": mode, "include_last_offset": last, "padding_idx": padding_idx}
    ours, theirs = _both(MF.embedding_bag, TF.embedding_bag, inp, offsets, **kw)
    assert tuple(ours[0].shape) == tuple(theirs[0].shape)
    assert ours[0].dtype.name == "float32"
    np.testing.assert_allclose(ours[0].detach().numpy(), theirs[0].detach().numpy(), atol=1e-6)
    np.testing.assert_allclose(ours[1].numpy(), theirs[1].numpy(), atol=1e-5)


@pytest.mark.parametrize("case", INPUTS)
def test_per_sample_weights_sum_grads_to_both(case):
    inp, offsets, last = INPUTS[case]
    psw = RNG.standard_normal(inp.shape).astype(np.float32)
    kw = {"mode": "sum", "include_last_offset": last, "padding_idx": 4}
    ours, theirs = _both(MF.embedding_bag, TF.embedding_bag, inp, offsets, psw, **kw)
    np.testing.assert_allclose(ours[0].detach().numpy(), theirs[0].detach().numpy(), atol=1e-5)
    np.testing.assert_allclose(ours[1].numpy(), theirs[1].numpy(), atol=1e-5)
    np.testing.assert_allclose(ours[2].numpy(), theirs[2].numpy(), atol=1e-5)


def test_module_matches_torch_and_repr():
    for lib in (minitorch, torch):
        lib.manual_seed(0)
    m = minitorch.nn.EmbeddingBag(10, 3, mode="max", _weight=minitorch.tensor(WEIGHT))
    t = torch.nn.EmbeddingBag(10, 3, mode="max", _weight=torch.tensor(WEIGHT))
    assert repr(m) == repr(t)
    out_m = m(minitorch.tensor(IDS), minitorch.tensor([0, 5]))
    out_t = t(torch.tensor(IDS), torch.tensor([0, 5]))
    np.testing.assert_allclose(out_m.detach().numpy(), out_t.detach().numpy())
    assert list(m.state_dict()) == list(t.state_dict())
    assert repr(minitorch.nn.EmbeddingBag(5, 2, padding_idx=1)) == repr(
        torch.nn.EmbeddingBag(5, 2, padding_idx=1)
    )


@pytest.mark.parametrize(
    "call",
    [
        lambda F, lib: F.embedding_bag(lib.tensor(IDS), lib.tensor(WEIGHT), mode="median"),
        lambda F, lib: F.embedding_bag(lib.tensor(IDS), lib.tensor(WEIGHT)),
        lambda F, lib: F.embedding_bag(
            lib.tensor(IDS.reshape(2, 4)), lib.tensor(WEIGHT), lib.tensor([0, 1])
        ),
        lambda F, lib: F.embedding_bag(
            lib.tensor(IDS),
            lib.tensor(WEIGHT),
            lib.tensor([0, 1]),
            mode="mean",
            per_sample_weights=lib.ones(8),
        ),
    ],
)
def test_errors_match_torch(call):
    with pytest.raises(Exception) as theirs:
        call(TF, torch)
    with pytest.raises(type(theirs.value), match="embedding_bag|mode|offsets"):
        call(MF, minitorch)
