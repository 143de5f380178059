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
from torch import nn

from colorlib.atomic import atomic_write_bytes
from colorlib.config import ExperimentConfig
from colorlib.errors import CheckpointError, MissingFileError
from colorlib.networks import define_G

FORMAT = "colorlib.checkpoint"
VERSION = 1
KINDS = ("generator", "training_state")



def save_checkpoint(path: str | os.PathLike, kind: str, cfg: ExperimentConfig, **payload: Any):
    if kind not in KINDS:
        raise ValueError(f"unknown checkpoint kind {kind!r}; choose from {list(KINDS)}")
    blob = {"format": FORMAT, "version": VERSION, "kind": kind, "config": cfg.to_dict(), **payload}
    buf = io.BytesIO()
    torch.save(blob, buf)
    return atomic_write_bytes(path, buf.getvalue())


def load_checkpoint(path: str | os.PathLike, kind: str | None = None) -> dict[str, Any]:
    """Load and validate a checkpoint (``weights_only=True``); ``kind`` checks what it holds.

    Refused, with :class:`CheckpointError` naming the file: anything that is not a colorlib
    checkpoint (no code in it is ever run), an empty or truncated file, a config this colorlib
    does not accept, and any non-finite tensor (NaN / inf weights or optimizer state).
    """
    path = Path(path)
    if not path.is_file():
        raise MissingFileError(
            f"checkpoint {path} does not exist; train first (python -m colorlib train --model ID)"
        )
    if path.stat().st_size == 0:
        raise CheckpointError(f"{path} is empty (0 bytes), not a colorlib checkpoint")
    try:
        blob = torch.load(path, map_location="cpu", weights_only=True)
    except pickle.UnpicklingError as err:
        # torch's message suggests weights_only=False: for a file of unknown origin that is
        # the one thing not to do, so it is not repeated
        raise CheckpointError(
            f"{path} is not a colorlib checkpoint: it holds objects other than tensors and plain "
            "data, which colorlib never writes; it was not loaded"
        ) from err
    except (RuntimeError, EOFError, OSError, ValueError) as err:
        first = (str(err).strip().splitlines() or [type(err).__name__])[0]
        raise CheckpointError(
            f"{path} is not a colorlib checkpoint, or a truncated one (cannot be read as "
            f"tensors and plain data: {first})"
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
    bad = first_non_finite(blob)
    if bad is not None:
        raise CheckpointError(
            f"{path} holds non-finite values (NaN or inf) in {bad}; it is refused. Use an "
            "earlier checkpoint, or retrain"
        )
    try:
        blob["config"] = ExperimentConfig.from_dict(blob["config"])
    except (KeyError, TypeError, ValueError) as err:
        raise CheckpointError(f"{path}: its config is not valid for this colorlib: {err}") from err
    return blob


def first_non_finite(tree: Any, name: str = "") -> str | None:
    """The name of the first floating-point tensor in ``tree`` (nested dicts, lists, tuples)
    holding a NaN or inf, e.g. ``generator['model.model.0.weight']``; ``None`` if there is none."""
    if isinstance(tree, torch.Tensor):
        finite = not tree.is_floating_point() or bool(torch.isfinite(tree).all())
        return None if finite else name or "tensor"
    if isinstance(tree, dict):
        items = ((f"{name}[{k!r}]" if name else str(k), v) for k, v in tree.items())
    elif isinstance(tree, (list, tuple)):
        items = ((f"{name}[{i}]", v) for i, v in enumerate(tree))
    else:
        return None
    for child_name, child in items:
        bad = first_non_finite(child, child_name)
        if bad is not None:
            return bad
    return None


def load_generator(path: str | os.PathLike) -> tuple[nn.Module, dict[str, Any]]:
    """The generator stored in ``path`` (eval mode, CPU) and the checkpoint's metadata: the
    network its config describes (:func:`colorlib.networks.define_G`: generator and head)."""
    blob = load_checkpoint(path, kind="generator")
    cfg: ExperimentConfig = blob["config"]
    with torch.device("meta"):  # no random init of 54 M weights that are replaced at once
        net = define_G(cfg, pretrained=False)
    try:
        net.load_state_dict(blob["generator"], assign=True)
    except (RuntimeError, KeyError) as err:
        raise CheckpointError(
            f"{path}: the weights do not fit the network its config describes (generator="
            f"{cfg.generator}, head={cfg.head}, image_size={cfg.image_size}, ngf={cfg.ngf}): "
            f"{str(err).splitlines()[0]}"
        ) from err
    return net.eval(), blob
