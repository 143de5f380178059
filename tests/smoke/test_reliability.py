"""Nothing lost, nothing mixed, as a user meets it: the CLI in subprocesses, real files."""

import contextlib
import json
import os
import shutil
import signal
import subprocess
import time
from pathlib import Path

import pandas as pd
import pytest
import torch

from colorlib.checkpoints import load_checkpoint
from colorlib.paths import project_root
from colorlib.runs import HOLDER_FILE


def _wait_for(path: Path, seconds: float = 120) -> None:
    deadline = time.time() + seconds
    while not path.exists() and time.time() < deadline:
        time.sleep(0.05)


def _one_line_error(done):
    assert done.returncode == 2, done.stdout + done.stderr
    assert "Traceback" not in done.stderr
    lines = [line for line in done.stderr.splitlines() if line.startswith("error: ")]
    assert len(lines) == 1, done.stderr
    return lines[0]


@pytest.fixture(scope="module")
def trained(smoke_study):
    """Model A of the session's smoke study (its run paths; read, never written)."""
    return smoke_study.paths.run("A")


def test_colorize_leaves_originals_untouched_and_never_overwrites(tmp_path, trained, sample, cli):
    photos = tmp_path / "photos"
    photos.mkdir()
    for name in sorted(os.listdir(sample / "test"))[:2]:
        shutil.copy(sample / "test" / name, photos / name)
    before = {p.name: p.read_bytes() for p in photos.iterdir()}
    inputs = sorted(photos.iterdir())
    ckpt = ["--checkpoint", trained.best, "--device", "cpu"]

    line = _one_line_error(cli("colorize", *inputs, "--out", photos, *ckpt))
    assert "does not write beside its inputs" in line
    assert {p.name: p.read_bytes() for p in photos.iterdir()} == before  # originals untouched

    done = cli("colorize", photos, "--out", tmp_path / "out", *ckpt)  # a folder as input
    assert done.returncode == 0, done.stderr
    assert "colorized 2 image(s)" in done.stdout
    written = [p.name for p in (tmp_path / "out").iterdir() if p.name != ".colorlib.lock"]
    assert sorted(written) == sorted(before)  # and the folder's lock file (colorize holds it)
    line = _one_line_error(cli("colorize", *inputs, "--out", tmp_path / "out", *ckpt))
    assert "--overwrite" in line
    done = cli("colorize", *inputs, "--out", tmp_path / "out", "--overwrite", *ckpt)
    assert done.returncode == 0 and "colorized 2 image(s)" in done.stdout


def test_two_trainings_of_one_folder_exactly_one_runs(tmp_path, sample, cli):
    args = ["train", "--model", "B", "--profile", "smoke", "--data", "sample", "--quiet"]
    args += ["--device", "cpu", "--set", "epochs=6", "--set", "max_train_images=48"]
    first = cli.start(*args, *cli.roots(tmp_path))
    holder = tmp_path / "models" / "B" / HOLDER_FILE
    _wait_for(holder)
    assert holder.exists(), "the first training never took its folder"
    second = cli(*args, "--set", "seed=7", *cli.roots(tmp_path))
    line = _one_line_error(second)
    assert "is in use: training B by pid" in line and str(first.pid) in line
    out, err = first.communicate(timeout=600)
    assert first.returncode == 0, err
    state = load_checkpoint(tmp_path / "models" / "B" / "training_state.pt")
    assert state["epoch"] == 6 and state["config"].seed == 42  # all of it from the first run
    assert not holder.exists()


