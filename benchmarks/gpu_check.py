"""GPU check of the training engine and of the whole study's cost (run through gpu_check.sh).

* every configuration of both groups (the original ten, A_VGG, B_VGG, CLS and CLS_VGG, the
  classification ones with an ab prior of the check's photos), at 256² batch 64 with bf16
  autocast + channels_last, with ``determinism`` "exact" and "fast": images/s of the step alone,
  of the input pipeline + step as training runs them (and the share spent waiting for data),
  FLOPs per step (torch.utils.flop_counter), MFU, peak memory;
* model C with ``compile=True`` (compile time reported) and with fused Adam;
* per configuration: validation seconds per photo, the epoch's files (an epoch between commits
  and a commit epoch, as ``RunWriter.end_epoch`` writes them), evaluation seconds per photo
  (inference and every metric, LPIPS included, on the device, and the Inception features of
  FID and KID, which ``fid_kid="auto"`` computes on CUDA: torchvision's Inception-v3 with
  random weights, the FID network's architecture, for timing — the FID file is not in the
  check's bundle);
* the whole study estimated from those measurements (every configuration of both groups and
  GRAY, ``full`` profile: 50 epochs, batch 64, ``checkpoint_every`` 10) for the shared photos
  (1,062 train + 118 val, 372 test photos) and the Kaggle set (4,750 + 250, 739), with the
  default determinism, against the 10-minute goal;
* several configurations at once on the one device (``run_all.py --jobs N``, one process
  each): the images/s of 1, 2 and 4 processes together for A (the U-Net) and A_VGG (the VGG16
  encoder), and the study's estimate with the best of them;
* GPU (bf16) against CPU (fp32) losses on a fixed batch, within bf16 tolerance;
* with more than one GPU, model C data-parallel (``torchrun``, NCCL); with one GPU it says so.

The VGG16 of the perceptual loss and the encoder use ImageNet weights when
COLORLIB_WEIGHTS_DIR or the cache provides them; otherwise a random VGG16 (same FLOPs, labelled
in the report): the machine has no network. ``--cpu-dry-run`` runs every path on the CPU at 32²
batch 2 (the test suite does, tests/smoke/test_bench.py): its numbers mean nothing.
"""

from __future__ import annotations

import argparse
import math
import multiprocessing as mp
import os
import queue
import tempfile
import time
from pathlib import Path

import numpy as np
import torch
from torch.utils.flop_counter import FlopCounterMode

from colorlib.color import encode_lab, rgb_to_lab
from colorlib.config import BASELINES, PROFILES, make_config, model_ids
from colorlib.data import Augmentation, ColorizationDataset
from colorlib.metrics import LPIPS, evaluate_pair
from colorlib.pretrained import WeightsNotFoundError, resolve
from colorlib.quantize import AbClasses
from colorlib.training import Trainer

PEAK_BF16_TFLOPS = {"H100": 989.0, "H200": 989.0, "A100": 312.0}  # dense, no sparsity
STUDY_TRAIN, STUDY_EPOCHS, BATCH, SIZE = 4750, 50, 64, 256
# the whole study's data: (training photos, validation photos, test photos of every test set)
DATA_SIZES = {
    "the shared photos (BSDS500 train+val and the ImageNet sample; BSDS500 test, Urban100, "
    "Sun-Hays80)": (1062, 118, 372),
    "the Kaggle set (the original's)": (4750, 250, 739),
}
GOAL_MINUTES = 10.0
JOBS = (2, 4)  # configurations trained at once on one device (run_all.py --jobs)
JOB_MODELS = {"unet": "A", "vgg16_unet": "A_VGG"}  # each generator's representative
FULL = PROFILES["full"]


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


def trainer(model: str, device: str, tmp: str, bb: str, **kw) -> Trainer:
    """The trainer of ``model`` at the ``full`` profile (``kw`` overrides), the classification
    configurations with the ab prior of the check's photos."""
    cfg = make_config(model, "full", device=device, models_dir=tmp, results_dir=tmp,
                      cache_dir=tmp, backbone=bb, **kw)  # fmt: skip
    t = Trainer(cfg, progress=False)
    if cfg.use_classification:
        t.classes = AbClasses.of(real_photos(4 * BATCH, SIZE, seed=1), "gpu-check", cfg)
    return t


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


