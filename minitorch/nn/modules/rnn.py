"""Recurrent layers: RNN (tanh / relu), LSTM, GRU and their single-step cells.

Parameter names, shapes, gate order (LSTM i, f, g, o; GRU r, z, n) and initialization
U(-1/sqrt(hidden_size), 1/sqrt(hidden_size)) follow PyTorch, so state_dicts load both ways.

Per layer and direction, the input projection of all time steps is one matmul (F.linear);
the recurrence is one `rnn_sequence` op (minitorch/ops/rnn.py) that loops over time with one
BLAS product and one gate kernel per step, forward and backward.

A PackedSequence input runs each run of equal-length sequences (packing sorts them longest
first) through that same path as one batch, so every sequence stops at its own length, and
gathers the outputs back into packed order.
"""

from __future__ import annotations

import math
import numbers
import warnings

import numpy as np

from ...functional import cat, stack, tensor, zeros
from ...ops import rnn as R
from ...ops.registry import apply
from ...tensor import Tensor
from .. import functional as F
from .. import init
from ..parameter import Parameter
from ..utils.rnn import PackedSequence, _batch_sizes, _lengths
from ._factory import new_empty
from .module import Module

__all__ = ["RNNBase", "RNN", "LSTM", "GRU", "RNNCellBase", "RNNCell", "LSTMCell", "GRUCell"]

_OP_MODE = {"RNN_TANH": "rnn_tanh", "RNN_RELU": "rnn_relu", "LSTM": "lstm", "GRU": "gru"}


def _gate_size(mode: str, hidden_size: int) -> int:
    return R.GATES[_OP_MODE[mode]] * hidden_size


def _init_uniform(module: Module) -> None:
    """PyTorch's init of recurrent layers and cells: every parameter U(-1/sqrt(H), 1/sqrt(H))."""
    stdv = 1.0 / math.sqrt(module.hidden_size) if module.hidden_size > 0 else 0
    for weight in module.parameters():
        init.uniform_(weight, -stdv, stdv)


