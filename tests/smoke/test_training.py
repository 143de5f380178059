"""Smoke tier: real (tiny) training runs on the embedded sample photos into tmp_path."""

import os
import signal
import subprocess
import time
import traceback
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import torch

from colorlib import losses, training
from colorlib.checkpoints import load_checkpoint, load_generator
from colorlib.config import PRESETS
from colorlib.evaluation import evaluate
from colorlib.runs import RunPaths, read_record, saved_config
from colorlib.training import NonFiniteLossError, train


@pytest.mark.parametrize("model_id", list(PRESETS))
def test_every_preset_trains_and_writes_the_original_files(smoke_study, model_id):
    """Every preset, as the session's smoke study trained it (two epochs)."""
    p = smoke_study.paths.run(model_id)
    cfg = saved_config(p)
    history = pd.read_csv(p.history_csv)
    assert list(history["epoch"]) == [1, 2]
    assert list(history["lr"]) == [cfg.lr, cfg.lr * 0.5]  # LinearDecay(2, 1), as trained
    assert history[["loss_G", "val_l1"]].notna().all().all()
    assert ("loss_D" in history) is cfg.use_gan
    for f in (
        p.best,
        p.checkpoint(1),
        p.checkpoint(2),
        p.state,
        p.history_csv,
        p.history_png,
        p.val_samples(2),
        p.run_json,
    ):
        assert f.is_file() and f.stat().st_size > 0, f
    G, blob = load_generator(p.best)
    assert blob["config"] == cfg and blob["val_l1"] == pytest.approx(history["val_l1"].min())
    # built on the meta device, every tensor is the checkpoint's, none left uninitialised
    loaded = G.state_dict()
    assert loaded.keys() == blob["generator"].keys()
    assert all(torch.equal(loaded[k], v) for k, v in blob["generator"].items())
    assert not any(t.is_meta for t in list(G.parameters()) + list(G.buffers()))


def _weights(path):
    return load_checkpoint(path)["generator"]


def test_same_seed_gives_bit_identical_weights(tmp_path, smoke_config):
    a = smoke_config(tmp_path / "a", "C")
    b = smoke_config(tmp_path / "b", "C")
    ha, hb = train(a, progress=False), train(b, progress=False)
    pd.testing.assert_frame_equal(ha.drop(columns="seconds"), hb.drop(columns="seconds"))
    wa, wb = _weights(RunPaths.of(a).state), _weights(RunPaths.of(b).state)
    assert all(torch.equal(wa[k], wb[k]) for k in wa)


def test_fused_adam_switch_trains_to_rounding_level_of_the_default(tmp_path, smoke_config):
    # fused_adam=True is opt-in: the same training up to float rounding, not bit for bit
    base, fused = (
        smoke_config(tmp_path / "a", "B"),
        smoke_config(tmp_path / "b", "B", fused_adam=True),
    )
    trainer = training.Trainer(fused, progress=False)
    assert trainer.opt_G.defaults["fused"] and trainer.opt_D.defaults["fused"]
    ha, hb = train(base, progress=False), train(fused, progress=False)
    pd.testing.assert_frame_equal(
        ha.drop(columns="seconds"), hb.drop(columns="seconds"), check_exact=False, rtol=1e-3
    )