def test_a_killed_runs_lock_is_taken_over_by_its_resume(tmp_path, sample, cli):
    args = ["train", "--model", "A", "--profile", "smoke", "--data", "sample", "--quiet"]
    args += ["--device", "cpu", "--set", "epochs=30", "--set", "max_train_images=48"]
    victim = cli.start(*args, *cli.roots(tmp_path))
    state = tmp_path / "models" / "A" / "training_state.pt"
    _wait_for(state)
    os.kill(victim.pid, signal.SIGKILL)
    victim.wait()
    assert (tmp_path / "models" / "A" / HOLDER_FILE).exists()  # stale: its holder is dead
    done = cli(*args, "--resume", *cli.roots(tmp_path))
    assert done.returncode == 0, done.stderr
    assert load_checkpoint(state)["epoch"] == 30


def _poisoned_copy(src: Path, dst: Path, poison) -> Path:
    blob = torch.load(src, weights_only=True)
    poison(blob)
    dst.parent.mkdir(parents=True, exist_ok=True)
    torch.save(blob, dst)
    return dst


def _nan_weight(blob):
    name = next(iter(blob["generator"]))
    blob["generator"][name] = torch.full_like(blob["generator"][name], float("nan"))


def _inf_adam_moment(blob):
    blob["opt_G"]["state"][0]["exp_avg_sq"][0] = float("inf")


def test_nan_checkpoints_are_refused_by_colorize_evaluate_and_resume(
    tmp_path, trained, sample, cli
):
    bad = tmp_path / "run"
    shutil.copytree(trained.models, bad / "models" / "A")
    _poisoned_copy(trained.best, bad / "models" / "A" / "best_model.pt", _nan_weight)
    _poisoned_copy(trained.state, bad / "models" / "A" / "training_state.pt", _inf_adam_moment)
    photo = sorted((sample / "test").iterdir())[0]
    best = bad / "models" / "A" / "best_model.pt"
    line = _one_line_error(cli("colorize", photo, "--checkpoint", best, "--out", tmp_path))
    assert "best_model.pt holds non-finite values" in line
    line = _one_line_error(cli("evaluate", "--model", "A", *cli.roots(bad)))
    assert "best_model.pt holds non-finite values" in line
    assert not (bad / "results" / "A" / "metrics_A.csv").exists()
    train_args = ["train", "--model", "A", "--profile", "smoke", "--data", "sample", "--resume"]
    line = _one_line_error(cli(*train_args, *cli.roots(bad)))
    assert "training_state.pt holds non-finite values (NaN or inf) in opt_G['state'][0]" in line


def test_zero_byte_checkpoints_get_one_line(tmp_path, sample, cli):
    (tmp_path / "models" / "A").mkdir(parents=True)
    for name in ("best_model.pt", "training_state.pt"):
        (tmp_path / "models" / "A" / name).write_bytes(b"")
    empty = tmp_path / "models" / "A" / "best_model.pt"
    photo = sorted((sample / "test").iterdir())[0]
    for args in (
        ["colorize", photo, "--checkpoint", empty, "--out", tmp_path / "out"],
        ["evaluate", "--model", "A", *cli.roots(tmp_path)],
        ["train", "--model", "A", "--profile", "smoke", "--data", "sample", "--resume"]
        + cli.roots(tmp_path),
    ):
        assert "is empty (0 bytes)" in _one_line_error(cli(*args))


def test_names_that_are_not_utf8_train_and_evaluate(tmp_path, sample, cli):
    data = tmp_path / "data"
    for split, n in (("train", 12), ("val", 4), ("test", 4)):
        (data / split).mkdir(parents=True)
        for i, name in enumerate(sorted(os.listdir(sample / split))[:n]):
            target = name if i else os.fsdecode(b"\xe9t\xe9_" + name.encode())  # Latin-1 bytes
            shutil.copy(sample / split / name, data / split / target)
    args = ["--model", "A", "--profile", "smoke", "--data", data, "--device", "cpu"]
    done = cli("train", *args, "--quiet", *cli.roots(tmp_path))
    assert done.returncode == 0, done.stderr
    assert "A: 2 epochs, best val L1" in done.stdout  # the train command's summary line
    done = cli("evaluate", *args, *cli.roots(tmp_path))
    assert done.returncode == 0, done.stderr
    per_image = pd.read_csv(tmp_path / "results" / "A" / "metrics_per_image_A.csv")
    assert len(per_image) == 4 and per_image["image"].str.startswith("\\xet\\xe9_").sum() == 0
    assert per_image["image"].str.startswith("\\xe9t\\xe9_").sum() == 1


