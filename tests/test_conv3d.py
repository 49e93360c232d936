"""3-D convolution and pooling against PyTorch: values, indices, gradients, modules, errors,
and a compiled training step."""

from __future__ import annotations  # noqa: I001  (minitorch must come before torch)

import minitorch as mt
import minitorch.nn as mnn
import numpy as np
import pytest
from layer_parity import check_layer
from parity import check, torch

tnn = torch.nn
TOL = dict(atol=1e-5, rtol=1e-4)
pytestmark = pytest.mark.filterwarnings("ignore:Using padding='same' with even kernel")


def _f(name, *args, **kwargs):
    """lambda lib, *tensors: lib.nn.functional.<name>(*tensors, *args, **kwargs)."""
    return lambda lib, *xs: getattr(lib.nn.functional, name)(*xs, *args, **kwargs)


# ---- F.conv3d -----------------------------------------------------------------------------------
CONV3D = [  # x shape, weight shape, bias, kwargs
    ((2, 3, 6, 6, 6), (4, 3, 3, 3, 3), True, {}),
    ((2, 3, 7, 6, 5), (4, 3, 3, 2, 3), True, dict(stride=2, padding=1)),
    ((1, 2, 9, 7, 8), (3, 2, 2, 3, 2), False, dict(stride=(2, 1, 3), padding=(2, 0, 1))),
    ((1, 2, 9, 7, 8), (3, 2, 3, 2, 2), True, dict(dilation=(2, 1, 3), padding=(1, 2, 0))),
    ((2, 4, 5, 6, 5), (6, 2, 3, 3, 3), True, dict(padding="same", groups=2)),
    ((1, 4, 6, 5, 4), (4, 1, 2, 4, 2), True, dict(padding="same", groups=4, dilation=(1, 1, 2))),
    ((2, 3, 4, 4, 4), (2, 3, 4, 4, 4), True, dict(padding="valid")),
    ((3, 5, 6, 4), (4, 3, 3, 3, 3), True, dict(padding=1)),  # unbatched
    ((2, 3, 1, 1, 1), (4, 3, 1, 1, 1), True, {}),
]


@pytest.mark.parametrize("x, w, bias, kwargs", CONV3D)
def test_conv3d(x, w, bias, kwargs):
    shapes = (x, w, (w[0],)) if bias else (x, w)
    check(_f("conv3d", **kwargs), *shapes, lib=True, **TOL)


def test_conv3d_float64_and_top_level_alias():
    rng = np.random.default_rng(1)
    x, w, b = (rng.standard_normal(s) for s in ((2, 4, 5, 6, 4), (6, 2, 3, 2, 3), (6,)))
    out = check(
        lambda lib, *t: lib.conv3d(*t, stride=(1, 2, 1), padding=1, groups=2),
        x,
        w,
        b,
        lib=True,
        atol=1e-12,
        rtol=1e-10,
        grad_atol=1e-12,
        grad_rtol=1e-10,
    )
    assert out.dtype is mt.float64 and out.is_contiguous()


# ---- pooling ------------------------------------------------------------------------------------
MAX_POOL3D = [
    dict(kernel_size=2),
    dict(kernel_size=(3, 2, 2), stride=2, padding=1),
    dict(kernel_size=3, stride=(1, 2, 2), padding=(1, 0, 1), ceil_mode=True),
    dict(kernel_size=(2, 3, 2), stride=1, dilation=(2, 1, 2)),
    dict(kernel_size=3, stride=2, padding=1, dilation=1, ceil_mode=True),
]


@pytest.mark.parametrize("kwargs", MAX_POOL3D)
@pytest.mark.parametrize("shape", [(2, 3, 7, 6, 5), (3, 6, 7, 8)])
def test_max_pool3d_values_indices_and_grads(kwargs, shape):
    check(_f("max_pool3d", return_indices=True, **kwargs), shape, lib=True, **TOL)
    check(_f("max_pool3d", **kwargs), shape, lib=True, **TOL)


