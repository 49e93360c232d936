"""Time one optimizer step over the parameters of an MLP, minitorch vs PyTorch.

    python benchmarks/optim_step.py [--repeat 500] [--sizes 784,512,256,10]

Gradients are set once; each timed call is one `optimizer.step()` over all six parameters
(535,818 float32 numbers for the default 784-512-256-10; `--sizes 4,128,128,2`, DQN's network,
has 17,410, where the step's Python counts more than its kernel). Each library runs in its own
process (importing minitorch sets
OMP_WAIT_POLICY=PASSIVE, which would also change PyTorch's OpenMP threads), and the medians
and interquartile ranges of many steps are printed side by side.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time

import numpy as np

SIZES = "784,512,256,10"
OPTIMIZERS = [
    ("Adam", {}),
    ("AdamW", {}),
    ("SGD", dict(lr=0.01, momentum=0.9)),
    ("RMSprop", {}),
    ("Adagrad", {}),
    ("Adadelta", {}),
]


def _measure(lib_name: str, repeat: int, sizes: list[int], threads: int = 0) -> dict:
    """{optimizer: [median, q25, q75] microseconds} for one library, in this process."""
    if lib_name == "minitorch":
        import minitorch as lib  # noqa: PLC0415
        import minitorch.nn  # noqa: F401, PLC0415
        import minitorch.optim  # noqa: F401, PLC0415
    else:
        import torch as lib  # noqa: PLC0415

        if threads:
            lib.set_num_threads(threads)
    rng = np.random.default_rng(0)
    out = {}
    for name, kwargs in OPTIMIZERS:
        params = []
        for fan_in, fan_out in zip(sizes[:-1], sizes[1:]):
            for a in (rng.standard_normal((fan_out, fan_in)), rng.standard_normal(fan_out)):
                p = lib.nn.Parameter(lib.tensor(a.astype(np.float32)))
                p.grad = lib.tensor((a * 0.01).astype(np.float32))
                params.append(p)
        opt = getattr(lib.optim, name)(params, **kwargs)
        for _ in range(20):  # warm up: kernels compile, state is created
            opt.step()
        times = []
        for _ in range(repeat):
            t0 = time.perf_counter()
            opt.step()
            times.append(time.perf_counter() - t0)
        t = np.array(times) * 1e6
        out[name] = [float(np.median(t)), float(np.percentile(t, 25)), float(np.percentile(t, 75))]
    return out


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--repeat", type=int, default=500)
    parser.add_argument("--lib", choices=["minitorch", "torch"])
    parser.add_argument("--torch-threads", type=int, default=0, help="0: PyTorch's default")
    parser.add_argument("--sizes", default=SIZES, help="the MLP's layer widths")
    args = parser.parse_args()
    sizes = [int(n) for n in args.sizes.split(",")]
    if args.lib:
        print(json.dumps(_measure(args.lib, args.repeat, sizes, args.torch_threads)))
        return
    results = {}
    for lib in ("minitorch", "torch"):
        cmd = [sys.executable, __file__, "--lib", lib, "--repeat", str(args.repeat)]
        cmd += ["--torch-threads", str(args.torch_threads), "--sizes", args.sizes]
        results[lib] = json.loads(subprocess.check_output(cmd).decode().splitlines()[-1])
    width = "-".join(map(str, sizes))
    print(f"one optimizer.step() over a {width} MLP's parameters (float32), microseconds")
    print(
        f"{'optimizer':<10}{'minitorch':>12}{'torch':>10}{'torch/minitorch':>17}   IQR mt | torch"
    )
    for name, _ in OPTIMIZERS:
        a, b = results["minitorch"][name], results["torch"][name]
        print(
            f"{name:<10}{a[0]:>12.0f}{b[0]:>10.0f}{b[0] / a[0]:>17.2f}   "
            f"{a[1]:.0f}-{a[2]:.0f} | {b[1]:.0f}-{b[2]:.0f}"
        )


if __name__ == "__main__":
    main()
