"""RNN layers, forward + backward: minitorch's batch in one row range against row ranges on
threads of their own (same process, alternating), and PyTorch (own process).

    python benchmarks/rnn.py [--torch] [--blocks 8] [--calls 20]

The harness (alternating blocks, PyTorch's worker process) is benchmarks/sidebyside.py.
"one range" runs every row on the calling thread (as with set_num_threads(1)); "row ranges"
is the default, which splits the batch where ops/rnn.py's thresholds say it pays (equal
columns: it did not split).
"""

import minitorch  # noqa: I001  (before numpy: it sets OpenBLAS's thread timeout)
import numpy as np
import sidebyside
from sidebyside import alternate

SHAPES = {  # name: (layer, seq, batch, input, hidden)
    "GRU 32x32, 28->100": ("GRU", 32, 32, 28, 100),
    "LSTM 32x32, 28->100": ("LSTM", 32, 32, 28, 100),
    "GRU 32x64, 64->128": ("GRU", 32, 64, 64, 128),
    "GRU 16x4, 8->20": ("GRU", 16, 4, 8, 20),
}


def _input(seq, batch, size):
    return np.random.default_rng(0).standard_normal((seq, batch, size)).astype(np.float32)


def _step(layer, x):
    def run():
        layer(x)[0].sum().backward()

    return run


def minitorch_times(blocks: int, calls: int) -> dict:
    from minitorch.ops import rnn  # noqa: PLC0415

    min_rows = rnn.MIN_ROWS
    rows = {}
    for name, (kind, seq, batch, size, hidden) in SHAPES.items():
        layer = getattr(minitorch.nn, kind)(size, hidden)
        run = _step(layer, minitorch.from_numpy(_input(seq, batch, size)))

        def ranges(limit):
            rnn.MIN_ROWS = limit
            run()

        fns = {"row ranges": lambda: ranges(min_rows), "one range": lambda: ranges(1 << 30)}
        rows[name] = alternate(fns, blocks, calls)
    rnn.MIN_ROWS = min_rows
    return rows


def torch_times(blocks: int, calls: int) -> dict:
    import torch  # noqa: PLC0415  (only in the worker process)

    torch.set_num_threads(2)
    rows = {}
    for name, (kind, seq, batch, size, hidden) in SHAPES.items():
        layer = getattr(torch.nn, kind)(size, hidden)
        run = _step(layer, torch.from_numpy(_input(seq, batch, size)))
        rows[name] = alternate({"torch": run}, blocks, calls)
    return rows


def main() -> None:
    columns = ["one range", "row ranges", "torch"]
    times = (minitorch_times, torch_times)
    sidebyside.main(__file__, __doc__, "fwd + bwd (us)", columns, *times, calls=20)


if __name__ == "__main__":
    main()
