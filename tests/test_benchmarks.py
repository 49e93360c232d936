"""The benchmark workloads and suite: they build, step and report (no timing thresholds; timing
lives in benchmarks/)."""

import importlib.util
import json
import math
import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

import minitorch

BENCHMARKS = Path(__file__).parents[1] / "benchmarks"
sys.path.insert(0, str(BENCHMARKS))
import suite  # noqa: E402
import workloads  # noqa: E402

NEW = ["linreg", "dqn", "mlp_infer", "lenet_infer"]
OUTPUT_SHAPES = {"linreg": (), "dqn": (), "mlp_infer": (64, 10), "lenet_infer": (64, 10)}


def _steps(lib, name, n=3):
    lib.manual_seed(0)
    step = workloads.WORKLOADS[name](lib)
    return [step().detach().numpy().copy() for _ in range(n)]


def test_registry_keeps_training_steps_and_adds_inference():
    assert list(workloads.WORKLOADS)[:5] == ["mlp", "lenet", "cifar_cnn", "gru", "transformer"]
    assert set(NEW) <= set(workloads.WORKLOADS)


@pytest.mark.parametrize("name", NEW)
def test_new_workloads_step_on_minitorch(name):
    outs = _steps(minitorch, name)
    assert all(o.shape == OUTPUT_SHAPES[name] and np.isfinite(o).all() for o in outs)
    if name.endswith("_infer"):  # eval mode, no dropout: the same logits every call
        np.testing.assert_array_equal(outs[0], outs[-1])
    else:  # the optimizer moves the loss
        assert outs[0] != outs[-1]


@pytest.mark.parametrize("name", NEW)
def test_new_workloads_step_on_torch_with_the_same_shapes(name):
    torch = pytest.importorskip("torch")
    outs = _steps(torch, name)
    assert [o.shape for o in outs] == [o.shape for o in _steps(minitorch, name)]
    assert all(np.isfinite(o).all() for o in outs)


@pytest.mark.parametrize("name", NEW)
def test_new_workloads_trace_like_eager(name):
    minitorch.manual_seed(0)
    eager = workloads.WORKLOADS[name](minitorch)
    minitorch.manual_seed(0)
    traced = minitorch.compile(workloads.WORKLOADS[name](minitorch))
    for i in range(4):
        a, b = eager(), traced()
        np.testing.assert_array_equal(a.detach().numpy(), b.detach().numpy(), err_msg=f"step {i}")
    assert traced.stats.replays == 2


def test_traced_transformer_peaks_below_eager():
    """The replay's plans hold no arrays of the replay that made them (a product plan's
    closure once kept its epilogue's operands: the traced peak rose from 11.7 to 17.7 MiB,
    above eager's 16.9), and the memory plan reuses intermediates."""
    bench = suite.MinitorchBench("cpu")  # the suite's own measurement (its peak MiB columns)
    bench._peak_mib("transformer", traced=False)  # warm: a first one counts loading kernels
    eager = bench._peak_mib("transformer", traced=False)
    traced = bench._peak_mib("transformer", traced=True)
    assert traced < eager, (traced, eager)


def test_inference_returns_logits_without_grad():
    minitorch.manual_seed(0)
    out = workloads.mlp_infer(minitorch)()
    assert not out.requires_grad


def test_suite_rejects_unknown_workloads():
    with pytest.raises(SystemExit):
        suite._parse(["--only", "linreg,nope"])


