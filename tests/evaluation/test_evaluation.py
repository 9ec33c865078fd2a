"""compare_estimators, its statistics (against hand-computed cases) and baselines."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from sklearn.base import BaseEstimator, ClassifierMixin
from sklearn.datasets import make_classification
from sklearn.dummy import DummyClassifier
from sklearn.linear_model import LogisticRegression, Ridge
from sklearn.metrics import roc_auc_score

from brainlm_decode.evaluation import (
    ComparisonResult,
    binary_auc,
    bootstrap_indices,
    compare_estimators,
    make_splits,
    percentile_ci,
    permutation_pvalue,
    score,
)


@pytest.fixture(scope="module")
def data() -> tuple[np.ndarray, np.ndarray]:
    return make_classification(80, n_features=10, n_informative=4, random_state=0)


def test_binary_auc_matches_sklearn_with_ties() -> None:
    rng = np.random.RandomState(0)
    y = rng.randint(0, 2, 50)
    value = rng.randint(0, 5, 50).astype(float)  # many ties
    assert binary_auc(y, value) == pytest.approx(roc_auc_score(y, value))
    assert np.isnan(binary_auc([1, 1], [0.2, 0.3]))


def test_hand_computed_statistics() -> None:
    # 3 of 4 (positive, negative) pairs ordered correctly
    assert score("roc_auc", [0, 0, 1, 1], [0, 1, 0, 1], [0.1, 0.6, 0.4, 0.9]) == 0.75
    assert score("balanced_accuracy", [0, 0, 0, 1], [0, 0, 1, 1]) == pytest.approx(
        (2 / 3 + 1) / 2
    )
    # (1 + #{null >= 0.8}) / (1 + 4) = (1 + 1) / 5
    assert permutation_pvalue(0.8, [0.5, 0.9, 0.6, 0.7]) == 0.4
    assert permutation_pvalue(1.0, [0.1] * 9) == 0.1
    assert percentile_ci(np.arange(101), 0.9) == (5.0, 95.0)


def test_bootstrap_is_stratified_and_seeded() -> None:
    strata = np.array([0] * 5 + [1] * 3)
    idx = bootstrap_indices(200, strata, random_state=1)
    assert idx.shape == (200, 8)
    assert (strata[idx].sum(axis=1) == 3).all()  # class counts kept
    np.testing.assert_array_equal(idx, bootstrap_indices(200, strata, random_state=1))


def test_splits_repeated_group_logo() -> None:
    y = np.array([0, 1] * 12)
    splits = make_splits(24, y, n_splits=4, n_repeats=3, random_state=0)
    assert len(splits) == 12
    for r in range(3):
        tests = np.concatenate([s.test for s in splits if s.repeat == r])
        np.testing.assert_array_equal(np.sort(tests), np.arange(24))
    assert not np.array_equal(splits[0].test, splits[4].test)  # reseeded repeat
    groups = np.repeat(["a", "b", "c", "d"], 6)
    for cv in ("group", "logo"):
        for s in make_splits(24, y, cv=cv, n_splits=2, n_repeats=2, groups=groups):
            assert not set(groups[s.train]) & set(groups[s.test])
    assert len(make_splits(24, y, cv="logo", n_repeats=5, groups=groups)) == 4
    with pytest.raises(ValueError, match="groups"):
        make_splits(24, y, cv="group")
    with pytest.raises(ValueError, match="'cv'"):
        make_splits(24, y, cv="nope")


def test_compare_estimators_summary_and_differences(data) -> None:
    X, y = data
    result = compare_estimators(
        {"dummy": DummyClassifier(), "logistic": LogisticRegression()},
        X,
        y,
        n_repeats=2,
        n_bootstrap=300,
        n_permutations=19,
        permutation={"dummy": "fixed"},
        verbose=0,
    )
    assert isinstance(result, ComparisonResult)
    assert len(result.scores) == 2 * 10 * 2  # estimators x splits x metrics
    table = result.summary().set_index(["estimator", "metric"])
    dummy, logistic = (
        table.loc[("dummy", "roc_auc")],
        table.loc[("logistic", "roc_auc")],
    )
    assert dummy["mean"] == 0.5 and np.isnan(dummy["diff_mean"])
    assert logistic["mean"] > 0.8
    assert logistic["ci_low"] <= logistic["pooled"] <= logistic["ci_high"]
    assert logistic["p_value"] == pytest.approx(0.05)  # best of 1 + 19
    assert logistic["permutation"] == "refit" and dummy["permutation"] == "fixed"
    assert logistic["diff_ci_low"] > 0  # clearly better than the reference
    per_fold = result.scores.query("metric == 'roc_auc'").pivot_table(
        index=["repeat", "fold"], columns="estimator", values="score"
    )
    expected = (per_fold["logistic"] - per_fold["dummy"]).mean()
    assert logistic["diff_mean"] == pytest.approx(expected)
    markdown = result.to_markdown()
    assert markdown.count("\n") == 1 + 4 and "Δ vs dummy" in markdown
    preds = result.predictions
    assert set(preds.columns) >= {"estimator", "repeat", "subject", "y_pred", "value"}
    assert len(preds) == 2 * 2 * len(y)


def test_fixed_permutation_matches_hand_loop(data) -> None:
    X, y = data
    result = compare_estimators(
        {"logistic": LogisticRegression()},
        X,
        y,
        scoring="roc_auc",
        n_bootstrap=10,
        n_permutations=30,
        permutation="fixed",
        random_state=3,
        verbose=0,
    )
    preds = result.predictions
    rng = np.random.RandomState(3)
    observed = binary_auc(y, preds["value"])
    null = [binary_auc(y[rng.permutation(len(y))], preds["value"]) for _ in range(30)]
    assert result.summary()["p_value"][0] == pytest.approx(
        permutation_pvalue(observed, null)
    )


def test_group_cv_and_regression() -> None:
    rng = np.random.RandomState(0)
    X = rng.normal(size=(40, 3))
    y = X[:, 0] + 0.1 * rng.normal(size=40)
    groups = np.repeat(np.arange(4), 10)
    result = compare_estimators(
        {"ridge": Ridge()}, X, y, cv="logo", groups=groups, n_bootstrap=50, verbose=0
    )
    table = result.summary().set_index("metric")
    assert set(table.index) == {"r2", "neg_mean_absolute_error"}
    assert table.loc["r2", "n_splits"] == 4 and table.loc["r2", "mean"] > 0.9


def test_bad_arguments(data) -> None:
    X, y = data
    with pytest.raises(TypeError, match="dict"):
        compare_estimators([LogisticRegression()], X, y)
    with pytest.raises(ValueError, match="scoring"):
        compare_estimators({"a": LogisticRegression()}, X, y, scoring="auc")
    with pytest.raises(ValueError, match="reference"):
        compare_estimators({"a": LogisticRegression()}, X, y, reference="b")
    with pytest.raises(ValueError, match="permutation"):
        compare_estimators({"a": LogisticRegression()}, X, y, permutation="x")


def test_plot(data) -> None:
    pytest.importorskip("matplotlib")
    X, y = data
    result = compare_estimators(
        {"logistic": LogisticRegression()}, X, y, n_bootstrap=20, verbose=0
    )
    ax = result.plot()
    assert ax.get_xlabel().startswith("roc_auc")


def test_connectivity_baselines_on_series() -> None:
    from brainlm_decode.datasets import make_fmri_cohort
    from brainlm_decode.evaluation import correlation_baseline, tangent_baseline

    cohort = make_fmri_cohort(n_subjects=24, n_rois=8, n_timepoints=80, random_state=0)
    y = (cohort.phenotypes["diagnosis"] != "control").to_numpy()
    result = compare_estimators(
        {"tangent": tangent_baseline(), "correlation": correlation_baseline()},
        list(cohort.timeseries),
        y,
        n_splits=3,
        n_bootstrap=20,
        verbose=0,
    )
    assert isinstance(result.summary(), pd.DataFrame)
    assert result.summary()["mean"].between(0, 1).all()


class _FixedScores(ClassifierMixin, BaseEstimator):
    """Probability of the positive class = column ``column`` of X; learns nothing."""

    def __init__(self, column: int = 0) -> None:
        self.column = column

    def fit(self, X, y):
        self.classes_ = np.unique(y)
        return self

    def predict_proba(self, X):
        p = np.asarray(X, dtype=float)[:, self.column]
        return np.c_[1 - p, p]

    def predict(self, X):
        return (np.asarray(X, dtype=float)[:, self.column] >= 0.5).astype(int)


@pytest.fixture()
def sites() -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    # site A: AUC 0.75 (col 0) / 1.0 (col 1); site B: 1.0 / 0.5 (ties); site C: controls only
    X = np.array(
        [
            [0.1, 0.1],
            [0.6, 0.2],
            [0.4, 0.8],
            [0.9, 0.9],
            [0.2, 0.5],
            [0.7, 0.5],
            [0.8, 0.5],
            [0.3, 0.3],
            [0.8, 0.3],
        ]
    )
    y = np.array([0, 0, 1, 1, 0, 1, 1, 0, 0])
    groups = np.array(["A"] * 4 + ["B"] * 3 + ["C"] * 2)
    return X, y, groups


def test_pearson_r_hand_computed() -> None:
    # y - 2 = (-1, 0, 1), p - 13/3 = (-7/3, -1/3, 8/3): r = 5 / sqrt(2 * 114 / 9)
    assert score("pearson_r", [1, 2, 3], [2, 4, 7]) == pytest.approx(
        5 / np.sqrt(2 * 114 / 9)
    )
    assert np.isnan(score("pearson_r", [1, 2, 3], [4, 4, 4]))


def test_loso_per_site_scores_skips_and_split_statistics(sites) -> None:
    X, y, groups = sites
    result = compare_estimators(
        {"first": _FixedScores(0), "second": _FixedScores(1)},
        X,
        y,
        cv="logo",
        groups=groups,
        statistic="mean",
        n_bootstrap=2000,
        verbose=0,
    )
    auc = result.split_table("roc_auc")
    assert list(auc.index.get_level_values("group")) == ["A", "B", "C"]
    np.testing.assert_allclose(auc["first"], [0.75, 1.0, np.nan])
    np.testing.assert_allclose(auc["second"], [1.0, 0.5, np.nan])
    # balanced accuracy of site A: predictions (0, 1, 0, 1) -> recalls 1/2, 1/2
    np.testing.assert_allclose(
        result.split_table("balanced_accuracy")["first"], [0.5, 1.0, np.nan]
    )
    skipped = result.scores.set_index(["estimator", "group", "metric"])["skipped"]
    assert skipped["first", "C", "roc_auc"] == "test fold holds one class"
    assert pd.isna(skipped["first", "A", "roc_auc"])
    table = result.summary("roc_auc").set_index("estimator")
    assert table.loc["first", "mean"] == pytest.approx(0.875)
    assert table.loc["first", "sd"] == pytest.approx(np.std([0.75, 1.0], ddof=1))
    assert table.loc["first", ["n_splits", "n_skipped"]].tolist() == [2, 1]
    # site resamples of {0.75, 1.0, NaN}: means 0.75, 0.875 or 1.0
    assert (table.loc["first", "ci_low"], table.loc["first", "ci_high"]) == (0.75, 1.0)
    # paired per-site differences (+0.25, -0.5)
    assert table.loc["second", "diff_mean"] == pytest.approx(-0.125)
    assert table.loc["second", "diff_sd"] == pytest.approx(np.std([0.25, -0.5], ddof=1))
    assert table.loc["second", "diff_ci_low"] == pytest.approx(-0.5)
    assert table.loc["second", "diff_ci_high"] == pytest.approx(0.25)
    assert result.predictions["group"].tolist()[:9] == groups.tolist()
    assert "95% CI (mean)" in result.to_markdown()


def test_mean_statistic_fixed_permutation_matches_hand_loop(sites) -> None:
    X, y, groups = sites
    result = compare_estimators(
        {"first": _FixedScores(0)},
        X,
        y,
        cv="logo",
        groups=groups,
        scoring="roc_auc",
        statistic="mean",
        n_bootstrap=10,
        n_permutations=50,
        permutation="fixed",
        random_state=4,
        verbose=0,
    )
    rng = np.random.RandomState(4)
    p = X[:, 0]
    null = []
    for _ in range(50):  # labels permuted within sites, predictions fixed
        perm = np.arange(len(y))
        for g in np.unique(groups):
            idx = np.flatnonzero(groups == g)
            perm[idx] = idx[rng.permutation(idx.size)]
        yp = y[perm]
        null.append(np.mean([binary_auc(yp[:4], p[:4]), binary_auc(yp[4:7], p[4:7])]))
    expected = permutation_pvalue(0.875, null)
    assert result.summary()["p_value"][0] == pytest.approx(expected)


def test_training_fold_with_one_class_is_not_fitted() -> None:
    X = np.array([[0.1], [0.6], [0.4], [0.9], [0.3], [0.8]])
    y = np.array([0, 0, 1, 1, 0, 0])
    groups = np.array(["A"] * 4 + ["C"] * 2)
    result = compare_estimators(
        {"fixed": _FixedScores(0)}, X, y, cv="logo", groups=groups, verbose=0
    )
    reasons = result.scores.groupby("group")["skipped"].first()
    assert reasons["A"] == "training fold holds one class"
    assert reasons["C"] == "test fold holds one class"
    assert result.predictions["y_pred"][:4].isna().all()  # A was never predicted
    assert (result.summary()["n_skipped"] == 2).all()


def test_group_regression_pearson_r_per_site() -> None:
    rng = np.random.RandomState(0)
    X = rng.normal(size=(40, 3))
    y = X[:, 0] + 0.5 * rng.normal(size=40)
    groups = np.repeat(np.arange(4), 10)
    result = compare_estimators(
        {"ridge": Ridge()},
        X,
        y,
        cv="logo",
        groups=groups,
        scoring=["neg_mean_absolute_error", "pearson_r"],
        statistic="mean",
        n_bootstrap=50,
        verbose=0,
    )
    preds = result.predictions
    by_site = [
        np.corrcoef(y[groups == g], preds["y_pred"][groups == g])[0, 1]
        for g in range(4)
    ]
    np.testing.assert_allclose(result.split_table("pearson_r")["ridge"], by_site)
    mae = result.summary("neg_mean_absolute_error")["mean"][0]
    assert mae == pytest.approx(-np.mean(np.abs(y - preds["y_pred"])), rel=0.05)


def test_baseline_head_replaces_logistic() -> None:
    from brainlm_decode.evaluation import descriptor_baseline, tangent_baseline

    assert isinstance(tangent_baseline(head=Ridge()).steps[-1][1], Ridge)
    assert isinstance(
        descriptor_baseline(descriptors=DummyClassifier(), head=Ridge()).steps[-1][1],
        Ridge,
    )


def test_balanced_accuracy_equals_sklearn_bit_for_bit() -> None:
    import warnings

    from sklearn.metrics import balanced_accuracy_score

    from brainlm_decode.evaluation.stats import balanced_accuracy

    rng = np.random.RandomState(0)
    for n_classes in (2, 3, 5):
        for _ in range(50):
            y = rng.randint(0, n_classes, 23)
            pred = rng.randint(0, n_classes + 1, 23).astype(float)  # extra class
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                expected = balanced_accuracy_score(y, pred)
            assert balanced_accuracy(y, pred) == expected
    labels = np.array(["a", "b", "b", "c"])
    assert balanced_accuracy(labels, labels[::-1]) == balanced_accuracy_score(
        labels, labels[::-1]
    )
    assert score("balanced_accuracy", [0, 0, 0, 1], [0, 0, 1, 1]) == (2 / 3 + 1) / 2


def test_connectivity_measure_single_blas_thread_same_results() -> None:
    import pickle

    from nilearn.connectome import ConnectivityMeasure as NilearnMeasure
    from sklearn.base import clone
    from threadpoolctl import threadpool_info

    from brainlm_decode.evaluation import tangent_baseline
    from brainlm_decode.evaluation.connectivity import ConnectivityMeasure

    rng = np.random.RandomState(0)
    series = [rng.randn(60, 12) for _ in range(8)]
    params = {"kind": "tangent", "vectorize": True, "discard_diagonal": True}
    ours = ConnectivityMeasure(**params)
    assert isinstance(ours, NilearnMeasure)
    assert clone(ours).get_params() == NilearnMeasure(**params).get_params()
    expected = NilearnMeasure(**params).fit_transform(series)
    np.testing.assert_allclose(ours.fit_transform(series), expected, rtol=1e-10)
    np.testing.assert_allclose(
        pickle.loads(pickle.dumps(ours)).transform(series[:3]),
        expected[:3],
        rtol=1e-8,
        atol=1e-12,
    )
    before = [i["num_threads"] for i in threadpool_info()]
    ours.fit(series)
    assert [i["num_threads"] for i in threadpool_info()] == before  # restored
    assert isinstance(tangent_baseline().steps[0][1], ConnectivityMeasure)
    assert tangent_baseline().steps[0][0] == "connectivitymeasure"
