"""The study's training augmentation, applied to a whole batch on the device that trains.

The study (docs/study.md): horizontal flip (p = 0.5), rotation ±15°, random affine translation
±10 % and colour jitter (brightness, contrast, saturation, hue). A batch of uint8 photos moves to
the training device; flip, rotation and translation are one batched affine resampling (bilinear,
black outside the photo, as torchvision fills), then the four jitter steps run as batched tensor
operations, then the batch is converted to Lab — all on the device.

Every sample's parameters come from a generator seeded by ``(seed, epoch, sample index)``
(:func:`draw`): the same numbers on every device, in every batch composition, after every
resume. The draws and their mapping to parameters are those of colorlib's earlier per-sample
torchvision pipeline (eight uniforms per sample, in a fixed order), so the parameter
distributions are unchanged; the pixels differ from it by interpolation and 8-bit rounding only
(that pipeline rounded to uint8 after every step; this one stays in float until Lab).

Library: the resampling and the jitter steps are kornia's (``kornia.geometry.transform
.warp_affine`` and the ``kornia.enhance`` functions behind ``kornia.augmentation.ColorJitter``,
which use torchvision's formulas: brightness multiplies, contrast blends with the grayscale
mean, saturation with the grayscale, hue shifts in HSV). They take one factor per sample, so
the parameters colorlib draws itself pass straight in; kornia's own random generators are not
used, because their draws depend on the batch, not on the sample.
"""

from __future__ import annotations

import dataclasses
import hashlib
import math
from collections.abc import Sequence
from dataclasses import dataclass

import torch

from colorlib.config import ExperimentConfig

N_DRAWS = 8  # uniforms per sample, always drawn, so the stream does not depend on the switches


@dataclass(frozen=True)
class Augmentation:
    """The study's training augmentations (docs/study.md); each off when 0 / False.

    Colour-jitter strengths are not given by the study: these are colorlib's choice, as
    torchvision-style factors (brightness/contrast/saturation in [1 - x, 1 + x], hue shift in
    [-x, x] turns). Rotation and translation fill the uncovered corners with black.
    """

    hflip: bool = True  # p = 0.5
    rotation_deg: float = 15.0  # uniform in [-15°, 15°]
    translate: float = 0.1  # uniform shift up to 10 % of the side, each axis, whole pixels
    brightness: float = 0.2
    contrast: float = 0.2
    saturation: float = 0.2
    hue: float = 0.05

    @classmethod
    def of(cls, cfg: ExperimentConfig) -> Augmentation | None:
        """The config's augmentation switches (``None`` when ``augment`` is off)."""
        if not cfg.augment:
            return None
        aug = cls(hflip=cfg.hflip, rotation_deg=cfg.rotation_deg, translate=cfg.translate)
        if cfg.color_jitter:
            return aug
        return dataclasses.replace(aug, brightness=0.0, contrast=0.0, saturation=0.0, hue=0.0)


NO_AUGMENTATION = Augmentation(False, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0)


@dataclass(frozen=True)
class Parameters:
    """One batch's augmentation parameters, one entry per sample (CPU tensors, float64)."""

    flip: torch.Tensor  # (N,) bool
    angle: torch.Tensor  # (N,) degrees, clockwise on screen (torchvision's ``affine``)
    shift: torch.Tensor  # (N, 2) pixels (x right, y down), whole numbers
    brightness: torch.Tensor  # (N,) factors, 1 = unchanged
    contrast: torch.Tensor
    saturation: torch.Tensor
    hue: torch.Tensor  # (N,) turns, 0 = unchanged


def sample_seed(seed: int, epoch: int, index: int) -> int:
    """A stable per-(seed, epoch, sample) generator seed (independent of PYTHONHASHSEED)."""
    digest = hashlib.sha256(f"{seed}/{epoch}/{index}".encode()).digest()
    return int.from_bytes(digest[:8], "little") & (2**63 - 1)


def draw(
    aug: Augmentation, *, seed: int, epoch: int, indices: Sequence[int], size: int
) -> Parameters:
    """The parameters of samples ``indices`` in ``epoch`` for ``size``² images."""
    u = torch.stack(
        [
            torch.rand(
                N_DRAWS, generator=torch.Generator().manual_seed(sample_seed(seed, epoch, i))
            )
            for i in indices
        ]
    ).double()
    signed = 2 * u - 1  # uniform in [-1, 1]
    return Parameters(
        flip=(u[:, 0] < 0.5) & aug.hflip,
        angle=signed[:, 1] * aug.rotation_deg,
        shift=torch.round(signed[:, 2:4] * aug.translate * size),
        brightness=1 + signed[:, 4] * aug.brightness,
        contrast=1 + signed[:, 5] * aug.contrast,
        saturation=1 + signed[:, 6] * aug.saturation,
        hue=signed[:, 7] * aug.hue,
    )


def geometry_matrices(p: Parameters, size: int) -> torch.Tensor:
    """``(N, 2, 3)`` pixel-coordinate maps from the input to the output image: the flip, then
    the rotation about the image centre, then the shift (torchvision's order)."""
    n = len(p.angle)
    c = (size - 1) / 2
    flip = torch.eye(3, dtype=torch.float64).repeat(n, 1, 1)
    flip[p.flip, 0, 0] = -1.0
    flip[p.flip, 0, 2] = size - 1.0
    theta = torch.deg2rad(p.angle)
    cos, sin = torch.cos(theta), torch.sin(theta)
    rot = torch.eye(3, dtype=torch.float64).repeat(n, 1, 1)
    # y points down: a clockwise turn on screen is x' = cos x - sin y, y' = sin x + cos y
    rot[:, 0, 0], rot[:, 0, 1] = cos, -sin
    rot[:, 1, 0], rot[:, 1, 1] = sin, cos
    rot[:, 0, 2] = c - cos * c + sin * c + p.shift[:, 0]
    rot[:, 1, 2] = c - sin * c - cos * c + p.shift[:, 1]
    return (rot @ flip)[:, :2]


def augment(rgb: torch.Tensor, p: Parameters, aug: Augmentation) -> torch.Tensor:
    """Augment a batch ``(N, 3, S, S)`` of sRGB in [0, 1] (float, on any device) with ``p``.

    Steps switched off in ``aug`` are skipped. Returns float ``(N, 3, S, S)`` in [0, 1].
    """
    from kornia.enhance import (  # imported here: kornia takes ~1 s to import
        adjust_brightness_accumulative,
        adjust_contrast_with_mean_subtraction,
        adjust_hue,
        adjust_saturation_with_gray_subtraction,
    )
    from kornia.geometry.transform import warp_affine

    def per_sample(x: torch.Tensor) -> torch.Tensor:
        return x.to(device=rgb.device, dtype=rgb.dtype)

    size = rgb.shape[-1]
    if aug.hflip or aug.rotation_deg or aug.translate:
        rgb = warp_affine(
            rgb,
            per_sample(geometry_matrices(p, size)),
            (size, size),
            mode="bilinear",
            padding_mode="zeros",
            align_corners=True,
        )
    if aug.brightness:
        rgb = adjust_brightness_accumulative(rgb, per_sample(p.brightness))
    if aug.contrast:
        rgb = adjust_contrast_with_mean_subtraction(rgb, per_sample(p.contrast))
    if aug.saturation:
        rgb = adjust_saturation_with_gray_subtraction(rgb, per_sample(p.saturation))
    if aug.hue:
        rgb = adjust_hue(rgb, per_sample(p.hue * 2 * math.pi))
    return rgb.clamp(0.0, 1.0)
