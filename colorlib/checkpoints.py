"""colorlib checkpoints: tensors and plain data only, written atomically, loaded with
``torch.load(..., weights_only=True)``.

Two kinds share one envelope ``{"format": "colorlib.checkpoint", "version", "kind", "config",
...}``: ``generator`` (``best_model.pt``, ``checkpoint_epoch_*.pt``: the generator's weights,
the config that built it, the epoch and its validation L1) and ``training_state``
(``training_state.pt``: everything a resume needs).
"""

from __future__ import annotations

import io
import os
import pickle
from pathlib import Path
from typing import Any

import torch

from colorlib.atomic import atomic_write_bytes
from colorlib.config import ExperimentConfig
from colorlib.networks import UnetGenerator

FORMAT = "colorlib.checkpoint"
VERSION = 1
KINDS = ("generator", "training_state")


class CheckpointError(ValueError):
    """A file that is not a usable colorlib checkpoint; the message names it."""


def save_checkpoint(path: str | os.PathLike, kind: str, cfg: ExperimentConfig, **payload: Any):
    if kind not in KINDS:
        raise ValueError(f"unknown checkpoint kind {kind!r}; choose from {list(KINDS)}")
    blob = {"format": FORMAT, "version": VERSION, "kind": kind, "config": cfg.to_dict(), **payload}
    buf = io.BytesIO()
    torch.save(blob, buf)
    return atomic_write_bytes(path, buf.getvalue())


def load_checkpoint(path: str | os.PathLike, kind: str | None = None) -> dict[str, Any]:
    """Load and validate a checkpoint (``weights_only=True``); ``kind`` checks what it holds."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(
            f"checkpoint {path} does not exist; train first (python -m colorlib train --model ID)"
        )
    try:
        blob = torch.load(path, map_location="cpu", weights_only=True)
    except (pickle.UnpicklingError, RuntimeError, EOFError, OSError, ValueError) as err:
        raise CheckpointError(
            f"{path} is not a colorlib checkpoint (cannot be read as tensors and plain data: "
            f"{str(err).splitlines()[0]})"
        ) from err
    if not isinstance(blob, dict) or blob.get("format") != FORMAT:
        raise CheckpointError(
            f"{path} is not a colorlib checkpoint (no '{FORMAT}' marker); colorlib's checkpoints "
            "are written by `python -m colorlib train`"
        )
    if blob.get("version") != VERSION:
        raise CheckpointError(f"{path}: checkpoint version {blob.get('version')} unsupported")
    if kind is not None and blob.get("kind") not in (kind, "training_state"):
        raise CheckpointError(f"{path} holds a {blob.get('kind')!r}, expected {kind!r}")
    try:
        blob["config"] = ExperimentConfig.from_dict(blob["config"])
    except (KeyError, TypeError, ValueError) as err:
        raise CheckpointError(f"{path}: its config is not valid for this colorlib: {err}") from err
    return blob


def load_generator(path: str | os.PathLike) -> tuple[UnetGenerator, dict[str, Any]]:
    """The generator stored in ``path`` (eval mode, CPU) and the checkpoint's metadata."""
    blob = load_checkpoint(path, kind="generator")
    cfg: ExperimentConfig = blob["config"]
    with torch.device("meta"):  # no random init of 54 M weights that are replaced at once
        net = UnetGenerator(image_size=cfg.image_size, ngf=cfg.ngf)
    try:
        net.load_state_dict(blob["generator"], assign=True)
    except (RuntimeError, KeyError) as err:
        raise CheckpointError(
            f"{path}: the weights do not fit the network its config describes (image_size="
            f"{cfg.image_size}, ngf={cfg.ngf}): {str(err).splitlines()[0]}"
        ) from err
    return net.eval(), blob
