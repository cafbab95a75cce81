"""Devices, the DDP process group and reproducible batches for :mod:`models.train`.

Under ``torchrun`` (``WORLD_SIZE`` > 1) :func:`process_group` joins the group that torchrun's
environment describes (``RANK``, ``LOCAL_RANK``, ``MASTER_ADDR``...): gloo on CPU, nccl on CUDA,
one GPU per local rank. Alone, it is a no-op and rank 0 of 1.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

import torch
from torch import distributed
from torch.utils.data import DataLoader, Dataset, DistributedSampler, Sampler

from models.errors import ConfigError
from models.layout import DEVICES


@dataclass(frozen=True)
class Placement:
    """Where this process trains: its device and its place in the process group."""

    device: torch.device
    rank: int = 0
    world_size: int = 1

    @property
    def distributed(self) -> bool:
        """True under torchrun with more than one process."""
        return self.world_size > 1


def resolve_device(name: str) -> torch.device:
    """``"cpu"``, ``"cuda"``, or ``"auto"`` (CUDA when available, else CPU).

    Raises:
        ConfigError: an unknown name, or ``"cuda"`` without a usable GPU.
    """
    if name not in DEVICES:
        raise ConfigError(f"device {name!r}: choose one of {', '.join(DEVICES)}")
    if name == "cuda" and not torch.cuda.is_available():
        raise ConfigError("device 'cuda' requested but torch sees no CUDA GPU (CPU-only build or no driver): "
                          "use --device cpu or auto")
    return torch.device("cuda" if name == "cuda" or (name == "auto" and torch.cuda.is_available()) else "cpu")


@contextmanager
def process_group(device: str) -> Iterator[Placement]:
    """This process's :class:`Placement`; under torchrun, a joined process group, left on exit."""
    world_size = int(os.environ.get("WORLD_SIZE", "1"))
    resolved = resolve_device(device)
    if world_size <= 1:
        yield Placement(resolved)
        return
    if resolved.type == "cuda":
        resolved = torch.device("cuda", int(os.environ["LOCAL_RANK"]))
        torch.cuda.set_device(resolved)
    distributed.init_process_group("nccl" if resolved.type == "cuda" else "gloo")
    try:
        yield Placement(resolved, distributed.get_rank(), world_size)
        distributed.barrier()  # no rank leaves while another still writes or reduces
    finally:
        distributed.destroy_process_group()


class EpochBatches(Sampler[list[int]]):
    """The batches of one epoch, identical in every run: a permutation seeded by (seed, epoch)
    (:class:`DistributedSampler`: this rank's share of it), cut into batches, from batch ``skip``.

    Call :meth:`set_epoch` before iterating. ``drop_last`` drops a final incomplete batch.
    """

    def __init__(self, dataset: Dataset, batch_size: int, placement: Placement, *,
                 shuffle: bool, seed: int, drop_last: bool) -> None:
        self.sampler = DistributedSampler(dataset, placement.world_size, placement.rank, shuffle=shuffle, seed=seed)
        self.batch_size = batch_size
        self.drop_last = drop_last
        self.skip = 0

    def set_epoch(self, epoch: int, skip: int = 0) -> None:
        """Choose the epoch's permutation and the number of leading batches to leave out."""
        self.sampler.set_epoch(epoch)
        self.skip = skip

    def batches_per_epoch(self) -> int:
        """Batches of a whole epoch, ``skip`` ignored."""
        count = len(self.sampler)
        return count // self.batch_size if self.drop_last else -(-count // self.batch_size)

    def __iter__(self) -> Iterator[list[int]]:
        indices = list(self.sampler)
        for batch in range(self.skip, self.batches_per_epoch()):
            yield indices[batch * self.batch_size : (batch + 1) * self.batch_size]

    def __len__(self) -> int:
        return self.batches_per_epoch() - self.skip


def make_loader(dataset: Dataset, batches: EpochBatches, placement: Placement, workers: int, seed: int) -> DataLoader:
    """A loader over ``batches``; its own generator leaves the global torch RNG untouched, so a
    resumed run draws the same noise as an uncut one."""
    return DataLoader(
        dataset, batch_sampler=batches, num_workers=workers, persistent_workers=workers > 0,
        pin_memory=placement.device.type == "cuda", generator=torch.Generator().manual_seed(seed),
    )


def reduce_sums(values: dict[str, float], placement: Placement) -> dict[str, float]:
    """``values`` summed over the process group (unchanged alone)."""
    if not placement.distributed:
        return values
    tensor = torch.tensor(list(values.values()), dtype=torch.float64, device=placement.device)
    distributed.all_reduce(tensor)
    return dict(zip(values, tensor.tolist(), strict=True))


def any_rank(flag: bool, placement: Placement) -> bool:
    """True when ``flag`` is true on any rank (ranks agree on stopping at a time limit)."""
    return reduce_sums({"flag": float(flag)}, placement)["flag"] > 0
