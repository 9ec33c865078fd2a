"""Tests of the normative model: hand-computed z, no leak, columns, reference."""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
import pytest
from sklearn.base import clone
from sklearn.exceptions import NotFittedError
from sklearn.utils import estimator_checks as ec

from brainlm_decode.descriptors.normative import (
    MAD_TO_STD,
    MEANAD_TO_STD,
    NormativeModel,
)


@pytest.fixture
def train():
    return pd.DataFrame(
        {"fc__a": [1.0, 2.0, 3.0, 4.0], "ica__b": [10.0, 10.0, 20.0, 40.0]}
    )


def test_hand_computed_z(train):
    model = NormativeModel().fit(train)
    test = pd.DataFrame(
        {"fc__a": [5.0, 2.5], "ica__b": [0.0, 20.0]}, index=["s1", "s2"]
    )
    z = model.transform(test)
    std_a = np.sqrt(((np.array([1, 2, 3, 4]) - 2.5) ** 2).sum() / 3)  # 1.2910
    std_b = np.sqrt(((np.array([10, 10, 20, 40]) - 20) ** 2).sum() / 3)  # 14.142
    expected = pd.DataFrame(
        {"fc__a": [2.5 / std_a, 0.0], "ica__b": [-20 / std_b, 0.0]}, index=["s1", "s2"]
    )
    pd.testing.assert_frame_equal(z, expected)
    assert model.location_["ica__b"] == 20.0
    assert model.n_samples_fit_ == 4
    assert list(model.get_feature_names_out()) == ["fc__a", "ica__b"]


def test_hand_computed_median_mad(train):
    model = NormativeModel(method="median_mad").fit(train)
    # fc__a: median 2.5, |dev| = 1.5, .5, .5, 1.5 -> MAD 1.0
    # ica__b: median 15, |dev| = 5, 5, 5, 25 -> MAD 5.0
    assert model.location_.tolist() == [2.5, 15.0]
    np.testing.assert_allclose(model.scale_, [MAD_TO_STD * 1.0, MAD_TO_STD * 5.0])
    z = model.transform(pd.DataFrame({"fc__a": [4.0], "ica__b": [15.0]}))
    np.testing.assert_allclose(z.to_numpy(), [[1.5 / MAD_TO_STD, 0.0]])


def test_median_mad_robust_to_outlier(train):
    outlier = pd.concat(
        [train, pd.DataFrame({"fc__a": [1000.0], "ica__b": [20.0]})],
        ignore_index=True,
    )
    robust = NormativeModel(method="median_mad").fit(outlier)
    classic = NormativeModel().fit(outlier)
    assert robust.scale_["fc__a"] < 3
    assert classic.scale_["fc__a"] > 100


def test_mad_zero_falls_back_to_mean_absolute_deviation():
    frame = pd.DataFrame({"x": [1.0, 1.0, 1.0, 5.0]})
    model = NormativeModel(method="median_mad").fit(frame)
    assert model.scale_["x"] == pytest.approx(MEANAD_TO_STD * 1.0)


def test_no_leak_between_test_subjects(train):
    """A test subject's z-scores do not depend on the other test subjects."""
    rng = np.random.RandomState(0)
    test = pd.DataFrame(rng.normal(size=(5, 2)), columns=train.columns)
    changed = test.copy()
    changed.iloc[1:] = changed.iloc[1:] * 10 + 7  # other test subjects change
    model = NormativeModel().fit(train)
    pd.testing.assert_series_equal(
        model.transform(test).iloc[0], model.transform(changed).iloc[0]
    )
    pd.testing.assert_series_equal(
        model.transform(test).iloc[[0]].iloc[0], model.transform(test.iloc[[0]]).iloc[0]
    )

    # The fMRI-LM reference code z-scores the cohort at once: subject 0 changes.
    def cohort_wide(frame):
        return (frame - frame.mean()) / frame.std()

    assert not np.allclose(cohort_wide(test).iloc[0], cohort_wide(changed).iloc[0])


def test_norms_come_from_fit_only(train):
    model = NormativeModel().fit(train)
    location, scale = model.location_.copy(), model.scale_.copy()
    model.transform(train * 100)
    pd.testing.assert_series_equal(model.location_, location)
    pd.testing.assert_series_equal(model.scale_, scale)


def test_reference_cohort(train):
    reference = pd.DataFrame({"fc__a": [0.0, 2.0], "ica__b": [0.0, 10.0]})
    model = NormativeModel(reference=reference).fit(train)
    assert model.location_.tolist() == [1.0, 5.0]
    assert model.n_samples_fit_ == 2
    z = model.transform(pd.DataFrame({"fc__a": [1.0 + np.sqrt(2)], "ica__b": [5.0]}))
    np.testing.assert_allclose(z.to_numpy(), [[1.0, 0.0]])
    # Without X, the norms come from the reference alone.
    alone = NormativeModel(reference=reference).fit()
    pd.testing.assert_series_equal(alone.location_, model.location_)
    # fit_transform z-scores X against the reference.
    np.testing.assert_allclose(
        NormativeModel(reference=reference).fit_transform(train)["fc__a"],
        (train["fc__a"] - 1.0) / np.sqrt(2),
    )
    with pytest.raises(ValueError, match=r"Missing columns: \['ica__b'\]"):
        NormativeModel(reference=reference).fit(train[["fc__a"]])


