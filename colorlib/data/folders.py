"""Folders of photos: the layouts colorlib reads, and :class:`ImageSet`, the decoded photos of
a split with its decode-once cache.

Layouts (:func:`find_images`):

* Kaggle ``aayush9753/image-colorization-dataset``: ``{split}_color/`` beside ``{split}_black/``,
  paired by file name (a mismatch is an error). Only the colour files are read: L and ab both
  come from them (docs/study.md); the black folder is checked, not used.
* any folder of colour photos, with ``train/ val/ test/`` subfolders (like
  ``../shared/data/bsds500``) or flat (``split=None``).

Every photo is decoded once (:func:`colorlib.data.decode.load_rgb`), centre-cropped to a square
and resized to ``image_size`` with Pillow's antialiased bicubic filter, and kept as uint8
(:class:`ImageSet`), so a training epoch never re-decodes a JPEG. With a ``cache_dir`` the
decoded set is a ``.npy`` file opened memory-mapped (``mmap_mode="r"``): DataLoader workers and
data-parallel ranks on one machine share one copy through the page cache, and a set larger than
RAM still trains. The cache is verified against its index (shape, count, byte size and a
SHA-256 of the ``.npy``, the index written last) every time it is opened, and rebuilt, with a
warning naming the file, when it does not match. Each photo's content (SHA-256 of its bytes)
is hashed once, when it is decoded, and kept in the index: :func:`dataset_fingerprint`
identifies the photos' content, and the cache's key holds each file's size, mtime, ctime and
inode, so a photo replaced by another (even with its size and mtime) is decoded anew. The
first decode of a large set runs in parallel processes. Problems are
found before any DataLoader worker starts; with ``on_bad="skip"`` bad photos are skipped,
counted per reason and logged.
"""

from __future__ import annotations

import errno
import hashlib
import json
import logging
import os
import uuid
from collections.abc import Iterator, Sequence
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field, replace
from pathlib import Path

import numpy as np

from colorlib.atomic import atomic_write_bytes
from colorlib.data.decode import DEFAULT_MAX_PIXELS, ImageError, center_crop_resize, load_rgb
from colorlib.errors import ConfigError, DataError, MissingFileError

log = logging.getLogger(__name__)

IMAGE_EXTENSIONS = frozenset(
    {".jpg", ".jpeg", ".png", ".bmp", ".tif", ".tiff", ".webp", ".gif"}
)  # an animated GIF is listed, then refused by name (colorlib.data.decode, "multi_frame")
ON_BAD = ("raise", "skip")
_CACHE_VERSION = 3  # 3: the index holds the .npy's size and SHA-256, digests, ICC conversions
PARALLEL_DECODE_MIN = 64  # photos: fewer decode in this process (a pool costs ~0.1 s to start)


