"""Regenerate the committed notebooks (thin: markdown, one parameters cell, calls, plots).

    python tools/make_notebooks.py

Outputs are kept only in cells tagged NBVAL_CHECK_OUTPUT, and those are filled by executing
the notebook once with its default (smoke) parameters.
"""

from __future__ import annotations

import sys
from pathlib import Path

import nbformat
from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook

ROOT = Path(__file__).resolve().parents[1]
CHECK = ["NBVAL_CHECK_OUTPUT"]


def code(src: str, tags: list[str] | None = None):
    cell = new_code_cell(src.strip())
    if tags:
        cell.metadata["tags"] = tags
    return cell


def md(src: str):
    return new_markdown_cell(src.strip())


SPLIT = [
    md("""
# Validation split

Every model of a study trains and validates on the same photos. This notebook writes that split
once, as JSON, and refuses to overwrite a different existing split. A dataset with its own
`val/` folder keeps it; otherwise `n_val` training photos are held out with `seed`
(250 for the Kaggle layout, as the original study).
"""),
    code(
        """
data_dir = "sample"
split_file = "results/smoke/validation_split.json"
n_val = 250
seed = 42
""",
        ["parameters"],
    ),
    code("""
from colorlib.datasets import create_validation_split, resolve_data_dir
from colorlib.paths import under_root

split = create_validation_split(resolve_data_dir(data_dir), under_root(split_file),
                                n_val=n_val, seed=seed)
"""),
    code(
        """
print(f"train: {len(split['train'])} photos, validation: {len(split['val'])} photos")
print(f"method: {split['method']}")
""",
        CHECK,
    ),
]

TRAIN = [
    md("""
# Train and evaluate one configuration

The template of the study: `run_all.py` executes it with papermill once per configuration
(`A`–`F`, the four ablations of `C`, and `GRAY`, the ab = 0 baseline that is only evaluated)
and keeps the executed copy as `results/{ID}/model_{ID}.ipynb`. A custom experiment is the same
notebook with `overrides` (any field of `colorlib.config.ExperimentConfig`).

By default it runs the `smoke` profile on the embedded sample photos: seconds, anywhere.
"""),
    code(
        """
model_id = "A"
profile = "smoke"
data_dir = "sample"
overrides = {}
device = "auto"
seed = 42
resume = True
models_dir = "models/smoke"
results_dir = "results/smoke"
cache_dir = "data/cache"
split_file = ""
""",
        ["parameters"],
    ),
    code("""
from IPython.display import Image, display

from colorlib.config import PRESETS
from colorlib.experiment import build_config, outputs, run_experiment
from colorlib.networks import PatchDiscriminator, UnetGenerator, count_parameters

cfg = build_config(model_id, profile, data_dir=data_dir, overrides=overrides, device=device,
                   seed=seed, models_dir=models_dir, results_dir=results_dir,
                   cache_dir=cache_dir, split_file=split_file)
cfg
"""),
    md("## The configuration's losses and networks"),
    code(
        """
print(f"{cfg.model_id}: L1 {cfg.lambda_l1 if cfg.use_l1 else '-'}, "
      f"perceptual {cfg.lambda_perceptual if cfg.use_perceptual else '-'}, "
      f"GAN {'yes' if cfg.use_gan else 'no'}")
print(f"U-Net at {cfg.image_size}x{cfg.image_size}, ngf={cfg.ngf}: "
      f"{count_parameters(UnetGenerator(cfg.image_size, cfg.ngf)):,} parameters")
print(f"PatchGAN ndf={cfg.ndf}: {count_parameters(PatchDiscriminator(ndf=cfg.ndf)):,} parameters")
""",
        CHECK,
    ),
    md("## Training, then evaluation on the test set"),
    code("""
history, metrics = run_experiment(cfg, resume=resume)
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

EVAL = [
    md("""
# Comprehensive evaluation

Reads only what the runs wrote (`results/{ID}/metrics_*.csv`, training histories, the saved
test predictions, `run.json`): no retraining, no inference. Produces the comparison table with
95 % bootstrap confidence intervals and the overall score, the original study's figures under
`results/Evaluate/`, a test of the claim that GAN variants colour more vividly, and paired
Wilcoxon tests of per-image ΔE00 against model A.
"""),
    code(
        """
results_dir = "results/smoke"
models_dir = "models/smoke"
""",
        ["parameters"],
    ),
    code("""
import pandas as pd
from IPython.display import Image, display

from colorlib.comparison import load_study, metrics_table, write_report
from colorlib.paths import under_root

files = write_report(under_root(results_dir), under_root(models_dir))
study = load_study(under_root(results_dir))
print(f"{len(study.models)} model(s): {', '.join(study.models)}")
"""),
    md("## Metrics (mean and 95 % CI over test images; overall score 1 = best)"),
    code("""
metrics_table(study).round(4)
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


def build(name: str, cells) -> Path:
    nb = new_notebook(cells=cells)
    nb.metadata["kernelspec"] = {
        "name": "python3",
        "display_name": "Python 3",
        "language": "python",
    }
    nb.metadata["language_info"] = {"name": "python"}
    path = ROOT / "notebooks" / name
    nbformat.write(nb, path)
    return path


def execute_checked(path: Path) -> None:
    """Run the notebook once and keep only the NBVAL_CHECK_OUTPUT cells' outputs."""
    from nbclient import NotebookClient

    nb = nbformat.read(path, as_version=4)
    NotebookClient(
        nb, timeout=600, kernel_name="python3", resources={"metadata": {"path": str(ROOT)}}
    ).execute()
    for cell in nb.cells:
        if cell.cell_type != "code":
            continue
        if "NBVAL_CHECK_OUTPUT" not in cell.metadata.get("tags", []):
            cell.outputs = []
            cell.execution_count = None
    nbformat.write(nb, path)


if __name__ == "__main__":
    built = [
        build("create_validation_split.ipynb", SPLIT),
        build("train_model.ipynb", TRAIN),
        build("comprehensive_model_evaluation.ipynb", EVAL),
    ]
    if "--no-execute" not in sys.argv:
        for p in built:
            execute_checked(p)
    print("\n".join(str(p) for p in built))
