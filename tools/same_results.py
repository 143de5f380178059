"""Before/after check of a restructure: train and evaluate configurations into a root, then
compare two roots. Checkpoints must be ``torch.equal`` tensor for tensor, CSVs equal but for
wall times.

    python tools/same_results.py run ROOT [MODEL ...]    # the smoke profile on the sample
    python tools/same_results.py compare BEFORE AFTER

Run it with the code before the change (a ``git worktree`` on PYTHONPATH) and after it.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pandas as pd
import torch

MODELS = ("A", "B", "C", "D", "F", "CLS", "A_VGG", "B_VGG", "CLS_VGG", "GRAY")
WALL = ("seconds", "inference_ms", "train_wall_time_s")
ROOTS = ("models_dir", "results_dir", "cache_dir")  # where each side wrote
NEW_HOW = ("determinism", "compile")  # how-fields added since (issue 32): no effect on CPU


def run(root: Path, models: list[str]) -> None:
    common = ["--profile", "smoke", "--data", "sample", "--set", f"models_dir={root}/models",
              "--set", f"results_dir={root}/results", "--set", f"cache_dir={root}/cache"]
    for model in models:
        extra = ["--set", "gan_warmup_epochs=1"] if model == "B_VGG" else []
        if model != "GRAY":
            subprocess.run([sys.executable, "-m", "colorlib", "train", "--quiet", "--model",
                            model, *common, *extra], check=True)
        subprocess.run([sys.executable, "-m", "colorlib", "evaluate", "--model", model,
                        *common, *extra], check=True)


def _equal(a, b, where: str) -> list[str]:
    if isinstance(a, torch.Tensor):
        ok = isinstance(b, torch.Tensor) and a.shape == b.shape and torch.equal(a, b)
        return [] if ok else [where]
    if isinstance(a, dict):
        if not isinstance(b, dict) or (set(a) ^ set(b)) - set(NEW_HOW):
            return [f"{where}: keys {sorted(set(a) ^ set(b or {}))}"]
        return [d for k in a if k not in (*WALL, *ROOTS, *NEW_HOW, "elapsed")
                for d in _equal(a[k], b[k], f"{where}.{k}")]
    if isinstance(a, (list, tuple)):
        if len(a) != len(b):
            return [f"{where}: length"]
        return [d for i, (x, y) in enumerate(zip(a, b)) for d in _equal(x, y, f"{where}[{i}]")]
    if hasattr(a, "what") and hasattr(b, "what"):  # configs: the roots may differ
        return [] if a.what() == b.what() else [f"{where}: config"]
    return [] if a == b or (a != a and b != b) else [f"{where}: {a!r} != {b!r}"]


def compare(before: Path, after: Path) -> int:
    diffs: list[str] = []
    files = sorted(p.relative_to(before) for p in before.rglob("*")
                   if p.suffix in (".pt", ".csv") and "cache" not in p.parts)
    for rel in files:
        a, b = before / rel, after / rel
        if not b.exists():
            diffs.append(f"{rel}: missing after")
        elif rel.suffix == ".pt":
            x = torch.load(a, map_location="cpu", weights_only=False)
            y = torch.load(b, map_location="cpu", weights_only=False)
            diffs += [f"{rel}: {d}" for d in _equal(x, y, "")]
        else:
            x, y = pd.read_csv(a), pd.read_csv(b)
            x = x.drop(columns=[c for c in x if c.startswith(WALL)])
            y = y.drop(columns=[c for c in y if c.startswith(WALL)])
            if not x.equals(y):
                diffs.append(f"{rel}: differs")
    print(f"{len(files)} files compared, {len(diffs)} differ")
    for d in diffs:
        print("  " + d)
    return 1 if diffs else 0


if __name__ == "__main__":
    if sys.argv[1] == "run":
        run(Path(sys.argv[2]).resolve(), sys.argv[3:] or list(MODELS))
    else:
        sys.exit(compare(Path(sys.argv[2]), Path(sys.argv[3])))
