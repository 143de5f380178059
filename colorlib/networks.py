"""The study's networks, written to be read beside pix2pix's ``models/networks.py``.

* :class:`UnetGenerator` — pix2pix ``unet_256`` with 1 input (L) and 2 output (ab) channels:
  54,409,858 parameters at 256x256 input.
* :class:`PatchDiscriminator` — PatchGAN on concat(L, ab): four stride-2 4x4 convs and a 3x3
  stride-1 head, a 16x16 logit map at 256 input, 2,762,049 parameters.
* :class:`GrayPredictor` (``GRAY``) — the ab = 0 baseline: a predictor with no weights.
* :func:`init_weights` — pix2pix "normal" init, N(0, 0.02).
"""

from __future__ import annotations

import math

import torch
from torch import nn

from colorlib.errors import ConfigError

INIT_GAIN = 0.02


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
        self, image_size: int = 256, ngf: int = 64, input_nc: int = 1, output_nc: int = 2
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
        init_weights(self)

    def forward(self, L: torch.Tensor) -> torch.Tensor:
        if L.shape[-2:] != (self.image_size, self.image_size):
            raise ValueError(
                f"UnetGenerator was built for {self.image_size}x{self.image_size} input; "
                f"got {tuple(L.shape[-2:])}. Resize the input or build the network with "
                f"image_size={L.shape[-1]}."
            )
        return self.model(L)


class PatchDiscriminator(nn.Module):
    """PatchGAN on the pair (L, ab) ``(N, 1+2, S, S)`` -> logits ``(N, 1, S/16, S/16)``.

    Four stride-2 4x4 convs (ndf, 2·ndf, 4·ndf, 8·ndf; BatchNorm on all but the first, LeakyReLU
    0.2) and a 3x3 stride-1 conv to one channel, as the study specifies (README, "The study";
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

    def forward(self, L: torch.Tensor) -> torch.Tensor:
        return torch.zeros(L.shape[0], 2, *L.shape[2:], dtype=L.dtype, device=L.device)


GRAY = GrayPredictor()


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
