"""Data loaders that shard across ranks and resume mid-epoch.

Training uses ``DistributedSampler`` (also with one process, so the order of a run does not depend on how
many processes share it: rank ``r`` of ``N`` gets every ``N``-th index of the same permutation, and the
global batch is the same set of samples). ``ResumableSampler`` skips the samples of the steps a resumed
run has done, without loading them. Evaluation shards without padding so no sample is counted twice.
"""

from __future__ import annotations

import itertools
import os
import signal

import torch
from torch.utils.data import DataLoader, DistributedSampler, Sampler

from .base import ImageDataset


class ResumableSampler(Sampler):
    def __init__(self, dataset: ImageDataset, world_size: int, rank: int, seed: int):
        self.inner = DistributedSampler(dataset, num_replicas=world_size, rank=rank, shuffle=True, seed=seed)
        self.skip = 0

    def set_position(self, epoch: int, skip: int = 0) -> None:
        self.inner.set_epoch(epoch)
        self.skip = skip

    def __iter__(self):
        return itertools.islice(iter(self.inner), self.skip, None)

    def __len__(self) -> int:
        return len(self.inner) - self.skip


class ShardSampler(Sampler):
    def __init__(self, size: int, world_size: int, rank: int):
        self.indices = range(rank, size, world_size)

    def __iter__(self):
        return iter(self.indices)

    def __len__(self) -> int:
        return len(self.indices)


def _leave_stops_to_the_main_process(_worker_id: int) -> None:
    """A worker ignores SIGINT and SIGTERM: a signal sent to the whole process group (``timeout``, ``kill --
    -PGID``, a batch scheduler, Ctrl-C) reaches the workers too, and a worker that died of it would make the
    loader raise before the main process could finish its step, save and exit 130. The main process shuts the
    workers down as it exits, and they stop by themselves if it dies."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, signal.SIG_IGN)


def default_workers() -> int:
    return min(4, max(0, (os.cpu_count() or 1) - 1))


def build_loader(
    dataset: ImageDataset,
    batch_size: int,
    *,
    train: bool,
    seed: int = 0,
    world_size: int = 1,
    rank: int = 0,
    workers: int = 0,
    pin_memory: bool = False,
    collate_fn=None,
) -> DataLoader:
    """A loader over this rank's share; ``batch_size`` is per rank. Training drops the last partial batch.
    ``collate_fn`` batches items torch's default way unless given (dense targets: ``dense.collate_dense``)."""
    sampler = (
        ResumableSampler(dataset, world_size, rank, seed) if train else ShardSampler(len(dataset), world_size, rank)
    )
    if train and len(sampler) < batch_size:
        raise ValueError(
            f"the training set has {len(dataset)} images, {len(sampler)} per process: fewer than one batch of "
            f"{batch_size}; lower --batch-size"
        )
    return DataLoader(
        dataset,
        batch_size=batch_size,
        sampler=sampler,
        drop_last=train,
        num_workers=workers,
        pin_memory=pin_memory,
        collate_fn=collate_fn,
        worker_init_fn=_leave_stops_to_the_main_process if workers else None,
        # The loader draws its worker base seed from this generator, not from the global torch RNG
        # (whose state a checkpoint restores for dropout / drop-path).
        generator=torch.Generator().manual_seed(seed),
    )


def set_position(loader: DataLoader, epoch: int, skip_batches: int = 0) -> None:
    """Make the next pass over ``loader`` the epoch ``epoch`` from batch ``skip_batches`` on."""
    loader.sampler.set_position(epoch, skip_batches * loader.batch_size)
    loader.dataset.set_epoch(epoch)
