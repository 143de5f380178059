"""Benchmarks: colorlib's paths against baselines written the way the original study did it.

    python benchmarks/bench.py [--quick] [--json] [--only SECTION] [--out benchmarks/RESULTS.md]

Each figure is measured for the baseline and for colorlib in the same process, interleaved,
several repeats; the report gives medians and ratios and describes the machine. Tests never
assert times: this script measures, and its report is committed. ``--json`` also prints each
figure as one JSON object per line (``name``, ``baseline``, ``colorlib``, ``ratio``, ``unit``;
the data figures are ``data_64`` and ``data_256``) after the Markdown report.
"""

from __future__ import annotations

import argparse
import contextlib
import datetime
import functools
import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
import torch

from colorlib.training import Networks, Trainer, build_networks

ROOT = Path(__file__).resolve().parents[1]


def _photos() -> Path:
    """The reference photos (BSDS500, Sun-Hays80): ``../shared/data`` or ``$COLORLIB_SHARED``."""
    photos = Path(os.environ.get("COLORLIB_SHARED", ROOT.parent / "shared")) / "data"
    if not photos.is_dir():
        raise SystemExit(f"the benchmark reads photos from {photos}; set COLORLIB_SHARED")
    return photos


def interleaved(fns: dict[str, Callable[[], object]], repeats: int) -> dict[str, float]:
    """Median seconds per call of each function, calls interleaved round-robin."""
    times: dict[str, list[float]] = {k: [] for k in fns}
    for fn in fns.values():  # warm-up
        fn()
    for _ in range(repeats):
        for name, fn in fns.items():
            start = time.perf_counter()
            fn()
            times[name].append(time.perf_counter() - start)
    return {k: statistics.median(v) for k, v in times.items()}


# --- 1. evaluation per image ----------------------------------------------------------------


def bench_evaluation(n_images: int, repeats: int) -> list[dict]:
    from skimage.color import lab2rgb, rgb2lab
    from skimage.metrics import peak_signal_noise_ratio, structural_similarity

    from colorlib.color import encode_lab, rgb_to_lab
    from colorlib.data import find_images, load_images
    from colorlib.metrics import LPIPS, evaluate_pair

    imgs = load_images(find_images(_photos() / "bsds500", "test")[:n_images], 256).images
    rgb = torch.from_numpy(imgs).permute(0, 3, 1, 2).double() / 255
    lab = encode_lab(rgb_to_lab(rgb))
    L, ab = lab[:, :1], lab[:, 1:]
    g = torch.Generator().manual_seed(0)
    ab_pred = (ab * 0.5 + 0.02 * torch.randn(ab.shape, generator=g, dtype=ab.dtype)).clamp(-1, 1)

    def baseline() -> None:  # the original: per image, colormath at stride 8, skimage metrics
        from colormath.color_diff import delta_e_cie2000
        from colormath.color_objects import LabColor

        np.asscalar = lambda a: a.item()  # colormath 3.0.0 needs the removed numpy.asscalar
        for i in range(n_images):
            lab_t = np.concatenate([(L[i].numpy() + 1) * 50, ab[i].numpy() * 128])
            lab_p = np.concatenate([(L[i].numpy() + 1) * 50, ab_pred[i].numpy() * 128])
            t_rgb = lab2rgb(np.moveaxis(lab_t, 0, -1))
            p_rgb = lab2rgb(np.moveaxis(lab_p, 0, -1))
            peak_signal_noise_ratio(t_rgb, p_rgb, data_range=1.0)
            structural_similarity(t_rgb, p_rgb, channel_axis=-1, data_range=1.0)
            lt, lp = rgb2lab(t_rgb), rgb2lab(p_rgb)
            for y in range(0, 256, 8):
                for x in range(0, 256, 8):
                    delta_e_cie2000(LabColor(*lt[y, x]), LabColor(*lp[y, x]))
            _colorfulness_loop(p_rgb)

    def ours() -> None:
        evaluate_pair(L, ab_pred, ab)

    t = interleaved({"baseline": baseline, "colorlib": ours}, repeats)
    lpips = LPIPS()
    x, y = rgb.float() * 2 - 1, rgb.flip(0).float() * 2 - 1

    def lpips_per_pair() -> None:  # the original: one lpips call per test image
        with torch.no_grad():
            for i in range(n_images):
                lpips(x[i : i + 1], y[i : i + 1])

    def lpips_batched() -> None:
        with torch.no_grad():
            lpips(x, y)

    t_lpips = interleaved({"baseline": lpips_per_pair, "colorlib": lpips_batched}, repeats)
    per = {k: v / n_images * 1000 for k, v in t.items()}
    per_lpips = {k: v / n_images * 1000 for k, v in t_lpips.items()}
    return [
        {
            "name": "evaluation_256",
            "unit": "ms/image",
            "figure": "evaluation ms / 256² image (PSNR+SSIM+ΔE00+colourfulness)",
            "baseline": per["baseline"],
            "colorlib": per["colorlib"],
            "ratio": per["baseline"] / per["colorlib"],
            "note": "baseline ΔE00 on 1/64 of the pixels (colormath, stride 8); colorlib on all",
        },
        {
            "name": "lpips_256",
            "unit": "ms/image",
            "figure": "LPIPS ms / 256² image (AlexNet)",
            "baseline": per_lpips["baseline"],
            "colorlib": per_lpips["colorlib"],
            "ratio": per_lpips["baseline"] / per_lpips["colorlib"],
            "note": f"baseline one pair per call; colorlib the batch of {n_images} in one call",
        },
    ]


