"""The benchmark suite: every workload on minitorch (eager, traced) and PyTorch (eager, compiled).

    python benchmarks/suite.py                       # all workloads, all measurements
    python benchmarks/suite.py --quick               # under 2 minutes; see "--quick" below
    python benchmarks/suite.py --only mlp,dqn --json out.json --png out.png
    python benchmarks/suite.py --device cuda         # on a GPU (benchmarks/gpu_check.py runs it)

For each workload of benchmarks/workloads.py (the same code runs on both libraries):

- ms per step of four modes: minitorch eager, minitorch traced (`minitorch.compile(step)`:
  eager on the 1st call, traced on the 2nd, replayed after), PyTorch eager and
  `torch.compile(step)`. The modes are timed round-robin, round after round, so that noise on
  this shared machine hits them alike; the table shows the median of the rounds. A sample
  times at least 5 steps and 50 ms, after 2 untimed steps.
- speedups of the traced step: (mode ms) / (traced ms) for minitorch eager, torch eager and
  torch.compile, the median over the rounds of each round's ratio; > 1 means the traced
  minitorch step is faster.
- "same": the traced step gives exactly the eager step's outputs (4 steps, both built from
  the same seed, the random seed set before each step).
- kernels launched per traced step (`stats.ops_replayed`) and the trace's own time.
- cold compile: seconds from building the step to the end of its first replayed call, in a
  new process with empty MINITORCH_CACHE_DIR and NUMBA_CACHE_DIR (every kernel, generated or
  hand-written, compiles); warm: the same in a second new process with the same cache
  directories. Numba compilations in each process are shown in brackets.
- peak memory (tracemalloc, MiB) of an eager and of a traced step: the peak during 3 steps
  after warm-up, counting what is live then (parameters, optimizer state, data, the trace's
  buffers). numpy reports its allocations to tracemalloc; memory that Numba allocates inside
  kernels is not seen. With --device cuda: the device allocator's peak
  (`minitorch.cuda.max_memory_allocated()`) over the same steps.

--device cuda runs every step on the GPU (model and data moved there as a PyTorch script
does; each timed sample ends with `cuda.synchronize()` in both libraries) and compares with
PyTorch on the same GPU when its CUDA build is installed.

Each library runs in its own worker process, and this process imports neither (so the LLVM
load order of numba and torch does not arise). NOTE: in one process the libraries' thread
pools starve each other on a small machine: PyTorch's OpenMP threads spin after each op,
Numba's and BLAS's threads wait for a core; measured here, a DQN step took 3.0 ms on torch
and 3.6 ms on minitorch side by side, 0.95 ms and 1.5 ms each alone. The workers take turns
(one is idle while the other is timed), so the rounds stay round-robin. PyTorch uses as
many threads as minitorch (`torch.set_num_threads(minitorch.kernels.cpu.THREADS)`).
torch.compile gets 10 warm-up calls after its compiling one; its status shows that first
call's seconds, which use inductor's own on-disk cache as earlier runs left it (not cold).

Other processes on the machine inflate the timings (with 2 cores, a parallel region waits
for a thread that another process has taken off its core). "other %" is the CPU time the
rest of the machine used while a workload's rounds ran (from /proc/stat, less this suite's
processes), as a percentage of all cores. Before a workload's rounds the suite waits up to
--wait-idle seconds (default 60; 0 with --quick) for the rest of the machine to be quiet, and
if others were busy during the rounds anyway, it waits and times them once more, keeping the
quieter of the two measurements.

--quick: 3 rounds of 2 steps (instead of 7 of 5), torch.compile skipped (its first compile
takes 5-20 s per workload here), cold/warm compile measured only for linreg and mlp, and
no waiting for a quiet machine.

Results go to --json (default benchmarks/results/suite.json) and, when matplotlib is
importable (`pip install "minitorch[bench]"`), a bar chart to --png (default: the JSON's
path with .png).
"""

from __future__ import annotations

import argparse
import gc
import json
import math
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
import tracemalloc
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from workloads import WORKLOADS

