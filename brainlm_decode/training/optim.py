"""The optimiser and the learning-rate schedule of every training loop."""

from __future__ import annotations

import math
from typing import Any

import torch

__all__ = ["cosine_schedule", "make_optimizer"]


def make_optimizer(
    model: Any, learning_rate: float, weight_decay: float
) -> torch.optim.Optimizer:
    """AdamW over the trainable parameters, weight decay on weight matrices only.

    Biases, norms and scalars such as ``logit_scale`` are not decayed (as in
    open_clip): decaying ``logit_scale`` would pull the temperature to 1.

    Parameters
    ----------
    model : torch.nn.Module
        Its parameters with ``requires_grad`` are optimised.
    learning_rate : float
        AdamW learning rate.
    weight_decay : float
        Weight decay of the parameters with two or more dimensions.

    Returns
    -------
    torch.optim.AdamW

    Raises
    ------
    ValueError
        When the model has no trainable parameter.
    """
    params = [p for p in model.parameters() if p.requires_grad]
    if not params:
        raise ValueError("The model has no trainable parameters.")
    return torch.optim.AdamW(
        [
            {
                "params": [p for p in params if p.ndim >= 2],
                "weight_decay": weight_decay,
            },
            {"params": [p for p in params if p.ndim < 2], "weight_decay": 0.0},
        ],
        lr=learning_rate,
    )


def cosine_schedule(
    step: int, total: int, learning_rate: float, min_learning_rate: float
) -> float:
    """Learning rate at ``step`` of a cosine decay from the maximum to the minimum.

    Parameters
    ----------
    step, total : int
        0-based step and number of steps.
    learning_rate, min_learning_rate : float
        Rates at the first and at the last step.

    Returns
    -------
    float

    Examples
    --------
    >>> cosine_schedule(0, 11, 5e-4, 5e-5), cosine_schedule(10, 11, 5e-4, 5e-5)
    (0.0005, 5e-05)
    """
    if total <= 1:
        return float(learning_rate)
    progress_ = min(max(step, 0), total - 1) / (total - 1)
    cosine = 0.5 * (1.0 + math.cos(math.pi * progress_))
    return float(min_learning_rate + (learning_rate - min_learning_rate) * cosine)
