"""What a traced step still allocates per replay, line by line of its driver.

    python benchmarks/allocations.py [workload ...] [--top 3]

The replay's memory plan writes most outputs into arrays it keeps (minitorch/jit/replay.py);
what remains is kernels' own workspace and the outputs of ops without an `out=` form. This
compiles each workload, replays it until the plan is in place, then runs one more replay
through a copy of its driver that reads tracemalloc after every line: a line's bytes are its
peak over what was live before it (numpy reports its allocations to tracemalloc; memory Numba
or MKL allocate inside kernels is not seen).
"""

from __future__ import annotations

import argparse
import sys
import tracemalloc
from pathlib import Path

import minitorch

sys.path.insert(0, str(Path(__file__).parent))
from workloads import WORKLOADS  # noqa: E402


def allocations(name: str) -> list[tuple[int, str]]:
    """(bytes, driver line) for each line of one planned replay of workload `name`."""
    step = minitorch.compile(WORKLOADS[name](minitorch))
    for _ in range(4):  # warm-up, capture, the first replay (plans), a planned replay
        step()
    replayer = step.replayers()[0]
    head, *body, tail = replayer.source.splitlines()
    probed = [head, "    _mark()"]
    for line in body:  # a mark after every line: (bytes live, peak since the last mark)
        probed += [line, "    _mark()"]
    marks = []

    def mark() -> None:
        marks.append(tracemalloc.get_traced_memory())
        tracemalloc.reset_peak()

    namespace = dict(replayer._run.__globals__, _mark=mark)
    source = "\n".join([*probed, tail])
    exec(compile(source, "<probed replay>", "exec"), namespace)  # noqa: S102
    run, replayer._run = replayer._run, namespace["replay"]
    tracemalloc.start()
    try:
        step()
    finally:
        tracemalloc.stop()
        replayer._run = run
    grew = [peak - before for (before, _), (_, peak) in zip(marks, marks[1:])]
    return [(b, line.strip()) for b, line in zip(grew, body) if not line.strip().startswith("del ")]


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("workloads", nargs="*", default=list(WORKLOADS))
    parser.add_argument("--top", type=int, default=3, help="lines shown per workload")
    args = parser.parse_args(argv)
    print(f"{'workload':12} {'KiB per replay':>14}  largest lines (KiB)")
    for name in args.workloads:
        rows = allocations(name)
        total = sum(max(b, 0) for b, _ in rows)
        print(f"{name:12} {total / 1024:14.1f}")
        for size, line in sorted(rows, reverse=True)[: args.top]:
            if size > 0:
                print(f"{'':12} {size / 1024:14.1f}  {line[:100]}")


if __name__ == "__main__":
    main()
