"""Run the same code on PyTorch and minitorch and compare everything a user can see.

Like tinygrad's `helper_test_op`: one lambda, the same input data (numpy arrays) for both
libraries, then values, shapes, dtypes, the gradients of the inputs and the exception types
must agree. Failures read like `shape mismatch: minitorch=(3, 4) | torch=(4, 3)`.

    from parity import check
    check(lambda x, y: x @ y, (3, 4), (4, 5))                 # shapes -> seeded float32 data
    check(lambda t, x: t.cat([x, x], 1), (2, 3), lib=True)     # the module comes first
    err = check(lambda x: x.view(-1), np.ones((3, 4)).T)       # both must raise alike

NOTE: numba must load LLVM before torch does (see DESIGN.md), so this module imports
minitorch first and torch only after it; test modules should import this module (or
minitorch) before `pytest.importorskip("torch")`.
"""

from __future__ import annotations  # noqa: I001  (minitorch must come before torch)

import numbers

import minitorch
import numba  # noqa: F401
import numpy as np
import pytest

torch = pytest.importorskip("torch")

FLOAT_KINDS = "f"


def make_input(spec, rng: np.random.Generator):
    """A shape tuple becomes seeded float32 data; arrays and numbers pass through."""
    if isinstance(spec, tuple) and all(isinstance(n, int) for n in spec):
        return rng.standard_normal(spec).astype(np.float32)
    return spec


def to_lib(value, lib, requires_grad: bool):
    """A numpy array as a fresh tensor of `lib` (torch or minitorch) with its own storage."""
    if not isinstance(value, np.ndarray):
        return value
    arr = np.array(value, copy=True)  # keeps dtype and strides-independent contents
    t = lib.tensor(arr) if lib is minitorch else torch.from_numpy(arr)
    if requires_grad and arr.dtype.kind in FLOAT_KINDS:
        t.requires_grad_(True)
    return t


def _builtin_base(exc_type: type) -> type:
    """torch raises subclasses (torch.OutOfMemoryError, _LinAlgError): compare builtins."""
    for cls in exc_type.__mro__:
        if cls.__module__ == "builtins":
            return cls
    return Exception


def _run(fn, lib, tensors, with_lib):
    try:
        return (fn(lib, *tensors) if with_lib else fn(*tensors)), None
    except Exception as e:  # noqa: BLE001  (compared below)
        return None, e


def _name(dtype) -> str:
    return str(dtype).rsplit(".", 1)[-1]


def _leaves(out, path="out"):
    """Flatten nested tuples/lists/named tuples into (path, value) pairs."""
    if isinstance(out, (tuple, list)) and not isinstance(out, (minitorch.Size, torch.Size)):
        if len(out) and isinstance(out[0], (minitorch.Tensor, torch.Tensor, tuple, list)):
            fields = getattr(out, "_fields", None)
            items = []
            for i, v in enumerate(out):
                key = f".{fields[i]}" if fields else f"[{i}]"
                items += _leaves(v, path + key)
            return items
    return [(path, out)]


def compare(mt, th, atol, rtol, what="out"):
    """Assert minitorch value `mt` equals torch value `th` (tensors, numbers, lists)."""
    if isinstance(th, torch.Tensor):
        assert isinstance(mt, minitorch.Tensor), (
            f"{what}: type mismatch: minitorch={type(mt).__name__} | torch=Tensor"
        )
        assert tuple(mt.shape) == tuple(th.shape), (
            f"{what}: shape mismatch: minitorch={tuple(mt.shape)} | torch={tuple(th.shape)}"
        )
        assert mt.dtype.name == _name(th.dtype), (
            f"{what}: dtype mismatch: minitorch={mt.dtype.name} | torch={_name(th.dtype)}"
        )
        got = np.asarray(mt.detach()._data)
        want = th.detach().numpy()
        if want.dtype.kind in FLOAT_KINDS:
            np.testing.assert_allclose(
                got, want, atol=atol, rtol=rtol, err_msg=f"{what}: value mismatch"
            )
        else:
            np.testing.assert_array_equal(got, want, err_msg=f"{what}: value mismatch")
        return
    if isinstance(th, torch.Size):
        assert tuple(mt) == tuple(th), f"{what}: size mismatch: minitorch={mt} | torch={th}"
        return
    if isinstance(th, torch.dtype):
        assert getattr(mt, "name", None) == _name(th), (
            f"{what}: dtype mismatch: minitorch={mt} | torch={th}"
        )
        return
    if isinstance(th, (list, tuple)):
        assert isinstance(mt, (list, tuple)) and len(mt) == len(th), (
            f"{what}: structure mismatch: minitorch={mt!r} | torch={th!r}"
        )
        for i, (a, b) in enumerate(zip(mt, th)):
            compare(a, b, atol, rtol, f"{what}[{i}]")
        return
    if isinstance(th, np.ndarray):
        assert isinstance(mt, np.ndarray), f"{what}: type mismatch: minitorch={type(mt)}"
        assert mt.shape == th.shape and mt.dtype == th.dtype, (
            f"{what}: array mismatch: minitorch={mt.shape} {mt.dtype} | torch={th.shape} {th.dtype}"
        )
        np.testing.assert_allclose(mt, th, atol=atol, rtol=rtol, err_msg=f"{what}: value")
        return
    if isinstance(th, numbers.Number):
        assert type(mt) is type(th), (
            f"{what}: type mismatch: minitorch={type(mt).__name__} | torch={type(th).__name__}"
        )
        np.testing.assert_allclose(mt, th, atol=atol, rtol=rtol, err_msg=f"{what}: value")
        return
    assert mt == th, f"{what}: mismatch: minitorch={mt!r} | torch={th!r}"


