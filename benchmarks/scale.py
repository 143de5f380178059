"""Scale-out measurements on this machine (issue: torchrun, memory-mapped cache):

    python benchmarks/scale.py [--out benchmarks/SCALE.md]

1. First-time decode throughput (photos/s) of the decode-once cache with 1 and 2 processes,
   interleaved, on BSDS500's 500 photos at 64² and 256² (each repeat into a fresh cache).
2. Memory of a data-parallel training, 2 ranks x 2 DataLoader workers (torchrun, gloo), model A,
   ``cpu`` profile on BSDS500 train + val: the peak of the summed RSS of every process and of
   the summed PSS (proportional set size: a page shared by k processes counts 1/k in each),
   against the size of the memory-mapped cache, at 64² (the profile) and at 256².

Reads ``../shared/data`` (or ``$COLORLIB_SHARED``). Tests never assert these numbers.
"""

from __future__ import annotations

import argparse
import datetime
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from colorlib.data import find_images, load_images  # noqa: E402


def _photos() -> Path:
    return Path(os.environ.get("COLORLIB_SHARED", ROOT.parent / "shared")) / "data" / "bsds500"


def decode_rates(size: int, repeats: int) -> dict[int, float]:
    files = find_images(_photos(), ("train", "val", "test"))
    times: dict[int, list[float]] = {1: [], 2: []}
    for _ in range(repeats):
        for processes in (1, 2):
            with tempfile.TemporaryDirectory() as cache:
                start = time.perf_counter()
                load_images(files, size, cache_dir=cache, processes=processes)
                times[processes].append(time.perf_counter() - start)
    return {p: len(files) / statistics.median(t) for p, t in times.items()}


def _tree(pid: int) -> list[int]:
    """``pid`` and all its descendants."""
    out, todo = [], [pid]
    while todo:
        p = todo.pop()
        out.append(p)
        try:
            children = Path(f"/proc/{p}/task/{p}/children").read_text().split()
        except OSError:
            continue
        todo += [int(c) for c in children]
    return out


def _rollup(pid: int) -> tuple[int, int]:
    """(RSS, PSS) of one process in kB (0, 0 once it is gone)."""
    try:
        text = Path(f"/proc/{pid}/smaps_rollup").read_text()
    except OSError:
        return 0, 0
    fields = {line.split(":")[0]: int(line.split()[1]) for line in text.splitlines()[1:]}
    return fields.get("Rss", 0), fields.get("Pss", 0)


def ddp_memory(size: int, root: Path) -> dict[str, float]:
    """Peak summed RSS / PSS (MiB) of torchrun, its 2 ranks and their 2 workers each."""
    cmd = [
        sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node=2",
        "-m", "colorlib", "train", "--model", "A", "--profile", "cpu", "--quiet",
        "--data", str(_photos()), "--device", "cpu",
        "--set", "train_splits=train,val", "--set", "val_holdout=30", "--set", "epochs=1",
        "--set", "decay_start=1",
        "--set", f"image_size={size}", "--set", "num_workers=2",
        "--set", f"models_dir={root / 'models'}", "--set", f"results_dir={root / 'results'}",
        "--set", f"cache_dir={root / 'cache'}",
    ]  # fmt: skip
    # decode first (one process), so the measured run maps an existing cache
    subprocess.run(cmd[:1] + ["-c", _PREDECODE, str(_photos()), str(size), str(root / "cache")],
                   check=True)  # fmt: skip
    job = subprocess.Popen(cmd, cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    peak_rss = peak_pss = 0
    processes = 0
    while job.poll() is None:
        pids = _tree(job.pid)
        rss, pss = map(sum, zip(*(_rollup(p) for p in pids)))
        peak_rss, peak_pss = max(peak_rss, rss), max(peak_pss, pss)
        processes = max(processes, len(pids))
        time.sleep(0.1)
    if job.returncode:
        raise RuntimeError(job.stderr.read().decode()[-2000:])
    cache = sum(p.stat().st_size for p in (root / "cache").glob("*.npy"))
    return {
        "cache_mib": cache / 2**20,
        "rss_mib": peak_rss / 1024,
        "pss_mib": peak_pss / 1024,
        "processes": processes,
    }


_PREDECODE = """
import sys
from colorlib.config import make_config
from colorlib.data import load_training_data
data, size, cache = sys.argv[1:]
cfg = make_config("A", "cpu", data_dir=data, image_size=int(size), cache_dir=cache,
                  train_splits=("train", "val"), val_holdout=30)
load_training_data(cfg)
"""


def main() -> int:
    parser = argparse.ArgumentParser(prog="python benchmarks/scale.py", description=__doc__)
    parser.add_argument("--out", default=str(ROOT / "benchmarks" / "SCALE.md"))
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    lines = [
        "# Scale-out measurements",
        "",
        f"Measured {datetime.date.today()} with `python benchmarks/scale.py` on this machine "
        f"({os.cpu_count()} cores).",
        "",
        "First-time decode of BSDS500's 500 photos into the memory-mapped cache (median of "
        f"{args.repeats} interleaved repeats):",
        "",
        "| size | 1 process, photos/s | 2 processes, photos/s | speed-up |",
        "| --- | ---: | ---: | ---: |",
    ]
    for size in (64, 256):
        rates = decode_rates(size, args.repeats)
        lines.append(f"| {size}² | {rates[1]:.0f} | {rates[2]:.0f} | {rates[2] / rates[1]:.2f}x |")
    lines += [
        "",
        "Data-parallel training, model A, `cpu` profile, BSDS500 train + val (270 photos), "
        "2 ranks x 2 DataLoader workers (`torchrun --standalone --nproc_per_node=2`, gloo), one "
        "epoch: peak of the summed RSS and PSS of every process against the cache size.",
        "",
        "| image size | cache, MiB | processes | peak summed RSS, MiB | peak summed PSS, MiB |",
        "| --- | ---: | ---: | ---: | ---: |",
    ]
    for size in (64, 256):
        with tempfile.TemporaryDirectory() as tmp:
            m = ddp_memory(size, Path(tmp))
        lines.append(
            f"| {size}² | {m['cache_mib']:.1f} | {m['processes']} | {m['rss_mib']:.0f} | "
            f"{m['pss_mib']:.0f} |"
        )
    text = "\n".join(lines) + "\n"
    Path(args.out).write_text(text)
    print(text)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
