"""The cross-model report, from what the runs wrote (CSVs, ``run.json``, saved test
predictions) only: no retraining, no inference.

Used by ``notebooks/comprehensive_model_evaluation.ipynb``; writes the files of
:meth:`colorlib.runs.StudyPaths.report` under ``results/Evaluate/`` (the comparison table, the
original study's figures, the colourfulness test, paired Wilcoxon tests against model A, and
the study as one self-contained HTML page, :mod:`colorlib.study.page`).
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
from colorlib.metrics import overall_score
from colorlib.networks import UnetGenerator, count_parameters
from colorlib.plots import METRICS
from colorlib.runs import StudyPaths, saved_config
from colorlib.stats import holm, paired_wilcoxon
from colorlib.study.page import write_page

MODEL_ORDER = (*PRESETS, *BASELINES)


@dataclass
class Study:
    """Everything the runs under one results folder wrote."""

    paths: StudyPaths
    summary: pd.DataFrame  # one row per model: metrics_{ID}.csv
    per_image: pd.DataFrame  # metrics_per_image_{ID}.csv, all models
    histories: dict[str, pd.DataFrame] = field(default_factory=dict)
    predictions: dict[str, dict[str, np.ndarray]] = field(default_factory=dict)
    configs: dict[str, ExperimentConfig] = field(default_factory=dict)

    @property
    def models(self) -> list[str]:
        return list(self.summary["model"])


def load_study(
    results_dir: str | os.PathLike,
    models_dir: str | os.PathLike = "models",
    models: list[str] | None = None,
) -> Study:
    """Read every evaluated model under ``results_dir`` (or only ``models``), in study order."""
    paths = StudyPaths(results_dir, models_dir)
    evaluated = set(paths.evaluated_models())
    # the study's order first, then custom experiments alphabetically
    found = [m for m in MODEL_ORDER if m in evaluated] + sorted(evaluated - set(MODEL_ORDER))
    chosen = [m for m in found if models is None or m in models]
    missing = sorted(set(models or []) - set(found))
    if missing or not chosen:
        raise FileNotFoundError(
            f"no evaluation results for {missing or 'any model'} under {paths.results}; run "
            "run_all.py (or python -m colorlib evaluate --model ID) first"
        )
    runs = [paths.run(m) for m in chosen]
    summary = pd.concat([pd.read_csv(r.metrics_csv) for r in runs], ignore_index=True)
    per_image = pd.concat([pd.read_csv(r.per_image_csv) for r in runs], ignore_index=True)
    study = Study(paths, summary, per_image)
    for m, run in zip(chosen, runs):
        if run.history_csv.exists():
            study.histories[m] = pd.read_csv(run.history_csv)
        if run.predictions.exists():
            with np.load(run.predictions, allow_pickle=False) as z:
                study.predictions[m] = {k: z[k] for k in z.files}
        cfg = saved_config(run)
        if cfg is not None:
            study.configs[m] = cfg
    return study


def metrics_table(study: Study) -> pd.DataFrame:
    """Means with 95 % CIs, the original's val_loss and the overall score, one row per model.

    The overall score min–max normalises across every row shown, GRAY included (so a model
    that scores below the gray baseline is visible as such).
    """
    t = study.summary.set_index("model")
    out = t[[*METRICS, "colorfulness_pred", "val_loss"]].copy()
    out["overall_score"] = overall_score(t[list(METRICS)])
    for m in (*METRICS, "colorfulness_pred"):
        out[f"{m}_95ci"] = [
            f"[{lo:.4g}, {hi:.4g}]" for lo, hi in zip(t[f"{m}_ci_low"], t[f"{m}_ci_high"])
        ]
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
        ckpt = study.paths.run(m).best
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
        raise ValueError(f"reference model {reference!r} has no results; have {list(wide)}")
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
        raise FileNotFoundError(f"no saved test predictions under {study.paths.results}")
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
    figures = {
        "Test-set metrics (mean, 95 % bootstrap CI)": files["bars"],
        "Validation L1 and generator loss per epoch": files["history"],
        "Colourfulness against accuracy": files["colorfulness_plot"],
    }
    write_page(study, table, figures, files["page"])
    return files
