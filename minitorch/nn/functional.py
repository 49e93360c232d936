"""nn.functional: the math behind the layers, as functions (PyTorch names and defaults).

Most functions are short compositions of Tensor ops, so they get autograd and tracing for
free; linear and cross_entropy are fused registry ops (minitorch/ops/linear.py, loss.py).
Convolution, pooling, padding, interpolation, RNN and attention functions live in
functional_conv.py and are re-exported here.

    import minitorch.nn.functional as F
    loss = F.cross_entropy(model(x), y)
"""

from __future__ import annotations

import math
import warnings

import numpy as np

from .. import dtypes
from ..arranging import triu_indices
from ..autograd.grad_mode import is_grad_enabled, no_grad
from ..functional import cat, stack, where, write_out
from ..jit_guard import tracing
from ..ops import elementwise as E
from ..ops import linear as _linear_op
from ..ops import loss as _loss_op
from ..ops import norm as _norm_op
from ..ops.reduce import normalize_dim
from ..ops.registry import apply
from ..random import bernoulli, dropout_mask
from ..tensor import Tensor, wrap

# Convolution, pooling, padding, interpolation, RNN and attention (another engineer's file).
from .functional_conv import *  # noqa: F403
from .functional_conv3d import *  # noqa: F403

# ---- helpers -------------------------------------------------------------------------------


def _legacy_reduction(size_average, reduce, reduction: str) -> str:
    """Map the deprecated size_average/reduce flags onto `reduction`, like PyTorch."""
    if size_average is None and reduce is None:
        return reduction
    size_average = True if size_average is None else size_average
    reduce = True if reduce is None else reduce
    if size_average and reduce:
        return "mean"
    return "sum" if reduce else "none"


def _reduce(loss: Tensor, reduction: str) -> Tensor:
    if reduction == "mean":
        return loss.mean()
    if reduction == "sum":
        return loss.sum()
    if reduction == "none":
        return loss
    raise ValueError(f"{reduction} is not a valid value for reduction")


def _arange(n: int, dtype=dtypes.int64) -> Tensor:
    return wrap(np.arange(n, dtype=dtype.np), dtype)


def _softplus(z: Tensor, threshold: float = 20.0) -> Tensor:
    """log(1 + exp(z)), and z itself above threshold (where the two agree to float precision).

    NOTE: exp is taken of min(z, threshold): exp(z) overflows to inf for large z, and the
    unused branch's gradient 0 * inf would be nan. (max(z, 0) + log1p(exp(-|z|)) is also
    overflow-free but has gradient 0 instead of 0.5 at z == 0.)
    """
    return where(z > threshold, z, z.clamp(max=threshold).exp().log1p())


def _maybe_inplace(fn, input: Tensor, inplace: bool) -> Tensor:
    """fn(input), written back into input when inplace=True.

    The composite reads a clone when autograd is recording, so the values its backward
    saved are not the ones the write-back overwrites.
    """
    if not inplace:
        return fn(input)
    src = input.clone() if (is_grad_enabled() and input.requires_grad) else input
    return input.copy_(fn(src))


# ---- activations ---------------------------------------------------------------------------


def relu(input: Tensor, inplace: bool = False) -> Tensor:
    """max(x, 0)."""
    return input.relu_() if inplace else input.relu()


def relu_(input: Tensor) -> Tensor:
    return input.relu_()


def relu6(input: Tensor, inplace: bool = False) -> Tensor:
    """min(max(x, 0), 6)."""
    return hardtanh(input, 0.0, 6.0, inplace)


def leaky_relu(input: Tensor, negative_slope: float = 0.01, inplace: bool = False) -> Tensor:
    """x if x > 0 else negative_slope * x."""
    return _maybe_inplace(lambda x: where(x > 0, x, x * negative_slope), input, inplace)


def leaky_relu_(input: Tensor, negative_slope: float = 0.01) -> Tensor:
    return leaky_relu(input, negative_slope, True)


def rrelu(
    input: Tensor,
    lower: float = 1.0 / 8,
    upper: float = 1.0 / 3,
    training: bool = False,
    inplace: bool = False,
) -> Tensor:
    """Randomized leaky ReLU: in training each negative element's slope is drawn from
    U(lower, upper) (the gradient is that slope); in eval the slope is (lower + upper) / 2."""
    if not training:
        return leaky_relu(input, (lower + upper) / 2, inplace)
    with no_grad():
        slope = where(input >= 0, 1.0, input.new_empty(input.shape).uniform_(lower, upper))
    return _maybe_inplace(lambda x: x * slope, input, inplace)


def rrelu_(
    input: Tensor, lower: float = 1.0 / 8, upper: float = 1.0 / 3, training: bool = False
) -> Tensor:
    return rrelu(input, lower, upper, training, True)


def elu(input: Tensor, alpha: float = 1.0, inplace: bool = False) -> Tensor:
    """x if x > 0 else alpha * (exp(x) - 1)."""
    # NOTE: expm1 of min(x, 0), not exp(x) - 1 on all x: exp overflows to inf for large x
    # and the unused branch's gradient 0 * inf would be nan.
    return _maybe_inplace(
        lambda x: where(x > 0, x, x.clamp(max=0.0).expm1() * alpha), input, inplace
    )


def elu_(input: Tensor, alpha: float = 1.0) -> Tensor:
    return elu(input, alpha, True)


def celu(input: Tensor, alpha: float = 1.0, inplace: bool = False) -> Tensor:
    """max(0, x) + min(0, alpha * (exp(x / alpha) - 1))."""
    return _maybe_inplace(
        lambda x: where(x > 0, x, (x.clamp(max=0.0) / alpha).expm1() * alpha), input, inplace
    )


_SELU_ALPHA = 1.6732632423543772848170429916717
_SELU_SCALE = 1.0507009873554804934193349852946


def selu(input: Tensor, inplace: bool = False) -> Tensor:
    """scale * elu(x, alpha) with the self-normalising constants."""
    return _maybe_inplace(lambda x: elu(x, _SELU_ALPHA) * _SELU_SCALE, input, inplace)


def gelu(input: Tensor, approximate: str = "none") -> Tensor:
    """x * Phi(x): exact with erf ('none') or the tanh approximation ('tanh')."""
    if approximate == "none":
        return input * ((input * (1 / math.sqrt(2.0))).erf() + 1.0) * 0.5
    if approximate == "tanh":
        inner = (input + input * input * input * 0.044715) * math.sqrt(2.0 / math.pi)
        return input * (inner.tanh() + 1.0) * 0.5
    raise RuntimeError(f"approximate argument must be either none or tanh, got {approximate!r}")


def silu(input: Tensor, inplace: bool = False) -> Tensor:
    """x * sigmoid(x) (swish)."""
    return _maybe_inplace(lambda x: x * x.sigmoid(), input, inplace)


def mish(input: Tensor, inplace: bool = False) -> Tensor:
    """x * tanh(softplus(x))."""
    return _maybe_inplace(lambda x: x * softplus(x).tanh(), input, inplace)


def softplus(input: Tensor, beta: float = 1.0, threshold: float = 20.0) -> Tensor:
    """log(1 + exp(beta * x)) / beta, and x itself where beta * x > threshold."""
    if beta == 1:
        return _softplus(input, threshold)
    bx = input * beta
    return where(bx > threshold, input, _softplus(bx, threshold) / beta)


def logsigmoid(input: Tensor) -> Tensor:
    """log(sigmoid(x)) = -softplus(-x), computed without overflow."""
    return -_softplus(-input)


def sigmoid(input: Tensor) -> Tensor:
    return input.sigmoid()


def tanh(input: Tensor) -> Tensor:
    return input.tanh()