def find_images(root: str | os.PathLike, split: str | Sequence[str] | None) -> list[Path]:
    """The colour photos of ``split`` under ``root`` (sorted; see the module doc for layouts).

    ``split`` is ``"train"``, ``"val"``, ``"test"``, a sequence of them (e.g. train + val), or
    ``None`` for a flat folder. Files without an image extension are ignored.
    """
    root = Path(root)
    if not root.is_dir():
        raise MissingFileError(
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
    raise MissingFileError(
        f"{root} has no split {split!r}: expected {color.name}/ (Kaggle layout) or {split}/ "
        f"(photo folder); found folders {present or 'none'}. Use split=None for a flat folder"
        + ("; make the validation split first" if split == "val" else "")
    )


def has_split(root: str | os.PathLike, split: str) -> bool:
    """Whether ``root`` has a folder for ``split`` (``{split}_color/`` or ``{split}/``),
    whatever it holds: :func:`find_images` then lists it, or says that it is empty."""
    root = Path(root)
    return (root / f"{split}_color").is_dir() or (root / split).is_dir()


def _list_images(folder: Path) -> list[Path]:
    """Entries of ``folder`` with an image file's extension, sorted, folders aside; broken
    symbolic links and anything that is not a regular file (a FIFO, say) are kept, so that
    loading counts them as skipped (``missing``, ``not_a_file``) instead of dropping them
    unseen or hanging on them."""
    files = sorted(
        p
        for p in folder.iterdir()
        if p.suffix.lower() in IMAGE_EXTENSIONS and (p.is_symlink() or not p.is_dir())
    )
    if not files:
        raise MissingFileError(
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
            f"{len(only_b)} in {bdir.name}/ without one here (e.g. {only_b[:3]})",
            "the *_color and *_black folders must hold the same file names",
        )


# --- decoded sets ---------------------------------------------------------------------------


@dataclass
class ImageSet:
    """Decoded, cropped, resized photos: ``images`` uint8 ``(N, S, S, 3)`` sRGB."""

    images: np.ndarray
    names: list[str]
    skipped: dict[str, list[str]] = field(default_factory=dict)  # reason -> file names
    digests: list[str] = field(default_factory=list)  # SHA-256 of each photo's file, as names
    # the photos converted from an embedded ICC profile to sRGB: name -> the profile's name
    converted: dict[str, str] = field(default_factory=dict)

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
    processes: int | None = None,
) -> ImageSet:
    """Decode ``files`` once into an :class:`ImageSet` (from ``cache_dir`` when it is fresh).

    ``on_bad="raise"`` stops at the first bad file (in file order) with its
    :class:`ImageError`; ``on_bad="skip"`` skips it, counts it under its reason and logs a
    summary. With ``cache_dir`` the images are decoded straight into a ``.npy`` file there and
    returned memory-mapped, read-only; its key covers every file's path, size, mtime, ctime and
    inode, the size and the policy, so a changed photo means a new cache; a cache that does not
    match its index is rebuilt (a warning names it). ``processes`` decode in
    parallel (default: the CPU count, up to 8, for ``PARALLEL_DECODE_MIN`` photos or more).
    """
    if on_bad not in ON_BAD:
        raise ConfigError(f"unknown on_bad {on_bad!r}; choose from {list(ON_BAD)}")
    cache = _cache_path(files, image_size, on_bad, allow_upscale, max_pixels, cache_dir)
    if cache is not None:
        cached = _read_cache(cache)
        if cached is not None:
            return cached
    shape = (len(files), image_size, image_size, 3)
    with _decode_target(cache, shape) as target:
        decoded = _decode_all(files, image_size, allow_upscale, max_pixels, processes)
        names, skipped, digests, converted = _fill(target, decoded, on_bad, len(files))
        if not names:
            raise DataError(f"no usable images among {len(files)} files ({_summary(skipped)})")
        decoded_set = ImageSet(target[: len(names)], names, skipped, digests, converted)
        if cache is None:
            return decoded_set
        target.flush()
        _commit_cache(cache, target, decoded_set)
    # the file just published (and hashed): opened, not verified again
    return replace(decoded_set, images=np.load(cache, mmap_mode="r"))


def _fill(target: np.ndarray, decoded: Iterator[tuple], on_bad: str, n_files: int) -> tuple:
    """Rows of ``target`` from ``decoded`` (:func:`_decode_all`), bad files raised or skipped;
    ``(names, skipped, digests, converted)``, each logged."""
    names, skipped, digests, converted = [], {}, [], {}
    for path, rgb, digest, icc, err in decoded:
        if err is not None:
            if on_bad == "raise":
                raise err
            skipped.setdefault(err.reason, []).append(printable_name(path))
            # what is wrong, without the advice (it may be to skip such files: this is done)
            log.warning("skipped %s", str(err).removesuffix(f"; {err.advice}"))
            continue
        target[len(names)] = rgb
        names.append(printable_name(path))
        digests.append(digest)
        if icc:
            converted[names[-1]] = icc
    if converted:
        log.info(
            "converted %d of %d photos from their embedded ICC profiles to sRGB (%s)",
            len(converted), n_files, ", ".join(sorted(set(converted.values()))),
        )  # fmt: skip
    if skipped:
        counts = ", ".join(f"{len(v)} {k}" for k, v in sorted(skipped.items()))
        log.warning(
            "skipped %d of %d files (%s)", sum(map(len, skipped.values())), n_files, counts
        )
    return names, skipped, digests, converted


def _summary(skipped: dict[str, list[str]], shown: int = 3) -> str:
    """``skipped`` (reason -> names) in one bounded line: each reason's count and its first
    ``shown`` names (thousands of unusable files must not make a line of thousands of names)."""
    parts = []
    for reason, names in sorted(skipped.items()):
        more = f", and {len(names) - shown} more" if len(names) > shown else ""
        parts.append(f"{len(names)} {reason}: {', '.join(names[:shown])}{more}")
    return "skipped " + "; ".join(parts)


