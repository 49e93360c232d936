"""Elementwise ops: one registry entry each, a scalar template for kernels/codegen and a
backward rule written with Tensor ops.

Templates are Python expressions over placeholders {0}, {1}, ...; names they call live in
kernels/cpu/scalar.py. `kind` picks the dtype rule:
  ARITH   promote inputs, compute and return in the promoted dtype (add, mul, ...)
  FLOAT   like ARITH but integers become the default float dtype (exp, div, ...)
  COMPARE promote inputs, return bool (lt, eq, ...)
  LOGICAL inputs keep their dtypes, return bool (logical_and, ...)
"""

from __future__ import annotations

import math
import numbers

import numpy as np

from .. import dtypes
from ..autograd.grad_mode import state
from ..kernels import cpu
from .registry import Meta, Op, apply, recorder, register

Tensor = None  # set by minitorch.tensor (it imports this module first)

ARITH, FLOAT, COMPARE, LOGICAL = "arith", "float", "compare", "logical"


def broadcast_shapes(*shapes: tuple, op: str = "broadcast") -> tuple:
    """NumPy/PyTorch broadcasting of shapes, with an error naming the op and the dim."""
    ndim = max(len(s) for s in shapes)
    out = [1] * ndim
    for s in shapes:
        for i, n in enumerate(s, ndim - len(s)):
            if n != out[i]:
                if out[i] == 1:
                    out[i] = n
                elif n != 1:
                    dim = i - ndim
                    raise RuntimeError(
                        f"{op}: the size of tensor a ({out[i]}) must match the size of tensor b "
                        f"({n}) at non-singleton dimension {dim}; cannot broadcast shapes "
                        + " and ".join(str(tuple(x)) for x in shapes)
                    )
    return tuple(out)