def test_a_missing_test_split_is_found_before_training(tmp_path, sample, cli):
    data = tmp_path / "data"
    data.mkdir()
    for split in ("train", "val"):
        (data / split).symlink_to(sample / split, target_is_directory=True)
    done = cli(
        "train", "--model", "A", "--profile", "smoke", "--data", data, *cli.roots(tmp_path)
    )
    assert "no split 'test'" in _one_line_error(done)
    assert not (tmp_path / "models" / "A" / "training_state.pt").exists()


def test_resume_accepts_the_same_data_folder_written_another_way(tmp_path, sample, cli):
    data = tmp_path / "data"
    shutil.copytree(sample, data)
    base = ["train", "--model", "A", "--profile", "smoke", "--device", "cpu", "--quiet"]
    done = cli(*base, "--data", data, "--set", "epochs=1", *cli.roots(tmp_path))
    assert done.returncode == 0, done.stderr
    relative = os.path.relpath(data, project_root())
    done = cli(*base, "--data", relative, "--resume", *cli.roots(tmp_path))
    assert done.returncode == 2 and "(epochs: " in done.stderr  # not data_dir
    done = cli(*base, "--data", relative, "--set", "epochs=1", "--resume", *cli.roots(tmp_path))
    assert done.returncode == 0, done.stderr


@contextlib.contextmanager
def _tmpfs(mount: Path, size: str):
    """A tmpfs of ``size`` at ``mount``: a disk that fills up for real."""
    mount.mkdir()
    done = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", f"size={size}", "tmpfs", str(mount)], capture_output=True
    )
    if done.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here: {done.stderr.decode().strip()}")
    try:
        yield mount
    finally:
        subprocess.run(["umount", str(mount)], check=False)


@pytest.fixture
def small_disk(tmp_path):
    """A 7 MiB tmpfs: the smoke model's first epoch fits (about 5.3 MiB), the second does not."""
    with _tmpfs(tmp_path / "disk", "7m") as mount:
        yield mount


def test_a_full_disk_under_the_decode_cache_is_one_line(tmp_path, cli):
    """Issue 31, item 6: the memory-mapped cache is allocated before it is written, so a full
    disk is one named line (it was a SIGBUS, exit 135, and a temp .npy left behind)."""
    with _tmpfs(tmp_path / "disk", "16k") as disk:  # four pages: less than any set of photos
        done = cli("train", "--model", "A", "--profile", "smoke", "--data", "sample", "--quiet",
                   *cli.roots(tmp_path), "--set", f"cache_dir={disk}")  # fmt: skip
        line = _one_line_error(done)
        assert line.startswith(f"error: disk full while writing {disk}/") and ".npy" in line
        assert list(disk.iterdir()) == []  # the temp file removed


def test_a_full_disk_during_evaluation_leaves_the_run_incomplete(tmp_path, cli):
    """Issue 31, item 6: an evaluation into an existing run that stops part way (disk full)
    leaves no record of an evaluation beside the files it replaced: the run is not complete
    (a study evaluates it again) until an evaluation writes every file, its record last."""
    with _tmpfs(tmp_path / "disk", "2m") as disk:
        args = ["evaluate", "--model", "GRAY", "--profile", "smoke", "--data", "sample",
                *cli.roots(tmp_path), "--set", f"results_dir={disk}"]  # fmt: skip
        assert cli(*args).returncode == 0
        record = disk / "GRAY" / "run.json"
        assert "evaluation" in json.loads(record.read_text())
        # room for the record and the CSVs (a page or two each), not for the figure (54 KB)
        free = os.statvfs(disk)
        (disk / "filler").write_bytes(bytes(free.f_bavail * free.f_frsize - 16 * 1024))
        line = _one_line_error(cli(*args))
        assert line.startswith(f"error: disk full while writing {disk}/GRAY/")
        assert "evaluation" not in json.loads(record.read_text())
        assert not [p for p in (disk / "GRAY").iterdir() if p.name.endswith(".tmp")]
        (disk / "filler").unlink()
        assert cli(*args).returncode == 0
        assert "evaluation" in json.loads(record.read_text())


