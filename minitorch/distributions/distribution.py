"""Distribution: the base of minitorch.distributions (torch.distributions.Distribution).

What differs from PyTorch: inside `minitorch.compile`, parameter and value checks are skipped
(they read values into Python, which a replayed trace cannot do); run the step eagerly once
to have them checked.
"""

from __future__ import annotations

import numbers

from .. import jit_guard
from ..autograd import no_grad
from ..dtypes import get_default_dtype
from ..functional import broadcast_tensors, tensor
from ..tensor import Size, Tensor


class Distribution:
    """Base class: batch_shape, event_shape, sample/rsample, log_prob, entropy, moments."""

    has_rsample = False
    has_enumerate_support = False
    arg_constraints: dict = {}
    support = None
    _validate_args = __debug__  # (PyTorch's default: checks on unless python -O)

    @staticmethod
    def set_default_validate_args(value: bool) -> None:
        if value not in (True, False):
            raise ValueError(f"set_default_validate_args: expected True or False, got {value!r}")
        Distribution._validate_args = value

    def __init__(self, batch_shape=(), event_shape=(), validate_args: bool | None = None):
        self._batch_shape = Size(batch_shape)
        self._event_shape = Size(event_shape)
        if validate_args is not None:
            self._validate_args = validate_args
        if self._validate_args and not _tracing():
            for name, constraint in self.arg_constraints.items():
                if name in self.__dict__:  # (only given parameters, not derived ones)
                    self._check(name, self.__dict__[name], constraint)

    def _check(self, name: str, value: Tensor, constraint) -> None:
        if not bool(constraint.check(value).all()):
            raise ValueError(
                f"Expected parameter {name} (Tensor of shape {tuple(value.shape)}) of "
                f"distribution {self!r} to satisfy the constraint {constraint!r}, but found "
                f"invalid values:\n{value}"
            )

    @property
    def batch_shape(self) -> Size:
        return self._batch_shape

    @property
    def event_shape(self) -> Size:
        return self._event_shape

    def _extended_shape(self, sample_shape=()) -> Size:
        return Size(tuple(sample_shape) + self._batch_shape + self._event_shape)

    def sample(self, sample_shape=()) -> Tensor:
        """A sample (no gradient); reparameterized distributions draw through rsample."""
        with no_grad():
            return self.rsample(sample_shape)

    def rsample(self, sample_shape=()) -> Tensor:
        raise NotImplementedError(
            f"{type(self).__name__} has no rsample (it is not reparameterizable); use sample()"
        )

    def log_prob(self, value: Tensor) -> Tensor:
        raise NotImplementedError

    def entropy(self) -> Tensor:
        raise NotImplementedError

    @property
    def mean(self) -> Tensor:
        raise NotImplementedError(f"{type(self).__name__} has no mean")

    @property
    def mode(self) -> Tensor:
        raise NotImplementedError(f"{type(self).__name__} has no mode")

    @property
    def variance(self) -> Tensor:
        raise NotImplementedError(f"{type(self).__name__} has no variance")

    @property
    def stddev(self) -> Tensor:
        return self.variance.sqrt()

    def _validate_sample(self, value) -> None:
        """PyTorch's checks of a value given to log_prob: a Tensor, of a shape that broadcasts
        with batch_shape + event_shape, inside the support."""
        if not self._validate_args or _tracing():
            return
        if not isinstance(value, Tensor):
            raise ValueError("The value argument to log_prob must be a Tensor")
        n = len(self._event_shape)
        if tuple(value.shape[len(value.shape) - n :]) != tuple(self._event_shape):
            raise ValueError(
                "The right-most size of value must match event_shape: "
                f"{value.shape} vs {self._event_shape}."
            )
        expected = Size(self._batch_shape + self._event_shape)
        for i, j in zip(reversed(value.shape), reversed(expected)):
            if i != 1 and j != 1 and i != j:
                raise ValueError(
                    "Value is not broadcastable with batch_shape+event_shape: "
                    f"{value.shape} vs {expected}."
                )
        if not bool(self.support.check(value).all()):
            raise ValueError(
                f"Expected value argument (Tensor of shape {tuple(value.shape)}) to be within "
                f"the support ({self.support!r}) of the distribution {self!r}, but found "
                f"invalid values:\n{_plain(value)}"
            )

    def __repr__(self) -> str:
        names = [k for k in self.arg_constraints if k in self.__dict__]
        args = ", ".join(f"{k}: {_shown(self.__dict__[k])}" for k in names)
        return f"{type(self).__name__}({args})"


def _tracing() -> bool:
    return jit_guard.capture[0] is not None


def _plain(value: Tensor):
    return value.item() if value.ndim == 0 else value


def _shown(value: Tensor):
    """A parameter as PyTorch's repr shows it: a number, a one-element tensor, or a shape."""
    return value.item() if value.ndim == 0 else value if value.numel() == 1 else value.shape


def broadcast_all(*values) -> tuple[Tensor, ...]:
    """Parameters as tensors of one shape: numbers take the dtype of the tensors among them
    (the default dtype if none)."""
    tensors = [v for v in values if isinstance(v, Tensor)]
    for v in values:
        if not isinstance(v, (Tensor, numbers.Number)):
            raise ValueError(
                f"Input arguments must all be instances of numbers.Number or Tensor, got {v!r}"
            )
    dtype = tensors[0].dtype if tensors else get_default_dtype()
    as_tensors = [v if isinstance(v, Tensor) else tensor(v, dtype=dtype) for v in values]
    return tuple(broadcast_tensors(*as_tensors))
