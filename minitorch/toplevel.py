"""torch.X functions that are not Tensor methods and not creation functions (functional.py):

- nn.functional and linalg implementations under PyTorch's *top-level* signatures, which differ
  from F's (torch.dropout(input, p, train), torch.embedding(weight, indices, ...), losses take
  an int `reduction`, torch.svd returns V rather than Vh, ...);
- small compositions of Tensor ops (fmax, vander, frexp, gcd, windows, the *_scatter family).

Each is one definition here; minitorch/__init__.py re-exports them.
"""

from __future__ import annotations

import functools
import math
import numbers
import warnings

import numpy as np

from . import dtypes, linalg
from .autograd import grad_mode
from .functional import arange, cat, eye, ones_like, tensor, where, zeros
from .nn import functional as F
from .random import rand
from .tensor import Tensor, _named

# ---- nn.functional under torch's top-level names -------------------------------------------

# Same signature at top level as in F: one definition, two names.
conv1d, conv2d, conv3d = F.conv1d, F.conv2d, F.conv3d
conv_transpose1d, conv_transpose2d = F.conv_transpose1d, F.conv_transpose2d
avg_pool1d, adaptive_avg_pool1d = F.avg_pool1d, F.adaptive_avg_pool1d
rms_norm, bilinear, prelu, hardshrink = F.rms_norm, F.bilinear, F.prelu, F.hardshrink
pixel_shuffle, pixel_unshuffle, channel_shuffle = (
    F.pixel_shuffle,
    F.pixel_unshuffle,
    F.channel_shuffle,
)
cosine_similarity, pairwise_distance, pdist = F.cosine_similarity, F.pairwise_distance, F.pdist

# aten's int reduction: 0, 1, 2. NOTE: torch's top-level losses default to 0 ("none"), not
# to the schema's "mean": torch.kl_div(a, b) is elementwise, unlike F.kl_div(a, b).
_REDUCTIONS = ("none", "mean", "sum")


def max_pool1d(input, kernel_size, stride=(), padding=0, dilation=1, ceil_mode=False):
    return F.max_pool1d(input, kernel_size, stride or None, padding, dilation, ceil_mode)


def max_pool1d_with_indices(input, kernel_size, stride=(), padding=0, dilation=1, ceil_mode=False):
    return F.max_pool1d(input, kernel_size, stride or None, padding, dilation, ceil_mode, True)


def max_pool2d(input, kernel_size, stride=(), padding=0, dilation=1, ceil_mode=False):
    return F.max_pool2d(input, kernel_size, stride or None, padding, dilation, ceil_mode)


def max_pool3d(input, kernel_size, stride=(), padding=0, dilation=1, ceil_mode=False):
    return F.max_pool3d(input, kernel_size, stride or None, padding, dilation, ceil_mode)


def adaptive_max_pool1d(input, output_size):
    """(values, indices), always: the top-level form has no return_indices flag."""
    return F.adaptive_max_pool1d(input, output_size, return_indices=True)


def _p(p):
    """p checked as aten checks it (a RuntimeError; F's check raises ValueError)."""
    if not 0.0 <= p <= 1.0:
        raise RuntimeError(f"dropout probability has to be between 0 and 1, but got {p}")
    return p


def dropout(input, p, train):
    return F.dropout(input, _p(p), train)


def dropout_(input, p, train):
    return F.dropout(input, _p(p), train, inplace=True)


def alpha_dropout(input, p, train):
    return F.alpha_dropout(input, _p(p), train)


def alpha_dropout_(input, p, train):
    return F.alpha_dropout(input, _p(p), train, inplace=True)


def feature_alpha_dropout(input, p, train):
    return F.feature_alpha_dropout(input, _p(p), train)


def feature_alpha_dropout_(input, p, train):
    return F.feature_alpha_dropout(input, _p(p), train, inplace=True)


