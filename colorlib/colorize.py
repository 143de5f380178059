"""Colorize photos of any size and aspect with a trained generator.

The network sees the whole photo resized to its training size (``image_size`` square, as
Zhang et al.'s colorization demo does); the predicted ab is upsampled bilinearly to the photo's
full resolution and joined with the photo's own full-resolution L, so no sharpness is lost. The
full-resolution work runs in row strips, which bounds memory (a 24-megapixel photo stays well
under 3 GiB on CPU).

Colour: a photo with an embedded ICC profile is converted to sRGB as it is decoded
(:mod:`colorlib.data.decode`), and every output is sRGB, tagged with an sRGB ICC profile, so a
colour-managed viewer shows the output's lightness as the input's.
"""

from __future__ import annotations

import errno
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
from colorlib.data import ImageError, find_images, load_rgb
from colorlib.data.decode import SRGB_ICC
from colorlib.errors import OutputExistsError
from colorlib.runs import exclusive

log = logging.getLogger(__name__)

STRIP_ROWS = 256  # full-resolution rows converted at a time
MAX_PIXELS = 200_000_000  # colorize accepts bigger photos than training does


@torch.no_grad()
def colorize_array(
    G: torch.nn.Module, rgb: np.ndarray, *, device: torch.device | str = "cpu"
) -> np.ndarray:
    """uint8 ``(H, W, 3)`` (colour or gray) -> colorized uint8 ``(H, W, 3)``, same size."""
    h, w = rgb.shape[:2]
    ab = G.eval()(network_input(rgb, G.image_size).to(device)).float().cpu()  # (1, 2, S, S)
    out = np.empty_like(rgb)
    for top in range(0, h, STRIP_ROWS):
        bottom = min(h, top + STRIP_ROWS)
        L = rgb_to_lab(_to_tensor(rgb[top:bottom]))[:, :1]  # full-resolution L, Lab units
        strip_ab = _upsample_rows(ab, (h, w), top, bottom) * AB_SCALE
        strip = lab_to_rgb(torch.cat([L, strip_ab], dim=1))
        out[top:bottom] = (strip[0].permute(1, 2, 0) * 255 + 0.5).clamp(0, 255).byte().numpy()
    return out


def network_input(rgb: np.ndarray, size: int) -> torch.Tensor:
    """What the network sees of a uint8 ``(H, W, 3)`` photo: the whole photo resized to
    ``size`` square (bicubic), its normalised L ``(1, 1, size, size)``."""
    small = np.asarray(Image.fromarray(rgb).resize((size, size), Image.Resampling.BICUBIC))
    return encode_lab(rgb_to_lab(_to_tensor(small)))[:, :1]


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


def plan_outputs(
    inputs: Sequence[str | os.PathLike],
    out_dir: str | os.PathLike,
    *,
    overwrite: bool = False,
    into_input_folder: bool = False,
) -> tuple[list[tuple[Path, Path]], dict[str, str]]:
    """Where each input's colorized copy goes, checked before anything is written.

    A folder among ``inputs`` stands for the images in it. Outputs are ``{stem}.jpg`` for JPEG
    inputs, else ``{stem}.png``; inputs whose outputs would share a name get ``-2``, ``-3``, ...
    in input order. Refused (``FileExistsError``, nothing written): an output that exists,
    unless ``overwrite``; ``out_dir`` being the folder of an input, unless
    ``into_input_folder``. Returns ``([(input, output)], {input: why it is skipped})``.
    """
    out_dir = Path(out_dir)
    sources, failed = [], {}
    for item in map(Path, inputs):
        if item.is_dir():
            try:
                sources += find_images(item, None)
            except FileNotFoundError as err:  # a folder with no images in it
                failed[str(item)] = str(err)
        else:
            sources.append(item)
    if not into_input_folder:
        beside = [s for s in sources if s.parent.resolve() == out_dir.resolve()]
        if beside:
            raise OutputExistsError(
                f"--out {out_dir} holds input photo(s) ({', '.join(map(str, beside[:3]))}); "
                "colorize does not write beside its inputs, so no original can be replaced: "
                "choose another --out, or pass --into-input-folder"
            )
    plan, taken = [], set()
    for src in sources:
        suffix = ".jpg" if src.suffix.lower() in (".jpg", ".jpeg") else ".png"
        dst, k = out_dir / f"{src.stem}{suffix}", 1
        while dst in taken:
            k += 1
            dst = out_dir / f"{src.stem}-{k}{suffix}"
        taken.add(dst)
        plan.append((src, dst))
    existing = [dst for _, dst in plan if dst.exists()]
    if existing and not overwrite:
        raise OutputExistsError(
            f"{len(existing)} output file(s) exist ({', '.join(map(str, existing[:3]))}); "
            "nothing was written: pass --overwrite to replace them, or choose another --out"
        )
    return plan, failed


