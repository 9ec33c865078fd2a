"""Tests of the retrieval and decoding metrics."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from brainlm_decode.metrics import (
    decoding_recall_at_k,
    mix_and_match,
    recall_at_k,
    study_grouped_cv,
)

# --------------------------------------------------------------------------------------
# Hand-computed cases
# --------------------------------------------------------------------------------------

SIMILARITY = np.array(
    [
        [0.9, 0.1, 0.5, 0.0],  # true (col 0) ranks 1
        [0.8, 0.3, 0.1, 0.4],  # true 0.3 ranks 3
        [0.2, 0.6, 0.4, 0.1],  # true 0.4 ranks 2
    ]
)


def test_recall_at_k_hand_computed() -> None:
    assert recall_at_k(SIMILARITY, 1) == pytest.approx(1 / 3)
    assert recall_at_k(SIMILARITY, 2) == pytest.approx(2 / 3)
    assert recall_at_k(SIMILARITY, 3) == 1.0
    assert recall_at_k(SIMILARITY, 1, true_index=[0, 0, 1]) == 1.0


def test_mix_and_match_hand_computed() -> None:
    # row 0 beats 3/3, row 1 beats 1/3 (0.1), row 2 beats 2/3 (0.2 and 0.1)
    assert mix_and_match(SIMILARITY) == pytest.approx((1 + 1 / 3 + 2 / 3) / 3)
    assert mix_and_match(SIMILARITY, true_index=[1, 1, 3]) == pytest.approx(
        (1 / 3 + 1 / 3 + 0) / 3
    )


def test_ties_are_pessimistic() -> None:
    constant = np.ones((4, 4))
    assert recall_at_k(constant, 3) == 0.0
    assert recall_at_k(constant, 4) == 1.0
    assert mix_and_match(constant) == 0.0
    assert decoding_recall_at_k(constant, [0, 1, 2, 3], k=3) == 0.0


def test_matches_niclip_reference_mix_match() -> None:
    """Loop implementation of NiCLIP's ``mix_match`` (ties count as losses)."""
    rng = np.random.default_rng(0)
    similarity = rng.integers(0, 4, size=(9, 9)).astype(float)
    accuracies = []
    for i, row in enumerate(similarity):
        beaten = sum(row[i] > row[j] for j in range(len(row)) if j != i)
        accuracies.append(beaten / (len(row) - 1))
    assert mix_and_match(similarity) == pytest.approx(np.mean(accuracies))


def test_decoding_recall_hand_computed() -> None:
    scores = np.array([[0.7, 0.2, 0.1], [0.1, 0.3, 0.6]])
    assert decoding_recall_at_k(scores, [0, 1], k=1) == 0.5
    assert decoding_recall_at_k(scores, [0, [1, 2]], k=1) == 0.75
    assert decoding_recall_at_k(scores, [0, [1, 2]], k=2) == 1.0
    indicator = np.array([[1, 0, 0], [0, 1, 1]], dtype=bool)
    assert decoding_recall_at_k(scores, indicator, k=1) == 0.75


def test_decoding_recall_with_dataframes() -> None:
    scores = pd.DataFrame(
        [[0.7, 0.2, 0.1], [0.1, 0.3, 0.6]],
        index=["map_a", "map_b"],
        columns=["n-back", "stroop", "flanker"],
    )
    assert decoding_recall_at_k(scores, ["n-back", ["stroop", "flanker"]], k=1) == 0.75
    series = pd.Series({"map_b": "flanker", "map_a": "stroop"})
    assert decoding_recall_at_k(scores, series, k=1) == 0.5
    frame = pd.DataFrame(
        {"flanker": [1, 0], "n-back": [0, 1]}, index=["map_b", "map_a"]
    )
    assert decoding_recall_at_k(scores, frame, k=1) == 1.0


def test_study_grouped_cv() -> None:
    groups = np.repeat(["s1", "s2", "s3", "s4", "s5", "s6"], [1, 2, 3, 1, 2, 3])
    folds = study_grouped_cv(groups, n_splits=3, random_state=0)
    assert len(folds) == 3
    tested = np.concatenate([test for _, test in folds])
    assert sorted(tested) == list(range(len(groups)))
    for train, test in folds:
        assert not set(groups[train]) & set(groups[test])
        assert len(train) + len(test) == len(groups)
    again = study_grouped_cv(groups, n_splits=3, random_state=0)
    for (a, b), (c, d) in zip(folds, again, strict=True):
        assert np.array_equal(a, c) and np.array_equal(b, d)
    balanced = study_grouped_cv(groups, n_splits=3, shuffle=False)
    assert sorted(len(test) for _, test in balanced) == [4, 4, 4]


