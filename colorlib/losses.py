"""The study's losses (README, "The study": losses).

Generator: ``L_G = λ1 · L1 + λ2 · L_perc + L_adv + λ_cls · L_cls``, each term only when
enabled (the classification term: :func:`colorlib.quantize.rebalanced_cross_entropy`).
All inputs are in the network's normalised range (see :mod:`colorlib.color`).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from colorlib.color import join_lab, lab_to_rgb
from colorlib.pretrained import IMAGENET_MEAN, IMAGENET_STD, WeightSource, load_features

# VGG16 ``features`` slice ends: after relu1_2, relu2_2, relu3_3
VGG_SLICES = (4, 9, 16)
# the generator loss's terms, as the training history names them (each weighted by its
# config's lambda_*; the adversarial term by 1)
LOSS_TERMS = ("l1", "perceptual", "adv", "classification")


def l1_ab_loss(ab_pred: torch.Tensor, ab_true: torch.Tensor) -> torch.Tensor:
    """Mean absolute error on normalised ab ``(N, 2, H, W)``."""
    return F.l1_loss(ab_pred, ab_true)


class VGG16PerceptualLoss(nn.Module):
    """L1 between VGG16 features (relu1_2, relu2_2, relu3_3) of predicted and true RGB, summed.

    Inputs are normalised ``L (N, 1, H, W)`` and ab ``(N, 2, H, W)``; Lab -> sRGB is
    differentiable (:func:`colorlib.color.lab_to_rgb`), then ImageNet mean/std normalisation.
    The RGB that VGG16 sees is not clipped to [0, 1]: clipping would give every out-of-gamut
    channel of a prediction zero gradient, and the configurations without an L1 term (D, F)
    would get no signal to pull such colours back. Display and metrics clip; the loss does not.
    The VGG16 is frozen and always in eval mode (``train()`` does not change that).

    ``backbone="random"`` builds an untrained VGG16 for tiny tests only; ``weights_source``
    says which one you have.
    """

    def __init__(self, *, backbone: str = "imagenet", weights_dir: str | None = None) -> None:
        super().__init__()
        features, source = load_features("vgg16", weights_dir=weights_dir, backbone=backbone)
        self.weights_source: WeightSource = source
        self.slices = nn.ModuleList(
            features[start:end] for start, end in zip((0,) + VGG_SLICES[:-1], VGG_SLICES)
        )
        self.register_buffer("mean", torch.tensor(IMAGENET_MEAN).view(1, 3, 1, 1))
        self.register_buffer("std", torch.tensor(IMAGENET_STD).view(1, 3, 1, 1))
        self.eval()

    def train(self, mode: bool = True) -> VGG16PerceptualLoss:
        # the feature extractor never leaves eval mode
        return super().train(False)

    def features(self, L: torch.Tensor, ab: torch.Tensor) -> list[torch.Tensor]:
        x = (lab_to_rgb(join_lab(L, ab), clip=False) - self.mean) / self.std
        out = []
        for block in self.slices:
            x = block(x)
            out.append(x)
        return out

    def forward(
        self, L: torch.Tensor, ab_pred: torch.Tensor, ab_true: torch.Tensor
    ) -> torch.Tensor:
        with torch.no_grad():
            target = self.features(L, ab_true)
        pred = self.features(L, ab_pred)
        return sum(F.l1_loss(p, t) for p, t in zip(pred, target))


def discriminator_loss(
    discriminator: nn.Module, L: torch.Tensor, ab_true: torch.Tensor, ab_fake: torch.Tensor
) -> torch.Tensor:
    """``(BCE(D(L, ab_true), 1) + BCE(D(L, ab_fake.detach()), 0)) / 2`` with logits."""
    real = discriminator(L, ab_true)
    fake = discriminator(L, ab_fake.detach())
    loss_real = F.binary_cross_entropy_with_logits(real, torch.ones_like(real))
    loss_fake = F.binary_cross_entropy_with_logits(fake, torch.zeros_like(fake))
    return (loss_real + loss_fake) / 2


def generator_adversarial_loss(
    discriminator: nn.Module, L: torch.Tensor, ab_fake: torch.Tensor
) -> torch.Tensor:
    """``BCE(D(L, G(L)), 1)`` with logits: the generator wants its pairs judged real."""
    fake = discriminator(L, ab_fake)
    return F.binary_cross_entropy_with_logits(fake, torch.ones_like(fake))
