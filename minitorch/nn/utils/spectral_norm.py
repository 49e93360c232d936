"""nn.utils.spectral_norm / remove_spectral_norm: PyTorch's older, hook-based spectral norm.

The weight is kept as the parameter `weight_orig` with power-iteration vectors in the buffers
`weight_u` and `weight_v`; a forward pre-hook sets module.weight = weight_orig / sigma before
every forward, refining u and v first in training mode. New code should use
nn.utils.parametrizations.spectral_norm.
"""

from __future__ import annotations

from ... import toplevel
from ...autograd.grad_mode import no_grad
from ...tensor import Tensor
from .. import functional as F
from ..modules.module import Module
from ..parameter import Parameter
from .parametrizations import _reshape_weight_to_matrix, _spectral_norm_dim
from .weight_norm import _hook_key, _remove_hook

__all__ = ["SpectralNorm", "spectral_norm", "remove_spectral_norm"]


class SpectralNorm:
    """The forward pre-hook that sets module.<name> = <name>_orig / sigma before each forward."""

    _version = 1  # saved state_dicts hold <name>_orig, _u, _v (version 0: <name>, _orig, _u)

    def __init__(self, name: str, n_power_iterations: int, dim: int, eps: float) -> None:
        if n_power_iterations <= 0:
            raise ValueError(
                "Expected n_power_iterations to be positive, but got "
                f"n_power_iterations={n_power_iterations}"
            )
        self.name, self.n_power_iterations, self.dim, self.eps = name, n_power_iterations, dim, eps
        self._load_hook = None  # the handle of the load_state_dict pre-hook apply() registers

    def compute_weight(self, module: Module, do_power_iteration: bool) -> Tensor:
        weight = getattr(module, self.name + "_orig")
        u = getattr(module, self.name + "_u")
        v = getattr(module, self.name + "_v")
        weight_mat = _reshape_weight_to_matrix(weight, self.dim)
        if do_power_iteration:
            # NOTE: v, then u, updated in place (PyTorch's order); the clones keep what this
            # forward saves for backward apart from the next forward's updates.
            with no_grad():
                for _ in range(self.n_power_iterations):
                    v.copy_(F.normalize(weight_mat.T.mv(u), dim=0, eps=self.eps))
                    u.copy_(F.normalize(weight_mat.mv(v), dim=0, eps=self.eps))
            u, v = u.clone(), v.clone()
        return weight / u.dot(weight_mat.mv(v))  # sigma = u^T W v

    @staticmethod
    def apply(module: Module, name: str, n_power_iterations: int, dim: int, eps: float):
        if _hook_key(module, SpectralNorm, name) is not None:
            raise RuntimeError(
                f"Cannot register two spectral_norm hooks on the same parameter {name}"
            )
        fn = SpectralNorm(name, n_power_iterations, dim, eps)
        weight = module._parameters.get(name)
        if weight is None:
            raise ValueError(f"`SpectralNorm` cannot be applied as parameter `{name}` is None")
        with no_grad():
            h, w = _reshape_weight_to_matrix(weight, dim).shape
            u = F.normalize(weight.new_empty(h).normal_(0, 1), dim=0, eps=eps)
            v = F.normalize(weight.new_empty(w).normal_(0, 1), dim=0, eps=eps)
        del module._parameters[name]
        module.register_parameter(name + "_orig", weight)
        setattr(module, name, weight.detach())
        module.register_buffer(name + "_u", u)
        module.register_buffer(name + "_v", v)
        module.register_forward_pre_hook(fn)
        fn._load_hook = module.register_load_state_dict_pre_hook(fn._load_state_dict_pre_hook)
        return fn

    def remove(self, module: Module) -> None:
        with no_grad():
            weight = self.compute_weight(module, do_power_iteration=False)
        self._load_hook.remove()
        delattr(module, self.name)
        for suffix in ("_u", "_v", "_orig"):
            delattr(module, self.name + suffix)
        module.register_parameter(self.name, Parameter(weight.detach()))

    def __call__(self, module: Module, inputs) -> None:
        setattr(module, self.name, self.compute_weight(module, module.training))

    def _load_state_dict_pre_hook(
        self, module, state_dict, prefix, local_metadata, strict, missing, unexpected, errors
    ) -> None:
        """Convert a version-0 state_dict (PyTorch < 1.0: <name>, _orig and _u, no _v) by
        solving for the v that reproduces its sigma. (minitorch keeps no state_dict metadata,
        so a dict without <name> is taken to be current, as PyTorch does for one without its
        version.)"""
        key = prefix + self.name
        if key not in state_dict or not all(key + s in state_dict for s in ("_orig", "_u")):
            return
        with no_grad():
            weight_orig = state_dict[key + "_orig"]
            sigma = (weight_orig / state_dict.pop(key)).mean()
            weight_mat = _reshape_weight_to_matrix(weight_orig, self.dim)
            u = state_dict[key + "_u"]
            wt = weight_mat.T
            v = (toplevel.pinverse(wt @ weight_mat) @ wt @ u.unsqueeze(1)).squeeze(1)
            state_dict[key + "_v"] = v * (sigma / u.dot(weight_mat.mv(v)))


def spectral_norm(
    module: Module,
    name: str = "weight",
    n_power_iterations: int = 1,
    eps: float = 1e-12,
    dim: int | None = None,
) -> Module:
    """Divide module.<name> by its largest singular value, estimated by power iteration on
    the buffers `<name>_u`, `<name>_v` (deprecated form of
    nn.utils.parametrizations.spectral_norm; see https://arxiv.org/abs/1802.05957).

    Example:
        >>> import minitorch as torch
        >>> m = torch.nn.utils.spectral_norm(torch.nn.Linear(20, 40))
        >>> list(m.state_dict())
        ['bias', 'weight_orig', 'weight_u', 'weight_v']
    """
    SpectralNorm.apply(module, name, n_power_iterations, _spectral_norm_dim(module, dim), eps)
    return module


def remove_spectral_norm(module: Module, name: str = "weight") -> Module:
    """Undo spectral_norm: module.<name> is one parameter again, holding the normalized weight."""
    return _remove_hook(module, SpectralNorm, name, "spectral_norm")
