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

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy import stats as scipy_stats

from colorlib.config import BASELINES, DEFAULT_SEED, EXTENDED, PRESETS, REFERENCE
from colorlib.errors import ResultsError
from colorlib.metrics import (
    feature_metrics,
    overall_score,
    overall_scores,
    per_image_metrics,
    reported,
    scored,
    set_value,
)
from colorlib.stats import BOOTSTRAP_RESAMPLES, percentile_interval, two_level_draws

BOOTSTRAP_SEED = DEFAULT_SEED
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
    """Bootstrap draws of every configuration's mean of every reported metric
    (:func:`colorlib.metrics.reported`: the scored ones, colourfulness, ΔCF; FID and KID when
    the study's evaluations computed them)."""

    means: dict[str, pd.DataFrame]  # metric -> (resamples, models)
    n_seeds: dict[str, int]

    @property
    def models(self) -> list[str]:
        return list(next(iter(self.means.values())).columns)

    def trained(self) -> list[str]:
        return [m for m in self.models if m not in BASELINES]

    def only(self, models: list[str]) -> Draws:
        """The draws of ``models`` alone (their overall score then spans only them)."""
        return Draws(
            {k: v[models] for k, v in self.means.items()}, {m: self.n_seeds[m] for m in models}
        )

    def overall(self) -> pd.DataFrame:
        """The overall score in every draw, across the trained configurations only."""
        trained = self.trained()
        values = np.stack([self.means[m][trained].to_numpy() for m in scored()], axis=-1)
        return pd.DataFrame(overall_scores(values), columns=trained)


def averaged() -> list[str]:
    """The reported metrics that are means of per-image values, in table order."""
    return [m for m in reported() if m in per_image_metrics()]


def per_image_values(per_image: pd.DataFrame, model: str) -> np.ndarray:
    """``(seeds, images, metrics)`` of one configuration, seeds ascending, images by name,
    metrics as :func:`averaged`."""
    rows = per_image[per_image["model"] == model].sort_values(["seed", "image"])
    seeds = rows["seed"].unique()
    metrics = averaged()
    return rows[metrics].to_numpy(dtype=np.float64).reshape(len(seeds), -1, len(metrics))


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


def bootstrap(
    per_image: pd.DataFrame,
    resamples: int = BOOTSTRAP_RESAMPLES,
    set_level: dict[str, np.ndarray] | None = None,
) -> Draws:
    """Two-level bootstrap draws of every configuration's means (``per_image`` is long: one
    row per configuration, seed and test image). ``set_level``: per configuration, FID and KID
    of each seed on each image resample, ``(seeds, resamples, len(feature_metrics()))``
    (:func:`colorlib.stats.image_counts` with :data:`BOOTSTRAP_SEED`, images by name); NaN
    where a run has none."""
    check_same_images(per_image)
    models = list(dict.fromkeys(per_image["model"]))
    values = {m: per_image_values(per_image, m) for m in models}
    draws = two_level_draws(values, seed=BOOTSTRAP_SEED, resamples=resamples, set_level=set_level)
    names = averaged() + (list(feature_metrics()) if set_level is not None else [])
    means = {
        metric: pd.DataFrame({m: set_value(metric, draws[m][:, k]) for m in models})
        for k, metric in enumerate(names)
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
    summary: pd.DataFrame, draws: Draws, references: tuple[str, ...] = (REFERENCE, *BASELINES)
) -> pd.DataFrame:
    """Every configuration minus each reference, per metric: the difference of the means, its
    95 % two-level interval (seed and image variance) and a two-sided bootstrap p-value."""
    means = summary.set_index("model")
    rows = []
    for ref in (r for r in references if r in draws.models):
        for model in draws.models:
            if model == ref:
                continue
            for metric in draws.means:
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


@dataclass(frozen=True)
class Claim:
    """A conclusion, tested as ``mean(a) − mean(b)`` of ``metric`` over two groups of
    configurations: one of the original study's (``original``: its groups are drawn from the
    configurations outside the extended group) or one that the extended group can test.

    ``groups(trained)`` picks the groups from the trained configurations a study has (``None``
    when the claim's configurations were not run); ``measure`` may name them as ``{a}``,
    ``{b}``, ``{n_a}``, ``{n_b}``, ``{pairs}`` (``a₁−b₁, ...``) and ``{margin}``; ``rule`` is
    ``"sign"`` (supported when the interval is above zero), ``"same"`` (supported when it lies
    inside ±margin) or ``"differs"`` (supported when it lies outside ±margin).
    """

    text: str
    measure: str
    metric: str
    groups: Callable[[list[str]], tuple[list[str], list[str]] | None]
    rule: str
    original: bool = True


