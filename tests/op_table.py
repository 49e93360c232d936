"""The op table: one row per registered op and per public composite.

A row says how to call the op (`fn(lib, *inputs, **params)`, the same code for minitorch and
torch), what numpy computes for it (`ref(*arrays, **params)`), which inputs it takes
(`build`: a hypothesis strategy of Cases, values in the op's domain), which dtypes it
accepts, the dtype rule of its result (used when torch is not importable), tolerances per
dtype, whether it is differentiable, and which registry ops it is the table entry for.

tests/test_ops.py runs every row against numpy (and fails when an op registered by the
foundation modules has no row); tests/test_autograd.py gradchecks every differentiable row
(first and second order, float64).

Adding a row for a new elementwise op is one line, e.g.
    unary("exp", lambda l, x: x.exp(), np.exp, FLOAT, ops=("exp",))
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np
from hypothesis import strategies as st
from strategies import (
    ABOVE_MINUS_ONE,
    ALL,
    BOOL,
    FLOATS,
    INTS,
    KINK_AT_ZERO,
    LAYOUTS,
    MAX_RANK,
    MAX_SIDE,
    NONZERO,
    POSITIVE,
    REAL,
    SIGNED,
    SMALL,
    SPECIAL,
    UNIT,
    Case,
    Domain,
    TensorArg,
    broadcastable,
    contiguous_arg,
    python_scalar,
    shapes,
    tensor_args,
)

F32, F64 = np.dtype(np.float32), np.dtype(np.float64)

# (rtol, atol) per dtype
TOL = {F32: (2e-5, 1e-6), F64: (1e-10, 1e-12)}
LOOSE = {F32: (1e-4, 1e-5), F64: (1e-9, 1e-10)}


# ---- dtype rules (only used when torch is not importable; checked against torch when it is) --
def _category(dt) -> int:
    return {"b": 0, "i": 1, "u": 1, "f": 2}[np.dtype(dt).kind]


def promote(*args) -> np.dtype:
    """PyTorch's promotion: dimensioned tensors > 0-d tensors > Python numbers; a lower tier
    only counts when its category (bool < int < float) is higher than every tier above."""
    tiers = ([], [], [])
    for a in args:
        if isinstance(a, TensorArg):
            tiers[0 if a.value.ndim else 1].append(np.dtype(a.dtype))
        elif isinstance(a, (bool, int, float)):
            tiers[2].append(np.dtype({bool: np.bool_, int: np.int64, float: F32}[type(a)]))
    top = max(_category(d) for tier in tiers for d in tier)
    for i, tier in enumerate(tiers):
        same = [d for d in tier if _category(d) == top]
        if same:
            return same[0] if i == 2 else np.dtype(np.result_type(*same))
    raise AssertionError("unreachable")


def PROMOTE(*args, **_):  # noqa: N802  (rule names read like constants in the table)
    return promote(*args)


def FLOAT(*args, **_):  # noqa: N802
    dt = promote(*args)
    return dt if dt.kind == "f" else F32


def BOOLEAN(*args, **_):  # noqa: N802
    return np.dtype(np.bool_)


def SAME(*args, **_):  # noqa: N802
    return np.dtype(next(a.dtype for a in args if isinstance(a, TensorArg)))


def INT64(*args, **_):  # noqa: N802
    return np.dtype(np.int64)


def SUM(*args, **_):  # noqa: N802
    dt = SAME(*args)
    return dt if dt.kind == "f" else np.dtype(np.int64)


def pair(rule_a, rule_b):
    return lambda *args, **kw: (rule_a(*args, **kw), rule_b(*args, **kw))


# ---- rows --------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Row:
    """One op under test. See the module docstring."""

    name: str
    fn: Callable  # fn(lib, *inputs, **params) with lib = minitorch or torch
    ref: Callable  # numpy: ref(*arrays, **params) -> array (or tuple for several outputs)
    build: Callable  # build(dts, grad=False, layouts=LAYOUTS, ranks=None) -> strategy of Case
    out: Callable = PROMOTE  # out(*args, **params) -> numpy dtype of the result (or a tuple)
    dtypes: tuple = FLOATS  # dtypes accepted for the data inputs
    n_data: int = 1  # data inputs (the ones whose dtype the test picks)
    scalars: tuple = ()  # data inputs that may be Python numbers
    mixed: bool = True  # data inputs may have different dtypes (type promotion)
    tol: dict = field(default_factory=lambda: TOL)
    grad: bool = False
    ops: tuple = ()  # registry ops this row is the table entry for
    grad_kw: dict = field(default_factory=dict)  # gradcheck options (eps, atol, rtol)
    max_examples: int = 20
    zero_d: bool = True  # 0-d tensors are valid inputs (not for cat, like PyTorch)

    @property
    def forward_dtypes(self) -> tuple:
        floats = tuple(np.dtype(d) for d in self.dtypes if np.dtype(d).kind == "f")
        return floats or tuple(np.dtype(d) for d in self.dtypes[:2])

    def __repr__(self) -> str:
        return f"Row({self.name})"


def is_number_type(spec) -> bool:
    """float/int/bool (the type, not a numpy dtype, which compares equal to them)."""
    return spec is float or spec is int or spec is bool


def _arg(draw, shape, dt, domain, grad, layouts):
    """A data input: TensorArg, 0-d TensorArg (("0d", dtype)) or Python number (a type)."""
    if is_number_type(dt):
        return python_scalar(draw, {float: F64, int: np.int64, bool: np.bool_}[dt], domain)
    if isinstance(dt, tuple):
        shape, dt = (), dt[1]
    return draw(tensor_args(shape, dt, domain, layouts=layouts, forward=not grad))


def _sides(grad, ranks):
    lo, hi = ranks if ranks else (0, MAX_RANK)
    return dict(
        min_rank=lo, max_rank=hi, min_side=1 if grad else 0, max_side=3 if grad else MAX_SIDE
    )


# ---- builders: each returns build(dts, grad, layouts, ranks) -> SearchStrategy[Case] ----------
def elementwise_inputs(*domains: Domain, nonempty=False):
    """len(domains) broadcastable data inputs (nonempty: no size-0 dims)."""

    def build(dts, grad=False, layouts=LAYOUTS, ranks=None):
        @st.composite
        def case(draw):
            sides = _sides(grad, ranks)
            if nonempty:
                sides["min_side"] = 1
            shps = draw(broadcastable(len(domains), **sides))
            return Case(
                [_arg(draw, s, dt, dom, grad, layouts) for s, dt, dom in zip(shps, dts, domains)]
            )

        return case()

    return build


def _draw_dims(draw, ndim, kind):
    """dim parameter: 'multi' (None, int or tuple), 'single' (int), 'optional' (None or int)."""
    if ndim == 0:
        choices = [0, -1] + ([None] if kind != "single" else [])
        return draw(st.sampled_from(choices))
    single = st.integers(-ndim, ndim - 1)
    if kind == "single":
        return draw(single)
    if kind == "optional":
        return draw(st.none() | single)
    many = st.lists(st.integers(0, ndim - 1), min_size=1, max_size=ndim, unique=True).map(
        lambda ds: tuple(d - ndim if i % 2 else d for i, d in enumerate(ds))
    )
    return draw(st.none() | single | many)


def norm_dims(dim, ndim) -> tuple:
    if dim is None or dim == ():
        return tuple(range(ndim))
    dims = (dim,) if isinstance(dim, int) else dim
    return tuple(sorted({d % ndim for d in dims})) if ndim else ()


def reduce_inputs(
    domain: Domain = REAL,
    dim="multi",
    keepdim=True,
    nonempty=False,
    whole_nonempty=False,
    extra=None,
    grad_min_reduced=1,
):
    """One data input and dim/keepdim params; nonempty: reduced dims get size >= 1;
    grad_min_reduced: in gradcheck cases, tensors are >= 1-d, not expanded, and reduced dims
    get at least this size (std of one element, or of equal ones, has no derivative)."""

    def build(dts, grad=False, layouts=LAYOUTS, ranks=None):
        @st.composite
        def case(draw):
            sides = _sides(grad, ranks)
            if grad and grad_min_reduced > 1:
                sides["min_rank"] = max(sides["min_rank"], 1)
                layouts_ = tuple(lay for lay in layouts if lay != "expanded") or ("contiguous",)
            else:
                layouts_ = layouts
            shape = list(draw(shapes(**sides)))
            d = _draw_dims(draw, len(shape), dim)
            if nonempty or whole_nonempty:
                fix = range(len(shape)) if whole_nonempty else norm_dims(d, len(shape))
                for i in fix:
                    shape[i] = max(shape[i], 1)
            if grad:
                for i in norm_dims(d, len(shape)):
                    shape[i] = max(shape[i], grad_min_reduced)
            x = _arg(draw, tuple(shape), dts[0], domain, grad, layouts_)
            params = {"dim": d}
            if keepdim:
                params["keepdim"] = draw(st.booleans())
            if extra:
                params.update(draw(extra(tuple(shape), d)))
            return Case([x], params)

        return case()

    return build


def _axis(x, dim):
    """numpy axis for a torch dim (0-d tensors accept dim 0 and -1)."""
    if np.ndim(x) == 0 or dim is None or dim == ():
        return None
    return dim


def _keep(fn):
    """A numpy reduction with torch's dim/keepdim arguments."""

    def ref(x, dim=None, keepdim=False, **kw):
        out = fn(x, axis=_axis(x, dim), keepdims=keepdim, **kw)
        return np.asarray(out)

    return ref


# ---- row helpers -------------------------------------------------------------------------------
ROWS: list[Row] = []


