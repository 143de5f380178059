"""Every figure colorlib writes (matplotlib, Agg backend), saved atomically as PNG.

A run's: training curves (:func:`plot_history`), sample grids (:func:`sample_grid`). A study's:
metric bars with confidence intervals, validation curves of every model, the cross-model image
grid and one figure per test image, colourfulness against accuracy.
"""

from __future__ import annotations

import functools
import io
import os
import warnings
from collections.abc import Sequence

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
import PIL.Image  # noqa: E402
import torch  # noqa: E402
from matplotlib.ticker import MaxNLocator  # noqa: E402

from colorlib.atomic import atomic_write_bytes  # noqa: E402
from colorlib.color import join_lab, lab_to_rgb  # noqa: E402
from colorlib.errors import ResultsError  # noqa: E402
from colorlib.losses import LOSS_TERMS  # noqa: E402
from colorlib.metrics import METRICS, per_image_metrics, reported, set_value  # noqa: E402


def literal_text(plot):
    """Every text of the figure ``plot`` draws is shown as written: a photo or model named
    ``a$x$b`` is neither typeset as mathematics nor an error when it does not parse as it."""

    @functools.wraps(plot)
    def drawn(*args, **kwargs):
        with plt.rc_context({"text.parse_math": False}):
            return plot(*args, **kwargs)

    return drawn


def to_rgb_images(L: torch.Tensor, ab: torch.Tensor) -> np.ndarray:
    """Normalised L ``(N,1,H,W)``, ab ``(N,2,H,W)`` -> displayable sRGB ``(N,H,W,3)``, [0, 1]."""
    rgb = lab_to_rgb(join_lab(L.detach().cpu().float(), ab.detach().cpu().float()))
    return rgb.permute(0, 2, 3, 1).numpy()


def png_bytes(image: np.ndarray) -> bytes:
    """An RGB image ``(H, W, 3)`` — uint8, or float in [0, 1] — encoded as PNG."""
    if image.dtype != np.uint8:
        image = (np.clip(image, 0, 1) * 255 + 0.5).astype(np.uint8)
    buf = io.BytesIO()
    PIL.Image.fromarray(image).save(buf, "PNG")
    return buf.getvalue()


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
    image_grid(sample_panels(L, columns), path, title=title, row_labels=row_labels)


def sample_panels(L: torch.Tensor, columns: dict[str, torch.Tensor]) -> dict[str, np.ndarray]:
    """A sample grid's columns as sRGB images ``(N, H, W, 3)`` in [0, 1]: ``"input (L)"`` (the
    gray input), then one per ``{name: ab}``."""
    gray = to_rgb_images(L, torch.zeros(L.shape[0], 2, *L.shape[2:]))
    return {"input (L)": gray} | {name: to_rgb_images(L, ab) for name, ab in columns.items()}


@literal_text
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
    fig, axes = plt.subplots(
        n, m, figsize=(cell * m, cell * n + (0.4 if title else 0)), squeeze=False,
        layout="constrained",
    )  # fmt: skip
    small = 7 if cell < 2 else 9
    for c, (name, imgs) in enumerate(panels.items()):
        for r in range(n):
            ax = axes[r, c]
            ax.imshow(imgs[r], interpolation="nearest")  # the pixels as they are
            ax.set_xticks([])
            ax.set_yticks([])
            if r == 0:
                ax.set_title(name, fontsize=small)
            if c == 0 and row_labels is not None:
                ax.set_ylabel(row_labels[r], fontsize=small - 1)
    if title:
        fig.suptitle(title, fontsize=10)
    save_figure(fig, path)


