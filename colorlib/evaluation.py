"""Evaluation of a trained configuration (or the GRAY baseline) on the test set.

Writes the run's per-image metrics (one row per test photo), its summary metrics (one row:
means with 95 % bootstrap confidence intervals, the run's best validation L1 as the original's
``val_loss``; FID and KID of the whole set when ``fid_kid`` is on, with the Inception features
and their bootstrap draws beside), the colorization results figure with the saved test
predictions behind it (so cross-model figures need no inference), and adds an ``evaluation``
section to the run's record (file names: :class:`colorlib.runs.RunPaths`).
"""

from __future__ import annotations

import io
import logging
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
import torch

from colorlib.atomic import atomic_write_bytes, write_csv
from colorlib.checkpoints import load_generator, require_run
from colorlib.color import join_lab, lab_to_rgb
from colorlib.config import BASELINES, DEFAULT_SEED, ExperimentConfig
from colorlib.data import (
    ColorizationDataset,
    ImageError,
    ImageSet,
    dataset_fingerprint,
    evaluation_files,
    load_images,
)
from colorlib.errors import NonFiniteError, OutputExistsError
from colorlib.fid import InceptionFeatures, bias_corrected, kid_subsets
from colorlib.metrics import LPIPS, METRICS, evaluate_pair, feature_metrics, scored, set_value
from colorlib.networks import baseline
from colorlib.plots import sample_grid
from colorlib.runs import (
    RunPaths,
    exclusive,
    forget_evaluation,
    record_run,
    recorded_differences,
)
from colorlib.runtime import select_device, set_threads
from colorlib.stats import BOOTSTRAP_RESAMPLES, bootstrap_ci, image_counts, percentile_interval

log = logging.getLogger(__name__)


def summary_metrics() -> tuple[str, ...]:
    """The summary's metrics: every metric (:data:`colorlib.metrics.METRICS`; FID and KID NaN
    when not computed) and the inference time."""
    return (*METRICS, "inference_ms")


def fid_kid_on(cfg: ExperimentConfig, device: torch.device) -> bool:
    """Whether the evaluation computes FID and KID: ``fid_kid`` "on", or "auto" on CUDA (where
    the Inception is cheap; on two CPU cores it costs ~0.19 s per image)."""
    return cfg.fid_kid == "on" or (cfg.fid_kid == "auto" and device.type == "cuda")


GRID_ROWS = 6  # test images shown per model, spread evenly over the test set


def grid_indices(n: int) -> list[int]:
    """``GRID_ROWS`` indices spread evenly over ``n`` test images (first and last included),
    so the figures show different photos rather than the first few of one."""
    return sorted({int(round(i)) for i in np.linspace(0, n - 1, min(GRID_ROWS, n))})


def evaluate(
    cfg: ExperimentConfig, *, checkpoint: str | Path | None = None, batch_size: int = 16
) -> pd.DataFrame:
    """Evaluate ``cfg.model_id`` (its ``best_model.pt``, or ``checkpoint``; ``GRAY`` needs none).

    Returns the one-row summary DataFrame (also written to ``metrics_{ID}.csv``). Holds the
    run's results folder while it runs; a non-finite metric is refused, nothing is written.
    """
    paths = RunPaths.of(cfg)
    with exclusive(paths.results, what=f"evaluating {cfg.model_id}"):
        return _evaluate(cfg, paths, checkpoint, batch_size)


