"""Text alignment of the fMRI tokenizer: gradient reversal, discriminator, SigLIP.

fMRI-LM aligns the tokenizer's features with language in two ways:

- **Domain-adversarial** (Ganin & Lempitsky 2015): fMRI token embeddings,
  projected to the width of the language model, pass through a
  :class:`GradientReversal` layer into a small :class:`DomainDiscriminator` that
  tells them from the text-token embeddings of the frozen language model. The
  discriminator minimises its binary cross-entropy; the reversed gradient makes
  the encoder maximise it, so fMRI embeddings drift towards the text-embedding
  distribution. The reversal coefficient follows :func:`grl_schedule`
  (``2 / (1 + exp(-gamma p)) - 1`` over training progress ``p``, DANN's).
- **Contrastive** (SigLIP, Zhai et al. 2023): the pooled fMRI embedding of each
  subject against the text embedding of its descriptor paragraph,
  :func:`siglip_loss` with a learnable log-temperature (initialised at
  ``log 10``) and bias (initialised at ``-10``), gathered across processes.
"""

from __future__ import annotations

import math
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from brainlm_decode.training.distributed import gather_rows

__all__ = [
    "DomainDiscriminator",
    "GradientReversal",
    "SigLIPLoss",
    "adversarial_loss",
    "grad_reverse",
    "grl_schedule",
    "siglip_loss",
]


class _ReverseGrad(torch.autograd.Function):
    """Identity forward; gradient multiplied by ``-coefficient`` backward."""

    @staticmethod
    def forward(ctx: Any, x: torch.Tensor, coefficient: float) -> torch.Tensor:
        ctx.coefficient = float(coefficient)
        return x.view_as(x)

    @staticmethod
    def backward(ctx: Any, grad_output: torch.Tensor) -> tuple[torch.Tensor, None]:
        return -ctx.coefficient * grad_output, None


def grad_reverse(x: torch.Tensor, coefficient: float = 1.0) -> torch.Tensor:
    """Gradient reversal: ``x`` forward, ``-coefficient * grad`` backward.

    Parameters
    ----------
    x : torch.Tensor
        Input.
    coefficient : float, default=1.0
        Scale of the reversed gradient (``lambda`` of DANN).

    Returns
    -------
    torch.Tensor
        A view of ``x``.

    Examples
    --------
    >>> import torch
    >>> x = torch.ones(3, requires_grad=True)
    >>> grad_reverse(x, 0.5).sum().backward()
    >>> x.grad
    tensor([-0.5000, -0.5000, -0.5000])
    """
    return _ReverseGrad.apply(x, coefficient)


class GradientReversal(nn.Module):
    """Gradient reversal layer with a settable coefficient.

    Parameters
    ----------
    coefficient : float, default=1.0
        Scale of the reversed gradient; the trainer updates it every step from
        :func:`grl_schedule`.
    """

    def __init__(self, coefficient: float = 1.0) -> None:
        super().__init__()
        self.coefficient = float(coefficient)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """``x`` unchanged; gradients reversed and scaled in the backward pass."""
        return grad_reverse(x, self.coefficient)

    def extra_repr(self) -> str:
        """Summary shown in ``repr``."""
        return f"coefficient={self.coefficient:g}"


def grl_schedule(
    progress: float, *, schedule: str = "dann", gamma: float = 10.0
) -> float:
    """Coefficient of the gradient reversal layer at a point of training.

    Parameters
    ----------
    progress : float
        Fraction of training done, in ``[0, 1]`` (step / total steps).
    schedule : {"dann", "constant"}, default="dann"
        ``"dann"``: ``2 / (1 + exp(-gamma * progress)) - 1``, rising from 0 to
        about 1 (Ganin & Lempitsky 2015), so the noisy early discriminator does
        not disturb the encoder; ``"constant"``: always 1.
    gamma : float, default=10.0
        Steepness of the ``"dann"`` schedule.

    Returns
    -------
    float

    Examples
    --------
    >>> grl_schedule(0.0), round(grl_schedule(1.0), 4)
    (0.0, 0.9999)
    """
    if schedule == "constant":
        return 1.0
    if schedule != "dann":
        raise ValueError(
            "The 'schedule' argument of grl_schedule must be 'dann' or 'constant'. "
            f"Got {schedule!r} instead."
        )
    progress = min(max(float(progress), 0.0), 1.0)
    return 2.0 / (1.0 + math.exp(-gamma * progress)) - 1.0


