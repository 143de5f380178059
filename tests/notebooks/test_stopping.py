"""A study stopped with real signals (Ctrl-C's SIGINT, kill's SIGTERM), and the study run from
an installed colorlib in another working directory: real processes, real notebook kernels."""

import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import psutil

from colorlib.atomic import read_csv
from colorlib.runs import StudyPaths, exclusive

ROOT = Path(__file__).resolve().parents[2]


def _epochs(history: Path) -> int:
    try:
        return len(read_csv(history))
    except Exception:  # not written yet, or being replaced
        return 0


def _alive(process: psutil.Process) -> bool:
    try:
        return process.is_running() and process.status() != psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return False


def _stop_after(proc: subprocess.Popen, history: Path, epochs: int, signum: int):
    """Send ``signum`` once ``history`` holds ``epochs`` rows; ``(what the study started,
    the CompletedProcess-like (returncode, stderr))``."""
    deadline = time.monotonic() + 600
    while _epochs(history) < epochs:
        assert proc.poll() is None, proc.communicate()
        assert time.monotonic() < deadline, "no epoch was written"
        time.sleep(0.2)
    started = psutil.Process(proc.pid).children(recursive=True)
    assert started  # the notebook kernel (a session of its own: a terminal's ^C never reaches it)
    proc.send_signal(signum)
    # a bound for the test, not a timing assertion: the training itself would run for hours
    _, stderr = proc.communicate(timeout=120)
    return started, proc.returncode, stderr


def test_a_signal_stops_the_study_and_its_kernel_and_the_rerun_resumes(tmp_path):
    """Ctrl-C (SIGINT) during training, then the rerun, which resumes, stopped by SIGTERM."""
    study = StudyPaths(tmp_path / "results", tmp_path / "models")
    argv = [
        sys.executable, str(ROOT / "run_all.py"), "--profile", "smoke", "--data", "sample",
        "--models", "A", "--set", "epochs=5000", "--set", "decay_start=2500",
        "--results-dir", study.results, "--models-dir", study.models,
        "--cache-dir", tmp_path / "cache",
    ]  # fmt: skip
    history = study.run("A").history_csv
    for attempt, signum in ((1, signal.SIGINT), (2, signal.SIGTERM)):
        proc = subprocess.Popen(
            list(map(str, argv)), cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
            text=True,
        )  # fmt: skip
        before = _epochs(history)
        started, code, stderr = _stop_after(proc, history, before + 2, signum)
        assert code == 128 + signum, stderr  # 130 / 143, as a shell reports it
        assert "Traceback" not in stderr and "ERROR" not in stderr, stderr
        last = stderr.strip().splitlines()[-1]
        assert last.startswith("stopped: ") and "run the same command again" in last, stderr
        assert signal.Signals(signum).name in last
        assert not [p for p in started if _alive(p)], "a process the study started lives on"
        state = study.run("A").state
        assert state.is_file()  # the last saved epoch is kept
        if attempt == 2:
            assert _epochs(history) >= before + 2 and before >= 2  # resumed, not restarted
        with exclusive(study.results, study.run("A").results, study.run("A").models, what="t"):
            pass  # no lock is left that blocks the next run


def test_the_study_runs_from_an_installed_colorlib_in_another_folder(tmp_path):
    """``pip install`` (not editable) into a folder of its own, then ``colorlib study`` from a
    working directory that is not the clone: the notebooks come from the installation, the
    outputs land in the working directory."""
    source, target = tmp_path / "source", tmp_path / "site"
    no_bytecode = shutil.ignore_patterns("__pycache__")
    shutil.copytree(ROOT / "colorlib", source / "colorlib", ignore=no_bytecode)
    for name in ("pyproject.toml", "README.md"):
        shutil.copy(ROOT / name, source / name)
    done = subprocess.run(
        [sys.executable, "-m", "pip", "install", "--quiet", "--no-deps", "--no-build-isolation",
         "--target", str(target), str(source)],
        capture_output=True, text=True, timeout=600,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert (target / "colorlib" / "notebooks" / "train_model.ipynb").is_file()
    work = tmp_path / "work"
    work.mkdir()
    env = {**os.environ, "PYTHONPATH": str(target)}
    env.pop("COLORLIB_ROOT", None)
    where = subprocess.run(
        [sys.executable, "-c", "import colorlib; print(colorlib.__file__)"],
        cwd=work, env=env, capture_output=True, text=True,
    )  # fmt: skip
    assert where.stdout.startswith(str(target)), where  # the installed copy, not the clone
    done = subprocess.run(
        [sys.executable, "-m", "colorlib", "study", "--profile", "smoke", "--data", "sample",
         "--models", "GRAY"],
        cwd=work, env=env, capture_output=True, text=True, timeout=900,
    )  # fmt: skip
    assert done.returncode == 0, done.stdout + done.stderr
    assert (work / "results" / "GRAY" / "metrics_GRAY.csv").is_file()
    assert (work / "results" / "Evaluate" / "report.html").is_file()
    assert not (work / "notebooks").exists()  # nothing of the clone was needed