def row(name, fn, ref, build, **kw) -> Row:
    r = Row(name, fn, ref, build, **kw)
    assert all(r.name != other.name for other in ROWS), name
    ROWS.append(r)
    return r


def unary(name, fn, ref, out=PROMOTE, domain=REAL, dtypes=FLOATS + INTS, grad_domain=None, **kw):
    build = elementwise_inputs(domain)
    if grad_domain is not None:
        plain = build
        gbuild = elementwise_inputs(grad_domain)
        build = lambda dts, grad=False, **k: (gbuild if grad else plain)(dts, grad, **k)
    return row(name, fn, ref, build, out=out, dtypes=dtypes, **kw)


def binary(
    name,
    fn,
    ref,
    out=PROMOTE,
    domains=(REAL, REAL),
    dtypes=FLOATS + INTS,
    scalars=(1,),
    grad_domains=None,
    **kw,
):
    build = elementwise_inputs(*domains)
    if grad_domains is not None:
        plain, gbuild = build, elementwise_inputs(*grad_domains)
        build = lambda dts, grad=False, **k: (gbuild if grad else plain)(dts, grad, **k)
    return row(name, fn, ref, build, out=out, dtypes=dtypes, n_data=2, scalars=scalars, **kw)


def _np_sign(x):
    # NOTE: torch.sign(nan) is 0 ((0 < x) - (x < 0)), numpy's is nan.
    return np.where(np.isnan(x), 0, np.sign(x)) if np.asarray(x).dtype.kind == "f" else np.sign(x)


def _sigmoid(x):
    return 1 / (1 + np.exp(-np.asarray(x, np.float64)))


_erf = np.vectorize(math.erf, otypes=[np.float64])
_erfc = np.vectorize(math.erfc, otypes=[np.float64])


def _scipy(name, *args):
    """scipy.special's `name` as a float64 numpy reference (args go before x)."""
    from scipy import special  # noqa: PLC0415

    return lambda x: getattr(special, name)(*args, np.asarray(x, np.float64))


_erfinv = _scipy("erfinv")


def _in_float(ref):
    """A numpy reference that sees ints and bools as float64 (np.exp(True) is float16)."""
    return lambda x: ref(x if x.dtype.kind == "f" else x.astype(np.float64))


def _in_float2(ref):
    """_in_float for two inputs (ints as float64)."""
    as_float = lambda x: x if np.asarray(x).dtype.kind == "f" else np.asarray(x, np.float64)  # noqa: E731
    return lambda a, b: ref(as_float(a), as_float(b))


ABOVE_ONE = Domain(1.25, 3.0, int_lo=1, int_hi=5)


# ---- elementwise unary ---------------------------------------------------------------------------
unary(
    "neg",
    lambda l, x: -x,
    np.negative,
    domain=SPECIAL,
    dtypes=FLOATS + SIGNED,
    grad=True,
    ops=("neg",),
)
unary(
    "abs",
    lambda l, x: x.abs(),
    np.abs,
    domain=SPECIAL,
    dtypes=FLOATS + SIGNED,
    grad=True,
    grad_domain=KINK_AT_ZERO,
    ops=("abs",),
)
unary(
    "sign",
    lambda l, x: x.sign(),
    _np_sign,
    domain=SPECIAL,
    dtypes=FLOATS + SIGNED,
    grad=True,
    grad_domain=KINK_AT_ZERO,
    ops=("sign",),
)
unary(
    "relu",
    lambda l, x: x.relu(),
    lambda x: np.maximum(x, np.zeros((), np.asarray(x).dtype)),
    domain=SPECIAL,
    grad=True,
    grad_domain=KINK_AT_ZERO,
    ops=("relu",),
)


def _threshold_backward(lib, grad, out):
    if lib.__name__ == "torch":
        return lib.ops.aten.threshold_backward(grad, out, 0)
    from minitorch.ops.elementwise import threshold_backward_  # noqa: PLC0415

    return threshold_backward_(grad, out)


binary(
    "threshold_backward",
    _threshold_backward,
    lambda g, y: np.where(np.asarray(y) <= 0, np.zeros((), np.asarray(g).dtype), g),
    domains=(REAL, SPECIAL),
    dtypes=FLOATS,
    scalars=(),
    mixed=False,
    grad=True,
    grad_domains=(REAL, KINK_AT_ZERO),
    ops=("threshold_backward",),
)

for _name, _ref in [
    ("floor", np.floor),
    ("ceil", np.ceil),
    ("round", np.round),
    ("trunc", np.trunc),
]:
    unary(
        _name,
        lambda l, x, _n=_name: getattr(x, _n)(),
        _ref,
        domain=SPECIAL,
        grad=True,
        ops=(_name,),
    )
for _name, _ref, _dom in [
    ("exp", np.exp, SPECIAL),
    ("log", np.log, POSITIVE),
    ("log1p", np.log1p, ABOVE_MINUS_ONE),
    ("expm1", np.expm1, REAL),
    ("sqrt", np.sqrt, POSITIVE),
    ("rsqrt", lambda x: 1 / np.sqrt(x), POSITIVE),
    ("reciprocal", lambda x: 1 / x, NONZERO),
    ("sin", np.sin, REAL),
    ("cos", np.cos, REAL),
    ("tanh", np.tanh, SPECIAL),
    ("sigmoid", _sigmoid, SPECIAL),
    ("erf", _erf, REAL),
    ("erfc", _erfc, REAL),
    ("erfinv", _erfinv, UNIT),
    ("asin", np.arcsin, UNIT),
    ("acos", np.arccos, UNIT),
    ("atan", np.arctan, REAL),
    ("sinh", np.sinh, SMALL),
    ("cosh", np.cosh, SMALL),
    ("asinh", np.arcsinh, REAL),
    ("acosh", np.arccosh, ABOVE_ONE),
    ("atanh", np.arctanh, UNIT),
    ("lgamma", _scipy("gammaln"), POSITIVE),
]:
    unary(
        _name,
        lambda l, x, _n=_name: getattr(x, _n)(),
        _in_float(_ref),
        out=FLOAT,
        domain=_dom,
        dtypes=FLOATS + INTS + (BOOL if _dom in (REAL, SPECIAL) else ()),
        grad=True,
        grad_domain=_dom.but(special=False, grid=False),
        ops=(_name,),
    )
# NOTE: digamma's and trigamma's gradients (trigamma, polygamma(2, x)) are compared with PyTorch
# and scipy in test_special.py
unary(
    "digamma",
    lambda l, x: x.digamma(),
    _in_float(_scipy("digamma")),
    out=FLOAT,
    domain=POSITIVE,
    ops=("digamma",),
)
unary(
    "trigamma",
    lambda l, x: x.polygamma(1),
    _scipy("polygamma", 1),
    out=FLOAT,
    domain=POSITIVE,
    ops=("trigamma",),
)
for _name in ("isnan", "isinf", "isfinite"):
    unary(
        _name,
        lambda l, x, _n=_name: getattr(x, _n)(),
        getattr(np, _name),
        out=BOOLEAN,
        domain=SPECIAL,
        ops=(_name,),
    )
unary(
    "logical_not",
    lambda l, x: x.logical_not(),
    np.logical_not,
    out=BOOLEAN,
    domain=SPECIAL,
    dtypes=FLOATS + INTS + BOOL,
    ops=("logical_not",),
)
unary(
    "bitwise_not",
    lambda l, x: ~x,
    np.invert,
    dtypes=INTS + BOOL + (np.uint8,),
    ops=("bitwise_not",),
)
# composites
unary("square", lambda l, x: x.square(), np.square, grad=True)
unary("log2", lambda l, x: x.log2(), np.log2, out=FLOAT, domain=POSITIVE, grad=True)
unary("frac", lambda l, x: x.frac(), lambda x: x - np.trunc(x), dtypes=FLOATS, grad=True)


def _to_build(dts, grad=False, layouts=LAYOUTS, ranks=None):
    @st.composite
    def case(draw):
        target = draw(st.sampled_from(FLOATS if grad else ALL))
        domain = REAL if np.dtype(target).kind in "fbi" else Domain(0.0, 3.0, int_lo=0)
        if np.dtype(dts[0]).kind == "u":
            domain = Domain(0.0, 3.0, int_lo=0)
        shape = draw(shapes(**_sides(grad, ranks)))
        x = _arg(draw, shape, dts[0], domain, grad, layouts)
        return Case([x], {"dtype": np.dtype(target).name})

    return case()


def lib_dtype(lib, name):
    return getattr(lib, name)


row(
    "to_dtype",
    lambda l, x, dtype: x.to(lib_dtype(l, dtype)),
    lambda x, dtype: np.asarray(x).astype(dtype),
    _to_build,
    out=lambda x, dtype: np.dtype(dtype),
    dtypes=ALL,
    grad=True,
    ops=("to_dtype",),
    grad_kw=dict(eps=1e-3, atol=1e-3, rtol=1e-2),
)