class Elementwise(Op):
    """out = template(*inputs) elementwise, with broadcasting and PyTorch type promotion."""

    def __init__(
        self,
        name,
        template,
        kind,
        backward=None,
        *,
        int_template=None,
        save=(),
        save_out=False,
        reads=None,
    ):
        self.name = name
        self.template = template
        self.int_template = int_template or template
        self.kind = kind
        self.save, self.reads = save, reads
        self.save_out = save_out
        self._backward = backward
        self.differentiable = backward is not None

    def infer(self, *xs) -> Meta:
        _check_operands(self.name, xs)
        shapes = [x.shape for x in xs if hasattr(x, "shape")]
        shape = shapes[0]
        for s in shapes[1:]:
            if s != shape:
                shape = broadcast_shapes(*shapes, op=self.name)
                break
        return Meta(shape, self.out_dtype(self.compute_dtype(xs)))

    def compute_dtype(self, xs) -> dtypes.dtype:
        if self.kind == LOGICAL:
            return dtypes.bool_
        dt = xs[0].dtype if len(xs) == 1 else dtypes.result_type(*xs)
        if self.kind == FLOAT and not dt.is_floating_point:
            return dtypes.get_default_dtype()
        return dt

    def out_dtype(self, compute: dtypes.dtype) -> dtypes.dtype:
        return dtypes.bool_ if self.kind in (COMPARE, LOGICAL) else compute

    def forward(self, meta, *arrays):
        return self.run(CPU, meta, arrays)

    def run(self, dev, meta, arrays):
        """The forward on the device whose array kit `dev` is (CPU here, ops/cuda.py's CUDA)."""
        if self.kind == COMPARE or (self.kind == FLOAT and not meta.dtype.is_floating_point):
            compute = dtypes.result_type(*[_as_operand(a) for a in arrays])
            if self.kind == FLOAT:
                compute = dtypes.get_default_dtype()
        else:
            compute = meta.dtype
        operands = [_cast(a, compute, self.kind, dev) for a in arrays]
        if self.name in _INT_DIVISION and not compute.is_floating_point and dev is CPU:
            _check_divisor(self.name, operands[1])  # NOTE: CUDA does not check, as PyTorch's
        out = dev.empty(meta.shape, meta.dtype.np)
        template = self.template if compute.is_floating_point else self.int_template
        dev.elementwise((template,), [out], operands)
        return out

    def direct(self, meta, arrays) -> tuple[str, list] | None:
        """(expression, operands) that run() would hand its kernel for these arrays, when it
        would cast none of them (float arithmetic, or a comparison, in the arrays' own float
        dtype), else None. A traced step's replay then calls that kernel itself."""
        if type(self).run is not Elementwise.run:  # an op with its own run (clamp) says no
            return None
        if self.kind == COMPARE:  # a bool output of operands compared in their float dtype
            compute = dtypes.result_type(*[_as_operand(a) for a in arrays])
        elif self.kind == LOGICAL:
            return None
        else:
            compute = meta.dtype
        if not compute.is_floating_point:
            return None
        operands = _uncast(arrays, compute.np)
        return None if operands is None else (self.template, operands)

    def backward(self, ctx, grad):
        return self._backward(ctx, grad)

    def __call__(self, a, *rest):
        """Eager entry of Tensor operators: a fast path for the common small case (contiguous,
        same shape and dtype, no autograd, no tracer) that skips the general dispatch, whose
        Python overhead would dominate ops on small tensors."""
        if recorder[0] is None and not (
            state.enabled
            and (a._requires_grad or getattr(rest[0] if rest else None, "_requires_grad", False))
        ):
            out = self._fast(a, rest)
            if out is not None:
                return out
        return apply(self, a, *rest)

    def _fast(self, a, rest):
        ad, dt = a._data, a.dtype
        if self.kind == FLOAT and not dt.is_floating_point:
            return None
        if dt is dtypes.bool_ and self.name in ("neg", "sub"):  # infer raises the error
            return None
        if not dt.is_floating_point and self.name in _INT_DIVISION:  # forward checks for 0
            return None
        if type(ad) is not np.ndarray or dt is dtypes.float16:  # (float16: apply's error)
            return None
        if not ad.flags.c_contiguous or not 0 < ad.size < cpu.PARALLEL_MIN:
            return None
        operands, scalars = [ad], (False,)
        if rest:
            b = rest[0]
            if isinstance(b, Tensor):
                bd = b._data
                if (
                    b.dtype is not dt
                    or type(bd) is not np.ndarray  # a cuda tensor: apply refuses the mix
                    or bd.shape != ad.shape
                    or not bd.flags.c_contiguous
                ):
                    return None
                operands.append(bd)
            elif (
                type(b) is float
                and dt.is_floating_point
                or (type(b) is int and dt is not dtypes.bool_ and _fits(b, dt))
            ):
                operands.append(dt.np.type(b))  # bool + 1 promotes: the general path
            else:
                return None
            scalars = (False, not isinstance(b, Tensor))
        out_dt = self.out_dtype(dt)
        out = np.empty(ad.shape, out_dt.np)
        kernel = self._flat.get((dt, scalars))
        if kernel is None:
            template = self.template if dt.is_floating_point else self.int_template
            kernel = cpu.elementwise_sized((template,), scalars, None, ad.size)
            # NOTE: near PARALLEL_MIN a prange variant compiled already serves (a short last
            # batch then compiles no serial twin); below that band the kernel is the serial one
            if ad.size < cpu.EITHER_VARIANT_MIN:
                self._flat[(dt, scalars)] = kernel
        kernel(out, *operands)
        return _wrap(out, out_dt)

    @property
    def _flat(self):
        """Flat serial kernels by (dtype, which inputs are scalars), filled on first use."""
        cache = self.__dict__.get("_flat_cache")
        if cache is None:
            cache = self.__dict__["_flat_cache"] = {}
        return cache


_INT_DIVISION = ("floor_divide", "trunc_divide", "remainder")


def _check_divisor(name: str, b) -> None:
    """Integer division by zero has no value: PyTorch raises, numpy/Numba would return 0."""
    if np.any(np.asarray(b) == 0):
        raise RuntimeError(
            f"{name}: ZeroDivisionError: integer division by zero; check the "
            "divisor, or divide as floats (x.float())"
        )


def _check_operands(name: str, xs) -> None:
    """Refuse what PyTorch refuses: non-numbers, and `-` on bools (a mask wants ~)."""
    for x in xs:
        if not (hasattr(x, "dtype") or isinstance(x, numbers.Number)):
            raise TypeError(
                f"{name}: unsupported operand type {type(x).__name__}; expected a "
                "Tensor or a number (wrap lists with minitorch.tensor(...))"
            )
    if name in ("neg", "sub") and any(
        getattr(x, "dtype", None) is dtypes.bool_ or isinstance(x, bool) for x in xs
    ):
        raise RuntimeError(
            f"{name}: the `-` operator on a bool tensor is not supported; to invert a mask use "
            "`~` or logical_not(), to compare masks use `^` or logical_xor()"
        )


