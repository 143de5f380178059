"""What the study concludes, with the uncertainty of training seeds and of test images.

Every statistic here comes from one set of two-level bootstrap draws
(:func:`colorlib.stats.two_level_draws`: test images resampled once per draw for every
configuration, then each configuration's training seeds): the 95 % intervals of the means,
the comparisons against A and GRAY, the ranking stability, the original's claims and the Kendall
τ against the original's ranking. With one training seed the same code gives image-only
intervals, which say nothing about seed variance; the tables state ``n_seeds``.

The overall score is the original's: min–max normalised across the trained configurations
only (GRAY keeps its raw metrics and gets no score).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy import stats as scipy_stats

from colorlib.config import BASELINES, PRESETS
from colorlib.errors import ResultsError
from colorlib.metrics import HIGHER_IS_BETTER, overall_scores
from colorlib.stats import BOOTSTRAP_RESAMPLES, percentile_interval, two_level_draws

SCORED = tuple(HIGHER_IS_BETTER)  # psnr, ssim, ciede2000, lpips: the overall score's inputs
BOOTSTRAPPED = (*SCORED, "colorfulness_pred")
BOOTSTRAP_SEED = 42
# "≈" claims: a ΔE00 difference inside ± this many units is no practical difference (half the
# ~1 ΔE00 just-noticeable difference)
DELTA_E_MARGIN = 0.5
SUPPORTED, CONTRADICTED, UNRESOLVED = "supported", "contradicted", "not resolved at this scale"

# The original study's published results (../shared/reference/seed_results.csv; a unit test
# checks this copy): its overall score per configuration, best first.
ORIGINAL_OVERALL = {
    "A": 0.9992,
    "E": 0.9749,
    "C": 0.4909,
    "D": 0.4876,
    "C_PERCEPTUAL_HIGH": 0.4787,
    "C_PERCEPTUAL_LOW": 0.4675,
    "B": 0.3756,
    "C_L1_LOW": 0.3572,
    "C_L1_HIGH": 0.3551,
    "F": 0.1184,
}


@dataclass
class Draws:
    """Bootstrap draws of every configuration's mean of every metric in ``BOOTSTRAPPED``."""

    means: dict[str, pd.DataFrame]  # metric -> (resamples, models)
    n_seeds: dict[str, int]

    @property
    def models(self) -> list[str]:
        return list(next(iter(self.means.values())).columns)

    def trained(self) -> list[str]:
        return [m for m in self.models if m not in BASELINES]

    def overall(self) -> pd.DataFrame:
        """The overall score in every draw, across the trained configurations only."""
        trained = self.trained()
        values = np.stack([self.means[m][trained].to_numpy() for m in SCORED], axis=-1)
        return pd.DataFrame(overall_scores(values), columns=trained)


def per_image_values(per_image: pd.DataFrame, model: str) -> np.ndarray:
    """``(seeds, images, metrics)`` of one configuration, images by name, metrics as
    ``BOOTSTRAPPED``."""
    rows = per_image[per_image["model"] == model].sort_values(["seed", "image"])
    seeds = rows["seed"].unique()
    return (
        rows[list(BOOTSTRAPPED)]
        .to_numpy(dtype=np.float64)
        .reshape(len(seeds), -1, len(BOOTSTRAPPED))
    )


def check_same_images(per_image: pd.DataFrame) -> None:
    """Every (configuration, seed) must be scored on the identical test list."""
    lists = per_image.groupby(["model", "seed"])["image"].apply(lambda s: tuple(sorted(s)))
    first = lists.iloc[0]
    for (model, seed), images in lists.items():
        if images != first:
            extra, missing = sorted(set(images) - set(first)), sorted(set(first) - set(images))
            raise ResultsError(
                f"{model} (seed {seed}) was scored on a different test list than "
                f"{lists.index[0][0]} (seed {lists.index[0][1]}): {len(extra)} extra "
                f"{extra[:3]}, {len(missing)} missing {missing[:3]}; re-evaluate it"
            )


