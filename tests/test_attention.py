"""Attention and transformer layers against PyTorch: values, gradients, state_dict keys."""

from __future__ import annotations  # noqa: I001  (minitorch must come before torch)

import minitorch as mt
import minitorch.nn as mnn
import numpy as np
import pytest
from layer_parity import check_layer, close, load_from_torch
from parity import check, torch

tnn = torch.nn
TOL = dict(atol=1e-5, rtol=1e-4)
pytestmark = pytest.mark.filterwarnings("ignore:enable_nested_tensor is True")

CAUSAL = np.triu(np.ones((5, 5), dtype=bool), 1)  # True = masked out (nn.MultiheadAttention)
PADDED = np.array([[False] * 4 + [True], [False] * 5])  # batch 2, last key of sample 0 padded


# ---- F.scaled_dot_product_attention ------------------------------------------------------------
def _sdpa(**kwargs):
    return lambda lib, q, k, v, *mask: lib.nn.functional.scaled_dot_product_attention(
        q, k, v, *mask, **kwargs
    )


@pytest.mark.parametrize(
    "q, k, mask, kwargs",
    [
        ((2, 5, 8), (2, 7, 8), None, {}),
        ((2, 3, 5, 8), (2, 3, 7, 8), None, dict(scale=0.3)),
        ((2, 3, 5, 8), (2, 3, 7, 8), None, dict(is_causal=True)),
        ((2, 3, 5, 8), (2, 3, 5, 8), ~CAUSAL, {}),
        ((2, 3, 5, 8), (2, 3, 7, 8), (2, 1, 5, 7), {}),  # float mask, broadcast over heads
        ((2, 4, 5, 8), (2, 2, 7, 8), None, dict(enable_gqa=True)),
    ],
)
def test_scaled_dot_product_attention(q, k, mask, kwargs):
    masks = () if mask is None else (mask,)
    check(_sdpa(**kwargs), q, k, k, *masks, lib=True, **TOL)


def test_sdpa_dropout_drops_weights_and_rescales():
    q = mt.randn(4, 64, 8)
    mt.manual_seed(0)
    ones = mt.ones(4, 64, 1)
    out = mnn.functional.scaled_dot_product_attention(q, q, ones, dropout_p=0.5).numpy()
    # each output is sum(attn weights kept) / 0.5: 1 on average, not exactly 1 everywhere
    assert abs(out.mean() - 1) < 0.05 and out.std() > 0.05


def test_sdpa_causal_with_mask_is_an_error():
    with pytest.raises(RuntimeError):
        mnn.functional.scaled_dot_product_attention(
            mt.randn(1, 2, 4),
            mt.randn(1, 2, 4),
            mt.randn(1, 2, 4),
            attn_mask=mt.ones(2, 2, dtype=mt.bool),
            is_causal=True,
        )


# ---- nn.MultiheadAttention ---------------------------------------------------------------------
def _by_name(*names, **fixed):
    """forward(module, *inputs) passing the inputs after the first `len(inputs) - len(names)`
    by keyword (names), plus fixed keyword arguments."""

    def forward(module, *inputs):
        head = len(inputs) - len(names)
        return module(*inputs[:head], **dict(zip(names, inputs[head:])), **fixed)

    return forward