def _fits(value: int, dt) -> bool:
    """Whether a Python int is representable in dtype dt (else numpy raises OverflowError)."""
    if dt.is_floating_point:
        return True
    info = np.iinfo(dt.np)
    return info.min <= value <= info.max


def _wrap(array, dtype):
    t = object.__new__(Tensor)
    t._data = array
    t.dtype = dtype
    t._version_counter = [0]
    return t


class _Operand:
    """Shape/dtype view of a raw array or number for result_type inside forward."""

    __slots__ = ("dtype", "ndim")

    def __init__(self, a):
        self.dtype = dtypes.from_numpy_dtype(a.dtype)
        self.ndim = a.ndim


def _uncast(values, np_dtype) -> list | None:
    """values with numbers as np_dtype scalars (as _cast makes them), or None if an array is
    of another dtype (run() would cast it)."""
    operands = []
    for a in values:
        if _is_array(a) and a.dtype != np_dtype:
            return None
        operands.append(a if _is_array(a) else np_dtype.type(a))
    return operands


def _as_operand(a):
    return _Operand(a) if _is_array(a) else a


def _is_array(a) -> bool:
    """A host (numpy) or device (numba.cuda) array, as opposed to a number."""
    return isinstance(a, np.ndarray) or hasattr(a, "__cuda_ndarray__")


class CPU:
    """The array kit Elementwise.run uses on the CPU; ops/cuda.py has the CUDA one."""

    empty = staticmethod(np.empty)
    elementwise = staticmethod(cpu.elementwise)

    @staticmethod
    def astype(a, np_dtype):
        return a.astype(np_dtype)


def _cast(a, compute: dtypes.dtype, kind: str, dev=CPU):
    if kind == LOGICAL:
        return a if _is_array(a) else bool(a)
    if _is_array(a):
        if a.dtype == compute.np:
            return a
        return a.astype(compute.np) if isinstance(a, np.ndarray) else dev.astype(a, compute.np)
    if isinstance(a, int) and not compute.is_floating_point and compute is not dtypes.bool_:
        return np.array(a).astype(compute.np)[()]  # wraps like PyTorch: uint8 + 300
    return compute.np.type(a)


def _elementwise(name, template, kind, backward=None, **kw):
    return register(Elementwise(name, template, kind, backward, **kw))


# ---- arithmetic ------------------------------------------------------------------------------
add = _elementwise("add", "({0} + {1})", ARITH, lambda c, g: (g, g))
sub = _elementwise("sub", "({0} - {1})", ARITH, lambda c, g: (g, -g))


def _mul_backward(c, g):
    a, b = c.inputs
    need_a, need_b = c.needs_input_grad
    return (g * b if need_a else None, g * a if need_b else None)


def _div_backward(c, g):
    a, b = c.inputs
    need_a, need_b = c.needs_input_grad
    return (g / b if need_a else None, -g * a / (b * b) if need_b else None)


mul = _elementwise("mul", "({0} * {1})", ARITH, _mul_backward, save=(0, 1), reads=((1,), (0,)))
div = _elementwise("div", "({0} / {1})", FLOAT, _div_backward, save=(0, 1), reads=((1,), (0, 1)))
floor_divide = _elementwise(
    "floor_divide",
    "floor_div({0}, {1})",
    ARITH,
    lambda c, g: (g * 0, g * 0),
    int_template="int_floor_div({0}, {1})",
)
trunc_divide = _elementwise(
    "trunc_divide",
    "trunc_div({0}, {1})",
    ARITH,
    lambda c, g: (g * 0, g * 0),
    int_template="int_trunc_div({0}, {1})",
)
remainder = _elementwise(
    "remainder",
    "remainder({0}, {1})",
    ARITH,
    lambda c, g: (g, -g * floor_divide_(c.inputs[0], c.inputs[1])),
    int_template="int_remainder({0}, {1})",
    save=(0, 1),
)
neg = _elementwise("neg", "(-{0})", ARITH, lambda c, g: -g)
maximum = _elementwise(
    "maximum",
    "maximum({0}, {1})",
    ARITH,
    lambda c, g: _split_grad(g, c.inputs[0], c.inputs[1]),
    save=(0, 1),
)
minimum = _elementwise(
    "minimum",
    "minimum({0}, {1})",
    ARITH,
    lambda c, g: _split_grad(g, c.inputs[1], c.inputs[0]),
    save=(0, 1),
)


