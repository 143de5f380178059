"""Everything a training run writes, over its :class:`colorlib.runs.RunPaths`.

After each epoch the history CSV (and, with ``tensorboard=True``, the epoch's TensorBoard
events: :class:`Events`); at every ``checkpoint_every`` epochs and the last (the commit
epochs), in this order: ``best_model.pt`` when validation improved since the previous commit,
the interval checkpoint and its validation sample grid, the history PNG, and last the training
state, the commit point (a run stopped before it resumes from the previous one:
:meth:`RunWriter.end_epoch`). And the run's record ``run.json``
(:func:`colorlib.runs.record_run`) at the start and the end of training. In a data-parallel
run only rank 0 writes: the other ranks' writer is built with ``active=False`` and writes
nothing.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
import pandas as pd
import torch

from colorlib.atomic import write_csv
from colorlib.checkpoints import save_checkpoint
from colorlib.config import ExperimentConfig
from colorlib.plots import image_grid, plot_history, sample_panels
from colorlib.runs import RunPaths, record_run


class Events:
    """The run's TensorBoard events (``results/{ID}/tensorboard/``, through
    ``torch.utils.tensorboard``), step = epoch (1-based): every column of the training history
    but ``epoch`` as a scalar (``loss/{term}``, ``val/l1``, ``lr``, ``seconds``) and, at the
    epochs that write a sample grid, that grid's gray inputs, truths and predictions as one
    image (``val/samples``). Flushed after every epoch. A resumed run opens the folder with
    ``purge_step`` = its next epoch, so events of epochs after the last commit point (a run
    killed between the two) are discarded by TensorBoard instead of shown twice."""

    def __init__(self, paths: RunPaths) -> None:
        self.paths, self.writer = paths, None

    def epoch(self, row: dict[str, float], panels: dict[str, np.ndarray] | None = None) -> None:
        """Write one history ``row`` and, when given, the sample grid's ``panels``
        (:func:`colorlib.plots.sample_panels`): one row per image, the columns side by side."""
        from torch.utils.tensorboard import SummaryWriter

        step = int(row["epoch"])
        if self.writer is None:
            self.writer = SummaryWriter(str(self.paths.tensorboard), purge_step=step)
        for key, value in row.items():
            if key != "epoch":
                self.writer.add_scalar(_tag(key), value, step)
        if panels is not None:
            rows = [np.concatenate(images, axis=1) for images in zip(*panels.values())]
            self.writer.add_image("val/samples", np.concatenate(rows, axis=0), step,
                                  dataformats="HWC")  # fmt: skip
        self.writer.flush()

    def close(self) -> None:
        if self.writer is not None:
            self.writer.close()
            self.writer = None


def _tag(column: str) -> str:
    """The TensorBoard tag of a history column: ``val_l1`` -> ``val/l1``, ``l1`` -> ``loss/l1``."""
    if column.startswith("val_"):
        return "val/" + column[len("val_") :]
    return column if column in ("lr", "seconds") else f"loss/{column}"


class RunWriter:
    """The files of one configuration's training run (rank 0's; inactive elsewhere)."""

    def __init__(self, cfg: ExperimentConfig, *, active: bool = True) -> None:
        self.cfg, self.active = cfg, active
        self.paths = RunPaths.of(cfg)
        self.events = Events(self.paths) if active and cfg.tensorboard else None
        # the best generator since the last commit and its metadata, written at the next one
        self.best: tuple[dict[str, torch.Tensor], dict[str, Any]] | None = None

    def samples_due(self, epoch: int) -> bool:
        """Whether ``epoch`` (1-based) writes an interval checkpoint and a sample grid."""
        return self.active and (epoch % self.cfg.checkpoint_every == 0 or epoch == self.cfg.epochs)

    def end_epoch(
        self,
        epoch: int,
        *,
        generator: dict[str, torch.Tensor],
        meta: dict[str, Any],
        improved: bool,
        history: list[dict[str, float]],
        samples: Callable[[], tuple[torch.Tensor, torch.Tensor, torch.Tensor]],
        state: Callable[[], dict[str, Any]],
    ) -> None:
        """Write epoch ``epoch``'s files. ``samples()`` gives the validation grid's
        ``(L, ab_true, ab_pred)`` and ``state()`` the training state: each is called only
        when it is written.

        Every epoch: the history CSV (and the TensorBoard events). At a commit epoch
        (:meth:`samples_due`: every ``checkpoint_every`` epochs, and the last): the best
        generator found since the previous commit (``best_model.pt``; it waits in memory until
        then), the interval checkpoint and its sample grid, the history PNG, and last the
        training state, the commit point. A run stopped between two commits (kill -9, a
        signal, a non-finite loss) resumes from the last one and trains the lost epochs again,
        bit-identically on the CPU, finding the same best generator."""
        if not self.active:
            return
        cfg, paths = self.cfg, self.paths
        if improved:  # a copy: on the CPU the state dict's tensors are the live parameters
            self.best = ({k: v.clone() for k, v in generator.items()}, dict(meta))
        frame = pd.DataFrame(history)
        write_csv(frame, paths.history_csv, index=False)
        commit = self.samples_due(epoch)
        panels = None  # the grid's images, converted once for the PNG and the events
        if commit:
            if self.best is not None:
                best, best_meta = self.best
                save_checkpoint(paths.best, "generator", cfg, generator=best, **best_meta)
                self.best = None
            save_checkpoint(paths.checkpoint(epoch), "generator", cfg, generator=generator, **meta)
            L, ab, pred = samples()
            panels = sample_panels(L, {"ground truth": ab, f"{cfg.model_id} epoch {epoch}": pred})
            image_grid(
                panels,
                paths.val_samples(epoch),
                title=f"{cfg.model_id}: validation samples, epoch {epoch}",
            )
            plot_history(frame, paths.history_png, f"{cfg.model_id}: training history")
        if self.events is not None:
            self.events.epoch(history[-1], panels)
        if commit:  # the training state is written last: it is the commit point
            save_checkpoint(paths.state, "training_state", cfg, **state())

    def close(self) -> None:
        """Close what stays open across epochs (the TensorBoard events)."""
        if self.events is not None:
            self.events.close()

    def record(self, device: torch.device, **sections: Any) -> None:
        """A fresh ``run.json`` for the run (the config, provenance and ``sections``)."""
        if self.active:
            record_run(self.cfg, device, fresh=True, **sections)
