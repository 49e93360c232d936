"""The GPU check: on a machine with an NVIDIA GPU, test the CUDA backend and measure it.

    python benchmarks/gpu_check.py              # tests, kernel figures, the whole suite
    python benchmarks/gpu_check.py --quick      # tests, kernel figures, `suite.py --quick`

It runs, in order, each in its own process (a crash or a failure is reported, and the next
part still runs):

1. the CUDA tests on the real device (`pytest tests/test_cuda*.py`, NUMBA_ENABLE_CUDASIM unset);
2. kernel figures against the issue's targets, minitorch next to PyTorch's CUDA build when it
   is installed: SGEMM at 4096 (TFLOP/s; target: half of cuBLAS), elementwise add on 2**26
   float32 (GB/s moved; target: 85% of a device-to-device copy), and the end-to-end time of a
   small eager op (`a + b` on 10 elements, from Python, launches only, synchronized once per
   1000; target: under 15 us);
3. `benchmarks/suite.py --device cuda` (eager, traced, torch eager, torch.compile per workload).

The report goes to stdout and, as markdown for the README, to --out (default
benchmarks/results/gpu_check.md), with the GPU's name and the software versions.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
SGEMM_N = 4096
ADD_ELEMENTS = 1 << 26
SMALL_OP_CALLS = 1000


# ---- kernel figures (run in a child process: --figures) ------------------------------------
def _median_seconds(fn, sync, repeat: int = 7, calls: int = 1) -> float:
    """Median over `repeat` samples of the seconds per call of fn (calls per sample)."""
    fn()
    sync()
    samples = []
    for _ in range(repeat):
        start = time.perf_counter()
        for _ in range(calls):
            fn()
        sync()
        samples.append((time.perf_counter() - start) / calls)
    return statistics.median(samples)


def _figures_of(lib) -> dict:
    """SGEMM TFLOP/s, add and copy GB/s, small-op us of one library (minitorch or torch)."""
    sync = lib.cuda.synchronize
    a = lib.randn(SGEMM_N, SGEMM_N, device="cuda")
    b = lib.randn(SGEMM_N, SGEMM_N, device="cuda")
    gemm = _median_seconds(lambda: a @ b, sync)
    x = lib.randn(ADD_ELEMENTS, device="cuda")
    y = lib.randn(ADD_ELEMENTS, device="cuda")
    add = _median_seconds(lambda: x + y, sync)
    copy = _median_seconds(lambda: x.clone(), sync)
    s, t = lib.ones(10, device="cuda"), lib.ones(10, device="cuda")
    small = _median_seconds(lambda: s + t, sync, calls=SMALL_OP_CALLS)
    bytes_add, bytes_copy = 3 * 4 * ADD_ELEMENTS, 2 * 4 * ADD_ELEMENTS
    return {
        "sgemm_tflops": 2 * SGEMM_N**3 / gemm / 1e12,
        "add_gbs": bytes_add / add / 1e9,
        "copy_gbs": bytes_copy / copy / 1e9,
        "small_op_us": small * 1e6,
    }


def figures() -> None:
    """Child process: print one JSON line of kernel figures for minitorch and torch."""
    out = {}
    import minitorch  # noqa: PLC0415

    out["minitorch"] = _figures_of(minitorch)
    try:
        import torch  # noqa: PLC0415
    except ImportError:
        out["torch"] = "torch not importable"
    else:
        if torch.cuda.is_available():
            torch.backends.cuda.matmul.allow_tf32 = False  # cuBLAS FP32, as the target says
            out["torch"] = _figures_of(torch)
        else:
            out["torch"] = "this torch build has no CUDA device"
    print(json.dumps(out))


# ---- the parts, each in a child process -------------------------------------------------------
def _run(cmd: list, env: dict | None = None, timeout: int = 3600) -> tuple[int, str]:
    print("$", " ".join(cmd), flush=True)
    try:
        proc = subprocess.run(
            cmd, cwd=ROOT, env=env, capture_output=True, text=True, timeout=timeout
        )
    except subprocess.TimeoutExpired:
        return 124, f"timed out after {timeout} s"
    output = proc.stdout + proc.stderr
    print(output[-6000:], flush=True)
    return proc.returncode, output


# numba-cuda names the device in bytes on some versions, str on others
_GPU_NAME = (
    "from numba import cuda; n = cuda.get_current_device().name; "
    "print(n.decode() if isinstance(n, bytes) else n)"
)


def _gpu_name() -> str:
    code, out = _run([sys.executable, "-c", _GPU_NAME])
    return out.strip().splitlines()[-1] if code == 0 else f"unknown ({out[-200:]})"


def _tests() -> str:
    env = {k: v for k, v in os.environ.items() if k != "NUMBA_ENABLE_CUDASIM"}
    tests = sorted(str(p.relative_to(ROOT)) for p in (ROOT / "tests").glob("test_cuda*.py"))
    cmd = [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", *tests]
    code, out = _run(cmd, env)
    last = out.strip().splitlines()[-1] if out.strip() else "no output"
    return f"exit {code}: {last}"


def _figures_table(fig: dict) -> list[str]:
    mt, ref = fig.get("minitorch"), fig.get("torch")
    if not isinstance(ref, dict):
        ref = {}
    rows = [
        ("SGEMM 4096 (TFLOP/s)", "sgemm_tflops", ".1f", "at least 50% of cuBLAS"),
        ("add 2^26 float32 (GB/s)", "add_gbs", ".0f", "85% of device copy"),
        ("device copy (GB/s)", "copy_gbs", ".0f", ""),
        ("a + b on 10 elements (us)", "small_op_us", ".1f", "under 15 us"),
    ]
    lines = ["| figure | minitorch | PyTorch | target |", "|---|---:|---:|---|"]
    for label, key, fmt, target in rows:
        ours = format(mt[key], fmt) if isinstance(mt, dict) else "-"
        theirs = format(ref[key], fmt) if key in ref else "-"
        lines.append(f"| {label} | {ours} | {theirs} | {target} |")
    if isinstance(mt, dict):
        summary = f"add at {mt['add_gbs'] / mt['copy_gbs']:.0%} of minitorch's device copy"
        if ref:
            summary += f"; SGEMM at {mt['sgemm_tflops'] / ref['sgemm_tflops']:.0%} of cuBLAS"
        lines += ["", summary]
    return lines


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="suite.py --quick")
    parser.add_argument("--out", default=str(HERE / "results" / "gpu_check.md"))
    parser.add_argument("--figures", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.figures:
        figures()
        return 0
    report = [f"# GPU check ({time.strftime('%Y-%m-%d')})", ""]
    report.append(f"GPU: {_gpu_name()}; host: {platform.platform()}, {os.cpu_count()} CPUs")
    report += ["", f"CUDA tests on the device: {_tests()}", ""]
    code, out = _run([sys.executable, str(Path(__file__).resolve()), "--figures"])
    if code == 0:
        report += _figures_table(json.loads(out.strip().splitlines()[-1]))
    else:
        report.append(f"kernel figures: failed (exit {code}): {out.strip()[-300:]}")
    suite_json = HERE / "results" / "suite_cuda.json"
    suite = [sys.executable, str(HERE / "suite.py"), "--device", "cuda", "--json", str(suite_json)]
    code, out = _run(suite + (["--quick"] if args.quick else []))
    report += ["", "```", *_suite_table(out), "```"] if code == 0 else ["", f"suite: exit {code}"]
    text = "\n".join(report) + "\n"
    print(text)
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(text)
    print(f"report: {args.out}")
    return 0


def _suite_table(output: str) -> list[str]:
    """The suite's printed tables (from its 'machine:' line up to the json line)."""
    lines = output.splitlines()
    start = next((i for i, line in enumerate(lines) if line.startswith("machine:")), 0)
    end = next((i for i, line in enumerate(lines) if line.startswith("json:")), len(lines))
    return lines[start:end]


if __name__ == "__main__":
    sys.exit(main())
