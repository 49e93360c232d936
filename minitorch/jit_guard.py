"""Host-sync guard: the tracer installs a check that rejects .item()/.numpy()/bool()."""

from __future__ import annotations

_guard = [None]


def check_host_sync(what: str) -> None:
    """Called by Tensor methods that move data to Python; a no-op outside a trace."""
    if _guard[0] is not None:
        _guard[0](what)
