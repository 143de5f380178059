"""The whole study, headless: split -> every configuration through the template notebook
(papermill) -> the evaluation notebook. ``python -m colorlib study`` and ``run_all.py`` (a thin
shim over it) call :func:`run_study`.

* parameters are validated against ``papermill.inspect_notebook`` before anything runs
  (papermill itself only warns about unknown ones);
* a configuration whose results are complete for the same config is skipped (``--force``
  reruns it); an interrupted one resumes from its training state;
* one failing configuration does not stop the others: its executed notebook and traceback
  are kept in ``results/{ID}/``, the summary table and the exit code say what failed;
* progress: which model, which epoch, elapsed time and a remaining-time estimate;
* ``--jobs N`` runs configurations in parallel, one GPU each where there are several;
* ``--seeds 42,43,44`` replicates every configuration over training seeds: each (configuration,
  seed) is its own resumable, skippable run in the seed's tree (``results/seed_{S}/``,
  :class:`colorlib.runs.StudyPaths`), all seeds share the validation split, and the evaluation
  step reports across-seed statistics;
* ``--also-test DIR ...`` also scores every run and GRAY on further test folders
  (:mod:`colorlib.study.test_sets`), each with its own tables and page section;
* ``--launcher local|slurm`` hands each (configuration, seed) to submitit instead, as one job:
  on a SLURM cluster (``--partition``, ``--gpus-per-job``, ``--time-min``) or, with ``local``,
  as subprocesses of this machine (submitit's local executor, which the tests use). The job is
  the same papermill execution of the template, so every job leaves its executed notebook;
  the runner waits for all jobs, then runs the evaluation notebook itself.
"""

from __future__ import annotations

import os
import shutil
import threading
import time
import traceback
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd

from colorlib import stopping
from colorlib.atomic import read_csv, write_text
from colorlib.config import (
    BASELINES,
    DEFAULT_SEED,
    N_VAL,
    SPLIT_SEED,
    ExperimentConfig,
    model_ids,
    require_known,
)
from colorlib.errors import ConfigError, OutputExistsError, one_line
from colorlib.metrics import scored
from colorlib.paths import under_root
from colorlib.runs import (
    RunPaths,
    StudyPaths,
    data_changes,
    exclusive,
    is_complete,
    read_record,
)
from colorlib.study import test_sets
from colorlib.study.experiment import build_config
from colorlib.study.notebooks import EVALUATE, SPLIT, TRAIN, check_parameters, execute


@dataclass
class Outcome:
    model: str
    status: str  # "done", "skipped", "failed"
    seconds: float
    detail: str = ""
    error_file: Path | None = None  # the traceback of a failed step
    seed: int | None = None  # in a several-seed study
    metrics_csv: Path | None = None  # where its metrics are, when not the run's own


@dataclass(frozen=True)
class Launcher:
    """Where the runs go when not into this process's threads: submitit's executors."""

    cluster: str  # "local" or "slurm"
    partition: str | None = None
    gpus_per_job: int = 0
    time_min: int = 24 * 60

    def executor(self, folder: Path):
        import submitit

        executor = submitit.AutoExecutor(folder=folder / "%j", cluster=self.cluster)
        executor.update_parameters(
            name="colorlib", timeout_min=self.time_min, gpus_per_node=self.gpus_per_job
        )
        if self.cluster == "slurm" and self.partition:
            executor.update_parameters(slurm_partition=self.partition)
        return executor


def train_unit(notebook: str, parameters: dict[str, Any]) -> str:
    """One job: the template notebook executed with ``parameters`` into ``notebook``."""
    execute(TRAIN, Path(notebook), parameters)
    return notebook


