"""Training: one code path for every preset and profile (docs/study.md: training).

Per batch: the discriminator step (when the GAN is on), then the generator step, as pix2pix's
``optimize_parameters``. Adam for both; the learning rate is constant for ``decay_start``
epochs, then decays linearly to zero at the end of ``epochs`` (:class:`LinearDecay`). After
every epoch: validation L1 (generator in eval mode), ``best_model.pt`` when it improves,
interval checkpoints and sample grids, and the full training state, written atomically, so
``resume=True`` continues bit-identically.

Under ``torchrun`` (``WORLD_SIZE`` > 1) :class:`Trainer` trains data-parallel: ``batch_size``
stays the global batch and each rank takes a disjoint slice of every batch of the same seeded
epoch permutation; G and D are wrapped in ``DistributedDataParallel`` (BatchNorm synchronised
across ranks with ``SyncBatchNorm`` on CUDA; on the CPU with gloo each rank normalises over its
own slice and rank 0's running statistics are broadcast at every forward and after every
epoch); the logged losses are averaged over all samples of all ranks; a non-finite loss on any
rank stops every rank; rank 0 alone writes checkpoints, histories, figures and ``run.json``
(which records the world size), and every rank resumes from that state (a different world
size is refused). Each rank has its own dropout stream.
"""

from __future__ import annotations

import logging
import math
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd
import torch
from torch import nn
from tqdm.auto import tqdm

from colorlib.checkpoints import load_checkpoint
from colorlib.config import BASELINES, ExperimentConfig
from colorlib.data import (
    Augmentation,
    ColorizationDataset,
    evaluation_files,
    load_training_data,
    sample_seed,
)
from colorlib.errors import ConfigError, NonFiniteLossError, OutputExistsError
from colorlib.losses import LOSS_TERMS, Step, discriminator_loss, generator_loss, loss_modules
from colorlib.networks import PatchDiscriminator, define_G
from colorlib.quantize import AbClasses
from colorlib.replicas import Replicas
from colorlib.run_writer import RunWriter
from colorlib.runs import data_changes, exclusive, read_record
from colorlib.runtime import (
    seed_everything,
    select_device,
    set_determinism,
    set_rng_state,
    set_threads,
)

log = logging.getLogger(__name__)

# steps between two reads of the device-side non-finite check (and at every epoch's end): the
# step itself never waits for the device to report a loss
FINITE_CHECK_EVERY = 50
POSTFIX_EVERY = 20  # steps between two progress-bar loss updates (each reads the device)


class LinearDecay:
    """The learning-rate factor of each epoch (picklable; ``epoch`` counts from 0).

    The study's schedule (docs/study.md): constant for the first ``decay_start`` epochs, then
    linear decay to zero at the end of epoch ``epochs``. The rate changes once per epoch: epoch
    ``e`` (1-based) after the constant part trains at the mean of that linear ramp over the epoch,
    ``(epochs - e + 0.5) / (epochs - decay_start)``. For the full profile (50, 25): epochs 1-25 at
    1, epoch 26 at 0.98, epoch 27 at 0.94, ..., epoch 50 at 0.02, and the ramp reaches zero as epoch
    50 ends. (pix2pix's own rule keeps 1 for one more epoch and ends at 1/26.)
    """

    def __init__(self, epochs: int, decay_start: int) -> None:
        self.epochs, self.decay_start = epochs, decay_start

    def __call__(self, epoch: int) -> float:
        if epoch < self.decay_start:
            return 1.0
        return max(0.0, (self.epochs - epoch - 0.5) / max(1, self.epochs - self.decay_start))