def _backward_both(mt_out, th_out, rng):
    """Backprop sum(out * w) with the same random w through every float output."""
    mt_terms, th_terms = [], []
    for (_, m), (_, t) in zip(_leaves(mt_out), _leaves(th_out)):
        if isinstance(t, torch.Tensor) and t.requires_grad and t.dtype.is_floating_point:
            w = rng.standard_normal(tuple(t.shape)).astype(t.detach().numpy().dtype)
            th_terms.append((t * torch.from_numpy(w)).sum())
            mt_terms.append((m * minitorch.tensor(w)).sum())
    if not th_terms:
        return False
    sum(th_terms).backward()
    sum(mt_terms).backward()
    return True


def check(
    fn,
    *inputs,
    lib: bool = False,
    atol: float = 1e-6,
    rtol: float = 1e-5,
    grad: bool = True,
    grad_atol: float = 1e-5,
    grad_rtol: float = 1e-4,
    seed: int = 0,
):
    """Run fn on torch and on minitorch with the same inputs; assert they agree.

    inputs: numpy arrays, shape tuples (seeded float32 data) or plain Python values.
    Float array inputs require grad when `grad` is true; gradients of the inputs after
    backward of sum(out * w) must match. Returns minitorch's exception when both raised
    (their builtin exception types must match), else minitorch's output.
    """
    rng = np.random.default_rng(seed)
    arrays = [make_input(s, rng) for s in inputs]
    th_in = [to_lib(a, torch, grad) for a in arrays]
    mt_in = [to_lib(a, minitorch, grad) for a in arrays]
    th_out, th_err = _run(fn, torch, th_in, lib)
    mt_out, mt_err = _run(fn, minitorch, mt_in, lib)
    if th_err is not None or mt_err is not None:
        _compare_errors(mt_err, th_err)
        return mt_err
    compare(mt_out, th_out, atol, rtol)
    if grad and _backward_both(mt_out, th_out, rng):
        for i, (m, t) in enumerate(zip(mt_in, th_in)):
            if isinstance(t, torch.Tensor) and t.requires_grad:
                if t.grad is None:
                    assert m.grad is None, f"grad of input {i}: minitorch has one, torch None"
                    continue
                assert m.grad is not None, f"grad of input {i}: minitorch=None | torch=tensor"
                compare(m.grad, t.grad, grad_atol, grad_rtol, f"grad of input {i}")
    return mt_out


def _compare_errors(mt_err, th_err):
    if th_err is None:
        raise AssertionError(
            f"exception mismatch: minitorch raised {type(mt_err).__name__}: {mt_err} | torch "
            "raised nothing"
        ) from mt_err
    if mt_err is None:
        raise AssertionError(
            f"exception mismatch: minitorch raised nothing | torch raised "
            f"{type(th_err).__name__}: {th_err}"
        )
    want = _builtin_base(type(th_err))
    assert isinstance(mt_err, want), (
        f"exception mismatch: minitorch={type(mt_err).__name__}({mt_err}) | "
        f"torch={type(th_err).__name__}({th_err})"
    )


def raises_like_torch(fn, *inputs, lib: bool = False) -> BaseException:
    """Both libraries must raise the same exception type; returns minitorch's exception."""
    out = check(fn, *inputs, lib=lib)
    assert isinstance(out, BaseException), "expected both libraries to raise"
    return out


def close(a, b, what: str, atol=1e-12, rtol=1e-10) -> None:
    """A minitorch tensor equal to a torch tensor (shapes, then values to atol/rtol)."""
    a, b = np.asarray(a.detach().numpy()), np.asarray(b.detach().numpy())
    assert a.shape == b.shape, f"{what} shape mismatch: minitorch={a.shape} | torch={b.shape}"
    np.testing.assert_allclose(a, b, atol=atol, rtol=rtol, err_msg=what)


def grads_agree(f_mt, f_torch, a, atol=1e-10, rtol=1e-8, *, rng) -> None:
    """f's value and its gradient (of sum(f * w), w drawn from rng, of f's dtype) in both
    libraries, from the same numpy input `a`."""
    w = rng.standard_normal(f_torch(torch.tensor(a)).shape)
    x = minitorch.tensor(a, requires_grad=True)
    t = torch.tensor(a, requires_grad=True)
    y, yt = f_mt(x), f_torch(t)
    close(y, yt, "value", atol=atol, rtol=rtol)
    (g,) = minitorch.autograd.grad((y * minitorch.tensor(w, dtype=y.dtype)).sum(), x)
    (gt,) = torch.autograd.grad((yt * torch.tensor(w, dtype=yt.dtype)).sum(), t)
    close(g, gt, "gradient", atol=atol, rtol=rtol)
