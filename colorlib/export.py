"""A trained generator as an ONNX model, to colorize without colorlib or torch.

The model is the generator of a ``best_model.pt`` (or any generator checkpoint) exported with
torch's ``torch.export``-based exporter (``torch.onnx.export(dynamo=True)``), ONNX opset
:data:`OPSET`, weights inside the one file:

* input ``L``: float32 ``(N, 1, S, S)``, the normalised L channel, ``L* / 50 - 1`` in [-1, 1];
* output ``ab``: float32 ``(N, 2, S, S)``, the normalised ab, ``(a*, b*) / 128``;

``N`` is dynamic, ``S`` is the run's ``image_size`` (the U-Nets are built for one size, as in
pix2pix). Everything the generator does is inside the graph: the VGG16 encoder's gray RGB
conversion and ImageNet normalisation, the classification head's annealed mean. The model's
metadata (``metadata_props``) names the configuration, ``S`` and both normalisations. The
photo's own Lab conversion and resizing stay outside, as in :func:`colorlib.colorize.colorize_array`
(docs/usage.md shows the few lines with onnxruntime and scikit-image alone).
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

import torch

from colorlib.atomic import atomic_write_bytes
from colorlib.checkpoints import load_generator
from colorlib.color import AB_SCALE, L_SCALE, L_SHIFT
from colorlib.errors import ConfigError, OutputExistsError

OPSET = 18  # ONNX opset of the exported graph (onnxruntime >= 1.14 runs it)
INPUT, OUTPUT = "L", "ab"


def _check_target(checkpoint: Path, out: Path, opset: int, overwrite: bool) -> None:
    """Refuse what would destroy a file or write something else than asked: the checkpoint
    itself as the output, an existing output without ``overwrite``, a folder, an opset torch's
    exporter does not write."""
    import onnx

    newest = onnx.defs.onnx_opset_version()
    if not OPSET <= opset <= newest:
        raise ConfigError(
            f"--opset {opset} cannot be exported: torch's exporter writes ONNX opsets "
            f"{OPSET} to {newest} (the default is {OPSET})"
        )
    if out.exists() and checkpoint.exists() and out.resolve() == checkpoint.resolve():
        raise OutputExistsError(f"--out {out} is the checkpoint being exported: name another file")
    if out.is_dir():
        raise OutputExistsError(f"--out {out} is a folder: name the .onnx file to write")
    if out.exists() and not overwrite:
        raise OutputExistsError(f"{out} exists: pass --overwrite to replace it, or name another")


def export_onnx(
    checkpoint: str | os.PathLike,
    out: str | os.PathLike,
    *,
    opset: int = OPSET,
    overwrite: bool = False,
) -> Path:
    """Write ``checkpoint``'s generator to ``out`` as ONNX opset ``opset`` (atomically; an
    existing ``out`` only with ``overwrite``, never the checkpoint itself); returns ``out``."""
    out = Path(out)
    _check_target(Path(checkpoint), out, opset, overwrite)
    G, blob = load_generator(checkpoint)
    cfg = blob["config"]
    size = G.image_size
    example = torch.zeros(2, 1, size, size)
    program = torch.onnx.export(
        G,
        (example,),
        dynamo=True,
        input_names=[INPUT],
        output_names=[OUTPUT],
        dynamic_shapes=({0: torch.export.Dim("batch")},),
        opset_version=opset,
        verbose=False,
    )
    program.model.metadata_props.update(
        {
            "colorlib.model_id": cfg.model_id,
            "colorlib.generator": cfg.generator,
            "colorlib.head": cfg.head,
            "colorlib.image_size": str(size),
            "colorlib.input": f"{INPUT} (N, 1, {size}, {size}) = L* / {L_SCALE:g} - {L_SHIFT:g}",
            "colorlib.output": f"{OUTPUT} (N, 2, {size}, {size}) = (a*, b*) / {AB_SCALE:g}",
            "colorlib.checkpoint_epoch": str(blob.get("epoch", "")),
        }
    )
    written = program.model.opset_imports.get("", opset)  # onnx_ir: {domain: version}
    if written != opset:  # never claim an opset the file does not hold
        raise ConfigError(f"torch's exporter wrote ONNX opset {written}, not {opset}; nothing "
                          f"was written: use --opset {written}")  # fmt: skip
    with tempfile.TemporaryDirectory() as tmp:  # ONNX writes a path; the move is atomic
        staged = Path(tmp) / "model.onnx"
        program.save(staged, external_data=False)
        atomic_write_bytes(out, staged.read_bytes())
    return out
