"""Error messages: the PyTorch exception class, the op's name, what was received (shapes,
dtypes, devices) and what to do next (STYLE.md section 7)."""

import re

import numpy as np
import pytest

import minitorch as mt
from minitorch import autograd


def error(exc_type, fn):
    with pytest.raises(exc_type) as info:
        fn()
    return str(info.value)


def has(message, *fragments):
    for f in fragments:
        assert f in message, f"{f!r} not in message: {message}"


# ---- shapes --------------------------------------------------------------------------------
@pytest.mark.parametrize("op", ["add", "sub", "mul", "div", "maximum", "lt"])
def test_broadcast_mismatch_names_op_and_both_shapes(op):
    a, b = mt.zeros(3, 4), mt.zeros(2, 4)
    msg = error(RuntimeError, lambda: getattr(a, op)(b))
    has(msg, f"{op}:", "(3, 4)", "(2, 4)", "dimension -2")


def test_matmul_names_both_shapes_and_suggests_transpose():
    a, b = mt.zeros(64, 784), mt.zeros(512, 784)
    msg = error(RuntimeError, lambda: a @ b)
    has(msg, "matmul", "64x784", "512x784", "b.T")
    msg = error(RuntimeError, lambda: mt.zeros(3, 4) @ mt.zeros(5, 6))
    has(msg, "matmul", "3x4", "5x6")
    assert "b.T" not in msg  # only suggested when the transpose would fit


def test_matmul_dtype_mismatch_says_how_to_convert():
    msg = error(RuntimeError, lambda: mt.zeros(2, 3) @ mt.zeros(3, 2, dtype=mt.float64))
    has(msg, "matmul", "float32", "float64", ".to(")


def test_matmul_needs_dims():
    msg = error(RuntimeError, lambda: mt.tensor(1.0) @ mt.zeros(3))
    has(msg, "matmul", "0D")
    msg = error(RuntimeError, lambda: mt.zeros(2, 2, 2).mm(mt.zeros(2, 2)))
    has(msg, "mm", "3-D", "matmul")
    msg = error(RuntimeError, lambda: mt.zeros(2, 2, 3).bmm(mt.zeros(3, 3, 2)))
    has(msg, "bmm", "(2, 2, 3)", "(3, 3, 2)")


def test_view_on_non_contiguous_suggests_reshape():
    msg = error(RuntimeError, lambda: mt.zeros(3, 4).t().view(12))
    has(msg, "view", "reshape", "(4, 3)")


def test_bad_reshape_sizes():
    msg = error(RuntimeError, lambda: mt.zeros(3, 4).reshape(5, -1))
    has(msg, "reshape", "[5, -1]", "12")
    msg = error(RuntimeError, lambda: mt.zeros(3, 4).view(5, 2))
    has(msg, "view", "[5, 2]", "12")
    msg = error(RuntimeError, lambda: mt.zeros(3, 4).reshape(-1, -1))
    has(msg, "reshape", "only one dimension can be inferred")


def test_expand_cat_stack_split_messages():
    msg = error(RuntimeError, lambda: mt.zeros(3, 4).expand(3, 5))
    has(msg, "expand", "5", "4", "[3, 4]")
    msg = error(RuntimeError, lambda: mt.cat([mt.zeros(3, 4), mt.zeros(3, 5)]))
    has(msg, "cat", "(3, 4)", "(3, 5)", "tensor number 1")
    msg = error(RuntimeError, lambda: mt.stack([mt.zeros(3), mt.zeros(4)]))
    has(msg, "stack", "[3]", "[4]", "entry 1")
    msg = error(RuntimeError, lambda: mt.zeros(5).split([2, 2]))
    has(msg, "split", "5", "[2, 2]")
    msg = error(RuntimeError, lambda: mt.zeros(3).narrow(0, 2, 5))
    has(msg, "narrow", "(3)")


def test_permute_messages():
    msg = error(RuntimeError, lambda: mt.zeros(2, 3, 4).permute(0, 1))
    has(msg, "permute", "3 dims", "(2, 3, 4)", "(0, 1)")
    msg = error(RuntimeError, lambda: mt.zeros(2, 3).permute(0, 0))
    has(msg, "permute", "repeated", "(0, 0)")
    msg = error(IndexError, lambda: mt.zeros(2, 3).permute(0, 5))
    has(msg, "permute", "Dimension out of range")


