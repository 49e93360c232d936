"""The recurrent part of RNN / GRU / LSTM layers as one op per layer and direction.

The input projection gi = x @ W_ih^T + b_ih is computed for all time steps by the caller (one
matmul); `rnn_sequence` runs the recurrence in one kernel call per range of batch rows
(kernels/cpu/rnn.py: per step one BLAS product h @ W_hh^T and the gate math). It saves the
gate activations, so its backward (`rnn_sequence_backward`) walks time in reverse the same
way (per step the gates' gradients and one BLAS product), and finishes dW_hh with one large
product over all steps.

    inputs  gi (T, N, G), h0 (N, H), c0 (N, H) or None, w_hh (G, H), b_hh (G,) or None
    output  hs (T, N, H): the hidden state after each step (step order is reversed when
            reverse=True, but hs[t] always belongs to input t). LSTM appends c_T: (T+1, N, H).
"""

from __future__ import annotations

import os
from concurrent.futures import ThreadPoolExecutor

import numba
import numpy as np

from ..autograd.grad_mode import state
from ..kernels.cpu import blas, cblas, contiguous, scratch
from ..kernels.cpu import rnn as K
from .registry import Meta, Op, apply, into, keeping_workspace, register

GATES = {"rnn_tanh": 1, "rnn_relu": 1, "gru": 3, "lstm": 4}
SAVED = {"rnn_tanh": 0, "rnn_relu": 0, "gru": 4, "lstm": 5}


def _order(steps: int, reverse: bool):
    return range(steps - 1, -1, -1) if reverse else range(steps)


# NOTE: a batch row's recurrence never reads another row, so the batch splits into row ranges
# that run the whole sequence on threads of their own, with no sync per step (the sequence
# kernels call BLAS themselves and release the GIL). One thread per step (a parallel gate
# kernel, a two-thread product) would sync twice per step. A range needs MIN_ROWS rows and a
# step's product MIN_STEP_MACS multiply-adds per range, or the second core saves less than
# the hand-off to a thread costs. GRU, 32 steps, fwd + bwd, same process alternating, us,
# one range -> two: N=32 H=100 1304 -> 1010 (16 rows); N=8 H=100 714 -> 665; N=32 H=50 1035
# -> 824; N=16 H=200 5166 -> 3060; N=128 H=32 2368 -> 1639; N=64 H=32 978 -> 942 (98k
# multiply-adds per range and step); N=32 H=32 453 -> 639 (49k).
MIN_ROWS = 4
MIN_STEP_MACS = 120_000
_pool: list = [None]


