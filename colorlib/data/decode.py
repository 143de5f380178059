"""Decoding one photo safely: any format Pillow reads -> upright uint8 sRGB, or a clear error.

Bad input: unreadable, truncated, non-image, grayscale-in-a-colour-folder and too-small images
raise :class:`ImageError` naming the file and what to do (the folder loader can skip and count
them instead). EXIF orientation is applied; RGBA / LA / transparent palette images are
composited onto white; CMYK, palette and 16-bit images are converted to 8-bit sRGB; images above
``max_pixels`` (decompression bombs) are refused before decoding.

Colour management: a photo with an embedded ICC profile (Adobe RGB, ProPhoto, a camera's or a
scanner's, CMYK) is converted from that profile to sRGB with LittleCMS (Pillow's ``ImageCms``),
relative colorimetric intent (colours outside sRGB are clipped to its gamut, the rest kept
exactly; what browsers do), so that its pixels mean what they show in a colour-managed viewer.
A profile whose description names sRGB, and a photo without a profile, are taken as sRGB and
left as they are. :func:`load_rgb` with ``info`` says which profile was converted.

Animations and multi-page files (an animated GIF, WebP or PNG, a multi-page TIFF) are refused
(``multi_frame``): colorlib colorizes and trains on still photos, and keeping frame 1 silently
would lose the rest; save the frame or page you want as its own file. A camera's MPO JPEG (a
photo with its preview images) is read as its primary image.
"""

from __future__ import annotations

import io
import os
import stat
from pathlib import Path

import numpy as np
from PIL import Image, ImageCms, ImageOps, UnidentifiedImageError

from colorlib.errors import ImageError

DEFAULT_MAX_PIXELS = 100_000_000  # 100 MP: above any camera photo, far below a bomb
# JPEGs above this are decoded at a reduced scale (Pillow's draft: 1/2, 1/4 or 1/8 in the DCT)
# when the caller needs only a small image; a 100 MP JPEG then costs ~1/64 of the memory
DRAFT_PIXELS = 36_000_000
GRAY_SPREAD = 6  # a pixel is neutral if max(R,G,B) - min(R,G,B) <= this (JPEG chroma noise)
GRAY_QUANTILE = 0.99  # an image is grayscale if this share of its pixels is neutral
RENDERING_INTENT = ImageCms.Intent.RELATIVE_COLORIMETRIC  # embedded profile -> sRGB
SRGB = ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB"))
SRGB_ICC = SRGB.tobytes()  # what colorlib's sRGB outputs are tagged with
MANAGED_MODES = ("RGB", "RGBA", "CMYK", "L", "LA")  # the modes a profile is converted from


def _require_regular_file(path: Path) -> None:
    if not path.exists():  # missing, or a symbolic link that is dangling or loops
        raise ImageError(
            path, "missing", "missing file or broken symbolic link", "fix the link or remove it"
        )
    if not stat.S_ISREG(path.stat().st_mode):
        raise ImageError(
            path, "not_a_file", "not a regular file (a FIFO, device or socket, or a link to one)",
            "only files are photos: remove it",
        )  # fmt: skip


def load_rgb(
    path: str | os.PathLike,
    *,
    max_pixels: int = DEFAULT_MAX_PIXELS,
    require_color: bool = True,
    min_side: int | None = None,
    info: dict | None = None,
) -> np.ndarray:
    """Decode one photo to uint8 sRGB ``(H, W, 3)``, upright (EXIF orientation applied),
    converted from its embedded ICC profile to sRGB (``info["icc"]`` then holds the profile's
    description, when ``info`` is given).

    ``min_side``: the caller needs only this many pixels on each side; a JPEG above
    ``DRAFT_PIXELS`` is then decoded at the smallest scale that keeps both sides
    ``>= min_side`` (photos below it decode in full, so their pixels do not depend on it).

    Raises :class:`ImageError` (``reason`` one of ``missing``, ``not_a_file``, ``corrupt``,
    ``too_large``, ``grayscale``, ``unsupported``, ``multi_frame``) with the file name and what
    to do. Only regular files are photos: a FIFO, a device or a socket (or a link to one) is
    refused before it is opened, since reading one can wait forever.
    """
    path = Path(path)
    _require_regular_file(path)
    try:
        with Image.open(path) as im:
            w, h = im.size
            _refuse_size_and_frames(im, path, max_pixels)
            if min_side and w * h > DRAFT_PIXELS and im.format == "JPEG":
                im.draft("RGB", (min_side, min_side))
            im = ImageOps.exif_transpose(im)
            im.load()
            im = _to_srgb(im, path, info)
            rgb = _to_rgb8(im, path)
    except ImageError:
        raise
    except Image.DecompressionBombError as err:
        raise ImageError(
            path, "too_large", f"refused as a decompression bomb ({err})", "remove it"
        ) from err
    except UnidentifiedImageError as err:
        raise ImageError(
            path, "corrupt", "not an image file Pillow can read", "remove it from the folder"
        ) from err
    except (OSError, SyntaxError, ValueError) as err:  # truncated / broken streams
        raise ImageError(
            path, "corrupt", f"unreadable or truncated image ({err})", "re-export or remove it"
        ) from err
    if require_color and is_grayscale(rgb):
        raise ImageError(
            path,
            "grayscale",
            "grayscale photo in a colour folder (no colour to learn from)",
            "remove it, or pass on_bad='skip' to skip such files",
        )
    return rgb