@dataclass
class Networks:
    """What a configuration trains and reads: the generator (a
    :class:`colorlib.networks.Generator`), the discriminator (GAN presets only) and the modules
    of its loss terms that need one (:func:`colorlib.losses.loss_modules`: the perceptual
    loss's frozen VGG16), by term name."""

    G: nn.Module
    D: nn.Module | None = None
    losses: dict[str, nn.Module] = field(default_factory=dict)

    def modules(self) -> list[nn.Module]:
        return [m for m in (self.G, self.D, *self.losses.values()) if m is not None]

    def sources(self) -> dict[str, str]:
        """Where the pretrained weights came from, by architecture (the loss terms') and
        ``{arch}_encoder`` (the generator's): the run's provenance."""
        sources = {
            m.weights_source.arch: m.weights_source.describe()
            for m in self.losses.values()
            if getattr(m, "weights_source", None) is not None
        }
        if self.G.weights_source is not None:
            sources[f"{self.G.weights_source.arch}_encoder"] = self.G.weights_source.describe()
        return sources


def build_networks(cfg: ExperimentConfig, device: torch.device | str = "cpu") -> Networks:
    """The networks of ``cfg`` on ``device``, initialised as pix2pix does (N(0, 0.02)); on CUDA
    in channels_last memory format when ``cfg.channels_last``. Seed first for reproducible
    weights (:class:`Trainer` does)."""
    device = torch.device(device)
    nets = Networks(
        G=define_G(cfg),
        D=PatchDiscriminator(ndf=cfg.ndf) if cfg.use_gan else None,
        losses=loss_modules(cfg),
    )
    for net in nets.modules():
        net.to(device)
        if device.type == "cuda" and cfg.channels_last:
            net.to(memory_format=torch.channels_last)
    return nets


@dataclass
class TrainingState:
    """Everything ``resume`` restores: the networks', optimizers' and schedules' states (by
    reference: :meth:`load` loads into them) and the run's counters. :meth:`to_dict` is the
    ``training_state.pt`` payload (with the RNG states and weight sources the trainer adds)."""

    G: nn.Module
    opt_G: torch.optim.Optimizer
    sched_G: Any
    D: nn.Module | None = None
    opt_D: torch.optim.Optimizer | None = None
    sched_D: Any = None
    epoch: int = 0  # epochs completed
    step: int = 0
    history: list[dict[str, float]] = field(default_factory=list)
    best_val: float = math.inf
    best_epoch: int = 0
    elapsed: float = 0.0

    # the payload's key of each stateful part (the GAN's only with a discriminator)
    PARTS = {"generator": "G", "opt_G": "opt_G", "sched_G": "sched_G"}
    GAN_PARTS = {"discriminator": "D", "opt_D": "opt_D", "sched_D": "sched_D"}
    COUNTERS = ("epoch", "step", "history", "best_val", "best_epoch", "elapsed")

    def _parts(self) -> dict[str, str]:
        return self.PARTS | (self.GAN_PARTS if self.D is not None else {})

    def to_dict(self, generator: dict[str, torch.Tensor] | None = None) -> dict[str, Any]:
        """The state as a checkpoint payload; ``generator``: G's state dict already taken."""
        out = {k: getattr(self, k) for k in self.COUNTERS}
        for key, attr in self._parts().items():
            out[key] = getattr(self, attr).state_dict()
        if generator is not None:
            out["generator"] = generator
        return out

    def load(self, blob: dict[str, Any]) -> None:
        """Restore from :meth:`to_dict`'s payload."""
        for key, attr in self._parts().items():
            getattr(self, attr).load_state_dict(blob[key])
        for key in self.COUNTERS:
            setattr(self, key, blob[key])
        self.history = list(self.history)


