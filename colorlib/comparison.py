"""Cross-model comparison, from what the runs wrote (CSVs, JSON, prediction samples) only.

Used by ``notebooks/comprehensive_model_evaluation.ipynb``; writes under ``results/Evaluate/``:
``comprehensive_metrics_comparison.png``, ``training_history_comparison.png``,
``complete_comparison_grid.png``, ``comparison_test_image_*.png``,
``inference_metrics_comparison.csv``, ``metrics_comparison.csv``, ``colorfulness_vs_accuracy.png``,
``paired_tests.csv`` and ``colorfulness_test.csv``.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd
import torch
from scipy import stats

from colorlib.config import BASELINES, PRESETS, ExperimentConfig
from colorlib.metrics import HIGHER_IS_BETTER, overall_score
from colorlib.networks import UnetGenerator, count_parameters
from colorlib.reporting import image_grid, plt, save_figure, to_rgb_images, write_csv

MODEL_ORDER = (*PRESETS, *BASELINES)
METRICS = tuple(HIGHER_IS_BETTER)  # psnr, ssim, ciede2000, lpips
LABELS = {
    "psnr": "PSNR (dB) ↑",
    "ssim": "SSIM ↑",
    "ciede2000": "CIEDE2000 ΔE00 ↓",
    "lpips": "LPIPS ↓",
    "colorfulness_pred": "colourfulness",
}


@dataclass
class Study:
    """Everything the runs under one ``results_dir`` wrote."""

    results_dir: Path
    summary: pd.DataFrame  # one row per model: metrics_{ID}.csv
    per_image: pd.DataFrame  # metrics_per_image_{ID}.csv, all models
    histories: dict[str, pd.DataFrame] = field(default_factory=dict)
    predictions: dict[str, dict[str, np.ndarray]] = field(default_factory=dict)
    configs: dict[str, ExperimentConfig] = field(default_factory=dict)

    @property
    def models(self) -> list[str]:
        return list(self.summary["model"])


def load_study(results_dir: str | os.PathLike, models: list[str] | None = None) -> Study:
    """Read every evaluated model under ``results_dir`` (or only ``models``), in study order."""
    root = Path(results_dir)
    evaluated = {
        p.parent.name
        for p in root.glob("*/metrics_*.csv")
        if p.name == f"metrics_{p.parent.name}.csv"
    }
    # the study's order first, then custom experiments alphabetically
    found = [m for m in MODEL_ORDER if m in evaluated] + sorted(evaluated - set(MODEL_ORDER))
    chosen = [m for m in found if models is None or m in models]
    missing = sorted(set(models or []) - set(found))
    if missing or not chosen:
        raise FileNotFoundError(
            f"no evaluation results for {missing or 'any model'} under {root}; run "
            "run_all.py (or python -m colorlib evaluate --model ID) first"
        )
    summary = pd.concat(
        [pd.read_csv(root / m / f"metrics_{m}.csv") for m in chosen], ignore_index=True
    )
    per_image = pd.concat(
        [pd.read_csv(root / m / f"metrics_per_image_{m}.csv") for m in chosen], ignore_index=True
    )
    study = Study(root, summary, per_image)
    for m in chosen:
        hist = root / m / f"training_history_{m}.csv"
        if hist.exists():
            study.histories[m] = pd.read_csv(hist)
        pred = root / m / f"test_predictions_{m}.npz"
        if pred.exists():
            with np.load(pred, allow_pickle=False) as z:
                study.predictions[m] = {k: z[k] for k in z.files}
        run = root / m / "run.json"
        cfg = json.loads(run.read_text()).get("config") if run.exists() else None
        if cfg:
            study.configs[m] = ExperimentConfig.from_dict(cfg)
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


def plot_metric_bars(study: Study, path: str | os.PathLike) -> None:
    """``comprehensive_metrics_comparison.png``: bars with 95 % CI error bars per metric."""
    t = study.summary.set_index("model")
    metrics = [*METRICS, "colorfulness_pred"]
    fig, axes = plt.subplots(1, len(metrics), figsize=(4.2 * len(metrics), 4.2))
    for ax, m in zip(axes, metrics):
        mean = t[m]
        err = np.vstack([mean - t[f"{m}_ci_low"], t[f"{m}_ci_high"] - mean])
        colors = ["0.6" if i in BASELINES else f"C{k % 10}" for k, i in enumerate(t.index)]
        ax.bar(range(len(t)), mean, yerr=err, capsize=3, color=colors)
        ax.set_xticks(range(len(t)), t.index, rotation=60, ha="right", fontsize=8)
        ax.set_title(LABELS[m])
        lo = float(np.nanmin(t[f"{m}_ci_low"]))
        hi = float(np.nanmax(t[f"{m}_ci_high"]))
        ax.set_ylim(max(0.0, lo - 0.15 * (hi - lo)), hi + 0.1 * (hi - lo) + 1e-9)
        ax.grid(axis="y", alpha=0.3)
    fig.suptitle("Test-set metrics (mean, 95 % bootstrap CI)")
    save_figure(fig, path)


def plot_history_comparison(study: Study, path: str | os.PathLike) -> None:
    """``training_history_comparison.png``: validation L1 and generator loss per epoch."""
    fig, axes = plt.subplots(1, 2, figsize=(12, 4))
    for m, h in study.histories.items():
        axes[0].plot(h["epoch"], h["val_l1"], marker=".", label=m)
        axes[1].plot(h["epoch"], h["loss_G"], marker=".", label=m)
    axes[0].set_title("validation L1 (normalised ab)")
    axes[1].set_title("generator loss (weighted sum; scales differ by preset)")
    axes[1].set_yscale("log")
    for ax in axes:
        ax.set_xlabel("epoch")
        ax.grid(alpha=0.3)
    axes[0].legend(fontsize=7, ncol=2)
    save_figure(fig, path)


def _grid_columns(study: Study) -> tuple[list[str], dict[str, np.ndarray]]:
    if not study.predictions:
        raise FileNotFoundError(f"no test_predictions_*.npz under {study.results_dir}")
    first = next(iter(study.predictions.values()))
    L = torch.from_numpy(first["L"])
    cols = {
        "input (L)": to_rgb_images(L, torch.zeros(L.shape[0], 2, *L.shape[2:])),
        "ground truth": to_rgb_images(L, torch.from_numpy(first["ab_true"])),
    }
    for m, p in study.predictions.items():
        if list(p["names"]) != list(first["names"]):
            raise ValueError(f"{m} was evaluated on different test images; re-evaluate it")
        cols[m] = to_rgb_images(L, torch.from_numpy(p["ab_pred"]))
    return list(first["names"]), cols


def plot_comparison_grid(study: Study, path: str | os.PathLike) -> None:
    """``complete_comparison_grid.png``: rows = test images; input, truth, every model."""
    names, cols = _grid_columns(study)
    image_grid(cols, path, row_labels=names, cell=1.6)


def plot_test_images(study: Study, out_dir: str | os.PathLike) -> list[Path]:
    """``comparison_test_image_{k}.png``: one figure per test image, every model side by side."""
    names, cols = _grid_columns(study)
    written = []
    for r, name in enumerate(names):
        fig, axes = plt.subplots(1, len(cols), figsize=(2.0 * len(cols), 2.4))
        for ax, (title, imgs) in zip(axes, cols.items()):
            ax.imshow(imgs[r])
            ax.set_title(title, fontsize=7)
            ax.axis("off")
        fig.suptitle(name, fontsize=9)
        path = Path(out_dir) / f"comparison_test_image_{r + 1}.png"
        save_figure(fig, path)
        written.append(path)
    return written


def inference_table(study: Study, models_dir: str | os.PathLike) -> pd.DataFrame:
    """``inference_metrics_comparison.csv``: inference ms/image, parameters, checkpoint MB."""
    rows = []
    for _, r in study.summary.iterrows():
        m = r["model"]
        cfg = study.configs.get(m)
        params = 0
        if cfg is not None and m not in BASELINES:
            with torch.device("meta"):
                params = count_parameters(UnetGenerator(cfg.image_size, cfg.ngf))
        ckpt = Path(models_dir) / m / "best_model.pt"
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
        res = stats.wilcoxon(g, p)
        rows.append(
            {
                "comparison": f"GAN ({len(gan)}) vs non-GAN ({len(plain)})",
                "mean_a": g.mean(),
                "mean_b": p.mean(),
                "median_diff": (g - p).median(),
                "wilcoxon_p": res.pvalue,
                "n_images": len(g),
            }
        )
    for m in wide.columns:
        res = stats.wilcoxon(wide[m], truth.loc[wide.index])
        rows.append(
            {
                "comparison": f"{m} vs ground truth",
                "mean_a": wide[m].mean(),
                "mean_b": truth.mean(),
                "median_diff": (wide[m] - truth).median(),
                "wilcoxon_p": res.pvalue,
                "n_images": len(truth),
            }
        )
    return pd.DataFrame(rows)


def plot_colorfulness_vs_accuracy(study: Study, path: str | os.PathLike) -> None:
    """Mean colourfulness against mean ΔE00 per model (GAN models marked), ground truth line."""
    t = study.summary.set_index("model")
    fig, ax = plt.subplots(figsize=(6.5, 4.5))
    for m in t.index:
        gan = m in study.configs and study.configs[m].use_gan
        ax.errorbar(
            t.loc[m, "ciede2000"],
            t.loc[m, "colorfulness_pred"],
            yerr=[
                [t.loc[m, "colorfulness_pred"] - t.loc[m, "colorfulness_pred_ci_low"]],
                [t.loc[m, "colorfulness_pred_ci_high"] - t.loc[m, "colorfulness_pred"]],
            ],
            fmt="s" if gan else "o",
            color="C3" if gan else "C0",
            capsize=2,
        )
        ax.annotate(
            m,
            (t.loc[m, "ciede2000"], t.loc[m, "colorfulness_pred"]),
            fontsize=7,
            xytext=(3, 3),
            textcoords="offset points",
        )
    ax.axhline(t["colorfulness_true"].mean(), color="0.4", ls="--", label="ground truth")
    ax.set_xlabel("CIEDE2000 ΔE00 (lower = more accurate)")
    ax.set_ylabel("colourfulness (Hasler & Süsstrunk)")
    ax.set_title("Colourfulness vs accuracy (squares: GAN variants)")
    ax.legend(fontsize=8)
    ax.grid(alpha=0.3)
    save_figure(fig, path)


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
        res = stats.wilcoxon(wide[m], wide[reference])
        rows.append(
            {
                "model": m,
                "reference": reference,
                "metric": metric,
                "mean_diff": d.mean(),
                "median_diff": d.median(),
                "wilcoxon_p": res.pvalue,
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
    out["holm_p"] = np.nan
    if len(out):
        order = np.argsort(out["wilcoxon_p"].to_numpy())
        adjusted = np.empty(len(out))
        running = 0.0
        for rank, i in enumerate(order):
            running = max(running, min(1.0, (len(out) - rank) * out["wilcoxon_p"].iloc[i]))
            adjusted[i] = running
        out["holm_p"] = adjusted
    return out


def write_report(
    results_dir: str | os.PathLike,
    models_dir: str | os.PathLike,
    out_dir: str | os.PathLike | None = None,
) -> dict[str, Path]:
    """Every file of the evaluation step, under ``out_dir`` (default ``results/Evaluate``)."""
    study = load_study(results_dir)
    out = Path(out_dir) if out_dir else Path(results_dir) / "Evaluate"
    files = {
        "metrics": out / "metrics_comparison.csv",
        "bars": out / "comprehensive_metrics_comparison.png",
        "history": out / "training_history_comparison.png",
        "grid": out / "complete_comparison_grid.png",
        "inference": out / "inference_metrics_comparison.csv",
        "colorfulness_plot": out / "colorfulness_vs_accuracy.png",
        "colorfulness_test": out / "colorfulness_test.csv",
        "paired": out / "paired_tests.csv",
    }
    write_csv(metrics_table(study), files["metrics"])
    plot_metric_bars(study, files["bars"])
    plot_history_comparison(study, files["history"])
    plot_comparison_grid(study, files["grid"])
    for i, p in enumerate(plot_test_images(study, out)):
        files[f"test_image_{i + 1}"] = p
    write_csv(inference_table(study, models_dir), files["inference"], index=False)
    plot_colorfulness_vs_accuracy(study, files["colorfulness_plot"])
    write_csv(colorfulness_test(study), files["colorfulness_test"], index=False)
    reference = "A" if "A" in study.models else study.models[0]
    write_csv(paired_tests(study, reference), files["paired"], index=False)
    return files
