"""Small-cohort options of :class:`~brainlm_decode.FMRILMClassifier`.

- ``head="probe"``: the backbone stays frozen (no Stage 3); a logistic
  regression per target is fitted on the pooled hidden states
  (:meth:`~brainlm_decode.lm.core.FMRILMBase.embed`: mean over the fMRI tokens
  and the last prompt token; the descriptor text is in the prompt with
  ``descriptor_context=True``).
- Early stopping of Stage 3 (``validation_fraction``): an inner stratified
  validation split scored after each epoch by the class-balanced log-loss of
  the answers; the best epoch's trainable weights are restored.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

__all__ = ["EarlyStopping", "fit_probes", "probe_proba", "validation_split"]

#: Penalties tried by the probe's inner cross-validation (``probe_C=None``).
PROBE_CS = (1e-4, 1e-3, 1e-2, 1e-1, 1.0)


def _probe(C: float | None, class_weight: Any, random_state: Any) -> Any:
    from sklearn.linear_model import LogisticRegression
    from sklearn.model_selection import GridSearchCV, StratifiedKFold
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    model = LogisticRegression(
        C=1.0 if C is None else C, class_weight=class_weight, max_iter=2000
    )
    if C is None:
        seed = random_state if isinstance(random_state, int) else 0
        model = GridSearchCV(
            model,
            {"C": list(PROBE_CS)},
            cv=StratifiedKFold(3, shuffle=True, random_state=seed),
            scoring="neg_log_loss",
        )
    return make_pipeline(StandardScaler(), model)


def fit_probes(
    estimator: Any, X: Any, frame: pd.DataFrame, attributes: Any
) -> dict[str, Any]:
    """One logistic probe per target on the pooled hidden states of ``X``.

    Parameters
    ----------
    estimator : FMRILMClassifier
        Fitted up to the model (``model_``), ``head="probe"``.
    X : list of ndarray or 3D array
        Training series.
    frame : DataFrame
        Targets, one column each.
    attributes : DataFrame or None
        Subject attributes.

    Returns
    -------
    dict of str to Pipeline
        StandardScaler + logistic regression per target.
    """
    from brainlm_decode.lm.prompts import questions_for

    probes = {}
    for name in estimator.targets_:
        embedded = estimator.embed(
            X, question=questions_for(name)[0], attributes=attributes
        )
        probe = _probe(
            estimator.probe_C, estimator.class_weight, estimator.random_state
        )
        probes[name] = probe.fit(embedded, frame[name].to_numpy())
    return probes


def probe_proba(estimator: Any, X: Any, name: str, attributes: Any) -> np.ndarray:
    """Class probabilities of target ``name`` (columns in ``classes_`` order)."""
    from brainlm_decode.lm.prompts import questions_for

    embedded = estimator.embed(
        X, question=questions_for(name)[0], attributes=attributes
    )
    probe = estimator.probes_[name]
    proba = probe.predict_proba(embedded)
    order = [list(probe.classes_).index(c) for c in estimator.classes_per_target_[name]]
    return proba[:, order]


def validation_split(
    labels: np.ndarray, fraction: float, seed: int
) -> tuple[np.ndarray, np.ndarray]:
    """Stratified inner train / validation indices (plain split if a class is tiny)."""
    from sklearn.model_selection import train_test_split

    index = np.arange(len(labels))
    _, counts = np.unique(labels, return_counts=True)
    stratify = labels if counts.min() >= 2 else None
    train, val = train_test_split(
        index, test_size=fraction, stratify=stratify, random_state=seed
    )
    return np.sort(train), np.sort(val)


class EarlyStopping:
    """Keep the best epoch's trainable weights by validation loss.

    Parameters
    ----------
    model : torch.nn.Module
        Model whose parameters with ``requires_grad`` are tracked.
    score : callable
        ``score()`` -> validation loss (lower is better).
    patience : int
        Epochs without improvement before stopping.
    """

    def __init__(self, model: Any, score: Any, patience: int) -> None:
        self.model, self.score, self.patience = model, score, int(patience)
        self.best, self.best_epoch, self.losses = np.inf, -1, []
        self._state: dict[str, Any] | None = None

    def __call__(self, epoch: int) -> bool:
        """Score after ``epoch``; True to stop."""
        loss = float(self.score())
        self.losses.append(loss)
        if loss < self.best - 1e-6:
            self.best, self.best_epoch = loss, epoch
            self._state = {
                k: p.detach().clone()
                for k, p in self.model.named_parameters()
                if p.requires_grad
            }
        return epoch - self.best_epoch >= self.patience

    def restore(self) -> None:
        """Load the best epoch's weights back into the model."""
        if self._state is None:
            return
        params = dict(self.model.named_parameters())
        for k, value in self._state.items():
            params[k].data.copy_(value)
