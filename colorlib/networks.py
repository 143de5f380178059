"""The study's networks, written to be read beside pix2pix's ``models/networks.py``.

* :class:`UnetGenerator` — pix2pix ``unet_256`` with 1 input (L) and 2 output (ab) channels:
  54,409,858 parameters at 256x256 input.
* :class:`PatchDiscriminator` — PatchGAN on concat(L, ab): four stride-2 4x4 convs and a 3x3
  stride-1 head, a 16x16 logit map at 256 input, 2,762,049 parameters.
* :class:`VGG16UNet` — a U-Net whose encoder is ImageNet VGG16's ``features`` (its five stages
  as skips), the generator of the ``vgg16_unet`` configurations.
* :class:`ClassificationGenerator` — a generator body that predicts Q ab-bin logits per pixel,
  decoded to ab by Zhang et al.'s annealed mean (:mod:`colorlib.quantize`).
* :func:`define_G` — the generator a config describes (pix2pix's ``define_G``): the one place
  every command that trains or loads a generator builds it, from :data:`GENERATORS` (name ->
  builder; the names are ``config.GENERATORS``). Every generator is a :class:`Generator`.
* :class:`GrayPredictor` (``GRAY``) — the ab = 0 baseline: a predictor with no weights;
  :data:`BASELINES` maps each baseline of ``config.BASELINES`` to its predictor.
* :func:`init_weights` — pix2pix "normal" init, N(0, 0.02).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Protocol, runtime_checkable

import torch
import torch.nn.functional as F
import torchvision
from torch import nn

from colorlib import quantize
from colorlib.color import AB_SCALE, join_lab, lab_to_rgb
from colorlib.config import ExperimentConfig
from colorlib.errors import ConfigError
from colorlib.pretrained import IMAGENET_MEAN, IMAGENET_STD, WeightSource, load_features

INIT_GAIN = 0.02
# VGG16 ``features``: the five stages (conv blocks up to relu{k}_{2,3}); each but the first
# starts with the max-pool that halves the previous stage's output; index 30 is the last pool
VGG16_STAGES = ((0, 4), (4, 9), (9, 16), (16, 23), (23, 30))


@runtime_checkable
class Generator(Protocol):
    """What training, evaluation, colorize and export read of a generator.

    ``G(L)`` maps normalised L ``(N, 1, S, S)`` (``S = image_size``, the one size it was built
    for) to normalised ab ``(N, 2, S, S)``; ``G(L, with_logits=True)`` gives ``(ab, logits)``,
    the bin logits of a classification head or None. ``pretrained_parameters()`` are the
    parameters of an ImageNet-pretrained part (trained at ``lr × encoder_lr_scale``, frozen at
    0; empty when there is none) and ``weights_source`` says where they came from (None:
    nothing pretrained, or not loaded)."""

    image_size: int
    weights_source: WeightSource | None

    def __call__(self, L: torch.Tensor, with_logits: bool = False): ...

    def pretrained_parameters(self) -> list[nn.Parameter]: ...


class UnetSkipConnectionBlock(nn.Module):
    """One U-Net level: ``down -> submodule -> up``, with a skip connection around it.

    As pix2pix: convs followed by BatchNorm carry no bias; LeakyReLU(0.2) on the way down,
    ReLU on the way up; the outermost block ends in tanh and has no skip concatenation.
    """

    def __init__(
        self,
        outer_nc: int,
        inner_nc: int,
        input_nc: int | None = None,
        submodule: nn.Module | None = None,
        outermost: bool = False,
        innermost: bool = False,
        use_dropout: bool = False,
    ) -> None:
        super().__init__()
        self.outermost = outermost
        input_nc = outer_nc if input_nc is None else input_nc
        downconv = nn.Conv2d(input_nc, inner_nc, kernel_size=4, stride=2, padding=1, bias=False)
        downrelu = nn.LeakyReLU(0.2, True)
        downnorm = nn.BatchNorm2d(inner_nc)
        uprelu = nn.ReLU(True)
        upnorm = nn.BatchNorm2d(outer_nc)

        if outermost:
            upconv = nn.ConvTranspose2d(inner_nc * 2, outer_nc, kernel_size=4, stride=2, padding=1)
            layers = [downconv, submodule, uprelu, upconv, nn.Tanh()]
        elif innermost:
            upconv = nn.ConvTranspose2d(
                inner_nc, outer_nc, kernel_size=4, stride=2, padding=1, bias=False
            )
            layers = [downrelu, downconv, uprelu, upconv, upnorm]
        else:
            upconv = nn.ConvTranspose2d(
                inner_nc * 2, outer_nc, kernel_size=4, stride=2, padding=1, bias=False
            )
            layers = [downrelu, downconv, downnorm, submodule, uprelu, upconv, upnorm]
            if use_dropout:
                layers.append(nn.Dropout(0.5))
        self.model = nn.Sequential(*layers)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.outermost:
            return self.model(x)
        return torch.cat([x, self.model(x)], dim=1)


class UnetGenerator(nn.Module):
    """pix2pix U-Net generator: normalised L ``(N, 1, S, S)`` -> normalised ab ``(N, 2, S, S)``.

    ``num_downs = log2(image_size)`` stride-2 levels take the image down to 1x1. As in pix2pix,
    the ``num_downs - 5`` levels just outside the innermost one are 8·ngf wide and carry dropout
    0.5 (three of them at 256); smaller images simply have fewer of these levels. Output in
    [-1, 1] (tanh).
    """

    def __init__(
        self,
        image_size: int = 256,
        ngf: int = 64,
        input_nc: int = 1,
        output_nc: int = 2,
        tanh: bool = True,
    ) -> None:
        super().__init__()
        num_downs = _levels(image_size)
        self.image_size = image_size
        block = UnetSkipConnectionBlock(ngf * 8, ngf * 8, innermost=True)
        for _ in range(num_downs - 5):
            block = UnetSkipConnectionBlock(ngf * 8, ngf * 8, submodule=block, use_dropout=True)
        block = UnetSkipConnectionBlock(ngf * 4, ngf * 8, submodule=block)
        block = UnetSkipConnectionBlock(ngf * 2, ngf * 4, submodule=block)
        block = UnetSkipConnectionBlock(ngf, ngf * 2, submodule=block)
        self.model = UnetSkipConnectionBlock(
            output_nc, ngf, input_nc=input_nc, submodule=block, outermost=True
        )
        if not tanh:  # logits (the classification head): the outermost up-conv's raw output
            self.model.model = self.model.model[:-1]
        init_weights(self)

    weights_source: WeightSource | None = None  # nothing pretrained

    def forward(self, L: torch.Tensor, with_logits: bool = False):
        _check_size(self, L)
        ab = self.model(L)
        return (ab, None) if with_logits else ab

    def pretrained_parameters(self) -> list[nn.Parameter]:
        return []


def _check_size(net: nn.Module, L: torch.Tensor) -> None:
    if L.shape[-2:] != (net.image_size, net.image_size):
        raise ValueError(
            f"{type(net).__name__} was built for {net.image_size}x{net.image_size} input; got "
            f"{tuple(L.shape[-2:])}. Resize the input or build the network with "
            f"image_size={L.shape[-1]}."
        )


class VGG16UNet(nn.Module):
    """A U-Net on ImageNet VGG16's ``features``: normalised L ``(N, 1, S, S)`` -> ``(N, C, S, S)``.

    L is shown to the encoder as the gray sRGB image it describes (ab = 0), ImageNet
    mean/std-normalised. The encoder's five stages (:data:`VGG16_STAGES`: 64 channels at S,
    128 at S/2, 256 at S/4, 512 at S/8 and S/16) are the skips; a 3x3 conv block after the
    last pool (S/32) is the bottleneck (no BatchNorm there). Each decoder level upsamples ×2
    (bilinear), concatenates the skip of that resolution and applies two 3x3 conv +
    BatchNorm + ReLU, with widths 8·ngf, 8·ngf, 4·ngf, 2·ngf, ngf from S/16 up to S (as
    TernausNet does on VGG11); a 1x1 conv gives ``output_nc`` channels, through tanh when
    ``tanh``. The decoder gets pix2pix's N(0, 0.02) init; the encoder keeps its ImageNet
    weights (``backbone="random"``: an untrained VGG16, tests only; ``pretrained=False``:
    none loaded, for a checkpoint's).
    """

    def __init__(
        self,
        image_size: int = 256,
        ngf: int = 64,
        output_nc: int = 2,
        tanh: bool = True,
        *,
        backbone: str = "imagenet",
        pretrained: bool = True,
    ) -> None:
        super().__init__()
        _levels(image_size)
        self.image_size = image_size
        if pretrained:
            features, self.weights_source = load_features("vgg16", backbone=backbone)
        else:
            features, self.weights_source = torchvision.models.vgg16(weights=None).features, None
        self.encoder = nn.ModuleList(features[a:b] for a, b in VGG16_STAGES)
        self.encoder.requires_grad_(True)  # load_features freezes; the config decides
        skips = (64, 128, 256, 512, 512)
        widths = (ngf, ngf * 2, ngf * 4, ngf * 8, ngf * 8)
        self.bottleneck = _conv_block(512, ngf * 8, norm=False)
        self.decoder = nn.ModuleList(
            _conv_block(below + skip, width)
            for below, skip, width in zip((*widths[1:], ngf * 8), skips, widths)
        )
        self.head = nn.Sequential(
            nn.Conv2d(ngf, output_nc, kernel_size=1), *([nn.Tanh()] if tanh else [])
        )
        self.register_buffer("mean", torch.tensor(IMAGENET_MEAN).view(1, 3, 1, 1))
        self.register_buffer("std", torch.tensor(IMAGENET_STD).view(1, 3, 1, 1))
        for part in (self.bottleneck, self.decoder, self.head):
            init_weights(part)

    def pretrained_parameters(self) -> list[nn.Parameter]:
        return list(self.encoder.parameters())

    def forward(self, L: torch.Tensor, with_logits: bool = False):
        _check_size(self, L)
        gray = lab_to_rgb(join_lab(L, torch.zeros_like(L).expand(-1, 2, -1, -1)), clip=False)
        x = (gray - self.mean) / self.std
        skips = []
        for stage in self.encoder:
            x = stage(x)
            skips.append(x)
        x = self.bottleneck(F.max_pool2d(x, 2))
        for skip, block in zip(reversed(skips), reversed(self.decoder)):
            x = F.interpolate(x, scale_factor=2, mode="bilinear", align_corners=False)
            x = block(torch.cat([x, skip], dim=1))
        ab = self.head(x)
        return (ab, None) if with_logits else ab


def _conv_block(in_nc: int, out_nc: int, norm: bool = True) -> nn.Sequential:
    """Two 3x3 conv + BatchNorm + ReLU; without BatchNorm (convs with bias) for the bottleneck,
    which is 1x1 at 32² and could not normalise a batch of one."""
    layers: list[nn.Module] = []
    for c in (in_nc, out_nc):
        layers.append(nn.Conv2d(c, out_nc, kernel_size=3, padding=1, bias=not norm))
        layers += [nn.BatchNorm2d(out_nc), nn.ReLU(True)] if norm else [nn.ReLU(True)]
    return nn.Sequential(*layers)


class ClassificationGenerator(nn.Module):
    """A generator body (``ngf`` channels at full resolution) with Q ab-bin logits per pixel on
    top (ReLU, then a 1x1 conv), as a generator: ``forward(L)`` returns the
    normalised ab ``(N, 2, S, S)`` decoded by the annealed mean (:func:`quantize.annealed_mean`,
    temperature ``temperature``), so evaluation, colorize and the metrics see a generator like
    any other; ``forward(L, with_logits=True)`` returns ``(ab, logits)`` for training. The bin
    centres are a buffer: a checkpoint carries the bins it was trained on."""

    def __init__(
        self, body: nn.Module, ngf: int, temperature: float = quantize.TEMPERATURE
    ) -> None:
        super().__init__()
        logits = nn.Conv2d(ngf, len(quantize.gamut_bins()), kernel_size=1)
        init_weights(logits)
        self.body = nn.Sequential(body, nn.ReLU(), logits)
        self.image_size = body.image_size
        self.temperature = temperature
        self.register_buffer("centres", quantize.gamut_bins().clone())

    @property
    def weights_source(self) -> WeightSource | None:
        return self.body[0].weights_source

    def pretrained_parameters(self) -> list[nn.Parameter]:
        return self.body[0].pretrained_parameters()

    def forward(self, L: torch.Tensor, with_logits: bool = False):
        logits = self.body(L)
        ab = quantize.annealed_mean(logits, self.centres, self.temperature) / AB_SCALE
        return (ab, logits) if with_logits else ab


# A generator builder: ``(cfg, output_nc, tanh, pretrained) -> Generator`` at ``cfg.image_size``
# and width ``cfg.ngf``; ``pretrained=False`` loads no ImageNet weights (a checkpoint's replace
# them). The keys are config.GENERATORS, the config's choices (tests/unit/test_networks.py).
GeneratorBuilder = Callable[[ExperimentConfig, int, bool, bool], nn.Module]
GENERATORS: dict[str, GeneratorBuilder] = {
    "unet": lambda cfg, output_nc, tanh, pretrained: UnetGenerator(
        cfg.image_size, cfg.ngf, output_nc=output_nc, tanh=tanh
    ),
    "vgg16_unet": lambda cfg, output_nc, tanh, pretrained: VGG16UNet(
        cfg.image_size,
        cfg.ngf,
        output_nc=output_nc,
        tanh=tanh,
        backbone=cfg.backbone,
        pretrained=pretrained,
    ),
}


def define_G(cfg: ExperimentConfig, *, pretrained: bool = True) -> Generator:
    """The generator ``cfg`` describes (pix2pix's ``define_G``): ``cfg.generator`` from
    :data:`GENERATORS` (``"unet"``: :class:`UnetGenerator`; ``"vgg16_unet"``:
    :class:`VGG16UNet`), with ``cfg.head`` ``"regression"`` (tanh ab) or ``"classification"``
    (:class:`ClassificationGenerator` over Q = 261 bins). ``pretrained=False`` loads no ImageNet
    weights (a checkpoint's replace them).

    The classification body ends in ngf channels at full resolution, then ReLU and a 1x1 conv
    to the Q logits (the U-Net's last up-convolution straight to 261 channels would cost
    three times the rest of the network).
    """
    if cfg.generator not in GENERATORS:
        raise ConfigError(f"unknown generator {cfg.generator!r}; choose from {list(GENERATORS)}")
    classes = cfg.head == "classification"
    out = cfg.ngf if classes else 2
    body = GENERATORS[cfg.generator](cfg, out, not classes, pretrained)
    if not classes:
        return body
    return ClassificationGenerator(body, cfg.ngf, cfg.temperature)


class PatchDiscriminator(nn.Module):
    """PatchGAN on the pair (L, ab) ``(N, 1+2, S, S)`` -> logits ``(N, 1, S/16, S/16)``.

    Four stride-2 4x4 convs (ndf, 2·ndf, 4·ndf, 8·ndf; BatchNorm on all but the first, LeakyReLU
    0.2) and a 3x3 stride-1 conv to one channel, as the study specifies (docs/study.md;
    pix2pix's ``NLayerDiscriminator`` uses a stride-1 4x4 fourth conv instead; this study does not).
    """

    def __init__(self, input_nc: int = 3, ndf: int = 64, n_layers: int = 4) -> None:
        super().__init__()
        layers: list[nn.Module] = [
            nn.Conv2d(input_nc, ndf, kernel_size=4, stride=2, padding=1),
            nn.LeakyReLU(0.2, True),
        ]
        channels = ndf
        for _ in range(1, n_layers):
            nxt = min(channels * 2, ndf * 8)
            layers += [
                nn.Conv2d(channels, nxt, kernel_size=4, stride=2, padding=1, bias=False),
                nn.BatchNorm2d(nxt),
                nn.LeakyReLU(0.2, True),
            ]
            channels = nxt
        layers.append(nn.Conv2d(channels, 1, kernel_size=3, stride=1, padding=1))
        self.model = nn.Sequential(*layers)
        init_weights(self)

    def forward(self, L: torch.Tensor, ab: torch.Tensor) -> torch.Tensor:
        return self.model(torch.cat([L, ab], dim=1))


class GrayPredictor(nn.Module):
    """The ab = 0 baseline: every pixel gray. ``(N, 1, H, W)`` -> zeros ``(N, 2, H, W)``."""

    name = "GRAY"
    description = "ab = 0 baseline"  # where its predictions come from, in the run's record

    def forward(self, L: torch.Tensor) -> torch.Tensor:
        return torch.zeros(L.shape[0], 2, *L.shape[2:], dtype=L.dtype, device=L.device)


GRAY = GrayPredictor()
# every baseline a study evaluates, by name (the keys are config.BASELINES): its predictor, a
# module with no weights that maps L (N, 1, H, W) to ab (N, 2, H, W) and has a `description`
BASELINES: dict[str, nn.Module] = {"GRAY": GRAY}


def baseline(name: str) -> nn.Module:
    """The predictor of baseline ``name`` (:data:`BASELINES`); an unknown name is an error,
    never another baseline's predictions."""
    if name not in BASELINES:
        raise ConfigError(f"unknown baseline {name!r}; choose from {list(BASELINES)}")
    return BASELINES[name]


def init_weights(net: nn.Module, gain: float = INIT_GAIN) -> None:
    """pix2pix "normal" init: conv weights N(0, gain), BatchNorm weight N(1, gain), biases 0.

    Networks built on the ``meta`` device (to load a checkpoint into) are left alone.
    """
    for m in net.modules():
        if any(p.is_meta for p in m.parameters(recurse=False)):
            continue
        if isinstance(m, (nn.Conv2d, nn.ConvTranspose2d)):
            nn.init.normal_(m.weight, 0.0, gain)
            if m.bias is not None:
                nn.init.zeros_(m.bias)
        elif isinstance(m, nn.BatchNorm2d):
            nn.init.normal_(m.weight, 1.0, gain)
            nn.init.zeros_(m.bias)


def count_parameters(net: nn.Module) -> int:
    """Number of trainable parameters."""
    return sum(p.numel() for p in net.parameters() if p.requires_grad)


def _levels(image_size: int) -> int:
    levels = round(math.log2(image_size)) if image_size > 0 else 0
    if image_size < 32 or 2**levels != image_size:
        raise ConfigError(
            f"image_size must be a power of two >= 32 (the U-Net halves it down to 1x1); "
            f"got {image_size}"
        )
    return levels