def feature_dropout(input, p, train, *, _inplace=False):
    """dropout of whole features: one draw per (N, C) of an (N, C, ...) input (aten's rule)."""
    if input.ndim < 2:
        raise RuntimeError("Feature dropout requires at least 2 dimensions in the input")
    _p(p)
    if not train or p == 0.0:
        return input
    shape = tuple(input.shape[:2]) + (1,) * (input.ndim - 2)
    return F._dropout_with_mask_shape(input, p, shape, _inplace)


def feature_dropout_(input, p, train):
    return feature_dropout(input, p, train, _inplace=True)


def layer_norm(input, normalized_shape, weight=None, bias=None, eps=1e-5, cudnn_enable=True):
    return F.layer_norm(input, normalized_shape, weight, bias, eps)


def group_norm(input, num_groups, weight=None, bias=None, eps=1e-5, cudnn_enabled=True):
    return F.group_norm(input, num_groups, weight, bias, eps)


def batch_norm(
    input, weight, bias, running_mean, running_var, training, momentum, eps, cudnn_enabled
):
    return F.batch_norm(input, running_mean, running_var, weight, bias, training, momentum, eps)


def instance_norm(
    input, weight, bias, running_mean, running_var, use_input_stats, momentum, eps, cudnn_enabled
):
    return F.instance_norm(
        input, running_mean, running_var, weight, bias, use_input_stats, momentum, eps
    )


def embedding(weight, indices, padding_idx=-1, scale_grad_by_freq=False, sparse=False):
    """Weight first, and padding_idx=-1 (any negative) means none, as in aten::embedding."""
    padding_idx = None if padding_idx < 0 else padding_idx
    return F.embedding(indices, weight, padding_idx, None, 2.0, scale_grad_by_freq, sparse)


def selu(input):
    return F.selu(input)


def selu_(input):
    return F.selu(input, inplace=True)


def celu(input, alpha=1.0):
    return F.celu(input, alpha)


def celu_(input, alpha=1.0):
    return F.celu(input, alpha, inplace=True)


def threshold(input, threshold, value):
    return F.threshold(input, threshold, value)


def threshold_(input, threshold, value):
    return F.threshold(input, threshold, value, inplace=True)


def rrelu(input, lower=1.0 / 8, upper=1.0 / 3, training=False):
    return F.rrelu(input, lower, upper, training)


def rrelu_(input, lower=1.0 / 8, upper=1.0 / 3, training=False):
    return F.rrelu(input, lower, upper, training, inplace=True)


def kl_div(input, target, reduction=0, *, log_target=False):
    return F.kl_div(input, target, reduction=_REDUCTIONS[reduction], log_target=log_target)


def binary_cross_entropy_with_logits(input, target, weight=None, pos_weight=None, reduction=0):
    return F.binary_cross_entropy_with_logits(
        input, target, weight, reduction=_REDUCTIONS[reduction], pos_weight=pos_weight
    )


def margin_ranking_loss(input1, input2, target, margin=0.0, reduction=0):
    return F.margin_ranking_loss(input1, input2, target, margin, reduction=_REDUCTIONS[reduction])


def hinge_embedding_loss(input, target, margin=1.0, reduction=0):
    return F.hinge_embedding_loss(input, target, margin, reduction=_REDUCTIONS[reduction])


def cosine_embedding_loss(input1, input2, target, margin=0.0, reduction=0):
    return F.cosine_embedding_loss(input1, input2, target, margin, reduction=_REDUCTIONS[reduction])


def triplet_margin_loss(
    anchor, positive, negative, margin=1.0, p=2.0, eps=1e-6, swap=False, reduction=0
):
    return F.triplet_margin_loss(
        anchor, positive, negative, margin, p, eps, swap, reduction=_REDUCTIONS[reduction]
    )


def ctc_loss(
    log_probs, targets, input_lengths, target_lengths, blank=0, reduction=1, zero_infinity=False
):
    return F.ctc_loss(
        log_probs,
        targets,
        input_lengths,
        target_lengths,
        blank,
        _REDUCTIONS[reduction],
        zero_infinity,
    )


def poisson_nll_loss(input, target, log_input, full, eps, reduction):
    return F.poisson_nll_loss(
        input, target, log_input, full, eps=eps, reduction=_REDUCTIONS[reduction]
    )


