"""The study's losses (docs/study.md, "Losses") and the generator's objective.

Generator: ``L_G = λ1 · L1 + λ2 · L_perc + L_adv + λ_cls · L_cls + λ_cf · L_cf``, each term
only when enabled (the classification term: :func:`colorlib.quantize.rebalanced_cross_entropy`;
the colourfulness term: DDColor's, :func:`colorfulness_loss`).
All inputs are in the network's normalised range (see :mod:`colorlib.color`).

The terms are data: :data:`LOSS_TERMS` maps each term's name (as the training history,
TensorBoard and ``presets`` name it) to a :class:`LossTerm` that says how it is computed from
what a generator step has (:class:`Step`) and which module it needs, if any; whether a config
enables a term and its weight are the config's (``ExperimentConfig.loss_weights``). Adding a
term is its config fields (``use_X``, ``lambda_X``) and its entry here.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import torch
import torch.nn.functional as F
from torch import nn

from colorlib.color import join_lab, lab_to_rgb
from colorlib.pretrained import IMAGENET_MEAN, IMAGENET_STD, WeightSource, load_features

if TYPE_CHECKING:
    from colorlib.config import ExperimentConfig

# VGG16 ``features`` slice ends: after relu1_2, relu2_2, relu3_3
VGG_SLICES = (4, 9, 16)


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


# DDColor's colourfulness loss, weighted so that its balance with the L1 term is DDColor's:
# there 0.5 x the sum over 4 photos per GPU (2.0 per photo) beside L1 weight 0.1 on raw ab;
# here L1 is 100 on ab / 128 (0.78 per raw unit, 7.8 x DDColor's), so 2.0 x 7.8125.
DDCOLOR_COLORFULNESS_WEIGHT = 0.5 * 4 * (100.0 / 128.0) / 0.1


def colorfulness_loss(L: torch.Tensor, ab: torch.Tensor, eps: float = 1e-8) -> torch.Tensor:
    """DDColor's colourfulness loss (``piddnad/DDColor``, ``ColorfulnessLoss``): the mean over
    the batch of ``1 − C`` with ``C = sqrt(σ_rg² + σ_yb²) + 0.3 · sqrt(μ_rg² + μ_yb²)`` of
    ``rg = |R − G|`` and ``yb = |(R + G) / 2 − B|`` on the predicted sRGB in [0, 1] (DDColor's
    form: absolute opponent channels, unbiased σ; Hasler & Süsstrunk's metric, which
    :func:`colorlib.metrics.colorfulness` reports, takes them signed, on 0–255). It falls as
    the prediction grows more colourful. Differentiable; the RGB is clipped to [0, 1] (what is
    shown), so colours beyond the gamut earn nothing; ``eps`` keeps the square roots'
    gradients finite on a gray prediction. DDColor sums over its batch of 4 per GPU; colorlib
    averages (see :data:`DDCOLOR_COLORFULNESS_WEIGHT` for the weight that matches its scale).
    """
    rgb = lab_to_rgb(join_lab(L, ab), clip=True)
    r, g, b = rgb.unbind(1)
    rg = (r - g).abs().flatten(1)
    yb = (0.5 * (r + g) - b).abs().flatten(1)
    sigma = torch.sqrt(rg.var(dim=1) + yb.var(dim=1) + eps)
    mu = torch.sqrt(rg.mean(dim=1) ** 2 + yb.mean(dim=1) ** 2 + eps)
    return (1.0 - (sigma + 0.3 * mu)).mean()


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


# --- the generator's objective ----------------------------------------------------------------


@dataclass(frozen=True)
class Step:
    """What a generator step offers its loss terms: normalised ``L (N, 1, S, S)``, the true
    ``ab`` and the generator's ``fake`` ab ``(N, 2, S, S)``, the classification head's bin
    ``logits (N, Q, S, S)`` (None for a regression head), the discriminator ``D`` (None without
    the GAN), the training photos' ab prior ``classes`` (:class:`colorlib.quantize.AbClasses`,
    classification only) and each term's own module (:attr:`LossTerm.build`) by term name."""

    L: torch.Tensor
    ab: torch.Tensor
    fake: torch.Tensor
    logits: torch.Tensor | None = None
    D: nn.Module | None = None
    classes: Any = None
    modules: Mapping[str, nn.Module] | None = None

    def module(self, name: str) -> nn.Module:
        return self.modules[name]


def _always(cfg: ExperimentConfig, epoch: int) -> bool:
    return True


@dataclass(frozen=True)
class LossTerm:
    """One term of the generator loss.

    ``compute(step)`` gives the unweighted scalar; ``build(cfg)``, when given, makes the module
    the term reads as ``step.module(name)`` (frozen networks such as the perceptual loss's
    VGG16; built once per run, in :data:`LOSS_TERMS` order); ``active(cfg, epoch)`` (epoch
    counted from 0) says whether an enabled term takes part in that epoch's steps."""

    compute: Callable[[Step], torch.Tensor]
    build: Callable[[ExperimentConfig], nn.Module] | None = None
    active: Callable[[ExperimentConfig, int], bool] = _always


def _gan_started(cfg: ExperimentConfig, epoch: int) -> bool:
    return epoch >= cfg.gan_warmup_epochs


# The generator loss's terms, in the order they are summed (and the history's columns).
LOSS_TERMS: dict[str, LossTerm] = {
    "l1": LossTerm(lambda s: l1_ab_loss(s.fake.float(), s.ab)),
    "perceptual": LossTerm(
        lambda s: s.module("perceptual")(s.L, s.fake, s.ab),
        build=lambda cfg: VGG16PerceptualLoss(backbone=cfg.backbone),
    ),
    "adv": LossTerm(lambda s: generator_adversarial_loss(s.D, s.L, s.fake), active=_gan_started),
    "classification": LossTerm(lambda s: s.classes.loss(s.logits, s.ab)),
    "colorfulness": LossTerm(lambda s: colorfulness_loss(s.L, s.fake.float())),
}


def loss_modules(cfg: ExperimentConfig) -> dict[str, nn.Module]:
    """The modules of ``cfg``'s enabled terms that need one (:attr:`LossTerm.build`)."""
    weights = cfg.loss_weights()
    return {
        name: term.build(cfg)
        for name, term in LOSS_TERMS.items()
        if name in weights and term.build is not None
    }


def generator_loss(
    cfg: ExperimentConfig, epoch: int, step: Step
) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
    """``(L_G, terms)``: the weighted sum of ``cfg``'s terms active at ``epoch`` and each
    unweighted term by name, summed in :data:`LOSS_TERMS` order."""
    weights = cfg.loss_weights()
    terms = {
        name: term.compute(step)
        for name, term in LOSS_TERMS.items()
        if name in weights and term.active(cfg, epoch)
    }
    return sum(weights[k] * v for k, v in terms.items()), terms
