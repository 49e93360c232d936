"""nn.utils.parametrizations: weight_norm and spectral_norm built on parametrize.

Each registers a parametrization module on `module.<name>`, so the state_dict keys are
PyTorch's: weight_norm stores g as `parametrizations.weight.original0` and v as `original1`;
spectral_norm stores the weight as `parametrizations.weight.original` and its power-iteration
vectors as buffers `parametrizations.weight.0._u` / `._v`.
"""

from __future__ import annotations

from ...autograd.grad_mode import no_grad
from ...tensor import Tensor
from .. import functional as F
from ..modules.conv import _ConvTransposeNd
from ..modules.module import Module
from . import parametrize

__all__ = ["weight_norm", "spectral_norm"]


def _norm_except_dim(v: Tensor, dim: int) -> Tensor:
    """The 2-norm of v over every dim but `dim`, kept broadcastable against v (dim=-1: the
    norm of the whole tensor, PyTorch's norm_except_dim convention, not the last dim)."""
    if dim == -1:
        return v.norm()
    shape = [1] * v.ndim
    shape[dim] = v.shape[dim]
    return v.movedim(dim, 0).reshape(v.shape[dim], -1).norm(dim=1).reshape(shape)


def _reshape_weight_to_matrix(weight: Tensor, dim: int) -> Tensor:
    """The weight as a matrix for spectral norm: `dim` (the output dim) first, the rest flat."""
    if dim != 0:
        weight = weight.movedim(dim, 0)
    return weight.flatten(1)


def _spectral_norm_dim(module: Module, dim: int | None) -> int:
    """spectral_norm's default dim: 1 for a ConvTranspose (out channels), else 0."""
    if dim is not None:
        return dim
    return 1 if isinstance(module, _ConvTransposeNd) else 0


def _weight_norm(v: Tensor, g: Tensor, dim: int) -> Tensor:
    """w = g * v / ||v||, the norm taken over every dim but `dim` (torch._weight_norm)."""
    return v * (g / _norm_except_dim(v, dim))


class _WeightNorm(Module):
    def __init__(self, dim: int | None = 0) -> None:
        super().__init__()
        self.dim = -1 if dim is None else dim

    def forward(self, weight_g: Tensor, weight_v: Tensor) -> Tensor:
        return _weight_norm(weight_v, weight_g, self.dim)

    def right_inverse(self, weight: Tensor) -> tuple[Tensor, Tensor]:
        return _norm_except_dim(weight, self.dim), weight


def weight_norm(module: Module, name: str = "weight", dim: int | None = 0) -> Module:
    """Split `module.<name>` into a magnitude g (original0) and a direction v (original1):
    w = g * v / ||v||, the norm taken per slice along `dim` (over the whole tensor when
    dim=None). See https://arxiv.org/abs/1602.07868.

    A state_dict saved with the older nn.utils.weight_norm (`weight_g`, `weight_v`) loads too.

    Example:
        >>> import minitorch as torch
        >>> from minitorch.nn.utils.parametrizations import weight_norm
        >>> m = weight_norm(torch.nn.Linear(20, 40))
        >>> m.parametrizations.weight.original0.shape, m.parametrizations.weight.original1.shape
        (minitorch.Size([40, 1]), minitorch.Size([40, 20]))
    """
    parametrize.register_parametrization(module, name, _WeightNorm(dim), unsafe=True)

    def _weight_norm_compat_hook(
        module, state_dict, prefix, local_metadata, strict, missing, unexpected, errors
    ) -> None:
        g_key, v_key = f"{prefix}{name}_g", f"{prefix}{name}_v"
        if g_key in state_dict and v_key in state_dict:
            state_dict[f"{prefix}parametrizations.{name}.original0"] = state_dict.pop(g_key)
            state_dict[f"{prefix}parametrizations.{name}.original1"] = state_dict.pop(v_key)

    module.register_load_state_dict_pre_hook(_weight_norm_compat_hook)
    return module