def test_disk_full_is_one_line_and_leaves_a_resumable_state(tmp_path, small_disk, sample, cli):
    args = ["train", "--model", "A", "--profile", "smoke", "--data", "sample", "--quiet"]
    args += ["--device", "cpu", "--set", f"models_dir={small_disk}"]
    args += ["--set", f"results_dir={tmp_path}/results", "--set", f"cache_dir={tmp_path}/c"]
    line = _one_line_error(cli(*args))
    assert line.startswith(f"error: disk full while writing {small_disk}/A/")
    assert "--resume" in line
    state = load_checkpoint(small_disk / "A" / "training_state.pt")
    assert state["epoch"] == 1  # the last saved state is whole
    assert not [p for p in (small_disk / "A").iterdir() if p.name.endswith(".tmp")]
    subprocess.run(["mount", "-o", "remount,size=64m", str(small_disk)], check=True)
    done = cli(*args, "--resume")
    assert done.returncode == 0, done.stderr
    assert load_checkpoint(small_disk / "A" / "training_state.pt")["epoch"] == 2


def test_a_checkpoint_is_bound_to_its_run(tmp_path, smoke_study, sample, cli):
    """One model's metrics never land under another's name: the checkpoint's model and its
    "what" fields must match the run it is evaluated under, with or without --profile; a
    model colorlib does not define and a state dict that does not fit are refused, naming
    the model or the keys; the earlier results stay."""
    roots = cli.roots(tmp_path)
    smoke = ["--profile", "smoke", "--data", "sample", "--device", "cpu", *roots]
    b_best = smoke_study.paths.run("B").best
    line = _one_line_error(cli("evaluate", "--model", "A", "--checkpoint", b_best, *smoke))
    assert f"{b_best} holds model B, not A" in line
    line = _one_line_error(cli("evaluate", "--model", "A", "--checkpoint", b_best, *roots))
    assert "holds model B, not A" in line  # the same rule without --profile
    assert not list((tmp_path / "results").rglob("metrics_*.csv"))  # nothing scored

    blob = torch.load(b_best, weights_only=True)
    blob["config"]["model_id"] = "ZZZ"
    torch.save(blob, tmp_path / "zzz.pt")
    colorize = ["colorize", sample / "test", "--out", tmp_path / "out", "--checkpoint"]
    for command in (
        ["evaluate", "--model", "B", "--checkpoint", tmp_path / "zzz.pt", *smoke],
        [*colorize, tmp_path / "zzz.pt"],
    ):
        assert "holds model 'ZZZ', which this colorlib does not define" in _one_line_error(
            cli(*command)
        )
    blob = torch.load(b_best, weights_only=True)
    first = next(iter(blob["generator"]))
    blob["generator"]["extra.weight"] = blob["generator"].pop(first)
    torch.save(blob, tmp_path / "cut.pt")
    line = _one_line_error(cli(*colorize, tmp_path / "cut.pt"))
    assert f"missing keys: {first}" in line and "unexpected keys: extra.weight" in line
    assert not (tmp_path / "out").exists()

    # B's own run (its own config: no --profile), then B with another loss weight
    shutil.copytree(smoke_study.paths.run("B").models, tmp_path / "models" / "B")
    own = ["--device", "cpu", *roots]
    done = cli("evaluate", "--model", "B", *own)
    assert done.returncode == 0, done.stderr
    metrics = tmp_path / "results" / "B" / "metrics_B.csv"
    before = metrics.read_bytes()
    line = _one_line_error(cli("evaluate", "--model", "B", *own, "--set", "lambda_l1=10"))
    assert "was trained with another configuration of B" in line and "lambda_l1=100.0" in line
    assert metrics.read_bytes() == before


