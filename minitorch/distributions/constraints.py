"""The sets parameters and values must lie in (torch.distributions.constraints' names and
reprs, so that validation errors read as PyTorch's). Only the constraints the distributions
here use."""

from __future__ import annotations


class Constraint:
    """A set of values: `check(value)` is a boolean tensor, True where value is in the set."""

    is_discrete = False
    event_dim = 0

    def check(self, value):
        raise NotImplementedError

    def __repr__(self) -> str:
        return f"{type(self).__name__.lstrip('_')}()"


class _Real(Constraint):
    def check(self, value):
        return value == value  # (False only for nan)


class _Boolean(Constraint):
    is_discrete = True

    def check(self, value):
        return (value == 0) | (value == 1)


class _Bounded(Constraint):
    """Shared repr: the bounds by name, as PyTorch prints them."""

    def __init__(self, **bounds):
        self._bounds = bounds
        for name, bound in bounds.items():
            setattr(self, name, bound)

    def __repr__(self) -> str:
        args = ", ".join(f"{name}={bound}" for name, bound in self._bounds.items())
        return f"{type(self).__name__.lstrip('_')}({args})"


class _GreaterThan(_Bounded):
    def __init__(self, lower_bound):
        super().__init__(lower_bound=lower_bound)

    def check(self, value):
        return value > self.lower_bound


class _LessThan(_Bounded):
    def __init__(self, upper_bound):
        super().__init__(upper_bound=upper_bound)

    def check(self, value):
        return value < self.upper_bound


class _Interval(_Bounded):
    def __init__(self, lower_bound, upper_bound):
        super().__init__(lower_bound=lower_bound, upper_bound=upper_bound)

    def check(self, value):
        return (value >= self.lower_bound) & (value <= self.upper_bound)


class _IntegerInterval(_Interval):
    is_discrete = True

    def check(self, value):
        return (value % 1 == 0) & super().check(value)


class _IndependentReal(_Real):
    """real_vector: every element of the last dim real (event_dim 1)."""

    event_dim = 1

    def __repr__(self) -> str:
        return "IndependentConstraint(Real(), 1)"

    def check(self, value):
        return super().check(value).all(-1)


class _Simplex(Constraint):
    """Non-negative along the last dim, summing to 1 (within 1e-6, as PyTorch)."""

    event_dim = 1

    def check(self, value):
        return (value >= 0).all(-1) & ((value.sum(-1) - 1).abs() < 1e-6)


real = _Real()
real_vector = _IndependentReal()
boolean = _Boolean()
positive = _GreaterThan(0.0)
unit_interval = _Interval(0.0, 1.0)
simplex = _Simplex()
greater_than = _GreaterThan
less_than = _LessThan
interval = _Interval
integer_interval = _IntegerInterval