HERE = Path(__file__).resolve().parent
MODES = ("minitorch", "minitorch.compile", "torch", "torch.compile")
LIBRARY = {"minitorch": "minitorch", "minitorch.compile": "minitorch"}  # mode -> worker
LIBRARY.update({"torch": "torch", "torch.compile": "torch"})
QUICK_COMPILE_PROBES = ("linreg", "mlp")
# Calls after the compiling one, before timing: lets inductor settle (autotuning, caches).
TORCH_COMPILE_WARMUP = 10
# Eager vs traced comparison; it also warms the traced step up (eager, trace, 2 replays).
CHECK_STEPS = 4
MEMORY_STEPS = 3
QUIET_PERCENT = 10  # the rest of the machine is "quiet" below this share of all cores


@dataclass
class Settings:
    rounds: int
    steps: int
    torch_compile: bool
    compile_probes: tuple | None  # workload names to measure cold/warm compile for; None = all
    wait_idle: float  # seconds to wait at most for a quiet machine before each workload
    device: str = "cpu"


def _first_line(e: BaseException) -> str:
    text = str(e).strip().splitlines()
    return f"{type(e).__name__}: {text[0][:160] if text else ''}"


def _output(out) -> dict:
    """What a step returned, for the JSON: shape and sum (the loss for a training step)."""
    out = out.detach()
    return {"shape": list(out.shape), "sum": float(out.sum())}


MIN_SAMPLE_S = 0.05  # a timed sample runs at least this long


# ---- worker processes: one per library, each holding the current workload's steps ----------
class _Bench:
    """The steps of one library for the current workload; requests are its methods."""

    def __init__(self, device: str):
        self.steps: dict = {}
        self.device = device
        self.cuda = device.startswith("cuda")

    def build(self, workload: str):
        return WORKLOADS[workload](self.lib, self.device)

    def sync(self) -> None:
        """Wait for the device (both libraries spell it `cuda.synchronize()`)."""
        if self.cuda:
            self.lib.cuda.synchronize()

    def time(self, mode: str, n: int) -> dict:
        """ms per step over at least n steps and MIN_SAMPLE_S seconds, after two untimed steps:
        the worker was idle while the other library ran, and its first steps after waking
        (thread pools asleep, caches cold) would inflate a sample of a short step."""
        step = self.steps[mode]
        gc.collect()
        step(), step()
        self.sync()
        count, start = 0, time.perf_counter()
        while count < n or time.perf_counter() - start < MIN_SAMPLE_S:
            step()
            count += 1
            if count >= n:  # NOTE: launches are asynchronous: the clock reads a finished GPU
                self.sync()
        return {"ms": (time.perf_counter() - start) / count * 1e3}

    def cpu(self) -> dict:
        """CPU seconds this worker has used (to tell its load from other processes')."""
        t = os.times()
        return {"seconds": t.user + t.system}

    def _outputs(self) -> dict:
        return {mode: _output(step()) for mode, step in self.steps.items()}


