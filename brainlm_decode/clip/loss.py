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

import torch
import torch.nn.functional as F
from torch import nn

from brainlm_decode.training.distributed import gather_features

__all__ = ["ClipLoss", "clip_loss"]


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
