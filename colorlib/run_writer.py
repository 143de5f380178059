"""Everything a training run writes, over its :class:`colorlib.runs.RunPaths`.

After each epoch, in this order: ``best_model.pt`` when validation improved, the interval
checkpoint and its validation sample grid, the history CSV and PNG, and last the training
state, which is the epoch's commit point (a run killed before it resumes from the previous
epoch). And the run's record ``run.json`` (:func:`colorlib.runs.record_run`) at the start and
the end of training. In a data-parallel run only rank 0 writes: the other ranks' writer is
built with ``active=False`` and writes nothing.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pandas as pd
import torch

from colorlib.atomic import write_csv
from colorlib.checkpoints import save_checkpoint
from colorlib.config import ExperimentConfig
from colorlib.plots import plot_history, sample_grid
from colorlib.runs import RunPaths, record_run


class RunWriter:
    """The files of one configuration's training run (rank 0's; inactive elsewhere)."""

    def __init__(self, cfg: ExperimentConfig, *, active: bool = True) -> None:
        self.cfg, self.active = cfg, active
        self.paths = RunPaths.of(cfg)

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
        when it is written."""
        if not self.active:
            return
        cfg, paths = self.cfg, self.paths
        if improved:
            save_checkpoint(paths.best, "generator", cfg, generator=generator, **meta)
        if self.samples_due(epoch):
            save_checkpoint(paths.checkpoint(epoch), "generator", cfg, generator=generator, **meta)
            L, ab, pred = samples()
            sample_grid(
                L,
                {"ground truth": ab, f"{cfg.model_id} epoch {epoch}": pred},
                paths.val_samples(epoch),
                title=f"{cfg.model_id}: validation samples, epoch {epoch}",
            )
        frame = pd.DataFrame(history)
        write_csv(frame, paths.history_csv, index=False)
        plot_history(frame, paths.history_png, f"{cfg.model_id}: training history")
        # the training state is written last: it is the commit point of the epoch
        save_checkpoint(paths.state, "training_state", cfg, **state())

    def record(self, device: torch.device, **sections: Any) -> None:
        """A fresh ``run.json`` for the run (the config, provenance and ``sections``)."""
        if self.active:
            record_run(self.cfg, device, fresh=True, **sections)
