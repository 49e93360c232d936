"""F.affine_grid and F.grid_sample against PyTorch: values, gradients to input, grid and theta,
errors, and an STN-like training step under minitorch.compile."""

import itertools

import numpy as np
import pytest

import minitorch
from minitorch import nn

torch = pytest.importorskip("torch")
MF, TF = minitorch.nn.functional, torch.nn.functional
RNG = np.random.default_rng(0)

MODES = ["bilinear", "nearest", "bicubic"]
PADDINGS = ["zeros", "border", "reflection"]
SHAPES = {  # name: (input shape, grid shape, grid scale): scales > 1 put points outside
    "small": ((2, 3, 5, 4), (2, 6, 7, 2), 1.2),
    "far_outside": ((1, 2, 4, 6), (1, 5, 3, 2), 3.5),
    "one_pixel_wide": ((2, 1, 3, 1), (2, 2, 4, 2), 1.5),
    "single_pixel": ((1, 2, 1, 1), (1, 3, 3, 2), 1.5),
    "edges_and_ties": ((2, 2, 3, 5), (2, 4, 5, 2), None),  # points on edges and half pixels
}
SHAPES_5D = {  # volumetric: (N, C, D, H, W) input, (N, D', H', W', 3) grid
    "volume": ((2, 3, 4, 5, 3), (2, 3, 4, 2, 3), 1.3),
    "volume_far_outside": ((1, 2, 1, 3, 2), (1, 2, 2, 3, 3), 2.5),
    "volume_edges_and_ties": ((1, 2, 3, 2, 4), (1, 3, 2, 2, 3), None),
}
EDGES = np.array([-1.5, -1.0, -0.75, -0.5, 0.0, 0.25, 0.5, 1.0, 1.25], np.float32)


def _sample_both(shape, mode, padding_mode, align_corners, seed=0):
    """grid_sample in both libraries on the same data; (output, input grad, grid grad) each."""
    rng = np.random.default_rng(seed)
    in_shape, grid_shape, scale = {**SHAPES, **SHAPES_5D}[shape]
    x = rng.standard_normal(in_shape).astype(np.float32)
    if scale is None:
        g = rng.choice(EDGES, grid_shape)
    else:
        g = (rng.uniform(-1, 1, grid_shape) * scale).astype(np.float32)
    results = []
    for lib, F in ((minitorch, MF), (torch, TF)):
        xi, gi = lib.tensor(x, requires_grad=True), lib.tensor(g, requires_grad=True)
        out = F.grid_sample(
            xi, gi, mode=mode, padding_mode=padding_mode, align_corners=align_corners
        )
        weights = np.linspace(-1, 2, out.numel(), dtype=np.float32).reshape(tuple(out.shape))
        (out * lib.tensor(weights)).sum().backward()
        results.append((out.detach().numpy(), xi.grad.numpy(), gi.grad.numpy()))
    return results


@pytest.mark.parametrize("shape", SHAPES)
@pytest.mark.parametrize(
    "mode,padding_mode,align_corners", list(itertools.product(MODES, PADDINGS, [False, True]))
)
def test_grid_sample_values_and_grads_match_torch(shape, mode, padding_mode, align_corners):
    ours, theirs = _sample_both(shape, mode, padding_mode, align_corners)
    for name, a, b in zip(("output", "input grad", "grid grad"), ours, theirs):
        assert a.shape == b.shape, name
        np.testing.assert_allclose(a, b, rtol=1e-4, atol=2e-4, err_msg=name)


@pytest.mark.parametrize("shape", SHAPES_5D)
@pytest.mark.parametrize(
    "mode,padding_mode,align_corners",
    list(itertools.product(["bilinear", "nearest"], PADDINGS, [False, True])),
)
def test_grid_sample_5d_values_and_grads_match_torch(shape, mode, padding_mode, align_corners):
    """Volumetric input: trilinear ("bilinear") and nearest, gradients to input and grid."""
    ours, theirs = _sample_both(shape, mode, padding_mode, align_corners)
    for name, a, b in zip(("output", "input grad", "grid grad"), ours, theirs):
        assert a.shape == b.shape, name
        np.testing.assert_allclose(a, b, rtol=1e-4, atol=2e-4, err_msg=name)
    if mode == "bilinear":
        assert np.abs(ours[2]).max() > 0.01  # (the grid gradient is not trivially zero)