class MinitorchBench(_Bench):
    def __init__(self, device: str):
        super().__init__(device)
        import minitorch  # noqa: PLC0415
        import minitorch.nn  # noqa: F401, PLC0415
        import minitorch.optim  # noqa: F401, PLC0415

        self.lib = minitorch

    def info(self) -> dict:
        import numba  # noqa: PLC0415

        info = {
            "minitorch": self.lib.__version__,
            "numba": numba.__version__,
            "numba_threading_layer": numba.config.THREADING_LAYER,
            "minitorch_threads": self.lib.kernels.cpu.THREADS,
            "minitorch_blas": _blas_name(),
        }
        if self.cuda and self.lib.cuda.is_available():
            from numba import cuda  # noqa: PLC0415

            name = getattr(cuda.get_current_device(), "name", "the CUDA simulator")
            info["gpu"] = name.decode() if isinstance(name, bytes) else str(name)
        elif self.cuda:
            info["gpu"] = None
        return info

    def setup(self, workload: str, torch_compile: bool) -> dict:
        """Eager and traced steps, compared step by step (which also warms both up)."""
        self.steps.clear()
        lib = self.lib
        lib.manual_seed(0)
        eager = self.build(workload)
        lib.manual_seed(0)
        traced = lib.compile(self.build(workload))
        self.steps["minitorch"] = eager
        check = {"same": True, "mismatch": None}
        for i in range(CHECK_STEPS):
            lib.manual_seed(i)
            a = eager().detach().cpu().numpy()
            lib.manual_seed(i)
            try:
                b = traced().detach().cpu().numpy()
            except Exception as e:  # noqa: BLE001  (reported, not fixed: the suite goes on)
                check["same"] = None
                status = {"minitorch": "ok", "minitorch.compile": f"failed: {_first_line(e)}"}
                return {"status": status, "check": check}
            if check["same"] and not np.array_equal(a, b):
                diff = float(np.abs(a - b).max())
                check.update(same=False, mismatch=f"step {i}: max |eager - traced| = {diff:.3g}")
        self.steps["minitorch.compile"] = traced
        return {"status": {"minitorch": "ok", "minitorch.compile": "ok"}, "check": check}

    def report(self, workload: str) -> dict:
        traced = self.steps.get("minitorch.compile")
        stats = traced.stats if traced else None
        reply = {
            "outputs": self._outputs(),
            "kernels_per_step": stats.ops_replayed if stats else None,
            "trace": {k: getattr(stats, k) for k in stats.__dataclass_fields__} if stats else None,
            "peak_mib": {"minitorch": self._peak_mib(workload, traced=False)},
        }
        if traced:
            reply["peak_mib"]["minitorch.compile"] = self._peak_mib(workload, traced=True)
        return reply

    def _peak_mib(self, workload: str, traced: bool) -> float:
        """Peak memory during MEMORY_STEPS warm steps, live state included: tracemalloc's on
        the CPU, the caching allocator's on a GPU."""
        gc.collect()
        if not self.cuda:
            tracemalloc.start()
        try:
            self.lib.manual_seed(0)
            step = self.build(workload)
            if traced:
                step = self.lib.compile(step)
            for _ in range(3):  # eager: warm; traced: eager call, trace, first replay
                step()
            self.sync()
            if self.cuda:
                self.lib.cuda.reset_peak_memory_stats()
            else:
                tracemalloc.reset_peak()
            for _ in range(MEMORY_STEPS):
                step()
            self.sync()
            if self.cuda:
                return self.lib.cuda.max_memory_allocated() / 2**20
            return tracemalloc.get_traced_memory()[1] / 2**20
        finally:
            if not self.cuda:
                tracemalloc.stop()


class TorchBench(_Bench):
    def __init__(self, threads: int, device: str):
        super().__init__(device)
        try:
            import torch  # noqa: PLC0415
        except ImportError:
            torch = None
        else:
            torch.set_num_threads(threads)  # the same cores as minitorch
        self.lib = torch

    def info(self) -> dict:
        if self.lib is None:
            return {"torch": None}
        return {"torch": self.lib.__version__, "torch_threads": self.lib.get_num_threads()}

    def setup(self, workload: str, torch_compile: bool) -> dict:
        """torch eager and (if asked) torch.compile steps, warmed up; the status of each."""
        self.steps.clear()
        torch = self.lib
        if torch is None:
            return {"status": {m: "n/a: torch not importable" for m in ("torch", "torch.compile")}}
        if self.cuda and not torch.cuda.is_available():
            why = "n/a: this torch build has no CUDA device"
            return {"status": {m: why for m in ("torch", "torch.compile")}}
        torch.manual_seed(0)
        self.steps["torch"] = self.build(workload)
        for _ in range(2):
            self.steps["torch"]()
        status = {"torch": "ok", "torch.compile": self._compile(workload, torch_compile)}
        return {"status": status}

    def _compile(self, workload: str, wanted: bool) -> str:
        if not wanted:
            return "skipped (--quick)"
        torch = self.lib
        torch._dynamo.reset()  # each workload compiles from scratch, not into the last one's cache
        torch.manual_seed(0)
        try:
            compiled = torch.compile(self.build(workload))
            start = time.perf_counter()
            compiled()
            first = time.perf_counter() - start
            for _ in range(TORCH_COMPILE_WARMUP):
                compiled()
        except Exception as e:  # noqa: BLE001  (no C++ compiler, unsupported op, ...: one line why)
            return f"n/a: {_first_line(e)}"
        self.steps["torch.compile"] = compiled
        return f"ok (first call {first:.1f} s)"

    def report(self, workload: str) -> dict:
        return {"outputs": self._outputs()}


