"""One concept, one definition: a preset added to ``config.PRESETS`` and a metric added to
``metrics.METRICS`` (one line each) reach every table, figure, claim group and the page."""

import json
import re

import numpy as np
import pandas as pd
import pytest
from PIL import Image

from colorlib import config, metrics
from colorlib.evaluation import evaluate
from colorlib.runs import StudyPaths
from colorlib.study.report import write_report
from colorlib.study.runner import Outcome, summary_table
from colorlib.training import train

NEW_PRESET = "A_GAN_LOW"
NEW_METRIC = "rgb_mae"


@pytest.fixture
def extended(monkeypatch):
    """The two one-line changes, undone after the test."""
    monkeypatch.setitem(
        config.PRESETS,
        NEW_PRESET,
        dict(use_l1=True, lambda_l1=10.0, use_perceptual=False, use_gan=True),
    )
    monkeypatch.setitem(
        metrics.METRICS,
        NEW_METRIC,
        metrics.Metric(
            "RGB MAE ↓", False, lambda c: (c.rgb_pred - c.rgb_true).abs().mean(dim=(1, 2, 3))
        ),
    )


def test_a_new_preset_and_metric_reach_every_table_figure_and_the_page(
    extended, tmp_path, smoke_config
):
    models = ["A", NEW_PRESET, "GRAY"]
    assert config.model_ids()[-2:] == (NEW_PRESET, "GRAY")
    assert metrics.scored()[-1] == NEW_METRIC and NEW_METRIC in metrics.reported()
    for model in models:
        cfg = smoke_config(tmp_path, model)
        if model != "GRAY":
            train(cfg, progress=False)
        evaluate(cfg)
    study = StudyPaths(tmp_path / "results", tmp_path / "models")

    # the run's own tables
    per_image = pd.read_csv(study.run(NEW_PRESET).per_image_csv)
    assert per_image[NEW_METRIC].between(0, 1).all()
    summary = pd.read_csv(study.run(NEW_PRESET).metrics_csv)
    assert {NEW_METRIC, f"{NEW_METRIC}_ci_low", f"{NEW_METRIC}_ci_high"} <= set(summary.columns)

    # the study's tables
    files = write_report(study.results, study.models)
    table = pd.read_csv(files["metrics"], index_col=0)
    assert list(table.index) == models
    assert {NEW_METRIC, f"{NEW_METRIC}_95ci", f"{NEW_METRIC}_seed_sd"} <= set(table.columns)
    trained = table.loc[["A", NEW_PRESET]]
    expected = metrics.overall_score(trained[list(metrics.scored())])  # five metrics now
    np.testing.assert_allclose(trained["overall_score"], expected, atol=1e-12)
    ranking = pd.read_csv(files["ranking"])
    assert list(ranking["model"]) == ["A", NEW_PRESET]
    comparisons = pd.read_csv(files["comparisons"])
    assert NEW_METRIC in set(comparisons["metric"]) and NEW_PRESET in set(comparisons["model"])
    claims = pd.read_csv(files["claims"]).set_index("claim")
    vivid = claims.loc["GAN variants colour more vividly", "measure"]
    assert "mean of the 1 GAN minus the 1 non-GAN" in vivid  # the new preset is a GAN variant
    rows = summary_table([Outcome(m, "done", 1.0) for m in models], study.results, study.models)
    assert NEW_METRIC in rows.columns

    # the figures: one panel per reported metric (the new one included)
    panels = len(metrics.reported())
    for key in ("bars", "distributions"):
        width = Image.open(files[key]).size[0]
        assert width > 4.2 * 100 * (panels - 0.5), (key, width)

    # the page: its table, headings, viewer metrics and note
    page = files["page"].read_text(encoding="utf-8")
    data = json.loads(
        re.search(r'<script id="data" type="application/json">(.*?)</script>', page, re.S)
        .group(1)
        .replace("<\\/", "</")
    )
    assert data["models"] == models
    assert NEW_METRIC in data["columns"] and data["headings"][NEW_METRIC] == "RGB MAE ↓"
    assert all(NEW_METRIC in row for row in data["rows"])
    shown = data["viewer"]["metrics"]
    assert all(NEW_METRIC in by_model[NEW_PRESET] for by_model in shown.values())
    assert "RGB MAE" in page and "GAN variants colour more vividly" in page


def test_the_command_line_offers_a_new_preset(extended):
    from colorlib.cli import build_parser

    args = build_parser().parse_args(["train", "--model", NEW_PRESET, "--profile", "smoke"])
    assert args.model == NEW_PRESET
    from colorlib.config import select_models

    study = build_parser().parse_args(["study"])
    assert select_models(study.models)[-2:] == (NEW_PRESET, "GRAY")  # in the default group