@pytest.fixture
def read_only(tmp_path):
    """A folder no command can write: a read-only bind mount (root, as CI runs), else a
    folder without write permission; skipped where neither holds."""
    folder = tmp_path / "read_only"
    folder.mkdir()
    mounted = False
    if os.geteuid() == 0:
        source = tmp_path / "source"
        source.mkdir()
        bind = subprocess.run(
            ["mount", "--bind", "-o", "ro", str(source), str(folder)], capture_output=True
        )
        mounted = bind.returncode == 0
    else:
        folder.chmod(0o555)
    try:
        (folder / "probe").write_bytes(b"")
    except OSError:
        pass
    else:
        pytest.skip("cannot make a read-only folder here (root without mount permission)")
    yield folder
    if mounted:
        subprocess.run(["umount", str(folder)], check=True)
    folder.chmod(0o755)


def test_a_read_only_output_folder_is_one_line(tmp_path, read_only, trained, sample, cli):
    """--results-dir on a read-only mount: train, colorize --out and run_all each say which
    folder they cannot write, in one line, exit 2."""
    roots = [
        "--set", f"models_dir={read_only / 'models'}",
        "--set", f"results_dir={read_only / 'results'}",
        "--set", f"cache_dir={tmp_path / 'cache'}",
    ]  # fmt: skip
    line = _one_line_error(
        cli("train", "--model", "A", "--profile", "smoke", "--data", "sample", *roots)
    )
    assert line.startswith(f"error: cannot write {read_only}/"), line
    photo = sorted((sample / "test").iterdir())[0]
    out = read_only / "out"
    line = _one_line_error(cli("colorize", photo, "--out", out, "--checkpoint", trained.best))
    assert line.startswith(f"error: cannot write {read_only}/"), line
    done = cli.run_all(
        "--profile", "smoke", "--data", "sample", "--models", "GRAY",
        "--results-dir", read_only / "results", "--models-dir", read_only / "models",
        "--cache-dir", tmp_path / "cache",
    )  # fmt: skip
    line = _one_line_error(done)
    assert line.startswith(f"error: cannot write {read_only}/"), line


def test_a_checkpoint_never_decides_where_evaluate_writes(tmp_path, trained, cli):
    """Issue 31, item 5: a checkpoint whose config names other output and cache roots: evaluate
    writes where the user says (--set), or under the working directory by default, never there."""
    elsewhere = tmp_path / "elsewhere"

    def moved(blob):
        for key in ("models_dir", "results_dir", "cache_dir"):
            blob["config"][key] = str(elsewhere / key)

    checkpoint = _poisoned_copy(trained.best, tmp_path / "given" / "A.pt", moved)
    mine = tmp_path / "mine"
    done = cli("evaluate", "--model", "A", "--checkpoint", checkpoint, *cli.roots(mine))
    assert done.returncode == 0, done.stderr
    assert (mine / "results" / "A" / "metrics_A.csv").exists() and (mine / "cache").is_dir()
    work = tmp_path / "work"
    work.mkdir()
    done = cli("evaluate", "--model", "A", "--checkpoint", checkpoint, cwd=work)
    assert done.returncode == 0, done.stderr
    assert (work / "results" / "A" / "metrics_A.csv").exists()
    assert not elsewhere.exists()


