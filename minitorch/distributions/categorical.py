"""Categorical(probs=None, logits=None): one of K categories, per row of the last dim."""

from __future__ import annotations

import functools
import math

from ..dtypes import finfo, int64
from ..functional import broadcast_tensors
from ..random import rand
from ..tensor import Tensor
from . import constraints
from .distribution import Distribution
from .utils import logits_to_probs, probs_to_logits


class Categorical(Distribution):
    """torch.distributions.Categorical. Give probs (non-negative, normalized over the last dim
    here) or logits (normalized to log-probabilities), not both.

    What differs from PyTorch: sample() draws by inverse CDF (one uniform number from
    minitorch's Philox generator per sample, compared with the cumulative probabilities),
    not through multinomial, so that it is made of registry ops and a traced step
    (minitorch.compile) draws new categories on every replay.
    """

    arg_constraints = {"probs": constraints.simplex, "logits": constraints.real_vector}
    has_enumerate_support = True

    def __init__(self, probs=None, logits=None, validate_args: bool | None = None):
        if (probs is None) == (logits is None):
            raise ValueError("Either `probs` or `logits` must be specified, but not both.")
        param = probs if probs is not None else logits
        if param.ndim < 1:
            name = "probs" if probs is not None else "logits"
            raise ValueError(f"`{name}` parameter must be at least one-dimensional.")
        if probs is not None:
            self.probs = probs / probs.sum(-1, keepdim=True)
        else:
            self.logits = logits - logits.logsumexp(-1, keepdim=True)
        self._param = param
        self._num_events = param.shape[-1]
        super().__init__(param.shape[:-1], validate_args=validate_args)

    # (each computed from the other on first use, then kept in __dict__)
    @functools.cached_property
    def logits(self) -> Tensor:
        return probs_to_logits(self.probs)

    @functools.cached_property
    def probs(self) -> Tensor:
        return logits_to_probs(self.logits)

    @property
    def param_shape(self):
        return self._param.shape

    @property
    def support(self):
        return constraints.integer_interval(0, self._num_events - 1)

    @property
    def mean(self) -> Tensor:
        return self.probs.new_full(self._extended_shape(), math.nan)

    @property
    def mode(self) -> Tensor:
        return self.probs.argmax(-1)

    @property
    def variance(self) -> Tensor:
        return self.probs.new_full(self._extended_shape(), math.nan)

    def sample(self, sample_shape=()) -> Tensor:
        shape = self._extended_shape(sample_shape)
        cdf = self.probs.detach().cumsum(-1)
        u = rand(tuple(shape) + (1,), dtype=cdf.dtype, device=cdf.device) * cdf[..., -1:]
        # the number of categories whose cumulative probability is <= u: a zero-probability
        # category is never picked; the clamp guards rounding where u reaches the total
        picked = (cdf <= u).to(int64).sum(-1)
        return picked.clamp(max=self._num_events - 1)

    def log_prob(self, value: Tensor) -> Tensor:
        self._validate_sample(value)
        value = value.to(int64).unsqueeze(-1)
        value, log_pmf = broadcast_tensors(value, self.logits)
        return log_pmf.gather(-1, value[..., :1]).squeeze(-1)

    def entropy(self) -> Tensor:
        # NOTE: logits of zero probabilities are -inf; clamped, 0 * min gives 0 (not nan)
        logits = self.logits.clamp(min=finfo(self.logits.dtype).min)
        return -(logits * self.probs).sum(-1)

    def enumerate_support(self, expand: bool = True) -> Tensor:
        from ..functional import arange  # noqa: PLC0415

        values = arange(self._num_events, dtype=int64, device=self._param.device)
        values = values.reshape((-1,) + (1,) * len(self.batch_shape))
        return values.expand((-1,) + tuple(self.batch_shape)) if expand else values