def job_worker(model, dev, bb, steps, size, batch, barrier, out) -> None:
    """One of several configurations trained at once on ``dev`` (a process, as one job of
    ``run_all.py --jobs N``): after its warm-up it waits for the others, then puts the
    images/s of its pipeline + step on ``out``."""
    global BATCH, SIZE
    BATCH, SIZE = batch, size  # a spawned process starts from the module's defaults
    if dev == "cpu":
        torch.set_num_threads(1)
    photos = ColorizationDataset(real_photos(4 * BATCH, SIZE, seed=1), augment=Augmentation())
    with tempfile.TemporaryDirectory() as tmp:
        t = trainer(model, dev, tmp, bb, determinism="fast", image_size=SIZE, batch_size=BATCH)
        time_pipeline(photos, dev, 1, t)  # warm-up: kernels, autotuning, the allocator
        barrier.wait(timeout=600)
        out.put(BATCH / time_pipeline(photos, dev, steps, t))


def at_once(model: str, jobs: int, dev: str, bb: str, steps: int) -> float:
    """Images/s of ``jobs`` processes training ``model`` at once on ``dev``, all together."""
    ctx = mp.get_context("spawn")  # CUDA cannot be forked
    barrier, out = ctx.Barrier(jobs), ctx.Queue()
    args = (model, dev, bb, steps, SIZE, BATCH, barrier, out)
    procs = [ctx.Process(target=job_worker, args=args, daemon=True) for _ in range(jobs)]
    for proc in procs:
        proc.start()
    got: list[float] = []
    while len(got) < jobs:
        try:
            got.append(out.get(timeout=5))
        except queue.Empty:
            dead = [proc.exitcode for proc in procs if proc.exitcode not in (None, 0)]
            if dead:
                raise RuntimeError(
                    f"{model}, {jobs} at once: a process exited with {dead[0]}"
                ) from None
    for proc in procs:
        proc.join()
    return sum(got)


def jobs_lines(
    dev: str, bb: str, steps: int, costs: dict, jobs=JOBS, models=JOB_MODELS
) -> tuple[list[str], dict[str, tuple[int, float]]]:
    """The several-jobs section of the report (``jobs`` processes at once, each generator's
    representative in ``models``; one at a time is ``costs``' pipeline + step), and per
    generator the best number of jobs and its gain over one at a time (one at a time for a
    generator not measured)."""
    lines = ["", "Several configurations at once on one device (`run_all.py --jobs N`, one "
             "process each; pipeline + step, determinism fast): images/s of all of them "
             "together, and the gain over one at a time:", "",
             "| model | 1 at once | " + " | ".join(f"{k} at once" for k in jobs) + " |",
             "| --- | ---: |" + " ---: |" * len(jobs)]  # fmt: skip
    best = dict.fromkeys(JOB_MODELS, (1, 1.0))
    for generator, model in models.items():
        one = BATCH / costs[model]["fed"]
        gains = [at_once(model, k, dev, bb, steps) / one for k in jobs]
        cells = [f"{g * one:.0f} ({g:.2f}×)" for g in gains]
        lines.append(f"| {model} | {one:.0f} | " + " | ".join(cells) + " |")
        k = max(range(len(jobs)), key=gains.__getitem__)
        best[generator] = max(best[generator], (jobs[k], gains[k]), key=lambda b: b[1])
    return lines, best


def time_validation(t: Trainer, L: torch.Tensor, ab: torch.Tensor) -> float:
    """Seconds per photo of the trainer's validation pass (its batches as training makes them)."""
    batches = [(L[i : i + BATCH], ab[i : i + BATCH]) for i in range(0, len(L), BATCH)]
    t._validate(batches)  # warm-up
    sync()
    start = time.perf_counter()
    t._validate(batches)
    sync()
    return (time.perf_counter() - start) / len(L)


