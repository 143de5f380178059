"""Where a run's photos come from: the embedded sample, the Kaggle download, the validation
split every model of a study shares, and the choice of train / validation / test files a config
makes (:func:`training_files`, :func:`evaluation_files`).

``python -m colorlib data sample`` builds the sample, ``python -m colorlib data download``
fetches the Kaggle dataset (needs your Kaggle credentials), ``python -m colorlib data split``
writes a validation split.
"""

from __future__ import annotations

import json
import logging
import os
from pathlib import Path

import numpy as np
import torch
from PIL import Image

from colorlib.atomic import atomic_write_bytes, write_image
from colorlib.config import N_VAL, SPLIT_SEED, ExperimentConfig
from colorlib.data.folders import (
    ImageSet,
    dataset_fingerprint,
    find_images,
    has_split,
    load_images,
)
from colorlib.errors import (
    ConfigError,
    DataError,
    DownloadError,
    MissingFileError,
    OutputExistsError,
)
from colorlib.metrics import colorfulness
from colorlib.paths import project_root

log = logging.getLogger(__name__)

# --- the embedded sample: real colour photographs shipped inside scikit-image ---------------

# split by source photo: no photo contributes tiles to two splits
SAMPLE_PHOTOS = {
    "train": (
        "astronaut",
        "hubble_deep_field",
        "immunohistochemistry",
        "motorcycle_left",
        "motorcycle_right",
        "retina",
    ),
    "val": ("chelsea",),
    "test": ("coffee", "rocket"),
}
SAMPLE_TILE = 128  # crop side; the sample serves the smoke and cpu profiles (<= 128)
SAMPLE_STRIDE = 64
SAMPLE_MAX_TILES = 48  # per photo, evenly spread
SAMPLE_VERSION = 1


def _skimage_photo(name: str) -> np.ndarray:
    import skimage.data

    if name.startswith("motorcycle_"):
        left, right, _ = skimage.data.stereo_motorcycle()
        return left if name.endswith("left") else right
    return getattr(skimage.data, name)()


def sample_dataset(root: str | os.PathLike | None = None) -> Path:
    """Build (once) and return the sample photo folder ``{root}/{train,val,test}/*.png``.

    Tiles of ``SAMPLE_TILE``² cut with stride ``SAMPLE_STRIDE`` from the colour photographs
    that ship with scikit-image (at most ``SAMPLE_MAX_TILES`` per photo), split by photo.
    ``root`` defaults to ``data/sample`` under the project.
    """
    root = Path(root) if root else project_root() / "data" / "sample"
    stamp = root / "SAMPLE.json"
    if stamp.exists() and json.loads(stamp.read_text()).get("version") == SAMPLE_VERSION:
        return root
    counts = {}
    for split, names in SAMPLE_PHOTOS.items():
        for name in names:
            photo = _skimage_photo(name)
            tiles = _tiles(photo)
            for i, tile in enumerate(tiles):
                write_image(Image.fromarray(tile), root / split / f"{name}_{i:03d}.png")
            counts[name] = len(tiles)
    atomic_write_bytes(
        stamp,
        json.dumps(
            {
                "version": SAMPLE_VERSION,
                "source": "skimage.data (scikit-image's bundled photographs)",
                "tile": SAMPLE_TILE,
                "stride": SAMPLE_STRIDE,
                "splits": SAMPLE_PHOTOS,
                "tiles_per_photo": counts,
            },
            indent=2,
        ).encode(),
    )
    return root


def _tiles(photo: np.ndarray) -> list[np.ndarray]:
    h, w = photo.shape[:2]
    corners = [
        (y, x)
        for y in range(0, h - SAMPLE_TILE + 1, SAMPLE_STRIDE)
        for x in range(0, w - SAMPLE_TILE + 1, SAMPLE_STRIDE)
    ]
    if len(corners) > SAMPLE_MAX_TILES:
        keep = np.linspace(0, len(corners) - 1, SAMPLE_MAX_TILES).round().astype(int)
        corners = [corners[i] for i in keep]
    return [photo[y : y + SAMPLE_TILE, x : x + SAMPLE_TILE] for y, x in corners]


def resolve_data_dir(data_dir: str | os.PathLike) -> Path:
    """``"sample"`` -> the embedded sample (built on first use); any other path as given.

    Every command that takes ``--data`` (and every config's ``data_dir``) goes through here.
    """
    return sample_dataset() if str(data_dir) == "sample" else Path(data_dir)


# --- the Kaggle dataset ---------------------------------------------------------------------

KAGGLE_DATASET = "aayush9753/image-colorization-dataset"