def test_only_regular_files_are_photos(tmp_path, trained, sample, cli):
    """Issue 31, item 7: a symbolic link to a FIFO among the photos (reading one waits
    forever) is one counted failure in colorize and one counted skip in training."""
    photos = tmp_path / "photos"
    for split in ("train", "val", "test"):
        shutil.copytree(sample / split, photos / split)
    fifo = tmp_path / "pipe"
    os.mkfifo(fifo)
    for split in ("train", "test"):  # first in order: the smoke profile trains on 16
        (photos / split / "0_pipe.jpg").symlink_to(fifo)
    done = cli("colorize", photos / "test", "--out", tmp_path / "out", "--checkpoint",
               trained.best, "--device", "cpu", timeout=300)  # fmt: skip
    assert done.returncode == 1 and "Traceback" not in done.stderr
    assert "0_pipe.jpg: not a regular file" in done.stderr
    assert "(1 failed)" in done.stdout
    done = cli("train", "--model", "A", "--profile", "smoke", "--data", photos, "--quiet",
               *cli.roots(tmp_path), timeout=600)  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert "1 not_a_file" in done.stderr  # the decoder's count of skipped files


@pytest.mark.parametrize(
    "poison, problem",
    [
        (lambda g, k: g.__setitem__(k, torch.zeros(1).expand(2_000_000_000)),
         "a view of 2,000,000,000 elements on 4 bytes"),
        (lambda g, k: g.__setitem__(k, g[k].to(torch.complex64)), "complex values"),
    ],
    ids=["expanded-view", "complex"],
)  # fmt: skip
def test_weights_no_checkpoint_holds_are_refused_before_use(tmp_path, trained, cli, poison,
                                                            problem):  # fmt: skip
    """Issue 31, items 7 and 10: a 2e9-element expanded view (a few bytes on disk, gigabytes
    when walked) and complex weights are refused by name, at once."""

    def poisoned(blob):
        poison(blob["generator"], next(iter(blob["generator"])))

    bad = _poisoned_copy(trained.best, tmp_path / "bad.pt", poisoned)
    done = cli("colorize", trained.best.parent, "--out", tmp_path / "out", "--checkpoint", bad)
    line = _one_line_error(done)
    assert f"holds {problem}" in line and "generator[" in line


def test_names_and_sizes_that_once_broke_the_pipeline(tmp_path, trained, sample, cli):
    """Issue 31, item 8: test photos named with $...$ (matplotlib's maths) are evaluated and
    drawn as written; in colorize, a name near the file system's limit is written and a PNG
    wider than JPEG allows, named .jpg, is one counted failure: the others are written."""
    import numpy as np
    from PIL import Image

    photos = tmp_path / "photos"
    for split in ("train", "val", "test"):
        shutil.copytree(sample / split, photos / split)
    tests = sorted((photos / "test").iterdir())
    # names that sort first: the smoke profile evaluates the first four test photos
    tests[0].rename(tests[0].with_name("a$\\bogus$b.png"))
    tests[1].rename(tests[1].with_name("b$y$z.png"))
    done = cli("evaluate", "--model", "GRAY", "--profile", "smoke", "--data", photos,
               *cli.roots(tmp_path))  # fmt: skip
    assert done.returncode == 0, done.stderr
    names = pd.read_csv(tmp_path / "results" / "GRAY" / "metrics_per_image_GRAY.csv")["image"]
    assert {"a$\\bogus$b.png", "b$y$z.png"} <= set(names)
    inputs = tmp_path / "inputs"
    inputs.mkdir()
    rng = np.random.default_rng(0)
    long_name = "n" * 240 + ".jpg"  # 244 bytes: its temporary name used to be 262
    Image.fromarray(rng.integers(0, 256, (40, 60, 3), dtype=np.uint8)).save(inputs / long_name)
    Image.fromarray(rng.integers(0, 256, (2, 66_000, 3), dtype=np.uint8)).save(
        inputs / "wide.png"
    )
    (inputs / "wide.png").rename(inputs / "wide.jpg")  # a PNG named .jpg: the output is JPEG
    shutil.copy(tests[2], inputs / "photo.png")
    done = cli("colorize", inputs, "--out", tmp_path / "out", "--checkpoint", trained.best,
               "--device", "cpu")  # fmt: skip
    assert done.returncode == 1 and "Traceback" not in done.stderr
    assert "(1 failed)" in done.stdout and "larger than JPEG allows" in done.stderr
    assert sorted(p.name for p in (tmp_path / "out").iterdir() if not p.name.startswith(".")) \
        == sorted([long_name, "photo.png"])  # fmt: skip