def _colorfulness_loop(rgb: np.ndarray) -> float:
    r, g, b = (rgb[..., i] * 255 for i in range(3))
    rg, yb = r - g, 0.5 * (r + g) - b
    return float(np.sqrt(rg.std() ** 2 + yb.std() ** 2) + 0.3 * np.hypot(rg.mean(), yb.mean()))


# --- 2. data pipeline -----------------------------------------------------------------------


class _PerSampleBaseline(torch.utils.data.Dataset):
    """What colorization tutorials do: open, resize, augment and convert in __getitem__."""

    def __init__(self, files: list[Path], size: int) -> None:
        from torchvision.transforms import v2

        self.files, self.size = files, size
        self.aug = v2.Compose(
            [
                v2.RandomHorizontalFlip(),
                v2.RandomRotation(15),
                v2.ColorJitter(0.2, 0.2, 0.2, 0.05),
                v2.RandomAffine(0, translate=(0.1, 0.1)),
            ]
        )

    def __len__(self) -> int:
        return len(self.files)

    def __getitem__(self, i: int):
        from PIL import Image
        from skimage.color import rgb2lab

        img = Image.open(self.files[i]).convert("RGB").resize((self.size, self.size))
        img = self.aug(img)
        lab = rgb2lab(np.asarray(img)).astype(np.float32)
        lab = torch.from_numpy(lab).permute(2, 0, 1)
        return lab[:1] / 50 - 1, lab[1:] / 128


def bench_data(n_samples: int, repeats: int) -> list[dict]:
    """Augmented training samples/s into the model, one process, batch 16: the original's
    per-sample pipeline (open + PIL resize + torchvision transforms + skimage ``rgb2lab`` in
    ``__getitem__``) against colorlib's (decoded once; flip/rotation/shift as one batched
    affine resampling, jitter and Lab conversion as batched tensor operations)."""
    from colorlib.data import Augmentation, ColorizationDataset, find_images, load_images

    files = find_images(_photos() / "bsds500", "train")[:n_samples]
    rows = []
    for size in (64, 256):
        cached = ColorizationDataset(load_images(files, size), augment=Augmentation())
        base = _PerSampleBaseline(files, size)

        def baseline(b=base) -> None:
            for _ in torch.utils.data.DataLoader(b, batch_size=16):
                pass

        def colorlib(c=cached) -> None:
            for _ in c.batches(16):
                pass

        t = interleaved({"baseline": baseline, "colorlib": colorlib}, repeats)
        rate = {k: n_samples / v for k, v in t.items()}
        rows.append(
            {
                "name": f"data_{size}",
                "unit": "samples/s",
                "figure": f"data samples/s at {size}² (augmentation on)",
                "baseline": rate["baseline"],
                "colorlib": rate["colorlib"],
                "ratio": rate["colorlib"] / rate["baseline"],
                "note": "colorlib: decoded once (uint8 cache), batched augmentation on the "
                "device (here the CPU), batched Lab",
            }
        )
    return rows


