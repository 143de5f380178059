"""Training and test samples: :class:`ColorizationDataset` turns decoded uint8 photos into
normalised ``(L, ab)`` batches (``colorlib.color.encode_lab``) on the device that uses them,
augmenting them there when asked (:mod:`colorlib.data.augment`).
"""

from __future__ import annotations

import warnings
from collections.abc import Iterator, Sequence
from typing import Any

import numpy as np
import torch

from colorlib.color import encode_lab, rgb_to_lab
from colorlib.config import DEFAULT_SEED
from colorlib.data.augment import Augmentation, augment, draw
from colorlib.data.folders import ImageSet


class ColorizationDataset(torch.utils.data.Dataset):
    """Decoded uint8 photos ``(N, S, S, 3)`` served as normalised ``(L, ab)`` float32 batches.

    :meth:`batches` gathers the uint8 photos of each batch (in DataLoader workers when asked),
    moves them to ``device`` and there augments (``augment``) and converts the whole batch to
    Lab at once. The augmentation of sample ``i`` in epoch ``e`` is drawn from a generator
    seeded by ``(seed, e, i)`` (:func:`colorlib.data.augment.draw`): the same whatever the
    batch, the worker count or a resume. Call :meth:`set_epoch` at the start of every epoch.
    Indexing (``dataset[i]``) gives one sample ``(L (1, S, S), ab (2, S, S))`` on the CPU.
    """

    def __init__(
        self,
        images: ImageSet | np.ndarray,
        *,
        augment: Augmentation | None = None,
        seed: int = DEFAULT_SEED,
    ) -> None:
        arr = images.images if isinstance(images, ImageSet) else images
        if arr.ndim != 4 or arr.shape[-1] != 3 or arr.dtype != np.uint8:
            raise ValueError(f"images must be uint8 (N, S, S, 3); got {arr.dtype} {arr.shape}")
        with warnings.catch_warnings():  # a memory-mapped cache is read-only; never written
            warnings.filterwarnings("ignore", "The given NumPy array is not writable")
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

    def __getitem__(self, index: int) -> tuple[torch.Tensor, torch.Tensor]:
        L, ab = self.prepare(torch.tensor([index]), self.images[index : index + 1])
        return L[0], ab[0]

    def prepare(
        self, indices: torch.Tensor, photos: torch.Tensor, device: torch.device | str = "cpu"
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """uint8 photos ``(B, S, S, 3)`` (samples ``indices``) -> normalised ``L (B, 1, S, S)``,
        ``ab (B, 2, S, S)`` on ``device``, augmented there when the dataset augments."""
        rgb = photos.to(device, non_blocking=True).permute(0, 3, 1, 2)
        if self.augment is not None:
            params = draw(
                self.augment,
                seed=self.seed,
                epoch=self.epoch,
                indices=indices.tolist(),
                size=rgb.shape[-1],
            )
            rgb = augment(rgb.float().div_(255.0), params, self.augment)
        lab = encode_lab(rgb_to_lab(rgb))  # uint8 (not augmented): table-driven gamma
        return lab[:, :1], lab[:, 1:]

    def batches(
        self,
        batch_size: int | None = None,
        *,
        order: Sequence[int] | None = None,
        batch_indices: Sequence[Sequence[int]] | None = None,
        device: torch.device | str = "cpu",
        num_workers: int = 0,
        ahead: bool | None = None,
    ) -> Iterator[tuple[torch.Tensor, torch.Tensor]]:
        """``(L, ab)`` batches on ``device``: ``batch_size`` samples at a time in ``order``
        (default: dataset order), or exactly the given ``batch_indices`` (one list per batch:
        a rank's share of a data-parallel run).

        ``num_workers`` DataLoader processes gather the uint8 photos (pinned for CUDA); the
        augmentation and the Lab conversion run on ``device`` in the calling process.

        ``ahead`` (default: on CUDA) starts batch k + 1 before batch k is handed out, on CUDA
        on a side stream: its augmentation kernels run beside batch k's training step instead
        of after it (on one H200 the step waited for its data 21–35 % of the time). The batches
        are the same either way; on the CPU there is nothing to overlap, so it is off there.
        """
        device = torch.device(device)
        if (batch_size is None) == (batch_indices is None):
            raise ValueError("pass either batch_size (with an optional order) or batch_indices")
        shape = (
            dict(batch_size=batch_size, sampler=order)
            if batch_indices is None
            else dict(batch_sampler=batch_indices)
        )
        loader = torch.utils.data.DataLoader(
            _Photos(self.images),
            num_workers=num_workers,
            pin_memory=device.type == "cuda",
            **shape,
        )
        if not (device.type == "cuda" if ahead is None else ahead):
            for indices, photos in loader:
                yield self.prepare(indices, photos, device)
            return
        side = torch.cuda.Stream(device) if device.type == "cuda" else None
        pending = None
        for indices, photos in loader:
            started = _start(self.prepare, indices, photos, device, side)
            if pending is not None:
                yield _hand_over(*pending)
            pending = started
        if pending is not None:
            yield _hand_over(*pending)


Batch = tuple[torch.Tensor, torch.Tensor]


def _start(prepare, indices, photos, device: torch.device, side) -> tuple[Batch, Any]:
    """A batch prepared on the ``side`` stream (or at once, without one), and the event that
    marks it done."""
    if side is None:
        return prepare(indices, photos, device), None
    with torch.cuda.stream(side):
        batch = prepare(indices, photos, device)
        done = torch.cuda.Event()
        done.record(side)
    return batch, done


def _hand_over(batch: Batch, done: Any) -> Batch:
    """``batch`` made safe to use on the current stream: that stream waits for its event
    (not for the batches started after it), and the allocator keeps its memory until the
    current stream is done with it."""
    if done is not None:
        stream = torch.cuda.current_stream(batch[0].device)
        stream.wait_event(done)
        for t in batch:
            t.record_stream(stream)
    return batch


class _Photos(torch.utils.data.Dataset):
    """``(index, uint8 photo)`` pairs: what DataLoader workers gather for :meth:`batches`."""

    def __init__(self, images: torch.Tensor) -> None:
        self.images = images

    def __len__(self) -> int:
        return len(self.images)

    def __getitem__(self, index: int) -> tuple[int, torch.Tensor]:
        return index, self.images[index]
