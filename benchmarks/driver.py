"""A compiled driver against the replay's Python calls, for a run of a traced step's kernels.

    python benchmarks/driver.py [--workload dqn] [--rounds 9]

The tracer issue asks whether a replayed step should be one compiled (Numba) function rather
than Python calling one kernel per fused group. This takes the longest run of consecutive
elementwise nodes that a workload's replay calls directly (kernel calls on arrays the memory
plan keeps, nothing else in between), writes the same lines twice, as a Python function (what
the replay runs) and as an njit function (a compiled driver for that run), calls both on the
arrays of a real replay, and times them side by side, rounds alternating. It also reports the
compiled driver's compile time: every distinct run would be one more Numba compile.
"""

from __future__ import annotations

import argparse
import re
import statistics
import sys
import time
from pathlib import Path

from numba import njit

import minitorch

sys.path.insert(0, str(Path(__file__).parent))
from workloads import WORKLOADS  # noqa: E402

_CALL = re.compile(r"^kernel\d+\(")
_ALLOC = re.compile(r"^s\d+ = (buf\d+|empty\(.*\))$")


def _calls(lines: list[str]) -> int:
    return sum(bool(_CALL.match(x)) for x in lines)


def longest_run(source: str) -> tuple[int, list[str]]:
    """(index of the run's first line, its lines): the longest stretch of the driver made of
    output arrays and kernel calls only (`del` lines dropped, comments stripped)."""
    lines = [line.split("  #")[0].strip() for line in source.splitlines()[1:]]
    best, start, run = (0, []), 0, []
    for i, line in enumerate(lines + [""]):
        if _CALL.match(line) or _ALLOC.match(line):
            start, run = (start, run + [line]) if run else (i, [line])
        elif not line.startswith("del "):
            if _calls(run) > _calls(best[1]):
                best = (start, run)
            run = []
    return best


def segment_functions(lines: list[str], namespace: dict):
    """The run as a Python function and as an njit one, both of the arrays it reads."""
    body = [re.sub(r"\b(t\d+)\._data\b", r"\1_data", line) for line in lines]
    assigned, args = set(), []
    for line in body:
        target, _, expr = line.partition(" = ") if _ALLOC.match(line) else ("", "", line)
        for name in re.findall(r"\b(?:s\d+|buf\d+|t\d+_data)\b", expr):
            if name not in assigned and name not in args:
                args.append(name)
        if target:
            assigned.add(target)
    source = f"def segment({', '.join(args)}):\n" + "".join(f"    {x}\n" for x in body)
    namespace = dict(namespace)
    exec(compile(source, "<segment>", "exec"), namespace)  # noqa: S102
    python = namespace["segment"]  # njit leaves the Python function as it is
    return args, python, njit(nogil=True)(python), source


def capture_arrays(step, replayer, start: int, args: list[str]) -> list:
    """The arrays the run reads, as one more replay of `step` has them at the run's start."""
    lines = replayer.source.splitlines()
    seen: dict = {}
    hooked = [*lines[: start + 1], "    _seen.update(locals())", *lines[start + 1 :]]
    namespace = dict(replayer._run.__globals__, _seen=seen)
    exec(compile("\n".join(hooked) + "\n", "<capture>", "exec"), namespace)  # noqa: S102
    original, replayer._run = replayer._run, namespace["replay"]
    try:
        step()
    finally:
        replayer._run = original
    names = original.__globals__
    return [
        names[name.removesuffix("_data")]._data
        if name.endswith("_data")
        else seen.get(name, names.get(name))
        for name in args
    ]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--workload", default="dqn", choices=sorted(WORKLOADS))
    parser.add_argument("--rounds", type=int, default=9)
    parser.add_argument("--calls", type=int, default=2000)
    options = parser.parse_args()

    step = minitorch.compile(WORKLOADS[options.workload](minitorch))
    for _ in range(4):  # eager, trace, first replay (picks kernels, plans memory), a replay
        step()
    replayer = step.replayers()[0]
    start, lines = longest_run(replayer.source)
    calls = _calls(lines)
    args, python, compiled, source = segment_functions(lines, replayer._run.__globals__)
    values = capture_arrays(step, replayer, start, args)
    began = time.perf_counter()
    compiled(*values)
    compile_s = time.perf_counter() - began

    def per_call(fn) -> float:
        began = time.perf_counter()
        for _ in range(options.calls):
            fn(*values)
        return (time.perf_counter() - began) / options.calls * 1e6

    python_us, compiled_us = [], []
    for _ in range(options.rounds):
        python_us.append(per_call(python))
        compiled_us.append(per_call(compiled))
    print(f"{options.workload}: the replay's longest run of direct kernel calls, {calls} calls:")
    print(source)
    py, nb = statistics.median(python_us), statistics.median(compiled_us)
    print(f"Python driver (one call per kernel): {py:.2f} us per run")
    print(f"compiled driver (one njit call):     {nb:.2f} us per run ({py - nb:+.2f} us saved)")
    print(f"compile of the compiled driver: {compile_s:.2f} s (Numba, this run's kernels linked)")


if __name__ == "__main__":
    main()