def is_grayscale(rgb: np.ndarray) -> bool:
    """True when (nearly) every pixel of uint8 ``(H, W, 3)`` is neutral (R ≈ G ≈ B)."""
    spread = rgb.max(axis=-1).astype(np.int16) - rgb.min(axis=-1)
    return float(np.quantile(spread, GRAY_QUANTILE)) <= GRAY_SPREAD


def center_crop_resize(
    rgb: np.ndarray, size: int, *, allow_upscale: bool = False, path: str | os.PathLike = "<array>"
) -> np.ndarray:
    """Centre square crop (side = shorter side), then antialiased bicubic resize to ``size``.

    A photo whose shorter side is below ``size`` raises :class:`ImageError` (``too_small``)
    unless ``allow_upscale`` (upscaling invents no colour but blurs the input).
    """
    h, w = rgb.shape[:2]
    side = min(h, w)
    if side < size and not allow_upscale:
        raise ImageError(
            path,
            "too_small",
            f"{w}x{h} is smaller than image_size={size}",
            "use a smaller image_size, remove the file, or pass allow_upscale=True",
        )
    top, left = (h - side) // 2, (w - side) // 2
    square = Image.fromarray(rgb[top : top + side, left : left + side])
    if side != size:
        square = square.resize((size, size), Image.Resampling.BICUBIC)
    return np.asarray(square, dtype=np.uint8)


def _refuse_size_and_frames(im: Image.Image, path: Path, max_pixels: int) -> None:
    w, h = im.size
    if w * h > max_pixels:
        raise ImageError(
            path,
            "too_large",
            f"{w}x{h} = {w * h:,} pixels exceeds max_pixels={max_pixels:,}",
            "a decompression bomb, or a genuinely huge image: raise max_pixels",
        )
    frames = getattr(im, "n_frames", 1)
    if frames > 1 and im.format != "MPO":  # MPO: a camera photo and its previews
        raise ImageError(
            path,
            "multi_frame",
            f"an animation or multi-page {im.format} file ({frames} frames or pages); "
            "colorlib reads still photos",
            "save the frame or page you want as its own file",
        )


def _to_srgb(im: Image.Image, path: Path, info: dict | None) -> Image.Image:
    """``im`` converted from its embedded ICC profile to sRGB (see the module doc)."""
    icc = im.info.get("icc_profile")
    if not icc or im.mode not in MANAGED_MODES:
        return im
    try:
        profile = ImageCms.ImageCmsProfile(io.BytesIO(icc))
        name = ImageCms.getProfileDescription(profile).strip()
    except (ImageCms.PyCMSError, OSError, ValueError) as err:
        raise ImageError(
            path, "corrupt", f"its embedded ICC profile cannot be read ({err})",
            "re-export it with a valid profile, or without one (then it is taken as sRGB)",
        ) from err  # fmt: skip
    if "srgb" in name.lower():
        return im
    alpha = im.getchannel("A") if im.mode in ("RGBA", "LA") else None
    source = im.convert({"RGBA": "RGB", "LA": "L"}.get(im.mode, im.mode))
    try:
        converted = ImageCms.profileToProfile(
            source, profile, SRGB, renderingIntent=RENDERING_INTENT, outputMode="RGB"
        )
    except ImageCms.PyCMSError as err:
        raise ImageError(
            path, "unsupported", f"its ICC profile {name!r} cannot be converted to sRGB ({err})",
            "convert it to sRGB in an image editor",
        ) from err  # fmt: skip
    if alpha is not None:
        converted.putalpha(alpha)
    if info is not None:
        info["icc"] = name
    return converted


def _to_rgb8(im: Image.Image, path: Path) -> np.ndarray:
    mode = im.mode
    if mode in ("I;16", "I;16B", "I;16L", "I"):  # 16/32-bit grayscale
        arr = np.asarray(im, dtype=np.float64)
        scale = 65535.0 if mode != "I" or arr.max() > 255 else 255.0
        gray = np.clip(np.round(arr / scale * 255.0), 0, 255).astype(np.uint8)
        return np.repeat(gray[..., None], 3, axis=-1)
    if mode == "P" and "transparency" in im.info:
        im, mode = im.convert("RGBA"), "RGBA"
    if mode in ("RGBA", "LA", "PA", "RGBa", "La"):
        rgba = im.convert("RGBA")
        white = Image.new("RGBA", rgba.size, (255, 255, 255, 255))
        return np.asarray(Image.alpha_composite(white, rgba).convert("RGB"), dtype=np.uint8)
    if mode in ("RGB", "L", "1", "P", "CMYK", "YCbCr", "LAB", "HSV"):
        return np.asarray(im.convert("RGB"), dtype=np.uint8)
    raise ImageError(path, "unsupported", f"unsupported image mode {mode!r}", "convert it to RGB")
