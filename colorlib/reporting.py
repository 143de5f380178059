"""Figures and tables a run writes: training curves, sample grids (matplotlib, Agg backend)."""

from __future__ import annotations

import io
import os
from collections.abc import Sequence

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
import torch  # noqa: E402

from colorlib.color import join_lab, lab_to_rgb  # noqa: E402
from colorlib.io import atomic_write_bytes  # noqa: E402


def to_rgb_images(L: torch.Tensor, ab: torch.Tensor) -> np.ndarray:
    """Normalised L ``(N,1,H,W)``, ab ``(N,2,H,W)`` -> displayable sRGB ``(N,H,W,3)``, [0, 1]."""
    rgb = lab_to_rgb(join_lab(L.detach().cpu().float(), ab.detach().cpu().float()))
    return rgb.permute(0, 2, 3, 1).numpy()


def save_figure(fig, path: str | os.PathLike, dpi: int = 100) -> None:
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=dpi, bbox_inches="tight")
    plt.close(fig)
    atomic_write_bytes(path, buf.getvalue())


def sample_grid(
    L: torch.Tensor,
    columns: dict[str, torch.Tensor],
    path: str | os.PathLike,
    *,
    title: str = "",
    row_labels: Sequence[str] | None = None,
) -> None:
    """Rows = images; columns = the gray input, then one column per ``{name: ab}``."""
    gray = to_rgb_images(L, torch.zeros(L.shape[0], 2, *L.shape[2:]))
    panels = {"input (L)": gray} | {name: to_rgb_images(L, ab) for name, ab in columns.items()}
    image_grid(panels, path, title=title, row_labels=row_labels)


def image_grid(
    panels: dict[str, np.ndarray],
    path: str | os.PathLike,
    *,
    title: str = "",
    row_labels: Sequence[str] | None = None,
    cell: float = 2.2,
) -> None:
    """One column per ``{title: images (N, H, W, 3)}``, one row per image, saved as PNG."""
    n, m = len(next(iter(panels.values()))), len(panels)
    fig, axes = plt.subplots(n, m, figsize=(cell * m, cell * n), squeeze=False)
    small = 7 if cell < 2 else 9
    for c, (name, imgs) in enumerate(panels.items()):
        for r in range(n):
            ax = axes[r, c]
            ax.imshow(imgs[r])
            ax.set_xticks([])
            ax.set_yticks([])
            if r == 0:
                ax.set_title(name, fontsize=small)
            if c == 0 and row_labels is not None:
                ax.set_ylabel(row_labels[r], fontsize=small - 1)
    if title:
        fig.suptitle(title, fontsize=10)
    save_figure(fig, path)


def plot_history(history: pd.DataFrame, path: str | os.PathLike, title: str) -> None:
    """Generator loss terms, discriminator loss and validation L1 per epoch."""
    fig, axes = plt.subplots(1, 3, figsize=(13, 3.5))
    terms = [
        c
        for c in ("loss_G", "l1", "perceptual", "adv")
        if c in history and history[c].notna().any()
    ]
    for c in terms:
        axes[0].plot(history["epoch"], history[c], marker="o", label=c)
    axes[0].set_title("generator loss terms (unweighted; loss_G weighted)")
    if "loss_D" in history and history["loss_D"].notna().any():
        axes[1].plot(history["epoch"], history["loss_D"], marker="o", color="C3")
    axes[1].set_title("discriminator loss")
    axes[2].plot(history["epoch"], history["val_l1"], marker="o", color="C2")
    axes[2].set_title("validation L1 (normalised ab)")
    for ax in axes:
        ax.set_xlabel("epoch")
        ax.grid(alpha=0.3)
    if terms:
        axes[0].legend(fontsize=8)
    fig.suptitle(title)
    save_figure(fig, path)


def write_csv(df: pd.DataFrame, path: str | os.PathLike, **kwargs) -> None:
    atomic_write_bytes(path, df.to_csv(**kwargs).encode())
