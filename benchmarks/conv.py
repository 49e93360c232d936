"""conv2d forward on the small-channel convolutions of the suite's CNNs: minitorch's direct
kernel against its im2col + GEMM path (same process, alternating), and PyTorch (own process).

    python benchmarks/conv.py [--torch] [--blocks 8] [--calls 50]

Each variant runs in alternating blocks of `calls` calls; the table shows the median over the
blocks of each block's median, in microseconds. PyTorch runs in a separate process with two
threads (its OpenMP threads spin after each op and would slow minitorch's kernels).
"""

import minitorch  # noqa: I001  (before numpy: it sets OpenBLAS's thread timeout)
import argparse
import json
import statistics
import subprocess
import sys
import time

import numpy as np

SHAPES = {  # name: (x shape, output channels); 5x5 kernels, stride 1, no padding
    "lenet conv1": ((64, 1, 28, 28), 10),
    "lenet conv2": ((64, 10, 12, 12), 20),
    "cifar conv1": ((100, 3, 32, 32), 6),
    "cifar conv2": ((100, 6, 14, 14), 16),
}


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


def _arrays(x_shape, out_ch):
    rng = np.random.default_rng(0)
    x = rng.standard_normal(x_shape).astype(np.float32)
    w = rng.standard_normal((out_ch, x_shape[1], 5, 5)).astype(np.float32)
    return x, w, rng.standard_normal(out_ch).astype(np.float32)


def minitorch_times(blocks: int, calls: int) -> dict:
    from minitorch.ops import conv as C  # noqa: PLC0415

    params = dict(stride=(1, 1), padding=(0, 0, 0, 0), dilation=(1, 1), groups=1)
    direct_max = C.DIRECT_MAX_OUT_CHANNELS
    rows = {}
    for name, (x_shape, out_ch) in SHAPES.items():
        x, w, b = _arrays(x_shape, out_ch)
        tx, tw, tb = (minitorch.from_numpy(a) for a in (x, w, b))

        def run(limit):
            C.DIRECT_MAX_OUT_CHANNELS = limit
            meta = C.conv2d.infer(tx, tw, tb, **params)
            return C.conv2d.forward(meta, x, w, b, **params)

        fns = {"direct": lambda: run(direct_max), "im2col+gemm": lambda: run(0)}
        rows[name] = alternate(fns, blocks, calls)
    C.DIRECT_MAX_OUT_CHANNELS = direct_max
    return rows


def torch_times(blocks: int, calls: int) -> dict:
    import torch  # noqa: PLC0415  (only in the worker process)

    torch.set_num_threads(2)
    rows = {}
    with torch.no_grad():
        for name, (x_shape, out_ch) in SHAPES.items():
            x, w, b = (torch.from_numpy(a) for a in _arrays(x_shape, out_ch))
            fns = {"torch": lambda: torch.nn.functional.conv2d(x, w, b)}
            rows[name] = alternate(fns, blocks, calls)
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--torch", action="store_true", help="add PyTorch's column")
    parser.add_argument("--blocks", type=int, default=8)
    parser.add_argument("--calls", type=int, default=50)
    parser.add_argument("--worker", choices=["torch"], help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker:
        print(json.dumps(torch_times(args.blocks, args.calls)))
        return
    rows = minitorch_times(args.blocks, args.calls)
    if args.torch:
        cmd = [sys.executable, __file__, "--worker", "torch", "--blocks", str(args.blocks)]
        out = subprocess.run(cmd + ["--calls", str(args.calls)], capture_output=True, text=True)
        for name, row in json.loads(out.stdout).items():
            rows[name].update(row)
    cols = ["direct", "im2col+gemm", "torch"]
    print(f"{'conv2d forward (us)':22} " + " ".join(f"{c:>12}" for c in cols))
    for name, row in rows.items():
        vals = " ".join(f"{row[c]:12.0f}" if c in row else f"{'-':>12}" for c in cols)
        print(f"{name:22} {vals}")


if __name__ == "__main__":
    main()