def time_epoch_files(t: Trainer, L: torch.Tensor, ab: torch.Tensor) -> tuple[float, float]:
    """Seconds of the end of an epoch between two commits and of a commit epoch, as training
    runs it (``Trainer._end_epoch``: the schedules, the history, the best generator, and at the
    commit the checkpoints, grid, history PNG and the training state)."""
    val = [(L[:BATCH], ab[:BATCH])]
    losses = {"loss_G": 1.0}
    start = time.perf_counter()
    t._end_epoch(losses, 0.2, 0.0, val)  # epoch 1: improves, no commit
    between = time.perf_counter() - start
    t.state.epoch = t.cfg.checkpoint_every - 1  # the next is a commit epoch
    start = time.perf_counter()
    t._end_epoch(losses, 0.1, 0.0, val)
    return between, time.perf_counter() - start


def time_evaluation(predictor, L: torch.Tensor, ab: torch.Tensor, lpips: LPIPS, dev: str) -> float:
    """Seconds per photo of the evaluation: inference and every metric on the device."""
    dtype = torch.float32 if dev == "cuda" else torch.float64

    def run() -> None:
        for i in range(0, len(L), BATCH):
            with torch.no_grad():
                pred = predictor(L[i : i + BATCH]).float()
            evaluate_pair(L[i : i + BATCH], pred, ab[i : i + BATCH], lpips=lpips, device=dev,
                          dtype=dtype)  # fmt: skip

    run()
    sync()
    start = time.perf_counter()
    run()
    sync()
    return (time.perf_counter() - start) / len(L)


def measure_configurations(dev, bb, tmp, L, ab, photos, steps, peak) -> tuple[list[str], dict]:
    """Every trained configuration, determinism fast and exact: the step table's rows and,
    per configuration (fast), the costs the estimate needs."""
    lines, costs = [], {}
    lpips = LPIPS(backbone=bb).to(dev).eval()
    for model in (m for m in model_ids() if m not in BASELINES):
        for mode in ("fast", "exact"):
            if dev == "cuda":
                torch.cuda.reset_peak_memory_stats()
            t = trainer(model, dev, tmp, bb, determinism=mode, image_size=SIZE, batch_size=BATCH)
            flops = count_flops(t, L, ab)
            sec = time_steps(t, L, ab, steps)
            fed = time_pipeline(photos, dev, steps, t) if mode == "fast" else float("nan")
            mem = torch.cuda.max_memory_allocated() / 2**30 if dev == "cuda" else float("nan")
            wait = max(0.0, 1 - sec / fed) if mode == "fast" else 0.0
            fed_text = f"{BATCH / fed:.0f} | {wait:.1%}" if mode == "fast" else "– | –"
            lines.append(
                f"| {model} | {mode} | {BATCH / sec:.0f} | {fed_text} | "
                f"{flops / 1e12:.2f} | {flops / sec / 1e12 / peak:.1%} | {mem:.1f} |"
            )
            if mode == "fast":
                costs[model] = {"step": sec, "fed": fed, "val": time_validation(t, L, ab),
                                "eval": time_evaluation(t.G, L, ab, lpips, dev)}  # fmt: skip
                costs[model]["between"], costs[model]["commit"] = time_epoch_files(t, L, ab)
            del t
            if dev == "cuda":
                torch.cuda.empty_cache()
    from colorlib.networks import baseline

    for gray in BASELINES:
        costs[gray] = {"eval": time_evaluation(baseline(gray).to(dev), L, ab, lpips, dev)}
    inception = time_inception(dev)
    for c in costs.values():
        c["eval"] += inception  # the predictions' features; the photos': once per test set
    return lines, costs


def time_inception(dev: str) -> float:
    """Seconds per photo of FID and KID's Inception features at 299² (see the module's
    docstring: random weights, the same network, timing only)."""
    import torchvision

    net = torchvision.models.inception_v3(weights=None, aux_logits=False, init_weights=False)
    net = net.to(dev).eval()
    x = torch.rand(BATCH, 3, 299, 299, device=dev)
    with torch.no_grad():
        net(x)
        sync()
        start = time.perf_counter()
        net(x)
        sync()
    return (time.perf_counter() - start) / BATCH


