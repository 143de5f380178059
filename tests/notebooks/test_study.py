"""run_all.py end to end on the embedded sample, smoke profile: every output of STUDY.md."""

import os
import stat
import subprocess
import sys

import pandas as pd
import torch

from colorlib.config import PRESETS
from colorlib.paths import project_root


def _run_all(tmp_path, *args):
    cmd = [
        sys.executable,
        str(project_root() / "run_all.py"),
        "--profile",
        "smoke",
        "--data",
        "sample",
        "--models-dir",
        str(tmp_path / "models"),
        "--results-dir",
        str(tmp_path / "results"),
        *args,
    ]
    return subprocess.run(cmd, capture_output=True, text=True, cwd=project_root())


def test_run_all_smoke_produces_every_output(tmp_path):
    done = _run_all(tmp_path)
    assert done.returncode == 0, done.stdout + done.stderr
    models, results = tmp_path / "models", tmp_path / "results"
    expected = []
    for m in PRESETS:
        expected += [
            models / m / "best_model.pt",
            models / m / "checkpoint_epoch_1.pt",
            results / m / f"metrics_{m}.csv",
            results / m / f"training_history_{m}.csv",
            results / m / f"training_history_{m}.png",
            results / m / f"colorization_results_{m}.png",
            results / m / f"val_samples_{m}_epoch_1.png",
            results / m / f"model_{m}.ipynb",
            results / m / "run.json",
        ]
    ev = results / "Evaluate"
    expected += [
        results / "GRAY" / "metrics_GRAY.csv",
        ev / "comprehensive_metrics_comparison.png",
        ev / "training_history_comparison.png",
        ev / "complete_comparison_grid.png",
        ev / "comparison_test_image_1.png",
        ev / "inference_metrics_comparison.csv",
        ev / "comprehensive_model_evaluation.ipynb",
        ev / "report.html",
    ]
    missing = [str(p) for p in expected if not p.is_file() or p.stat().st_size == 0]
    assert not missing
    table = pd.read_csv(ev / "metrics_comparison.csv", index_col=0)
    assert list(table.index) == [*PRESETS, "GRAY"]
    assert "Evaluate" in done.stdout and "failed" not in done.stdout
    # every file of the study, executed notebooks included, gets 0666 & ~umask
    umask = os.umask(0)
    os.umask(umask)
    modes = {oct(stat.S_IMODE(p.stat().st_mode)) for p in tmp_path.rglob("*") if p.is_file()}
    assert modes == {oct(0o666 & ~umask)}

    # a second run skips what is complete
    again = _run_all(tmp_path, "--models", "A,GRAY")
    assert again.returncode == 0 and again.stdout.count("skipped") >= 2


def test_one_failure_does_not_stop_the_others(tmp_path):
    # B's folder holds a training state from another configuration: B must fail, A must not
    (tmp_path / "models" / "B").mkdir(parents=True)
    torch.save(
        {"format": "colorlib.checkpoint", "version": 1},
        tmp_path / "models" / "B" / "training_state.pt",
    )
    done = _run_all(tmp_path, "--models", "B,A")
    assert done.returncode == 1
    assert "FAILED: B" in done.stderr
    assert (tmp_path / "results" / "A" / "metrics_A.csv").is_file()
    assert (tmp_path / "results" / "B" / "error.txt").is_file()
    assert (tmp_path / "results" / "B" / "model_B.ipynb").is_file()


def test_run_all_rejects_bad_arguments(tmp_path):
    bad = _run_all(tmp_path, "--models", "A,Z")
    assert bad.returncode == 2 and "unknown model(s) ['Z']" in bad.stderr
    bad = _run_all(tmp_path, "--set", "epochz=1")
    assert bad.returncode == 2 and "unknown config key" in bad.stderr