def serve(library: str, threads: int, device: str) -> None:
    """Worker main loop: one JSON request per line on stdin, one JSON reply per line."""
    replies = os.fdopen(os.dup(1), "w")
    os.dup2(2, 1)  # stray prints (compiler logs) go to stderr, never into the replies
    bench = MinitorchBench(device) if library == "minitorch" else TorchBench(threads, device)
    for line in sys.stdin:
        request = json.loads(line)
        try:
            reply = getattr(bench, request.pop("cmd"))(**request)
        except Exception as e:  # noqa: BLE001  (sent back; the coordinator decides)
            reply = {"error": _first_line(e)}
        replies.write(json.dumps(reply) + "\n")
        replies.flush()


class WorkerError(RuntimeError):
    pass


class Worker:
    """A library's worker process (started on first use, again if it died), asked in turn."""

    def __init__(self, library: str, device: str, threads: int = 0):
        self.library = library
        self.argv = [sys.executable, str(Path(__file__).resolve()), "--worker", library]
        self.argv += ["--threads", str(threads), "--device", device]
        self.env = dict(os.environ)
        if library == "minitorch":
            # NOTE: the worker imports numpy before minitorch, so minitorch's import cannot set
            # OpenBLAS's idle spin any more (minitorch/_openblas.py); a script that imports
            # minitorch first gets this setting, and so does its worker.
            self.env.setdefault("OPENBLAS_THREAD_TIMEOUT", "4")
        self.proc = None

    def ask(self, cmd: str, **kwargs) -> dict:
        if self.proc is None or self.proc.poll() is not None:
            self.proc = subprocess.Popen(
                self.argv, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True, env=self.env
            )
        self.proc.stdin.write(json.dumps({"cmd": cmd, **kwargs}) + "\n")
        self.proc.stdin.flush()
        line = self.proc.stdout.readline()
        if not line:
            code, self.proc = self.proc.wait(), None
            raise WorkerError(f"the {self.library} worker exited with status {code}")
        reply = json.loads(line)
        if "error" in reply:
            raise WorkerError(reply["error"])
        return reply

    def close(self) -> None:
        if self.proc is not None:
            self.proc.stdin.close()
            self.proc.wait(timeout=60)


# ---- cold and warm compile, each in a new process ---------------------------------------------
def compile_probe(name: str, device: str) -> None:
    """Child process: build the traced step, call it until it has replayed once; print JSON."""
    import minitorch  # noqa: PLC0415
    import minitorch.nn  # noqa: F401, PLC0415
    import minitorch.optim  # noqa: F401, PLC0415
    from minitorch.kernels.cpu import compiler  # noqa: PLC0415

    before = compiler.stats.numba_compiles
    start = time.perf_counter()
    step = minitorch.compile(WORKLOADS[name](minitorch, device))
    while step.stats.replays < 1:
        step()
    seconds = time.perf_counter() - start
    compiles = compiler.stats.numba_compiles - before
    print(json.dumps({"seconds": seconds, "numba_compiles": compiles}))


def _run_probe(name: str, cache: str, device: str) -> dict:
    env = dict(os.environ, MINITORCH_CACHE_DIR=cache, NUMBA_CACHE_DIR=os.path.join(cache, "numba"))
    cmd = [sys.executable, str(Path(__file__).resolve()), "--compile-probe", name]
    cmd += ["--device", device]
    proc = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=900)
    if proc.returncode != 0:
        lines = proc.stderr.strip().splitlines() or ["no output"]
        raise RuntimeError(f"exit {proc.returncode}: {lines[-1][:160]}")
    return json.loads(proc.stdout.strip().splitlines()[-1])


def compile_times(name: str, device: str) -> dict:
    """Cold (empty caches) then warm (same caches, new process) compile of one workload."""
    with tempfile.TemporaryDirectory(prefix="minitorch-suite-") as cache:
        try:
            cold = _run_probe(name, cache, device)
            warm = _run_probe(name, cache, device)
        except (RuntimeError, subprocess.TimeoutExpired, ValueError) as e:
            return {"status": f"failed: {_first_line(e)}"}
    return {
        "status": "ok",
        "cold_s": cold["seconds"],
        "warm_s": warm["seconds"],
        "cold_numba_compiles": cold["numba_compiles"],
        "warm_numba_compiles": warm["numba_compiles"],
    }