class RNNBase(Module):
    """Shared parameters and forward of RNN, LSTM and GRU (PyTorch's RNNBase)."""

    def __init__(
        self,
        mode: str,
        input_size: int,
        hidden_size: int,
        num_layers: int = 1,
        bias: bool = True,
        batch_first: bool = False,
        dropout: float = 0.0,
        bidirectional: bool = False,
        proj_size: int = 0,
        device=None,
        dtype=None,
    ) -> None:
        super().__init__()
        _check_hyperparameters(input_size, hidden_size, num_layers, dropout, proj_size)
        if proj_size and mode != "LSTM":
            raise ValueError("proj_size argument is only supported for LSTM, not RNN or GRU")
        if dropout > 0 and num_layers == 1:
            warnings.warn(
                "dropout option adds dropout after all but last recurrent layer, so non-zero "
                f"dropout expects num_layers greater than 1, but got dropout={dropout} and "
                f"num_layers={num_layers}",
                stacklevel=2,
            )
        self.mode = mode
        self.input_size = input_size
        self.hidden_size = hidden_size
        self.num_layers = num_layers
        self.bias = bias
        self.batch_first = batch_first
        self.dropout = float(dropout)
        self.bidirectional = bidirectional
        self.proj_size = proj_size
        directions = 2 if bidirectional else 1
        gates = _gate_size(mode, hidden_size)
        real_hidden = proj_size if proj_size > 0 else hidden_size  # h's size
        self._flat_weights_names = []
        self._all_weights = []
        for layer in range(num_layers):
            for direction in range(directions):
                layer_in = input_size if layer == 0 else real_hidden * directions
                suffix = "_reverse" if direction == 1 else ""
                shapes = [(gates, layer_in), (gates, real_hidden)]
                names = [f"weight_ih_l{layer}{suffix}", f"weight_hh_l{layer}{suffix}"]
                if bias:
                    shapes += [(gates,), (gates,)]
                    names += [f"bias_ih_l{layer}{suffix}", f"bias_hh_l{layer}{suffix}"]
                if proj_size > 0:  # PyTorch's order: after the biases
                    shapes.append((proj_size, hidden_size))
                    names.append(f"weight_hr_l{layer}{suffix}")
                for name, shape in zip(names, shapes):
                    setattr(self, name, Parameter(new_empty(shape, device, dtype)))
                self._flat_weights_names.extend(names)
                self._all_weights.append(names)
        self.reset_parameters()

    def reset_parameters(self) -> None:
        _init_uniform(self)

    def flatten_parameters(self) -> None:
        """Kept for PyTorch compatibility (cuDNN weight packing); nothing to do here."""

    @property
    def _flat_weights(self) -> list:
        return [getattr(self, name) for name in self._flat_weights_names]

    @property
    def all_weights(self) -> list:
        return [[getattr(self, name) for name in names] for names in self._all_weights]

    def extra_repr(self) -> str:
        s = f"{self.input_size}, {self.hidden_size}"
        if self.proj_size != 0:
            s += f", proj_size={self.proj_size}"
        if self.num_layers != 1:
            s += f", num_layers={self.num_layers}"
        if self.bias is not True:
            s += f", bias={self.bias}"
        if self.batch_first is not False:
            s += f", batch_first={self.batch_first}"
        if self.dropout != 0:
            s += f", dropout={self.dropout}"
        if self.bidirectional is not False:
            s += f", bidirectional={self.bidirectional}"
        return s

    def _layer_weights(self, index: int):
        """(w_ih, w_hh, b_ih, b_hh) of flat layer-direction `index` (biases may be None)."""
        names = self._all_weights[index]
        ws = [getattr(self, n) for n in names]
        return (ws[0], ws[1], ws[2], ws[3]) if self.bias else (ws[0], ws[1], None, None)

    def _run(self, input: Tensor, h0: Tensor, c0: Tensor | None):
        """Time-major (T, N, I) input -> (output (T, N, D*H), h_n, c_n or None)."""
        mode = _OP_MODE[self.mode]
        directions = 2 if self.bidirectional else 1
        steps, batch = input.shape[0], input.shape[1]
        layer_input = input
        h_n, c_n = [], []
        for layer in range(self.num_layers):
            outs = []
            for direction in range(directions):
                index = layer * directions + direction
                w_ih, w_hh, b_ih, b_hh = self._layer_weights(index)
                flat = layer_input.reshape(steps * batch, layer_input.shape[2])
                gi = F.linear(flat, w_ih, b_ih).reshape(steps, batch, w_ih.shape[0])
                if self.proj_size > 0:
                    w_hr = getattr(self, self._all_weights[index][-1])
                    hs, h_last, c_last = _lstm_projected(
                        gi, h0[index], c0[index], w_hh, b_hh, w_hr, direction == 1
                    )
                    h_n.append(h_last)
                    c_n.append(c_last)
                    outs.append(hs)
                    continue
                out, _ = apply(
                    R.rnn_sequence,
                    gi,
                    h0[index],
                    None if c0 is None else c0[index],
                    w_hh,
                    b_hh,
                    mode=mode,
                    reverse=direction == 1,
                )
                hs = out[:steps] if c0 is not None else out
                if c0 is not None:
                    c_n.append(out[steps])
                h_n.append(hs[steps - 1] if direction == 0 else hs[0])
                outs.append(hs)
            layer_input = outs[0] if directions == 1 else cat(outs, 2)
            if self.dropout > 0 and self.training and layer < self.num_layers - 1:
                layer_input = F.dropout(layer_input, self.dropout, True)
        return layer_input, stack(h_n), (stack(c_n) if c0 is not None else None)

    def _prepare(self, input: Tensor, hx):
        """Check shapes; return (time-major batched input, batched, hx with a batch dim)."""
        name = type(self).__name__
        if input.ndim not in (2, 3):
            raise ValueError(f"{name}: Expected input to be 2D or 3D, got {input.ndim}D instead")
        if input.shape[-1] != self.input_size:
            raise RuntimeError(
                f"input.size(-1) must be equal to input_size. Expected "
                f"{self.input_size}, got {input.shape[-1]}"
            )
        batched = input.ndim == 3
        if not batched:
            x = input.unsqueeze(1)
        else:
            x = input.transpose(0, 1) if self.batch_first else input
        if hx is not None and not batched:
            hxs = hx if isinstance(hx, tuple) else (hx,)
            for h in hxs:
                if h.ndim != 2:
                    raise RuntimeError(
                        f"For unbatched 2-D input, hx should also be 2-D but got {h.ndim}-D tensor"
                    )
            hx = tuple(h.unsqueeze(1) for h in hxs) if isinstance(hx, tuple) else hx.unsqueeze(1)
        return x, batched, hx

    def _initial(
        self, hx, x: Tensor, which: str = "", batch: int | None = None, size: int | None = None
    ) -> Tensor:
        """hx checked against (D * num_layers, batch, size), or zeros; batch defaults to x's
        (time-major) batch size, size to hidden_size (h_0 of an LSTM with proj_size: that)."""
        directions = 2 if self.bidirectional else 1
        batch = x.shape[1] if batch is None else batch
        size = self.hidden_size if size is None else size
        expected = (self.num_layers * directions, batch, size)
        if hx is None:
            return zeros(expected, dtype=x.dtype, device=x.device)
        if tuple(hx.shape) != expected:
            raise RuntimeError(f"Expected hidden{which} size {expected}, got {list(hx.shape)}")
        return hx

    def _forward_packed(self, input: PackedSequence, hx: tuple):
        """PackedSequence input -> (PackedSequence output, tuple of final states).

        hx is (h_0,) or (h_0, c_0), entries None for zeros, in the batch's original order.
        Each run of equal-length sequences (contiguous in packed order) goes through _run as
        one batch; the outputs are gathered back into packed order.
        """
        data = input.data
        if data.ndim != 2 or data.shape[1] != self.input_size:
            raise RuntimeError(
                f"{type(self).__name__}: a PackedSequence's data must be (N, input_size="
                f"{self.input_size}), got shape {list(data.shape)}"
            )
        sizes = _batch_sizes(input)
        batch = sizes[0]
        states = [
            self._initial(h, data, f"[{i}]" if len(hx) == 2 else "", batch, self._state_size(i))
            for i, h in enumerate(hx)
        ]
        if input.sorted_indices is not None:  # states come in batch order, data sorted
            states = [s.index_select(1, input.sorted_indices) for s in states]
        lengths = _lengths(sizes)
        step_start = np.concatenate([[0], np.cumsum(sizes)[:-1]])
        sources, outs, finals = [], [], []
        for start in np.flatnonzero(np.diff(lengths, prepend=-1)):  # runs of equal length
            end, steps = start + int((lengths == lengths[start]).sum()), int(lengths[start])
            rows = (step_start[:steps, None] + np.arange(start, end)).reshape(-1)
            x = data.index_select(0, tensor(rows, device=data.device))
            x = x.reshape(steps, end - start, self.input_size)
            group = [s[:, start:end] for s in states]
            out, *state = self._run(x, group[0], group[1] if len(group) == 2 else None)
            sources.append(rows)
            outs.append(out.reshape(-1, out.shape[2]))
            finals.append(state[: len(hx)])
        # row r of cat(outs) is packed row sources[r]
        order = np.argsort(np.concatenate(sources))
        output = cat(outs).index_select(0, tensor(order, device=data.device))
        finals = [cat(list(f), 1) for f in zip(*finals)]
        if input.unsorted_indices is not None:
            finals = [f.index_select(1, input.unsorted_indices) for f in finals]
        return input._with_data(output), tuple(finals)  # input's batch sizes and indices

    def _state_size(self, i: int) -> int:
        """The size of state i (h, then c): an LSTM's h has proj_size features if set."""
        return self.proj_size if i == 0 and self.proj_size > 0 else self.hidden_size

    def _finish(self, output: Tensor, batched: bool, *states):
        if not batched:
            return (output.squeeze(1),) + tuple(s.squeeze(1) for s in states)
        if self.batch_first:
            output = output.transpose(0, 1)
        return (output,) + states