@dataclass(frozen=True)
class Unit:
    """One configuration trained with one seed: a run of its own (the study's unit of work),
    with the config it trains and the template notebook's parameters."""

    model: str
    seed: int | None  # None: a one-seed study (its seed is in the config)
    study: StudyPaths  # the tree the run writes into
    config: ExperimentConfig = field(compare=False)
    parameters: dict[str, Any] = field(compare=False, hash=False)

    @property
    def label(self) -> str:
        return self.model if self.seed is None else f"{self.model} seed {self.seed}"

    @property
    def paths(self) -> RunPaths:
        return self.study.run(self.model)

    @property
    def root(self) -> StudyPaths:
        """The whole study's folders (``study`` is the seed's tree in a several-seed one)."""
        if self.seed is None:
            return self.study
        return StudyPaths(self.study.results.parent, self.study.models.parent)


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
        return len(read_csv(csv))
    except (OSError, pd.errors.EmptyDataError):
        return 0


def _fmt(seconds: float) -> str:
    m, s = divmod(int(seconds), 60)
    return f"{m // 60}:{m % 60:02d}:{s:02d}" if m >= 60 else f"{m}:{s:02d}"


def run_study(
    *,
    data: str = "sample",
    profile: str = "smoke",
    models: tuple[str, ...] | None = None,
    seeds: tuple[int, ...] = (DEFAULT_SEED,),
    force: bool = False,
    device: str = "auto",
    jobs: int = 1,
    models_dir: str | None = None,
    results_dir: str | None = None,
    cache_dir: str | None = None,
    overrides: dict[str, Any] | None = None,
    launcher: Launcher | None = None,
    nproc_per_node: int = 1,
    also_test: tuple[str, ...] = (),
) -> list[Outcome]:
    """Run the study; returns one :class:`Outcome` per model and seed (plus the evaluation).
    ``launcher`` sends each run to submitit as a job instead of this process's threads;
    ``nproc_per_node`` > 1 trains each configuration data-parallel over that many processes
    (``torchrun``); ``also_test`` folders are further test sets every run is scored on.
    The output and cache roots come from ``models_dir`` / ``results_dir`` / ``cache_dir`` or
    the same keys in ``overrides`` (``--set``), else the config's defaults."""
    models = model_ids() if models is None else models
    _check_choices(models, profile, seeds, overrides or {})
    roots, overrides = study_roots(models_dir, results_dir, cache_dir, overrides)
    models_dir, results_dir = roots["models_dir"], roots["results_dir"]
    cache_dir = roots["cache_dir"]
    study = StudyPaths(under_root(results_dir), under_root(models_dir))
    extra = test_sets.test_sets_of(also_test)
    several = len(seeds) > 1
    _check_layout(study, several, models)
    # papermill writes parameters as Python literals: tuples travel as lists
    shared = {k: list(v) if isinstance(v, tuple) else v for k, v in (overrides or {}).items()}
    shared |= dict(device=device, cache_dir=str(under_root(cache_dir)), split_file=str(study.split))
    units = []
    for seed in seeds:
        tree = study.seed_tree(seed) if several else study
        for m in models:
            where = dict(models_dir=str(tree.models), results_dir=str(tree.results), seed=seed)
            p = dict(
                model_id=m,
                profile=profile,
                data_dir=data,
                overrides=shared | where,
                resume=True,
                nproc_per_node=nproc_per_node,
            )
            # validate everything before the first minute of compute
            cfg = build_config(m, profile, data, p["overrides"])
            units.append(Unit(m, seed if several else None, tree, cfg, p))
    check_parameters(TRAIN.path, units[0].parameters)

    label = f"profile {profile}, data {data}" + (f", seeds {list(seeds)}" if several else "")
    with exclusive(study.results, what=f"a study ({label})"):
        return _run(study, units, force=force, device=device, jobs=jobs, label=label,
                    launcher=launcher, extra=extra)  # fmt: skip


def _check_choices(
    models: tuple[str, ...], profile: str, seeds: tuple[int, ...], overrides: dict[str, Any]
) -> None:
    require_known(models, profile)
    if not seeds or len(set(seeds)) != len(seeds):
        raise ConfigError(f"seeds must be one or more distinct integers; got {seeds}")
    if "seed" in overrides:
        raise ConfigError("set the training seed(s) with seeds=... (--seeds), not an override")