# ---- the load of other processes --------------------------------------------------------------
def _machine_cpu_seconds() -> float | None:
    """CPU seconds all processes (and other VMs, as steal) have used, from /proc/stat."""
    try:
        fields = Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:9]
    except OSError:
        return None
    user, nice, system, _idle, _iowait, irq, softirq, steal = map(int, fields)
    return (user + nice + system + irq + softirq + steal) / os.sysconf("SC_CLK_TCK")


def _our_cpu_seconds(workers: dict) -> float:
    t = os.times()  # this process, and the compile probes it has waited for
    ours = t.user + t.system + t.children_user + t.children_system
    return ours + sum(w.ask("cpu")["seconds"] for w in workers.values() if w.proc is not None)


class OtherLoad:
    """Percent of all cores that other processes used between start() and percent()."""

    def __init__(self, workers: dict):
        self.workers = workers

    def start(self) -> OtherLoad:
        self.t0, self.all0 = time.perf_counter(), _machine_cpu_seconds()
        self.ours0 = _our_cpu_seconds(self.workers)
        return self

    def percent(self) -> float | None:
        all1, ours1 = _machine_cpu_seconds(), _our_cpu_seconds(self.workers)
        if all1 is None:
            return None
        other = (all1 - self.all0) - (ours1 - self.ours0)
        wall = time.perf_counter() - self.t0
        return max(0.0, 100 * other / (wall * os.cpu_count()))


def wait_for_quiet(workers: dict, limit: float) -> float:
    """Wait (1 s samples, at most `limit` s) until other processes use < QUIET_PERCENT."""
    start = time.perf_counter()
    while time.perf_counter() - start < limit:
        load = OtherLoad(workers).start()
        time.sleep(1.0)
        pct = load.percent()
        if pct is None or pct < QUIET_PERCENT:
            break
    return time.perf_counter() - start


# ---- one workload -----------------------------------------------------------------------------
def time_round_robin(workers: dict, modes: list, rounds: int, n: int) -> tuple[dict, float]:
    """ms per step of each mode in each round (the modes timed in turn); other load %."""
    samples = {mode: [] for mode in modes}
    load = OtherLoad(workers).start()
    for _ in range(rounds):
        for mode in modes:
            samples[mode].append(workers[LIBRARY[mode]].ask("time", mode=mode, n=n)["ms"])
    return samples, load.percent()


def _quiet_rounds(workers: dict, modes: list, settings: Settings) -> tuple[dict, float, float]:
    """time_round_robin after waiting for a quiet machine; once more if others were busy."""
    best, waited = None, 0.0
    for _ in range(2 if settings.wait_idle else 1):
        if settings.wait_idle:
            waited += wait_for_quiet(workers, settings.wait_idle)
        samples, other = time_round_robin(workers, modes, settings.rounds, settings.steps)
        if best is None or (other is not None and other < best[1]):
            best = (samples, other)
        if other is None or other < QUIET_PERCENT:
            break
    return best[0], best[1], waited


def _ratios(samples: dict) -> dict:
    """Each mode's time over the traced step's, as the median of the rounds' ratios.

    NOTE: the ratio of each round's own samples, not of the two modes' medians: this VM's
    speed drifts by up to 2x within minutes, and samples taken seconds apart see the same
    speed, while the two medians may come from rounds run at different speeds.
    """
    traced = samples.get("minitorch.compile")
    pairs = {
        "eager/traced": "minitorch",
        "torch/traced": "torch",
        "compile/traced": "torch.compile",
    }
    ratios = {}
    for key, mode in pairs.items():
        other = samples.get(mode)
        ratios[key] = (
            statistics.median(a / b for a, b in zip(other, traced)) if traced and other else None
        )
    return ratios


