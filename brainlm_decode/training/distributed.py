"""All-gathers across training processes (``torch.distributed``)."""

from __future__ import annotations

from typing import Any

import torch
import torch.distributed as dist

__all__ = ["gather_features", "gather_rows"]


class _AllGather(torch.autograd.Function):
    """Differentiable all-gather along dimension 0 (equal sizes on every process)."""

    @staticmethod
    def forward(ctx: Any, tensor: torch.Tensor) -> torch.Tensor:
        world_size, rank = dist.get_world_size(), dist.get_rank()
        ctx.rank, ctx.n_local = rank, tensor.shape[0]
        gathered = [torch.empty_like(tensor) for _ in range(world_size)]
        dist.all_gather(gathered, tensor.contiguous())
        return torch.cat(gathered, dim=0)

    @staticmethod
    def backward(ctx: Any, grad_output: torch.Tensor) -> torch.Tensor:
        grad = grad_output.contiguous().clone()
        dist.all_reduce(grad, op=dist.ReduceOp.SUM)
        start = ctx.rank * ctx.n_local
        return grad[start : start + ctx.n_local]


def _check_initialised(world_size: int, owner: str) -> None:
    if not (dist.is_available() and dist.is_initialized()):
        raise RuntimeError(
            f"{owner} was given world_size={world_size} but torch.distributed is not "
            "initialised; launch with torchrun/accelerate or use world_size=1."
        )


def gather_rows(
    features: torch.Tensor, world_size: int, *, owner: str = "gather_rows"
) -> torch.Tensor:
    """Rows of every process, process 0 first, without gradient (frozen features).

    Parameters
    ----------
    features : torch.Tensor of shape (n_local, d)
        This process's rows; every process must hold the same ``n_local``.
    world_size : int
        Number of processes; ``1`` returns ``features`` unchanged.
    owner : str, default="gather_rows"
        Name of the caller, used in the error message.

    Returns
    -------
    torch.Tensor of shape (world_size * n_local, d)
    """
    if world_size == 1:
        return features
    _check_initialised(world_size, owner)
    parts = [torch.empty_like(features) for _ in range(world_size)]
    with torch.no_grad():
        dist.all_gather(parts, features.detach().contiguous())
    return torch.cat(parts, dim=0)


def gather_features(
    text_features: torch.Tensor,
    image_features: torch.Tensor,
    *,
    local_loss: bool = True,
    gather_with_grad: bool = True,
    rank: int = 0,
    world_size: int = 1,
    owner: str = "ClipLoss",
) -> tuple[torch.Tensor, torch.Tensor]:
    """Concatenate the features of every process (open_clip's ``gather_features``).

    Parameters
    ----------
    text_features, image_features : torch.Tensor of shape (n_local, d)
        Features of this process; every process must hold the same ``n_local``.
    local_loss : bool, default=True
        Whether the caller computes the loss of its local rows only. Without it and
        without ``gather_with_grad``, this process's slice of the gathered matrices
        is replaced by the local (differentiable) features.
    gather_with_grad : bool, default=True
        Differentiable gather (exact gradients of the global-batch loss).
    rank : int, default=0
        Index of this process.
    world_size : int, default=1
        Number of processes; ``1`` returns the inputs unchanged.
    owner : str, default="ClipLoss"
        Name of the caller, used in the error message.

    Returns
    -------
    all_text_features, all_image_features : torch.Tensor of shape (n_global, d)
        Rows of process 0, then process 1, and so on.
    """
    if world_size == 1:
        return text_features, image_features
    _check_initialised(world_size, owner)
    if gather_with_grad:
        return _AllGather.apply(text_features), _AllGather.apply(image_features)
    gathered = []
    for features in (text_features, image_features):
        parts = [torch.empty_like(features) for _ in range(world_size)]
        with torch.no_grad():
            dist.all_gather(parts, features.contiguous())
        if not local_loss:
            parts[rank] = features  # keep the gradient of the local slice
        gathered.append(torch.cat(parts, dim=0))
    return gathered[0], gathered[1]
