#!/usr/bin/env python
"""The blocking cost of an epoch's end at the ``full`` profile on the CPU: validation plus
everything the epoch writes (``Trainer._validate`` + ``Trainer._end_epoch``), per epoch,
averaged over a run of model B (G, D and both Adam states: the largest training state) at
256², ngf 64, on 4 training and 2 validation photos, 10 epochs, ``checkpoint_every`` 10 as
the ``full`` profile has it.

    python benchmarks/epoch_files.py [--before SRC] [--rounds 2] [--epochs 10]

``--before SRC`` also measures another checkout of colorlib (e.g. a ``git worktree`` of the
commit before a change) in the same interleaved run, each run in its own process.
Prints a markdown table; the numbers in docs/performance.md come from it.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np


def _photos(root: Path) -> Path:
    """4 train, 2 val, 2 test photos (crops of scikit-image's, 320x320) under ``root``."""
    import skimage.data
    from PIL import Image

    photos = [skimage.data.astronaut(), skimage.data.coffee(), skimage.data.chelsea(),
              skimage.data.rocket()]  # fmt: skip
    for split, count in (("train", 4), ("val", 2), ("test", 2)):
        (root / split).mkdir(parents=True)
        for i in range(count):
            photo = photos[i % len(photos)]
            Image.fromarray(photo[:320, :320]).save(root / split / f"{split}_{i}.png")
    return root


def measure(epochs: int) -> dict:
    """One run in this process: the seconds of each epoch's validation + files."""
    import torch

    from colorlib import training
    from colorlib.config import make_config

    torch.set_num_threads(max(1, (os.cpu_count() or 1)))
    with tempfile.TemporaryDirectory() as tmp:
        data = _photos(Path(tmp) / "photos")
        cfg = make_config(
            "B", "full", data_dir=str(data), device="cpu", batch_size=4, epochs=epochs,
            decay_start=epochs // 2, val_sample_count=2, backbone="random",
            models_dir=f"{tmp}/models", results_dir=f"{tmp}/results", cache_dir=f"{tmp}/cache",
        )  # fmt: skip
        spent: list[float] = []
        trainer = training.Trainer(cfg, progress=False)
        for name in ("_validate", "_end_epoch"):
            real = getattr(trainer, name)

            def timed(*args, _real=real, **kwargs):
                start = time.perf_counter()
                out = _real(*args, **kwargs)
                spent.append(time.perf_counter() - start)
                return out

            setattr(trainer, name, timed)
        trainer.fit()
    per_epoch = [a + b for a, b in zip(spent[::2], spent[1::2])]
    return {"per_epoch": per_epoch, "mean": float(np.mean(per_epoch))}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--before", help="another colorlib checkout to measure beside this one")
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--epochs", type=int, default=10)
    parser.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        print("RESULT " + json.dumps(measure(args.epochs)), flush=True)
        return 0
    here = str(Path(__file__).resolve().parents[1])
    sides = {"this checkout": here, **({"before": args.before} if args.before else {})}
    results: dict[str, list[dict]] = {side: [] for side in sides}
    for _ in range(args.rounds):  # interleaved: machine drift hits both sides alike
        for side, src in sides.items():
            env = {**os.environ, "PYTHONPATH": src}
            done = subprocess.run(
                [sys.executable, __file__, "--child", "--epochs", str(args.epochs)],
                capture_output=True, text=True, env=env, cwd=tempfile.gettempdir(),
            )  # fmt: skip
            if done.returncode:
                print(done.stderr[-3000:], file=sys.stderr)
                return 1
            line = next(x for x in done.stdout.splitlines() if x.startswith("RESULT "))
            results[side].append(json.loads(line.removeprefix("RESULT ")))
    print(f"| code | validation + epoch files, s per epoch (mean of {args.epochs} epochs; "
          "each round) | mean |")  # fmt: skip
    print("| --- | --- | ---: |")
    for side, runs in results.items():
        means = [r["mean"] for r in runs]
        print(f"| {side} | {', '.join(f'{m:.2f}' for m in means)} | {np.mean(means):.2f} |")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
