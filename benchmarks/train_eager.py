"""Eager training-step time, minitorch against PyTorch eager, side by side in one run.

    python benchmarks/train_eager.py [--quick] [--only mlp,gru] [--json out.json]

Each workload (benchmarks/workloads.py) is built on both libraries from the same code;
their steps are timed round-robin and reported as medians and as the ratio
minitorch / torch (lower is better; the foundation target is <= 3).
"""

from __future__ import annotations

import argparse
import json
import platform
import statistics
import time

import minitorch  # noqa: I001  (numba before torch: LLVM load order, see DESIGN.md)
import minitorch.nn  # noqa: F401
import minitorch.optim  # noqa: F401
from workloads import WORKLOADS

try:
    import torch
except ImportError:
    torch = None


def time_steps(step, n: int) -> float:
    start = time.perf_counter()
    for _ in range(n):
        step()
    return (time.perf_counter() - start) / n


def run(name: str, rounds: int, steps: int) -> dict:
    libs = {"minitorch": minitorch}
    if torch is not None:
        torch.set_num_threads(minitorch.kernels.cpu.THREADS)
        libs["torch"] = torch
    fns = {}
    for label, lib in libs.items():
        lib.manual_seed(0)
        fns[label] = WORKLOADS[name](lib)
        fns[label]()  # warm up: kernels compile, optimizer state is created
        fns[label]()
    samples = {label: [] for label in fns}
    for _ in range(rounds):
        for label, step in fns.items():
            samples[label].append(time_steps(step, steps))
    row = {"workload": name}
    row.update({label: statistics.median(s) * 1e3 for label, s in samples.items()})
    return row


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--only", help="comma-separated workload names")
    parser.add_argument("--json")
    args = parser.parse_args()
    names = args.only.split(",") if args.only else list(WORKLOADS)
    rounds, steps = (3, 3) if args.quick else (7, 5)
    print(
        f"machine: {platform.machine()}, {minitorch.kernels.cpu.THREADS} threads"
        + (f", torch {torch.__version__}" if torch is not None else "")
    )
    print(f"{'workload':12} {'minitorch ms':>13} {'torch ms':>9} {'ratio':>6}")
    rows = []
    for name in names:
        row = run(name, rounds, steps)
        rows.append(row)
        t = row.get("torch")
        ratio = f"{row['minitorch'] / t:6.2f}" if t else "     -"
        print(f"{name:12} {row['minitorch']:13.2f} {t or float('nan'):9.2f} {ratio}", flush=True)
    if args.json:
        with open(args.json, "w") as f:
            json.dump(rows, f, indent=2)


if __name__ == "__main__":
    main()
