"""The study as one self-contained HTML page (``results/Evaluate/report.html``).

Everything is inside the file: styles, script, data (JSON) and images (PNG data URIs); a
Content-Security-Policy forbids any network request, so the page opens from ``file://``, by
mail or from a zip, offline. It holds the comparison table (sortable by any column), the
study's figures, a test-image viewer (gray input, ground truth and every configuration side by
side, a before/after slider between any configuration and the ground truth, the per-image
metrics of what is shown), each model's training curves, resolved config and provenance.

The viewer's images are the study's saved test predictions (``test_predictions_{ID}.npz``) at
the resolution the models were trained at, so the page stays light.
"""

from __future__ import annotations

import base64
import html
import json
import os
from pathlib import Path
from typing import Any

import numpy as np
from pandas.api.types import is_numeric_dtype

from colorlib.atomic import atomic_write_bytes
from colorlib.metrics import (
    METRICS,
    feature_metrics,
    per_image_metrics,
    reported,
    scored,
    set_value,
)
from colorlib.plots import png_bytes, prediction_columns
from colorlib.runs import read_record
from colorlib.study.results import Study, metrics_table

# the comparison table's columns after the reported metrics (colorlib.metrics.reported)
EXTRA_COLUMNS = {"overall_score": "overall ↑", "val_loss": "val L1", "inference_ms": "ms / image"}


def table_columns() -> tuple[str, ...]:
    return (*reported(), *EXTRA_COLUMNS)


def headings() -> dict[str, str]:
    return {m: METRICS[m].label for m in reported()} | EXTRA_COLUMNS


def png_data_uri(image: np.ndarray | bytes) -> str:
    """A float RGB image in [0, 1] ``(H, W, 3)``, or PNG bytes, as a ``data:`` URI."""
    if isinstance(image, np.ndarray):
        image = png_bytes(image)
    return "data:image/png;base64," + base64.b64encode(image).decode("ascii")


def write_page(
    study: Study,
    figures: dict[str, Path],
    path: str | os.PathLike,
    tables: dict[str, Any] | None = None,
) -> Path:
    """Write the page for ``study``: its comparison table
    (:func:`colorlib.study.results.metrics_table`), ``figures`` (the study's PNGs by title)
    and ``tables`` (further DataFrames by title, shown as they are)."""
    table = metrics_table(study)
    data = {
        "models": study.models,
        # FID and KID only when computed (fid_kid): not a column of dashes
        "columns": [
            c
            for c in table_columns()
            if (c in table.columns or c in study.summary)
            and (c not in feature_metrics() or table[c].notna().any())
        ],
        "headings": headings(),
        "metrics": [m for m in reported() if m in per_image_metrics()],
        "rows": _rows(study, table),
        "viewer": _viewer(study),
    }
    body = [
        _header(study),
        _section("Comparison", '<table id="metrics"></table>' + _table_note(study)),
        *(_section(title, _static_table(frame)) for title, frame in (tables or {}).items()),
        _section("Test images", _VIEWER_HTML),
        _section("Figures", "".join(_figure(t, p) for t, p in figures.items() if p.exists())),
        _section("Training curves", _curves(study)),
        _section("Configurations and provenance", _provenance(study)),
    ]
    page = _TEMPLATE.format(
        style=_STYLE.read_text(encoding="utf-8"),
        body="\n".join(body),
        data=embedded_json(data),
        script=_SCRIPT.read_text(encoding="utf-8"),
    )
    return atomic_write_bytes(path, page.encode("utf-8"))


# Inside <script type="application/json"> the HTML parser still reads "</script", "<!--" and
# "<script" (a comment opened there swallows the page's own script); written as JSON escapes
# these characters cannot occur in the element's text at all, and JSON.parse reads them back.
_JSON_ESCAPES = {c: f"\\u{ord(c):04x}" for c in "<>&\u2028\u2029"}


def embedded_json(data: Any) -> str:
    """``data`` as JSON that no string inside it can end or alter the ``<script>`` holding it
    (``<``, ``>``, ``&``, U+2028 and U+2029 as ``\\u`` escapes: they occur only in strings)."""
    text = json.dumps(data, allow_nan=False)
    return "".join(_JSON_ESCAPES.get(ch, ch) for ch in text)


# --- content --------------------------------------------------------------------------------


def _rows(study: Study, table) -> list[dict[str, Any]]:
    t = study.summary.set_index("model")
    rows = []
    for model in study.models:
        row: dict[str, Any] = {"model": model}
        for c in table_columns():
            if c in table.columns:
                value = table.loc[model, c]
            else:
                value = t[c].get(model) if c in t.columns else None
            row[c] = _number(value)
            if f"{c}_ci_low" in t.columns:
                row[f"{c}_ci"] = [_number(t.loc[model, f"{c}_ci_low"]),
                                  _number(t.loc[model, f"{c}_ci_high"])]  # fmt: skip
        rows.append(row)
    return rows


def _viewer(study: Study) -> dict[str, Any]:
    if not study.predictions:
        return {"images": [], "panels": [], "metrics": {}}
    names, columns = prediction_columns(study.predictions)
    per_image = study.shown_per_image().set_index(["image", "model"])
    shown = [m for m in reported() if m in per_image_metrics()]  # FID, KID: of the set only
    metrics = {
        name: {
            m: {k: _number(set_value(k, per_image.loc[(name, m), k])) for k in shown}
            for m in study.predictions
            if (name, m) in per_image.index
        }
        for name in names
    }
    panels = [
        {"title": title, "images": [png_data_uri(img) for img in images]}
        for title, images in columns.items()
    ]
    return {"images": names, "panels": panels, "metrics": metrics}


