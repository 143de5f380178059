"""Photos in, normalised (L, ab) tensors out: safe decoding, layouts, caching, augmentation.

Layouts (:func:`find_images`):

* Kaggle ``aayush9753/image-colorization-dataset``: ``{split}_color/`` beside ``{split}_black/``,
  paired by file name (a mismatch is an error). Only the colour files are read: L and ab both
  come from them (STUDY.md); the black folder is checked, not used.
* any folder of colour photos, with ``train/ val/ test/`` subfolders (like
  ``../shared/data/bsds500``) or flat (``split=None``).

Every photo is decoded once (:func:`load_rgb`), centre-cropped to a square and resized to
``image_size`` with Pillow's antialiased bicubic filter, and kept as uint8 in memory
(:class:`ImageSet`), optionally in an on-disk cache, so a training epoch never re-decodes a JPEG.
Problems are found in the main process, before any DataLoader worker starts.

Bad input: unreadable, truncated, non-image, grayscale-in-a-colour-folder and too-small images
raise :class:`ImageError` naming the file and what to do; with ``on_bad="skip"`` they are
skipped, counted per reason and logged. EXIF orientation is applied; RGBA / LA / transparent
palette images are composited onto white; CMYK, palette and 16-bit images are converted to 8-bit
sRGB; images above ``max_pixels`` (decompression bombs) are refused before decoding.
"""

from __future__ import annotations

import hashlib
import io
import logging
import os
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch
from PIL import Image, ImageOps, UnidentifiedImageError

from colorlib.color import encode_lab, rgb_to_lab
from colorlib.io import atomic_write_bytes

log = logging.getLogger(__name__)

IMAGE_EXTENSIONS = frozenset({".jpg", ".jpeg", ".png", ".bmp", ".tif", ".tiff", ".webp"})
DEFAULT_MAX_PIXELS = 100_000_000  # 100 MP: above any camera photo, far below a bomb
GRAY_SPREAD = 6  # a pixel is neutral if max(R,G,B) - min(R,G,B) <= this (JPEG chroma noise)
GRAY_QUANTILE = 0.99  # an image is grayscale if this share of its pixels is neutral
ON_BAD = ("raise", "skip")
_CACHE_VERSION = 1


class ImageError(ValueError):
    """A photo that cannot be used; the message names the file and what to do."""

    def __init__(self, path: str | os.PathLike, reason: str, problem: str) -> None:
        self.path, self.reason = Path(path), reason
        super().__init__(f"{path}: {problem}")


# --- one image ------------------------------------------------------------------------------


def load_rgb(
    path: str | os.PathLike, *, max_pixels: int = DEFAULT_MAX_PIXELS, require_color: bool = True
) -> np.ndarray:
    """Decode one photo to uint8 sRGB ``(H, W, 3)``, upright (EXIF orientation applied).

    Raises :class:`ImageError` (``reason`` one of ``corrupt``, ``too_large``, ``grayscale``,
    ``unsupported``) with the file name and what to do.
    """
    path = Path(path)
    try:
        with Image.open(path) as im:
            w, h = im.size
            if w * h > max_pixels:
                raise ImageError(
                    path,
                    "too_large",
                    f"{w}x{h} = {w * h:,} pixels exceeds max_pixels={max_pixels:,} "
                    "(a decompression bomb, or a genuinely huge image: raise max_pixels)",
                )
            im = ImageOps.exif_transpose(im)
            im.load()
            rgb = _to_rgb8(im, path)
    except ImageError:
        raise
    except Image.DecompressionBombError as err:
        raise ImageError(path, "too_large", f"refused as a decompression bomb ({err})") from err
    except UnidentifiedImageError as err:
        raise ImageError(
            path, "corrupt", "not an image file Pillow can read; remove it from the folder"
        ) from err
    except (OSError, SyntaxError, ValueError) as err:  # truncated / broken streams
        raise ImageError(
            path, "corrupt", f"unreadable or truncated image ({err}); re-export or remove it"
        ) from err
    if require_color and is_grayscale(rgb):
        raise ImageError(
            path,
            "grayscale",
            "grayscale photo in a colour folder (no colour to learn from); remove it, or pass "
            "on_bad='skip' to skip such files",
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
            f"{w}x{h} is smaller than image_size={size}; use a smaller image_size, remove the "
            "file, or pass allow_upscale=True",
        )
    top, left = (h - side) // 2, (w - side) // 2
    square = Image.fromarray(rgb[top : top + side, left : left + side])
    if side != size:
        square = square.resize((size, size), Image.Resampling.BICUBIC)
    return np.asarray(square, dtype=np.uint8)


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
    raise ImageError(path, "unsupported", f"unsupported image mode {mode!r}; convert it to RGB")


# --- folders and layouts --------------------------------------------------------------------


def find_images(root: str | os.PathLike, split: str | Sequence[str] | None) -> list[Path]:
    """The colour photos of ``split`` under ``root`` (sorted; see the module doc for layouts).

    ``split`` is ``"train"``, ``"val"``, ``"test"``, a sequence of them (e.g. train + val), or
    ``None`` for a flat folder. Files without an image extension are ignored.
    """
    root = Path(root)
    if not root.is_dir():
        raise FileNotFoundError(
            f"data folder {root} does not exist; pass --data / data_dir pointing at the Kaggle "
            "layout or a folder of colour photos (e.g. ../shared/data/bsds500)"
        )
    if split is None:
        return _list_images(root)
    if not isinstance(split, str):
        return [p for s in split for p in find_images(root, s)]
    color, black = root / f"{split}_color", root / f"{split}_black"
    if color.is_dir():
        files = _list_images(color)
        if black.is_dir():
            _check_pairs(files, _list_images(black), color, black)
        return files
    if (root / split).is_dir():
        return _list_images(root / split)
    present = sorted(p.name for p in root.iterdir() if p.is_dir())
    raise FileNotFoundError(
        f"{root} has no split {split!r}: expected {color.name}/ (Kaggle layout) or {split}/ "
        f"(photo folder); found folders {present or 'none'}. Use split=None for a flat folder"
        + ("; make the validation split first" if split == "val" else "")
    )