def _evaluate(
    cfg: ExperimentConfig, paths: RunPaths, checkpoint: str | Path | None, batch_size: int
) -> pd.DataFrame:
    """The evaluation's steps: predictor, test photos, scores, tables, figure, record."""
    device = select_device(cfg.device)
    set_threads(cfg.threads)
    predictor, source, val_loss = _predictor(cfg, paths, checkpoint)
    _require_same_run(cfg, paths)
    predictor = predictor.to(device).eval()
    files = evaluation_files(cfg)
    images = _test_images(cfg, files)
    lpips = LPIPS(backbone=cfg.backbone).to(device)
    inception = InceptionFeatures().to(device) if fid_kid_on(cfg, device) else None
    # the float64 CPU reference on the CPU; float32 on an accelerator (bound: test_metrics.py)
    dtype = torch.float64 if device.type == "cpu" else torch.float32
    shown = grid_indices(len(images))
    fingerprint = dataset_fingerprint(images)
    truth_cache = Path(cfg.cache_dir) / f"inception_{fingerprint[:16]}.npy" if inception else None
    scoring = _Scoring(lpips, inception, _cached_truth(truth_cache), device, dtype, batch_size)
    per_image, grid, features = _score(predictor, images, shown, scoring)
    per_image.insert(0, "image", images.names)
    per_image.insert(0, "model", cfg.model_id)
    _refuse_non_finite(per_image, cfg.model_id)
    forget_evaluation(paths)  # the record is written last: the files commit as a whole
    paths.features.unlink(missing_ok=True)
    write_csv(per_image, paths.per_image_csv, index=False)
    summary = _summary(per_image, cfg.seed, val_loss, lpips.weights_source.describe())
    if features is not None:
        summary |= _set_level(features, paths, images.names, cfg.seed, truth_cache)
    table = pd.DataFrame([summary])
    write_csv(table, paths.metrics_csv, index=False)
    _save_shown(cfg.model_id, paths, [images.names[i] for i in shown], *grid)
    record_run(
        cfg,
        device,
        fresh=False,
        evaluation={
            "predictor": source,
            "device": str(device),
            "test_split": cfg.test_split,
            "dataset_fingerprint": fingerprint,
            "n_images": summary["n_images"],
            "metrics_dtype": str(dtype).removeprefix("torch."),
            "lpips_backbone": summary["lpips_backbone"],
            "fid_kid": inception.weights_source.describe() if inception else None,
        },
    )
    log.info(
        "%s: %s",
        cfg.model_id,
        ", ".join(f"{m}={summary[m]:.4g}" for m in scored()),
    )
    return table


def _predictor(
    cfg: ExperimentConfig, paths: RunPaths, checkpoint: str | Path | None
) -> tuple[torch.nn.Module, str, float]:
    """``(predictor, where it came from, its validation L1)``: GRAY, or a generator from its
    checkpoint (the run's ``best_model.pt`` unless ``checkpoint``)."""
    if cfg.model_id in BASELINES:
        predictor = baseline(cfg.model_id)
        return predictor, predictor.description, float("nan")
    ckpt = Path(checkpoint) if checkpoint else paths.best
    predictor, blob = load_generator(ckpt)
    require_run(ckpt, blob["config"], cfg)
    return predictor, str(ckpt), float(blob.get("val_l1", float("nan")))


def _require_same_run(cfg: ExperimentConfig, paths: RunPaths) -> None:
    """Refuse to evaluate ``cfg`` into a results folder whose ``run.json`` records another
    configuration ("what" fields): a baseline's results are a run like any trained one."""
    changed = recorded_differences(cfg)
    if changed:
        raise OutputExistsError(
            f"{paths.run_json} records a run of {cfg.model_id} with another configuration "
            f"(differs in {changed}); its results are not replaced. Evaluate without --profile "
            f"to use the run's own config, pass another --results-dir, or delete "
            f"{paths.results} (run_all.py: --force) to start over"
        )


def test_fingerprint(cfg: ExperimentConfig) -> str:
    """The fingerprint of ``cfg``'s test photos as an evaluation records it (names and
    contents; decoded through the cache), to tell whether a recorded evaluation is stale."""
    return dataset_fingerprint(_test_images(cfg, evaluation_files(cfg)))


