#!/usr/bin/env python
"""What giving each job its share of the cores does to a study run with ``--jobs N``: the
smoke study (``run_all.py --data sample --profile smoke``, the original ten and GRAY) with
``--jobs 2`` as the runner now runs it (each job ``cores // 2`` threads, torch and the photo
decoder) against each job with every core (``--set threads=<cores>``: torch's default, what
the runner did before issue 32), interleaved, each study in a fresh folder.

    python benchmarks/threads_per_job.py [--rounds 2] [--jobs 2] [--profile smoke]

Prints a markdown table of wall times; the numbers in docs/performance.md come from it.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from colorlib.study.runner import job_threads

ROOT = Path(__file__).resolve().parents[1]


def study(tmp: Path, jobs: int, profile: str, threads: int | None) -> float:
    """Wall seconds of one whole study (training, evaluation, the evaluation step)."""
    cmd = [sys.executable, "run_all.py", "--data", "sample", "--profile", profile,
           "--device", "cpu", "--jobs", str(jobs), "--results-dir", str(tmp / "results"),
           "--models-dir", str(tmp / "models"), "--cache-dir", str(tmp / "cache")]  # fmt: skip
    if threads is not None:
        cmd += ["--set", f"threads={threads}"]
    start = time.perf_counter()
    done = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True)
    seconds = time.perf_counter() - start
    if done.returncode:
        raise SystemExit(f"{' '.join(cmd)} failed:\n{done.stdout[-3000:]}{done.stderr[-3000:]}")
    return seconds


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--jobs", type=int, default=2)
    parser.add_argument("--profile", default="smoke")
    args = parser.parse_args()
    cores = os.cpu_count() or 1
    modes = {f"{job_threads(args.jobs)} thread(s) per job (now)": None,
             f"{cores} threads per job (before)": cores}  # fmt: skip
    times: dict[str, list[float]] = {m: [] for m in modes}
    for _ in range(args.rounds):
        for name, threads in modes.items():
            with tempfile.TemporaryDirectory() as tmp:
                times[name].append(study(Path(tmp), args.jobs, args.profile, threads))
    print(f"`run_all.py --data sample --profile {args.profile} --jobs {args.jobs}` on {cores} "
          "cores, wall seconds:\n")  # fmt: skip
    print("| threads | each round | mean |\n| --- | --- | ---: |")
    for name, seconds in times.items():
        each = ", ".join(f"{s:.0f}" for s in seconds)
        print(f"| {name} | {each} | {sum(seconds) / len(seconds):.0f} |")


if __name__ == "__main__":
    main()
