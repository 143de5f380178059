"""Evaluation of a trained configuration (or the GRAY baseline) on the test set.

Writes ``results/{ID}/metrics_per_image_{ID}.csv`` (one row per test photo),
``results/{ID}/metrics_{ID}.csv`` (one row: means with 95 % bootstrap confidence intervals, the
run's best validation L1 as the original's ``val_loss``) and
``results/{ID}/colorization_results_{ID}.png`` (with ``test_predictions_{ID}.npz``: the grid's
images, so cross-model figures need no inference), and adds an ``evaluation`` section to
``results/{ID}/run.json``.
"""

from __future__ import annotations

import io
import json
import logging
import time
from pathlib import Path

import numpy as np
import pandas as pd
import torch

from colorlib.checkpoints import load_generator
from colorlib.config import ExperimentConfig
from colorlib.data import ColorizationDataset, dataset_fingerprint, find_images, load_images
from colorlib.io import atomic_write_bytes
from colorlib.metrics import GRAY, LPIPS, PAIR_METRICS, evaluate_pair
from colorlib.reporting import sample_grid, write_csv
from colorlib.runtime import git_revision, package_versions, select_device, write_json
from colorlib.training import RunPaths

log = logging.getLogger(__name__)

SUMMARY_METRICS = (*PAIR_METRICS, "inference_ms")
BOOTSTRAP_RESAMPLES = 2000
GRID_ROWS = 6


def bootstrap_ci(
    values: np.ndarray, *, seed: int, level: float = 0.95, resamples: int = BOOTSTRAP_RESAMPLES
) -> tuple[float, float]:
    """Percentile bootstrap confidence interval of the mean (seeded, reproducible)."""
    values = np.asarray(values, dtype=np.float64)
    values = values[np.isfinite(values)]
    if len(values) < 2:
        return (float("nan"), float("nan"))
    rng = np.random.default_rng(seed)
    means = values[rng.integers(0, len(values), (resamples, len(values)))].mean(axis=1)
    alpha = (1 - level) / 2
    return float(np.quantile(means, alpha)), float(np.quantile(means, 1 - alpha))


def evaluate(
    cfg: ExperimentConfig, *, checkpoint: str | Path | None = None, batch_size: int = 16
) -> pd.DataFrame:
    """Evaluate ``cfg.model_id`` (its ``best_model.pt``, or ``checkpoint``; ``GRAY`` needs none).

    Returns the one-row summary DataFrame (also written to ``metrics_{ID}.csv``).
    """
    paths = RunPaths.of(cfg)
    device = select_device(cfg.device)
    val_loss = float("nan")
    if cfg.model_id == "GRAY":
        predictor, source = GRAY, "ab = 0 baseline"
    else:
        ckpt = Path(checkpoint) if checkpoint else paths.best
        predictor, blob = load_generator(ckpt)
        val_loss = float(blob.get("val_l1", float("nan")))
        source = str(ckpt)
    predictor = predictor.to(device).eval()

    files = find_images(cfg.data_dir, cfg.test_split)
    if cfg.max_test_images:
        files = files[: cfg.max_test_images]
    images = load_images(files, cfg.image_size, on_bad=cfg.on_bad, cache_dir=cfg.cache_dir)
    loader = ColorizationDataset(images).loader(batch_size)
    lpips = LPIPS(backbone=cfg.backbone).to(device)

    rows: list[pd.DataFrame] = []
    grid: tuple[torch.Tensor, ...] | None = None
    for L, ab in loader:
        start = time.perf_counter()
        with torch.no_grad():
            pred = predictor(L.to(device)).float()
        if device.type == "cuda":
            torch.cuda.synchronize()
        ms = (time.perf_counter() - start) * 1000 / L.shape[0]
        metrics = evaluate_pair(L, pred.cpu(), ab, lpips=lpips)
        rows.append(pd.DataFrame(metrics | {"inference_ms": np.full(L.shape[0], ms)}))
        if grid is None:
            grid = (L[:GRID_ROWS], ab[:GRID_ROWS], pred[:GRID_ROWS].cpu())
    per_image = pd.concat(rows, ignore_index=True)
    per_image.insert(0, "image", images.names)
    per_image.insert(0, "model", cfg.model_id)
    write_csv(per_image, paths.results / f"metrics_per_image_{cfg.model_id}.csv", index=False)

    summary: dict[str, object] = {"model": cfg.model_id}
    for m in SUMMARY_METRICS:
        low, high = bootstrap_ci(per_image[m].to_numpy(), seed=cfg.seed)
        summary |= {m: per_image[m].mean(), f"{m}_ci_low": low, f"{m}_ci_high": high}
    summary |= {
        "val_loss": val_loss,
        "n_images": len(per_image),
        "lpips_backbone": lpips.weights_source.describe(),
    }
    table = pd.DataFrame([summary])
    write_csv(table, paths.results / f"metrics_{cfg.model_id}.csv", index=False)

    L, ab, pred = grid
    # the first test images, for cross-model grids that need no inference
    buf = io.BytesIO()
    np.savez_compressed(
        buf,
        names=np.array(images.names[: len(L)]),
        L=L.numpy(),
        ab_true=ab.numpy(),
        ab_pred=pred.numpy(),
    )
    atomic_write_bytes(paths.results / f"test_predictions_{cfg.model_id}.npz", buf.getvalue())
    sample_grid(
        L,
        {"ground truth": ab, cfg.model_id: pred},
        paths.results / f"colorization_results_{cfg.model_id}.png",
        title=f"{cfg.model_id} on the test set",
        row_labels=images.names[: len(L)],
    )
    _record(paths, cfg, source, files, summary, str(device))
    log.info(
        "%s: %s",
        cfg.model_id,
        ", ".join(f"{m}={summary[m]:.4g}" for m in ("psnr", "ssim", "ciede2000", "lpips")),
    )
    return table


def _record(paths: RunPaths, cfg, source, files, summary, device) -> None:
    run_json = paths.run_json()
    record = (
        json.loads(run_json.read_text())
        if run_json.exists()
        else {
            "model_id": cfg.model_id,
            "config": cfg.to_dict(),
            "git_revision": git_revision(),
            "packages": package_versions(),
            "seed": cfg.seed,
        }
    )
    record["evaluation"] = {
        "predictor": source,
        "device": device,
        "test_split": cfg.test_split,
        "dataset_fingerprint": dataset_fingerprint(files),
        "n_images": summary["n_images"],
        "lpips_backbone": summary["lpips_backbone"],
    }
    write_json(run_json, record)