def test_column_mismatch_lists_missing_and_extra(train):
    model = NormativeModel().fit(train)
    bad = pd.DataFrame({"fc__a": [1.0], "graph__c": [2.0]})
    with pytest.raises(ValueError) as info:
        model.transform(bad)
    message = str(info.value)
    assert "Missing columns: ['ica__b']" in message
    assert "Extra columns: ['graph__c']" in message


def test_column_order_kept(train):
    model = NormativeModel().fit(train)
    swapped = train[["ica__b", "fc__a"]]
    z = model.transform(swapped)
    assert list(z.columns) == ["ica__b", "fc__a"]
    pd.testing.assert_frame_equal(z[["fc__a", "ica__b"]], model.transform(train))


def test_zero_std_and_nan(train):
    frame = train.assign(const=[3.0, 3.0, 3.0, 3.0], empty=np.nan)
    frame.loc[0, "fc__a"] = np.nan
    with warnings.catch_warnings(record=True) as record:
        warnings.simplefilter("always")
        model = NormativeModel().fit(frame)
    messages = [str(w.message) for w in record]
    assert any("zero spread" in m and "'const'" in m for m in messages)
    assert any("no finite training value" in m and "'empty'" in m for m in messages)
    assert model.location_["fc__a"] == 3.0  # NaN ignored in fit
    test = pd.DataFrame(
        {
            "fc__a": [np.nan, 4.0],
            "ica__b": [20.0, 20.0],
            "const": [3.0, 9.0],
            "empty": [1.0, 2.0],
        }
    )
    z = model.transform(test)
    assert np.isnan(z.loc[0, "fc__a"])  # NaN kept
    assert z.loc[1, "fc__a"] == pytest.approx(1.0)
    assert z["const"].tolist() == [0.0, 0.0]
    assert z["empty"].isna().all()


def test_inverse_transform_round_trip(train):
    model = NormativeModel().fit(train)
    pd.testing.assert_frame_equal(
        model.inverse_transform(model.transform(train)), train
    )


@pytest.mark.parametrize(
    ("call", "error", "match"),
    [
        (lambda: NormativeModel().fit([["a", "b"]]), ValueError, "convert"),
        (lambda: NormativeModel().fit(), ValueError, "no 'reference'"),
        (
            lambda: NormativeModel(method="zscore").fit(pd.DataFrame({"a": [1.0]})),
            ValueError,
            "method",
        ),
        (
            lambda: NormativeModel(reference=np.ones((2, 2))).fit(),
            TypeError,
            "reference",
        ),
        (
            lambda: NormativeModel().fit(pd.DataFrame({"a": ["x", "y"]})),
            TypeError,
            "Non-numeric columns: \\['a'\\]",
        ),
        (
            lambda: NormativeModel().fit(pd.DataFrame({"a": [1.0, np.inf]})),
            ValueError,
            "infinite",
        ),
        (
            lambda: NormativeModel().fit(pd.DataFrame({"a": []}, dtype=float)),
            ValueError,
            "no subjects",
        ),
        (
            lambda: NormativeModel().transform(pd.DataFrame({"a": [1.0]})),
            NotFittedError,
            "fitted",
        ),
    ],
)
def test_errors(call, error, match):
    with pytest.raises(error, match=match):
        call()


@pytest.mark.parametrize(
    "check",
    [
        ec.check_estimator_cloneable,
        ec.check_no_attributes_set_in_init,
        ec.check_parameters_default_constructible,
        ec.check_get_params_invariance,
        ec.check_set_params,
        ec.check_estimator_repr,
    ],
)
def test_sklearn_api(check):
    check("NormativeModel", NormativeModel())


def test_clone_with_reference(train):
    model = clone(NormativeModel(reference=train, method="median_mad"))
    assert model.get_params()["method"] == "median_mad"
    pd.testing.assert_frame_equal(model.get_params()["reference"], train)


def test_arrays_are_matched_by_position_and_stay_arrays():
    train = np.array([[1.0, 10.0], [2.0, 20.0], [3.0, 30.0]])
    model = NormativeModel().fit(train)
    assert not hasattr(model, "feature_names_in_") and model.n_features_in_ == 2
    z = model.transform(np.array([[4.0, 40.0]]))
    assert isinstance(z, np.ndarray)
    np.testing.assert_allclose(z, [[2.0, 2.0]])
    np.testing.assert_allclose(model.inverse_transform(z), [[4.0, 40.0]])
    assert list(model.get_feature_names_out()) == ["x0", "x1"]
    with pytest.raises(ValueError, match="features"):
        model.transform(np.zeros((1, 3)))
