"""Devices, seeding, RNG state, hardware info, and the facts a run's provenance records (git
revision, package versions); :mod:`colorlib.runs` writes them into ``run.json``."""

from __future__ import annotations

import contextlib
import logging
import os
import platform
import random
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path
from typing import Any

import numpy as np
import torch

from colorlib.config import DETERMINISM
from colorlib.errors import ConfigError

log = logging.getLogger(__name__)

PACKAGES = (
    "colorlib",
    "torch",
    "torchvision",
    "numpy",
    "scikit-image",
    "lpips",
    "pandas",
    "pillow",
)


def select_device(name: str = "auto") -> torch.device:
    """``"auto"`` picks cuda > mps > cpu; an explicit name must be available. Logged."""
    if name == "auto":
        if torch.cuda.is_available():
            name = "cuda"
        elif getattr(torch.backends, "mps", None) and torch.backends.mps.is_available():
            name = "mps"
        else:
            name = "cpu"
    device = torch.device(name)
    if device.type == "cuda" and not torch.cuda.is_available():
        raise ConfigError(f"device {name!r} requested but CUDA is not available; use 'cpu'")
    if device.type == "mps" and not torch.backends.mps.is_available():
        raise ConfigError(f"device {name!r} requested but MPS is not available; use 'cpu'")
    log.info("device: %s (%s)", device, device_name(device))
    return device


def device_name(device: torch.device) -> str:
    if device.type == "cuda":
        return torch.cuda.get_device_name(device)
    if device.type == "mps":
        return "Apple MPS"
    return cpu_name()


def cpu_name() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def seed_everything(seed: int) -> None:
    """Seed python, numpy and torch."""
    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)


def set_threads(threads: int) -> int:
    """torch's CPU threads: ``threads`` when > 0 (a job's share of the cores), else torch's
    default; returns the number in use (``run.json`` records it, ``hardware.torch_threads``)."""
    if threads > 0:
        torch.set_num_threads(threads)
    return torch.get_num_threads()


def set_determinism(mode: str, device: torch.device) -> str:
    """Apply ``mode`` (:data:`colorlib.config.DETERMINISM`) for ``device``; returns what it
    is there, ``"exact"`` or ``"fast"`` (the run records it)."""
    if mode not in DETERMINISM:
        raise ValueError(f"determinism must be one of {list(DETERMINISM)}; got {mode!r}")
    exact = mode == "exact" or (mode == "auto" and device.type != "cuda")
    torch.backends.cudnn.deterministic = exact
    torch.backends.cudnn.benchmark = not exact
    if exact:
        os.environ.setdefault("CUBLAS_WORKSPACE_CONFIG", ":4096:8")
    torch.use_deterministic_algorithms(exact, warn_only=True)
    return "exact" if exact else "fast"


def rng_state() -> dict[str, Any]:
    """Every RNG state, as tensors and plain data (loadable with ``weights_only=True``)."""
    np_state = np.random.get_state()
    state = {
        "python": random.getstate(),
        "numpy": (np_state[0], torch.from_numpy(np_state[1].astype(np.int64)), *np_state[2:]),
        "torch": torch.get_rng_state(),
    }
    if torch.cuda.is_available():
        state["cuda"] = torch.cuda.get_rng_state_all()
    return state


def set_rng_state(state: dict[str, Any]) -> None:
    random.setstate(_tuples(state["python"]))
    kind, keys, *rest = state["numpy"]
    np.random.set_state((kind, keys.numpy().astype(np.uint32), *rest))
    torch.set_rng_state(state["torch"])
    if "cuda" in state and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(state["cuda"])


def _tuples(x: Any) -> Any:
    return tuple(_tuples(v) for v in x) if isinstance(x, (list, tuple)) else x