def _check_hyperparameters(input_size, hidden_size, num_layers, dropout, proj_size):
    if (
        not isinstance(dropout, numbers.Number)
        or isinstance(dropout, bool)
        or not 0 <= dropout <= 1
    ):
        raise ValueError(
            "dropout should be a number in range [0, 1] representing the "
            "probability of an element being zeroed"
        )
    if not isinstance(hidden_size, int):
        raise TypeError(f"hidden_size should be of type int, got: {type(hidden_size).__name__}")
    if hidden_size <= 0:
        raise ValueError("hidden_size must be greater than zero")
    if num_layers <= 0:
        raise ValueError("num_layers must be greater than zero")
    if proj_size < 0:
        raise ValueError("proj_size should be a positive integer or zero to disable projections")
    if proj_size >= hidden_size:
        raise ValueError("proj_size has to be smaller than hidden_size")


def _lstm_projected(gi, h, c, w_hh, b_hh, w_hr, reverse: bool):
    """An LSTM layer-direction with a projection (proj_size), composed of Tensor ops step by
    step (the fused rnn_sequence op has no projection): per step the gates from gi[t] +
    h W_hh^T + b_hh, c' = f c + i g, h' = (o tanh(c')) W_hr^T. Returns (hs (T, N, P), h_T, c_T)
    with hs in time order (a reverse direction runs from the last step)."""
    steps = gi.shape[0]
    hs = [None] * steps
    for t in reversed(range(steps)) if reverse else range(steps):
        gates = gi[t] + F.linear(h, w_hh, b_hh)
        i, f, g, o = gates.chunk(4, 1)
        c = f.sigmoid() * c + i.sigmoid() * g.tanh()
        h = F.linear(o.sigmoid() * c.tanh(), w_hr)
        hs[t] = h
    return stack(hs), h, c


