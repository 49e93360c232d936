"""CPU kernels for the recurrent cells (RNN tanh/relu, GRU, LSTM): one step's gate math, and
whole sequences (each step's BLAS product, h @ W_hh^T forward and dgates @ W_hh backward,
called from the kernel through kernels/cpu/cblas.py, then its gates).

Arrays are C-contiguous, (N, H) per step unless said otherwise; gates are PyTorch's order:
    RNN   gi, gh (N, H)
    GRU   gi, gh (N, 3H): r, z, n    saved (4, N, H): r, z, n, gh_n + b_hn
    LSTM  gi, gh (N, 4H): i, f, g, o saved (5, N, H): i, f, g, o, c
Backward kernels read the incoming gradient as three parts that they sum (the step's output
gradient, the BLAS product from the later step, and a carried term) and write the gradients
of the gate pre-activations: dgi (input side) and dgh (hidden side; equal but for GRU's n).
"""

from __future__ import annotations

import numpy as np
from numba import njit, uintp

from . import cblas
from .fastmath import exp, tanh

_OPTS = dict(cache=True, nogil=True, error_model="numpy")
# NOTE: the gate math stays in the arrays' dtype (`one` is typed like them) and uses fastmath's
# exp/tanh, so float32 loops vectorise; with libm calls and float64 literals a GRU step of
# (32, 100) took 41 us, ~10x the rest of its work.


@njit(inline="always")
def _sigmoid(v, one):
    e = exp(-abs(v))  # in (0, 1]: never overflows
    s = one / (one + e)
    return s if v >= 0 else e * s


# ---- one element (i, k) of a step: the CPU drivers below loop these over the batch and the
# hidden units; the CUDA kernels (kernels/cuda/rnn.py) run one per thread. `one` is 1 in the
# arrays' dtype.
@njit(inline="always")
def _rnn_forward_at(i, k, gi, gh, b, h_out, relu, one):
    v = gi[i, k] + gh[i, k] + b[k]
    if relu:
        h_out[i, k] = v if v > 0 else one - one
    else:
        h_out[i, k] = tanh(v)


@njit(inline="always")
def _gru_forward_at(i, k, gi, gh, b, h_prev, h_out, saved, one):
    hidden = h_out.shape[1]
    r = _sigmoid(gi[i, k] + gh[i, k] + b[k], one)
    z = _sigmoid(gi[i, hidden + k] + gh[i, hidden + k] + b[hidden + k], one)
    ghn = gh[i, 2 * hidden + k] + b[2 * hidden + k]
    n = tanh(gi[i, 2 * hidden + k] + r * ghn)
    h_out[i, k] = (one - z) * n + z * h_prev[i, k]
    saved[0, i, k] = r
    saved[1, i, k] = z
    saved[2, i, k] = n
    saved[3, i, k] = ghn


@njit(inline="always")
def _lstm_forward_at(i, k, gi, gh, b, c_prev, h_out, saved, one):
    hidden = h_out.shape[1]
    ig = _sigmoid(gi[i, k] + gh[i, k] + b[k], one)
    fg = _sigmoid(gi[i, hidden + k] + gh[i, hidden + k] + b[hidden + k], one)
    gg = tanh(gi[i, 2 * hidden + k] + gh[i, 2 * hidden + k] + b[2 * hidden + k])
    og = _sigmoid(gi[i, 3 * hidden + k] + gh[i, 3 * hidden + k] + b[3 * hidden + k], one)
    c = fg * c_prev[i, k] + ig * gg
    h_out[i, k] = og * tanh(c)
    saved[0, i, k] = ig
    saved[1, i, k] = fg
    saved[2, i, k] = gg
    saved[3, i, k] = og
    saved[4, i, k] = c


@njit(inline="always")
def _rnn_backward_at(i, k, d_out, d_mm, h, dgi, relu, one):
    dh = d_out[i, k] + d_mm[i, k]
    if relu:
        dgi[i, k] = dh if h[i, k] > 0 else one - one
    else:
        dgi[i, k] = dh * (one - h[i, k] * h[i, k])