# --- 3. training throughput -----------------------------------------------------------------


def matmul_gflops(n: int = 2048, repeats: int = 5) -> float:
    a, b = torch.randn(n, n), torch.randn(n, n)
    t = interleaved({"mm": lambda: a @ b}, repeats)["mm"]
    return 2 * n**3 / t / 1e9


def step_flops(trainer, L, ab) -> int:
    from torch.utils.flop_counter import FlopCounterMode

    with FlopCounterMode(display=False) as counter:
        trainer.train_step(L, ab)
    return counter.get_total_flops()


def _channels_last(cfg) -> Networks:
    nets = build_networks(cfg)
    for net in nets.modules():
        net.to(memory_format=torch.channels_last)
    return nets


VARIANT_NAMES = {  # figure label -> the JSON name's suffix
    "eager NCHW": "eager",
    "channels_last": "channels_last",
    "fused Adam (opt-in, not bit-identical)": "fused_adam",
    "bf16 autocast (opt-in, not exact)": "bf16",
    "torch.compile(G)": "compile",
}


def bench_training(quick: bool, repeats: int) -> tuple[list[dict], float]:
    """Images/s and GFLOP/s of one training step (D step + G step), per variant.

    Variants: the eager NCHW baseline (what the original did), channels_last, fused Adam
    (``fused_adam``, opt-in: rounding-level different from foreach Adam), bf16 autocast
    (``cpu_bf16_autocast``, opt-in because it is not exact) and, without ``--quick``,
    ``torch.compile`` of the generator. FLOPs are counted once per configuration
    with ``torch.utils.flop_counter`` (forward + backward of every network in the step).
    """
    from colorlib.config import make_config

    peak = matmul_gflops()
    rows = []
    cases = [("A", 64, 32, 16), ("C", 64, 32, 16), ("A", 256, 64, 4), ("C", 256, 64, 4)]
    with tempfile.TemporaryDirectory() as tmp:
        for model, size, ngf, batch in cases:
            cfg = make_config(
                model,
                "cpu",
                image_size=size,
                ngf=ngf,
                ndf=ngf,
                batch_size=batch,
                device="cpu",
                models_dir=tmp,
                results_dir=tmp,
            )
            L = torch.rand(batch, 1, size, size) * 2 - 1
            ab = torch.randn(batch, 2, size, size) * 0.2
            eager = Trainer(cfg, progress=False)
            flops = step_flops(eager, L, ab)
            cl = Trainer(cfg, progress=False, networks=_channels_last(cfg))
            cl_in = [x.contiguous(memory_format=torch.channels_last) for x in (L, ab)]
            bf16 = Trainer(cfg.replace(cpu_bf16_autocast=True), progress=False)
            fused = Trainer(cfg.replace(fused_adam=True), progress=False)
            fns = {
                "eager NCHW": functools.partial(eager.train_step, L, ab),
                "channels_last": functools.partial(cl.train_step, *cl_in),
                "fused Adam (opt-in, not bit-identical)": functools.partial(
                    fused.train_step, L, ab
                ),
                "bf16 autocast (opt-in, not exact)": functools.partial(bf16.train_step, L, ab),
            }
            if not quick:
                nets = build_networks(cfg)
                nets.G = torch.compile(nets.G)
                compiled = Trainer(cfg, progress=False, networks=nets)
                fns["torch.compile(G)"] = functools.partial(compiled.train_step, L, ab)
            t = interleaved(fns, repeats)
            base = t["eager NCHW"]
            for name, secs in t.items():
                rows.append(
                    {
                        "name": f"train_{model}_{size}_{VARIANT_NAMES[name]}",
                        "unit": "images/s",
                        "figure": f"train {model} {size}² ngf{ngf} b{batch}: {name}, img/s",
                        "baseline": batch / base,
                        "colorlib": batch / secs,
                        "ratio": base / secs,
                        "note": f"{flops / secs / 1e9:.1f} GFLOP/s = "
                        f"{100 * flops / secs / 1e9 / peak:.0f}% of matmul",
                    }
                )
    return rows, peak