@literal_text
def plot_history(history: pd.DataFrame, path: str | os.PathLike, title: str) -> None:
    """Per epoch: the weighted generator loss; its unweighted terms (log scale: L1 is ~100x
    smaller than the others); the discriminator loss (GAN configurations only); validation L1."""
    terms = [c for c in LOSS_TERMS if c in history and history[c].notna().any()]
    gan = "loss_D" in history and history["loss_D"].notna().any()
    panels = ["loss_G", "terms", *(["loss_D"] if gan else []), "val_l1"]
    fig, axes = plt.subplots(1, len(panels), figsize=(3.6 * len(panels), 3.4), layout="constrained")
    titles = {
        "loss_G": "generator loss (weighted sum)",
        "terms": "its terms, unweighted (log scale)",
        "loss_D": "discriminator loss",
        "val_l1": "validation L1 (normalised ab)",
    }
    for ax, panel in zip(axes, panels):
        if panel == "terms":
            for k, c in enumerate(terms):
                ax.plot(history["epoch"], history[c], marker="o", color=f"C{k + 1}", label=c)
            ax.set_yscale("log")
            ax.legend(fontsize=8)
        else:
            color = {"loss_G": "C0", "loss_D": "C3", "val_l1": "C2"}[panel]
            ax.plot(history["epoch"], history[panel], marker="o", color=color)
        ax.set_title(titles[panel], fontsize=9)
        ax.set_xlabel("epoch")
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))
        ax.grid(alpha=0.3)
    fig.suptitle(title, fontsize=11)
    save_figure(fig, path)


# --- a study's figures ----------------------------------------------------------------------


@literal_text
def plot_metric_bars(
    summary: pd.DataFrame, path: str | os.PathLike, *, baselines: Sequence[str] = ()
) -> None:
    """Bars with 95 % CI error bars, one panel per reported metric
    (:func:`colorlib.metrics.reported`); ``summary`` has one row per model (a ``model``
    column and ``{metric}``, ``{metric}_ci_low``, ``{metric}_ci_high``); baselines in gray.
    A metric no run computed (FID and KID with ``fid_kid`` off) gets no panel."""
    t = summary.set_index("model")
    metrics = [m for m in reported() if m in t and t[m].notna().any()]
    fig, axes = plt.subplots(
        1, len(metrics), figsize=(4.2 * len(metrics), 4.2), layout="constrained"
    )
    for ax, m in zip(axes, metrics):
        mean = t[m]
        # (a set-level metric's bias-corrected interval need not hold its value: no bar below 0)
        err = np.clip(np.vstack([mean - t[f"{m}_ci_low"], t[f"{m}_ci_high"] - mean]), 0, None)
        colors = ["0.6" if i in baselines else f"C{k % 10}" for k, i in enumerate(t.index)]
        ax.bar(range(len(t)), mean, yerr=err, capsize=3, color=colors)
        ax.set_xticks(range(len(t)), t.index, rotation=60, ha="right", fontsize=8)
        ax.set_title(METRICS[m].label)
        lo = float(np.nanmin(t[f"{m}_ci_low"]))
        hi = float(np.nanmax(t[f"{m}_ci_high"]))
        bottom = lo - 0.15 * (hi - lo)  # from 0 unless a value is negative (KID can be)
        ax.set_ylim(max(0.0, bottom) if lo >= 0 else bottom, hi + 0.1 * (hi - lo) + 1e-9)
        ax.grid(axis="y", alpha=0.3)
    fig.suptitle("Test-set metrics (mean, 95 % bootstrap CI)")
    save_figure(fig, path)


@literal_text
def plot_metric_distributions(per_image: pd.DataFrame, path: str | os.PathLike) -> None:
    """The spread of each reported metric over the test images, one box per configuration
    (seaborn; whiskers 1.5 IQR, every image as a dot). ``per_image`` is long: one row per
    model, seed and image, as the study's per-image metrics."""
    import seaborn as sns

    metrics = [m for m in reported() if m in per_image_metrics()]
    order = list(dict.fromkeys(per_image["model"]))
    # each image as a set of one (ΔCF: the image's absolute colourfulness gap)
    per_image = per_image.assign(**{m: set_value(m, per_image[m]) for m in metrics})
    fig, axes = plt.subplots(
        1, len(metrics), figsize=(4.2 * len(metrics), 4.2), layout="constrained", squeeze=False
    )
    for ax, m in zip(axes[0], metrics):
        with warnings.catch_warnings():  # seaborn 0.13 passes matplotlib 3.11's deprecated vert=
            warnings.filterwarnings("ignore", "vert: bool", category=DeprecationWarning)
            sns.boxplot(
                data=per_image, x="model", y=m, order=order, ax=ax, color="0.85", fliersize=0
            )
        sns.stripplot(
            data=per_image, x="model", y=m, order=order, ax=ax, size=1.5, alpha=0.4, color="C0"
        )
        ax.set_title(METRICS[m].label)
        ax.set_xlabel("")
        ax.set_ylabel("")
        ax.tick_params(axis="x", rotation=60, labelsize=8)
        for label in ax.get_xticklabels():
            label.set_horizontalalignment("right")
        ax.grid(axis="y", alpha=0.3)
    fig.suptitle("Per-image metrics on the test set (every seed's runs)")
    save_figure(fig, path)


