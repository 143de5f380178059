"""A study's results as loaded: :class:`Study` and :func:`load_study` read what the runs under
one results folder wrote (CSVs, ``run.json``, saved test predictions; no retraining, no
inference), :func:`across_seeds` folds a configuration's runs into one row, and
:func:`metrics_table` is the study's comparison table. The report
(:mod:`colorlib.study.report`), the page (:mod:`colorlib.study.page`) and the explore widgets
(:mod:`colorlib.study.explore`) read a study through here.

A study over several training seeds (``results/seed_{S}/``, :class:`colorlib.runs.StudyPaths`)
is read as one: each configuration's means are the means over seeds of the per-seed test
means, its intervals two-level bootstrap intervals (seeds and images), and its across-seed
standard deviation is reported beside them. Figures that show one run (histories, test
predictions) show the first seed's.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from colorlib.atomic import read_csv
from colorlib.config import BASELINES, DEFAULT_SEED, ExperimentConfig, model_ids
from colorlib.errors import MissingFileError, ResultsError, one_line
from colorlib.evaluation import summary_metrics
from colorlib.fid import bias_corrected
from colorlib.metrics import METRICS, feature_metrics, overall_score, reported, scored, set_value
from colorlib.runs import RunPaths, StudyPaths, saved_config
from colorlib.stats import BOOTSTRAP_RESAMPLES, image_counts, percentile_interval
from colorlib.study import conclusions


@dataclass
class Study:
    """Everything the runs under one results folder wrote (one seed or several)."""

    paths: StudyPaths
    summary: pd.DataFrame  # one row per model, across seeds (= metrics_{ID}.csv for one seed)
    per_image: pd.DataFrame  # one row per model, seed and test image
    runs: pd.DataFrame = field(default_factory=pd.DataFrame)  # one row per (model, seed)
    seeds: list[int] = field(default_factory=list)  # the seed trees; [] for a one-seed study
    histories: dict[str, pd.DataFrame] = field(default_factory=dict)
    predictions: dict[str, dict[str, np.ndarray]] = field(default_factory=dict)
    configs: dict[str, ExperimentConfig] = field(default_factory=dict)
    draws: conclusions.Draws | None = None

    @property
    def models(self) -> list[str]:
        return list(self.summary["model"])

    def run(self, model: str) -> RunPaths:
        """The run whose figures stand for ``model`` (the first seed's)."""
        tree = self.paths.seed_tree(self.seeds[0]) if self.seeds else self.paths
        return tree.run(model)

    def shown_per_image(self) -> pd.DataFrame:
        """The per-image metrics of the runs whose predictions are shown (the first seed)."""
        return self.per_image[self.per_image["seed"] == self.per_image["seed"].iloc[0]]


def load_study(
    results_dir: str | os.PathLike,
    models_dir: str | os.PathLike = "models",
    models: list[str] | None = None,
) -> Study:
    """Read every evaluated model under ``results_dir`` (or only ``models``), in study order;
    a several-seed study from its seed trees."""
    paths = StudyPaths(results_dir, models_dir)
    seeds = paths.seeds()
    trees = [(s, paths.seed_tree(s)) for s in seeds] or [(None, paths)]
    evaluated = {seed: set(tree.evaluated_models()) for seed, tree in trees}
    union = set().union(*evaluated.values())
    # the study's order first, then custom experiments alphabetically
    order = model_ids()
    found = [m for m in order if m in union] + sorted(union - set(order))
    chosen = [m for m in found if models is None or m in models]
    missing = sorted(set(models or []) - set(found))
    if missing or not chosen:
        raise MissingFileError(
            f"no evaluation results for {missing or 'any model'} under {paths.results}; run "
            "run_all.py (or python -m colorlib evaluate --model ID) first"
        )
    runs, per_image = [], []
    feature_draws: dict[str, dict[int, np.ndarray]] = {}
    study = Study(paths, pd.DataFrame(), pd.DataFrame(), seeds=seeds)
    for seed, tree in trees:
        for m in (m for m in chosen if m in evaluated[seed]):
            run = tree.run(m)
            cfg = saved_config(run)
            run_seed = seed if seed is not None else (cfg.seed if cfg is not None else DEFAULT_SEED)
            runs.append(read_csv(run.metrics_csv).assign(seed=run_seed))
            per_image.append(read_csv(run.per_image_csv).assign(seed=run_seed))
            if run.features.exists():
                feature_draws.setdefault(m, {})[run_seed] = _feature_draws(run)
            if m in study.configs:
                continue  # figures and configs: the first seed's run
            if cfg is not None:
                study.configs[m] = cfg
            if run.history_csv.exists():
                study.histories[m] = read_csv(run.history_csv)
            if run.predictions.exists():
                with np.load(run.predictions, allow_pickle=False) as z:
                    study.predictions[m] = {k: z[k] for k in z.files}
    study.runs = pd.concat(runs, ignore_index=True)
    study.per_image = pd.concat(per_image, ignore_index=True)
    study.draws = conclusions.bootstrap(
        study.per_image, set_level=_set_level(study.per_image, feature_draws)
    )
    study.summary = across_seeds(study.runs, study.draws, study.per_image, several=bool(seeds))
    return study


def _feature_draws(run: RunPaths) -> np.ndarray:
    """FID and KID of one run on each of the study's image resamples, ``(resamples, K2)``
    (:func:`colorlib.metrics.feature_metrics` order): the draws its evaluation stored, or
    computed again from its features when they were drawn otherwise."""
    try:
        with np.load(run.features, allow_pickle=False) as z:
            stored = {k: z[k] for k in z.files}
    except (OSError, ValueError, EOFError) as err:
        raise ResultsError(
            f"{run.features} is not readable ({one_line(err)}); evaluate {run.model_id} again"
        ) from err
    names = [f"{m}_draws" for m in feature_metrics()]
    same = int(stored.get("bootstrap_seed", -1)) == conclusions.BOOTSTRAP_SEED
    if same and all(k in stored and len(stored[k]) == BOOTSTRAP_RESAMPLES for k in names):
        return np.stack([stored[k] for k in names], axis=-1)
    order = np.argsort(stored["names"])  # the study resamples images by name
    pred, true = stored["pred"][order], stored["true"][order]
    counts = image_counts(len(pred), seed=conclusions.BOOTSTRAP_SEED)
    draws = [
        bias_corrected(
            METRICS[m].of_features(pred, true, counts), METRICS[m].of_features(pred, true)
        )
        for m in feature_metrics()
    ]
    return np.stack(draws, axis=-1)


def _set_level(
    per_image: pd.DataFrame, feature_draws: dict[str, dict[int, np.ndarray]]
) -> dict[str, np.ndarray] | None:
    """Per configuration, its seeds' FID and KID draws ``(seeds, resamples, K2)``, seeds
    ascending as :func:`conclusions.per_image_values`; NaN for a run without features.
    ``None`` when no run has them (FID and KID were not computed)."""
    if not feature_draws:
        return None
    missing = np.full((BOOTSTRAP_RESAMPLES, len(feature_metrics())), np.nan)
    out = {}
    for model in dict.fromkeys(per_image["model"]):
        seeds = sorted(per_image.loc[per_image["model"] == model, "seed"].unique())
        found = feature_draws.get(model, {})
        out[model] = np.stack([found.get(seed, missing) for seed in seeds])
    return out


def across_seeds(
    runs: pd.DataFrame, draws: conclusions.Draws, per_image: pd.DataFrame, *, several: bool
) -> pd.DataFrame:
    """One summary row per model from its runs' rows (``metrics_{ID}.csv``, one per seed).

    Means are means over seeds of the per-seed test means (for the reported metrics computed
    as the mean of the pooled per-image values, the same number; ΔCF is its absolute value,
    :func:`colorlib.metrics.set_value`). The reported metrics' intervals
    come from the study's one set of bootstrap draws (``draws``: two-level over seeds and
    images; with one seed that is the image bootstrap), the same draws as every comparison;
    the others (inference time) keep the run's own interval with one seed and get none with
    several. ``n_seeds`` and ``{metric}_seed_sd`` (sample standard deviation over seeds, empty
    for one seed) are added.
    """
    rows = []
    for model, group in runs.groupby("model", sort=False):
        row: dict[str, object] = {"model": model}
        images = per_image[per_image["model"] == model]
        for m in summary_metrics():
            # a set-level metric (ΔCF) of the pooled images, as its draws; else the mean of
            # the seeds' means (the same images in every seed: the pooled mean)
            pooled = m in draws.means and m in images
            row[m] = set_value(m, images[m].mean()) if pooled else group[m].mean()
            if m in draws.means:
                row[f"{m}_ci_low"], row[f"{m}_ci_high"] = percentile_interval(draws.means[m][model])
            elif not several:
                row[f"{m}_ci_low"], row[f"{m}_ci_high"] = (
                    group[f"{m}_ci_low"].iloc[0],
                    group[f"{m}_ci_high"].iloc[0],
                )
            else:
                row[f"{m}_ci_low"] = row[f"{m}_ci_high"] = np.nan
        row |= {
            "val_loss": group["val_loss"].mean(),
            "n_images": int(group["n_images"].iloc[0]),
            "lpips_backbone": group["lpips_backbone"].iloc[0],
            "n_seeds": len(group),
            "seeds": ",".join(str(s) for s in sorted(group["seed"])),
        }
        for m in reported():
            row[f"{m}_seed_sd"] = group[m].std(ddof=1) if len(group) > 1 else np.nan
        rows.append(row)
    return pd.DataFrame(rows)


def metrics_table(study: Study) -> pd.DataFrame:
    """``metrics_comparison.csv``: means with 95 % intervals, the original's val_loss and
    overall score, the number of seeds and the across-seed standard deviations, and each
    model's PSNR / ΔE00 difference to GRAY; one row per model.

    The overall score is the original's: min–max normalised across the trained configurations
    only. GRAY (and any baseline) keeps its raw metrics and has no score.
    """
    t = study.summary.set_index("model")
    out = t[[*reported(), "val_loss"]].copy()
    trained = [m for m in t.index if m not in BASELINES]
    out["overall_score"] = overall_score(t.loc[trained, list(scored())]).reindex(t.index)
    for m in reported():
        out[f"{m}_95ci"] = [
            f"[{lo:.4g}, {hi:.4g}]" for lo, hi in zip(t[f"{m}_ci_low"], t[f"{m}_ci_high"])
        ]
    out["n_seeds"] = t["n_seeds"]
    for m in reported():
        out[f"{m}_seed_sd"] = t[f"{m}_seed_sd"]
    gray = next((b for b in BASELINES if b in t.index), None)
    for m in ("psnr", "ciede2000"):
        out[f"{m}_vs_gray"] = t[m] - t.loc[gray, m] if gray else np.nan
    return out
