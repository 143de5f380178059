"""Zhang et al.'s classification pieces (colorlib.quantize), each against a hand computation."""

import math

import numpy as np
import pytest
import torch

from colorlib.color import rgb_to_lab
from colorlib.quantize import (
    GRID,
    AbClasses,
    annealed_mean,
    bin_prior,
    cached_prior,
    gamut_bins,
    has_colour,
    nearest_bin,
    rebalance_weights,
    rebalanced_cross_entropy,
    smooth_prior,
    soft_encode,
)


def test_the_gamut_has_261_bins_on_the_grid_of_10():
    c = gamut_bins()
    assert c.shape == (261, 2) and c.dtype == torch.float32
    assert torch.equal(c, torch.round(c / GRID) * GRID)  # centres on the grid
    assert len({tuple(x) for x in c.tolist()}) == 261
    assert [0.0, 0.0] in c.tolist()
    # every 8-bit colour's nearest centre is a bin: random colours, and the cube's corners
    rgb = torch.randint(0, 256, (1, 3, 64, 64), generator=torch.Generator().manual_seed(0))
    corners = torch.tensor([[r, g, b] for r in (0, 255) for g in (0, 255) for b in (0, 255)])
    rgb = torch.cat([rgb.flatten(2), corners.T[None]], dim=2)[..., None].to(torch.uint8)
    ab = rgb_to_lab(rgb)[:, 1:]
    cell = torch.round(ab / GRID) * GRID  # the nearest grid point
    nearest = c[nearest_bin(ab, c)].permute(0, 3, 1, 2)
    assert torch.equal(nearest, cell)


def test_soft_encoding_weights_are_gaussian_and_sum_to_1():
    c = gamut_bins()
    ab = torch.tensor([[0.0, 0.0], [3.0, -4.0], [47.0, 12.0]]).T.reshape(1, 2, 3, 1)
    index, weight = soft_encode(ab, c)
    assert index.shape == weight.shape == (1, 5, 3, 1)
    torch.testing.assert_close(weight.sum(dim=1), torch.ones(1, 3, 1))
    # at a centre: the centre itself, then its four neighbours at distance 10, e^(-100/50) each
    assert c[index[0, 0, 0, 0]].tolist() == [0.0, 0.0]
    w = weight[0, :, 0, 0]
    expect = torch.tensor([1.0] + [math.exp(-100 / 50)] * 4)
    torch.testing.assert_close(w, expect / expect.sum())
    # nearest first, and every weight follows its distance
    for p in range(3):
        d2 = ((c[index[0, :, p, 0]] - ab[0, :, p, 0]) ** 2).sum(1)
        assert torch.all(d2[1:] >= d2[:-1])
        ratio = weight[0, :, p, 0] / weight[0, 0, p, 0]
        torch.testing.assert_close(ratio, torch.exp(-(d2 - d2[0]) / 50))


def test_rebalancing_weights_have_expectation_1_under_the_prior():
    prior = np.random.default_rng(0).dirichlet(np.full(261, 0.3))
    w = rebalance_weights(prior, 0.5)
    assert (prior * w).sum() == pytest.approx(1.0)
    # the rarest bin weighs most; lambda = 1 is no rebalancing
    assert w.argmax() == prior.argmin() and w.argmin() == prior.argmax()
    np.testing.assert_allclose(rebalance_weights(prior, 1.0), 1.0)
    # w ∝ ((1 − λ) p + λ / Q)^−1, by hand for one ratio
    i, j = 3, 7
    expect = (0.5 * prior[j] + 0.5 / 261) / (0.5 * prior[i] + 0.5 / 261)
    assert w[i] / w[j] == pytest.approx(expect)