# ---- linalg under the old top-level names --------------------------------------------------


def svd(input, some=True, compute_uv=True):
    """The old torch.svd: (U, S, V) with V (not Vh); some=True is the reduced SVD; with
    compute_uv=False, U and V are zero-filled (m, m) and (n, n) matrices."""
    U, S, Vh = linalg.svd(input, full_matrices=not some or not compute_uv)
    V = Vh.transpose(-2, -1)
    if not compute_uv:
        U, V = U.detach().zero_(), V.detach().zero_()
    return _named("svd", ("U", "S", "V"))(U, S, V)


def qr(input, some=True):
    Q, R = linalg.qr(input, "reduced" if some else "complete")
    return _named("qr", ("Q", "R"))(Q, R)


def cholesky(input, upper=False):
    return linalg.cholesky(input, upper=upper)


def pinverse(input, rcond=1e-15):
    """Moore-Penrose pseudo-inverse from the reduced SVD; singular values at or below
    rcond * the largest count as zero."""
    U, S, Vh = linalg.svd(input, full_matrices=False)
    keep = S > rcond * S.amax(-1, keepdim=True)
    inv_s = where(keep, 1 / where(keep, S, 1.0), 0.0)  # (the inner where: no 1/0 in the grad)
    return (Vh.transpose(-2, -1) * inv_s.unsqueeze(-2)) @ U.transpose(-2, -1)


def matrix_exp(input):
    return linalg.matrix_exp(input)


def matrix_power(input, n):
    """input @ input @ ... (n times) by repeated squaring; n = 0: identity; n < 0: of the
    inverse."""
    if input.ndim < 2 or input.shape[-1] != input.shape[-2]:
        raise RuntimeError(
            "linalg.matrix_power: A must be batches of square matrices, but they are "
            f"{input.shape[-2] if input.ndim >= 2 else 1} by {input.shape[-1]} matrices"
        )
    if n == 0:  # (recorded, as in PyTorch: input gets a zero gradient)
        identity = eye(input.shape[-1], dtype=input.dtype, device=input.device)
        return input.masked_fill(tensor(True), 0) + identity
    base, n = (input.inverse(), -n) if n < 0 else (input, n)
    result = None
    while n:
        if n & 1:
            result = base if result is None else result @ base
        n >>= 1
        if n:
            base = base @ base
    return result


# ---- small compositions --------------------------------------------------------------------


def fmax(input, other):
    """Elementwise max that ignores NaN (NaN only where both are); ties pass the gradient to
    input, like PyTorch's."""
    return where((input >= other) | other.isnan(), input, other)


def fmin(input, other):
    return where((input <= other) | other.isnan(), input, other)


def signbit(input):
    """True where the sign bit is set: negative numbers and -0.0 included."""
    one = tensor(1.0, dtype=dtypes.float64, device=input.device)
    return one.copysign(input) < 0 if input.dtype.is_floating_point else input < 0


def isposinf(input):
    return input == math.inf


def isneginf(input):
    return input == -math.inf


def isreal(input):
    return ones_like(input, dtype=dtypes.bool_)


def is_complex(input):
    return False


def is_signed(input):
    return input.dtype.is_signed


def is_inference(input):
    return False  # (minitorch's inference_mode makes ordinary tensors that record no tape)


def is_nonzero(input):
    if input.numel() != 1:
        what = "no values" if input.numel() == 0 else "more than one value"
        raise RuntimeError(f"Boolean value of Tensor with {what} is ambiguous")
    return bool(input.item() != 0)


def is_same_size(input, other):
    return input.shape == other.shape


def positive(input):
    if input.dtype is dtypes.bool_:
        raise RuntimeError("The `+` operator, on a bool tensor is not supported.")
    return input


def rsub(input, other, *, alpha=1):
    """other - alpha * input."""
    return other - input * alpha if alpha != 1 else other - input


