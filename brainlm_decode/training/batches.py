"""Shuffled global batches and each process's equal share of them."""

from __future__ import annotations

import math
from collections.abc import Iterator

import torch

__all__ = ["local_shards", "shuffled_batches"]


def shuffled_batches(
    n: int, batch_size: int, generator: torch.Generator, *, equal_sizes: bool = True
) -> list[torch.Tensor]:
    """Shuffled indices ``0 .. n - 1`` split into global batches.

    Parameters
    ----------
    n : int
        Number of examples.
    batch_size : int
        Largest batch.
    generator : torch.Generator
        Source of the shuffle.
    equal_sizes : bool, default=True
        ``True``: ``ceil(n / batch_size)`` batches of nearly equal size (the
        contrastive task is equally hard in every batch); ``False``: batches of
        ``batch_size`` and a smaller last one.

    Returns
    -------
    list of torch.Tensor
    """
    order = torch.randperm(n, generator=generator)
    if equal_sizes:
        return list(torch.tensor_split(order, math.ceil(n / batch_size)))
    return list(torch.split(order, batch_size))


def local_shards(
    batches: list[torch.Tensor], rank: int, world_size: int, *, min_rows: int = 2
) -> Iterator[torch.Tensor]:
    """This process's equal share of each global batch (remainder rows skipped).

    Parameters
    ----------
    batches : list of torch.Tensor
        Global batches (indices), the same on every process.
    rank, world_size : int
        Index of this process and number of processes.
    min_rows : int, default=2
        Global batches whose shared rows (``world_size * n_local``) are fewer than
        this are skipped (2 for a contrastive loss).

    Yields
    ------
    torch.Tensor
        Indices of this process's rows.
    """
    for batch in batches:
        n_local = batch.shape[0] // world_size
        if n_local == 0 or n_local * world_size < min_rows:
            continue
        yield batch[rank * n_local : (rank + 1) * n_local]