def _decode_one(args) -> tuple[Path, np.ndarray | None, str, str, ImageError | None]:
    path, image_size, allow_upscale, max_pixels = args
    info: dict = {}
    try:
        rgb = load_rgb(path, max_pixels=max_pixels, min_side=image_size, info=info)
        with open(path, "rb") as f:  # the bytes just decoded, from the page cache
            digest = hashlib.file_digest(f, "sha256").hexdigest()
        square = center_crop_resize(rgb, image_size, allow_upscale=allow_upscale, path=path)
        return path, square, digest, info.get("icc", ""), None
    except ImageError as err:
        return path, None, "", "", err


def _decode_all(files, image_size, allow_upscale, max_pixels, processes) -> Iterator[tuple]:
    """``(path, uint8 image or None, content SHA-256, the ICC profile converted from or "",
    ImageError or None)`` per file, in file order."""
    jobs = [(Path(p), image_size, allow_upscale, max_pixels) for p in files]
    if processes is None:
        processes = min(os.cpu_count() or 1, 8) if len(jobs) >= PARALLEL_DECODE_MIN else 1
    if processes <= 1:
        yield from map(_decode_one, jobs)
        return
    with ProcessPoolExecutor(processes) as pool:
        yield from pool.map(_decode_one, jobs, chunksize=max(1, len(jobs) // (8 * processes)))


class _decode_target:
    """Where decoded rows go: an array in memory, or a ``.npy`` being written beside the cache
    (memory-mapped, so a set larger than RAM never has to fit in it); removed on failure."""

    def __init__(self, cache: Path | None, shape: tuple[int, ...]) -> None:
        self.cache, self.shape, self.tmp = cache, shape, None

    def __enter__(self) -> np.ndarray:
        if self.cache is None:
            return np.empty(self.shape, np.uint8)
        self.tmp = _new_file(self.cache)
        try:
            return _allocated_memmap(self.tmp, self.shape, self.cache)
        except BaseException:
            self.tmp.unlink(missing_ok=True)
            raise

    def __exit__(self, *exc) -> None:
        if self.tmp is not None:
            self.tmp.unlink(missing_ok=True)


def _commit_cache(cache: Path, rows: np.ndarray, decoded: ImageSet) -> None:
    """Publish ``decoded`` (its photos: the first rows of the memory-mapped ``rows``) as
    ``cache`` (``.npy``) and then its index (``.json``: the names, skips, digests and
    conversions, the shape, the file's size and SHA-256), the commit point: a cache without
    its index is not read, one that does not match it is rebuilt."""
    n = len(decoded)
    if n == len(rows):
        os.replace(rows.filename, cache)
    else:  # skipped photos: the first n rows, compacted into their own file
        tmp = _new_file(cache)
        try:
            compact = _allocated_memmap(tmp, (n, *rows.shape[1:]), cache)
            compact[:] = rows[:n]
            compact.flush()
            os.replace(tmp, cache)
        finally:
            tmp.unlink(missing_ok=True)
    index = {
        "names": decoded.names,
        "skipped": decoded.skipped,
        "digests": decoded.digests,
        "converted": decoded.converted,
        "shape": [n, *rows.shape[1:]],
        "bytes": cache.stat().st_size,
        "sha256": _file_sha256(cache),
    }
    atomic_write_bytes(cache.with_suffix(".json"), json.dumps(index).encode())


def _read_cache(cache: Path) -> ImageSet | None:
    """The cached set, memory-mapped read-only, when the ``.npy`` matches its index; ``None``
    when there is none yet, or when it does not match (both files are then removed, with a
    warning naming the cache, and the set is decoded anew)."""
    index_file = cache.with_suffix(".json")
    if not index_file.exists():
        return None  # never committed (a crash between the two writes): decoded anew
    verified = _open_verified(cache, index_file)
    if isinstance(verified, ImageSet):
        return verified
    log.warning("decode cache %s does not match its index (%s): decoding anew", cache, verified)
    index_file.unlink(missing_ok=True)
    cache.unlink(missing_ok=True)
    return None


def _open_verified(cache: Path, index_file: Path) -> ImageSet | str:
    """``cache`` opened as its index's set, or what keeps it from being that set."""
    try:
        index = json.loads(index_file.read_text())
        shape, names, digests = list(index["shape"]), list(index["names"]), index["digests"]
        skipped, converted = dict(index["skipped"]), dict(index["converted"])
        size, checksum, count = int(index["bytes"]), str(index["sha256"]), int(shape[0])
        counts = (len(names), len(digests))
    except (OSError, ValueError, KeyError, TypeError, IndexError) as err:
        return f"unreadable index {index_file.name}: {type(err).__name__}"
    if not cache.exists():
        return "the .npy is missing"
    if counts != (count, count):
        return f"{counts[0]} names and {counts[1]} digests for {count} images"
    if cache.stat().st_size != size:
        return f"{cache.stat().st_size} bytes, the index says {size}"
    if _file_sha256(cache) != checksum:
        return "its SHA-256 differs from the index's"
    try:
        images = np.load(cache, mmap_mode="r")
    except (OSError, ValueError, EOFError) as err:
        return f"unreadable .npy: {err}"
    if list(images.shape) != shape or images.dtype != np.uint8:
        return f"shape {list(images.shape)} {images.dtype}, the index says {shape} uint8"
    return ImageSet(images, names, skipped, digests, converted)


def _file_sha256(path: Path) -> str:
    with open(path, "rb") as f:
        return hashlib.file_digest(f, "sha256").hexdigest()


def _allocated_memmap(tmp: Path, shape: tuple[int, ...], target: Path) -> np.memmap:
    """A new ``.npy`` of ``shape`` at ``tmp``, memory-mapped for writing, with its blocks
    allocated on disk before any is written: a full disk is then an ordinary ``OSError`` naming
    ``target`` (the cache being written), not a ``SIGBUS`` when a page of the map is written
    (a sparse file's pages have no blocks until then)."""
    try:
        rows = np.lib.format.open_memmap(tmp, mode="w+", dtype=np.uint8, shape=shape)
        with open(tmp, "r+b") as f:
            try:
                os.posix_fallocate(f.fileno(), 0, os.fstat(f.fileno()).st_size)
            except OSError as err:  # a file system that cannot allocate ahead: written as is
                if err.errno not in (errno.EOPNOTSUPP, errno.ENOSYS, errno.EINVAL):
                    raise
    except OSError as err:
        raise OSError(err.errno, err.strerror, str(target)) from err
    return rows


def _new_file(beside: Path) -> Path:
    """A new, empty, uniquely named temp file beside ``beside``, created with mode 0o666 so the
    umask applies as for any file colorlib writes (:mod:`colorlib.atomic`)."""
    beside.parent.mkdir(parents=True, exist_ok=True)
    tmp = beside.parent / f".{beside.name}.{os.getpid()}.{uuid.uuid4().hex[:8]}.tmp"
    os.close(os.open(tmp, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o666))
    return tmp


def _cache_path(files, image_size, on_bad, allow_upscale, max_pixels, cache_dir) -> Path | None:
    if cache_dir is None:
        return None
    h = hashlib.sha256(
        repr((_CACHE_VERSION, image_size, on_bad, allow_upscale, max_pixels)).encode()
    )
    for p in files:
        # bytes-safe (names need not be UTF-8); a broken link is skipped on load. The ctime and
        # the inode change whenever a file is replaced, even by one of the same size and mtime
        st = Path(p).stat() if Path(p).exists() else None
        stamp = (
            f"\0{st.st_size}\0{st.st_mtime_ns}\0{st.st_ctime_ns}\0{st.st_ino}\n"
            if st
            else "\0missing\n"
        )
        where = Path(p).resolve() if st else Path(p).absolute()  # resolve() fails on a loop
        h.update(os.fsencode(where) + stamp.encode())
    return Path(cache_dir) / f"images_{image_size}_{h.hexdigest()[:16]}.npy"


def dataset_fingerprint(*sets: ImageSet) -> str:
    """A short hash of the photos' content: each decoded photo's name and SHA-256, and the
    names of the skipped ones (recorded in run provenance). The same photos give the same
    fingerprint wherever they lie; a changed photo, a new one or one fewer changes it."""
    h = hashlib.sha256()
    for images in sets:
        for name, digest in zip(images.names, images.digests, strict=True):
            h.update(os.fsencode(name) + f"\0{digest}\n".encode())
        for reason, names in sorted(images.skipped.items()):
            h.update(f"skipped {reason}\0".encode() + "\0".join(names).encode() + b"\n")
        h.update(b"\0set\n")
    return h.hexdigest()[:16]
