"""Compile generated kernel source with Numba, cached on disk across processes.

Numba cannot cache exec()-generated functions, so each source is written to a real file
named by its content hash under the cache directory, registered in sys.modules, imported,
and compiled lazily with `cache=True` on first call. A second process finds both the file
and Numba's compiled code and does not compile again.

`stats` counts what happened in this process (sources written, kernels loaded, Numba
compilations and their seconds, damaged cache entries rebuilt) and `kernels()` lists the
loaded kernels with their source files, so tests and `minitorch.compile(...).explain()` can
tell "compiled" from "loaded from the cache". A damaged cache entry (a truncated source, a
garbage `.pyc`, `.nbi` or `.nbc`) is deleted and rebuilt, never a crash. Inside `in_memory()`
(`minitorch.compile(..., cache=False)`) kernels are compiled without touching the disk.
"""

from __future__ import annotations

import contextlib
import functools
import hashlib
import importlib.util
import os
import sys
import tempfile
import time
import warnings
from dataclasses import dataclass
from pathlib import Path

import numba
from numba.core import event

_loaded: dict[str, object] = {}
# Generated kernels inline the scalar helpers; Numba's cache only watches the kernel's own file,
# so the helpers' text is part of every kernel's name: editing a helper recompiles its users.
_HELPERS = ("scalar.py", "fastmath.py")


def _helpers_digest() -> str:
    here = Path(__file__).parent
    text = "".join((here / name).read_text() for name in _HELPERS)
    return hashlib.sha256(text.encode()).hexdigest()[:12]


_HELPERS_DIGEST = _helpers_digest()


@dataclass
class CompilerStats:
    """What this process did; counters only grow (take differences around a region)."""

    sources_written: int = 0  # generated source files written (new, or replacing a bad one)
    kernels_loaded: int = 0  # generated modules imported
    # Functions Numba compiled to machine code: any njit function, generated or hand-written.
    # Loading from Numba's on-disk cache does not count.
    numba_compiles: int = 0
    compile_seconds: float = 0.0  # wall time of those compilations (outermost ones)
    cache_repairs: int = 0  # unreadable cache entries deleted and rebuilt


stats = CompilerStats()


@dataclass(frozen=True)
class Kernel:
    """A generated kernel loaded in this process: its module, source file (None: compiled in
    memory, see in_memory) and dispatcher."""

    module: str
    path: Path | None
    dispatcher: object

    @property
    def compiled(self) -> int:
        """Signatures Numba compiled for this kernel in this process."""
        stats = getattr(self.dispatcher, "stats", None)  # None under NUMBA_DISABLE_JIT=1
        return sum(stats.cache_misses.values()) if stats else 0

    @property
    def cache_hits(self) -> int:
        """Signatures loaded from Numba's on-disk cache in this process."""
        stats = getattr(self.dispatcher, "stats", None)
        return sum(stats.cache_hits.values()) if stats else 0


_kernels: list[Kernel] = []


def kernels() -> list[Kernel]:
    """The generated kernels loaded in this process, in load order."""
    return list(_kernels)


class _CompileListener(event.Listener):
    """Counts Numba's "numba:compile" events, which fire only for a real compilation."""

    def __init__(self):
        self._depth = 0  # a kernel's compile compiles the njit functions it calls, nested
        self._start = 0.0

    def on_start(self, ev) -> None:
        stats.numba_compiles += 1
        if self._depth == 0:
            self._start = time.perf_counter()
        self._depth += 1

    def on_end(self, ev) -> None:
        self._depth -= 1
        if self._depth == 0:
            stats.compile_seconds += time.perf_counter() - self._start


event.register("numba:compile", _CompileListener())


def cache_dir() -> Path:
    """MINITORCH_CACHE_DIR, else ~/.cache/minitorch (XDG_CACHE_HOME respected)."""
    root = os.environ.get("MINITORCH_CACHE_DIR")
    if not root:
        base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
        root = os.path.join(base, "minitorch")
    return Path(root) / "kernels"


def _writable_cache_dir() -> Path | None:
    """cache_dir(), or None where it cannot hold files (a file, a read-only folder): kernels
    are then compiled in memory, as with in_memory(), not a crash of every run."""
    folder = cache_dir()
    return folder if _writable(folder) else None


@functools.cache
def _writable(folder: Path) -> bool:
    """Whether a file can be made in folder (made if missing); warns once per folder if not."""
    try:
        folder.mkdir(parents=True, exist_ok=True)
        fd, probe = tempfile.mkstemp(dir=folder, suffix=".tmp")
        os.close(fd)
        os.unlink(probe)
        return True
    except OSError as e:
        warnings.warn(
            f"minitorch: the kernel cache {folder} cannot be written ({type(e).__name__}: {e}); "
            "compiling generated kernels in memory, so every process compiles them again. Set "
            "MINITORCH_CACHE_DIR to a writable folder.",
            RuntimeWarning,
            stacklevel=4,
        )
        return False