def _test_images(cfg: ExperimentConfig, files: list[Path]) -> ImageSet:
    """Every test photo, decoded. Every configuration is scored on the same, complete list: a
    test photo that cannot be used is an error naming it, whatever ``on_bad`` says for
    training photos."""
    try:
        return load_images(
            files,
            cfg.image_size,
            on_bad="raise",
            cache_dir=cfg.cache_dir,
            processes=cfg.threads or None,
        )
    except ImageError as err:
        raise ImageError(
            err.path,
            err.reason,
            f"test photo not usable ({err.problem})",
            "every configuration is scored on the same complete test list, so evaluation "
            "stops: remove or replace it",
        ) from err


@dataclass(frozen=True)
class _Scoring:
    """How the test predictions are scored: the networks of LPIPS and (``fid_kid``) of the
    Inception, the truth's Inception features when cached, device, dtype and batch size."""

    lpips: LPIPS
    inception: InceptionFeatures | None
    truth_features: np.ndarray | None
    device: torch.device
    dtype: torch.dtype
    batch_size: int


def _score(predictor, images: ImageSet, shown: list[int], scoring: _Scoring):
    """Per-image metrics of ``predictor`` on ``images`` (a DataFrame, one row per photo, with
    the inference time per image of its batch), ``(L, ab_true, ab_pred)`` of ``shown``, and
    the Inception features ``{"pred", "true"}`` ``(N, 2048)`` float32 (``None`` without
    ``scoring.inception``)."""
    rows: list[pd.DataFrame] = []
    grid: list[tuple[torch.Tensor, ...]] = []
    features: dict[str, list[np.ndarray]] = {"pred": [], "true": []}
    device, inception = scoring.device, scoring.inception
    seen = 0
    for L, ab in ColorizationDataset(images).batches(scoring.batch_size, device=device):
        start = time.perf_counter()
        with torch.no_grad():
            pred = predictor(L).float()
        if device.type == "cuda":
            torch.cuda.synchronize()
        ms = (time.perf_counter() - start) * 1000 / L.shape[0]
        metrics = evaluate_pair(
            L, pred, ab, lpips=scoring.lpips, device=device, dtype=scoring.dtype
        )
        rows.append(pd.DataFrame(metrics | {"inference_ms": np.full(L.shape[0], ms)}))
        if inception is not None:  # the displayable sRGB images, as the metrics see them
            features["pred"].append(inception(lab_to_rgb(join_lab(L, pred))))
            if scoring.truth_features is None:
                features["true"].append(inception(lab_to_rgb(join_lab(L, ab))))
        here = [i - seen for i in shown if seen <= i < seen + len(L)]
        grid.append((L[here].cpu(), ab[here].cpu(), pred[here].cpu()))
        seen += len(L)
    found = None
    if inception is not None:
        true = scoring.truth_features
        true = np.concatenate(features["true"]) if true is None else true
        found = {"pred": np.concatenate(features["pred"]).astype(np.float32), "true": true}
        found["true"] = found["true"].astype(np.float32)
    return pd.concat(rows, ignore_index=True), [torch.cat(parts) for parts in zip(*grid)], found


def _cached_truth(path: Path | None) -> np.ndarray | None:
    """The Inception features of the test photos cached by an earlier evaluation of the same
    photos (the name holds their fingerprint), or ``None``: computed again."""
    if path is None or not path.is_file():
        return None
    try:
        cached = np.load(path, allow_pickle=False)
    except (OSError, ValueError) as err:
        log.warning("cached Inception features %s unreadable (%s): computed again", path, err)
        return None
    return cached if cached.ndim == 2 and np.isfinite(cached).all() else None


