"""The harness of the kernel benchmarks (conv.py, rnn.py): minitorch's variants alternating in
one process, PyTorch in a worker process of its own (its OpenMP threads spin after each op
and would slow minitorch's kernels), one table.

Each variant runs in alternating blocks of `calls` calls; a table cell is the median over the
blocks of each block's median, in microseconds.
"""

import minitorch  # noqa: F401, I001  (before numpy: it sets OpenBLAS's thread timeout)
import argparse
import json
import statistics
import subprocess
import sys
import time


def _block_median(fn, calls: int) -> float:
    times = []
    for _ in range(calls):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def alternate(fns: dict, blocks: int, calls: int) -> dict:
    """Median over blocks of each fn's per-block median time (us), blocks interleaved."""
    for fn in fns.values():
        for _ in range(5):  # compile, fill caches
            fn()
    samples = {name: [] for name in fns}
    for _ in range(blocks):
        for name, fn in fns.items():
            samples[name].append(_block_median(fn, calls))
    return {name: statistics.median(s) * 1e6 for name, s in samples.items()}


def main(script: str, doc: str, title: str, columns: list, minitorch_times, torch_times, calls):
    """Parse the command line, time minitorch here and PyTorch (--torch) in a worker running
    `script` again, and print rows of `columns` under `title`. The *_times functions take
    (blocks, calls) and return {row name: {column: us}}."""
    parser = argparse.ArgumentParser(description=doc.splitlines()[0])
    parser.add_argument("--torch", action="store_true", help="add PyTorch's column")
    parser.add_argument("--blocks", type=int, default=8)
    parser.add_argument("--calls", type=int, default=calls)
    parser.add_argument("--worker", choices=["torch"], help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker:
        print(json.dumps(torch_times(args.blocks, args.calls)))
        return
    rows = minitorch_times(args.blocks, args.calls)
    if args.torch:
        cmd = [sys.executable, script, "--worker", "torch", "--blocks", str(args.blocks)]
        out = subprocess.run(cmd + ["--calls", str(args.calls)], capture_output=True, text=True)
        for name, row in json.loads(out.stdout).items():
            rows[name].update(row)
    print(f"{title:22} " + " ".join(f"{c:>12}" for c in columns))
    for name, row in rows.items():
        vals = " ".join(f"{row[c]:12.0f}" if c in row else f"{'-':>12}" for c in columns)
        print(f"{name:22} {vals}")