def download_kaggle(target: str | os.PathLike | None = None) -> Path:
    """Fetch the original study's dataset with the user's Kaggle credentials.

    Lands in ``data/colorize_dataset/data/{train,test}_{color,black}``. Raises
    :class:`DownloadError`, saying what to do, when the credentials, the ``kaggle`` package
    or the network are missing or refused.
    """
    target = Path(target) if target else project_root() / "data" / "colorize_dataset"
    creds = Path(os.environ.get("KAGGLE_CONFIG_DIR", Path.home() / ".kaggle")) / "kaggle.json"
    if not creds.exists() and not (
        os.environ.get("KAGGLE_USERNAME") and os.environ.get("KAGGLE_KEY")
    ):
        raise DownloadError(
            f"no Kaggle credentials: create an API token at https://www.kaggle.com/settings, "
            f"save it as {creds} (chmod 600) or set KAGGLE_USERNAME and KAGGLE_KEY, then rerun "
            f"`python -m colorlib data download`. Or download {KAGGLE_DATASET} by hand and "
            f"unpack it so that {target / 'data' / 'train_color'} exists."
        )
    try:
        from kaggle.api.kaggle_api_extended import KaggleApi
    except ImportError as err:
        raise DownloadError("the download needs the kaggle package: pip install kaggle") from err
    api = KaggleApi()
    try:
        api.authenticate()
    except Exception as err:  # the client raises several kinds for bad credentials
        raise DownloadError(f"Kaggle refused the credentials in {creds} ({err})") from err
    try:
        api.dataset_download_files(KAGGLE_DATASET, path=str(target), unzip=True, quiet=False)
    except Exception as err:  # the client raises many kinds; all mean the same to a user
        raise DownloadError(
            f"downloading {KAGGLE_DATASET} failed ({err}); check your network and that you "
            "accepted the dataset's terms on kaggle.com"
        ) from err
    return target / "data"


# --- the validation split -------------------------------------------------------------------


def holdout(files: list[Path], n_val: int, seed: int) -> tuple[list[Path], list[Path]]:
    """Seeded split of ``files`` into (train, val) with ``n_val`` photos held out; order kept."""
    if not 0 < n_val < len(files):
        raise ConfigError(
            f"holding out {n_val} photos for validation (val_holdout; the split notebook's "
            f"n_val) needs between 1 and {len(files) - 1} of them; {len(files)} training "
            "photos found"
        )
    order = torch.randperm(len(files), generator=torch.Generator().manual_seed(seed)).tolist()
    held = set(order[:n_val])
    return (
        [f for i, f in enumerate(files) if i not in held],
        [f for i, f in enumerate(files) if i in held],
    )


def create_validation_split(
    data_dir: str | os.PathLike,
    out: str | os.PathLike,
    *,
    n_val: int = N_VAL,
    seed: int = SPLIT_SEED,
    train_splits: tuple[str, ...] = ("train",),
    val_split: str = "val",
) -> dict:
    """Write the train/validation split every model of a study shares, as JSON.

    A dataset that has its own ``val_split`` folder keeps it, unless that folder is among the
    ``train_splits`` (e.g. BSDS500 trained on train + val); otherwise ``n_val`` training
    photos are held out with ``seed`` (250 of the Kaggle layout's 5,000, as the original). The
    file lists paths relative to ``data_dir``; training reads it through ``split_file``. An
    existing file with the same split is kept; a different one is never overwritten
    (``FileExistsError``): delete it deliberately to re-split.
    """
    data_dir = Path(data_dir)
    train = find_images(data_dir, train_splits)
    # a val/ folder that is trained on is not a validation set; one that holds no images is
    # an error naming it (find_images), never a silent hold-out
    if val_split not in train_splits and has_split(data_dir, val_split):
        val, method = find_images(data_dir, val_split), f"the dataset's {val_split}/ folder"
    else:
        (train, val), method = holdout(train, n_val, seed), f"{n_val} held out, seed {seed}"
    split = {
        "data_dir": str(data_dir),
        "method": method,
        "train": [str(f.relative_to(data_dir)) for f in train],
        "val": [str(f.relative_to(data_dir)) for f in val],
    }
    out = Path(out)
    if out.exists():
        existing = json.loads(out.read_text())
        if (existing.get("train"), existing.get("val")) != (split["train"], split["val"]):
            raise OutputExistsError(
                f"{out} already holds a different validation split; every model must see the "
                "same one, so it is not overwritten. Delete it deliberately to re-split."
            )
        return existing
    atomic_write_bytes(out, json.dumps(split, indent=1).encode())
    return split


