"""GPU check of the training engine (run through gpu_check.sh).

* trains model C (and, for the extrapolation, A, B, D, E, F) for a fixed number of steps at
  256² batch 64 with bf16 autocast + channels_last, C also torch.compile'd and with fused Adam;
* reports images/s, MFU (FLOPs counted with torch.utils.flop_counter), peak memory;
* per model, the input pipeline alone (uint8 photos -> device -> batched augmentation -> Lab),
  the training step alone and both together as training runs them, and the share of the
  step spent waiting for data;
* extrapolates the full ten-model study (4,750 photos, 50 epochs, batch 64) from the
  pipeline-plus-step times;
* checks that GPU (bf16) and CPU (fp32) give the same losses on a fixed batch, within bf16
  tolerance;
* with more than one GPU, trains model C data-parallel over all of them (``torchrun``, NCCL,
  batch 64 per GPU) and reports images/s per GPU and the scaling efficiency against one GPU;
  with one GPU it says so.

The VGG16 of the perceptual loss uses ImageNet weights when COLORLIB_WEIGHTS_DIR or the cache
provides them; otherwise a random VGG16 (same FLOPs, labelled in the report): the machine has
no network.
"""

from __future__ import annotations

import argparse
import math
import os
import tempfile
import time
from pathlib import Path

import numpy as np
import torch
from torch.utils.flop_counter import FlopCounterMode

from colorlib.color import encode_lab, rgb_to_lab
from colorlib.config import make_config
from colorlib.data import Augmentation, ColorizationDataset
from colorlib.pretrained import WeightsNotFoundError, resolve
from colorlib.training import Networks, Trainer, build_networks

PEAK_BF16_TFLOPS = {"H100": 989.0, "H200": 989.0, "A100": 312.0}  # dense, no sparsity
STUDY_TRAIN, STUDY_EPOCHS, BATCH, SIZE = 4750, 50, 64, 256
ALL_TEN = {
    "A": "A",
    "B": "B",
    "C": "C",
    "D": "D",
    "E": "E",
    "F": "F",
    "C_L1_LOW": "C",
    "C_L1_HIGH": "C",
    "C_PERCEPTUAL_LOW": "C",
    "C_PERCEPTUAL_HIGH": "C",
}


def real_photos(n: int, size: int, seed: int = 0) -> np.ndarray:
    """``n`` random size² crops of scikit-image's bundled photographs, uint8 ``(n, S, S, 3)``."""
    import skimage.data

    photos = [
        skimage.data.astronaut(),
        skimage.data.retina(),
        skimage.data.hubble_deep_field(),
        skimage.data.immunohistochemistry(),
        skimage.data.coffee(),
    ]
    rng = np.random.default_rng(seed)
    crops = []
    for i in range(n):
        p = photos[i % len(photos)]
        y = rng.integers(0, p.shape[0] - size + 1)
        x = rng.integers(0, p.shape[1] - size + 1)
        crops.append(p[y : y + size, x : x + size])
    return np.stack(crops)


def real_batch(n: int, size: int, seed: int = 0) -> tuple[torch.Tensor, torch.Tensor]:
    """:func:`real_photos` as normalised L, ab (not augmented)."""
    rgb = torch.from_numpy(real_photos(n, size, seed)).permute(0, 3, 1, 2).float() / 255
    lab = encode_lab(rgb_to_lab(rgb))
    return lab[:, :1].contiguous(), lab[:, 1:].contiguous()


def time_pipeline(ds: ColorizationDataset, dev: str, steps: int, t: Trainer | None = None):
    """Seconds per batch of the input pipeline (``t`` None) or of pipeline + training step,
    as the training loop runs them (``ColorizationDataset.batches`` on the device)."""
    order = list(range(len(ds)))

    def run(n: int) -> None:
        done = 0
        while done < n:
            for L, ab in ds.batches(BATCH, order=order, device=dev):
                if t is not None:
                    t.train_step(L, ab)
                done += 1
                if done == n:
                    break

    run(2)  # warm-up
    sync()
    start = time.perf_counter()
    run(steps)
    sync()
    return (time.perf_counter() - start) / steps


def backbone() -> str:
    try:
        resolve("vgg16")
        return "imagenet"
    except WeightsNotFoundError:
        return "random"


def trainer(model: str, device: str, tmp: str, bb: str, compile_g: bool = False, **kw) -> Trainer:
    cfg = make_config(
        model, "full", device=device, models_dir=tmp, results_dir=tmp, backbone=bb, **kw
    )
    nets: Networks | None = None
    if compile_g:
        nets = build_networks(cfg, device)
        nets.G = torch.compile(nets.G)
    return Trainer(cfg, progress=False, networks=nets)