@literal_text
def plot_history_comparison(histories: dict[str, pd.DataFrame], path: str | os.PathLike) -> None:
    """Validation L1 and generator loss per epoch, one line per model."""
    fig, axes = plt.subplots(1, 2, figsize=(12, 4), layout="constrained")
    for m, h in histories.items():
        axes[0].plot(h["epoch"], h["val_l1"], marker=".", label=m)
        axes[1].plot(h["epoch"], h["loss_G"], marker=".", label=m)
    axes[0].set_title("validation L1 (normalised ab)")
    axes[1].set_title("generator loss (weighted sum; scales differ by preset)")
    axes[1].set_yscale("log")
    for ax in axes:
        ax.set_xlabel("epoch")
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))
        ax.grid(alpha=0.3)
    axes[0].legend(fontsize=7, ncol=2)
    save_figure(fig, path)


def prediction_columns(
    predictions: dict[str, dict[str, np.ndarray]],
) -> tuple[list[str], dict[str, np.ndarray]]:
    """Saved test predictions ``{model: {names, L, ab_true, ab_pred}}`` -> the test images'
    names and displayable columns: the gray input, the ground truth, then every model."""
    first = next(iter(predictions.values()))
    L = torch.from_numpy(first["L"])
    cols = {
        "input (L)": to_rgb_images(L, torch.zeros(L.shape[0], 2, *L.shape[2:])),
        "ground truth": to_rgb_images(L, torch.from_numpy(first["ab_true"])),
    }
    for m, p in predictions.items():
        if list(p["names"]) != list(first["names"]):
            raise ResultsError(f"{m} was evaluated on different test images; re-evaluate it")
        cols[m] = to_rgb_images(L, torch.from_numpy(p["ab_pred"]))
    return list(first["names"]), cols


@literal_text
def plot_test_image(
    columns: dict[str, np.ndarray], row: int, path: str | os.PathLike, *, title: str = ""
) -> None:
    """Image ``row`` of every column side by side, in one row."""
    fig, axes = plt.subplots(
        1, len(columns), figsize=(2.0 * len(columns), 2.5), layout="constrained"
    )
    for ax, (name, imgs) in zip(axes, columns.items()):
        ax.imshow(imgs[row], interpolation="nearest")
        ax.set_title(name, fontsize=7)
        ax.axis("off")
    fig.suptitle(title, fontsize=9)
    save_figure(fig, path)


@literal_text
def plot_colorfulness_vs_accuracy(
    summary: pd.DataFrame, path: str | os.PathLike, *, gan_models: Sequence[str] = ()
) -> None:
    """Mean colourfulness against mean ΔE00 per model (GAN models as squares), with the
    ground truth's colourfulness as a line."""
    t = summary.set_index("model")
    fig, ax = plt.subplots(figsize=(6.5, 4.5), layout="constrained")
    for m in t.index:
        gan = m in gan_models
        ax.errorbar(
            t.loc[m, "ciede2000"],
            t.loc[m, "colorfulness_pred"],
            yerr=[
                [t.loc[m, "colorfulness_pred"] - t.loc[m, "colorfulness_pred_ci_low"]],
                [t.loc[m, "colorfulness_pred_ci_high"] - t.loc[m, "colorfulness_pred"]],
            ],
            fmt="s" if gan else "o",
            color="C3" if gan else "C0",
            capsize=2,
        )
        ax.annotate(
            m,
            (t.loc[m, "ciede2000"], t.loc[m, "colorfulness_pred"]),
            fontsize=7,
            xytext=(3, 3),
            textcoords="offset points",
        )
    ax.axhline(t["colorfulness_true"].mean(), color="0.4", ls="--", label="ground truth")
    ax.set_xlabel("CIEDE2000 ΔE00 (lower = more accurate)")
    ax.set_ylabel("colourfulness (Hasler & Süsstrunk)")
    ax.set_title("Colourfulness vs accuracy (squares: GAN variants)")
    ax.legend(fontsize=8)
    ax.grid(alpha=0.3)
    save_figure(fig, path)
