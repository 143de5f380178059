"""run_all.py end to end on the embedded sample, smoke profile: every output the original
named (docs/usage.md, "Outputs")."""

import json
import os
import re
import shutil
import stat
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import torch

from colorlib.config import PRESETS
from colorlib.metrics import overall_score, scored

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def run_all(cli, tmp_path):
    """``run_all.py --profile smoke --data sample ARGS`` with its folders under ``tmp_path``."""

    def run(*args):
        return cli.run_all(
            "--profile", "smoke", "--data", "sample",
            "--models-dir", tmp_path / "models", "--results-dir", tmp_path / "results", *args,
        )  # fmt: skip

    return run


def test_run_all_smoke_produces_every_output(smoke_study, cli):
    study = smoke_study.paths
    models, results = study.models, study.results
    expected = []
    for m in PRESETS:
        expected += [
            models / m / "best_model.pt",
            models / m / "checkpoint_epoch_1.pt",
            results / m / f"metrics_{m}.csv",
            results / m / f"training_history_{m}.csv",
            results / m / f"training_history_{m}.png",
            results / m / f"colorization_results_{m}.png",
            results / m / f"val_samples_{m}_epoch_1.png",
            results / m / f"model_{m}.ipynb",
            results / m / "run.json",
        ]
    ev = results / "Evaluate"
    expected += [
        results / "GRAY" / "metrics_GRAY.csv",
        ev / "comprehensive_metrics_comparison.png",
        ev / "training_history_comparison.png",
        ev / "complete_comparison_grid.png",
        ev / "comparison_test_image_1.png",
        ev / "inference_metrics_comparison.csv",
        ev / "comprehensive_model_evaluation.ipynb",
        ev / "report.html",
    ]
    missing = [str(p) for p in expected if not p.is_file() or p.stat().st_size == 0]
    assert not missing
    table = pd.read_csv(ev / "metrics_comparison.csv", index_col=0)
    assert list(table.index) == [*PRESETS, "GRAY"]
    _check_overall_score(table)
    ranking = pd.read_csv(ev / "ranking_stability.csv")
    assert list(ranking["model"]) == list(PRESETS)
    assert ranking["p_first"].sum() == pytest.approx(1.0)
    assert "Evaluate" in smoke_study.stdout and "failed" not in smoke_study.stdout
    # every file of the study, executed notebooks included, gets 0666 & ~umask
    umask = os.umask(0)
    os.umask(umask)
    root = study.results.parent
    modes = {oct(stat.S_IMODE(p.stat().st_mode)) for p in root.rglob("*") if p.is_file()}
    assert modes == {oct(0o666 & ~umask)}

    # a second run skips what is complete (and rewrites only the evaluation's own files)
    again = cli.run_all(
        "--profile", "smoke", "--data", "sample", "--models", "A,GRAY",
        "--models-dir", models, "--results-dir", results,
    )  # fmt: skip
    assert again.returncode == 0 and again.stdout.count("skipped") >= 2


