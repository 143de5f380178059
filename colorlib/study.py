"""The whole study, headless: split -> every configuration through the template notebook
(papermill) -> the evaluation notebook. ``run_all.py`` is a thin entry point to :func:`main`.

* parameters are validated against ``papermill.inspect_notebook`` before anything runs
  (papermill itself only warns about unknown ones);
* a configuration whose results are complete for the same config is skipped (``--force``
  reruns it); an interrupted one resumes from its training state;
* one failing configuration does not stop the others: its executed notebook and traceback
  are kept in ``results/{ID}/``, the summary table and the exit code say what failed;
* progress: which model, which epoch, elapsed time and a remaining-time estimate;
* ``--jobs N`` runs configurations in parallel, one GPU each where there are several.
"""

from __future__ import annotations

import argparse
import logging
import shutil
import sys
import threading
import time
import traceback
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd

from colorlib.config import BASELINES, PRESETS, PROFILES
from colorlib.experiment import build_config, is_complete
from colorlib.paths import project_root, under_root
from colorlib.training import RunPaths

log = logging.getLogger("colorlib.study")

NOTEBOOKS = project_root() / "notebooks"
SPLIT_NOTEBOOK = "create_validation_split.ipynb"
TRAIN_NOTEBOOK = "train_model.ipynb"
EVAL_NOTEBOOK = "comprehensive_model_evaluation.ipynb"
ALL_MODELS = (*PRESETS, *BASELINES)


@dataclass
class Outcome:
    model: str
    status: str  # "done", "skipped", "failed"
    seconds: float
    detail: str = ""


def check_parameters(notebook: Path, parameters: dict[str, Any]) -> None:
    """Refuse parameters the notebook does not declare (papermill would only warn)."""
    import papermill

    declared = papermill.inspect_notebook(str(notebook))
    unknown = sorted(set(parameters) - set(declared))
    if unknown:
        raise ValueError(
            f"{notebook.name} has no parameter(s) {unknown}; it declares {sorted(declared)}"
        )


def execute(notebook: str, output: Path, parameters: dict[str, Any]) -> None:
    import papermill

    path = NOTEBOOKS / notebook
    check_parameters(path, parameters)
    output.parent.mkdir(parents=True, exist_ok=True)
    papermill.execute_notebook(
        str(path),
        str(output),
        parameters=parameters,
        kernel_name="python3",
        cwd=str(project_root()),
        progress_bar=False,
        log_output=False,
    )


class Progress:
    """Prints which model and epoch runs, elapsed and estimated remaining time."""

    def __init__(self, total: int, epochs: int) -> None:
        self.total, self.epochs = total, epochs
        self.start = time.monotonic()
        self.finished: list[float] = []
        self.running: dict[str, Path] = {}
        self.lock = threading.Lock()
        self.stop = threading.Event()
        self.last: dict[str, int] = {}

    def watch(self, model: str, history_csv: Path) -> None:
        with self.lock:
            self.running[model] = history_csv

    def done(self, model: str, seconds: float, trained: bool) -> None:
        with self.lock:
            self.running.pop(model, None)
            if trained:
                self.finished.append(seconds)

    def loop(self) -> None:
        while not self.stop.wait(2.0):
            with self.lock:
                running = dict(self.running)
            for model, csv in running.items():
                epoch = _epochs_done(csv)
                if epoch != self.last.get(model):
                    self.last[model] = epoch
                    self.report(f"{model}: epoch {epoch}/{self.epochs}")

    def report(self, what: str) -> None:
        elapsed = time.monotonic() - self.start
        left = self.total - len(self.finished) - len(self.running)
        mean = sum(self.finished) / len(self.finished) if self.finished else None
        eta = f", ~{_fmt(mean * (left + 0.5 * len(self.running)))} left" if mean else ""
        print(f"[{_fmt(elapsed)}{eta}] {what}", flush=True)


def _epochs_done(csv: Path) -> int:
    try:
        return len(pd.read_csv(csv))
    except (OSError, pd.errors.EmptyDataError):
        return 0


def _fmt(seconds: float) -> str:
    m, s = divmod(int(seconds), 60)
    return f"{m // 60}:{m % 60:02d}:{s:02d}" if m >= 60 else f"{m}:{s:02d}"


