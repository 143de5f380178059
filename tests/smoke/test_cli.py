"""The one command line, run as a user would: a subprocess per command, on the embedded sample."""

import os
import shutil
import stat
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest

from colorlib.paths import project_root
from colorlib.runs import StudyPaths


def test_data_download_without_credentials_says_where_the_token_goes(tmp_path, cli):
    env = {k: v for k, v in os.environ.items() if not k.startswith("KAGGLE_")}
    env["HOME"] = str(tmp_path)
    done = cli("data", "download", "--out", str(tmp_path / "kaggle"), env=env)
    assert done.returncode == 2, done.stdout + done.stderr
    assert f"{tmp_path}/.kaggle/kaggle.json" in done.stderr
    assert "Traceback" not in done.stderr
    assert not (tmp_path / "kaggle").exists()


def test_evaluate_with_the_runs_own_config(tmp_path, cli, smoke_study):
    """A copy of the smoke study's model A (trained through the template notebook, which
    calls the same ``train`` as the CLI's train command; several tests here run that command)."""
    roots = cli.roots(tmp_path)
    shutil.copytree(smoke_study.paths.run("A").models, tmp_path / "models" / "A")
    # no --profile: evaluate reads how the run was trained from its checkpoint (32², ngf 8);
    # the full-profile default would fail ("built for 32x32 input; got (256, 256)")
    done = cli("evaluate", "--model", "A", "--device", "cpu", *roots)
    assert done.returncode == 0, done.stderr
    run = StudyPaths(tmp_path / "results", tmp_path / "models").run("A")
    metrics = pd.read_csv(run.metrics_csv)
    assert metrics.loc[0, "n_images"] == 4
    # a profile given explicitly is what the user asked for: the mismatch is an error
    done = cli("evaluate", "--model", "A", "--profile", "cpu", "--data", "sample", *roots)
    assert done.returncode == 2 and "Traceback" not in done.stderr, done.stderr
    assert "trained at image_size=32 (the smoke profile), not 64" in done.stderr


@pytest.mark.parametrize("model_id", ["A_VGG", "CLS"])
def test_train_evaluate_colorize_the_extended_group(tmp_path, cli, smoke_study, model_id):
    """The issue's commands: train (CLS here; A_VGG's run is a copy of the smoke study's, which
    the template notebook trained through the same ``train``), evaluate and colorize; the
    checkpoint names its generator and head, every command rebuilds it, and the
    classification run records its prior, cached beside the decode cache."""
    roots = cli.roots(tmp_path)
    if model_id == "CLS":
        done = cli("train", "--model", model_id, "--profile", "smoke", "--data", "sample",
                   "--quiet", "--device", "cpu", *roots)  # fmt: skip
        assert done.returncode == 0, done.stderr
    else:
        for part in ("models", "results"):
            source = getattr(smoke_study.paths.run(model_id), part)
            shutil.copytree(source, tmp_path / part / model_id)
    done = cli("evaluate", "--model", model_id, "--device", "cpu", *roots)
    assert done.returncode == 0, done.stderr
    assert model_id in done.stdout and "delta_cf" in done.stdout
    run = StudyPaths(tmp_path / "results", tmp_path / "models").run(model_id)
    record = __import__("json").loads(run.run_json.read_text())
    assert record["config"]["generator"] == ("vgg16_unet" if model_id == "A_VGG" else "unet")
    if model_id == "CLS":
        classes = record["ab_classes"]
        assert (
            classes["bins"] == 261 and (tmp_path / "cache") in Path(classes["prior_file"]).parents
        )
        assert Path(classes["prior_file"]).is_file()
        assert {"classification"} <= set(pd.read_csv(run.history_csv).columns)
    else:
        assert "vgg16_encoder" in record["pretrained_weights"]
    photos = tmp_path / "photos"
    photos.mkdir()
    shutil.copy(project_root() / "data" / "sample" / "test" / "coffee_000.png", photos)
    done = cli("colorize", "--checkpoint", run.best, "--out", tmp_path / "out", photos)
    assert done.returncode == 0, done.stderr
    assert (tmp_path / "out" / "coffee_000.png").is_file()


# the default umask (022 here) is checked on every file of the session's smoke study
@pytest.mark.parametrize("umask", [0o002])
def test_files_a_run_writes_get_the_usual_permissions(tmp_path, umask):
    """Results, checkpoints, figures and records: 0666 & ~umask, as any program's files."""
    code = (
        f"import os, sys; os.umask({umask}); from colorlib.cli import main; "
        "sys.exit(main(sys.argv[1:]))"
    )
    common = [
        "--model", "A", "--profile", "smoke", "--data", "sample", "--device", "cpu",
        "--set", f"models_dir={tmp_path}/models", "--set", f"results_dir={tmp_path}/results",
        "--set", f"cache_dir={tmp_path}/cache",
    ]  # fmt: skip
    for command in (["train", "--quiet"], ["evaluate"]):
        done = subprocess.run(
            [sys.executable, "-c", code, command[0], *common, *command[1:]],
            capture_output=True,
            text=True,
            cwd=project_root(),
        )
        assert done.returncode == 0, done.stderr
    files = [p for p in tmp_path.rglob("*") if p.is_file()]
    assert len(files) > 10
    wrong = {
        str(p.relative_to(tmp_path)): oct(stat.S_IMODE(p.stat().st_mode))
        for p in files
        if stat.S_IMODE(p.stat().st_mode) != 0o666 & ~umask
    }
    assert not wrong


