"""One definition of a run's files and of "the same run"."""

import json

import pytest

from colorlib.config import HOW_FIELDS, make_config
from colorlib.runs import RunPaths, StudyPaths, is_complete, record_run, saved_config


def test_run_files_are_the_studys_names(tmp_path):
    run = StudyPaths(tmp_path / "results", tmp_path / "models").run("C_L1_LOW")
    names = {
        run.best: "models/C_L1_LOW/best_model.pt",
        run.state: "models/C_L1_LOW/training_state.pt",
        run.checkpoint(10): "models/C_L1_LOW/checkpoint_epoch_10.pt",
        run.metrics_csv: "results/C_L1_LOW/metrics_C_L1_LOW.csv",
        run.per_image_csv: "results/C_L1_LOW/metrics_per_image_C_L1_LOW.csv",
        run.history_csv: "results/C_L1_LOW/training_history_C_L1_LOW.csv",
        run.history_png: "results/C_L1_LOW/training_history_C_L1_LOW.png",
        run.results_png: "results/C_L1_LOW/colorization_results_C_L1_LOW.png",
        run.val_samples(3): "results/C_L1_LOW/val_samples_C_L1_LOW_epoch_3.png",
        run.predictions: "results/C_L1_LOW/test_predictions_C_L1_LOW.npz",
        run.run_json: "results/C_L1_LOW/run.json",
        run.notebook: "results/C_L1_LOW/model_C_L1_LOW.ipynb",
    }
    for path, expected in names.items():
        assert path == tmp_path / expected
    report = StudyPaths(tmp_path / "results", tmp_path / "models").report()
    assert report["metrics"] == tmp_path / "results/Evaluate/metrics_comparison.csv"
    for epoch in (10, 2, 1):
        run.val_samples(epoch).parent.mkdir(parents=True, exist_ok=True)
        run.val_samples(epoch).write_bytes(b"png")
    assert [p.name for p in run.all_val_samples()] == [
        f"val_samples_C_L1_LOW_epoch_{e}.png" for e in (1, 2, 10)
    ]
    assert RunPaths.of(make_config("A", models_dir="m", results_dir="r")).best.as_posix() == (
        "m/A/best_model.pt"
    )


def test_how_fields_do_not_make_another_run():
    cfg = make_config("B", "smoke")
    moved = cfg.replace(device="cuda:3", num_workers=8, models_dir="/elsewhere", cache_dir="c")
    assert cfg.differs_from(moved) == []
    assert cfg.differs_from(cfg.replace(lr=1e-3, seed=7)) == ["lr", "seed"]
    assert {"device", "num_workers", "models_dir", "results_dir", "cache_dir"} <= HOW_FIELDS
    assert "seed" not in HOW_FIELDS and "data_dir" not in HOW_FIELDS


def test_is_complete_compares_what_fields_only(tmp_path):
    cfg = make_config("GRAY", "smoke", results_dir=str(tmp_path), device="cpu")
    assert not is_complete(cfg)
    record_run(cfg, "cpu", fresh=True)
    RunPaths.of(cfg).metrics_csv.write_text("model\nGRAY\n")
    assert not is_complete(cfg)  # not evaluated yet
    record_run(cfg, "cpu", fresh=False, evaluation={"n_images": 4})
    assert is_complete(cfg)
    # another GPU, same run: still complete (the study's --jobs on several GPUs)
    assert is_complete(cfg.replace(device="cuda:1", num_workers=4))
    assert not is_complete(cfg.replace(seed=1))
    assert saved_config(RunPaths.of(cfg)) == cfg
    record = json.loads(RunPaths.of(cfg).run_json.read_text())
    assert {"git_revision", "packages", "device", "seed", "config", "evaluation"} <= set(record)


def test_a_trained_model_is_complete_only_when_training_finished(tmp_path):
    cfg = make_config("A", "smoke", results_dir=str(tmp_path))
    record_run(cfg, "cpu", fresh=True, status="running")
    RunPaths.of(cfg).metrics_csv.write_text("model\nA\n")
    record_run(cfg, "cpu", fresh=False, evaluation={})
    assert not is_complete(cfg)
    record_run(cfg, "cpu", fresh=True, status="complete")  # a fresh record drops evaluation
    assert not is_complete(cfg)
    record_run(cfg, "cpu", fresh=False, evaluation={})
    assert is_complete(cfg)


@pytest.mark.parametrize("bad", ["not json", json.dumps({"config": {"epochz": 1}})])
def test_a_broken_record_is_an_error_not_a_silent_rerun(tmp_path, bad):
    cfg = make_config("GRAY", "smoke", results_dir=str(tmp_path))
    RunPaths.of(cfg).results.mkdir(parents=True)
    RunPaths.of(cfg).run_json.write_text(bad)
    RunPaths.of(cfg).metrics_csv.write_text("model\nGRAY\n")
    with pytest.raises(ValueError):
        is_complete(cfg)