# --- 4. colorize a 24-megapixel photo -------------------------------------------------------


def bench_colorize(repeats: int) -> list[dict]:
    from PIL import Image

    from colorlib.checkpoints import save_checkpoint
    from colorlib.config import make_config
    from colorlib.networks import UnetGenerator

    with tempfile.TemporaryDirectory() as tmp:
        src = _photos() / "sun_hays80" / "abbey_sun_asztnlqhlrvirneh.jpg"
        big = Path(tmp) / "photo24mp.jpg"
        Image.open(src).convert("RGB").resize((6000, 4000), Image.Resampling.BICUBIC).save(
            big, quality=92
        )
        cfg = make_config("A", "full")
        ckpt = Path(tmp) / "g.pt"
        save_checkpoint(
            ckpt,
            "generator",
            cfg,
            generator=UnetGenerator(256, 64).state_dict(),
            epoch=0,
            val_l1=0.0,
        )
        walls: dict[str, list[float]] = {"baseline": [], "colorlib": []}
        rss: dict[str, list[float]] = {"baseline": [], "colorlib": []}
        children = {"baseline": _COLORIZE_BASELINE_CHILD, "colorlib": _COLORIZE_CHILD}
        for _ in range(repeats):  # interleaved, each in a fresh process (peak RSS is per process)
            for name, child in children.items():
                start = time.perf_counter()
                out = subprocess.run(
                    [sys.executable, "-c", child, str(ckpt), str(big), str(Path(tmp) / name)],
                    capture_output=True,
                    text=True,
                    check=True,
                ).stdout.split()
                walls[name].append(time.perf_counter() - start)
                rss[name].append(int(out[-1]) / 2**30)
    wall = {k: statistics.median(v) for k, v in walls.items()}
    peak = {k: max(v) for k, v in rss.items()}
    return [
        {
            "name": "colorize_24mp_wall",
            "unit": "s",
            "figure": "colorize 24 MP photo, s (whole command)",
            "baseline": wall["baseline"],
            "colorlib": wall["colorlib"],
            "ratio": wall["baseline"] / wall["colorlib"],
            "note": "target < 10 s; baseline: same method with skimage on the whole photo; "
            "U-Net 256², ngf 64",
        },
        {
            "name": "colorize_24mp_rss",
            "unit": "GiB",
            "figure": "colorize 24 MP photo, peak RSS GiB",
            "baseline": peak["baseline"],
            "colorlib": peak["colorlib"],
            "ratio": peak["baseline"] / peak["colorlib"],
            "note": "target < 3 GiB; ratio = baseline / colorlib memory",
        },
    ]


# VmHWM, not ru_maxrss: a forked child's ru_maxrss counts the parent's pages from before exec
_COLORIZE_CHILD = """
import sys
from colorlib.cli import main
main(["colorize", sys.argv[2], "--checkpoint", sys.argv[1], "--out", sys.argv[3],
      "--device", "cpu"])
hwm = [l for l in open("/proc/self/status") if l.startswith("VmHWM")][0].split()[1]
print(int(hwm) * 1024)
"""


