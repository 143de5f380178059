"""The cross-model report, from what the runs wrote (CSVs, ``run.json``, saved test
predictions) only: no retraining, no inference.

Used by ``notebooks/comprehensive_model_evaluation.ipynb``; writes the files of
:meth:`colorlib.runs.StudyPaths.report` under ``results/Evaluate/`` (the comparison table, the
original study's figures, the colourfulness test, paired Wilcoxon tests against model A, the
comparisons, ranking stability and claims of :mod:`colorlib.study.conclusions`, and the study
as one self-contained HTML page, :mod:`colorlib.study.page`).

A study over several training seeds (``results/seed_{S}/``, :class:`colorlib.runs.StudyPaths`)
is read as one: each configuration's means are the means over seeds of the per-seed test
means, its intervals two-level bootstrap intervals (seeds and images), and its across-seed
standard deviation is reported beside them. Figures that show one run (histories, test
predictions) show the first seed's.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd
import torch

from colorlib import plots
from colorlib.atomic import write_csv
from colorlib.config import BASELINES, PRESETS, ExperimentConfig
from colorlib.errors import MissingFileError, ResultsError
from colorlib.evaluation import SUMMARY_METRICS
from colorlib.metrics import overall_score
from colorlib.networks import UnetGenerator, count_parameters
from colorlib.plots import METRICS
from colorlib.runs import RunPaths, StudyPaths, saved_config
from colorlib.stats import holm, paired_wilcoxon, percentile_interval
from colorlib.study import conclusions
from colorlib.study.page import write_page

MODEL_ORDER = (*PRESETS, *BASELINES)


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
    found = [m for m in MODEL_ORDER if m in union] + sorted(union - set(MODEL_ORDER))
    chosen = [m for m in found if models is None or m in models]
    missing = sorted(set(models or []) - set(found))
    if missing or not chosen:
        raise MissingFileError(
            f"no evaluation results for {missing or 'any model'} under {paths.results}; run "
            "run_all.py (or python -m colorlib evaluate --model ID) first"
        )
    runs, per_image = [], []
    study = Study(paths, pd.DataFrame(), pd.DataFrame(), seeds=seeds)
    for seed, tree in trees:
        for m in (m for m in chosen if m in evaluated[seed]):
            run = tree.run(m)
            cfg = saved_config(run)
            run_seed = seed if seed is not None else (cfg.seed if cfg is not None else 42)
            runs.append(pd.read_csv(run.metrics_csv).assign(seed=run_seed))
            per_image.append(pd.read_csv(run.per_image_csv).assign(seed=run_seed))
            if m in study.configs:
                continue  # figures and configs: the first seed's run
            if cfg is not None:
                study.configs[m] = cfg
            if run.history_csv.exists():
                study.histories[m] = pd.read_csv(run.history_csv)
            if run.predictions.exists():
                with np.load(run.predictions, allow_pickle=False) as z:
                    study.predictions[m] = {k: z[k] for k in z.files}
    study.runs = pd.concat(runs, ignore_index=True)
    study.per_image = pd.concat(per_image, ignore_index=True)
    study.draws = conclusions.bootstrap(study.per_image)
    study.summary = across_seeds(study.runs, study.draws, several=bool(seeds))
    return study


def across_seeds(runs: pd.DataFrame, draws: conclusions.Draws, *, several: bool) -> pd.DataFrame:
    """One summary row per model from its runs' rows (``metrics_{ID}.csv``, one per seed).

    Means are means over seeds of the per-seed test means. A one-seed study keeps each run's
    own image-bootstrap intervals; several seeds get two-level intervals for the bootstrapped
    metrics (none for the others). ``n_seeds`` and ``{metric}_seed_sd`` (sample standard
    deviation over seeds, empty for one seed) are added.
    """
    rows = []
    for model, group in runs.groupby("model", sort=False):
        row: dict[str, object] = {"model": model}
        for m in SUMMARY_METRICS:
            row[m] = group[m].mean()
            if not several:
                row[f"{m}_ci_low"], row[f"{m}_ci_high"] = (
                    group[f"{m}_ci_low"].iloc[0],
                    group[f"{m}_ci_high"].iloc[0],
                )
            elif m in conclusions.BOOTSTRAPPED:
                row[f"{m}_ci_low"], row[f"{m}_ci_high"] = percentile_interval(draws.means[m][model])
            else:
                row[f"{m}_ci_low"] = row[f"{m}_ci_high"] = np.nan
        row |= {
            "val_loss": group["val_loss"].mean(),
            "n_images": int(group["n_images"].iloc[0]),
            "lpips_backbone": group["lpips_backbone"].iloc[0],
            "n_seeds": len(group),
            "seeds": ",".join(str(s) for s in sorted(group["seed"])),
        }
        for m in conclusions.BOOTSTRAPPED:
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
    out = t[[*METRICS, "colorfulness_pred", "val_loss"]].copy()
    trained = [m for m in t.index if m not in BASELINES]
    out["overall_score"] = overall_score(t.loc[trained, list(METRICS)]).reindex(t.index)
    for m in (*METRICS, "colorfulness_pred"):
        out[f"{m}_95ci"] = [
            f"[{lo:.4g}, {hi:.4g}]" for lo, hi in zip(t[f"{m}_ci_low"], t[f"{m}_ci_high"])
        ]
    out["n_seeds"] = t["n_seeds"]
    for m in conclusions.BOOTSTRAPPED:
        out[f"{m}_seed_sd"] = t[f"{m}_seed_sd"]
    gray = next((b for b in BASELINES if b in t.index), None)
    for m in ("psnr", "ciede2000"):
        out[f"{m}_vs_gray"] = t[m] - t.loc[gray, m] if gray else np.nan
    return out


def inference_table(study: Study) -> pd.DataFrame:
    """``inference_metrics_comparison.csv``: inference ms/image, parameters, checkpoint MB."""
    rows = []
    for _, r in study.summary.iterrows():
        m = r["model"]
        cfg = study.configs.get(m)
        params = 0
        if cfg is not None and m not in BASELINES:
            with torch.device("meta"):
                params = count_parameters(UnetGenerator(cfg.image_size, cfg.ngf))
        ckpt = study.run(m).best
        rows.append(
            {
                "model": m,
                "inference_ms_per_image": r["inference_ms"],
                "parameters": params,
                "checkpoint_mb": ckpt.stat().st_size / 2**20 if ckpt.exists() else 0.0,
            }
        )
    return pd.DataFrame(rows)


def colorfulness_test(study: Study) -> pd.DataFrame:
    """Do GAN variants colour more vividly? Per test image, mean colourfulness of the GAN
    models vs the non-GAN models, Wilcoxon signed-rank (paired by image), and each model's mean
    colourfulness next to the ground truth's."""
    gan = [m for m, c in study.configs.items() if c.use_gan]
    plain = [m for m, c in study.configs.items() if not c.use_gan and m not in BASELINES]
    wide = study.per_image.pivot_table(index="image", columns="model", values="colorfulness_pred")
    truth = study.per_image.groupby("image")["colorfulness_true"].first()
    rows = []
    if gan and plain:
        g, p = wide[gan].mean(axis=1), wide[plain].mean(axis=1)
        rows.append(
            {
                "comparison": f"GAN ({len(gan)}) vs non-GAN ({len(plain)})",
                "mean_a": g.mean(),
                "mean_b": p.mean(),
                "median_diff": (g - p).median(),
                "wilcoxon_p": paired_wilcoxon(g, p),
                "n_images": len(g),
            }
        )
    for m in wide.columns:
        rows.append(
            {
                "comparison": f"{m} vs ground truth",
                "mean_a": wide[m].mean(),
                "mean_b": truth.mean(),
                "median_diff": (wide[m] - truth).median(),
                "wilcoxon_p": paired_wilcoxon(wide[m], truth.loc[wide.index]),
                "n_images": len(truth),
            }
        )
    return pd.DataFrame(rows)