@njit(inline="always")
def _gru_backward_at(i, k, hidden, d_out, d_mm, carry, saved, h_prev, dgi, dgh, one):
    """Flat arrays: (N, H) ones at e = i*H + k, saved's parts size = N*H apart, gates 3H wide.

    NOTE: flat arrays indexed with unsigned positions: with 2-D indexing LLVM kept the CPU loop
    scalar (17 us for a (32, 100) step; 11 us vectorised).
    """
    size = h_prev.shape[0]
    e = uintp(i * hidden + k)
    dh = d_out[e] + d_mm[e] + carry[e]
    r = saved[e]
    z = saved[uintp(size + e)]
    n = saved[uintp(2 * size + e)]
    ghn = saved[uintp(3 * size + e)]
    dpn = dh * (one - z) * (one - n * n)
    dpr = dpn * ghn * r * (one - r)
    dpz = dh * (h_prev[e] - n) * z * (one - z)
    g = uintp(3 * hidden * i + k)  # gate r of row i; z and n follow at +H, +2H
    dgi[g] = dpr
    dgi[uintp(g + hidden)] = dpz
    dgi[uintp(g + 2 * hidden)] = dpn
    dgh[g] = dpr
    dgh[uintp(g + hidden)] = dpz
    dgh[uintp(g + 2 * hidden)] = dpn * r
    carry[e] = dh * z


@njit(inline="always")
def _lstm_backward_at(i, k, tc, d_out, d_mm, carry, saved, c_prev, dgi, one):
    """tc = tanh(saved[4, i, k]), the caller's: with the tanh in this body LLVM kept the CPU
    loop scalar ((32, 100) step: 45 us; its own pass first: 12 us)."""
    hidden = c_prev.shape[1]
    dh = d_out[i, k] + d_mm[i, k]
    ig = saved[0, i, k]
    fg = saved[1, i, k]
    gg = saved[2, i, k]
    og = saved[3, i, k]
    dc = carry[i, k] + dh * og * (one - tc * tc)
    dgi[i, k] = dc * gg * ig * (one - ig)
    dgi[i, hidden + k] = dc * c_prev[i, k] * fg * (one - fg)
    dgi[i, 2 * hidden + k] = dc * ig * (one - gg * gg)
    dgi[i, 3 * hidden + k] = dh * tc * og * (one - og)
    carry[i, k] = dc * fg


# ---- forward ------------------------------------------------------------------------------------
# The drivers take a range of batch rows [lo, hi): rows are independent through the whole
# sequence, so minitorch/ops/rnn.py can run the recurrence of each range on its own thread.
@njit(**_OPTS)
def rnn_forward(gi, gh, b, h_out, relu, lo, hi):
    """h = act(gi + gh + b) with act = tanh or relu."""
    one = h_out.dtype.type(1)
    for i in range(lo, hi):
        for k in range(h_out.shape[1]):
            _rnn_forward_at(i, k, gi, gh, b, h_out, relu, one)


@njit(**_OPTS)
def gru_forward(gi, gh, b, h_prev, h_out, saved, lo, hi):
    """r, z = sigmoid(gi + gh + b); n = tanh(gi_n + r * (gh_n + b_n)); h = (1-z) n + z h_prev."""
    one = h_out.dtype.type(1)
    for i in range(lo, hi):
        for k in range(h_out.shape[1]):
            _gru_forward_at(i, k, gi, gh, b, h_prev, h_out, saved, one)


@njit(**_OPTS)
def lstm_forward(gi, gh, b, c_prev, h_out, saved, lo, hi):
    """i, f, o = sigmoid(.), g = tanh(.); c = f c_prev + i g; h = o tanh(c)."""
    one = h_out.dtype.type(1)
    for i in range(lo, hi):
        for k in range(h_out.shape[1]):
            _lstm_forward_at(i, k, gi, gh, b, c_prev, h_out, saved, one)


# ---- backward -----------------------------------------------------------------------------------
@njit(**_OPTS)
def rnn_backward(d_out, d_mm, h, dgi, relu, lo, hi):
    """dpre = (d_out + d_mm) * act'(pre), from the output h."""
    one = h.dtype.type(1)
    for i in range(lo, hi):
        for k in range(h.shape[1]):
            _rnn_backward_at(i, k, d_out, d_mm, h, dgi, relu, one)


