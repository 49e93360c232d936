"""The gate math of one recurrent step (RNN tanh/relu, GRU, LSTM) on the device.

Each kernel runs one (batch row i, hidden unit k) element per thread through the CPU's own
per-element bodies (kernels/cpu/rnn.py `_*_at`), compiled again as CUDA device functions
with CUDA's native exp/tanh. The matrix products between the steps are kernels/cuda/matmul.py
calls made by the driver in minitorch/ops/cuda.py. Same arrays and layouts as the CPU kernels:
(N, H) per step, gates (N, G) in PyTorch's order, saved activations (S, N, H); the GRU
backward takes flat (C-contiguous) views, as its CPU body does.
"""

from __future__ import annotations

import numpy as np
from numba import cuda

from ..cpu import rnn as _cpu
from . import BLOCK, flat, grid
from .scalar import device_functions, exp, tanh

_cells = device_functions(_cpu, {"exp": exp, "tanh": tanh})
_rnn_forward_at, _rnn_backward_at = _cells["_rnn_forward_at"], _cells["_rnn_backward_at"]
_gru_forward_at, _gru_backward_at = _cells["_gru_forward_at"], _cells["_gru_backward_at"]
_lstm_forward_at, _lstm_backward_at = _cells["_lstm_forward_at"], _cells["_lstm_backward_at"]


@cuda.jit
def _rnn_forward(gi, gh, b, h_out, relu, one):
    """for i, k (one thread each): h_out[i, k] = act(gi + gh + b)"""
    hidden = h_out.shape[1]
    for e in range(cuda.grid(1), h_out.size, cuda.gridsize(1)):
        _rnn_forward_at(e // hidden, e % hidden, gi, gh, b, h_out, relu, one)


@cuda.jit
def _gru_forward(gi, gh, b, h_prev, h_out, saved, one):
    """for i, k (one thread each): the CPU's GRU step element"""
    hidden = h_out.shape[1]
    for e in range(cuda.grid(1), h_out.size, cuda.gridsize(1)):
        _gru_forward_at(e // hidden, e % hidden, gi, gh, b, h_prev, h_out, saved, one)


@cuda.jit
def _lstm_forward(gi, gh, b, c_prev, h_out, saved, one):
    """for i, k (one thread each): the CPU's LSTM step element"""
    hidden = h_out.shape[1]
    for e in range(cuda.grid(1), h_out.size, cuda.gridsize(1)):
        _lstm_forward_at(e // hidden, e % hidden, gi, gh, b, c_prev, h_out, saved, one)


@cuda.jit
def _rnn_backward(d_out, d_mm, h, dgi, relu, one):
    """for i, k (one thread each): dgi = (d_out + d_mm) * act'"""
    hidden = h.shape[1]
    for e in range(cuda.grid(1), h.size, cuda.gridsize(1)):
        _rnn_backward_at(e // hidden, e % hidden, d_out, d_mm, h, dgi, relu, one)


@cuda.jit
def _gru_backward(hidden, d_out, d_mm, carry, saved, h_prev, dgi, dgh, one):
    """for i, k (one thread each): the CPU's GRU step backward element (flat arrays)"""
    for e in range(cuda.grid(1), h_prev.size, cuda.gridsize(1)):
        i = e // hidden
        _gru_backward_at(
            i, e - i * hidden, hidden, d_out, d_mm, carry, saved, h_prev, dgi, dgh, one
        )


@cuda.jit
def _lstm_backward(d_out, d_mm, carry, saved, c_prev, dgi, one):
    """for i, k (one thread each): the CPU's LSTM step backward element"""
    hidden = c_prev.shape[1]
    for e in range(cuda.grid(1), c_prev.size, cuda.gridsize(1)):
        _lstm_backward_at(e // hidden, e % hidden, d_out, d_mm, carry, saved, c_prev, dgi, one)


def _one(a):
    """1 in a's dtype: the bodies keep their math in the arrays' dtype."""
    return np.dtype(a.dtype).type(1)


def step_forward(mode: str, gi, gh, b, state, h_out, saved) -> None:
    """One step's gates: h_out (and saved) from gi, gh = h @ W_hh^T (N, G), b (G,) and state,
    the previous h (GRU) or c (LSTM; unused by RNNs)."""
    blocks, one = grid(h_out.size), _one(h_out)
    if not h_out.size:
        return
    if mode == "gru":
        _gru_forward[blocks, BLOCK](gi, gh, b, state, h_out, saved, one)
    elif mode == "lstm":
        _lstm_forward[blocks, BLOCK](gi, gh, b, state, h_out, saved, one)
    else:
        _rnn_forward[blocks, BLOCK](gi, gh, b, h_out, mode == "rnn_relu", one)


def step_backward(mode: str, d_out, d_mm, carry, saved, prev, h, dgi, dgh) -> None:
    """One step's gate gradients dgi (and GRU's dgh) from the output gradient d_out and d_mm
    (the later step's dgh @ W_hh); carry is updated in place (GRU: dh * z, LSTM: dc). prev is
    the previous h (GRU) or c (LSTM); h the step's output (RNNs)."""
    blocks, one = grid(d_out.size), _one(d_out)
    if not d_out.size:
        return
    if mode == "gru":
        flats = [flat(a) for a in (d_out, d_mm, carry, saved, prev, dgi, dgh)]
        _gru_backward[blocks, BLOCK](d_out.shape[1], *flats, one)
    elif mode == "lstm":
        _lstm_backward[blocks, BLOCK](d_out, d_mm, carry, saved, prev, dgi, one)
    else:
        _rnn_backward[blocks, BLOCK](d_out, d_mm, h, dgi, mode == "rnn_relu", one)
