"""Packaging: the wheel ships the kernels, a plain install imports, import is fast."""

from __future__ import annotations

import os
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest
import tomllib

ROOT = Path(__file__).resolve().parents[1]


def test_package_list_matches_folders():
    """Every folder with an __init__.py under minitorch/ and kernels/ is listed for setuptools."""
    config = tomllib.loads((ROOT / "pyproject.toml").read_text())
    listed = set(config["tool"]["setuptools"]["packages"])
    found = set()
    for top, name in (("minitorch", "minitorch"), ("kernels", "minitorch.kernels")):
        for init in (ROOT / top).rglob("__init__.py"):
            rel = init.parent.relative_to(ROOT / top)
            found.add(".".join([name, *rel.parts]) if rel.parts else name)
    assert found == listed, f"unlisted: {found - listed}; listed but missing: {listed - found}"


@pytest.fixture(scope="module")
def wheel(tmp_path_factory):
    out = tmp_path_factory.mktemp("wheel")
    subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "wheel",
            "--no-deps",
            "--no-build-isolation",
            "-q",
            "-w",
            str(out),
            str(ROOT),
        ],
        check=True,
    )
    (path,) = out.glob("minitorch-*.whl")
    return path


def test_wheel_contains_kernels(wheel):
    names = zipfile.ZipFile(wheel).namelist()
    for required in (
        "minitorch/kernels/__init__.py",
        "minitorch/kernels/codegen/__init__.py",
        "minitorch/kernels/cpu/__init__.py",
        "minitorch/kernels/cpu/scalar.py",
        "minitorch/kernels/cuda/__init__.py",
        "minitorch/kernels/cuda/scalar.py",
        "minitorch/backend/cuda.py",
        "minitorch/cuda/amp.py",
        "minitorch/cpu/amp.py",
        "minitorch/tensor.py",
    ):
        assert required in names, f"{required} missing from {wheel.name}"


def test_plain_install_imports_and_computes(wheel, tmp_path):
    """A non-editable install of the wheel (into its own folder) imports and computes."""
    target = tmp_path / "site"
    subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "install",
            "-q",
            "--no-deps",
            "--no-index",
            "--target",
            str(target),
            str(wheel),
        ],
        check=True,
    )
    code = (
        "import minitorch; print(minitorch.__file__); "
        "x = minitorch.ones(3) * 2; print(x.sum().item())"
    )
    env = dict(os.environ, MINITORCH_CACHE_DIR=str(tmp_path / "cache"), PYTHONPATH=str(target))
    result = subprocess.run(
        [sys.executable, "-c", code], cwd=tmp_path, capture_output=True, text=True, env=env
    )
    assert result.returncode == 0, result.stderr
    location, value = result.stdout.split()
    assert location.startswith(str(target)), location  # the installed copy, not the checkout
    assert value == "6.0"


def test_import_is_fast_and_compiles_nothing(tmp_path):
    code = "import time; t = time.perf_counter(); import minitorch; print(time.perf_counter() - t)"
    env = dict(os.environ, MINITORCH_CACHE_DIR=str(tmp_path / "cache"))
    times = []
    for _ in range(3):
        r = subprocess.run(
            [sys.executable, "-c", code], capture_output=True, text=True, env=env, check=True
        )
        times.append(float(r.stdout))
    assert min(times) < 1.0, times
    assert not (tmp_path / "cache").exists() or not any((tmp_path / "cache").rglob("*.nbi"))


def test_second_process_reuses_compiled_kernels(tmp_path):
    """Generated kernels land in MINITORCH_CACHE_DIR with Numba's index: no recompiling."""
    env = dict(os.environ, MINITORCH_CACHE_DIR=str(tmp_path / "cache"))
    code = (
        "import minitorch as t\n"
        "x = t.arange(12.).reshape(3, 4)\n"
        "y = (x.exp() + x.T.T * 3).sum(1)\n"
        "print(y.tolist())\n"
    )
    first = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, env=env, check=True
    )
    index_files = sorted(p.name for p in (tmp_path / "cache").rglob("*.nbi"))
    assert index_files, "no Numba cache index written"
    stamp = {p: p.stat().st_mtime_ns for p in (tmp_path / "cache").rglob("*.nbc")}
    second = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, env=env, check=True
    )
    assert first.stdout == second.stdout
    after = {p: p.stat().st_mtime_ns for p in (tmp_path / "cache").rglob("*.nbc")}
    assert after == stamp, "second process rewrote compiled kernels instead of loading them"


@pytest.mark.parametrize("preset", [None, "12"])
def test_import_before_numpy_shortens_openblas_idle_spin(preset):
    """minitorch's import sets OpenBLAS's idle spin (read when numpy loads) unless the user
    set it: minitorch/_openblas.py says why."""
    env = {k: v for k, v in os.environ.items() if k != "OPENBLAS_THREAD_TIMEOUT"}
    if preset is not None:
        env["OPENBLAS_THREAD_TIMEOUT"] = preset
    # a meta-path finder notes the variable when numpy is first looked up (OpenBLAS loads then)
    code = """
import os, sys
seen = []
class Spy:
    def find_spec(self, name, path=None, target=None):
        if name == "numpy" and not seen:
            seen.append(os.environ.get("OPENBLAS_THREAD_TIMEOUT"))
sys.meta_path.insert(0, Spy())
import minitorch
print(seen[0])
"""
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == (preset or "4")