def _setup(workers: dict, name: str, settings: Settings) -> tuple[dict, dict]:
    status, check = {}, {"same": None, "mismatch": None}
    for library, worker in workers.items():
        try:
            reply = worker.ask("setup", workload=name, torch_compile=settings.torch_compile)
        except WorkerError as e:
            modes = [m for m in MODES if LIBRARY[m] == library]
            reply = {"status": {m: f"failed: {e}" for m in modes}}
        status.update(reply["status"])
        check.update(reply.get("check", {}))
    return status, check


def bench_workload(name: str, settings: Settings, workers: dict) -> dict:
    status, check = _setup(workers, name, settings)
    timed = [m for m in MODES if status[m].startswith("ok")]
    samples, other, waited = _quiet_rounds(workers, timed, settings)
    ms = {mode: statistics.median(s) for mode, s in samples.items()}
    row = {
        "description": (WORKLOADS[name].__doc__ or "").strip().splitlines()[0],
        "modes": {m: {"ms": ms.get(m), "status": status[m]} for m in MODES},
        "ratios": _ratios(samples),
        "samples_ms": samples,  # per mode, one per round, in the order they were timed
        "other_load_percent": other,
        "waited_for_quiet_s": waited,
        "traced_matches_eager": check["same"],
        "mismatch": check["mismatch"],
        "outputs": {},
        "kernels_per_step": None,
        "trace": None,
        "peak_mib": {},
    }
    for library, worker in workers.items():
        if any(LIBRARY[m] == library for m in timed):
            reply = worker.ask("report", workload=name)
            row["outputs"].update(reply.pop("outputs"))
            row.update(reply)
    probe = settings.compile_probes is None or name in settings.compile_probes
    skipped = {"status": "skipped (--quick)"}
    row["compile"] = compile_times(name, settings.device) if probe else skipped
    return row


# ---- report -----------------------------------------------------------------------------------
def machine(workers: dict) -> dict:
    info = {
        "platform": platform.platform(),
        "processor": platform.machine(),
        "cpu_count": os.cpu_count(),
        "python": platform.python_version(),
        "numpy": np.__version__,
    }
    for worker in workers.values():
        info.update(worker.ask("info"))
    return info


def _num(x, fmt: str) -> str:
    return "-" if x is None or (isinstance(x, float) and math.isnan(x)) else format(x, fmt)


def _time_table(rows: dict) -> list[str]:
    head = f"{'workload':12} {'mt eager':>9} {'mt traced':>9} {'torch':>8} {'t.compile':>9}"
    lines = [head + f"  {'eager/tr':>8} {'torch/tr':>8} {'tcomp/tr':>8}  same  other %"]
    lines.append("-" * len(lines[0]))
    for name, r in rows.items():
        ms = [_num(r["modes"][m]["ms"], ".2f") for m in MODES]
        ratios = [_num(v, ".2f") + ("x" if v else "") for v in r["ratios"].values()]
        same = {True: "yes", False: "NO", None: "-"}[r["traced_matches_eager"]]
        lines.append(
            f"{name:12} {ms[0]:>9} {ms[1]:>9} {ms[2]:>8} {ms[3]:>9}  "
            f"{ratios[0]:>8} {ratios[1]:>8} {ratios[2]:>8}  {same:4} "
            f"{_num(r['other_load_percent'], '8.0f')}"
        )
    return lines


def _compile_table(rows: dict) -> list[str]:
    head = f"{'workload':12} {'kernels':>7} {'trace ms':>8} {'cold s':>14} {'warm s':>12}"
    lines = [head + f"  {'peak eager MiB':>14} {'peak traced MiB':>15}"]
    lines.append("-" * len(lines[0]))
    for name, r in rows.items():
        c, trace, peak = r["compile"], r["trace"] or {}, r["peak_mib"]
        cold = warm = "-"
        if c["status"] == "ok":
            cold = f"{c['cold_s']:.2f} ({c['cold_numba_compiles']})"
            warm = f"{c['warm_s']:.2f} ({c['warm_numba_compiles']})"
        trace_ms = trace.get("trace_seconds")
        lines.append(
            f"{name:12} {_num(r['kernels_per_step'], 'd'):>7} "
            f"{_num(trace_ms and trace_ms * 1e3, '.1f'):>8} {cold:>14} {warm:>12}  "
            f"{_num(peak.get('minitorch'), '.2f'):>14} "
            f"{_num(peak.get('minitorch.compile'), '.2f'):>15}"
        )
    return lines