def test_anticipated_errors_are_one_line_and_internal_errors_are_bugs(tmp_path, cli):
    """Whose fault it is decides what the user sees. An anticipated failure (a ColorlibError:
    here an unknown config key and a missing checkpoint) is one line and exit 2; an internal
    error, injected into a real run of the CLI (pandas failing inside ``presets``), keeps its
    traceback, says it is a bug and exits 1 — though it is a TypeError, which the CLI once
    turned into a one-line "user error"."""
    missing = ["evaluate", "--model", "A", "--set", f"models_dir={tmp_path}"]
    for args in (["train", "--model", "A", "--profile", "smoke", "--set", "epochz=1"], missing):
        done = cli(*args)
        assert done.returncode == 2, done.stderr
        assert "Traceback" not in done.stderr and "bug" not in done.stderr
        assert len([x for x in done.stderr.splitlines() if x.startswith("error: ")]) == 1
    assert f"error: checkpoint {tmp_path}/A/best_model.pt does not exist" in done.stderr
    verbose = cli("-v", *missing)  # -v: the traceback first, for debugging; still exit 2
    assert verbose.returncode == 2 and "Traceback" in verbose.stderr
    assert f"error: checkpoint {tmp_path}/A/best_model.pt does not exist" in verbose.stderr

    inject = (
        "import sys, pandas\n"
        "def broken(self, *a, **k):\n"
        "    raise TypeError('injected: an internal error, not the user\\'s')\n"
        "pandas.DataFrame.to_string = broken\n"
        "from colorlib.cli import main\n"
        "sys.exit(main(sys.argv[1:]))\n"
    )
    done = cli.run([cli.PYTHON, "-c", inject, "presets"])
    assert done.returncode == 1, done.stdout + done.stderr
    assert "Traceback (most recent call last)" in done.stderr
    assert "TypeError: injected: an internal error" in done.stderr
    assert "this is a bug in colorlib" in done.stderr and "presets" in done.stderr
    assert not any(line.startswith("error: ") for line in done.stderr.splitlines())


@pytest.mark.parametrize(
    "args, says",
    [
        (["--set", "model_id=B"], "model_id is not an override"),
        (["--device", "foo"], "device must be auto, cpu, mps, cuda or cuda:N"),
        (["--set", "device=cuda:x"], "device must be auto, cpu, mps, cuda or cuda:N"),
        (["--set", "backbone=xyz"], "backbone must be one of"),
        (["--set", "models_dir="], "'models_dir' is empty"),
        (["--set", "cache_dir= "], "'cache_dir' is empty"),
        (["--set", "train_splits="], "'train_splits' is empty"),
        (["--set", "split_file=FILE"], "is not a validation split"),
        (["--set", "results_dir=FILE"], "it is a file (or under one) where colorlib needs"),
    ],
    ids=lambda v: v if isinstance(v, str) else " ".join(v),
)
def test_round_three_values_are_one_line(tmp_path, cli, args, says):
    """Issue 31, items 10 and 11: values that printed a traceback ('a bug in colorlib') or
    silently meant the working directory are refused in one line, exit 2."""
    a_file = tmp_path / "a_file"
    a_file.write_text("not JSON, not a folder")
    args = [a.replace("FILE", str(a_file)) for a in args]
    done = cli("train", "--model", "A", "--profile", "smoke", "--data", "sample",
               *cli.roots(tmp_path), *args)  # fmt: skip
    assert done.returncode == 2 and "Traceback" not in done.stderr, done.stderr
    lines = [line for line in done.stderr.splitlines() if line.startswith("error: ")]
    assert len(lines) == 1 and says in lines[0], done.stderr


@pytest.mark.parametrize(
    "args",
    [
        ["colorize", "--checkpoint", "x.pt", "--out", "", "photo.jpg"],
        ["colorize", "--checkpoint", "x.pt", "--out", "out", ""],
        ["export", "--checkpoint", "", "--out", "x.onnx"],
        ["evaluate", "--model", "A", "--checkpoint", " "],
        ["data", "split", "--out", ""],
        ["study", "--results-dir", ""],
    ],
    ids=lambda v: " ".join(v),
)
def test_empty_paths_on_the_command_line_are_refused(tmp_path, cli, args):
    """Issue 31, item 11: `colorize --out ''` silently wrote into the working directory; every
    path argument that is empty is now refused by name, before anything runs."""
    done = cli(*args, cwd=tmp_path)
    assert done.returncode == 2 and "Traceback" not in done.stderr, done.stderr
    assert ": is empty, which would silently mean the working directory" in done.stderr
    assert list(tmp_path.iterdir()) == []  # nothing written where it would have gone