# --------------------------------------------------------------------------------------
# Errors
# --------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("call", "error", "match"),
    [
        (lambda: recall_at_k(np.ones(3), 1), ValueError, "'similarity'.*2-D"),
        (lambda: recall_at_k([[1.0, np.nan]], 1), ValueError, "NaN"),
        (lambda: recall_at_k(np.eye(3), 4), ValueError, r"'k'.*\[1, 3\]"),
        (lambda: recall_at_k(np.eye(3), 1.0), TypeError, "'k'"),
        (lambda: recall_at_k(np.ones((4, 3)), 1), ValueError, "true_index"),
        (
            lambda: mix_and_match(np.eye(3), true_index=[0, 1]),
            ValueError,
            "'true_index'",
        ),
        (
            lambda: mix_and_match(np.eye(3), true_index=[0, 1, 3]),
            ValueError,
            r"\[0, 2\]",
        ),
        (lambda: mix_and_match(np.ones((3, 1))), ValueError, "two columns"),
        (
            lambda: decoding_recall_at_k(np.eye(3), [0, 1]),
            ValueError,
            "3 maps",
        ),
        (
            lambda: decoding_recall_at_k(np.eye(3), [0, [], 1]),
            ValueError,
            "map 1 has no true term",
        ),
        (
            lambda: decoding_recall_at_k(np.eye(3), [0, 5, 1]),
            ValueError,
            r"\[5\].*column indices",
        ),
        (
            lambda: decoding_recall_at_k(
                pd.DataFrame(np.eye(2), columns=["a", "b"]), ["a", "c"]
            ),
            ValueError,
            "term names",
        ),
        (
            lambda: decoding_recall_at_k(np.eye(2), np.full((2, 2), 0.5)),
            ValueError,
            "binary",
        ),
        (lambda: decoding_recall_at_k(np.eye(2), "ab"), TypeError, "'labels'"),
        (lambda: study_grouped_cv([1, 1, 2], n_splits=3), ValueError, "n_splits"),
        (lambda: study_grouped_cv(np.ones((2, 2))), ValueError, "'groups'"),
        (lambda: study_grouped_cv([1, 2], n_splits=2.0), TypeError, "n_splits"),
    ],
)
def test_errors(call, error, match) -> None:
    with pytest.raises(error, match=match):
        call()


# --------------------------------------------------------------------------------------
# Properties
# --------------------------------------------------------------------------------------

square = st.integers(2, 8).flatmap(
    lambda n: arrays(np.float64, (n, n), elements=st.floats(-1, 1, width=32))
)


def _with_diagonal(matrix: np.ndarray, best: bool) -> np.ndarray:
    matrix = matrix.copy()
    rows = np.arange(len(matrix))
    off = np.where(np.eye(len(matrix), dtype=bool), np.nan, matrix)
    matrix[rows, rows] = np.nanmax(off, 1) + 1 if best else np.nanmin(off, 1) - 1
    return matrix


@settings(max_examples=40, deadline=None)
@given(square)
def test_perfect_similarity_scores_one(matrix: np.ndarray) -> None:
    perfect = _with_diagonal(matrix, best=True)
    assert mix_and_match(perfect) == 1.0
    for k in range(1, len(perfect) + 1):
        assert recall_at_k(perfect, k) == 1.0
    assert decoding_recall_at_k(perfect, list(range(len(perfect))), k=1) == 1.0


@settings(max_examples=40, deadline=None)
@given(square)
def test_reversed_similarity_scores_zero(matrix: np.ndarray) -> None:
    reversed_ = _with_diagonal(matrix, best=False)
    n = len(reversed_)
    assert mix_and_match(reversed_) == 0.0
    for k in range(1, n):
        assert recall_at_k(reversed_, k) == 0.0
    assert recall_at_k(reversed_, n) == 1.0


@settings(max_examples=40, deadline=None)
@given(square, st.randoms(use_true_random=False))
def test_invariances_and_bounds(matrix: np.ndarray, random) -> None:
    n = len(matrix)
    recalls = [recall_at_k(matrix, k) for k in range(1, n + 1)]
    assert recalls == sorted(recalls) and recalls[-1] == 1.0
    assert 0.0 <= mix_and_match(matrix) <= 1.0
    # permuting candidates (with the truth) changes nothing
    order = list(range(n))
    random.shuffle(order)
    inverse = np.argsort(order)
    permuted = matrix[:, order]
    assert recall_at_k(permuted, 1, true_index=inverse) == recalls[0]
    assert mix_and_match(permuted, true_index=inverse) == mix_and_match(matrix)
    # decoding recall with one label per map is retrieval recall
    assert decoding_recall_at_k(matrix, list(range(n)), k=1) == recalls[0]