def test_each_job_of_a_study_gets_its_share_of_the_cores(smoke_study):
    """The smoke study runs two configurations at a time (--jobs 2): each trains and decodes
    with its share of the cores, recorded in its config and run.json."""
    from colorlib.runs import read_record
    from colorlib.study.runner import job_threads

    share = job_threads(2)
    assert share == max(1, (os.cpu_count() or 1) // 2)
    for model in ("A", "CLS_VGG"):
        record = read_record(smoke_study.paths.run(model))
        assert record["config"]["threads"] == share and record["torch_threads"] == share


def test_a_study_says_only_its_own_lines(smoke_study):
    """What a user reads is the study's progress lines and results: no kernel-transport
    warning per notebook, no papermill INFO lines, no warning of any library."""
    said = (smoke_study.stdout + smoke_study.stderr).splitlines()
    noise = [line for line in said if re.search(r"warn|IPKernelApp|papermill", line, re.I)]
    assert not noise, noise
    others = [line for line in smoke_study.stderr.splitlines() if " colorlib." not in line]
    assert not others, others  # what is on stderr is colorlib's own log lines


def test_also_test_writes_its_tables_and_page_section(smoke_study):
    """``--also-test DIR``: every configuration and GRAY scored on the flat folder, with its
    own table (the same metrics, intervals and ΔCF), comparisons and section of the page; the
    extended group's claims are measured, the original's without the extended group."""
    study = smoke_study.paths
    name = smoke_study.test_set
    for m in [*PRESETS, "GRAY"]:
        run = study.test_set(name).run(m)
        assert run.metrics_csv.is_file() and run.predictions.is_file(), m
    files = study.test_set_report(name)
    table = pd.read_csv(files["metrics"], index_col=0)
    inside = pd.read_csv(study.report()["metrics"], index_col=0)
    assert list(table.index) == list(inside.index) == [*PRESETS, "GRAY"]
    assert {"delta_cf", "delta_cf_95ci", "psnr_vs_gray"} <= set(table.columns)
    assert not np.allclose(table["psnr"], inside["psnr"])  # other photos
    per_image = pd.read_csv(study.test_set(name).run("GRAY").per_image_csv)
    assert len(per_image) == 4  # the smoke profile's max_test_images
    # GRAY has no colour: its ΔCF is the truth's colourfulness over the set
    gray_cf = per_image["colorfulness_true"].mean() - per_image["colorfulness_pred"].mean()
    assert table.loc["GRAY", "delta_cf"] == pytest.approx(gray_cf, rel=1e-9)
    comparisons = pd.read_csv(files["comparisons"])
    assert set(comparisons["reference"]) == {"A", "GRAY"}
    page = (study.evaluate / "report.html").read_text()
    assert f"Test set {name} (4 photos, 1 seed(s))" in page
    claims = pd.read_csv(study.report()["claims"])
    assert {
        "class rebalancing colours more vividly than L1",
        "a pretrained encoder beats training from scratch",
    } <= set(claims["claim"])
    gan = claims[claims["claim"] == "GAN variants colour more vividly"]["measure"].iloc[0]
    assert "7 GAN minus the 3 non-GAN" in gan  # B_VGG is not one of the original's


def test_fid_and_kid_reach_every_table_the_claims_and_the_page(smoke_study):
    """The smoke study runs with ``fid_kid=on``: FID and KID of every configuration, in domain
    and on the further test set, with intervals (the runs' own and the study's), their
    features and draws beside each run, the realism and colourfulness claims, and the page."""
    study = smoke_study.paths
    for tables in (study.report(), study.test_set_report(smoke_study.test_set)):
        table = pd.read_csv(tables["metrics"], index_col=0)
        assert table[["fid", "kid"]].notna().all().all(), table[["fid", "kid"]]
        assert {"fid_95ci", "kid_95ci", "fid_seed_sd"} <= set(table.columns)
    run = study.run("A")
    summary = pd.read_csv(run.metrics_csv).iloc[0]
    assert summary["fid_ci_low"] <= summary["fid_ci_high"] and summary["fid"] > 0
    with np.load(run.features) as z:
        assert z["pred"].shape == z["true"].shape == (4, 2048) and len(z["fid_draws"]) == 2000
    record = json.loads(run.run_json.read_text())
    assert "inception-v3-fid" in record["evaluation"]["fid_kid"]
    comparisons = pd.read_csv(study.report()["comparisons"])
    assert {"fid", "kid"} <= set(comparisons["metric"])
    claims = pd.read_csv(study.report()["claims"]).set_index("claim")
    realism = claims.loc["GAN variants give more realistic colours (KID)", "measure"]
    assert "mean over A−B, E−C, D−F" in realism
    for claim in (
        "GAN variants give more realistic colours (FID)",
        "the colourfulness loss closes the colourfulness gap",
        "the colourfulness loss costs no accuracy",
        "training on colourful photos colours more",
    ):
        assert claim in claims.index, claim
    page = (study.evaluate / "report.html").read_text()
    data = json.loads(
        re.search(r'<script id="data" type="application/json">(.*?)</script>', page, re.S).group(1)
    )
    assert {"fid", "kid"} <= set(data["columns"]) and data["headings"]["fid"] == "FID ↓"
    assert "fid" not in data["metrics"]  # the viewer's per-image values: FID has none
    assert "read KID on small sets" in page


def _check_overall_score(table: pd.DataFrame) -> None:
    """The original's formula over the trained configurations' metric columns gives the
    reported score; GRAY has none, and every row has its difference to GRAY."""
    trained = table.drop(index="GRAY")
    recomputed = overall_score(trained[list(scored())])
    np.testing.assert_allclose(trained["overall_score"], recomputed, rtol=0, atol=1e-12)
    assert pd.isna(table.loc["GRAY", "overall_score"])
    np.testing.assert_allclose(table["psnr_vs_gray"], table["psnr"] - table.loc["GRAY", "psnr"])


def test_run_all_over_two_seeds(tmp_path, run_all, cli):
    done = run_all("--seeds", "1,2", "--models", "A,B,GRAY", "--jobs", "2")
    assert done.returncode == 0, done.stdout + done.stderr
    results, models = tmp_path / "results", tmp_path / "models"
    per_seed = {}
    for seed in (1, 2):
        tree = results / f"seed_{seed}"
        assert (models / f"seed_{seed}" / "A" / "best_model.pt").is_file()
        assert (tree / "B" / "model_B.ipynb").is_file()
        per_seed[seed] = pd.read_csv(tree / "A" / "metrics_A.csv").iloc[0]
        assert pd.read_json(tree / "A" / "run.json", typ="series")["seed"] == seed
    assert per_seed[1]["psnr"] != per_seed[2]["psnr"]  # two trainings, not one twice
    assert not (results / "A" / "metrics_A.csv").exists()  # one name, one schema, one writer
    across = pd.read_csv(results / "A" / "metrics_across_seeds_A.csv").iloc[0]
    assert across["n_seeds"] == 2
    assert across["psnr"] == pytest.approx((per_seed[1]["psnr"] + per_seed[2]["psnr"]) / 2)
    sd = np.std([per_seed[1]["psnr"], per_seed[2]["psnr"]], ddof=1)
    assert across["psnr_seed_sd"] == pytest.approx(sd)
    rows = pd.read_csv(results / "A" / "metrics_per_image_across_seeds_A.csv")
    assert sorted(rows["seed"].unique()) == [1, 2] and len(rows) == 2 * across["n_images"]

    ev = results / "Evaluate"
    table = pd.read_csv(ev / "metrics_comparison.csv", index_col=0)
    assert (table["n_seeds"] == 2).all()
    assert {f"{m}_seed_sd" for m in scored()} <= set(table.columns)
    _check_overall_score(table)
    ranking = pd.read_csv(ev / "ranking_stability.csv")
    assert list(ranking.columns[:5]) == ["model", "p_first", "rank_mean", "rank_low", "rank_high"]
    assert list(ranking["model"]) == ["A", "B"]
    assert (ev / "claims.csv").is_file() and (ev / "report.html").is_file()
    comparisons = pd.read_csv(ev / "seed_comparisons.csv")
    assert set(comparisons["reference"]) == {"A", "GRAY"} and (comparisons["n_seeds"] == 2).all()

    # every (configuration, seed) is a unit: a rerun skips each; a one-seed study may not
    # write into this folder
    again = run_all("--seeds", "1,2", "--models", "A")
    assert again.returncode == 0
    assert again.stdout.count("complete for this config, skipped") == 2
    mixed = run_all("--models", "A")
    assert mixed.returncode == 2 and "holds a several-seed study" in mixed.stderr

    # tools/merge_seeds.py: the same two seeds run as two one-seed studies become this study
    sources = []
    for seed in (1, 2):
        one = tmp_path / f"one_{seed}"
        shutil.copytree(results / f"seed_{seed}", one / "results")
        shutil.copytree(models / f"seed_{seed}", one / "models")
        shutil.copy(results / "validation_split.json", one / "results")
        sources.append(f"{one / 'results'}:{one / 'models'}")
    merged = tmp_path / "merged"
    argv = [cli.PYTHON, str(ROOT / "tools" / "merge_seeds.py"), merged / "results"]
    done = cli.run([*map(str, argv), str(merged / "models"), *sources])
    assert done.returncode == 0, done.stdout + done.stderr
    again = pd.read_csv(merged / "results" / "Evaluate" / "metrics_comparison.csv", index_col=0)
    pd.testing.assert_frame_equal(again, table)
    assert (merged / "results" / "seed_2" / "B" / "model_B.ipynb").is_file()
    twice = cli.run([*map(str, argv), str(merged / "models"), *sources])
    assert twice.returncode != 0 and "exists: choose a new target" in twice.stderr

    # --models: only the named configurations are linked; one missing from a source is refused
    def merge_only(target: Path, names: str):
        roots = [target / "results", target / "models"]
        tool = ROOT / "tools" / "merge_seeds.py"
        return cli.run([cli.PYTHON, *map(str, [tool, *roots]), *sources, "--models", names])

    part = tmp_path / "part"
    done = merge_only(part, "A,GRAY")
    assert done.returncode == 0, done.stdout + done.stderr
    subset = pd.read_csv(part / "results" / "Evaluate" / "metrics_comparison.csv", index_col=0)
    assert sorted(subset.index) == ["A", "GRAY"]
    pd.testing.assert_series_equal(subset["psnr"], table.loc[subset.index, "psnr"])
    assert not (part / "results" / "seed_1" / "B").exists()
    assert not (part / "models" / "seed_1" / "B").exists()
    wrong = merge_only(tmp_path / "wrong", "A,C")
    assert wrong.returncode != 0 and "--models C not evaluated there" in wrong.stderr


def test_one_failure_does_not_stop_the_others(tmp_path, run_all):
    # B's folder holds a training state from another configuration: B must fail, GRAY (after
    # it) must still run and be evaluated
    (tmp_path / "models" / "B").mkdir(parents=True)
    torch.save(
        {"format": "colorlib.checkpoint", "version": 1},
        tmp_path / "models" / "B" / "training_state.pt",
    )
    done = run_all("--models", "B,GRAY")
    assert done.returncode == 1
    assert "FAILED: B" in done.stderr
    assert (tmp_path / "results" / "GRAY" / "metrics_GRAY.csv").is_file()
    assert (tmp_path / "results" / "B" / "error.txt").is_file()
    assert (tmp_path / "results" / "B" / "model_B.ipynb").is_file()


def test_run_all_rejects_bad_arguments(run_all):
    bad = run_all("--models", "A,Z")
    assert bad.returncode == 2 and "unknown model(s) ['Z']" in bad.stderr
    bad = run_all("--set", "epochz=1")
    assert bad.returncode == 2 and "unknown config key" in bad.stderr


def test_submitit_local_launcher_runs_the_configurations_as_jobs(tmp_path, run_all):
    """--launcher local: each configuration is a submitit job (a subprocess here, a SLURM job
    with --launcher slurm) that leaves its executed notebook; the evaluation aggregates them."""
    done = run_all("--launcher", "local", "--models", "A,B,GRAY")
    assert done.returncode == 0, done.stdout + done.stderr
    assert done.stdout.count("submitted as local job") == 3
    results = tmp_path / "results"
    for m in ("A", "B", "GRAY"):
        assert (results / m / f"model_{m}.ipynb").is_file()
        assert (results / m / f"metrics_{m}.csv").is_file()
    logs = list((results / "jobs").rglob("*_log.out"))
    assert len(logs) == 3
    table = pd.read_csv(results / "Evaluate" / "metrics_comparison.csv", index_col=0)
    assert list(table.index) == ["A", "B", "GRAY"]


def test_run_all_trains_each_configuration_over_two_processes(tmp_path, run_all):
    """--nproc-per-node 2: the template notebook trains through torchrun (2 ranks, gloo here),
    evaluates in its own process, and the evaluation notebook reads the result as usual."""
    done = run_all("--nproc-per-node", "2", "--models", "A,GRAY")
    error = tmp_path / "results" / "A" / "error.txt"  # torchrun's own output, when it failed
    assert done.returncode == 0, done.stdout + (error.read_text() if error.exists() else "")
    record = pd.read_json(tmp_path / "results" / "A" / "run.json", typ="series")
    assert record["world_size"] == 2 and record["status"] == "complete"
    assert "evaluation" in record
    table = pd.read_csv(tmp_path / "results" / "Evaluate" / "metrics_comparison.csv", index_col=0)
    assert list(table.index) == ["A", "GRAY"]


def test_changed_photos_never_give_stale_results(tmp_path, sample, cli):
    """Issue 31, item 3: a test photo replaced after a study: its rerun evaluates every run
    again (the tables hold today's photos); a training photo replaced: the rerun refuses that
    configuration in one line (what changed, how to start over), and so does train --resume."""
    import shutil

    from PIL import Image

    photos = tmp_path / "photos"
    for split in ("train", "val", "test"):
        shutil.copytree(sample / split, photos / split)
    roots = ["--models-dir", tmp_path / "models", "--results-dir", tmp_path / "results"]
    study = ["--profile", "smoke", "--data", photos, "--models", "A,GRAY", *roots]
    first = cli.run_all(*study)
    assert first.returncode == 0, first.stdout + first.stderr
    metrics = tmp_path / "results" / "GRAY" / "metrics_per_image_GRAY.csv"
    before = pd.read_csv(metrics)
    test_photo = photos / "test" / before["image"][0]
    Image.open(test_photo).transpose(Image.Transpose.ROTATE_90).save(test_photo)
    again = cli.run_all(*study)
    assert again.returncode == 0, again.stdout + again.stderr
    assert again.stdout.count("test photos changed since it was evaluated") == 2  # A, GRAY
    after = pd.read_csv(metrics)
    assert list(after["image"]) == list(before["image"])
    assert not after.drop(columns="inference_ms").equals(before.drop(columns="inference_ms"))
    train_photo = sorted((photos / "train").iterdir())[0]
    Image.open(train_photo).transpose(Image.Transpose.FLIP_LEFT_RIGHT).save(train_photo)
    third = cli.run_all(*study)
    assert third.returncode == 1
    assert "A: FAILED (its training photos changed since it was trained" in third.stdout
    split = tmp_path / "results" / "validation_split.json"  # the study's, that the run used
    resumed = cli("train", "--model", "A", "--profile", "smoke", "--data", photos, "--resume",
                  "--set", f"models_dir={tmp_path / 'models'}",
                  "--set", f"results_dir={tmp_path / 'results'}",
                  "--set", f"split_file={split}")  # fmt: skip
    assert resumed.returncode == 2 and "Traceback" not in resumed.stderr
    assert "training photos of A changed since this run started" in resumed.stderr