def _header(study: Study) -> str:
    n_images = int(study.summary["n_images"].max()) if "n_images" in study.summary else 0
    sizes = sorted({c.image_size for c in study.configs.values()})
    return (
        "<header><h1>colorlib study</h1><p>"
        f"{len(study.models)} model(s) evaluated on {n_images} test image(s)"
        + (f", each trained with {len(study.seeds)} seeds" if study.seeds else "")
        + (f" at {', '.join(f'{s}²' for s in sizes)}" if sizes else "")
        + f"; results from <code>{html.escape(str(study.paths.results))}</code>.</p></header>"
    )


def _table_note(study: Study) -> str:
    seeds = (
        f"over {len(study.seeds)} training seeds ({', '.join(map(str, study.seeds))}): means "
        "of the per-seed test means, with two-level bootstrap intervals (seeds and images)"
        if study.seeds
        else "over the test images of one training run, with bootstrap intervals"
    )
    n_images = int(study.summary["n_images"].max()) if "n_images" in study.summary else 0
    realism = (
        f" FID and KID are of the whole set of {n_images} test photos (the TensorFlow "
        "Inception's features); FID is biased upward below about 2,000 photos, so read KID "
        "on small sets."
        if "fid" in study.summary and study.summary["fid"].notna().any()
        else ""
    )
    return (
        f"<p class=note>Means {seeds} (small print, 95 %). Click a column heading to sort by "
        f"it. The overall score min-max normalises {html.escape(_names(scored()))} across the "
        f"trained configurations (1 = best), as the original did; GRAY has none.{realism}</p>"
    )


def _names(metrics: tuple[str, ...]) -> str:
    """``("psnr", "ssim", "lpips")`` -> "PSNR, SSIM and LPIPS" (their labels, arrows dropped)."""
    names = [METRICS[m].label.split(" (")[0].rstrip(" ↑↓") for m in metrics]
    return ", ".join(names[:-1]) + " and " + names[-1] if len(names) > 1 else "".join(names)


def _static_table(frame) -> str:
    """A DataFrame as a plain HTML table: numbers to 4 significant digits, right-aligned;
    text left-aligned; missing values as a dash."""

    def cell(value: Any, tag: str = "td") -> str:
        if isinstance(value, int | float | np.integer | np.floating) and not isinstance(
            value, bool
        ):
            number = _number(value)
            return f"<{tag}>{'–' if number is None else f'{number:.4g}'}</{tag}>"
        return f"<{tag} class=text>{html.escape(str(value))}</{tag}>"

    head = "".join(
        f"<th class={'num' if is_numeric_dtype(frame[c]) else 'text'}>{html.escape(str(c))}</th>"
        for c in frame.columns
    )
    body = "".join(
        "<tr>" + "".join(cell(v) for v in row) + "</tr>" for row in frame.itertuples(index=False)
    )
    return f"<table class=static><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


def _figure(title: str, path: Path) -> str:
    return (
        f"<figure><img alt='{html.escape(title)}' src='{png_data_uri(path.read_bytes())}'>"
        f"<figcaption>{html.escape(title)}</figcaption></figure>"
    )


def _curves(study: Study) -> str:
    parts = []
    for model in study.models:
        png = study.run(model).history_png
        if png.exists():
            parts.append(f"<details><summary>{html.escape(model)}</summary>")
            parts.append(f"{_figure(f'{model}: training history', png)}</details>")
    return "".join(parts) or "<p class=note>No training histories (baselines only).</p>"


def _provenance(study: Study) -> str:
    parts = []
    for model in study.models:
        record = read_record(study.run(model)) or {}
        shown = {k: record[k] for k in ("config", "git_revision", "packages", "device", "seed",
                                        "dataset", "pretrained_weights", "evaluation",
                                        "train_wall_time_s") if k in record}  # fmt: skip
        text = html.escape(json.dumps(shown, indent=2, default=str))
        parts.append(f"<details><summary>{html.escape(model)}</summary><pre>{text}</pre></details>")
    return "".join(parts)


def _section(title: str, content: str) -> str:
    anchor = title.split()[0].lower()
    return f"<section id='{anchor}'><h2>{html.escape(title)}</h2>{content}</section>"


def _number(value: Any) -> float | None:
    """JSON-safe: NaN / inf / missing become null (shown as a dash)."""
    try:
        value = float(value)
    except (TypeError, ValueError):
        return None
    return value if np.isfinite(value) else None


# --- the page's fixed parts -----------------------------------------------------------------

_VIEWER_HTML = """
<div class=controls>
  <label>test image <select id=image></select></label>
  <label>compare <select id=compare></select> with the ground truth</label>
</div>
<div class=viewer>
  <div id=panels class=panels></div>
  <div class=slider-box>
    <div id=split class=split>
      <img id=split-truth alt="ground truth">
      <img id=split-model alt="model">
    </div>
    <input id=split-pos type=range min=0 max=100 value=50 aria-label="before/after split">
    <p class=note>left of the line: the configuration; right: the ground truth</p>
  </div>
</div>
<table id=image-metrics></table>
"""

# styles and script ship beside this module (package data), inlined into every page
_ASSETS = Path(__file__).with_name("page")
_STYLE = _ASSETS.with_suffix(".css")
_SCRIPT = _ASSETS.with_suffix(".js")

_TEMPLATE = """<!doctype html>
<html lang="en"><head><meta charset="utf-8">
<meta http-equiv="Content-Security-Policy"
 content="default-src 'none'; img-src data:; style-src 'unsafe-inline'; script-src 'unsafe-inline'">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>colorlib study</title><style>{style}</style></head>
<body>
{body}
<script id="data" type="application/json">{data}</script>
<script>{script}</script>
</body></html>
"""
