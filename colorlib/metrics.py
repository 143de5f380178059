"""Image-quality metrics of the study, each checked against its reference implementation.

Conventions (as scikit-image): images are channel-last, RGB in [0, 1] with an explicit
``data_range``; a single image is ``(H, W, 3)``, a batch ``(N, H, W, 3)``; per-image metrics
return a float for one image and an array ``(N,)`` for a batch. Lab is CIE L*a*b* (D65, 2°).

=================  ==========  ===================================================
metric             better      reference it is tested against
=================  ==========  ===================================================
``psnr``           higher      ``skimage.metrics.peak_signal_noise_ratio``
``ssim``           higher      ``skimage.metrics.structural_similarity`` (7x7 uniform)
``ciede2000``      lower       Sharma, Wu & Dalal (2005) test data; colormath
``LPIPS``          lower       official lpips v0.1 AlexNet calibration values
``colorfulness``   (vivid)     Hasler & Süsstrunk (2003)
``delta_cf``       lower       DDColor's ΔCF: |CF of the predictions − CF of the truth|
``fid``            lower       torchmetrics' FrechetInceptionDistance (same features)
``kid``            lower       torchmetrics' KernelInceptionDistance (same features)
=================  ==========  ===================================================

FID and KID are set-level (:mod:`colorlib.fid`): computed from the Inception features of the
whole test set, not averaged over images; :data:`METRICS` says which is which.
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import pandas as pd
import torch
from torch import nn

from colorlib.color import join_lab, lab_to_rgb, rgb_to_lab
from colorlib.fid import frechet_distance, kernel_distance
from colorlib.pretrained import WeightSource, load_features

SSIM_WIN_SIZE = 7
SSIM_K1, SSIM_K2 = 0.01, 0.03


# --- PSNR / SSIM ----------------------------------------------------------------------------


def psnr(image_true, image_test, *, data_range: float) -> float | np.ndarray:
    """Peak signal-to-noise ratio in dB per image, as ``skimage.metrics.peak_signal_noise_ratio``.

    ``(H, W, C)`` -> float, ``(N, H, W, C)`` -> ``(N,)``. Identical images give ``inf``.
    """
    t, p = _pair64(image_true, image_test)
    out = _psnr(torch.from_numpy(t), torch.from_numpy(p), data_range, dims=(-3, -2, -1))
    return _scalar_if_single(out.numpy(), t)


def _psnr(t: torch.Tensor, p: torch.Tensor, data_range: float, dims) -> torch.Tensor:
    mse = ((t - p) ** 2).mean(dim=dims)
    return 10.0 * torch.log10(data_range**2 / mse)  # mse = 0 -> inf


def ssim(image_true, image_test, *, data_range: float) -> float | np.ndarray:
    """Mean structural similarity per image, as ``skimage.metrics.structural_similarity``
    with ``channel_axis=-1`` and its defaults (7x7 uniform window, K1=0.01, K2=0.03,
    sample covariance), computed in float64 and averaged over channels.

    ``(H, W, C)`` -> float, ``(N, H, W, C)`` -> ``(N,)``.
    """
    t, p = _pair64(image_true, image_test)
    x = torch.from_numpy(np.ascontiguousarray(np.moveaxis(t.reshape((-1,) + t.shape[-3:]), -1, 1)))
    y = torch.from_numpy(np.ascontiguousarray(np.moveaxis(p.reshape((-1,) + p.shape[-3:]), -1, 1)))
    if min(x.shape[-2:]) < SSIM_WIN_SIZE:
        raise ValueError(f"ssim needs images of at least {SSIM_WIN_SIZE}x{SSIM_WIN_SIZE}")
    per_image = _ssim(x, y, data_range)
    return _scalar_if_single(per_image.numpy().reshape(t.shape[:-3]), t)


def _ssim(x: torch.Tensor, y: torch.Tensor, data_range: float) -> torch.Tensor:
    """SSIM per image of ``(N, C, H, W)`` batches, averaged over channels; ``(N,)``. On the CPU
    one image at a time: its intermediates fit in cache (3-5x faster than whole batches)."""
    c1, c2 = (SSIM_K1 * data_range) ** 2, (SSIM_K2 * data_range) ** 2
    if x.device.type == "cpu":
        return torch.cat([_ssim_batch(x[i : i + 1], y[i : i + 1], c1, c2) for i in range(len(x))])
    return _ssim_batch(x, y, c1, c2)


def _ssim_batch(x: torch.Tensor, y: torch.Tensor, c1: float, c2: float) -> torch.Tensor:
    """SSIM per image of a ``(N, C, H, W)`` pair, averaged over channels: ``(N,)``."""
    # the five local means in one pass: x, y, x², y², xy over every 7x7 window
    ux, uy, uxx, uyy, uxy = _window_mean(torch.stack([x, y, x * x, y * y, x * y]))
    n = SSIM_WIN_SIZE**2
    cov_norm = n / (n - 1)
    vx = cov_norm * (uxx - ux * ux)
    vy = cov_norm * (uyy - uy * uy)
    vxy = cov_norm * (uxy - ux * uy)
    s = ((2 * ux * uy + c1) * (2 * vxy + c2)) / ((ux**2 + uy**2 + c1) * (vx + vy + c2))
    return s.mean(dim=(-3, -2, -1))


def _window_mean(z: torch.Tensor) -> torch.Tensor:
    """Mean over every ``SSIM_WIN_SIZE``² window that fits (the region scikit-image keeps),
    as separable shifted sums accumulated in place: exact in float64 and far faster than
    avg_pool2d on CPU (callers pass one image at a time so the sums stay in cache)."""
    k = SSIM_WIN_SIZE
    h, w = z.shape[-2:]
    rows = z[..., : h - k + 1, :].clone()
    for i in range(1, k):
        rows += z[..., i : h - k + 1 + i, :]
    out = rows[..., : w - k + 1].clone()
    for j in range(1, k):
        out += rows[..., j : w - k + 1 + j]
    return out.div_(k * k)


# --- CIEDE2000 ------------------------------------------------------------------------------


def ciede2000(lab1, lab2):
    """CIEDE2000 colour difference ΔE00 per pixel (kL = kC = kH = 1), vectorised, float64.

    Parameters
    ----------
    lab1, lab2 : array_like (..., 3)
        CIE Lab (D65, 2°), channel-last; numpy arrays or torch tensors, broadcastable.

    Returns
    -------
    ndarray or Tensor (...)
        ΔE00 of every pixel (no sub-sampling), numpy float64 unless both inputs are torch
        tensors; then a tensor on their device, in their dtype when it is floating (float32 is
        the device path of :func:`evaluate_pair`), else float64. Symmetric in its arguments.

    Notes
    -----
    Follows Sharma, Wu & Dalal, Color Res. Appl. 30(1), 2005, including their notes on
    hue-angle wrap-around and zero chroma; reproduces all 34 of their test pairs. Computed with
    torch (float64 on the CPU, all threads): about twice numpy's speed on the same formula.
    """
    as_torch = isinstance(lab1, torch.Tensor) and isinstance(lab2, torch.Tensor)
    L1, a1, b1 = _lab_channels(lab1)
    L2, a2, b2 = _lab_channels(lab2)
    pi = math.pi
    c_bar = (torch.hypot(a1, b1) + torch.hypot(a2, b2)) / 2
    c_bar7 = c_bar**7
    g = 0.5 * (1 - torch.sqrt(c_bar7 / (c_bar7 + 25.0**7)))
    a1p, a2p = (1 + g) * a1, (1 + g) * a2
    c1p, c2p = torch.hypot(a1p, b1), torch.hypot(a2p, b2)
    h1p = torch.remainder(torch.atan2(b1, a1p), 2 * pi)  # atan2(0, 0) = 0 as Sharma requires
    h2p = torch.remainder(torch.atan2(b2, a2p), 2 * pi)

    chroma_zero = (c1p * c2p) == 0
    dh = h2p - h1p
    dh = torch.where(dh > pi, dh - 2 * pi, dh)
    dh = torch.where(dh < -pi, dh + 2 * pi, dh)
    dh = torch.where(chroma_zero, 0.0, dh)
    dL = L2 - L1
    dC = c2p - c1p
    dH = 2 * torch.sqrt(c1p * c2p) * torch.sin(dh / 2)

    L_bar = (L1 + L2) / 2
    cp_bar = (c1p + c2p) / 2
    h_sum = h1p + h2p
    h_bar = torch.where(
        (h1p - h2p).abs() <= pi,
        h_sum / 2,
        torch.where(h_sum < 2 * pi, (h_sum + 2 * pi) / 2, (h_sum - 2 * pi) / 2),
    )
    h_bar = torch.where(chroma_zero, h_sum, h_bar)

    s_l, s_c, s_h, r_t = _ciede2000_weights(L_bar, cp_bar, h_bar)
    dl, dc, dhh = dL / s_l, dC / s_c, dH / s_h
    out = torch.sqrt(dl**2 + dc**2 + dhh**2 + r_t * dc * dhh)
    return out if as_torch else out.numpy()


def _ciede2000_weights(L_bar: torch.Tensor, cp_bar: torch.Tensor, h_bar: torch.Tensor):
    """The weighting functions S_L, S_C, S_H and the rotation term R_T of CIEDE2000 (Sharma,
    Wu & Dalal, eqs. 15-22) from the mean lightness, chroma and hue of the pair."""
    t = (
        1
        - 0.17 * torch.cos(h_bar - math.radians(30))
        + 0.24 * torch.cos(2 * h_bar)
        + 0.32 * torch.cos(3 * h_bar + math.radians(6))
        - 0.20 * torch.cos(4 * h_bar - math.radians(63))
    )
    d_theta = math.radians(30) * torch.exp(-(((torch.rad2deg(h_bar) - 275) / 25) ** 2))
    cp_bar7 = cp_bar**7
    r_c = 2 * torch.sqrt(cp_bar7 / (cp_bar7 + 25.0**7))
    s_l = 1 + 0.015 * (L_bar - 50) ** 2 / torch.sqrt(20 + (L_bar - 50) ** 2)
    s_c = 1 + 0.045 * cp_bar
    s_h = 1 + 0.015 * cp_bar * t
    r_t = -torch.sin(2 * d_theta) * r_c
    return s_l, s_c, s_h, r_t


# --- colourfulness --------------------------------------------------------------------------


def colorfulness(rgb) -> float | np.ndarray:
    """Hasler & Süsstrunk (2003) colourfulness ``M = σ_rgyb + 0.3 · μ_rgyb`` per image.

    ``rg = R - G`` and ``yb = (R + G) / 2 - B`` on 0–255 values (the input, RGB in [0, 1],
    ``(H, W, 3)`` or ``(N, H, W, 3)``, is multiplied by 255). As in the paper, the opponent
    channels are used *signed*, with no absolute value (some popular re-implementations take
    ``|R - G|``, which changes μ): ``σ_rgyb = sqrt(σ_rg² + σ_yb²)``,
    ``μ_rgyb = sqrt(μ_rg² + μ_yb²)``. A gray image scores 0.
    """
    x = np.asarray(_numpy(rgb), dtype=np.float64)
    if x.ndim < 3 or x.shape[-1] != 3:
        raise ValueError(f"colorfulness expects (..., H, W, 3) RGB; got shape {x.shape}")
    values = _colorfulness(torch.from_numpy(np.moveaxis(x, -1, -3)))
    return _scalar_if_single(values.numpy(), x)


def _colorfulness(rgb: torch.Tensor) -> torch.Tensor:
    """Colourfulness of ``(..., 3, H, W)`` RGB in [0, 1]: ``(...)``."""
    x = rgb * 255.0
    r, g, b = x.unbind(-3)
    rg = r - g
    yb = 0.5 * (r + g) - b
    dims = (-2, -1)
    sigma = torch.sqrt(rg.var(dim=dims, correction=0) + yb.var(dim=dims, correction=0))
    mu = torch.sqrt(rg.mean(dim=dims) ** 2 + yb.mean(dim=dims) ** 2)
    return sigma + 0.3 * mu


# --- overall score --------------------------------------------------------------------------


def overall_score(df: pd.DataFrame) -> pd.Series:
    """Mean of min–max-normalised PSNR, SSIM, CIEDE2000↓ and LPIPS↓ across the rows (models).

    ``df`` has columns ``psnr, ssim, ciede2000, lpips`` and one row per model; the result is a
    Series on the same index, 1 = best on all four. CIEDE2000 and LPIPS are reversed. A column
    on which every model ties contributes 1 to every row (nobody is worse). The original
    normalised across its ten trained configurations; pass those rows only to reproduce it.
    """
    missing = [c for c in scored() if c not in df.columns]
    if missing:
        raise ValueError(f"overall_score needs columns {list(scored())}; missing {missing}")
    values = df[list(scored())].to_numpy(dtype=np.float64)
    return pd.Series(overall_scores(values), index=df.index, name="overall_score")


def overall_scores(values: np.ndarray) -> np.ndarray:
    """:func:`overall_score` on arrays: ``values (..., models, 4)`` in :func:`scored`'s
    column order -> ``(..., models)``; the leading axes are independent tables (bootstrap
    draws)."""
    values = np.asarray(values, dtype=np.float64)
    if values.shape[-2] == 0:  # no trained configuration (a GRAY-only study): nothing to score
        return np.zeros(values.shape[:-1])
    low = values.min(axis=-2, keepdims=True)
    span = values.max(axis=-2, keepdims=True) - low
    with np.errstate(invalid="ignore", divide="ignore"):
        norm = np.where(span > 0, (values - low) / np.where(span > 0, span, 1.0), 1.0)
    higher = np.array([METRICS[m].higher_is_better for m in scored()])
    return np.where(higher, norm, 1.0 - np.where(span > 0, norm, 0.0)).mean(axis=-1)


# --- LPIPS ----------------------------------------------------------------------------------


class LPIPS(nn.Module):
    """LPIPS v0.1 with the AlexNet backbone (the ``lpips`` package's network and linear heads).

    Call on two ``(N, 3, H, W)`` RGB tensors scaled to [-1, 1]; returns ``(N,)`` distances.
    The AlexNet features come from :mod:`colorlib.pretrained` (``weights_source`` says which);
    ``backbone="random"`` is for tiny tests only and its numbers are not LPIPS.
    """

    def __init__(self, *, backbone: str = "imagenet", weights_dir: str | None = None) -> None:
        super().__init__()
        import lpips  # imported here: it prints and warns at import-time on some versions

        with warnings.catch_warnings():
            # lpips builds torchvision's alexnet with the deprecated ``pretrained=`` argument;
            # pnet_rand=True means no download, the real weights are copied in below
            warnings.simplefilter("ignore", UserWarning)
            self.net = lpips.LPIPS(net="alex", version="0.1", pnet_rand=True, verbose=False)
        features, source = load_features("alexnet", weights_dir=weights_dir, backbone=backbone)
        self.weights_source: WeightSource = source
        for block in (
            self.net.net.slice1,
            self.net.net.slice2,
            self.net.net.slice3,
            self.net.net.slice4,
            self.net.net.slice5,
        ):
            for index, module in block.named_children():
                module.load_state_dict(features[int(index)].state_dict())
        self.eval()
        for p in self.parameters():
            p.requires_grad_(False)

    def forward(self, x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        if x.shape != y.shape or x.ndim != 4 or x.shape[1] != 3:
            raise ValueError(f"LPIPS needs two (N, 3, H, W) tensors; got {x.shape}, {y.shape}")
        return self.net(x, y).flatten()


# --- per-pair evaluation ----------------------------------------------


EVAL_CHUNK = 4  # images per pass of the pixel metrics: small enough to stay in cache


@dataclass(frozen=True)
class Chunk:
    """What the pixel metrics of a chunk of ``n`` images are computed from: both images as
    sRGB ``(n, 3, H, W)`` in [0, 1] (clipped to the gamut), the per-pixel ΔE00 ``(n, H, W)``
    and the share of the prediction's pixels outside the sRGB gamut ``(n,)``."""

    rgb_pred: torch.Tensor
    rgb_true: torch.Tensor
    delta_e: torch.Tensor
    out_of_gamut: torch.Tensor


@dataclass(frozen=True)
class Metric:
    """One per-image metric of the evaluation.

    ``label``: its heading in tables, figures and the page. ``higher_is_better``: ``True`` or
    ``False`` for the metrics the overall score combines; ``None`` for one reported beside
    them (colourfulness). ``of``: the per-image values ``(n,)`` of a :class:`Chunk`; ``None``
    for LPIPS, which needs its network (:class:`LPIPS`). ``reported``: ``False`` for the
    diagnostics that the per-image CSV keeps but tables and figures do not show.
    ``of_set``: for a metric of a whole set rather than a mean over its images, what turns the
    mean of the per-image values into the set's value (:func:`set_value`); ``None``: the mean.
    ``of_features``: for a set-level metric with no per-image values at all (FID, KID), its
    value from the Inception features of the predictions and of the truth, ``(N, 2048)``
    each, paired by image, and optional bootstrap image counts ``(B, N)`` -> ``(B,)``
    (:mod:`colorlib.fid`); such a metric is computed only when an evaluation computes the
    features (``fid_kid``) and is missing (NaN) otherwise.
    """

    label: str
    higher_is_better: bool | None = None
    of: Callable[[Chunk], torch.Tensor] | None = None
    reported: bool = True
    of_set: Callable[[np.ndarray], np.ndarray] | None = None
    of_features: Callable[..., np.ndarray | float] | None = None


# The evaluation's metrics, in the per-image CSV's column order: the one definition that every
# table, figure, claim and the page reads (adding a metric is one entry here).
METRICS: dict[str, Metric] = {
    "psnr": Metric("PSNR (dB) ↑", True, lambda c: _psnr(c.rgb_true, c.rgb_pred, 1.0, (-3, -2, -1))),
    "ssim": Metric("SSIM ↑", True, lambda c: _ssim(c.rgb_true, c.rgb_pred, 1.0)),
    "ciede2000": Metric("CIEDE2000 ΔE00 ↓", False, lambda c: c.delta_e.mean(dim=(1, 2))),
    "lpips": Metric("LPIPS ↓", False),
    "colorfulness_pred": Metric("colourfulness", None, lambda c: _colorfulness(c.rgb_pred)),
    # ΔCF as DDColor reports it: |mean CF of the predictions − mean CF of the truth| over the
    # set; per image the signed gap, whose mean's absolute value is the set's ΔCF
    "delta_cf": Metric(
        "ΔCF ↓",
        None,
        lambda c: _colorfulness(c.rgb_pred) - _colorfulness(c.rgb_true),
        of_set=np.abs,
    ),
    # realism, of the set: the Inception features' distance between predictions and truth
    "fid": Metric("FID ↓", None, of_features=frechet_distance),
    "kid": Metric("KID ↓", None, of_features=kernel_distance),
    "colorfulness_true": Metric(
        "colourfulness of the truth", None, lambda c: _colorfulness(c.rgb_true), reported=False
    ),
    "out_of_gamut": Metric("share out of gamut", None, lambda c: c.out_of_gamut, reported=False),
}


def set_value(metric: str, mean):
    """A metric's value for a set of images (a float or an array of bootstrap draws) from the
    mean of its per-image values: the mean itself, or what :attr:`Metric.of_set` makes of it
    (ΔCF: its absolute value). For one image, the image's own value."""
    spec = METRICS.get(metric)
    return spec.of_set(mean) if spec is not None and spec.of_set is not None else mean


def scored() -> tuple[str, ...]:
    """The metrics the overall score combines (PSNR, SSIM, ΔE00, LPIPS), in table order."""
    return tuple(k for k, m in METRICS.items() if m.higher_is_better is not None)


def reported() -> tuple[str, ...]:
    """The metrics every table, figure and the page show: the scored ones, colourfulness, ΔCF,
    FID and KID."""
    return tuple(k for k, m in METRICS.items() if m.reported)


def per_image_metrics() -> tuple[str, ...]:
    """The metrics with a value per image (the per-image CSV's columns), in table order."""
    return tuple(k for k, m in METRICS.items() if m.of_features is None)


def feature_metrics() -> tuple[str, ...]:
    """The set-level metrics of the Inception features (FID, KID), in table order."""
    return tuple(k for k, m in METRICS.items() if m.of_features is not None)


@torch.no_grad()
def evaluate_pair(
    L: torch.Tensor,
    ab_pred: torch.Tensor,
    ab_true: torch.Tensor,
    *,
    lpips: LPIPS | None = None,
    device: torch.device | str = "cpu",
    dtype: torch.dtype = torch.float64,
) -> dict[str, np.ndarray]:
    """All per-image metrics for a batch of normalised ``L (N,1,H,W)``, ``ab (N,2,H,W)``.

    Both images are reconstructed to displayable sRGB (Lab -> RGB, clipped to the gamut);
    PSNR, SSIM, colourfulness and LPIPS are computed on those RGB images and ΔE00 (mean over
    every pixel) on their Lab values. Returns float64 arrays ``(N,)`` keyed as
    :data:`METRICS`, in its order (``lpips`` only with ``lpips``).

    The pixel metrics are torch operations in ``dtype`` on ``device``. The default, float64 on
    the CPU, is the reference that reproduces scikit-image and the published values; it runs
    ``EVAL_CHUNK`` images at a time (the values depend on the chunking only at float rounding,
    ~1e-16). On an accelerator the whole batch runs at once; evaluation uses float32 there,
    and ``tests/unit/test_metrics.py`` bounds its difference from the reference on real
    photos. LPIPS sees the whole batch on its own device, in float32.
    """
    device = torch.device(device)
    L, ab_pred, ab_true = (t.detach().to(device, dtype) for t in (L, ab_pred, ab_true))
    chunk = EVAL_CHUNK if device.type == "cpu" else len(L)
    chunks = [
        _pixel_metrics(L[i : i + chunk], ab_pred[i : i + chunk], ab_true[i : i + chunk])
        for i in range(0, L.shape[0], chunk)
    ]
    values = {k: torch.cat([c[0][k] for c in chunks]).cpu().double().numpy() for k in chunks[0][0]}
    if lpips is not None:
        on = next(lpips.parameters()).device
        rgb_pred, rgb_true = (torch.cat([c[i] for c in chunks]) for i in (1, 2))
        distances = lpips((rgb_pred * 2 - 1).float().to(on), (rgb_true * 2 - 1).float().to(on))
        values["lpips"] = distances.cpu().double().numpy()
    return {k: values[k] for k in METRICS if k in values}


def _pixel_metrics(
    L: torch.Tensor, ab_pred: torch.Tensor, ab_true: torch.Tensor
) -> tuple[dict[str, torch.Tensor], torch.Tensor, torch.Tensor]:
    """Every metric but LPIPS for a chunk ``(n,)`` each, and its sRGB images ``(pred, true)``."""
    rgb_pred, gamut = lab_to_rgb(join_lab(L, ab_pred), return_out_of_gamut=True)
    rgb_true = lab_to_rgb(join_lab(L, ab_true))
    delta_e = ciede2000(
        rgb_to_lab(rgb_true).permute(0, 2, 3, 1), rgb_to_lab(rgb_pred).permute(0, 2, 3, 1)
    )
    chunk = Chunk(rgb_pred, rgb_true, delta_e, gamut)
    metrics = {k: m.of(chunk) for k, m in METRICS.items() if m.of is not None}
    return metrics, rgb_pred, rgb_true


# --- helpers --------------------------------------------------------------------------------


def _numpy(x) -> np.ndarray:
    if isinstance(x, torch.Tensor):
        return x.detach().cpu().numpy()
    return np.asarray(x)


def _pair64(a, b) -> tuple[np.ndarray, np.ndarray]:
    a, b = np.asarray(_numpy(a), np.float64), np.asarray(_numpy(b), np.float64)
    if a.shape != b.shape:
        raise ValueError(f"images must have the same shape; got {a.shape} and {b.shape}")
    if a.ndim not in (3, 4):
        raise ValueError(f"expected (H, W, C) or (N, H, W, C) images; got shape {a.shape}")
    return a, b


def _scalar_if_single(values, like: np.ndarray):
    values = np.asarray(values, dtype=np.float64)
    return float(values) if like.ndim == 3 else values


def _lab_channels(lab) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    if isinstance(lab, torch.Tensor):
        x = lab.detach()
        x = x if x.is_floating_point() else x.double()
    else:  # a copy: numpy arrays may be read-only
        x = torch.from_numpy(np.array(lab, dtype=np.float64))
    if x.shape[-1:] != (3,):
        raise ValueError(f"Lab arrays must be channel-last (..., 3); got shape {tuple(x.shape)}")
    return x[..., 0], x[..., 1], x[..., 2]