class Trainer:
    """Trains one configuration; ``fit()`` runs (or resumes) it to the end.

    The trainer holds the loop, the step (:meth:`train_step`, as pix2pix's
    ``optimize_parameters``), validation and resume; the generator's objective is
    :func:`colorlib.losses.generator_loss`, its resumable state a :class:`TrainingState`. What
    the other processes of a data-parallel run are asked lives in
    :class:`colorlib.replicas.Replicas`; what an epoch writes, in
    :class:`colorlib.run_writer.RunWriter`. Data-parallel under ``torchrun``: the module's
    docstring.
    """

    def __init__(
        self, cfg: ExperimentConfig, *, progress: bool = True, networks: Networks | None = None
    ) -> None:
        """``networks`` replaces :func:`build_networks`'s (benchmarks pass compiled or
        channels_last variants); they must be on the config's device."""
        if cfg.model_id in BASELINES:
            raise ConfigError(
                f"{cfg.model_id} is a baseline (ab = 0): evaluate it, there is nothing to train"
            )
        self.cfg = cfg
        self.progress = progress
        self.replicas = Replicas.join(select_device(cfg.device))
        self.device = self.replicas.device
        self.cuda = self.device.type == "cuda"
        self.writer = RunWriter(cfg, active=self.replicas.main)
        self.paths = self.writer.paths
        set_threads(cfg.threads)
        seed_everything(cfg.seed)
        self.determinism = set_determinism(cfg.determinism, self.replicas.device)
        self.nets = networks or build_networks(cfg, self.device)
        self.replicas.check_batch(cfg.batch_size)
        # what the training forward passes call: DDP wrappers when data-parallel
        self.nets.G, self.train_G = self.replicas.wrap(self.nets.G)
        self.train_D = None
        if self.nets.D is not None:
            self.nets.D, self.train_D = self.replicas.wrap(self.nets.D)
        if cfg.compile:  # the training passes only: checkpoints keep the plain state dicts
            self.train_G = torch.compile(self.train_G)
            self.train_D = torch.compile(self.train_D) if self.train_D is not None else None
        self.watch = FiniteWatch(self.device)
        if self.replicas.distributed:  # the same initial weights everywhere; dropout per rank
            torch.manual_seed(sample_seed(cfg.seed, -1, self.replicas.ranks.rank))
        opt_G, sched_G = self._optimizer(self._generator_groups())
        opt_D, sched_D = (
            self._optimizer(self.D.parameters()) if self.D is not None else (None, None)
        )
        self.state = TrainingState(self.G, opt_G, sched_G, self.D, opt_D, sched_D)
        self.classes: AbClasses | None = None  # the classification loss, once the data is in
        self.fingerprint = ""  # of the training and validation photos, once they are loaded

    def _optimizer(self, params):
        """Adam with the config's rate and betas, and its :class:`LinearDecay` schedule."""
        cfg = self.cfg
        fused = cfg.fused_adam or None  # None: torch's default (foreach)
        opt = torch.optim.Adam(params, lr=cfg.lr, betas=(cfg.beta1, cfg.beta2), fused=fused)
        return opt, torch.optim.lr_scheduler.LambdaLR(opt, LinearDecay(cfg.epochs, cfg.decay_start))

    def _generator_groups(self) -> list[dict[str, Any]]:
        """G's parameters for Adam: a pretrained part at ``lr × encoder_lr_scale`` (frozen,
        and left out, at 0), the rest at ``lr``."""
        encoder = self.G.pretrained_parameters()
        ids = {id(p) for p in encoder}
        rest = [p for p in self.G.parameters() if id(p) not in ids]
        if not encoder:
            return [{"params": rest}]
        if self.cfg.encoder_lr_scale == 0:
            for p in encoder:
                p.requires_grad_(False)
            return [{"params": rest}]
        return [
            {"params": rest},
            {"params": encoder, "lr": self.cfg.lr * self.cfg.encoder_lr_scale},
        ]

    @property
    def G(self) -> nn.Module:
        return self.nets.G

    @property
    def D(self) -> nn.Module | None:
        return self.nets.D

    @property
    def opt_G(self) -> torch.optim.Optimizer:
        return self.state.opt_G

    @property
    def opt_D(self) -> torch.optim.Optimizer | None:
        return self.state.opt_D

    @property
    def epoch(self) -> int:
        """Epochs completed."""
        return self.state.epoch

    # --- the loop ---------------------------------------------------------------------------

    def fit(self, *, resume: bool = False) -> pd.DataFrame:
        """Train to ``cfg.epochs`` (resuming the saved state when ``resume``), holding the run's
        folders for the whole time (:func:`colorlib.runs.exclusive`)."""
        if not self.replicas.main:  # rank 0 holds the folders for the whole run
            return self._fit(resume)
        what = f"training {self.cfg.model_id}"
        with exclusive(self.paths.models, self.paths.results, what=what):
            try:
                return self._fit(resume)
            finally:
                self.writer.close()

    def _fit(self, resume: bool) -> pd.DataFrame:
        cfg = self.cfg
        if self.paths.state.exists():
            if not resume:
                raise OutputExistsError(
                    f"{self.paths.state} exists: pass resume=True (--resume) to continue it, "
                    f"or delete {self.paths.models} to start over"
                )
            self._restore(self.paths.state)
        evaluation_files(cfg)  # a missing test split is found now, not after training
        with self.replicas.rank_0_first():  # rank 0 decodes into the cache; the others map it
            train, val, self.fingerprint = load_training_data(cfg)
            if self.epoch and self.replicas.main:  # resumed: on the photos it was trained on
                self._require_same_photos()
            if cfg.use_classification:  # the bin prior of the training photos, cached
                self.classes = AbClasses.of(train.images, self.fingerprint, cfg)
        skipped = {reason: len(names) for reason, names in sorted(train.skipped.items())}
        counts = dict(n_train=len(train), n_val=len(val), skipped_train=skipped)
        self._record(status="running", **counts)
        dataset = ColorizationDataset(train, augment=Augmentation.of(cfg), seed=cfg.seed)
        val_batches = list(ColorizationDataset(val).batches(cfg.batch_size))
        log.info(
            "%s: %d train / %d val photos at %d², epochs %d..%d",
            cfg.model_id,
            len(train),
            len(val),
            cfg.image_size,
            self.epoch + 1,
            cfg.epochs,
        )
        if cfg.batch_size > len(train):
            log.warning(
                "%s: batch_size %d is more than the %d training photos: every epoch is one "
                "batch of %d (the run record keeps both numbers)",
                cfg.model_id, cfg.batch_size, len(train), len(train),
            )  # fmt: skip
        while self.epoch < cfg.epochs:
            start = time.perf_counter()
            losses = self._train_epoch(dataset)
            val_l1 = self._validate(val_batches)
            self.state.elapsed += time.perf_counter() - start
            self._end_epoch(losses, val_l1, time.perf_counter() - start, val_batches)
        self.replicas.check_same(self.G, self.D, what=cfg.model_id)
        self._record(status="complete", **counts)
        return pd.DataFrame(self.state.history)

    def _train_epoch(self, dataset: ColorizationDataset) -> dict[str, float]:
        """One pass over this rank's share of the epoch; the mean losses over all ranks."""
        cfg = self.cfg
        dataset.set_epoch(self.epoch)
        order = torch.randperm(
            len(dataset), generator=torch.Generator().manual_seed(cfg.seed + self.epoch)
        )
        plan = self.replicas.batch_plan(order, cfg.batch_size)
        batches = dataset.batches(**plan, device=self.device, num_workers=cfg.num_workers)
        self.G.train()
        if self.D is not None:
            self.D.train()
        sums: dict[str, torch.Tensor] = {}  # on the device, float64: read once per epoch
        seen = 0
        bar = tqdm(
            batches,
            total=math.ceil(len(dataset) / cfg.batch_size),
            desc=f"{cfg.model_id} epoch {self.epoch + 1}/{cfg.epochs}",
            disable=not self.progress,
            leave=False,
        )
        for i, (L, ab) in enumerate(bar, 1):
            losses = self.train_step(L, ab)
            n = L.shape[0]
            seen += n
            for k, v in losses.items():
                sums[k] = sums.get(k, 0.0) + v.double() * n
            if self.state.step % FINITE_CHECK_EVERY == 0:
                self._check_finite()
            if self.progress and i % POSTFIX_EVERY == 0:
                bar.set_postfix({k: f"{float(v) / seen:.4f}" for k, v in sums.items()})
        self._check_finite()
        totals = dict(zip(sums, torch.stack(list(sums.values())).tolist())) if sums else {}
        totals, seen = self.replicas.sum(totals, seen)
        self.replicas.share_buffers(self.G, self.D)
        return {k: v / seen for k, v in totals.items()}

    def train_step(self, L: torch.Tensor, ab: torch.Tensor) -> dict[str, torch.Tensor]:
        """One step on a batch, as pix2pix's ``optimize_parameters``: G's forward, then D's
        update (GAN only, once it has started), then G's. Returns the batch's losses
        (``loss_D``, ``loss_G`` and each term of the generator loss, unweighted) as 0-d
        tensors on the device, detached: the step never waits for the device (``float(v)``
        reads one; a non-finite loss is reported by the loop, :class:`FiniteWatch`)."""
        L, ab = self._to_device(L), self._to_device(ab)
        self.state.step += 1
        with self._autocast():
            fake, logits = self.train_G(L, with_logits=True)
        out: dict[str, torch.Tensor] = {}
        if self.D is not None and LOSS_TERMS["adv"].active(self.cfg, self.epoch):
            out["loss_D"] = self._backward_D(L, ab, fake)
        step = Step(L, ab, fake, logits, D=self.D, classes=self.classes, modules=self.nets.losses)
        self.opt_G.zero_grad(set_to_none=True)
        with self._autocast():
            loss_G, terms = generator_loss(self.cfg, self.epoch, step)
        self.watch.see("generator", self.state.step, loss_G)
        loss_G.backward()
        self.opt_G.step()
        out["loss_G"] = loss_G.detach()
        out.update({k: v.detach() for k, v in terms.items()})
        return out

    def _backward_D(self, L: torch.Tensor, ab: torch.Tensor, fake: torch.Tensor) -> torch.Tensor:
        """D's update on real and (detached) fake pairs; afterwards D is frozen again, since
        G's step needs D's gradient with respect to its input only."""
        self.D.requires_grad_(True)
        self.opt_D.zero_grad(set_to_none=True)
        with self._autocast():
            loss_D = discriminator_loss(self.train_D, L, ab, fake)
        self.watch.see("discriminator", self.state.step, loss_D)
        loss_D.backward()
        self.opt_D.step()
        self.D.requires_grad_(False)
        return loss_D.detach()

    @torch.no_grad()
    def _validate(self, batches: list[tuple[torch.Tensor, torch.Tensor]]) -> float:
        """Mean absolute ab error of the generator (eval mode) over the validation photos."""
        self.G.eval()
        total, count = 0.0, 0  # the sum on the device, float64: read once
        for L, ab in batches:
            total = total + (self._predict(L) - self._to_device(ab)).abs().sum().double()
            count += ab.numel()
        self.G.train()
        return float(total) / count

    def _end_epoch(self, losses, val_l1: float, seconds: float, val_batches) -> None:
        """Step the schedules, log and keep the epoch's row, and hand the epoch to the
        writer (every rank takes part in the RNG gather; rank 0 writes)."""
        cfg, state = self.cfg, self.state
        state.epoch += 1
        lr = self.opt_G.param_groups[0]["lr"]
        for sched in (state.sched_G, state.sched_D):
            if sched is not None:
                sched.step()
        row = {"epoch": state.epoch, "lr": lr, **losses, "val_l1": val_l1, "seconds": seconds}
        state.history.append(row)
        log.info(
            "%s epoch %d/%d: %s",
            cfg.model_id,
            state.epoch,
            cfg.epochs,
            ", ".join(f"{k}={v:.4g}" for k, v in row.items() if k != "epoch"),
        )
        generator = {k: v.detach().cpu() for k, v in self.G.state_dict().items()}
        rng = self.replicas.rng_states()  # every rank's (a collective when data-parallel)
        improved = val_l1 < state.best_val
        if improved:
            state.best_val, state.best_epoch = val_l1, state.epoch
        self.writer.end_epoch(
            state.epoch,
            generator=generator,
            meta={"epoch": state.epoch, "val_l1": val_l1, "weights_sources": self.nets.sources()},
            improved=improved,
            history=state.history,
            samples=lambda: self._samples(val_batches),
            state=lambda: self._state(generator, rng),
        )

    @torch.no_grad()
    def _samples(self, val_batches) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """``(L, ab_true, ab_pred)`` of the first ``val_sample_count`` validation photos."""
        n = self.cfg.val_sample_count
        L, ab = val_batches[0]
        L, ab = L[:n], ab[:n]
        self.G.eval()
        pred = self._predict(L).cpu()
        self.G.train()
        return L, ab, pred

    # --- state ------------------------------------------------------------------------------

    def _state(
        self, generator: dict[str, torch.Tensor], rng: list[dict[str, Any]]
    ) -> dict[str, Any]:
        """The training state's payload: :class:`TrainingState`, every rank's RNG state (a
        data-parallel run also records its world size) and the weight sources."""
        state = self.state.to_dict(generator) | {
            "rng": rng[0],
            "weights_sources": self.nets.sources(),
        }
        if self.replicas.distributed:
            state |= {"world_size": self.replicas.ranks.world_size, "rng_ranks": rng}
        return state

    def _restore(self, path: Path) -> None:
        blob = load_checkpoint(path, kind="training_state")
        _require_resumable(path, blob, self.cfg, self.replicas.ranks.world_size, self.paths)
        self.state.load(blob)
        rank = self.replicas.ranks.rank
        set_rng_state(blob["rng_ranks"][rank] if "rng_ranks" in blob else blob["rng"])
        log.info(
            "resumed %s after epoch %d (step %d)", self.cfg.model_id, self.epoch, self.state.step
        )

    def _require_same_photos(self) -> None:
        """A run resumes on the training photos it started on (their fingerprint in its
        record), or not at all: its data is part of what it is."""
        recorded = read_record(self.paths)
        if recorded and data_changes(recorded, self.fingerprint, None):
            raise ConfigError(
                f"the training photos of {self.cfg.model_id} changed since this run started "
                f"({self.paths.run_json} records dataset fingerprint "
                f"{recorded['dataset']['fingerprint'][:12]}, today's is {self.fingerprint[:12]}):"
                f" restore them, or delete {self.paths.models} to start over on these"
            )

    def _record(
        self, *, status: str, n_train: int, n_val: int, skipped_train: dict[str, int]
    ) -> None:
        state = self.state
        self.writer.record(
            self.device,
            status=status,
            dataset={
                "data_dir": str(self.cfg.data_dir),
                "fingerprint": self.fingerprint,
                "n_train": n_train,
                "n_val": n_val,
                "skipped_train": skipped_train,  # reason -> photos left out, e.g. corrupt
            },
            pretrained_weights=self.nets.sources(),
            epochs_done=state.epoch,
            best_val_l1=state.best_val if state.best_epoch else None,
            best_epoch=state.best_epoch,
            train_wall_time_s=round(state.elapsed, 3),
            world_size=self.replicas.ranks.world_size,
            determinism=self.determinism,
            torch_threads=torch.get_num_threads(),
            **({"ab_classes": self.classes.describe()} if self.classes is not None else {}),
        )

    # --- helpers ----------------------------------------------------------------------------

    def _predict(self, L: torch.Tensor) -> torch.Tensor:
        """The generator's ab for ``L`` (as float32, on the device), in the current mode."""
        with self._autocast():
            return self.G(self._to_device(L)).float()

    def _to_device(self, x: torch.Tensor) -> torch.Tensor:
        x = x.to(self.device, non_blocking=True)
        if self.cuda and self.cfg.channels_last:
            x = x.contiguous(memory_format=torch.channels_last)
        return x

    def _autocast(self):
        if self.cuda:
            return torch.autocast("cuda", dtype=torch.bfloat16, enabled=self.cfg.bf16_autocast)
        return torch.autocast(
            "cpu",
            dtype=torch.bfloat16,
            enabled=self.device.type == "cpu" and self.cfg.cpu_bf16_autocast,
        )

    def _check_finite(self) -> None:
        """Every rank stops when any rank has seen a non-finite loss (:class:`FiniteWatch`):
        before the epoch writes anything, naming the step that went bad."""
        first = self.watch.first_bad()
        bad = self.replicas.flagged_ranks(first is not None)
        if bad:
            where = f" on rank(s) {bad}" if self.replicas.distributed else ""
            kept = self.paths.state if self.paths.state.exists() else "none yet"
            if first is None:  # another rank's
                what = f"non-finite loss{where} at epoch {self.epoch + 1} (this rank: finite)"
            else:
                step, which, value = first
                what = (
                    f"non-finite {which} loss{where} at epoch {self.epoch + 1}, step {step} "
                    f"(this rank: {value})"
                )
            raise NonFiniteLossError(
                f"{self.cfg.model_id}: {what}; last good training state kept: {kept}"
            )