_memory_depth = 0  # > 0 inside in_memory()


@contextlib.contextmanager
def in_memory():
    """Kernels first loaded inside are compiled in memory only: no source file is written and
    Numba's on-disk cache is neither read nor written for them (`minitorch.compile(...,
    cache=False)`). A kernel this process loaded before is shared as it is."""
    global _memory_depth
    _memory_depth += 1
    try:
        yield
    finally:
        _memory_depth -= 1


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
    folder = None if _memory_depth else _writable_cache_dir()
    path = None if folder is None else folder / f"{modname}.py"
    if os.environ.get("MINITORCH_DEBUG") == "1":
        print(f"# minitorch kernel {path or modname + ' (in memory)'}\n{source}", file=sys.stderr)
    if path is None:
        fn = getattr(_exec_module(modname, source), name)
    else:
        fn = getattr(_import_or_repair(modname, path, source), name)
        if hasattr(fn, "_cache"):  # NUMBA_DISABLE_JIT=1 leaves a plain Python function
            fn._cache = _RepairingCache(fn._cache, modname, path)
    _kernels.append(Kernel(modname, path, fn))
    _loaded[source] = fn
    return fn


def _import_or_repair(modname: str, path: Path, source: str):
    try:
        return _import(modname, path, source)
    except Exception as e:  # noqa: BLE001  (a damaged .pyc: any error unmarshalling it)
        _repair(modname, path, e)
        return _import(modname, path, source)


def _exec_module(modname: str, source: str):
    """The module of `source`, run from its text, its kernels compiled without Numba's cache.

    NOTE: generated sources ask for the cache in their decorators (`cache=True`), and Numba
    refuses that for code that has no file; the text is the generator's own, so the flag is
    switched off there."""
    module = type(sys)(modname)
    text = source.replace("cache=True", "cache=False")
    exec(compile(text, f"<minitorch kernel {modname}>", "exec"), module.__dict__)  # noqa: S102
    stats.kernels_loaded += 1
    return module


def _import(modname: str, path: Path, source: str):
    # Compared as bytes: a file of garbage need not even decode.
    text = source.encode()
    if not path.exists() or path.read_bytes() != text:
        _write_atomic(path, text)
        stats.sources_written += 1
    spec = importlib.util.spec_from_file_location(modname, path)
    module = importlib.util.module_from_spec(spec)
    sys.modules[modname] = module  # before compiling: the cache loader imports it by name
    try:
        spec.loader.exec_module(module)
    except BaseException:
        del sys.modules[modname]
        raise
    stats.kernels_loaded += 1
    return module


def _repair(modname: str, path: Path, error: BaseException) -> None:
    """Delete one generated module's source and .pyc so that both are written again."""
    warnings.warn(
        f"minitorch: the kernel cache entry {path} could not be loaded "
        f"({type(error).__name__}: {error}); rebuilding it",
        RuntimeWarning,
        stacklevel=3,
    )
    stats.cache_repairs += 1
    # Python's .pyc and Numba's files (unless NUMBA_CACHE_DIR moves those) live in __pycache__
    # next to the source, named after the module.
    for f in (path.parent / "__pycache__").glob(f"{modname}.*"):
        f.unlink(missing_ok=True)
    path.unlink(missing_ok=True)


class _RepairingCache:
    """Numba's on-disk cache of one generated kernel, with unreadable entries rebuilt.

    NOTE: Numba reads its index (.nbi) and data (.nbc) files with pickle and lets any error
    escape from the kernel's first call, so one truncated file in the cache directory would
    break every later process. Here such a load deletes the module's cached files and reports
    a miss: Numba then compiles and saves a fresh entry.
    """

    def __init__(self, cache, modname: str, path: Path):
        self._cache = cache
        self._modname = modname
        self._path = path

    def load_overload(self, sig, target_context):
        try:
            return self._cache.load_overload(sig, target_context)
        except Exception as e:  # noqa: BLE001  (pickle, EOF, LLVM: anything a bad file raises)
            folder = Path(self._cache.cache_path)
            warnings.warn(
                f"minitorch: Numba's cache of {self._path} in {folder} could not be loaded "
                f"({type(e).__name__}: {e}); compiling it again",
                RuntimeWarning,
                stacklevel=2,
            )
            stats.cache_repairs += 1
            for f in folder.glob(f"{self._modname}.*.nb[ic]"):
                f.unlink(missing_ok=True)
            return None

    def __getattr__(self, name):
        return getattr(self._cache, name)


def _write_atomic(path: Path, data: bytes) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, suffix=".tmp")
    with os.fdopen(fd, "wb") as f:
        f.write(data)
    os.replace(tmp, path)
