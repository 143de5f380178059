"""A run's files, defined once: every artifact path and file name of a configuration's run and
of a study, the run's record ``run.json`` (provenance) and whether a run is complete.

A study under ``models_dir`` and ``results_dir`` (docs/usage.md, "Outputs"; the original's names)::

    models/{ID}/best_model.pt, checkpoint_epoch_{E}.pt, training_state.pt
    results/{ID}/metrics_{ID}.csv, metrics_per_image_{ID}.csv, training_history_{ID}.csv/.png,
                 colorization_results_{ID}.png, val_samples_{ID}_epoch_{E}.png,
                 test_predictions_{ID}.npz, inception_features_{ID}.npz (fid_kid), run.json,
                 model_{ID}.ipynb, error.txt
    results/validation_split.json
    results/Evaluate/...   (the cross-model files: :class:`StudyPaths`)

A study over several training seeds (``--seeds 42,43,44``) keeps one such one-seed tree per
seed, ``results/seed_{S}/`` and ``models/seed_{S}/`` (each a complete one-seed study without its
own ``Evaluate/``); ``results/{ID}/metrics_across_seeds_{ID}.csv`` and
``metrics_per_image_across_seeds_{ID}.csv`` then hold the across-seed result (the per-image
file one row per seed and image), and ``results/validation_split.json`` and
``results/Evaluate/`` are shared by all seeds. One file name means one schema and has one
writer: ``metrics_{ID}.csv`` is always one run's summary, written by its evaluation.

Executed copies of the split and evaluation notebooks keep their template's name, in
``results/`` and ``results/Evaluate/``.

One process at a time writes a run's folders (:func:`exclusive`): a second one fails at once,
naming the holder; the lock dies with its process, so a ``kill -9`` leaves nothing stale.

Two runs are the same run when their configs agree on every "what" field
(:meth:`colorlib.config.ExperimentConfig.differs_from`): resume and :func:`evaluated_record` both
use that one definition.
"""

from __future__ import annotations

import contextlib
import datetime
import json
import os
import socket
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
from filelock import FileLock, Timeout

from colorlib.atomic import write_json
from colorlib.config import BASELINES, ExperimentConfig
from colorlib.errors import FolderInUseError, ResultsError
from colorlib.runtime import git_revision, package_versions


@dataclass(frozen=True)
class RunPaths:
    """The files of one configuration's run (``models/{ID}``, ``results/{ID}``)."""

    model_id: str
    models: Path  # models/{ID}: checkpoints
    results: Path  # results/{ID}: metrics, figures, record

    @classmethod
    def of(cls, cfg: ExperimentConfig) -> RunPaths:
        return StudyPaths(cfg.results_dir, cfg.models_dir).run(cfg.model_id)

    # --- checkpoints
    @property
    def state(self) -> Path:
        return self.models / "training_state.pt"

    @property
    def best(self) -> Path:
        return self.models / "best_model.pt"

    def checkpoint(self, epoch: int) -> Path:
        return self.models / f"checkpoint_epoch_{epoch}.pt"

    # --- training outputs
    @property
    def history_csv(self) -> Path:
        return self.results / f"training_history_{self.model_id}.csv"

    @property
    def history_png(self) -> Path:
        return self.results / f"training_history_{self.model_id}.png"

    def val_samples(self, epoch: int) -> Path:
        return self.results / f"val_samples_{self.model_id}_epoch_{epoch}.png"

    def all_val_samples(self) -> list[Path]:
        """The validation sample grids written so far, by epoch."""
        prefix = f"val_samples_{self.model_id}_epoch_"
        found = [p for p in self.results.glob(f"{prefix}*.png") if p.stem[len(prefix) :].isdigit()]
        return sorted(found, key=lambda p: int(p.stem[len(prefix) :]))

    @property
    def tensorboard(self) -> Path:
        """The run's TensorBoard event files (``tensorboard=True``): ``tensorboard --logdir
        results`` shows every configuration and seed side by side."""
        return self.results / "tensorboard"

    # --- evaluation outputs
    @property
    def metrics_csv(self) -> Path:
        return self.results / f"metrics_{self.model_id}.csv"

    @property
    def per_image_csv(self) -> Path:
        return self.results / f"metrics_per_image_{self.model_id}.csv"

    @property
    def across_seeds_csv(self) -> Path:
        """A several-seed study's summary of this configuration over its seeds (its own
        schema: means over seeds, two-level intervals, ``n_seeds``, ``{metric}_seed_sd``)."""
        return self.results / f"metrics_across_seeds_{self.model_id}.csv"

    @property
    def per_image_across_seeds_csv(self) -> Path:
        """A several-seed study's per-image metrics of this configuration, one row per seed
        and test image (the per-image schema plus ``seed``)."""
        return self.results / f"metrics_per_image_across_seeds_{self.model_id}.csv"

    @property
    def results_png(self) -> Path:
        return self.results / f"colorization_results_{self.model_id}.png"

    @property
    def predictions(self) -> Path:
        return self.results / f"test_predictions_{self.model_id}.npz"

    @property
    def features(self) -> Path:
        """The Inception features of the test predictions and photos, and the bootstrap draws
        of FID and KID (``fid_kid``; :mod:`colorlib.fid`)."""
        return self.results / f"inception_features_{self.model_id}.npz"

    # --- the run's record and the study runner's files
    @property
    def run_json(self) -> Path:
        return self.results / "run.json"

    @property
    def notebook(self) -> Path:
        return self.results / f"model_{self.model_id}.ipynb"

    @property
    def error(self) -> Path:
        return self.results / "error.txt"


