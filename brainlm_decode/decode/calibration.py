"""Temperature scaling of decoded task posteriors, and calibration metrics.

The CLIP temperature is learned for the contrastive loss over study pairs, not to
make task posteriors honest probabilities. :func:`calibrate_decoder` fits one
temperature ``T`` on held-out labelled maps (Guo et al. 2017): the likelihood
becomes ``softmax(logit_scale * cos / T)``, ``T`` minimising the negative
log-likelihood of the true tasks under the posterior (likelihood times prior).
The likelihood ranking of tasks never changes; the posterior ranking can, since
the temperature sets how much the likelihood weighs against the prior.
:func:`expected_calibration_error` and :func:`reliability_table` measure the
effect (top-1 confidence against top-1 accuracy, equal-width bins).
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
from scipy.optimize import minimize_scalar

__all__ = [
    "calibrate_decoder",
    "expected_calibration_error",
    "fit_temperature",
    "reliability_table",
]


def _check(probabilities: Any, labels: Any) -> tuple[np.ndarray, np.ndarray]:
    probs = np.asarray(probabilities, dtype=np.float64)
    index = np.asarray(labels, dtype=np.int64)
    if probs.ndim != 2 or index.shape != (probs.shape[0],):
        raise ValueError(
            "Expected 'probabilities' of shape (n_maps, n_classes) and 'labels' of "
            f"shape (n_maps,). Got {probs.shape} and {index.shape}."
        )
    if np.any((index < 0) | (index >= probs.shape[1])):
        raise ValueError("The 'labels' argument holds class indices out of range.")
    return probs, index


def reliability_table(
    probabilities: Any, labels: Any, n_bins: int = 15
) -> pd.DataFrame:
    """Top-1 confidence against accuracy per confidence bin (a reliability diagram).

    Parameters
    ----------
    probabilities : array-like of shape (n_maps, n_classes)
        Predicted probabilities (rows sum to 1).
    labels : array-like of shape (n_maps,)
        Index of the true class of each map.
    n_bins : int, default=15
        Equal-width bins over [0, 1].

    Returns
    -------
    DataFrame
        One row per non-empty bin: ``low``, ``high``, ``confidence`` (mean top-1
        probability), ``accuracy`` (fraction whose top-1 class is right), ``count``.
    """
    probs, index = _check(probabilities, labels)
    confidence = probs.max(axis=1)
    correct = probs.argmax(axis=1) == index
    edges = np.linspace(0.0, 1.0, n_bins + 1)
    which = np.clip(np.digitize(confidence, edges[1:-1], right=True), 0, n_bins - 1)
    rows = []
    for b in range(n_bins):
        members = which == b
        if members.any():
            rows.append(
                {
                    "low": edges[b],
                    "high": edges[b + 1],
                    "confidence": float(confidence[members].mean()),
                    "accuracy": float(correct[members].mean()),
                    "count": int(members.sum()),
                }
            )
    return pd.DataFrame(
        rows, columns=["low", "high", "confidence", "accuracy", "count"]
    )


def expected_calibration_error(
    probabilities: Any, labels: Any, n_bins: int = 15
) -> float:
    """Expected calibration error of the top-1 prediction.

    ``sum_b (n_b / n) |accuracy_b - confidence_b|`` over equal-width confidence
    bins (Naeini et al. 2015; Guo et al. 2017).

    Parameters
    ----------
    probabilities : array-like of shape (n_maps, n_classes)
    labels : array-like of shape (n_maps,)
    n_bins : int, default=15

    Returns
    -------
    float

    Examples
    --------
    >>> expected_calibration_error([[0.9, 0.1], [0.9, 0.1]], [0, 1], n_bins=10)
    0.4
    """
    table = reliability_table(probabilities, labels, n_bins)
    total = table["count"].sum()
    gap = (table["accuracy"] - table["confidence"]).abs()
    return float(round((table["count"] * gap).sum() / total, 12))


def _posterior(logits: np.ndarray, log_prior: np.ndarray, temperature: float):
    z = logits / temperature + log_prior
    z = z - z.max(axis=1, keepdims=True)
    return z - np.log(np.exp(z).sum(axis=1, keepdims=True))


def fit_temperature(
    logits: Any, labels: Any, prior: Any = None, *, bounds=(0.05, 20.0)
) -> float:
    """Temperature minimising the NLL of the true class under the posterior.

    Parameters
    ----------
    logits : array-like of shape (n_maps, n_classes)
        Scaled similarities ``logit_scale * cos``.
    labels : array-like of shape (n_maps,)
        Index of the true class.
    prior : array-like of shape (n_classes,) or None, default=None
        Prior multiplied into the likelihood (``None``: uniform).
    bounds : tuple of float, default=(0.05, 20.0)
        Search interval of the temperature.

    Returns
    -------
    float
    """
    z = np.asarray(logits, dtype=np.float64)
    _, index = _check(z, labels)
    log_prior = (
        np.zeros(z.shape[1])
        if prior is None
        else np.log(np.clip(np.asarray(prior, dtype=np.float64), 1e-300, None))
    )
    rows = np.arange(z.shape[0])

    def nll(log_t: float) -> float:
        return -float(_posterior(z, log_prior, np.exp(log_t))[rows, index].mean())

    result = minimize_scalar(
        nll, bounds=(np.log(bounds[0]), np.log(bounds[1])), method="bounded"
    )
    return float(np.exp(result.x))


def calibrate_decoder(decoder: Any, X: Any, y: Any, *, n_bins: int = 15) -> Any:
    """Fit ``decoder.temperature_`` on held-out labelled maps (see module doc).

    Parameters
    ----------
    decoder : CLIPDecoder
        A fitted decoder.
    X : niimg-like, list of niimg-like, or ndarray of shape (n_maps, n_regions)
        Held-out maps, or their image embeddings.
    y : sequence of str
        True task of each map (Cognitive Atlas task id or name).
    n_bins : int, default=15
        Bins of the expected calibration error.

    Returns
    -------
    decoder
        With ``temperature_`` and ``calibration_`` (temperature, ECE and NLL
        before and after, number of maps, reliability tables).
    """
    if isinstance(X, np.ndarray) and X.ndim == 2:
        embeddings = X
    else:
        embeddings = decoder.embed_imgs(X)
    atlas = decoder.ontology_
    ids = list(atlas.task_ids)
    positions = {task: i for i, task in enumerate(ids)}
    positions.update({name: i for i, name in enumerate(atlas.task_names)})
    labels = list(y)
    unknown = [t for t in labels if t not in positions]
    if unknown or len(labels) != len(embeddings):
        raise ValueError(
            "The 'y' argument must give one known task id or name per map "
            f"({len(embeddings)} maps). Got {len(labels)} labels; unknown: "
            f"{unknown[:5]}."
        )
    index = np.array([positions[t] for t in labels])
    decoder.temperature_ = 1.0
    logits = decoder.logit_scale_ * decoder.decode_embeddings(embeddings)["similarity"]
    before = decoder.decode_embeddings(embeddings)["posterior"]
    temperature = fit_temperature(logits, index, decoder.prior_)
    decoder.temperature_ = temperature
    after = decoder.decode_embeddings(embeddings)["posterior"]
    rows = np.arange(len(index))

    def nll(p: np.ndarray) -> float:
        return float(-np.log(np.clip(p[rows, index], 1e-300, None)).mean())

    decoder.calibration_ = {
        "temperature": temperature,
        "n_maps": len(index),
        "ece_before": expected_calibration_error(before, index, n_bins),
        "ece_after": expected_calibration_error(after, index, n_bins),
        "nll_before": nll(before),
        "nll_after": nll(after),
        "reliability_before": reliability_table(before, index, n_bins).to_dict("list"),
        "reliability_after": reliability_table(after, index, n_bins).to_dict("list"),
    }
    return decoder
