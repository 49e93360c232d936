"""minitorch: a PyTorch-compatible deep-learning framework on Numba kernels.

import minitorch as torch
x = torch.randn(64, 784, requires_grad=True)
"""

from __future__ import annotations

import math as _math

from . import (
    _openblas,
    amp,
    autograd,
    backends,
    cpu,
    cuda,
    distributions,
    dtypes,
    func,
    jit,
    linalg,
    metrics,
    nn,
    optim,
    special,
    testing,
    utils,
    vision,
)
from .arranging import (
    atleast_1d,
    atleast_2d,
    atleast_3d,
    block_diag,
    broadcast_shapes,
    cartesian_prod,
    column_stack,
    combinations,
    dstack,
    tril_indices,
    triu_indices,
)
from .autograd import (
    enable_grad,
    inference_mode,
    is_grad_enabled,
    no_grad,
    set_grad_enabled,
)
from .backend import Device as device
from .counting import bucketize, searchsorted
from .dtypes import (
    bfloat16,
    dtype,
    finfo,
    float16,
    float32,
    float64,
    get_default_dtype,
    iinfo,
    int8,
    int16,
    int32,
    int64,
    set_default_dtype,
    uint8,
)
from .dtypes import (
    bool_ as bool,  # noqa: A001  (torch.bool)
)
from .dtypes import (
    result_type as _result_type,
)
from .func import vmap
from .functional import (
    arange,
    as_tensor,
    asarray,
    broadcast_tensors,
    cat,
    concat,
    concatenate,
    einsum,
    empty,
    empty_like,
    eye,
    from_numpy,
    full,
    full_like,
    hstack,
    is_tensor,
    linspace,
    logspace,
    matmul,
    meshgrid,
    numel,
    ones,
    ones_like,
    scalar_tensor,
    stack,
    tensor,
    tril,
    triu,
    vstack,
    where,
    write_out,
    zeros,
    zeros_like,
)
from .functional import vstack as row_stack
from .jit import compile  # noqa: A004
from .numeric import cumulative_trapezoid, isin, std_mean, trapezoid, var_mean
from .numeric import trapezoid as trapz
from .printing import set_printoptions
from .products import cdist, tensordot
from .random import (
    Generator,
    bernoulli,
    default_generator,
    get_rng_state,
    initial_seed,
    manual_seed,
    multinomial,
    normal,
    rand,
    rand_like,
    randint,
    randint_like,
    randn,
    randn_like,
    randperm,
    seed,
    set_rng_state,
)
from .serialization import load, save
from .tensor import Size, Tensor, _legacy_type_name
from .threads import get_num_threads, set_flush_denormal, set_num_threads
from .toplevel import (
    adaptive_avg_pool1d,
    adaptive_max_pool1d,
    addr,
    adjoint,
    alpha_dropout,
    alpha_dropout_,
    avg_pool1d,
    bartlett_window,
    batch_norm,
    bilinear,
    binary_cross_entropy_with_logits,
    binomial,
    blackman_window,
    can_cast,
    celu,
    celu_,
    chain_matmul,
    channel_shuffle,
    cholesky,
    constant_pad_nd,
    conv1d,
    conv2d,
    conv3d,
    conv_transpose1d,
    conv_transpose2d,
    cosine_embedding_loss,
    cosine_similarity,
    ctc_loss,
    diagonal_scatter,
    dropout,
    dropout_,
    embedding,
    feature_alpha_dropout,
    feature_alpha_dropout_,
    feature_dropout,
    feature_dropout_,
    fill,
    fix,
    fix_,
    fmax,
    fmin,
    frexp,
    gcd,
    gcd_,
    group_norm,
    hamming_window,
    hann_window,
    hardshrink,
    hinge_embedding_loss,
    index_put,
    instance_norm,
    is_anomaly_check_nan_enabled,
    is_anomaly_enabled,
    is_complex,
    is_inference,
    is_nonzero,
    is_same_size,
    is_signed,
    isneginf,
    isposinf,
    isreal,
    kaiser_window,
    kl_div,
    layer_norm,
    lcm,
    lcm_,
    ldexp,
    ldexp_,
    margin_ranking_loss,
    matrix_exp,
    matrix_power,
    max_pool1d,
    max_pool1d_with_indices,
    max_pool2d,
    max_pool3d,
    mode,
    nextafter,
    pairwise_distance,
    pdist,
    pinverse,
    pixel_shuffle,
    pixel_unshuffle,
    poisson,
    poisson_nll_loss,
    positive,
    prelu,
    put,
    qr,
    rms_norm,
    rrelu,
    rrelu_,
    rsub,
    select_scatter,
    selu,
    selu_,
    set_anomaly_enabled,
    signbit,
    sinc,
    sinc_,
    slice_scatter,
    split_with_sizes,
    svd,
    threshold,
    threshold_,
    triplet_margin_loss,
    typename,
    unravel_index,
    unsafe_chunk,
    unsafe_split,
    unsafe_split_with_sizes,
    vander,
    vdot,
)

