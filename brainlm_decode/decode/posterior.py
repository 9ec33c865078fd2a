"""Bayesian decoding arithmetic: likelihood, prior, posterior and noisy-OR.

Pure NumPy/SciPy functions, the twins of what :class:`~brainlm_decode.CLIPDecoder`
computes, so that results can be checked by hand or reused with other models.

Notation (NiCLIP, Peraza et al. 2025): ``A`` an activation map, ``T`` a task,
``C`` a concept, ``D`` a domain.

- likelihood ``P(A|T)``: softmax over tasks of the scaled cosine similarity between
  the map's image embedding and each task's text embedding;
- prior ``P(T)``: mean over training documents of the softmax over tasks of the
  document-task similarity (or uniform);
- posterior ``P(T|A)`` proportional to ``P(A|T) P(T)``, normalised over tasks;
- concepts and domains by noisy-OR: ``P(C|A) = 1 - prod_{t measures C} (1 - P(t|A))``
  and ``P(D|A) = 1 - prod_{c in D} (1 - P(c|A))``;
- concept scores that one task's links cannot dominate (:func:`concept_mixture`):
  ``w * P_text(C|A) + (1 - w) * P(C|A) / sum_C P(C|A)``, where ``P_text`` is the
  softmax over concepts of the scaled cosine between the map and each concept's
  own text embedding.
"""

from __future__ import annotations

import numpy as np
import scipy.sparse as sp
from numpy.typing import ArrayLike


def _as_2d(values: ArrayLike, name: str) -> tuple[np.ndarray, bool]:
    array = np.asarray(values, dtype=np.float64)
    if array.ndim not in (1, 2):
        raise ValueError(
            f"The '{name}' argument must be a 1D or 2D array. Got an array of shape "
            f"{array.shape} instead."
        )
    if not np.all(np.isfinite(array)):
        raise ValueError(f"The '{name}' argument contains NaN or infinite values.")
    return np.atleast_2d(array), array.ndim == 1


def softmax(logits: ArrayLike, axis: int = -1) -> np.ndarray:
    """Numerically stable softmax.

    Parameters
    ----------
    logits : array-like
        Unnormalised log-probabilities.
    axis : int, default=-1
        Axis over which probabilities sum to one.

    Returns
    -------
    numpy.ndarray
        Probabilities, same shape as ``logits``.

    Examples
    --------
    >>> softmax([0.0, 0.0]).tolist()
    [0.5, 0.5]
    """
    z = np.asarray(logits, dtype=np.float64)
    z = z - np.max(z, axis=axis, keepdims=True)
    e = np.exp(z)
    return e / np.sum(e, axis=axis, keepdims=True)


def task_likelihood(similarity: ArrayLike) -> np.ndarray:
    """Likelihood ``P(A|T)`` from scaled similarities of maps to tasks.

    Parameters
    ----------
    similarity : array-like of shape (n_maps, n_tasks) or (n_tasks,)
        Scaled cosine similarity ``logit_scale * cos(image, task)``: the same scale
        the CLIP model was trained with.

    Returns
    -------
    numpy.ndarray
        Softmax over tasks, same shape as ``similarity``.
    """
    array, squeeze = _as_2d(similarity, "similarity")
    out = softmax(array, axis=1)
    return out[0] if squeeze else out


def corpus_prior(document_similarity: ArrayLike) -> np.ndarray:
    """Prior ``P(T)``: mean over documents of the softmax over tasks.

    Parameters
    ----------
    document_similarity : array-like of shape (n_documents, n_tasks)
        Scaled similarity of each training document's text embedding to each task.

    Returns
    -------
    numpy.ndarray of shape (n_tasks,)
        A probability vector.
    """
    array, _ = _as_2d(document_similarity, "document_similarity")
    if array.shape[0] == 0:
        raise ValueError("The 'document_similarity' argument has no documents.")
    return softmax(array, axis=1).mean(axis=0)


