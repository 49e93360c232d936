"""CPU kernels for one time step of the recurrent cells (RNN tanh/relu, GRU, LSTM).

The matrix products (h @ W_hh^T forward, dgates @ W_hh backward) are BLAS calls made by the
driver in minitorch/ops/rnn.py; these kernels do the elementwise gate math of one step.

Arrays are C-contiguous, (N, H) per step unless said otherwise; gates are PyTorch's order:
    RNN   gi, gh (N, H)
    GRU   gi, gh (N, 3H): r, z, n    saved (4, N, H): r, z, n, gh_n + b_hn
    LSTM  gi, gh (N, 4H): i, f, g, o saved (5, N, H): i, f, g, o, c
Backward kernels read the incoming gradient as three parts that they sum (the step's output
gradient, the BLAS product from the later step, and a carried term) and write the gradients
of the gate pre-activations: dgi (input side) and dgh (hidden side; equal but for GRU's n).
"""

from __future__ import annotations

import math

from numba import njit

_OPTS = dict(cache=True, nogil=True, error_model="numpy")


@njit(inline="always")
def _sigmoid(v):
    if v >= 0:
        return 1.0 / (1.0 + math.exp(-v))
    e = math.exp(v)
    return e / (1.0 + e)


# ---- forward ------------------------------------------------------------------------------------
@njit(**_OPTS)
def rnn_forward(gi, gh, b, h_out, relu):
    """h = act(gi + gh + b) with act = tanh or relu."""
    n_batch, hidden = h_out.shape
    for i in range(n_batch):
        for k in range(hidden):
            v = gi[i, k] + gh[i, k] + b[k]
            if relu:
                h_out[i, k] = v if v > 0 else 0.0
            else:
                h_out[i, k] = math.tanh(v)


@njit(**_OPTS)
def gru_forward(gi, gh, b, h_prev, h_out, saved):
    """r, z = sigmoid(gi + gh + b); n = tanh(gi_n + r * (gh_n + b_n)); h = (1-z) n + z h_prev."""
    n_batch, hidden = h_out.shape
    for i in range(n_batch):
        for k in range(hidden):
            r = _sigmoid(gi[i, k] + gh[i, k] + b[k])
            z = _sigmoid(gi[i, hidden + k] + gh[i, hidden + k] + b[hidden + k])
            ghn = gh[i, 2 * hidden + k] + b[2 * hidden + k]
            n = math.tanh(gi[i, 2 * hidden + k] + r * ghn)
            h_out[i, k] = (1.0 - z) * n + z * h_prev[i, k]
            saved[0, i, k] = r
            saved[1, i, k] = z
            saved[2, i, k] = n
            saved[3, i, k] = ghn


@njit(**_OPTS)
def lstm_forward(gi, gh, b, c_prev, h_out, saved):
    """i, f, o = sigmoid(.), g = tanh(.); c = f c_prev + i g; h = o tanh(c)."""
    n_batch, hidden = h_out.shape
    for i in range(n_batch):
        for k in range(hidden):
            ig = _sigmoid(gi[i, k] + gh[i, k] + b[k])
            fg = _sigmoid(gi[i, hidden + k] + gh[i, hidden + k] + b[hidden + k])
            gg = math.tanh(gi[i, 2 * hidden + k] + gh[i, 2 * hidden + k] + b[2 * hidden + k])
            og = _sigmoid(gi[i, 3 * hidden + k] + gh[i, 3 * hidden + k] + b[3 * hidden + k])
            c = fg * c_prev[i, k] + ig * gg
            h_out[i, k] = og * math.tanh(c)
            saved[0, i, k] = ig
            saved[1, i, k] = fg
            saved[2, i, k] = gg
            saved[3, i, k] = og
            saved[4, i, k] = c


# ---- backward -----------------------------------------------------------------------------------
@njit(**_OPTS)
def rnn_backward(d_out, d_mm, h, dgi, relu):
    """dpre = (d_out + d_mm) * act'(pre), from the output h."""
    n_batch, hidden = h.shape
    for i in range(n_batch):
        for k in range(hidden):
            dh = d_out[i, k] + d_mm[i, k]
            if relu:
                dgi[i, k] = dh if h[i, k] > 0 else 0.0
            else:
                dgi[i, k] = dh * (1.0 - h[i, k] * h[i, k])


@njit(**_OPTS)
def gru_backward(d_out, d_mm, carry, saved, h_prev, dgi, dgh):
    """GRU step backward; carry holds dh * z (the direct path to h_prev) in and out."""
    n_batch, hidden = h_prev.shape
    for i in range(n_batch):
        for k in range(hidden):
            dh = d_out[i, k] + d_mm[i, k] + carry[i, k]
            r = saved[0, i, k]
            z = saved[1, i, k]
            n = saved[2, i, k]
            ghn = saved[3, i, k]
            dpn = dh * (1.0 - z) * (1.0 - n * n)
            dpr = dpn * ghn * r * (1.0 - r)
            dpz = dh * (h_prev[i, k] - n) * z * (1.0 - z)
            dgi[i, k] = dpr
            dgi[i, hidden + k] = dpz
            dgi[i, 2 * hidden + k] = dpn
            dgh[i, k] = dpr
            dgh[i, hidden + k] = dpz
            dgh[i, 2 * hidden + k] = dpn * r
            carry[i, k] = dh * z


@njit(**_OPTS)
def lstm_backward(d_out, d_mm, carry, saved, c_prev, dgi):
    """LSTM step backward; carry holds dc (the cell-state gradient) in and out."""
    n_batch, hidden = c_prev.shape
    for i in range(n_batch):
        for k in range(hidden):
            dh = d_out[i, k] + d_mm[i, k]
            ig = saved[0, i, k]
            fg = saved[1, i, k]
            gg = saved[2, i, k]
            og = saved[3, i, k]
            tc = math.tanh(saved[4, i, k])
            dc = carry[i, k] + dh * og * (1.0 - tc * tc)
            dgi[i, k] = dc * gg * ig * (1.0 - ig)
            dgi[i, hidden + k] = dc * c_prev[i, k] * fg * (1.0 - fg)
            dgi[i, 2 * hidden + k] = dc * ig * (1.0 - gg * gg)
            dgi[i, 3 * hidden + k] = dh * tc * og * (1.0 - og)
            carry[i, k] = dc * fg