class RNN(RNNBase):
    """Elman RNN: h_t = act(x_t W_ih^T + b_ih + h_{t-1} W_hh^T + b_hh), act = tanh or relu.

    Args:
        input_size, hidden_size, num_layers (stacked layers), nonlinearity ('tanh' | 'relu'),
        bias, batch_first ((N, T, H_in) input), dropout (between layers), bidirectional.

    Shape: input (T, N, H_in) (or (N, T, H_in) batch_first; or unbatched (T, H_in)); h_0
    (D * num_layers, N, H). Output (T, N, D * H) and h_n (D * num_layers, N, H).

    Example:
        >>> import minitorch as torch
        >>> rnn = torch.nn.RNN(10, 20, 2)
        >>> out, h = rnn(torch.randn(5, 3, 10))
        >>> out.shape, h.shape
        (minitorch.Size([5, 3, 20]), minitorch.Size([2, 3, 20]))
    """

    def __init__(
        self,
        input_size: int,
        hidden_size: int,
        num_layers: int = 1,
        nonlinearity: str = "tanh",
        bias: bool = True,
        batch_first: bool = False,
        dropout: float = 0.0,
        bidirectional: bool = False,
        device=None,
        dtype=None,
    ) -> None:
        if nonlinearity not in ("tanh", "relu"):
            raise ValueError(
                f"Unknown nonlinearity '{nonlinearity}'. Select from 'tanh' or 'relu'."
            )
        super().__init__(
            "RNN_TANH" if nonlinearity == "tanh" else "RNN_RELU",
            input_size,
            hidden_size,
            num_layers,
            bias,
            batch_first,
            dropout,
            bidirectional,
            device=device,
            dtype=dtype,
        )
        self.nonlinearity = nonlinearity

    def forward(self, input: Tensor | PackedSequence, hx: Tensor | None = None):
        if isinstance(input, PackedSequence):
            output, (h_n,) = self._forward_packed(input, (hx,))
            return output, h_n
        x, batched, hx = self._prepare(input, hx)
        h0 = self._initial(hx, x)
        output, h_n, _ = self._run(x, h0, None)
        return self._finish(output, batched, h_n)

    def extra_repr(self) -> str:
        s = super().extra_repr()
        return s if self.nonlinearity == "tanh" else s + f", nonlinearity={self.nonlinearity!r}"