def hardtanh(
    input: Tensor, min_val: float = -1.0, max_val: float = 1.0, inplace: bool = False
) -> Tensor:
    """x clamped to [min_val, max_val]."""
    if min_val > max_val:
        raise ValueError("min_val cannot be greater than max_val")
    if not (input.requires_grad and is_grad_enabled()):
        return input.clamp_(min_val, max_val) if inplace else input.clamp(min_val, max_val)
    return _maybe_inplace(lambda x: _strict_clamp(x, min_val, max_val), input, inplace)


def _strict_clamp(x: Tensor, lo: float, hi: float) -> Tensor:
    """clamp(x, lo, hi) whose gradient is 0 at x == lo or x == hi.

    NOTE: PyTorch's hardtanh/relu6/hardsigmoid pass no gradient at the ends of the range;
    clamp (like torch.clamp) passes it there, so the ends are selected explicitly.
    """
    return where((x > lo) & (x < hi), x, x.detach().clamp(lo, hi))


def hardtanh_(input: Tensor, min_val: float = -1.0, max_val: float = 1.0) -> Tensor:
    return hardtanh(input, min_val, max_val, True)


def hardsigmoid(input: Tensor, inplace: bool = False) -> Tensor:
    """relu6(x + 3) / 6."""
    return _maybe_inplace(lambda x: _strict_clamp(x + 3.0, 0.0, 6.0) / 6.0, input, inplace)


def hardswish(input: Tensor, inplace: bool = False) -> Tensor:
    """x * relu6(x + 3) / 6."""
    return _maybe_inplace(lambda x: x * _strict_clamp(x + 3.0, 0.0, 6.0) / 6.0, input, inplace)


def softsign(input: Tensor) -> Tensor:
    """x / (1 + |x|)."""
    return input / (input.abs() + 1.0)


def tanhshrink(input: Tensor) -> Tensor:
    return input - input.tanh()


def hardshrink(input: Tensor, lambd: float = 0.5) -> Tensor:
    return where(input.abs() > lambd, input, 0.0)


def softshrink(input: Tensor, lambd: float = 0.5) -> Tensor:
    return where(input > lambd, input - lambd, where(input < -lambd, input + lambd, 0.0))


def threshold(input: Tensor, threshold: float, value: float, inplace: bool = False) -> Tensor:
    """x if x > threshold else value."""
    return _maybe_inplace(lambda x: where(x > threshold, x, value), input, inplace)


def prelu(input: Tensor, weight: Tensor) -> Tensor:
    """x if x > 0 else weight * x, weight per channel (dim 1) or shared (one element)."""
    w = weight
    if weight.numel() != 1:
        if input.ndim < 2 and input.ndim != 1:
            raise RuntimeError("prelu: weight with more than one element needs a channel dim")
        shape = [1] * input.ndim
        shape[1 if input.ndim >= 2 else 0] = weight.numel()
        w = weight.reshape(shape)
    return where(input > 0, input, input * w)