float = float32  # noqa: A001
pi, e, inf, nan = _math.pi, _math.e, _math.inf, _math.nan
double = float64
half = float16
long = int64
int = int32  # noqa: A001
short = int16

__version__ = "0.1.0"


def _method(name):
    method = getattr(Tensor, name)

    def fn(input, *args, out=None, **kwargs):
        result = method(input, *args, **kwargs)
        return result if out is None else write_out(out, result, name)

    fn.__name__ = name
    fn.__qualname__ = name
    fn.__doc__ = f"minitorch.{name}(input, ...) is input.{name}(...); see Tensor.{name}."
    return fn


# Functions that are exactly the Tensor method of the same name (one definition, in tensor.py).
for _name in (
    "add sub subtract mul multiply div divide true_divide floor_divide remainder fmod pow neg "
    "negative exp exp2 log log2 log10 log1p expm1 sqrt rsqrt reciprocal square abs absolute "
    "sign sin cos tan tanh sigmoid relu erf floor ceil round trunc frac clamp clip maximum "
    "minimum lerp addcmul addcdiv isnan isinf isfinite nan_to_num logical_not logical_and "
    "logical_or logical_xor eq ne lt le gt ge greater greater_equal less less_equal not_equal "
    "equal allclose isclose mm bmm dot outer sum nansum mean prod amax amin max min argmax "
    "argmin var std logsumexp norm all any count_nonzero cumsum cumprod sort argsort topk "
    "softmax log_softmax reshape flatten unflatten permute transpose swapaxes swapdims t "
    "squeeze unsqueeze narrow split chunk unbind select flip roll gather scatter scatter_add "
    "index_select masked_fill masked_select nonzero clone detach repeat_interleave tile "
    "asin acos atan sinh cosh asinh acosh atanh atan2 hypot arcsin arccos arctan arcsinh "
    "arccosh arctanh arctan2 deg2rad rad2deg logit logaddexp xlogy sgn fliplr flipud movedim "
    "moveaxis diagonal diag trace take_along_dim broadcast_to index_add index_copy index_fill "
    "addmm addmv addbmm baddbmm kron ger cummax cummin logcumsumexp median nanmedian quantile "
    "nanquantile kthvalue bincount unique histc diff inverse det logdet slogdet bitwise_not "
    "bitwise_and bitwise_or "
    "bitwise_xor bitwise_left_shift bitwise_right_shift ravel erfc erfinv float_power mv dist "
    "nanmean lgamma digamma aminmax argwhere take tensor_split hsplit vsplit dsplit diag_embed "
    "diagflat rot90 msort inner cross copysign heaviside logaddexp2 cov corrcoef "
    "unique_consecutive scatter_reduce clamp_min clamp_max masked_scatter"
).split():
    if hasattr(Tensor, _name):
        globals()[_name] = _method(_name)

