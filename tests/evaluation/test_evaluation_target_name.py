"""compare_estimators hands a Series target to the estimators as a Series."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from sklearn.base import BaseEstimator, ClassifierMixin

from brainlm_decode.evaluation import compare_estimators

SEEN: list[dict] = []


class _Recorder(ClassifierMixin, BaseEstimator):
    """Records the y it is fitted on; predicts the majority label."""

    def fit(self, X, y):
        SEEN.append(
            {
                "type": type(y),
                "name": getattr(y, "name", None),
                "labels": sorted(set(np.asarray(y).tolist())),
                "n": len(y),
                "dtype": str(getattr(y, "dtype", None)),
            }
        )
        self.classes_ = np.unique(np.asarray(y))
        values, counts = np.unique(np.asarray(y), return_counts=True)
        self.majority_ = values[np.argmax(counts)]
        return self

    def predict(self, X):
        return np.full(len(X), self.majority_)

    def predict_proba(self, X):
        proba = np.zeros((len(X), self.classes_.size))
        proba[:, list(self.classes_).index(self.majority_)] = 1.0
        return proba


@pytest.fixture
def target() -> tuple[np.ndarray, pd.Series]:
    rng = np.random.RandomState(0)
    X = rng.randn(40, 3)
    labels = np.array(["autism", "control"] * 20)
    # an index that is not 0..n-1: rows must be taken by position
    y = pd.Series(labels, name="diagnosis", index=np.arange(100, 140)[::-1])
    return X, y


@pytest.mark.parametrize("n_permutations", [0, 2])
def test_series_target_keeps_name_and_labels(target, n_permutations) -> None:
    X, y = target
    SEEN.clear()
    result = compare_estimators(
        {"rec": _Recorder()},
        X,
        y,
        n_splits=4,
        n_bootstrap=20,
        n_permutations=n_permutations,
        permutation="refit",
        pos_label="autism",
        verbose=0,
    )
    assert len(SEEN) == 4 * (1 + n_permutations)
    for seen in SEEN:
        assert seen["type"] is pd.Series
        assert seen["name"] == "diagnosis"
        assert seen["labels"] == ["autism", "control"]
        assert seen["n"] == 30
    assert set(result.predictions["y_true"]) == {0, 1}


def test_series_rows_follow_positions(target) -> None:
    X, y = target
    X = np.asarray(y == "autism", dtype=float)[:, None]  # X reveals the label
    from sklearn.linear_model import LogisticRegression

    result = compare_estimators(
        {"lr": LogisticRegression()}, X, y, n_splits=4, n_bootstrap=20, verbose=0
    )
    summary = result.summary().set_index(["estimator", "metric"])
    assert summary.loc[("lr", "roc_auc"), "mean"] == 1.0


def test_categorical_series_and_plain_array(target) -> None:
    X, y = target
    SEEN.clear()
    compare_estimators(
        {"rec": _Recorder()},
        X,
        y.astype("category"),
        n_splits=2,
        n_bootstrap=10,
        verbose=0,
    )
    assert all(s["dtype"] == "category" and s["name"] == "diagnosis" for s in SEEN)
    SEEN.clear()
    compare_estimators(
        {"rec": _Recorder()}, X, y.to_numpy(), n_splits=2, n_bootstrap=10, verbose=0
    )
    assert all(s["type"] is np.ndarray and s["name"] is None for s in SEEN)
    assert all(s["labels"] == ["autism", "control"] for s in SEEN)