def study_roots(
    models_dir: str | None,
    results_dir: str | None,
    cache_dir: str | None,
    overrides: dict[str, Any] | None,
) -> tuple[dict[str, str], dict[str, Any]]:
    """The study's output and cache roots, and the other overrides: each root is the option
    (``--results-dir``) or ``--set results_dir=...`` (both: they must agree), else the
    config's default."""
    overrides = dict(overrides or {})
    roots = {}
    for name, given in (
        ("models_dir", models_dir), ("results_dir", results_dir), ("cache_dir", cache_dir)
    ):  # fmt: skip
        via_set = overrides.pop(name, None)
        if given is not None and via_set is not None and Path(given) != Path(via_set):
            option = "--" + name.replace("_", "-")
            raise ConfigError(
                f"{option} {given} and --set {name}={via_set} disagree; give the folder once"
            )
        chosen = given if given is not None else via_set
        roots[name] = str(chosen) if chosen is not None else getattr(ExperimentConfig, name)
    return roots, overrides


def _check_layout(study: StudyPaths, several: bool, models: tuple[str, ...]) -> None:
    """A one-seed study and a several-seed study do not share a results folder: the one keeps
    its runs where the other keeps its across-seed results."""
    if several:
        one_seed = [m for m in models if study.run(m).run_json.exists()]
        if one_seed:
            raise OutputExistsError(
                f"{study.results} holds a one-seed study (e.g. {study.run(one_seed[0]).results}); "
                "a several-seed study needs its own folder: pass --results-dir and --models-dir"
            )
    elif study.seeds():
        raise OutputExistsError(
            f"{study.results} holds a several-seed study (seed_{study.seeds()[0]}/, ...); run "
            "it with its --seeds, or pass another --results-dir and --models-dir"
        )


def _run(
    study: StudyPaths,
    units: list[Unit],
    *,
    force: bool,
    device: str,
    jobs: int,
    label: str,
    launcher: Launcher | None = None,
    extra: list[test_sets.TestSet] | None = None,
) -> list[Outcome]:
    """The study proper, its parameters checked and its results folder held."""
    print(f"study: {len(units)} run(s), {label}", flush=True)
    cfg = units[0].config  # the data fields are the same for every run
    _split(study, units[0])
    gpus = _gpus(device)
    progress = Progress(len(units), cfg.epochs)
    watcher = threading.Thread(target=progress.loop, daemon=True)
    watcher.start()

    today = _fingerprints(units, force)

    def one(index: int, unit: Unit) -> Outcome:
        skipped = _skip_or_clear(unit, force, progress, today)
        if skipped:
            return skipped
        p = dict(unit.parameters)
        if gpus > 1:  # where, not what: the run stays the same run (colorlib.config.HOW_FIELDS)
            p["overrides"] = p["overrides"] | {"device": f"cuda:{index % gpus}"}
        if jobs > 1 and not unit.config.threads:  # each job its share of the cores (a how-field)
            p["overrides"] = p["overrides"] | {"threads": job_threads(jobs)}
        if unit.model not in BASELINES:
            progress.watch(unit.label, unit.paths.history_csv)
        resuming = " (resuming)" if unit.paths.state.exists() else ""
        progress.report(f"{unit.label}: started{resuming}")
        start = time.monotonic()
        try:
            execute(TRAIN, unit.paths.notebook, p)
        except Exception as err:  # keep going: every failure is reported at the end
            if stopping.requested():  # its kernel was ended by SIGINT / SIGTERM
                return Outcome(unit.model, "stopped", time.monotonic() - start, seed=unit.seed)
            return _outcome(unit, start, progress, err, traceback.format_exc())
        return _outcome(unit, start, progress)

    try:
        if launcher is None:
            with ThreadPoolExecutor(max_workers=max(1, jobs)) as pool:
                outcomes = list(pool.map(one, range(len(units)), units))
        else:
            outcomes = _submit(study, units, force, launcher, progress)
    finally:
        progress.stop.set()
    done = [u for u, o in zip(units, outcomes) if o.status != "failed"]
    tested = [_test(unit, t, force, progress) for t in extra or [] for unit in done]
    return [*outcomes, *tested, _evaluate_study(study)]