def _notes(rows: dict) -> list[str]:
    """Everything that is not a plain "ok": failures, n/a reasons, mismatches, retraces."""
    notes = []
    for name, r in rows.items():
        for mode, m in r["modes"].items():
            if not m["status"].startswith(("ok", "skipped")):
                notes.append(f"{name}: {mode}: {m['status']}")
        if r["compile"]["status"].startswith("failed"):
            notes.append(f"{name}: cold/warm compile {r['compile']['status']}")
        if r["mismatch"]:
            notes.append(f"{name}: traced output differs from eager: {r['mismatch']}")
        for reason in (r["trace"] or {}).get("retraces", []):
            notes.append(f"{name}: retraced: {reason}")
        other = r["other_load_percent"]
        if other is not None and other >= QUIET_PERCENT:
            notes.append(
                f"{name}: other processes used {other:.0f}% of the CPUs during its rounds: "
                "its timings are inflated"
            )
    return notes


def _blas_name() -> str:
    """Which library runs minitorch's matrix products (kernels/cpu/mkl.py, else numpy's)."""
    from importlib import metadata  # noqa: PLC0415

    from minitorch.kernels.cpu import mkl  # noqa: PLC0415

    if mkl.library() is not None:
        try:
            return f"MKL {metadata.version('mkl')}"
        except metadata.PackageNotFoundError:
            return "MKL"
    return "numpy's BLAS"


def report(result: dict) -> str:
    m, rows = result["machine"], result["workloads"]
    lines = [
        f"machine: {m['platform']}, {m['processor']}, {m['cpu_count']} CPUs"
        f"{', GPU ' + m['gpu'] if m.get('gpu') else ''}; "
        f"minitorch {m['minitorch_threads']} threads ({m['numba_threading_layer']}), "
        f"torch {m.get('torch_threads', '-')} threads; each library in its own process",
        f"python {m['python']}, minitorch {m['minitorch']} (products: "
        f"{m.get('minitorch_blas', '-')}), numpy {m['numpy']}, "
        f"numba {m['numba']}, torch {m['torch'] or 'not installed'}; device "
        f"{result['settings'].get('device', 'cpu')}",
        f"{result['settings']['rounds']} rounds of >= {result['settings']['steps']} steps and "
        f"{MIN_SAMPLE_S * 1e3:.0f} ms, median ms per step; x/tr = speedup of the traced step "
        "(> 1: traced is faster), the median of the rounds' own ratios",
        "",
        *_time_table(rows),
        "",
        "kernels = launched per traced step; cold/warm = s to the first replay in a new process "
        "(numba compiles)",
        *_compile_table(rows),
    ]
    notes = result["skipped"] + _notes(rows)
    if notes:
        lines += ["", "notes:", *(f"  {n}" for n in notes)]
    return "\n".join(lines)


def write_png(result: dict, path: Path) -> str:
    """Grouped bars of ms per step, one group per workload (log scale: they span 100x)."""
    try:
        import matplotlib  # noqa: PLC0415

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt  # noqa: PLC0415
        import matplotlib.ticker  # noqa: PLC0415
    except ImportError:
        return 'png: skipped (matplotlib not importable; pip install "minitorch[bench]")'
    names = list(result["workloads"])
    if not any(r["modes"][m]["ms"] for r in result["workloads"].values() for m in MODES):
        return "png: skipped (no mode was timed)"
    fig, ax = plt.subplots(figsize=(max(6, 1.3 * len(names)), 4.5))
    width = 0.8 / len(MODES)
    for i, mode in enumerate(MODES):
        ms = [result["workloads"][n]["modes"][mode]["ms"] for n in names]
        label = mode if any(ms) else f"{mode} (not measured)"
        ms = [math.nan if v is None else v for v in ms]  # no bar rather than a zero-height one
        ax.bar([j + (i - 1.5) * width for j in range(len(names))], ms, width, label=label)
    ax.set_xticks(range(len(names)), names, rotation=30, ha="right")
    ax.set_yscale("log")
    ax.yaxis.set_major_formatter(matplotlib.ticker.FuncFormatter(lambda v, _: f"{v:g}"))
    ax.set_ylabel("ms per step (median, lower is better)")
    ax.set_title(f"minitorch vs PyTorch, {result['machine']['cpu_count']} CPUs")
    ax.legend(fontsize="small")
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=120)
    plt.close(fig)
    return f"png: {path}"


