"""Training samples: the study's augmentation and :class:`ColorizationDataset`, which turns
decoded uint8 photos into normalised ``(L, ab)`` tensors (``colorlib.color.encode_lab``).
"""

from __future__ import annotations

import dataclasses
import hashlib
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import torch

from colorlib.color import encode_lab, rgb_to_lab
from colorlib.config import ExperimentConfig
from colorlib.data.folders import ImageSet


@dataclass(frozen=True)
class Augmentation:
    """The study's training augmentations (STUDY.md); each off when 0 / False.

    Colour-jitter strengths are not given by the study; these are torchvision-style factors
    (brightness/contrast/saturation in [1 - x, 1 + x], hue shift in [-x, x] turns).
    Rotation and translation fill the uncovered corners with black, like torchvision.
    """

    hflip: bool = True  # p = 0.5
    rotation_deg: float = 15.0  # uniform in [-15°, 15°]
    translate: float = 0.1  # uniform shift up to 10 % of the side, each axis
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


class ColorizationDataset(torch.utils.data.Dataset):
    """Samples ``(L (1, S, S), ab (2, S, S))``, float32, normalised as ``encode_lab``.

    With ``augment`` the augmentation of sample ``i`` in epoch ``e`` is drawn from a generator
    seeded by ``(seed, e, i)``: identical across runs, DataLoader workers and resumes. Call
    :meth:`set_epoch` at the start of every epoch.
    """

    def __init__(
        self, images: ImageSet | np.ndarray, *, augment: Augmentation | None = None, seed: int = 42
    ) -> None:
        arr = images.images if isinstance(images, ImageSet) else images
        if arr.ndim != 4 or arr.shape[-1] != 3 or arr.dtype != np.uint8:
            raise ValueError(f"images must be uint8 (N, S, S, 3); got {arr.dtype} {arr.shape}")
        self.images = torch.from_numpy(np.ascontiguousarray(arr))
        default_names = [str(i) for i in range(len(arr))]
        self.names = images.names if isinstance(images, ImageSet) else default_names
        self.augment = augment
        self.seed = seed
        self.epoch = 0

    def set_epoch(self, epoch: int) -> None:
        self.epoch = epoch

    def __len__(self) -> int:
        return len(self.images)

    def rgb(self, index: int) -> torch.Tensor:
        """Sample ``index`` as (augmented) uint8 sRGB ``(3, S, S)``."""
        rgb = self.images[index].permute(2, 0, 1)
        if self.augment is not None:
            g = torch.Generator().manual_seed(sample_seed(self.seed, self.epoch, index))
            rgb = apply_augmentation(rgb, self.augment, g)
        return rgb

    def __getitem__(self, index: int) -> tuple[torch.Tensor, torch.Tensor]:
        L, ab = lab_collate([self.rgb(index)])
        return L[0], ab[0]

    def loader(self, batch_size: int, **kwargs) -> torch.utils.data.DataLoader:
        """A DataLoader of ``(L, ab)`` batches that converts to Lab once per batch (the same
        numbers as per sample, with one vectorised conversion instead of ``batch_size``)."""
        return torch.utils.data.DataLoader(
            _RGBView(self), batch_size=batch_size, collate_fn=lab_collate, **kwargs
        )


class _RGBView(torch.utils.data.Dataset):
    def __init__(self, dataset: ColorizationDataset) -> None:
        self.dataset = dataset

    def __len__(self) -> int:
        return len(self.dataset)

    def __getitem__(self, index: int) -> torch.Tensor:
        return self.dataset.rgb(index)


def lab_collate(batch: Sequence[torch.Tensor]) -> tuple[torch.Tensor, torch.Tensor]:
    """uint8 sRGB images ``(3, S, S)`` -> normalised ``L (B, 1, S, S)``, ``ab (B, 2, S, S)``."""
    lab = encode_lab(rgb_to_lab(torch.stack(list(batch))))  # uint8: table-driven gamma
    return lab[:, :1], lab[:, 1:]


def sample_seed(seed: int, epoch: int, index: int) -> int:
    """A stable per-(seed, epoch, sample) generator seed (independent of PYTHONHASHSEED)."""
    digest = hashlib.sha256(f"{seed}/{epoch}/{index}".encode()).digest()
    return int.from_bytes(digest[:8], "little") & (2**63 - 1)


def apply_augmentation(rgb: torch.Tensor, aug: Augmentation, g: torch.Generator) -> torch.Tensor:
    """Augment one uint8 image ``(3, S, S)`` with parameters drawn from ``g`` (in a fixed order)."""
    # imported here: torchvision takes ~2.5 s to import, which `colorize` and the metrics skip
    import torchvision.transforms.v2.functional as TF

    u = torch.rand(8, generator=g).tolist()  # always 8 draws: the stream does not depend on aug
    if aug.hflip and u[0] < 0.5:
        rgb = TF.horizontal_flip(rgb)
    if aug.rotation_deg or aug.translate:
        side = rgb.shape[-1]
        angle = (2 * u[1] - 1) * aug.rotation_deg
        shift = [
            round((2 * u[2] - 1) * aug.translate * side),
            round((2 * u[3] - 1) * aug.translate * side),
        ]
        rgb = TF.affine(
            rgb,
            angle=angle,
            translate=shift,
            scale=1.0,
            shear=[0.0, 0.0],
            interpolation=TF.InterpolationMode.BILINEAR,
            fill=0,
        )
    if aug.brightness:
        rgb = TF.adjust_brightness(rgb, 1 + (2 * u[4] - 1) * aug.brightness)
    if aug.contrast:
        rgb = TF.adjust_contrast(rgb, 1 + (2 * u[5] - 1) * aug.contrast)
    if aug.saturation:
        rgb = TF.adjust_saturation(rgb, 1 + (2 * u[6] - 1) * aug.saturation)
    if aug.hue:
        rgb = TF.adjust_hue(rgb, (2 * u[7] - 1) * aug.hue)
    return rgb