def test_inplace_broadcast_and_dtype_results():
    msg = error(RuntimeError, lambda: mt.zeros(3).add_(mt.zeros(2, 3)))
    has(msg, "[3]", "[2, 3]")
    msg = error(RuntimeError, lambda: mt.zeros(3, dtype=mt.int64).add_(0.5))
    has(msg, "float32", "int64", "in-place", ".to(")


# ---- dims and indices ----------------------------------------------------------------------
@pytest.mark.parametrize(
    "call,op,valid",
    [
        (lambda x: x.sum(2), "sum", "[-2, 1]"),
        (lambda x: x.softmax(-3), "softmax", "[-2, 1]"),
        (lambda x: x.transpose(0, 5), "transpose", "[-2, 1]"),
        (lambda x: x.unsqueeze(4), "unsqueeze", "[-3, 2]"),
        (lambda x: x.size(2), "size", "[-2, 1]"),
        (lambda x: x.max(dim=2), "max", "[-2, 1]"),
        (lambda x: x.argmin(dim=-3), "argmin", "[-2, 1]"),
        (lambda x: x.flip(3), "flip", "[-2, 1]"),
        (lambda x: x.cumsum(2), "cumsum", "[-2, 1]"),
        (lambda x: mt.cat([x, x], 2), "cat", "[-2, 1]"),
    ],
)
def test_bad_dim_is_index_error_naming_range(call, op, valid):
    msg = error(IndexError, lambda: call(mt.zeros(3, 4)))
    has(msg, f"{op}:", "Dimension out of range", valid, "but got")


def test_index_out_of_range_names_index_and_shape():
    msg = error(IndexError, lambda: mt.zeros(3, 4)[3])
    has(msg, "index", "3", "(3, 4)")
    msg = error(IndexError, lambda: mt.zeros(3, 4)[:, -5])
    has(msg, "-5", "(3, 4)")
    msg = error(IndexError, lambda: mt.zeros(3)[mt.tensor([0, 7])])
    has(msg, "7", "(3,)")
    msg = error(IndexError, lambda: mt.zeros(3)[mt.tensor([0.0])])
    has(msg, "float32", "long")


def test_gather_scatter_index_messages():
    msg = error(RuntimeError, lambda: mt.zeros(3).gather(0, mt.tensor([0.0])))
    has(msg, "gather", "float32", "long()")
    msg = error(RuntimeError, lambda: mt.zeros(3).gather(0, mt.tensor([5])))
    has(msg, "gather", "5", "size 3")
    msg = error(RuntimeError, lambda: mt.zeros(3).scatter(0, mt.tensor([4]), 1.0))
    has(msg, "scatter", "4", "size 3")
    msg = error(IndexError, lambda: mt.zeros(3).index_select(0, mt.zeros(2, 2, dtype=mt.int64)))
    has(msg, "index_select")


# ---- dtypes --------------------------------------------------------------------------------
def test_dtype_messages():
    msg = error(RuntimeError, lambda: mt.tensor([1, 2], requires_grad=True))
    has(msg, "floating point", "int64")
    msg = error(RuntimeError, lambda: mt.tensor([1, 2]).mean())
    has(msg, "mean", "int64")
    msg = error(RuntimeError, lambda: mt.zeros(2).masked_fill(mt.zeros(2), 1.0))
    has(msg, "masked_fill", "bool", "float32")
    msg = error(TypeError, lambda: mt.zeros(2, dtype="complex64"))
    has(msg, "dtype", "complex64", "float32")
    msg = error(TypeError, lambda: mt.from_numpy(np.zeros(2, np.complex64)))
    has(msg, "complex64", "float32")
    msg = error(RuntimeError, lambda: mt.rand(2, dtype=mt.int64))
    has(msg, "rand", "int64", "float32")


# ---- autograd ------------------------------------------------------------------------------
def test_backward_on_non_scalar_says_pass_a_gradient():
    y = mt.zeros(3, requires_grad=True) * 2
    msg = error(RuntimeError, lambda: y.backward())
    has(msg, "backward", "scalar outputs", "(3,)", "ones_like")


def test_second_backward_says_retain_graph():
    x = mt.zeros(3, requires_grad=True)
    y = (x * x).sum()
    y.backward()
    msg = error(RuntimeError, lambda: y.backward())
    has(msg, "MulBackward0", "second time", "retain_graph=True")


def test_backward_without_graph_says_why():
    msg = error(RuntimeError, lambda: mt.zeros(2).sum().backward())
    has(msg, "does not require grad", "requires_grad=True")