class GRU(RNNBase):
    """Gated recurrent unit (gate order r, z, n, as PyTorch):

        r = sigmoid(W_ir x + b_ir + W_hr h + b_hr),  z = sigmoid(W_iz x + b_iz + W_hz h + b_hz)
        n = tanh(W_in x + b_in + r * (W_hn h + b_hn)),  h' = (1 - z) * n + z * h

    Arguments and shapes as RNN (no nonlinearity).

    Example:
        >>> import minitorch as torch
        >>> gru = torch.nn.GRU(28, 100, batch_first=True)
        >>> out, h = gru(torch.randn(32, 16, 28))
        >>> out.shape, h.shape
        (minitorch.Size([32, 16, 100]), minitorch.Size([1, 32, 100]))
    """

    def __init__(
        self,
        input_size: int,
        hidden_size: int,
        num_layers: int = 1,
        bias: bool = True,
        batch_first: bool = False,
        dropout: float = 0.0,
        bidirectional: bool = False,
        device=None,
        dtype=None,
    ) -> None:
        super().__init__(
            "GRU",
            input_size,
            hidden_size,
            num_layers,
            bias,
            batch_first,
            dropout,
            bidirectional,
            device=device,
            dtype=dtype,
        )

    # one hidden state and no cell state: the module-level steps are RNN's
    forward = RNN.forward


class LSTM(RNNBase):
    """Long short-term memory (gate order i, f, g, o, as PyTorch):

        i, f, o = sigmoid(W_i* x + b_i* + W_h* h + b_h*),  g = tanh(...)
        c' = f * c + i * g,  h' = o * tanh(c')

    forward(input, (h_0, c_0)) -> output, (h_n, c_n). Arguments and shapes as RNN.

    Example:
        >>> import minitorch as torch
        >>> lstm = torch.nn.LSTM(10, 20, 2)
        >>> out, (h, c) = lstm(torch.randn(5, 3, 10))
        >>> out.shape, h.shape, c.shape
        (minitorch.Size([5, 3, 20]), minitorch.Size([2, 3, 20]), minitorch.Size([2, 3, 20]))
    """

    def __init__(
        self,
        input_size: int,
        hidden_size: int,
        num_layers: int = 1,
        bias: bool = True,
        batch_first: bool = False,
        dropout: float = 0.0,
        bidirectional: bool = False,
        proj_size: int = 0,
        device=None,
        dtype=None,
    ) -> None:
        super().__init__(
            "LSTM",
            input_size,
            hidden_size,
            num_layers,
            bias,
            batch_first,
            dropout,
            bidirectional,
            proj_size,
            device=device,
            dtype=dtype,
        )

    def forward(self, input: Tensor | PackedSequence, hx=None):
        if hx is not None and (not isinstance(hx, tuple) or len(hx) != 2):
            raise RuntimeError("LSTM: hx must be a tuple (h_0, c_0) of two tensors")
        if isinstance(input, PackedSequence):
            output, (h_n, c_n) = self._forward_packed(input, hx or (None, None))
            return output, (h_n, c_n)
        x, batched, hx = self._prepare(input, hx)
        h0 = self._initial(None if hx is None else hx[0], x, "[0]", size=self._state_size(0))
        c0 = self._initial(None if hx is None else hx[1], x, "[1]")
        output, h_n, c_n = self._run(x, h0, c0)
        output, h_n, c_n = self._finish(output, batched, h_n, c_n)
        return output, (h_n, c_n)


