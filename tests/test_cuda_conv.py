"""The CUDA convolution family against the CPU backend: conv2d, its weight gradient,
conv_transpose2d, unfold/fold and constant padding, values and gradients, and a small conv
net's training step. Without a GPU these run on numba's CUDA simulator (tests/conftest.py),
which runs every kernel thread in Python: images stay a few pixels wide.
"""

from __future__ import annotations

import functools

import numpy as np
import pytest

pytest.importorskip("numba_cuda", reason="the CUDA backend needs numba-cuda: pip install '.[cuda]'")

from cuda_compare import both as _both  # noqa: E402
from cuda_compare import close, device_only  # noqa: E402

import minitorch as mt  # noqa: E402
import minitorch.nn as nn  # noqa: E402
import minitorch.nn.functional as F  # noqa: E402

pytestmark = pytest.mark.filterwarnings("ignore:Using padding='same' with even kernel")

RNG = np.random.default_rng(0)
_close = functools.partial(close, atol=1e-5)


def _array(shape, dtype=np.float32):
    return RNG.uniform(-2.0, 2.0, shape).astype(dtype)


def check(fn, *shapes, what, dtype=np.float32):
    """fn on cuda tensors == fn on cpu tensors: the value and the gradient of every input; and
    the cuda forward and backward never copy to the host."""
    pairs = [_both(_array(shape, dtype), requires_grad=True) for shape in shapes]
    want = fn(*[cpu for cpu, _ in pairs])
    seed = _array(tuple(want.shape), dtype)
    want.backward(mt.tensor(seed))
    with device_only("a convolution"):
        got = fn(*[gpu for _, gpu in pairs])
        got.backward(mt.tensor(seed, device="cuda"))
    _close(got, want, f"{what}: forward")
    for k, (cpu, gpu) in enumerate(pairs):
        _close(gpu.grad, cpu.grad, f"{what}: grad of input {k}")


# ---- conv2d ---------------------------------------------------------------------------------
CONV2D = {
    "stride 2, padding 1, bias": ((2, 3, 6, 6), (4, 3, 3, 3), True, dict(stride=2, padding=1)),
    "groups, dilation, uneven stride and padding": (
        (2, 4, 7, 6),
        (4, 2, 3, 2),
        True,
        dict(stride=(2, 1), padding=(2, 1), dilation=(2, 1), groups=2),
    ),
    "'same' with an even kernel (uneven pads), no bias": (
        (2, 2, 5, 5),
        (3, 2, 2, 2),
        False,
        dict(padding="same"),
    ),
    "depthwise (weight gradient without kept columns)": (
        (2, 3, 5, 5),
        (3, 1, 3, 3),
        True,
        dict(padding=1, groups=3),
    ),
}


@pytest.mark.parametrize("name", list(CONV2D))
def test_conv2d_matches_cpu(name):
    x, w, bias, params = CONV2D[name]
    if bias:
        fn = lambda x, w, b: F.conv2d(x, w, b, **params)  # noqa: E731
        check(fn, x, w, (w[0],), what=name)
    else:
        fn = lambda x, w: F.conv2d(x, w, **params)  # noqa: E731
        check(fn, x, w, what=name)


def test_conv2d_reads_strided_views_in_place():
    """im2col reads x and the GEMM reads a transposed weight through their strides."""
    fn = lambda x, w: F.conv2d(x[:, :, ::2, 1:], w.transpose(2, 3), padding=1)  # noqa: E731
    check(fn, (2, 2, 7, 5), (3, 2, 2, 3), what="strided input and weight")


def test_conv2d_module_padding_mode_matches_cpu():
    """nn.Conv2d pads with F.pad's mode first, then convolves without padding (each mode's
    padding alone: test_pad_modes_match_cpu)."""
    mt.manual_seed(0)
    conv = nn.Conv2d(2, 3, 3, padding=(1, 2), padding_mode="reflect")
    gpu_conv = nn.Conv2d(2, 3, 3, padding=(1, 2), padding_mode="reflect").to("cuda")
    gpu_conv.load_state_dict(conv.state_dict())
    check(lambda t: (gpu_conv if t.is_cuda else conv)(t), (2, 2, 5, 6), what="reflect")
    _close(gpu_conv.weight.grad, conv.weight.grad, "reflect: weight grad")
    _close(gpu_conv.bias.grad, conv.bias.grad, "reflect: bias grad")


@pytest.mark.parametrize("mode", ["reflect", "replicate", "circular"])
def test_pad_modes_match_cpu(mode):
    """Slices of the input joined by cat: pads, a crop (a negative pad) and no change."""
    for pad in ((2, 1, 1, 3), (1, 0, -1, 0), (0, 0, 0, 0)):
        check(lambda x: F.pad(x, pad, mode=mode), (2, 4, 5), what=f"{mode} {pad}")