# ---- elementwise binary --------------------------------------------------------------------------
SCALAR_BOTH = (0, 1)
binary(
    "add", lambda l, a, b: a + b, np.add, dtypes=ALL, scalars=SCALAR_BOTH, grad=True, ops=("add",)
)
binary("add_alpha", lambda l, a, b: a.add(b, alpha=2), lambda a, b: a + 2 * b, grad=True)
binary(
    "sub",
    lambda l, a, b: a - b,
    np.subtract,
    dtypes=FLOATS + SIGNED + (np.uint8,),
    scalars=SCALAR_BOTH,
    grad=True,
    ops=("sub",),
)
binary(
    "mul",
    lambda l, a, b: a * b,
    np.multiply,
    dtypes=ALL,
    scalars=SCALAR_BOTH,
    grad=True,
    ops=("mul",),
)
binary(
    "div",
    lambda l, a, b: a / b,
    np.true_divide,
    out=FLOAT,
    domains=(REAL, NONZERO),
    dtypes=FLOATS + INTS,
    scalars=SCALAR_BOTH,
    grad=True,
    ops=("div",),
)
for _name, _ref, _domains, _dtypes in [
    ("atan2", np.arctan2, (REAL, NONZERO), FLOATS + INTS),
    ("hypot", np.hypot, (NONZERO, NONZERO), FLOATS),
]:
    binary(
        _name,
        lambda l, a, b, _n=_name: getattr(a, _n)(b),
        _in_float2(_ref),
        out=FLOAT,
        domains=_domains,
        dtypes=_dtypes,
        scalars=(),  # torch.atan2 / hypot take tensors only
        grad=True,
        ops=(_name,),
    )


def _binary_cross_entropy(lib, a, b):
    """F.binary_cross_entropy wants one shape and dtype: the row's operands made so."""
    dtype = lib.result_type(a, b)
    a, b = lib.broadcast_tensors(a.to(dtype), b.to(dtype))
    return lib.nn.functional.binary_cross_entropy(a, b, reduction="none")


PROBABILITY = Domain(0.05, 0.95, grid=False)
binary(
    "binary_cross_entropy",
    _binary_cross_entropy,
    _in_float2(lambda x, y: -(y * np.log(x) + (1 - y) * np.log1p(-x))),
    out=FLOAT,
    domains=(PROBABILITY, PROBABILITY),
    dtypes=FLOATS,
    scalars=(),
    grad=True,
    ops=("binary_cross_entropy",),
)
binary(
    "floor_divide",
    lambda l, a, b: a // b,
    np.floor_divide,
    domains=(REAL, NONZERO),
    ops=("floor_divide",),
)
binary(
    "trunc_divide",
    lambda l, a, b: a.div(b, rounding_mode="trunc"),
    lambda a, b: np.trunc(np.true_divide(a, b)),
    domains=(REAL, NONZERO),
    ops=("trunc_divide",),
)
# gradcheck away from the jumps: 0 < |a| < |b|, so a / b stays strictly between -1 and 1
BELOW_DIVISOR = (KINK_AT_ZERO, Domain(-5.0, 5.0, exclude=0.0, gap=3.5, grid=False))
binary(
    "floor_div_mode",
    lambda l, a, b: a.div(b, rounding_mode="floor"),
    np.floor_divide,
    domains=(REAL, NONZERO),
)
binary(
    "remainder",
    lambda l, a, b: a % b,
    np.remainder,
    domains=(REAL, NONZERO),
    scalars=SCALAR_BOTH,
    grad=True,
    grad_domains=BELOW_DIVISOR,
    ops=("remainder",),
)
binary(
    "fmod",
    lambda l, a, b: a.fmod(b),
    np.fmod,
    domains=(REAL, NONZERO),
    dtypes=FLOATS,
    grad=True,
    grad_domains=BELOW_DIVISOR,
)
binary(
    "pow",
    lambda l, a, b: a**b,
    np.power,
    domains=(POSITIVE, SMALL.but(int_lo=0)),
    scalars=SCALAR_BOTH,
    grad=True,
    ops=("pow",),
)
# gradcheck off the kink a == b: the same seed draws different values from these domains
APART = (KINK_AT_ZERO, Domain(-2.9, 3.1, grid=False))
binary(
    "maximum",
    lambda l, a, b: a.maximum(b),
    np.maximum,
    domains=(SPECIAL, SPECIAL),
    scalars=(),
    grad=True,
    grad_domains=APART,
    ops=("maximum",),
)
binary(
    "minimum",
    lambda l, a, b: a.minimum(b),
    np.minimum,
    domains=(SPECIAL, SPECIAL),
    scalars=(),
    grad=True,
    grad_domains=APART,
    ops=("minimum",),
)
for _name, _op, _ref in [
    ("lt", "__lt__", np.less),
    ("le", "__le__", np.less_equal),
    ("gt", "__gt__", np.greater),
    ("ge", "__ge__", np.greater_equal),
    ("eq", "__eq__", np.equal),
    ("ne", "__ne__", np.not_equal),
]:
    binary(
        _name,
        lambda l, a, b, _o=_op: getattr(a, _o)(b),
        _ref,
        out=BOOLEAN,
        domains=(SPECIAL, SPECIAL),
        dtypes=ALL,
        ops=(_name,),
    )
for _name in ("logical_and", "logical_or", "logical_xor"):
    binary(
        _name,
        lambda l, a, b, _n=_name: getattr(a, _n)(b),
        getattr(np, _name),
        out=BOOLEAN,
        domains=(SPECIAL, SPECIAL),
        dtypes=ALL,
        scalars=(),
        ops=(_name,),
    )
for _name, _op, _ref in [
    ("bitwise_and", "__and__", np.bitwise_and),
    ("bitwise_or", "__or__", np.bitwise_or),
    ("bitwise_xor", "__xor__", np.bitwise_xor),
]:
    binary(_name, lambda l, a, b, _o=_op: getattr(a, _o)(b), _ref, dtypes=INTS + BOOL, ops=(_name,))


def _shift_ref(left: bool):
    """PyTorch's shifts: a count past the width (or negative) gives 0 (<<) or the sign (>>)."""

    def ref(a, b):
        dt = np.result_type(a, b)
        a64, b64 = np.asarray(a, np.int64), np.asarray(b, np.int64)
        inside = (b64 >= 0) & (b64 < 8 * dt.itemsize)
        count = np.clip(b64, 0, 63)
        shifted = a64 << count if left else a64 >> count
        outside = 0 if left else a64 >> 63
        return np.where(inside, shifted, outside).astype(dt)

    return ref


SHIFT_COUNTS = Domain(int_lo=-2, int_hi=40)  # (past int32's width, and negative)
for _name, _op in [("bitwise_left_shift", "__lshift__"), ("bitwise_right_shift", "__rshift__")]:
    binary(
        _name,
        lambda l, a, b, _o=_op: getattr(a, _o)(b),
        _shift_ref(_name == "bitwise_left_shift"),
        domains=(REAL, SHIFT_COUNTS),
        dtypes=INTS + (np.uint8,),
        ops=(_name,),
    )
binary(
    "lerp",
    lambda l, a, b: a.lerp(b, 0.25),
    lambda a, b: a + (b - a) * 0.25,
    dtypes=FLOATS,
    scalars=(),
    mixed=False,
    grad=True,
)


def _where_build(dts, grad=False, layouts=LAYOUTS, ranks=None):
    @st.composite
    def case(draw):
        cs, a, b = draw(broadcastable(3, **_sides(grad, ranks)))
        cond = _arg(draw, cs, np.bool_, REAL, grad, layouts)
        return Case(
            [
                cond,
                _arg(draw, a, dts[0], SPECIAL, grad, layouts),
                _arg(draw, b, dts[1], SPECIAL, grad, layouts),
            ]
        )

    return case()


def _where_out(c, a, b):
    return promote(a, b)


row(
    "where",
    lambda l, c, a, b: l.where(c, a, b),
    np.where,
    _where_build,
    out=_where_out,
    dtypes=ALL,
    n_data=2,
    scalars=(1,),
    grad=True,
    ops=("where",),
)


def _masked_fill_build(dts, grad=False, layouts=LAYOUTS, ranks=None):
    @st.composite
    def case(draw):
        xs, ms = draw(broadcastable(2, **_sides(grad, ranks)))
        xs = np.broadcast_shapes(xs, ms)  # the mask broadcasts to x, not the other way
        x = _arg(draw, xs, dts[0], REAL, grad, layouts)
        mask = _arg(draw, ms, np.bool_, REAL, grad, layouts)
        return Case([x, mask], {"value": draw(st.sampled_from([0.0, -1.5, 2]))})

    return case()


row(
    "masked_fill",
    lambda l, x, m, value: x.masked_fill(m, value),
    lambda x, m, value: np.where(m, np.asarray(value).astype(x.dtype), x),
    _masked_fill_build,
    out=SAME,
    dtypes=FLOATS + INTS,
    grad=True,
)


def _clamp_build(dts, grad=False, layouts=LAYOUTS, ranks=None):
    @st.composite
    def case(draw):
        shape = draw(shapes(**_sides(grad, ranks)))
        x = _arg(draw, shape, dts[0], REAL.but(grid=not grad), grad, layouts)
        kind = draw(st.sampled_from(["both", "min", "max"]))
        bound = st.sampled_from([-1.5, -1, 0, 0.5, 1, 2.25])
        lo, hi = sorted([draw(bound), draw(bound)])
        return Case(
            [x], {"min": lo if kind != "max" else None, "max": hi if kind != "min" else None}
        )

    return case()


def _clamp_ref(x, min=None, max=None):
    out = np.asarray(x)
    if min is not None:
        out = np.maximum(out, min)
    if max is not None:
        out = np.minimum(out, max)
    return out


def _clamp_out(x, min=None, max=None):
    return promote(x, *[v for v in (min, max) if v is not None])


row(
    "clamp",
    lambda l, x, min, max: x.clamp(min, max),
    _clamp_ref,
    _clamp_build,
    out=_clamp_out,
    dtypes=FLOATS + INTS,
    grad=True,
    ops=("clamp",),
)
binary(
    "clamp_tensor",
    lambda l, x, lo: x.clamp(lo, lo + 1),
    lambda x, lo: np.clip(x, lo, lo + 1),
    dtypes=FLOATS,
    scalars=(),
    mixed=False,
    grad=True,
    grad_domains=APART,
)

