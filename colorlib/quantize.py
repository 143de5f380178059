"""Colour as classes: Zhang, Isola & Efros, "Colorful Image Colorization" (ECCV 2016).

Instead of regressing ab (which predicts the mean of the plausible colours: desaturated), the
``classification`` head predicts a distribution over quantised ab bins per pixel:

* :func:`gamut_bins` — the bin centres: the ab grid of spacing ``GRID`` = 10 (Lab units), the
  centres that some 8-bit sRGB colour rounds to (nearest centre): **261** bins, all computed
  from the sRGB gamut. Zhang's 313 (``pts_in_hull.npy``) are the in-gamut bins that
  ImageNet's photos reach, a set tied to one dataset and to their prior file; colorlib's prior
  comes from each study's own training split, so its bins are defined by the gamut alone, and
  every colour a photo can hold has a bin.
* :func:`soft_encode` — the target: a Gaussian (σ = ``SOFT_SIGMA`` = 5) over the
  ``NEIGHBOURS`` = 5 nearest centres of the true ab, normalised to sum 1 (the paper's 5; the
  released Caffe layer uses 10).
* :func:`bin_prior` — the empirical distribution of the training pixels' nearest bins (photos
  with colour only), smoothed with a Gaussian of σ = ``PRIOR_SIGMA`` = 5 in ab units.
* :func:`rebalance_weights` — ``w ∝ ((1 − λ) p̃ + λ / Q)^−1`` with λ = ``REBALANCE_LAMBDA`` =
  0.5, normalised so that ``E_p̃[w] = 1``; each pixel's loss is weighted by the ``w`` of its
  nearest bin, so rare saturated colours are not drowned by the common desaturated ones.
* :func:`rebalanced_cross_entropy` — the loss; photos with no colour (no pixel with |a| or
  |b| > ``MIN_CHROMA`` = 5, Zhang's ``NonGrayMaskLayer``) contribute none.
* :func:`annealed_mean` — the decoding: ``softmax(logits / T)`` with T = ``TEMPERATURE`` =
  0.38 (Zhang's demo multiplies the logits by 2.606), then the mean of the centres. T → 0
  gives the mode, T = 1 the mean.

All ab here are in Lab units (about ±128), not the network's normalised range.
"""

from __future__ import annotations

import functools
import io
import logging
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

from colorlib.atomic import atomic_write_bytes
from colorlib.color import AB_SCALE, rgb_to_lab
from colorlib.config import ExperimentConfig

log = logging.getLogger(__name__)

GRID = 10.0
SOFT_SIGMA = 5.0
NEIGHBOURS = 5
PRIOR_SIGMA = 5.0
# the config's defaults (ExperimentConfig.rebalance_lambda, .temperature), defined there once
REBALANCE_LAMBDA = ExperimentConfig.rebalance_lambda
TEMPERATURE = ExperimentConfig.temperature
MIN_CHROMA = 5.0
_PIXEL_CHUNK = 1 << 18  # pixels per distance computation (bounds memory at 256²)


def gamut_bins(grid: float = GRID) -> torch.Tensor:
    """The ``(Q, 2)`` float32 ab centres (Lab units) of the grid cells that sRGB colours reach
    (:func:`_gamut_bins`), on the CPU whatever the default device (a network built on the
    ``meta`` device to load a checkpoint into reads them)."""
    with torch.device("cpu"):
        return _gamut_bins(grid)


