"""The batched, on-device augmentation against colorlib's earlier per-sample torchvision
augmentation (written out below as the reference), on real photos."""

from __future__ import annotations

import dataclasses
import os
from pathlib import Path

import numpy as np
import pytest
import torch
from scipy import stats

from colorlib.color import encode_lab, rgb_to_lab
from colorlib.data import (
    NO_AUGMENTATION,
    Augmentation,
    ColorizationDataset,
    find_images,
    load_images,
    sample_seed,
)
from colorlib.data.augment import Parameters, augment, draw

STUDY = Augmentation()


def per_sample_reference(rgb: torch.Tensor, p: Parameters, i: int, aug: Augmentation):
    """One uint8 image ``(3, S, S)`` through torchvision's per-sample functions with sample
    ``i``'s parameters: colorlib's augmentation before it was batched."""
    import torchvision.transforms.v2.functional as TF

    if aug.hflip and p.flip[i]:
        rgb = TF.horizontal_flip(rgb)
    if aug.rotation_deg or aug.translate:
        rgb = TF.affine(
            rgb,
            angle=float(p.angle[i]),
            translate=[int(p.shift[i, 0]), int(p.shift[i, 1])],
            scale=1.0,
            shear=[0.0, 0.0],
            interpolation=TF.InterpolationMode.BILINEAR,
            fill=0,
        )
    if aug.brightness:
        rgb = TF.adjust_brightness(rgb, float(p.brightness[i]))
    if aug.contrast:
        rgb = TF.adjust_contrast(rgb, float(p.contrast[i]))
    if aug.saturation:
        rgb = TF.adjust_saturation(rgb, float(p.saturation[i]))
    if aug.hue:
        rgb = TF.adjust_hue(rgb, float(p.hue[i]))
    return rgb


def both(photos_u8: np.ndarray, aug: Augmentation, epoch: int = 0):
    """(batched, reference) augmented float RGB ``(N, 3, S, S)`` of the same parameters."""
    x = torch.from_numpy(photos_u8).permute(0, 3, 1, 2).contiguous()
    p = draw(aug, seed=42, epoch=epoch, indices=range(len(x)), size=x.shape[-1])
    batched = augment(x.float() / 255, p, aug)
    reference = torch.stack([per_sample_reference(x[i], p, i, aug) for i in range(len(x))])
    return batched, reference.float() / 255


@pytest.fixture(scope="module")
def bsds_train(photos: Path) -> np.ndarray:
    return load_images(find_images(photos / "bsds500", "train"), 64).images


def test_parameter_distributions_are_the_studys():
    n = 20_000
    p = draw(STUDY, seed=7, epoch=3, indices=range(n), size=64)
    flips = p.flip.double().mean().item()
    assert abs(flips - 0.5) < 4 * (0.25 / n) ** 0.5
    uniform = {  # parameter -> (low, high) of its uniform distribution
        "angle": (-15.0, 15.0),
        "brightness": (0.8, 1.2),
        "contrast": (0.8, 1.2),
        "saturation": (0.8, 1.2),
        "hue": (-0.05, 0.05),
    }
    for name, (low, high) in uniform.items():
        values = getattr(p, name).numpy()
        assert low <= values.min() and values.max() <= high, name
        assert stats.kstest(values, stats.uniform(low, high - low).cdf).pvalue > 1e-3, name
    # shifts: whole pixels, round(uniform(-6.4, 6.4)) per axis at 64², as torchvision rounds
    shift = p.shift.numpy()
    assert np.array_equal(shift, np.round(shift)) and np.abs(shift).max() == 6
    expected = np.diff(np.clip(np.arange(-6.5, 7.5), -6.4, 6.4)) / 12.8  # P(round(U) = k)
    for axis in (0, 1):
        counts = np.bincount((shift[:, axis] + 6).astype(int), minlength=13)
        assert stats.chisquare(counts, expected * n).pvalue > 1e-3
    # independent of the batch: sample 123 draws the same numbers alone
    alone = draw(STUDY, seed=7, epoch=3, indices=[123], size=64)
    assert float(alone.angle[0]) == float(p.angle[123])


def test_switches_turn_steps_off():
    p = draw(NO_AUGMENTATION, seed=1, epoch=0, indices=range(50), size=64)
    assert not p.flip.any() and not p.angle.any() and not p.shift.any()
    assert (p.brightness == 1).all() and (p.hue == 0).all()
    x = torch.rand(3, 3, 16, 16)
    torch.testing.assert_close(augment(x, p, NO_AUGMENTATION)[:3], x[:3])