class FiniteWatch:
    """Non-finite losses, found on the device: :meth:`see` records the first bad loss of the
    epoch (its step, which loss, its value) with device operations only, so a step never waits
    for the device; :meth:`first_bad` reads it (one host synchronisation)."""

    WHICH = ("discriminator", "generator")

    def __init__(self, device: torch.device) -> None:
        self.step = torch.zeros((), dtype=torch.long, device=device)  # 0: none yet
        self.which = torch.zeros((), dtype=torch.long, device=device)
        self.value = torch.zeros((), dtype=torch.float64, device=device)

    def see(self, which: str, step: int, loss: torch.Tensor) -> None:
        new = ~torch.isfinite(loss.detach()) & (self.step == 0)
        self.step = torch.where(new, step, self.step)
        self.which = torch.where(new, self.WHICH.index(which), self.which)
        self.value = torch.where(new, loss.detach().double(), self.value)

    def first_bad(self) -> tuple[int, str, float] | None:
        """``(step, which loss, value)`` of the first non-finite loss seen, or None."""
        step = int(self.step)
        return (step, self.WHICH[int(self.which)], float(self.value)) if step else None


def _require_resumable(
    path: Path, blob: dict[str, Any], cfg: ExperimentConfig, world: int, paths: Any
) -> None:
    """Refuse to resume a training state written by another configuration ("what" fields) or
    by another number of processes."""
    saved = blob["config"]
    changed = saved.differs_from(cfg)
    if changed:
        values = "; ".join(
            f"{name}: {getattr(saved, name)!r} there, {getattr(cfg, name)!r} now"
            for name in changed
        )
        raise ConfigError(
            f"{path} was written by a different configuration ({values}); "
            f"resume with the same settings, or delete {paths.models} to start over"
        )
    saved_world = blob.get("world_size", 1)
    if saved_world != world:
        raise ConfigError(
            f"{path} was trained by {saved_world} process(es); resume it with "
            f"{saved_world} (torchrun --nproc_per_node={saved_world}), not "
            f"{world}, or delete {paths.models} to start over"
        )


def train(cfg: ExperimentConfig, *, resume: bool = False, progress: bool = True) -> pd.DataFrame:
    """Train ``cfg`` (resuming when asked); returns the per-epoch history."""
    return Trainer(cfg, progress=progress).fit(resume=resume)