# ---- cells ------------------------------------------------------------------------------------
class RNNCellBase(Module):
    """Parameters of a single-step cell: weight_ih, weight_hh (chunks * H rows), biases."""

    def __init__(
        self,
        input_size: int,
        hidden_size: int,
        bias: bool,
        num_chunks: int,
        device=None,
        dtype=None,
    ) -> None:
        super().__init__()
        self.input_size = input_size
        self.hidden_size = hidden_size
        self.bias = bias
        self.weight_ih = Parameter(new_empty((num_chunks * hidden_size, input_size), device, dtype))
        self.weight_hh = Parameter(
            new_empty((num_chunks * hidden_size, hidden_size), device, dtype)
        )
        if bias:
            self.bias_ih = Parameter(new_empty((num_chunks * hidden_size,), device, dtype))
            self.bias_hh = Parameter(new_empty((num_chunks * hidden_size,), device, dtype))
        else:
            self.register_parameter("bias_ih", None)
            self.register_parameter("bias_hh", None)
        self.reset_parameters()

    def reset_parameters(self) -> None:
        _init_uniform(self)

    def extra_repr(self) -> str:
        s = f"{self.input_size}, {self.hidden_size}"
        if self.bias is not True:
            s += f", bias={self.bias}"
        nonlinearity = getattr(self, "nonlinearity", "tanh")
        if nonlinearity != "tanh":
            s += f", nonlinearity={nonlinearity}"
        return s

    def _step(self, input: Tensor, hx, mode: str, n_states: int):
        """One step through the fused recurrence: returns the new state tensors."""
        name = type(self).__name__
        if input.ndim not in (1, 2):
            raise ValueError(f"{name}: Expected input to be 1D or 2D, got {input.ndim}D instead")
        if input.shape[-1] != self.input_size:
            raise RuntimeError(
                f"input has inconsistent input_size: got {input.shape[-1]} "
                f"expected {self.input_size}"
            )
        batched = input.ndim == 2
        x = input if batched else input.unsqueeze(0)
        states = hx if isinstance(hx, tuple) else (hx,) * (1 if hx is not None else 0)
        if not states:
            zero = zeros(x.shape[0], self.hidden_size, dtype=x.dtype, device=x.device)
            states = (zero,) * n_states
        if not batched:
            if any(s.ndim != 1 for s in states):
                raise ValueError(f"{name}: Expected hidden to be 1D for unbatched 1D input")
            states = tuple(s.unsqueeze(0) for s in states)
        gi = F.linear(x, self.weight_ih, self.bias_ih).unsqueeze(0)
        c0 = states[1] if n_states == 2 else None
        out, _ = apply(
            R.rnn_sequence,
            gi,
            states[0],
            c0,
            self.weight_hh,
            self.bias_hh,
            mode=mode,
            reverse=False,
        )
        new = (out[0], out[1]) if n_states == 2 else (out[0],)
        return new if batched else tuple(s.squeeze(0) for s in new)


class RNNCell(RNNCellBase):
    """One Elman RNN step: h' = act(x W_ih^T + b_ih + h W_hh^T + b_hh).

    Example:
        >>> import minitorch as torch
        >>> cell = torch.nn.RNNCell(10, 20)
        >>> cell(torch.randn(3, 10)).shape
        minitorch.Size([3, 20])
    """

    def __init__(
        self,
        input_size: int,
        hidden_size: int,
        bias: bool = True,
        nonlinearity: str = "tanh",
        device=None,
        dtype=None,
    ) -> None:
        if nonlinearity not in ("tanh", "relu"):
            raise ValueError(f"Unknown nonlinearity: {nonlinearity}")
        super().__init__(input_size, hidden_size, bias, 1, device, dtype)
        self.nonlinearity = nonlinearity

    def forward(self, input: Tensor, hx: Tensor | None = None) -> Tensor:
        return self._step(input, hx, "rnn_" + self.nonlinearity, 1)[0]


class GRUCell(RNNCellBase):
    """One GRU step (gate order r, z, n). Returns h'."""

    def __init__(
        self, input_size: int, hidden_size: int, bias: bool = True, device=None, dtype=None
    ) -> None:
        super().__init__(input_size, hidden_size, bias, 3, device, dtype)

    def forward(self, input: Tensor, hx: Tensor | None = None) -> Tensor:
        return self._step(input, hx, "gru", 1)[0]


class LSTMCell(RNNCellBase):
    """One LSTM step (gate order i, f, g, o). forward(input, (h, c)) -> (h', c')."""

    def __init__(
        self, input_size: int, hidden_size: int, bias: bool = True, device=None, dtype=None
    ) -> None:
        super().__init__(input_size, hidden_size, bias, 4, device, dtype)

    def forward(self, input: Tensor, hx=None):
        return self._step(input, hx, "lstm", 2)