def fill(input, value):
    """A new tensor of input's shape and dtype holding `value` (a number or 0-dim tensor)."""
    if isinstance(value, Tensor) and value.ndim:
        raise RuntimeError(
            f"fill only supports 0-dimension value tensor but got tensor with {value.ndim} "
            "dimensions."
        )
    return input.masked_fill(tensor(True), value)  # (recorded: input gets a zero gradient)


def vdot(input, other):
    return input.dot(other)  # (real tensors: no conjugate to take)


def vander(x, N=None, increasing=False):  # noqa: N803  (PyTorch's name)
    """Columns x**(N-1), ..., x**0 (increasing: x**0 first), as a cumulative product so the
    gradient is exact at x = 0; integer and bool x give int64."""
    if x.ndim != 1:
        raise RuntimeError("x must be a one-dimensional tensor.")
    n = x.shape[0] if N is None else N
    if n < 0:
        raise RuntimeError("N must be non-negative.")
    if not x.dtype.is_floating_point:
        x = x.to(dtypes.int64)
    columns = [ones_like(x).unsqueeze(1)] + [x.unsqueeze(1)] * max(n - 1, 0)
    result = cat(columns, dim=1)[:, :n].cumprod(1)
    return result if increasing else result.flip(1)


def unravel_index(indices, shape):
    """Flat indices into `shape` -> a tuple of coordinate tensors (C order); like PyTorch's,
    index // stride % size per dimension, so indices wrap rather than raise."""
    if not isinstance(indices, Tensor):
        indices = tensor(indices)
    if indices.dtype.is_floating_point or indices.dtype is dtypes.bool_:
        raise TypeError(f"expected 'indices' to be integer dtype, but got {indices.dtype}")
    shape = (shape,) if isinstance(shape, numbers.Integral) else tuple(shape)
    if any(s < 0 for s in shape):
        raise ValueError(f"'shape' cannot have negative values, but got {shape}")
    indices, coords, stride = indices.to(dtypes.int64), [], 1
    for size in reversed(shape):
        coords.append(indices.div(stride, rounding_mode="floor") % size)
        stride *= size
    return tuple(reversed(coords))


def frexp(input):
    """(mantissa, exponent) with input = mantissa * 2**exponent, 0.5 <= |mantissa| < 1
    (0, inf and nan: mantissa = input, exponent = 0); exponent is int32."""
    if not input.dtype.is_floating_point:
        raise RuntimeError("torch.frexp() only supports floating-point dtypes")
    finite = input.isfinite() & (input != 0)
    safe = where(finite, input, 1.0)
    exponent = safe.abs().log2().floor() + 1
    # log2 can round up just below a power of two: fix the exponent by one either way. The
    # scaling is split in two so that neither factor overflows (subnormals, the largest floats).
    for _ in range(2):
        half = (exponent / 2).floor()
        mantissa = safe * 2.0 ** (-half) * 2.0 ** (half - exponent)
        exponent = exponent + (mantissa.abs() >= 1).to(exponent.dtype)
        exponent = exponent - (mantissa.abs() < 0.5).to(exponent.dtype)
    half = (exponent / 2).floor()
    mantissa = safe * 2.0 ** (-half) * 2.0 ** (half - exponent)
    return _named("frexp", ("mantissa", "exponent"))(
        where(finite, mantissa, input), where(finite, exponent, 0.0).to(dtypes.int32)
    )


def ldexp(input, other):
    """input * 2**other (PyTorch's own definition, overflow included)."""
    return input * 2.0**other


def _check_integral(name, *tensors):
    for t in tensors:
        if t.dtype.is_floating_point:
            raise NotImplementedError(
                f"\"{name}_cpu\" not implemented for '{_scalar_name(t.dtype)}'"
            )


def _scalar_name(dtype) -> str:
    """PyTorch's ScalarType name, as its 'not implemented for' errors spell it."""
    names = {"float32": "Float", "float64": "Double", "float16": "Half", "int64": "Long"}
    names.update(int32="Int", int16="Short", int8="Char", uint8="Byte", bool="Bool")
    return names.get(dtype.name, dtype.name)


