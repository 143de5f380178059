"""One configuration end to end — the calls ``notebooks/train_model.ipynb`` composes.

``build_config`` turns the template's parameters into an :class:`ExperimentConfig`, resolving
relative paths against the project root (the notebook may run from ``notebooks/``);
``run_experiment`` trains (unless a baseline), resuming an interrupted run, then evaluates.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pandas as pd

from colorlib.config import BASELINES, PATH_FIELDS, ExperimentConfig, make_config
from colorlib.paths import under_root
from colorlib.runs import RunPaths


def build_config(
    model_id: str,
    profile: str = "smoke",
    data_dir: str = "sample",
    overrides: dict[str, Any] | None = None,
) -> ExperimentConfig:
    """The config of one run from the template's parameters: preset ``model_id`` at scale
    ``profile`` on ``data_dir`` (``"sample"``: the embedded photos), then ``overrides`` (any
    :class:`ExperimentConfig` field: device, seed, output roots, epochs, ...).

    Relative paths are resolved here, once, against the project root.
    """
    values = {"data_dir": data_dir, **(overrides or {})}
    cfg = make_config(model_id, profile, **values)
    resolved = {
        k: str(under_root(getattr(cfg, k)))
        for k in PATH_FIELDS
        if getattr(cfg, k) and not (k == "data_dir" and cfg.data_dir == "sample")
    }
    return cfg.replace(**resolved)


def run_experiment(
    cfg: ExperimentConfig, *, resume: bool = True, progress: bool = True
) -> tuple[pd.DataFrame | None, pd.DataFrame]:
    """Train ``cfg`` (resuming its checkpoint when one exists and ``resume``), then evaluate.

    Returns ``(history, metrics)``; ``history`` is ``None`` for a baseline (``GRAY``).
    """
    from colorlib.evaluation import evaluate
    from colorlib.training import train

    history = None
    if cfg.model_id not in BASELINES:
        history = train(cfg, resume=resume and RunPaths.of(cfg).state.exists(), progress=progress)
    return history, evaluate(cfg)


def outputs(cfg: ExperimentConfig) -> dict[str, Path]:
    """The run's figures and tables that exist (the notebook displays them)."""
    paths = RunPaths.of(cfg)
    samples = paths.all_val_samples()
    out = {
        "history": paths.history_png,
        "last_val_samples": samples[-1] if samples else None,
        "results": paths.results_png,
        "metrics": paths.metrics_csv,
    }
    return {k: v for k, v in out.items() if v is not None and v.exists()}