class DomainDiscriminator(nn.Module):
    """Small MLP telling fMRI token embeddings (label 0) from text tokens (label 1).

    ``Linear(width, hidden) -> GELU -> Linear(hidden, hidden) -> GELU ->
    Linear(hidden, 1)``, returning logits.

    Parameters
    ----------
    width : int
        Width of the embeddings (the language model's hidden size).
    hidden : int, default=256
        Hidden width.
    """

    def __init__(self, width: int, hidden: int = 256) -> None:
        super().__init__()
        self.net = nn.Sequential(
            nn.Linear(width, hidden),
            nn.GELU(),
            nn.Linear(hidden, hidden),
            nn.GELU(),
            nn.Linear(hidden, 1),
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Logits of shape ``(n,)`` for embeddings of shape ``(n, width)``."""
        return self.net(x).squeeze(-1)


def adversarial_loss(
    fmri_logits: torch.Tensor, text_logits: torch.Tensor
) -> torch.Tensor:
    """Balanced binary cross-entropy of the domain discriminator.

    Parameters
    ----------
    fmri_logits : torch.Tensor of shape (n_fmri,)
        Discriminator logits of fMRI token embeddings (target 0).
    text_logits : torch.Tensor of shape (n_text,)
        Discriminator logits of text-token embeddings (target 1).

    Returns
    -------
    torch.Tensor of shape ()
        Mean of the two domains' mean BCE (``log 2`` at chance).
    """
    fmri = F.binary_cross_entropy_with_logits(
        fmri_logits, torch.zeros_like(fmri_logits)
    )
    text = F.binary_cross_entropy_with_logits(text_logits, torch.ones_like(text_logits))
    return (fmri + text) / 2


def siglip_loss(
    fmri_features: torch.Tensor,
    text_features: torch.Tensor,
    logit_scale: torch.Tensor,
    logit_bias: torch.Tensor,
    *,
    offset: int = 0,
) -> torch.Tensor:
    """Sigmoid (SigLIP) loss of paired features.

    ``logits = exp(logit_scale) * F @ T.T + logit_bias``; pair ``(i, j)`` has
    label ``+1`` when row ``i`` of ``F`` is paired with row ``j`` of ``T``
    (``j = i + offset``), else ``-1``; the loss is
    ``-sum(log sigmoid(label * logits)) / n_rows``, as in Zhai et al. (2023).

    Parameters
    ----------
    fmri_features : torch.Tensor of shape (n, d)
        Unit-norm fMRI embeddings (the local rows).
    text_features : torch.Tensor of shape (m, d)
        Unit-norm text embeddings (all columns, ``m >= n + offset``).
    logit_scale : torch.Tensor of shape ()
        Log inverse temperature.
    logit_bias : torch.Tensor of shape ()
        Bias of the logits.
    offset : int, default=0
        Column of the first local row's positive pair (rank * n_local when the
        columns are gathered from several processes).

    Returns
    -------
    torch.Tensor of shape ()
    """
    logits = logit_scale.exp() * fmri_features @ text_features.T + logit_bias
    n = fmri_features.shape[0]
    labels = -torch.ones_like(logits)
    rows = torch.arange(n, device=logits.device)
    labels[rows, rows + offset] = 1.0
    return -F.logsigmoid(labels * logits).sum() / n


class SigLIPLoss(nn.Module):
    """SigLIP loss with a learnable log-temperature and bias.

    Parameters
    ----------
    init_logit_scale : float, default=log(10)
        Initial log inverse temperature (SigLIP: ``log 10``).
    init_logit_bias : float, default=-10.0
        Initial bias (SigLIP: -10, which starts the loss close to its value
        when most pairs are negatives).

    Attributes
    ----------
    logit_scale, logit_bias : torch.nn.Parameter
        Scalars.

    Notes
    -----
    With several processes, the (frozen) text features of every process are
    gathered and each process computes the loss of its local fMRI rows against
    all of them; the mean over processes is the global-batch loss, so
    data-parallel gradient averaging gives exactly its gradient.
    """

    def __init__(
        self, init_logit_scale: float = math.log(10.0), init_logit_bias: float = -10.0
    ) -> None:
        super().__init__()
        self.logit_scale = nn.Parameter(torch.tensor(float(init_logit_scale)))
        self.logit_bias = nn.Parameter(torch.tensor(float(init_logit_bias)))

    def forward(
        self,
        fmri_features: torch.Tensor,
        text_features: torch.Tensor,
        *,
        rank: int = 0,
        world_size: int = 1,
    ) -> torch.Tensor:
        """Loss of the local rows against the (gathered) text features.

        Parameters
        ----------
        fmri_features, text_features : torch.Tensor of shape (n_local, d)
            Unit-norm paired features of this process.
        rank, world_size : int
            Process index and count; ``world_size > 1`` gathers text features.

        Returns
        -------
        torch.Tensor of shape ()
        """
        if world_size > 1:
            text_features = gather_rows(text_features, world_size, owner="SigLIPLoss")
        offset = rank * fmri_features.shape[0] if world_size > 1 else 0
        return siglip_loss(
            fmri_features,
            text_features,
            self.logit_scale,
            self.logit_bias,
            offset=offset,
        )