def glu(input: Tensor, dim: int = -1) -> Tensor:
    """a * sigmoid(b) where a, b are the two halves of input along dim."""
    n = input.shape[normalize_dim(dim, input.ndim, "glu")]
    if n % 2:
        raise RuntimeError(f"Halving dimension must be even, but dimension {dim} is size {n}")
    a, b = input.split(n // 2, dim)
    return a * b.sigmoid()


def _softmax_dim(name: str, ndim: int) -> int:
    warnings.warn(
        f"Implicit dimension choice for {name} has been deprecated. Change the call to include "
        "dim=X as an argument.",
        stacklevel=3,
    )
    return 0 if ndim in (0, 1, 3) else 1


def softmax(input: Tensor, dim: int | None = None, _stacklevel: int = 3, dtype=None) -> Tensor:
    """exp(x) / sum(exp(x)) along dim (fused, max-shifted)."""
    if dim is None:
        dim = _softmax_dim("softmax", input.ndim)
    return input.softmax(dim, dtype=dtype)


def log_softmax(input: Tensor, dim: int | None = None, _stacklevel: int = 3, dtype=None) -> Tensor:
    """x - logsumexp(x) along dim (fused, max-shifted)."""
    if dim is None:
        dim = _softmax_dim("log_softmax", input.ndim)
    return input.log_softmax(dim, dtype=dtype)


def softmin(input: Tensor, dim: int | None = None, _stacklevel: int = 3, dtype=None) -> Tensor:
    if dim is None:
        dim = _softmax_dim("softmin", input.ndim)
    return (-input).softmax(dim, dtype=dtype)


# ---- linear, dropout, embedding ------------------------------------------------------------


def linear(input: Tensor, weight: Tensor, bias: Tensor | None = None) -> Tensor:
    """input @ weight.T + bias, one fused op (weight: (out_features, in_features))."""
    if bias is None:
        return apply(_linear_op.linear, input, weight)
    return apply(_linear_op.linear, input, weight, bias)


def bilinear(input1: Tensor, input2: Tensor, weight: Tensor, bias: Tensor | None = None) -> Tensor:
    """out[..., k] = x1[..., i] * weight[k, i, j] * x2[..., j] + bias[k]."""
    if input1.shape[:-1] != input2.shape[:-1]:
        raise RuntimeError(
            f"bilinear(): input batch dimensions do not match: got {list(input1.shape[:-1])} "
            f"and {list(input2.shape[:-1])}"
        )
    out_f, in1, in2 = weight.shape
    lead = input1.shape[:-1]
    x1 = input1.reshape(-1, in1)
    x2 = input2.reshape(-1, in2)
    # (B, in1) @ (in1, out*in2) -> (B, out, in2), then contract in2 with x2
    t = x1.matmul(weight.permute(1, 0, 2).reshape(in1, out_f * in2)).reshape(-1, out_f, in2)
    out = t.matmul(x2.unsqueeze(-1)).squeeze(-1)
    if bias is not None:
        out = out + bias
    return out.reshape(tuple(lead) + (out_f,))


def _check_p(p: float) -> None:
    if p < 0.0 or p > 1.0:
        raise ValueError(f"dropout probability has to be between 0 and 1, but got {p}")


def _dropout_with_mask_shape(input: Tensor, p: float, mask_shape: tuple, inplace: bool):
    if p == 1.0:
        out = input * 0.0
        return input.copy_(out) if inplace else out
    with no_grad():
        mask = dropout_mask(input, mask_shape, p)
    if inplace:
        return input.mul_(mask)
    return input * mask


def dropout(input: Tensor, p: float = 0.5, training: bool = True, inplace: bool = False) -> Tensor:
    """Zero each element with probability p and scale the rest by 1 / (1 - p) (training only).

    The mask comes from minitorch's counter-based generator: `manual_seed` reproduces it.
    """
    _check_p(p)
    if not training or p == 0.0:
        return input
    return _dropout_with_mask_shape(input, p, tuple(input.shape), inplace)


def _feature_dropout(
    input: Tensor, p: float, training: bool, inplace: bool, batched_ndim: int, name: str
) -> Tensor:
    _check_p(p)
    if input.ndim not in (batched_ndim - 1, batched_ndim):
        raise RuntimeError(
            f"{name}: Expected {batched_ndim - 1}D or {batched_ndim}D input, but received a "
            f"{input.ndim}D input. Note that {name} exists to provide channel-wise dropout on "
            "inputs with spatial dimensions; use dropout for plain feature dropout."
        )
    if not training or p == 0.0:
        return input
    feature_dims = 2 if input.ndim == batched_ndim else 1
    shape = tuple(input.shape[:feature_dims]) + (1,) * (input.ndim - feature_dims)
    return _dropout_with_mask_shape(input, p, shape, inplace)


def dropout1d(
    input: Tensor, p: float = 0.5, training: bool = True, inplace: bool = False
) -> Tensor:
    """Zero whole channels of (N, C, L) or (C, L) input with probability p."""
    return _feature_dropout(input, p, training, inplace, 3, "dropout1d")


def dropout2d(
    input: Tensor, p: float = 0.5, training: bool = True, inplace: bool = False
) -> Tensor:
    """Zero whole channels of (N, C, H, W) input with probability p.

    A 3-D input is treated as (N, C, L), as PyTorch does (with the same warning).
    """
    if input.ndim == 3:
        warnings.warn(
            "dropout2d: Received a 3D input to dropout2d and assuming that channel-wise 1D "
            "dropout behavior is desired - input is interpreted as shape (N, C, L), where C "
            "is the channel dim. This behavior will change in a future release to interpret "
            "the input as one without a batch dimension, i.e. shape (C, H, W). To maintain "
            "the 1D channel-wise dropout behavior, please switch to using dropout1d instead.",
            stacklevel=2,
        )
        return _feature_dropout(input, p, training, inplace, 3, "dropout2d")
    return _feature_dropout(input, p, training, inplace, 4, "dropout2d")


def dropout3d(
    input: Tensor, p: float = 0.5, training: bool = True, inplace: bool = False
) -> Tensor:
    return _feature_dropout(input, p, training, inplace, 5, "dropout3d")


def alpha_dropout(
    input: Tensor, p: float = 0.5, training: bool = False, inplace: bool = False
) -> Tensor:
    """Dropout that keeps SELU's self-normalising mean and variance."""
    return _alpha_dropout(input, p, training, inplace, tuple(input.shape))


def feature_alpha_dropout(
    input: Tensor, p: float = 0.5, training: bool = False, inplace: bool = False
) -> Tensor:
    """alpha_dropout of whole channels: one draw per (N, C) of an (N, C, ...) input."""
    if input.ndim < 2:
        raise RuntimeError(
            f"feature_alpha_dropout: Feature dropout requires at least 2 dimensions in the "
            f"input, got a {input.ndim}-D input of shape {tuple(input.shape)}"
        )
    shape = tuple(input.shape[:2]) + (1,) * (input.ndim - 2)
    return _alpha_dropout(input, p, training, inplace, shape)


def _alpha_dropout(input: Tensor, p: float, training: bool, inplace: bool, shape) -> Tensor:
    """Dropped elements become SELU's saturation value, then all are scaled and shifted back
    to the input's mean and variance; `shape`: the draws' (broadcast over input)."""
    _check_p(p)
    if not training or p == 0.0:
        return input
    if p == 1.0:
        return input * 0.0
    alpha = -_SELU_ALPHA * _SELU_SCALE
    a = ((1 - p) * (1 + p * alpha * alpha)) ** -0.5
    b = -a * alpha * p
    with no_grad():
        keep = bernoulli(input.new_empty(shape), 1.0 - p)
    return _maybe_inplace(lambda x: (x * keep + (1 - keep) * alpha) * a + b, input, inplace)


def embedding(
    input: Tensor,
    weight: Tensor,
    padding_idx: int | None = None,
    max_norm: float | None = None,
    norm_type: float = 2.0,
    scale_grad_by_freq: bool = False,
    sparse: bool = False,
) -> Tensor:
    """Rows of weight picked by the integer indices in input: out[...] = weight[input[...]].

    The row at padding_idx receives no gradient.
    """
    if input.dtype.is_floating_point:
        raise RuntimeError(
            "Expected tensor for argument #1 'indices' to have one of the following scalar "
            f"types: Long, Int; but got {input.dtype} instead (while checking arguments for "
            "embedding)"
        )
    num = weight.shape[0]
    if padding_idx is not None:
        if not -num <= padding_idx < num:
            raise AssertionError("Padding_idx must be within num_embeddings")
        padding_idx %= num
    if max_norm is not None:
        _embedding_renorm_(weight, input, max_norm, norm_type)
    out = weight[input]
    if padding_idx is not None and weight.requires_grad:
        # same values, but positions holding padding_idx route their gradient to a
        # detached copy, so weight[padding_idx] gets none
        pad = (input == padding_idx).unsqueeze(-1)
        out = where(pad, out.detach(), out)
    if scale_grad_by_freq and out.requires_grad:
        ids = input.detach().numpy().reshape(-1)
        counts = np.bincount(ids, minlength=num)[ids].reshape(tuple(input.shape) + (1,))
        scale = wrap((1.0 / counts).astype(weight.dtype.np), weight.dtype)
        out.register_hook(lambda g: g * scale)
    return out


def embedding_bag(
    input: Tensor,
    weight: Tensor,
    offsets: Tensor | None = None,
    max_norm: float | None = None,
    norm_type: float = 2,
    scale_grad_by_freq: bool = False,
    mode: str = "mean",
    sparse: bool = False,
    per_sample_weights: Tensor | None = None,
    include_last_offset: bool = False,
    padding_idx: int | None = None,
) -> Tensor:
    """Sum, mean or max of the embedding rows in each bag: out[b] = reduce(weight[input[bag b]]).

    A 2-D input (B, L) holds B bags of L ids; a 1-D input is cut into bags where `offsets`
    says. Empty bags (and bags of only padding_idx) give zeros. per_sample_weights (mode
    'sum') scales each row. sparse=True is accepted, but the gradient is dense (minitorch has
    no sparse tensors).

    Shape: output (B, embedding_dim).
    """
    if mode not in ("sum", "mean", "max"):
        raise ValueError(f"embedding_bag: mode has to be one of sum, mean or max; got {mode!r}")
    if per_sample_weights is not None and mode != "sum":
        raise NotImplementedError(
            f"embedding_bag: per_sample_weights was not None. per_sample_weights is only "
            f"supported for mode='sum' (got mode='{mode}'). Please open a feature request on "
            "GitHub."
        )
    ids, bag, n_bags = _bags(input, offsets, include_last_offset, per_sample_weights)
    keep = np.ones(len(ids), bool) if padding_idx is None else ids != padding_idx % len(weight)
    ids, bag = ids[keep], bag[keep]
    rows = embedding(wrap(ids, dtypes.int64), weight, None, max_norm, norm_type, scale_grad_by_freq)
    if per_sample_weights is not None:
        kept = wrap(np.flatnonzero(keep), dtypes.int64)
        rows = rows * per_sample_weights.reshape(-1)[kept].unsqueeze(1)
    counts = np.bincount(bag, minlength=n_bags)
    if mode == "max":
        return _bag_max(rows, bag, counts)
    out = weight.new_zeros((n_bags, weight.shape[1])).index_add(0, wrap(bag, dtypes.int64), rows)
    if mode == "mean":
        out = out / wrap(np.maximum(counts, 1).astype(weight.dtype.np)[:, None], weight.dtype)
    return out


def _bags(input: Tensor, offsets, include_last_offset: bool, per_sample_weights):
    """(flat ids, bag of each id, number of bags) as numpy arrays, checked as PyTorch does."""
    if per_sample_weights is not None and tuple(per_sample_weights.shape) != tuple(input.shape):
        raise ValueError(
            f"embedding_bag: per_sample_weights (of shape {tuple(per_sample_weights.shape)}) "
            f"must have the same shape as input (of shape {tuple(input.shape)})"
        )
    ids = input.detach().numpy().astype(np.int64)
    if input.dim() == 2:
        if offsets is not None:
            raise ValueError(
                "embedding_bag: if input is 2D, then offsets has to be None, as input is treated "
                f"as a mini-batch of fixed length sequences. However, found offsets of type "
                f"{type(offsets).__name__}"
            )
        return ids.reshape(-1), np.repeat(np.arange(ids.shape[0]), ids.shape[1]), ids.shape[0]
    if input.dim() != 1:
        raise ValueError(
            f"embedding_bag: input has to be 1D or 2D Tensor, but got Tensor of dimension "
            f"{input.dim()} (shape {tuple(input.shape)})"
        )
    if offsets is None or offsets.dim() != 1:
        raise ValueError(
            "embedding_bag: offsets has to be a 1D Tensor but got "
            f"{None if offsets is None else f'shape {tuple(offsets.shape)}'}; pass the start "
            "of each bag in input"
        )
    starts = offsets.detach().numpy().astype(np.int64)
    n_bags = len(starts) - 1 if include_last_offset else len(starts)
    bag = np.searchsorted(starts[: n_bags + 1], np.arange(len(ids)), side="right") - 1
    inside = bag < n_bags  # (with include_last_offset, ids past the last offset belong to none)
    return ids[inside], bag[inside], n_bags


def _bag_max(rows: Tensor, bag: np.ndarray, counts: np.ndarray) -> Tensor:
    """Per-bag max of rows (bag ascending): gather them into (bags, longest bag, dim), padded
    with a row of -inf."""
    position = np.arange(len(bag)) - (np.cumsum(counts) - counts)[bag]
    index = np.full((len(counts), max(counts.max(initial=0), 1)), len(bag), np.int64)
    index[bag, position] = np.arange(len(bag))
    padded = cat([rows, rows.new_full((1, rows.shape[1]), -math.inf)])
    out = padded[wrap(index, dtypes.int64)].amax(dim=1)
    empty = wrap((counts == 0)[:, None], dtypes.bool_)
    return where(empty, 0.0, out)


def _embedding_renorm_(weight: Tensor, input: Tensor, max_norm: float, norm_type: float) -> None:
    """Rescale (in place) the rows of weight that input picks so their norm is <= max_norm."""
    with no_grad():
        # NOTE: every pick, repeats included (no np.unique: that reads the indices on the host,
        # which a traced step cannot): a repeated row is written the same value again
        rows = input.detach().reshape(-1)
        picked = weight[rows]
        norms = picked.norm(norm_type, dim=1, keepdim=True)
        scale = where(norms > max_norm, max_norm / (norms + 1e-7), 1.0)
        weight[rows] = picked * scale


def gumbel_softmax(
    logits: Tensor, tau: float = 1, hard: bool = False, eps: float = 1e-10, dim: int = -1
) -> Tensor:
    """A sample of the Gumbel-softmax (Concrete) distribution over `dim`: softmax((logits +
    g) / tau) with g standard Gumbel noise drawn from the framework's generator. hard=True
    returns the one-hot of its argmax, with the soft sample's gradient (straight-through).

    eps is accepted for PyTorch's signature and unused, as there.
    """
    # NOTE: g = -log(E), E ~ Exp(1), as PyTorch draws it: exponential_ never gives 0 (its
    # uniform is in (0, 1)), so g is finite; -log(-log(1 - U)) was +inf where U = 0 (2**-24
    # of the draws), and softmax then gave NaN
    gumbels = -logits.new_empty(logits.shape).exponential_().log()
    y_soft = ((logits + gumbels) / tau).softmax(dim)
    if not hard:
        return y_soft
    index = y_soft.argmax(dim, keepdim=True)
    y_hard = (y_soft.detach() * 0).scatter(dim, index, 1.0)
    return y_hard - y_soft.detach() + y_soft


def multi_margin_loss(
    input: Tensor,
    target: Tensor,
    p: int = 1,
    margin: float = 1.0,
    weight: Tensor | None = None,
    size_average=None,
    reduce=None,
    reduction: str = "mean",
) -> Tensor:
    """Multi-class hinge loss: sum over classes i != y of max(0, margin - x[y] + x[i])**p
    (times weight[y]), divided by the number of classes. input (N, C) or (C,), target (N,)."""
    reduction = _legacy_reduction(size_average, reduce, reduction)
    if p not in (1, 2):
        raise ValueError("only p == 1 and p == 2 supported")
    if input.ndim not in (1, 2) or input.numel() == 0:
        raise RuntimeError(
            "Expected non-empty vector or matrix with optional 0-dim batch size, but got: "
            f"{list(input.shape)}"
        )
    samples = int(input.shape[0]) if input.ndim == 2 else 1
    if target.ndim > 1 or target.numel() != samples:
        raise RuntimeError(
            "multi_margin_loss: target tensor should be 1-D with size equal to the number of "
            f"input samples (batch size). Expected target size [{samples}], but got "
            f"{list(target.shape)}. Input has shape {list(input.shape)}."
        )
    x = input if input.ndim == 2 else input.unsqueeze(0)
    y = target.reshape(-1, 1)
    hinge = (margin - x.gather(1, y) + x).clamp(min=0)
    if p == 2:
        hinge = hinge * hinge
    if weight is not None:
        hinge = hinge * weight[y]
    # the target's own class is left out of the sum
    losses = where(_arange(x.shape[1]) == y, 0.0, hinge).sum(1) / x.shape[1]
    return _reduce(losses if input.ndim == 2 else losses.squeeze(0), reduction)


def one_hot(tensor: Tensor, num_classes: int = -1) -> Tensor:
    """(..., ) int64 class indices -> (..., num_classes) int64 one-hot rows."""
    if tensor.dtype is not dtypes.int64:
        raise RuntimeError("one_hot is only applicable to index tensor of type LongTensor.")
    if num_classes == -1:
        if tensor.numel() == 0:
            raise RuntimeError("Can not infer total number of classes from empty tensor.")
        num_classes = int(tensor.max().item()) + 1
    if not tensor.is_cuda:  # checked in an op: a traced step's replay checks them too
        tensor = apply(_loss_op.check_classes, tensor, of="one_hot", classes=num_classes)
    elif not tracing() and tensor.numel():  # (cuda: eager only, reading them back)
        if int(tensor.min().item()) < 0:
            raise RuntimeError("Class values must be non-negative.")
        if int(tensor.max().item()) >= num_classes:
            raise RuntimeError("Class values must be smaller than num_classes.")
    return (tensor.unsqueeze(-1) == _arange(num_classes).to(tensor.device)).long()


# ---- normalisation -------------------------------------------------------------------------


def _norm_shape(c: int, ndim: int) -> tuple:
    return (1, c) + (1,) * (ndim - 2)


def _channel_affine(out: Tensor, weight: Tensor | None, bias: Tensor | None) -> Tensor:
    """out * weight + bias with per-channel (dim 1) weight and bias; None skips either."""
    shape = _norm_shape(out.shape[1], out.ndim)
    if weight is not None:
        out = out * weight.reshape(shape)
    if bias is not None:
        out = out + bias.reshape(shape)
    return out


def batch_norm(
    input: Tensor,
    running_mean: Tensor | None,
    running_var: Tensor | None,
    weight: Tensor | None = None,
    bias: Tensor | None = None,
    training: bool = False,
    momentum: float = 0.1,
    eps: float = 1e-5,
) -> Tensor:
    """Normalise each channel (dim 1) by batch statistics (training) or running ones.

    In training the running statistics are updated in place: running = (1 - momentum) *
    running + momentum * batch, with the unbiased batch variance, as PyTorch does.
    """
    if input.ndim < 2:
        raise ValueError(f"expected 2D or more input (got {input.ndim}D input)")
    _check_running_stats("batch_norm", running_mean, running_var)
    c = input.shape[1]
    if training:
        n = input.numel() // max(c, 1)
        if n <= 1:
            raise ValueError(
                "Expected more than 1 value per channel when training, got input size "
                f"{list(input.shape)}"
            )
        # one fused kernel: batch statistics, normalisation and affine (ops/norm.py)
        out, mean, var = apply(_norm_op.batch_norm, input, weight, bias, eps=eps)
        with no_grad():
            if running_mean is not None:
                running_mean.mul_(1 - momentum).add_(mean.to(running_mean.dtype) * momentum)
            if running_var is not None:
                unbiased = var.to(running_var.dtype) * (momentum * n / (n - 1))
                running_var.mul_(1 - momentum).add_(unbiased)
        return out
    if running_mean is None or running_var is None:
        raise RuntimeError(
            "batch_norm: running_mean and running_var must be given when training=False"
        )
    shape = _norm_shape(c, input.ndim)
    scale = (running_var.reshape(shape) + eps).rsqrt()
    if weight is not None:
        scale = scale * weight.reshape(shape)
    out = (input - running_mean.reshape(shape)) * scale
    if bias is not None:
        out = out + bias.reshape(shape)
    return out


def _check_running_stats(op: str, running_mean: Tensor | None, running_var: Tensor | None):
    """Running statistics are buffers updated in place, not parameters: with grad mode on,
    PyTorch refuses one that requires grad (RuntimeError), in training and eval alike."""
    if not is_grad_enabled():
        return
    for name, stat in (("running_mean", running_mean), ("running_var", running_var)):
        if stat is not None and stat.requires_grad:
            raise RuntimeError(
                f"{op}: the function is not differentiable with respect to argument '{name}' "
                f"(a buffer of running statistics, updated in place); this input cannot have "
                f"requires_grad=True. Call {name}.requires_grad_(False) (e.g. "
                f"bn.{name}.requires_grad_(False)), or pass {name}.detach()."
            )


def instance_norm(
    input: Tensor,
    running_mean: Tensor | None = None,
    running_var: Tensor | None = None,
    weight: Tensor | None = None,
    bias: Tensor | None = None,
    use_input_stats: bool = True,
    momentum: float = 0.1,
    eps: float = 1e-5,
) -> Tensor:
    """Normalise each (sample, channel) over its spatial dims."""
    _check_running_stats("instance_norm", running_mean, running_var)
    if not use_input_stats:
        return batch_norm(input, running_mean, running_var, weight, bias, False, momentum, eps)
    dims = tuple(range(2, input.ndim))
    mean = input.mean(dims, keepdim=True)
    centered = input - mean
    var = (centered * centered).mean(dims, keepdim=True)
    if running_mean is not None or running_var is not None:
        n = math.prod(input.shape[2:])
        with no_grad():
            if running_mean is not None:
                running_mean.mul_(1 - momentum).add_(mean.mean(0).reshape(-1) * momentum)
            if running_var is not None:
                unbiased = var.mean(0).reshape(-1) * (n / max(n - 1, 1))
                running_var.mul_(1 - momentum).add_(unbiased * momentum)
    return _channel_affine(centered * (var + eps).rsqrt(), weight, bias)


def _check_normalized_shape(input: Tensor, normalized_shape, op: str) -> tuple:
    shape = (normalized_shape,) if isinstance(normalized_shape, int) else tuple(normalized_shape)
    k = len(shape)
    if k == 0 or tuple(input.shape[input.ndim - k :]) != shape or input.ndim < k:
        raise RuntimeError(
            f"Given normalized_shape={list(shape)}, expected input with shape "
            f"[*, {', '.join(str(s) for s in shape)}], but got input of size{list(input.shape)}"
        )
    return tuple(range(input.ndim - k, input.ndim))


def layer_norm(
    input: Tensor,
    normalized_shape,
    weight: Tensor | None = None,
    bias: Tensor | None = None,
    eps: float = 1e-5,
) -> Tensor:
    """Normalise over the trailing dims given by normalized_shape, then scale and shift.

    One fused kernel forward and one backward (minitorch/ops/norm.py).
    """
    dims = _check_normalized_shape(input, normalized_shape, "layer_norm")
    return apply(_norm_op.layer_norm, input, weight, bias, normalized_ndim=len(dims), eps=eps)


def rms_norm(
    input: Tensor, normalized_shape, weight: Tensor | None = None, eps: float | None = None
) -> Tensor:
    """x / sqrt(mean(x^2) + eps) over the trailing dims, times weight."""
    dims = _check_normalized_shape(input, normalized_shape, "rms_norm")
    if eps is None:
        eps = float(np.finfo(input.dtype.np).eps)
    out = input * ((input * input).mean(dims, keepdim=True) + eps).rsqrt()
    return out * weight if weight is not None else out


def group_norm(
    input: Tensor,
    num_groups: int,
    weight: Tensor | None = None,
    bias: Tensor | None = None,
    eps: float = 1e-5,
) -> Tensor:
    """Normalise each group of C / num_groups channels over (channels, spatial dims)."""
    if input.ndim < 2:
        raise RuntimeError(
            f"Expected at least 2 dimensions for input tensor but received {input.ndim}"
        )
    n, c = input.shape[0], input.shape[1]
    if c % num_groups:
        raise RuntimeError(
            f"Expected number of channels in input to be divisible by num_groups, but got input "
            f"of shape {list(input.shape)} and num_groups={num_groups}"
        )
    # each (sample, group) is one row of the fused layer-norm kernel, without its affine
    x = input.reshape(n, num_groups, -1)
    out = apply(_norm_op.layer_norm, x, None, None, normalized_ndim=1, eps=eps)
    return _channel_affine(out.reshape(input.shape), weight, bias)


def local_response_norm(
    input: Tensor, size: int, alpha: float = 1e-4, beta: float = 0.75, k: float = 1.0
) -> Tensor:
    """x / (k + alpha / size * sum of x^2 over `size` neighbouring channels) ** beta."""
    from ..functional import cat  # noqa: PLC0415

    sq = input * input
    c = input.shape[1]
    pad_front, pad_back = size // 2, (size - 1) // 2
    zeros_f = sq.new_zeros((sq.shape[0], pad_front) + tuple(sq.shape[2:]))
    zeros_b = sq.new_zeros((sq.shape[0], pad_back) + tuple(sq.shape[2:]))
    padded = cat([zeros_f, sq, zeros_b], 1)
    total = padded.narrow(1, 0, c)
    for i in range(1, size):
        total = total + padded.narrow(1, i, c)
    return input / (total * (alpha / size) + k) ** beta


def normalize(input: Tensor, p: float = 2.0, dim: int = 1, eps: float = 1e-12, out=None) -> Tensor:
    """input / max(||input||_p along dim, eps)."""
    norm = input.norm(p, dim, keepdim=True).clamp(min=eps)
    return input / norm if out is None else write_out(out, input / norm, "normalize")


def cosine_similarity(x1: Tensor, x2: Tensor, dim: int = 1, eps: float = 1e-8) -> Tensor:
    """sum(x1 * x2) / (max(||x1||, eps) * max(||x2||, eps)) along dim."""
    n1 = x1.norm(dim=dim).clamp(min=eps)
    n2 = x2.norm(dim=dim).clamp(min=eps)
    return (x1 * x2).sum(dim) / (n1 * n2)


def pairwise_distance(
    x1: Tensor, x2: Tensor, p: float = 2.0, eps: float = 1e-6, keepdim: bool = False
) -> Tensor:
    """||x1 - x2 + eps||_p along the last dim."""
    return (x1 - x2 + eps).norm(p, -1, keepdim=keepdim)


def pdist(input: Tensor, p: float = 2.0) -> Tensor:
    """p-norm distances between every pair of rows i < j of an (N, M) input, in row-major
    order of (i, j): N * (N - 1) / 2 values."""
    if input.ndim != 2:
        raise RuntimeError(f"pdist only supports 2D tensors, got: {input.ndim}D")
    i, j = triu_indices(input.shape[0], input.shape[0], 1, device=input.device)
    return (input[i] - input[j]).norm(p, -1)


# ---- losses --------------------------------------------------------------------------------


def _check_same_size(input: Tensor, target: Tensor, name: str) -> None:
    if input.shape != target.shape:
        warnings.warn(
            f"Using a target size ({target.shape}) that is different to the input size "
            f"({input.shape}). This will likely lead to incorrect results due to broadcasting. "
            "Please ensure they have the same size.",
            stacklevel=3,
        )


def _weighted(loss: Tensor, weight: Tensor | None) -> Tensor:
    return loss if weight is None else loss * weight


def mse_loss(
    input: Tensor,
    target: Tensor,
    size_average=None,
    reduce=None,
    reduction: str = "mean",
    weight: Tensor | None = None,
) -> Tensor:
    """Mean squared error: (input - target)^2, reduced."""
    reduction = _legacy_reduction(size_average, reduce, reduction)
    _check_same_size(input, target, "mse_loss")
    d = input - target
    return _reduce(_weighted(d * d, weight), reduction)


def l1_loss(
    input: Tensor,
    target: Tensor,
    size_average=None,
    reduce=None,
    reduction: str = "mean",
    weight: Tensor | None = None,
) -> Tensor:
    """Mean absolute error: |input - target|, reduced."""
    reduction = _legacy_reduction(size_average, reduce, reduction)
    _check_same_size(input, target, "l1_loss")
    return _reduce(_weighted((input - target).abs(), weight), reduction)


def smooth_l1_loss(
    input: Tensor,
    target: Tensor,
    size_average=None,
    reduce=None,
    reduction: str = "mean",
    beta: float = 1.0,
) -> Tensor:
    """0.5 d^2 / beta where |d| < beta, else |d| - 0.5 beta (d = input - target)."""
    reduction = _legacy_reduction(size_average, reduce, reduction)
    _check_same_size(input, target, "smooth_l1_loss")
    if beta < 0:
        raise RuntimeError("smooth_l1_loss does not support negative values for beta.")
    d = (input - target).abs()
    if beta == 0.0:
        return _reduce(d, reduction)
    loss = where(d < beta, d * d * (0.5 / beta), d - 0.5 * beta)
    return _reduce(loss, reduction)


def huber_loss(
    input: Tensor,
    target: Tensor,
    reduction: str = "mean",
    delta: float = 1.0,
    weight: Tensor | None = None,
) -> Tensor:
    """0.5 d^2 where |d| < delta, else delta * (|d| - 0.5 delta)."""
    _check_same_size(input, target, "huber_loss")
    if delta <= 0:
        raise RuntimeError(
            f"huber_loss does not support non-positive values for delta; got {delta}"
        )
    d = (input - target).abs()
    loss = where(d < delta, d * d * 0.5, (d - 0.5 * delta) * delta)
    return _reduce(_weighted(loss, weight), reduction)


def cross_entropy(
    input: Tensor,
    target: Tensor,
    weight: Tensor | None = None,
    size_average=None,
    ignore_index: int = -100,
    reduce=None,
    reduction: str = "mean",
    label_smoothing: float = 0.0,
) -> Tensor:
    """Cross entropy between logits and class indices (int64) or class probabilities (float).

    Shape: input (C,), (N, C) or (N, C, d1, ...); target (), (N,), (N, d1, ...) of class
    indices, or the input's shape of probabilities. Class-index targets run one fused,
    log-sum-exp-stable kernel (forward and backward).

    Example:
        >>> import minitorch as torch
        >>> import minitorch.nn.functional as F
        >>> logits = torch.tensor([[2.0, 0.0, 0.0]])
        >>> round(F.cross_entropy(logits, torch.tensor([0])).item(), 4)
        0.2395
    """
    reduction = _legacy_reduction(size_average, reduce, reduction)
    if target.dtype.is_floating_point and input.dtype.is_floating_point:
        return _cross_entropy_probs(input, target, weight, reduction, label_smoothing)
    extra = () if weight is None else (weight,)
    return apply(
        _loss_op.cross_entropy,
        input,
        target,
        *extra,
        ignore_index=ignore_index,
        reduction=reduction,
        label_smoothing=float(label_smoothing),
    )


def _cross_entropy_probs(input, target, weight, reduction, label_smoothing) -> Tensor:
    _loss_op.check_reduction(reduction)
    if input.shape != target.shape:
        raise RuntimeError("0D or 1D target tensor expected, multi-target not supported")
    if not 0.0 <= label_smoothing <= 1.0:
        raise RuntimeError(f"label_smoothing must be between 0.0 and 1.0. Got: {label_smoothing}")
    cdim = 0 if input.ndim == 1 else 1
    classes = input.shape[cdim]
    if label_smoothing > 0:
        target = target * (1 - label_smoothing) + label_smoothing / classes
    logp = input.log_softmax(cdim)
    prod = logp * target
    if weight is not None:
        shape = [1] * input.ndim
        shape[cdim] = classes
        prod = prod * weight.reshape(shape)
    loss = -prod.sum(cdim)
    if reduction == "mean":
        return (
            loss.sum() / max(input.numel() // max(classes, 1), 1)
            if input.numel()
            else loss.sum() / 0.0
        )
    return _reduce(loss, reduction)


def nll_loss(
    input: Tensor,
    target: Tensor,
    weight: Tensor | None = None,
    size_average=None,
    ignore_index: int = -100,
    reduce=None,
    reduction: str = "mean",
) -> Tensor:
    """Negative log likelihood of the target class, given log-probabilities input.

    Shape: input (C,), (N, C) or (N, C, d1, ...); target (), (N,) or (N, d1, ...).
    """
    reduction = _legacy_reduction(size_average, reduce, reduction)
    _loss_op._check(input, target, weight, 0.0, reduction, "nll_loss")
    cdim = 0 if input.ndim == 1 else 1
    classes = input.shape[cdim]
    if not target.is_cuda:  # checked in an op: a traced step's replay checks them too
        target = apply(
            _loss_op.check_classes,
            target,
            of="nll_loss",
            classes=classes,
            ignore_index=ignore_index,
        )
    elif not tracing():  # (cuda: eager only, reading them back; in a trace gather checks)
        bad = (target != ignore_index) & ((target < 0) | (target >= classes))
        if bool(bad.any()):
            raise IndexError(f"Target {int(target[bad].reshape(-1)[0].item())} is out of bounds.")
    valid = target != ignore_index
    safe = target.masked_fill(~valid, 0)
    picked = -input.gather(cdim, safe.unsqueeze(cdim)).squeeze(cdim)
    w = weight.to(input.dtype)[safe] if weight is not None else None
    mask = valid.to(input.dtype)
    w = mask if w is None else w * mask
    loss = picked * w
    if reduction == "mean":
        return loss.sum() / w.sum()
    return _reduce(loss, reduction)


def binary_cross_entropy(
    input: Tensor,
    target: Tensor,
    weight: Tensor | None = None,
    size_average=None,
    reduce=None,
    reduction: str = "mean",
) -> Tensor:
    """-(y log x + (1 - y) log(1 - x)) for probabilities x (logs clamped at -100)."""
    reduction = _legacy_reduction(size_average, reduce, reduction)
    if target.shape != input.shape:
        raise ValueError(
            f"Using a target size ({target.shape}) that is different to the input size "
            f"({input.shape}) is deprecated. Please ensure they have the same size."
        )
    loss = apply(E.binary_cross_entropy, input, target)  # (its forward checks 0 <= input <= 1)
    return _reduce(_weighted(loss, weight), reduction)


def binary_cross_entropy_with_logits(
    input: Tensor,
    target: Tensor,
    weight: Tensor | None = None,
    size_average=None,
    reduce=None,
    reduction: str = "mean",
    pos_weight: Tensor | None = None,
) -> Tensor:
    """BCE on logits, stable for any x: (1 - y) x + lw * softplus(-x), lw = 1 + (pw - 1) y."""
    reduction = _legacy_reduction(size_average, reduce, reduction)
    if target.shape != input.shape:
        raise ValueError(
            f"Target size ({target.shape}) must be the same as input size ({input.shape})"
        )
    softplus_neg = _softplus(-input)
    if pos_weight is not None:
        log_weight = (pos_weight - 1) * target + 1
        loss = (1 - target) * input + log_weight * softplus_neg
    else:
        loss = (1 - target) * input + softplus_neg
    return _reduce(_weighted(loss, weight), reduction)


def kl_div(
    input: Tensor,
    target: Tensor,
    size_average=None,
    reduce=None,
    reduction: str = "mean",
    log_target: bool = False,
) -> Tensor:
    """KL(target || exp(input)) pointwise: target * (log target - input), reduced.

    input is log-probabilities; target is probabilities (or log-probabilities with
    log_target=True). reduction='batchmean' divides the sum by the batch size, which is
    the mathematically correct KL divergence.
    """
    reduction = _legacy_reduction(size_average, reduce, reduction)
    if reduction == "mean":
        warnings.warn(
            "reduction: 'mean' divides the total loss by both the batch size and the support "
            "size.'batchmean' divides only by the batch size, and aligns with the KL div math "
            "definition.'mean' will be changed to behave the same as 'batchmean' in the next "
            "major release.",
            stacklevel=2,
        )
    if log_target:
        loss = target.exp() * (target - input)
    else:
        # xlogy: 0 * log 0 = 0 (log of 1 where the target is 0 keeps the gradient finite)
        positive = target > 0
        loss = target * where(positive, target, 1.0).log() - target * input
    if reduction == "batchmean":
        return loss.sum() / input.shape[0] if input.ndim else loss.sum()
    return _reduce(loss, reduction)


def cosine_embedding_loss(
    input1: Tensor,
    input2: Tensor,
    target: Tensor,
    margin: float = 0,
    size_average=None,
    reduce=None,
    reduction: str = "mean",
) -> Tensor:
    """1 - cos(x1, x2) where target == 1; max(0, cos(x1, x2) - margin) where target == -1."""
    reduction = _legacy_reduction(size_average, reduce, reduction)
    if input1.ndim not in (1, 2) or input1.shape != input2.shape:
        raise RuntimeError(
            f"cosine_embedding_loss: expected 1D or 2D inputs of equal shape, got "
            f"{list(input1.shape)} and {list(input2.shape)}"
        )
    dim = input1.ndim - 1
    eps = 1e-12
    prod = (input1 * input2).sum(dim)
    mag1 = (input1 * input1).sum(dim) + eps
    mag2 = (input2 * input2).sum(dim) + eps
    cos = prod / (mag1 * mag2).sqrt()
    pos = where(target == 1, 1 - cos, 0.0)
    neg = where(target == -1, (cos - margin).clamp(min=0.0), 0.0)
    return _reduce(pos + neg, reduction)


def margin_ranking_loss(
    input1: Tensor,
    input2: Tensor,
    target: Tensor,
    margin: float = 0,
    size_average=None,
    reduce=None,
    reduction: str = "mean",
) -> Tensor:
    """max(0, -target * (input1 - input2) + margin)."""
    reduction = _legacy_reduction(size_average, reduce, reduction)
    if input1.ndim != input2.ndim or input1.ndim != target.ndim:
        raise RuntimeError(
            f"margin_ranking_loss : All input tensors should have same dimension but got sizes: "
            f"input1: {input1.shape}, input2: {input2.shape}, target: {target.shape} "
        )
    return _reduce((-target * (input1 - input2) + margin).clamp(min=0.0), reduction)


def hinge_embedding_loss(
    input: Tensor,
    target: Tensor,
    margin: float = 1.0,
    size_average=None,
    reduce=None,
    reduction: str = "mean",
) -> Tensor:
    """x where target == 1; max(0, margin - x) where target == -1."""
    reduction = _legacy_reduction(size_average, reduce, reduction)
    pos = where(target == 1, input, 0.0)
    neg = where(target == -1, (margin - input).clamp(min=0.0), 0.0)
    return _reduce(pos + neg, reduction)


def soft_margin_loss(
    input: Tensor, target: Tensor, size_average=None, reduce=None, reduction: str = "mean"
) -> Tensor:
    """log(1 + exp(-target * input))."""
    reduction = _legacy_reduction(size_average, reduce, reduction)
    return _reduce(_softplus(-target * input), reduction)


def triplet_margin_loss(
    anchor: Tensor,
    positive: Tensor,
    negative: Tensor,
    margin: float = 1.0,
    p: float = 2,
    eps: float = 1e-6,
    swap: bool = False,
    size_average=None,
    reduce=None,
    reduction: str = "mean",
) -> Tensor:
    """max(0, d(a, p) - d(a, n) + margin) with d the pairwise p-norm distance."""
    reduction = _legacy_reduction(size_average, reduce, reduction)
    d_pos = pairwise_distance(anchor, positive, p, eps)
    d_neg = pairwise_distance(anchor, negative, p, eps)
    if swap:
        d_neg = d_neg.minimum(pairwise_distance(positive, negative, p, eps))
    return _reduce((d_pos - d_neg + margin).clamp(min=0.0), reduction)


def poisson_nll_loss(
    input: Tensor,
    target: Tensor,
    log_input: bool = True,
    full: bool = False,
    size_average=None,
    eps: float = 1e-8,
    reduce=None,
    reduction: str = "mean",
) -> Tensor:
    """exp(x) - y x (log_input) or x - y log(x + eps); full adds Stirling's term."""
    reduction = _legacy_reduction(size_average, reduce, reduction)
    if log_input:
        loss = input.exp() - target * input
    else:
        loss = input - target * (input + eps).log()
    if full:
        safe = where(target > 1, target, 1.0)
        stirling = safe * safe.log() - safe + (safe * (2 * math.pi)).log() * 0.5
        loss = loss + where(target > 1, stirling, 0.0)
    return _reduce(loss, reduction)


def gaussian_nll_loss(
    input: Tensor,
    target: Tensor,
    var,
    full: bool = False,
    eps: float = 1e-6,
    reduction: str = "mean",
) -> Tensor:
    """0.5 * (log(max(var, eps)) + (input - target)^2 / max(var, eps)) (+ const if full)."""
    if not isinstance(var, Tensor):
        var = input.new_full(tuple(input.shape), float(var))
    elif var.ndim == input.ndim - 1 or (var.shape != input.shape and var.shape[-1:] != (1,)):
        var = var.unsqueeze(-1)
    with no_grad():
        clamped_min = var.detach().clamp(min=eps) - var.detach()
    v = var + clamped_min  # clamps the value, keeps the gradient (as PyTorch)
    loss = 0.5 * (v.log() + (input - target) ** 2 / v)
    if full:
        loss = loss + 0.5 * math.log(2 * math.pi)
    return _reduce(loss, reduction)


def multilabel_soft_margin_loss(
    input: Tensor,
    target: Tensor,
    weight: Tensor | None = None,
    size_average=None,
    reduce=None,
    reduction: str = "mean",
) -> Tensor:
    """Mean over classes of the per-class binary cross entropy with logits."""
    reduction = _legacy_reduction(size_average, reduce, reduction)
    loss = -(target * logsigmoid(input) + (1 - target) * logsigmoid(-input))
    loss = _weighted(loss, weight)
    loss = loss.sum(-1) / input.shape[-1]
    return _reduce(loss, reduction)


def _ctc_lengths(lengths, batch: int, name: str) -> Tensor:
    """Lengths given as a tensor, an int or a tuple/list of ints, as a 1-D int64 tensor."""
    if isinstance(lengths, Tensor):
        lengths = lengths.to(dtypes.int64).reshape(-1)
    else:
        lengths = wrap(np.asarray(lengths, dtype=np.int64).reshape(-1), dtypes.int64)
    if lengths.shape[0] != batch:
        raise RuntimeError(f"{name} must be of size batch_size")
    return lengths


def _ctc_check_values(input_lengths, target_lengths, T: int, padded_size: int | None, n: int):
    """PyTorch's value checks (eager only: inside a compiled step the lengths may be tensors
    whose values the trace cannot read)."""
    for name, lengths in (("input_lengths", input_lengths), ("target_lengths", target_lengths)):
        low = int(lengths.min()) if lengths.numel() else 0
        if low < 0:
            raise RuntimeError(
                f"ctc_loss: expected {name} to have value at least 0, but got value {low}"
            )
    high = int(input_lengths.max()) if input_lengths.numel() else 0
    if high > T:
        raise RuntimeError(
            f"ctc_loss: expected input_lengths to have value at most {T}, but got value {high}"
        )
    if padded_size is None:
        total = int(target_lengths.sum())
        if total != n:
            raise RuntimeError(
                f"ctc_loss: expected 1-D (concatenated) targets to have size {total} (the sum "
                f"of target_lengths), but got size {n}"
            )
        return
    longest = int(target_lengths.max()) if target_lengths.numel() else 0
    if longest > padded_size:
        raise RuntimeError(
            f"ctc_loss: expected padded targets (N, S) to have S at least {longest} (the "
            f"longest target_length), but got size {padded_size}; pad targets to it"
        )


def _logsumexp0(x: Tensor, nan_grad_at_inf: bool = False) -> Tensor:
    """logsumexp over dim 0, -inf where every entry is -inf: with a zero gradient there, or
    with nan (PyTorch's gradient of an impossible alignment's loss) if nan_grad_at_inf."""
    m = x.amax(0)
    m = where(m == -math.inf, 0.0, m)
    s = (x - m).exp().sum(0)
    if nan_grad_at_inf:
        return m + s.log()  # (log's gradient 1/0 = inf, times exp's 0: nan)
    # NOTE: log(where(s > 0, s, 1)): log(s) at s == 0 would send a nan gradient back
    return where(s > 0, m + where(s > 0, s, 1.0).log(), -math.inf)


def ctc_loss(
    log_probs: Tensor,
    targets: Tensor,
    input_lengths,
    target_lengths,
    blank: int = 0,
    reduction: str = "mean",
    zero_infinity: bool = False,
) -> Tensor:
    """Connectionist Temporal Classification loss: -log of the summed probability of every
    alignment of each target to its input frames (blanks between labels, repeats merged).

    Shape: log_probs (T, N, C) or unbatched (T, C), log_softmax outputs; targets padded
    (N, S) or the N targets concatenated (sum(target_lengths),); input_lengths and
    target_lengths (N,) tensors or tuples of ints. 'mean' divides each loss by its target
    length (at least 1), then averages over the batch. zero_infinity sets impossible
    alignments' losses (inf) and their gradients to zero.

    The forward (alpha) recursion runs in log space over the extended label sequence
    (blank, l1, blank, l2, ..., blank), one step of tensor ops per frame; autograd gives the
    gradient. NOTE: that is the true gradient with respect to log_probs; PyTorch's kernel
    returns one that assumes log_probs is a log_softmax output (they agree once it flows back
    through log_softmax to the logits).

    Inside minitorch.compile, lengths given as tuples key the trace (new ones trace again);
    given as tensors they are read by tensor ops only, so one trace serves any values, but
    their values go unchecked there (an input length above T counts as T).
    """
    _loss_op.check_reduction(reduction)
    if log_probs.ndim not in (2, 3):
        raise RuntimeError(
            f"ctc_loss: expected log_probs of shape (T, N, C) or (T, C), but got "
            f"{tuple(log_probs.shape)}"
        )
    unbatched = log_probs.ndim == 2
    if unbatched:
        log_probs = log_probs.unsqueeze(1)
        targets = targets.unsqueeze(0)
    T, N, C = log_probs.shape
    if not 0 <= blank < C:
        raise RuntimeError("blank must be in label range")
    input_lengths = _ctc_lengths(input_lengths, N, "input_lengths")
    target_lengths = _ctc_lengths(target_lengths, N, "target_lengths")
    targets = targets.to(dtypes.int64)
    padded = targets.ndim == 2
    if not padded and targets.ndim != 1:
        raise RuntimeError(
            f"ctc_loss: expected targets of shape (N, S) or (sum(target_lengths),), but got "
            f"{tuple(targets.shape)}"
        )
    in_trace = tracing()
    if not in_trace:
        _ctc_check_values(
            input_lengths,
            target_lengths,
            T,
            targets.shape[1] if padded else None,
            targets.shape[0],
        )
    if not padded:  # gather the concatenated targets into rows (N, S)
        if in_trace:  # (the longest length is a value: bound it by the total, which is a shape)
            S = targets.shape[0]
        else:
            S = int(target_lengths.max()) if N else 0
        starts = target_lengths.cumsum(0) - target_lengths
        idx = starts.unsqueeze(1) + _arange(S).unsqueeze(0)
        targets = targets[idx.clamp(max=max(targets.shape[0] - 1, 0))] if S else idx
    S = targets.shape[1]
    L = 2 * S + 1
    # extended labels (N, L): blank, t1, blank, t2, ..., blank
    ext = cat([targets.unsqueeze(2), targets.new_full((N, S, 1), blank)], 2).reshape(N, 2 * S)
    ext = cat([targets.new_full((N, 1), blank), ext], 1)
    # the skip s-2 -> s is allowed onto a label that differs from the label two back
    prev2 = cat([ext.new_full((N, 2), blank), ext[:, :-2]], 1)
    skip = (ext != blank) & (ext != prev2)
    neg_inf = log_probs.new_full((N, 1), -math.inf)
    neg_inf2 = log_probs.new_full((N, 2), -math.inf)
    # before frame 0 the path stands just ahead of position 0: start alpha as log [1, 0, ...]
    alpha = cat([log_probs.new_full((N, 1), 0.0), log_probs.new_full((N, L - 1), -math.inf)], 1)
    emit = log_probs.gather(2, ext.unsqueeze(0).expand(T, N, L))
    for t in range(T):
        stay = alpha
        step = cat([neg_inf, alpha[:, :-1]], 1)
        jump = where(skip, cat([neg_inf2, alpha[:, :-2]], 1), -math.inf)
        new = _logsumexp0(stack([stay, step, jump])) + emit[t]
        alpha = where((input_lengths > t).unsqueeze(1), new, alpha)
    end = alpha.gather(1, (2 * target_lengths).unsqueeze(1)).squeeze(1)
    before = alpha.gather(1, (2 * target_lengths - 1).clamp(min=0).unsqueeze(1)).squeeze(1)
    before = where(target_lengths > 0, before, -math.inf)
    loss = -_logsumexp0(stack([end, before]), nan_grad_at_inf=not zero_infinity)
    if zero_infinity:
        loss = where(loss == math.inf, 0.0, loss)
    if reduction == "mean":
        return (loss / target_lengths.clamp(min=1).to(loss.dtype)).mean()
    if unbatched and reduction == "none":
        return loss.squeeze(0)
    return _reduce(loss, reduction)