@dataclass(frozen=True)
class StudyPaths:
    """The files of a study: one :class:`RunPaths` per model, the shared validation split, and
    the cross-model evaluation under ``results/Evaluate``."""

    results: Path
    models: Path

    def __init__(self, results: str | os.PathLike, models: str | os.PathLike) -> None:
        object.__setattr__(self, "results", Path(results))
        object.__setattr__(self, "models", Path(models))

    def run(self, model_id: str) -> RunPaths:
        return RunPaths(model_id, self.models / model_id, self.results / model_id)

    def seed_tree(self, seed: int) -> StudyPaths:
        """The one-seed study of training seed ``seed`` in a several-seed study."""
        return StudyPaths(self.results / f"seed_{seed}", self.models / f"seed_{seed}")

    def seeds(self) -> list[int]:
        """The training seeds with a one-seed tree here (empty for a one-seed study)."""
        if not self.results.is_dir():
            return []
        prefix = "seed_"
        return sorted(
            int(p.name[len(prefix) :])
            for p in self.results.iterdir()
            if p.is_dir() and p.name.startswith(prefix) and p.name[len(prefix) :].isdigit()
        )

    def test_set(self, name: str) -> StudyPaths:
        """The tree of the study's evaluations on the further test set ``name``
        (``--also-test``): ``results/test_sets/{name}/``, one-seed or several-seed like the
        study's own, with the study's models (their checkpoints are what it evaluates)."""
        return StudyPaths(self.results / "test_sets" / name, self.models)

    def seed_test_set(self, name: str, seed: int | None) -> StudyPaths:
        """Where run ``seed`` (None: a one-seed study) of the study is evaluated on ``name``."""
        tree = self.test_set(name)
        if seed is None:
            return tree
        return StudyPaths(tree.results / f"seed_{seed}", self.seed_tree(seed).models)

    def test_sets(self) -> list[str]:
        """The further test sets the study was evaluated on, by name."""
        root = self.results / "test_sets"
        return sorted(p.name for p in root.iterdir() if p.is_dir()) if root.is_dir() else []

    def test_set_report(self, name: str) -> dict[str, Path]:
        """The evaluation step's files of the further test set ``name``."""
        e = self.evaluate / "test_sets" / name
        return {"metrics": e / "metrics_comparison.csv", "comparisons": e / "seed_comparisons.csv"}

    def evaluated_models(self) -> list[str]:
        """Every model under ``results`` with a summary ``metrics_{ID}.csv``."""
        if not self.results.is_dir():
            return []
        return sorted(
            p.name
            for p in self.results.iterdir()
            if p.is_dir() and self.run(p.name).metrics_csv.exists()
        )

    @property
    def split(self) -> Path:
        return self.results / "validation_split.json"

    @property
    def evaluate(self) -> Path:
        return self.results / "Evaluate"

    @property
    def jobs(self) -> Path:
        """The launcher's folder (``--launcher``): one subfolder of logs per job."""
        return self.results / "jobs"

    @property
    def evaluate_error(self) -> Path:
        return self.evaluate / "error.txt"

    def report(self) -> dict[str, Path]:
        """The evaluation step's fixed files, by role (plus :meth:`test_image` per image)."""
        e = self.evaluate
        return {
            "metrics": e / "metrics_comparison.csv",
            "bars": e / "comprehensive_metrics_comparison.png",
            "distributions": e / "metric_distributions.png",
            "history": e / "training_history_comparison.png",
            "grid": e / "complete_comparison_grid.png",
            "inference": e / "inference_metrics_comparison.csv",
            "colorfulness_plot": e / "colorfulness_vs_accuracy.png",
            "colorfulness_test": e / "colorfulness_test.csv",
            "paired": e / "paired_tests.csv",
            "comparisons": e / "seed_comparisons.csv",
            "ranking": e / "ranking_stability.csv",
            "claims": e / "claims.csv",
            "page": e / "report.html",
        }

    def test_image(self, k: int) -> Path:
        return self.evaluate / f"comparison_test_image_{k}.png"