@pytest.mark.slow  # a reference check: the full suite, not test-fast
@pytest.mark.parametrize(
    "name, aug, mean_tol, inner_max_tol",
    [
        # flip and shift move whole pixels: equal to float rounding
        ("flip+shift", dataclasses.replace(NO_AUGMENTATION, hflip=True, translate=0.1), 1e-3, 0.01),
        # rotation: the same bilinear sampling; torchvision rounds to uint8 (max 0.5 level)
        ("rotation", dataclasses.replace(NO_AUGMENTATION, rotation_deg=15.0), 1.5, 0.51),
        # jitter: torchvision truncates to uint8 after each of the four steps
        (
            "jitter",
            dataclasses.replace(STUDY, hflip=False, rotation_deg=0.0, translate=0.0),
            2.0,
            6,
        ),
    ],
)
def test_same_parameters_give_the_reference_pixels(bsds_train, name, aug, mean_tol, inner_max_tol):
    batched, reference = both(bsds_train[:48], aug)
    diff = (batched - reference).abs() * 255  # in 8-bit levels
    # the border rows/columns differ in how black fill is interpolated; inside they agree
    inner = diff[..., 8:-8, 8:-8]
    assert diff.mean() < mean_tol, (name, diff.mean())
    assert inner.max() < inner_max_tol, (name, inner.max())


@pytest.mark.slow  # a reference check: the full suite, not test-fast
def test_epoch_statistics_match_the_reference(bsds_train):
    """ab mean and standard deviation over three epochs of BSDS500's 200 training photos."""
    got, want = [], []
    for epoch in range(3):
        batched, reference = both(bsds_train, STUDY, epoch)
        got.append(encode_lab(rgb_to_lab(batched))[:, 1:])
        want.append(encode_lab(rgb_to_lab(reference))[:, 1:])
    got, want = torch.cat(got), torch.cat(want)
    for c in (0, 1):
        g, w = got[:, c], want[:, c]
        assert abs(g.mean() - w.mean()) < 2e-3, (c, g.mean(), w.mean())  # of a/128
        assert abs(g.std() / w.std() - 1) < 0.01, (c, g.std(), w.std())
    write_side_by_side(bsds_train[:6])


def write_side_by_side(photos_u8: np.ndarray) -> None:
    """The same photos and parameters, per-sample torchvision and batched: written to
    ``$COLORLIB_FIGURE_DIR/augmentation.png`` when that variable is set (docs/)."""
    folder = os.environ.get("COLORLIB_FIGURE_DIR")
    if not folder:
        return
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    batched, reference = both(photos_u8, STUDY, epoch=1)
    fig, axes = plt.subplots(3, len(photos_u8), figsize=(2 * len(photos_u8), 6.4))
    rows = {
        "photo": torch.from_numpy(photos_u8).permute(0, 3, 1, 2) / 255,
        "per sample (torchvision)": reference,
        "batched (kornia)": batched,
    }
    for r, (label, images) in enumerate(rows.items()):
        for c in range(len(photos_u8)):
            axes[r, c].imshow(images[c].permute(1, 2, 0).numpy())
            axes[r, c].set_xticks([])
            axes[r, c].set_yticks([])
        axes[r, 0].set_ylabel(label)
    fig.suptitle("The same augmentation parameters, before and after batching")
    fig.tight_layout()
    fig.savefig(Path(folder) / "augmentation.png", dpi=110)
    plt.close(fig)


def test_batches_equal_single_samples_and_follow_the_epoch(bsds_train):
    ds = ColorizationDataset(bsds_train[:10], augment=STUDY, seed=42)
    ds.set_epoch(2)
    order = [7, 2, 9, 0, 4, 1, 3, 8, 6, 5]
    L, ab = next(ds.batches(10, order=order))
    for row, i in enumerate(order):
        Li, abi = ds[i]
        torch.testing.assert_close(L[row], Li, atol=1e-5, rtol=0)
        torch.testing.assert_close(ab[row], abi, atol=1e-5, rtol=0)
    two_workers = torch.cat([b for _, b in ds.batches(4, order=order, num_workers=2)])
    torch.testing.assert_close(two_workers, ab, atol=1e-5, rtol=0)
    ds.set_epoch(3)
    assert not torch.allclose(next(ds.batches(10, order=order))[1], ab)
    assert sample_seed(42, 2, 7) != sample_seed(42, 3, 7)


@pytest.mark.parametrize(
    "device",
    ["cpu", pytest.param("cuda", marks=pytest.mark.skipif(
        not torch.cuda.is_available(), reason="the side stream needs CUDA"))],
)  # fmt: skip
def test_batches_one_ahead_are_the_same_batches(bsds_train, device):
    """Preparing batch k + 1 before batch k is handed out (on CUDA: on a side stream) feeds
    the same batches, bit for bit, in the same order, the last (short) batch included."""
    ds = ColorizationDataset(bsds_train[:10], augment=STUDY, seed=42)
    ds.set_epoch(1)
    order = [7, 2, 9, 0, 4, 1, 3, 8, 6, 5]
    plain = list(ds.batches(4, order=order, device=device, ahead=False))
    ahead = []
    for L, ab in ds.batches(4, order=order, device=device, ahead=True):
        ahead.append((L.clone(), ab.clone()))  # used on the current stream, as training does
    assert [b[0].shape[0] for b in ahead] == [4, 4, 2]
    for (L0, ab0), (L1, ab1) in zip(plain, ahead, strict=True):
        assert torch.equal(L0, L1) and torch.equal(ab0, ab1)