def test_conv2d_double_backward_matches_cpu():
    """conv2d's gradients are conv ops too: a gradient penalty differentiates them again.

    float64: the penalty's gradient cancels terms of ~1e4 down to ~1, past float32's reach."""

    def penalty(x, w):
        out = F.conv2d(x, w, stride=2, padding=1)
        (gx,) = mt.autograd.grad(out.square().sum(), x, create_graph=True)
        return gx.square().sum()

    check(penalty, (2, 2, 5, 5), (3, 2, 3, 3), what="gradient penalty", dtype=np.float64)


# ---- conv_transpose2d -----------------------------------------------------------------------
CONV_TRANSPOSE2D = {
    "stride 2, output_padding 1, groups 2": (
        (2, 4, 4, 3),
        (4, 3, 3, 3),
        dict(stride=2, padding=1, output_padding=1, groups=2),
    ),
    "dilation, uneven stride": (
        (2, 2, 3, 4),
        (2, 3, 2, 3),
        dict(stride=(2, 3), padding=(0, 1), output_padding=(1, 2), dilation=(2, 1)),
    ),
}


@pytest.mark.parametrize("name", list(CONV_TRANSPOSE2D))
def test_conv_transpose2d_matches_cpu(name):
    x, w, params = CONV_TRANSPOSE2D[name]
    out_ch = w[1] * params.get("groups", 1)
    fn = lambda x, w, b: F.conv_transpose2d(x, w, b, **params)  # noqa: E731
    check(fn, x, w, (out_ch,), what=name)


def test_conv1d_and_conv_transpose1d_match_cpu():
    """The 1-D forms run as their 2-D ops on a height-1 image."""
    fn = lambda x, w, b: F.conv1d(x, w, b, stride=2, padding=1, dilation=2)  # noqa: E731
    check(fn, (2, 3, 9), (4, 3, 3), (4,), what="conv1d")
    fn = lambda x, w: F.conv_transpose1d(x, w, stride=2, output_padding=1)  # noqa: E731
    check(fn, (2, 3, 4), (3, 2, 3), what="conv_transpose1d")


# ---- unfold, fold, constant padding ---------------------------------------------------------
def test_unfold_and_fold_match_cpu():
    window = dict(kernel_size=(2, 3), dilation=(1, 2), padding=1, stride=2)
    check(lambda x: F.unfold(x, **window), (2, 3, 5, 6), what="unfold")
    check(lambda c: F.fold(c, (5, 6), **window), (2, 18, 6), what="fold")


@pytest.mark.parametrize("pad", [(1, 2), (1, 2, -1, 0), (0, 0, 2, 1, 1, 0)])
def test_constant_pad_matches_cpu(pad):
    check(lambda x: F.pad(x, pad, value=0.5), (2, 3, 4), what=f"pad {pad}")


def test_constant_pad_of_a_strided_view_and_its_errors():
    cpu, gpu = _both(_array((4, 5)))
    _close(F.pad(gpu.T, (2, 0, 1, 1)), F.pad(cpu.T, (2, 0, 1, 1)), "pad of a transposed view")
    for t in (cpu, gpu):  # cropping more than a dim holds: PyTorch's RuntimeError on both
        with pytest.raises(RuntimeError, match="narrow"):
            F.pad(t, (-6, 7))


# ---- a small conv net's training step -------------------------------------------------------
def _conv_net_step(device):
    mt.manual_seed(0)
    model = nn.Sequential(
        nn.Conv2d(1, 3, 3, padding=1),
        nn.ReLU(),
        nn.Conv2d(3, 4, 3, stride=2),
        nn.ReLU(),
        nn.Flatten(),
        nn.Linear(4 * 3 * 3, 5),
    ).to(device)
    opt = mt.optim.SGD(model.parameters(), lr=0.1, momentum=0.9)
    rng = np.random.default_rng(1)
    x = mt.tensor(rng.standard_normal((2, 1, 8, 8)).astype(np.float32), device=device)
    y = mt.tensor(rng.integers(0, 5, 2), device=device)
    loss = F.cross_entropy(model(x), y)
    loss.backward()
    opt.step()
    return loss.detach(), list(model.parameters())


def test_conv_net_training_step_matches_cpu():
    """Conv2d, ReLU, Conv2d (stride 2), ReLU, Flatten, Linear, cross entropy, SGD: one step
    on each device gives the same loss and parameters, with no device-to-host copy."""
    want_loss, want_params = _conv_net_step("cpu")
    with device_only("a convolution"):
        got_loss, got_params = _conv_net_step("cuda")
    _close(got_loss, want_loss, "loss")
    for got, want in zip(got_params, want_params):
        _close(got, want, "parameter after one step")