@pytest.mark.parametrize("align_corners", [False, True])
def test_affine_grid_5d_then_grid_sample_matches_torch(align_corners):
    """A 3-D affine transform of a volume: theta's gradient through affine_grid and
    grid_sample, and the identity theta giving the volume back."""
    x = RNG.standard_normal((2, 2, 3, 4, 5)).astype(np.float32)
    th = (np.eye(3, 4) + RNG.uniform(-0.3, 0.3, (2, 3, 4))).astype(np.float32)
    results = []
    for lib, F in ((minitorch, MF), (torch, TF)):
        theta = lib.tensor(th, requires_grad=True)
        grid = F.affine_grid(theta, (2, 2, 3, 4, 5), align_corners=align_corners)
        out = F.grid_sample(lib.tensor(x), grid, align_corners=align_corners)
        out.pow(2).sum().backward()
        results.append((out.detach().numpy(), theta.grad.numpy()))
        identity = lib.tensor(np.tile(np.eye(3, 4, dtype=np.float32), (2, 1, 1)))
        grid = F.affine_grid(identity, (2, 2, 3, 4, 5), align_corners=align_corners)
        same = F.grid_sample(lib.tensor(x), grid, align_corners=align_corners)
        np.testing.assert_allclose(same.numpy(), x, rtol=1e-5, atol=1e-5)
    for a, b in zip(*results):
        np.testing.assert_allclose(a, b, rtol=1e-4, atol=1e-4)


def test_grid_sample_nearest_grid_grad_is_zeros_and_gradient_can_fail():
    ours, theirs = _sample_both("small", "nearest", "zeros", False)
    assert not ours[2].any() and not theirs[2].any()
    ours, _ = _sample_both("small", "bilinear", "zeros", False)
    _, other = _sample_both("small", "bilinear", "zeros", False, seed=1)
    assert np.abs(ours[2]).max() > 0.1  # the bilinear grid gradient is not trivially zero
    assert not np.allclose(ours[0], other[0])  # and the comparison can tell data apart


def test_grid_sample_identity_and_pixel_centres():
    x = minitorch.tensor(RNG.standard_normal((1, 2, 4, 5)).astype(np.float32))
    theta = minitorch.tensor([[[1.0, 0, 0], [0, 1.0, 0]]])
    for ac in (False, True):
        grid = MF.affine_grid(theta, (1, 2, 4, 5), align_corners=ac)
        out = MF.grid_sample(x, grid, align_corners=ac)
        np.testing.assert_allclose(out.numpy(), x.numpy(), rtol=1e-5, atol=1e-6)


@pytest.mark.filterwarnings("ignore:Since version 1.3.0")  # unit-size grids, as PyTorch
@pytest.mark.parametrize("size", [(2, 3, 4, 5), (2, 1, 1, 3), (1, 2, 3, 4, 2)])
@pytest.mark.parametrize("align_corners", [False, True])
def test_affine_grid_values_and_theta_grad_match_torch(size, align_corners):
    k = len(size) - 2
    th = RNG.standard_normal((size[0], k, k + 1)).astype(np.float32)
    results = []
    for lib, F in ((minitorch, MF), (torch, TF)):
        theta = lib.tensor(th, requires_grad=True)
        grid = F.affine_grid(theta, size, align_corners=align_corners)
        grid.pow(2).sum().backward()
        results.append((grid.detach().numpy(), theta.grad.numpy()))
    for a, b in zip(*results):
        assert a.shape == b.shape
        np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-5)


def test_align_corners_none_warns_like_torch():
    theta, x = np.eye(2, 3, dtype=np.float32)[None], np.ones((1, 1, 2, 2), np.float32)
    for lib, F in ((minitorch, MF), (torch, TF)):
        with pytest.warns(UserWarning, match="align_corners=False"):
            grid = F.affine_grid(lib.tensor(theta), (1, 1, 2, 2))
        with pytest.warns(UserWarning, match="align_corners=False"):
            F.grid_sample(lib.tensor(x), grid)
        with pytest.warns(UserWarning, match="unit-size grids"):
            F.affine_grid(lib.tensor(theta), (1, 1, 1, 2), align_corners=True)


def _sample(F, lib, input_shape, grid_shape, dtype="float32", **kw):
    grid = lib.zeros(*grid_shape, dtype=getattr(lib, dtype))
    return F.grid_sample(lib.zeros(*input_shape), grid, **{"align_corners": False, **kw})


def _affine(F, lib, theta_shape, size, dtype="float32"):
    theta = lib.zeros(*theta_shape, dtype=getattr(lib, dtype))
    return F.affine_grid(theta, size, align_corners=False)