def test_inplace_leaf_says_use_no_grad():
    x = mt.zeros(2, requires_grad=True)
    msg = error(RuntimeError, lambda: x.mul_(2))
    has(msg, "leaf Variable", "in-place", "no_grad")


def test_saved_tensor_modified_names_op_version_and_fix():
    x = mt.ones(2, requires_grad=True)
    h = x * 1
    y = h.sin()
    h.add_(1)
    msg = error(RuntimeError, lambda: y.sum().backward())
    has(
        msg,
        "modified by an inplace operation",
        "SinBackward0",
        "version 1",
        "version 0",
        "out-of-place",
    )


def test_anomaly_names_op():
    x = mt.zeros(1, requires_grad=True)
    with autograd.detect_anomaly():
        msg = error(RuntimeError, lambda: (x.log() * 0).sum().backward())
    has(msg, "LogBackward0", "nan")


def test_autograd_grad_unused_input():
    x, w = mt.ones(1, requires_grad=True), mt.ones(1, requires_grad=True)
    msg = error(RuntimeError, lambda: autograd.grad((x * 2).sum(), [x, w]))
    has(msg, "allow_unused=True")


# ---- conversions ---------------------------------------------------------------------------
def test_conversion_messages():
    msg = error(RuntimeError, lambda: mt.zeros(3).item())
    has(msg, "3 elements", "tolist")
    msg = error(RuntimeError, lambda: bool(mt.zeros(3)))
    has(msg, "ambiguous", "any()", "all()")
    msg = error(RuntimeError, lambda: mt.zeros(2, requires_grad=True).numpy())
    has(msg, "numpy()", "detach()")
    msg = error(ValueError, lambda: mt.tensor([[1, 2], [3]]))
    has(msg, "tensor", "expected sequence of length 2 at dim 1 (got 1)")
    msg = error(TypeError, lambda: mt.tensor([[1, 2], 3]))
    has(msg, "not a sequence", "dim 1")
    msg = error(TypeError, lambda: mt.tensor([1.0, "a"]))
    has(msg, "invalid data type 'str'")
    msg = error(TypeError, lambda: len(mt.tensor(1.0)))
    has(msg, "0-d")


@pytest.mark.skipif(
    mt.cuda.is_available(),
    reason="a CUDA device or the simulator is usable here; test_cuda.py checks this message "
    "in a subprocess without them",
)
def test_cuda_device_message_says_what_to_do():
    msg = error(RuntimeError, lambda: mt.zeros(2, device="cuda"))
    has(msg, "cuda", "device='cpu'")
    msg = error(RuntimeError, lambda: mt.zeros(2).to("cuda:0"))
    has(msg, "cuda")


def test_expanded_write_says_clone():
    e = mt.zeros(1).expand(3)
    msg = error(RuntimeError, lambda: e.add_(1))
    has(msg, "expanded", "clone()")


def test_random_argument_messages():
    msg = error(RuntimeError, lambda: mt.randint(5, 3, (2,)))
    has(msg, "from=5", "to=3")
    msg = error(RuntimeError, lambda: mt.bernoulli(mt.tensor([2.0])))
    has(msg, "bernoulli", "[0, 1]")


def test_messages_have_no_unformatted_placeholders():
    calls = [
        lambda: mt.zeros(3) + mt.zeros(2),
        lambda: mt.zeros(2, 3) @ mt.zeros(2, 3),
        lambda: mt.zeros(3, 4).t().view(-1),
        lambda: mt.zeros(3).sum(4),
    ]
    for call in calls:
        with pytest.raises(Exception) as info:  # noqa: B017, PT011
            call()
        assert not re.search(r"\{[a-z_]+\}", str(info.value)), str(info.value)


def test_float16_converts_and_its_arithmetic_says_to_convert_first():
    """float16 tensors round-trip (Numba has no float16, so numpy converts them); arithmetic
    on them raises PyTorch's kind of error, not Numba's bare NotImplementedError."""
    x = mt.tensor([1.5, -2.7, 65504.0, 1e-8])
    half = x.to(mt.float16)
    np.testing.assert_array_equal(half.numpy(), x.numpy().astype(np.float16))
    np.testing.assert_array_equal(half.float().numpy(), x.numpy().astype(np.float16))
    assert half.to(mt.int64).tolist() == [1, -2, 65504, 0]
    for call in (lambda: half + half, lambda: half.sum(), lambda: mt.nn.Linear(4, 2).half()(half)):
        has(error(RuntimeError, call), "not implemented for 'Half'", ".float()")