def sync() -> None:
    if torch.cuda.is_available():
        torch.cuda.synchronize()


def time_steps(t: Trainer, L, ab, steps: int) -> float:
    for _ in range(3):  # warm-up (and compilation)
        t.train_step(L, ab)
    sync()
    start = time.perf_counter()
    for _ in range(steps):
        t.train_step(L, ab)
    sync()
    return (time.perf_counter() - start) / steps


def count_flops(t: Trainer, L, ab) -> int:
    with FlopCounterMode(display=False) as c:
        t.train_step(L, ab)
    return c.get_total_flops()


def ddp_worker(steps: int) -> None:
    """One rank of the data-parallel measurement (run by ``torchrun``): model C, batch 64 per
    GPU; rank 0 prints ``DDP_IMAGES_PER_S <total>``."""
    import torch.distributed as dist

    world = int(os.environ["WORLD_SIZE"])
    with tempfile.TemporaryDirectory() as tmp:
        t = trainer("C", "cuda", tmp, backbone(), image_size=SIZE, batch_size=BATCH * world)
        L, ab = real_batch(BATCH, SIZE, seed=int(os.environ["RANK"]))
        sec = time_steps(t, L.to(t.device), ab.to(t.device), steps)
        if dist.get_rank() == 0:
            print(f"DDP_IMAGES_PER_S {BATCH * world / sec:.1f}", flush=True)
        dist.destroy_process_group()