def test_suite_quick_writes_json_and_png(tmp_path):
    out = tmp_path / "suite.json"
    cmd = [sys.executable, str(BENCHMARKS / "suite.py"), "--quick", "--only", "linreg"]
    proc = subprocess.run(cmd + ["--json", str(out)], capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert "linreg" in proc.stdout
    result = json.loads(out.read_text())
    assert {"machine", "settings", "skipped", "workloads", "seconds"} <= set(result)
    row = result["workloads"]["linreg"]
    assert set(row["modes"]) == set(suite.MODES)
    for mode in ("minitorch", "minitorch.compile"):
        assert row["modes"][mode]["status"] == "ok" and row["modes"][mode]["ms"] > 0
    assert row["modes"]["torch.compile"]["status"].startswith("skipped")
    assert set(row["ratios"]) == {"eager/traced", "torch/traced", "compile/traced"}
    assert row["traced_matches_eager"] is True
    assert "other_load_percent" in row and "torch" in result["machine"]
    assert row["kernels_per_step"] > 0
    assert row["compile"]["status"] == "ok"
    assert row["compile"]["cold_s"] > 0 and row["compile"]["warm_s"] > 0
    assert all(math.isfinite(v) and v > 0 for v in row["peak_mib"].values())
    assert set(row["peak_mib"]) == {"minitorch", "minitorch.compile"}
    if "torch" in row["outputs"]:
        assert row["modes"]["torch"]["ms"] > 0
    png = out.with_suffix(".png")
    if importlib.util.find_spec("matplotlib") is not None:  # the dev extra installs it
        assert png.exists() and png.stat().st_size > 0
    else:
        assert "png: skipped" in proc.stdout


def test_gpu_check_tables():
    import gpu_check  # noqa: PLC0415

    keys = ("sgemm_tflops", "add_gbs", "copy_gbs", "small_op_us")
    figures = {
        "minitorch": dict(zip(keys, (25.0, 2000.0, 2500.0, 12.0))),
        "torch": dict(zip(keys, (50.0, 2800.0, 2900.0, 9.0))),
    }
    table = "\n".join(gpu_check._figures_table(figures))
    assert "| SGEMM 4096 (TFLOP/s) | 25.0 | 50.0 |" in table
    assert "add at 80% of minitorch's device copy; SGEMM at 50% of cuBLAS" in table
    no_torch = "\n".join(gpu_check._figures_table({**figures, "torch": "not importable"}))
    assert "| a + b on 10 elements (us) | 12.0 | - |" in no_torch
    output = "[0 s] mlp ...\n\nmachine: x\nrow\n\njson: out.json\npng: p"
    assert gpu_check._suite_table(output) == ["machine: x", "row", ""]


def test_rnn_benchmark_prints_its_table():
    cmd = [sys.executable, str(BENCHMARKS / "rnn.py"), "--blocks", "1", "--calls", "1"]
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr[-2000:]
    lines = proc.stdout.splitlines()
    assert lines[0].split()[-5:] == ["one", "range", "row", "ranges", "torch"]
    assert len(lines) == 5
    for line in lines[1:]:  # one range, row ranges ("-" for torch: not asked for)
        assert float(line.split()[-3]) > 0 and float(line.split()[-2]) > 0


def test_driver_benchmark_compiles_a_run_of_replayed_kernels():
    """benchmarks/driver.py: a replay's longest run of kernel calls, as Python and as one njit
    function on the same arrays, both timed."""
    cmd = [sys.executable, str(BENCHMARKS / "driver.py"), "--workload", "linreg"]
    proc = subprocess.run(
        cmd + ["--rounds", "1", "--calls", "5"], capture_output=True, text=True, timeout=300
    )
    assert proc.returncode == 0, proc.stderr[-2000:]
    out = proc.stdout
    calls = int(re.search(r"longest run of direct kernel calls, (\d+) calls", out).group(1))
    assert calls >= 2 and out.count("    kernel") == calls, out
    for label in ("Python driver (one call per kernel)", "compiled driver (one njit call)"):
        assert float(re.search(rf"{re.escape(label)}: +([\d.]+) us", out).group(1)) > 0, out


def test_allocations_benchmark_measures_what_a_planned_replay_allocates():
    """benchmarks/allocations.py: bytes allocated per driver line of one planned replay. The
    GRU step's recurrences write into the plan's arrays and keep their scratch arrays, so a
    replay allocates under 1 MiB (7.2 MiB before the plan covered them)."""
    sys.path.insert(0, str(BENCHMARKS))
    import allocations  # noqa: PLC0415

    rows = allocations.allocations("gru")
    lines = [line for _, line in rows]
    assert lines and not any(x.startswith(("del ", "return")) for x in lines)
    for op in ("rnn_sequence", "rnn_sequence_backward"):
        assert any(line.endswith(f"# {op}") and "out=" in line for line in lines), lines
    assert 0 < sum(max(size, 0) for size, _ in rows) < 2**20, rows