@functools.lru_cache(maxsize=4)
def _gamut_bins(grid: float) -> torch.Tensor:
    """The ``(Q, 2)`` float32 ab centres (Lab units) of the grid cells that sRGB colours reach:
    every one of the 256³ 8-bit colours is converted and rounded to its nearest centre
    (multiples of ``grid``); Q = 261 at grid 10. Ordered by a, then b."""
    levels = torch.arange(256, dtype=torch.uint8)
    reach = int(round(130 / grid))  # |a|, |b| < 130 for every sRGB colour
    width = 2 * reach + 1
    hit = torch.zeros(width * width, dtype=torch.bool)
    g, b = torch.meshgrid(levels, levels, indexing="ij")
    for r in levels.split(32):  # 32 red levels at a time: 2 M colours
        rgb = torch.stack(
            [
                r.view(-1, 1, 1).expand(-1, 256, 256),
                g.expand(len(r), -1, -1),
                b.expand(len(r), -1, -1),
            ],
            dim=1,
        )  # (32, 3, 256, 256)
        ab = rgb_to_lab(rgb)[:, 1:]
        cells = torch.round(ab.double() / grid).long() + reach
        hit[(cells[:, 0] * width + cells[:, 1]).flatten()] = True
    flat = hit.nonzero().flatten()
    centres = torch.stack([flat // width - reach, flat % width - reach], dim=1).float() * grid
    return centres


def soft_encode(
    ab: torch.Tensor, centres: torch.Tensor, *, sigma: float = SOFT_SIGMA, k: int = NEIGHBOURS
) -> tuple[torch.Tensor, torch.Tensor]:
    """Soft-encoded targets of ab ``(N, 2, H, W)``: the indices ``(N, k, H, W)`` of the ``k``
    nearest centres (nearest first) and their Gaussian weights ``(N, k, H, W)``, summing to 1
    per pixel."""
    n, _, h, w = ab.shape
    pixels = ab.permute(0, 2, 3, 1).reshape(-1, 2).float()
    centres = centres.to(pixels.device, torch.float32)
    index, d2 = [], []
    for part in pixels.split(_PIXEL_CHUNK):
        dist = torch.cdist(part, centres).square()  # (P, Q)
        near, idx = dist.topk(k, dim=1, largest=False)  # sorted: nearest first
        index.append(idx)
        d2.append(near)
    idx, near = torch.cat(index), torch.cat(d2)
    weight = torch.softmax(-near / (2 * sigma**2), dim=1)  # Gaussian, normalised
    shape = (n, h, w, k)
    return (
        idx.reshape(shape).permute(0, 3, 1, 2).contiguous(),
        weight.reshape(shape).permute(0, 3, 1, 2).contiguous(),
    )


def nearest_bin(ab: torch.Tensor, centres: torch.Tensor) -> torch.Tensor:
    """The index of the nearest centre of every pixel of ab ``(N, 2, H, W)``: ``(N, H, W)``
    (:func:`soft_encode`'s nearest neighbour)."""
    return soft_encode(ab, centres, k=1)[0][:, 0]


def has_colour(ab: torch.Tensor, threshold: float = MIN_CHROMA) -> torch.Tensor:
    """``(N,)`` bool: the photo has some pixel with |a| or |b| above ``threshold``."""
    return (ab.abs() > threshold).flatten(1).any(dim=1)


def smooth_prior(counts: np.ndarray, centres: torch.Tensor, sigma: float = PRIOR_SIGMA):
    """Bin counts ``(Q,)`` -> the probability distribution smoothed by a Gaussian of ``sigma``
    (ab units) over the centres; sums to 1."""
    c = centres.double().numpy()
    d2 = ((c[:, None, :] - c[None, :, :]) ** 2).sum(-1)
    kernel = np.exp(-d2 / (2 * sigma**2))
    p = np.asarray(counts, np.float64)
    p = p / p.sum()
    smoothed = kernel @ p
    return smoothed / smoothed.sum()


def bin_prior(images: np.ndarray, centres: torch.Tensor, *, batch: int = 64) -> np.ndarray:
    """The smoothed empirical prior ``(Q,)`` of the nearest bins of the pixels of ``images``
    (uint8 ``(N, S, S, 3)`` sRGB); photos without colour (:func:`has_colour`) are left out, as
    they contribute no loss."""
    counts = np.zeros(len(centres), np.float64)
    for start in range(0, len(images), batch):
        rgb = torch.from_numpy(np.ascontiguousarray(images[start : start + batch]))
        ab = rgb_to_lab(rgb.permute(0, 3, 1, 2))[:, 1:]
        ab = ab[has_colour(ab)]
        if len(ab):
            bins = nearest_bin(ab, centres).flatten()
            counts += np.bincount(bins.numpy(), minlength=len(centres))
    if counts.sum() == 0:
        raise ValueError("no photo with colour to compute the ab prior from")
    return smooth_prior(counts, centres)


def rebalance_weights(prior: np.ndarray, lam: float = REBALANCE_LAMBDA) -> np.ndarray:
    """``w ∝ ((1 − λ) p̃ + λ / Q)^−1``, scaled so that ``Σ p̃ w = 1``."""
    p = np.asarray(prior, np.float64)
    w = 1.0 / ((1 - lam) * p + lam / len(p))
    return w / (p * w).sum()


def rebalanced_cross_entropy(
    logits: torch.Tensor, ab: torch.Tensor, centres: torch.Tensor, weights: torch.Tensor
) -> torch.Tensor:
    """Zhang et al.'s loss for logits ``(N, Q, H, W)`` and true ab ``(N, 2, H, W)`` (Lab
    units): the cross-entropy with the soft-encoded target, each pixel weighted by the
    rebalancing weight of its nearest bin, photos without colour weighted 0; the mean over
    every pixel of the batch."""
    index, target = soft_encode(ab, centres)
    logp = F.log_softmax(logits.float(), dim=1)
    ce = -(target * logp.gather(1, index)).sum(dim=1)  # (N, H, W)
    pixel_weight = weights.to(ce.device)[index[:, 0]] * has_colour(ab).to(ce.dtype)[:, None, None]
    return (ce * pixel_weight).mean()


def annealed_mean(
    logits: torch.Tensor, centres: torch.Tensor, temperature: float = TEMPERATURE
) -> torch.Tensor:
    """Logits ``(N, Q, H, W)`` -> ab ``(N, 2, H, W)`` (Lab units): the mean of the centres
    under ``softmax(logits / temperature)``."""
    p = torch.softmax(logits.float() / temperature, dim=1)
    return torch.einsum("nqhw,qc->nchw", p, centres.to(p.device, p.dtype))


def cached_prior(images: np.ndarray, centres: torch.Tensor, cache: Path) -> np.ndarray:
    """:func:`bin_prior` of ``images``, read from ``cache`` (a ``.npy``) when it is there,
    else computed once and written there atomically."""
    if cache.is_file():
        prior = np.load(cache, allow_pickle=False)
        if prior.shape == (len(centres),) and np.isfinite(prior).all():
            return prior
        log.warning("ab prior %s does not fit %d bins; recomputing it", cache, len(centres))
    prior = bin_prior(images, centres)
    buf = io.BytesIO()
    np.save(buf, prior, allow_pickle=False)
    atomic_write_bytes(cache, buf.getvalue())
    return prior


class AbClasses:
    """The classification loss of one training run: the bins, the training split's prior and
    its rebalancing weights (:func:`rebalanced_cross_entropy` on normalised ab)."""

    def __init__(self, prior: np.ndarray, lam: float, cache: Path | None = None) -> None:
        self.centres = gamut_bins()
        self.prior = prior
        self.lam = lam
        self.cache = cache
        self.weights = torch.from_numpy(rebalance_weights(prior, lam)).float()

    @classmethod
    def of(cls, images: np.ndarray, fingerprint: str, cfg) -> AbClasses:
        """The classes of a config's training photos ``images``; the prior is cached in the
        config's ``cache_dir``, keyed by the dataset fingerprint and the image size."""
        cache = Path(cfg.cache_dir) / f"ab_prior_{fingerprint[:16]}_{cfg.image_size}.npy"
        return cls(cached_prior(images, gamut_bins(), cache), cfg.rebalance_lambda, cache)

    def loss(self, logits: torch.Tensor, ab: torch.Tensor) -> torch.Tensor:
        """The rebalanced cross-entropy of ``logits`` for the normalised true ``ab``."""
        return rebalanced_cross_entropy(logits, ab.float() * AB_SCALE, self.centres, self.weights)

    def describe(self) -> dict:
        """What ``run.json`` records of the prior: its file, its size and shape."""
        p = self.prior
        entropy = float(-(p[p > 0] * np.log(p[p > 0])).sum())
        return {
            "bins": len(p),
            "grid": GRID,
            "prior_file": str(self.cache) if self.cache else None,
            "prior_entropy_nats": round(entropy, 4),
            "bins_with_prior_above_1e-4": int((p > 1e-4).sum()),
            "rebalance_lambda": self.lam,
            "max_weight": round(float(self.weights.max()), 4),
        }