class Pow(Elementwise):
    """out = a ** b; an integer tensor to a negative Python int raises, as in PyTorch (a
    tensor exponent is not checked there either: its negative powers give 0)."""

    def __init__(self):
        super().__init__("pow", "({0} ** {1})", ARITH, _pow_backward, save=(0, 1), save_out=True)

    def infer(self, a, b):
        if (
            isinstance(b, numbers.Integral)
            and b < 0
            and hasattr(a, "dtype")
            and not a.dtype.is_floating_point
        ):
            raise RuntimeError("Integers to negative integer powers are not allowed.")
        return super().infer(a, b)


def _pow_backward(c, g):
    a, b = c.inputs
    ga = _pow_base_grad(g, a, b) if c.needs_input_grad[0] else None
    gb = _pow_exponent_grad(g, a, b, c.out) if c.needs_input_grad[1] else None
    return ga, gb


def _pow_base_grad(g, a, b):
    # NOTE: b * a^(b-1) is 0 * inf = nan at a == 0, b == 0; PyTorch makes it 0 where b == 0.
    if not hasattr(b, "shape"):  # a Python number exponent (x ** 3)
        return g.new_zeros(g.shape) if b == 0 else g * b * pow_(a, b - 1)
    return where_(eq_(b, 0), 0.0, g * b * pow_(a, b - 1))


def _pow_exponent_grad(g, a, b, out):
    if not hasattr(a, "shape"):  # a Python number base (2.0 ** x)
        a = out.new_tensor(a)
    # NOTE: d/db a^b = a^b log a is 0 * -inf = nan at a == 0; PyTorch makes it 0 there where
    # b >= 0 (where b < 0, a^b is inf and so is the gradient).
    return g * where_(logical_and_(eq_(a, 0), ge_(b, 0)), 0.0, out * log_(a))


pow = register(Pow())


def _split_grad(g, winner, other):
    """Gradient of max(winner, other): all to the larger, halves on ties (as PyTorch).

    NOTE: written as "zero for the side that lost" so that with a NaN (no side lost) both
    sides get the gradient, as PyTorch's masked_fill formula does.
    """
    half = where_(eq_(winner, other), g * 0.5, g)
    return where_(gt_(other, winner), 0.0, half), where_(gt_(winner, other), 0.0, half)


# ---- float functions -------------------------------------------------------------------------
exp = _elementwise("exp", "exp({0})", FLOAT, lambda c, g: g * c.out, save_out=True)
log = _elementwise("log", "log({0})", FLOAT, lambda c, g: g / c.inputs[0], save=(0,))
log1p = _elementwise(
    "log1p", "math.log1p({0})", FLOAT, lambda c, g: g / (c.inputs[0] + 1), save=(0,)
)
expm1 = _elementwise("expm1", "math.expm1({0})", FLOAT, lambda c, g: g * (c.out + 1), save_out=True)
sqrt = _elementwise("sqrt", "math.sqrt({0})", FLOAT, lambda c, g: g / (c.out * 2), save_out=True)
rsqrt = _elementwise(
    "rsqrt",
    "(1 / math.sqrt({0}))",
    FLOAT,
    lambda c, g: g * c.out * c.out * c.out * -0.5,
    save_out=True,
)
reciprocal = _elementwise(
    "reciprocal", "(1 / {0})", FLOAT, lambda c, g: -g * c.out * c.out, save_out=True
)
sin = _elementwise("sin", "math.sin({0})", FLOAT, lambda c, g: g * cos_(c.inputs[0]), save=(0,))
cos = _elementwise("cos", "math.cos({0})", FLOAT, lambda c, g: -g * sin_(c.inputs[0]), save=(0,))
tanh = _elementwise("tanh", "tanh({0})", FLOAT, lambda c, g: g * (1 - c.out * c.out), save_out=True)
sigmoid = _elementwise(
    "sigmoid", "sigmoid({0})", FLOAT, lambda c, g: g * c.out * (1 - c.out), save_out=True
)
erf = _elementwise(
    "erf",
    "math.erf({0})",
    FLOAT,
    lambda c, g: g * exp_(-c.inputs[0] * c.inputs[0]) * (2 / math.sqrt(math.pi)),
    save=(0,),
)
# (not 1 - erf(x): that loses every digit once erf(x) rounds to 1, x > ~4 in float32)
erfc = _elementwise(
    "erfc",
    "math.erfc({0})",
    FLOAT,
    lambda c, g: g * exp_(-c.inputs[0] * c.inputs[0]) * (-2 / math.sqrt(math.pi)),
    save=(0,),
)

