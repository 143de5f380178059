"""colorlib.stats against scipy, statsmodels and hand-checked cases."""

import numpy as np
import pytest
from scipy import stats as scipy_stats

from colorlib.stats import bootstrap_ci, holm, paired_wilcoxon


@pytest.mark.slow  # a reference check: the full suite, not test-fast
def test_holm_equals_statsmodels():
    multipletests = pytest.importorskip("statsmodels.stats.multitest").multipletests
    rng = np.random.default_rng(0)
    for n in (1, 2, 5, 9):
        p = rng.uniform(0, 0.2, n)
        p[0] = 0.9 if n > 1 else p[0]
        expected = multipletests(p, method="holm")[1]
        np.testing.assert_allclose(holm(p), expected, rtol=0, atol=1e-15)


def test_holm_by_hand():
    # sorted 0.01, 0.02, 0.04 -> x3, x2, x1 = 0.03, 0.04, 0.04 (monotone), back in input order
    np.testing.assert_allclose(holm([0.04, 0.01, 0.02]), [0.04, 0.03, 0.04])
    np.testing.assert_allclose(holm([0.5, 0.6]), [1.0, 1.0])  # capped at 1
    assert holm([]).shape == (0,)


def test_paired_wilcoxon_equals_scipy_and_a_hand_case():
    rng = np.random.default_rng(1)
    a, b = rng.normal(0, 1, 30), rng.normal(0.3, 1, 30)
    assert paired_wilcoxon(a, b) == scipy_stats.wilcoxon(a, b).pvalue
    # 6 pairs, every difference positive and distinct: exact two-sided p = 2 / 2^6
    assert paired_wilcoxon([2, 3, 4, 5, 6, 7], [1, 1, 1, 1, 1, 1]) == pytest.approx(2 / 64)


def test_bootstrap_ci_matches_scipy_percentile_bootstrap():
    rng = np.random.default_rng(2)
    values = rng.gamma(2.0, 3.0, 200)
    low, high = bootstrap_ci(values, seed=42, resamples=20000)
    ref = scipy_stats.bootstrap(
        (values,), np.mean, n_resamples=20000, method="percentile", random_state=7
    ).confidence_interval
    se = values.std(ddof=1) / np.sqrt(len(values))
    # different random streams: the ends agree to a small share of the standard error
    assert abs(low - ref.low) < 0.05 * se and abs(high - ref.high) < 0.05 * se
    assert low < values.mean() < high


def test_bootstrap_ci_edge_cases():
    assert bootstrap_ci([3.0, 3.0, 3.0], seed=0) == (3.0, 3.0)
    assert all(np.isnan(bootstrap_ci([1.0], seed=0)))
    # non-finite values are dropped, not propagated
    assert bootstrap_ci([1.0, np.nan, 1.0, np.inf], seed=0) == (1.0, 1.0)
    # seeded: the same interval every time
    v = np.arange(10.0)
    assert bootstrap_ci(v, seed=5) == bootstrap_ci(v, seed=5)