def bootstrap(per_image: pd.DataFrame, resamples: int = BOOTSTRAP_RESAMPLES) -> Draws:
    """Two-level bootstrap draws of every configuration's means (``per_image`` is long: one
    row per configuration, seed and test image)."""
    check_same_images(per_image)
    models = list(dict.fromkeys(per_image["model"]))
    values = {m: per_image_values(per_image, m) for m in models}
    draws = two_level_draws(values, seed=BOOTSTRAP_SEED, resamples=resamples)
    means = {
        metric: pd.DataFrame({m: draws[m][:, k] for m in models})
        for k, metric in enumerate(BOOTSTRAPPED)
    }
    return Draws(means, {m: v.shape[0] for m, v in values.items()})


def ranking_stability(draws: Draws) -> pd.DataFrame:
    """Per trained configuration: the share of draws in which it ranks first on the overall
    score, its mean rank and its 95 % rank interval (rank 1 = best)."""
    overall = draws.overall()
    ranks = overall.rank(axis=1, ascending=False, method="min")
    return pd.DataFrame(
        {
            "model": overall.columns,
            "p_first": (ranks == 1).mean().to_numpy(),
            "rank_mean": ranks.mean().to_numpy(),
            "rank_low": ranks.quantile(0.025, interpolation="lower").to_numpy().astype(int),
            "rank_high": ranks.quantile(0.975, interpolation="higher").to_numpy().astype(int),
        }
    )


def comparisons(
    summary: pd.DataFrame, draws: Draws, references: tuple[str, ...] = ("A", *BASELINES)
) -> pd.DataFrame:
    """Every configuration minus each reference, per metric: the difference of the means, its
    95 % two-level interval (seed and image variance) and a two-sided bootstrap p-value."""
    means = summary.set_index("model")
    rows = []
    for ref in (r for r in references if r in draws.models):
        for model in draws.models:
            if model == ref:
                continue
            for metric in BOOTSTRAPPED:
                d = draws.means[metric][model] - draws.means[metric][ref]
                low, high = percentile_interval(d)
                rows.append(
                    {
                        "model": model,
                        "reference": ref,
                        "metric": metric,
                        "diff": means.loc[model, metric] - means.loc[ref, metric],
                        "ci_low": low,
                        "ci_high": high,
                        "p_boot": min(1.0, 2 * min((d <= 0).mean(), (d >= 0).mean())),
                        "n_seeds": draws.n_seeds[model],
                    }
                )
    columns = ["model", "reference", "metric", "diff", "ci_low", "ci_high", "p_boot", "n_seeds"]
    return pd.DataFrame(rows, columns=columns)


def kendall_tau(draws: Draws, overall: pd.Series) -> tuple[float, float, float, int]:
    """Kendall τ between this study's overall-score ranking of the trained configurations and
    the original's (:data:`ORIGINAL_OVERALL`), with its 95 % bootstrap interval, over the
    configurations both have: ``(tau, low, high, n)``."""
    common = [m for m in ORIGINAL_OVERALL if m in overall.index]
    if len(common) < 3:
        return (float("nan"),) * 3 + (len(common),)
    original = [ORIGINAL_OVERALL[m] for m in common]
    tau = scipy_stats.kendalltau(overall[common], original).statistic
    per_draw = draws.overall()[common].to_numpy()
    taus = [scipy_stats.kendalltau(row, original).statistic for row in per_draw]
    low, high = percentile_interval(taus)
    return float(tau), low, high, len(common)


