"""What ``notebooks/explore.ipynb`` shows: a study's results as ipywidgets.

* :func:`test_image_browser` — a model picker and a slider over the saved test images: the
  gray input, the ground truth and the chosen model's colours, with that image's metrics;
* :func:`photo_colorizer` — an upload button: the photo (any size) colorized by every trained
  configuration side by side, through :func:`colorlib.colorize.colorize_array`.

Every function takes ``(results_dir, models_dir)`` in that order.

Both read only what runs wrote (saved predictions, per-image metrics, checkpoints).
"""

from __future__ import annotations

import html
import os
import tempfile
from pathlib import Path

import numpy as np
import torch
from PIL import Image

from colorlib.checkpoints import load_generator
from colorlib.colorize import colorize_array
from colorlib.data import load_rgb
from colorlib.errors import MissingFileError
from colorlib.metrics import reported
from colorlib.plots import png_bytes, prediction_columns
from colorlib.study.results import load_study


def _panel(title: str, image: np.ndarray, width: int = 192):
    import ipywidgets as w

    return w.VBox([w.Image(value=png_bytes(image), format="png", width=width), w.Label(title)])


def test_image_browser(results_dir: str | os.PathLike, models_dir: str | os.PathLike):
    """Model picker + slider over the test images (a ``VBox``); the study is read once."""
    import ipywidgets as w

    study = load_study(results_dir, models_dir)
    if not study.predictions:
        raise MissingFileError(f"no saved test predictions under {results_dir}; run the study")
    names, columns = prediction_columns(study.predictions)
    models = list(columns)[2:]  # after "input (L)" and "ground truth"
    per_image = study.shown_per_image().set_index(["image", "model"])
    picker = w.Dropdown(options=models, value=models[0], description="model")
    slider = w.IntSlider(value=0, min=0, max=len(names) - 1, description="test image")
    shown = w.HBox()
    metrics = w.HTML()

    def update(*_):
        i, m = slider.value, picker.value
        shown.children = [
            _panel("input (L)", columns["input (L)"][i]),
            _panel("ground truth", columns["ground truth"][i]),
            _panel(m, columns[m][i]),
        ]
        row = per_image.loc[(names[i], m)] if (names[i], m) in per_image.index else None
        listed = [k for k in reported() if row is not None and k in row]  # FID, KID: of the set
        values = ", ".join(f"{k} {row[k]:.4g}" for k in listed)
        # names are text: a photo named <img onerror=...> is shown, never run (HTML widgets
        # set innerHTML in JupyterLab's page, where a script could run code as the user)
        metrics.value = f"<b>{html.escape(names[i])}</b> — {html.escape(m)}: {html.escape(values)}"

    picker.observe(update, "value")
    slider.observe(update, "value")
    update()
    return w.VBox([w.HBox([picker, slider]), shown, metrics])


def trained_generators(
    results_dir: str | os.PathLike, models_dir: str | os.PathLike
) -> dict[str, torch.nn.Module]:
    """Each trained configuration's generator from its ``best_model.pt`` (of a several-seed
    study: the first seed's run), in study order, loaded once."""
    study = load_study(results_dir, models_dir)
    best = {m: study.run(m).best for m in study.models}
    return {m: load_generator(path)[0] for m, path in best.items() if path.exists()}


def colorize_with_every_model(
    rgb: np.ndarray, generators: dict[str, torch.nn.Module]
) -> dict[str, np.ndarray]:
    """uint8 ``(H, W, 3)`` -> ``{model: colorized uint8 (H, W, 3)}``, one per generator
    (:func:`trained_generators`)."""
    return {model: colorize_array(generator, rgb) for model, generator in generators.items()}


def photo_colorizer(results_dir: str | os.PathLike, models_dir: str | os.PathLike, photo: str = ""):
    """An upload button; each uploaded photo is shown colorized by every trained configuration
    side by side (a ``VBox``). It starts with ``photo`` (a path), or with scikit-image's
    ``coffee`` photograph (600x400, the photo the sample's test tiles come from) when ``""``.
    The study and its checkpoints are read once, when the widget is made."""
    import ipywidgets as w

    generators = trained_generators(results_dir, models_dir)
    upload = w.FileUpload(accept="image/*", multiple=False, description="your photo")
    shown = w.Output()

    def show(rgb: np.ndarray, name: str) -> None:
        results = colorize_with_every_model(rgb, generators)
        gray = np.repeat(np.asarray(Image.fromarray(rgb).convert("L"))[..., None], 3, axis=-1)
        panels = [_panel(f"{name} (as gray)", gray, 256)]
        panels += [_panel(model, image, 256) for model, image in results.items()]
        shown.clear_output()
        with shown:
            from IPython.display import display

            display(w.HBox(panels, layout=w.Layout(flex_flow="row wrap")))

    def uploaded(change) -> None:
        for item in change["new"]:
            with tempfile.NamedTemporaryFile(suffix=Path(item["name"]).suffix) as tmp:
                tmp.write(bytes(item["content"]))
                tmp.flush()
                show(load_rgb(tmp.name, require_color=False), item["name"])

    upload.observe(uploaded, "value")
    if photo:
        show(load_rgb(photo, require_color=False), Path(photo).name)
    else:
        import skimage.data

        show(skimage.data.coffee(), "coffee (scikit-image)")
    return w.VBox([upload, shown])
