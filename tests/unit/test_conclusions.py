"""Statistics across training seeds and test images: the two-level bootstrap, the overall score
over the trained configurations, ranking stability, the claims and Kendall τ."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from colorlib.metrics import overall_score, overall_scores, scored
from colorlib.stats import bootstrap_ci, percentile_interval, two_level_draws
from colorlib.study.conclusions import (
    CONTRADICTED,
    ORIGINAL_OVERALL,
    SUPPORTED,
    UNRESOLVED,
    averaged,
    bootstrap,
    claims,
    comparisons,
    kendall_tau,
    ranking_stability,
)


def long_table(means: dict[str, list[float]], n_images: int = 60, noise: float = 0.3, seed=0):
    """A per-image table (model, seed, image, metrics): configuration ``m`` trained with seed
    ``k`` has ΔE00 around ``means[m][k]``; the other metrics follow from it."""
    rng = np.random.default_rng(seed)
    image_effect = rng.normal(0, 1.0, n_images)  # harder and easier images, shared
    rows = []
    for model, per_seed in means.items():
        for k, mean in enumerate(per_seed):
            e = mean + image_effect + rng.normal(0, noise, n_images)
            for i in range(n_images):
                rows.append(
                    {
                        "model": model,
                        "seed": 40 + k,
                        "image": f"img{i:03d}.png",
                        "psnr": 40 - e[i],
                        "ssim": 1 - e[i] / 100,
                        "ciede2000": e[i],
                        "lpips": e[i] / 50,
                        "colorfulness_pred": 20 - e[i],
                        "delta_cf": -20 - e[i],
                    }
                )
    return pd.DataFrame(rows)


def summary_of(per_image: pd.DataFrame) -> pd.DataFrame:
    return (
        per_image.groupby("model", sort=False)[averaged()].mean().reset_index()
    )


def test_two_level_bootstrap_hand_cases():
    # no image variance, two seeds at 0 and 1: draws are 0, 0.5, 1 with 1/4, 1/2, 1/4
    values = np.array([[0.0] * 5, [1.0] * 5])
    draws = two_level_draws({"x": values}, seed=3, resamples=8000)["x"]
    share = {v: np.mean(np.isclose(draws, v)) for v in (0.0, 0.5, 1.0)}
    assert share[0.0] == pytest.approx(0.25, abs=0.02) and share[0.5] == pytest.approx(
        0.5, abs=0.02
    )
    assert sum(share.values()) == pytest.approx(1.0)
    # images are paired: one seed, b = a + 1 on every image -> every draw differs by exactly 1
    a = np.random.default_rng(0).normal(size=(1, 40))
    d = two_level_draws({"a": a, "b": a + 1}, seed=1)
    np.testing.assert_allclose(d["b"] - d["a"], 1.0)
    # one seed: the ordinary percentile bootstrap of the mean over images
    low, high = percentile_interval(d["a"])
    ref_low, ref_high = bootstrap_ci(a[0], seed=5)
    se = a[0].std(ddof=1) / np.sqrt(a.shape[1])
    assert abs(low - ref_low) < 0.2 * se and abs(high - ref_high) < 0.2 * se
    with pytest.raises(ValueError, match="same images"):
        two_level_draws({"a": np.zeros((2, 5)), "b": np.zeros((2, 6))}, seed=0)


def test_seed_variance_widens_the_interval():
    spread = long_table({"A": [10.0, 10.8, 9.4]}, noise=0.1)
    flat = long_table({"A": [10.07, 10.07, 10.07]}, noise=0.1)
    wide = percentile_interval(bootstrap(spread).means["ciede2000"]["A"])
    narrow = percentile_interval(bootstrap(flat).means["ciede2000"]["A"])
    assert wide[1] - wide[0] > 3 * (narrow[1] - narrow[0])


def test_overall_scores_on_arrays_equal_the_table_version():
    rng = np.random.default_rng(1)
    table = pd.DataFrame(rng.normal(size=(6, 4)), columns=["psnr", "ssim", "ciede2000", "lpips"])
    draws = np.stack([table.to_numpy(), table.to_numpy()[::-1]])
    np.testing.assert_allclose(overall_scores(draws)[0], overall_score(table).to_numpy())
    np.testing.assert_allclose(overall_scores(draws)[1], overall_score(table[::-1]).to_numpy())


def test_ranking_stability_and_comparisons():
    per_image = long_table(
        {"A": [9.0, 9.1], "B": [11.0, 11.2], "C": [11.1, 10.9], "GRAY": [13.0] * 2}
    )
    draws = bootstrap(per_image)
    ranking = ranking_stability(draws).set_index("model")
    assert list(ranking.index) == ["A", "B", "C"]  # GRAY is not ranked
    assert (
        ranking.loc["A", "p_first"] == 1.0
        and (ranking.loc["A", ["rank_low", "rank_high"]] == 1).all()
    )
    assert ranking.loc["B", "rank_low"] == 2 and ranking.loc["B", "rank_high"] == 3
    assert ranking["p_first"].sum() == pytest.approx(1.0)
    table = comparisons(summary_of(per_image), draws)
    row = table[(table.model == "B") & (table.reference == "A") & (table.metric == "ciede2000")]
    assert row["diff"].item() == pytest.approx(2.05, abs=0.1) and row["ci_low"].item() > 1.5
    assert row["p_boot"].item() < 0.01 and row["n_seeds"].item() == 2
    assert set(table.reference) == {"A", "GRAY"}


def test_claims_verdicts():
    means = {  # ΔE00 per seed
        "A": [9.0, 9.05],
        "E": [9.02, 9.03],  # ≈ A within the margin
        "B": [10.0, 10.1],  # the GAN pairs are worse...
        "C": [10.0, 10.2],
        "D": [11.0, 11.0],
        "F": [12.0, 12.1],
        "C_L1_LOW": [10.0, 10.1],
        "C_L1_HIGH": [10.05, 10.0],  # λ1: no practical difference
        "C_PERCEPTUAL_LOW": [9.0, 11.5],  # λ2: too uncertain to say
        "C_PERCEPTUAL_HIGH": [10.0, 10.2],
    }
    per_image = long_table(means, n_images=80, noise=0.1)
    draws = bootstrap(per_image)
    summary = summary_of(per_image)
    trained = summary.set_index("model")
    summary["overall_score"] = overall_score(trained[list(scored())]).to_numpy()
    table = claims(summary, draws, ranking_stability(draws)).set_index("claim")
    verdict = table["verdict"]
    assert verdict["A (plain L1) ranks first on the overall score"] == UNRESOLVED  # E ties it
    assert verdict["E (L1 + perceptual) is as good as A (L1)"] == SUPPORTED
    assert verdict["adding the GAN loss makes the colours less accurate"] == SUPPORTED
    # colourfulness falls with ΔE00 in this synthetic table: the GANs are *less* colourful
    assert verdict["GAN variants colour more vividly"] == CONTRADICTED
    assert verdict["the L1 weight λ1 (200 vs 50) matters"] == CONTRADICTED
    assert verdict["the perceptual weight λ2 (20 vs 5) matters"] == UNRESOLVED
    tau = table.loc["this study ranks the configurations as the original did"]
    assert tau["ci_low"] <= tau["effect"] <= tau["ci_high"]


def test_kendall_tau_of_the_original_order_is_one():
    ordered = list(ORIGINAL_OVERALL)
    means = {m: [9.0 + 0.5 * k] for k, m in enumerate(ordered)}
    per_image = long_table(means, noise=0.01)
    draws = bootstrap(per_image)
    overall = draws.overall().mean()
    tau, low, high, n = kendall_tau(draws, overall)
    assert (tau, n) == (pytest.approx(1.0), 10) and low == pytest.approx(1.0)


def test_original_overall_is_the_published_table(reference):
    published = pd.read_csv(reference / "seed_results.csv").set_index("model")["overall_score"]
    assert ORIGINAL_OVERALL == published.to_dict()
    assert list(ORIGINAL_OVERALL) == list(published.sort_values(ascending=False).index)


def test_different_test_lists_are_refused():
    per_image = long_table({"A": [9.0], "B": [10.0]})
    per_image = per_image.drop(per_image[(per_image.model == "B")].index[:1])
    with pytest.raises(ValueError, match=r"B \(seed 40\) was scored on a different test list"):
        bootstrap(per_image)