@pytest.mark.parametrize(
    "ctor, q, kv, extra, kwargs",
    [
        ({}, (5, 2, 16), (7, 2, 16), {}, {}),
        (dict(batch_first=True), (2, 5, 16), (2, 7, 16), {}, {}),
        (dict(batch_first=True), (2, 5, 16), (2, 5, 16), dict(attn_mask=CAUSAL), {}),
        (
            dict(batch_first=True),
            (2, 5, 16),
            (2, 5, 16),
            dict(key_padding_mask=PADDED, attn_mask=CAUSAL),
            dict(need_weights=False),
        ),
        ({}, (5, 2, 16), (5, 2, 16), dict(attn_mask=(8, 5, 5)), dict(average_attn_weights=False)),
        (dict(kdim=6, vdim=10), (5, 2, 16), None, {}, {}),
        (
            dict(bias=False, add_bias_kv=True, add_zero_attn=True),
            (5, 2, 16),
            (7, 2, 16),
            dict(key_padding_mask=np.zeros((2, 7), dtype=bool)),
            {},
        ),
        ({}, (5, 16), (7, 16), {}, {}),  # unbatched
    ],
)
def test_multihead_attention(ctor, q, kv, extra, kwargs):
    m, t = mnn.MultiheadAttention(16, 4, **ctor), tnn.MultiheadAttention(16, 4, **ctor)
    if kv is None:  # separate key/value widths
        k, v = (7, 2, ctor["kdim"]), (7, 2, ctor["vdim"])
    else:
        k = v = kv
    check_layer(m, t, q, k, v, *extra.values(), forward=_by_name(*extra, **kwargs))


def test_self_attention_with_masks_and_weights():
    """Self-attention (query is key is value) with bool and float masks, weights per head."""
    m = mnn.MultiheadAttention(16, 4, batch_first=True)
    t = tnn.MultiheadAttention(16, 4, batch_first=True)
    load_from_torch(m, t)
    x = np.random.default_rng(0).standard_normal((2, 5, 16)).astype(np.float32)
    float_mask = np.where(CAUSAL, -1e9, 0.0).astype(np.float32)
    for mask, kpm in ((CAUSAL, PADDED), (float_mask, None)):
        mx, tx = mt.tensor(x, requires_grad=True), torch.tensor(x, requires_grad=True)
        kw = lambda lib: dict(
            attn_mask=lib.tensor(mask),
            key_padding_mask=None if kpm is None else lib.tensor(kpm),
            average_attn_weights=False,
        )
        mo, mw = m(mx, mx, mx, **kw(mt))
        to, tw = t(tx, tx, tx, **kw(torch))
        close(mo, to, "output", **TOL)
        close(mw, tw, "weights", **TOL)
        (mo.sum() + (mw * mw).sum()).backward()
        (to.sum() + (tw * tw).sum()).backward()
        close(mx.grad, tx.grad, "grad of x", **TOL)


def test_multihead_attention_names_and_init():
    m, t = (
        mnn.MultiheadAttention(16, 4, add_bias_kv=True),
        tnn.MultiheadAttention(16, 4, add_bias_kv=True),
    )
    assert list(m.state_dict()) == list(t.state_dict())
    assert repr(m) == repr(t)
    assert np.all(m.in_proj_bias.detach().numpy() == 0) and np.all(
        m.out_proj.bias.detach().numpy() == 0
    )
    bound = (6 / (16 + 48)) ** 0.5  # xavier_uniform_ of the (48, 16) packed projection
    w = m.in_proj_weight.detach().numpy()
    assert np.abs(w).max() <= bound and w.std() == pytest.approx(bound / 3**0.5, rel=0.1)
    sep = mnn.MultiheadAttention(16, 4, kdim=6, vdim=10)
    assert list(sep.state_dict()) == list(
        tnn.MultiheadAttention(16, 4, kdim=6, vdim=10).state_dict()
    )
    with pytest.raises(AssertionError, match="divisible"):
        mnn.MultiheadAttention(10, 4)


def test_attention_dropout_only_in_training():
    m = mnn.MultiheadAttention(16, 4, dropout=0.5)
    x = mt.randn(5, 2, 16)
    mt.manual_seed(0)
    weights = lambda: m(x, x, x)[1].detach().numpy()
    a = weights()
    m.eval()
    b, c = weights(), weights()
    assert not np.allclose(a, b) and np.array_equal(b, c)
    np.testing.assert_allclose(b.sum(-1), 1, rtol=1e-5)


