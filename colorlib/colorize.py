"""Colorize photos of any size and aspect with a trained generator.

The network sees the whole photo resized to its training size (``image_size`` square, as
Zhang et al.'s colorization demo does); the predicted ab is upsampled bilinearly to the photo's
full resolution and joined with the photo's own full-resolution L, so no sharpness is lost. The
full-resolution work runs in row strips, which bounds memory (a 24-megapixel photo stays well
under 3 GiB on CPU).
"""

from __future__ import annotations

import logging
import os
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from PIL import Image

from colorlib.atomic import write_image
from colorlib.color import AB_SCALE, encode_lab, lab_to_rgb, rgb_to_lab
from colorlib.data import ImageError, load_rgb
from colorlib.networks import UnetGenerator

log = logging.getLogger(__name__)

STRIP_ROWS = 256  # full-resolution rows converted at a time
MAX_PIXELS = 200_000_000  # colorize accepts bigger photos than training does


@torch.no_grad()
def colorize_array(
    G: UnetGenerator, rgb: np.ndarray, *, device: torch.device | str = "cpu"
) -> np.ndarray:
    """uint8 ``(H, W, 3)`` (colour or gray) -> colorized uint8 ``(H, W, 3)``, same size."""
    h, w = rgb.shape[:2]
    size = G.image_size
    small = np.asarray(Image.fromarray(rgb).resize((size, size), Image.Resampling.BICUBIC))
    small_L = encode_lab(rgb_to_lab(_to_tensor(small)))[:, :1]
    ab = G.eval()(small_L.to(device)).float().cpu()  # (1, 2, S, S), normalised
    out = np.empty_like(rgb)
    for top in range(0, h, STRIP_ROWS):
        bottom = min(h, top + STRIP_ROWS)
        L = rgb_to_lab(_to_tensor(rgb[top:bottom]))[:, :1]  # full-resolution L, Lab units
        strip_ab = _upsample_rows(ab, (h, w), top, bottom) * AB_SCALE
        strip = lab_to_rgb(torch.cat([L, strip_ab], dim=1))
        out[top:bottom] = (strip[0].permute(1, 2, 0) * 255 + 0.5).clamp(0, 255).byte().numpy()
    return out


def _to_tensor(rgb: np.ndarray) -> torch.Tensor:
    """uint8 ``(H, W, 3)`` -> uint8 ``(1, 3, H, W)``, which ``rgb_to_lab`` reads as ``/ 255``."""
    # np.array copies: arrays from PIL are read-only
    return torch.from_numpy(np.array(rgb)).permute(2, 0, 1)[None]


def _upsample_rows(ab: torch.Tensor, size: tuple[int, int], top: int, bottom: int):
    """Rows ``top:bottom`` of ``F.interpolate(ab, size, bilinear, align_corners=False)``,
    computed without materialising the full-resolution map."""
    h, w = size
    s_h = ab.shape[-2]
    # source row coordinate of each output row (align_corners=False convention)
    y = (torch.arange(top, bottom, dtype=torch.float32) + 0.5) * (s_h / h) - 0.5
    y = y.clamp(0, s_h - 1)
    y0 = y.floor().long()
    y1 = (y0 + 1).clamp(max=s_h - 1)
    wy = (y - y0).view(1, 1, -1, 1)
    rows = ab[:, :, y0] * (1 - wy) + ab[:, :, y1] * wy  # (1, 2, rows, S)
    return F.interpolate(rows, size=(bottom - top, w), mode="bilinear", align_corners=False)


def colorize_files(
    G: UnetGenerator,
    inputs: Sequence[str | os.PathLike],
    out_dir: str | os.PathLike,
    *,
    device: torch.device | str = "cpu",
) -> tuple[list[Path], dict[str, str]]:
    """Colorize each input into ``out_dir/{stem}.png`` (``.jpg`` for JPEG inputs).

    Unreadable inputs are reported by name and skipped; returns (written, {input: error}).
    """
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    written, failed = [], {}
    for src in map(Path, inputs):
        try:
            rgb = load_rgb(src, require_color=False, max_pixels=MAX_PIXELS)
        except (ImageError, FileNotFoundError, IsADirectoryError) as err:
            failed[str(src)] = str(err)
            log.error("cannot colorize %s", err)
            continue
        result = colorize_array(G, rgb, device=device)
        jpeg = src.suffix.lower() in (".jpg", ".jpeg")
        dst = out_dir / f"{src.stem}{'.jpg' if jpeg else '.png'}"
        write_image(Image.fromarray(result), dst, **({"quality": 95} if jpeg else {}))
        written.append(dst)
        log.info("%s -> %s", src, dst)
    return written, failed
