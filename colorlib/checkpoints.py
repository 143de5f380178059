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
from colorlib.config import EVALUATION_FIELDS, ExperimentConfig, model_ids, profiles_of_size
from colorlib.errors import CheckpointError, ConfigError, MissingFileError, one_line
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
    _require_a_checkpoint_file(path)
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
        raise CheckpointError(
            f"{path} is not a colorlib checkpoint, or a truncated one (cannot be read as "
            f"tensors and plain data: {one_line(err)})"
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
    bad = first_unusable(blob)
    if bad is not None:
        name, problem = bad
        raise CheckpointError(
            f"{path} holds {problem} in {name}; it is refused. Use an earlier checkpoint, or "
            "retrain"
        )
    try:
        blob["config"] = ExperimentConfig.from_dict(blob["config"])
    except (KeyError, TypeError, ValueError) as err:
        raise CheckpointError(f"{path}: its config is not valid for this colorlib: {err}") from err
    if blob["config"].model_id not in model_ids():
        raise CheckpointError(
            f"{path} holds model {blob['config'].model_id!r}, which this colorlib does not "
            f"define (models: {', '.join(model_ids())}); it was not written by this colorlib's "
            "`train`"
        )
    return blob


def _require_a_checkpoint_file(path: Path) -> None:
    """Refuse, before reading it, what cannot be a checkpoint: a folder, no file, an empty
    file, a file of another known format (:func:`_other_format`)."""
    if path.is_dir():
        raise CheckpointError(
            f"checkpoint {path} is a folder; pass the checkpoint file in it (one of its .pt "
            "files, e.g. the best model a run keeps)"
        )
    if not path.is_file():
        raise MissingFileError(
            f"checkpoint {path} does not exist; train first (python -m colorlib train --model ID)"
        )
    if path.stat().st_size == 0:
        raise CheckpointError(f"{path} is empty (0 bytes), not a colorlib checkpoint")
    kind_of_file = _other_format(path)
    if kind_of_file:
        raise CheckpointError(
            f"{path} is {kind_of_file}, not a colorlib checkpoint (a .pt file that `python -m "
            "colorlib train` writes); it was not loaded"
        )


# the first bytes of files that are sometimes passed as a checkpoint by mistake
_MAGIC = {
    b"\x93NUMPY": "a NumPy .npy file",
    b"\x89PNG": "a PNG image",
    b"\xff\xd8\xff": "a JPEG image",
    b"\x1f\x8b": "a gzip file",
    b"\x89HDF": "an HDF5 file (a Keras or h5py file)",
}


def _other_format(path: Path) -> str:
    """What ``path`` is, when its first bytes or its suffix say it is a known format that no
    colorlib checkpoint has (an ``.npy``, an image, an exported ONNX model); else ``""``."""
    with open(path, "rb") as f:
        head = f.read(8)
    for magic, what in _MAGIC.items():
        if head.startswith(magic):
            return what
    if path.suffix.lower() == ".onnx" and not head.startswith(b"PK"):
        return "an ONNX model (what `colorlib export` writes; colorlib loads only its .pt files)"
    return ""


def require_run(path: str | os.PathLike, trained: ExperimentConfig, cfg: ExperimentConfig) -> None:
    """Refuse checkpoint ``path`` (trained with ``trained``) for the run of ``cfg`` unless it
    is that run's model with the same "what" fields; only :data:`EVALUATION_FIELDS` (other
    test photos, another LPIPS backbone) may differ. So one model's metrics are never
    recorded under another's name or another configuration's."""
    if trained.model_id != cfg.model_id:
        raise CheckpointError(
            f"{path} holds model {trained.model_id}, not {cfg.model_id}: pass "
            f"--model {trained.model_id}, or the checkpoint of {cfg.model_id}"
        )
    changed = [k for k in trained.differs_from(cfg) if k not in EVALUATION_FIELDS]
    if not changed:
        return
    size = ""
    if "image_size" in changed:
        size = (
            f"; it was trained at image_size={trained.image_size} "
            f"({profiles_of_size(trained.image_size)}), not {cfg.image_size}"
        )
    shown = ", ".join(f"{k}={getattr(trained, k)!r}" for k in changed[:4])
    raise ConfigError(
        f"{path} was trained with another configuration of {cfg.model_id} than this run's "
        f"(the checkpoint has {shown}{', ...' if len(changed) > 4 else ''}{size}): evaluate "
        "without --profile to use the checkpoint's own config, or pass the settings it was "
        "trained with"
    )


def first_unusable(tree: Any) -> tuple[str, str] | None:
    """``(name, problem)`` of the first tensor in ``tree`` (nested dicts, lists, tuples) that no
    colorlib checkpoint holds, e.g. ``("generator['model.model.0.weight']", "non-finite values
    (NaN or inf)")``; ``None`` if there is none. Refused: complex values, a view whose elements
    share memory (``expand``: more elements than its storage holds, which a check would walk
    one by one) and non-finite values. Walked without recursion, however deep the nesting."""
    stack: list[tuple[str, Any]] = [("", tree)]
    while stack:
        name, node = stack.pop()
        if isinstance(node, torch.Tensor):
            problem = _tensor_problem(node)
            if problem:
                return name or "tensor", problem
            continue
        if isinstance(node, dict):
            items = [(f"{name}[{k!r}]" if name else str(k), v) for k, v in node.items()]
        elif isinstance(node, (list, tuple)):
            items = [(f"{name}[{i}]", v) for i, v in enumerate(node)]
        else:
            continue
        stack.extend(reversed(items))  # depth first, in order
    return None


def _tensor_problem(t: torch.Tensor) -> str | None:
    if t.is_complex():
        return "complex values"
    stored = t.untyped_storage().nbytes()
    if t.numel() * t.element_size() > stored:
        return f"a view of {t.numel():,} elements on {stored:,} bytes (elements sharing memory)"
    if t.is_floating_point() and not bool(torch.isfinite(t).all()):
        return "non-finite values (NaN or inf)"
    return None


def load_generator(path: str | os.PathLike) -> tuple[nn.Module, dict[str, Any]]:
    """The generator stored in ``path`` (eval mode, CPU) and the checkpoint's metadata: the
    network its config describes (:func:`colorlib.networks.define_G`: generator and head)."""
    blob = load_checkpoint(path, kind="generator")
    cfg: ExperimentConfig = blob["config"]
    with torch.device("meta"):  # no random init of 54 M weights that are replaced at once
        net = define_G(cfg, pretrained=False)
    weights = blob.get("generator")
    problems = _misfits(net.state_dict(), weights if isinstance(weights, dict) else {})
    if problems:
        raise CheckpointError(
            f"{path}: the weights do not fit the network its config describes (generator="
            f"{cfg.generator}, head={cfg.head}, image_size={cfg.image_size}, ngf={cfg.ngf}): "
            f"{'; '.join(problems)}"
        )
    net.load_state_dict(weights, assign=True)
    return net.eval(), blob


def _misfits(expected: dict[str, torch.Tensor], given: dict[str, Any], shown: int = 3) -> list[str]:
    """What keeps ``given`` from loading into a network whose state dict is ``expected``: the
    missing and unexpected keys and the tensors of another shape (the first ``shown`` of each,
    with their counts)."""

    def listed(what: str, keys: list[str]) -> list[str]:
        more = f", ... ({len(keys)} in all)" if len(keys) > shown else ""
        return [f"{what}: {', '.join(keys[:shown])}{more}"] if keys else []

    missing = [k for k in expected if k not in given]
    unexpected = [k for k in given if k not in expected]
    shapes = [
        f"{k} {_shape(given[k])} (the network has {tuple(v.shape)})"
        for k, v in expected.items()
        if k in given and _shape(given[k]) != tuple(v.shape)
    ]
    return (
        listed("missing keys", missing)
        + listed("unexpected keys", unexpected)
        + listed("other shapes", shapes)
    )


def _shape(value: Any) -> tuple[int, ...] | str:
    return tuple(value.shape) if isinstance(value, torch.Tensor) else type(value).__name__
