"""The CPU benchmark runs and its --json lines can be read by a script (times not asserted)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_bench_json_lines_name_the_data_figures(photos, tmp_path):
    report = tmp_path / "RESULTS.md"
    out = subprocess.run(
        [sys.executable, "benchmarks/bench.py", "--quick", "--json", "--only", "data"]
        + ["--out", str(report)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    rows = [json.loads(line) for line in out.splitlines() if line.startswith("{")]
    assert [r["name"] for r in rows] == ["data_64", "data_256"]
    for r in rows:
        assert set(r) == {"name", "baseline", "colorlib", "ratio", "unit"}
        assert r["unit"] == "samples/s" and r["baseline"] > 0 and r["colorlib"] > 0
        assert abs(r["ratio"] - r["colorlib"] / r["baseline"]) < 1e-9
    assert "| data samples/s at 256² (augmentation on) |" in report.read_text()


def test_the_gpu_checks_cpu_dry_run_covers_every_configuration(tmp_path):
    """benchmarks/gpu_check.py --cpu-dry-run: every trained configuration of both groups with
    determinism fast and exact, their validation, epoch-file and evaluation costs, the baselines'
    evaluation, A trained by two processes at once, the whole-study estimate for both data
    sizes (one configuration at a time and several) and the loss check, on the CPU
    (its numbers mean nothing; torch.compile's path is tests/smoke/test_training.py's)."""
    from colorlib.config import BASELINES, model_ids

    done = subprocess.run(
        [sys.executable, "benchmarks/gpu_check.py", "--cpu-dry-run", "--no-compile",
         "--out", str(tmp_path)],
        cwd=ROOT, capture_output=True, text=True, timeout=1200,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr[-3000:]
    report = (tmp_path / "GPU_RESULTS.md").read_text()
    trained = [m for m in model_ids() if m not in BASELINES]
    for model in trained:
        for mode in ("fast", "exact"):
            assert f"| {model} | {mode} |" in report, (model, mode)
        assert re_row(report, model, 5), model  # validation, epoch end, commit, evaluation
    for gray in BASELINES:
        assert f"| {gray} | | | |" in report
    assert report.count("≤ 10 min:") == 2  # the shared photos and the Kaggle set
    assert re_row(report, "A", 3)  # A trained by one process, and by two at once
    assert report.count(" at once):") == 2  # the estimate with the best of them
    assert "Within bf16 tolerance (2e-2 relative): yes" in report


def re_row(report: str, model: str, cells: int) -> bool:
    """``report`` has a row for ``model`` with ``cells`` non-empty cells (the model's too)."""
    for line in report.splitlines():
        parts = [c.strip() for c in line.strip("|").split("|")]
        if parts[0] == model and len(parts) == cells and all(parts):
            return True
    return False