def estimate_lines(costs: dict, jobs: dict[str, tuple[int, float]]) -> list[str]:
    """The whole study (every configuration and the baselines, ``full`` profile) estimated
    from the measured costs, for each data size in :data:`DATA_SIZES`: one configuration at a
    time, and with the training of each generator's configurations sped up by the gain of its
    best number of jobs at once (:func:`jobs_lines`; the evaluation stays one at a time)."""
    epochs, batch, every = FULL["epochs"], FULL["batch_size"], FULL["checkpoint_every"]
    commits = math.ceil(epochs / every)
    lines = ["", "## The whole study, estimated", "",
             f"Every configuration of both groups and {', '.join(BASELINES)}, {epochs} epochs, "
             f"batch {batch}, a commit every {every} epochs (pipeline + step, validation, the "
             "epoch's files, evaluation on every test photo), one configuration at a time:",
             "", "| data | training | validation | files | evaluation | total | goal | "
             "with several jobs |",
             "| --- | ---: | ---: | ---: | ---: | ---: | --- | --- |"]  # fmt: skip
    several = ", ".join(f"{k} {generator} at once" for generator, (k, _) in jobs.items())
    for name, (n_train, n_val, n_test) in DATA_SIZES.items():
        parts = {"train": 0.0, "val": 0.0, "files": 0.0, "eval": 0.0}
        trained = 0.0  # training, validation and files, each sped up by its kind's jobs
        for model, c in costs.items():
            parts["eval"] += n_test * c["eval"]
            if "fed" not in c:
                continue  # a baseline: evaluated only
            run = {"train": math.ceil(n_train / batch) * epochs * c["fed"],
                   "val": epochs * n_val * c["val"],
                   "files": (epochs - commits) * c["between"] + commits * c["commit"]}  # fmt: skip
            for k, v in run.items():
                parts[k] += v
            trained += sum(run.values()) / jobs[make_config(model, "full").generator][1]
        total = sum(parts.values()) / 60
        jobs_total = (trained + parts["eval"]) / 60
        lines.append(
            f"| {name} | " + " | ".join(f"{v / 60:.1f} min" for v in parts.values())
            + f" | {total:.1f} min | ≤ {GOAL_MINUTES:.0f} min: {verdict(total)} | "
            f"{jobs_total:.1f} min ({several}): {verdict(jobs_total)} |"
        )
    return lines


def verdict(minutes: float) -> str:
    return "met" if minutes <= GOAL_MINUTES else f"missed by {minutes - GOAL_MINUTES:.1f} min"


def cost_lines(costs: dict) -> list[str]:
    lines = ["", "Per configuration (determinism fast): seconds per validation photo, the end "
             "of an epoch between commits and of a commit epoch, seconds per evaluated photo "
             "(FID and KID's Inception included):",
             "", "| model | validation s/photo | epoch end | commit epoch | evaluation s/photo |",
             "| --- | ---: | ---: | ---: | ---: |"]  # fmt: skip
    for model, c in costs.items():
        if "fed" in c:
            lines.append(f"| {model} | {c['val']:.4f} | {c['between']:.3f} s | "
                         f"{c['commit']:.2f} s | {c['eval']:.4f} |")  # fmt: skip
        else:
            lines.append(f"| {model} | | | | {c['eval']:.4f} |")
    return lines


def variant_lines(dev, bb, tmp, L, ab, steps, no_compile) -> list[str]:
    """Model C compiled (compile time included in its row) and with fused Adam."""
    lines = ["", "| model C variant (determinism fast) | images/s | note |", "| --- | ---: | --- |"]
    variants = {"fused Adam": dict(fused_adam=True)}
    if not no_compile:
        variants["compile=true"] = dict(compile=True)
    for name, kw in variants.items():
        t = trainer("C", dev, tmp, bb, determinism="fast", image_size=SIZE, batch_size=BATCH, **kw)
        start = time.perf_counter()
        sec = time_steps(t, L, ab, steps)
        note = f"{time.perf_counter() - start:.0f} s with compilation" if "compile" in kw else ""
        lines.append(f"| {name} | {BATCH / sec:.0f} | {note} |")
        del t
    return lines