# ---- reductions ----------------------------------------------------------------------------------
row(
    "sum",
    lambda l, x, dim, keepdim: x.sum(dim=dim, keepdim=keepdim),
    _keep(np.sum),
    reduce_inputs(),
    out=SUM,
    dtypes=ALL,
    tol=LOOSE,
    grad=True,
    ops=("sum",),
)
row(
    "prod",
    lambda l, x, dim, keepdim: x.prod() if dim is None else x.prod(dim, keepdim),
    lambda x, dim, keepdim: _keep(np.prod)(x, dim, keepdim and dim is not None),
    reduce_inputs(SMALL.but(exclude=0.0), dim="optional"),
    out=SUM,
    dtypes=ALL,
    tol=LOOSE,
    grad=True,
    ops=("prod",),
)
for _name, _ref in [("amax", np.max), ("amin", np.min)]:
    row(
        _name,
        lambda l, x, dim, keepdim, _n=_name: getattr(x, _n)(
            dim=() if dim is None else dim, keepdim=keepdim
        ),
        _keep(_ref),
        reduce_inputs(SPECIAL, nonempty=True),
        out=SAME,
        dtypes=FLOATS + INTS,
        grad=True,
        ops=(_name,),
    )
for _name, _ref in [("argmax", np.argmax), ("argmin", np.argmin)]:
    row(
        _name,
        lambda l, x, dim, keepdim, _n=_name: getattr(x, _n)(dim, keepdim),
        _keep(_ref),
        reduce_inputs(SPECIAL, dim="optional", whole_nonempty=True),
        out=INT64,
        dtypes=FLOATS + INTS,
        ops=(_name,),
    )


def _max_dim_ref(fn, arg):
    def ref(x, dim, keepdim):
        if np.ndim(x) == 0:
            return x.copy(), np.zeros((), np.int64)
        return (
            np.asarray(fn(x, axis=dim, keepdims=keepdim)),
            np.asarray(arg(x, axis=dim, keepdims=keepdim)),
        )

    return ref


for _name, _fn, _arg_fn in [("max_dim", np.max, np.argmax), ("min_dim", np.min, np.argmin)]:
    row(
        _name,
        lambda l, x, dim, keepdim, _n=_name[:3]: tuple(getattr(x, _n)(dim, keepdim)),
        _max_dim_ref(_fn, _arg_fn),
        reduce_inputs(SPECIAL, dim="single", nonempty=True),
        out=pair(SAME, INT64),
        dtypes=FLOATS + INTS,
        grad=True,
    )
row(
    "max_all",
    lambda l, x: x.max(),
    np.max,
    elementwise_inputs(SPECIAL, nonempty=True),
    out=SAME,
    dtypes=FLOATS + INTS,
    grad=True,
)
row(
    "min_all",
    lambda l, x: x.min(),
    np.min,
    elementwise_inputs(SPECIAL, nonempty=True),
    out=SAME,
    dtypes=FLOATS + INTS,
    grad=True,
)


row(
    "mean",
    lambda l, x, dim, keepdim: x.mean(dim=dim, keepdim=keepdim),
    _keep(np.mean),
    reduce_inputs(),
    out=SAME,
    tol=LOOSE,
    grad=True,
)
row(
    "var",
    lambda l, x, dim, keepdim, correction: x.var(dim, correction=correction, keepdim=keepdim),
    lambda x, dim, keepdim, correction: _keep(np.var)(x, dim, keepdim, ddof=correction),
    reduce_inputs(
        nonempty=True,
        grad_min_reduced=2,
        extra=lambda s, d: st.fixed_dictionaries({"correction": st.sampled_from([0, 1])}),
    ),
    out=SAME,
    tol=LOOSE,
    grad=True,
)
row(
    "std",
    lambda l, x, dim, keepdim: x.std(dim, keepdim=keepdim),
    lambda x, dim, keepdim: _keep(np.std)(x, dim, keepdim, ddof=1),
    reduce_inputs(nonempty=True, grad_min_reduced=2),
    out=SAME,
    tol=LOOSE,
    grad=True,
    grad_kw=dict(atol=1e-4),
)


def _logsumexp(x, dim, keepdim):
    axis = _axis(x, dim)
    x = np.asarray(x, np.float64)
    m = np.max(x, axis=axis, keepdims=True) if x.size else np.zeros((1,) * x.ndim)
    m = np.where(np.isfinite(m), m, 0)
    out = np.log(np.sum(np.exp(x - m), axis=axis, keepdims=True)) + m
    return out if keepdim else (out.reshape(()) if axis is None else np.squeeze(out, axis))


row(
    "logsumexp",
    lambda l, x, dim, keepdim: x.logsumexp(dim, keepdim),
    _logsumexp,
    reduce_inputs(dim="single"),
    out=SAME,
    tol=LOOSE,
    grad=True,
)


def _norm_ref(x, dim, keepdim, p):
    axis = _axis(x, dim)
    a = np.abs(np.asarray(x, np.float64))
    if p == math.inf:
        return np.max(a, axis=axis, keepdims=keepdim)
    return np.sum(a**p, axis=axis, keepdims=keepdim) ** (1 / p)


row(
    "norm",
    lambda l, x, dim, keepdim, p: x.norm(p, dim, keepdim),
    _norm_ref,
    reduce_inputs(
        KINK_AT_ZERO,
        nonempty=True,
        extra=lambda s, d: st.fixed_dictionaries({"p": st.sampled_from([2, 1, 3, math.inf])}),
    ),
    out=SAME,
    tol=LOOSE,
    grad=True,
    grad_kw=dict(atol=1e-4),
)
row(
    "all",
    lambda l, x, dim, keepdim: x.all(dim, keepdim) if dim is not None else x.all(),
    lambda x, dim, keepdim: _keep(np.all)(x, dim, keepdim and dim is not None),
    reduce_inputs(SPECIAL, dim="optional"),
    out=BOOLEAN,
    dtypes=FLOATS + INTS + BOOL,
)
row(
    "any",
    lambda l, x, dim, keepdim: x.any(dim, keepdim) if dim is not None else x.any(),
    lambda x, dim, keepdim: _keep(np.any)(x, dim, keepdim and dim is not None),
    reduce_inputs(SPECIAL, dim="optional"),
    out=BOOLEAN,
    dtypes=FLOATS + INTS + BOOL,
)


def _scan_ref(fn):
    """numpy's cumsum / cumprod with PyTorch's dtypes (integers and bools give int64)."""

    def ref(x, dim):
        x = np.asarray(x)
        if x.ndim == 0:
            return x.astype(np.float64 if x.dtype.kind == "f" else np.int64)
        return fn(x, axis=dim, dtype=x.dtype if x.dtype.kind == "f" else np.int64)

    return ref


row(
    "cumsum",
    lambda l, x, dim: x.cumsum(dim),
    _scan_ref(np.cumsum),
    reduce_inputs(dim="single", keepdim=False),
    out=SUM,
    dtypes=ALL,
    tol=LOOSE,
    grad=True,
    ops=("cumsum",),
)
row(
    "cumprod",
    lambda l, x, dim: x.cumprod(dim),
    _scan_ref(np.cumprod),
    reduce_inputs(SMALL, dim="single", keepdim=False),  # (small: products stay in range)
    out=SUM,
    dtypes=ALL,
    tol=LOOSE,
    grad=True,
    ops=("cumprod",),
)


def _cum_extreme_ref(better):
    """(values, indices) of cummax/cummin, one element at a time: an element at least as good
    as the running extreme (or a NaN) takes its place."""

    def ref(x, dim):
        x = np.asarray(x)
        if x.ndim == 0:
            return x.copy(), np.zeros((), np.int64)
        moved = np.moveaxis(x, dim, -1)
        idx = np.zeros(moved.shape, np.int64)
        for pos in np.ndindex(moved.shape[:-1]):
            best = 0
            for i, v in enumerate(moved[pos]):
                held = moved[pos][best]
                if np.isnan(v) or (not np.isnan(held) and (v == held or better(v, held))):
                    best = i
                idx[pos + (i,)] = best
        idx = np.moveaxis(idx, -1, dim)
        return np.take_along_axis(x, idx, dim), idx

    return ref


for _name, _better in (("cummax", np.greater), ("cummin", np.less)):
    row(
        _name,
        lambda l, x, dim, _name=_name: tuple(getattr(x, _name)(dim)),
        _cum_extreme_ref(_better),
        reduce_inputs(SPECIAL, dim="single", keepdim=False),
        out=pair(SAME, INT64),
        dtypes=FLOATS + INTS,
        grad=True,
        ops=(f"{_name}_indices",),
    )


def _logcumsumexp_ref(x, dim):
    x = np.asarray(x, np.float64)
    return x.copy() if x.ndim == 0 else np.logaddexp.accumulate(x, axis=dim)


row(
    "logcumsumexp",
    lambda l, x, dim: x.logcumsumexp(dim),
    _logcumsumexp_ref,
    reduce_inputs(dim="single", keepdim=False),
    out=SAME,
    tol=LOOSE,
    grad=True,
    ops=("logcumsumexp",),
)


def _softmax_ref(x, dim, log=False):
    x = np.asarray(x, np.float64)
    if x.ndim == 0:
        return np.zeros(()) if log else np.ones(())
    m = np.max(x, axis=dim, keepdims=True) if x.size else 0
    e = np.exp(x - m)
    s = np.sum(e, axis=dim, keepdims=True)
    return (x - m - np.log(s)) if log else e / s