# In-place functions, torch.relu_(x) and kin: exactly the Tensor method (no out=).
for _name in (
    "abs_ acos_ acosh_ addmv_ arccos_ arccosh_ arcsin_ arcsinh_ arctan_ arctanh_ asin_ asinh_ "
    "atan_ atanh_ ceil_ clamp_ clamp_max_ clamp_min_ clip_ cos_ cosh_ deg2rad_ detach_ erf_ "
    "erfc_ exp2_ exp_ expm1_ fill_ floor_ frac_ index_put_ log10_ log1p_ log2_ log_ logit_ "
    "nan_to_num_ neg_ negative_ rad2deg_ reciprocal_ relu_ round_ rsqrt_ sigmoid_ sin_ sinh_ "
    "sqrt_ square_ tan_ tanh_ trunc_ xlogy_ zero_"
).split():
    globals()[_name] = getattr(Tensor, _name)


class _LegacyType(type):
    """torch.FloatTensor and its kin: calling one builds a tensor of its dtype (the legacy
    constructor: from data, or uninitialised of a size); isinstance(t, torch.FloatTensor)
    checks a cpu tensor's dtype; t.type(torch.FloatTensor) converts to it."""

    def __instancecheck__(cls, obj) -> bool:
        return isinstance(obj, Tensor) and obj.dtype is cls.dtype and not obj.is_cuda

    def __call__(cls, *args) -> Tensor:
        import numbers  # noqa: PLC0415

        if len(args) == 1 and not isinstance(args[0], numbers.Integral):
            return tensor(args[0], dtype=cls.dtype)
        return empty(*args, dtype=cls.dtype)


for _dtype in (float32, float64, float16, int64, int32, int16, int8, uint8, bool):
    _name = _legacy_type_name(_dtype)
    globals()[_name] = _LegacyType(_name, (), {"dtype": _dtype, "__module__": __name__})


autocast, is_autocast_enabled, set_autocast_enabled = (
    amp.autocast,
    amp.is_autocast_enabled,
    amp.set_autocast_enabled,
)
get_autocast_dtype, set_autocast_dtype = amp.get_autocast_dtype, amp.set_autocast_dtype


def is_autocast_cpu_enabled() -> bool:
    return amp.is_autocast_enabled("cpu")


def get_autocast_cpu_dtype() -> dtype:
    return amp.get_autocast_dtype("cpu")


# Settings PyTorch scripts make: kept and read back; minitorch's float32 products are always
# full float32 (never TF32 or bfloat16), and its kernels are deterministic (fixed chunking of
# parallel reductions, no atomics), so neither changes a result.
_settings = {"float32_matmul_precision": "highest", "deterministic": False, "warn_only": False}


def set_float32_matmul_precision(precision: str) -> None:
    if precision not in ("highest", "high", "medium"):
        raise RuntimeError(f"Invalid precision {precision!r}: use 'highest', 'high' or 'medium'")
    _settings["float32_matmul_precision"] = precision


def get_float32_matmul_precision() -> str:
    return _settings["float32_matmul_precision"]


def use_deterministic_algorithms(mode: bool, *, warn_only: bool = False) -> None:  # noqa: F811
    _settings.update(deterministic=mode is True or mode == 1, warn_only=warn_only is True)


def are_deterministic_algorithms_enabled() -> bool:
    return _settings["deterministic"]


def is_deterministic_algorithms_warn_only_enabled() -> bool:
    return _settings["warn_only"]


def promote_types(a: dtype, b: dtype) -> dtype:
    return dtypes.promote(a, b)


def result_type(a, b) -> dtype:
    return _result_type(a, b)


def is_floating_point(t: Tensor) -> bool:
    return t.dtype.is_floating_point


def polygamma(n: int, input: Tensor, *, out=None) -> Tensor:
    """torch.polygamma(n, input): input.polygamma(n), any n >= 0."""
    result = input.polygamma(n)
    return result if out is None else write_out(out, result, "polygamma")


def get_default_device() -> device:
    return device("cpu")
