#!/usr/bin/env python
"""Print a study's tables for docs/ (markdown) from what its evaluation step wrote, so that no
number in docs/study.md or docs/colour.md is typed by hand:

    python tools/study_tables.py results/bsds500_3seeds

The in-domain table (mean ± across-seed sd, the overall score, P(first) and the 95 % rank
interval), one table per further test set (means with 95 % two-level intervals, the
difference to GRAY), the claims, and the issues' targets, each with met / not met. FID and KID
are columns when the study computed them (``fid_kid``).
"""

from __future__ import annotations

import argparse
from pathlib import Path

import pandas as pd

from colorlib.config import BASELINES
from colorlib.runs import StudyPaths

COLUMNS = {  # metric, heading, decimals
    "psnr": ("PSNR ↑", 2),
    "ssim": ("SSIM ↑", 4),
    "ciede2000": ("ΔE00 ↓", 2),
    "lpips": ("LPIPS ↓", 4),
    "colorfulness_pred": ("colourfulness", 1),
    "delta_cf": ("ΔCF ↓", 1),
}
REALISM = {"fid": ("FID ↓", 1), "kid": ("KID ↓", 4)}  # when computed


def _columns(t: pd.DataFrame) -> dict:
    return COLUMNS | {k: v for k, v in REALISM.items() if k in t and t[k].notna().any()}


def _row(cells) -> str:
    return "| " + " | ".join(str(c) for c in cells) + " |"


def in_domain(study: StudyPaths) -> str:
    files = study.report()
    t = pd.read_csv(files["metrics"], index_col=0)
    ranking = pd.read_csv(files["ranking"]).set_index("model")
    columns = _columns(t)
    heads = ["model", *(h for h, _ in columns.values()), "val L1", "overall ↑", "P(first)",
             "rank (95 %)"]  # fmt: skip
    lines = [_row(heads), _row(["---", *["---:"] * (len(heads) - 2), ":---:"])]
    for m, r in t.iterrows():
        cells = [f"**{m}** (ab = 0)" if m in BASELINES else m]
        for k, (_, d) in columns.items():
            sd = r.get(f"{k}_seed_sd")
            cells.append(f"{r[k]:.{d}f}" + (f" ± {sd:.{d}f}" if pd.notna(sd) else ""))
        if m in BASELINES:
            cells += ["–", "–", "–", "–"]
        else:
            g = ranking.loc[m]
            low, high = int(g.rank_low), int(g.rank_high)
            rank = f"{low}" if low == high else f"{low}–{high}"
            cells += [f"{r['val_loss']:.4f}", f"{r['overall_score']:.3f}", f"{g.p_first:.2f}", rank]
        lines.append(_row(cells))
    return "\n".join(lines)


def test_set(study: StudyPaths, name: str) -> str:
    t = pd.read_csv(study.test_set_report(name)["metrics"], index_col=0)
    realism = [k for k in REALISM if k in _columns(t)]
    heads = ["model", "PSNR ↑ [95 %]", "ΔE00 ↓ [95 %]", "colourfulness", "ΔCF ↓",
             *(f"{REALISM[k][0]} [95 %]" for k in realism), "PSNR − GRAY",
             "ΔE00 − GRAY"]  # fmt: skip
    lines = [_row(heads), _row(["---", *["---:"] * (len(heads) - 1)])]
    for m, r in t.iterrows():
        lines.append(
            _row(
                [
                    f"**{m}**" if m in BASELINES else m,
                    f"{r['psnr']:.2f} {r['psnr_95ci']}",
                    f"{r['ciede2000']:.2f} {r['ciede2000_95ci']}",
                    f"{r['colorfulness_pred']:.1f}",
                    f"{r['delta_cf']:.1f}",
                    *(f"{r[k]:.{REALISM[k][1]}f} {r[f'{k}_95ci']}" for k in realism),
                    f"{r['psnr_vs_gray']:+.2f}",
                    f"{r['ciede2000_vs_gray']:+.2f}",
                ]
            )
        )
    return "\n".join(lines)


def claims(study: StudyPaths) -> str:
    c = pd.read_csv(study.report()["claims"])
    lines = [_row(["claim", "measured here", "effect [95 % interval]", "verdict"]),
             _row(["---"] * 4)]  # fmt: skip
    for _, r in c.iterrows():
        effect = f"{r.effect:.3g} [{r.ci_low:.3g}, {r.ci_high:.3g}]"
        lines.append(_row([r.claim, r.measure, effect, r.verdict]))
    return "\n".join(lines)