def loss_check_lines(dev, bb, tmp, L, ab) -> tuple[list[str], bool]:
    """GPU (bf16) vs CPU (fp32) on a fixed batch, model C, same initial weights."""
    losses = {}
    for device in ("cpu", dev):
        t = trainer("C", device, tmp, bb, image_size=SIZE, batch_size=BATCH)
        t.nets.G.eval()  # dropout off: the comparison is deterministic
        losses[device] = {k: float(v) for k, v in t.train_step(L[:8], ab[:8]).items()}
    lines = ["", "Losses on one fixed batch (model C, same initial weights, first step):", "",
             "| term | CPU fp32 | device | relative difference |", "| --- | ---: | ---: | ---: |"]
    worst = 0.0
    for k, a in losses["cpu"].items():
        b = losses[dev][k]
        rel = abs(a - b) / max(abs(a), 1e-12)
        worst = max(worst, rel)
        lines.append(f"| {k} | {a:.5f} | {b:.5f} | {rel:.2e} |")
    ok = worst < 2e-2
    lines.append(f"\nWithin bf16 tolerance (2e-2 relative): {'yes' if ok else 'NO'}")
    return lines, ok


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--ddp-worker", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--steps", type=int, default=10)
    parser.add_argument("--out", default="benchmarks")
    parser.add_argument("--no-compile", action="store_true")
    parser.add_argument("--cpu-dry-run", action="store_true",
                        help="every path on the CPU at 32², batch 2 (no numbers of note)")
    args = parser.parse_args()
    global BATCH, SIZE
    if args.ddp_worker:
        ddp_worker(args.steps)
        return 0
    if args.cpu_dry_run:
        BATCH, SIZE, args.steps = 2, 32, 1
        dev, name, peak = "cpu", "CPU dry run", float("nan")
    else:
        assert torch.cuda.is_available(), "needs a CUDA GPU (or --cpu-dry-run)"
        dev, name = "cuda", torch.cuda.get_device_name()
        peak = next((v for k, v in PEAK_BF16_TFLOPS.items() if k in name), float("nan"))
    bb = backbone()
    L, ab = (x.to(dev) for x in real_batch(BATCH, SIZE))
    lines = [f"# GPU check: {name}", "",
             f"torch {torch.__version__}, {SIZE}² batch {BATCH}, bf16 autocast + channels_last, "
             f"{args.steps} timed steps after 3 warm-up; VGG16 backbone: {bb}", "",
             "| model | determinism | step alone, images/s | pipeline + step, images/s | "
             "waiting for data | TFLOP/step | MFU | peak GiB |",
             "| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: |"]  # fmt: skip
    photos = ColorizationDataset(real_photos(4 * BATCH, SIZE, seed=1), augment=Augmentation())
    with tempfile.TemporaryDirectory() as tmp:
        data_sec = time_pipeline(photos, dev, args.steps)
        rows, costs = measure_configurations(dev, bb, tmp, L, ab, photos, args.steps, peak)
        lines += rows + [f"\nThe input pipeline alone: {BATCH / data_sec:.0f} images/s."]
        lines += variant_lines(dev, bb, tmp, L, ab, args.steps, args.no_compile)
        # the dry run: A by two processes (the path; more would only cost the suite time)
        dry = dict(jobs=(2,), models={"unet": "A"}) if dev == "cpu" else {}
        jobs_rows, jobs = jobs_lines(dev, bb, args.steps, costs, **dry)
        lines += jobs_rows + cost_lines(costs) + estimate_lines(costs, jobs)
        checked, ok = loss_check_lines(dev, bb, tmp, L.cpu(), ab.cpu())
        lines += checked
        if dev == "cuda":
            lines += ddp_lines(args.steps, BATCH / costs["C"]["step"])
    text = "\n".join(lines) + "\n"
    Path(args.out).mkdir(parents=True, exist_ok=True)
    (Path(args.out) / "GPU_RESULTS.md").write_text(text)
    print(text)
    return 0 if ok else 1


if __name__ == "__main__":
    os.environ.setdefault("COLORLIB_OFFLINE", "1")
    raise SystemExit(main())
