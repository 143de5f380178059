"""Regenerate the committed notebooks (thin: markdown, one parameters cell, calls, plots).

    python tools/make_notebooks.py            # write and execute them
    python tools/make_notebooks.py --check    # exit 1 if the committed ones differ

Each parameters cell is written from the parameters declared in ``colorlib.study.notebooks``.
Outputs are kept only in cells tagged NBVAL_CHECK_OUTPUT, and those are filled by executing
the notebook once with its default (smoke) parameters; ``--check`` compares everything else
(cell types, sources, tags) with the committed files.
"""

from __future__ import annotations

import sys
from pathlib import Path

import nbformat
from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook

from colorlib.study.notebooks import EVALUATE, EXPLORE, SPLIT, TRAIN, Notebook

ROOT = Path(__file__).resolve().parents[1]
CHECK = ["NBVAL_CHECK_OUTPUT"]


def code(src: str, tags: list[str] | None = None):
    cell = new_code_cell(src.strip())
    if tags:
        cell.metadata["tags"] = tags
    return cell


def md(src: str):
    return new_markdown_cell(src.strip())


SPLIT_CELLS = [
    md("""
# Validation split

Every model of a study trains and validates on the same photos. This notebook writes that split
once, as JSON, and refuses to overwrite a different existing split. A dataset with its own
`val/` folder keeps it; otherwise `n_val` training photos are held out with `seed`
(250 for the Kaggle layout, as the original study).
"""),
    code(SPLIT.parameters_source(), ["parameters"]),
    code("""
from colorlib.data import create_validation_split, resolve_data_dir
from colorlib.paths import under_root

split = create_validation_split(resolve_data_dir(data_dir), under_root(split_file),
                                n_val=n_val, seed=seed, train_splits=tuple(train_splits))
"""),
    code(
        """
print(f"train: {len(split['train'])} photos, validation: {len(split['val'])} photos")
print(f"method: {split['method']}")
""",
        CHECK,
    ),
]

TRAIN_CELLS = [
    md("""
# Train and evaluate one configuration

The template of the study: `run_all.py` executes it with papermill once per configuration
(`A`–`F`, the four ablations of `C`, and `GRAY`, the ab = 0 baseline that is only evaluated)
and keeps the executed copy as `results/{ID}/model_{ID}.ipynb`. A custom experiment is the same
notebook with `overrides`: any field of `colorlib.config.ExperimentConfig` (device, seed,
output roots, epochs, loss weights, ...), e.g. `{"lambda_l1": 30.0, "epochs": 20}`. Relative
paths are taken relative to the project folder.

By default it runs the `smoke` profile on the embedded sample photos: seconds, anywhere.
`nproc_per_node` > 1 trains data-parallel over that many processes (`torchrun`; one GPU each on
CUDA); the evaluation runs in this notebook's process.
"""),
    code(TRAIN.parameters_source(), ["parameters"]),
    code("""
from IPython.display import Image, display

from colorlib.networks import PatchDiscriminator, count_parameters, define_G
from colorlib.study.experiment import build_config, outputs, run_experiment

cfg = build_config(model_id, profile, data_dir, overrides)
cfg
"""),
    md("## The configuration's losses and networks"),
    code(
        """
print(f"{cfg.model_id}: " + ", ".join(f"{k} {v}" for k, v in cfg.loss_settings().items()))
print(f"generator {cfg.generator} ({cfg.head} head) at {cfg.image_size}x{cfg.image_size}, "
      f"ngf={cfg.ngf}: {count_parameters(define_G(cfg, pretrained=False)):,} parameters")
print(f"PatchGAN ndf={cfg.ndf}: {count_parameters(PatchDiscriminator(ndf=cfg.ndf)):,} parameters")
""",
        CHECK,
    ),
    md("## Training, then evaluation on the test set"),
    code("""
history, metrics = run_experiment(cfg, resume=resume, nproc_per_node=nproc_per_node)
history
"""),
    code("""
files = outputs(cfg)
for key in ("history", "last_val_samples"):
    if key in files:
        display(Image(filename=str(files[key])))
"""),
    code("""
display(metrics.T)
display(Image(filename=str(files["results"])))
"""),
]