def git_revision(root: Path | None = None) -> str:
    """The colorlib checkout's commit (``-dirty`` with uncommitted changes), or "unknown"."""
    root = root or Path(__file__).resolve().parents[1]
    try:
        out = subprocess.run(
            ["git", "rev-parse", "HEAD"],
            cwd=root,
            capture_output=True,
            text=True,
            timeout=10,
            check=True,
        ).stdout.strip()
        dirty = subprocess.run(
            ["git", "status", "--porcelain", "--untracked-files=no"],
            cwd=root,
            capture_output=True,
            text=True,
            timeout=10,
        ).stdout
        return out + ("-dirty" if dirty.strip() else "")
    except (OSError, subprocess.SubprocessError):
        return "unknown"


def package_versions() -> dict[str, str]:
    versions = {}
    for name in PACKAGES:
        try:
            versions[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            versions[name] = "not installed"
    return versions


def hardware_info() -> dict[str, Any]:
    """The original's hardware check, as data (``python -m colorlib info`` prints it)."""
    cuda = torch.cuda.is_available()
    info: dict[str, Any] = {
        "torch": torch.__version__,
        "cuda_available": cuda,
        "cuda_version": torch.version.cuda,
        "mps_available": bool(
            getattr(torch.backends, "mps", None) and torch.backends.mps.is_available()
        ),
        "cpu": cpu_name(),
        "cpu_count": os.cpu_count(),
        "torch_threads": torch.get_num_threads(),
        "auto_device": str(select_device("auto")),
    }
    if cuda:
        info["gpus"] = [torch.cuda.get_device_name(i) for i in range(torch.cuda.device_count())]
        info["bf16_supported"] = torch.cuda.is_bf16_supported()
    else:
        info["bf16_supported"] = False
    return info


# --- data-parallel runs (torchrun) ------------------------------------------------------------


@dataclass(frozen=True)
class Ranks:
    """This process's place in a data-parallel run started by ``torchrun`` (which sets
    ``RANK``, ``WORLD_SIZE`` and ``LOCAL_RANK``); a plain process is rank 0 of 1."""

    rank: int = 0
    world_size: int = 1
    local_rank: int = 0

    @property
    def main(self) -> bool:
        """Rank 0: the process that writes the run's files."""
        return self.rank == 0

    @property
    def distributed(self) -> bool:
        return self.world_size > 1

    @classmethod
    def from_env(cls) -> Ranks:
        env = os.environ
        return cls(
            int(env.get("RANK", 0)), int(env.get("WORLD_SIZE", 1)), int(env.get("LOCAL_RANK", 0))
        )


def join_process_group(device: torch.device) -> tuple[Ranks, torch.device]:
    """Under ``torchrun``: join its process group (NCCL on CUDA, gloo on the CPU) once, and
    give each rank its own GPU (``cuda:LOCAL_RANK``). A plain process gets ``Ranks()`` and
    ``device`` unchanged."""
    ranks = Ranks.from_env()
    if not ranks.distributed:
        return ranks, device
    import torch.distributed as dist

    if device.type == "cuda":
        device = torch.device("cuda", ranks.local_rank)
        torch.cuda.set_device(device)
    if not dist.is_initialized():
        dist.init_process_group("nccl" if device.type == "cuda" else "gloo")
    return ranks, device


@contextlib.contextmanager
def leaving_process_group() -> Iterator[None]:
    """Run the block, then close ``torchrun``'s process group if this process joined one, as
    PyTorch's distributed notes ask: after a barrier when the block completed (no rank closes
    its connections while another still uses them: a rank that exits first can otherwise
    abort the last one in gloo's teardown, "connection closed by peer"); at once when it
    raised (the others may never reach a barrier). A plain process: nothing to do."""
    import torch.distributed as dist

    def joined() -> bool:
        return dist.is_available() and dist.is_initialized()

    try:
        yield
    except BaseException:
        if joined():
            dist.destroy_process_group()
        raise
    if joined():
        dist.barrier()
        dist.destroy_process_group()
