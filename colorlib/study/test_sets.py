"""Further test sets (``--also-test``): every trained configuration of a study, and GRAY, scored
on other photos than its own test split, e.g. photos of another kind than it was trained on.

A test set is a folder: its ``test/`` split when it has one (``test_color/`` in the Kaggle
layout), else every photo in it (a flat folder). It is named by the folder's name; two test sets
of one study may not share a name. Each (configuration, seed) is evaluated with the run's own
config and best checkpoint, at the run's image size, and written to the study's test-set tree
(:meth:`colorlib.runs.StudyPaths.test_set`: ``results/test_sets/{name}/``, laid out like the
study: ``{ID}/`` or ``seed_{S}/{ID}/``), so the study's tables are computed for it by the same
code (:func:`colorlib.study.results.load_study`) — the same metrics, intervals and rule: every
configuration scored on the same complete list. An evaluation is redone when its checkpoint is
newer than its metrics or its config changed, or with ``--force``.
"""

from __future__ import annotations

import logging
import shutil
from dataclasses import dataclass
from pathlib import Path

from colorlib.config import BASELINES, ExperimentConfig
from colorlib.data import find_images
from colorlib.data.folders import has_split
from colorlib.errors import ConfigError
from colorlib.evaluation import evaluate
from colorlib.runs import RunPaths, StudyPaths, evaluated_record, recorded_differences

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class TestSet:
    name: str
    folder: Path
    split: str  # "test", or "" for a flat folder

    def config(self, cfg: ExperimentConfig, tree: StudyPaths) -> ExperimentConfig:
        """``cfg`` (a run's) pointed at this test set, writing into ``tree``."""
        return cfg.replace(
            data_dir=str(self.folder), test_split=self.split, results_dir=str(tree.results)
        )


def test_sets_of(folders: list[str] | tuple[str, ...]) -> list[TestSet]:
    """The test sets of ``folders``, checked before any training: each must hold photos, and
    names (the folders' names) must differ."""
    sets = []
    for folder in map(Path, folders):
        split = "test" if folder.is_dir() and has_split(folder, "test") else ""
        find_images(folder, split or None)  # MissingFileError naming the folder if it has none
        sets.append(TestSet(folder.resolve().name, folder.resolve(), split))
    names = [s.name for s in sets]
    if len(set(names)) != len(names):
        raise ConfigError(
            f"--also-test folders must have different names (each names its table); got "
            f"{[str(s.folder) for s in sets]}"
        )
    return sets


def evaluate_on(
    test_set: TestSet, cfg: ExperimentConfig, study: StudyPaths, seed: int | None, force: bool
) -> bool:
    """Evaluate run ``cfg`` (of ``study``, seed ``seed``) on ``test_set`` unless that is up to
    date; returns whether it evaluated."""
    run = RunPaths.of(cfg)
    tree = study.seed_test_set(test_set.name, seed)
    target = test_set.config(cfg, tree)
    checkpoint = None if cfg.model_id in BASELINES else run.best
    if not force and _up_to_date(target, checkpoint):
        return False
    if recorded_differences(target):  # scores of another config: redone
        shutil.rmtree(RunPaths.of(target).results)
    evaluate(target, checkpoint=checkpoint)
    return True


def clear(study: StudyPaths, model: str, seed: int | None) -> None:
    """Remove the test-set evaluations of ``model`` (seed ``seed``): its run is retrained."""
    for name in study.test_sets():
        shutil.rmtree(study.seed_test_set(name, seed).run(model).results, ignore_errors=True)


def _up_to_date(cfg: ExperimentConfig, checkpoint: Path | None) -> bool:
    """Evaluated for this config (:func:`colorlib.runs.evaluated_record`) and, for a trained
    configuration, from ``checkpoint`` and after it was last written."""
    record = evaluated_record(cfg)
    if record is None or checkpoint is None:
        return record is not None
    return (
        checkpoint.exists()
        and record["evaluation"].get("predictor") == str(checkpoint)
        and RunPaths.of(cfg).metrics_csv.stat().st_mtime >= checkpoint.stat().st_mtime
    )
