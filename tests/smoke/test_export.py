"""ONNX export: every generator the smoke study trained, run in onnxruntime on CPU against torch
on real photos, and the README's onnxruntime-only snippet run as a user would."""

import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from colorlib.checkpoints import load_generator
from colorlib.colorize import colorize_array, network_input
from colorlib.data import load_rgb

ROOT = Path(__file__).resolve().parents[2]
ort = pytest.importorskip("onnxruntime")
onnx = pytest.importorskip("onnx")

# one of each generator x head colorlib trains: the U-Net and the VGG16-encoder U-Net, each
# with the regression and the classification head
GENERATORS = ["A", "A_VGG", "CLS", "CLS_VGG"]


def _L(photos, size: int) -> torch.Tensor:
    """The normalised L ``(N, 1, size, size)`` of ``photos``, as colorize gives the network."""
    return torch.cat([network_input(load_rgb(p), size) for p in photos])


@pytest.mark.parametrize("model_id", GENERATORS)
def test_onnxruntime_matches_torch(smoke_study, cli, sample, tmp_path, model_id):
    best = smoke_study.paths.run(model_id).best
    out = tmp_path / f"{model_id}.onnx"
    done = cli("export", "--checkpoint", best, "--out", out)
    assert done.returncode == 0, done.stdout + done.stderr
    assert done.stderr == "", done.stderr  # quiet: the exporter's own passes say nothing
    G, blob = load_generator(best)
    meta = {p.key: p.value for p in onnx.load(str(out)).metadata_props}
    assert meta["colorlib.model_id"] == model_id
    assert meta["colorlib.image_size"] == str(G.image_size)
    session = ort.InferenceSession(str(out), providers=["CPUExecutionProvider"])
    (given,) = session.get_inputs()
    assert given.name == "L" and given.shape[1:] == [1, G.image_size, G.image_size]
    assert isinstance(given.shape[0], str)  # a dynamic batch
    photos = sorted((sample / "test").iterdir())[:7]  # not the export's example batch of 2
    L = _L(photos, G.image_size)
    with torch.no_grad():
        expected = G(L).numpy()
    (ab,) = session.run(["ab"], {"L": L.numpy()})
    assert ab.shape == expected.shape == (7, 2, G.image_size, G.image_size)
    assert np.abs(ab - expected).max() <= 1e-4
    assert np.abs(expected).max() > 1e-3  # the photos got colours to compare


def test_a_bad_checkpoint_is_one_line(cli, tmp_path):
    done = cli("export", "--checkpoint", tmp_path / "none.pt", "--out", tmp_path / "x.onnx")
    assert done.returncode == 2
    assert done.stderr.startswith("error: ") and "none.pt" in done.stderr
    assert not (tmp_path / "x.onnx").exists()


def test_export_never_destroys_a_file_and_writes_the_opset_it_names(smoke_study, cli, tmp_path):
    """Issue 31, item 4: the checkpoint itself as --out, an existing --out without --overwrite
    and a folder are refused, naming them; an opset torch's exporter does not write is refused
    before it runs (one line, no traceback); the opset reported is the file's."""
    import shutil

    checkpoint = tmp_path / "A.pt"
    shutil.copy(smoke_study.paths.run("A").best, checkpoint)
    kept = checkpoint.read_bytes()
    out = tmp_path / "A.onnx"
    out.write_bytes(b"someone's file")

    def refused(*args, says):
        done = cli("export", "--checkpoint", checkpoint, *args)
        assert done.returncode == 2 and "Traceback" not in done.stderr, done.stderr
        (line,) = done.stderr.splitlines()
        assert line.startswith("error: ") and says in line, line

    refused("--out", checkpoint, "--overwrite", says="is the checkpoint being exported")
    refused("--out", out, says="exists: pass --overwrite")
    refused("--out", tmp_path, says="is a folder")
    for opset in ("13", "7", "99", "-1"):
        refused("--out", tmp_path / f"{opset}.onnx", "--opset", opset, says="cannot be exported")
        assert not (tmp_path / f"{opset}.onnx").exists()
    assert checkpoint.read_bytes() == kept and out.read_bytes() == b"someone's file"
    for opset, args in ((18, ["--overwrite"]), (20, ["--opset", "20", "--overwrite"])):
        done = cli("export", "--checkpoint", checkpoint, "--out", out, *args)
        assert done.returncode == 0 and f"(ONNX opset {opset})" in done.stdout, done.stderr
        versions = {i.domain: i.version for i in onnx.load(str(out)).opset_import}
        assert versions[""] == opset


def _readme_snippet() -> str:
    text = (ROOT / "docs" / "usage.md").read_text(encoding="utf-8")
    found = re.search(r"<!-- onnx snippet -->\s*```python\n(.*?)```", text, re.S)
    assert found, "docs/usage.md: the onnxruntime snippet (after <!-- onnx snippet -->) is missing"
    return found.group(1)


def test_the_readme_snippet_colorizes_with_onnxruntime_alone(smoke_study, cli, tmp_path):
    """The README's lines, run in a fresh interpreter in which torch and colorlib cannot be
    imported, give what colorlib's own colorize gives (up to the resampling of two libraries)."""
    import skimage.data

    best = smoke_study.paths.run("A_VGG").best
    assert cli("export", "--checkpoint", best, "--out", tmp_path / "A.onnx").returncode == 0
    Image.fromarray(skimage.data.astronaut()).save(tmp_path / "photo.jpg", quality=95)
    blocker = "import sys; sys.modules['torch'] = None; sys.modules['colorlib'] = None\n"
    (tmp_path / "snippet.py").write_text(blocker + _readme_snippet(), encoding="utf-8")
    done = subprocess.run(
        [sys.executable, "snippet.py"], cwd=tmp_path, capture_output=True, text=True, timeout=300
    )
    assert done.returncode == 0, done.stderr
    theirs = np.asarray(Image.open(tmp_path / "photo_colorized.png")).astype(int)
    G, _ = load_generator(best)
    ours = colorize_array(G, load_rgb(tmp_path / "photo.jpg")).astype(int)
    assert theirs.shape == ours.shape == (512, 512, 3)
    assert np.abs(theirs - ours).max() <= 2  # measured: 1 level, at 0.001 % of the values