def task_posterior(likelihood: ArrayLike, prior: ArrayLike | None = None) -> np.ndarray:
    """Posterior ``P(T|A)`` proportional to likelihood times prior.

    Parameters
    ----------
    likelihood : array-like of shape (n_maps, n_tasks) or (n_tasks,)
        ``P(A|T)``.
    prior : array-like of shape (n_tasks,) or None, default=None
        ``P(T)``; ``None`` is uniform (the posterior then equals the likelihood).

    Returns
    -------
    numpy.ndarray
        Posterior normalised over tasks, same shape as ``likelihood``.
    """
    lik, squeeze = _as_2d(likelihood, "likelihood")
    if np.any(lik < 0):
        raise ValueError("The 'likelihood' argument must be non-negative.")
    if prior is None:
        pri = np.full(lik.shape[1], 1.0 / lik.shape[1])
    else:
        pri = np.asarray(prior, dtype=np.float64).ravel()
        if (
            pri.shape[0] != lik.shape[1]
            or np.any(pri < 0)
            or not np.all(np.isfinite(pri))
        ):
            raise ValueError(
                f"The 'prior' argument must be a non-negative vector of length "
                f"{lik.shape[1]} (one value per task). Got shape {pri.shape} instead."
            )
    joint = lik * pri[None, :]
    total = joint.sum(axis=1, keepdims=True)
    if np.any(total <= 0):
        raise ValueError("Likelihood times prior sums to zero for some map.")
    out = joint / total
    return out[0] if squeeze else out


def noisy_or(
    probabilities: ArrayLike, incidence: ArrayLike | sp.spmatrix
) -> np.ndarray:
    """Noisy-OR of child probabilities into parent terms.

    ``P(parent) = 1 - prod_{child linked to parent} (1 - P(child))``, computed as one
    sparse matrix product in log space (no Python loop over terms). A parent with no
    linked child gets probability 0.

    Parameters
    ----------
    probabilities : array-like of shape (n_maps, n_children) or (n_children,)
        Child probabilities in [0, 1] (e.g. task posteriors).
    incidence : array-like or sparse matrix of shape (n_children, n_parents)
        1 where the child is linked to the parent (e.g. task measures concept);
        values other than 0/1 are treated as links.

    Returns
    -------
    numpy.ndarray of shape (n_maps, n_parents) or (n_parents,)

    Examples
    --------
    >>> import numpy as np
    >>> noisy_or([0.5, 0.5, 0.1], np.array([[1, 0], [1, 0], [0, 1]])).round(3).tolist()
    [0.75, 0.1]
    """
    probs, squeeze = _as_2d(probabilities, "probabilities")
    if np.any((probs < 0) | (probs > 1)):
        raise ValueError("The 'probabilities' argument must lie in [0, 1].")
    links = sp.csr_matrix(incidence, dtype=np.float64, copy=True)
    if links.shape[0] != probs.shape[1]:
        raise ValueError(
            f"The 'incidence' argument must have one row per child ({probs.shape[1]}). "
            f"Got shape {links.shape} instead."
        )
    links.data[:] = 1.0
    with np.errstate(divide="ignore"):
        log_miss = np.log1p(-probs)  # -inf where a child is certain
    # (n_maps, n_children) @ (n_children, n_parents); -inf * 0 never occurs in sparse
    total = np.asarray((links.T @ log_miss.T).T)
    out = -np.expm1(total)
    return out[0] if squeeze else out


def concept_mixture(
    noisy: ArrayLike, text_likelihood: ArrayLike, weight: float
) -> np.ndarray:
    """Concept scores mixing the concepts' own text with the task noisy-OR.

    ``weight * text + (1 - weight) * noisy / noisy.sum()`` per map: the noisy-OR
    probabilities are scaled to sum to one over the concepts, so both parts are
    distributions over concepts and so is the result. ``weight=0`` returns the
    noisy-OR probabilities unscaled.

    Parameters
    ----------
    noisy : array-like of shape (n_maps, n_concepts) or (n_concepts,)
        Noisy-OR concept probabilities (:func:`noisy_or` of the task posterior).
    text_likelihood : array-like, same shape
        Softmax over concepts of the scaled map-concept cosine similarity.
    weight : float
        Weight of the concept text, in [0, 1].

    Returns
    -------
    numpy.ndarray, same shape

    Examples
    --------
    >>> concept_mixture([0.9, 0.3], [0.2, 0.8], 0.5).round(3).tolist()
    [0.475, 0.525]
    """
    if not 0.0 <= weight <= 1.0:
        raise ValueError(
            f"The 'weight' argument must lie in [0, 1]. Got {weight!r} instead."
        )
    probs, squeeze = _as_2d(noisy, "noisy")
    text, _ = _as_2d(text_likelihood, "text_likelihood")
    if text.shape != probs.shape:
        raise ValueError(
            f"The 'text_likelihood' argument must have the shape of 'noisy' "
            f"{probs.shape}. Got {text.shape} instead."
        )
    if weight == 0.0:
        out = probs
    else:
        total = probs.sum(axis=1, keepdims=True)
        scaled = np.divide(probs, total, out=np.zeros_like(probs), where=total > 0)
        out = weight * text + (1.0 - weight) * scaled
    return out[0] if squeeze else out