# --- the run's record (run.json) ------------------------------------------------------------


def read_record(paths: RunPaths) -> dict[str, Any] | None:
    """``run.json`` as a dict, or ``None`` when the run has none yet. A damaged one (not JSON,
    not an object: a hand edit, a copy cut short) is a :class:`ResultsError` naming it: the
    record is what makes the run's files its result, so it is never guessed around."""
    if not paths.run_json.exists():
        return None
    try:
        record = json.loads(paths.run_json.read_bytes())
        problem = None if isinstance(record, dict) else f"holds a {type(record).__name__}"
    except (ValueError, OSError) as err:  # UnicodeDecodeError and JSONDecodeError included
        problem = f"cannot be read as JSON: {err}"
    if problem:
        raise ResultsError(
            f"{paths.run_json} is damaged ({problem}): it is the record of the run of "
            f"{paths.model_id}; delete it and rerun (the run is taken up again from its "
            f"checkpoints), or delete {paths.results} and {paths.models} to start it over"
        )
    return record


def record_run(
    cfg: ExperimentConfig, device: str | torch.device, *, fresh: bool, **sections: Any
) -> dict[str, Any]:
    """Write the run's provenance into ``run.json``: the resolved config, git revision, package
    versions, device and seed, plus ``sections`` (training status, dataset, evaluation, ...).

    ``fresh=True`` starts a new record (training does, at every start and epoch); otherwise the
    sections are added to the existing record (evaluation does).
    """
    paths = RunPaths.of(cfg)
    record = None if fresh else read_record(paths)
    if record is None:
        record = {
            "model_id": cfg.model_id,
            "config": cfg.to_dict(),
            "git_revision": git_revision(),
            "packages": package_versions(),
            "device": str(device),
            "seed": cfg.seed,
        }
    record |= sections
    write_json(paths.run_json, record)
    return record


def forget_evaluation(paths: RunPaths) -> None:
    """Remove the evaluation from the run's ``run.json`` before an evaluation writes its files:
    the record, written last, is what makes them the run's result, so one that stops part way
    (a full disk) leaves a run that is not complete, never one checkpoint's metrics under
    another's record."""
    record = read_record(paths)
    if record is not None and "evaluation" in record:
        del record["evaluation"]
        write_json(paths.run_json, record)


def saved_config(paths: RunPaths) -> ExperimentConfig | None:
    """The config recorded in the run's ``run.json`` (``None`` when there is none)."""
    record = read_record(paths)
    return ExperimentConfig.from_dict(record["config"]) if record and record.get("config") else None


def recorded_differences(cfg: ExperimentConfig) -> list[str]:
    """The "what" fields in which the config recorded in ``cfg``'s ``run.json`` differs from
    ``cfg`` (empty when they agree or nothing is recorded yet)."""
    recorded = saved_config(RunPaths.of(cfg))
    return recorded.differs_from(cfg) if recorded is not None else []