# d/dy erfinv(y) = sqrt(pi) / 2 * exp(erfinv(y)^2)
erfinv = _elementwise(
    "erfinv",
    "erfinv({0})",
    FLOAT,
    lambda c, g: g * exp_(c.out * c.out) * (math.sqrt(math.pi) / 2),
    save_out=True,
)


# the gamma family: lgamma' = digamma, digamma' = trigamma (polygamma(1, x)), trigamma' =
# polygamma(2, x) (ops/special.py, for every n >= 2)
def _trigamma_backward(c, g):
    from .special import polygamma  # noqa: PLC0415 (imported after this module)

    return g * apply(polygamma, c.inputs[0], n=2)


trigamma = _elementwise("trigamma", "trigamma({0})", FLOAT, _trigamma_backward, save=(0,))
digamma = _elementwise(
    "digamma", "digamma({0})", FLOAT, lambda c, g: g * apply(trigamma, c.inputs[0]), save=(0,)
)
lgamma = _elementwise(
    "lgamma", "lgamma({0})", FLOAT, lambda c, g: g * apply(digamma, c.inputs[0]), save=(0,)
)


def _x(c):
    return c.inputs[0]


# inverse and hyperbolic trigonometry: libm's functions (math.*) on both targets
asin = _elementwise(
    "asin", "math.asin({0})", FLOAT, lambda c, g: g / (1 - _x(c) * _x(c)).sqrt(), save=(0,)
)
acos = _elementwise(
    "acos", "math.acos({0})", FLOAT, lambda c, g: -g / (1 - _x(c) * _x(c)).sqrt(), save=(0,)
)
atan = _elementwise(
    "atan", "math.atan({0})", FLOAT, lambda c, g: g / (1 + _x(c) * _x(c)), save=(0,)
)
sinh = _elementwise("sinh", "math.sinh({0})", FLOAT, lambda c, g: g * cosh_(_x(c)), save=(0,))
cosh = _elementwise("cosh", "math.cosh({0})", FLOAT, lambda c, g: g * sinh_(_x(c)), save=(0,))
asinh = _elementwise(
    "asinh", "math.asinh({0})", FLOAT, lambda c, g: g / (_x(c) * _x(c) + 1).sqrt(), save=(0,)
)
acosh = _elementwise(
    "acosh",
    "math.acosh({0})",
    FLOAT,
    lambda c, g: g / ((_x(c) - 1) * (_x(c) + 1)).sqrt(),
    save=(0,),
)
atanh = _elementwise(
    "atanh", "math.atanh({0})", FLOAT, lambda c, g: g / (1 - _x(c) * _x(c)), save=(0,)
)


def _atan2_backward(c, g):
    a, b = c.inputs
    scale = g / (a * a + b * b)
    return scale * b, -scale * a


atan2 = _elementwise("atan2", "math.atan2({0}, {1})", FLOAT, _atan2_backward, save=(0, 1))
hypot = _elementwise(
    "hypot",
    "math.hypot({0}, {1})",
    FLOAT,
    lambda c, g: (g * c.inputs[0] / c.out, g * c.inputs[1] / c.out),
    save=(0, 1),
    save_out=True,
)


def _bce_backward(c, g):
    x, y = c.inputs
    # PyTorch's: the denominator clamped at 1e-12, so a saturated probability (exactly 0 or 1)
    # gets a large finite gradient, not 0/0
    grad_x = g * (x - y) / (x * (1 - x)).clamp(min=1e-12)
    grad_y = g * ((-x).log1p() - x.log())  # (not clamped in PyTorch either)
    return grad_x, grad_y


class _Probabilities(Elementwise):
    """An elementwise op whose first input must lie in [0, 1] (PyTorch's check and error):
    checked in the CPU forward, which a traced step's replay calls too (it would skip it for
    a direct kernel call or a fused chain: this op offers neither)."""

    def forward(self, meta, *arrays):
        x = arrays[0]
        if isinstance(x, np.ndarray) and x.size and not (x.min() >= 0 and x.max() <= 1):
            raise RuntimeError("all elements of input should be between 0 and 1")
        return super().forward(meta, *arrays)

    def direct(self, meta, arrays):
        return None


