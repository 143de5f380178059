"""colorlib checkpoints: one envelope, ``weights_only=True``, and a clear error naming the file
for anything else (empty, truncated, foreign, malicious, non-finite, misfit)."""

import os

import pytest
import torch

from colorlib.checkpoints import CheckpointError, load_checkpoint, load_generator, save_checkpoint
from colorlib.config import make_config
from colorlib.errors import ColorlibError
from colorlib.networks import UnetGenerator, define_G


def VGG(model: str):
    """A configuration with the ImageNet VGG16 encoder: its weights take a second or two to
    load, so it runs in the full suite, not in test-fast."""
    return pytest.param(model, marks=pytest.mark.slow)


def _generator_checkpoint(path, poison: str | None = None):
    cfg = make_config("A", "smoke")
    state = UnetGenerator(cfg.image_size, cfg.ngf).state_dict()
    if poison:
        state[poison] = state[poison].clone()
        state[poison].view(-1)[3] = float("nan")
    save_checkpoint(path, "generator", cfg, generator=state, epoch=1, val_l1=0.1)
    return path


def test_non_finite_weights_are_refused_naming_the_tensor(tmp_path):
    load_checkpoint(_generator_checkpoint(tmp_path / "good.pt"))
    name = next(iter(UnetGenerator(32, 8).state_dict()))
    bad = _generator_checkpoint(tmp_path / "nan.pt", poison=name)
    with pytest.raises(CheckpointError, match=rf"nan\.pt holds non-finite.*generator\['{name}'\]"):
        load_checkpoint(bad)


@pytest.mark.parametrize(
    "name, content, message",
    [
        ("empty.pt", b"", r"empty\.pt is empty"),
        ("junk.pt", b"definitely not a checkpoint", r"junk\.pt is not a colorlib checkpoint"),
    ],
)
def test_empty_and_junk_files_get_one_clear_line(tmp_path, name, content, message):
    (tmp_path / name).write_bytes(content)
    with pytest.raises(CheckpointError, match=message):
        load_generator(tmp_path / name)


def test_truncated_foreign_malicious_missing_and_misfit_checkpoints(tmp_path):
    truncated = tmp_path / "cut.pt"
    truncated.write_bytes(_generator_checkpoint(tmp_path / "g.pt").read_bytes()[:100])
    with pytest.raises(CheckpointError, match=r"cut\.pt is not a colorlib checkpoint"):
        load_checkpoint(truncated)
    foreign = tmp_path / "foreign.pt"
    torch.save({"state_dict": {"w": torch.zeros(1)}}, foreign)
    with pytest.raises(CheckpointError, match="no 'colorlib.checkpoint' marker"):
        load_generator(foreign)

    class Evil:
        def __reduce__(self):
            return (os.system, ("echo pwned",))

    torch.save({"format": "colorlib.checkpoint", "x": Evil()}, tmp_path / "evil.pt")
    with pytest.raises(CheckpointError, match="not a colorlib checkpoint") as err:
        load_checkpoint(tmp_path / "evil.pt")
    # torch's hint to retry with weights_only=False is the one advice not to give
    assert "weights_only" not in str(err.value) and "was not loaded" in str(err.value)

    with pytest.raises(FileNotFoundError, match="train first") as missing:
        load_generator(tmp_path / "missing.pt")
    assert isinstance(missing.value, ColorlibError)  # the user's to fix: one line on the CLI

    blob = torch.load(_generator_checkpoint(tmp_path / "g32.pt"), weights_only=True)
    blob["config"]["image_size"] = 64  # the weights were made at 32: one level fewer
    torch.save(blob, tmp_path / "misfit.pt")
    with pytest.raises(CheckpointError, match="do not fit the network.*image_size=64"):
        load_generator(tmp_path / "misfit.pt")


@pytest.mark.parametrize("model_id", [VGG("A_VGG"), "CLS", VGG("CLS_VGG")])
def test_a_checkpoint_rebuilds_its_generator_and_head(tmp_path, model_id):
    """Every command that loads a checkpoint (evaluate, colorize, explore, the page) goes
    through load_generator: it rebuilds the network the config names, weights and bins."""
    cfg = make_config(model_id, "smoke")
    torch.manual_seed(0)
    G = define_G(cfg).eval()
    path = tmp_path / "best_model.pt"
    save_checkpoint(path, "generator", cfg, generator=G.state_dict(), epoch=1, val_l1=0.1)
    loaded, blob = load_generator(path)
    assert type(loaded) is type(G) and blob["config"].generator == cfg.generator
    L = torch.rand(2, 1, 32, 32) * 2 - 1
    torch.testing.assert_close(loaded(L), G(L), rtol=0, atol=0)
    # weights of another generator are refused, naming what the config describes
    other = make_config("A", "smoke")
    save_checkpoint(path, "generator", cfg, generator=define_G(other).state_dict(), epoch=1)
    with pytest.raises(CheckpointError, match=f"generator={cfg.generator}, head={cfg.head}"):
        load_generator(path)


def test_files_of_other_kinds_are_named_for_what_they_are(tmp_path):
    """Issue 31, item 11: a folder, an .npy, an image or an exported ONNX model passed as a
    checkpoint is named for what it is (it was "does not exist" and "holds objects other than
    tensors"), and nothing in it is read."""
    import numpy as np
    from PIL import Image

    (tmp_path / "models" / "A").mkdir(parents=True)
    with pytest.raises(CheckpointError, match=r"is a folder; pass the checkpoint file in it"):
        load_checkpoint(tmp_path / "models" / "A")
    np.save(tmp_path / "weights.npy", np.zeros(3))
    Image.new("RGB", (4, 4)).save(tmp_path / "photo.pt", format="PNG")  # whatever its suffix
    (tmp_path / "model.onnx").write_bytes(b"\x08\x08\x12\x07pytorch")  # protobuf: no magic
    for name, kind in [("weights.npy", "a NumPy .npy file"), ("photo.pt", "a PNG image"),
                       ("model.onnx", "an ONNX model")]:  # fmt: skip
        with pytest.raises(CheckpointError, match=rf"{name} is {kind}.*not a colorlib checkpoint"):
            load_generator(tmp_path / name)
