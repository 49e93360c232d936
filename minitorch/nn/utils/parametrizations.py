"""nn.utils.parametrizations: orthogonal, weight_norm and spectral_norm built on parametrize.

Each registers a parametrization module on `module.<name>`, so the state_dict keys are
PyTorch's: weight_norm stores g as `parametrizations.weight.original0` and v as `original1`;
spectral_norm stores the weight as `parametrizations.weight.original` and its power-iteration
vectors as buffers `parametrizations.weight.0._u` / `._v`.
"""

from __future__ import annotations

from ... import dtypes, linalg
from ...autograd.grad_mode import no_grad
from ...functional import cat, eye
from ...tensor import Tensor
from .. import functional as F
from ..modules.conv import _ConvTransposeNd
from ..modules.module import Module
from . import parametrize

__all__ = ["orthogonal", "weight_norm", "spectral_norm"]


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


def _householder_product(A: Tensor, tau: Tensor) -> Tensor:
    """torch.linalg.householder_product: the first k columns of H_1 ... H_k, where
    H_i = I - tau_i v_i v_i^T and v_i is column i of A below the diagonal, 1 on it."""
    n, k = A.shape[-2], A.shape[-1]
    V = A.tril(-1) + eye(n, k, dtype=A.dtype)
    Q = eye(n, k, dtype=A.dtype).expand(*A.shape)
    for i in reversed(range(k)):  # H_i (H_i+1 ... H_k I), innermost first
        v = V[..., :, i : i + 1]
        Q = Q - tau[..., i : i + 1].unsqueeze(-1) * (v @ (v.mT @ Q))
    return Q


def _make_orthogonal(A: Tensor) -> Tensor:
    """The Q of A = QR (A tall) with diag(R) made non-negative, so Q is unique."""
    Q, R = linalg.qr(A)
    return Q * R.diagonal(dim1=-2, dim2=-1).sign().unsqueeze(-2)


class _Orthogonal(Module):
    MAPS = ("matrix_exp", "cayley", "householder")

    def __init__(self, weight: Tensor, orthogonal_map: str, *, use_trivialization: bool) -> None:
        super().__init__()
        if not use_trivialization:
            raise NotImplementedError(
                "orthogonal(use_trivialization=False) needs torch.geqrf, which minitorch lacks"
            )
        self.shape = weight.shape
        self.orthogonal_map = orthogonal_map
        self.register_buffer("base", None)

    def forward(self, X: Tensor) -> Tensor:
        n, k = X.shape[-2], X.shape[-1]
        transposed = n < k
        if transposed:
            X, n, k = X.mT, k, n
        if self.orthogonal_map in ("matrix_exp", "cayley"):  # of A = X - X^T, skew
            X = X.tril()
            if n != k:  # embed the n x k lower part in a square matrix
                X = cat([X, X.new_zeros(*X.shape[:-2], n, n - k)], dim=-1)
            A = X - X.mT
            if self.orthogonal_map == "matrix_exp":
                Q = linalg.matrix_exp(A)[..., :k]
            else:  # (I - A/2)^-1 (I + A/2)
                Id = eye(n, dtype=X.dtype)
                Q = linalg.solve(Id - 0.5 * A, Id + 0.5 * A)[..., :k]
        else:
            A = X.tril(-1)
            tau = 2.0 / (1.0 + (A * A).sum(dim=-2))
            # NOTE: X's diagonal (+-1 from right_inverse) sets the column signs; the int cast
            # keeps it out of the gradient, as PyTorch.
            Q = _householder_product(A, tau) * X.diagonal(dim1=-2, dim2=-1).int().unsqueeze(-2)
        Q = self.base @ Q
        return Q.mT if transposed else Q

    def right_inverse(self, Q: Tensor) -> Tensor:
        if Q.shape != self.shape:
            raise ValueError(
                f"Expected a matrix or batch of matrices of shape {self.shape}. "
                f"Got a tensor of shape {Q.shape}."
            )
        with no_grad():
            neg_id = Q.new_zeros(*Q.shape)
            neg_id.diagonal(dim1=-2, dim2=-1).fill_(-1.0)  # forward(-Id) is Id for every map
            n, k = Q.shape[-2], Q.shape[-1]
            if n < k:
                Q, n, k = Q.mT, k, n
            if n != k:  # complete Q to a square matrix with random columns
                Q = cat([Q, Q.new_empty(*Q.shape[:-2], n, n - k).normal_()], dim=-1)
            eps = 10.0 * n * (1.2e-7 if Q.dtype == dtypes.float32 else 2.3e-16)  # 10 n finfo.eps
            err = (Q.mT @ Q - eye(n, dtype=Q.dtype)).abs().amax()
            is_orthogonal = n == k and bool(err <= eps)
            self.base = Q.clone() if is_orthogonal else _make_orthogonal(Q)
        return neg_id


def orthogonal(
    module: Module,
    name: str = "weight",
    orthogonal_map: str | None = None,
    *,
    use_trivialization: bool = True,
) -> Module:
    """Keep `module.<name>` (a matrix or batch of them) orthogonal: Q = base @ map(X), X the
    trained `parametrizations.<name>.original`, `base` a buffer reset by each assignment.
    Maps: "matrix_exp" (exp of a skew-symmetric matrix, the default for square weights),
    "cayley" and "householder" (the default for non-square ones); use_trivialization=False
    raises NotImplementedError (it needs torch.geqrf).

    Example:
        >>> import minitorch as torch
        >>> from minitorch.nn.utils.parametrizations import orthogonal
        >>> m = orthogonal(torch.nn.Linear(3, 5))
        >>> w = m.weight
        >>> bool(((w.T @ w - torch.eye(3)).abs() < 1e-5).all())
        True
    """
    weight = getattr(module, name, None)
    if not isinstance(weight, Tensor):
        raise ValueError(f"Module '{module}' has no parameter or buffer with name '{name}'")
    if weight.ndim < 2:
        raise ValueError(
            f"Expected a matrix or batch of matrices. Got a tensor of {weight.ndim} dimensions."
        )
    if orthogonal_map is None:
        orthogonal_map = "matrix_exp" if weight.shape[-2] == weight.shape[-1] else "householder"
    if orthogonal_map not in _Orthogonal.MAPS:
        raise ValueError(
            'orthogonal_map has to be one of "matrix_exp", "cayley", "householder". '
            f"Got: {orthogonal_map}"
        )
    orth = _Orthogonal(weight, orthogonal_map, use_trivialization=use_trivialization)
    parametrize.register_parametrization(module, name, orth, unsafe=True)
    return module