def _over_rows(rows, n: int, step_macs: int) -> None:
    """rows(lo, hi) over the batch rows [0, n), split into ranges run at once; step_macs: the
    multiply-adds of one step's product over all n rows."""
    ranges = min(numba.get_num_threads(), n // MIN_ROWS, step_macs // MIN_STEP_MACS)
    if ranges <= 1:
        blas.use_threads_for(step_macs)
        rows(0, n)
        return
    blas.use_threads_for(0)  # each range's products on its own thread only
    if _pool[0] is None or _pool[0]._max_workers < ranges - 1:
        _pool[0] = ThreadPoolExecutor(ranges - 1, thread_name_prefix="minitorch-rnn")
    bounds = [n * i // ranges for i in range(ranges + 1)]
    others = [_pool[0].submit(rows, lo, hi) for lo, hi in zip(bounds[1:-1], bounds[2:])]
    try:
        rows(bounds[0], bounds[1])
    finally:  # never return while a worker still writes into the outputs
        for future in others:
            future.result()


# A forked child (a DataLoader worker) inherits the pool without its threads (no fork on
# Windows: nothing to reset there).
if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=lambda: _pool.__setitem__(0, None))


class RNNSequence(Op):
    """Run a recurrent cell over all steps of gi; outputs (hs, saved activations)."""

    name = "rnn_sequence"
    n_outputs = 2
    save = (0, 1, 2, 3)
    save_out = True
    writes_out = True

    def infer(self, gi, h0, c0, w_hh, b_hh, *, mode, reverse=False):
        steps, n, g = gi.shape
        hidden = h0.shape[-1]
        if g != GATES[mode] * hidden or tuple(w_hh.shape) != (g, hidden):
            raise RuntimeError(
                f"{mode}: gate sizes do not match: input projection {tuple(gi.shape)}, "
                f"h0 {tuple(h0.shape)}, weight_hh {tuple(w_hh.shape)}"
            )
        if tuple(h0.shape) != (n, hidden):
            raise RuntimeError(f"{mode}: Expected hidden size {(n, hidden)}, got {list(h0.shape)}")
        for t in (h0, c0, w_hh, b_hh):
            if t is not None and t.dtype is not gi.dtype:
                raise RuntimeError(
                    f"{mode}: expected all tensors to have dtype {gi.dtype}, got {t.dtype}"
                )
        extra = 1 if mode == "lstm" else 0
        return (
            Meta((steps + extra, n, hidden), gi.dtype),
            Meta((steps, SAVED[mode], n, hidden), gi.dtype),
        )

    def forward(self, meta, gi, h0, c0, w_hh, b_hh, *, mode, reverse=False, out=None, work=None):
        """work: scratch arrays kept between calls (keeping_workspace)."""
        steps, n, g = gi.shape
        gi = contiguous(gi, work, "gi")
        b = np.zeros(g, gi.dtype) if b_hh is None else np.ascontiguousarray(b_hh)
        # NOTE: one C-ordered copy of W_hh^T for all steps: OpenBLAS runs h @ W^T on the
        # transposed view up to 1.8x slower (measured with (32, 100) @ (100, 300) float32).
        w_t = scratch(work, "w_t", w_hh.shape[::-1], gi.dtype)
        np.copyto(w_t, w_hh.T)
        out, saved = out or [np.empty(m.shape, gi.dtype) for m in meta]
        h0 = np.ascontiguousarray(h0)
        c0 = None if c0 is None else np.ascontiguousarray(c0)
        gh = scratch(work, "gh", (n, g), gi.dtype)  # each row range writes only its own rows
        gemm = cblas.gemm_function(gi.dtype)

        state0 = c0 if mode == "lstm" else h0
        kernel = K.SEQUENCES[mode][0]

        def rows(lo, hi):
            args = (h0, state0, out, saved, gh, reverse, mode == "rnn_relu", lo, hi, gemm)
            kernel(gi, w_t, b, *args)

        _over_rows(rows, n, n * g * w_hh.shape[1])
        if mode == "lstm":
            out[steps] = saved[_order(steps, reverse)[-1], 4] if steps else c0
        return out, saved

    plan = keeping_workspace  # the replay keeps forward's scratch arrays between calls

    def backward(self, ctx, grad):
        if state.enabled:
            raise RuntimeError(
                "rnn_sequence: double backward (create_graph=True) through RNN/GRU/LSTM layers "
                "is not supported; write the recurrence with RNNCell-style tensor ops instead"
            )
        from ..tensor import wrap  # noqa: PLC0415

        gi, h0, c0, w_hh, b_hh = ctx.inputs
        saved = wrap(ctx.saved[0], gi.dtype)
        needs = tuple(ctx.needs_input_grad)
        grads = apply(
            rnn_sequence_backward,
            grad,
            h0,
            c0,
            w_hh,
            ctx.out,
            saved,
            needs=needs,
            mode=ctx.params["mode"],
            reverse=ctx.params.get("reverse", False),
        )
        return tuple(g if need else None for g, need in zip(grads, needs))


rnn_sequence = register(RNNSequence())


class RNNSequenceBackward(Op):
    """Gradients of rnn_sequence: (d gi, d h0, d c0, d w_hh, d b_hh); unneeded ones empty."""

    name = "rnn_sequence_backward"
    n_outputs = 5
    differentiable = False
    writes_out = True

    def infer(self, grad, h0, c0, w_hh, hs, saved, *, needs, mode, reverse=False):
        steps, _, n, hidden = saved.shape
        g = w_hh.shape[0]
        dt = grad.dtype
        shapes = (
            (steps, n, g),
            (n, hidden),
            (n, hidden) if c0 is not None else (0,),
            tuple(w_hh.shape),
            (g,),
        )
        return tuple(Meta(s if need else (0,), dt) for s, need in zip(shapes, needs))

    def forward(
        self,
        meta,
        grad,
        h0,
        c0,
        w_hh,
        hs,
        saved,
        *,
        needs,
        mode,
        reverse=False,
        out=None,
        work=None,
    ):
        """hs, saved: the forward's outputs; work: scratch arrays kept between calls."""
        steps, _, n, hidden = saved.shape
        g = w_hh.shape[0]
        dt = grad.dtype
        grad = contiguous(grad, work, "grad")
        h0 = np.ascontiguousarray(h0)
        c0 = None if c0 is None else np.ascontiguousarray(c0)
        w = np.ascontiguousarray(w_hh)
        hs, saved = contiguous(hs, work, "hs"), contiguous(saved, work, "saved")
        outs = out or (None,) * 5
        dgi = (
            outs[0] if needs[0] and outs[0] is not None else scratch(work, "dgi", (steps, n, g), dt)
        )
        dgh = scratch(work, "dgh", dgi.shape, dt) if mode == "gru" else dgi
        d_mm = scratch(work, "d_mm", (n, hidden), dt)  # rows: written by their own range only
        d_mm.fill(0)
        carry = scratch(work, "carry", (n, hidden), dt)
        if mode == "lstm":
            np.copyto(carry, grad[steps])
        else:
            carry.fill(0)
        gemm = cblas.gemm_function(dt)

        state0 = c0 if mode == "lstm" else h0
        kernel = K.SEQUENCES[mode][1]

        def rows(lo, hi):
            args = (state0, d_mm, carry, dgi, dgh, reverse, mode == "rnn_relu", lo, hi, gemm)
            kernel(grad, w, hs, saved, *args)

        _over_rows(rows, n, n * g * hidden)
        order = list(_order(steps, reverse))
        grads = (
            dgi,
            d_mm + carry if mode == "gru" else d_mm,
            carry if mode == "lstm" else None,
            _weight_grad(dgh, hs, h0, order, outs[3], work) if needs[3] else None,
            dgh.reshape(-1, g).sum(axis=0, out=outs[4]) if needs[4] else None,
        )
        return tuple(
            into(o, x) if need else np.zeros((0,), dt) if o is None else o
            for o, x, need in zip(outs, grads, needs)
        )

    plan = keeping_workspace  # the replay keeps forward's scratch arrays between calls


def _weight_grad(dgh, hs, h0, order, out=None, work=None):
    """dW_hh = sum over steps of dgh[t]^T @ h_prev[t], as one (G, T*N) @ (T*N, H) product
    (into `out` where given)."""
    steps, g, hidden = len(order), dgh.shape[-1], h0.shape[-1]
    h_prev = scratch(work, "h_prev", (steps,) + h0.shape, dgh.dtype)
    for k, t in enumerate(order):
        h_prev[t] = hs[order[k - 1]] if k else h0
    return blas.matmul(dgh.reshape(-1, g).T, h_prev.reshape(-1, hidden), out)


rnn_sequence_backward = register(RNNSequenceBackward())