def ddp_lines(steps: int, one_gpu_images_per_s: float) -> list[str]:
    """The data-parallel section of the report."""
    n = torch.cuda.device_count()
    if n < 2:
        return ["", f"Data-parallel (torchrun): this machine has {n} GPU; not measured."]
    import subprocess
    import sys

    cmd = [sys.executable, "-m", "torch.distributed.run", "--standalone",
           f"--nproc_per_node={n}", __file__, "--ddp-worker", "--steps", str(steps)]  # fmt: skip
    out = subprocess.run(cmd, capture_output=True, text=True, timeout=300)
    found = [ln for ln in out.stdout.splitlines() if ln.startswith("DDP_IMAGES_PER_S")]
    if out.returncode or not found:
        return ["", f"Data-parallel over {n} GPUs FAILED:", "", "```", out.stderr[-2000:], "```"]
    total = float(found[0].split()[1])
    return [
        "",
        f"Data-parallel (torchrun, NCCL, SyncBatchNorm), model C, batch {BATCH} per GPU on {n} "
        f"GPUs: {total:.0f} images/s in all, {total / n:.0f} per GPU; scaling efficiency "
        f"{total / (n * one_gpu_images_per_s):.0%} of {n} x one GPU ({one_gpu_images_per_s:.0f} "
        "images/s).",
    ]


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--ddp-worker", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--steps", type=int, default=20)
    parser.add_argument("--out", default="benchmarks")
    parser.add_argument("--no-compile", action="store_true")
    parser.add_argument(
        "--cpu-dry-run",
        action="store_true",
        help="exercise the script on CPU at 64², batch 4 (no numbers of note)",
    )
    args = parser.parse_args()
    global BATCH, SIZE
    if args.ddp_worker:
        ddp_worker(args.steps)
        return 0
    if args.cpu_dry_run:
        BATCH, SIZE, args.steps, args.no_compile = 4, 64, 1, True
        dev, name, peak = "cpu", "CPU dry run", float("nan")
    else:
        assert torch.cuda.is_available(), "needs a CUDA GPU (or --cpu-dry-run)"
        dev, name = "cuda", torch.cuda.get_device_name()
        peak = next((v for k, v in PEAK_BF16_TFLOPS.items() if k in name), float("nan"))
    bb = backbone()
    L, ab = real_batch(BATCH, SIZE)
    Lg, abg = L.to(dev), ab.to(dev)
    lines = [
        f"# GPU check: {name}",
        "",
        f"torch {torch.__version__}, {SIZE}² batch {BATCH}, bf16 autocast + channels_last, "
        f"{args.steps} timed steps after 3 warm-up; VGG16 backbone: {bb}",
        "",
        "| model | variant | images/s | TFLOP/step | achieved TFLOP/s | MFU | peak GiB |",
        "| --- | --- | ---: | ---: | ---: | ---: | ---: |",
    ]
    step_time: dict[str, float] = {}
    fed_time: dict[str, float] = {}  # pipeline + step, as training runs them
    photos = ColorizationDataset(real_photos(4 * BATCH, SIZE, seed=1), augment=Augmentation())
    data_sec = time_pipeline(photos, dev, args.steps)
    with tempfile.TemporaryDirectory() as tmp:
        for model in ("C", "A", "B", "D", "E", "F"):
            if dev == "cuda":
                torch.cuda.reset_peak_memory_stats()
            t = trainer(model, dev, tmp, bb, image_size=SIZE, batch_size=BATCH)
            flops = count_flops(t, Lg, abg)
            sec = time_steps(t, Lg, abg, args.steps)
            step_time[model] = sec
            fed_time[model] = time_pipeline(photos, dev, args.steps, t)
            mem = torch.cuda.max_memory_allocated() / 2**30 if dev == "cuda" else float("nan")
            lines.append(
                f"| {model} | eager | {BATCH / sec:.0f} | {flops / 1e12:.2f} | "
                f"{flops / sec / 1e12:.0f} | {flops / sec / 1e12 / peak:.1%} | "
                f"{mem:.1f} |"
            )
            if model == "C" and not args.no_compile:
                del t
                t = trainer(model, dev, tmp, bb, True, image_size=SIZE, batch_size=BATCH)
                start = time.perf_counter()
                csec = time_steps(t, Lg, abg, args.steps)
                lines.append(
                    f"| C | torch.compile(G) (compile {time.perf_counter() - start:.0f}"
                    f" s incl.) | {BATCH / csec:.0f} | | {flops / csec / 1e12:.0f} | "
                    f"{flops / csec / 1e12 / peak:.1%} | |"
                )
                step_time["C_compiled"] = csec
            del t
            if dev == "cuda":
                torch.cuda.empty_cache()
            if model == "C":  # opt-in fused Adam (rounding-level different from foreach)
                t = trainer(model, dev, tmp, bb, image_size=SIZE, batch_size=BATCH, fused_adam=True)
                fsec = time_steps(t, Lg, abg, args.steps)
                lines.append(
                    f"| C | fused Adam | {BATCH / fsec:.0f} | | {flops / fsec / 1e12:.0f} | "
                    f"{flops / fsec / 1e12 / peak:.1%} | |"
                )
                del t
                if dev == "cuda":
                    torch.cuda.empty_cache()

        lines += [
            "",
            "Input pipeline (uint8 photos to the device, batched flip/rotation/shift and colour "
            "jitter, Lab) against the training step, eager, images/s; waiting = the share of "
            "pipeline + step spent outside the step:",
            "",
            "| model | pipeline alone | step alone | pipeline + step | waiting for data |",
            "| --- | ---: | ---: | ---: | ---: |",
        ]
        for model in fed_time:
            sec, fed = step_time[model], fed_time[model]
            lines.append(
                f"| {model} | {BATCH / data_sec:.0f} | {BATCH / sec:.0f} | {BATCH / fed:.0f} | "
                f"{max(0.0, 1 - sec / fed):.1%} |"
            )
        steps = math.ceil(STUDY_TRAIN / BATCH) * STUDY_EPOCHS
        total = sum(fed_time[kind] * steps for kind in ALL_TEN.values())
        lines += [
            "",
            f"Full study extrapolated: {steps} steps per model (4,750 photos, 50 "
            f"epochs, batch 64), ten models: {total / 3600:.2f} h of training with its input "
            "pipeline (eager; validation and evaluation not included).",
        ]

        # GPU (bf16) vs CPU (fp32) on a fixed batch, same initial weights
        small_L, small_ab = L[:8], ab[:8]
        losses = {}
        for device in ("cpu", dev):
            t = trainer("C", device, tmp, bb, image_size=SIZE, batch_size=BATCH)
            t.nets.G.eval()  # dropout off: the comparison is deterministic
            losses[device] = t.train_step(small_L, small_ab)
        lines += [
            "",
            "Losses on one fixed batch (model C, same initial weights, first step):",
            "",
            "| term | CPU fp32 | GPU bf16 | relative difference |",
            "| --- | ---: | ---: | ---: |",
        ]
        worst = 0.0
        for k in losses["cpu"]:
            a, b = losses["cpu"][k], losses[dev][k]
            rel = abs(a - b) / max(abs(a), 1e-12)
            worst = max(worst, rel)
            lines.append(f"| {k} | {a:.5f} | {b:.5f} | {rel:.2e} |")
        ok = worst < 2e-2
        lines.append(f"\nWithin bf16 tolerance (2e-2 relative): {'yes' if ok else 'NO'}")
        if dev == "cuda":
            lines += ddp_lines(args.steps, BATCH / step_time["C"])
    text = "\n".join(lines) + "\n"
    Path(args.out).mkdir(parents=True, exist_ok=True)
    (Path(args.out) / "GPU_RESULTS.md").write_text(text)
    print(text)
    return 0 if ok else 1


if __name__ == "__main__":
    os.environ.setdefault("COLORLIB_OFFLINE", "1")
    raise SystemExit(main())