# ---- main -------------------------------------------------------------------------------------
def _parse(argv) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="under 2 minutes; see the docstring")
    parser.add_argument("--only", help=f"comma-separated names from: {', '.join(WORKLOADS)}")
    parser.add_argument(
        "--json", help="results path (default benchmarks/results/suite.json, suite_cuda.json)"
    )
    parser.add_argument("--png", help="bar chart path (default: the --json path with .png)")
    parser.add_argument(
        "--device", default="cpu", help='"cpu" (default) or "cuda": where every step runs'
    )
    parser.add_argument(
        "--wait-idle",
        type=float,
        help="seconds to wait at most for a quiet machine before each workload "
        "(default 60, 0 with --quick)",
    )
    # Child processes (see above): a library's worker, a cold/warm compile measurement.
    parser.add_argument("--worker", choices=["minitorch", "torch"], help=argparse.SUPPRESS)
    parser.add_argument("--threads", type=int, default=0, help=argparse.SUPPRESS)
    parser.add_argument("--compile-probe", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    args.names = args.only.split(",") if args.only else list(WORKLOADS)
    unknown = [n for n in args.names if n not in WORKLOADS]
    if unknown:
        known = ", ".join(WORKLOADS)
        parser.error(f"unknown workload(s) {', '.join(unknown)}; choose from {known}")
    return args


def _settings(quick: bool, wait_idle: float | None, device: str) -> tuple[Settings, list[str]]:
    if not quick:
        wait = 60.0 if wait_idle is None else wait_idle
        return Settings(7, 5, True, compile_probes=None, wait_idle=wait, device=device), []
    skipped = [
        "--quick: 3 rounds x 2 steps; torch.compile skipped; cold/warm compile measured "
        f"only for {', '.join(QUICK_COMPILE_PROBES)}"
    ]
    wait = wait_idle or 0.0
    probes = QUICK_COMPILE_PROBES
    return Settings(3, 2, False, compile_probes=probes, wait_idle=wait, device=device), skipped


def run(names: list, settings: Settings, skipped: list) -> dict:
    workers = {"minitorch": Worker("minitorch", settings.device)}
    try:
        info = workers["minitorch"].ask("info")
        if settings.device != "cpu" and not info.get("gpu"):
            raise SystemExit(
                f"suite: --device {settings.device} needs a CUDA GPU, and minitorch sees none "
                "(minitorch.cuda.is_available() is False); run it on a GPU machine, e.g. through "
                "benchmarks/gpu_check.py"
            )
        threads = info["minitorch_threads"]
        workers["torch"] = Worker("torch", settings.device, threads)
        result = {"machine": machine(workers), "settings": vars(settings), "skipped": skipped}
        result["workloads"] = {}
        start = time.perf_counter()
        for name in names:
            print(f"[{time.perf_counter() - start:6.1f} s] {name} ...", flush=True)
            result["workloads"][name] = bench_workload(name, settings, workers)
        result["seconds"] = time.perf_counter() - start
    finally:
        for worker in workers.values():
            worker.close()
    return result


def main(argv=None) -> dict:
    args = _parse(argv)
    if args.worker:
        serve(args.worker, args.threads, args.device)
        return {}
    if args.compile_probe:
        compile_probe(args.compile_probe, args.device)
        return {}
    settings, skipped = _settings(args.quick, args.wait_idle, args.device)
    result = run(args.names, settings, skipped)
    print()
    print(report(result))
    default = "suite.json" if args.device == "cpu" else "suite_cuda.json"
    json_path = Path(args.json or HERE / "results" / default)
    json_path.parent.mkdir(parents=True, exist_ok=True)
    json_path.write_text(json.dumps(result, indent=2) + "\n")
    print(f"\njson: {json_path}")
    print(write_png(result, Path(args.png) if args.png else json_path.with_suffix(".png")))
    print(f"total: {result['seconds']:.1f} s")
    return result


if __name__ == "__main__":
    main()