def test_resume_after_kill_matches_an_uninterrupted_run(tmp_path, cli):
    """A real `kill -9` of a training subprocess mid-run, then --resume; both runs write
    TensorBoard events, which show each epoch once and equal the history CSV."""
    common = [
        "--model", "B", "--profile", "smoke", "--data", "sample", "--quiet", "--device", "cpu",
        "--set", "tensorboard=true", "--set", "epochs=6", "--set", "decay_start=3",
        "--set", "max_train_images=48", "--set", "checkpoint_every=2",
    ]  # fmt: skip

    def run(root, *extra):
        return cli.argv("train", *common, *cli.roots(root), *extra)

    subprocess.run(run(tmp_path / "whole"), check=True, capture_output=True)
    victim = subprocess.Popen(
        run(tmp_path / "killed"), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    state = tmp_path / "killed" / "models" / "B" / "training_state.pt"
    deadline = time.time() + 300
    while time.time() < deadline:
        if state.exists() and load_checkpoint(state)["epoch"] >= 2:
            break
        time.sleep(0.05)
    os.kill(victim.pid, signal.SIGKILL)
    victim.wait()
    killed_at = load_checkpoint(state)["epoch"]
    assert 2 <= killed_at < 6, "the run was not interrupted mid-training"
    done = subprocess.run(run(tmp_path / "killed", "--resume"), capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    whole = load_checkpoint(tmp_path / "whole" / "models" / "B" / "training_state.pt")
    resumed = load_checkpoint(state)
    assert resumed["epoch"] == whole["epoch"] == 6
    for key in ("generator", "discriminator"):
        assert all(torch.equal(whole[key][k], resumed[key][k]) for k in whole[key]), key
    hist = ["loss_G", "loss_D", "val_l1"]
    assert [[h[k] for k in hist] for h in whole["history"]] == [
        [h[k] for k in hist] for h in resumed["history"]
    ]
    for root in ("whole", "killed"):
        _events_match_the_history(tmp_path / root / "results" / "B", grids=[2, 4, 6])


def _events_match_the_history(results: Path, grids: list[int]) -> None:
    """The TensorBoard events of ``results`` (read back with tensorboard's EventAccumulator)
    hold every column of its training history CSV, once per epoch, and the sample grid at the
    epochs ``grids``."""
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    paths = RunPaths("B", results.parent, results)
    events = EventAccumulator(str(paths.tensorboard), size_guidance={"scalars": 0, "images": 0})
    events.Reload()
    history = pd.read_csv(paths.history_csv)
    tags = {"lr": "lr", "seconds": "seconds", "val_l1": "val/l1"}
    tags |= {c: f"loss/{c}" for c in ("loss_G", "loss_D", "l1", "adv")}
    assert set(events.Tags()["scalars"]) == set(tags.values())
    assert set(history.columns) == {"epoch", *tags}
    for column, tag in tags.items():
        logged = events.Scalars(tag)
        assert [e.step for e in logged] == list(history["epoch"]), tag
        np.testing.assert_allclose([e.value for e in logged], history[column], rtol=1e-6)
    images = events.Images("val/samples")
    assert [e.step for e in images] == grids
    assert all(e.width == 3 * 32 and e.height == 2 * 32 for e in images)  # 2 rows of 3 tiles


def test_existing_run_needs_resume_and_same_config(tmp_path, smoke_config):
    cfg = smoke_config(tmp_path)
    train(cfg, progress=False)
    with pytest.raises(FileExistsError, match="--resume"):
        train(cfg, progress=False)
    assert len(train(cfg, resume=True, progress=False)) == 2  # complete: nothing more to do
    with pytest.raises(ValueError, match=r"\(lr: "):
        train(cfg.replace(lr=1e-3), resume=True, progress=False)


def test_non_finite_loss_stops_with_epoch_and_step(tmp_path, smoke_config, monkeypatch):
    cfg = smoke_config(tmp_path, epochs=2)
    calls = {"n": 0}
    real = losses.l1_ab_loss

    def poisoned(pred, target):
        calls["n"] += 1
        return real(pred, target) * (float("nan") if calls["n"] == 6 else 1.0)

    monkeypatch.setattr(losses, "l1_ab_loss", poisoned)  # what LOSS_TERMS["l1"] calls
    with pytest.raises(NonFiniteLossError, match=r"epoch 2, step 6.*training_state\.pt"):
        train(cfg, progress=False)
    kept = load_checkpoint(RunPaths.of(cfg).state)
    assert kept["epoch"] == 1
    assert all(torch.isfinite(v).all() for v in kept["generator"].values() if v.is_floating_point())


def test_evaluate_model_and_gray(tmp_path, smoke_config):
    cfg = smoke_config(tmp_path, "A")
    train(cfg, progress=False)
    table = evaluate(cfg)
    gray = evaluate(smoke_config(tmp_path, "GRAY"))
    for model in ("A", "GRAY"):
        out = RunPaths.of(smoke_config(tmp_path, model))
        per_image = pd.read_csv(out.per_image_csv)
        assert len(per_image) == 4 and per_image["ciede2000"].notna().all()
        summary = pd.read_csv(out.metrics_csv)
        assert (
            summary.loc[0, "psnr_ci_low"]
            <= summary.loc[0, "psnr"]
            <= summary.loc[0, "psnr_ci_high"]
        )
        assert out.results_png.stat().st_size > 0
        assert "evaluation" in pd.read_json(out.run_json, typ="series")
    assert table.loc[0, "val_loss"] > 0 and pd.isna(gray.loc[0, "val_loss"])
    assert gray.loc[0, "colorfulness_pred"] < 0.01


def test_evaluation_never_skips_a_test_photo(tmp_path, smoke_config, sample):
    """Training may skip unusable photos (on_bad="skip", counted); the test list may not:
    every configuration must be scored on the same, complete list."""
    import shutil

    from PIL import Image

    from colorlib.data import ImageError

    data = tmp_path / "photos"
    shutil.copytree(sample, data)
    Image.new("RGB", (64, 64), (90, 90, 90)).save(data / "test" / "aa_gray.png")
    cfg = smoke_config(tmp_path, "GRAY", on_bad="skip").replace(data_dir=str(data))
    with pytest.raises(ImageError, match=r"aa_gray\.png: test photo not usable \(grayscale"):
        evaluate(cfg)
    assert not RunPaths.of(cfg).metrics_csv.exists()


def test_a_batch_larger_than_the_training_set_is_said(tmp_path, smoke_config, caplog):
    cfg = smoke_config(tmp_path, "A", batch_size=1000, epochs=1, decay_start=0)
    with caplog.at_level("WARNING", logger="colorlib.training"):
        history = train(cfg, progress=False)
    assert len(history) == 1
    assert "batch_size 1000 is more than the 16 training photos" in caplog.text
    assert read_record(RunPaths.of(cfg))["dataset"]["n_train"] == 16


HOST_READS = ("item", "tolist", "__bool__", "__float__", "__int__", "__index__", "numpy")
ADAM_STEP_COUNTER = "torch/optim/optimizer.py"  # _get_value(step)


@pytest.mark.parametrize("model_id", ["B", "C", "CLS", "A_VGG"])
def test_a_training_step_never_reads_the_device(tmp_path, smoke_config, monkeypatch, model_id):
    """The step leaves its losses on the device (summed there, read once per epoch) and its
    finite check too: no value crosses to the host inside the step (on a GPU each such read
    is a synchronisation). Counted by wrapping every Tensor method that reads a value."""
    from colorlib.quantize import AbClasses

    cfg = smoke_config(tmp_path, model_id, backbone="random")
    trainer = training.Trainer(cfg, progress=False)
    if cfg.use_classification:
        photos = np.random.default_rng(0).integers(0, 256, (8, 32, 32, 3), dtype=np.uint8)
        trainer.classes = AbClasses.of(photos, "synthetic", cfg)
    L, ab = torch.rand(4, 1, 32, 32) * 2 - 1, torch.rand(4, 2, 32, 32) - 0.5
    reads = []
    for name in HOST_READS:
        real = getattr(torch.Tensor, name)

        def counted(self, *args, _real=real, _name=name, **kwargs):
            caller = traceback.extract_stack(limit=2)[0]
            # Adam's step counters stay on the CPU when training on a GPU (torch keeps them
            # there so that reading one is no synchronisation): not a read of the device
            if not caller.filename.endswith(ADAM_STEP_COUNTER):
                reads.append(f"{_name} in {caller.filename}:{caller.lineno}")
            return _real(self, *args, **kwargs)

        monkeypatch.setattr(torch.Tensor, name, counted)
    for _ in range(3):
        losses = trainer.train_step(L, ab)
    assert reads == [], f"host reads inside the step: {sorted(set(reads))}"
    monkeypatch.undo()
    assert set(losses) >= {"loss_G"} and all(v.dim() == 0 for v in losses.values())


def test_the_epoch_files_are_written_at_the_commit_epochs(tmp_path, smoke_config, monkeypatch):
    """checkpoint_every=3 over 4 epochs: the history CSV every epoch; best_model.pt, the
    interval checkpoint, the grid, the history PNG and last the training state at epochs 3
    and 4 only."""
    from colorlib import run_writer

    events = []

    def spy(name, real):
        def wrapper(*args, **kwargs):
            events.append((name, Path(args[1] if name in ("csv", "png") else args[0]).name))
            return real(*args, **kwargs)

        monkeypatch.setattr(run_writer, real.__name__, wrapper)

    spy("ckpt", run_writer.save_checkpoint)
    spy("csv", run_writer.write_csv)
    spy("png", run_writer.plot_history)
    cfg = smoke_config(tmp_path, "A", epochs=4, decay_start=2, checkpoint_every=3)
    history = train(cfg, progress=False)
    csv, png = RunPaths.of(cfg).history_csv.name, RunPaths.of(cfg).history_png.name
    best_epoch = int(history.loc[history["val_l1"].idxmin(), "epoch"])
    expected = [("csv", csv)] * 2 + [
        ("csv", csv), ("ckpt", "best_model.pt"),  # epoch 1 always improves on none
        ("ckpt", "checkpoint_epoch_3.pt"), ("png", png), ("ckpt", "training_state.pt"),
        ("csv", csv), *([("ckpt", "best_model.pt")] if best_epoch == 4 else []),
        ("ckpt", "checkpoint_epoch_4.pt"), ("png", png), ("ckpt", "training_state.pt"),
    ]  # fmt: skip
    assert events == expected
    best = load_checkpoint(RunPaths.of(cfg).best)
    assert best["epoch"] == best_epoch


def test_compile_trains_the_same_run_to_rounding(tmp_path, smoke_study, smoke_config):
    """--set compile=true (torch.compile of G's and D's training passes; inductor runs on the
    CPU): the history equals the uncompiled run's to rounding, the checkpoints hold the plain
    state dicts, and the run records both switches."""
    cfg = smoke_config(tmp_path, "B", compile=True)
    history = train(cfg, progress=False)
    plain = pd.read_csv(smoke_study.paths.run("B").history_csv)
    columns = ["loss_D", "loss_G", "l1", "adv", "val_l1"]
    np.testing.assert_allclose(history[columns], plain[columns], rtol=1e-3)
    best = load_checkpoint(RunPaths.of(cfg).best)
    assert not any("_orig_mod" in k for k in best["generator"])
    record = read_record(RunPaths.of(cfg))
    assert record["config"]["compile"] is True and record["determinism"] == "exact"


def test_the_colorfulness_loss_and_filter_train_evaluate_colorize_and_export(tmp_path, cli, sample):
    """Issue 30: DDColor's colourfulness term and BigColor's filter through every command:
    the history has the term's column, run.json counts the photos left out, and the run's
    checkpoint is evaluated, colorizes a photo and exports to ONNX."""
    import json

    # the sample's smoke training tiles score 20 to 70: 25 leaves a few out
    settings = ["--set", "use_colorfulness=true", "--set", "min_colorfulness=25"]
    roots = [*cli.roots(tmp_path), "--profile", "smoke", "--data", "sample"]
    done = cli("train", "--model", "A", *roots, *settings, "--quiet")
    assert done.returncode == 0, done.stderr
    history = pd.read_csv(tmp_path / "results" / "A" / "training_history_A.csv")
    assert history["colorfulness"].notna().all() and (history["colorfulness"] < 1).all()
    record = json.loads((tmp_path / "results" / "A" / "run.json").read_text())
    assert record["config"]["use_colorfulness"] and record["config"]["min_colorfulness"] == 25
    left_out = record["dataset"]["skipped_train"]["low_colorfulness"]
    assert f"left out {left_out} of 16 training photos less colourful than 25" in done.stderr
    assert left_out > 0 and record["dataset"]["n_train"] + left_out == 16  # the smoke cap
    evaluated = cli("evaluate", "--model", "A", *roots, *settings)
    assert evaluated.returncode == 0, evaluated.stderr
    best = tmp_path / "models" / "A" / "best_model.pt"
    photo = sorted((sample / "test").iterdir())[0]
    colorized = cli("colorize", "--checkpoint", best, "--out", tmp_path / "out", photo)
    assert colorized.returncode == 0, colorized.stderr
    exported = cli("export", "--checkpoint", best, "--out", tmp_path / "A.onnx")
    assert exported.returncode == 0, exported.stderr
    assert (tmp_path / "out" / photo.name).is_file() and (tmp_path / "A.onnx").is_file()
