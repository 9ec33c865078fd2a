"""Evaluation metrics of text-image retrieval and decoding (NumPy only).

- :func:`recall_at_k`: fraction of queries whose true candidate ranks in the top
  ``k`` of a similarity matrix (NiCLIP's Recall@k between texts and brain maps).
- :func:`mix_and_match`: mean fraction of *other* candidates ranked below the true
  one (NiCLIP's Mix&Match; 0.5 is chance, 1 is perfect).
- :func:`decoding_recall_at_k`: recall of the true term(s) of labelled maps among the
  ``k`` best-scored terms of a decoder's output.
- :func:`study_grouped_cv`: cross-validation folds that keep all pairs of a study on
  one side (scikit-learn's :class:`~sklearn.model_selection.GroupKFold`).

Ties are handled **pessimistically** everywhere: a candidate scoring the same as the
true one counts as ranked above it, so a constant similarity matrix gets the worst
score, never the best (degenerate models cannot look good by ties).
"""

from __future__ import annotations

import numbers
from collections.abc import Sequence
from typing import Any

import numpy as np

_DECODING = "decoding_recall_at_k"

__all__ = [
    "decoding_recall_at_k",
    "mix_and_match",
    "recall_at_k",
    "study_grouped_cv",
]


# --------------------------------------------------------------------------------------
# Input checks
# --------------------------------------------------------------------------------------


def _check_scores(value: Any, name: str, owner: str) -> np.ndarray:
    """A finite 2-D float array with at least 2 columns."""
    try:
        array = np.asarray(value, dtype=np.float64)
    except (TypeError, ValueError):
        raise ValueError(
            f"The {name!r} argument of {owner} must be a 2-D numeric array. Got an "
            f"object of type {type(value).__name__}."
        ) from None
    if array.ndim != 2 or array.shape[0] == 0 or array.shape[1] < 2:
        raise ValueError(
            f"The {name!r} argument of {owner} must be a 2-D array with at least one "
            f"row and two columns. Got shape {array.shape}."
        )
    if not np.isfinite(array).all():
        raise ValueError(f"The {name!r} argument of {owner} contains NaN or inf.")
    return array


def _check_k(k: Any, n_candidates: int, owner: str) -> int:
    if isinstance(k, bool) or not isinstance(k, numbers.Integral):
        raise TypeError(f"The 'k' argument of {owner} must be an int. Got {k!r}.")
    if not 1 <= k <= n_candidates:
        raise ValueError(
            f"The 'k' argument of {owner} must be in [1, {n_candidates}] (the number "
            f"of candidates). Got {k!r}."
        )
    return int(k)


def _check_true_index(
    true_index: Any, shape: tuple[int, int], owner: str
) -> np.ndarray:
    """Column of the true candidate of each row (default: the diagonal)."""
    n_queries, n_candidates = shape
    if true_index is None:
        if n_candidates < n_queries:
            raise ValueError(
                f"{owner}: without 'true_index' the true candidate of row i is column "
                f"i, so 'similarity' needs at least as many columns as rows. Got "
                f"shape {shape}; pass 'true_index'."
            )
        return np.arange(n_queries)
    index = np.asarray(true_index)
    if index.shape != (n_queries,) or not np.issubdtype(index.dtype, np.integer):
        raise ValueError(
            f"The 'true_index' argument of {owner} must be {n_queries} integers (one "
            f"per row). Got shape {index.shape} and dtype {index.dtype}."
        )
    if index.min() < 0 or index.max() >= n_candidates:
        raise ValueError(
            f"The 'true_index' argument of {owner} must hold column indices in "
            f"[0, {n_candidates - 1}]. Got values from {index.min()} to {index.max()}."
        )
    return index.astype(np.intp)


def _n_at_least(similarity: np.ndarray, true_index: np.ndarray) -> np.ndarray:
    """Per row, how many *other* candidates score at least as high as the true one."""
    rows = np.arange(similarity.shape[0])
    true_score = similarity[rows, true_index][:, None]
    return (similarity >= true_score).sum(axis=1) - 1


# --------------------------------------------------------------------------------------
# Retrieval metrics
# --------------------------------------------------------------------------------------


def recall_at_k(similarity: Any, k: int = 1, *, true_index: Any = None) -> float:
    """Fraction of queries whose true candidate is among the ``k`` most similar.

    Parameters
    ----------
    similarity : array-like of shape (n_queries, n_candidates)
        Similarity of each query (e.g. a brain map) to each candidate (e.g. a
        text); higher is more similar.
    k : int, default=1
        Size of the retrieved set, in ``[1, n_candidates]``.
    true_index : array-like of int, shape (n_queries,), or None, default=None
        Column of the true candidate of each row; ``None`` means column ``i`` for
        row ``i`` (paired test sets).

    Returns
    -------
    float
        Recall@k in ``[0, 1]``. Chance level is ``k / n_candidates``. The rank of
        the true candidate is ``1 +`` the number of other candidates scoring **at
        least as high** (ties counted against it).

    Examples
    --------
    >>> recall_at_k([[0.9, 0.1], [0.8, 0.3]], k=1)
    0.5
    """
    owner = "recall_at_k"
    similarity = _check_scores(similarity, "similarity", owner)
    k = _check_k(k, similarity.shape[1], owner)
    true_index = _check_true_index(true_index, similarity.shape, owner)
    ranks = 1 + _n_at_least(similarity, true_index)
    return float(np.mean(ranks <= k))