def targets(study: StudyPaths) -> str:
    """The issue's three targets, from the study's own tables and comparisons."""
    out = []
    trained = lambda t: t[~t.index.isin(BASELINES)]  # noqa: E731
    everywhere = None
    for name in study.test_sets():
        t = trained(pd.read_csv(study.test_set_report(name)["metrics"], index_col=0))
        best = t["overall_score"].idxmax()
        r = t.loc[best]
        met = r.psnr_vs_gray >= 0.5 and r.ciede2000_vs_gray < 0
        beating = t[(t.psnr_vs_gray >= 0.5) & (t.ciede2000_vs_gray < 0)].index.tolist()
        everywhere = set(beating) if everywhere is None else everywhere & set(beating)
        out.append(
            f"- out of domain, {name}: best configuration (overall score) {best}: PSNR "
            f"{r.psnr_vs_gray:+.2f} dB, ΔE00 {r.ciede2000_vs_gray:+.2f} against GRAY — "
            f"{'met' if met else 'not met'}; configurations meeting it: {beating or 'none'}"
        )
    if everywhere is not None:
        out.append(
            "- out of domain, on every further test set (PSNR ≥ +0.5 dB and ΔE00 below GRAY's): "
            + (", ".join(sorted(everywhere)) or "none — not met")
        )
    comp = pd.read_csv(study.report()["comparisons"])
    d = comp[(comp.reference == "A") & (comp.metric == "ciede2000") & (comp.ci_high < 0)]
    d = d[~d.model.isin(BASELINES)]
    out.append(
        "- in domain, ΔE00 below A with an interval that excludes zero: "
        + (", ".join(f"{r.model} {r['diff']:+.2f} [{r.ci_low:.2f}, {r.ci_high:.2f}]"
                     for _, r in d.iterrows()) or "none — not met")  # fmt: skip
    )
    t = pd.read_csv(study.report()["metrics"], index_col=0)
    truth = t.loc["GRAY", "delta_cf"] + t.loc["GRAY", "colorfulness_pred"]  # GRAY's CF ≈ 0
    gray = t.loc["GRAY", "ciede2000"]
    ok = trained(t)[(trained(t).delta_cf <= 0.2 * truth) & (trained(t).ciede2000 <= gray)]
    best_cf = trained(t)["delta_cf"].idxmin()
    out.append(
        f"- colour: colourfulness within 20 % of the truth's ({truth:.1f}) with ΔE00 no worse "
        f"than GRAY's ({gray:.2f}): {', '.join(ok.index) or 'none — not met'} (closest: "
        f"{best_cf}, colourfulness {t.loc[best_cf, 'colorfulness_pred']:.1f}, ΔCF "
        f"{t.loc[best_cf, 'delta_cf']:.1f})"
    )
    if "kid" in t and t["kid"].notna().any():
        # each configuration that meets the colour target (else the closest), against A
        for chosen in list(ok.index) or [best_cf]:
            k = comp[(comp.reference == "A") & (comp.metric == "kid") & (comp.model == chosen)]
            if chosen == "A" or k.empty:
                out.append(f"- realism: {chosen} is A itself or has no KID comparison — not met")
                continue
            r = k.iloc[0]
            out.append(
                f"- realism: KID of {chosen} minus A's {r['diff']:+.4f} [{r.ci_low:.4f}, "
                f"{r.ci_high:.4f}] — {'met' if r.ci_high < 0 else 'not met'}"
                + ("" if len(ok) else " (the colour target's closest, not a winner)")
            )
    return "\n".join(out)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("results", help="a study's results folder (evaluated: its Evaluate/)")
    results = Path(parser.parse_args(argv).results)
    study = StudyPaths(results, Path("models"))
    metrics = study.report()["metrics"]
    if not metrics.is_file():
        parser.error(
            f"{metrics}: no such file; {results} is not an evaluated study (run run_all.py "
            "with --results-dir, or tools/merge_seeds.py, to make one)"
        )
    print(in_domain(study), end="\n\n")
    for name in study.test_sets():
        print(f"{name}:\n\n{test_set(study, name)}", end="\n\n")
    print(claims(study), end="\n\n")
    print(targets(study))


if __name__ == "__main__":
    main()