@njit(**_OPTS)
def gru_backward(d_out, d_mm, carry, saved, h_prev, dgi, dgh, lo, hi):
    """GRU step backward; carry holds dh * z (the direct path to h_prev) in and out."""
    hidden = h_prev.shape[1]
    one = h_prev.dtype.type(1)
    d_out, d_mm, h_prev = d_out.reshape(-1), d_mm.reshape(-1), h_prev.reshape(-1)
    carry, saved, dgi, dgh = carry.reshape(-1), saved.reshape(-1), dgi.reshape(-1), dgh.reshape(-1)
    for i in range(lo, hi):
        for k in range(hidden):
            _gru_backward_at(i, k, hidden, d_out, d_mm, carry, saved, h_prev, dgi, dgh, one)


@njit(**_OPTS)
def lstm_backward(d_out, d_mm, carry, saved, c_prev, dgi, lo, hi):
    """LSTM step backward; carry holds dc (the cell-state gradient) in and out."""
    one = c_prev.dtype.type(1)
    hidden = c_prev.shape[1]
    tc = np.empty(hidden, c_prev.dtype)
    for i in range(lo, hi):
        for k in range(hidden):
            tc[k] = tanh(saved[4, i, k])
        for k in range(hidden):
            _lstm_backward_at(i, k, tc[k], d_out, d_mm, carry, saved, c_prev, dgi, one)


# ---- whole sequences ----------------------------------------------------------------------------
# One call runs every step of rows [lo, hi): the step's product (cblas.gemm, BLAS called from
# here) and its gate kernel, with no return to Python per step.
# NOTE: against a Python loop over the steps (same process alternating, GRU, 32 steps, us):
# (32, 100) in two row ranges fwd 693 -> 546, bwd 1323 -> 1124 (the ranges' threads took
# turns at the GIL); (8, 100) in one range 314 -> 234, 571 -> 488; (4, 20) 52 -> 15, 70 -> 28.


@njit(inline="always")
def _step(s, steps, reverse):
    """The time index of the s-th step taken, or -1 before the first."""
    if s < 0:
        return -1
    return steps - 1 - s if reverse else s


# The cells: one step of one mode, given the whole arrays, the step t and the step before it
# (prev < 0: the first step, whose previous state is state0: h0, or c0 for LSTM). Forward
# cells also get h, the previous hidden state, which the loop has already picked.
@njit(inline="always")
def _rnn_cell(gi, gh, b, h, state0, out, saved, t, prev, relu, lo, hi):
    rnn_forward(gi[t], gh, b, out[t], relu, lo, hi)


@njit(inline="always")
def _gru_cell(gi, gh, b, h, state0, out, saved, t, prev, relu, lo, hi):
    gru_forward(gi[t], gh, b, h, out[t], saved[t], lo, hi)


@njit(inline="always")
def _lstm_cell(gi, gh, b, h, state0, out, saved, t, prev, relu, lo, hi):
    c_prev = saved[prev, 4] if prev >= 0 else state0
    lstm_forward(gi[t], gh, b, c_prev, out[t], saved[t], lo, hi)


@njit(inline="always")
def _rnn_cell_backward(grad, d_mm, carry, saved, state0, out, dgi, dgh, t, prev, relu, lo, hi):
    rnn_backward(grad[t], d_mm, out[t], dgi[t], relu, lo, hi)


@njit(inline="always")
def _gru_cell_backward(grad, d_mm, carry, saved, state0, out, dgi, dgh, t, prev, relu, lo, hi):
    h_prev = out[prev] if prev >= 0 else state0
    gru_backward(grad[t], d_mm, carry, saved[t], h_prev, dgi[t], dgh[t], lo, hi)


@njit(inline="always")
def _lstm_cell_backward(grad, d_mm, carry, saved, state0, out, dgi, dgh, t, prev, relu, lo, hi):
    c_prev = saved[prev, 4] if prev >= 0 else state0
    lstm_backward(grad[t], d_mm, carry, saved[t], c_prev, dgi[t], lo, hi)


