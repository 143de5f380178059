"""The study's statistics: bootstrap confidence intervals, paired Wilcoxon tests and Holm's
step-down adjustment. Tested against scipy, statsmodels and hand-checked cases
(``tests/unit/test_stats.py``).
"""

from __future__ import annotations

import numpy as np
from scipy import stats

BOOTSTRAP_RESAMPLES = 2000


def bootstrap_ci(
    values,
    *,
    seed: int,
    level: float = 0.95,
    resamples: int = BOOTSTRAP_RESAMPLES,
    of_mean=None,
) -> tuple[float, float]:
    """Percentile bootstrap confidence interval of the mean (seeded, reproducible), or of
    ``of_mean(mean)`` when given (e.g. ``np.abs``).

    Non-finite values are dropped; fewer than two values give ``(nan, nan)``.
    """
    values = np.asarray(values, dtype=np.float64)
    values = values[np.isfinite(values)]
    if len(values) < 2:
        return (float("nan"), float("nan"))
    rng = np.random.default_rng(seed)
    means = values[rng.integers(0, len(values), (resamples, len(values)))].mean(axis=1)
    if of_mean is not None:
        means = of_mean(means)
    alpha = (1 - level) / 2
    return float(np.quantile(means, alpha)), float(np.quantile(means, 1 - alpha))


def paired_wilcoxon(a, b) -> float:
    """Two-sided p-value of the Wilcoxon signed-rank test of paired samples ``a`` and ``b``
    (scipy's defaults: zero differences dropped as Wilcoxon's ``"wilcox"`` method)."""
    return float(stats.wilcoxon(np.asarray(a), np.asarray(b)).pvalue)


def holm(pvalues) -> np.ndarray:
    """Holm's step-down adjusted p-values (family-wise error), in the input's order."""
    p = np.asarray(pvalues, dtype=np.float64)
    adjusted = np.empty(len(p))
    running = 0.0
    for rank, i in enumerate(np.argsort(p, kind="stable")):
        running = max(running, min(1.0, (len(p) - rank) * p[i]))
        adjusted[i] = running
    return adjusted


def image_counts(n: int, *, seed: int, resamples: int = BOOTSTRAP_RESAMPLES) -> np.ndarray:
    """How often each of ``n`` test images is drawn in each bootstrap resample: ``(resamples,
    n)`` integers, each row summing to ``n`` — the image level of :func:`two_level_draws` (the
    same draws for the same ``seed``), which set-level metrics (FID, KID) are computed on."""
    return _image_counts(np.random.default_rng(seed), n, resamples)


def _image_counts(rng: np.random.Generator, n: int, resamples: int) -> np.ndarray:
    return np.stack([np.bincount(rng.integers(0, n, n), minlength=n) for _ in range(resamples)])


def two_level_draws(
    runs: dict[str, np.ndarray],
    *,
    seed: int,
    resamples: int = BOOTSTRAP_RESAMPLES,
    set_level: dict[str, np.ndarray] | None = None,
) -> dict[str, np.ndarray]:
    """Two-level bootstrap of the mean over training seeds and test images, per configuration.

    ``runs`` maps a configuration to its per-image values ``(S, N)`` or ``(S, N, K)`` (K
    metrics): row ``s`` is training seed ``s``, column ``i`` test image ``i`` (the same N
    images, in the same order, for every configuration). Each draw resamples the N images with
    replacement — the same images for every configuration and metric, so differences, scores
    and ranks stay paired by image — and then, for each configuration independently, its S
    seeds with replacement; the statistic is the mean over the drawn seeds of each seed's mean
    over the drawn images:

        θ*_c = (1/S) Σ_k (1/N) Σ_j x_c[s*_k, i*_j]

    ``set_level`` adds metrics that are not means of per-image values (FID, KID): per
    configuration ``(S, resamples, K2)``, each seed's value on the images of each resample of
    :func:`image_counts` (``(n, seed, resamples)``: the same images as the per-image metrics);
    their draws follow the K per-image ones on the last axis, with the same seeds drawn.

    Returns ``(resamples,)`` or ``(resamples, K)`` draws per configuration (seeded,
    reproducible). With S = 1 this is the ordinary percentile bootstrap over images; with few
    seeds the seed level, like any bootstrap of S values, understates the spread by about a
    factor sqrt((S - 1) / S).
    """
    arrays = {c: np.asarray(v, dtype=np.float64) for c, v in runs.items()}
    n_images = {a.shape[1] for a in arrays.values() if a.ndim in (2, 3)}
    if len(n_images) != 1 or any(a.ndim not in (2, 3) or a.shape[0] < 1 for a in arrays.values()):
        shapes = {c: a.shape for c, a in arrays.items()}
        raise ValueError(
            f"every configuration needs (seeds, images[, metrics]) values on the same images; "
            f"got shapes {shapes}"
        )
    (n,) = n_images
    rng = np.random.default_rng(seed)
    # image weights per draw: how often each image was drawn, / N
    weights = _image_counts(rng, n, resamples) / n
    draws = {}
    for config, values in arrays.items():
        # (resamples, S[, K]): each seed's mean over the drawn images
        per_seed = np.einsum("bn,sn...->bs...", weights, values)
        if set_level is not None:
            per_seed = np.concatenate([per_seed, np.moveaxis(set_level[config], 0, 1)], axis=-1)
        s = values.shape[0]
        chosen = rng.integers(0, s, (resamples, s))
        index = chosen.reshape(chosen.shape + (1,) * (per_seed.ndim - 2))
        draws[config] = np.take_along_axis(per_seed, index, axis=1).mean(axis=1)
    return draws


def percentile_interval(draws, level: float = 0.95) -> tuple[float, float]:
    """The central ``level`` interval of bootstrap ``draws``."""
    alpha = (1 - level) / 2
    return float(np.quantile(draws, alpha)), float(np.quantile(draws, 1 - alpha))
