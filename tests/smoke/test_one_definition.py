"""One concept, one definition: a preset added to ``config.PRESETS`` and a metric added to
``metrics.METRICS`` (one line each) reach every table, figure, claim group and the page."""

import functools
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
    panels = len([m for m in metrics.reported() if m in metrics.per_image_metrics()])
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


# --- the study's axes: a loss term, a generator, a baseline, each added in the files the
# README's "Adding a ..." section names, to a copy of the package, run as a user runs it


def _patched(tmp_path, edits: dict[str, list[tuple[str, str]]]):
    """A copy of the package with ``edits``: per file, ``(anchor, text)`` pairs, the text put
    after the anchor's line (an anchor of "" appends). Returns the environment that imports
    the copy (notebook kernels included); run it from ``tmp_path`` (a working directory that
    holds the clone would import the clone's package first)."""
    import os
    import shutil
    from pathlib import Path

    ROOT = Path(__file__).resolve().parents[2]

    assert len(edits) <= 2, "the README promises two files"
    src = tmp_path / "src"
    shutil.copytree(ROOT / "colorlib", src / "colorlib",
                    ignore=shutil.ignore_patterns("__pycache__"))  # fmt: skip
    for name, changes in edits.items():
        path = src / "colorlib" / name
        text = path.read_text()
        for anchor, added in changes:
            if not anchor:
                text += added
                continue
            assert text.count(anchor) == 1, (name, anchor)
            end = text.index("\n", text.index(anchor)) + 1
            text = text[:end] + added + text[end:]
        path.write_text(text)
    return {**os.environ, "PYTHONPATH": str(src)}


NEW_TERM = {  # total variation of the predicted ab, weighed 0.5
    "config.py": [
        ('lambda_classification: float = loss_weight("classification", 1.0)',
         '    use_tv: bool = loss_switch("tv", False)\n'
         '    lambda_tv: float = loss_weight("tv", 0.5)\n'),
        ('"lambda_classification": Range(0, 1e4),', '    "lambda_tv": Range(0, 1e4),\n'),
    ],
    "losses.py": [
        ("", '\nLOSS_TERMS["tv"] = LossTerm(\n'
             '    lambda s: (s.fake[..., 1:, :] - s.fake[..., :-1, :]).abs().mean()\n'
             '    + (s.fake[..., 1:] - s.fake[..., :-1]).abs().mean()\n)\n'),
    ],
}  # fmt: skip


def test_a_new_loss_term_reaches_the_step_history_tensorboard_presets_and_notebook(
    tmp_path, cli
):
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    from colorlib.runs import StudyPaths

    env = _patched(tmp_path, NEW_TERM)
    presets = cli("presets", env=env, cwd=tmp_path)
    assert presets.returncode == 0, presets.stderr
    assert "lambda_tv" in presets.stdout.splitlines()[0]
    study = StudyPaths(tmp_path / "results", tmp_path / "models")
    done = cli(
        "study", "--profile", "smoke", "--data", "sample", "--models", "A",
        "--models-dir", study.models, "--results-dir", study.results,
        "--set", "use_tv=true", "--set", "tensorboard=true", env=env, cwd=tmp_path,
    )  # fmt: skip
    assert done.returncode == 0, done.stdout + done.stderr
    run = study.run("A")
    history = pd.read_csv(run.history_csv)
    assert (history["tv"] > 0).all()  # the step computed it, the history kept it
    np.testing.assert_allclose(  # and the generator loss weighed it
        history["loss_G"], 100 * history["l1"] + 0.5 * history["tv"], rtol=1e-5
    )
    events = EventAccumulator(str(run.tensorboard)).Reload()
    assert len(events.Scalars("loss/tv")) == len(history)
    notebook = json.loads(run.notebook.read_text())
    printed = "".join(
        "".join(out.get("text", "")) for cell in notebook["cells"]
        for out in cell.get("outputs", [])
    )  # fmt: skip
    assert "lambda_tv 0.5" in printed  # the template's description of the losses


NEW_GENERATOR = {  # the pix2pix U-Net at half the width
    "config.py": [('GENERATORS = ("unet", "vgg16_unet")', 'GENERATORS += ("unet_half",)\n')],
    "networks.py": [
        ("", '\nGENERATORS["unet_half"] = lambda cfg, output_nc, tanh, pretrained: UnetGenerator(\n'
             '    cfg.image_size, max(1, cfg.ngf // 2), output_nc=output_nc, tanh=tanh\n)\n'),
    ],
}  # fmt: skip
NEW_BASELINE = {  # every pixel the mean ab of natural photos' mild warm cast (a sepia tone)
    "config.py": [('BASELINES = ("GRAY",)', 'BASELINES += ("SEPIA",)\n')],
    "networks.py": [
        ("", '\nclass SepiaPredictor(nn.Module):\n'
             '    description = "constant ab = (0.05, 0.15) baseline"\n\n'
             '    def forward(self, L):\n'
             '        ab = torch.tensor([0.05, 0.15], dtype=L.dtype, device=L.device)\n'
             '        return ab.view(1, 2, 1, 1).expand(L.shape[0], 2, *L.shape[2:]).clone()\n\n\n'
             'BASELINES["SEPIA"] = SepiaPredictor()\n'),
    ],
}  # fmt: skip


def test_a_new_generator_and_baseline_are_trained_evaluated_and_colorize(
    tmp_path, cli, sample
):
    edits = {name: NEW_GENERATOR[name] + NEW_BASELINE[name] for name in NEW_GENERATOR}
    env = _patched(tmp_path, edits)
    roots = [*cli.roots(tmp_path), "--profile", "smoke", "--data", "sample"]
    run = functools.partial(cli, env=env, cwd=tmp_path)
    train = run("train", "--model", "A", *roots, "--set", "generator=unet_half", "--quiet")
    assert train.returncode == 0, train.stderr
    for model in ("A", "GRAY", "SEPIA"):
        own = ["--set", "generator=unet_half"] if model == "A" else []
        done = run("evaluate", "--model", model, *roots, *own)
        assert done.returncode == 0, done.stderr
    metrics = {m: pd.read_csv(tmp_path / "results" / m / f"metrics_{m}.csv").iloc[0]
               for m in ("A", "GRAY", "SEPIA")}  # fmt: skip
    assert metrics["SEPIA"]["colorfulness_pred"] > metrics["GRAY"]["colorfulness_pred"] + 1
    assert metrics["A"]["psnr"] != metrics["GRAY"]["psnr"]
    photo = sorted((sample / "test").iterdir())[0]
    done = run("colorize", "--checkpoint", tmp_path / "models" / "A" / "best_model.pt",
               "--out", tmp_path / "colorized", photo)  # fmt: skip
    assert done.returncode == 0, done.stderr
    colored = np.asarray(Image.open(tmp_path / "colorized" / photo.name))
    assert colored.shape[:2] == np.asarray(Image.open(photo)).shape[:2]
    presets = run("presets").stdout
    assert "SEPIA" in presets and "unet_half" not in presets  # a baseline row, no preset uses it
