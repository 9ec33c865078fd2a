"""Snapshots of the best weights seen during training (early stopping)."""

from __future__ import annotations

import copy
import math
from typing import Any

__all__ = ["BestWeights"]


class BestWeights:
    """Keep a copy of a model's weights whenever its score improves.

    Parameters
    ----------
    patience : int or None, default=None
        Number of updates without improvement after which :attr:`should_stop`
        becomes true; ``None`` never stops.

    Attributes
    ----------
    best_score : float
        Lowest score seen (``inf`` before the first finite one).
    best_step : int
        0-based index of the update that gave it (-1 before).
    state : dict or None
        Deep copy of the ``state_dict`` at ``best_step``.
    waited : int
        Updates since the last improvement.

    Examples
    --------
    >>> import torch
    >>> model = torch.nn.Linear(2, 1)
    >>> best = BestWeights(patience=1)
    >>> best.update(0.5, model), best.update(0.7, model), best.should_stop
    (True, False, True)
    """

    def __init__(self, patience: int | None = None) -> None:
        self.patience = patience
        self.best_score = math.inf
        self.best_step = -1
        self.state: dict[str, Any] | None = None
        self.waited = 0
        self._n_updates = 0

    def update(self, score: float, model: Any) -> bool:
        """Record ``score``; snapshot ``model``'s weights when it is the lowest.

        Parameters
        ----------
        score : float
            Lower is better (e.g. a validation loss); NaN never improves.
        model : torch.nn.Module
            Model whose ``state_dict`` is copied on improvement.

        Returns
        -------
        bool
            Whether the score improved.
        """
        step = self._n_updates
        self._n_updates += 1
        if score < self.best_score:
            self.best_score, self.best_step, self.waited = score, step, 0
            self.state = copy.deepcopy(model.state_dict())
            return True
        self.waited += 1
        return False

    @property
    def should_stop(self) -> bool:
        """Whether ``patience`` updates passed without improvement."""
        return self.patience is not None and self.waited >= self.patience
