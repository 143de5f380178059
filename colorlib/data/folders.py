"""Folders of photos: the layouts colorlib reads, and :class:`ImageSet`, the decoded photos of
a split with its decode-once cache.

Layouts (:func:`find_images`):

* Kaggle ``aayush9753/image-colorization-dataset``: ``{split}_color/`` beside ``{split}_black/``,
  paired by file name (a mismatch is an error). Only the colour files are read: L and ab both
  come from them (STUDY.md); the black folder is checked, not used.
* any folder of colour photos, with ``train/ val/ test/`` subfolders (like
  ``../shared/data/bsds500``) or flat (``split=None``).

Every photo is decoded once (:func:`colorlib.data.decode.load_rgb`), centre-cropped to a square
and resized to ``image_size`` with Pillow's antialiased bicubic filter, and kept as uint8 in
memory (:class:`ImageSet`), optionally in an on-disk cache, so a training epoch never re-decodes
a JPEG. Problems are found in the main process, before any DataLoader worker starts; with
``on_bad="skip"`` bad photos are skipped, counted per reason and logged.
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

from colorlib.atomic import atomic_write_bytes
from colorlib.data.decode import DEFAULT_MAX_PIXELS, ImageError, center_crop_resize, load_rgb

log = logging.getLogger(__name__)

IMAGE_EXTENSIONS = frozenset({".jpg", ".jpeg", ".png", ".bmp", ".tif", ".tiff", ".webp"})
ON_BAD = ("raise", "skip")
_CACHE_VERSION = 1


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
    """Image files of ``folder``, sorted; broken symbolic links (dangling, loops) are kept, so
    that loading counts them as skipped (``missing``) instead of dropping them unseen."""
    files = sorted(
        p
        for p in folder.iterdir()
        if p.suffix.lower() in IMAGE_EXTENSIONS and (p.is_file() or p.is_symlink())
    )
    if not files:
        raise FileNotFoundError(
            f"{folder} holds no images ({', '.join(sorted(IMAGE_EXTENSIONS))}); "
            "check the path or add photos"
        )
    return files


def printable_name(path: str | os.PathLike) -> str:
    """The file name as text that any CSV, JSON or log can hold: names that are not valid
    UTF-8 (common on disks written by other systems) get their bad bytes as ``\\xNN``."""
    return os.fsencode(Path(path).name).decode("utf-8", "backslashreplace")


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
            rgb = load_rgb(path, max_pixels=max_pixels, min_side=image_size)
            images.append(
                center_crop_resize(rgb, image_size, allow_upscale=allow_upscale, path=path)
            )
            names.append(printable_name(path))
        except ImageError as err:
            if on_bad == "raise":
                raise
            skipped.setdefault(err.reason, []).append(printable_name(path))
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
        # bytes-safe (names need not be UTF-8); a broken link is skipped on load
        st = Path(p).stat() if Path(p).exists() else None
        stamp = f"\0{st.st_size}\0{st.st_mtime_ns}\n" if st else "\0missing\n"
        where = Path(p).resolve() if st else Path(p).absolute()  # resolve() fails on a loop
        h.update(os.fsencode(where) + stamp.encode())
    return Path(cache_dir) / f"images_{image_size}_{h.hexdigest()[:16]}.npz"


def dataset_fingerprint(files: Sequence[Path]) -> str:
    """A short hash of the file names and sizes (recorded in run provenance)."""
    h = hashlib.sha256()
    for p in files:
        size = Path(p).stat().st_size if Path(p).exists() else -1
        h.update(os.fsencode(Path(p).name) + f"\0{size}\n".encode())
    return h.hexdigest()[:16]
