"""Compile generated kernel source with Numba, cached on disk across processes.

Numba cannot cache exec()-generated functions, so each source is written to a real file
named by its content hash under the cache directory, registered in sys.modules, imported,
and compiled lazily with `cache=True` on first call. A second process finds both the file
and Numba's compiled code and does not compile again.
"""

from __future__ import annotations

import hashlib
import importlib.util
import os
import sys
import tempfile
from pathlib import Path

import numba

_loaded: dict[str, object] = {}
# Generated kernels inline the scalar helpers; Numba's cache only watches the kernel's own file,
# so the helpers' text is part of every kernel's name: editing a helper recompiles its users.
_HELPERS = ("scalar.py", "fastmath.py")


def _helpers_digest() -> str:
    here = Path(__file__).parent
    text = "".join((here / name).read_text() for name in _HELPERS)
    return hashlib.sha256(text.encode()).hexdigest()[:12]


_HELPERS_DIGEST = _helpers_digest()


def cache_dir() -> Path:
    """MINITORCH_CACHE_DIR, else ~/.cache/minitorch (XDG_CACHE_HOME respected)."""
    root = os.environ.get("MINITORCH_CACHE_DIR")
    if not root:
        base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
        root = os.path.join(base, "minitorch")
    return Path(root) / "kernels"


def load(source: str, name: str = "kernel"):
    """Return `name` from a module whose text is `source`, writing the file if needed."""
    fn = _loaded.get(source)
    if fn is not None:
        return fn
    key = f"{numba.__version__}\n{_HELPERS_DIGEST}\n{source}"
    digest = hashlib.sha256(key.encode()).hexdigest()[:20]
    # NOTE: content-hash names: identical source in any process maps to the same module and
    # Numba cache entry, and different sources never collide after fork (numba #10486).
    modname = f"minitorch_gen_{digest}"
    path = cache_dir() / f"{modname}.py"
    if not path.exists() or path.read_text() != source:
        _write_atomic(path, source)
    if os.environ.get("MINITORCH_DEBUG") == "1":
        print(f"# minitorch kernel {path}\n{source}", file=sys.stderr)
    spec = importlib.util.spec_from_file_location(modname, path)
    module = importlib.util.module_from_spec(spec)
    sys.modules[modname] = module  # before compiling: the cache loader imports it by name
    spec.loader.exec_module(module)
    fn = getattr(module, name)
    _loaded[source] = fn
    return fn


def _write_atomic(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, suffix=".tmp")
    with os.fdopen(fd, "w") as f:
        f.write(text)
    os.replace(tmp, path)
