"""The study's statistics: bootstrap confidence intervals, paired Wilcoxon tests and Holm's
step-down adjustment. Tested against scipy, statsmodels and hand-checked cases
(``tests/unit/test_stats.py``).
"""

from __future__ import annotations

import numpy as np
from scipy import stats

BOOTSTRAP_RESAMPLES = 2000


def bootstrap_ci(
    values, *, seed: int, level: float = 0.95, resamples: int = BOOTSTRAP_RESAMPLES
) -> tuple[float, float]:
    """Percentile bootstrap confidence interval of the mean (seeded, reproducible).

    Non-finite values are dropped; fewer than two values give ``(nan, nan)``.
    """
    values = np.asarray(values, dtype=np.float64)
    values = values[np.isfinite(values)]
    if len(values) < 2:
        return (float("nan"), float("nan"))
    rng = np.random.default_rng(seed)
    means = values[rng.integers(0, len(values), (resamples, len(values)))].mean(axis=1)
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