def test_running_from_the_folder_above_a_clone(tmp_path, cli):
    """Issue 31, item 9: from the folder that holds a clone named ``colorlib/`` (what ``git
    clone`` makes), the clone itself was imported as a namespace package ``colorlib`` and its
    ``data/`` folder as ``colorlib.data`` (ImportError). The editable install puts the project
    folder on ``sys.path`` (pyproject's ``package-dir``), where the regular package wins."""
    (tmp_path / "colorlib").symlink_to(project_root(), target_is_directory=True)  # the clone
    roots = ["--models-dir", tmp_path / "models", "--results-dir", tmp_path / "results"]
    train = cli("train", "--model", "A", "--profile", "smoke", "--data", "sample", "--quiet",
                "--set", "epochs=1", *cli.roots(tmp_path), cwd=tmp_path)  # fmt: skip
    assert train.returncode == 0, train.stderr
    study = cli.run(
        [cli.PYTHON, "colorlib/run_all.py", "--profile", "smoke", "--data", "sample",
         "--models", "GRAY", *map(str, roots)], cwd=tmp_path,
    )  # fmt: skip
    assert study.returncode == 0, study.stdout + study.stderr
    assert (tmp_path / "results" / "GRAY" / "metrics_GRAY.csv").is_file()


def test_a_damaged_run_record_is_named(tmp_path, cli):
    """Issue 31, item 10: a run.json cut short or edited into something else stopped the study
    with a JSONDecodeError traceback ("a bug"); now one line names it and says what to do."""
    roots = ["--models-dir", tmp_path / "models", "--results-dir", tmp_path / "results"]
    study = ["--profile", "smoke", "--data", "sample", "--models", "GRAY", *roots]
    assert cli.run_all(*study).returncode == 0
    record = tmp_path / "results" / "GRAY" / "run.json"
    for damaged in (record.read_bytes()[:40], b"[1, 2]", b"\xff\xfe"):
        record.write_bytes(damaged)
        done = cli.run_all(*study)
        assert done.returncode == 2 and "Traceback" not in done.stderr, done.stderr
        assert f"error: {record} is damaged" in done.stderr and "delete it" in done.stderr


def test_a_full_disk_under_colorize_says_how_to_go_on(tmp_path, cli, sample):
    """Issue 31, item 11: colorize's disk-full line said "rerun", which was then refused because
    the outputs written before exist; it now says --overwrite, and that rerun completes."""
    photos = sorted((sample / "test").iterdir())[:30]
    checkpoint = tmp_path / "models" / "A" / "best_model.pt"
    train = cli("train", "--model", "A", "--profile", "smoke", "--data", "sample", "--quiet",
                "--set", "epochs=1", *cli.roots(tmp_path))  # fmt: skip
    assert train.returncode == 0, train.stderr
    with _tmpfs(tmp_path / "disk", "64k") as disk:
        args = ["colorize", "--checkpoint", checkpoint, "--out", disk / "out", "--device", "cpu"]
        line = _one_line_error(cli(*args, *photos))
        assert line.startswith(f"error: disk full while writing {disk}/out/")
        assert "colorize: with --overwrite" in line
        subprocess.run(["mount", "-o", "remount,size=16m", str(disk)], check=True)
        done = cli(*args, "--overwrite", *photos)
        assert done.returncode == 0, done.stderr
        assert len([p for p in (disk / "out").iterdir() if p.suffix == ".png"]) == 30