# NOTE: the loops take their cell as an argument and are inlined into one kernel per mode: the
# cell is then a constant, so a GRU compiles only GRU code (one kernel branching on the mode
# compiled all three cells: GRU's first call 2.0 -> 7.2 s), and the kernels take only arrays
# and numbers, so Numba's disk cache keeps them.
@njit(inline="always")
def _forward_steps(cell, gi, w_t, b, h0, state0, out, saved, gh, reverse, relu, lo, hi, gemm_fn):
    steps = gi.shape[0]
    for s in range(steps):
        t, prev = _step(s, steps, reverse), _step(s - 1, steps, reverse)
        h = out[prev] if prev >= 0 else h0
        cblas.gemm(gemm_fn, h[lo:hi], w_t, gh[lo:hi])
        cell(gi, gh, b, h, state0, out, saved, t, prev, relu, lo, hi)


@njit(inline="always")
def _backward_steps(
    cell, grad, w, out, saved, state0, d_mm, carry, dgi, dgh, reverse, relu, lo, hi, gemm_fn
):
    steps = saved.shape[0]
    for s in range(steps - 1, -1, -1):
        t, prev = _step(s, steps, reverse), _step(s - 1, steps, reverse)
        cell(grad, d_mm, carry, saved, state0, out, dgi, dgh, t, prev, relu, lo, hi)
        cblas.gemm(gemm_fn, dgh[t][lo:hi], w, d_mm[lo:hi])


@njit(**_OPTS)
def rnn_sequence_forward(gi, w_t, b, h0, state0, out, saved, gh, reverse, relu, lo, hi, fn):
    _forward_steps(_rnn_cell, gi, w_t, b, h0, state0, out, saved, gh, reverse, relu, lo, hi, fn)


@njit(**_OPTS)
def gru_sequence_forward(gi, w_t, b, h0, state0, out, saved, gh, reverse, relu, lo, hi, fn):
    _forward_steps(_gru_cell, gi, w_t, b, h0, state0, out, saved, gh, reverse, relu, lo, hi, fn)


@njit(**_OPTS)
def lstm_sequence_forward(gi, w_t, b, h0, state0, out, saved, gh, reverse, relu, lo, hi, fn):
    _forward_steps(_lstm_cell, gi, w_t, b, h0, state0, out, saved, gh, reverse, relu, lo, hi, fn)


@njit(**_OPTS)
def rnn_sequence_backward(
    grad, w, out, saved, state0, d_mm, carry, dgi, dgh, rev, relu, lo, hi, fn
):
    cell = _rnn_cell_backward
    _backward_steps(cell, grad, w, out, saved, state0, d_mm, carry, dgi, dgh, rev, relu, lo, hi, fn)


@njit(**_OPTS)
def gru_sequence_backward(
    grad, w, out, saved, state0, d_mm, carry, dgi, dgh, rev, relu, lo, hi, fn
):
    cell = _gru_cell_backward
    _backward_steps(cell, grad, w, out, saved, state0, d_mm, carry, dgi, dgh, rev, relu, lo, hi, fn)


@njit(**_OPTS)
def lstm_sequence_backward(
    grad, w, out, saved, state0, d_mm, carry, dgi, dgh, rev, relu, lo, hi, fn
):
    cell = _lstm_cell_backward
    _backward_steps(cell, grad, w, out, saved, state0, d_mm, carry, dgi, dgh, rev, relu, lo, hi, fn)


# mode -> (forward kernel, backward kernel); arguments after the arrays: reverse, relu, lo, hi,
# gemm_fn (cblas.gemm_function of the dtype)
SEQUENCES = {
    "rnn_tanh": (rnn_sequence_forward, rnn_sequence_backward),
    "rnn_relu": (rnn_sequence_forward, rnn_sequence_backward),
    "gru": (gru_sequence_forward, gru_sequence_backward),
    "lstm": (lstm_sequence_forward, lstm_sequence_backward),
}