EVAL_CELLS = [
    md("""
# Comprehensive evaluation

Reads only what the runs wrote (`results/{ID}/metrics_*.csv`, training histories, the saved
test predictions, `run.json`): no retraining, no inference. Produces the comparison table with
95 % bootstrap confidence intervals and the overall score, the original study's figures under
`results/Evaluate/`, how stable the ranking is, the original's claims measured, a test of the
claim that GAN variants colour more vividly, and paired Wilcoxon tests of per-image ΔE00
against model A.

A study over several training seeds (`run_all.py --seeds 42,43,44`) is read as one: means over
seeds of the per-seed test means, 95 % intervals from a two-level bootstrap (training seeds,
then test images) and the across-seed standard deviation (`*_seed_sd`). With one seed the
intervals cover test-image sampling only.
"""),
    code(EVALUATE.parameters_source(), ["parameters"]),
    code("""
import pandas as pd
from IPython.display import Image, display

from colorlib.paths import under_root
from colorlib.study.report import write_report
from colorlib.study.results import load_study, metrics_table

files = write_report(under_root(results_dir), under_root(models_dir))
study = load_study(under_root(results_dir), under_root(models_dir))
print(f"{len(study.models)} model(s): {', '.join(study.models)}")
"""),
    md("""
## Metrics

Means with 95 % intervals; the overall score (1 = best) min–max normalises across the trained
configurations, as the original did: GRAY has none, and `*_vs_gray` is each configuration's
difference to it.
"""),
    code("""
metrics_table(study).round(4)
"""),
    md("""
## How stable is the ranking?

For each trained configuration: the share of bootstrap draws in which it ranks first on the
overall score, its mean rank and its 95 % rank interval.
"""),
    code("""
pd.read_csv(files["ranking"]).round(3)
"""),
    md("""
## The original study's claims, measured

Each claim with the effect measured here, its 95 % interval (training seeds and test images)
and a verdict: supported, contradicted, or not resolved at this scale.
"""),
    code("""
pd.read_csv(files["claims"]).round(3)
"""),
    md("## Every configuration against A and GRAY, with seed variance (two-level bootstrap)"),
    code("""
comparisons = pd.read_csv(files["comparisons"])
comparisons[comparisons["metric"].isin(["psnr", "ciede2000"])].round(4)
"""),
    code("""
for key in ("bars", "history", "grid"):
    display(Image(filename=str(files[key])))
"""),
    md("## Inference cost"),
    code("""
pd.read_csv(files["inference"])
"""),
    md("""
## Are GAN variants more colourful?

The original study described the GAN variants as "more colourful" without measuring it. Here:
Hasler–Süsstrunk colourfulness of every prediction, GAN vs non-GAN models paired by test image
(Wilcoxon signed-rank), and each model against the ground truth's colourfulness.
"""),
    code("""
display(pd.read_csv(files["colorfulness_test"]))
display(Image(filename=str(files["colorfulness_plot"])))
"""),
    md("## Paired comparison with model A (per-image ΔE00, Wilcoxon, Holm-adjusted)"),
    code("""
pd.read_csv(files["paired"])
"""),
]


EXPLORE_CELLS = [
    md("""
# Explore a study

Pick a model and move through the test images: the gray input, the ground truth and the
model's colours, with that image's metrics. Below, colour a photo of your own — any size —
with every trained configuration side by side (it starts with scikit-image's *coffee*
photograph; `photo` may name a file instead). Reads only what the runs wrote.
"""),
    code(EXPLORE.parameters_source(), ["parameters"]),
    code("""
from colorlib.paths import under_root
from colorlib.study.explore import photo_colorizer, test_image_browser

test_image_browser(under_root(results_dir), under_root(models_dir))
"""),
    md("## Your own photo"),
    code("""
photo_colorizer(under_root(results_dir), under_root(models_dir), photo)
"""),
]

CELLS = (
    (SPLIT, SPLIT_CELLS),
    (TRAIN, TRAIN_CELLS),
    (EVALUATE, EVAL_CELLS),
    (EXPLORE, EXPLORE_CELLS),
)


def build(notebook: Notebook, cells) -> nbformat.NotebookNode:
    nb = new_notebook(cells=cells)
    stem = notebook.name.removesuffix(".ipynb")
    for i, cell in enumerate(nb.cells):  # stable ids: regenerating changes nothing
        cell.id = f"{stem}-{i}"
    nb.metadata["kernelspec"] = {
        "name": "python3",
        "display_name": "Python 3",
        "language": "python",
    }
    nb.metadata["language_info"] = {"name": "python"}
    return nb


def execute_checked(path: Path) -> None:
    """Run the notebook once and keep only the NBVAL_CHECK_OUTPUT cells' outputs."""
    from nbclient import NotebookClient

    nb = nbformat.read(path, as_version=4)
    NotebookClient(
        nb, timeout=600, kernel_name="python3", resources={"metadata": {"path": str(ROOT)}}
    ).execute()
    nb.metadata.pop("widgets", None)  # progress-bar state, different on every run
    for cell in nb.cells:
        cell.metadata.pop("execution", None)  # timestamps
        if cell.cell_type != "code":
            continue
        if "NBVAL_CHECK_OUTPUT" not in cell.metadata.get("tags", []):
            cell.outputs = []
            cell.execution_count = None
    nbformat.write(nb, path)


def _shape(nb: nbformat.NotebookNode) -> list[tuple[str, str, list[str]]]:
    """What the generator decides: each cell's id, type, source and tags (not outputs)."""
    return [
        (c.get("id"), c.cell_type, c.source, list(c.metadata.get("tags", []))) for c in nb.cells
    ]


def check() -> list[str]:
    """The notebooks whose committed file differs from what the generator writes."""
    return [
        nb.name
        for nb, cells in CELLS
        if _shape(nbformat.read(nb.path, as_version=4)) != _shape(build(nb, cells))
    ]


if __name__ == "__main__":
    if "--check" in sys.argv:
        stale = check()
        for name in stale:
            print(f"notebooks/{name} differs from tools/make_notebooks.py: run it and commit")
        sys.exit(1 if stale else 0)
    for nb, cells in CELLS:
        nbformat.write(build(nb, cells), nb.path)
        if "--no-execute" not in sys.argv:
            execute_checked(nb.path)
        print(nb.path)
