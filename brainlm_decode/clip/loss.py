"""Symmetric InfoNCE (CLIP) loss, with features gathered across processes.

Modelled on open_clip's ``loss.py``: the loss is its own module and receives what the
model returns, ``loss(*model(text, image))``. With several processes (DDP through
``accelerate``/``torchrun``) the features of every process are gathered so that each
pair is contrasted against the **global** batch, not only the local shard.

Distributed gradients
---------------------
With ``local_loss=True`` and ``gather_with_grad=True`` (the defaults) process ``r``
computes the loss of its own rows against all gathered columns, ``L_r``; the
gather is differentiable (the gradient of the gathered matrix is summed over
processes and each process keeps its own slice), and DDP averages parameter
gradients, so the update equals the gradient of ``mean_r L_r``, which is exactly
the loss of the global batch when every process holds the same number of pairs.
"""

from __future__ import annotations

from typing import Any

import torch
import torch.distributed as dist
import torch.nn.functional as F
from torch import nn

__all__ = ["ClipLoss", "clip_loss", "gather_features"]


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


def gather_features(
    text_features: torch.Tensor,
    image_features: torch.Tensor,
    *,
    local_loss: bool = True,
    gather_with_grad: bool = True,
    rank: int = 0,
    world_size: int = 1,
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

    Returns
    -------
    all_text_features, all_image_features : torch.Tensor of shape (n_global, d)
        Rows of process 0, then process 1, and so on.
    """
    if world_size == 1:
        return text_features, image_features
    if not (dist.is_available() and dist.is_initialized()):
        raise RuntimeError(
            f"ClipLoss was given world_size={world_size} but torch.distributed is not "
            "initialised; launch with torchrun/accelerate or use world_size=1."
        )
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


def clip_loss(
    text_features: torch.Tensor,
    image_features: torch.Tensor,
    scale: torch.Tensor | float,
) -> torch.Tensor:
    """Symmetric InfoNCE on ``scale * cos`` for one (non-distributed) batch.

    Parameters
    ----------
    text_features, image_features : torch.Tensor of shape (n, d)
        Unit-norm features; row ``i`` of one is paired with row ``i`` of the other.
    scale : torch.Tensor or float
        Inverse temperature ``exp(logit_scale)``.

    Returns
    -------
    torch.Tensor of shape ()
        ``(CE(logits, arange(n)) + CE(logits.T, arange(n))) / 2`` with
        ``logits = scale * text_features @ image_features.T``.
    """
    logits = scale * text_features @ image_features.T
    labels = torch.arange(logits.shape[0], device=logits.device)
    return (F.cross_entropy(logits, labels) + F.cross_entropy(logits.T, labels)) / 2


class ClipLoss(nn.Module):
    """Symmetric InfoNCE (CLIP) loss on scaled cosine similarities.

    ``loss = (CE_rows + CE_columns) / 2`` where ``logits = scale * T @ I.T`` for unit
    norm text features ``T`` and image features ``I``, the true pairs lying on the
    diagonal: the mean of the text-to-image and image-to-text cross-entropies.

    Parameters
    ----------
    local_loss : bool, default=True
        With several processes, compute the loss of the local rows against the
        gathered global batch (see the module docstring).
    gather_with_grad : bool, default=True
        Differentiable all-gather (exact gradients).
    rank : int, default=0
        Index of this process (``accelerator.process_index``).
    world_size : int, default=1
        Number of processes (``accelerator.num_processes``); 1 disables gathering.

    Examples
    --------
    >>> import torch
    >>> features = torch.eye(3)
    >>> loss = ClipLoss()(features, features, torch.tensor(100.0))
    >>> float(loss) < 1e-6
    True
    """

    def __init__(
        self,
        local_loss: bool = True,
        gather_with_grad: bool = True,
        rank: int = 0,
        world_size: int = 1,
    ):
        super().__init__()
        if world_size < 1 or not 0 <= rank < world_size:
            raise ValueError(
                "ClipLoss needs world_size >= 1 and 0 <= rank < world_size. "
                f"Got rank={rank!r}, world_size={world_size!r}."
            )
        self.local_loss = local_loss
        self.gather_with_grad = gather_with_grad
        self.rank = rank
        self.world_size = world_size

    def forward(
        self,
        text_features: torch.Tensor,
        image_features: torch.Tensor,
        scale: torch.Tensor | float,
    ) -> torch.Tensor:
        """Loss of a batch of paired features.

        Parameters
        ----------
        text_features, image_features : torch.Tensor of shape (n_local, d)
            Unit-norm features of this process, row ``i`` paired with row ``i``.
        scale : torch.Tensor or float
            Inverse temperature ``exp(logit_scale)`` (third output of
            :class:`~brainlm_decode.clip.model.CLIPModel`).

        Returns
        -------
        torch.Tensor of shape ()
            The symmetric InfoNCE loss (of the local rows against the global batch
            when ``local_loss`` and ``world_size > 1``).
        """
        if text_features.shape != image_features.shape:
            raise ValueError(
                "ClipLoss needs text and image features of the same shape. Got "
                f"{tuple(text_features.shape)} and {tuple(image_features.shape)}."
            )
        if self.world_size == 1:
            return clip_loss(text_features, image_features, scale)
        all_text, all_image = gather_features(
            text_features,
            image_features,
            local_loss=self.local_loss,
            gather_with_grad=self.gather_with_grad,
            rank=self.rank,
            world_size=self.world_size,
        )
        if not self.local_loss:
            return clip_loss(all_text, all_image, scale)
        n_local = text_features.shape[0]
        labels = torch.arange(n_local, device=text_features.device)
        labels = labels + n_local * self.rank
        logits_per_text = scale * text_features @ all_image.T
        logits_per_image = scale * image_features @ all_text.T
        return (
            F.cross_entropy(logits_per_text, labels)
            + F.cross_entropy(logits_per_image, labels)
        ) / 2

    def extra_repr(self) -> str:
        """Summary shown in ``repr(loss)``."""
        return (
            f"local_loss={self.local_loss}, gather_with_grad={self.gather_with_grad}, "
            f"rank={self.rank}, world_size={self.world_size}"
        )