def mix_and_match(similarity: Any, *, true_index: Any = None) -> float:
    """Mean fraction of other candidates ranked strictly below the true one.

    NiCLIP's Mix&Match: for each query, compare the true candidate with every other
    candidate; score the share it beats; average over queries.

    Parameters
    ----------
    similarity : array-like of shape (n_queries, n_candidates)
        Similarity of each query to each candidate (``n_candidates >= 2``).
    true_index : array-like of int, shape (n_queries,), or None, default=None
        Column of the true candidate of each row; ``None`` means the diagonal.

    Returns
    -------
    float
        In ``[0, 1]``: 1 when the true candidate is always strictly best, 0 when
        it is never strictly above any other (ties count as losses), about 0.5 for
        random similarities.

    Examples
    --------
    >>> similarity = [[0.9, 0.1, 0.5], [0.8, 0.3, 0.1], [0.2, 0.6, 0.4]]
    >>> round(mix_and_match(similarity), 3)  # rows beat 2/2, 1/2 and 1/2 others
    0.667
    """
    owner = "mix_and_match"
    similarity = _check_scores(similarity, "similarity", owner)
    true_index = _check_true_index(true_index, similarity.shape, owner)
    n_other = similarity.shape[1] - 1
    beaten = n_other - _n_at_least(similarity, true_index)
    return float(np.mean(beaten / n_other))


# --------------------------------------------------------------------------------------
# Decoding recall
# --------------------------------------------------------------------------------------


def _label_matrix(labels: Any, scores: Any, shape: tuple[int, int]) -> np.ndarray:
    """Boolean (n_maps, n_terms) matrix of true terms from any accepted form."""
    if hasattr(labels, "columns"):  # DataFrame of indicators
        if hasattr(scores, "columns"):
            labels = labels.reindex(index=scores.index, columns=scores.columns)
        return _binary(labels.fillna(0).to_numpy(), shape)
    if isinstance(labels, np.ndarray) and labels.ndim == 2:
        return _binary(labels, shape)
    if hasattr(labels, "reindex") and hasattr(scores, "columns"):  # Series
        labels = labels.reindex(scores.index)
    if isinstance(labels, (str, bytes)) or not hasattr(labels, "__len__"):
        raise TypeError(
            f"The 'labels' argument of {_DECODING} must be a sequence with the true "
            f"term(s) of each map. Got {type(labels).__name__}."
        )
    return _sets_to_matrix(list(labels), scores, shape)


def _binary(matrix: Any, shape: tuple[int, int]) -> np.ndarray:
    matrix = np.asarray(matrix, dtype=float)
    if matrix.shape != shape or not np.isin(matrix, (0.0, 1.0)).all():
        raise ValueError(
            f"The 'labels' argument of {_DECODING}, given as a matrix, must be binary "
            f"(0/1 or booleans) with the shape of 'scores' {shape}. Got shape "
            f"{matrix.shape}."
        )
    return matrix.astype(bool)


def _entry_terms(entry: Any, row: int) -> list[Any]:
    if isinstance(entry, (str, numbers.Integral)) and not isinstance(entry, bool):
        return [int(entry) if isinstance(entry, numbers.Integral) else entry]
    if entry is None or isinstance(entry, float) or not hasattr(entry, "__iter__"):
        raise ValueError(f"{_DECODING}: map {row} has no true term in 'labels'.")
    return [int(t) if isinstance(t, numbers.Integral) else t for t in entry]


def _sets_to_matrix(
    labels: list[Any], scores: Any, shape: tuple[int, int]
) -> np.ndarray:
    if len(labels) != shape[0]:
        raise ValueError(
            f"The 'labels' argument of {_DECODING} must give the true term(s) of "
            f"each of the {shape[0]} maps. Got {len(labels)} entries."
        )
    if hasattr(scores, "columns"):
        lookup = {term: j for j, term in enumerate(scores.columns)}
        kind = "term names (columns of 'scores')"
    else:
        lookup = {j: j for j in range(shape[1])}
        kind = f"column indices in [0, {shape[1] - 1}]"
    matrix = np.zeros(shape, dtype=bool)
    for row, entry in enumerate(labels):
        terms = _entry_terms(entry, row)
        unknown = [term for term in terms if term not in lookup]
        if unknown:
            raise ValueError(
                f"{_DECODING}: map {row} has labels {unknown!r} that are not {kind}."
            )
        matrix[row, [lookup[term] for term in terms]] = True
    return matrix