def _set_level(
    features: dict[str, np.ndarray], paths: RunPaths, names: list[str], seed: int, cache
) -> dict[str, float]:
    """FID and KID of the set (KID: the mean over subsets, and their standard deviation as
    ``kid_subset_sd``), with 95 % intervals from the study's image resamples
    (:func:`colorlib.stats.image_counts` with the study's bootstrap seed, images by name, so a
    study reuses these draws; bias-corrected, :func:`colorlib.fid.bias_corrected`); writes the
    features and the draws (``inception_features_{ID}.npz``)."""
    pred, true = features["pred"], features["true"]
    if len(pred) < 2:
        return {}  # one test image: no covariance, no set-level metric
    by_name = image_counts(len(pred), seed=DEFAULT_SEED, resamples=BOOTSTRAP_RESAMPLES)
    counts = np.empty_like(by_name)
    counts[:, np.argsort(np.array(names))] = by_name  # column k of by_name: the k-th name
    out: dict[str, float] = {}
    draws: dict[str, np.ndarray] = {}
    for m in feature_metrics():
        out[m] = METRICS[m].of_features(pred, true)
        draws[m] = bias_corrected(METRICS[m].of_features(pred, true, counts), out[m])
        out[f"{m}_ci_low"], out[f"{m}_ci_high"] = percentile_interval(draws[m])
    out["kid"], out["kid_subset_sd"] = kid_subsets(pred, true, seed=seed)
    buf = io.BytesIO()
    np.savez_compressed(
        buf,
        names=np.array(names),
        pred=pred,
        true=true,
        bootstrap_seed=DEFAULT_SEED,
        **{f"{m}_draws": v for m, v in draws.items()},
    )
    atomic_write_bytes(paths.features, buf.getvalue())
    if cache is not None and not cache.is_file():
        out_buf = io.BytesIO()
        np.save(out_buf, true)
        atomic_write_bytes(cache, out_buf.getvalue())
    return out


def _summary(per_image: pd.DataFrame, seed: int, val_loss: float, backbone: str) -> dict:
    """The one-row summary: each per-image metric's mean with its 95 % bootstrap interval
    (the set-level ones NaN until :func:`_set_level` fills them)."""
    summary: dict[str, object] = {"model": per_image["model"].iloc[0]}
    for m in summary_metrics():
        if m in feature_metrics():
            summary |= {m: np.nan, f"{m}_ci_low": np.nan, f"{m}_ci_high": np.nan}
            continue
        of_set = METRICS[m].of_set if m in METRICS else None
        low, high = bootstrap_ci(per_image[m].to_numpy(), seed=seed, of_mean=of_set)
        mean = set_value(m, per_image[m].mean())
        summary |= {m: mean, f"{m}_ci_low": low, f"{m}_ci_high": high}
    summary["kid_subset_sd"] = np.nan
    return summary | {"val_loss": val_loss, "n_images": len(per_image), "lpips_backbone": backbone}


def _save_shown(model_id: str, paths: RunPaths, names: list[str], L, ab, pred) -> None:
    """The grid's test images as ``test_predictions_{ID}.npz`` (cross-model figures and the
    page need no inference) and as the run's colorization results figure."""
    buf = io.BytesIO()
    np.savez_compressed(
        buf, names=np.array(names), L=L.numpy(), ab_true=ab.numpy(), ab_pred=pred.numpy()
    )
    atomic_write_bytes(paths.predictions, buf.getvalue())
    sample_grid(
        L,
        {"ground truth": ab, model_id: pred},
        paths.results_png,
        title=f"{model_id} on the test set",
        row_labels=names,
    )


def _refuse_non_finite(per_image: pd.DataFrame, model_id: str) -> None:
    """NaN or infinite metrics (from non-finite predictions) are an error, never a table row.
    PSNR is +inf for a perfect prediction, which is finite information and allowed."""
    for metric in METRICS:
        if metric not in per_image:
            continue
        values = per_image[metric].to_numpy(dtype=np.float64)
        bad = ~np.isfinite(values) & ~((metric == "psnr") & (values == np.inf))
        if bad.any():
            names = per_image.loc[bad, "image"].tolist()
            raise NonFiniteError(
                f"{model_id}: {metric} is not finite for {len(names)} test image(s) (e.g. "
                f"{names[:3]}): the predictions hold NaN or inf; no metrics were written"
            )
