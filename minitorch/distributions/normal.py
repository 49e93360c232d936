"""Normal(loc, scale): the Gaussian, reparameterizable (rsample = loc + scale * randn)."""

from __future__ import annotations

import math
import numbers

from ..random import randn
from ..tensor import Tensor
from . import constraints
from .distribution import Distribution, broadcast_all


class Normal(Distribution):
    """torch.distributions.Normal; sample and rsample draw from minitorch's Philox generator
    (minitorch.manual_seed makes them reproducible; the numbers differ from PyTorch's).

    Example:
        >>> import minitorch as torch
        >>> d = torch.distributions.Normal(torch.tensor([0.0]), torch.tensor([2.0]))
        >>> round(d.log_prob(torch.tensor([0.0])).item(), 4)
        -1.6121
    """

    arg_constraints = {"loc": constraints.real, "scale": constraints.positive}
    support = constraints.real
    has_rsample = True

    def __init__(self, loc, scale, validate_args: bool | None = None):
        self.loc, self.scale = broadcast_all(loc, scale)
        both_numbers = isinstance(loc, numbers.Number) and isinstance(scale, numbers.Number)
        super().__init__(() if both_numbers else self.loc.shape, validate_args=validate_args)

    @property
    def mean(self) -> Tensor:
        return self.loc

    @property
    def mode(self) -> Tensor:
        return self.loc

    @property
    def stddev(self) -> Tensor:
        return self.scale

    @property
    def variance(self) -> Tensor:
        return self.scale * self.scale

    def rsample(self, sample_shape=()) -> Tensor:
        shape, loc = self._extended_shape(sample_shape), self.loc
        eps = randn(shape, dtype=loc.dtype, device=loc.device)
        return self.loc + eps * self.scale

    def log_prob(self, value: Tensor) -> Tensor:
        self._validate_sample(value)
        z = (value - self.loc) / self.scale
        return -0.5 * z * z - self.scale.log() - math.log(math.sqrt(2 * math.pi))

    def entropy(self) -> Tensor:
        return 0.5 + 0.5 * math.log(2 * math.pi) + self.scale.log()

    def cdf(self, value: Tensor) -> Tensor:
        self._validate_sample(value)
        return 0.5 * (1 + ((value - self.loc) / (self.scale * math.sqrt(2))).erf())

    def icdf(self, value: Tensor) -> Tensor:
        return self.loc + self.scale * (2 * value - 1).erfinv() * math.sqrt(2)