def decoding_recall_at_k(scores: Any, labels: Any, k: int = 1) -> float:
    """Recall of the true terms of labelled maps among the ``k`` best decoded terms.

    For each map, the share of its true terms whose rank is at most ``k``
    (``1 +`` the number of other terms scoring at least as high: ties count
    against the true term); averaged over maps. With one true term per map this is
    the fraction of maps whose term is in the top ``k``.

    Parameters
    ----------
    scores : DataFrame or array-like of shape (n_maps, n_terms)
        Decoder output, higher is better (e.g. posterior probabilities). A
        DataFrame's columns are the term names.
    labels : sequence, Series, or binary matrix
        True term(s) of each map: one entry per map, a term or a list of terms
        (term names when ``scores`` is a DataFrame, column indices otherwise); a
        Series is aligned on the index of a DataFrame ``scores``; or a binary
        (n_maps, n_terms) NumPy array or DataFrame marking the true terms (a
        DataFrame is aligned on the index and columns of a DataFrame ``scores``).
    k : int, default=1
        Number of top-scored terms considered, in ``[1, n_terms]``.

    Returns
    -------
    float
        Mean recall@k in ``[0, 1]``.

    Raises
    ------
    ValueError
        When a map has no true term, a label is not a known term, the number of
        entries differs from the number of maps, or ``scores`` has NaN/inf.

    Examples
    --------
    >>> decoding_recall_at_k([[0.7, 0.2, 0.1], [0.1, 0.3, 0.6]], [0, [1, 2]], k=1)
    0.75
    """
    values = _check_scores(scores, "scores", _DECODING)
    k = _check_k(k, values.shape[1], _DECODING)
    truth = _label_matrix(labels, scores, values.shape)
    n_true = truth.sum(axis=1)
    if not n_true.all():
        row = int(np.flatnonzero(n_true == 0)[0])
        raise ValueError(f"{_DECODING}: map {row} has no true term in 'labels'.")
    rows, cols = np.nonzero(truth)
    # rank of a true term: 1 + number of other terms of its map scoring >= it
    ranks = (values[rows] >= values[rows, cols][:, None]).sum(axis=1)
    hits = np.bincount(rows, weights=ranks <= k, minlength=values.shape[0])
    return float(np.mean(hits / n_true))


# --------------------------------------------------------------------------------------
# Grouped cross-validation
# --------------------------------------------------------------------------------------


def study_grouped_cv(
    groups: Sequence[Any] | np.ndarray,
    n_splits: int = 5,
    *,
    shuffle: bool = True,
    random_state: Any = None,
) -> list[tuple[np.ndarray, np.ndarray]]:
    """Cross-validation folds that never split a study between train and test.

    Thin wrapper of :class:`sklearn.model_selection.GroupKFold`: every pair of the
    same study (same group id) lands in the same fold, so test texts and maps never
    share a study with training ones (several maps or text chunks per study would
    otherwise leak).

    Parameters
    ----------
    groups : array-like of shape (n_samples,)
        Study id of each sample.
    n_splits : int, default=5
        Number of folds, at least 2 and at most the number of distinct studies.
    shuffle : bool, default=True
        Assign studies to folds at random (seeded by ``random_state``); ``False``
        uses GroupKFold's deterministic size-balancing assignment.
    random_state : int, numpy RandomState or None, default=None
        Seed of the shuffling; ignored when ``shuffle=False``.

    Returns
    -------
    list of (train_index, test_index)
        ``n_splits`` pairs of integer index arrays; each sample is in exactly one
        test fold.

    Examples
    --------
    >>> folds = study_grouped_cv(["a", "a", "b", "b", "c", "c"], n_splits=3,
    ...                          random_state=0)
    >>> sorted(len(test) for _, test in folds)
    [2, 2, 2]
    """
    from sklearn.model_selection import GroupKFold

    owner = "study_grouped_cv"
    groups = np.asarray(groups)
    if groups.ndim != 1 or groups.shape[0] == 0:
        raise ValueError(
            f"The 'groups' argument of {owner} must be a non-empty 1-D array of "
            f"study ids. Got shape {groups.shape}."
        )
    n_groups = np.unique(groups).size
    if isinstance(n_splits, bool) or not isinstance(n_splits, numbers.Integral):
        raise TypeError(f"The 'n_splits' argument of {owner} must be an int.")
    if not 2 <= n_splits <= n_groups:
        raise ValueError(
            f"The 'n_splits' argument of {owner} must be in [2, {n_groups}] (the "
            f"number of distinct studies). Got {n_splits!r}."
        )
    splitter = GroupKFold(
        n_splits=int(n_splits),
        shuffle=bool(shuffle),
        random_state=random_state if shuffle else None,
    )
    placeholder = np.zeros((groups.shape[0], 1))
    return [
        (train.astype(np.intp), test.astype(np.intp))
        for train, test in splitter.split(placeholder, groups=groups)
    ]
