"""minitorch.distributions: probability distributions as PyTorch's torch.distributions
(parameters broadcast, gradients through log_prob, entropy, rsample and kl_divergence;
samples from minitorch's Philox generator)."""

from . import constraints
from .bernoulli import Bernoulli
from .categorical import Categorical
from .distribution import Distribution
from .kl import kl_divergence, register_kl
from .normal import Normal
from .uniform import Uniform

__all__ = [
    "Bernoulli",
    "Categorical",
    "Distribution",
    "Normal",
    "Uniform",
    "constraints",
    "kl_divergence",
    "register_kl",
]
