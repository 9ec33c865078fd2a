"""Scores, stratified-bootstrap confidence intervals and permutation p-values.

Everything here works on stored out-of-fold predictions, so that the same
resamples serve every estimator (paired differences) and the functions can be
checked against hand-computed cases.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

__all__ = [
    "METRICS",
    "balanced_accuracy",
    "binary_auc",
    "bootstrap_indices",
    "percentile_ci",
    "permutation_pvalue",
    "score",
]


def binary_auc(y: Any, value: Any) -> float:
    """ROC AUC of 0/1 labels by the Mann-Whitney rank formula (ties count 1/2).

    Equal to :func:`sklearn.metrics.roc_auc_score` and much faster in
    bootstrap loops; NaN when ``y`` holds a single class.

    Examples
    --------
    >>> binary_auc([0, 0, 1, 1], [0.1, 0.4, 0.4, 0.9])
    0.875
    """
    from scipy.stats import rankdata

    y = np.asarray(y).astype(bool)
    n_pos = int(y.sum())
    n_neg = y.size - n_pos
    if n_pos == 0 or n_neg == 0:
        return float("nan")
    ranks = rankdata(np.asarray(value, dtype=float))
    return float((ranks[y].sum() - n_pos * (n_pos + 1) / 2) / (n_pos * n_neg))


def _roc_auc(y: np.ndarray, pred: np.ndarray, value: np.ndarray) -> float:
    from sklearn.metrics import roc_auc_score

    if np.unique(y).size < 2:
        return float("nan")
    if value.ndim == 2 and value.shape[1] == 1:
        value = value[:, 0]
    if value.ndim == 2:
        return float(roc_auc_score(y, value, multi_class="ovr"))
    return binary_auc(y, value)


def balanced_accuracy(y: Any, pred: Any) -> float:
    """Mean recall over the classes of ``y`` (NumPy only, for resampling loops).

    Equal to :func:`sklearn.metrics.balanced_accuracy_score` (classes that
    appear only in ``pred`` are left out, as there; no warning is raised) at a
    fraction of its cost in permutation and bootstrap loops.

    Examples
    --------
    >>> balanced_accuracy([0, 0, 1, 1, 1], [0, 1, 1, 1, 0])
    0.5833333333333333
    """
    y, pred = np.asarray(y), np.asarray(pred)
    classes, y_index = np.unique(y, return_inverse=True)
    totals = np.bincount(y_index, minlength=classes.size)
    correct = np.bincount(y_index[pred == y], minlength=classes.size)
    return float(np.mean(correct / totals))


def _from_labels(func: Callable[..., float]) -> Callable[..., float]:
    def metric(y: np.ndarray, pred: np.ndarray, value: np.ndarray) -> float:
        return float(func(y, pred))

    return metric


def _pearson_r(y: np.ndarray, pred: np.ndarray) -> float:
    """Pearson correlation; NaN when either side is constant."""
    y, pred = np.asarray(y, dtype=float), np.asarray(pred, dtype=float)
    if y.size < 2 or np.std(y) == 0 or np.std(pred) == 0:
        return float("nan")
    return float(np.corrcoef(y, pred)[0, 1])


def _metrics() -> dict[str, tuple[Callable[..., float], bool]]:
    from sklearn import metrics as m

    return {
        "roc_auc": (_roc_auc, True),
        "balanced_accuracy": (_from_labels(balanced_accuracy), False),
        "accuracy": (_from_labels(m.accuracy_score), False),
        "f1": (_from_labels(m.f1_score), False),
        "r2": (_from_labels(m.r2_score), False),
        "neg_mean_absolute_error": (
            _from_labels(lambda a, b: -m.mean_absolute_error(a, b)),
            False,
        ),
        "neg_mean_squared_error": (
            _from_labels(lambda a, b: -m.mean_squared_error(a, b)),
            False,
        ),
        "pearson_r": (_from_labels(_pearson_r), False),
    }


#: Metric names accepted by ``scoring``; ``roc_auc`` uses the probabilities
#: (or decision values), the others the predictions (``pearson_r``: Pearson
#: correlation of predicted and true values, NaN when either is constant).
METRICS = (
    "roc_auc",
    "balanced_accuracy",
    "accuracy",
    "f1",
    "r2",
    "neg_mean_absolute_error",
    "neg_mean_squared_error",
    "pearson_r",
)


def score(name: str, y: Any, pred: Any, value: Any = None) -> float:
    """One metric from labels, predictions and scores.

    Parameters
    ----------
    name : str
        One of :data:`METRICS`.
    y, pred : array-like of shape (n_samples,)
        True labels (or values) and predictions. For ``"f1"`` and binary
        ``"roc_auc"`` the labels must be 0/1 (positive = 1).
    value : array-like or None, default=None
        Probability of the positive class (or decision value), or one column
        per class; needed by ``"roc_auc"``.

    Returns
    -------
    float
        NaN for ``"roc_auc"`` when ``y`` holds a single class.

    Examples
    --------
    >>> score("roc_auc", [0, 0, 1, 1], [0, 1, 0, 1], [0.1, 0.6, 0.4, 0.9])
    0.75
    """
    table = _metrics()
    if name not in table:
        raise ValueError(f"Unknown metric {name!r}; expected one of {METRICS}.")
    func, needs_value = table[name]
    if needs_value and value is None:
        raise ValueError(f"Metric {name!r} needs probabilities or decision values.")
    value = None if value is None else np.asarray(value)
    return func(np.asarray(y), np.asarray(pred), value)


def bootstrap_indices(
    n_bootstrap: int, strata: Any, random_state: Any = 0
) -> np.ndarray:
    """Stratified bootstrap resamples: each stratum resampled with replacement.

    Parameters
    ----------
    n_bootstrap : int
        Number of resamples.
    strata : array-like of shape (n_samples,)
        Stratum of each sample (class labels; one stratum for regression).
    random_state : int, RandomState or None, default=0
        Seed.

    Returns
    -------
    ndarray of shape (n_bootstrap, n_samples)
        Indices; each resample keeps the class counts of ``strata``.

    Examples
    --------
    >>> idx = bootstrap_indices(3, [0, 0, 1, 1, 1])
    >>> idx.shape, [bool((i[:2] < 2).all() and (i[2:] >= 2).all()) for i in idx]
    ((3, 5), [True, True, True])
    """
    rng = np.random.RandomState(random_state)
    strata = np.asarray(strata)
    members = [np.flatnonzero(strata == s) for s in np.unique(strata)]
    out = np.empty((int(n_bootstrap), strata.size), dtype=np.int64)
    start = 0
    for idx in members:
        out[:, start : start + idx.size] = rng.choice(
            idx, size=(int(n_bootstrap), idx.size)
        )
        start += idx.size
    return out


def percentile_ci(values: Any, level: float = 0.95) -> tuple[float, float]:
    """Percentile interval of bootstrap values (NaNs ignored).

    Parameters
    ----------
    values : array-like
        Bootstrap replicates.
    level : float, default=0.95
        Coverage.

    Returns
    -------
    (low, high) : tuple of float

    Examples
    --------
    >>> percentile_ci(range(101), 0.9)
    (5.0, 95.0)
    """
    values = np.asarray(values, dtype=float)
    values = values[np.isfinite(values)]
    if values.size == 0:
        return float("nan"), float("nan")
    alpha = round((1.0 - level) / 2.0, 12)
    low, high = np.quantile(values, [alpha, 1.0 - alpha])
    return float(low), float(high)


def permutation_pvalue(observed: float, null: Sequence[float]) -> float:
    """One-sided permutation p-value ``(1 + #{null >= observed}) / (1 + n)``.

    Parameters
    ----------
    observed : float
        Statistic on the true labels (larger is better).
    null : sequence of float
        Statistic on permuted labels.

    Returns
    -------
    float
        Never 0: the observed labelling counts as one permutation (Phipson &
        Smyth 2010).

    Examples
    --------
    >>> permutation_pvalue(0.8, [0.5, 0.9, 0.6, 0.7])
    0.4
    """
    null = np.asarray(null, dtype=float)
    null = null[np.isfinite(null)]
    return float((1 + np.sum(null >= observed)) / (1 + null.size))