def _fixed(a: list[str], b: list[str]):
    """The groups ``a`` and ``b`` themselves, when the study has all of them."""
    return lambda trained: (a, b) if set(a + b) <= set(trained) else None


def _pairs(*pairs: tuple[str, str]):
    """The (a, b) pairs the study has (e.g. with and without the GAN), as two aligned groups."""

    def groups(trained: list[str]):
        have = [(g, p) for g, p in pairs if {g, p} <= set(trained)]
        return ([g for g, _ in have], [p for _, p in have]) if have else None

    return groups


def _gan_or_not(trained: list[str]):
    """The study's presets with and without the GAN loss."""
    gan = [m for m in trained if m in PRESETS and PRESETS[m].get("use_gan")]
    plain = [m for m in trained if m in PRESETS and not PRESETS[m].get("use_gan")]
    return (gan, plain) if gan and plain else None


CLAIMS = (
    Claim(
        "E (L1 + perceptual) is as good as A (L1)",
        "ΔE00 of E minus A; equivalent within ±{margin}",
        "ciede2000",
        _fixed(["E"], ["A"]),
        "same",
    ),
    Claim(
        "adding the GAN loss makes the colours less accurate",
        "ΔE00 with minus without the GAN, mean over {pairs}",
        "ciede2000",
        _pairs(("B", "A"), ("C", "E"), ("F", "D")),
        "sign",
    ),
    Claim(
        "GAN variants colour more vividly",
        "colourfulness, mean of the {n_a} GAN minus the {n_b} non-GAN configurations",
        "colorfulness_pred",
        _gan_or_not,
        "sign",
    ),
    Claim(
        "the L1 weight λ1 (200 vs 50) matters",
        "ΔE00 of C_L1_HIGH minus C_L1_LOW; matters beyond ±{margin}",
        "ciede2000",
        _fixed(["C_L1_HIGH"], ["C_L1_LOW"]),
        "differs",
    ),
    Claim(
        "the perceptual weight λ2 (20 vs 5) matters",
        "ΔE00 of C_PERCEPTUAL_HIGH minus C_PERCEPTUAL_LOW; matters beyond ±{margin}",
        "ciede2000",
        _fixed(["C_PERCEPTUAL_HIGH"], ["C_PERCEPTUAL_LOW"]),
        "differs",
    ),
    Claim(
        "class rebalancing colours more vividly than L1",
        "colourfulness with rebalanced classification minus with L1, mean over {pairs}",
        "colorfulness_pred",
        _pairs(("CLS", "A"), ("CLS_VGG", "A_VGG")),
        "sign",
        original=False,
    ),
    Claim(
        "a pretrained encoder beats training from scratch",
        "ΔE00 from scratch minus with the VGG16 encoder, mean over {pairs}",
        "ciede2000",
        _pairs(("A", "A_VGG"), ("B", "B_VGG"), ("CLS", "CLS_VGG")),
        "sign",
        original=False,
    ),
    # the original's third finding, "may produce more diverse and creative colorizations that
    # are subjectively more appealing", as the field measures realism: with FID and KID
    Claim(
        "GAN variants give more realistic colours (KID)",
        "KID without minus with the GAN (lower = more realistic), mean over {pairs}",
        "kid",
        _pairs(("A", "B"), ("E", "C"), ("D", "F")),
        "sign",
    ),
    Claim(
        "GAN variants give more realistic colours (FID)",
        "FID without minus with the GAN (lower = more realistic), mean over {pairs}",
        "fid",
        _pairs(("A", "B"), ("E", "C"), ("D", "F")),
        "sign",
    ),
    Claim(
        "the colourfulness loss closes the colourfulness gap",
        "ΔCF without minus with the colourfulness loss, mean over {pairs}",
        "delta_cf",
        _pairs(("A_VGG", "A_VGG_CF"), ("B_VGG", "B_VGG_CF")),
        "sign",
        original=False,
    ),
    Claim(
        "the colourfulness loss costs no accuracy",
        "ΔE00 with minus without the colourfulness loss, mean over {pairs}; "
        "equivalent within ±{margin}",
        "ciede2000",
        _pairs(("A_VGG_CF", "A_VGG"), ("B_VGG_CF", "B_VGG")),
        "same",
        original=False,
    ),
    Claim(
        "training on colourful photos colours more",
        "colourfulness trained on photos of colourfulness ≥ 15 only minus on all, {pairs}",
        "colorfulness_pred",
        _pairs(("A_VGG_CF_VIVID", "A_VGG_CF")),
        "sign",
        original=False,
    ),
)
CLAIM_COLUMNS = ["claim", "measure", "effect", "ci_low", "ci_high", "verdict"]