def gcd(input, other):
    """Greatest common divisor (non-negative; gcd(0, 0) = 0) by Euclid's algorithm, run on all
    elements at once until every remainder is zero."""
    _check_integral("gcd", input, other)
    a, b = input.abs(), other.abs()
    a, b = a + b * 0, b + a * 0  # (broadcast both to the result's shape and dtype)
    while (b != 0).any().item():
        nonzero = b != 0
        a, b = where(nonzero, b, a), where(nonzero, a % where(nonzero, b, 1), 0)
    return a


def lcm(input, other):
    _check_integral("lcm", input, other)
    g = gcd(input, other)
    return (input.abs() // where(g == 0, 1, g) * other.abs()).to(g.dtype)


def gcd_(input, other):
    return input.copy_(gcd(input, other))


def lcm_(input, other):
    return input.copy_(lcm(input, other))


def ldexp_(input, other):
    return input.copy_(ldexp(input, other))


def nextafter(input, other):
    """The next representable float after input toward other (other where they are equal)."""
    if not input.dtype.is_floating_point:
        raise NotImplementedError(
            f"\"nextafter_cpu\" not implemented for '{_scalar_name(input.dtype)}'"
        )
    result = input + other * 0  # (broadcast and promote)
    info = np.finfo(result.dtype.np)
    mantissa, exponent = frexp(result)
    # one ulp at |x|'s binade: 2**(exponent - digits); stepping toward zero from an exact power
    # of two lands in the binade below, whose ulp is half as big. Tiny values step by the
    # smallest subnormal.
    toward_zero = (other - result).sign() != result.sign()
    at_power = mantissa.abs() == 0.5
    exponent = exponent.to(result.dtype) - info.nmant - 1
    exponent = exponent - (toward_zero & at_power).to(result.dtype)
    ulp = where(exponent < info.minexp - info.nmant, info.smallest_subnormal, 2.0**exponent)
    ulp = where(result == 0, info.smallest_subnormal, ulp).to(result.dtype)
    stepped = result + (other - result).sign() * ulp
    stepped = where(result.isinf(), result.sign() * float(info.max), stepped)  # (inf: to max)
    return where(result.isnan() | other.isnan(), math.nan, where(result == other, other, stepped))


def mode(input, dim=-1, keepdim=False):
    """(values, indices): the most frequent value along dim (the smallest among equally
    frequent ones) and the last index where it occurs."""
    dim = dim % max(input.ndim, 1)
    if input.ndim == 0:
        return _named("mode", ("values", "indices"))(input.clone(), zeros((), dtype=dtypes.int64))
    ordered = input.sort(dim).values
    counts = (ordered.unsqueeze(dim + 1) == ordered.unsqueeze(dim)).sum(dim + 1)
    value = ordered.gather(dim, counts.argmax(dim, keepdim=True))
    positions = arange(input.shape[dim], device=input.device).reshape(
        (-1,) + (1,) * (input.ndim - dim - 1)
    )
    indices = where(input == value, positions, -1).amax(dim, keepdim=True)
    values = input.gather(dim, indices)  # (so the gradient reaches that index, as in PyTorch)
    if not keepdim:
        values, indices = values.squeeze(dim), indices.squeeze(dim)
    return _named("mode", ("values", "indices"))(values, indices)


def _scatter_into_view(input, src, view):
    """input with the elements that view(input) would show replaced by src (differentiable
    in both): the view is taken of a tensor of flat positions, which index_copy fills."""
    positions = view(arange(input.numel(), device=input.device).reshape(input.shape))
    if tuple(src.shape) != tuple(positions.shape):
        raise RuntimeError(
            f"expected src to have a size equal to the slice of self. src size = "
            f"{list(src.shape)}, slice size = {list(positions.shape)}"
        )
    flat = input.reshape(-1).index_copy(0, positions.reshape(-1), src.reshape(-1).to(input.dtype))
    return flat.reshape(input.shape)


def select_scatter(input, src, dim, index):
    return _scatter_into_view(input, src, lambda t: t.select(dim, index))


def slice_scatter(input, src, dim=0, start=None, end=None, step=1):
    return _scatter_into_view(
        input, src, lambda t: t[(slice(None),) * (dim % t.ndim) + (slice(start, end, step),)]
    )


def diagonal_scatter(input, src, offset=0, dim1=0, dim2=1):
    return _scatter_into_view(input, src, lambda t: t.diagonal(offset, dim1, dim2))


def index_put(input, indices, values, accumulate=False):
    return input.index_put(indices, values, accumulate)


def put(input, index, source, accumulate=False):
    """input with input.flatten()[index] = source (accumulate: +=); negative indices count
    from the end."""
    flat = input.reshape(-1)
    return flat.index_put((index.reshape(-1),), source.reshape(-1), accumulate).reshape(input.shape)


def can_cast(from_, to):
    """Whether PyTorch's type promotion allows casting from_ to `to`: never to a lower kind
    (float -> integer, anything but bool -> bool)."""
    return from_.category <= to.category


def typename(obj):
    if isinstance(obj, Tensor):
        return obj.type()
    module = getattr(obj, "__module__", "") or ""
    if hasattr(obj, "__qualname__"):
        qualname = obj.__qualname__
    elif hasattr(obj, "__name__"):
        qualname = obj.__name__
    else:
        module, qualname = obj.__class__.__module__ or "", obj.__class__.__qualname__
    return qualname if module in ("", "builtins") else f"{module}.{qualname}"


def set_anomaly_enabled(enabled, check_nan=True):
    grad_mode.set_detect_anomaly(enabled and check_nan)


def is_anomaly_enabled():
    return grad_mode.is_anomaly_enabled()


def is_anomaly_check_nan_enabled():
    return grad_mode.is_anomaly_enabled()


# ---- windows (signal processing) -----------------------------------------------------------


def _window(name, values, window_length, periodic, dtype, device, requires_grad):
    """A window from values(n) (n points, float64 numpy), made periodic by computing
    window_length + 1 points and dropping the last."""
    dtype = dtypes.get_default_dtype() if dtype is None else dtype
    if window_length < 0:
        raise RuntimeError(f"{name} requires non-negative window_length, got {window_length}")
    if not dtype.is_floating_point:
        raise RuntimeError(f"{name} expects floating point dtypes, got: {dtype}")
    if window_length <= 1:
        array = np.ones(window_length)
    else:
        array = values(window_length + 1)[:-1] if periodic else values(window_length)
    return tensor(array, dtype=dtype, device=device, requires_grad=requires_grad)


def _cosine_sum(*a):
    def values(n):
        k = np.arange(n) * (2 * np.pi / (n - 1))
        return sum(c * np.cos(j * k) * (-1) ** j for j, c in enumerate(a))

    return values


def hann_window(
    window_length, periodic=True, *, dtype=None, layout=None, device=None, requires_grad=False
):
    return _window(
        "hann_window", _cosine_sum(0.5, 0.5), window_length, periodic, dtype, device, requires_grad
    )


def hamming_window(
    window_length,
    periodic=True,
    alpha=0.54,
    beta=0.46,
    *,
    dtype=None,
    layout=None,
    device=None,
    requires_grad=False,
):
    return _window(
        "hamming_window",
        _cosine_sum(alpha, beta),
        window_length,
        periodic,
        dtype,
        device,
        requires_grad,
    )


def blackman_window(
    window_length, periodic=True, *, dtype=None, layout=None, device=None, requires_grad=False
):
    return _window(
        "blackman_window",
        _cosine_sum(0.42, 0.5, 0.08),
        window_length,
        periodic,
        dtype,
        device,
        requires_grad,
    )


def bartlett_window(
    window_length, periodic=True, *, dtype=None, layout=None, device=None, requires_grad=False
):
    def values(n):
        return 1 - np.abs(2 * np.arange(n) / (n - 1) - 1)

    return _window("bartlett_window", values, window_length, periodic, dtype, device, requires_grad)


def kaiser_window(
    window_length,
    periodic=True,
    beta=12.0,
    *,
    dtype=None,
    layout=None,
    device=None,
    requires_grad=False,
):
    def values(n):
        ratio = 2 * np.arange(n) / (n - 1) - 1
        return np.i0(beta * np.sqrt(np.clip(1 - ratio**2, 0, None))) / np.i0(beta)

    return _window("kaiser_window", values, window_length, periodic, dtype, device, requires_grad)


# ---- more aliases and thin compositions ----------------------------------------------------


def fix(input):
    return input.trunc()


def fix_(input):
    return input.trunc_()


def sinc(input):
    """sin(pi x) / (pi x), 1 at x = 0 (gradient 0 there); integers give the default float."""
    if not input.dtype.is_floating_point:
        input = input.to(dtypes.get_default_dtype())
    zero = input == 0
    x = where(zero, 1.0, input) * math.pi  # (no 0/0 in the value or the gradient)
    return where(zero, 1.0, x.sin() / x).to(input.dtype)


def sinc_(input):
    return input.copy_(sinc(input))


def adjoint(input):
    return input.transpose(-2, -1)  # (real tensors: the conjugate is the tensor itself)


def chain_matmul(*matrices):
    warnings.warn(
        "torch.chain_matmul is deprecated and will be removed in a future PyTorch release. "
        "Use torch.linalg.multi_dot instead, which accepts a list of two or more tensors "
        "rather than multiple parameters.",
        stacklevel=2,
    )
    return functools.reduce(lambda a, b: a @ b, matrices)


def addr(input, vec1, vec2, *, beta=1, alpha=1):
    """beta * input + alpha * outer(vec1, vec2); beta = 0 ignores input (nan and inf too)."""
    product = vec1.outer(vec2) if alpha == 1 else vec1.outer(vec2) * alpha
    if beta == 0:  # (recorded: input gets a zero gradient)
        return input.masked_fill(tensor(True), 0) + product
    return (input if beta == 1 else input * beta) + product


def unsafe_chunk(input, chunks, dim=0):
    return input.chunk(chunks, dim)


def unsafe_split(input, split_size, dim=0):
    return input.split(split_size, dim)


def split_with_sizes(input, split_sizes, dim=0):
    return input.split(list(split_sizes), dim)


unsafe_split_with_sizes = split_with_sizes


def constant_pad_nd(input, pad, value=0):
    return F.pad(input, pad, "constant", value)


def poisson(input, generator=None):
    """Poisson(rate = input) counts, as input's dtype: the number of unit-rate exponential
    arrivals (-log U) before time `rate`, drawn for all elements at once (about rate + a few
    sqrt(rate) rounds of uniforms)."""
    if (input < 0).any().item():
        raise RuntimeError("invalid Poisson rate, expected rate to be non-negative")
    time = zeros(input.shape, dtype=dtypes.float64, device=input.device)
    count = zeros(input.shape, dtype=dtypes.float64, device=input.device)
    rate = input.detach().to(dtypes.float64)
    active = rate > 0
    while active.any().item():
        time = time - (1 - rand(input.shape, generator=generator, device=input.device)).log()
        active = active & (time <= rate)
        count = count + active.to(count.dtype)
    return count.to(input.dtype)


def binomial(count, prob, generator=None):
    """Binomial(count, prob) draws: the sum of count Bernoulli(prob) trials, one round of
    uniforms per trial up to the largest count."""
    for name, t in (("count", count), ("prob", prob)):
        if not t.dtype.is_floating_point:
            raise ValueError(
                f"binomial only supports floating-point dtypes for {name}, got: "
                f"{_scalar_name(t.dtype)}"
            )
    trials = count.detach().to(dtypes.float64)
    p = prob.detach().to(dtypes.float64)
    trials, p = trials + p * 0, p + trials * 0  # (broadcast)
    successes = zeros(trials.shape, dtype=dtypes.float64, device=count.device)
    for k in range(int(trials.amax().item()) if trials.numel() else 0):
        u = rand(trials.shape, generator=generator, dtype=dtypes.float64, device=count.device)
        successes = successes + ((u < p) & (k < trials)).to(successes.dtype)
    return successes.to(count.dtype)
