"""Grad modes: no_grad, enable_grad, set_grad_enabled, inference_mode (thread-local)."""

from __future__ import annotations

import functools
import threading


class _State(threading.local):
    enabled = True
    anomaly = False


state = _State()


def is_grad_enabled() -> bool:
    return state.enabled


class _GradMode:
    """Base for the context managers; each also works as a decorator, like PyTorch's."""

    mode = True

    def __enter__(self):
        self._prev = state.enabled
        state.enabled = self.mode

    def __exit__(self, *exc):
        state.enabled = self._prev
        return False

    def __call__(self, fn):
        mode = self.mode  # this instance's mode (inference_mode(False), set_grad_enabled(x))

        @functools.wraps(fn)
        def wrapper(*args, **kwargs):
            prev = state.enabled
            state.enabled = mode
            try:
                return fn(*args, **kwargs)
            finally:
                state.enabled = prev

        return wrapper


class _BareDecorator(_GradMode):
    """Also usable without parentheses: `@no_grad` as well as `@no_grad()` (as PyTorch)."""

    def __new__(cls, orig_func=None):
        if orig_func is None:
            return super().__new__(cls)
        return cls()(orig_func)


class no_grad(_BareDecorator):
    """Disable gradient recording: ops inside produce tensors with requires_grad=False."""

    mode = False


class enable_grad(_BareDecorator):
    """Re-enable gradient recording inside a no_grad block."""

    mode = True


class inference_mode(_GradMode):
    """Like no_grad (minitorch has no separate inference tensors)."""

    def __new__(cls, mode=True):
        if callable(mode):  # bare @inference_mode
            return cls()(mode)
        return super().__new__(cls)

    def __init__(self, mode: bool = True):
        self.mode = not mode

    def __call__(self, fn):
        if not callable(fn):
            raise TypeError("inference_mode: expected a function to decorate")
        return super().__call__(fn)


class set_grad_enabled(_GradMode):
    """Set grad mode on (True) or off (False); usable as a function or context manager."""

    def __init__(self, mode: bool):
        self.mode = bool(mode)
        self._prev = state.enabled
        state.enabled = self.mode

    def __enter__(self):
        pass

    def __exit__(self, *exc):
        state.enabled = self._prev
        return False

    def __call__(self, fn):
        state.enabled = self._prev  # used as a decorator: the mode applies inside fn only
        return super().__call__(fn)


class detect_anomaly:
    """Check every backward result for NaN and name the op that produced it."""

    def __init__(self, check_nan: bool = True):
        self.check_nan = check_nan

    def __enter__(self):
        self._prev = state.anomaly
        state.anomaly = self.check_nan

    def __exit__(self, *exc):
        state.anomaly = self._prev
        return False


def set_detect_anomaly(mode: bool) -> None:
    state.anomaly = bool(mode)


def is_anomaly_enabled() -> bool:
    return state.anomaly