# binary cross entropy per element, PyTorch's formula: the logs clamped at -100 (log(0) is
# -inf; the loss stays finite)
binary_cross_entropy = register(
    _Probabilities(
        "binary_cross_entropy",
        "(({1} - 1) * max(math.log1p(-{0}), -100.0) - {1} * max(math.log({0}), -100.0))",
        FLOAT,
        _bce_backward,
        save=(0, 1),
    )
)

relu = _elementwise(
    "relu", "relu({0})", ARITH, lambda c, g: threshold_backward_(g, c.out), save_out=True
)
# grad where out > 0, else a zero (PyTorch's threshold_backward: NaN passes the gradient).
# One op, not g * (out > 0): one pass over memory, and a fusible float op in traces.
# NOTE: sign(y) - sign(y) is a zero of y's type (y <= 0 here: finite or -inf, never NaN).
threshold_backward = _elementwise(
    "threshold_backward",
    "({0} if not ({1} <= 0) else np.sign({1}) - np.sign({1}))",
    ARITH,
    lambda c, gg: (threshold_backward_(gg, c.inputs[1]), None),
    save=(1,),
)
abs = _elementwise("abs", "abs({0})", ARITH, lambda c, g: g * sign_(c.inputs[0]), save=(0,))
sign = _elementwise("sign", "sign({0})", ARITH, lambda c, g: g * 0)
floor = _elementwise("floor", "np.floor({0})", ARITH, lambda c, g: g * 0, int_template="{0}")
ceil = _elementwise("ceil", "np.ceil({0})", ARITH, lambda c, g: g * 0, int_template="{0}")
round = _elementwise("round", "round_half_even({0})", ARITH, lambda c, g: g * 0, int_template="{0}")
trunc = _elementwise("trunc", "np.trunc({0})", ARITH, lambda c, g: g * 0, int_template="{0}")
isnan = _elementwise("isnan", "({0} != {0})", COMPARE)
isinf = _elementwise("isinf", "(abs({0}) == np.inf)", COMPARE)
isfinite = _elementwise("isfinite", "(abs({0}) < np.inf)", COMPARE)

# ---- comparisons and logic (not differentiable) ----------------------------------------------
lt = _elementwise("lt", "({0} < {1})", COMPARE)
le = _elementwise("le", "({0} <= {1})", COMPARE)
gt = _elementwise("gt", "({0} > {1})", COMPARE)
ge = _elementwise("ge", "({0} >= {1})", COMPARE)
eq = _elementwise("eq", "({0} == {1})", COMPARE)
ne = _elementwise("ne", "({0} != {1})", COMPARE)
logical_not = _elementwise("logical_not", "({0} == 0)", LOGICAL)
logical_and = _elementwise("logical_and", "(({0} != 0) and ({1} != 0))", LOGICAL)
logical_or = _elementwise("logical_or", "(({0} != 0) or ({1} != 0))", LOGICAL)
logical_xor = _elementwise("logical_xor", "(({0} != 0) != ({1} != 0))", LOGICAL)


class Bitwise(Elementwise):
    """&, |, ^, ~, <<, >> on integers (and bools, except the shifts): a float operand raises
    NotImplementedError as in PyTorch (the kernel would not compile)."""

    def __init__(self, name, template, bools=True):
        super().__init__(name, template, ARITH)
        self.bools = bools

    def infer(self, *xs) -> Meta:
        meta = super().infer(*xs)
        dt = meta.dtype
        if dt.is_floating_point or (dt is dtypes.bool_ and not self.bools):
            kinds = "integer or bool" if self.bools else "integer"
            raise NotImplementedError(
                f"{self.name}: \"{self.name}\" not implemented for '{dt.name}'; it takes {kinds} "
                "tensors (convert with .long(), or compare floats with ==, <, ...)"
            )
        return meta


bitwise_and = register(Bitwise("bitwise_and", "({0} & {1})"))
bitwise_or = register(Bitwise("bitwise_or", "({0} | {1})"))
bitwise_xor = register(Bitwise("bitwise_xor", "({0} ^ {1})"))
bitwise_not = register(Bitwise("bitwise_not", "(~{0})"))
bitwise_left_shift = register(Bitwise("bitwise_left_shift", "lshift({0}, {1})", bools=False))
bitwise_right_shift = register(Bitwise("bitwise_right_shift", "rshift({0}, {1})", bools=False))