def test_max_pool3d_ties_pick_the_first_maximum_and_top_level_alias():
    x = np.zeros((1, 1, 4, 4, 4), np.float32)
    x[0, 0, 1:3, 0:2, 1:3] = 1.0  # many equal maxima in each window
    check(_f("max_pool3d", 2, 2, return_indices=True), x, lib=True)
    check(lambda lib, t: lib.max_pool3d(t, 3, 1, 1), (1, 2, 5, 4, 4), lib=True, **TOL)


AVG_POOL3D = [
    dict(kernel_size=2),
    dict(kernel_size=(3, 2, 2), stride=2, padding=1),
    dict(kernel_size=(3, 2, 2), stride=2, padding=1, count_include_pad=False),
    dict(kernel_size=3, stride=2, padding=1, ceil_mode=True),
    dict(kernel_size=3, stride=2, padding=1, ceil_mode=True, count_include_pad=False),
    dict(kernel_size=(2, 3, 3), stride=(1, 2, 2), padding=(1, 1, 0), divisor_override=5),
]


@pytest.mark.parametrize("kwargs", AVG_POOL3D)
@pytest.mark.parametrize("shape", [(2, 3, 7, 6, 5), (3, 6, 7, 8)])
def test_avg_pool3d(kwargs, shape):
    check(_f("avg_pool3d", **kwargs), shape, lib=True, **TOL)


@pytest.mark.parametrize("size", [1, 2, (3, None, 2), (4, 5, 3)])
@pytest.mark.parametrize("shape", [(2, 3, 7, 6, 5), (3, 6, 7, 8)])
def test_adaptive_pool3d(size, shape):
    check(_f("adaptive_avg_pool3d", size), shape, lib=True, **TOL)
    check(_f("adaptive_max_pool3d", size, return_indices=True), shape, lib=True, **TOL)


# ---- modules ------------------------------------------------------------------------------------
CONV3D_MODULES = [
    ((3, 4, 3), dict()),
    ((4, 6, (3, 2, 1)), dict(stride=(2, 1, 1), padding=(1, 0, 0), groups=2, bias=False)),
    ((2, 4, 3), dict(padding="same", dilation=2)),
    ((2, 4, 3), dict(padding=1, padding_mode="reflect")),
    ((2, 4, 3), dict(padding=(1, 2, 1), padding_mode="replicate")),
    ((2, 4, 3), dict(padding=1, padding_mode="circular")),
]


@pytest.mark.parametrize("args, kwargs", CONV3D_MODULES)
def test_conv3d_module(args, kwargs):
    m, t = mnn.Conv3d(*args, **kwargs), tnn.Conv3d(*args, **kwargs)
    assert repr(m) == repr(t)
    assert {k: tuple(v.shape) for k, v in m.state_dict().items()} == {
        k: tuple(v.shape) for k, v in t.state_dict().items()
    }
    bound = 1 / np.sqrt(t.weight[0].numel())  # kaiming_uniform(a=sqrt(5)): U(-b, b)
    assert np.abs(m.weight.detach().numpy()).max() <= bound
    assert np.abs(m.weight.detach().numpy()).max() > 0.5 * bound
    check_layer(m, t, (2, args[0], 5, 6, 5), **TOL)
    check_layer(m, t, (args[0], 5, 6, 5), **TOL)  # unbatched


@pytest.mark.parametrize(
    "make",
    [
        lambda nn: nn.MaxPool3d(2),
        lambda nn: nn.MaxPool3d((3, 2, 2), stride=(2, 1, 2), padding=1, ceil_mode=True),
        lambda nn: nn.MaxPool3d(2, return_indices=True, dilation=2),
        lambda nn: nn.AvgPool3d(2),
        lambda nn: nn.AvgPool3d(3, 2, 1, ceil_mode=True, count_include_pad=False),
        lambda nn: nn.AvgPool3d(3, 2, 1, divisor_override=2),
        lambda nn: nn.AdaptiveAvgPool3d((2, 3, None)),
        lambda nn: nn.AdaptiveMaxPool3d(2, return_indices=True),
    ],
)
def test_pool3d_modules(make):
    m, t = make(mnn), make(tnn)
    assert repr(m) == repr(t)
    assert list(m.state_dict()) == list(t.state_dict()) == []
    check_layer(m, t, (2, 3, 7, 6, 5), **TOL)


