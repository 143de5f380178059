"""The collectives of a data-parallel run, in one object beside :class:`colorlib.runtime.Ranks`.

:class:`Replicas` is what a training loop asks of the other processes: rank 0 first, each
rank's slice of a batch, sums over ranks, rank 0's BatchNorm buffers everywhere, every rank's
RNG state, whether any rank's loss is not finite, and a final check that every rank holds the
same networks. In one process (``WORLD_SIZE`` 1) each of them is the identity, so the loop
reads the same with and without ``torchrun``.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from typing import Any

import torch
import torch.distributed as dist
from torch import nn

from colorlib.errors import ConfigError
from colorlib.runtime import Ranks, join_process_group, rng_state


class Replicas:
    """This process's view of the run's replicas (one per rank)."""

    def __init__(self, ranks: Ranks, device: torch.device) -> None:
        self.ranks, self.device = ranks, device

    @classmethod
    def join(cls, device: torch.device) -> Replicas:
        """Join ``torchrun``'s process group when there is one (:func:`join_process_group`);
        the device becomes this rank's GPU on CUDA."""
        ranks, device = join_process_group(device)
        return cls(ranks, device)

    @property
    def distributed(self) -> bool:
        return self.ranks.distributed

    @property
    def main(self) -> bool:
        """Rank 0: the process that writes the run's files."""
        return self.ranks.main

    # --- set-up -----------------------------------------------------------------------------

    def check_batch(self, batch_size: int) -> None:
        """The global batch must split into equal per-rank slices."""
        world = self.ranks.world_size
        if batch_size % world:
            raise ConfigError(
                f"batch_size {batch_size} (the global batch) does not split into "
                f"{world} equal per-rank slices; choose a multiple of {world}"
            )

    def wrap(self, net: nn.Module) -> tuple[nn.Module, nn.Module]:
        """``(net, what the training forward calls)``: in one process the network twice; across
        ranks, ``net`` with SyncBatchNorm on CUDA and its ``DistributedDataParallel`` wrapper
        (which broadcasts rank 0's initial weights)."""
        if not self.distributed:
            return net, net
        from torch.nn.parallel import DistributedDataParallel

        cuda = self.device.type == "cuda"
        if cuda:
            net = nn.SyncBatchNorm.convert_sync_batchnorm(net)
        return net, DistributedDataParallel(net, device_ids=[self.device.index] if cuda else None)

    @contextlib.contextmanager
    def rank_0_first(self) -> Iterator[None]:
        """Rank 0 runs the block before every other rank (e.g. decoding into the cache)."""
        if self.distributed and not self.main:
            dist.barrier()
        yield
        if self.distributed and self.main:
            dist.barrier()

    # --- per epoch --------------------------------------------------------------------------

    def batch_plan(self, order: torch.Tensor, batch_size: int) -> dict[str, Any]:
        """The keyword arguments of :meth:`ColorizationDataset.batches` for this rank: every
        batch of the epoch's permutation ``order``, or this rank's slice of each."""
        if not self.distributed:
            return dict(batch_size=batch_size, order=order.tolist())
        world, rank = self.ranks.world_size, self.ranks.rank
        share = [c.tensor_split(world)[rank].tolist() for c in order.split(batch_size)]
        return dict(batch_indices=[b for b in share if b])

    def sum(self, sums: dict[str, float], seen: int) -> tuple[dict[str, float], int]:
        """Loss sums and sample counts added over all ranks (the same keys on every rank)."""
        if not self.distributed:
            return sums, seen
        keys = sorted(sums)
        t = torch.tensor([sums[k] for k in keys] + [seen], dtype=torch.float64).to(self.device)
        dist.all_reduce(t)
        values = t.cpu().tolist()
        return dict(zip(keys, values[:-1])), int(values[-1])

    def share_buffers(self, *nets: nn.Module | None) -> None:
        """Rank 0's BatchNorm running statistics to every rank: after an epoch every rank
        holds exactly rank 0's networks (validation, checkpoints, the next epoch)."""
        if not self.distributed:
            return
        for net in nets:
            if net is not None:
                for buffer in net.buffers():
                    dist.broadcast(buffer, 0)

    def rng_states(self) -> list[dict[str, Any]]:
        """Every rank's RNG state, in rank order (this process's alone when not parallel)."""
        if not self.distributed:
            return [rng_state()]
        states: list[Any] = [None] * self.ranks.world_size
        dist.all_gather_object(states, rng_state())
        return states

    def flagged_ranks(self, flag: bool) -> list[int]:
        """The ranks on which ``flag`` is set (every rank learns of every other's)."""
        if not self.distributed:
            return [0] if flag else []
        flags = torch.zeros(self.ranks.world_size, device=self.device)
        flags[self.ranks.rank] = float(flag)
        dist.all_reduce(flags)
        return flags.nonzero().flatten().tolist()

    def check_same(self, *nets: nn.Module | None, what: str) -> None:
        """Every rank ends with rank 0's weights, or the run is wrong: refuse to call it done
        (an internal error, not the user's: it keeps its traceback)."""
        if not self.distributed:
            return
        mine = torch.cat(
            [t.detach().double().flatten() for n in nets if n for t in n.state_dict().values()]
        )
        reference = mine.clone()
        dist.broadcast(reference, 0)
        same = torch.tensor([float(torch.equal(mine, reference))], device=self.device)
        dist.all_reduce(same, op=dist.ReduceOp.MIN)
        if not same.item():
            raise RuntimeError(
                f"{what}: the ranks' networks differ after training; the data-parallel run is "
                "not consistent and is not recorded as complete"
            )