@pytest.mark.parametrize(
    "call",
    [
        lambda F, lib: _sample(F, lib, (1, 1, 3, 3), (1, 2, 2, 2), mode="linear"),
        lambda F, lib: _sample(F, lib, (1, 1, 3, 3), (1, 2, 2, 2), padding_mode="reflect"),
        lambda F, lib: _sample(F, lib, (1, 3, 3), (1, 2, 2, 2)),
        lambda F, lib: _sample(F, lib, (1, 1, 3, 3), (1, 2, 2)),
        lambda F, lib: _sample(F, lib, (1, 1, 3, 3), (1, 2, 2, 3)),
        lambda F, lib: _sample(F, lib, (2, 1, 3, 3), (3, 2, 2, 2)),
        lambda F, lib: _sample(F, lib, (1, 1, 0, 3), (1, 2, 2, 2)),
        lambda F, lib: _sample(F, lib, (1, 1, 3, 3), (1, 2, 2, 2), dtype="float64"),
        lambda F, lib: _sample(F, lib, (1, 1, 2, 2, 2), (1, 1, 1, 1, 3), mode="bicubic"),
        lambda F, lib: _sample(F, lib, (1, 1, 2, 2, 2), (1, 1, 1, 1, 2)),
        lambda F, lib: _sample(F, lib, (1, 1, 2, 0, 2), (1, 1, 1, 1, 3)),
        lambda F, lib: _sample(F, lib, (1, 1, 2, 2, 2), (1, 1, 1, 3)),
        lambda F, lib: _affine(F, lib, (1, 2, 3), (1, 1, 4)),
        lambda F, lib: _affine(F, lib, (2, 2, 3), (1, 1, 4, 4)),
        lambda F, lib: _affine(F, lib, (1, 3, 3), (1, 1, 4, 4)),
        lambda F, lib: _affine(F, lib, (2, 3), (1, 1, 4, 4)),
        lambda F, lib: _affine(F, lib, (1, 2, 3), (1, 1, 4, 4, 4)),
        lambda F, lib: _affine(F, lib, (1, 2, 3), (1, 1, 0, 4)),
        lambda F, lib: _affine(F, lib, (1, 2, 3), (1, 1, 4, 4), dtype="int64"),
    ],
)
def test_errors_match_torch(call):
    with pytest.raises(Exception) as theirs:
        call(TF, torch)
    with pytest.raises(type(theirs.value), match="grid_sample|affine|Expected|expected"):
        call(MF, minitorch)


# ---- a spatial transformer's training step ------------------------------------------------------
class _STN(nn.Module):
    """Localisation net (Linear -> theta, started at the identity), grid_sample, conv head."""

    def __init__(self, mode: str, padding_mode: str):
        super().__init__()
        self.mode, self.padding_mode = mode, padding_mode
        self.loc = nn.Linear(36, 6)
        with minitorch.no_grad():
            self.loc.weight.mul_(0.1)
            self.loc.bias.copy_(minitorch.tensor([1.0, 0, 0, 0, 1.0, 0]))
        self.conv = nn.Conv2d(1, 2, 3)
        self.head = nn.Linear(2 * 4 * 4, 3)

    def forward(self, x):
        theta = self.loc(x.flatten(1)).view(-1, 2, 3)
        grid = MF.affine_grid(theta, x.shape, align_corners=False)
        x = MF.grid_sample(x, grid, self.mode, self.padding_mode, align_corners=False)
        return self.head(MF.relu(self.conv(x)).flatten(1))


def _train(compiled: bool, mode: str, padding_mode: str, steps: int = 4):
    minitorch.manual_seed(0)
    model = _STN(mode, padding_mode)
    opt = minitorch.optim.SGD(model.parameters(), lr=0.1)
    x = minitorch.tensor(np.random.default_rng(1).standard_normal((4, 1, 6, 6)).astype("f4"))
    y = minitorch.tensor([0, 2, 1, 2])

    def step(x, y):
        loss = MF.cross_entropy(model(x), y)
        opt.zero_grad()
        loss.backward()
        opt.step()
        return loss

    run = minitorch.compile(step) if compiled else step
    loc_start = model.loc.weight.detach().numpy().copy()
    losses = [run(x, y).item() for _ in range(steps)]
    assert np.abs(model.loc.weight.detach().numpy() - loc_start).max() > 1e-4  # grid -> theta
    if compiled:  # the first call runs eagerly, the second traces, later ones replay
        assert f"{steps - 2} replayed" in str(run.explain()), run.explain()
    return losses, [p.detach().numpy() for p in model.parameters()]


@pytest.mark.parametrize(
    "mode,padding_mode", [("bilinear", "border"), ("bilinear", "zeros"), ("bicubic", "reflection")]
)
def test_compiled_stn_step_matches_eager(mode, padding_mode):
    (eager_losses, eager_params), (losses, params) = (
        _train(compiled, mode, padding_mode) for compiled in (False, True)
    )
    assert eager_losses[-1] != eager_losses[0]  # it trains
    np.testing.assert_allclose(losses, eager_losses, rtol=1e-5)
    for a, b in zip(params, eager_params):
        np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-6)