# ---- transformer layers ------------------------------------------------------------------------
@pytest.mark.parametrize("norm_first", [False, True])
@pytest.mark.parametrize("activation", ["relu", "gelu"])
@pytest.mark.parametrize("batch_first", [False, True])
def test_transformer_encoder_layer(norm_first, activation, batch_first):
    kw = dict(
        dim_feedforward=32,
        dropout=0.0,
        activation=activation,
        norm_first=norm_first,
        batch_first=batch_first,
    )
    m, t = mnn.TransformerEncoderLayer(16, 4, **kw), tnn.TransformerEncoderLayer(16, 4, **kw)
    check_layer(m, t, (2, 5, 16))


def test_transformer_encoder_layer_with_masks_and_callable_activation():
    kw = dict(dim_feedforward=32, dropout=0.0, batch_first=True)
    m = mnn.TransformerEncoderLayer(16, 4, activation=mnn.functional.silu, **kw)
    t = tnn.TransformerEncoderLayer(16, 4, activation=tnn.functional.silu, **kw)
    forward = _by_name("src_mask", "src_key_padding_mask")
    check_layer(m, t, (2, 5, 16), CAUSAL, PADDED, forward=forward)


def test_transformer_encoder_layer_dropout_and_eval():
    m = mnn.TransformerEncoderLayer(16, 4, 32, dropout=0.3)
    t = tnn.TransformerEncoderLayer(16, 4, 32, dropout=0.3)
    assert list(m.state_dict()) == list(t.state_dict()) and repr(m) == repr(t)
    load_from_torch(m, t)
    x = np.random.default_rng(0).standard_normal((5, 2, 16)).astype(np.float32)
    train = m(mt.tensor(x)).detach().numpy()
    m.eval()
    t.eval()
    with torch.no_grad():
        want = t(torch.tensor(x)).numpy()
    evald = m(mt.tensor(x)).detach().numpy()
    np.testing.assert_allclose(evald, want, atol=1e-5, rtol=1e-4)
    assert not np.allclose(train, evald)
    with pytest.raises(RuntimeError, match="relu/gelu"):
        mnn.TransformerEncoderLayer(16, 4, activation="tanh")


def test_transformer_encoder_stack():
    kw = dict(dim_feedforward=32, dropout=0.0, norm_first=True)
    m = mnn.TransformerEncoder(mnn.TransformerEncoderLayer(16, 4, **kw), 2, mnn.LayerNorm(16))
    t = tnn.TransformerEncoder(tnn.TransformerEncoderLayer(16, 4, **kw), 2, tnn.LayerNorm(16))
    check_layer(m, t, (5, 2, 16))


def test_transformer_decoder_and_full_model():
    kw = dict(dim_feedforward=32, dropout=0.0)
    check_layer(
        mnn.TransformerDecoderLayer(16, 4, **kw),
        tnn.TransformerDecoderLayer(16, 4, **kw),
        (5, 2, 16),
        (7, 2, 16),
    )
    m = mnn.Transformer(16, 4, 2, 2, batch_first=True, norm_first=True, **kw)
    t = tnn.Transformer(16, 4, 2, 2, batch_first=True, norm_first=True, **kw)
    mask = tnn.Transformer.generate_square_subsequent_mask(5)
    np.testing.assert_array_equal(
        mnn.Transformer.generate_square_subsequent_mask(5).numpy(), mask.numpy()
    )
    check_layer(m, t, (2, 7, 16), (2, 5, 16), mask.numpy(), forward=_by_name("tgt_mask"), atol=1e-4)


def test_float64_gradcheck():
    m = mnn.TransformerEncoderLayer(8, 2, 16, dropout=0.0, activation="gelu").double()
    x = mt.tensor(np.random.default_rng(0).standard_normal((4, 2, 8)), requires_grad=True)
    mask = mnn.Transformer.generate_square_subsequent_mask(4, dtype=mt.float64)
    assert mt.autograd.gradcheck(lambda x: m(x, src_mask=mask), (x,))
