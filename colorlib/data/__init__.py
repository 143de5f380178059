"""Photos in, normalised ``(L, ab)`` tensors out.

* :mod:`colorlib.data.decode` — one photo, decoded safely (:func:`load_rgb`, :class:`ImageError`);
* :mod:`colorlib.data.folders` — folder layouts (:func:`find_images`) and :class:`ImageSet`,
  a split decoded once, with its on-disk cache;
* :mod:`colorlib.data.augment` — the study's :class:`Augmentation`, batched on the device;
* :mod:`colorlib.data.dataset` — :class:`ColorizationDataset` (uint8 photos -> ``(L, ab)``
  batches on the device);
* :mod:`colorlib.data.sources` — the embedded sample, the Kaggle download, the validation
  split, and the train / validation / test files a config picks.
"""

from colorlib.data.augment import NO_AUGMENTATION, Augmentation, sample_seed
from colorlib.data.dataset import ColorizationDataset
from colorlib.data.decode import (
    DEFAULT_MAX_PIXELS,
    ImageError,
    center_crop_resize,
    is_grayscale,
    load_rgb,
)
from colorlib.data.folders import (
    IMAGE_EXTENSIONS,
    ImageSet,
    dataset_fingerprint,
    find_images,
    load_images,
    printable_name,
)
from colorlib.data.sources import (
    create_validation_split,
    download_kaggle,
    evaluation_files,
    holdout,
    load_training_data,
    read_split,
    resolve_data_dir,
    sample_dataset,
    training_files,
)

__all__ = [
    "DEFAULT_MAX_PIXELS",
    "IMAGE_EXTENSIONS",
    "NO_AUGMENTATION",
    "Augmentation",
    "ColorizationDataset",
    "ImageError",
    "ImageSet",
    "center_crop_resize",
    "create_validation_split",
    "dataset_fingerprint",
    "download_kaggle",
    "evaluation_files",
    "find_images",
    "holdout",
    "is_grayscale",
    "load_images",
    "load_rgb",
    "load_training_data",
    "printable_name",
    "read_split",
    "resolve_data_dir",
    "sample_dataset",
    "sample_seed",
    "training_files",
]