class _SpectralNorm(Module):
    def __init__(
        self, weight: Tensor, n_power_iterations: int = 1, dim: int = 0, eps: float = 1e-12
    ) -> None:
        super().__init__()
        ndim = weight.ndim
        if dim >= ndim or dim < -ndim:
            raise IndexError(
                f"Dimension out of range (expected to be in range of [-{ndim}, {ndim - 1}] "
                f"but got {dim})"
            )
        if n_power_iterations <= 0:
            raise ValueError(
                "Expected n_power_iterations to be positive, but got "
                f"n_power_iterations={n_power_iterations}"
            )
        self.dim = dim if dim >= 0 else dim + ndim
        self.eps = eps
        if ndim > 1:  # a vector is normalized exactly (see forward): no u, v to estimate
            self.n_power_iterations = n_power_iterations
            weight_mat = _reshape_weight_to_matrix(weight, self.dim)
            h, w = weight_mat.shape
            u = weight_mat.new_empty(h).normal_(0, 1)
            v = weight_mat.new_empty(w).normal_(0, 1)
            self.register_buffer("_u", F.normalize(u, dim=0, eps=self.eps))
            self.register_buffer("_v", F.normalize(v, dim=0, eps=self.eps))
            self._power_method(weight_mat, 15)  # start from good estimates, as PyTorch

    def _power_method(self, weight_mat: Tensor, n_power_iterations: int) -> None:
        # NOTE: u and v are updated in place (they are the module's buffers, and a traced
        # step replays the writes); forward reads clones, so a second forward before backward
        # (a GAN's D(real) and D(fake)) does not change what the first one saved.
        with no_grad():
            for _ in range(n_power_iterations):
                self._u.copy_(F.normalize(weight_mat.mv(self._v), dim=0, eps=self.eps))
                self._v.copy_(F.normalize(weight_mat.T.mv(self._u), dim=0, eps=self.eps))

    def forward(self, weight: Tensor) -> Tensor:
        if weight.ndim == 1:
            return F.normalize(weight, dim=0, eps=self.eps)
        weight_mat = _reshape_weight_to_matrix(weight, self.dim)
        if self.training:
            self._power_method(weight_mat, self.n_power_iterations)
        u, v = self._u.clone(), self._v.clone()
        sigma = u.dot(weight_mat.mv(v))  # u^T W v, the largest singular value's estimate
        return weight / sigma

    def right_inverse(self, value: Tensor) -> Tensor:
        return value


def spectral_norm(
    module: Module,
    name: str = "weight",
    n_power_iterations: int = 1,
    eps: float = 1e-12,
    dim: int | None = None,
) -> Module:
    """Divide `module.<name>` by its largest singular value, estimated by power iteration
    (`n_power_iterations` steps at each access in training mode), as in GAN discriminators.
    See https://arxiv.org/abs/1802.05957.

    Args:
        module: the module holding the weight.
        name: the weight's name.
        n_power_iterations: power-iteration steps per access in training mode.
        eps: added stability in the vector normalizations.
        dim: the output dimension (default 0; 1 for ConvTranspose1d/2d).

    Example:
        >>> import minitorch as torch
        >>> from minitorch.nn.utils.parametrizations import spectral_norm
        >>> m = spectral_norm(torch.nn.Linear(20, 40))
        >>> [k.split(".", 2)[-1] for k in m.state_dict() if k.startswith("parametrizations")]
        ['original', '0._u', '0._v']
    """
    weight = getattr(module, name, None)
    if not isinstance(weight, Tensor):
        raise ValueError(f"Module '{module}' has no parameter or buffer with name '{name}'")
    dim = _spectral_norm_dim(module, dim)
    parametrize.register_parametrization(
        module, name, _SpectralNorm(weight, n_power_iterations, dim, eps)
    )
    return module