def paired_tests(study: Study, reference: str = "A", metric: str = "ciede2000") -> pd.DataFrame:
    """Wilcoxon signed-rank of per-image ``metric`` between ``reference`` and every other model
    (paired by test image), with Holm-adjusted p-values."""
    wide = study.per_image.pivot_table(index="image", columns="model", values=metric)
    if reference not in wide:
        raise ResultsError(f"reference model {reference!r} has no results; have {list(wide)}")
    rows = []
    for m in wide.columns:
        if m == reference:
            continue
        d = wide[m] - wide[reference]
        rows.append(
            {
                "model": m,
                "reference": reference,
                "metric": metric,
                "mean_diff": d.mean(),
                "median_diff": d.median(),
                "wilcoxon_p": paired_wilcoxon(wide[m], wide[reference]),
                "n_images": len(d),
            }
        )
    out = pd.DataFrame(
        rows,
        columns=[
            "model",
            "reference",
            "metric",
            "mean_diff",
            "median_diff",
            "wilcoxon_p",
            "n_images",
        ],
    )
    out["holm_p"] = holm(out["wilcoxon_p"].to_numpy())
    return out


def write_report(
    results_dir: str | os.PathLike, models_dir: str | os.PathLike = "models"
) -> dict[str, Path]:
    """Every file of the evaluation step under ``results_dir/Evaluate``; returns them by role."""
    study = load_study(results_dir, models_dir)
    files = study.paths.report()
    table = metrics_table(study)
    write_csv(table, files["metrics"])
    plots.plot_metric_bars(study.summary, files["bars"], baselines=BASELINES)
    plots.plot_history_comparison(study.histories, files["history"])
    if not study.predictions:
        raise MissingFileError(f"no saved test predictions under {study.paths.results}")
    names, columns = plots.prediction_columns(study.predictions)
    plots.image_grid(columns, files["grid"], row_labels=names, cell=1.6)
    for row, name in enumerate(names):
        files[f"test_image_{row + 1}"] = study.paths.test_image(row + 1)
        plots.plot_test_image(columns, row, files[f"test_image_{row + 1}"], title=name)
    write_csv(inference_table(study), files["inference"], index=False)
    gan = [m for m, c in study.configs.items() if c.use_gan]
    plots.plot_colorfulness_vs_accuracy(study.summary, files["colorfulness_plot"], gan_models=gan)
    write_csv(colorfulness_test(study), files["colorfulness_test"], index=False)
    reference = "A" if "A" in study.models else study.models[0]
    write_csv(paired_tests(study, reference), files["paired"], index=False)
    ranking = conclusions.ranking_stability(study.draws)
    write_csv(ranking, files["ranking"], index=False)
    write_csv(
        conclusions.comparisons(study.summary, study.draws), files["comparisons"], index=False
    )
    summary = study.summary.assign(overall_score=table["overall_score"].to_numpy())
    claims = conclusions.claims(summary, study.draws, ranking)
    write_csv(claims, files["claims"], index=False)
    if study.seeds:  # the across-seed result under the study's own names
        for model in study.models:
            run = study.paths.run(model)
            write_csv(study.summary[study.summary["model"] == model], run.metrics_csv, index=False)
            rows = study.per_image[study.per_image["model"] == model]
            write_csv(rows, run.per_image_csv, index=False)
    figures = {
        "Test-set metrics (mean, 95 % bootstrap CI)": files["bars"],
        "Validation L1 and generator loss per epoch": files["history"],
        "Colourfulness against accuracy": files["colorfulness_plot"],
    }
    tables = {
        "Ranking stability (share of bootstrap draws ranked first; 95 % rank interval)": ranking,
        "The original study's claims, measured": claims,
    }
    write_page(study, table, figures, files["page"], tables)
    return files