def test_annealed_mean_mode_mean_and_one_hot():
    c = gamut_bins()
    logits = torch.randn(2, len(c), 3, 3, generator=torch.Generator().manual_seed(1))
    mode = c[logits.argmax(dim=1)].permute(0, 3, 1, 2)
    torch.testing.assert_close(annealed_mean(logits, c, 1e-4), mode)
    mean = torch.einsum("nqhw,qc->nchw", torch.softmax(logits, 1), c)
    torch.testing.assert_close(annealed_mean(logits, c, 1.0), mean)
    one_hot = torch.full((1, len(c), 1, 1), -1e4)
    one_hot[0, 17] = 0.0
    torch.testing.assert_close(annealed_mean(one_hot, c, 0.38)[0, :, 0, 0], c[17])


def test_rebalanced_cross_entropy_by_hand_and_gray_photos_count_zero():
    c = gamut_bins()
    weights = torch.from_numpy(rebalance_weights(np.full(261, 1 / 261))).float() * 2.0
    logits = torch.randn(2, len(c), 2, 2, generator=torch.Generator().manual_seed(2))
    ab = torch.zeros(2, 2, 2, 2)
    ab[0, 0] = 40.0  # photo 0: a = 40 everywhere; photo 1: gray
    index, target = soft_encode(ab, c)
    logp = torch.log_softmax(logits, 1)
    ce = -(target * logp.gather(1, index)).sum(1)  # (2, 2, 2)
    expect = (ce[0] * 2.0).sum() / 8  # photo 1 weighs 0; mean over all 8 pixels
    torch.testing.assert_close(rebalanced_cross_entropy(logits, ab, c, weights), expect)
    assert has_colour(ab).tolist() == [True, False]
    # a gray photo alone: no loss, no gradient
    gray_logits = logits[1:].clone().requires_grad_(True)
    loss = rebalanced_cross_entropy(gray_logits, ab[1:], c, weights)
    loss.backward()
    assert loss.item() == 0 and gray_logits.grad.abs().max() == 0


def test_prior_of_photos_peaks_at_their_colour_and_is_cached(tmp_path):
    c = gamut_bins()
    red = np.zeros((3, 8, 8, 3), np.uint8)
    red[..., 0] = 200  # three red photos, and a gray one that is left out
    gray = np.full((1, 8, 8, 3), 128, np.uint8)
    images = np.concatenate([red, gray])
    prior = bin_prior(images, c)
    assert prior.sum() == pytest.approx(1.0) and (prior >= 0).all()
    ab = rgb_to_lab(torch.from_numpy(red[:1]).permute(0, 3, 1, 2))[:, 1:]
    assert prior.argmax() == nearest_bin(ab, c)[0, 0, 0]
    assert prior[nearest_bin(torch.zeros(1, 2, 1, 1), c)[0, 0, 0]] < 1e-6  # gray is not counted
    # smoothing with sigma 5: a neighbour 10 away gets e^(-100/50) of the peak's share
    one = np.zeros(261)
    one[100] = 1.0
    smooth = smooth_prior(one, c, sigma=5.0)
    neighbour = int(((c - c[100]) ** 2).sum(1).eq(100).nonzero()[0])
    assert smooth[neighbour] / smooth[100] == pytest.approx(math.exp(-2))
    cache = tmp_path / "prior.npy"
    first = cached_prior(images, c, cache)
    assert cache.is_file()
    np.testing.assert_array_equal(cached_prior(images[:1] * 0, c, cache), first)  # read back


def test_ab_classes_loss_reads_normalised_ab(tmp_path):
    class Cfg:
        cache_dir, image_size, rebalance_lambda = str(tmp_path), 8, 0.5

    images = np.random.default_rng(3).integers(0, 256, (4, 8, 8, 3), dtype=np.uint8)
    classes = AbClasses.of(images, "f" * 64, Cfg)
    assert classes.describe()["bins"] == 261 and classes.cache.parent == tmp_path
    logits = torch.randn(1, 261, 8, 8)
    ab = torch.rand(1, 2, 8, 8) * 0.5 - 0.25  # normalised: Lab / 128
    expect = rebalanced_cross_entropy(logits, ab * 128, classes.centres, classes.weights)
    torch.testing.assert_close(classes.loss(logits, ab), expect)