def read_split(
    path: str | os.PathLike, data_dir: str | os.PathLike
) -> tuple[list[Path], list[Path]]:
    """The (train, val) files of a split written by :func:`create_validation_split`."""
    path = Path(path)
    if not path.exists():
        raise MissingFileError(
            f"split file {path} does not exist; create it with "
            "notebooks/create_validation_split.ipynb or run_all.py"
        )
    try:
        split = json.loads(path.read_text(encoding="utf-8"))
        train, val = split["train"], split["val"]
    except (UnicodeDecodeError, ValueError, KeyError, TypeError) as err:
        raise ConfigError(
            f"split file {path} is not a validation split (JSON with 'train' and 'val' lists: "
            f"{type(err).__name__}); write one with `python -m colorlib data split`"
        ) from err
    root = Path(data_dir)
    return [root / r for r in train], [root / r for r in val]


# --- the files of a run ---------------------------------------------------------------------


def training_files(cfg: ExperimentConfig) -> tuple[list[Path], list[Path]]:
    """The (train, validation) photos of ``cfg``: its ``split_file`` when set, else
    ``val_holdout`` photos held out of ``train_splits`` (seeded by ``SPLIT_SEED``, not the
    training seed: replicates over training seeds share one split), else the dataset's
    ``val_split`` folder; ``max_train_images`` caps both (smoke profile)."""
    data_dir = resolve_data_dir(cfg.data_dir)
    if cfg.split_file:
        files, val_files = read_split(cfg.split_file, data_dir)
    elif cfg.val_holdout > 0:
        files, val_files = holdout(
            find_images(data_dir, cfg.train_splits), cfg.val_holdout, SPLIT_SEED
        )
    else:
        files = find_images(data_dir, cfg.train_splits)
        val_files = find_images(data_dir, cfg.val_split)
    if cfg.max_train_images:
        files = files[: cfg.max_train_images]
        val_files = val_files[: max(cfg.batch_size, cfg.max_train_images // 4)]
    return files, val_files


def evaluation_files(cfg: ExperimentConfig) -> list[Path]:
    """The test photos of ``cfg`` (``test_split``; ``""``: every photo of the flat folder
    ``data_dir``), capped by ``max_test_images``."""
    files = find_images(resolve_data_dir(cfg.data_dir), cfg.test_split or None)
    return files[: cfg.max_test_images] if cfg.max_test_images else files


def load_training_data(cfg: ExperimentConfig) -> tuple[ImageSet, ImageSet, str]:
    """Decoded train and validation sets, and the dataset fingerprint for provenance."""
    files, val_files = training_files(cfg)
    kw = dict(on_bad=cfg.on_bad, cache_dir=cfg.cache_dir, processes=cfg.threads or None)
    train = load_images(files, cfg.image_size, **kw)
    if cfg.min_colorfulness:
        train = colourful_only(train, cfg.min_colorfulness)
    val = load_images(val_files, cfg.image_size, **kw)
    return train, val, dataset_fingerprint(train, val)


def colourful_only(images: ImageSet, threshold: float) -> ImageSet:
    """``images`` without the photos whose colourfulness (Hasler & Süsstrunk, on 0–255,
    :func:`colorlib.metrics.colorfulness`, of the decoded training crop) is below
    ``threshold``, counted under ``skipped["low_colorfulness"]`` and logged: BigColor's filter
    (it leaves out the ~10 % of ImageNet's training photos below 15), so that desaturated and
    sepia photos do not teach the model to desaturate. Validation and test photos are kept."""
    scores = np.array([colorfulness(image / 255.0) for image in images.images])
    keep = scores >= threshold
    dropped = [n for n, k in zip(images.names, keep) if not k]
    if not dropped:
        return images
    if not keep.any():
        raise DataError(
            f"every one of the {len(images)} training photos has colourfulness below "
            f"min_colorfulness={threshold:g} (highest {scores.max():.1f}); lower it, or 0 for off"
        )
    log.info(
        "left out %d of %d training photos less colourful than %g (min_colorfulness), e.g. %s",
        len(dropped), len(images), threshold, ", ".join(dropped[:3]),
    )  # fmt: skip
    kept = np.flatnonzero(keep)
    names = [images.names[i] for i in kept]
    return ImageSet(
        images=np.ascontiguousarray(images.images[kept]),
        names=names,
        skipped=images.skipped | {"low_colorfulness": dropped},
        digests=[images.digests[i] for i in kept],
        converted={n: images.converted[n] for n in names if n in images.converted},
    )