row(
    "softmax",
    lambda l, x, dim: x.softmax(dim),
    _softmax_ref,
    reduce_inputs(dim="single", keepdim=False),
    out=SAME,
    tol=LOOSE,
    grad=True,
    ops=("softmax",),
)
row(
    "log_softmax",
    lambda l, x, dim: x.log_softmax(dim),
    lambda x, dim: _softmax_ref(x, dim, log=True),
    reduce_inputs(dim="single", keepdim=False),
    out=SAME,
    tol=LOOSE,
    grad=True,
    ops=("log_softmax",),
)


def _sort_ref(x, dim, descending=False):
    """(values, indices) of a stable sort; NaN is the largest value, as in PyTorch."""
    x = np.asarray(x)
    if x.ndim == 0:
        return x.copy(), np.zeros((), np.int64)
    moved = np.moveaxis(x, dim, -1)
    idx = np.empty(moved.shape, np.int64)
    for pos in np.ndindex(moved.shape[:-1]):
        line = moved[pos]

        def key(i, line=line):
            v = float(line[i])
            big = math.isnan(v)
            return (big, 0.0 if big else v)

        order = sorted(range(line.shape[0]), key=key)
        if descending:  # stable: equal keys keep their original order
            order = sorted(range(line.shape[0]), key=lambda i, k=key: _neg(k(i)))
        idx[pos] = order
    idx = np.moveaxis(idx, -1, dim)
    return np.take_along_axis(x, idx, dim), idx


def _neg(key):
    big, v = key
    return (not big, -v)


def _sort_build(with_k=False):
    def extra(shape, d):
        n = shape[d] if shape else 1
        fields = {"descending": st.booleans()}
        if with_k:
            fields = {"largest": st.booleans(), "k": st.integers(0, n)}
        return st.fixed_dictionaries(fields)

    return reduce_inputs(SPECIAL, dim="single", keepdim=False, extra=extra)


row(
    "sort",
    lambda l, x, dim, descending: tuple(x.sort(dim, descending)),
    _sort_ref,
    _sort_build(),
    out=pair(SAME, INT64),
    dtypes=FLOATS + INTS,
    grad=True,
)
row(
    "argsort",
    lambda l, x, dim, descending: x.argsort(dim, descending),
    lambda x, dim, descending: _sort_ref(x, dim, descending)[1],
    _sort_build(),
    out=INT64,
    dtypes=FLOATS + INTS,
    ops=("argsort",),
)


def _searchsorted_build(dts, grad=False, layouts=LAYOUTS, ranks=None):
    """Sorted boundaries, 1-D or rows matching the values' leading dims, and values."""

    @st.composite
    def case(draw):
        shape = draw(shapes(**_sides(grad, ranks)).filter(len))
        rows = draw(st.sampled_from([(), shape[:-1]]))
        n = draw(st.integers(0, 5))
        rng = np.random.default_rng(draw(st.integers(0, 1000)))
        boundaries = np.sort(rng.integers(-3, 4, rows + (n,)), axis=-1).astype(dts[0])
        values = _arg(draw, shape, dts[0], REAL, grad, layouts)
        return Case([contiguous_arg(boundaries), values], {"right": draw(st.booleans())})

    return case()


def _searchsorted_ref(boundaries, values, right):
    side = "right" if right else "left"
    if boundaries.ndim == 1:
        return np.searchsorted(boundaries, values, side=side)
    n = math.prod(values.shape[:-1])
    pairs = zip(boundaries.reshape(n, boundaries.shape[-1]), values.reshape(n, values.shape[-1]))
    found = [np.searchsorted(b, v, side=side) for b, v in pairs]
    return np.array(found, np.int64).reshape(values.shape)


row(
    "searchsorted",
    lambda l, b, v, right: l.searchsorted(b, v, right=right),
    _searchsorted_ref,
    _searchsorted_build,
    out=INT64,
    dtypes=FLOATS + INTS,
    ops=("searchsorted",),
)


def _topk_ref(x, dim, k, largest):
    values, idx = _sort_ref(x, dim, descending=largest)
    if np.ndim(x) == 0:
        return values, idx
    take = (slice(None),) * (dim % np.ndim(x)) + (slice(0, k),)
    return values[take], idx[take]


row(
    "topk",
    lambda l, x, dim, k, largest: tuple(x.topk(k, dim, largest)),
    _topk_ref,
    _sort_build(with_k=True),
    out=pair(SAME, INT64),
    dtypes=FLOATS + INTS,
    grad=True,
)

# ---- movement and indexing -----------------------------------------------------------------------


def _factor_shape(draw, numel, max_rank=4):
    """A random shape with the given number of elements (maybe with one -1)."""
    if numel == 0:
        shape = [draw(st.integers(0, 3)) for _ in range(draw(st.integers(1, 3)))]
        shape[draw(st.integers(0, len(shape) - 1))] = 0
        return tuple(shape)
    dims, rest = [], numel
    for _ in range(draw(st.integers(0, max_rank - 1))):
        divisors = [d for d in range(1, rest + 1) if rest % d == 0]
        d = draw(st.sampled_from(divisors))
        dims.append(d)
        rest //= d
    dims.append(rest)
    dims = draw(st.permutations(dims))
    if dims and draw(st.booleans()):
        dims[draw(st.integers(0, len(dims) - 1))] = -1
    return tuple(dims)


def _reshape_build(contiguous_only):
    def build(dts, grad=False, layouts=LAYOUTS, ranks=None):
        @st.composite
        def case(draw):
            shape = draw(shapes(**_sides(grad, ranks)))
            lay = ("contiguous",) if contiguous_only else layouts
            x = _arg(draw, shape, dts[0], REAL, grad, lay)
            return Case([x], {"shape": _factor_shape(draw, math.prod(shape))})

        return case()

    return build


row(
    "view",
    lambda l, x, shape: x.view(*shape),
    lambda x, shape: np.reshape(x, shape),
    _reshape_build(True),
    out=SAME,
    dtypes=ALL,
    grad=True,
    ops=("view",),
)
row(
    "reshape",
    lambda l, x, shape: x.reshape(shape),
    lambda x, shape: np.reshape(x, shape),
    _reshape_build(False),
    out=SAME,
    dtypes=ALL,
    grad=True,
    ops=("reshape",),
)


def _permute_build(dts, grad=False, layouts=LAYOUTS, ranks=None):
    @st.composite
    def case(draw):
        shape = draw(shapes(**_sides(grad, ranks)))
        x = _arg(draw, shape, dts[0], REAL, grad, layouts)
        perm = draw(st.permutations(range(len(shape))))
        perm = [p - len(shape) if draw(st.booleans()) else p for p in perm]
        return Case([x], {"dims": tuple(perm)})

    return case()


row(
    "permute",
    lambda l, x, dims: x.permute(dims),
    lambda x, dims: np.transpose(x, dims),
    _permute_build,
    out=SAME,
    dtypes=ALL,
    grad=True,
    ops=("permute",),
)


def _transpose_build(dts, grad=False, layouts=LAYOUTS, ranks=None):
    @st.composite
    def case(draw):
        shape = draw(shapes(**_sides(grad, ranks)).filter(len))
        x = _arg(draw, shape, dts[0], REAL, grad, layouts)
        n = len(shape)
        return Case(
            [x], {"dim0": draw(st.integers(-n, n - 1)), "dim1": draw(st.integers(-n, n - 1))}
        )

    return case()


row(
    "transpose",
    lambda l, x, dim0, dim1: x.transpose(dim0, dim1),
    lambda x, dim0, dim1: np.swapaxes(x, dim0, dim1),
    _transpose_build,
    out=SAME,
    grad=True,
)


def _matrices_build(dts, grad=False, layouts=LAYOUTS, ranks=None):
    @st.composite
    def case(draw):
        shape = draw(shapes(**_sides(grad, (2, 3) if ranks is None else (2, 2))))
        return Case([_arg(draw, shape, dts[0], REAL, grad, layouts)])

    return case()


row("mT", lambda l, x: x.mT, lambda x: np.swapaxes(x, -1, -2), _matrices_build, out=SAME, grad=True)


def _expand_build(dts, grad=False, layouts=LAYOUTS, ranks=None):
    @st.composite
    def case(draw):
        (small,) = draw(broadcastable(1, **_sides(grad, ranks)))
        lead = draw(st.lists(st.integers(0 if not grad else 1, 3), max_size=2))
        full = list(lead)
        for n in small:
            full.append(draw(st.integers(1 if grad else 0, 3)) if n == 1 else n)
        arg = list(full)
        for i in range(len(lead), len(full)):  # -1 keeps a dim's size
            if draw(st.booleans()) and draw(st.booleans()):
                arg[i] = -1
        x = _arg(draw, small, dts[0], REAL, grad, layouts)
        return Case([x], {"shape": tuple(arg)})

    return case()


def _expand_ref(x, shape):
    lead = len(shape) - np.ndim(x)
    full = tuple(np.shape(x)[i - lead] if s == -1 else s for i, s in enumerate(shape))
    return np.broadcast_to(x, full)


row(
    "expand",
    lambda l, x, shape: x.expand(shape),
    _expand_ref,
    _expand_build,
    out=SAME,
    dtypes=ALL,
    grad=True,
    ops=("expand",),
)


def _repeat_build(dts, grad=False, layouts=LAYOUTS, ranks=None):
    @st.composite
    def case(draw):
        shape = draw(shapes(**_sides(grad, ranks)))
        x = _arg(draw, shape, dts[0], REAL, grad, layouts)
        extra = draw(st.integers(0 if shape else 1, 1))  # x.repeat() needs >= 1 size
        reps = tuple(draw(st.integers(1 if grad else 0, 3)) for _ in range(len(shape) + extra))
        return Case([x], {"sizes": reps})

    return case()