def verdict(rule: str, low: float, high: float) -> str:
    """The verdict of a 95 % interval ``[low, high]`` under ``rule`` (see :class:`Claim`):
    ``"sign"`` needs it to exclude zero; ``"same"`` and ``"differs"`` compare it with the
    practical margin ±``DELTA_E_MARGIN`` (inside: no practical difference; wholly outside: a
    real one; anything else is not resolved)."""
    if rule == "sign":
        return SUPPORTED if low > 0 else CONTRADICTED if high < 0 else UNRESOLVED
    if rule not in ("same", "differs"):
        raise ValueError(f"unknown claim rule {rule!r}")
    inside = -DELTA_E_MARGIN < low and high < DELTA_E_MARGIN
    outside = low > DELTA_E_MARGIN or high < -DELTA_E_MARGIN
    if not (inside or outside):
        return UNRESOLVED
    return SUPPORTED if outside == (rule == "differs") else CONTRADICTED


def claims(summary: pd.DataFrame, draws: Draws, ranking: pd.DataFrame) -> pd.DataFrame:
    """The original study's conclusions and the extended group's, each with this study's
    measured effect, its 95 % interval and a verdict: supported, contradicted or not resolved
    at this scale.

    ``summary`` has one row per model with its mean metrics and ``overall_score`` (NaN for
    baselines). A claim whose configurations were not run is left out. The rows: A's rank
    (:func:`rank_claim`), every :data:`CLAIMS` entry, and the Kendall τ with the original's
    ranking (:func:`ranking_claim`). The original's claims (A's rank and τ included) are
    measured without the extended group (:data:`colorlib.config.EXTENDED`): A's rank among
    the configurations the original compared, not among new ones.
    """
    means = summary.set_index("model")
    overall = means["overall_score"].dropna()
    original = [m for m in draws.trained() if m not in EXTENDED]
    if set(original) != set(draws.trained()):  # without the extended group
        draws_o = draws.only([*original, *(m for m in draws.models if m in BASELINES)])
        ranking = ranking_stability(draws_o)
        overall = overall_score(means.loc[original, list(scored())])
    else:
        draws_o = draws
    rows = [rank_claim(ranking, overall)]
    for claim in CLAIMS:
        groups = claim.groups(original if claim.original else draws.trained())
        if groups is None or claim.metric not in draws.means:  # not run, or not computed
            continue
        a, b = groups
        d = draws.means[claim.metric][a].mean(axis=1) - draws.means[claim.metric][b].mean(axis=1)
        low, high = percentile_interval(d)
        measure = claim.measure.format(
            a=", ".join(a),
            b=", ".join(b),
            n_a=len(a),
            n_b=len(b),
            pairs=", ".join(f"{x}−{y}" for x, y in zip(a, b)),
            margin=DELTA_E_MARGIN,
        )
        effect = means.loc[a, claim.metric].mean() - means.loc[b, claim.metric].mean()
        rows.append(_row(claim.text, measure, effect, low, high, verdict(claim.rule, low, high)))
    rows.append(ranking_claim(draws_o, overall))
    return pd.DataFrame([r for r in rows if r is not None], columns=CLAIM_COLUMNS)


def rank_claim(ranking: pd.DataFrame, overall: pd.Series) -> dict | None:
    """"A ranks first": A's rank on the overall score and its 95 % interval over the draws."""
    if "A" not in ranking["model"].values or len(ranking) < 2 or "A" not in overall:
        return None
    a = ranking.set_index("model").loc["A"]
    outcome = SUPPORTED if a.rank_high == 1 else CONTRADICTED if a.rank_low > 1 else UNRESOLVED
    return _row(
        "A (plain L1) ranks first on the overall score",
        f"A's rank (1 = best; overall {overall['A']:.3f}) and its 95 % interval; A first in "
        f"{a.p_first:.0%} of draws",
        float(overall.rank(ascending=False, method="min")["A"]),
        float(a.rank_low),
        float(a.rank_high),
        outcome,
    )


def ranking_claim(draws: Draws, overall: pd.Series) -> dict | None:
    """"This study ranks as the original did": Kendall τ with the original's ranking."""
    if len(overall) < 3:
        return None
    tau, low, high, n = kendall_tau(draws, overall)
    if n < 3:
        return None
    return _row(
        "this study ranks the configurations as the original did",
        f"Kendall τ with the original's overall-score ranking ({n} configurations)",
        tau,
        low,
        high,
        verdict("sign", low, high),
    )


def _row(claim: str, measure: str, effect, low, high, verdict: str) -> dict:
    return dict(zip(CLAIM_COLUMNS, (claim, measure, effect, low, high, verdict)))
