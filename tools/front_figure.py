#!/usr/bin/env python
"""The README's picture: photos that ship with scikit-image, colorized by a trained checkpoint
(through :func:`colorlib.colorize.colorize_array`, as ``colorize`` does), beside their gray
input and the original.

    python tools/front_figure.py CHECKPOINT docs/colorized.jpg [PHOTO ...]

PHOTO names are ``skimage.data`` photographs (default: coffee, chelsea, astronaut, rocket);
they are not BSDS500's, so the README shows only photos whose licence allows it.
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import skimage.data
from PIL import Image

from colorlib.checkpoints import load_generator
from colorlib.colorize import colorize_array

PHOTOS = ("coffee", "chelsea", "astronaut", "rocket")
HEIGHT = 224  # each panel's height in the figure
GAP = 6


def _panel(rgb: np.ndarray) -> np.ndarray:
    image = Image.fromarray(rgb)
    width = round(image.width * HEIGHT / image.height)
    return np.asarray(image.resize((width, HEIGHT), Image.LANCZOS))


def figure(checkpoint: str, names: list[str]) -> np.ndarray:
    G, _ = load_generator(checkpoint)
    rows = []
    for name in names:
        rgb = getattr(skimage.data, name)()
        gray = np.repeat(np.asarray(Image.fromarray(rgb).convert("L"))[..., None], 3, axis=2)
        panels = [_panel(p) for p in (gray, colorize_array(G, rgb), rgb)]
        gap = np.full((HEIGHT, GAP, 3), 255, np.uint8)
        rows.append(np.concatenate([panels[0], gap, panels[1], gap, panels[2]], axis=1))
    width = max(r.shape[1] for r in rows)
    rows = [np.pad(r, ((0, GAP), (0, width - r.shape[1]), (0, 0)), constant_values=255)
            for r in rows]  # fmt: skip
    return np.concatenate(rows, axis=0)[:-GAP]


if __name__ == "__main__":
    checkpoint, out, *names = sys.argv[1:]
    image = Image.fromarray(figure(checkpoint, names or list(PHOTOS)))
    image.save(Path(out), quality=90, optimize=True)  # JPEG: the README's picture stays small
    print(out)