def run_study(
    *,
    data: str = "sample",
    profile: str = "smoke",
    models: tuple[str, ...] = ALL_MODELS,
    force: bool = False,
    device: str = "auto",
    jobs: int = 1,
    models_dir: str = "models",
    results_dir: str = "results",
    cache_dir: str = "data/cache",
    overrides: dict[str, Any] | None = None,
) -> list[Outcome]:
    """Run the study; returns one :class:`Outcome` per model (plus the evaluation step)."""
    unknown = sorted(set(models) - set(ALL_MODELS))
    if unknown:
        raise ValueError(f"unknown model(s) {unknown}; choose from {list(ALL_MODELS)}")
    if profile not in PROFILES:
        raise ValueError(f"unknown profile {profile!r}; choose from {sorted(PROFILES)}")
    results = under_root(results_dir)
    split_file = results / "validation_split.json"
    # papermill writes parameters as Python literals: tuples travel as lists
    overrides = {k: list(v) if isinstance(v, tuple) else v for k, v in (overrides or {}).items()}
    params = {
        m: dict(
            model_id=m,
            profile=profile,
            data_dir=data,
            overrides=overrides,
            device=device,
            models_dir=models_dir,
            results_dir=results_dir,
            cache_dir=cache_dir,
            split_file=str(split_file),
            resume=True,
        )
        for m in models
    }
    # validate everything before the first minute of compute
    configs = {
        m: build_config(**{k: v for k, v in p.items() if k != "resume"}) for m, p in params.items()
    }
    check_parameters(NOTEBOOKS / TRAIN_NOTEBOOK, next(iter(params.values())))

    print(f"study: {len(models)} configuration(s), profile {profile}, data {data}", flush=True)
    execute(
        SPLIT_NOTEBOOK,
        results / "create_validation_split.ipynb",
        dict(data_dir=data, split_file=str(split_file), n_val=250, seed=42),
    )

    gpus = _gpus(device)
    progress = Progress(len(models), next(iter(configs.values())).epochs)
    watcher = threading.Thread(target=progress.loop, daemon=True)
    watcher.start()

    def one(index: int, model: str) -> Outcome:
        cfg = configs[model]
        paths = RunPaths.of(cfg)
        if is_complete(cfg) and not force:
            progress.done(model, 0.0, trained=False)
            progress.report(f"{model}: complete for this config, skipped")
            return Outcome(model, "skipped", 0.0)
        if force:
            shutil.rmtree(paths.models, ignore_errors=True)
            shutil.rmtree(paths.results, ignore_errors=True)
        p = dict(params[model])
        if gpus > 1:
            p["device"] = f"cuda:{index % gpus}"
        if model not in BASELINES:
            progress.watch(model, paths.history_csv(model))
        progress.report(f"{model}: started" + (" (resuming)" if paths.state.exists() else ""))
        start = time.monotonic()
        try:
            execute(TRAIN_NOTEBOOK, paths.results / f"model_{model}.ipynb", p)
        except Exception as err:  # keep going: every failure is reported at the end
            seconds = time.monotonic() - start
            paths.results.mkdir(parents=True, exist_ok=True)
            (paths.results / "error.txt").write_text(traceback.format_exc())
            progress.done(model, seconds, trained=False)
            progress.report(
                f"{model}: FAILED ({type(err).__name__}); see {paths.results / 'error.txt'}"
            )
            return Outcome(model, "failed", seconds, str(err).strip().splitlines()[-1][:200])
        seconds = time.monotonic() - start
        (paths.results / "error.txt").unlink(missing_ok=True)
        progress.done(model, seconds, trained=True)
        progress.report(f"{model}: done in {_fmt(seconds)}")
        return Outcome(model, "done", seconds)

    try:
        with ThreadPoolExecutor(max_workers=max(1, jobs)) as pool:
            outcomes = list(pool.map(one, range(len(models)), models))
    finally:
        progress.stop.set()

    start = time.monotonic()
    try:
        execute(
            EVAL_NOTEBOOK,
            results / "Evaluate" / "comprehensive_model_evaluation.ipynb",
            dict(results_dir=results_dir, models_dir=models_dir),
        )
        outcomes.append(Outcome("Evaluate", "done", time.monotonic() - start))
    except Exception as err:
        (results / "Evaluate").mkdir(parents=True, exist_ok=True)
        (results / "Evaluate" / "error.txt").write_text(traceback.format_exc())
        outcomes.append(
            Outcome(
                "Evaluate",
                "failed",
                time.monotonic() - start,
                str(err).strip().splitlines()[-1][:200],
            )
        )
    return outcomes


def summary_table(outcomes: list[Outcome], results_dir: str = "results") -> pd.DataFrame:
    """Status and wall time per step, with the headline metrics where they exist."""
    rows = []
    for o in outcomes:
        row: dict[str, Any] = {"model": o.model, "status": o.status, "wall_s": round(o.seconds, 1)}
        csv = under_root(results_dir) / o.model / f"metrics_{o.model}.csv"
        if o.status != "failed" and csv.exists():
            m = pd.read_csv(csv).iloc[0]
            row |= {k: round(float(m[k]), 4) for k in ("psnr", "ssim", "ciede2000", "lpips")}
        row["detail"] = o.detail
        rows.append(row)
    return pd.DataFrame(rows)


def _gpus(device: str) -> int:
    import torch

    if device in ("auto", "cuda") and torch.cuda.is_available():
        return torch.cuda.device_count()
    return 1


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="run_all.py", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "--data",
        default="sample",
        help="'sample' (embedded photos), a Kaggle-layout folder or a photo folder",
    )
    parser.add_argument("--profile", default="smoke", choices=sorted(PROFILES))
    parser.add_argument(
        "--models",
        default=",".join(ALL_MODELS),
        help="comma-separated ids (default: all ten and GRAY)",
    )
    parser.add_argument("--force", action="store_true", help="rerun complete configurations")
    parser.add_argument("--device", default="auto")
    parser.add_argument("--jobs", type=int, default=1, help="configurations in parallel")
    parser.add_argument("--models-dir", default="models")
    parser.add_argument("--results-dir", default="results")
    parser.add_argument(
        "--set",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="override a config field for every model (repeatable)",
    )
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    from colorlib.config import parse_overrides

    try:
        outcomes = run_study(
            data=args.data,
            profile=args.profile,
            force=args.force,
            device=args.device,
            jobs=args.jobs,
            models=tuple(m.strip() for m in args.models.split(",") if m.strip()),
            models_dir=args.models_dir,
            results_dir=args.results_dir,
            overrides=parse_overrides(args.set),
        )
    except (ValueError, TypeError, FileNotFoundError) as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    table = summary_table(outcomes, args.results_dir)
    print("\n" + table.to_string(index=False))
    failed = [o.model for o in outcomes if o.status == "failed"]
    if failed:
        print(
            f"\nFAILED: {', '.join(failed)} (executed notebooks and error.txt in "
            f"{args.results_dir}/<ID>/)",
            file=sys.stderr,
        )
    return 1 if failed else 0
