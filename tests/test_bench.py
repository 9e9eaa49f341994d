"""Smoke test of the benchmark runner, bench/run.py: a --quick run works end to end and writes sane
JSON and markdown. No timing assertions: performance claims live in bench/RESULTS.md, not here."""
import importlib.util
import json
import math
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture
def runner():
    """bench/run.py as a module; its sys.path entry for bench/ is taken back afterwards."""
    saved_path, had_workloads = list(sys.path), "workloads" in sys.modules
    spec = importlib.util.spec_from_file_location("bench_run", ROOT / "bench" / "run.py")
    module = importlib.util.module_from_spec(spec)
    try:
        spec.loader.exec_module(module)
        yield module
    finally:
        sys.path[:] = saved_path
        if not had_workloads:
            sys.modules.pop("workloads", None)


def test_quick_run_writes_sane_results(tmp_path):
    """Two workloads (training and one-row inference), mlplab and onnxruntime: the runner end to end,
    worker processes, the JSON and the markdown. The full run is `make bench`, not part of the suite."""
    out, results_json = tmp_path / "RESULTS.md", tmp_path / "r.json"
    command = [sys.executable, "bench/run.py", "--quick", "--only", "W1,W6", "--peers", "mlplab,onnxruntime",
               "--blas", "haswell", "--rounds", "1", "--out", str(out), "--json", str(results_json)]
    run = subprocess.run(command, cwd=ROOT, env={**os.environ, "MPLBACKEND": "Agg"}, capture_output=True,
                         text=True, timeout=600, check=False)
    assert run.returncode == 0, run.stdout[-4000:] + run.stderr[-4000:]

    results = json.loads(results_json.read_text())
    assert results["meta"]["workloads"] == ["W1", "W6"]
    for workload in results["meta"]["workloads"]:
        rows = [row for row in results["rows"] if row["workload"] == workload]
        assert any(row["library"].startswith("mlplab") for row in rows), workload
        if workload == "W6":
            assert any(row["library"].startswith("onnxruntime") for row in rows), workload
        for row in rows:
            assert math.isfinite(row["median"]) and row["median"] > 0, row
            assert row["min"] <= row["median"] <= row["max"], row

    text = out.read_text()
    assert text.count("<!-- bench:run.py begin -->") == 1 and text.count("<!-- bench:run.py end -->") == 1
    assert "### Machine" in text and "| CPU |" in text and "| cores |" in text
    assert "### Targets" in text and "| target | BLAS | measured | required | met? |" in text


def test_results_file_keeps_everything_outside_the_markers(tmp_path, runner):
    path = tmp_path / "RESULTS.md"
    path.write_text("# Benchmark results\n\nIntro.\n\n## Older entry\n\nOld numbers.\n")
    runner.update_results(path, "## New section\n")
    first = path.read_text()
    assert first.index("Intro.") < first.index(runner.BEGIN) < first.index("## New section")
    assert first.index(runner.END) < first.index("## Older entry") and "Old numbers." in first
    runner.update_results(path, "## Newer section\n")
    second = path.read_text()
    assert "## New section" not in second and "## Newer section" in second
    assert second.replace("## Newer section", "## New section") == first