# The same method (network on the photo resized to 256², ab upsampled to full size, the photo's
# own L kept) written as the original's notebooks do it: skimage on the whole photo in float64.
_COLORIZE_BASELINE_CHILD = """
import sys
from pathlib import Path
import numpy as np, torch
from PIL import Image
from skimage.color import lab2rgb, rgb2lab
from skimage.transform import resize
from colorlib.checkpoints import load_generator
G, _ = load_generator(sys.argv[1])
rgb = np.asarray(Image.open(sys.argv[2]).convert("RGB"))
small = np.asarray(Image.fromarray(rgb).resize((256, 256), Image.Resampling.BICUBIC))
L_small = torch.from_numpy(rgb2lab(small)[..., 0] / 50 - 1).float()[None, None]
with torch.no_grad():
    ab = G(L_small)[0].permute(1, 2, 0).numpy() * 128
lab = rgb2lab(rgb)
lab[..., 1:] = resize(ab, rgb.shape[:2], order=1)
out = (lab2rgb(lab) * 255).round().astype(np.uint8)
Path(sys.argv[3]).mkdir(exist_ok=True)
Image.fromarray(out).save(Path(sys.argv[3]) / Path(sys.argv[2]).name, quality=95)
hwm = [l for l in open("/proc/self/status") if l.startswith("VmHWM")][0].split()[1]
print(int(hwm) * 1024)
"""


# --- report ---------------------------------------------------------------------------------


def machine() -> str:
    from colorlib.runtime import cpu_name

    return (
        f"{cpu_name()}, {os.cpu_count()} cores, torch {torch.__version__} "
        f"({torch.get_num_threads()} threads), Python {platform.python_version()}, "
        f"device cpu"
    )


def report(rows: list[dict], peak: float, quick: bool) -> str:
    lines = [
        "# colorlib benchmarks",
        "",
        f"Measured {datetime.date.today()} with `python benchmarks/bench.py"
        f"{' --quick' if quick else ''}` on: {machine()}.",
        f"fp32 matmul rate on this machine (2048², same run): {peak:.1f} GFLOP/s.",
        "",
        "Medians of interleaved repeats; ratio = colorlib's speed-up over the baseline.",
        "",
        "| figure | baseline | colorlib | ratio | note |",
        "| --- | ---: | ---: | ---: | --- |",
    ]
    for r in rows:
        lines.append(
            f"| {r['figure']} | {_num(r['baseline'])} | {_num(r['colorlib'])} | "
            f"{_num(r['ratio'], 'x')} | {r['note']} |"
        )
    return "\n".join(lines) + "\n"


def _num(v: float, suffix: str = "") -> str:
    return "–" if v != v else f"{v:.3g}{suffix}"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python benchmarks/bench.py", description=__doc__)
    parser.add_argument("--quick", action="store_true", help="fewer images and repeats")
    parser.add_argument(
        "--json", action="store_true", help="also print one JSON object per figure per line"
    )
    parser.add_argument("--out", default=str(ROOT / "benchmarks" / "RESULTS.md"))
    parser.add_argument(
        "--only",
        choices=["evaluation", "data", "training", "colorize"],
        action="append",
        help="run only these sections",
    )
    args = parser.parse_args(argv)
    repeats = 3 if args.quick else 5
    only = set(args.only or ["evaluation", "data", "training", "colorize"])
    rows: list[dict] = []
    peak = float("nan")
    with contextlib.redirect_stderr(sys.stderr):
        if "evaluation" in only:
            rows += bench_evaluation(4 if args.quick else 16, repeats)
        if "data" in only:
            rows += bench_data(64 if args.quick else 192, repeats)
        if "training" in only:
            training_rows, peak = bench_training(args.quick, repeats)
            rows += training_rows
        if "colorize" in only:
            rows += bench_colorize(2 if args.quick else 3)
    if peak != peak:
        peak = matmul_gflops()
    text = report(rows, peak, args.quick)
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(text)
    print(text)
    if args.json:
        keys = ("name", "baseline", "colorlib", "ratio", "unit")
        for row in rows:
            # NaN (a figure that could not be measured) is null: JSON has no NaN
            print(json.dumps({k: None if row[k] != row[k] else row[k] for k in keys}))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