def _test(unit: Unit, test_set: test_sets.TestSet, force: bool, progress: Progress) -> Outcome:
    """Unit's run scored on a further test set (unless that is up to date)."""
    what = f"{unit.label} on {test_set.name}"
    run = unit.root.seed_test_set(test_set.name, unit.seed).run(unit.model)
    start = time.monotonic()
    try:
        ran = test_sets.evaluate_on(test_set, unit.config, unit.root, unit.seed, force)
    except Exception as err:  # every configuration is reported; the table then says why
        write_text(run.error, traceback.format_exc())
        progress.report(f"{what}: FAILED ({type(err).__name__}); see {run.error}")
        return Outcome(
            what, "failed", time.monotonic() - start, one_line(err, last=True), run.error
        )
    seconds = time.monotonic() - start
    progress.report(f"{what}: {'evaluated' if ran else 'up to date, skipped'}")
    status = "done" if ran else "skipped"
    return Outcome(what, status, seconds, seed=unit.seed, metrics_csv=run.metrics_csv)


def job_threads(jobs: int) -> int:
    """CPU threads for each of ``jobs`` configurations run at once: the cores shared out, at
    least one each (two processes of all the cores each would only contend)."""
    return max(1, (os.cpu_count() or 1) // jobs)


def _split(study: StudyPaths, unit: Unit) -> None:
    """The validation split every run of the study shares (the split notebook)."""
    cfg = unit.config
    execute(
        SPLIT,
        study.results / SPLIT.name,
        dict(
            data_dir=unit.parameters["data_dir"],
            split_file=str(study.split),
            n_val=cfg.val_holdout or N_VAL,
            seed=SPLIT_SEED,
            train_splits=list(cfg.train_splits),
        ),
    )


def _evaluate_study(study: StudyPaths) -> Outcome:
    """The evaluation notebook over every run; its failure is kept in ``Evaluate/error.txt``."""
    start = time.monotonic()
    try:
        execute(
            EVALUATE,
            study.evaluate / EVALUATE.name,
            dict(results_dir=str(study.results), models_dir=str(study.models)),
        )
    except Exception as err:
        write_text(study.evaluate_error, traceback.format_exc())
        seconds = time.monotonic() - start
        detail = one_line(err, last=True)
        return Outcome(study.evaluate.name, "failed", seconds, detail, study.evaluate_error)
    return Outcome(study.evaluate.name, "done", time.monotonic() - start)


def _fingerprints(units: list[Unit], force: bool) -> tuple[str | None, str | None]:
    """Today's fingerprints of the study's training and test photos (every unit shares them),
    computed (decoding through the cache) only when a run is complete and would be skipped."""
    if force or not any(is_complete(u.config) for u in units):
        return None, None
    from colorlib.data import load_training_data
    from colorlib.evaluation import test_fingerprint

    trained = [u for u in units if u.model not in BASELINES]
    train = load_training_data(trained[0].config)[2] if trained else None
    return train, test_fingerprint(units[0].config)


def _skip_or_clear(
    unit: Unit, force: bool, progress: Progress, today: tuple[str | None, str | None]
) -> Outcome | None:
    """The "skipped" outcome of a run complete for this config and its photos (unless
    ``force``); the "failed" one of a complete run whose training photos changed since (one
    line: what changed, how to start over); ``None`` otherwise: the run goes ahead (resumed,
    and evaluated again when only its test photos changed). With ``force`` the run's folders
    are removed first."""
    if is_complete(unit.config) and not force:
        changed = data_changes(read_record(unit.paths) or {}, *today)
        if "training photos" in changed:
            detail = (
                f"its training photos changed since it was trained; rerun with --force to "
                f"train it on today's photos, or restore them (nothing was changed in "
                f"{unit.paths.models})"
            )
            progress.done(unit.label, 0.0, trained=False)
            progress.report(f"{unit.label}: FAILED ({detail})")
            return Outcome(unit.model, "failed", 0.0, detail, seed=unit.seed)
        if not changed:
            progress.done(unit.label, 0.0, trained=False)
            progress.report(f"{unit.label}: complete for this config, skipped")
            return Outcome(unit.model, "skipped", 0.0, seed=unit.seed)
        progress.report(f"{unit.label}: its test photos changed since it was evaluated; "
                        "evaluating it again")  # fmt: skip
    if force:
        shutil.rmtree(unit.paths.models, ignore_errors=True)
        shutil.rmtree(unit.paths.results, ignore_errors=True)
    test_sets.clear(unit.root, unit.model, unit.seed)  # scores of the old weights
    return None


def _outcome(
    unit: Unit,
    start: float,
    progress: Progress,
    err: BaseException | None = None,
    text: str = "",
    how: str = "",
) -> Outcome:
    """The one place a run's outcome is recorded: its progress line, and on failure ``text``
    (the traceback or job log) in the run's ``error.txt``, the error's last line as the
    outcome's detail; on success a stale ``error.txt`` is removed. ``how``: e.g. the job."""
    seconds = time.monotonic() - start
    paths = unit.paths
    progress.done(unit.label, seconds, trained=err is None)
    if err is not None:
        progress.report(f"{unit.label}: FAILED ({how or type(err).__name__}); see {paths.error}")
        write_text(paths.error, text)
        return Outcome(
            unit.model, "failed", seconds, one_line(err, last=True), paths.error, unit.seed
        )
    paths.error.unlink(missing_ok=True)
    progress.report(f"{unit.label}: done{f' ({how})' if how else ''} in {_fmt(seconds)}")
    return Outcome(unit.model, "done", seconds, seed=unit.seed)


def _submit(
    study: StudyPaths,
    units: list[Unit],
    force: bool,
    launcher: Launcher,
    progress: Progress,
) -> list[Outcome]:
    """Every run that is not complete as one submitit job; wait for all of them."""
    from submitit.core.utils import UncompletedJobError

    executor = launcher.executor(study.jobs)
    outcomes: dict[Unit, Outcome] = {}
    jobs = {}
    today = _fingerprints(units, force)
    for unit in units:
        skipped = _skip_or_clear(unit, force, progress, today)
        if skipped:
            outcomes[unit] = skipped
            continue
        job = executor.submit(train_unit, str(unit.paths.notebook), unit.parameters)
        jobs[unit] = (job, time.monotonic())
        progress.report(f"{unit.label}: submitted as {launcher.cluster} job {job.job_id}")
    for unit, (job, start) in jobs.items():
        how = f"job {job.job_id}"
        try:
            job.result()
        except UncompletedJobError as err:  # FailedJobError too: the job's traceback or logs
            log_text = f"{launcher.cluster} job {job.job_id}:\n{err}"
            outcomes[unit] = _outcome(unit, start, progress, err, log_text, how)
            continue
        outcomes[unit] = _outcome(unit, start, progress, how=how)
    return [outcomes[u] for u in units]


def summary_table(
    outcomes: list[Outcome], results_dir: str = "results", models_dir: str = "models"
) -> pd.DataFrame:
    """Status and wall time per run, with the headline metrics where they exist."""
    study = StudyPaths(under_root(results_dir), under_root(models_dir))
    several = any(o.seed is not None for o in outcomes)
    rows = []
    for o in outcomes:
        row: dict[str, Any] = {"model": o.model}
        if several:
            row["seed"] = "" if o.seed is None else o.seed
        row |= {"status": o.status, "wall_s": round(o.seconds, 1)}
        tree = study.seed_tree(o.seed) if o.seed is not None else study
        csv = o.metrics_csv or tree.run(o.model).metrics_csv
        if o.status != "failed" and csv.exists():
            m = read_csv(csv).iloc[0]
            row |= {k: round(float(m[k]), 4) for k in scored()}
        row["detail"] = o.detail
        rows.append(row)
    return pd.DataFrame(rows)


def _gpus(device: str) -> int:
    import torch

    if device in ("auto", "cuda") and torch.cuda.is_available():
        return torch.cuda.device_count()
    return 1
