"""The cross-model report, from what the runs wrote (CSVs, ``run.json``, saved test
predictions) only: no retraining, no inference.

Used by ``notebooks/comprehensive_model_evaluation.ipynb``; writes the files of
:meth:`colorlib.runs.StudyPaths.report` under ``results/Evaluate/`` (the comparison table, the
original study's figures, the colourfulness test, paired Wilcoxon tests against model A, the
comparisons, ranking stability and claims of :mod:`colorlib.study.conclusions`, and the study
as one self-contained HTML page, :mod:`colorlib.study.page`).

The study is read through :mod:`colorlib.study.results` (one seed or several). A several-seed
study's across-seed result per configuration is written here too, under its own names
(``metrics_across_seeds_{ID}.csv``, ``metrics_per_image_across_seeds_{ID}.csv``). Each further
test set of the study (``--also-test``, :mod:`colorlib.study.test_sets`) gets its comparison
table and comparisons under ``Evaluate/test_sets/{name}/`` and a section of the page.
"""

from __future__ import annotations

import logging
import os
from pathlib import Path

import pandas as pd
import torch

from colorlib import plots
from colorlib.atomic import write_csv
from colorlib.config import BASELINES, REFERENCE
from colorlib.errors import MissingFileError, ResultsError
from colorlib.metrics import METRICS, feature_metrics, reported
from colorlib.networks import count_parameters, define_G
from colorlib.runs import StudyPaths
from colorlib.stats import holm, paired_wilcoxon
from colorlib.study import conclusions
from colorlib.study.page import write_page
from colorlib.study.results import Study, load_study, metrics_table

log = logging.getLogger(__name__)


def inference_table(study: Study) -> pd.DataFrame:
    """``inference_metrics_comparison.csv``: inference ms/image, parameters, checkpoint MB."""
    rows = []
    for _, r in study.summary.iterrows():
        m = r["model"]
        cfg = study.configs.get(m)
        params = 0
        if cfg is not None and m not in BASELINES:
            with torch.device("meta"):
                params = count_parameters(define_G(cfg, pretrained=False))
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


def paired_tests(
    study: Study, reference: str = REFERENCE, metric: str = "ciede2000"
) -> pd.DataFrame:
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
    plots.plot_metric_distributions(study.per_image, files["distributions"])
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
    reference = REFERENCE if REFERENCE in study.models else study.models[0]
    write_csv(paired_tests(study, reference), files["paired"], index=False)
    ranking = conclusions.ranking_stability(study.draws)
    write_csv(ranking, files["ranking"], index=False)
    write_csv(
        conclusions.comparisons(study.summary, study.draws), files["comparisons"], index=False
    )
    summary = study.summary.assign(overall_score=table["overall_score"].to_numpy())
    claims = conclusions.claims(summary, study.draws, ranking)
    write_csv(claims, files["claims"], index=False)
    if study.seeds:  # the across-seed result, under names of its own (one name, one schema)
        for model in study.models:
            run = study.paths.run(model)
            summary_rows = study.summary[study.summary["model"] == model]
            write_csv(summary_rows, run.across_seeds_csv, index=False)
            rows = study.per_image[study.per_image["model"] == model]
            write_csv(rows, run.per_image_across_seeds_csv, index=False)
    figures = {
        "Test-set metrics (mean, 95 % bootstrap CI)": files["bars"],
        "Per-image metrics: the spread over the test images": files["distributions"],
        "Validation L1 and generator loss per epoch": files["history"],
        "Colourfulness against accuracy": files["colorfulness_plot"],
    }
    tables = {
        "Ranking stability (share of bootstrap draws ranked first; 95 % rank interval)": ranking,
        "Claims, measured (the original study's, then the extended group's)": claims,
    }
    for name in study.paths.test_sets():
        try:
            title, frame = test_set_report(study.paths, name, models_dir, files)
        except (MissingFileError, ResultsError) as err:  # e.g. a photo stopped its evaluation
            log.warning("test set %s not reported: %s", name, err)
            title, frame = f"Test set {name}: not reported", pd.DataFrame({"why": [str(err)]})
        tables[title] = frame
    write_page(study, figures, files["page"], tables)
    return files


def test_set_report(
    paths: StudyPaths, name: str, models_dir: str | os.PathLike, files: dict[str, Path]
) -> tuple[str, pd.DataFrame]:
    """The further test set ``name`` (``--also-test``): its comparison table and its
    comparisons with A and GRAY under ``Evaluate/test_sets/{name}/`` (added to ``files`` as
    ``{name}_metrics`` and ``{name}_comparisons``), and its page section's title and table."""
    study = load_study(paths.test_set(name).results, models_dir)
    out = paths.test_set_report(name)
    table = metrics_table(study)
    write_csv(table, out["metrics"])
    comparisons = conclusions.comparisons(study.summary, study.draws)
    write_csv(comparisons, out["comparisons"], index=False)
    files |= {f"{name}_{role}": path for role, path in out.items()}
    n_images = int(study.summary["n_images"].iloc[0])
    seeds = len(study.seeds) or 1
    title = f"Test set {name} ({n_images} photos, {seeds} seed(s)): means, 95 % intervals"
    return title, display_table(table)


def display_table(table: pd.DataFrame) -> pd.DataFrame:
    """A comparison table (:func:`metrics_table`) as a page shows it: each reported metric as
    ``mean [low, high]``, the overall score, and PSNR and ΔE00 against GRAY."""
    out = pd.DataFrame(index=table.index)
    for m in reported():
        if m in feature_metrics() and table[m].isna().all():
            continue  # FID and KID not computed (fid_kid)
        out[METRICS[m].label] = [f"{v:.4g} {ci}" for v, ci in zip(table[m], table[f"{m}_95ci"])]
    out["overall ↑"] = table["overall_score"].round(3)
    out["PSNR − GRAY"] = table["psnr_vs_gray"].round(2)
    out["ΔE00 − GRAY"] = table["ciede2000_vs_gray"].round(2)
    return out.reset_index().rename(columns={"index": "model"})