def colorize_files(
    G: torch.nn.Module,
    inputs: Sequence[str | os.PathLike],
    out_dir: str | os.PathLike,
    *,
    device: torch.device | str = "cpu",
    overwrite: bool = False,
    into_input_folder: bool = False,
) -> tuple[list[Path], dict[str, str], dict[str, str]]:
    """Colorize each input (folders: their images) as :func:`plan_outputs` names them.

    Unreadable inputs (animations and multi-page files among them) are reported by name and
    skipped; returns (written, {input: error}, {input: the ICC profile it was converted from}).
    The output folder is held for the whole run (:func:`colorlib.runs.exclusive`; its empty
    lock file ``.colorlib.lock`` stays there): a second colorize into it is refused at once, so
    two runs' outputs never mix. The plan is checked before the folder is touched, and again
    once it is held (another run's outputs may have appeared in between).
    """
    plan_outputs(inputs, out_dir, overwrite=overwrite, into_input_folder=into_input_folder)
    with exclusive(out_dir, what="colorizing"):
        return _colorize_planned(G, inputs, out_dir, device, overwrite, into_input_folder)


def _colorize_planned(G, inputs, out_dir, device, overwrite, into_input_folder):
    plan, failed = plan_outputs(
        inputs, out_dir, overwrite=overwrite, into_input_folder=into_input_folder
    )
    written, converted = [], {}
    for src, dst in plan:
        info: dict = {}
        try:
            rgb = load_rgb(src, require_color=False, max_pixels=MAX_PIXELS, info=info)
        except ImageError as err:
            failed[str(src)] = str(err)
            log.error("cannot colorize %s", err)
            continue
        if info.get("icc"):
            converted[str(src)] = info["icc"]
        problem = _cannot_write(dst, rgb.shape)
        if problem is None:
            result = colorize_array(G, rgb, device=device)
            problem = _write(dst, result)
        if problem is not None:  # this input's failure, counted; the others go on
            failed[str(src)] = problem
            log.error("cannot colorize %s: %s", src, problem)
            continue
        written.append(dst)
        log.info("%s -> %s", src, dst)
    return written, failed, converted


JPEG_MAX_SIDE = 65_535  # the JPEG format's limit on either side


def _cannot_write(dst: Path, shape: tuple[int, ...]) -> str | None:
    """Why the colorized copy of a photo of ``shape`` cannot be written to ``dst``, if so."""
    if dst.suffix == ".jpg" and max(shape[:2]) > JPEG_MAX_SIDE:
        return (
            f"{shape[1]}x{shape[0]} px is larger than JPEG allows ({JPEG_MAX_SIDE:,} px a "
            "side): save the photo as PNG and colorize that"
        )
    return None


def _write(dst: Path, result: np.ndarray) -> str | None:
    """Write one colorized photo (sRGB-tagged; JPEG at quality 95); a name the file system
    refuses is this photo's failure, any other write error (a full disk) ends the run."""
    quality = {"quality": 95} if dst.suffix == ".jpg" else {}
    try:
        write_image(Image.fromarray(result), dst, icc_profile=SRGB_ICC, **quality)
    except OSError as err:
        if err.errno != errno.ENAMETOOLONG:
            raise
        size = len(os.fsencode(dst.name))
        return f"the output name is too long for the file system ({size} bytes)"
    return None