def evaluated_record(cfg: ExperimentConfig) -> dict[str, Any] | None:
    """The ``run.json`` of ``cfg``'s run when it was evaluated (its summary written) with a
    config that differs from ``cfg`` in no "what" field — and with FID and KID when ``cfg``
    asks for them (``fid_kid="on"``); else ``None``."""
    paths = RunPaths.of(cfg)
    record = read_record(paths)
    if record is None or not paths.metrics_csv.exists() or not record.get("config"):
        return None
    # the config is read first: a broken record is an error, never a silent rerun
    same = not cfg.differs_from(ExperimentConfig.from_dict(record["config"]))
    evaluation = record.get("evaluation")
    if not same or not isinstance(evaluation, dict):
        return None
    # FID and KID asked for outright, and the evaluation has none: evaluated again
    return None if cfg.fid_kid == "on" and not evaluation.get("fid_kid") else record


def data_changes(record: dict[str, Any], train: str | None, test: str | None) -> list[str]:
    """Which photos of a recorded run differ from today's, by their fingerprints (``train``,
    ``test``: today's; None: not asked): ``["training photos", "test photos"]`` or fewer. A
    run's data is part of what it is; a record without a fingerprint is taken as it is."""
    recorded_train = (record.get("dataset") or {}).get("fingerprint")
    recorded_test = (record.get("evaluation") or {}).get("dataset_fingerprint")
    changed = []
    if train is not None and recorded_train and recorded_train != train:
        changed.append("training photos")
    if test is not None and recorded_test and recorded_test != test:
        changed.append("test photos")
    return changed


def is_complete(cfg: ExperimentConfig) -> bool:
    """True when the run of ``cfg`` was trained to the end (GRAY: needs no training) and
    evaluated, with a config that differs from ``cfg`` in no "what" field."""
    record = evaluated_record(cfg)
    if record is None:
        return False
    return cfg.model_id in BASELINES or record.get("status") == "complete"


# --- one writer per folder ------------------------------------------------------------------

LOCK_FILE = ".colorlib.lock"  # held with flock (the filelock package) while a process writes
HOLDER_FILE = ".colorlib.lock.json"  # who holds it: pid, host, start time, command


@contextlib.contextmanager
def exclusive(*folders: str | os.PathLike, what: str) -> Iterator[None]:
    """Hold every folder's lock while the block runs (``what``: the work, for the message).

    A second process fails at once with :class:`FolderInUseError` naming the holder (pid,
    host, start time, command). The operating system releases a dead process's lock, so a run
    killed with ``kill -9`` is taken over by the next one (its resume).
    """
    with contextlib.ExitStack() as stack:
        for folder in folders:
            stack.enter_context(_locked(Path(folder), what))
        yield


@contextlib.contextmanager
def _locked(folder: Path, what: str) -> Iterator[None]:
    folder.mkdir(parents=True, exist_ok=True)
    lock = FileLock(folder / LOCK_FILE, timeout=0)
    holder = folder / HOLDER_FILE
    try:
        lock.acquire()
    except Timeout:
        raise FolderInUseError(f"{folder} is in use: {_describe_holder(holder)}") from None
    try:
        write_json(
            holder,
            {
                "pid": os.getpid(),
                "host": socket.gethostname(),
                "since": datetime.datetime.now().isoformat(timespec="seconds"),
                "what": what,
                "command": " ".join(sys.argv),
            },
        )
        yield
    finally:
        holder.unlink(missing_ok=True)
        lock.release()


def _describe_holder(holder: Path) -> str:
    try:
        h = json.loads(holder.read_text())
        h = {k: h[k] for k in ("what", "pid", "host", "since", "command")}
    except (OSError, ValueError, KeyError, TypeError):
        return "another process holds its lock (holder unknown); wait for it to finish"
    return (
        f"{h['what']} by pid {h['pid']} on {h['host']} since {h['since']} ({h['command']}); "
        "wait for it to finish or stop it — two runs must not write one folder"
    )