class Where(Elementwise):
    """out = a if cond else b; cond keeps its dtype, a and b promote."""

    def __init__(self):
        super().__init__(
            "where",
            "({1} if {0} else {2})",
            ARITH,
            lambda c, g: (None, where_(c.inputs[0], g, 0.0), where_(c.inputs[0], 0.0, g)),
        )

    def compute_dtype(self, xs):
        return dtypes.result_type(xs[1], xs[2])

    def forward(self, meta, cond, a, b):
        return self.run(CPU, meta, (cond, a, b))

    def run(self, dev, meta, arrays):
        cond, a, b = arrays
        out = dev.empty(meta.shape, meta.dtype.np)
        cond = cond if _is_array(cond) else np.bool_(cond)
        if _is_array(cond) and cond.dtype != np.bool_:
            cond = cond != 0 if isinstance(cond, np.ndarray) else dev.astype(cond, np.bool_)
        ops = [cond, _cast(a, meta.dtype, ARITH, dev), _cast(b, meta.dtype, ARITH, dev)]
        dev.elementwise((self.template,), [out], ops)
        return out

    def direct(self, meta, arrays):
        cond, a, b = arrays
        if not (_is_array(cond) and cond.dtype == np.bool_) or not meta.dtype.is_floating_point:
            return None
        values = _uncast((a, b), meta.dtype.np)
        return None if values is None else (self.template, [cond, *values])


where = register(Where())


class Cast(Op):
    """Convert to another dtype (float -> int truncates toward zero, like PyTorch)."""

    name = "to_dtype"

    def infer(self, x, *, dtype):
        return Meta(x.shape, dtype)

    def forward(self, meta, a, *, dtype):
        return self.run(CPU, meta, (a,), dtype=dtype)

    def run(self, dev, meta, arrays, *, dtype):
        (a,) = arrays
        out = dev.empty(a.shape, dtype.np)
        if dev is CPU and np.float16 in (a.dtype, dtype.np):  # Numba has no float16: numpy's
            out[...] = (a != 0) if dtype is dtypes.bool_ else a  # (rounds to nearest even)
            return out
        template = "({0} != 0)" if dtype is dtypes.bool_ else "{0}"
        dev.elementwise((template,), [out], [a])
        return out

    def backward(self, ctx, grad):
        return (grad,)


cast = register(Cast())


class Clamp(Elementwise):
    """min(max(x, lo), hi) with number bounds; the gradient passes where lo <= x <= hi."""

    def __init__(self):
        super().__init__("clamp", "", ARITH, self._grad, save=(0,))

    def infer(self, x, *, min=None, max=None):
        dt = dtypes.result_type(x, *[v for v in (min, max) if v is not None])
        return Meta(x.shape, dt)

    def forward(self, meta, a, *, min=None, max=None):
        return self.run(CPU, meta, (a,), min=min, max=max)

    def run(self, dev, meta, arrays, *, min=None, max=None):
        (a,) = arrays
        dt = meta.dtype
        expr, operands = "{0}", [_cast(a, dt, ARITH, dev)]
        if min is not None:
            expr = f"maximum({expr}, {{{len(operands)}}})"
            operands.append(dt.np.type(min))
        if max is not None:
            expr = f"minimum({expr}, {{{len(operands)}}})"
            operands.append(dt.np.type(max))
        out = dev.empty(a.shape, dt.np)
        dev.elementwise((expr,), [out], operands)
        return out

    @staticmethod
    def _grad(c, g):
        x = c.inputs[0]
        lo, hi = c.params.get("min"), c.params.get("max")
        mask = None
        if lo is not None:
            mask = ge_(x, lo)
        if hi is not None:
            m = le_(x, hi)
            mask = m if mask is None else logical_and_(mask, m)
        return g if mask is None else g * mask.to(g.dtype)


clamp = register(Clamp())


# Tensor-level shorthands the backward rules use (each call goes through apply: taped,
# traced, differentiable again under create_graph).
def _fn(op):
    return lambda *xs: apply(op, *xs)


(exp_, log_, sin_, cos_, sign_, pow_, where_, eq_, gt_, ge_, le_, logical_and_, floor_divide_) = (
    map(_fn, (exp, log, sin, cos, sign, pow, where, eq, gt, ge, le, logical_and, floor_divide))
)
sinh_, cosh_ = _fn(sinh), _fn(cosh)
threshold_backward_ = _fn(threshold_backward)