# ---- errors -------------------------------------------------------------------------------------
ERRORS = [
    (_f("conv3d"), ((4, 5, 5), (8, 4, 3, 3, 3)), r"Expected 4D \(unbatched\) or 5D .* to conv3d"),
    (_f("conv3d"), ((1, 4, 5, 5, 5), (8, 3, 3, 3, 3)), r"conv3d: Given groups=1.*3 channels"),
    (_f("conv3d"), ((1, 4, 5, 5, 5), (8, 4, 3, 3)), r"conv3d: Expected 5-dimensional weight"),
    (_f("conv3d"), ((1, 4, 2, 5, 5), (8, 4, 3, 3, 3)), r"conv3d: Calculated padded input size"),
    (_f("conv3d", groups=3), ((1, 3, 5, 5, 5), (8, 1, 3, 3, 3)), r"divisible by 3"),
    (_f("conv3d", stride=(1, 1)), ((1, 4, 5, 5, 5), (8, 4, 3, 3, 3)), r"list of 3 values"),
    (_f("max_pool3d", 2), ((4, 5, 5),), r"max_pool3d: non-empty 4D or 5D"),
    (_f("max_pool3d", 2), ((1, 1, 1, 5, 5),), r"max_pool3d: Given input size.*too small"),
    (_f("max_pool3d", 2, padding=2), ((1, 1, 4, 5, 5),), r"pad should be at most half"),
    (_f("avg_pool3d", 2), ((1, 1, 1, 5, 5),), r"avg_pool3d: Given input size.*too small"),
    (_f("avg_pool3d", 2, divisor_override=0), ((1, 1, 4, 4, 4),), r"divisor must be not zero"),
    (_f("adaptive_avg_pool3d", 2), ((4, 5),), r"adaptive_avg_pool3d\(\): Expected 4D or 5D"),
]


@pytest.mark.parametrize("fn, shapes, match", ERRORS)
def test_errors_like_torch(fn, shapes, match):
    err = check(fn, *shapes, lib=True)
    assert isinstance(err, RuntimeError)
    with pytest.raises(RuntimeError, match=match):
        fn(mt, *(mt.zeros(s) for s in shapes))


def test_conv3d_dtype_mismatch():
    with pytest.raises(RuntimeError, match=r"conv3d: Input type \(float64\) and weight type"):
        mt.nn.functional.conv3d(mt.zeros(1, 2, 3, 3, 3, dtype=mt.float64), mt.zeros(1, 2, 1, 1, 1))


# ---- a compiled training step -------------------------------------------------------------------
def _model_and_step(seed=0):
    mt.manual_seed(seed)
    model = mnn.Sequential(
        mnn.Conv3d(2, 4, 3, padding=1),
        mnn.ReLU(),
        mnn.MaxPool3d(2),
        mnn.Conv3d(4, 4, (1, 3, 3), groups=2),
        mnn.AvgPool3d(2, ceil_mode=True),
        mnn.Flatten(),
        mnn.Linear(8, 3),
    )
    opt = mt.optim.SGD(model.parameters(), lr=0.1, momentum=0.9)

    def step(x, y):
        opt.zero_grad()
        loss = mt.nn.functional.cross_entropy(model(x), y)
        loss.backward()
        opt.step()
        return loss

    return model, step


def test_compiled_training_step_equals_eager():
    rng = np.random.default_rng(0)
    x = mt.tensor(rng.standard_normal((3, 2, 6, 8, 8)).astype(np.float32))
    y = mt.tensor(rng.integers(0, 3, 3))
    model_e, eager = _model_and_step()
    model_c, step = _model_and_step()
    compiled = mt.compile(step)
    for i in range(4):
        a, b = eager(x, y), compiled(x, y)
        np.testing.assert_allclose(a.item(), b.item(), rtol=1e-6, err_msg=f"step {i}")
    assert compiled.stats.replays >= 2
    for (name, a), b in zip(model_e.state_dict().items(), model_c.state_dict().values()):
        np.testing.assert_allclose(a.numpy(), b.numpy(), rtol=1e-6, atol=1e-7, err_msg=name)