row(
    "repeat",
    lambda l, x, sizes: x.repeat(*sizes),
    lambda x, sizes: np.tile(x, sizes),
    _repeat_build,
    out=SAME,
    dtypes=FLOATS + INTS,
    grad=True,
)


def _flip_build(dts, grad=False, layouts=LAYOUTS, ranks=None):
    @st.composite
    def case(draw):
        shape = draw(shapes(**_sides(grad, ranks)))
        x = _arg(draw, shape, dts[0], SPECIAL, grad, layouts)
        n = len(shape)
        dims = draw(st.lists(st.integers(0, n - 1), unique=True, max_size=n)) if n else []
        return Case([x], {"dims": tuple(d - n if i % 2 else d for i, d in enumerate(dims))})

    return case()


def _along_dim_build(draw_params):
    """One >= 1-d input, a dim, and params drawn from (shape, dim)."""

    def build(dts, grad=False, layouts=LAYOUTS, ranks=None):
        @st.composite
        def case(draw):
            shape = draw(shapes(**_sides(grad, ranks)).filter(len))
            d = draw(st.integers(-len(shape), len(shape) - 1))
            x = _arg(draw, shape, dts[0], REAL, grad, layouts)
            return Case([x], {"dim": d, **draw(draw_params(shape, d))})

        return case()

    return build


def _split_ref(x, dim, size):
    n = x.shape[dim]
    cuts = list(range(size, n, size))
    return tuple(np.split(x, cuts, axis=dim)) if n else (x,)


row(
    "split",
    lambda l, x, dim, size: tuple(x.split(size, dim)),
    _split_ref,
    _along_dim_build(lambda s, d: st.fixed_dictionaries({"size": st.integers(1, 3)})),
    out=lambda x, dim, size: tuple([np.dtype(x.dtype)] * len(_split_ref(x.value, dim, size))),
    dtypes=FLOATS + INTS,
    grad=True,
)


def _narrow_params(shape, d):
    n = shape[d]
    return st.integers(0, n).flatmap(
        lambda start: st.fixed_dictionaries(
            {"start": st.just(start), "length": st.integers(0, n - start)}
        )
    )


row(
    "narrow",
    lambda l, x, dim, start, length: x.narrow(dim, start, length),
    lambda x, dim, start, length: np.take(x, range(start, start + length), axis=dim),
    _along_dim_build(_narrow_params),
    out=SAME,
    dtypes=FLOATS + INTS,
    grad=True,
)
row(
    "roll",
    lambda l, x, dim, shift: x.roll(shift, dim),
    lambda x, dim, shift: np.roll(x, shift, axis=dim),
    _along_dim_build(lambda s, d: st.fixed_dictionaries({"shift": st.integers(-4, 4)})),
    out=SAME,
    dtypes=FLOATS + INTS,
    grad=True,
)
row(
    "flip",
    lambda l, x, dims: x.flip(dims),
    lambda x, dims: np.flip(x, dims) if dims else x,
    _flip_build,
    out=SAME,
    dtypes=ALL,
    grad=True,
    ops=("flip",),
)
row(
    "clone",
    lambda l, x: x.clone(),
    np.copy,
    elementwise_inputs(SPECIAL),
    out=SAME,
    dtypes=ALL,
    grad=True,
    ops=("clone",),
)
row(
    "contiguous",
    lambda l, x: x.contiguous(),
    np.copy,
    lambda dts, grad=False, layouts=LAYOUTS, ranks=None: elementwise_inputs(SPECIAL)(
        dts, grad, tuple(lay for lay in layouts if lay != "contiguous") or layouts, ranks
    ).filter(lambda c: len(layouts) == 1 or not c.args[0].numpy_view().flags.c_contiguous),
    out=SAME,
    dtypes=ALL,
    grad=True,
    ops=("contiguous",),
)


def _squeeze_build(dts, grad=False, layouts=LAYOUTS, ranks=None):
    @st.composite
    def case(draw):
        shape = tuple(n if draw(st.booleans()) else 1 for n in draw(shapes(**_sides(grad, ranks))))
        x = _arg(draw, shape, dts[0], REAL, grad, layouts)
        n = len(shape)
        dim = draw(st.none() | st.integers(-n, n - 1)) if n else None
        if dim is not None and shape[dim] != 1:  # squeezing a dim of size != 1: no-op
            left = n
        else:
            left = len(np.squeeze(np.empty(shape), dim).shape)
        return Case([x], {"dim": dim, "at": draw(st.integers(-left - 1, left))})

    return case()


def _squeeze_ref(x, dim, at):
    x = np.asarray(x)
    if dim is not None and x.shape[dim] != 1:
        return np.expand_dims(x, at)
    return np.expand_dims(np.squeeze(x, dim), at)


row(
    "squeeze_unsqueeze",
    lambda l, x, dim, at: (x.squeeze() if dim is None else x.squeeze(dim)).unsqueeze(at),
    _squeeze_ref,
    _squeeze_build,
    out=SAME,
    grad=True,
)


# getitem: an index built from items, converted per library
def _index_items(draw, shape):
    """A random index: ints, slices (positive steps), None, Ellipsis, one int/bool array."""
    items, dim, advanced, ellipsis = [], 0, False, False
    # (after an Ellipsis the items index the last dims, so they go on to the end)
    while dim < len(shape) and (ellipsis or draw(st.integers(0, 3))):
        n = shape[dim]
        kinds = (
            ["slice", "none"]
            + ["int"] * (n > 0)
            + ["ellipsis"] * (not ellipsis)
            + ["array", "mask"] * (not advanced)
        )
        kind = draw(st.sampled_from(kinds))
        rng = np.random.default_rng(draw(st.integers(0, 1000)))
        if kind == "int":
            items.append(("int", draw(st.integers(-n, n - 1))))
        elif kind == "none":
            items.append(("none",))
            continue
        elif kind == "ellipsis":
            ellipsis = True
            items.append(("ellipsis",))
            dim = len(shape) - draw(st.integers(0, len(shape) - dim))
            continue
        elif kind == "array":
            advanced = True
            k = draw(st.integers(0, 4))
            items.append(("array", rng.integers(-n, n, k) if n else np.zeros(0, np.int64)))
        elif kind == "mask":
            advanced = True
            items.append(("mask", rng.random(n) < 0.5))
        else:
            items.append(
                (
                    "slice",
                    draw(st.none() | st.integers(-n - 1, n + 1)),
                    draw(st.none() | st.integers(-n - 1, n + 1)),
                    draw(st.none() | st.integers(1, 3)),
                )
            )
        dim += 1
    return tuple(items)


def to_index(lib, items):
    out = []
    for it in items:
        kind = it[0]
        if kind == "int":
            out.append(it[1])
        elif kind == "none":
            out.append(None)
        elif kind == "ellipsis":
            out.append(Ellipsis)
        elif kind == "slice":
            out.append(slice(*it[1:]))
        else:
            out.append(lib.tensor(it[1].astype(np.int64 if kind == "array" else np.bool_)))
    return tuple(out)


def _getitem_ref(x, items):
    """x[index] with PyTorch's rule: integers select first (numpy would treat an int next to
    an index array as one more advanced index and move the indexed dims to the front)."""
    x = np.asarray(x)
    index, squeeze, pos = [], [], 0
    used = sum(1 for it in items if it[0] not in ("none", "ellipsis"))
    for it in items:
        kind = it[0]
        if kind == "int":
            i = it[1]
            index.append(slice(i, i + 1 if i != -1 else None))
            squeeze.append(pos)
        elif kind == "ellipsis":
            index.append(Ellipsis)
            pos += x.ndim - used - 1
        else:
            index.append(None if kind == "none" else slice(*it[1:]) if kind == "slice" else it[-1])
        pos += 1
    return np.squeeze(x[tuple(index)], tuple(squeeze))


def _getitem_build(dts, grad=False, layouts=LAYOUTS, ranks=None):
    @st.composite
    def case(draw):
        shape = draw(shapes(**_sides(grad, ranks)))
        x = _arg(draw, shape, dts[0], SPECIAL, grad, layouts)
        return Case([x], {"items": _index_items(draw, shape)})

    return case()


row(
    "getitem",
    lambda l, x, items: x[to_index(l, items)],
    _getitem_ref,
    _getitem_build,
    out=SAME,
    dtypes=ALL,
    grad=True,
    ops=("getitem",),
)


def _index_put_build(dts, grad=False, layouts=LAYOUTS, ranks=None):
    @st.composite
    def case(draw):
        shape = draw(
            shapes(
                **_sides(grad, ranks),
            ).filter(lambda s: len(s) >= 1)
        )
        accumulate = draw(st.booleans())
        n = shape[0]
        rng = np.random.default_rng(draw(st.integers(0, 1000)))
        k = draw(st.integers(0, n if not accumulate else 4)) if n else 0
        idx = (
            (rng.permutation(n)[:k] if not accumulate else rng.integers(0, n, k))
            if n
            else np.zeros(0, np.int64)
        )
        vshape = draw(st.sampled_from([(k,) + tuple(shape[1:]), tuple(shape[1:]), ()]))
        x = _arg(draw, shape, dts[0], REAL, grad, layouts)
        v = _arg(draw, vshape, dts[1], REAL, grad, layouts)
        return Case([x, v], {"index": idx.astype(np.int64), "accumulate": accumulate})

    return case()


