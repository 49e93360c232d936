"""Eager op benchmarks: minitorch against numpy and PyTorch, side by side in one run.

    python benchmarks/ops.py [--quick] [--json out.json]

Reports medians. Ratios are what to compare: absolute times on a shared 2-core machine are
noisy, so every row is measured in the same process, interleaved round by round.
"""

from __future__ import annotations

import argparse
import json
import platform
import statistics
import time

import numpy as np

import minitorch  # noqa: I001  (numba before torch: LLVM load order, see DESIGN.md)

try:
    import torch
except ImportError:  # PyTorch is optional: its columns are left out
    torch = None


def _per_call(fn, calls: int) -> float:
    start = time.perf_counter()
    for _ in range(calls):
        fn()
    return (time.perf_counter() - start) / calls


def compare(fns: dict, calls: int, rounds: int) -> dict:
    """Median seconds per call of each fn, measured round-robin so noise hits all alike."""
    for fn in fns.values():  # warm up: compile kernels, fill caches
        fn()
    samples = {name: [] for name in fns}
    for _ in range(rounds):
        for name, fn in fns.items():
            samples[name].append(_per_call(fn, calls))
    return {name: statistics.median(s) for name, s in samples.items()}


def _libs(np_fn, mt_fn, torch_fn):
    fns = {"numpy": np_fn, "minitorch": mt_fn}
    if torch is not None and torch_fn is not None:
        fns["torch"] = torch_fn
    return fns


def bench_overhead(rounds: int) -> dict:
    a_np = np.random.rand(10).astype(np.float32)
    b_np = np.random.rand(10).astype(np.float32)
    a, b = minitorch.from_numpy(a_np), minitorch.from_numpy(b_np)
    ta = tb = None
    if torch is not None:
        ta, tb = torch.from_numpy(a_np), torch.from_numpy(b_np)
    t = compare(
        _libs(lambda: a_np + b_np, lambda: a + b, ta is not None and (lambda: ta + tb)),
        calls=20000,
        rounds=rounds,
    )
    return {"op": "a + b, 10 float32", "unit": "us/call", **{k: v * 1e6 for k, v in t.items()}}


def bench_elementwise(rounds: int, n: int) -> list[dict]:
    a_np = np.random.rand(n).astype(np.float32)
    b_np = np.random.rand(n).astype(np.float32)
    a, b = minitorch.from_numpy(a_np), minitorch.from_numpy(b_np)
    ta = tb = None
    if torch is not None:
        ta, tb = torch.from_numpy(a_np), torch.from_numpy(b_np)
    cases = {
        "add": (lambda: a_np + b_np, lambda: a + b, ta is not None and (lambda: ta + tb)),
        "mul": (lambda: a_np * b_np, lambda: a * b, ta is not None and (lambda: ta * tb)),
        "exp": (lambda: np.exp(a_np), lambda: a.exp(), ta is not None and (lambda: ta.exp())),
    }
    rows = []
    for name, (f_np, f_mt, f_t) in cases.items():
        t = compare(_libs(f_np, f_mt, f_t), calls=3, rounds=rounds)
        rows.append(
            {
                "op": f"{name}, {n // 2**20}M float32",
                "unit": "Melem/s",
                **{k: n / v / 1e6 for k, v in t.items()},
            }
        )
    return rows


def bench_matmul(rounds: int, sizes) -> list[dict]:
    rows = []
    for n in sizes:
        a_np = np.random.rand(n, n).astype(np.float32)
        b_np = np.random.rand(n, n).astype(np.float32)
        a, b = minitorch.from_numpy(a_np), minitorch.from_numpy(b_np)
        f_t = None
        if torch is not None:
            ta, tb = torch.from_numpy(a_np), torch.from_numpy(b_np)
            f_t = lambda: ta @ tb  # noqa: E731
        calls = max(1, int(2e9 / (2 * n**3)))
        t = compare(_libs(lambda: a_np @ b_np, lambda: a @ b, f_t), calls=calls, rounds=rounds)
        rows.append(
            {
                "op": f"matmul {n}x{n}",
                "unit": "GFLOP/s",
                **{k: 2 * n**3 / v / 1e9 for k, v in t.items()},
            }
        )
    return rows


def _np_softmax(x):
    e = np.exp(x - x.max(axis=-1, keepdims=True))
    return e / e.sum(axis=-1, keepdims=True)


def bench_reductions(rounds: int) -> list[dict]:
    x_np = np.random.rand(4096, 4096).astype(np.float32)
    s_np = np.random.randn(256, 4096).astype(np.float32)
    x, s = minitorch.from_numpy(x_np), minitorch.from_numpy(s_np)
    f_sum = f_soft = None
    if torch is not None:
        tx, ts = torch.from_numpy(x_np), torch.from_numpy(s_np)
        f_sum, f_soft = (lambda: tx.sum(1)), (lambda: ts.softmax(-1))
    rows = []
    t = compare(_libs(lambda: x_np.sum(1), lambda: x.sum(1), f_sum), calls=3, rounds=rounds)
    rows.append(
        {"op": "sum dim=1 of (4096, 4096)", "unit": "ms", **{k: v * 1e3 for k, v in t.items()}}
    )
    t = compare(
        _libs(lambda: _np_softmax(s_np), lambda: s.softmax(-1), f_soft), calls=5, rounds=rounds
    )
    rows.append(
        {"op": "softmax(-1) of (256, 4096)", "unit": "ms", **{k: v * 1e3 for k, v in t.items()}}
    )
    return rows


def _ratio(row, reference: str = "numpy") -> float:
    """minitorch relative to reference, oriented so that > 1 means minitorch is better."""
    if row["unit"] in ("Melem/s", "GFLOP/s"):
        return row["minitorch"] / row[reference]
    return row[reference] / row["minitorch"]


def print_table(rows: list[dict]) -> None:
    cols = ["numpy", "minitorch", "torch"]
    print(
        f"{'benchmark':32} {'unit':>8} "
        + " ".join(f"{c:>10}" for c in cols)
        + f" {'mt/numpy':>9} {'mt/torch':>9}"
    )
    for row in rows:
        vals = " ".join(f"{row[c]:10.2f}" if c in row else f"{'-':>10}" for c in cols)
        vs_torch = f"{_ratio(row, 'torch'):.2f}" if "torch" in row else "-"
        print(f"{row['op']:32} {row['unit']:>8} {vals} {_ratio(row):9.2f} {vs_torch:>9}")
    print("ratios: > 1 means minitorch is faster (higher throughput or lower time)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="fewer rounds, smaller sizes")
    parser.add_argument("--json", help="write the rows to this JSON file")
    args = parser.parse_args()
    rounds = 5 if args.quick else 9
    n = 2**22 if args.quick else 2**24
    sizes = (256, 512) if args.quick else (256, 512, 1024, 2048)
    rows = [bench_overhead(rounds)]
    rows += bench_elementwise(rounds, n)
    rows += bench_matmul(rounds, sizes)
    rows += bench_reductions(rounds)
    print(
        f"machine: {platform.machine()}, {minitorch.kernels.cpu.THREADS} threads, "
        f"python {platform.python_version()}, numpy {np.__version__}"
        + (f", torch {torch.__version__}" if torch is not None else "")
    )
    print_table(rows)
    if args.json:
        with open(args.json, "w") as f:
            json.dump(rows, f, indent=2)


if __name__ == "__main__":
    main()
