"""One configuration end to end — the calls ``notebooks/train_model.ipynb`` composes.

``build_config`` turns the template's parameters into an :class:`ExperimentConfig`, resolving
relative paths against the project root (the notebook may run from ``notebooks/``);
``run_experiment`` trains (unless a baseline), resuming an interrupted run — data-parallel over
``nproc_per_node`` processes through ``torchrun`` when asked — then evaluates (one process).
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

import pandas as pd

from colorlib.atomic import read_csv
from colorlib.config import BASELINES, PATH_FIELDS, ExperimentConfig, make_config
from colorlib.errors import BUG_REPORT, StepFailedError
from colorlib.paths import project_root, under_root
from colorlib.runs import RunPaths, saved_config


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
    cfg: ExperimentConfig,
    *,
    resume: bool = True,
    progress: bool = True,
    nproc_per_node: int = 1,
) -> tuple[pd.DataFrame | None, pd.DataFrame]:
    """Train ``cfg`` (resuming its checkpoint when one exists and ``resume``), then evaluate.

    ``nproc_per_node`` > 1 trains data-parallel: ``torchrun --standalone`` runs ``python -m
    colorlib train`` with this config on that many processes (one GPU each on CUDA). Returns
    ``(history, metrics)``; ``history`` is ``None`` for a baseline (``GRAY``).
    """
    from colorlib.evaluation import evaluate
    from colorlib.training import train

    history = None
    resume = resume and RunPaths.of(cfg).state.exists()
    if cfg.model_id in BASELINES:
        pass
    elif nproc_per_node > 1:
        history = _torchrun_train(cfg, nproc_per_node, resume)
    else:
        history = train(cfg, resume=resume, progress=progress)
    return history, evaluate(cfg)


def train_command(config_file: str | Path, nproc_per_node: int, resume: bool) -> list[str]:
    """``torchrun`` training the config written to ``config_file`` (its JSON,
    :meth:`ExperimentConfig.to_dict`) on ``nproc_per_node`` processes: the config crosses the
    process boundary whole, never re-parsed from ``--set`` strings."""
    launcher = [sys.executable, "-m", "torch.distributed.run", "--standalone"]
    return [
        *launcher,
        f"--nproc_per_node={nproc_per_node}",
        "-m",
        "colorlib",
        "train",
        "--config",
        str(config_file),
        "--quiet",
        *(["--resume"] if resume else []),
    ]


def _torchrun_train(cfg: ExperimentConfig, nproc_per_node: int, resume: bool) -> pd.DataFrame:
    with tempfile.TemporaryDirectory(prefix="colorlib-config-") as folder:
        config_file = Path(folder) / f"{cfg.model_id}.json"
        config_file.write_text(json.dumps(cfg.to_dict()), encoding="utf-8")
        done = subprocess.run(
            train_command(config_file, nproc_per_node, resume),
            cwd=project_root(),
            capture_output=True,
            text=True,
        )
    if done.returncode:
        what = f"{cfg.model_id}: torchrun training over {nproc_per_node} processes failed"
        # a rank that stopped on an anticipated error printed colorlib's one line
        anticipated = [line for line in done.stderr.splitlines() if line.startswith("error: ")]
        if anticipated and BUG_REPORT not in done.stderr:
            raise StepFailedError(f"{what}: {anticipated[0].removeprefix('error: ')}")
        raise RuntimeError(
            f"{what} (exit {done.returncode}); its output ends:\n{done.stderr[-4000:]}\n"
            f"{what}: {_cause(done.stderr) or f'exit {done.returncode}'}"
        )
    paths = RunPaths.of(cfg)
    trained = saved_config(paths)
    if trained is None or trained.differs_from(cfg):
        raise RuntimeError(f"{cfg.model_id}: the torchrun run did not train this configuration")
    return read_csv(paths.history_csv)


def _cause(stderr: str) -> str:
    """The last line of a failed ``torchrun`` that names an exception (its ``Error:`` line, or
    the failure summary's ``exitcode``), for the study's one-line summary of the failure; the
    full output stays in the message (``error.txt``)."""
    lines = [
        re.sub(r"^\[(default)?rank\d+\]:\s*", "", line.strip()) for line in stderr.splitlines()
    ]
    named = [line for line in lines if re.match(r"^[\w.]*(Error|Exception|Interrupt)\b", line)]
    codes = [line for line in lines if line.startswith("exitcode")]
    return (named or codes or [""])[-1][:200]


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
