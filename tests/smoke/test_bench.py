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