def _index_put_ref(x, v, index, accumulate):
    out = np.array(x, copy=True)
    v = np.asarray(v).astype(out.dtype)
    if accumulate:
        np.add.at(out, index, v)
    else:
        out[index] = v
    return out


row(
    "index_put",
    lambda l, x, v, index, accumulate: x.index_put((l.tensor(index),), v, accumulate=accumulate),
    _index_put_ref,
    _index_put_build,
    out=SAME,
    n_data=2,
    mixed=False,
    dtypes=FLOATS + INTS,
    grad=True,
    ops=("index_put",),
)


def _setitem(l, x, v, index, accumulate):
    y = x.clone()
    y[l.tensor(index)] = v
    return y


row(
    "setitem",
    _setitem,
    lambda x, v, index, accumulate: _index_put_ref(x, v, index, False),
    lambda dts, grad=False, **k: _index_put_build(dts, grad, **k).filter(
        lambda c: not c.params["accumulate"]
    ),
    out=SAME,
    n_data=2,
    mixed=False,
    grad=True,
)


def _cat_build(stack=False):
    def build(dts, grad=False, layouts=LAYOUTS, ranks=None):
        @st.composite
        def case(draw):
            lo, hi = ranks if ranks else (0 if stack else 1, MAX_RANK)
            shape = draw(shapes(max(lo, 0 if stack else 1), hi, 1 if grad else 0, 3))
            n = len(shape)
            d = draw(st.integers(-n - 1, n) if stack else st.integers(-n, n - 1))
            args = []
            for dt in dts:
                s = list(shape)
                if not stack:
                    s[d] = draw(st.integers(1 if grad else 0, 3))
                args.append(_arg(draw, tuple(s), dt, SPECIAL, grad, layouts))
            if not stack and not grad and draw(st.booleans()) and draw(st.booleans()):
                args.insert(1, contiguous_arg(np.zeros((0,), dts[0])))  # legacy empty
            return Case(args, {"dim": d})

        return case()

    return build


def _cat_ref(*xs, dim):
    dt = np.result_type(*[x.dtype for x in xs])
    keep = [x for x in xs if not (x.ndim == 1 and x.shape[0] == 0)] or list(xs)
    return np.concatenate([x.astype(dt) for x in keep], axis=dim)


row(
    "cat",
    lambda l, *xs, dim: l.cat(xs, dim),
    _cat_ref,
    _cat_build(),
    dtypes=ALL,
    n_data=3,
    grad=True,
    zero_d=False,
    ops=("cat",),
)
row(
    "stack",
    lambda l, *xs, dim: l.stack(xs, dim),
    lambda *xs, dim: np.stack(xs, axis=dim),
    _cat_build(stack=True),
    n_data=2,
    mixed=False,
    dtypes=FLOATS + INTS,
    grad=True,
)


def _gather_build(dts, grad=False, layouts=LAYOUTS, ranks=None):
    @st.composite
    def case(draw):
        shape = draw(shapes(**_sides(grad, ranks)))
        n = len(shape)
        d = draw(st.integers(-n, n - 1)) if n else draw(st.sampled_from([0, -1]))
        x = _arg(draw, shape, dts[0], REAL, grad, layouts)
        ishape = [
            draw(st.integers(0, s)) if i != d % max(n, 1) else draw(st.integers(0, 4))
            for i, s in enumerate(shape)
        ]
        size = shape[d] if n else 1
        if size == 0:
            ishape[d] = 0
        rng = np.random.default_rng(draw(st.integers(0, 1000)))
        index = rng.integers(0, max(size, 1), ishape).astype(np.int64)
        return Case([x, contiguous_arg(index)], {"dim": d})

    return case()


def _gather_ref(x, index, dim):
    if np.ndim(x) == 0:
        return np.array(x, copy=True)
    d = dim % x.ndim
    sub = x[tuple(slice(0, n) if i != d else slice(None) for i, n in enumerate(index.shape))]
    return np.take_along_axis(sub, index, d)


row(
    "gather",
    lambda l, x, i, dim: x.gather(dim, i),
    _gather_ref,
    _gather_build,
    out=SAME,
    dtypes=FLOATS + INTS,
    grad=True,
    ops=("gather",),
)


def _scatter_build(accumulate):
    def build(dts, grad=False, layouts=LAYOUTS, ranks=None):
        @st.composite
        def case(draw):
            shape = draw(
                shapes(
                    max(1, ranks[0] if ranks else 1), ranks[1] if ranks else 3, 1 if grad else 0, 3
                )
            )
            n = len(shape)
            d = draw(st.integers(-n, n - 1))
            size = shape[d]
            x = _arg(draw, shape, dts[0], REAL, grad, layouts)
            ishape = [draw(st.integers(0, s)) for s in shape]
            ishape[d] = draw(st.integers(0, size if not accumulate else 4)) if size else 0
            rng = np.random.default_rng(draw(st.integers(0, 1000)))
            index = np.zeros(ishape, np.int64)
            moved = np.moveaxis(index, d, -1)
            k = moved.shape[-1]
            for pos in np.ndindex(moved.shape[:-1] if k else ()):  # unique unless accumulating
                moved[pos] = rng.integers(0, size, k) if accumulate else rng.permutation(size)[:k]
            sshape = [s + draw(st.integers(0, 1)) for s in ishape]
            src = _arg(draw, tuple(sshape), dts[1], REAL, grad, layouts)
            if not accumulate and not grad and draw(st.booleans()):  # scatter(dim, i, value)
                src = draw(st.sampled_from([2, -1]))
                src = float(src) if np.dtype(dts[0]).kind == "f" else src
            return Case([x, contiguous_arg(index), src], {"dim": d})

        return case()

    return build


def _scatter_ref(accumulate):
    def ref(x, index, src, dim):
        out = np.array(x, copy=True)
        d = dim % out.ndim
        for pos in np.ndindex(index.shape):
            target = pos[:d] + (index[pos],) + pos[d + 1 :]
            value = src[pos] if isinstance(src, np.ndarray) else src
            if accumulate:
                out[target] += value
            else:
                out[target] = value
        return out

    return ref


row(
    "scatter",
    lambda l, x, i, s, dim: x.scatter(dim, i, s),
    _scatter_ref(False),
    _scatter_build(False),
    out=SAME,
    n_data=2,
    mixed=False,
    dtypes=FLOATS + INTS,
    grad=True,
    ops=("scatter",),
)
row(
    "scatter_add",
    lambda l, x, i, s, dim: x.scatter_add(dim, i, s),
    _scatter_ref(True),
    _scatter_build(True),
    out=SAME,
    n_data=2,
    mixed=False,
    dtypes=FLOATS + INTS,
    grad=True,
    ops=("scatter_add",),
)


def _index_select_build(dts, grad=False, layouts=LAYOUTS, ranks=None):
    @st.composite
    def case(draw):
        shape = draw(shapes(**_sides(grad, ranks)).filter(len))
        n = len(shape)
        d = draw(st.integers(-n, n - 1))
        x = _arg(draw, shape, dts[0], REAL, grad, layouts)
        rng = np.random.default_rng(draw(st.integers(0, 1000)))
        k = draw(st.integers(0, 4)) if shape[d] else 0
        index = rng.integers(0, max(shape[d], 1), k).astype(np.int64)
        return Case([x, contiguous_arg(index)], {"dim": d})

    return case()


row(
    "index_select",
    lambda l, x, i, dim: x.index_select(dim, i),
    lambda x, i, dim: np.take(x, i, axis=dim),
    _index_select_build,
    out=SAME,
    dtypes=FLOATS + INTS,
    grad=True,
)

# ---- matmul and einsum ---------------------------------------------------------------------------
MATMUL_FORMS = ["dot", "mv", "vm", "mm", "bmm", "bcast", "bcast_vec"]


def _matmul_build(dts, grad=False, layouts=LAYOUTS, ranks=None):
    @st.composite
    def case(draw):
        lo = 1 if grad else 0
        n, k, m = (draw(st.integers(lo, 3)) for _ in range(3))
        b = draw(st.integers(lo, 2))
        form = draw(st.sampled_from(MATMUL_FORMS))
        a_shape, b_shape = {
            "dot": ((k,), (k,)),
            "mv": ((n, k), (k,)),
            "vm": ((k,), (k, m)),
            "mm": ((n, k), (k, m)),
            "bmm": ((b, n, k), (b, k, m)),
            "bcast": ((b, 1, n, k), (2, k, m)),
            "bcast_vec": ((k,), (b, k, m)),
        }[form]
        return Case(
            [
                _arg(draw, a_shape, dts[0], REAL, grad, layouts),
                _arg(draw, b_shape, dts[1], REAL, grad, layouts),
            ]
        )

    return case()


row(
    "matmul",
    lambda l, a, b: l.matmul(a, b),
    np.matmul,
    _matmul_build,
    n_data=2,
    mixed=False,
    dtypes=FLOATS + INTS,
    tol=LOOSE,
    grad=True,
    ops=("matmul",),
)
row(
    "matmul_operator",
    lambda l, a, b: a @ b,
    np.matmul,
    _matmul_build,
    n_data=2,
    mixed=False,
    dtypes=FLOATS,
    tol=LOOSE,
    grad=True,
    max_examples=10,
)


def _mm_build(batched):
    def build(dts, grad=False, layouts=LAYOUTS, ranks=None):
        @st.composite
        def case(draw):
            b, n, k, m = (draw(st.integers(1 if grad else 0, 3)) for _ in range(4))
            lead = (b,) if batched else ()
            return Case(
                [
                    _arg(draw, lead + (n, k), dts[0], REAL, grad, layouts),
                    _arg(draw, lead + (k, m), dts[1], REAL, grad, layouts),
                ]
            )

        return case()

    return build