def _list_images(folder: Path) -> list[Path]:
    files = sorted(
        p for p in folder.iterdir() if p.is_file() and p.suffix.lower() in IMAGE_EXTENSIONS
    )
    if not files:
        raise FileNotFoundError(
            f"{folder} holds no images ({', '.join(sorted(IMAGE_EXTENSIONS))}); "
            "check the path or add photos"
        )
    return files


def _check_pairs(color: list[Path], black: list[Path], cdir: Path, bdir: Path) -> None:
    c, b = {p.name for p in color}, {p.name for p in black}
    if c != b:
        only_c, only_b = sorted(c - b), sorted(b - c)
        raise ImageError(
            cdir,
            "mismatch",
            f"{len(only_c)} file(s) without a partner in {bdir.name}/ (e.g. {only_c[:3]}) and "
            f"{len(only_b)} in {bdir.name}/ without one here (e.g. {only_b[:3]}); the *_color "
            "and *_black folders must hold the same file names",
        )


# --- decoded sets ---------------------------------------------------------------------------


@dataclass
class ImageSet:
    """Decoded, cropped, resized photos: ``images`` uint8 ``(N, S, S, 3)`` sRGB."""

    images: np.ndarray
    names: list[str]
    skipped: dict[str, list[str]] = field(default_factory=dict)  # reason -> file names

    def __len__(self) -> int:
        return len(self.names)


def load_images(
    files: Sequence[Path],
    image_size: int,
    *,
    on_bad: str = "raise",
    allow_upscale: bool = False,
    max_pixels: int = DEFAULT_MAX_PIXELS,
    cache_dir: str | os.PathLike | None = None,
) -> ImageSet:
    """Decode ``files`` once into an :class:`ImageSet` (from ``cache_dir`` when it is fresh).

    ``on_bad="raise"`` stops at the first bad file with its :class:`ImageError`;
    ``on_bad="skip"`` skips it, counts it under its reason and logs a summary.
    The cache key covers every file's path, size and mtime, the size and the policy.
    """
    if on_bad not in ON_BAD:
        raise ValueError(f"unknown on_bad {on_bad!r}; choose from {list(ON_BAD)}")
    cache = _cache_path(files, image_size, on_bad, allow_upscale, max_pixels, cache_dir)
    if cache is not None and cache.exists():
        with np.load(cache, allow_pickle=False) as z:
            skipped: dict[str, list[str]] = {}
            for reason, name in zip(z["skip_reasons"].tolist(), z["skip_names"].tolist()):
                skipped.setdefault(reason, []).append(name)
            return ImageSet(z["images"], z["names"].tolist(), skipped)

    images, names, skipped = [], [], {}
    for path in files:
        try:
            rgb = load_rgb(path, max_pixels=max_pixels)
            images.append(
                center_crop_resize(rgb, image_size, allow_upscale=allow_upscale, path=path)
            )
            names.append(path.name)
        except ImageError as err:
            if on_bad == "raise":
                raise
            skipped.setdefault(err.reason, []).append(path.name)
            log.warning("skipped %s", err)
    if skipped:
        counts = ", ".join(f"{len(v)} {k}" for k, v in sorted(skipped.items()))
        log.warning(
            "skipped %d of %d files (%s)", sum(map(len, skipped.values())), len(files), counts
        )
    if not images:
        raise ValueError(f"no usable images among {len(files)} files (skipped: {skipped})")
    out = ImageSet(np.stack(images), names, skipped)
    if cache is not None:
        reasons = [r for r, v in skipped.items() for _ in v]
        buf = io.BytesIO()
        skip_names = [n for v in skipped.values() for n in v]
        np.savez(
            buf,
            images=out.images,
            names=np.array(names),
            skip_reasons=np.array(reasons, dtype=str),
            skip_names=np.array(skip_names, dtype=str),
        )
        atomic_write_bytes(cache, buf.getvalue())
    return out


def _cache_path(files, image_size, on_bad, allow_upscale, max_pixels, cache_dir) -> Path | None:
    if cache_dir is None:
        return None
    h = hashlib.sha256(
        repr((_CACHE_VERSION, image_size, on_bad, allow_upscale, max_pixels)).encode()
    )
    for p in files:
        st = Path(p).stat()
        h.update(f"{Path(p).resolve()}\0{st.st_size}\0{st.st_mtime_ns}\n".encode())
    return Path(cache_dir) / f"images_{image_size}_{h.hexdigest()[:16]}.npz"


# --- training samples -----------------------------------------------------------------------


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


def dataset_fingerprint(files: Sequence[Path]) -> str:
    """A short hash of the file names and sizes (recorded in run provenance)."""
    h = hashlib.sha256()
    for p in files:
        h.update(f"{Path(p).name}\0{Path(p).stat().st_size}\n".encode())
    return h.hexdigest()[:16]