def claims(summary: pd.DataFrame, draws: Draws, ranking: pd.DataFrame) -> pd.DataFrame:
    """The original study's conclusions, each with this study's measured effect, its 95 %
    interval and a verdict: supported, contradicted or not resolved at this scale.

    ``summary`` has one row per model with its mean metrics and ``overall_score`` (NaN for
    baselines). A claim whose configurations were not run is left out. "≈" and "matters"
    claims use a practical margin of ±``DELTA_E_MARGIN`` ΔE00: an interval inside it means no
    practical difference, one outside it a real one, anything else is not resolved.
    """
    have = set(draws.models)
    rows = []

    def add(claim: str, measure: str, effect: float, low: float, high: float, verdict: str):
        rows.append(
            {
                "claim": claim,
                "measure": measure,
                "effect": effect,
                "ci_low": low,
                "ci_high": high,
                "verdict": verdict,
            }
        )

    def diff(metric: str, a: list[str], b: list[str]) -> tuple[float, float, float]:
        """mean over ``a`` minus mean over ``b`` of ``metric``: estimate and interval."""
        m = summary.set_index("model")[metric]
        d = draws.means[metric][a].mean(axis=1) - draws.means[metric][b].mean(axis=1)
        return (m[a].mean() - m[b].mean(), *percentile_interval(d))

    def sign_verdict(low: float, high: float) -> str:
        return SUPPORTED if low > 0 else CONTRADICTED if high < 0 else UNRESOLVED

    def margin_verdict(low: float, high: float, *, claims_a_difference: bool) -> str:
        """An interval inside ±DELTA_E_MARGIN means no practical difference, one wholly
        outside it a real one; which of the two the claim says decides the verdict."""
        inside = -DELTA_E_MARGIN < low and high < DELTA_E_MARGIN
        outside = low > DELTA_E_MARGIN or high < -DELTA_E_MARGIN
        if not (inside or outside):
            return UNRESOLVED
        return SUPPORTED if outside == claims_a_difference else CONTRADICTED

    overall = summary.set_index("model")["overall_score"].dropna()
    if "A" in ranking["model"].values and len(ranking) > 1 and "A" in overall:
        a = ranking.set_index("model").loc["A"]
        verdict = SUPPORTED if a.rank_high == 1 else CONTRADICTED if a.rank_low > 1 else UNRESOLVED
        add(
            "A (plain L1) ranks first on the overall score",
            f"A's rank (1 = best; overall {overall['A']:.3f}) and its 95 % interval; A first in "
            f"{a.p_first:.0%} of draws",
            float(overall.rank(ascending=False, method="min")["A"]),
            float(a.rank_low),
            float(a.rank_high),
            verdict,
        )
    if {"A", "E"} <= have:
        effect, low, high = diff("ciede2000", ["E"], ["A"])
        add(
            "E (L1 + perceptual) is as good as A (L1)",
            f"ΔE00 of E minus A; equivalent within ±{DELTA_E_MARGIN}",
            effect,
            low,
            high,
            margin_verdict(low, high, claims_a_difference=False),
        )
    pairs = [(g, p) for g, p in (("B", "A"), ("C", "E"), ("F", "D")) if {g, p} <= have]
    if pairs:
        effect, low, high = diff("ciede2000", [g for g, _ in pairs], [p for _, p in pairs])
        add(
            "adding the GAN loss makes the colours less accurate",
            "ΔE00 with minus without the GAN, mean over " + ", ".join(f"{g}−{p}" for g, p in pairs),
            effect,
            low,
            high,
            sign_verdict(low, high),
        )
    gan = [m for m in draws.trained() if m in PRESETS and PRESETS[m].get("use_gan")]
    plain = [m for m in draws.trained() if m in PRESETS and not PRESETS[m].get("use_gan")]
    if gan and plain:
        effect, low, high = diff("colorfulness_pred", gan, plain)
        add(
            "GAN variants colour more vividly",
            f"colourfulness, mean of the {len(gan)} GAN minus the {len(plain)} non-GAN "
            "configurations",
            effect,
            low,
            high,
            sign_verdict(low, high),
        )
    for high_id, low_id, what in (
        ("C_L1_HIGH", "C_L1_LOW", "the L1 weight λ1 (200 vs 50)"),
        ("C_PERCEPTUAL_HIGH", "C_PERCEPTUAL_LOW", "the perceptual weight λ2 (20 vs 5)"),
    ):
        if {high_id, low_id} <= have:
            effect, low, high = diff("ciede2000", [high_id], [low_id])
            add(
                f"{what} matters",
                f"ΔE00 of {high_id} minus {low_id}; matters beyond ±{DELTA_E_MARGIN}",
                effect,
                low,
                high,
                margin_verdict(low, high, claims_a_difference=True),
            )
    if len(overall) >= 3:
        tau, low, high, n = kendall_tau(draws, overall)
        if n >= 3:
            add(
                "this study ranks the configurations as the original did",
                f"Kendall τ with the original's overall-score ranking ({n} configurations)",
                tau,
                low,
                high,
                sign_verdict(low, high),
            )
    return pd.DataFrame(
        rows, columns=["claim", "measure", "effect", "ci_low", "ci_high", "verdict"]
    )