row(
    "mm",
    lambda l, a, b: l.mm(a, b),
    np.matmul,
    _mm_build(False),
    n_data=2,
    mixed=False,
    dtypes=FLOATS,
    tol=LOOSE,
    grad=True,
    max_examples=10,
)
row(
    "bmm",
    lambda l, a, b: a.bmm(b),
    np.matmul,
    _mm_build(True),
    n_data=2,
    mixed=False,
    dtypes=FLOATS,
    tol=LOOSE,
    grad=True,
    max_examples=10,
)

EINSUM = [
    "ij,jk->ik",
    "bij,bjk->bik",
    "ij->ji",
    "ij->",
    "i,i->",
    "i,j->ij",
    "ij,ij->i",
    "ij->j",
    "bhqd,bhkd->bhqk",
    "ij,jk",
    "ii->i",
    "ii->",
    "ijk->kji",
]


def _einsum_build(dts, grad=False, layouts=LAYOUTS, ranks=None):
    @st.composite
    def case(draw):
        eq = draw(st.sampled_from(EINSUM))
        sizes = {c: draw(st.integers(1 if grad else 0, 3)) for c in "ijkbhqd"}
        lhs = eq.split("->")[0].split(",")
        args = [_arg(draw, tuple(sizes[c] for c in s), dts[0], REAL, grad, layouts) for s in lhs]
        while len(args) < 2:  # the second data input is unused by one-operand equations
            args.append(None)
        return Case(args, {"equation": eq})

    return case()


def _einsum_fn(l, a, b, equation):
    return l.einsum(equation, a) if b is None else l.einsum(equation, a, b)


def _einsum_ref(a, b, equation):
    return np.asarray(np.einsum(equation, a) if b is None else np.einsum(equation, a, b))


row(
    "einsum",
    _einsum_fn,
    _einsum_ref,
    _einsum_build,
    n_data=2,
    mixed=False,
    out=PROMOTE,
    dtypes=FLOATS,
    tol=LOOSE,
    grad=True,
    ops=("einsum",),
)


# ---- linalg --------------------------------------------------------------------------------------
def _matrices(kind: str, rhs: bool = False):
    """Batches of matrices: "square" (+ n on the diagonal: far from singular), "spd"
    (symmetric positive-definite) or "rect"; with rhs, a right-hand side for solve."""

    def build(dts, grad=False, layouts=LAYOUTS, ranks=None):
        @st.composite
        def case(draw):
            rng = np.random.default_rng(draw(st.integers(0, 1000)))
            batch = draw(st.sampled_from([(), (2,), (2, 1)]))
            n = draw(st.integers(1, 3))
            m = draw(st.integers(1, 4)) if kind == "rect" else n
            a = rng.standard_normal(batch + (m, n))
            if kind == "square":
                a += n * np.eye(n)
            elif kind == "spd":
                a = a @ np.swapaxes(a, -1, -2) + n * np.eye(n)
            args = [contiguous_arg(a.astype(dts[0]))]
            if rhs:
                # (n, 3): never A.shape[:-1], which solve would read as a batch of vectors
                args.append(contiguous_arg(rng.standard_normal((n, 3)).astype(dts[0])))
            return Case(args)

        return case()

    return build


def _sym(a):
    """The symmetric part: what cholesky and eigvalsh read (one triangle), for gradcheck."""
    return (a + a.mT) * 0.5


def _singular_values(a):
    return np.linalg.svd(a, compute_uv=False)


def _eigvalsh_ref(a):
    return np.linalg.eigvalsh((a + np.swapaxes(a, -1, -2)) / 2)


def _expm_ref(a):
    """exp(a) as a Taylor series of a / 16 (30 terms), squared four times: an independent
    reference for matrix_exp's Pade approximant, exact to float64 for these small matrices."""
    a = np.asarray(a, np.float64) / 16
    term = total = np.broadcast_to(np.eye(a.shape[-1]), a.shape).copy()
    for k in range(1, 31):
        term = term @ a / k
        total = total + term
    for _ in range(4):
        total = total @ total
    return total


LINALG_ROWS = [  # (name, fn, ref, kind, grad)
    ("linalg_inv", lambda l, a: l.linalg.inv(a), np.linalg.inv, "square", True),
    ("linalg_matrix_exp", lambda l, a: l.linalg.matrix_exp(a), _expm_ref, "square", True),
    ("linalg_det", lambda l, a: l.linalg.det(a), np.linalg.det, "square", True),
    (
        "linalg_slogdet",
        lambda l, a: tuple(l.linalg.slogdet(a)),
        lambda a: tuple(np.linalg.slogdet(a)),
        "square",
        True,
    ),
    (
        "linalg_cholesky",
        lambda l, a: l.linalg.cholesky(_sym(a)),
        np.linalg.cholesky,
        "spd",
        True,
    ),
    # NOTE: no second-order gradient (eigvalsh's backward calls eigh without a graph; svd's is
    # not compared here): their first-order gradients are compared with PyTorch in
    # test_torch_parity_extra.py and test_matrix_exp.py (qr's and eigh's in test_linalg_grad.py)
    (
        "linalg_svdvals",
        lambda l, a: l.linalg.svdvals(a),
        lambda a: np.linalg.svd(a)[1],
        "rect",
        False,
    ),
    ("linalg_eigvalsh", lambda l, a: l.linalg.eigvalsh(_sym(a)), _eigvalsh_ref, "spd", False),
    # factorizations up to the signs of their vectors
    (
        "linalg_qr",
        lambda l, a: (lambda q, r: (q @ r, r.abs()))(*l.linalg.qr(a)),
        lambda a: (a, np.abs(np.linalg.qr(a)[1])),
        "rect",
        True,
    ),
    (
        "linalg_svd",
        lambda l, a: (lambda u, s, vh: ((u * s.unsqueeze(-2)) @ vh, s))(*l.linalg.svd(a, False)),
        lambda a: (a, np.linalg.svd(a)[1]),
        "rect",
        False,
    ),
    (
        "linalg_eigh",
        lambda l, a: (lambda w, v: (w, (v * w.unsqueeze(-2)) @ v.mT))(*l.linalg.eigh(_sym(a))),
        lambda a: (_eigvalsh_ref(a), (a + np.swapaxes(a, -1, -2)) / 2),
        "spd",
        True,
    ),
]
_ONE_OUTPUT = (
    "linalg_inv",
    "linalg_matrix_exp",
    "linalg_det",
    "linalg_cholesky",
    "linalg_svdvals",
    "linalg_eigvalsh",
)
for _name, _fn, _ref, _kind, _grad in LINALG_ROWS:
    row(
        _name,
        _fn,
        _ref,
        _matrices(_kind),
        out=pair(SAME, SAME)
        if _name in ("linalg_slogdet", "linalg_qr", "linalg_svd", "linalg_eigh")
        else SAME,
        tol={F32: (1e-3, 1e-4), F64: (1e-8, 1e-9)},
        grad=_grad,
        ops=(_name,),
        zero_d=False,
        max_examples=10,
    )
row(
    "linalg_solve",
    lambda l, a, b: l.linalg.solve(a, b),
    lambda a, b: np.linalg.solve(a, np.broadcast_to(b, a.shape[:-2] + b.shape)),
    _matrices("square", rhs=True),
    out=SAME,
    n_data=2,
    mixed=False,
    tol={F32: (1e-3, 1e-4), F64: (1e-8, 1e-9)},
    grad=True,
    ops=("linalg_solve",),
    zero_d=False,
    max_examples=10,
)


# ---- lookup --------------------------------------------------------------------------------------
BY_NAME = {r.name: r for r in ROWS}
COVERED = {op for r in ROWS for op in r.ops}


def rows_for_op(op: str) -> list[Row]:
    return [r for r in ROWS if op in r.ops]


PAIRS = [
    (np.int32, np.int64),
    (np.uint8, np.int8),
    (np.int32, np.float32),
    (np.float32, np.float64),
    (np.bool_, np.int32),
    (np.bool_, np.float32),
    (np.int64, ("0d", np.float32)),
    (np.float32, ("0d", np.float64)),
    (("0d", np.int64), np.int32),
]
WITH_SCALAR = [
    (np.float32, float),
    (np.float64, int),
    (np.int64, float),
    (np.int32, int),
    (np.uint8, int),
    (np.bool_, int),
    (np.int64, bool),
    (np.bool_, float),
]


def dtype_combos(r: Row) -> list[tuple]:
    """dtype combinations for the promotion test: each accepted dtype alone, plus mixes of
    dtypes, 0-d tensors and Python numbers where the row allows them."""
    accepted = {np.dtype(d) for d in r.dtypes}
    kinds = {d.kind for d in accepted}

    def ok(spec):
        if isinstance(spec, tuple) and not r.zero_d:
            return False
        if is_number_type(spec):
            return {float: "f", int: "i", bool: "b"}[spec] in kinds
        return np.dtype(spec[1] if isinstance(spec, tuple) else spec) in accepted

    combos = [(d,) * r.n_data for d in r.dtypes]
    if r.n_data >= 2 and r.mixed:
        combos += [(a, b) + (b,) * (r.n_data - 2) for a, b in PAIRS if ok(a) and ok(b)]
    for i in r.scalars:
        for t, py in WITH_SCALAR:
            if ok(t) and ok(py):
                combo = [t] * r.n_data
                combo[i] = py
                combos.append(tuple(combo))
    return combos


__all__ = [
    "ROWS",
    "BY_NAME",
    "COVERED",
    "Row",
    "dtype_combos",
    "rows_for_op",
    "promote",
    "is_number_type",
]
