"""The gate math of one recurrent step (RNN tanh/relu, GRU, LSTM) on the device.

Each kernel runs one (batch row i, hidden unit k) element per thread through the CPU's own
per-element bodies (kernels/cpu/rnn.py `_*_at`), compiled again as CUDA device functions
with CUDA's native exp/tanh. The matrix products between the steps are kernels/cuda/matmul.py
calls made by the driver in minitorch/ops/cuda.py. The CPU kernels' layouts, a sequence at a
time: out (T, N, H), gates (T, N, G) in PyTorch's order, saved activations (T, S, N, H); the
GRU backward reads flat (1-D) arrays, as its CPU body does.
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


# Kernels take whole sequences (T, N, ...) and the step t (and prev, the step run before it, or
# -1 for the initial state): they slice on the device, so a step costs no host-made views.
@cuda.jit
def _rnn_forward(gi, gh, b, out, t, relu, one):
    """for i, k (one thread each): out[t, i, k] = act(gi[t] + gh + b)"""
    hidden = out.shape[2]
    for e in range(cuda.grid(1), gh.shape[0] * hidden, cuda.gridsize(1)):
        _rnn_forward_at(e // hidden, e % hidden, gi[t], gh, b, out[t], relu, one)


@cuda.jit
def _gru_forward(gi, gh, b, h0, out, saved, t, prev, one):
    """for i, k (one thread each): the CPU's GRU step element, from h0 or out[prev]"""
    hidden = out.shape[2]
    for e in range(cuda.grid(1), gh.shape[0] * hidden, cuda.gridsize(1)):
        i, k = e // hidden, e % hidden
        if prev < 0:
            _gru_forward_at(i, k, gi[t], gh, b, h0, out[t], saved[t], one)
        else:
            _gru_forward_at(i, k, gi[t], gh, b, out[prev], out[t], saved[t], one)


@cuda.jit
def _lstm_forward(gi, gh, b, c0, out, saved, t, prev, one):
    """for i, k (one thread each): the CPU's LSTM step element, from c0 or saved[prev]'s c"""
    hidden = out.shape[2]
    for e in range(cuda.grid(1), gh.shape[0] * hidden, cuda.gridsize(1)):
        i, k = e // hidden, e % hidden
        if prev < 0:
            _lstm_forward_at(i, k, gi[t], gh, b, c0, out[t], saved[t], one)
        else:
            _lstm_forward_at(i, k, gi[t], gh, b, saved[prev][4], out[t], saved[t], one)


@cuda.jit
def _rnn_backward(grad, d_mm, out, dgi, t, relu, one):
    """for i, k (one thread each): dgi[t] = (grad[t] + d_mm) * act'"""
    hidden = d_mm.shape[1]
    for e in range(cuda.grid(1), d_mm.size, cuda.gridsize(1)):
        _rnn_backward_at(e // hidden, e % hidden, grad[t], d_mm, out[t], dgi[t], relu, one)


@cuda.jit
def _gru_backward(hidden, grad, d_mm, carry, saved, h0, out, dgi, dgh, t, prev, one):
    """for i, k (one thread each): the CPU's GRU step backward element. Flat (1-D) arrays, as
    its body reads them: step t of a sequence is the run [t * size, (t + 1) * size)."""
    size = d_mm.size  # N * H
    for e in range(cuda.grid(1), size, cuda.gridsize(1)):
        i, k = e // hidden, e - (e // hidden) * hidden
        d_out = grad[t * size : (t + 1) * size]
        s = saved[t * 4 * size : (t + 1) * 4 * size]
        gi, gh = dgi[t * 3 * size : (t + 1) * 3 * size], dgh[t * 3 * size : (t + 1) * 3 * size]
        if prev < 0:
            _gru_backward_at(i, k, hidden, d_out, d_mm, carry, s, h0, gi, gh, one)
        else:
            h_prev = out[prev * size : (prev + 1) * size]
            _gru_backward_at(i, k, hidden, d_out, d_mm, carry, s, h_prev, gi, gh, one)


@cuda.jit
def _lstm_backward(grad, d_mm, carry, saved, c0, dgi, t, prev, one):
    """for i, k (one thread each): the CPU's LSTM step backward element"""
    hidden = d_mm.shape[1]
    for e in range(cuda.grid(1), d_mm.size, cuda.gridsize(1)):
        i, k = e // hidden, e % hidden
        tc = tanh(saved[t, 4, i, k])  # the body takes it (see kernels/cpu/rnn.py)
        if prev < 0:
            _lstm_backward_at(i, k, tc, grad[t], d_mm, carry, saved[t], c0, dgi[t], one)
        else:
            _lstm_backward_at(i, k, tc, grad[t], d_mm, carry, saved[t], saved[prev][4], dgi[t], one)


def _one(a):
    """1 in a's dtype: the bodies keep their math in the arrays' dtype."""
    return np.dtype(a.dtype).type(1)


def step_forward(mode: str, gi, gh, b, state0, out, saved, t: int, prev: int) -> None:
    """Step t's gates: out[t] (and saved[t]) from gi (T, N, G), gh = h @ W_hh^T (N, G) and b;
    the previous state is out[prev] (GRU) or saved[prev]'s c (LSTM), or state0 (h0 or c0)
    when prev < 0. All C-contiguous but gi."""
    n = gh.shape[0] * out.shape[2]
    if not n:
        return
    blocks, one = grid(n), _one(out)
    if mode == "gru":
        _gru_forward[blocks, BLOCK](gi, gh, b, state0, out, saved, t, prev, one)
    elif mode == "lstm":
        _lstm_forward[blocks, BLOCK](gi, gh, b, state0, out, saved, t, prev, one)
    else:
        _rnn_forward[blocks, BLOCK](gi, gh, b, out, t, mode == "rnn_relu", one)


def step_backward(mode, grad, d_mm, carry, saved, state0, out, dgi, dgh, t, prev) -> None:
    """Step t's gate gradients dgi[t] (and GRU's dgh[t]) from the output gradient grad[t] and
    d_mm (step t+1's dgh @ W_hh); carry (GRU: dh * z, LSTM: dc) is updated in place. The
    previous state is read as in step_forward. All C-contiguous."""
    if not d_mm.size:
        return
    blocks, one = grid(d_mm.size), _one(d_mm)
    if mode == "gru":
        flats = [flat(a) for a in (grad, d_mm, carry, saved, state0, out, dgi, dgh)]
        _gru_backward[blocks, BLOCK](d_mm.shape[1], *flats, t, prev, one)
    elif mode == "lstm":
        _lstm_backward[blocks, BLOCK](grad, d_mm, carry, saved, state0, dgi, t, prev, one)
    else:
        _rnn_backward[blocks, BLOCK](grad, d_mm, out, dgi, t, mode == "rnn_relu", one)
