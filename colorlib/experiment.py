"""One configuration end to end — the calls ``notebooks/train_model.ipynb`` composes.

``build_config`` turns the notebook's literal parameters into an :class:`ExperimentConfig`
(paths resolved against the project root, ``"sample"`` data built on first use);
``run_experiment`` trains (unless ``GRAY``), resuming an interrupted run, then evaluates.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pandas as pd

from colorlib.config import ExperimentConfig, make_config
from colorlib.datasets import resolve_data_dir
from colorlib.paths import under_root
from colorlib.training import RunPaths


def build_config(
    model_id: str,
    profile: str = "smoke",
    *,
    data_dir: str = "sample",
    overrides: dict[str, Any] | None = None,
    device: str = "auto",
    seed: int = 42,
    models_dir: str = "models",
    results_dir: str = "results",
    cache_dir: str = "data/cache",
    split_file: str = "",
) -> ExperimentConfig:
    """The config of one run from plain parameters (what papermill injects)."""
    return make_config(
        model_id,
        profile,
        data_dir=str(resolve_data_dir(data_dir)),
        device=device,
        seed=seed,
        models_dir=str(under_root(models_dir)),
        results_dir=str(under_root(results_dir)),
        cache_dir=str(under_root(cache_dir)),
        split_file=str(under_root(split_file)) if split_file else "",
        **(overrides or {}),
    )


def is_complete(cfg: ExperimentConfig) -> bool:
    """True when ``results/{ID}`` holds a finished evaluation of exactly this config."""
    paths = RunPaths.of(cfg)
    run_json = paths.run_json()
    if not (paths.results / f"metrics_{cfg.model_id}.csv").exists() or not run_json.exists():
        return False
    record = json.loads(run_json.read_text())
    same = (
        ExperimentConfig.from_dict(record.get("config", {})) == cfg
        if record.get("config")
        else False
    )
    trained = cfg.model_id == "GRAY" or record.get("status") == "complete"
    return same and trained and "evaluation" in record


def run_experiment(
    cfg: ExperimentConfig, *, resume: bool = True, progress: bool = True
) -> tuple[pd.DataFrame | None, pd.DataFrame]:
    """Train ``cfg`` (resuming its checkpoint when one exists and ``resume``), then evaluate.

    Returns ``(history, metrics)``; ``history`` is ``None`` for ``GRAY``.
    """
    from colorlib.evaluation import evaluate
    from colorlib.training import train

    history = None
    if cfg.model_id != "GRAY":
        history = train(cfg, resume=resume and RunPaths.of(cfg).state.exists(), progress=progress)
    return history, evaluate(cfg)


def outputs(cfg: ExperimentConfig) -> dict[str, Path]:
    """The run's figures and tables that exist (the notebook displays them)."""
    paths = RunPaths.of(cfg)
    m = cfg.model_id
    samples = sorted(
        paths.results.glob(f"val_samples_{m}_epoch_*.png"),
        key=lambda p: int(p.stem.rsplit("_", 1)[-1]),
    )
    out = {
        "history": paths.results / f"training_history_{m}.png",
        "last_val_samples": samples[-1] if samples else None,
        "results": paths.results / f"colorization_results_{m}.png",
        "metrics": paths.results / f"metrics_{m}.csv",
    }
    return {k: v for k, v in out.items() if v is not None and v.exists()}
